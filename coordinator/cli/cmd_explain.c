/* cmd_explain.c: `convoy explain-review FILE`: the EXPLAIN review, for people or as JSON. */
#include "cli.h"
#include "convoy/catalog.h"
#include "convoy/explain.h"
#include "convoy/log.h"
#include "convoy/plan.h"

#include <stdio.h>
#include <stdlib.h>

int
cmd_explain(const cli_opts_t *o)
{
    migration_t m;
    facts_t facts = {0};
    plan_t plan = {0};
    explain_opts_t eo = {o->top, o->has_threshold ? o->threshold_pct : -1, 0, false};
    pg_t *pg = NULL;
    json_t *rep = NULL;
    char *err = NULL;
    int rc = EXIT_ERROR;
    bool planned = false;

    if (!cli_load_migration(o->file, &m, NULL))
        return EXIT_ERROR;
    if ((pg = cli_connect(o)) == NULL)
        goto done;
    /* read-only before anything runs, the catalog's probes included */
    if (!explain_session_read_only(pg, &eo, &err) || !catalog_fetch(pg, &m, &facts, &err)) {
        fprintf(stderr, "convoy: %s\n", err);
        goto done;
    }
    plan_build(&m, &facts, &plan);
    planned = true;
    /* a read-only session cannot run the probes that need a temporary table: those errors
     * are the plan's, not this review's (`convoy plan` shows them) */
    log_debug("plan: %zu steps, %zu errors, %zu refusals", plan.n_steps, plan.n_errors,
              plan.n_refusals);
    if (!explain_review(pg, &m, &plan, &eo, &rep, &err)) {
        fprintf(stderr, "convoy: %s\n", err);
        goto done;
    }
    rc = explain_report_has_regression(rep) ? EXIT_EXPLAIN_REGRESSION : EXIT_OK;
    if (o->json) {
        cli_print_json(rep);
        rep = NULL;
    } else {
        char *text = explain_report_text(rep);
        fputs(text, stdout);
        free(text);
    }
done:
    json_decref(rep);
    free(err);
    if (planned)
        plan_free(&plan);
    facts_free(&facts);
    pg_close(&pg);
    migration_free(&m);
    return rc;
}
