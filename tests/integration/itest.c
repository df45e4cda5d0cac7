/* itest.c: shared helpers for the convoy CLI integration tests (run convoy, check the DB). */
#define _GNU_SOURCE /* strcasestr */

#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static const char *g_convoy_bin;
static void **g_keep;
static size_t g_nkeep, g_capkeep;

void *
itest_keep(void *p)
{
    if (p == NULL)
        return NULL;
    if (g_nkeep == g_capkeep) {
        size_t cap = g_capkeep ? g_capkeep * 2 : 64;
        void **nk = realloc(g_keep, cap * sizeof(*nk));
        if (nk == NULL) {
            fprintf(stderr, "itest: out of memory\n");
            abort();
        }
        g_keep = nk;
        g_capkeep = cap;
    }
    g_keep[g_nkeep++] = p;
    return p;
}

static void
keep_free_all(void)
{
    for (size_t i = 0; i < g_nkeep; i++)
        free(g_keep[i]);
    free(g_keep);
    g_keep = NULL;
    g_nkeep = g_capkeep = 0;
}

void
itest_init(void)
{
    const char *bin = getenv("CONVOY_BIN");

    harness_require_pg();
    if (bin == NULL || bin[0] == '\0') {
        fprintf(stderr, "itest: CONVOY_BIN is not set (ctest sets it to the convoy binary)\n");
        exit(1);
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "itest: CONVOY_BIN=%s is not executable: %s\n", bin, strerror(errno));
        exit(1);
    }
    g_convoy_bin = bin;
}

const char *
itest_convoy_bin(void)
{
    return g_convoy_bin;
}

int
itest_setup(void **state)
{
    itest_env_t *env = calloc(1, sizeof(*env));

    if (env == NULL)
        return -1;
    env->pg = harness_pg_start(NULL);
    if (env->pg == NULL)
        goto fail;
    env->conn = harness_connect(env->pg);
    env->dir = harness_mkdtemp("convoy-itest");
    if (env->dir == NULL)
        goto fail;
    env->db_arg = harness_pg_conninfo_db(env->pg, "postgres");
    *state = env;
    return 0;
fail:
    harness_pg_stop(env->pg);
    free(env);
    return -1;
}

int
itest_teardown(void **state)
{
    itest_env_t *env = *state;

    if (env == NULL)
        return 0;
    if (env->conn != NULL)
        PQfinish(env->conn);
    harness_pg_stop(env->pg);
    free(env->dir);
    free(env->db_arg);
    free(env);
    *state = NULL;
    keep_free_all();
    return 0;
}

char *
itest_write_migration(const itest_env_t *env, const char *name, const char *text)
{
    char *path = harness_write_file(env->dir, name, text);

    if (path == NULL)
        fail_msg("cannot write migration %s", name);
    return itest_keep(path);
}

/* Builds {bin, args..., "--db", conninfo, NULL}; caller frees the array only. */
static const char **
convoy_argv(const itest_env_t *env, const char *const args[])
{
    size_t n = 0, k = 0;
    const char **argv;

    while (args[n] != NULL)
        n++;
    argv = calloc(n + 4, sizeof(*argv));
    if (argv == NULL)
        fail_msg("out of memory");
    argv[k++] = g_convoy_bin;
    for (size_t i = 0; i < n; i++)
        argv[k++] = args[i];
    argv[k++] = "--db";
    argv[k++] = env->db_arg;
    argv[k] = NULL;
    return argv;
}

