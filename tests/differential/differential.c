/*
 * differential.c: `convoy apply FILE` against `psql -f FILE` on identical databases (issue 6).
 *
 * One throwaway PostgreSQL server (tests/harness) is seeded once from seed.sql. For every corpus
 * file two databases are created from the seed (CREATE DATABASE ... TEMPLATE): psql applies the
 * file to one, convoy to the other, and the two are compared. What "same" means, and the header
 * every corpus file carries, is described in README.md next to this file.
 *
 * Usage: test_differential [-v] [FILE...]
 *   FILE   corpus files to run (a path, or a name in corpus/); default: the whole corpus
 *   -v     print the details (schema diff, convoy's output) of known gaps too, not only of
 *          unexpected failures
 * Environment: CONVOY_BIN (the convoy binary, required), CONVOY_DIFF_DIR (the directory with
 * seed.sql, corpus/ and known_gaps.txt; default: this source directory), DIFF_SHOW=1 (print
 * psql's and convoy's output for every file), DIFF_TIMING=1 (the time of each phase).
 * Exit: 0 when every file passes or is a listed known gap, 1 otherwise, 77 (skip) without
 * PostgreSQL server binaries.
 */
#include "convoy/util.h"
#include "harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DIFF_SOURCE_DIR
#define DIFF_SOURCE_DIR "."
#endif

#define N_CLASSES         11 /* 0 (none of the classes) .. 10 */
#define CONVOY_TIMEOUT_MS 180000
#define PSQL_TIMEOUT_MS   120000
#define DUMP_TIMEOUT_MS   60000
#define DETAIL_MAX_LINES  40

#define SEED_DB   "diff_seed"
#define PSQL_DB   "diff_psql"
#define CONVOY_DB "diff_convoy"

/* convoy's exit codes (include/convoy/exit.h, docs/convoy.1.md). */
#define EXIT_CONVOY_ERROR        1
#define EXIT_CONVOY_REFUSED      3
#define EXIT_CONVOY_PRECONDITION 6

typedef enum { EXPECT_SAME, EXPECT_REFUSED, EXPECT_ERROR } expect_t;

typedef struct {
    char *path; /* as opened */
    char *name; /* base name, e.g. prisma_enum_role.sql */
    char *source, *why, *output;
    int64_t lock_timeout_ms; /* -- lock_timeout_ms: N (class 10); -1 when not given */
    bool classes[N_CLASSES];
    expect_t expect;
    char *substring; /* refused/error: what convoy's output must contain */
    char *instead;   /* refused/error: the corpus file with the sequence to write instead */
    char *header_error;
} corpus_file_t;

typedef enum { RES_PASS, RES_FAIL, RES_CORPUS } result_kind_t;

typedef struct {
    result_kind_t kind;
    char *reason; /* one line */
    sb_t detail;  /* diff excerpt, convoy's output */
} result_t;

typedef struct {
    char *name;
    char *reason;
    bool seen;
} gap_t;

/* Relation oid -> relfilenode of every user table in a database. */
typedef struct {
    size_t n;
    unsigned *oid;
    unsigned *relfilenode;
    char **name;
} relmap_t;

static harness_pg_t *g_pg;
static const char *g_convoy_bin;
static char g_dir[PATH_MAX];     /* seed.sql, corpus/, known_gaps.txt */
static char g_corpus[PATH_MAX];  /* g_dir/corpus */
static char g_psql[PATH_MAX];    /* psql binary */
static char g_pg_dump[PATH_MAX]; /* pg_dump binary */
static char *g_scratch;          /* scratch directory (removed at exit) */
static char *g_run_start;        /* server time before the first apply, for the now() rule */
static char *g_seed_dump, *g_seed_data;
static relmap_t g_seed_rels;
static bool g_verbose;
static bool g_timing;   /* DIFF_TIMING=1: print how long each phase of a file took */
static bool g_show_all; /* DIFF_SHOW=1: print psql's and convoy's output for every file */

