/*
 * plan.h: the ordered, explained steps that make a migration safe.
 *
 * plan_build is a pure function of (migration, facts). Every step says what it
 * runs, which locks it takes on which tables, whether it rewrites or scans, whether
 * it can run in a transaction, and roughly how long it takes on this table.
 */
#ifndef CONVOY_PLAN_H
#define CONVOY_PLAN_H

#include "convoy/facts.h"
#include "convoy/migration.h"

#include <jansson.h>
#include <stdio.h>

typedef enum {
    STEP_DDL,          /* short lock-taking statement: lock_timeout + retries */
    STEP_VALIDATE,     /* VALIDATE CONSTRAINT: SHARE UPDATE EXCLUSIVE, scans */
    STEP_ORPHAN_CHECK, /* read-only FK pre-check */
    STEP_BACKFILL,     /* batched, checkpointed UPDATE */
    STEP_INDEX,        /* CREATE [UNIQUE] INDEX CONCURRENTLY */
    STEP_DROP_INDEX,   /* DROP INDEX CONCURRENTLY */
    STEP_PASSTHROUGH,  /* harmless statement as written */
} step_kind_t;

const char *step_kind_name(step_kind_t kind);

typedef enum {
    LOCK_ACCESS_SHARE,
    LOCK_ROW_SHARE,
    LOCK_ROW_EXCLUSIVE,
    LOCK_SHARE_UPDATE_EXCLUSIVE,
    LOCK_SHARE,
    LOCK_SHARE_ROW_EXCLUSIVE,
    LOCK_EXCLUSIVE,
    LOCK_ACCESS_EXCLUSIVE,
} lock_mode_t;

const char *lock_mode_name(lock_mode_t mode);
/* True when the mode blocks ordinary writes (or reads). */
bool lock_mode_blocks_writes(lock_mode_t mode);

#define PLAN_MAX_LOCKS 3

typedef struct {
    char *table; /* qualified, quoted SQL name */
    lock_mode_t mode;
} step_lock_t;

typedef struct {
    step_kind_t kind;
    char *sql;     /* what runs (for a backfill: one representative batch) */
    char *summary; /* one line for people */
    step_lock_t locks[PLAN_MAX_LOCKS];
    int n_locks;
    bool rewrites;
    bool scans;
    bool transactional;
    int64_t est_ms;       /* -1 unknown */
    int phase;            /* ordering key */
    bool undone_by_abort; /* abort removes what this step made: run it again on resume */

    /* STEP_BACKFILL */
    char *table_sql;
    char *column_sql;
    char *expr_sql;
    char **key_cols; /* quoted key column names */
    char **key_types;
    size_t n_keys;

    /* STEP_ORPHAN_CHECK: count and sample queries */
    char *count_sql;
    char *sample_sql;

    /* STEP_INDEX / STEP_DROP_INDEX */
    char *index_schema; /* resolved schema, NULL offline */
    char *index_name;
} step_t;

typedef struct {
    int line;
    char *message;
    char *fix;
} plan_note_t;

typedef struct {
    char *name;
    step_t *steps;
    size_t n_steps;
    plan_note_t *warnings;
    size_t n_warnings;
    plan_note_t *refusals; /* non-empty: the plan must not run */
    size_t n_refusals;
    plan_note_t *errors; /* bad input: unknown table/column, server-rejected SQL */
    size_t n_errors;
    char **assumptions;
    size_t n_assumptions;
    bool live;
    char *server_desc;
    int64_t lock_timeout_ms;
    int64_t batch_target_ms;
    int64_t statement_timeout_ms;
} plan_t;

#define PLAN_DEFAULT_LOCK_TIMEOUT_MS      50
#define PLAN_DEFAULT_BATCH_TARGET_MS      200
#define PLAN_DEFAULT_STATEMENT_TIMEOUT_MS 15000

/* Builds the plan. Never fails: problems land in refusals/errors. Caller frees. */
void plan_build(const migration_t *m, const facts_t *facts, plan_t *out);
void plan_free(plan_t *p);

/* Human-readable plan on `out`. */
void plan_print(const plan_t *p, FILE *out);
/* The plan as JSON; caller decrefs. */
json_t *plan_to_json(const plan_t *p);

/*
 * Full step encoding for durable state: a resumed migration runs the steps it
 * planned at the start, not a re-plan against an already changed catalog.
 */
json_t *plan_step_encode(const step_t *s);
/* Decodes into *out (zeroed first). False on a malformed object. */
bool plan_step_decode(const json_t *o, step_t *out);
void plan_step_free(step_t *s);

#endif
