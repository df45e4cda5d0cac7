/*
 * replay_corpus.c: runs the fuzz target's checks (fuzz_body.c) over every file of the
 * checked-in corpus with the normal compiler, so each ctest replays what the fuzzer found.
 * Usage: replay_corpus DIR_OR_FILE...; fails when an input misbehaves or none was found.
 */
#include "fuzz_body.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int n_passed, n_failed;

static void
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    const char *why;

    if (f == NULL) {
        printf("FAIL %s: %s\n", path, strerror(errno));
        n_failed++;
        return;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            uint8_t *more;
            cap = cap ? cap * 2 : 4096;
            more = realloc(data, cap);
            if (more == NULL)
                abort();
            data = more;
        }
        got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        printf("FAIL %s: read error\n", path);
        n_failed++;
    } else if ((why = fuzz_wire_one(data, len)) != NULL) {
        printf("FAIL %s (%zu bytes): %s\n", path, len, why);
        n_failed++;
    } else {
        n_passed++;
    }
    fclose(f);
    free(data);
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;

    if (d == NULL) {
        printf("FAIL %s: %s\n", dir, strerror(errno));
        n_failed++;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char **more;
        if (e->d_name[0] == '.')
            continue;
        more = realloc(names, (n + 1) * sizeof(*names));
        if (more == NULL)
            abort();
        names = more;
        {
            size_t len = strlen(dir) + strlen(e->d_name) + 2;
            names[n] = malloc(len);
            if (names[n] == NULL ||
                snprintf(names[n], len, "%s/%s", dir, e->d_name) != (int)(len - 1))
                abort();
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            replay_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            replay_dir(argv[i]);
        else
            replay_file(argv[i]);
    }
    if (n_passed + n_failed == 0) {
        printf("no corpus file found\n");
        n_failed++;
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
