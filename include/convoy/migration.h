/*
 * migration.h: a migration file turned into actions.
 *
 * The parser (plan/migfile.c) reads the file, its `-- convoy:` directives and its SQL
 * (through libpg_query) and produces one action per schema change. Every SQL
 * fragment in an action was produced by libpg_query's deparser, so it is
 * parse-validated: user text never reaches the database verbatim except for
 * passthrough statements, which are parsed whole first.
 */
#ifndef CONVOY_MIGRATION_H
#define CONVOY_MIGRATION_H

#include "convoy/quote.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* -- convoy:backfill-workers: at most this many sessions fill one pass side by side */
#define MIGRATION_MAX_BACKFILL_WORKERS 8

typedef enum {
    ACT_ADD_COLUMN,
    ACT_ADD_CHECK,
    ACT_ADD_FK,
    ACT_ADD_UNIQUE,   /* UNIQUE or PRIMARY KEY constraint (see is_primary) */
    ACT_ATTACH_INDEX, /* ADD CONSTRAINT ... USING INDEX */
    ACT_VALIDATE,     /* ALTER TABLE ... VALIDATE CONSTRAINT */
    ACT_SET_DEFAULT,  /* SET DEFAULT / DROP DEFAULT */
    ACT_SET_NOT_NULL,
    ACT_DROP_NOT_NULL,
    ACT_ALTER_TYPE,
    ACT_CREATE_INDEX,
    ACT_DROP_INDEX,
    ACT_PASSTHROUGH,     /* harmless statement run as written */
    ACT_IGNORE,          /* BEGIN/COMMIT/SET: convoy manages transactions itself */
    ACT_REFUSE,          /* cannot be made safe: reason + alternative */
    ACT_SET_HONOURED,    /* SET lock_timeout/statement_timeout taken as the directive */
    ACT_DROP_CONSTRAINT, /* relaxes a rule: CHECK, FK or one this file adds */
    ACT_UPDATE,          /* UPDATE/DELETE: small ones run as written, large UPDATEs batched */
    ACT_CONTRACT,        /* DROP COLUMN/TABLE, RENAME: runs only with -- convoy:contract */
} action_kind_t;

const char *action_kind_name(action_kind_t kind);

typedef struct {
    action_kind_t kind;
    int line; /* 1-based position of the statement in the file */
    int line_col;
    char *stmt_sql; /* the original statement text */

    qname_t table;
    bool table_is_new;     /* created earlier in this file: it is empty */
    bool table_missing_ok; /* ALTER TABLE IF EXISTS: skip when the table does not exist */

    /* ADD COLUMN, SET DEFAULT, SET/DROP NOT NULL, ALTER TYPE */
    char *column;
    char *type_sql;    /* deparsed type, e.g. "timestamptz(6)" */
    char *using_sql;   /* ALTER COLUMN TYPE ... USING expr, or NULL */
    char *collate_sql; /* " COLLATE ..." or NULL */
    char *default_sql; /* deparsed DEFAULT expression, or NULL */
    bool not_null;
    bool default_volatile_hint;  /* calls a function known to be volatile */
    bool default_calls_function; /* any function call: maybe only stable, like now() */
    bool if_not_exists;
    bool is_serial; /* serial types, identity, generated, ... */

    /* constraints */
    char *constraint_name; /* as given, or generated the way PostgreSQL would */
    bool name_given;
    char *constraint_sql; /* "CHECK (x > 0)", "FOREIGN KEY (a) REFERENCES p (id)" */
    bool not_valid;       /* the user already wrote NOT VALID */
    bool deferrable;      /* DEFERRABLE [INITIALLY DEFERRED], carried to USING INDEX */
    bool initdeferred;
    bool is_primary;
    char **cols;
    size_t n_cols;
    qname_t ref_table;
    char **ref_cols;
    size_t n_ref_cols;

    /* indexes */
    char *index_name;
    char *index_sql;       /* deparsed CREATE/DROP INDEX CONCURRENTLY; CREATE INDEX holds
                              MIGRATION_INDEX_NAME_SLOT where the (quoted) name goes */
    bool index_name_given; /* false: PostgreSQL's naming, finished by the planner */
    char **name_parts;     /* the columns an unnamed index/constraint is named after */
    char *name_label;      /* an unnamed constraint's label: check, fkey, key, pkey */
    size_t n_name_parts;
    char *index_only_sql; /* CREATE INDEX <name slot> ON ONLY <table> ... (partitioned) */
    char *index_part_sql; /* CREATE INDEX CONCURRENTLY <name slot> ON <table slot> ... */
    bool missing_ok;      /* IF [NOT] EXISTS as written */
    bool unique;

    /* ACT_PASSTHROUGH: how the statement runs */
    int lock;        /* lock_mode_t it takes on `table` (-1: ACCESS EXCLUSIVE when a table) */
    bool concurrent; /* cannot run in a transaction block (REINDEX CONCURRENTLY, VACUUM) */
    bool scans;      /* reads the table (ANALYZE): no statement_timeout */
    bool only_index; /* CREATE INDEX ... ON ONLY: only safe on a partitioned table */
    bool replay;     /* creates an object later statements may use (type, extension, ...):
                        the catalog probes run it first, in their rolled-back transaction */

    /* ACT_UPDATE */
    char *set_sql;   /* "a = expr, b = expr" (NULL for DELETE) */
    char *where_sql; /* the WHERE clause, or NULL */
    bool is_delete;
    bool batchable;  /* plain SET col = expr, no FROM, no RETURNING, no subquery target */
    char **where_eq; /* columns the WHERE pins to constants (col = c, col IN (...)) */
    size_t n_where_eq;

    /* ACT_CONTRACT of RENAME COLUMN: column is the old name, rename_to the new one */
    char *rename_to;

    /* refusals and notes */
    char *reason;
    char *fix;
} action_t;

