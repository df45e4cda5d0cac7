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
#include "convoy/retry.h"

#include <jansson.h>
#include <stdio.h>

typedef enum {
    STEP_DDL,         /* short lock-taking statement: lock_timeout + retries */
    STEP_VALIDATE,    /* VALIDATE CONSTRAINT: SHARE UPDATE EXCLUSIVE, scans */
    STEP_PRECHECK,    /* read-only count + sample of rows that would break the next step */
    STEP_BACKFILL,    /* batched, checkpointed UPDATE */
    STEP_INDEX,       /* CREATE [UNIQUE] INDEX CONCURRENTLY */
    STEP_DROP_INDEX,  /* DROP INDEX CONCURRENTLY */
    STEP_PASSTHROUGH, /* harmless statement as written */
} step_kind_t;

const char *step_kind_name(step_kind_t kind);
/* False for an unknown name. */
bool step_kind_parse(const char *name, step_kind_t *out);

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
bool lock_mode_parse(const char *name, lock_mode_t *out);
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
    int64_t est_ms; /* -1 unknown */
    int phase;      /* ordering key */
    int line;       /* the statement of the file this step comes from (0: none) */
    int uid;        /* creation order inside the planner; links below are resolved from it */
    int stmt;       /* planner-internal: which action of the file made it (not stored) */

    /*
     * Undo: what removes this step's object when the migration stops short (fails or is
     * aborted), so the table accepts every write it accepted before. It runs through the
     * same lock_timeout + retry path as any step. Once step `final_step` (1-based) is done
     * the object is gone or permanent and nothing is undone. An undone step runs again on
     * resume, and so does every step that `requires` it.
     */
    char *undo_sql;
    int final_step; /* 0: undo applies until the migration is done */
    int requires;   /* 1-based step this one needs in place (0: none) */

    /* STEP_BACKFILL */
    char *table_sql;
    char *column_sql;
    char *expr_sql;
    char **key_cols; /* quoted key column names */
    char **key_types;
    size_t n_keys;
    char *set_sql;    /* a file's own UPDATE: its SET list (instead of column = expr) */
    char *where_sql;  /* ... and its WHERE, kept as a guard on every batch (NULL: none) */
    bool delete_rows; /* a file's own DELETE, batched the same way */
    bool catchup;     /* second pass: rewrite rows whose value differs from the expression */
    /* -- convoy:cache key: a text[] of each touched row's Redis keys, e.g.
     * ARRAY['user:' || (id)::text]; each batch puts them in the outbox (NULL: none) */
    char *cache_keys_sql;
    int fill_step; /* catch-up: the first pass, whose upper bound marks the existing rows */

    /* STEP_PRECHECK: count and sample queries, and what a counted row means */
    char *count_sql;
    char *sample_sql;
    char *check_desc; /* "have a NULL bio", "reference a missing row of p" */

    /* STEP_INDEX / STEP_DROP_INDEX (table_sql: the index's table when known) */
    char *index_schema; /* resolved schema, NULL offline */
    char *index_name;
    bool missing_ok; /* IF NOT EXISTS / IF EXISTS as the file wrote it */
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
    /* Execution settings, decided once here and stored with the plan. */
    int64_t lock_timeout_ms;
    int64_t batch_target_ms;
    int64_t statement_timeout_ms;
    /* sessions that run a backfill pass's batches side by side on disjoint key (or block)
     * ranges; 1: one session, batch after batch (docs/backfill.md) */
    int backfill_workers;
    retry_policy_t retry;
    char *search_path; /* the file's SET search_path, applied to every step; NULL: default */
    /* -- convoy:cache bump / purge: done once the migration completes */
    char **cache_bump;
    size_t n_cache_bump;
    char **cache_purge;
    size_t n_cache_purge;
    /* The deploy gates (docs/gates.md): the app version this migration is for; the time every
     * app node must have reported it before the contract gate opens; and, for a contract
     * file, the migration whose contract gate it waits for (NULL: none). */
    char *app_version;
    int64_t contract_hold_ms;
    char *contract_of;
    /* The maintenance window (docs/rehearse.md): -- convoy:window's spec (NULL: none), the
     * risk score from which it applies, and a rehearsal's measured score (-1: none). */
    char *window;
    int risk_threshold;
    int risk_measured;
} plan_t;

#define PLAN_DEFAULT_LOCK_TIMEOUT_MS      50
#define PLAN_DEFAULT_BATCH_TARGET_MS      200
#define PLAN_DEFAULT_STATEMENT_TIMEOUT_MS 15000
#define PLAN_DEFAULT_CONTRACT_HOLD_MS     60000
#define PLAN_DEFAULT_RISK_THRESHOLD       50

/* Builds the plan. Never fails: problems land in refusals/errors. Caller frees. */
void plan_build(const migration_t *m, const facts_t *facts, plan_t *out);
void plan_free(plan_t *p);

/* Human-readable plan on `out`. */
void plan_print(const plan_t *p, FILE *out);
/* The plan as JSON; caller decrefs. */
json_t *plan_to_json(const plan_t *p);

/*
 * Full step encoding for durable state: a resumed migration runs the steps it
 * planned at the start, not a re-plan against an already changed catalog. Versioned,
 * and enums are stored by name, so a newer convoy reads what an older one stored.
 */
#define PLAN_CODEC_VERSION 2
json_t *plan_step_encode(const step_t *s);
/* Decodes into *out (zeroed first). False (with *err set) on a malformed object. */
bool plan_step_decode(const json_t *o, step_t *out, const char **err);
/* The execution settings (timeouts, batch target, retry policy). */
json_t *plan_settings_encode(const plan_t *p);
bool plan_settings_decode(const json_t *o, plan_t *p, const char **err);
void plan_step_free(step_t *s);

#endif
