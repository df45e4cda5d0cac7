/* test_cluster_config.c: the cluster config: good files load; bad ones report every error at
 * FILE:LINE with the fix, all at once. */
#include "convoy/cluster.h"

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

#define KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static char *
write_tmp(const char *text)
{
    char *path = strdup("/tmp/convoy-cluster-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

typedef struct {
    const char *name;
    const char *text;
    const char *errors[6]; /* each must appear, with ":LINE: " in front; NULL-terminated */
    int n_lines;           /* how many error lines in all (0: the file loads) */
} ccase_t;

static const ccase_t cases[] = {
    {"good",
     "[cluster]\nname = prod\nbind = tcp://127.0.0.1:7400\nkey_file = k/c.key\nheartbeat = "
     "50ms\nmax_lag = 2s\n\n[node pg1]\nrole = primary\nconninfo = host=/tmp port=1\nagent_key "
     "= " KEY "\n[node pg2]\nrole = replica\nconninfo = host=/tmp port=2\nagent_key = " KEY "\n",
     {NULL},
     0},
    {"insecure needs no keys",
     "[cluster]\nbind = tcp://127.0.0.1:7400\ninsecure = true\n[node p]\nrole = "
     "primary\nconninfo = x\n",
     {NULL},
     0},
    {"health keys",
     "[cluster]\nbind = tcp://127.0.0.1:7400\ninsecure = true\nrollback_rate_limit = 200\n"
     "deadlock_rate_limit = off\nhealth_action = abort\n[node p]\nrole = primary\nconninfo = x\n",
     {NULL},
     0},
    {"bad health keys",
     "[cluster]\nbind = tcp://127.0.0.1:7400\ninsecure = true\nrollback_rate_limit = lots\n"
     "health_action = panic\n[node p]\nrole = primary\nconninfo = x\n",
     {":4: rollback_rate_limit = lots: per second on the primary, e.g. 50 or 0, or off",
      ":5: health_action = panic: pause (wait for an operator, the default) or abort", NULL},
     2},
    {"everything wrong at once",
     "[cluster]\nheartbeat = soon\nmax_lag = -1s\ncolour = blue\n[node a]\nrole = leader\n"
     "[node b]\nconninfo = y\nagent_key = nope\n[nodes]\nx = 1\n",
     {":2: heartbeat = soon: not a duration", ":3: max_lag = -1s: not a duration",
      ":4: unknown key `colour` in [cluster]",
      ":6: role = leader: write primary, replica, cache or app",
      ":9: agent_key: `/tmp/nope` is neither", NULL},
     12},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ccase_t *c = &cases[i];
        char *path = write_tmp(c->text), *errors = NULL;
        cluster_t cl;
        bool ok = cluster_load(path, &cl, &errors);

        if (c->n_lines == 0) {
            if (!ok)
                fail_msg("%s: refused: %s", c->name, errors);
        } else {
            int lines = 1;
            if (ok)
                fail_msg("%s: accepted", c->name);
            for (const char *p = errors; *p; p++)
                lines += *p == '\n';
            for (int k = 0; c->errors[k]; k++) {
                size_t len = strlen(path) + strlen(c->errors[k]) + 1;
                char *want = malloc(len);
                assert_non_null(want);
                assert_int_equal(snprintf(want, len, "%s%s", path, c->errors[k]), (int)len - 1);
                if (strstr(errors, want) == NULL)
                    fail_msg("%s: missing `%s` in:\n%s", c->name, want, errors);
                free(want);
            }
            if (lines != c->n_lines)
                fail_msg("%s: %d error lines, want %d:\n%s", c->name, lines, c->n_lines, errors);
        }
        free(errors);
        cluster_free(&cl);
        unlink(path);
        free(path);
    }
}

static void
test_good_values(void **state)
{
    char *path = write_tmp(cases[0].text), *errors = NULL;
    cluster_t cl;
    (void)state;
    assert_true(cluster_load(path, &cl, &errors));
    assert_string_equal(cl.name, "prod");
    assert_int_equal(cl.heartbeat_ms, 50);
    assert_int_equal(cl.max_lag_ms, 2000);
    assert_int_equal(cl.replay_timeout_ms, 60000); /* the default */
    assert_int_equal(cl.n_nodes, 2);
    assert_string_equal(cluster_primary(&cl)->name, "pg1");
    assert_true(cl.nodes[1].replica);
    assert_string_equal(cl.nodes[1].key, KEY);
    {
        char *k = cluster_path(&cl, cl.key_file);
        assert_string_equal(k, "/tmp/k/c.key"); /* relative to the config's directory */
        free(k);
    }
    cluster_free(&cl);
    unlink(path);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_good_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