/* Where CREATE INDEX's name goes in index_sql (the deparser does not quote it). */
#define MIGRATION_INDEX_NAME_SLOT  "convoy_index_name_slot_7f3a"
#define MIGRATION_INDEX_TABLE_SLOT "convoy_index_table_slot_7f3a"

typedef struct {
    char *table; /* optional "table." prefix */
    char *column;
    char *expr_sql;     /* deparsed expression */
    bool reads_columns; /* the expression references columns of the row */
    int line;
} backfill_directive_t;

/* -- convoy:cache: what a migration makes stale in Redis (docs/fleet.md). */
typedef enum { CACHE_KEY, CACHE_BUMP, CACHE_PURGE } cache_kind_t;

typedef struct {
    cache_kind_t kind;
    char *arg; /* key: the template ("user:{id}"); bump: the key; purge: the pattern */
    int line;
} cache_rule_t;

const char *cache_kind_name(cache_kind_t k);

/* -- convoy:allow RULE REASON: the next statement may break lint rule RULE (docs/lint.md). */
typedef struct {
    char *rule;   /* the rule id as written */
    char *reason; /* why, kept in the lint output */
    int line;
    int col; /* where the rule id starts */
} allow_directive_t;

typedef struct {
    char *path;
    char *name;
    char *text;
    char checksum[65];

    int64_t lock_timeout_ms;      /* 0: default */
    bool contract;                /* -- convoy:contract: DROP COLUMN / RENAME are intended */
    char *contract_of;            /* -- convoy:contract EXPAND: waits for EXPAND's contract gate */
    char *app_version;            /* -- convoy:app-version V: the app version this is for */
    int64_t contract_hold_ms;     /* -- convoy:contract-hold: -1 unset (default) */
    bool index_foreign_keys;      /* -- convoy:index-foreign-keys: index new FK columns */
    bool expand;                  /* -- convoy:expand: RENAME COLUMN as expand/contract */
    char *search_path;            /* SET search_path in the file: "'a', 'b'", or NULL */
    int64_t batch_target_ms;      /* 0: default */
    int backfill_workers;         /* -- convoy:backfill-workers N; 0: default (1) */
    int64_t statement_timeout_ms; /* 0: default */
    char *window;       /* -- convoy:window "Sat 02:00-04:00 UTC" (the spec, unquoted), or NULL */
    int risk_threshold; /* -- convoy:risk-threshold N (0..100); -1: default */
    int risk_measured;  /* -- convoy:risk N: a rehearsal's measured score; -1: none */

    backfill_directive_t *backfills;
    size_t n_backfills;
    cache_rule_t *cache_rules;
    size_t n_cache_rules;
    action_t *actions;
    size_t n_actions;
    allow_directive_t *allows; /* in file order */
    size_t n_allows;
} migration_t;

/* A parse error, pointing into the file. */
typedef struct {
    int line;
    int column;
    char message[512];
} parse_error_t;

/*
 * Parses a migration from text. `path` is used for the default name and in
 * messages. Returns false and fills err on the first error. On success the
 * caller owns *out and frees it with migration_free.
 */
bool migration_parse(const char *path, const char *text, migration_t *out, parse_error_t *err);
/* Reads `path` and parses it. */
bool migration_load(const char *path, migration_t *out, parse_error_t *err);
void migration_free(migration_t *m);

/* The DEFAULT the file leaves on the column action i adds: its own, or a later SET/DROP DEFAULT
 * of it (NULL: none). Pure; the schema matches when either side leaves it out. */
const char *migration_final_default(const migration_t *m, size_t i);
/*
 * What the file leaves of the column action i adds: COLUMN_NOT_NULL (its own NOT NULL or a
 * later SET NOT NULL), COLUMN_NULLABLE (a later DROP NOT NULL), else COLUMN_NULL_ANY (added
 * nullable: a primary key added later may still make it NOT NULL, as psql would).
 */
typedef enum { COLUMN_NULL_ANY, COLUMN_NOT_NULL, COLUMN_NULLABLE } column_null_t;
column_null_t migration_final_nullability(const migration_t *m, size_t i);

/*
 * PostgreSQL's makeObjectName: table_col1_col2_suffix, shortened (on character
 * boundaries) to fit 63 bytes the way PostgreSQL shortens it. Caller frees.
 */
char *migration_object_name(const char *table, char **cols, size_t n_cols, const char *suffix);

/* PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1). */
#define IDENT_MAX_BYTES 63

/*
 * How many bytes of the UTF-8 string s fit in limit without cutting a character in two
 * (PostgreSQL's pg_mbcliplen): strlen(s) when it fits.
 */
size_t ident_clip_len(const char *s, size_t limit);

#endif
