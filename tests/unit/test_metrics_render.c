/* test_metrics_render.c: snapshots -> Prometheus text (pure), table-driven. */
#include "convoy/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static bool
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static int
count_prefix(const char *text, const char *prefix)
{
    int k = 0;
    size_t n = strlen(prefix);

    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        k += strncmp(p, prefix, n) == 0;
    return k;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line(text, line))                                                                 \
            fail_msg("missing line: %s\n--- output:\n%s", line, text);                             \
    } while (0)
#define assert_no_line(text, line)                                                                 \
    do {                                                                                           \
        if (has_line(text, line))                                                                  \
            fail_msg("unexpected line: %s", line);                                                 \
    } while (0)

/*
 * The format's structure: every sample belongs to the family declared by the last TYPE line
 * (a histogram's _bucket/_sum/_count too), each family is declared once, HELP before TYPE.
 */
static void
check_structure(const char *text)
{
    char fam[128] = "", type[16] = "";
    char seen[64][128];
    int n_seen = 0;

    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        char line[1024];
        size_t n;

        assert_non_null(end); /* every line ends in \n */
        n = (size_t)(end - p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p = end + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(line + 7, "%127s", name), 1);
            for (int i = 0; i < n_seen; i++)
                if (strcmp(seen[i], name) == 0)
                    fail_msg("family %s declared twice", name);
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
            snprintf(fam, sizeof(fam), "%s", name);
            type[0] = '\0';
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(line + 7, "%127s %15s", name, type), 2);
            assert_string_equal(name, fam);
            /* counters end in _total; nothing else does */
            assert_int_equal(strcmp(type, "counter") == 0,
                             strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0);
        } else {
            size_t fl = strlen(fam);
            char next;
            assert_true(type[0] != '\0');
            assert_int_equal(strncmp(line, fam, fl), 0);
            next = line[fl];
            if (strcmp(type, "histogram") == 0)
                assert_true(strncmp(line + fl, "_bucket{", 8) == 0 ||
                            strncmp(line + fl, "_sum", 4) == 0 ||
                            strncmp(line + fl, "_count", 6) == 0);
            else
                assert_true(next == '{' || next == ' ');
        }
    }
}

static void
test_db_down(void **state)
{
    metrics_snapshot_t s = {0};
    char *t;

    (void)state;
    s.version = "1.2.3";
    t = metrics_render(&s);
    check_structure(t);
    assert_line(t, "convoy_build_info{version=\"1.2.3\"} 1");
    assert_line(t, "convoy_state_up 0");
    assert_int_equal(count_prefix(t, "# TYPE "), 2);
    free(t);
}