#define PHASE(label)                                                                               \
    do {                                                                                           \
        if (g_timing) {                                                                            \
            int64_t now_ = harness_now_ms();                                                       \
            fprintf(stderr, "  %-8s %5lld ms\n", label, (long long)(now_ - t_phase));              \
            t_phase = now_;                                                                        \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                              */

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool
contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (hay == NULL)
        return false;
    for (const char *p = hay; *p != '\0'; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* harness_wait, and a child that overran its time is killed (so it cannot outlive its file). */
static int
wait_or_kill(pid_t pid, int timeout_ms)
{
    int rc;

    if (pid <= 0)
        return -1;
    rc = harness_wait(pid, timeout_ms);
    if (rc == -1) {
        fprintf(stderr, "differential: pid %d overran %d ms; killing it\n", (int)pid, timeout_ms);
        kill(pid, SIGKILL);
        harness_wait(pid, 10000);
    }
    return rc;
}

/* text with every occurrence of needle replaced by with (a new string). */
static char *
replace_all(const char *text, const char *needle, const char *with)
{
    sb_t sb;
    size_t n = strlen(needle);
    const char *p = text, *at;

    sb_init(&sb);
    while (n > 0 && (at = strstr(p, needle)) != NULL) {
        sb_putn(&sb, p, (size_t)(at - p));
        sb_puts(&sb, with);
        p = at + n;
    }
    sb_puts(&sb, p);
    return sb_steal(&sb);
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first line of text that says what went wrong (convoy's refusal, psql's ERROR). */
static char *
first_line_with(const char *text, const char *const keys[])
{
    const char *p = text;

    if (text == NULL)
        return xstrdup("");
    for (size_t k = 0; keys[k] != NULL; k++) {
        for (p = text; *p != '\0';) {
            size_t len = strcspn(p, "\n");
            char *line = xstrndup(p, len);
            if (contains_ci(line, keys[k])) {
                char *t = xstrdup(trim(line));
                free(line);
                return t;
            }
            free(line);
            p += len;
            if (*p == '\n')
                p++;
        }
    }
    {
        size_t len = strcspn(text, "\n");
        char *line = xstrndup(text, len);
        char *t = xstrdup(trim(line));
        free(line);
        return t;
    }
}

/* Appends at most max_lines lines of text to sb, each indented. */
static void
append_lines(sb_t *sb, const char *label, const char *text, int max_lines)
{
    const char *p = text != NULL ? text : "";
    int n = 0;

    sb_printf(sb, "    %s:\n", label);
    while (*p != '\0' && n < max_lines) {
        size_t len = strcspn(p, "\n");
        sb_printf(sb, "      %.*s\n", (int)len, p);
        p += len;
        if (*p == '\n')
            p++;
        n++;
    }
    if (*p != '\0')
        sb_puts(sb, "      ...\n");
}

static void
result_set(result_t *r, result_kind_t kind, char *reason)
{
    if (r->reason != NULL) { /* keep the first reason; a later one goes to the details */
        sb_printf(&r->detail, "    also: %s\n", reason);
        free(reason);
        if (kind == RES_CORPUS)
            r->kind = RES_CORPUS;
        return;
    }
    r->kind = kind;
    r->reason = reason;
}

/* ------------------------------------------------------------------------------------------ */
/* corpus headers                                                                             */

static bool
parse_classes(corpus_file_t *f, const char *value)
{
    char *copy = xstrdup(value), *save = NULL;
    bool any = false;

    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int64_t n;
        if (!parse_int64(trim(tok), 0, N_CLASSES - 1, &n)) {
            free(copy);
            return false;
        }
        f->classes[n] = true;
        any = true;
    }
    free(copy);
    return any;
}

/* "same" | "refused SUBSTRING; instead: FILE" | "error SUBSTRING; instead: FILE" */
static bool
parse_expect(corpus_file_t *f, const char *value)
{
    const char *rest;
    const char *semi;

    if (strcmp(value, "same") == 0) {
        f->expect = EXPECT_SAME;
        return true;
    }
    if (strncmp(value, "refused ", 8) == 0) {
        f->expect = EXPECT_REFUSED;
        rest = value + 8;
    } else if (strncmp(value, "error ", 6) == 0) {
        f->expect = EXPECT_ERROR;
        rest = value + 6;
    } else {
        return false;
    }
    semi = strstr(rest, "; instead:");
    if (semi == NULL)
        return false;
    {
        char *sub = xstrndup(rest, (size_t)(semi - rest));
        char *inst = xstrdup(semi + strlen("; instead:"));
        f->substring = xstrdup(trim(sub));
        f->instead = xstrdup(trim(inst));
        free(sub);
        free(inst);
    }
    return f->substring[0] != '\0' && f->instead[0] != '\0';
}

/* Reads the header: the `-- key: value` lines of the comment block the file starts with. */
static corpus_file_t *
corpus_load(const char *path)
{
    corpus_file_t *f = xcalloc(1, sizeof(*f));
    char *text = read_file(path, NULL);
    bool have_class = false, have_expect = false;
    const char *p;

    f->path = xstrdup(path);
    f->name = xstrdup(base_name(path));
    f->lock_timeout_ms = -1;
    if (text == NULL) {
        f->header_error = xasprintf("cannot read %s: %s", path, strerror(errno));
        return f;
    }
    for (p = text; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);
        char *t = trim(line);

        p += len;
        if (*p == '\n')
            p++;
        if (*t == '\0') {
            free(line);
            continue;
        }
        if (strncmp(t, "--", 2) != 0) { /* the first SQL line ends the header */
            free(line);
            break;
        }
        t = trim(t + 2);
        {
            char *colon = strchr(t, ':');
            char *key, *value;
            if (colon == NULL) {
                free(line);
                continue;
            }
            *colon = '\0';
            key = trim(t);
            value = trim(colon + 1);
            if (strcmp(key, "source") == 0 && f->source == NULL) {
                f->source = xstrdup(value);
            } else if (strcmp(key, "class") == 0 && !have_class) {
                have_class = true;
                if (!parse_classes(f, value) && f->header_error == NULL)
                    f->header_error = xasprintf("bad class list '%s' (numbers 0-10)", value);
            } else if (strcmp(key, "expect") == 0 && !have_expect) {
                have_expect = true;
                if (!parse_expect(f, value) && f->header_error == NULL)
                    f->header_error = xasprintf(
                        "bad expect '%s' (same | refused TEXT; instead: FILE | error TEXT; "
                        "instead: FILE)",
                        value);
            } else if (strcmp(key, "why") == 0 && f->why == NULL) {
                f->why = xstrdup(value);
            } else if (strcmp(key, "output") == 0 && f->output == NULL) {
                f->output = xstrdup(value);
            } else if (strcmp(key, "lock_timeout_ms") == 0) {
                if (!parse_int64(value, 1, INT64_MAX, &f->lock_timeout_ms) &&
                    f->header_error == NULL)
                    f->header_error = xasprintf("bad lock_timeout_ms '%s'", value);
            }
        }
        free(line);
    }
    free(text);
    if (f->header_error == NULL) {
        if (f->source == NULL || !have_class || !have_expect || f->why == NULL)
            f->header_error = xstrdup("the header needs -- source:, -- class:, -- expect: and "
                                      "-- why: lines");
    }
    return f;
}

static void
corpus_free(corpus_file_t *f)
{
    if (f == NULL)
        return;
    free(f->path);
    free(f->name);
    free(f->source);
    free(f->why);
    free(f->output);
    free(f->substring);
    free(f->instead);
    free(f->header_error);
    free(f);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .sql file in corpus/, sorted by name. */
static char **
corpus_list(size_t *n_out)
{
    DIR *d = opendir(g_corpus);
    struct dirent *e;
    char **v = NULL;
    size_t n = 0, cap = 0;

    if (d == NULL) {
        fprintf(stderr, "differential: cannot open %s: %s\n", g_corpus, strerror(errno));
        exit(1);
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = xasprintf("%s/%s", g_corpus, e->d_name);
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_str);
    *n_out = n;
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* known_gaps.txt                                                                             */

static gap_t *
gaps_load(size_t *n_out)
{
    char *path = xasprintf("%s/known_gaps.txt", g_dir);
    char *text = read_file(path, NULL);
    gap_t *v = NULL;
    size_t n = 0;

    free(path);
    *n_out = 0;
    if (text == NULL)
        return NULL;
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);
        char *t = trim(line);

        p += len;
        if (*p == '\n')
            p++;
        if (*t != '\0' && *t != '#') {
            size_t nl = strcspn(t, " \t");
            v = xrealloc(v, (n + 1) * sizeof(*v));
            v[n].name = xstrndup(t, nl);
            v[n].reason = xstrdup(trim(t + nl));
            v[n].seen = false;
            n++;
        }
        free(line);
    }
    free(text);
    *n_out = n;
    return v;
}

static gap_t *
gap_find(gap_t *gaps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(gaps[i].name, name) == 0)
            return &gaps[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* the server                                                                                 */

static char *
conninfo(const char *db)
{
    return harness_pg_conninfo_db(g_pg, db);
}

static PGconn *
connect_db(const char *db)
{
    char *ci = conninfo(db);
    PGconn *c = PQconnectdb(ci);

    free(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "differential: cannot connect to %s: %s", db, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    /* the same session settings on every side, whatever the server's defaults */
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static PGconn *g_admin; /* to the postgres database, for CREATE/DROP DATABASE */

static bool
admin_exec(const char *sql)
{
    if (g_admin == NULL) {
        g_admin = connect_db("postgres");
        if (g_admin == NULL)
            return false;
    }
    return harness_exec(g_admin, sql);
}

static bool
create_copies(void)
{
    /* FILE_COPY: copying the seed's files is much faster than WAL-logging every block */
    return admin_exec("DROP DATABASE IF EXISTS " PSQL_DB " WITH (FORCE)") &&
           admin_exec("DROP DATABASE IF EXISTS " CONVOY_DB " WITH (FORCE)") &&
           admin_exec("CREATE DATABASE " PSQL_DB " TEMPLATE " SEED_DB " STRATEGY FILE_COPY") &&
           admin_exec("CREATE DATABASE " CONVOY_DB " TEMPLATE " SEED_DB " STRATEGY FILE_COPY");
}

static void
drop_copies(void)
{
    admin_exec("DROP DATABASE IF EXISTS " PSQL_DB " WITH (FORCE)");
    admin_exec("DROP DATABASE IF EXISTS " CONVOY_DB " WITH (FORCE)");
}

/* psql -X -q -v ON_ERROR_STOP=1 -f FILE, started in the background. */
static pid_t
psql_spawn(const char *db, const char *file, const char *out_path)
{
    char *ci = conninfo(db);
    const char *argv[] = {g_psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ci, "-f", file, NULL};
    pid_t pid = harness_spawn(argv, out_path, out_path);

    free(ci);
    return pid;
}

/* pg_dump --schema-only --no-owner of the user schemas into path, in the background. */
static pid_t
dump_spawn(const char *db, const char *path, const char *err_path)
{
    char *ci = conninfo(db);
    const char *argv[] = {g_pg_dump,    "--schema-only",
                          "--no-owner", "--no-password",
                          "-N",         "convoy",
                          "-d",         ci,
                          "-f",         path,
                          NULL};
    pid_t pid;

    unlink(path);
    pid = harness_spawn(argv, NULL, err_path);
    free(ci);
    return pid;
}

/* Waits for dump_spawn's pg_dump and returns the dump without the \restrict lines that newer
 * pg_dump releases write with a random key (the only part of two dumps of one schema that
 * differs; nothing else is normalized). NULL with *err_out set on failure. */
static char *
dump_finish(pid_t pid, const char *db, const char *path, const char *err_path, char **err_out)
{
    int rc = wait_or_kill(pid, DUMP_TIMEOUT_MS);
    char *out;
    sb_t sb;

    if (rc != 0) {
        char *err = harness_read_file(err_path);
        if (*err_out == NULL)
            *err_out = xasprintf("pg_dump of %s exited with %d: %s", db, rc, err ? err : "");
        free(err);
        return NULL;
    }
    out = harness_read_file(path);
    if (out == NULL) {
        if (*err_out == NULL)
            *err_out = xasprintf("cannot read the dump %s", path);
        return NULL;
    }
    sb_init(&sb);
    for (const char *p = out; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        bool drop = strncmp(p, "\\restrict ", 10) == 0 || strncmp(p, "\\unrestrict ", 12) == 0;
        if (p[len] == '\n')
            len++;
        if (!drop)
            sb_putn(&sb, p, len);
        p += len;
    }
    free(out);
    if (sb.data == NULL)
        sb_puts(&sb, "");
    return sb_steal(&sb);
}

/* Both dumps at once. */
static void
dump_schemas(const char *db_a, const char *db_b, char **a, char **b, char **err_out)
{
    const char *dbs[2] = {db_a, db_b};
    char **outs[2] = {a, b};
    char *paths[2], *errs[2];
    pid_t pids[2];

    for (int i = 0; i < 2; i++) {
        *outs[i] = NULL;
        paths[i] = xasprintf("%s/dump%d.sql", g_scratch, i);
        errs[i] = xasprintf("%s/dump%d.err", g_scratch, i);
        pids[i] = dbs[i] != NULL ? dump_spawn(dbs[i], paths[i], errs[i]) : -1;
    }
    for (int i = 0; i < 2; i++) {
        if (dbs[i] != NULL)
            *outs[i] = dump_finish(pids[i], dbs[i], paths[i], errs[i], err_out);
        free(paths[i]);
        free(errs[i]);
    }
}

#define USER_NS_FILTER                                                                             \
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'convoy') "                             \
    "AND n.nspname NOT LIKE 'pg\\_%'"

/*
 * A digest of every user table's data and every sequence's position, one line each:
 * "<table> <rows> <sum of a 64-bit hash of each row's text>" (partitions are tables of their
 * own; the sum is order-independent and counts duplicate rows, which a table without a key may
 * hold) and "sequence <name> <last_value>".
 *
 * The one normalization: a timestamp that lies between the start of this run and a day after
 * it was produced by now()/CURRENT_TIMESTAMP during an apply (the seed only holds fixed dates);
 * psql and convoy ran at different moments, so such a value is hashed as -infinity, a value no
 * seed row holds. Nothing else is normalized.
 *
 * Hashing every row of both copies for every file is most of the test's time, so a table that
 * provably still holds the seed's rows reuses the seed's line: same oid, relfilenode and
 * columns (name, type, typmod, dropped, missing value) as in the seed, the same row count, and
 * no row written after the seed (xmin newer than the seed's last transaction). Any other table
 * is hashed.
 */
typedef struct {
    char *name, *key, *line;
    long long rows;
} seed_table_t;

static seed_table_t *g_seed_tables;
static size_t g_n_seed_tables;
static long long g_seed_xid; /* the newest transaction id of the seed */

/* One table of the database being digested. */
typedef struct {
    char *name, *key, *cheap_sql, *full_sql;
    const seed_table_t *seed; /* the same table in the seed, when its key matches */
    char *line;
} dtable_t;

typedef struct {
    PGconn *c;
    dtable_t *t;
    size_t n;
    char *seqs;
    bool failed;
} digest_t;

static const seed_table_t *
seed_table(const char *name, const char *key)
{
    for (size_t i = 0; i < g_n_seed_tables; i++)
        if (strcmp(g_seed_tables[i].name, name) == 0 && strcmp(g_seed_tables[i].key, key) == 0)
            return &g_seed_tables[i];
    return NULL;
}

/* The result of a query sent with PQsendQuery; NULL on error (printed). */
static PGresult *
collect(PGconn *c)
{
    PGresult *res, *last = NULL;

    while ((res = PQgetResult(c)) != NULL) {
        PQclear(last);
        last = res;
    }
    if (PQresultStatus(last) != PGRES_TUPLES_OK) {
        fprintf(stderr, "differential: query failed: %s", PQerrorMessage(c));
        PQclear(last);
        return NULL;
    }
    return last;
}

/* The catalog: every user table with its key and the two SELECTs that digest it. */
static char *
catalog_sql(void)
{
    sb_t q;

    sb_init(&q);
    sb_printf(&q,
              "SELECT c.oid::regclass::text,"
              " c.oid || ' ' || c.relfilenode || ' ' || (SELECT md5(string_agg(format("
              "'%%s:%%s:%%s:%%s:%%s:%%s', a.attnum, a.attname, a.atttypid, a.atttypmod, "
              "a.attisdropped, coalesce(a.attmissingval::text, '')), ',' ORDER BY a.attnum))"
              "   FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0),"
              " format('SELECT %%L, count(*)::text, count(*) FILTER (WHERE xmin::text::bigint > "
              "%lld)::text FROM ONLY %%s', c.oid::regclass::text, c.oid::regclass),"
              " format('SELECT %%L, count(*)::text, coalesce(sum(hashtextextended(ROW(%%s)::text, "
              "0))::text, ''-'') FROM ONLY %%s', c.oid::regclass::text,"
              "  (SELECT string_agg(CASE WHEN a.atttypid IN ('timestamp'::regtype, "
              "'timestamptz'::regtype) THEN format('CASE WHEN %%1$I >= %%2$L::timestamptz AND "
              "%%1$I < %%2$L::timestamptz + interval ''1 day'' THEN ''-infinity'' ELSE %%1$I "
              "END', a.attname, '%s'::text) ELSE quote_ident(a.attname) END, ', ' ORDER BY "
              "a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT "
              "a.attisdropped),"
              "  c.oid::regclass)",
              g_seed_xid, g_run_start);
    sb_puts(&q,
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'm') AND " USER_NS_FILTER " ORDER BY c.oid::regclass::text");
    return sb_steal(&q);
}

static const char seq_sql[] = "SELECT 'sequence ' || format('%I.%I', schemaname, sequencename), "
                              "'', coalesce(last_value::text, 'unused') FROM pg_sequences "
                              "WHERE schemaname NOT IN ('convoy') ORDER BY 1";

/* Sends the UNION of the given SELECTs (cheap or full) of the tables that need one. */
static bool
send_union(digest_t *d, bool cheap)
{
    sb_t q;
    bool any = false, ok;

    sb_init(&q);
    for (size_t i = 0; i < d->n; i++) {
        dtable_t *t = &d->t[i];
        if (t->line != NULL || (cheap && t->seed == NULL) || (!cheap && t->seed != NULL))
            continue;
        sb_printf(&q, "%s(%s)", any ? " UNION ALL " : "", cheap ? t->cheap_sql : t->full_sql);
        any = true;
    }
    if (!any) {
        sb_free(&q);
        return false;
    }
    ok = PQsendQuery(d->c, q.data) == 1;
    sb_free(&q);
    if (!ok) {
        fprintf(stderr, "differential: %s", PQerrorMessage(d->c));
        d->failed = true;
    }
    return ok;
}

static dtable_t *
dtable(digest_t *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->t[i].name, name) == 0)
            return &d->t[i];
    return NULL;
}

/* Reads the answer to send_union. A cheap row proves the seed's line or sends the table on to
 * the full hash (by clearing its seed). */
static void
read_union(digest_t *d, bool cheap)
{
    PGresult *res = collect(d->c);

    if (res == NULL) {
        d->failed = true;
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        dtable_t *t = dtable(d, PQgetvalue(res, i, 0));
        if (t == NULL)
            continue;
        if (cheap) {
            if (strtoll(PQgetvalue(res, i, 1), NULL, 10) == t->seed->rows &&
                strcmp(PQgetvalue(res, i, 2), "0") == 0)
                t->line = xstrdup(t->seed->line);
            else
                t->seed = NULL; /* changed: hash it */
        } else {
            t->line = xasprintf("%s %s %s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                                PQgetvalue(res, i, 2));
        }
    }
    PQclear(res);
}

static void
digest_free(digest_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->t[i].name);
        free(d->t[i].key);
        free(d->t[i].cheap_sql);
        free(d->t[i].full_sql);
        free(d->t[i].line);
    }
    free(d->t);
    free(d->seqs);
}

/* Runs one phase on every digest at once (each connection works while the others do). */
static void
phase_catalog(digest_t *ds, size_t n)
{
    char *sql = catalog_sql();

    for (size_t k = 0; k < n; k++)
        if (PQsendQuery(ds[k].c, sql) != 1)
            ds[k].failed = true;
    free(sql);
    for (size_t k = 0; k < n; k++) {
        PGresult *res = ds[k].failed ? NULL : collect(ds[k].c);
        if (res == NULL) {
            ds[k].failed = true;
            continue;
        }
        ds[k].n = (size_t)PQntuples(res);
        ds[k].t = xcalloc(ds[k].n ? ds[k].n : 1, sizeof(dtable_t));
        for (size_t i = 0; i < ds[k].n; i++) {
            dtable_t *t = &ds[k].t[i];
            t->name = xstrdup(PQgetvalue(res, (int)i, 0));
            t->key = xstrdup(PQgetvalue(res, (int)i, 1));
            t->cheap_sql = xstrdup(PQgetvalue(res, (int)i, 2));
            t->full_sql = xstrdup(PQgetvalue(res, (int)i, 3));
            t->seed = seed_table(t->name, t->key);
        }
        PQclear(res);
    }
}

/* Digests of up to two databases at once (one connection may be NULL); the lines are sorted
 * by table name, then the sequences. */
static void
data_digests(PGconn *a, PGconn *b, char **da, char **db)
{
    digest_t ds[2];
    char **outs[2] = {da, db};
    size_t n = 0;

    memset(ds, 0, sizeof(ds));
    *da = NULL;
    *db = NULL;
    if (a != NULL)
        ds[n++].c = a;
    if (b != NULL)
        ds[n++].c = b;
    if (a == NULL)
        outs[0] = db;
    phase_catalog(ds, n);
    for (int pass = 0; pass < 3; pass++) { /* cheap, full, then full of what cheap sent on */
        bool cheap = pass == 0, sent[2] = {false, false};
        for (size_t k = 0; k < n; k++)
            sent[k] = !ds[k].failed && send_union(&ds[k], cheap);
        for (size_t k = 0; k < n; k++)
            if (sent[k])
                read_union(&ds[k], cheap);
    }
    for (size_t k = 0; k < n; k++) {
        PGresult *res = ds[k].failed ? NULL : PQexec(ds[k].c, seq_sql);
        sb_t out;

        if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
            if (res != NULL)
                fprintf(stderr, "differential: %s", PQerrorMessage(ds[k].c));
            PQclear(res);
            digest_free(&ds[k]);
            continue;
        }
        sb_init(&out);
        for (size_t i = 0; i < ds[k].n; i++) {
            if (ds[k].t[i].line == NULL) {
                ds[k].failed = true;
                break;
            }
            sb_printf(&out, "%s\n", ds[k].t[i].line);
        }
        for (int i = 0; i < PQntuples(res); i++)
            sb_printf(&out, "%s %s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2));
        PQclear(res);
        if (out.data == NULL)
            sb_puts(&out, "");
        if (ds[k].failed)
            sb_free(&out);
        else
            *outs[k] = sb_steal(&out);
        digest_free(&ds[k]);
    }
}

/* The seed's tables with their keys and lines, from its digest, for the shortcut above. */
static bool
seed_tables_load(PGconn *c, const char *digest)
{
    digest_t d;

    memset(&d, 0, sizeof(d));
    d.c = c;
    phase_catalog(&d, 1);
    if (d.failed) {
        digest_free(&d);
        return false;
    }
    g_seed_tables = xcalloc(d.n ? d.n : 1, sizeof(seed_table_t));
    for (size_t i = 0; i < d.n; i++) {
        const char *p = digest;
        size_t nl = strlen(d.t[i].name);
        seed_table_t *st = &g_seed_tables[g_n_seed_tables];

        /* the digest line of this table: "<name> <rows> <hash>" */
        while (*p != '\0' && !(strncmp(p, d.t[i].name, nl) == 0 && p[nl] == ' '))
            p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
        if (*p == '\0')
            continue;
        st->name = xstrdup(d.t[i].name);
        st->key = xstrdup(d.t[i].key);
        st->line = xstrndup(p, strcspn(p, "\n"));
        st->rows = strtoll(p + nl + 1, NULL, 10);
        g_n_seed_tables++;
    }
    digest_free(&d);
    return true;
}

static void
seed_tables_free(void)
{
    for (size_t i = 0; i < g_n_seed_tables; i++) {
        free(g_seed_tables[i].name);
        free(g_seed_tables[i].key);
        free(g_seed_tables[i].line);
    }
    free(g_seed_tables);
}

static bool
relmap_load(PGconn *c, relmap_t *m)
{
    PGresult *res = PQexec(c, "SELECT c.oid, c.relfilenode, c.oid::regclass::text"
                              " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE c.relkind IN ('r', 'm') AND " USER_NS_FILTER " ORDER BY 1");

    memset(m, 0, sizeof(*m));
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "differential: relfilenode query failed: %s", PQerrorMessage(c));
        PQclear(res);
        return false;
    }
    m->n = (size_t)PQntuples(res);
    m->oid = xcalloc(m->n ? m->n : 1, sizeof(unsigned));
    m->relfilenode = xcalloc(m->n ? m->n : 1, sizeof(unsigned));
    m->name = xcalloc(m->n ? m->n : 1, sizeof(char *));
    for (size_t i = 0; i < m->n; i++) {
        m->oid[i] = (unsigned)strtoul(PQgetvalue(res, (int)i, 0), NULL, 10);
        m->relfilenode[i] = (unsigned)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
        m->name[i] = xstrdup(PQgetvalue(res, (int)i, 2));
    }
    PQclear(res);
    return true;
}