static void
print_cmd(const char *const argv[])
{
    fprintf(stderr, "itest: $");
    for (size_t i = 0; argv[i] != NULL; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n");
}

convoy_result_t
itest_convoy(const itest_env_t *env, const char *const args[])
{
    const char **argv = convoy_argv(env, args);
    convoy_result_t r = {0};
    int64_t t0 = harness_now_ms();

    print_cmd(argv);
    r.rc = harness_run(argv, &r.out, &r.err, ITEST_CONVOY_TIMEOUT_MS);
    r.elapsed_ms = harness_now_ms() - t0;
    fprintf(stderr, "itest: -> exit %d after %lld ms\n", r.rc, (long long)r.elapsed_ms);
    if (r.out != NULL && r.out[0] != '\0')
        fprintf(stderr, "itest: stdout:\n%s%s", r.out,
                r.out[strlen(r.out) - 1] == '\n' ? "" : "\n");
    if (r.err != NULL && r.err[0] != '\0')
        fprintf(stderr, "itest: stderr:\n%s%s", r.err,
                r.err[strlen(r.err) - 1] == '\n' ? "" : "\n");
    if (r.out == NULL)
        r.out = calloc(1, 1);
    if (r.err == NULL)
        r.err = calloc(1, 1);
    itest_keep(r.out);
    itest_keep(r.err);
    free(argv);
    return r;
}

pid_t
itest_convoy_spawn(const itest_env_t *env, const char *const args[], const char *tag)
{
    const char **argv = convoy_argv(env, args);
    char out_path[4096], err_path[4096];
    pid_t pid;

    if (snprintf(out_path, sizeof(out_path), "%s/%s.out", env->dir, tag) >= (int)sizeof(out_path) ||
        snprintf(err_path, sizeof(err_path), "%s/%s.err", env->dir, tag) >= (int)sizeof(err_path))
        fail_msg("path too long");
    print_cmd(argv);
    pid = harness_spawn(argv, out_path, err_path);
    free(argv);
    if (pid <= 0)
        fail_msg("cannot start %s", g_convoy_bin);
    fprintf(stderr, "itest: started as pid %d (%s)\n", (int)pid, tag);
    return pid;
}

char *
itest_spawn_output(const itest_env_t *env, const char *tag)
{
    char path[4096];
    char *out, *err;

    if (snprintf(path, sizeof(path), "%s/%s.out", env->dir, tag) >= (int)sizeof(path))
        fail_msg("path too long");
    out = harness_read_file(path);
    if (snprintf(path, sizeof(path), "%s/%s.err", env->dir, tag) >= (int)sizeof(path))
        fail_msg("path too long");
    err = harness_read_file(path);
    fprintf(stderr, "itest: [%s] stdout:\n%s\nitest: [%s] stderr:\n%s\n", tag,
            out != NULL ? out : "", tag, err != NULL ? err : "");
    free(out);
    if (err == NULL)
        err = calloc(1, 1);
    return itest_keep(err);
}

void
itest_exec_at(PGconn *c, const char *sql, const char *file, int line)
{
    if (!harness_exec(c, sql))
        _fail(file, line);
}

int64_t
itest_int_at(PGconn *c, const char *sql, const char *file, int line)
{
    int64_t v = 0;

    if (!harness_query_int(c, sql, &v))
        _fail(file, line);
    return v;
}

char *
itest_text(PGconn *c, const char *sql)
{
    return itest_keep(harness_query_value(c, sql));
}

bool
itest_contains_ci(const char *haystack, const char *needle)
{
    return haystack != NULL && strcasestr(haystack, needle) != NULL;
}

bool
itest_contains_number(const char *text, int64_t n)
{
    char num[32];
    size_t len;
    const char *p = text;

    if (text == NULL || snprintf(num, sizeof(num), "%lld", (long long)n) >= (int)sizeof(num))
        return false;
    len = strlen(num);
    while ((p = strstr(p, num)) != NULL) {
        bool left_ok = p == text || !isdigit((unsigned char)p[-1]);
        bool right_ok = !isdigit((unsigned char)p[len]);
        if (left_ok && right_ok)
            return true;
        p++;
    }
    return false;
}

const char *
itest_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

bool
itest_mentions_location(const char *text, const char *path, int line)
{
    char needle[4096];

    if (text == NULL || snprintf(needle, sizeof(needle), "%s:%d:", itest_basename(path), line) >=
                            (int)sizeof(needle))
        return false;
    return strstr(text, needle) != NULL;
}

bool
itest_wait_no_convoy_backends(PGconn *c, int timeout_ms)
{
    return harness_poll_sql(c,
                            "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity "
                            "WHERE application_name = 'convoy')",
                            timeout_ms);
}

uint64_t
itest_rand(uint64_t *state)
{
    /* xorshift64* */
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
