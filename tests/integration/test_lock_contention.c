/* test_lock_contention.c: ADD COLUMN behind a lock holder never stalls readers past lock_timeout.
 */
#include "itest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define ROWS                  500000
#define LOCK_TIMEOUT_MS       50
#define HOLD_MS               2000
/* A reader may wait behind one queued ACCESS EXCLUSIVE attempt, plus scheduling slack. */
#define MAX_READER_LATENCY_MS (LOCK_TIMEOUT_MS + 100)

typedef struct {
    const harness_pg_t *pg;
    atomic_bool holding;
    atomic_bool done;
    bool ok;
    int64_t released_at_ms;
    int64_t held_ms;
} blocker_t;

typedef struct {
    const harness_pg_t *pg;
    atomic_bool stop;
    int64_t queries;
    int64_t errors;
    int64_t max_us;
    int64_t max_at_ms;
} reader_t;

/* Holds ACCESS SHARE on users in an idle transaction for HOLD_MS, then commits. */
static void *
blocker_main(void *arg)
{
    blocker_t *b = arg;
    PGconn *c = harness_connect(b->pg);
    int64_t t0;

    b->ok = harness_exec(c, "SET application_name = 'test_blocker'") && harness_exec(c, "BEGIN") &&
            harness_exec(c, "SELECT 1 FROM users LIMIT 1");
    t0 = harness_now_ms();
    atomic_store(&b->holding, true);
    if (b->ok) {
        harness_sleep_ms(HOLD_MS); /* the scenario: a transaction that stays open 2 s */
        b->ok = harness_exec(c, "COMMIT");
    }
    b->released_at_ms = harness_now_ms();
    b->held_ms = b->released_at_ms - t0;
    atomic_store(&b->done, true);
    PQfinish(c);
    return NULL;
}

/* Point-reads random users until stopped, recording the slowest query. */
static void *
reader_main(void *arg)
{
    reader_t *r = arg;
    PGconn *c = harness_connect(r->pg);
    uint64_t rng = 0x1234567ULL;

    if (!harness_exec(c, "SET application_name = 'test_reader'"))
        r->errors++;
    while (!atomic_load(&r->stop)) {
        char sql[128];
        int64_t t0, dt;
        PGresult *res;

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE id = %llu",
                 (unsigned long long)(itest_rand(&rng) % ROWS + 1));
        t0 = harness_now_us();
        res = PQexec(c, sql);
        dt = harness_now_us() - t0;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            if (r->errors == 0)
                fprintf(stderr, "reader: %s", PQerrorMessage(c));
            r->errors++;
        }
        PQclear(res);
        r->queries++;
        if (dt > r->max_us) {
            r->max_us = dt;
            r->max_at_ms = harness_now_ms();
        }
    }
    PQfinish(c);
    return NULL;
}

static bool
blocker_holding(void *arg)
{
    blocker_t *b = arg;
    return atomic_load(&b->holding);
}

static void
test_lock_contention(void **state)
{
    itest_env_t *env = *state;
    blocker_t blocker = {.pg = env->pg};
    reader_t reader = {.pg = env->pg};
    pthread_t bt, rt;
    char *path, *before, *after, *notnull;
    convoy_result_t r;
    bool blocked_msg;
    int64_t convoy_end_ms;
    const char *args[3] = {"apply", NULL, NULL};

    itest_exec(env->conn, "CREATE TABLE users (id bigserial PRIMARY KEY, name text);"
                          "INSERT INTO users (name) SELECT 'user ' || g "
                          "FROM generate_series(1, 500000) g;"
                          "ANALYZE users");
    before = itest_text(env->conn, "SELECT pg_relation_filenode('users')::text");
    assert_non_null(before);
    path = itest_write_migration(
        env, "add_last_login.sql",
        "-- convoy:name add_last_login\n"
        "-- convoy:lock-timeout 50ms\n"
        "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n");
    args[1] = path;

    assert_int_equal(pthread_create(&bt, NULL, blocker_main, &blocker), 0);
    assert_true(harness_poll(blocker_holding, &blocker, 30000, 1));
    assert_int_equal(pthread_create(&rt, NULL, reader_main, &reader), 0);

    r = itest_convoy(env, args);
    convoy_end_ms = harness_now_ms();

    atomic_store(&reader.stop, true);
    pthread_join(rt, NULL);
    pthread_join(bt, NULL);

    fprintf(stderr,
            "lock_contention: blocker held %lld ms; reader ran %lld queries (%lld errors), "
            "max latency %.1f ms; convoy took %lld ms\n",
            (long long)blocker.held_ms, (long long)reader.queries, (long long)reader.errors,
            (double)reader.max_us / 1000.0, (long long)r.elapsed_ms);

    assert_true(blocker.ok);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    blocked_msg = itest_contains_ci(r.err, "blocked by") || itest_contains_ci(r.err, "retry");
    if (!blocked_msg)
        fail_msg("convoy's stderr does not say it was blocked/retried (\"blocked by\"/\"retry\")");
    /* The ALTER cannot have succeeded while the blocker held its lock. */
    assert_true(convoy_end_ms >= blocker.released_at_ms);
    assert_true(reader.queries > 0);
    assert_int_equal(reader.errors, 0);
    if (reader.max_us > (int64_t)MAX_READER_LATENCY_MS * 1000)
        fail_msg("reader stalled %.1f ms (limit %d ms = lock_timeout + 100 ms)",
                 (double)reader.max_us / 1000.0, MAX_READER_LATENCY_MS);

    after = itest_text(env->conn, "SELECT pg_relation_filenode('users')::text");
    assert_non_null(after);
    assert_string_equal(before, after); /* no table rewrite */
    notnull = itest_text(env->conn, "SELECT attnotnull::text FROM pg_attribute "
                                    "WHERE attrelid = 'users'::regclass "
                                    "AND attname = 'last_login' AND NOT attisdropped");
    if (notnull == NULL)
        fail_msg("column users.last_login does not exist");
    assert_string_equal(notnull, "true");
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM users WHERE last_login IS NULL"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_contention),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