static void
relmap_free(relmap_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->name[i]);
    free(m->oid);
    free(m->relfilenode);
    free(m->name);
    memset(m, 0, sizeof(*m));
}

/* The seed's tables whose relfilenode changed (rewritten) in c's database; NULL when none.
 * A table the file dropped is not a rewrite. */
static char *
rewritten_tables(PGconn *c)
{
    relmap_t now;
    sb_t sb;

    if (!relmap_load(c, &now))
        return xstrdup("(relfilenodes could not be read)");
    sb_init(&sb);
    for (size_t i = 0; i < g_seed_rels.n; i++) {
        for (size_t j = 0; j < now.n; j++) {
            if (now.oid[j] == g_seed_rels.oid[i]) {
                if (now.relfilenode[j] != g_seed_rels.relfilenode[i])
                    sb_printf(&sb, "%s%s", sb.len ? ", " : "", g_seed_rels.name[i]);
                break;
            }
        }
    }
    relmap_free(&now);
    return sb.len ? sb_steal(&sb) : (sb_free(&sb), NULL);
}

/* Whatever convoy may have made that must not outlive a migration; NULL when none. With
 * unfinished, a migration convoy did not bring to `done` counts too (for `expect: same`; a
 * refused or failed migration may stay recorded as such in convoy's own schema). */
