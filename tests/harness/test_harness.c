/* test_harness.c: self-test of the harness: processes, primary + replica + redis, watchdog. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static const char *g_self; /* path of this executable, for the watchdog victim */

static void
test_run_captures_output(void **state)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    const char *slow[] = {"sleep", "10", NULL};
    const char *missing[] = {"/nonexistent/convoy-no-such-binary", NULL};
    char *out = NULL, *err = NULL;
    int64_t t0;
    int rc;

    (void)state;
    rc = harness_run(argv, &out, &err, 10000);
    assert_int_equal(rc, 3);
    assert_string_equal(out, "out\n");
    assert_string_equal(err, "err\n");
    free(out);
    free(err);

    t0 = harness_now_ms();
    rc = harness_run(slow, NULL, NULL, 200);
    assert_int_equal(rc, -1);
    assert_true(harness_now_ms() - t0 < 5000);

    rc = harness_run(missing, NULL, NULL, 5000);
    assert_int_equal(rc, -1);
}

typedef struct {
    int calls;
    int succeed_at;
} counter_t;

static bool
count_up(void *arg)
{
    counter_t *c = arg;
    return ++c->calls >= c->succeed_at;
}

static bool
never(void *arg)
{
    (void)arg;
    return false;
}

static void
test_poll(void **state)
{
    counter_t c = {.calls = 0, .succeed_at = 3};
    int64_t t0;

    (void)state;
    assert_true(harness_poll(count_up, &c, 5000, 1));
    assert_int_equal(c.calls, 3);
    t0 = harness_now_ms();
    assert_false(harness_poll(never, NULL, 100, 10));
    assert_true(harness_now_ms() - t0 >= 100);
}

static void
test_primary_replica_redis(void **state)
{
    harness_pg_t *primary, *replica;
    harness_redis_t *redis;
    PGconn *pc, *rc;
    char *value, *dump = NULL, *reply;
    char *primary_dir, *replica_dir;

    (void)state;
    primary = harness_pg_start(NULL);
    assert_non_null(primary);
    replica = harness_pg_add_replica(primary);
    assert_non_null(replica);
    assert_int_not_equal(harness_pg_port(primary), harness_pg_port(replica));
    assert_true(harness_pg_wait_streaming(primary, replica, 30000));
    primary_dir = strdup(harness_pg_datadir(primary));
    replica_dir = strdup(harness_pg_datadir(replica));
    assert_non_null(primary_dir);
    assert_non_null(replica_dir);

    pc = harness_connect(primary);
    rc = harness_connect(replica);
    value = harness_query_value(rc, "SELECT pg_is_in_recovery()");
    assert_non_null(value);
    assert_string_equal(value, "t");
    free(value);

    assert_true(harness_exec(pc, "CREATE TABLE repl_check (id int PRIMARY KEY, note text);"
                                 "INSERT INTO repl_check SELECT g, 'row ' || g "
                                 "FROM generate_series(1, 1000) g"));
    assert_true(harness_poll_sql(rc, "SELECT to_regclass('public.repl_check') IS NOT NULL", 30000));
    assert_true(harness_poll_sql(rc, "SELECT count(*) = 1000 FROM repl_check", 30000));
    value = harness_query_value(rc, "SELECT note FROM repl_check WHERE id = 42");
    assert_non_null(value);
    assert_string_equal(value, "row 42");
    free(value);

    assert_true(harness_schema_dump(primary, "postgres", &dump));
    assert_non_null(strstr(dump, "CREATE TABLE public.repl_check"));
    {
        char *again = NULL;
        assert_true(harness_schema_dump(primary, "postgres", &again));
        assert_string_equal(dump, again); /* dumps are comparable */
        free(again);
        assert_true(harness_exec(pc, "CREATE SCHEMA convoy; CREATE TABLE convoy.state (x int)"));
        assert_true(harness_schema_dump_excluding(primary, "postgres", "convoy", &again));
        assert_string_equal(dump, again);
        free(again);
    }
    free(dump);

    redis = harness_redis_start();
    assert_non_null(redis);
    reply = harness_redis_command(redis, "PING");
    assert_non_null(reply);
    assert_string_equal(reply, "+PONG");
    free(reply);
    reply = harness_redis_command(redis, "SET convoy_key hello");
    assert_non_null(reply);
    assert_string_equal(reply, "+OK");
    free(reply);
    harness_redis_stop(redis);

    PQfinish(pc);
    PQfinish(rc);
    harness_pg_stop(replica);
    harness_pg_stop(primary);
    assert_int_not_equal(access(primary_dir, F_OK), 0);
    assert_int_not_equal(access(replica_dir, F_OK), 0);
    free(primary_dir);
    free(replica_dir);
}

