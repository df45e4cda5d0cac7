/*
 * explain.h: the EXPLAIN review (docs/explain-review.md): the top statements of
 * pg_stat_statements that touch the tables a migration changes, planned before and after it.
 *
 * On PROD nothing is written: every session is read-only with a short statement_timeout, the
 * "after" comes from HypoPG's hypothetical indexes (session memory only) when the extension is
 * installed, and without it only the "before" plans are shown (a statement using an index the
 * migration drops is still flagged). On STAGING, during a rehearsal, the migration really runs:
 * explain_statements() before, explain_capture() before and after, explain_compare().
 */
#ifndef CONVOY_EXPLAIN_H
#define CONVOY_EXPLAIN_H

#include "convoy/migration.h"
#include "convoy/pg.h"
#include "convoy/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXPLAIN_DEFAULT_TOP                  10
#define EXPLAIN_DEFAULT_STATEMENT_TIMEOUT_MS 5000

typedef struct {
    int top;                      /* statements to EXPLAIN; 0: EXPLAIN_DEFAULT_TOP */
    double threshold_pct;         /* cost regression threshold; < 0: the default (20) */
    int64_t statement_timeout_ms; /* per statement convoy runs; 0: the default (5 s) */
    bool no_hypothetical;         /* never use HypoPG: only "before" plans */
} explain_opts_t;

/*
 * Makes pg's session read-only (default_transaction_read_only = on) with the short
 * statement_timeout, for everything that follows on it, catalog_fetch included. The CLI calls
 * it right after connecting to PROD. False with *err (caller frees) on failure.
 */
bool explain_session_read_only(pg_t *pg, const explain_opts_t *o, char **err);

/*
 * The whole review on one server without changing it: the top statements, their plans now,
 * the plans with the plan's CREATE INDEX steps as hypothetical indexes and its DROP INDEX
 * steps hidden (hypopg_hide_index, HypoPG >= 1.4), and the comparison. *out (caller decrefs)
 * is the report: mode ("hypothetical" or "before-only", with why), the statements with their
 * plans, changes and regressions, which statements each new index serves, and notes. Runs in
 * one READ ONLY transaction that is rolled back; hypothetical indexes and prepared statements
 * are removed before it returns. False with *err on a connection-level failure; a missing
 * pg_stat_statements is reported in *out (status "unavailable"), not as a failure.
 */
bool explain_review(pg_t *pg,
                    const migration_t *m,
                    const plan_t *plan,
                    const explain_opts_t *o,
                    json_t **out,
                    char **err);

/*
 * The parts, for a rehearsal on STAGING. explain_statements: the top statements touching the
 * migration's tables (JSON array of {queryid, query, calls, total_exec_ms, mean_exec_ms}; an
 * empty array, and *why set, when pg_stat_statements is missing; caller frees *why).
 */
bool explain_statements(pg_t *pg,
                        const migration_t *m,
                        const plan_t *plan,
                        const explain_opts_t *o,
                        json_t **stmts,
                        char **why,
                        char **err);
/* EXPLAIN (FORMAT JSON) of each statement as a generic plan: a JSON array parallel to stmts,
 * each a plan, or {"error": "..."} when that statement cannot be planned. */
bool
explain_capture(pg_t *pg, const json_t *stmts, const explain_opts_t *o, json_t **plans, char **err);
/*
 * The report from stmts and their before and after plans (after may be NULL: before only).
 * mode ("rehearsal" for a real after on STAGING) and why go into the report as they are.
 * drops_simulated: the after plans were made without the dropped indexes (true on STAGING
 * after the migration ran); otherwise a before plan using one is a regression by itself.
 * Pure; caller decrefs.
 */
json_t *explain_compare(const plan_t *plan,
                        const json_t *stmts,
                        const json_t *before,
                        const json_t *after,
                        const explain_opts_t *o,
                        const char *mode,
                        const char *why,
                        bool drops_simulated);

/* The report for people (text; also fits a Markdown code block). Caller frees. */
char *explain_report_text(const json_t *report);
/* True when the report flags a regression. */
bool explain_report_has_regression(const json_t *report);

#endif