static char *
leftovers(PGconn *c, bool unfinished_counts)
{
    static const char objects[] =
        "SELECT format('trigger %s on %s', t.tgname, t.tgrelid::regclass) AS what"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE NOT t.tgisinternal AND " USER_NS_FILTER
        " AND (t.tgname ILIKE 'convoy%' OR t.tgfoid IN (SELECT p.oid FROM pg_proc p"
        "      JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE pn.nspname = 'convoy'))"
        " UNION ALL"
        " SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE p.proname ILIKE 'convoy%' AND " USER_NS_FILTER " UNION ALL"
        " SELECT format('constraint %s on %s', co.conname, co.conrelid::regclass)"
        " FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace"
        " WHERE co.conname ILIKE 'convoy%' AND " USER_NS_FILTER " UNION ALL"
        " SELECT format('%s index %s', CASE WHEN i.indisvalid THEN 'convoy' ELSE 'INVALID' END,"
        "              i.indexrelid::regclass)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE " USER_NS_FILTER " AND (NOT i.indisvalid OR c.relname ILIKE 'convoy%')"
        " UNION ALL"
        " SELECT format('relation %s', c.oid::regclass) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname ILIKE 'convoy%' AND c.relkind NOT IN ('i', 'I') AND " USER_NS_FILTER;
    /* a migration that did not finish (only when convoy created its schema at all) */
    static const char unfinished[] = " UNION ALL SELECT format('migration %s is %s', name, status)"
                                     " FROM convoy.migrations WHERE status <> 'done'";
    char *has_state = harness_query_value(c, "SELECT to_regclass('convoy.migrations') IS NOT NULL");
    char *sql = xasprintf(
        "SELECT what FROM (%s%s) s ORDER BY 1", objects,
        unfinished_counts && has_state != NULL && strcmp(has_state, "t") == 0 ? unfinished : "");
    PGresult *res = PQexec(c, sql);
    sb_t sb;

    free(has_state);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char *e = xasprintf("(leftover query failed: %s)", PQerrorMessage(c));
        PQclear(res);
        return e;
    }
    sb_init(&sb);
    for (int i = 0; i < PQntuples(res); i++)
        sb_printf(&sb, "%s%s", i ? "; " : "", PQgetvalue(res, i, 0));
    PQclear(res);
    return sb.len ? sb_steal(&sb) : (sb_free(&sb), NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* comparing                                                                                  */

/* Whether two dump lines are the same but for a trailing comma (a column that is no longer the
 * last one of its table gains one). */
static bool
same_line(const char *x, const char *y)
{
    size_t nx = strlen(x), ny = strlen(y);

    if (nx > 0 && x[nx - 1] == ',')
        nx--;
    if (ny > 0 && y[ny - 1] == ',')
        ny--;
    return nx == ny && strncmp(x, y, nx) == 0;
}

/* The first line of a (not blank, not a comment) that occurs nowhere in b; NULL when none. */
static char *
first_line_not_in(const char *a, const char *b)
{
    for (const char *p = a; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);
        char *t = trim(line);
        bool found = *t == '\0' || strncmp(t, "--", 2) == 0;

        for (const char *q = b; !found && *q != '\0';) {
            size_t qlen = strcspn(q, "\n");
            char *other = xstrndup(q, qlen);
            found = same_line(trim(other), t);
            free(other);
            q += qlen;
            if (*q == '\n')
                q++;
        }
        if (!found) {
            char *r = xstrdup(t);
            free(line);
            return r;
        }
        free(line);
        p += len;
        if (*p == '\n')
            p++;
    }
    return NULL;
}