static void
test_full_snapshot(void **state)
{
    metrics_migration_t m[2] = {
        {"add_last_login", "running", 2, 5, "holding: replica r2 lag 3.4 s > 1.0 s", 2.5, 1.0, 3.4,
         true, 7, 2},
        {"old_one", "done", 3, 3, NULL, -1, -1, -1, false, 0, 0},
    };
    metrics_backfill_t b[1] = {{"add_last_login", 2, 1500, 1400, 12, 100000, 250}};
    metrics_step_t st[2] = {{"add_last_login", 1, "ddl", "done", 1},
                            {"add_last_login", 2, "backfill", "running", 3}};
    metrics_gate_t g[1] = {{"add_last_login", "expand", "pending"}};
    metrics_node_t nodes[4] = {
        {"local", "primary", "primary", "ok", -1, -1, 0.2},
        {"local", "r1", "replica", "ok", 120, 4096, 0.2},
        {"local", "r2", "replica", "unknown", 3400, -1, 0.2},
        {"local", "web1", "app", "left", -1, -1, 0.2},
    };
    metrics_inval_t inv[1] = {{"add_last_login", "key", 12, 10, 2, 1500, 1490, 11}};
    metrics_hist_t h = {0};
    metrics_snapshot_t s = {0};
    char *t;

    (void)state;
    snprintf(h.migration, sizeof(h.migration), "add_last_login");
    metrics_hist_observe(&h, 0.004); /* le 0.005 */
    metrics_hist_observe(&h, 0.05);  /* le 0.05: bounds are inclusive */
    metrics_hist_observe(&h, 0.06);  /* le 0.1 */
    metrics_hist_observe(&h, 30);    /* +Inf only */
    h.retries = 4;
    s.db_up = true;
    s.version = "0.1.0";
    s.migrations = m;
    s.n_migrations = 2;
    s.backfills = b;
    s.n_backfills = 1;
    s.steps = st;
    s.n_steps = 2;
    s.gates = g;
    s.n_gates = 1;
    s.nodes = nodes;
    s.n_nodes = 4;
    s.invals = inv;
    s.n_invals = 1;
    s.hists = &h;
    s.n_hists = 1;
    s.fresh_s = 10;
    t = metrics_render(&s);
    check_structure(t);

    assert_line(t, "convoy_state_up 1");
    /* the lifecycle as a state set */
    assert_line(t, "convoy_migration_status{migration=\"add_last_login\",status=\"running\"} 1");
    assert_line(t, "convoy_migration_status{migration=\"add_last_login\",status=\"paused\"} 0");
    assert_line(t, "convoy_migration_status{migration=\"old_one\",status=\"done\"} 1");
    assert_line(t, "convoy_migration_step{migration=\"add_last_login\"} 2");
    assert_line(t, "convoy_migration_steps{migration=\"add_last_login\"} 5");
    assert_line(t, "convoy_migration_driven{migration=\"add_last_login\"} 1");
    /* the hold: state, bounded reason, duration */
    assert_line(t, "convoy_migration_held{migration=\"add_last_login\"} 1");
    assert_line(t, "convoy_migration_held{migration=\"old_one\"} 0");
    assert_line(
        t, "convoy_migration_hold_reason{migration=\"add_last_login\",reason=\"replica_lag\"} 1");
    assert_int_equal(count_prefix(t, "convoy_migration_hold_reason{"), 1);
    assert_line(t, "convoy_migration_held_seconds{migration=\"add_last_login\"} 2.5");
    assert_line(t, "convoy_replica_lag_limit_seconds{migration=\"add_last_login\"} 1");
    assert_no_line(t, "convoy_replica_lag_limit_seconds{migration=\"old_one\"} -1");
    assert_line(t, "convoy_migration_worst_replica_lag_seconds{migration=\"add_last_login\"} 3.4");
    assert_line(t, "convoy_lock_waits_total{migration=\"add_last_login\"} 7");
    assert_line(t, "convoy_holds_total{migration=\"add_last_login\"} 2");
    assert_line(
        t, "convoy_step_attempts_total{migration=\"add_last_login\",step=\"2\",kind=\"backfill\"} "
           "3");
    /* backfill */
    assert_line(t, "convoy_backfill_rows_total{migration=\"add_last_login\",step=\"2\"} 1500");
    assert_line(t,
                "convoy_backfill_rows_updated_total{migration=\"add_last_login\",step=\"2\"} 1400");
    assert_line(t, "convoy_backfill_rows_expected{migration=\"add_last_login\",step=\"2\"} 100000");
    assert_line(t, "convoy_backfill_batches_total{migration=\"add_last_login\",step=\"2\"} 12");
    assert_line(t, "convoy_backfill_batch_size_rows{migration=\"add_last_login\",step=\"2\"} 250");
    /* the histogram: cumulative buckets, +Inf = count */
    assert_line(t, "convoy_backfill_batch_duration_seconds_bucket{migration=\"add_last_login\",le="
                   "\"0.005\"} 1");
    assert_line(t, "convoy_backfill_batch_duration_seconds_bucket{migration=\"add_last_login\",le="
                   "\"0.05\"} 2");
    assert_line(
        t,
        "convoy_backfill_batch_duration_seconds_bucket{migration=\"add_last_login\",le=\"0.1\"} 3");
    assert_line(
        t,
        "convoy_backfill_batch_duration_seconds_bucket{migration=\"add_last_login\",le=\"10\"} 3");
    assert_line(t, "convoy_backfill_batch_duration_seconds_bucket{migration=\"add_last_login\",le="
                   "\"+Inf\"} 4");
    assert_line(t, "convoy_backfill_batch_duration_seconds_count{migration=\"add_last_login\"} 4");
    assert_line(t,
                "convoy_backfill_batch_duration_seconds_sum{migration=\"add_last_login\"} 30.114");
    assert_int_equal(count_prefix(t, "convoy_backfill_batch_duration_seconds_bucket{"),
                     METRICS_N_BUCKETS + 1);
    assert_line(t, "convoy_backfill_batch_retries_total{migration=\"add_last_login\"} 4");
    /* gates as a state set */
    assert_line(
        t, "convoy_gate_state{migration=\"add_last_login\",gate=\"expand\",state=\"pending\"} 1");
    assert_line(t,
                "convoy_gate_state{migration=\"add_last_login\",gate=\"expand\",state=\"open\"} 0");
    /* the fleet: replicas' lag in seconds and bytes, liveness */
    assert_line(t, "convoy_replica_lag_seconds{cluster=\"local\",node=\"r1\"} 0.12");
    assert_line(t, "convoy_replica_lag_seconds{cluster=\"local\",node=\"r2\"} 3.4");
    assert_int_equal(count_prefix(t, "convoy_replica_lag_seconds{"), 2); /* not the primary */
    assert_line(t, "convoy_replica_lag_bytes{cluster=\"local\",node=\"r1\"} 4096");
    assert_int_equal(count_prefix(t, "convoy_replica_lag_bytes{"), 1);
    assert_line(t, "convoy_agent_up{cluster=\"local\",node=\"r1\",role=\"replica\"} 1");
    assert_line(t, "convoy_agent_up{cluster=\"local\",node=\"r2\",role=\"replica\"} 0");
    assert_line(t, "convoy_agent_up{cluster=\"local\",node=\"web1\",role=\"app\"} 0");
    assert_line(t, "convoy_agent_healthy{cluster=\"local\",node=\"primary\",role=\"primary\"} 1");
    assert_line(t, "convoy_fleet_view_age_seconds{cluster=\"local\",node=\"r2\"} 0.2");
    /* cache invalidations */
    assert_line(t,
                "convoy_cache_invalidations_total{migration=\"add_last_login\",kind=\"key\"} 12");
    assert_line(
        t, "convoy_cache_invalidations_confirmed_total{migration=\"add_last_login\",kind=\"key\"} "
           "10");
    assert_line(t,
                "convoy_cache_invalidations_pending{migration=\"add_last_login\",kind=\"key\"} 2");
    assert_line(
        t, "convoy_cache_invalidation_keys_total{migration=\"add_last_login\",kind=\"key\"} 1500");
    assert_line(t,
                "convoy_cache_keys_removed_total{migration=\"add_last_login\",kind=\"key\"} 1490");
    assert_line(
        t, "convoy_cache_invalidation_attempts_total{migration=\"add_last_login\",kind=\"key\"} "
           "11");
    free(t);
}

