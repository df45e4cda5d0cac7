/* cmd_plan.c: `convoy plan FILE`: print the plan, for people or as JSON. */
#include "cli.h"
#include "convoy/catalog.h"
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

    if (!cli_load_migration(o->file, &m, NULL))
        return EXIT_ERROR;
    if (!o->offline &&
        (o->db != NULL || getenv("PGHOST") || getenv("PGDATABASE") || getenv("PGSERVICE"))) {
        pg = cli_connect(o);
        if (pg == NULL) {
            migration_free(&m);
            return EXIT_ERROR;
        }
        if (!catalog_fetch(pg, &m, &facts, &err)) {
            fprintf(stderr, "convoy: %s\n", err);
            free(err);
            pg_close(&pg);
            migration_free(&m);
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
    if (o->json)
        cli_print_json(plan_to_json(&plan));
    else
        plan_print(&plan, stdout);
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