/* A one-line summary of how two texts differ (the first line each has that the other lacks
 * anywhere, so a shifted block does not pair unrelated lines), with `diff -u` as detail. */
static char *
diff_texts(const char *label,
           const char *a,
           const char *b,
           const char *a_name,
           const char *b_name,
           sb_t *detail)
{
    char *pa = harness_write_file(g_scratch, "a.txt", a);
    char *pb = harness_write_file(g_scratch, "b.txt", b);
    char *la = xasprintf("--label=%s", a_name), *lb = xasprintf("--label=%s", b_name);
    const char *argv[] = {"diff", "-U", "2", la, lb, pa, pb, NULL};
    char *out = NULL;
    char *only_a = first_line_not_in(a, b), *only_b = first_line_not_in(b, a), *summary;

    harness_run(argv, &out, NULL, 30000);
    if (only_a == NULL && only_b == NULL)
        summary = xasprintf("%s differs in the order of its lines", label);
    else
        summary = xasprintf("%s differs: %s has `%s`, %s has `%s`", label, a_name,
                            only_a ? only_a : "(nothing more)", b_name,
                            only_b ? only_b : "(nothing more)");
    append_lines(detail, label, out, DETAIL_MAX_LINES);
    free(only_a);
    free(only_b);
    free(out);
    free(la);
    free(lb);
    free(pa);
    free(pb);
    return summary;
}

