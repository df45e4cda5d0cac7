/*
 * rehearse.h: `convoy rehearse`: the migration on STAGING at production's scale, measured.
 * Copies the schema of the tables the migration touches (and the tables they reference) from
 * PROD with pg_dump, fills them from PROD's statistics (datagen.h), runs synthetic traffic
 * (pgbench), optionally runs the file the way plain psql would (the baseline) on one copy,
 * then runs it through engine_apply on a fresh copy, sampling locks, waits, WAL, replica lag
 * and index builds all along. The result is one report (JSON, Markdown, HTML) with a risk
 * score (risk.h). PROD is only read. STAGING's copies of those tables and its convoy schema
 * are dropped and made again. docs/rehearse.md.
 */
#ifndef CONVOY_REHEARSE_H
#define CONVOY_REHEARSE_H

#include "convoy/engine.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    const char *prod;    /* conninfo of PROD (read only); NULL: PG* environment */
    const char *staging; /* conninfo of STAGING (its copies are replaced) */
    const char *file;
    const migration_t *m;
    const char *actor;
    double scale;        /* STAGING rows = PROD's reltuples x scale (default 1) */
    const char *traffic; /* a pgbench script of the user's, or NULL: convoy's default mix */
    bool baseline_psql;  /* also run the file with psql on a fresh copy, measured the same way */
    int clients;         /* pgbench clients (default 4) */
    int settle_ms;       /* traffic before and after the migration (default 2000) */
    const char *bindir;  /* pg_dump, psql and pgbench; NULL: $PATH */
} rehearse_req_t;

typedef struct {
    engine_result_t result; /* RES_DONE: the rehearsal ran (the migration's own outcome is in
                               the report); otherwise what stopped it */
    char *message;          /* for people when result != RES_DONE */
    json_t *report;         /* owned */
    char *markdown;         /* owned */
    char *html;             /* owned: self-contained, inline SVG, no external resource */
} rehearse_out_t;

void rehearse_run(const rehearse_req_t *req,
                  run_ctl_t *ctl,
                  const engine_events_t *ev,
                  rehearse_out_t *out);
void rehearse_out_free(rehearse_out_t *o);

/* The report's renderings (rehearse_report.c), from its JSON. Caller frees. */
char *rehearse_markdown(const json_t *report);
char *rehearse_html(const json_t *report);

#endif