/* A stale view (no coordinator publishes it) says nothing about lag or liveness. */
static void
test_stale_fleet(void **state)
{
    metrics_node_t nodes[1] = {{"local", "r1", "replica", "ok", 50, 10, 42.0}};
    metrics_snapshot_t s = {0};
    char *t;

    (void)state;
    s.db_up = true;
    s.nodes = nodes;
    s.n_nodes = 1;
    s.fresh_s = 10;
    t = metrics_render(&s);
    check_structure(t);
    assert_int_equal(count_prefix(t, "convoy_replica_lag_seconds{"), 0);
    assert_int_equal(count_prefix(t, "convoy_agent_up{"), 0);
    assert_line(t, "convoy_fleet_view_age_seconds{cluster=\"local\",node=\"r1\"} 42");
    free(t);
}

/* Label values are escaped: backslash, double quote, newline. */
static void
test_escaping(void **state)
{
    metrics_migration_t m[1] = {
        {"we\"ird\\na\nme", "running", 1, 1, NULL, -1, -1, -1, false, 0, 0}};
    metrics_snapshot_t s = {0};
    char *t;

    (void)state;
    s.db_up = true;
    s.migrations = m;
    s.n_migrations = 1;
    t = metrics_render(&s);
    check_structure(t);
    assert_line(t, "convoy_migration_step{migration=\"we\\\"ird\\\\na\\nme\"} 1");
    free(t);
}

static void
test_hold_kinds(void **state)
{
    static const struct {
        const char *reason, *kind;
    } cases[] = {
        {NULL, "none"},
        {"", "none"},
        {"holding: replica r2 lag 3.4 s > 1.0 s", "replica_lag"},
        {"holding: replica r2 lag 3.4 s > 1.0 s (replay is paused there)", "replica_lag"},
        {"paused: paused by request (convoy resume m continues)", "operator_pause"},
        {"holding: agent r2 unknown: silent for 400 ms (> 3 x 100 ms)", "agent_unknown"},
        {"holding: agent r2 unknown: it has not connected", "agent_unknown"},
        {"holding: flag file /tmp/x exists (remove it to continue)", "pause_file"},
        {"holding: replica r1: its agent cannot query the database (boom)", "agent_db_error"},
        {"holding: cache agent cache cannot reach Redis (refused); invalidations wait",
         "cache_redis"},
        {"holding: replica r1 is not in recovery (promoted?)", "replica_promoted"},
        {"paused: app node web1 error rate 12.0/s > 1.0/s", "app_error_rate"},
        {"holding: waiting for replica r1 to replay step 2: at 0/1, needs 0/2", "replay"},
        {"holding: replica r1 has not replayed a heartbeat yet", "lag_unmeasured"},
        {"holding: asking replica r1 who reads public.users", "replica_readers"},
        {"holding: replica r1 has a 12 s query on public.users (pid 42)", "replica_readers"},
        {"holding: something new", "other"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(metrics_hold_kind(cases[i].reason), cases[i].kind);
}

static void
test_hist_observe(void **state)
{
    metrics_hist_t h = {0};

    (void)state;
    metrics_hist_observe(&h, -1);  /* not a duration */
    metrics_hist_observe(&h, NAN); /* not a number */
    assert_int_equal(h.count, 0);
    metrics_hist_observe(&h, 0);
    metrics_hist_observe(&h, 10);
    metrics_hist_observe(&h, 10.001);
    assert_int_equal(h.counts[0], 1);
    assert_int_equal(h.counts[METRICS_N_BUCKETS - 1], 1);
    assert_int_equal(h.counts[METRICS_N_BUCKETS], 1);
    assert_int_equal(h.count, 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_down),     cmocka_unit_test(test_full_snapshot),
        cmocka_unit_test(test_stale_fleet), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_hold_kinds),  cmocka_unit_test(test_hist_observe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