/* The convoy database is exactly the seed: schema, data, no rewrite, nothing left behind. */
static void
check_unchanged(result_t *r, PGconn *cc, const char *convoy_dump, const char *convoy_data)
{
    char *rw, *left;

    if (strcmp(convoy_dump, g_seed_dump) != 0)
        result_set(r, RES_FAIL,
                   diff_texts("schema (seed vs convoy)", g_seed_dump, convoy_dump, "seed", "convoy",
                              &r->detail));
    if (strcmp(convoy_data, g_seed_data) != 0)
        result_set(r, RES_FAIL,
                   diff_texts("data (seed vs convoy)", g_seed_data, convoy_data, "seed", "convoy",
                              &r->detail));
    rw = rewritten_tables(cc);
    if (rw != NULL)
        result_set(r, RES_FAIL, xasprintf("convoy rewrote %s", rw));
    free(rw);
    left = leftovers(cc, false);
    if (left != NULL)
        result_set(r, RES_FAIL, xasprintf("convoy left behind: %s", left));
    free(left);
}

/* instead: names a corpus file that exists and is itself expected to be `same`. */
static void
check_instead(result_t *r, const corpus_file_t *f)
{
    char *path = xasprintf("%s/%s", g_corpus, f->instead);
    corpus_file_t *alt;

    if (!file_exists(path)) {
        result_set(r, RES_CORPUS,
                   xasprintf("corpus: instead: %s is not in the corpus", f->instead));
        free(path);
        return;
    }
    alt = corpus_load(path);
    if (alt->header_error != NULL || alt->expect != EXPECT_SAME)
        result_set(r, RES_CORPUS,
                   xasprintf("corpus: instead: %s must itself be `expect: same`", f->instead));
    corpus_free(alt);
    free(path);
}

/* `-- lock_timeout_ms: N`: the plan uses the file's own SET lock_timeout (class 10). */
static void
check_lock_timeout(result_t *r, const corpus_file_t *f)
{
    const char *argv[] = {g_convoy_bin, "plan", f->path, "--offline", "--json", NULL};
    char *out = NULL;
    const char *p;
    int rc = harness_run(argv, &out, NULL, 30000);
    long long got = -1;

    p = out != NULL ? strstr(out, "\"lock_timeout_ms\":") : NULL;
    if (p != NULL)
        got = strtoll(p + strlen("\"lock_timeout_ms\":"), NULL, 10);
    if (rc != 0 || got != (long long)f->lock_timeout_ms)
        result_set(r, RES_FAIL,
                   xasprintf("class 10: the plan's lock_timeout is %lld ms, not the file's %lld ms "
                             "(convoy plan --offline --json exit %d)",
                             got, (long long)f->lock_timeout_ms, rc));
    free(out);
}

/* The line of convoy's output that says why it did not apply the file, without the corpus
 * directory in front of the file name. */
static char *
convoy_reason(const char *out, int rc)
{
    static const char *const refusal_first[] = {"refused:", "failed:", "error:", "convoy:", NULL};
    static const char *const error_first[] = {"failed:", "error:", "refused:", "convoy:", NULL};
    char *line = first_line_with(out, rc == EXIT_CONVOY_REFUSED ? refusal_first : error_first);
    char *dir = xasprintf("%s/", g_corpus);
    char *at;

    while ((at = strstr(line, dir)) != NULL)
        memmove(at, at + strlen(dir), strlen(at + strlen(dir)) + 1);
    free(dir);
    return line;
}

static const char *const psql_reason_keys[] = {"ERROR:", "psql:", NULL};

