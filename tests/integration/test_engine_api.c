/*
 * test_engine_api.c: a second caller of the engine API (the coordinator service will be
 * the third). It calls engine_apply()/engine_abort() in-process, as the CLI does, collects
 * the events, and checks them and the lifecycle transitions the audit log recorded.
 */
#include "convoy/engine.h"
#include "convoy/migration.h"
#include "itest.h"

#include <pthread.h>
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

typedef struct {
    int begins, ends, progress, notes, infos;
    int last_step_end;
    char outcomes[512];
} collector_t;

static void
collect(void *ud, const engine_event_t *e)
{
    collector_t *c = ud;
    switch (e->kind) {
    case EVT_STEP_BEGIN:
        c->begins++;
        break;
    case EVT_STEP_END:
        c->ends++;
        c->last_step_end = e->step;
        {
            size_t used = strlen(c->outcomes);
            int n = snprintf(c->outcomes + used, sizeof(c->outcomes) - used, "%s ", e->outcome);
            assert_true(n >= 0 && (size_t)n < sizeof(c->outcomes) - used); /* not truncated */
        }
        break;
    case EVT_PROGRESS:
        c->progress++;
        assert_true(e->pct >= 0 && e->pct <= 100.0);
        break;
    case EVT_NOTE:
        c->notes++;
        break;
    default:
        c->infos++;
        break;
    }
}

static migration_t
parse(const char *name, const char *text)
{
    migration_t m;
    parse_error_t err;
    assert_true(migration_parse(name, text, &m, &err));
    return m;
}

static void
test_apply_through_the_api(void **state)
{
    itest_env_t *env = *state;
    migration_t m;
    collector_t col = {0};
    engine_events_t ev = {collect, &col};
    run_ctl_t ctl = {0};
    apply_req_t req = {0};
    engine_outcome_t out;
    char *transitions;

    itest_exec(env->conn, "CREATE TABLE api (id bigint PRIMARY KEY, v int NOT NULL);"
                          "INSERT INTO api SELECT g, g FROM generate_series(1, 50000) g;"
                          "ANALYZE api;");
    m = parse("api_add.sql", "-- convoy:backfill w = v + 1\n"
                             "-- convoy:batch-target 20ms\n"
                             "ALTER TABLE api ADD COLUMN w bigint NOT NULL;\n");
    req.conninfo = env->db_arg;
    req.file = "api_add.sql";
    req.m = &m;
    req.actor = "engine-api-test";
    req.dead_holder_wait_ms = 1000;
    engine_apply(&req, &ctl, &ev, &out);
    assert_int_equal(out.result, RES_DONE);
    assert_string_equal(out.status, "done");
    assert_int_equal(col.begins, col.ends);
    assert_true(col.begins >= 5);
    assert_true(col.progress > 0);
    assert_int_equal(col.last_step_end, col.begins);
    assert_int_equal(
        itest_int(env->conn, "SELECT count(*) FROM api WHERE w IS DISTINCT FROM v + 1"), 0);
    engine_outcome_free(&out);

    /* applying it again is a no-op */
    memset(&col, 0, sizeof(col));
    engine_apply(&req, &ctl, &ev, &out);
    assert_int_equal(out.result, RES_NOOP);
    assert_int_equal(col.begins, 0);
    engine_outcome_free(&out);

    /* every lifecycle transition of the run is in the audit log, in order */
    transitions =
        itest_text(env->conn, "SELECT string_agg(action, ',' ORDER BY id) FROM convoy.audit WHERE "
                              "migration = 'api_add' AND action IN ('submit', 'start', 'resume', "
                              "'complete', 'fail', 'block', 'interrupt', 'abort_request', "
                              "'abort_done')");
    assert_string_equal(transitions, "submit,start,complete");
    assert_string_equal(itest_text(env->conn, "SELECT string_agg(actor, ',') FROM (SELECT "
                                              "DISTINCT actor FROM convoy.audit WHERE migration = "
                                              "'api_add') a"),
                        "engine-api-test");
    migration_free(&m);
}

static void
test_refusal_and_abort_through_the_api(void **state)
{
    itest_env_t *env = *state;
    migration_t m;
    collector_t col = {0};
    engine_events_t ev = {collect, &col};
    apply_req_t req = {0};
    abort_req_t areq = {0};
    engine_outcome_t out;

    m = parse("api_refused.sql", "ALTER TABLE api ADD COLUMN s bigserial;\n");
    req.conninfo = env->db_arg;
    req.file = "api_refused.sql";
    req.m = &m;
    req.actor = "engine-api-test";
    engine_apply(&req, NULL, &ev, &out);
    assert_int_equal(out.result, RES_REFUSED);
    assert_true(col.notes >= 1);
    engine_outcome_free(&out);
    migration_free(&m);

    areq.conninfo = env->db_arg;
    areq.name = "no_such_migration";
    areq.actor = "engine-api-test";
    areq.wait_ms = 1000;
    engine_abort(&areq, NULL, &ev, &out);
    assert_int_equal(out.result, RES_NOT_FOUND);
    engine_outcome_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_through_the_api),
        cmocka_unit_test(test_refusal_and_abort_through_the_api),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
