/* cmd_plan.c: `convoy plan FILE`: print the plan, for people or as JSON. */
#include "cli.h"
#include "convoy/catalog.h"
#include "convoy/hold.h"
#include "convoy/lint.h"
#include "convoy/log.h"
#include "convoy/plan.h"
#include "convoy/risk.h"
#include "convoy/util.h"
#include "convoy/window.h"

#include <stdio.h>
#include <stdlib.h>

/* The plan's risk (docs/rehearse.md) and, with -- convoy:window, whether it would start now. */
static json_t *
plan_risk(const plan_t *plan, const facts_t *facts, FILE *text)
{
    int64_t bytes = -1, rows = -1, now = hold_clock_now();
    json_t *j;
    window_t w;
    char err[512], at[64];
    risk_t r;

    for (size_t i = 0; i < facts->n_tables; i++) {
        if (facts->tables[i].bytes > bytes)
            bytes = facts->tables[i].bytes;
        if (facts->tables[i].rows > rows)
            rows = facts->tables[i].rows;
    }
    risk_assess(plan, bytes, rows, NULL, &r);
    j = risk_to_json(&r, plan->risk_threshold);
    if (text) {
        fprintf(text, "\nrisk: %d/100, %s (a window applies from %d)\n", r.score,
                risk_level(r.score, plan->risk_threshold), plan->risk_threshold);
        for (size_t i = 0; i < r.n_reasons; i++)
            fprintf(text, "  - %s\n", r.reasons[i]);
    }
    if (plan->window && window_parse(plan->window, &w, err, sizeof(err))) {
        bool open = window_contains(&w, now), applies = r.score >= plan->risk_threshold;
        int64_t next = window_next_open(&w, now);
        window_format_time(&w, next, at, sizeof(at));
        json_object_set_new(j, "window", json_string(plan->window));
        json_object_set_new(j, "window_open_now", json_boolean(open));
        json_object_set_new(j, "window_next_open", json_string(at));
        json_object_set_new(j, "starts_now", json_boolean(open || !applies));
        if (text)
            fprintf(text, "window \"%s\": %s\n", plan->window,
                    open      ? "open now: it would start now"
                    : applies ? "closed: it would hold until the window opens"
                              : "closed, but the risk is under the threshold: it would start now");
        if (text && !open)
            fprintf(text, "  the window next opens %s\n", at);
    }
    risk_free(&r);
    return j;
}

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
        json_object_set_new(j, "risk", plan_risk(&plan, &facts, NULL));
        cli_print_json(j);
    } else {
        plan_print(&plan, stdout);
        json_decref(plan_risk(&plan, &facts, stdout));
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
