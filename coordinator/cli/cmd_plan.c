/* cmd_plan.c: `convoy plan FILE`: print the plan, for people or as JSON. */
#include "cli.h"
#include "convoy/catalog.h"
#include "convoy/lint.h"
#include "convoy/log.h"
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>

int
cmd_plan(const cli_opts_t *o)
{
    migration_t m;
    facts_t facts = {0};
    plan_t plan;
    pg_t *pg = NULL;
    char *err = NULL;
    int rc = EXIT_OK;
    lint_config_t lint_cfg;
    lint_result_t lint;

    if (!cli_lint_config(o, &lint_cfg)) {
        lint_config_free(&lint_cfg);
        return EXIT_ERROR;
    }
    if (!cli_load_migration(o->file, &m, NULL)) {
        lint_config_free(&lint_cfg);
        return EXIT_ERROR;
    }
    if (!o->offline &&
        (o->db != NULL || getenv("PGHOST") || getenv("PGDATABASE") || getenv("PGSERVICE"))) {
        pg = cli_connect(o);
        if (pg == NULL) {
            migration_free(&m);
            lint_config_free(&lint_cfg);
            return EXIT_ERROR;
        }
        if (!catalog_fetch(pg, &m, &facts, &err)) {
            fprintf(stderr, "convoy: %s\n", err);
            free(err);
            pg_close(&pg);
            migration_free(&m);
            lint_config_free(&lint_cfg);
            return EXIT_ERROR;
        }
    }
    if (pg != NULL)
        log_debug("catalog: %s; %zu tables, %zu default probes, %zu type probes",
                  facts.server_desc ? facts.server_desc : "?", facts.n_tables, facts.n_defaults,
                  facts.n_types);
    else
        log_debug("planning offline on stated assumptions");
    plan_build(&m, &facts, &plan);
    log_debug("plan: %zu steps, %zu warnings, %zu refusals, %zu errors", plan.n_steps,
              plan.n_warnings, plan.n_refusals, plan.n_errors);
    /* the lint findings (docs/lint.md) go with the plan; they do not change its exit code */
    lint_run(&m, &facts, &lint_cfg, &lint);
    if (o->json) {
        json_t *j = plan_to_json(&plan);
        json_object_set_new(j, "findings", lint_findings_json(&lint));
        cli_print_json(j);
    } else {
        plan_print(&plan, stdout);
        lint_print_findings(&lint, stdout, "  ");
    }
    lint_result_free(&lint);
    lint_config_free(&lint_cfg);
    if (plan.n_errors > 0)
        rc = EXIT_ERROR;
    else if (plan.n_refusals > 0)
        rc = EXIT_REFUSED;
    plan_free(&plan);
    facts_free(&facts);
    pg_close(&pg);
    migration_free(&m);
    return rc;
}
