/* itest.h: shared helpers for the convoy CLI integration tests (run convoy, check the DB). */
#ifndef CONVOY_ITEST_H
#define CONVOY_ITEST_H

#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* convoy exit codes (the CLI contract). */
enum {
    CONVOY_EXIT_OK = 0,
    CONVOY_EXIT_ERROR = 1,
    CONVOY_EXIT_USAGE = 2,
    CONVOY_EXIT_UNSAFE = 3,
    CONVOY_EXIT_LEASE_HELD = 4,
    CONVOY_EXIT_LOCK_TIMEOUT = 5,
    CONVOY_EXIT_PRECONDITION = 6,
    CONVOY_EXIT_ABORTED = 7,
    CONVOY_EXIT_NOT_FOUND = 8,
};

/* Timeout for one convoy invocation. */
#define ITEST_CONVOY_TIMEOUT_MS 180000

typedef struct {
    int rc; /* exit status, 128+signal, or -1 on timeout */
    char *out;
    char *err;
    int64_t elapsed_ms;
} convoy_result_t;

/*
 * Memory returned by the itest_* helpers (paths, query text, convoy output) is owned by the
 * helpers and freed at group teardown, so a failing assertion (which longjmps out of the test)
 * leaks nothing under LeakSanitizer. Tests never free it.
 */
/* Hands p to the teardown arena and returns it. */
void *itest_keep(void *p);

/* Skips without PostgreSQL; fails (exit 1) when $CONVOY_BIN is not an executable. Call first. */
void itest_init(void);
const char *itest_convoy_bin(void);

/* A started primary plus a connection and scratch directory, shared by a test file. */
typedef struct {
    harness_pg_t *pg;
    PGconn *conn;
    char *dir;    /* scratch directory for migration files and logs */
    char *db_arg; /* conninfo for --db (no application_name: convoy sets its own) */
} itest_env_t;

/* cmocka group setup/teardown: *state becomes an itest_env_t. */
int itest_setup(void **state);
int itest_teardown(void **state);

/* Writes a migration file into env->dir; returns its path. Fails the test. */
char *itest_write_migration(const itest_env_t *env, const char *name, const char *text);

/*
 * Runs `convoy <args...> --db <env->db_arg>` (args NULL-terminated) synchronously and echoes
 * the command, exit code and output to stderr so a failing test shows them.
 */
convoy_result_t itest_convoy(const itest_env_t *env, const char *const args[]);

/* Starts `convoy <args...> --db ...` in the background with output in env->dir/<tag>.{out,err}. */
pid_t itest_convoy_spawn(const itest_env_t *env, const char *const args[], const char *tag);
/* Prints env->dir/<tag>.out and .err to stderr and returns the stderr text. */
char *itest_spawn_output(const itest_env_t *env, const char *tag);

/* Runs sql; fails the test (at the caller's line) on error. */
#define itest_exec(c, sql) itest_exec_at((c), (sql), __FILE__, __LINE__)
void itest_exec_at(PGconn *c, const char *sql, const char *file, int line);
/* Integer result of a one-cell query; fails the test (at the caller's line) on error. */
#define itest_int(c, sql) itest_int_at((c), (sql), __FILE__, __LINE__)
int64_t itest_int_at(PGconn *c, const char *sql, const char *file, int line);
/* Text of a one-cell query; NULL on error, no row or SQL NULL. */
char *itest_text(PGconn *c, const char *sql);

/* Case-insensitive substring test. */
bool itest_contains_ci(const char *haystack, const char *needle);
/* True when text contains the decimal number n not adjacent to other digits. */
bool itest_contains_number(const char *text, int64_t n);
/* True when text contains "<name>:<line>:" where name is the file's base name. */
bool itest_mentions_location(const char *text, const char *path, int line);
/* Base name of a path (pointer into path). */
const char *itest_basename(const char *path);

/* Polls until no backend with application_name 'convoy' remains. */
bool itest_wait_no_convoy_backends(PGconn *c, int timeout_ms);

/* A fast thread-local pseudo-random generator for choosing rows. */
uint64_t itest_rand(uint64_t *state);

#endif