typedef struct {
    const char *path;
    char *text;
} file_line_t;

static bool
file_has_line(void *arg)
{
    file_line_t *fl = arg;
    free(fl->text);
    fl->text = harness_read_file(fl->path);
    return fl->text != NULL && strchr(fl->text, '\n') != NULL;
}

typedef struct {
    const char *datadir;
    const char *conninfo;
} gone_t;

static bool
server_gone(void *arg)
{
    gone_t *g = arg;
    return access(g->datadir, F_OK) != 0 && PQping(g->conninfo) == PQPING_NO_RESPONSE;
}

/* Starts a victim process that launches PostgreSQL and then dies the given way; the
 * watchdog must stop the server and remove its directory. */
static void
check_watchdog(const char *how)
{
    char *dir = harness_mkdtemp("convoy-victim");
    char *out_path, *err_path;
    const char *argv[] = {g_self, "--victim", how, NULL};
    file_line_t fl = {0};
    char datadir[4096], conninfo[256];
    int port = 0, rc;
    pid_t pid;

    assert_non_null(dir);
    out_path = harness_write_file(dir, "victim.out", "");
    err_path = harness_write_file(dir, "victim.err", "");
    assert_non_null(out_path);
    assert_non_null(err_path);
    pid = harness_spawn(argv, out_path, err_path);
    assert_true(pid > 0);
    fl.path = out_path;
    if (!harness_poll(file_has_line, &fl, 60000, 20)) {
        char *err = harness_read_file(err_path);
        fprintf(stderr, "victim never reported its server; stderr:\n%s\n", err ? err : "");
        free(err);
        fail();
    }
    assert_int_equal(sscanf(fl.text, "%4095s %d", datadir, &port), 2);
    assert_true(port > 0);
    assert_int_equal(access(datadir, F_OK), 0);
    assert_true(snprintf(conninfo, sizeof(conninfo),
                         "host=127.0.0.1 port=%d dbname=postgres user=postgres",
                         port) < (int)sizeof(conninfo));
    assert_int_equal(PQping(conninfo), PQPING_OK);

    /* The abort victim calls abort() when told, like an ASan failure would. */
    kill(pid, strcmp(how, "kill") == 0 ? SIGKILL : SIGUSR1);
    rc = harness_wait(pid, 30000);
    assert_int_equal(rc, 128 + (strcmp(how, "kill") == 0 ? SIGKILL : SIGABRT));

    {
        gone_t g = {.datadir = datadir, .conninfo = conninfo};
        if (!harness_poll(server_gone, &g, 60000, 50)) {
            fprintf(stderr, "watchdog did not clean up %s (port %d)\n", datadir, port);
            fail();
        }
    }
    free(fl.text);
    free(out_path);
    free(err_path);
    free(dir);
}

static void
test_watchdog_after_sigkill(void **state)
{
    (void)state;
    check_watchdog("kill");
}

static void
test_watchdog_after_abort(void **state)
{
    (void)state;
    check_watchdog("abort");
}

static void
abort_on_signal(int sig)
{
    (void)sig;
    abort();
}

/* The victim: start a primary, report it, then die without any cleanup of our own. */
static int
victim_main(const char *how)
{
    harness_pg_t *pg;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = strcmp(how, "abort") == 0 ? abort_on_signal : SIG_DFL;
    sigaction(SIGUSR1, &sa, NULL);
    pg = harness_pg_start(NULL);
    if (pg == NULL)
        return 1;
    printf("%s %d\n", harness_pg_datadir(pg), harness_pg_port(pg));
    fflush(stdout);
    for (;;)
        pause();
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_captures_output),   cmocka_unit_test(test_poll),
        cmocka_unit_test(test_primary_replica_redis), cmocka_unit_test(test_watchdog_after_sigkill),
        cmocka_unit_test(test_watchdog_after_abort),
    };

    harness_require_pg();
    if (argc == 3 && strcmp(argv[1], "--victim") == 0)
        return victim_main(argv[2]);
    harness_require_redis();
    g_self = "/proc/self/exe";
    {
        static char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
            self[n] = '\0';
            g_self = self;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
