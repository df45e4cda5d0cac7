/* harness.h: throwaway PostgreSQL/Redis servers, child processes and polling for tests. */
#ifndef CONVOY_TEST_HARNESS_H
#define CONVOY_TEST_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit code that ctest maps to SKIP (SKIP_RETURN_CODE 77). */
#define HARNESS_EXIT_SKIP 77

typedef struct harness_pg harness_pg_t;
typedef struct harness_redis harness_redis_t;

typedef struct {
    bool fsync; /* false (the default) writes fsync=off for speed */
} harness_pg_opts_t;

/*
 * Every server and directory the harness creates is also registered with a watchdog
 * process that removes it if the test process dies for any reason (SIGKILL, abort).
 * An atexit handler stops whatever is still running on normal exit.
 */

/* Exits with HARNESS_EXIT_SKIP when the PostgreSQL server binaries are not installed. */
void harness_require_pg(void);
/* Exits with HARNESS_EXIT_SKIP when redis-server is not on PATH. */
void harness_require_redis(void);
/* Directory holding initdb, pg_ctl, ... or NULL when none was found. $CONVOY_PG_BINDIR, when
 * set, is used as is; otherwise the configure-time and then the run-time `pg_config --bindir`. */
const char *harness_pg_bindir(void);

/* Starts a primary on a free 127.0.0.1 port; opts may be NULL. NULL on failure. */
harness_pg_t *harness_pg_start(const harness_pg_opts_t *opts);
/* Starts a streaming replica of primary (pg_basebackup -R). NULL on failure. */
harness_pg_t *harness_pg_add_replica(harness_pg_t *primary);
/* Polls until pg_stat_replication on primary shows replica as streaming. */
bool harness_pg_wait_streaming(harness_pg_t *primary, harness_pg_t *replica, int timeout_ms);
/* pg_ctl stop -m immediate, remove the directory, free pg. NULL is a no-op. */
void harness_pg_stop(harness_pg_t *pg);

/* "host=127.0.0.1 port=N dbname=postgres user=postgres application_name=convoy_test". */
const char *harness_pg_conninfo(const harness_pg_t *pg);
/* Same without application_name, for the program under test. Caller frees. */
char *harness_pg_conninfo_db(const harness_pg_t *pg, const char *dbname);
int harness_pg_port(const harness_pg_t *pg);
const char *harness_pg_datadir(const harness_pg_t *pg);
/* The server log file (for printing on failure). */
const char *harness_pg_logfile(const harness_pg_t *pg);

/* Starts redis-server on a free port and waits until PING answers. NULL on failure. */
harness_redis_t *harness_redis_start(void);
int harness_redis_port(const harness_redis_t *r);
/* Sends a raw inline command (e.g. "PING") and returns the first reply line. Caller frees. */
char *harness_redis_command(const harness_redis_t *r, const char *inline_cmd);
void harness_redis_stop(harness_redis_t *r);

/* Stops every server this process started and removes every registered directory. */
void harness_stop_all(void);

/* A scratch directory removed at exit (or by the watchdog). Caller frees the path. */
char *harness_mkdtemp(const char *prefix);
/* Writes content to dir/name; returns the full path (caller frees) or NULL. */
char *harness_write_file(const char *dir, const char *name, const char *content);

/* Connects as the test user; prints the error and exits(1) on failure. */
PGconn *harness_connect(const harness_pg_t *pg);
/* Runs sql (may hold several statements); prints the error and returns false on failure. */
bool harness_exec(PGconn *c, const char *sql);
/* First cell of the first row (strdup'ed, caller frees); NULL on error, no rows or NULL. */
char *harness_query_value(PGconn *c, const char *sql);
/* First cell parsed as an integer; returns false (and prints why) on any failure. */
bool harness_query_int(PGconn *c, const char *sql, int64_t *out);

/*
 * Polls cond(arg) every interval_ms until it returns true or timeout_ms passes.
 * Returns whether cond became true.
 */
bool harness_poll(bool (*cond)(void *arg), void *arg, int timeout_ms, int interval_ms);
/* Polls a query returning one boolean until it returns true. */
bool harness_poll_sql(PGconn *c, const char *sql_returning_bool, int timeout_ms);

/*
 * Runs argv[0] (PATH lookup) with stdin from /dev/null, capturing stdout/stderr into
 * *out / *err (NUL-terminated, caller frees; either pointer may be NULL to discard).
 * Returns the exit status, 128+signal if it was killed, or -1 on timeout or spawn failure.
 */
int harness_run(const char *const argv[], char **out, char **err, int timeout_ms);
/* Starts argv in the background with stdout/stderr appended to the given files (NULL means
 * /dev/null). Returns the pid or -1. */
pid_t harness_spawn(const char *const argv[], const char *stdout_path, const char *stderr_path);
/* Waits for a spawned child: exit status, 128+signal, or -1 on timeout (child left running). */
int harness_wait(pid_t pid, int timeout_ms);

/* pg_dump --schema-only of dbname (without the random-keyed \restrict lines, so two dumps of
 * one schema compare equal); exclude_schema may be NULL. *out is freed by the caller. */
bool harness_schema_dump(const harness_pg_t *pg, const char *dbname, char **out);
bool harness_schema_dump_excluding(const harness_pg_t *pg,
                                   const char *dbname,
                                   const char *exclude_schema,
                                   char **out);

/* Monotonic clock in milliseconds (and microseconds). */
int64_t harness_now_ms(void);
int64_t harness_now_us(void);
/* Sleeps for ms milliseconds (for pacing a scenario, never for waiting on a condition). */
void harness_sleep_ms(int ms);
/* Reads a whole file into a NUL-terminated buffer (caller frees) or NULL. */
char *harness_read_file(const char *path);

#endif