/* Runs one corpus file; fills r. */
static void
run_file(const corpus_file_t *f, result_t *r)
{
    char *psql_log = xasprintf("%s/psql.log", g_scratch);
    char *ci = NULL, *psql_out = NULL, *c_out = NULL, *c_err = NULL, *convoy_all = NULL;
    char *pdump = NULL, *cdump = NULL, *pdata = NULL, *cdata = NULL, *err = NULL;
    PGconn *pc = NULL, *cc = NULL;
    pid_t psql_pid;
    int psql_rc, convoy_rc;
    int64_t t_phase = harness_now_ms();

    r->kind = RES_PASS;
    sb_init(&r->detail);
    if (f->header_error != NULL) {
        result_set(r, RES_CORPUS, xasprintf("corpus: %s", f->header_error));
        goto done;
    }
    if (f->expect != EXPECT_SAME)
        check_instead(r, f);
    if (!create_copies()) {
        result_set(r, RES_FAIL, xstrdup("could not create the two databases from the seed"));
        goto done;
    }

    PHASE("create");
    /* psql and convoy run at the same time, each on its own copy */
    unlink(psql_log);
    psql_pid = psql_spawn(PSQL_DB, f->path, psql_log);
    ci = conninfo(CONVOY_DB);
    {
        const char *argv[] = {g_convoy_bin, "apply", f->path, "--db", ci, NULL};
        convoy_rc = harness_run(argv, &c_out, &c_err, CONVOY_TIMEOUT_MS);
    }
    psql_rc = wait_or_kill(psql_pid, PSQL_TIMEOUT_MS);
    PHASE("apply");
    psql_out = harness_read_file(psql_log);
    {
        /* The file's name is not part of what convoy says: `refused RENAME` must not match
         * rails_rename_column.sql in the location prefix. */
        char *all = xasprintf("%s%s%s", c_out ? c_out : "", c_out && *c_out ? "\n" : "",
                              c_err ? c_err : "");
        char *stem = xstrndup(f->name, strlen(f->name) - strlen(".sql"));
        char *no_path = replace_all(all, f->path, "FILE");
        char *no_name = replace_all(no_path, f->name, "FILE");
        convoy_all = replace_all(no_name, stem, "MIGRATION"); /* the migration's name */
        free(all);
        free(no_path);
        free(no_name);
        free(stem);
    }

    pc = connect_db(PSQL_DB);
    cc = connect_db(CONVOY_DB);
    if (pc == NULL || cc == NULL) {
        result_set(r, RES_FAIL, xstrdup("cannot connect to the databases after the apply"));
        goto done;
    }
    dump_schemas(PSQL_DB, CONVOY_DB, &pdump, &cdump, &err);
    PHASE("dump");
    data_digests(pc, cc, &pdata, &cdata);
    PHASE("digest");
    if (pdump == NULL || cdump == NULL || pdata == NULL || cdata == NULL) {
        result_set(r, RES_FAIL, err ? err : xstrdup("could not dump or hash the databases"));
        err = NULL;
        goto done;
    }

    /* the file itself: valid for psql (or, for `error`, invalid and atomic) */
    if (f->expect == EXPECT_ERROR) {
        if (psql_rc == 0)
            result_set(r, RES_CORPUS,
                       xstrdup("corpus: psql accepts this file, so `expect: error` is wrong"));
        else if (strcmp(pdump, g_seed_dump) != 0 || strcmp(pdata, g_seed_data) != 0)
            result_set(r, RES_CORPUS,
                       xstrdup("corpus: psql changed the database before failing; wrap the "
                               "file in BEGIN/COMMIT so that the expected state is the seed"));
    } else if (psql_rc != 0) {
        char *why = first_line_with(psql_out, psql_reason_keys);
        result_set(r, RES_CORPUS,
                   xasprintf("corpus: psql fails on this file (exit %d): %s", psql_rc, why));
        free(why);
    } else if (f->expect == EXPECT_SAME) {
        char *rw = rewritten_tables(pc);
        if (rw != NULL)
            result_set(r, RES_CORPUS,
                       xasprintf("corpus: psql rewrites %s, so no rewrite-free equivalent "
                                 "exists: make it an expected refusal",
                                 rw));
        free(rw);
    }

    /* class 9: refusals must not promise a phase that does not exist yet */
    if (contains_ci(convoy_all, "contract phase will"))
        result_set(r, RES_FAIL,
                   xstrdup("class 9: convoy's advice promises a contract phase that does not "
                           "exist (\"contract phase will ...\")"));

    if (f->expect == EXPECT_SAME) {
        char *rw, *left;

        if (convoy_rc != 0) {
            char *why = convoy_reason(convoy_all, convoy_rc);
            result_set(r, RES_FAIL, xasprintf("convoy exit %d: %s", convoy_rc, why));
            free(why);
        }
        if (strcmp(pdump, cdump) != 0)
            result_set(r, RES_FAIL,
                       diff_texts("schema", pdump, cdump, "psql", "convoy", &r->detail));
        if (strcmp(pdata, cdata) != 0)
            result_set(r, RES_FAIL, diff_texts("data", pdata, cdata, "psql", "convoy", &r->detail));
        rw = rewritten_tables(cc);
        if (rw != NULL)
            result_set(r, RES_FAIL, xasprintf("convoy rewrote %s", rw));
        free(rw);
        left = leftovers(cc, true);
        if (left != NULL)
            result_set(r, RES_FAIL, xasprintf("convoy left behind: %s", left));
        free(left);
        if (f->output != NULL && !contains_ci(convoy_all, f->output))
            result_set(r, RES_FAIL,
                       xasprintf("convoy's output does not mention \"%s\"", f->output));
        if (f->lock_timeout_ms >= 0)
            check_lock_timeout(r, f);
    } else {
        int want = f->expect == EXPECT_REFUSED ? EXIT_CONVOY_REFUSED : EXIT_CONVOY_ERROR;
        /* for `error`, 6 (data must be fixed first: duplicates, violations) is as right as 1 */
        if (convoy_rc != want &&
            !(f->expect == EXPECT_ERROR && convoy_rc == EXIT_CONVOY_PRECONDITION)) {
            char *why = convoy_reason(convoy_all, convoy_rc);
            result_set(r, RES_FAIL,
                       xasprintf("expected %s (exit %d), convoy exited %d%s%s",
                                 f->expect == EXPECT_REFUSED ? "a refusal" : "an error", want,
                                 convoy_rc, *why ? ": " : "", why));
            free(why);
        }
        if (!contains_ci(convoy_all, f->substring))
            result_set(r, RES_FAIL,
                       xasprintf("convoy's output does not contain \"%s\"", f->substring));
        check_unchanged(r, cc, cdump, cdata);
    }

done:
    if (r->kind != RES_PASS || g_show_all) {
        if (psql_out != NULL && psql_out[0] != '\0')
            append_lines(&r->detail, "psql", psql_out, 10);
        if (convoy_all != NULL)
            append_lines(&r->detail, "convoy", convoy_all, DETAIL_MAX_LINES);
    }
    if (pc != NULL)
        PQfinish(pc);
    if (cc != NULL)
        PQfinish(cc);
    PHASE("checks");
    drop_copies();
    PHASE("drop");
    free(err);
    free(ci);
    free(psql_log);
    free(psql_out);
    free(c_out);
    free(c_err);
    free(convoy_all);
    free(pdump);
    free(cdump);
    free(pdata);
    free(cdata);
}

/* ------------------------------------------------------------------------------------------ */
/* setup                                                                                      */

static bool
seed(void)
{
    char *log = xasprintf("%s/seed.log", g_scratch);
    char *seed_sql = xasprintf("%s/seed.sql", g_dir);
    char *text;
    PGconn *c;
    char *unused = NULL;
    pid_t pid;
    int rc;
    bool ok = false;

    if (!admin_exec("CREATE DATABASE " SEED_DB))
        goto done;
    pid = psql_spawn(SEED_DB, seed_sql, log);
    rc = wait_or_kill(pid, 300000);
    if (rc != 0) {
        text = harness_read_file(log);
        fprintf(stderr, "differential: seeding failed (psql exit %d):\n%s\n", rc, text ? text : "");
        free(text);
        goto done;
    }
    c = connect_db(SEED_DB);
    if (c == NULL)
        goto done;
    g_run_start = harness_query_value(c, "SELECT now()::text");
    {
        /* every xid after this one belongs to an apply (the copies share the cluster's xids) */
        char *xid = harness_query_value(c, "SELECT txid_current()");
        g_seed_xid = xid != NULL ? strtoll(xid, NULL, 10) : -1;
        free(xid);
    }
    /* g_n_seed_tables is 0 here, so the seed's own digest hashes every table */
    data_digests(c, NULL, &g_seed_data, &unused);
    ok = g_run_start != NULL && g_seed_xid > 0 && g_seed_data != NULL &&
         seed_tables_load(c, g_seed_data) && relmap_load(c, &g_seed_rels);
    PQfinish(c); /* CREATE DATABASE ... TEMPLATE needs the seed without sessions */
    if (ok) {
        char *err = NULL, *none = NULL;
        dump_schemas(SEED_DB, NULL, &g_seed_dump, &none, &err);
        if (g_seed_dump == NULL) {
            fprintf(stderr, "differential: %s\n", err);
            ok = false;
        }
        free(err);
    }
    /* a checkpoint now makes the FILE_COPY of every copy cheap */
    ok = ok && admin_exec("CHECKPOINT");
done:
    free(log);
    free(seed_sql);
    return ok;
}

