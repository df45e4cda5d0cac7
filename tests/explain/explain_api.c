/*
 * explain_api.c: the rehearsal's path through the EXPLAIN review API (include/convoy/explain.h),
 * driven by test_explain_review.sh: the top statements from PROD's pg_stat_statements, their
 * plans on STAGING before, the migration's DROP INDEX really run on STAGING, the plans after,
 * and explain_compare() with a real "after". Prints the report as JSON on stdout.
 *
 * usage: explain_api PROD_CONNINFO STAGING_CONNINFO MIGRATION_FILE
 */
#include "convoy/catalog.h"
#include "convoy/explain.h"
#include "convoy/plan.h"

#include <stdio.h>
#include <stdlib.h>

static int
die(const char *what, char *err)
{
    fprintf(stderr, "explain_api: %s: %s\n", what, err ? err : "?");
    free(err);
    return 1;
}

int
main(int argc, char **argv)
{
    migration_t m;
    parse_error_t pe;
    facts_t facts = {0};
    plan_t plan;
    explain_opts_t o = {10, -1, 0, false};
    pg_t *prod, *staging;
    json_t *stmts = NULL, *before = NULL, *after = NULL, *rep;
    char *err = NULL, *why = NULL;

    if (argc != 4) {
        fprintf(stderr, "usage: explain_api PROD STAGING FILE\n");
        return 2;
    }
    if (!migration_load(argv[3], &m, &pe)) {
        fprintf(stderr, "explain_api: %s:%d: %s\n", argv[3], pe.line, pe.message);
        return 1;
    }
    if ((prod = pg_connect(argv[1], &err)) == NULL)
        return die("PROD", err);
    if ((staging = pg_connect(argv[2], &err)) == NULL)
        return die("STAGING", err);
    if (!explain_session_read_only(prod, &o, &err) || !catalog_fetch(prod, &m, &facts, &err))
        return die("PROD catalog", err);
    plan_build(&m, &facts, &plan);
    if (!explain_statements(prod, &m, &plan, &o, &stmts, &why, &err))
        return die("statements", err);
    if (why != NULL)
        return die("no statements", why);
    if (!explain_capture(staging, stmts, &o, &before, &err))
        return die("before", err);
    /* the rehearsal runs the migration on STAGING; here, its one step as planned */
    for (size_t i = 0; i < plan.n_steps; i++)
        if (pg_exec(staging, plan.steps[i].sql) != PG_OK)
            return die("the step on STAGING", NULL);
    if (!explain_capture(staging, stmts, &o, &after, &err))
        return die("after", err);
    rep = explain_compare(&plan, stmts, before, after, &o, "rehearsal", NULL, true);
    {
        char *text = explain_report_text(rep);
        fputs(text, stderr);
        free(text);
    }
    {
        char *s = json_dumps(rep, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(rep);
    json_decref(stmts);
    json_decref(before);
    json_decref(after);
    plan_free(&plan);
    facts_free(&facts);
    pg_close(&prod);
    pg_close(&staging);
    migration_free(&m);
    return 0;
}
