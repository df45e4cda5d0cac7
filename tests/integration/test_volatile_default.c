/* test_volatile_default.c: volatile-default NOT NULL column + index under concurrent writes. */
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

#define ROWS 500000

typedef struct {
    const harness_pg_t *pg;
    atomic_bool stop;
    int64_t inserts;
    int64_t updates;
    int64_t errors;
} writer_t;

static bool
writer_step(PGconn *c, const char *sql, writer_t *w)
{
    PGresult *res = PQexec(c, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok) {
        if (w->errors < 5)
            fprintf(stderr, "writer: %s  in: %s\n", PQerrorMessage(c), sql);
        w->errors++;
    }
    PQclear(res);
    return ok;
}

/* Inserts new rows (relying on column defaults) and updates random old rows until stopped. */
static void *
writer_main(void *arg)
{
    writer_t *w = arg;
    PGconn *c = harness_connect(w->pg);
    uint64_t rng = 0xC0FFEEULL;

    if (!harness_exec(c, "SET application_name = 'test_writer'"))
        w->errors++;
    while (!atomic_load(&w->stop)) {
        char sql[128];

        if (writer_step(c, "INSERT INTO items (payload) VALUES ('from writer')", w))
            w->inserts++;
        snprintf(sql, sizeof(sql), "UPDATE items SET n = n + 1 WHERE id = %llu",
                 (unsigned long long)(itest_rand(&rng) % ROWS + 1));
        if (writer_step(c, sql, w))
            w->updates++;
        harness_sleep_ms(2); /* pacing: a steady application load, not a CPU hog */
    }
    PQfinish(c);
    return NULL;
}

static void
test_volatile_default(void **state)
{
    itest_env_t *env = *state;
    writer_t writer = {.pg = env->pg};
    pthread_t wt;
    char *path, *before, *after, *v;
    convoy_result_t r;
    const char *args[3] = {"apply", NULL, NULL};
    int64_t total;

    itest_exec(env->conn, "CREATE TABLE items (id bigserial PRIMARY KEY, payload text NOT NULL, "
                          "n int NOT NULL DEFAULT 0);"
                          "INSERT INTO items (payload) SELECT md5(g::text) "
                          "FROM generate_series(1, 500000) g;"
                          "ANALYZE items");
    before = itest_text(env->conn, "SELECT pg_relation_filenode('items')::text");
    assert_non_null(before);
    path = itest_write_migration(
        env, "add_token.sql",
        "-- convoy:name add_token\n"
        "ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid() NOT NULL;\n"
        "CREATE INDEX items_token_idx ON items (token);\n");
    args[1] = path;

    assert_int_equal(pthread_create(&wt, NULL, writer_main, &writer), 0);
    r = itest_convoy(env, args);
    atomic_store(&writer.stop, true);
    pthread_join(wt, NULL);
    fprintf(stderr, "volatile_default: writer did %lld inserts, %lld updates, %lld errors\n",
            (long long)writer.inserts, (long long)writer.updates, (long long)writer.errors);

    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(writer.errors, 0);
    assert_true(writer.inserts > 0);
    assert_true(writer.updates > 0);

    v = itest_text(env->conn, "SELECT attnotnull::text FROM pg_attribute "
                              "WHERE attrelid = 'items'::regclass AND attname = 'token' "
                              "AND NOT attisdropped");
    if (v == NULL)
        fail_msg("column items.token does not exist");
    assert_string_equal(v, "true");

    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM items WHERE token IS NULL"), 0);
    /* A volatile default is evaluated per row: every row gets its own uuid. */
    total = itest_int(env->conn, "SELECT count(*) FROM items");
    assert_true(total >= ROWS + writer.inserts);
    assert_int_equal(itest_int(env->conn, "SELECT count(DISTINCT token) FROM items"), total);
    /* New rows still get a default. */
    itest_exec(env->conn, "INSERT INTO items (payload) VALUES ('after migration')");
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM items WHERE token IS NULL"), 0);

    v = itest_text(env->conn, "SELECT string_agg(conname, ', ') FROM pg_constraint "
                              "WHERE conname LIKE 'convoy\\_%'");
    if (v != NULL)
        fail_msg("helper constraints left behind: %s", v);

    v = itest_text(env->conn, "SELECT i.indisvalid::text FROM pg_index i "
                              "WHERE i.indexrelid = to_regclass('public.items_token_idx')");
    if (v == NULL)
        fail_msg("index items_token_idx does not exist");
    assert_string_equal(v, "true");
    v = itest_text(env->conn, "SELECT string_agg(indexrelid::regclass::text || ' (ready='"
                              " || indisready || ', live=' || indislive || ')', ', ') "
                              "FROM pg_index WHERE NOT indisvalid");
    if (v != NULL)
        fail_msg("INVALID index(es) left behind: %s", v);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_index "
                                          "WHERE indrelid = 'items'::regclass "
                                          "AND indexrelid = 'items_token_idx'::regclass "
                                          "AND indkey::text = (SELECT attnum::text "
                                          "FROM pg_attribute WHERE attrelid = 'items'::regclass "
                                          "AND attname = 'token')"),
                     1);

    after = itest_text(env->conn, "SELECT pg_relation_filenode('items')::text");
    assert_non_null(after);
    assert_string_equal(before, after); /* no table rewrite */

    v = itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'add_token'");
    assert_non_null(v);
    assert_string_equal(v, "done");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volatile_default),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