static void
resolve_dirs(void)
{
    const char *dir = getenv("CONVOY_DIFF_DIR");
    const char *bindir;

    if (dir == NULL || dir[0] == '\0')
        dir = DIFF_SOURCE_DIR;
    if (realpath(dir, g_dir) == NULL) {
        fprintf(stderr, "differential: %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    if (strlen(g_dir) + strlen("/corpus") >= sizeof(g_corpus)) {
        fprintf(stderr, "differential: %s: path too long\n", g_dir);
        exit(1);
    }
    memcpy(g_corpus, g_dir, strlen(g_dir));
    memcpy(g_corpus + strlen(g_dir), "/corpus", sizeof("/corpus"));
    bindir = harness_pg_bindir();
    snprintf(g_psql, sizeof(g_psql), "%s/psql", bindir);
    snprintf(g_pg_dump, sizeof(g_pg_dump), "%s/pg_dump", bindir);
    if (access(g_psql, X_OK) != 0 || access(g_pg_dump, X_OK) != 0) {
        fprintf(stderr, "differential: SKIP: psql or pg_dump missing in %s\n", bindir);
        exit(HARNESS_EXIT_SKIP);
    }
}

/* A command-line FILE: a path, a name in corpus/, or a name without .sql. */
static char *
resolve_file(const char *arg)
{
    char *p;

    if (file_exists(arg)) {
        char real[PATH_MAX];
        if (realpath(arg, real) != NULL)
            return xstrdup(real);
        return xstrdup(arg);
    }
    p = xasprintf("%s/%s", g_corpus, base_name(arg));
    if (file_exists(p))
        return p;
    free(p);
    p = xasprintf("%s/%s.sql", g_corpus, base_name(arg));
    if (file_exists(p))
        return p;
    free(p);
    fprintf(stderr, "differential: no such corpus file: %s\n", arg);
    exit(2);
}

static void
print_detail(const result_t *r)
{
    if (r->detail.len > 0)
        fputs(r->detail.data, stdout);
}

int
main(int argc, char **argv)
{
    char **files = NULL;
    size_t n_files = 0, n_gaps = 0;
    gap_t *gaps;
    int n_pass = 0, n_gap = 0, n_fail = 0;
    int per_class[N_CLASSES][3]; /* pass, known gap, fail */
    bool full_run;
    int64_t t0 = harness_now_ms();
    char took[64];
    int argi = 1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(per_class, 0, sizeof(per_class));
    if (argi < argc && strcmp(argv[argi], "-v") == 0) {
        g_verbose = true;
        argi++;
    }
    g_timing = getenv("DIFF_TIMING") != NULL && getenv("DIFF_TIMING")[0] == '1';
    g_show_all = getenv("DIFF_SHOW") != NULL && getenv("DIFF_SHOW")[0] == '1';
    harness_require_pg();
    g_convoy_bin = getenv("CONVOY_BIN");
    if (g_convoy_bin == NULL || access(g_convoy_bin, X_OK) != 0) {
        fprintf(stderr, "differential: CONVOY_BIN must name the convoy binary (ctest sets it)\n");
        return 1;
    }
    resolve_dirs();
    full_run = argi >= argc;
    if (full_run) {
        files = corpus_list(&n_files);
    } else {
        n_files = (size_t)(argc - argi);
        files = xcalloc(n_files, sizeof(*files));
        for (size_t i = 0; i < n_files; i++)
            files[i] = resolve_file(argv[argi + (int)i]);
    }
    gaps = gaps_load(&n_gaps);

    g_scratch = harness_mkdtemp("convoy-diff");
    g_pg = harness_pg_start(NULL);
    if (g_scratch == NULL || g_pg == NULL) {
        fprintf(stderr, "differential: could not start PostgreSQL\n");
        return 1;
    }
    if (!seed()) {
        harness_stop_all();
        return 1;
    }
    printf("differential: %zu file(s), seeded in %.1f s (convoy: %s)\n", n_files,
           (double)(harness_now_ms() - t0) / 1000.0, g_convoy_bin);

    for (size_t i = 0; i < n_files; i++) {
        corpus_file_t *f = corpus_load(files[i]);
        gap_t *g = gap_find(gaps, n_gaps, f->name);
        result_t r;
        int64_t t1 = harness_now_ms();
        int col;
        char secs[32];

        memset(&r, 0, sizeof(r));
        run_file(f, &r);
        snprintf(secs, sizeof(secs), "%.1fs", (double)(harness_now_ms() - t1) / 1000.0);
        if (g != NULL)
            g->seen = true;
        if (r.kind == RES_PASS && g != NULL) {
            printf("FAIL  %-48s %6s  now passes: remove it from known_gaps.txt\n", f->name, secs);
            n_fail++;
            col = 2;
        } else if (r.kind == RES_PASS) {
            printf("PASS  %-48s %6s\n", f->name, secs);
            if (g_show_all)
                print_detail(&r);
            n_pass++;
            col = 0;
        } else if (r.kind == RES_FAIL && g != NULL) {
            printf("GAP   %-48s %6s  %s\n", f->name, secs, r.reason);
            if (g_verbose || g_show_all)
                print_detail(&r);
            n_gap++;
            col = 1;
        } else {
            printf("FAIL  %-48s %6s  %s\n", f->name, secs, r.reason);
            print_detail(&r);
            n_fail++;
            col = 2;
        }
        for (int k = 0; k < N_CLASSES; k++)
            if (f->classes[k])
                per_class[k][col]++;
        free(r.reason);
        sb_free(&r.detail);
        corpus_free(f);
    }
    if (full_run) {
        for (size_t i = 0; i < n_gaps; i++) {
            if (!gaps[i].seen) {
                printf("FAIL  known_gaps.txt lists %s, which is not in the corpus\n", gaps[i].name);
                n_fail++;
            }
        }
    }

    format_duration(harness_now_ms() - t0, took, sizeof(took));
    printf("\nby class (pass / known gap / fail):\n");
    for (int k = 0; k < N_CLASSES; k++)
        if (per_class[k][0] + per_class[k][1] + per_class[k][2] > 0)
            printf("  class %2d: %3d / %3d / %3d\n", k, per_class[k][0], per_class[k][1],
                   per_class[k][2]);
    printf("differential: %zu files: %d pass, %d known gap(s), %d FAIL; %s\n", n_files, n_pass,
           n_gap, n_fail, took);

    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    for (size_t i = 0; i < n_gaps; i++) {
        free(gaps[i].name);
        free(gaps[i].reason);
    }
    free(gaps);
    relmap_free(&g_seed_rels);
    if (g_admin != NULL)
        PQfinish(g_admin);
    free(g_seed_dump);
    free(g_seed_data);
    seed_tables_free();
    free(g_run_start);
    harness_stop_all();
    free(g_scratch);
    return n_fail > 0 ? 1 : 0;
}
