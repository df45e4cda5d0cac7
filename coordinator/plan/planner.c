/*
 * planner.c: migration actions + catalog facts -> ordered, explained steps.
 *
 * Pure: no I/O. Every rule is documented in docs/planner.md and covered by the
 * table-driven tests in tests/unit/test_planner.c.
 */
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Throughput assumptions behind the estimates (documented in docs/planner.md). */
#define BACKFILL_ROWS_PER_S 60000.0
#define SCAN_BYTES_PER_S    (150.0 * 1024 * 1024)
#define INDEX_BYTES_PER_S   (40.0 * 1024 * 1024)

enum {
    PHASE_EXPAND = 1,   /* metadata-only DDL and passthrough, in file order */
    PHASE_BACKFILL = 2, /* batched first passes, no trigger in the way */
    PHASE_SYNC = 3,     /* sync triggers for writers that do not set the column */
    PHASE_CATCHUP = 4,  /* read-mostly second passes: rows changed before the trigger */
    PHASE_NOT_NULL = 5, /* pre-check -> CHECK NOT VALID -> VALIDATE -> SET NOT NULL -> drop */
    PHASE_CONSTRAINT = 6,
    PHASE_INDEX = 7,
    PHASE_CLEANUP = 8,
};

typedef struct {
    const migration_t *m;
    const facts_t *f;
    plan_t *p;
    int next_uid;
    int line;         /* of the action being planned */
    int stmt;         /* its index in the file */
    char **con_names; /* per action: the constraint's final name (PostgreSQL's choice) */
} ctx_t;

static const char *const step_kind_names[] = {"ddl",   "validate",   "precheck",   "backfill",
                                              "index", "drop_index", "passthrough"};
static const char *const lock_mode_names[] = {
    "ACCESS SHARE", "ROW SHARE",           "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE",        "SHARE ROW EXCLUSIVE", "EXCLUSIVE",     "ACCESS EXCLUSIVE"};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool
name_index(const char *const *names, size_t n, const char *name, int *out)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (int)i;
            return true;
        }
    }
    return false;
}

const char *
step_kind_name(step_kind_t kind)
{
    return (size_t)kind < N_OF(step_kind_names) ? step_kind_names[kind] : "unknown";
}

bool
step_kind_parse(const char *name, step_kind_t *out)
{
    int i;
    if (!name_index(step_kind_names, N_OF(step_kind_names), name, &i))
        return false;
    *out = (step_kind_t)i;
    return true;
}

const char *
lock_mode_name(lock_mode_t mode)
{
    return (size_t)mode < N_OF(lock_mode_names) ? lock_mode_names[mode] : "unknown";
}

bool
lock_mode_parse(const char *name, lock_mode_t *out)
{
    int i;
    if (!name_index(lock_mode_names, N_OF(lock_mode_names), name, &i))
        return false;
    *out = (lock_mode_t)i;
    return true;
}

bool
lock_mode_blocks_writes(lock_mode_t mode)
{
    return mode >= LOCK_SHARE;
}

static void
note_add(plan_note_t **v, size_t *n, int line, char *message, char *fix)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(plan_note_t));
    (*v)[*n].line = line;
    (*v)[*n].message = message;
    (*v)[*n].fix = fix;
    (*n)++;
}

#define WARN(c, line, fix, ...)                                                                    \
    note_add(&(c)->p->warnings, &(c)->p->n_warnings, line, xasprintf(__VA_ARGS__), fix)
#define REFUSE(c, line, fix, ...)                                                                  \
    note_add(&(c)->p->refusals, &(c)->p->n_refusals, line, xasprintf(__VA_ARGS__), fix)
#define ERROR(c, line, fix, ...)                                                                   \
    note_add(&(c)->p->errors, &(c)->p->n_errors, line, xasprintf(__VA_ARGS__), fix)

static step_t *
step_add(ctx_t *c, step_kind_t kind, int phase, char *sql, char *summary)
{
    step_t *s;

    c->p->steps = xrealloc(c->p->steps, (c->p->n_steps + 1) * sizeof(step_t));
    s = &c->p->steps[c->p->n_steps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->phase = phase;
    s->uid = ++c->next_uid;
    s->line = c->line;
    s->stmt = c->stmt;
    s->sql = sql;
    s->summary = summary;
    s->transactional = kind != STEP_INDEX && kind != STEP_DROP_INDEX;
    s->est_ms = -1;
    return s;
}

static const char *con_name(ctx_t *c, const action_t *a);

/* The step created with this uid (valid until the steps are sorted). */
static step_t *
step_at(ctx_t *c, int uid)
{
    return &c->p->steps[uid - 1];
}

static void
step_lock(step_t *s, const char *table, lock_mode_t mode)
{
    if (s->n_locks >= PLAN_MAX_LOCKS)
        return;
    s->locks[s->n_locks].table = xstrdup(table);
    s->locks[s->n_locks].mode = mode;
    s->n_locks++;
}

static const table_fact_t *
table_of(ctx_t *c, const qname_t *q)
{
    return facts_table(c->f, q->schema, q->name);
}

/* The SQL name for a table: schema-qualified when the catalog resolved it. */
static char *
table_sql(ctx_t *c, const qname_t *q)
{
    const table_fact_t *t = table_of(c, q);
    qname_t resolved;

    if (t && t->exists) {
        resolved.schema = t->schema;
        resolved.name = t->name;
        return qname_sql(&resolved);
    }
    return qname_sql(q);
}

static int64_t
est_scan(const table_fact_t *t, double rate)
{
    if (t == NULL || !t->exists || t->bytes < 0)
        return -1;
    return (int64_t)((double)t->bytes / rate * 1000.0) + 1;
}

/* Was this column added by an earlier action of this migration? */
static const action_t *
added_column(ctx_t *c, const qname_t *table, const char *column)
{
    for (size_t i = 0; i < c->m->n_actions; i++) {
        const action_t *a = &c->m->actions[i];
        if (a->kind == ACT_ADD_COLUMN && strcmp(a->column, column) == 0 &&
            strcmp(a->table.name, table->name) == 0)
            return a;
    }
    return NULL;
}

static bool
column_known(ctx_t *c, const action_t *a, const qname_t *table, const char *column)
{
    const table_fact_t *t = table_of(c, table);

    if (!c->f->live || added_column(c, table, column))
        return true;
    if (t == NULL || !t->exists)
        return true; /* reported as an unknown table already */
    if (facts_column(t, column))
        return true;
    ERROR(c, a->line, xstrdup("check the column name (identifiers are case-folded unless quoted)"),
          "unknown column \"%s\" in table %s", column, t->name);
    return false;
}

static bool
table_known(ctx_t *c, const action_t *a, const qname_t *q)
{
    const table_fact_t *t;

    if (!c->f->live)
        return true;
    t = table_of(c, q);
    if (t && t->exists)
        return true;
    if (a->table_missing_ok) {
        char *name = qname_sql(q);
        WARN(c, a->line, NULL, "relation %s does not exist: skipped (IF EXISTS)", name);
        free(name);
        return false;
    }
    {
        char *name = qname_sql(q);
        ERROR(c, a->line,
              xstrdup("check the table name and schema; unqualified names are resolved with the "
                      "connection's search_path"),
              "unknown table %s", name);
        free(name);
    }
    return false;
}

static const backfill_directive_t *
backfill_for(ctx_t *c, const action_t *a)
{
    for (size_t i = 0; i < c->m->n_backfills; i++) {
        const backfill_directive_t *b = &c->m->backfills[i];
        if (strcmp(b->column, a->column) == 0 &&
            (b->table == NULL || strcmp(b->table, a->table.name) == 0))
            return b;
    }
    return NULL;
}

/*
 * prefix + table_column + suffix, kept within PostgreSQL's 63 bytes: the middle is cut on a
 * UTF-8 character boundary (as PostgreSQL truncates), so the suffix survives and the name
 * stays valid UTF-8.
 */
static char *
helper_name(const char *prefix, const char *table, const char *column, const char *suffix)
{
    char *name = xasprintf("%s%s_%s%s", prefix, table, column, suffix);
    size_t suffix_len = strlen(suffix);

    if (strlen(name) > IDENT_MAX_BYTES) {
        /* cut on a character boundary, and keep a hash of the whole name so that two long
         * names sharing a prefix still get different helpers */
        uint32_t h = 2166136261u; /* FNV-1a */
        char tag[16];
        size_t keep, tag_len;
        for (const char *p = name; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        tag_len = (size_t)snprintf(tag, sizeof(tag), "_%08x", h);
        keep = ident_clip_len(name, IDENT_MAX_BYTES - suffix_len - tag_len);
        memcpy(name + keep, tag, tag_len);
        memmove(name + keep + tag_len, name + strlen(name) - suffix_len, suffix_len + 1);
        name[keep + tag_len + suffix_len] = '\0';
    }
    return name;
}

/* VALIDATE CONSTRAINT: SHARE UPDATE EXCLUSIVE, scans while reads and writes continue. */
static step_t *
validate_step(ctx_t *c, int phase, const char *tbl, const char *con, const table_fact_t *t)
{
    step_t *s = step_add(
        c, STEP_VALIDATE, phase, xasprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", tbl, con),
        xasprintf("validate %s: scans the table while reads and writes continue", con));
    step_lock(s, tbl, LOCK_SHARE_UPDATE_EXCLUSIVE);
    s->scans = true;
    s->est_ms = est_scan(t, SCAN_BYTES_PER_S);
    return s;
}

/* "concat_ws(', ', a.k1::text, ...)": a row's primary key for samples (ctid without one). */
static char *
row_key_sql(const table_fact_t *t, const char *alias)
{
    sb_t sb;

    if (t == NULL || !t->exists || t->n_pk == 0)
        return xasprintf("%s.ctid::text", alias);
    sb_init(&sb);
    sb_puts(&sb, "concat_ws(', ', ");
    for (size_t i = 0; i < t->n_pk; i++) {
        char *k = ident_sql(t->pk_cols[i]);
        sb_printf(&sb, "%s%s.%s::text", i ? ", " : "", alias, k);
        free(k);
    }
    sb_putc(&sb, ')');
    return sb_steal(&sb);
}

/*
 * A read-only pre-check: rows of `tbl` (as alias c) matching `where` would make the next
 * step fail, so convoy stops before adding anything and names a sample of them.
 */
static step_t *
precheck_step(ctx_t *c,
              int phase,
              const char *tbl,
              const table_fact_t *t,
              const char *where,
              char *desc,
              char *summary)
{
    char *key = row_key_sql(t, "c");
    step_t *s = step_add(c, STEP_PRECHECK, phase,
                         xasprintf("SELECT count(*) FROM %s c WHERE %s", tbl, where), summary);

    s->count_sql = xstrdup(s->sql);
    s->sample_sql = xasprintf("SELECT %s FROM %s c WHERE %s LIMIT 5", key, tbl, where);
    s->check_desc = desc;
    step_lock(s, tbl, LOCK_ACCESS_SHARE);
    s->scans = true;
    s->est_ms = est_scan(t, SCAN_BYTES_PER_S);
    free(key);
    return s;
}

/* An ADD CONSTRAINT ... NOT VALID that is dropped again if the migration stops short. */
static void
undo_constraint(step_t *s, const char *tbl, const char *con)
{
    s->undo_sql = xasprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", tbl, con);
}

/*
 * pre-check -> CHECK (col IS NOT NULL) NOT VALID -> VALIDATE -> SET NOT NULL -> DROP CHECK.
 * Returns the SET NOT NULL step's uid.
 */
static int
plan_not_null(ctx_t *c, const action_t *a, const char *tbl, const char *col, const table_fact_t *t)
{
    char *chk_name = helper_name("convoy_", a->table.name, a->column, "_not_null");
    char *chk = ident_sql(chk_name);
    char *where = xasprintf("c.%s IS NULL", col);
    step_t *s;
    int helper, set_nn;

    precheck_step(c, PHASE_NOT_NULL, tbl, t, where, xasprintf("have a NULL %s", col),
                  xasprintf("pre-check: no row of %s has a NULL %s (read-only)", tbl, col));
    s = step_add(c, STEP_DDL, PHASE_NOT_NULL,
                 xasprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", tbl,
                           chk, col),
                 xasprintf("add helper check %s NOT VALID (enforced for new rows at once)", chk));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    undo_constraint(s, tbl, chk);
    helper = s->uid;
    validate_step(c, PHASE_NOT_NULL, tbl, chk, t)->requires = helper;
    s = step_add(c, STEP_DDL, PHASE_NOT_NULL,
                 xasprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", tbl, col),
                 xasprintf("SET NOT NULL on %s: no scan, the validated check proves it", col));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    s->requires = helper;
    set_nn = s->uid;
    s = step_add(c, STEP_DDL, PHASE_NOT_NULL,
                 xasprintf("ALTER TABLE %s DROP CONSTRAINT %s", tbl, chk),
                 xasprintf("drop helper check %s", chk));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    step_at(c, helper)->final_step = s->uid;
    free(where);
    free(chk);
    free(chk_name);
    return set_nn;
}

/*
 * The touched rows' Redis keys for the key templates: ARRAY['user:' || (id)::text, ...].
 * A template's literal parts have no quotes or backslashes (the parser refuses them), so
 * they stand as SQL literals; each placeholder must be a column of the table.
 */
static char *
cache_keys_sql(ctx_t *c, const table_fact_t *t, int line)
{
    sb_t sb;
    int n = 0;

    sb_init(&sb);
    sb_puts(&sb, "ARRAY[");
    for (size_t i = 0; i < c->m->n_cache_rules; i++) {
        const cache_rule_t *r = &c->m->cache_rules[i];
        const char *q = r->arg;
        int parts = 0;
        if (r->kind != CACHE_KEY)
            continue;
        sb_puts(&sb, n++ ? ", " : "");
        while (*q) {
            const char *open = strchr(q, '{');
            if (open != q) {
                size_t len = open ? (size_t)(open - q) : strlen(q);
                sb_printf(&sb, "%s'%.*s'", parts++ ? " || " : "", (int)len, q);
                q += len;
                continue;
            }
            {
                const char *close = strchr(open, '}');
                char *name = xstrndup(open + 1, (size_t)(close - open - 1));
                char *ident = ident_sql(name);
                bool found = !c->f->live || t == NULL;
                for (size_t k = 0; t && k < t->n_cols && !found; k++)
                    found = strcmp(t->cols[k].name, name) == 0;
                if (!found)
                    ERROR(c, r->line, xasprintf("use a column of %s in the template", t->name),
                          "convoy:cache key %s: %s has no column %s", r->arg, t->name, name);
                sb_printf(&sb, "%s(%s)::text", parts++ ? " || " : "", ident);
                free(ident);
                free(name);
                q = close + 1;
            }
        }
    }
    sb_puts(&sb, "]");
    (void)line;
    if (n == 0) {
        sb_free(&sb);
        return NULL;
    }
    return sb_steal(&sb);
}

/*
 * A key template unlinks the keys of rows a backfill batch rewrote. Without a backfill
 * (a fast-default ADD COLUMN changes every row's value without touching it) it unlinks
 * nothing: say so, with the purge pattern that would drop those keys.
 */
static void
warn_keys_without_backfill(ctx_t *c)
{
    for (size_t i = 0; i < c->p->n_steps; i++)
        if (c->p->steps[i].cache_keys_sql)
            return;
    for (size_t i = 0; i < c->m->n_cache_rules; i++) {
        const cache_rule_t *r = &c->m->cache_rules[i];
        sb_t pat;
        if (r->kind != CACHE_KEY)
            continue;
        sb_init(&pat);
        for (const char *q = r->arg; *q; q++) {
            const char *close = *q == '{' ? strchr(q, '}') : NULL;
            if (close) {
                sb_puts(&pat, "*");
                q = close;
            } else
                sb_putc(&pat, *q);
        }
        WARN(c, r->line,
             xasprintf("to drop every cached row after this change, add `-- convoy:cache purge "
                       "'%s'` or bump the namespace the application reads (`-- convoy:cache "
                       "bump NAME`)",
                       pat.data),
             "convoy:cache key %s unlinks the keys of rows a backfill rewrites, and no step of "
             "this file rewrites rows: no key is unlinked",
             r->arg);
        sb_free(&pat);
    }
}

/* A batched pass over the table; returns its uid (0 when refused). */
static int
plan_backfill_step(ctx_t *c,
                   const action_t *a,
                   const char *tbl,
                   const char *col,
                   const char *expr,
                   int phase,
                   bool catchup)
{
    const table_fact_t *t = table_of(c, &a->table);
    step_t *s;
    sb_t where;
    size_t n_keys;

    if (c->f->live && (t == NULL || t->n_pk == 0)) {
        REFUSE(c, a->line,
               xasprintf("add a primary key first (CREATE UNIQUE INDEX CONCURRENTLY, then ALTER "
                         "TABLE %s ADD PRIMARY KEY USING INDEX ...) in an earlier migration",
                         tbl),
               "table %s has no primary key: convoy pages its backfill by primary key so that a "
               "resume is exact",
               tbl);
        return 0;
    }
    s = step_add(c, STEP_BACKFILL, phase, NULL, NULL);
    s->catchup = catchup;
    n_keys = c->f->live ? t->n_pk : 1;
    s->n_keys = n_keys;
    s->key_cols = xcalloc(n_keys, sizeof(char *));
    s->key_types = xcalloc(n_keys, sizeof(char *));
    for (size_t i = 0; i < n_keys; i++) {
        s->key_cols[i] = c->f->live ? ident_sql(t->pk_cols[i]) : xstrdup("id");
        s->key_types[i] = xstrdup(c->f->live ? t->pk_types[i] : "bigint");
    }
    sb_init(&where);
    sb_puts(&where, "(");
    for (size_t i = 0; i < n_keys; i++)
        sb_printf(&where, "%s%s", i ? ", " : "", s->key_cols[i]);
    sb_puts(&where, ")");
    if (phase == PHASE_CATCHUP && !catchup) {
        s->sql = xasprintf("UPDATE %s SET %s = %s WHERE %s > ($1) AND %s <= ($2) AND %s IS NULL",
                           tbl, col, expr, where.data, where.data, col);
        s->summary = xasprintf("second fill pass: rows added with a NULL %s before the trigger "
                               "existed",
                               col);
    } else if (catchup) {
        s->sql = xasprintf("UPDATE %s SET %s = %s WHERE %s > ($1) AND %s <= ($2) AND %s IS "
                           "DISTINCT FROM (%s)",
                           tbl, col, expr, where.data, where.data, col, expr);
        s->summary = xasprintf("catch-up pass: rewrite only rows where %s differs from %s "
                               "(changed before the trigger existed; read-mostly)",
                               col, expr);
    } else {
        s->sql = xasprintf("UPDATE %s SET %s = %s WHERE %s > ($1) AND %s <= ($2) AND %s IS NULL",
                           tbl, col, expr, where.data, where.data, col);
        s->summary = xasprintf("backfill %s = %s in batches (keyset on %s, checkpointed per batch)",
                               col, expr, where.data);
    }
    sb_free(&where);
    s->table_sql = xstrdup(tbl);
    s->column_sql = xstrdup(col);
    s->expr_sql = xstrdup(expr);
    s->cache_keys_sql = cache_keys_sql(c, t, a->line);
    step_lock(s, tbl, LOCK_ROW_EXCLUSIVE);
    s->scans = true;
    if (c->f->live && t->rows >= 0)
        s->est_ms = (int64_t)((double)t->rows / BACKFILL_ROWS_PER_S * 1000.0);
    if (!c->f->live && phase == PHASE_BACKFILL) {
        char *msg = xasprintf("backfill of %s assumes a single-column primary key named id; "
                              "connect with --db to read the real key",
                              col);
        c->p->assumptions = xrealloc(c->p->assumptions, (c->p->n_assumptions + 1) * sizeof(char *));
        c->p->assumptions[c->p->n_assumptions++] = msg;
    }
    return s->uid;
}

/*
 * The sync trigger keeps col = expr for writers that do not set it (the old application),
 * installed after the first pass so the pass itself runs without a trigger in its way. It
 * can never fail an application's write: an expression error leaves the value as it was,
 * and the catch-up pass and the pre-check report such rows by key.
 */
static int
plan_sync_trigger(ctx_t *c, const action_t *a, const char *tbl, const char *col, const char *expr)
{
    char *fn_name = helper_name("", a->table.name, a->column, "_backfill_sync");
    char *trg_name = helper_name("convoy_", a->table.name, a->column, "_sync");
    char *fn = ident_sql(fn_name);
    char *trg = ident_sql(trg_name);
    char *drop;
    step_t *s;
    int uid = 0;

    if (strstr(expr, "$convoy$") != NULL) {
        REFUSE(c, a->line, NULL, "backfill expression may not contain the text $convoy$");
        goto done;
    }
    drop = xasprintf("DROP TRIGGER IF EXISTS %s ON %s;\nDROP FUNCTION IF EXISTS convoy.%s()", trg,
                     tbl, fn);
    s = step_add(
        c, STEP_DDL, PHASE_SYNC,
        xasprintf(
            "CREATE OR REPLACE FUNCTION convoy.%s() RETURNS trigger LANGUAGE plpgsql AS "
            "$convoy$\nBEGIN\n"
            "  IF TG_OP = 'INSERT' AND NEW.%s IS NOT NULL THEN RETURN NEW; END IF;\n"
            "  IF TG_OP = 'UPDATE' AND NEW.%s IS DISTINCT FROM OLD.%s THEN RETURN NEW; END IF;\n"
            "  BEGIN\n"
            "    NEW.%s := (SELECT %s FROM (SELECT NEW.*) AS r);\n"
            "  EXCEPTION WHEN OTHERS THEN\n"
            "    NULL; -- never fail the application's write; the catch-up reports the row\n"
            "  END;\n"
            "  RETURN NEW;\nEND\n$convoy$;\n"
            "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW "
            "WHEN (current_setting('convoy.backfill', true) IS DISTINCT FROM 'on') "
            "EXECUTE FUNCTION convoy.%s()",
            fn, col, col, col, col, expr, trg, tbl, fn),
        xasprintf("install trigger %s: keeps %s = %s for writers that do not set it (old app)", trg,
                  col, expr));
    step_lock(s, tbl, LOCK_SHARE_ROW_EXCLUSIVE);
    s->est_ms = 0;
    s->undo_sql = xstrdup(drop);
    uid = s->uid;
    s = step_add(c, STEP_DDL, PHASE_CLEANUP, drop, xasprintf("remove sync trigger %s", trg));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    step_at(c, uid)->final_step = s->uid;
done:
    free(fn);
    free(trg);
    free(fn_name);
    free(trg_name);
    return uid;
}

/* The convoy rename trigger of ct that syncs `column` (either side), or NULL. */
static const rename_sync_fact_t *
rename_sync_of(const table_fact_t *ct, const char *column)
{
    for (size_t i = 0; ct && i < ct->n_renames; i++)
        if (strcmp(ct->renames[i].from, column) == 0 || strcmp(ct->renames[i].to, column) == 0)
            return &ct->renames[i];
    return NULL;
}

/*
 * The expand phase of RENAME COLUMN old TO new (-- convoy:expand): add new with old's type,
 * keep both equal with a trigger while the old and the new app version run, backfill, and
 * set NOT NULL the lock-safe way when old has it. The contract phase (the same RENAME with
 * -- convoy:contract) removes the trigger, moves old's DEFAULT and drops old, in one short
 * transaction. docs/rename.md.
 */
static void
plan_rename_expand(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    const column_fact_t *old;
    char *tbl, *oldc, *newc, *fn_name, *trg_name, *fn, *trg, *drop, *note, *lit;
    json_t *j;
    step_t *s;
    int trg_uid;

    if (!c->f->live) {
        REFUSE(c, a->line, xstrdup("connect with --db: the new column copies the old one's type"),
               "RENAME COLUMN %s TO %s through expand/contract needs the live catalog", a->column,
               a->rename_to);
        return;
    }
    if (!table_known(c, a, &a->table) || !column_known(c, a, &a->table, a->column))
        return;
    tbl = table_sql(c, &a->table);
    oldc = ident_sql(a->column);
    newc = ident_sql(a->rename_to);
    old = facts_column(t, a->column);
    if (facts_column(t, a->rename_to)) {
        ERROR(c, a->line, xstrdup("pick another name"), "column %s already exists in %s", newc,
              tbl);
        goto out_names;
    }
    if (old->used_by) {
        REFUSE(c, a->line,
               xasprintf("convoy's expand/contract rename copies the type, NOT NULL and DEFAULT "
                         "of %s only: drop or recreate what uses it first, or rename it with "
                         "`-- convoy:contract` once no running version uses the old name",
                         oldc),
               "column %s is used by %s", oldc, old->used_by);
        goto out_names;
    }
    fn_name = helper_name("", a->table.name, a->column, "_rename_sync");
    trg_name = helper_name("convoy_", a->table.name, a->column, "_rename");
    fn = ident_sql(fn_name);
    trg = ident_sql(trg_name);
    j = json_pack("{s:s, s:s, s:s}", "convoy", "rename", "from", a->column, "to", a->rename_to);
    note = json_dumps(j, JSON_PRESERVE_ORDER);
    lit = literal_sql(note);
    json_decref(j);

    s = step_add(c, STEP_DDL, PHASE_EXPAND,
                 xasprintf("ALTER TABLE %s ADD COLUMN %s %s", tbl, newc, old->type),
                 xasprintf("add column %s %s (the new name of %s), nullable, no default: metadata "
                           "only",
                           newc, old->type, oldc));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    /* Both columns have the same type: the assignments cannot fail. An INSERT without the new
     * column (the old app; it has no default yet) copies old to new, any other takes new's
     * value for both (the new app never writes old: old only has its DEFAULT); an UPDATE that
     * changes only one changes both. */
    drop = xasprintf("DROP TRIGGER IF EXISTS %s ON %s;\nDROP FUNCTION IF EXISTS convoy.%s()", trg,
                     tbl, fn);
    s = step_add(
        c, STEP_DDL, PHASE_EXPAND,
        xasprintf("CREATE OR REPLACE FUNCTION convoy.%s() RETURNS trigger LANGUAGE plpgsql AS "
                  "$convoy$\nBEGIN\n"
                  "  IF TG_OP = 'INSERT' THEN\n"
                  "    IF NEW.%s IS NULL THEN NEW.%s := NEW.%s; ELSE NEW.%s := NEW.%s; END IF;\n"
                  "  ELSIF NEW.%s IS DISTINCT FROM OLD.%s AND NEW.%s IS NOT DISTINCT FROM OLD.%s "
                  "THEN\n"
                  "    NEW.%s := NEW.%s;\n"
                  "  ELSIF NEW.%s IS DISTINCT FROM OLD.%s AND NEW.%s IS NOT DISTINCT FROM OLD.%s "
                  "THEN\n"
                  "    NEW.%s := NEW.%s;\n"
                  "  END IF;\n"
                  "  RETURN NEW;\nEND\n$convoy$;\n"
                  "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION "
                  "convoy.%s();\n"
                  "COMMENT ON TRIGGER %s ON %s IS %s",
                  fn, newc, newc, oldc, oldc, newc,   /* INSERT */
                  oldc, oldc, newc, newc, newc, oldc, /* UPDATE of the old name */
                  newc, newc, oldc, oldc, oldc, newc, /* UPDATE of the new name */
                  trg, tbl, fn, trg, tbl, lit),
        xasprintf("install trigger %s: keeps %s and %s equal for both app versions until the "
                  "contract phase",
                  trg, oldc, newc));
    step_lock(s, tbl, LOCK_SHARE_ROW_EXCLUSIVE);
    s->est_ms = 0;
    s->undo_sql = drop; /* stays once the migration is done: the contract removes it */
    trg_uid = s->uid;
    if (t->has_rows) {
        int fill = plan_backfill_step(c, a, tbl, newc, oldc, PHASE_BACKFILL, false);
        if (fill)
        step_at(c, fill)->requires = trg_uid;
    }
    if (old->not_null) {
        action_t nn = *a;
        nn.column = a->rename_to;
        plan_not_null(c, &nn, tbl, newc, t);
    }
    WARN(c, a->line,
         xasprintf("roll out the app version that uses %s, then run `ALTER TABLE %s RENAME COLUMN "
                   "%s TO %s;` in a file with `-- convoy:contract %s`",
                   newc, tbl, oldc, newc, c->m->name),
         "expand phase of a rename: %s stays, in sync with %s, until the contract phase%s", oldc,
         newc, old->default_sql ? " (which also moves its DEFAULT to the new column)" : "");
    free(lit);
    free(note);
    free(fn);
    free(trg);
    free(fn_name);
    free(trg_name);
out_names:
    free(tbl);
    free(oldc);
    free(newc);
}

/*
 * In a contract file: RENAME COLUMN old TO new after convoy's expand (new exists, the rename
 * trigger syncs them) drops the trigger, moves the DEFAULT and drops old in one transaction;
 * a DROP COLUMN of a synced column is refused (it would leave the trigger without its column
 * and every write would fail). False: not a rename convoy expanded; run it as written.
 */
static bool
plan_rename_contract(ctx_t *c, const action_t *a, const table_fact_t *ct)
{
    const rename_sync_fact_t *rs = rename_sync_of(ct, a->column);
    const column_fact_t *old = facts_column(ct, a->column);
    char *tbl, *trg, *fn, *oldc, *newc, *dflt = NULL;
    step_t *s;

    if (rs == NULL || old == NULL)
        return false;
    if (a->rename_to == NULL || strcmp(rs->from, a->column) != 0 ||
        strcmp(rs->to, a->rename_to) != 0) {
        REFUSE(c, a->line,
               xasprintf("finish the rename instead: `ALTER TABLE %s RENAME COLUMN %s TO %s;` in "
                         "this contract file",
                         a->table.name, rs->from, rs->to),
               "column %s is kept in sync with %s by convoy's rename trigger %s: this statement "
               "would leave the trigger without its column, and every write would fail",
               a->column, strcmp(rs->from, a->column) == 0 ? rs->to : rs->from, rs->trigger);
        return true;
    }
    tbl = table_sql(c, &a->table);
    trg = ident_sql(rs->trigger);
    fn = ident_sql(rs->function);
    oldc = ident_sql(rs->from);
    newc = ident_sql(rs->to);
    if (old->default_sql)
        dflt = xasprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;\n", tbl, newc,
                         old->default_sql);
    s = step_add(c, STEP_DDL, PHASE_EXPAND,
                 xasprintf("DROP TRIGGER %s ON %s;\nDROP FUNCTION convoy.%s();\n%sALTER TABLE %s "
                           "DROP COLUMN %s",
                           trg, tbl, fn, dflt ? dflt : "", tbl, oldc),
                 xasprintf("contract of the rename %s -> %s: drop trigger %s and column %s%s, in "
                           "one transaction (metadata only)",
                           oldc, newc, trg, oldc,
                           dflt ? "; the DEFAULT moves to the new column" : ""));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    free(dflt);
    free(tbl);
    free(trg);
    free(fn);
    free(oldc);
    free(newc);
    return true;
}

/* Does an earlier statement of this file drop this column (DROP COLUMN, then ADD again)? */
static bool
dropped_earlier(ctx_t *c, size_t idx, const action_t *a)
{
    for (size_t i = 0; i < idx; i++) {
        const action_t *o = &c->m->actions[i];
        if (o->kind == ACT_CONTRACT && o->column && strcmp(o->column, a->column) == 0 &&
            o->table.name && strcmp(o->table.name, a->table.name) == 0)
            return true;
    }
    return false;
}

static void
plan_add_column(ctx_t *c, size_t idx, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    const default_fact_t *df = facts_default(c->f, idx);
    const backfill_directive_t *bf = backfill_for(c, a);
    char *tbl = table_sql(c, &a->table);
    char *col = ident_sql(a->column);
    bool is_volatile, has_rows, stable = false;
    step_t *s;

    if (!table_known(c, a, &a->table))
        goto done;
    if (c->f->live && t && facts_column(t, a->column) && !dropped_earlier(c, idx, a)) {
        if (a->if_not_exists)
            WARN(c, a->line, NULL, "column %s already exists: skipped (IF NOT EXISTS)", col);
        else
            ERROR(c, a->line, xstrdup("pick another name, or use ADD COLUMN IF NOT EXISTS"),
                  "column %s already exists in %s", col, tbl);
        goto done;
    }
    for (size_t i = 0; i < idx; i++) {
        /* The second ADD would fail halfway through the run, after the first was applied. */
        const action_t *o = &c->m->actions[i];
        bool same_schema =
            (o->table.schema == NULL && a->table.schema == NULL) ||
            (o->table.schema && a->table.schema && strcmp(o->table.schema, a->table.schema) == 0);
        if (o->kind != ACT_ADD_COLUMN || !same_schema ||
            strcmp(o->table.name, a->table.name) != 0 || strcmp(o->column, a->column) != 0)
            continue;
        if (a->if_not_exists)
            WARN(c, a->line, NULL, "column %s is already added on line %d: skipped (IF NOT EXISTS)",
                 col, o->line);
        else
            ERROR(c, a->line, xstrdup("add each column once"),
                  "column %s is added twice in %s (first on line %d)", col, tbl, o->line);
        goto done;
    }
    if (a->is_serial) {
        REFUSE(c, a->line,
               a->fix ? xstrdup(a->fix)
                      : xasprintf("add %s as a plain bigint column, backfill it with `-- "
                                  "convoy:backfill %s = <expression>`, then SET DEFAULT "
                                  "nextval(...) in a later step",
                                  col, col),
               "%s", a->reason ? a->reason : "serial/identity/generated column rewrites the table");
        goto done;
    }
    if (df && df->error) {
        ERROR(c, a->line, xstrdup("fix the column type or DEFAULT expression"),
              "the server rejected column %s: %s", col, df->error);
        goto done;
    }
    if (df && df->backfill_error && bf) {
        ERROR(c, bf->line,
              xasprintf("fix that row, or write the expression so it cannot fail on it (for "
                        "example with NULLIF or CASE); nothing was changed"),
              "the backfill expression %s fails on existing row %s of %s: %s", bf->expr_sql,
              df->backfill_key ? df->backfill_key : "(not isolated)", tbl, df->backfill_error);
        goto done;
    }
    if (df && df->domain_constrained) {
        REFUSE(c, a->line,
               xstrdup("add the column with the domain's base type, backfill it, and add the "
                       "domain's rule as a CHECK ... NOT VALID constraint, then VALIDATE it"),
               "column %s has a domain type with constraints: adding it checks every row under "
               "ACCESS EXCLUSIVE (and rewrites the table)",
               col);
        goto done;
    }
    if (a->default_sql == NULL)
        is_volatile = false;
    else if (c->f->live && df && df->probed)
        is_volatile = !df->fast;
    else
        is_volatile = a->default_volatile_hint;
    if (a->default_sql && !is_volatile) {
        if (c->f->live && df && df->probed)
            stable = !df->immutable;
        else
            stable = a->default_calls_function;
    }
    has_rows = c->f->live ? (t && t->has_rows) : true;

    if (bf == NULL && !is_volatile) {
        if (a->not_null && a->default_sql == NULL && has_rows) {
            REFUSE(
                c, a->line,
                xasprintf("give %s a DEFAULT, or fill existing rows with `-- convoy:backfill "
                          "%s = <SQL expression>` (convoy then adds it nullable, backfills in "
                          "batches and sets NOT NULL without a long lock)",
                          col, col),
                "ADD COLUMN %s NOT NULL without a DEFAULT fails on a non-empty table%s and breaks "
                "inserts from the running application version",
                col, c->f->live ? "" : " (assumed non-empty: no database given)");
            goto done;
        }
        s = step_add(
            c, STEP_DDL, PHASE_EXPAND,
            xasprintf("ALTER TABLE %s ADD COLUMN %s %s%s%s%s%s", tbl, col, a->type_sql,
                      a->collate_sql ? a->collate_sql : "", a->default_sql ? " DEFAULT " : "",
                      a->default_sql ? a->default_sql : "", a->not_null ? " NOT NULL" : ""),
            xasprintf("add column %s: metadata only%s", col,
                      a->default_sql ? " (PG11+ fast default, no rewrite)" : ""));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        if (c->f->live && c->f->server_version < 110000 && a->default_sql) {
            s->rewrites = true;
            s->scans = true;
            s->est_ms = est_scan(t, INDEX_BYTES_PER_S);
        }
        if (stable) {
            WARN(c, a->line,
                 xasprintf("add `-- convoy:backfill %s = <expression>` to give existing rows a "
                           "value of their own (new rows still get the DEFAULT)",
                           col),
                 "DEFAULT %s is evaluated once: every existing row gets the migration's value%s",
                 a->default_sql, c->f->live ? "" : " (if the function is stable, like now())");
        }
        goto done;
    }

    /* Expand: nullable column, default for new rows, batched backfill, NOT NULL dance. */
    {
        const char *expr = bf ? bf->expr_sql : a->default_sql;
        int trg = 0;
        s = step_add(c, STEP_DDL, PHASE_EXPAND,
                     xasprintf("ALTER TABLE %s ADD COLUMN %s %s%s", tbl, col, a->type_sql,
                               a->collate_sql ? a->collate_sql : ""),
                     is_volatile && bf == NULL
                         ? xasprintf("add column %s nullable with no default: metadata only "
                                     "(DEFAULT %s is volatile: a plain ADD COLUMN would rewrite "
                                     "the table, so existing rows are filled in batches)",
                                     col, a->default_sql)
                         : xasprintf("add column %s nullable with no default: metadata only", col));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        if (a->default_sql) {
            s = step_add(c, STEP_DDL, PHASE_EXPAND,
                         xasprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", tbl, col,
                                   a->default_sql),
                         xasprintf("set DEFAULT %s for new rows only", a->default_sql));
            step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
            s->est_ms = 0;
        }
        {
            int fill = has_rows || !c->f->live
                           ? plan_backfill_step(c, a, tbl, col, expr, PHASE_BACKFILL, false)
                           : 0;
            /* Writers that do not set the column (the old app) must still get a value:
             * recompute it when it reads other columns, or fill it when no DEFAULT will.
             * Rows they wrote before the trigger existed are fixed by the catch-up pass. */
            if (bf && (bf->reads_columns || a->default_sql == NULL)) {
                trg = plan_sync_trigger(c, a, tbl, col, expr);
                if (trg && fill) {
                    /* an expression of the row is recomputed where it drifted; any other
                     * only fills rows that arrived with NULL before the trigger */
                    int cu =
                        plan_backfill_step(c, a, tbl, col, expr, PHASE_CATCHUP, bf->reads_columns);
                    if (cu) {
                        step_at(c, cu)->requires = trg;
                        step_at(c, cu)->fill_step = fill;
                    }
                }
            }
        }
        if (a->not_null) {
            int set_nn = plan_not_null(c, a, tbl, col, t);
            /* NOT NULL without a DEFAULT: once it is set, writers that do not set the
             * column need the trigger; removing it on a later failure would break them */
            if (trg && a->default_sql == NULL)
                step_at(c, trg)->final_step = set_nn;
        }
    }
done:
    free(tbl);
    free(col);
}

static bool
fk_has_index(ctx_t *c, const action_t *a, const table_fact_t *t)
{
    /* Any index whose leading columns are the FK columns, or one this file creates. */
    for (size_t i = 0; t && i < t->n_indexes; i++) {
        const index_fact_t *ix = &t->indexes[i];
        bool match = ix->n_cols >= a->n_cols;
        for (size_t k = 0; match && k < a->n_cols; k++)
            match = strcmp(ix->cols[k], a->cols[k]) == 0;
        if (match)
            return true;
    }
    for (size_t i = 0; i < c->m->n_actions; i++) {
        const action_t *o = &c->m->actions[i];
        bool match;
        if ((o->kind != ACT_CREATE_INDEX && o->kind != ACT_ADD_UNIQUE) ||
            strcmp(o->table.name, a->table.name) != 0 || o->n_cols < a->n_cols)
            continue;
        match = true;
        for (size_t k = 0; match && k < a->n_cols; k++)
            match = strcmp(o->cols[k], a->cols[k]) == 0;
        if (match)
            return true;
    }
    return false;
}

static void
plan_fk(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    const table_fact_t *rt = table_of(c, &a->ref_table);
    char *tbl = table_sql(c, &a->table);
    char *rtbl = table_sql(c, &a->ref_table);
    char *con = ident_sql(con_name(c, a));
    char **ref_cols = a->ref_cols;
    size_t n_ref = a->n_ref_cols;
    char *default_ref = "id";
    step_t *s;

    if (!table_known(c, a, &a->table) || !table_known(c, a, &a->ref_table))
        goto done;
    for (size_t i = 0; i < a->n_cols; i++)
        if (!column_known(c, a, &a->table, a->cols[i]))
            goto done;
    if (n_ref == 0) {
        if (c->f->live && rt->n_pk == 0) {
            ERROR(c, a->line, xstrdup("name the referenced columns explicitly"),
                  "%s has no primary key to reference", rtbl);
            goto done;
        }
        ref_cols = c->f->live ? rt->pk_cols : &default_ref;
        n_ref = c->f->live ? rt->n_pk : 1;
    }
    for (size_t i = 0; i < n_ref; i++)
        if (!column_known(c, a, &a->ref_table, ref_cols[i]))
            goto done;
    if (n_ref != a->n_cols) {
        ERROR(c, a->line, NULL, "foreign key has %zu columns but references %zu", a->n_cols, n_ref);
        goto done;
    }

    if (!a->not_valid) {
        sb_t cnt, match;
        char *where, *desc;
        sb_init(&cnt);
        sb_init(&match);
        for (size_t i = 0; i < a->n_cols; i++) {
            char *fc = ident_sql(a->cols[i]);
            char *pc = ident_sql(ref_cols[i]);
            sb_printf(&cnt, "c.%s IS NOT NULL AND ", fc);
            sb_printf(&match, "%sp.%s = c.%s", i ? " AND " : "", pc, fc);
            free(fc);
            free(pc);
        }
        where = xasprintf("%sNOT EXISTS (SELECT 1 FROM %s p WHERE %s)", cnt.data, rtbl, match.data);
        desc = xasprintf("reference a row of %s that does not exist (orphans)", rtbl);
        s = precheck_step(
            c, PHASE_CONSTRAINT, tbl, t, where, desc,
            xasprintf("orphan pre-check for %s: refuse to add it while orphans exist", con));
        step_lock(s, rtbl, LOCK_ACCESS_SHARE);
        sb_free(&cnt);
        sb_free(&match);
        free(where);
    }
    if (t && t->exists && t->partitioned) {
        /* A partitioned table's foreign key cannot be NOT VALID. What PostgreSQL allows:
         * NOT VALID + VALIDATE on each partition, then the parent's, which attaches the
         * partitions' validated constraints (same name, as psql's recursion names them)
         * without a scan. */
        if (a->not_valid) {
            REFUSE(c, a->line,
                   xasprintf("drop NOT VALID: convoy then adds it to each partition NOT VALID, "
                             "validates each, and attaches them through the parent"),
                   "PostgreSQL cannot add a NOT VALID foreign key to partitioned table %s", tbl);
            goto done;
        }
        for (size_t i = 0; i < t->n_parts; i++) {
            const partition_fact_t *pf = &t->parts[i];
            qname_t pq = {pf->schema, pf->name};
            char *part = qname_sql(&pq);
            int add;
            if (pf->partitioned) {
                REFUSE(c, a->line, xstrdup("add the foreign key per level, bottom-up"),
                       "partition %s of %s is itself partitioned: convoy plans one level", part,
                       tbl);
                free(part);
                goto done;
            }
            s = step_add(c, STEP_DDL, PHASE_CONSTRAINT,
                         xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID", part, con,
                                   a->constraint_sql),
                         xasprintf("add foreign key %s NOT VALID on partition %s", con, part));
            step_lock(s, part, LOCK_SHARE_ROW_EXCLUSIVE);
            step_lock(s, rtbl, LOCK_SHARE_ROW_EXCLUSIVE);
            s->est_ms = 0;
            undo_constraint(s, part, con);
            add = s->uid;
            s = validate_step(c, PHASE_CONSTRAINT, part, con, NULL);
            step_lock(s, rtbl, LOCK_ROW_SHARE);
            s->requires = add;
            step_at(c, add)->final_step = s->uid;
            free(part);
        }
        s = step_add(c, STEP_DDL, PHASE_CONSTRAINT,
                     xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", tbl, con, a->constraint_sql),
                     xasprintf("add foreign key %s on the partitioned table: attaches the "
                               "partitions' validated constraints, no scan",
                               con));
        step_lock(s, tbl, LOCK_SHARE_ROW_EXCLUSIVE);
        step_lock(s, rtbl, LOCK_SHARE_ROW_EXCLUSIVE);
        s->est_ms = 0;
        goto done;
    }
    s = step_add(
        c, STEP_DDL, PHASE_CONSTRAINT,
        xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID", tbl, con, a->constraint_sql),
        xasprintf("add foreign key %s NOT VALID: enforced for new rows, no scan", con));
    step_lock(s, tbl, LOCK_SHARE_ROW_EXCLUSIVE);
    step_lock(s, rtbl, LOCK_SHARE_ROW_EXCLUSIVE);
    s->est_ms = 0;
    if (!a->not_valid) {
        int add = s->uid;
        undo_constraint(s, tbl, con);
        s = validate_step(c, PHASE_CONSTRAINT, tbl, con, t);
        step_lock(s, rtbl, LOCK_ROW_SHARE);
        s->requires = add;
        step_at(c, add)->final_step = s->uid;
    }

    if (!fk_has_index(c, a, t)) {
        /* psql would build no index: convoy does only when asked, and says so otherwise */
        char *ix_name = migration_object_name(a->table.name, a->cols, a->n_cols, "idx");
        char *ix = ident_sql(ix_name);
        char *create;
        sb_t cols;
        sb_init(&cols);
        for (size_t i = 0; i < a->n_cols; i++) {
            char *fc = ident_sql(a->cols[i]);
            sb_printf(&cols, "%s%s", i ? ", " : "", fc);
            free(fc);
        }
        create = xasprintf("CREATE INDEX CONCURRENTLY %s ON %s (%s)", ix, tbl, cols.data);
        if (c->m->index_foreign_keys) {
            s = step_add(c, STEP_INDEX, PHASE_INDEX, xstrdup(create),
                         xasprintf("index the referencing column(s) %s, so deletes on %s do not "
                                   "scan %s (-- convoy:index-foreign-keys)",
                                   cols.data, rtbl, tbl));
            s->index_name = xstrdup(ix_name);
            s->index_schema = t && t->exists ? xstrdup(t->schema) : NULL;
            s->table_sql = xstrdup(tbl);
            step_lock(s, tbl, LOCK_SHARE_UPDATE_EXCLUSIVE);
            s->scans = true;
            s->est_ms = est_scan(t, INDEX_BYTES_PER_S);
        } else {
            WARN(c, a->line,
                 xasprintf("add `%s;` to the file, or `-- convoy:index-foreign-keys` to have "
                           "convoy add it",
                           create),
                 "no index leads with %s: every DELETE or key UPDATE on %s scans %s to check "
                 "the foreign key",
                 cols.data, rtbl, tbl);
        }
        free(create);
        sb_free(&cols);
        free(ix);
        free(ix_name);
    }
done:
    free(tbl);
    free(rtbl);
    free(con);
}

/* "CHECK (expr)" -> "expr", or NULL when the deparsed text has another shape. */
static char *
check_expr(const char *constraint_sql)
{
    size_t n = constraint_sql ? strlen(constraint_sql) : 0;

    if (n < 9 || strncmp(constraint_sql, "CHECK (", 7) != 0 || constraint_sql[n - 1] != ')')
        return NULL;
    return xstrndup(constraint_sql + 7, n - 8);
}

static void
plan_check(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    char *tbl = table_sql(c, &a->table);
    char *con = ident_sql(con_name(c, a));
    char *expr = check_expr(a->constraint_sql);
    step_t *s;
    int add;

    if (!table_known(c, a, &a->table))
        goto done;
    if (!a->not_valid && expr) {
        /* c is the pre-check's alias for the table; the expression names bare columns */
        char *where = xasprintf("NOT (%s)", expr);
        precheck_step(c, PHASE_CONSTRAINT, tbl, t, where, xasprintf("break CHECK (%s)", expr),
                      xasprintf("pre-check: no row of %s breaks %s (read-only)", tbl, con));
        free(where);
    }
    s = step_add(
        c, STEP_DDL, PHASE_CONSTRAINT,
        xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID", tbl, con, a->constraint_sql),
        xasprintf("add check %s NOT VALID: enforced for new rows, no scan", con));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    if (a->not_valid)
        goto done;
    undo_constraint(s, tbl, con);
    add = s->uid;
    s = validate_step(c, PHASE_CONSTRAINT, tbl, con, t);
    s->requires = add;
    step_at(c, add)->final_step = s->uid;
done:
    free(expr);
    free(tbl);
    free(con);
}

static void
plan_unique(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    char *tbl = table_sql(c, &a->table);
    char *con = ident_sql(con_name(c, a));
    step_t *s;
    sb_t cols;

    if (!table_known(c, a, &a->table))
        goto done;
    for (size_t i = 0; i < a->n_cols; i++)
        if (!column_known(c, a, &a->table, a->cols[i]))
            goto done;
    if (a->is_primary && c->f->live) {
        for (size_t i = 0; i < a->n_cols; i++) {
            const column_fact_t *cf = facts_column(t, a->cols[i]);
            if (cf == NULL || !cf->not_null) {
                REFUSE(c, a->line,
                       xasprintf("first run `ALTER TABLE %s ALTER COLUMN %s SET NOT NULL` "
                                 "through convoy (check NOT VALID, VALIDATE, SET NOT NULL)",
                                 tbl, a->cols[i]),
                       "PRIMARY KEY on nullable column %s would SET NOT NULL with a full scan "
                       "under ACCESS EXCLUSIVE",
                       a->cols[i]);
                goto done;
            }
        }
    }
    sb_init(&cols);
    for (size_t i = 0; i < a->n_cols; i++) {
        char *fc = ident_sql(a->cols[i]);
        sb_printf(&cols, "%s%s", i ? ", " : "", fc);
        free(fc);
    }
    s = step_add(c, STEP_INDEX, PHASE_INDEX,
                 xasprintf("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s)", con, tbl, cols.data),
                 xasprintf("build unique index %s concurrently: reads and writes continue", con));
    s->index_name = xstrdup(con_name(c, a));
    s->index_schema = t && t->exists ? xstrdup(t->schema) : NULL;
    s->table_sql = xstrdup(tbl);
    step_lock(s, tbl, LOCK_SHARE_UPDATE_EXCLUSIVE);
    s->scans = true;
    s->est_ms = est_scan(t, INDEX_BYTES_PER_S);
    s = step_add(c, STEP_DDL, PHASE_INDEX,
                 xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s%s", tbl, con,
                           a->is_primary ? "PRIMARY KEY" : "UNIQUE", con,
                           a->deferrable ? " DEFERRABLE" : "",
                           a->initdeferred ? " INITIALLY DEFERRED" : ""),
                 xasprintf("attach %s as a %s constraint: metadata only", con,
                           a->is_primary ? "primary key" : "unique"));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    sb_free(&cols);
done:
    free(tbl);
    free(con);
}

/*
 * CREATE INDEX on a partitioned table cannot be CONCURRENTLY. PostgreSQL's own safe
 * sequence: the parent's index ON ONLY the parent (invalid, instant), each partition's
 * index CONCURRENTLY under the name PostgreSQL would give it, then ATTACH PARTITION each
 * one; the parent's index becomes valid when the last is attached.
 */
static char *str_replace_once(const char *s, const char *from, const char *to);

static void
plan_partitioned_index(
    ctx_t *c, const action_t *a, const table_fact_t *t, const char *tbl, const char *name)
{
    qname_t pq = {t->schema, (char *)name};
    char *parent_ix = qname_sql(&pq);
    char *qname = ident_sql(name);
    step_t *s;
    int only;

    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].partitioned) {
            REFUSE(c, a->line,
                   xasprintf("write the sequence per level: CREATE INDEX ... ON ONLY each "
                             "partitioned table, CREATE INDEX CONCURRENTLY on each leaf "
                             "partition, then ALTER INDEX ... ATTACH PARTITION bottom-up"),
                   "partition %s of %s is itself partitioned: convoy plans one level of "
                   "partitions",
                   t->parts[i].name, tbl);
            goto done;
        }
    }
    s = step_add(c, STEP_DDL, PHASE_INDEX,
                 str_replace_once(a->index_only_sql, MIGRATION_INDEX_NAME_SLOT, qname),
                 xasprintf("create %s ON ONLY the partitioned table: no build, invalid until "
                           "every partition's index is attached",
                           name));
    step_lock(s, tbl, LOCK_SHARE);
    s->est_ms = 0;
    s->undo_sql = xasprintf("DROP INDEX IF EXISTS %s", parent_ix);
    only = s->uid;
    for (size_t i = 0; i < t->n_parts; i++) {
        const partition_fact_t *pf = &t->parts[i];
        qname_t partq = {pf->schema, pf->name};
        char *part = qname_sql(&partq), *pname = NULL, *qp, *sql, *tmp;
        /* ChooseRelationName for the partition, as PostgreSQL's recursion does */
        for (int k = 0; pname == NULL; k++) {
            char label[16];
            bool taken = false;
            snprintf(label, sizeof(label), k ? "idx%d" : "idx", k);
            pname = migration_object_name(pf->name, a->name_parts, a->n_name_parts, label);
            for (size_t j = 0; j < pf->n_index_names && !taken; j++)
                taken = strcmp(pf->index_names[j], pname) == 0;
            if (taken) {
                free(pname);
                pname = NULL;
            }
        }
        qp = ident_sql(pname);
        tmp = str_replace_once(a->index_part_sql, MIGRATION_INDEX_NAME_SLOT, qp);
        sql = str_replace_once(tmp, MIGRATION_INDEX_TABLE_SLOT, part);
        free(tmp);
        s = step_add(c, STEP_INDEX, PHASE_INDEX, sql,
                     xasprintf("build %s on partition %s concurrently", pname, pf->name));
        s->index_name = xstrdup(pname);
        s->index_schema = xstrdup(pf->schema);
        s->table_sql = xstrdup(part);
        step_lock(s, part, LOCK_SHARE_UPDATE_EXCLUSIVE);
        s->scans = true;
        s->est_ms = -1;
        s->requires = only; /* dropping the parent's index drops the attached ones too */
        {
            qname_t cq = {pf->schema, pname};
            char *child = qname_sql(&cq);
            s = step_add(c, STEP_DDL, PHASE_INDEX,
                         xasprintf("ALTER INDEX %s ATTACH PARTITION %s", parent_ix, child),
                         xasprintf("attach %s to %s: metadata only", pname, name));
            step_lock(s, part, LOCK_SHARE_UPDATE_EXCLUSIVE);
            s->est_ms = 0;
            s->requires = only;
            step_at(c, only)->final_step = s->uid;
            free(child);
        }
        free(qp);
        free(pname);
        free(part);
    }
done:
    free(parent_ix);
    free(qname);
}

/* s with the first `from` replaced by `to`. Caller frees. */
static char *
str_replace_once(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (at == NULL)
        return xstrdup(s);
    return xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

/* Is an index name already used: on the table (live), or by an earlier index of this file? */
static bool
index_name_taken(ctx_t *c, const table_fact_t *t, const action_t *self, const char *name)
{
    for (size_t i = 0; t && t->exists && i < t->n_indexes; i++)
        if (strcmp(t->indexes[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < c->p->n_steps; i++) {
        const step_t *s = &c->p->steps[i];
        if ((s->kind == STEP_INDEX) && s->index_name && strcmp(s->index_name, name) == 0)
            return true;
    }
    for (size_t i = 0; i < c->m->n_actions && &c->m->actions[i] != self; i++) {
        const action_t *o = &c->m->actions[i];
        if (o->constraint_name && strcmp(o->constraint_name, name) == 0)
            return true;
    }
    return false;
}

/*
 * DROP CONSTRAINT only relaxes a rule when it is a CHECK or FOREIGN KEY (or one this file
 * adds, such as a hand-written NOT NULL helper); dropping a UNIQUE, PRIMARY KEY or EXCLUDE
 * constraint can break the application (ON CONFLICT, foreign keys that reference it).
 */
static void
plan_drop_constraint(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    char *tbl = table_sql(c, &a->table);
    const constraint_fact_t *cf = NULL;
    bool from_file = false;
    step_t *s;

    if (!table_known(c, a, &a->table))
        goto done;
    for (size_t i = 0; i < c->m->n_actions && &c->m->actions[i] != a; i++) {
        const action_t *o = &c->m->actions[i];
        if (o->constraint_name && strcmp(o->constraint_name, a->constraint_name) == 0 &&
            strcmp(o->table.name, a->table.name) == 0)
            from_file = true;
    }
    for (size_t i = 0; t && t->exists && i < t->n_constraints; i++)
        if (strcmp(t->constraints[i].name, a->constraint_name) == 0)
            cf = &t->constraints[i];
    if (c->f->live && !from_file && cf == NULL) {
        if (a->if_not_exists) {
            WARN(c, a->line, NULL, "constraint \"%s\" of %s does not exist: skipped (IF EXISTS)",
                 a->constraint_name, tbl);
        } else {
            ERROR(c, a->line,
                  xstrdup("check the constraint name, or write DROP CONSTRAINT IF "
                          "EXISTS"),
                  "constraint \"%s\" of relation %s does not exist", a->constraint_name, tbl);
        }
        goto done;
    }
    if (!from_file && cf && cf->type != 'c' && cf->type != 'f' && !c->m->contract) {
        REFUSE(c, a->line,
               xstrdup("today: deploy an application version that no longer relies on it (ON "
                       "CONFLICT, foreign keys referencing it), then put `-- convoy:contract` "
                       "at the top of this file"),
               "dropping %s constraint \"%s\" can break the running application",
               cf->type == 'u'   ? "UNIQUE"
               : cf->type == 'p' ? "PRIMARY KEY"
                                 : "this",
               a->constraint_name);
        goto done;
    }
    s = step_add(
        c, STEP_DDL, PHASE_EXPAND, xstrdup(a->stmt_sql),
        xasprintf("drop constraint %s: metadata only, relaxes a rule", a->constraint_name));
    step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
    s->est_ms = 0;
    if (!c->f->live)
        c->p->assumptions = xrealloc(c->p->assumptions, (c->p->n_assumptions + 1) * sizeof(char *)),
        c->p->assumptions[c->p->n_assumptions++] =
            xasprintf("constraint %s is assumed to be a CHECK or FOREIGN KEY (connect with --db "
                      "to check)",
                      a->constraint_name);
done:
    free(tbl);
}

#define SMALL_TABLE_ROWS  10000 /* a table this small is changed as written */
#define SMALL_CHANGE_ROWS 20000 /* so is a change the server estimates this small */

/*
 * A file's own UPDATE or DELETE. Small ones (a small table, or a WHERE that pins the
 * primary key) run as written; a large UPDATE becomes a batched, checkpointed pass with its
 * WHERE kept as a guard, a large DELETE a batched delete: the same rows end up changed as
 * under psql, without holding every row lock until one commit.
 */
static void
plan_update(ctx_t *c, const action_t *a)
{
    const table_fact_t *t = table_of(c, &a->table);
    char *tbl = NULL;
    bool small = a->table_is_new, by_pk = false;
    int64_t est_change = -1;
    step_t *s;
    int uid;

    if (!a->table_is_new && !table_known(c, a, &a->table))
        return;
    tbl = table_sql(c, &a->table);
    if (c->f->live && t && t->exists && !small) {
        by_pk = t->n_pk > 0;
        for (size_t k = 0; by_pk && k < t->n_pk; k++) {
            bool pinned = false;
            for (size_t i = 0; i < a->n_where_eq && !pinned; i++)
                pinned = strcmp(a->where_eq[i], t->pk_cols[k]) == 0;
            by_pk = pinned;
        }
        {
            size_t idx = (size_t)(a - c->m->actions);
            int64_t est = c->f->est_rows && idx < c->f->n_est_rows ? c->f->est_rows[idx] : -1;
            small = by_pk || (t->rows >= 0 && t->rows <= SMALL_TABLE_ROWS) ||
                    (est >= 0 && est <= SMALL_CHANGE_ROWS);
            if (est >= 0)
                est_change = est;
        }
    }
    if (small) {
        s = step_add(c, STEP_PASSTHROUGH, PHASE_EXPAND, xstrdup(a->stmt_sql),
                     by_pk
                         ? xasprintf("small data change by primary key on %s: runs as written", tbl)
                         : xasprintf("small data change on %s (about %lld rows): runs as "
                                     "written",
                                     tbl,
                                     (long long)(est_change >= 0 ? est_change
                                                 : t             ? t->rows
                                                                 : 0)));
        step_lock(s, tbl, LOCK_ROW_EXCLUSIVE);
        s->est_ms = 0;
        goto done;
    }
    if (!a->is_delete && !a->batchable) {
        REFUSE(c, a->line,
               xasprintf("write it as UPDATE %s SET column = expression [WHERE ...] without FROM, "
                         "RETURNING or multi-column assignment: convoy then runs it in "
                         "checkpointed batches",
                         tbl),
               "this UPDATE touches a large table in one transaction (row locks on every row "
               "until commit, a WAL flood that leaves replicas behind), and its form cannot be "
               "split into batches");
        goto done;
    }
    uid = plan_backfill_step(c, a, tbl, a->column ? a->column : "", a->set_sql ? a->set_sql : "",
                             PHASE_BACKFILL, false);
    if (uid == 0)
        goto done;
    s = step_at(c, uid);
    free(s->sql);
    free(s->summary);
    s->set_sql = a->is_delete ? NULL : xstrdup(a->set_sql);
    s->where_sql = a->where_sql ? xstrdup(a->where_sql) : NULL;
    s->delete_rows = a->is_delete;
    s->sql = xstrdup(a->stmt_sql);
    s->summary = xasprintf(
        "%s in checkpointed batches by primary key%s%s", a->is_delete ? "DELETE" : "UPDATE",
        a->where_sql ? ", guarded by WHERE " : "", a->where_sql ? a->where_sql : "");
done:
    free(tbl);
}

/* Is a constraint name taken on the table (constraints, indexes) or earlier in the file? */
static bool
constraint_name_taken(ctx_t *c, const table_fact_t *t, size_t idx, const char *name)
{
    for (size_t i = 0; t && t->exists && i < t->n_constraints; i++)
        if (strcmp(t->constraints[i].name, name) == 0)
            return true;
    for (size_t i = 0; t && t->exists && i < t->n_indexes; i++)
        if (strcmp(t->indexes[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < idx; i++) {
        const action_t *o = &c->m->actions[i];
        if ((c->con_names[i] && strcmp(c->con_names[i], name) == 0) ||
            (o->index_name && strcmp(o->index_name, name) == 0))
            return true;
    }
    return false;
}

/*
 * ChooseConstraintName: an unnamed constraint gets table_cols_label, or label1, label2, ...
 * when that is taken, in file order. A named one keeps its name.
 */
static void
choose_constraint_names(ctx_t *c)
{
    c->con_names = xcalloc(c->m->n_actions ? c->m->n_actions : 1, sizeof(char *));
    for (size_t i = 0; i < c->m->n_actions; i++) {
        const action_t *a = &c->m->actions[i];
        const table_fact_t *t;
        if (a->constraint_name == NULL)
            continue;
        if (a->name_given || a->name_label == NULL || !c->f->live) {
            c->con_names[i] = xstrdup(a->constraint_name);
            continue;
        }
        t = table_of(c, &a->table);
        for (int k = 0; c->con_names[i] == NULL; k++) {
            char label[24];
            char *name;
            snprintf(label, sizeof(label), k ? "%s%d" : "%s", a->name_label, k);
            name = migration_object_name(a->table.name, a->name_parts, a->n_name_parts, label);
            if (constraint_name_taken(c, t, i, name))
                free(name);
            else
                c->con_names[i] = name;
        }
    }
}

/* The name a constraint action gets. */
static const char *
con_name(ctx_t *c, const action_t *a)
{
    size_t i = (size_t)(a - c->m->actions);
    return c->con_names && c->con_names[i] ? c->con_names[i] : a->constraint_name;
}

static void
plan_action(ctx_t *c, size_t idx)
{
    const action_t *a = &c->m->actions[idx];

    bool earlier_change = false;

    for (size_t i = 0; i < idx && !earlier_change; i++)
        earlier_change =
            c->m->actions[i].kind != ACT_IGNORE && c->m->actions[i].kind != ACT_SET_HONOURED;
    /* first change of the file: the executor's pre-check stops it (count, sample, exit 6)
     * before anything changes; later in a file, earlier steps would already have run */
    if (earlier_change && c->f->violations && idx < c->f->n_violations &&
        c->f->violations[idx] > 0) {
        /* psql would fail the whole file here and change nothing: so does convoy */
        char *tbl = table_sql(c, &a->table);
        if (a->kind == ACT_ADD_CHECK)
            ERROR(c, a->line,
                  xasprintf("fix those rows first (find them with SELECT * FROM %s WHERE NOT "
                            "(...)), then apply again",
                            tbl),
                  "%lld existing rows of %s break %s: psql would fail this file and change "
                  "nothing, so convoy changes nothing",
                  (long long)c->f->violations[idx], tbl, a->constraint_sql);
        else
            ERROR(c, a->line, xstrdup("remove the duplicates first, then apply again"),
                  "%lld values are duplicated in %s for the unique index %s: psql would fail "
                  "this file and change nothing, so convoy changes nothing",
                  (long long)c->f->violations[idx], tbl,
                  a->index_name ? a->index_name : con_name(c, a));
        free(tbl);
        return;
    }
    const table_fact_t *t = NULL;
    char *tbl = NULL, *col = NULL;
    step_t *s;

    switch (a->kind) {
    case ACT_ADD_COLUMN:
        plan_add_column(c, idx, a);
        return;
    case ACT_ADD_CHECK:
        plan_check(c, a);
        return;
    case ACT_ADD_FK:
        plan_fk(c, a);
        return;
    case ACT_ADD_UNIQUE:
        plan_unique(c, a);
        return;
    case ACT_REFUSE:
        REFUSE(c, a->line, a->fix ? xstrdup(a->fix) : NULL, "%s", a->reason);
        return;
    case ACT_IGNORE:
        WARN(c, a->line, NULL, "%s", a->reason);
        return;
    case ACT_PASSTHROUGH:
        if (a->only_index && c->f->live) {
            const table_fact_t *pt = table_of(c, &a->table);
            if (pt && pt->exists && !pt->partitioned) {
                REFUSE(c, a->line,
                       xstrdup("write CREATE INDEX CONCURRENTLY: on a table that is not "
                               "partitioned, ON ONLY builds the whole index"),
                       "CREATE INDEX ... ON ONLY on a table that is not partitioned builds the "
                       "index under SHARE, blocking writes for the whole build");
                return;
            }
        }
        s = step_add(c, STEP_PASSTHROUGH, PHASE_EXPAND, xstrdup(a->stmt_sql),
                     xstrdup(a->reason ? a->reason : "harmless statement, run as written"));
        s->est_ms = 0;
        s->transactional = !a->concurrent;
        s->scans = a->scans;
        if (a->table.name && !(a->table_is_new && a->ref_table.name)) {
            tbl = table_sql(c, &a->table);
            step_lock(s, tbl, a->lock >= 0 ? (lock_mode_t)a->lock : LOCK_ACCESS_EXCLUSIVE);
        }
        if (a->ref_table.name) {
            /* the other table it locks: a partition's parent, a partition being attached */
            char *other = qname_sql(&a->ref_table);
            step_lock(s, other, LOCK_ACCESS_EXCLUSIVE);
            free(other);
        }
        free(tbl);
        return;
    case ACT_SET_HONOURED:
        return;
    case ACT_DROP_CONSTRAINT:
        plan_drop_constraint(c, a);
        return;
    case ACT_UPDATE:
        plan_update(c, a);
        return;
    case ACT_CONTRACT: {
        const table_fact_t *ct = a->table.name ? table_of(c, &a->table) : NULL;
        if (c->f->live && a->missing_ok && a->table.name && (ct == NULL || !ct->exists)) {
            char *name = qname_sql(&a->table);
            WARN(c, a->line, NULL, "relation %s does not exist: skipped (IF EXISTS)", name);
            free(name);
            return;
        }
        if (c->f->live && a->missing_ok && a->column && !a->rename_to && ct && ct->exists &&
            !facts_column(ct, a->column)) {
            WARN(c, a->line, NULL, "column %s does not exist: skipped (IF EXISTS)", a->column);
            return;
        }
        if (a->rename_to && c->m->expand && !c->m->contract) {
            plan_rename_expand(c, a);
            return;
        }
        if (!c->m->contract) {
            REFUSE(c, a->line, a->fix ? xstrdup(a->fix) : NULL, "%s", a->reason);
            return;
        }
        if (a->column && c->f->live && ct && plan_rename_contract(c, a, ct))
            return;
        s = step_add(c, STEP_PASSTHROUGH, PHASE_EXPAND, xstrdup(a->stmt_sql),
                     xstrdup("contract change (-- convoy:contract): metadata only, brief ACCESS "
                             "EXCLUSIVE"));
        s->est_ms = 0;
        if (a->table.name) {
            tbl = table_sql(c, &a->table);
            step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        }
        free(tbl);
        return;
    }
    default:
        break;
    }

    /* The remaining kinds all act on an existing table. */
    if (a->table.name && a->kind != ACT_DROP_INDEX) {
        if (!table_known(c, a, &a->table))
            return;
        t = table_of(c, &a->table);
        tbl = table_sql(c, &a->table);
    }
    if (a->column) {
        if (!column_known(c, a, &a->table, a->column))
            goto done;
        col = ident_sql(a->column);
    }
    switch (a->kind) {
    case ACT_ATTACH_INDEX: {
        char *con = a->constraint_name ? ident_sql(a->constraint_name) : NULL;
        char *ix = ident_sql(a->index_name);
        s = step_add(c, STEP_DDL, PHASE_INDEX,
                     xasprintf("ALTER TABLE %s ADD %s%s%s%s", tbl, con ? "CONSTRAINT " : "",
                               con ? con : "", con ? " " : "", a->constraint_sql),
                     xasprintf("attach existing index %s as a constraint: metadata only", ix));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        free(con);
        free(ix);
        break;
    }
    case ACT_VALIDATE: {
        char *con = ident_sql(con_name(c, a));
        s = validate_step(c, PHASE_CONSTRAINT, tbl, con, t);
        free(con);
        break;
    }
    case ACT_SET_DEFAULT:
        s = step_add(c, STEP_DDL, PHASE_EXPAND,
                     a->default_sql
                         ? xasprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", tbl, col,
                                     a->default_sql)
                         : xasprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", tbl, col),
                     xasprintf("%s default of %s: affects new rows only",
                               a->default_sql ? "set" : "drop", col));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        break;
    case ACT_DROP_NOT_NULL:
        s = step_add(c, STEP_DDL, PHASE_EXPAND,
                     xasprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", tbl, col),
                     xasprintf("drop NOT NULL on %s: metadata only", col));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        break;
    case ACT_SET_NOT_NULL: {
        const column_fact_t *cf = t ? facts_column(t, a->column) : NULL;
        if (cf && cf->not_null) {
            WARN(c, a->line, NULL, "%s is already NOT NULL: nothing to do", col);
            break;
        }
        plan_not_null(c, a, tbl, col, t);
        break;
    }
    case ACT_ALTER_TYPE: {
        const type_fact_t *tf = facts_type(c->f, idx);
        if (tf && tf->error) {
            ERROR(c, a->line, NULL, "the server rejected the type change of %s: %s", col,
                  tf->error);
            break;
        }
        if (!c->f->live || tf == NULL || !tf->probed || tf->rewrites) {
            REFUSE(c, a->line,
                   xasprintf("expand/contract: `ALTER TABLE %s ADD COLUMN new_%s %s;` with "
                             "`-- convoy:backfill new_%s = %s%s%s`, move the application to "
                             "it, then in a later file with `-- convoy:contract`: `ALTER TABLE %s "
                             "DROP COLUMN %s;` and `ALTER TABLE %s RENAME COLUMN new_%s TO %s;`",
                             tbl, a->column, a->type_sql, a->column,
                             a->using_sql ? a->using_sql : col, a->using_sql ? "" : "::",
                             a->using_sql ? "" : a->type_sql, tbl, col, tbl, a->column, col),
                   "changing %s to %s %s the table under ACCESS EXCLUSIVE%s", col, a->type_sql,
                   c->f->live ? "rewrites" : "may rewrite",
                   c->f->live ? "" : " (no database given to prove it is binary-coercible)");
            break;
        }
        s = step_add(c, STEP_DDL, PHASE_EXPAND,
                     xasprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s%s", tbl, col, a->type_sql,
                               a->using_sql ? " USING " : "", a->using_sql ? a->using_sql : ""),
                     xasprintf("change %s to %s: binary-coercible, no rewrite (checked by the "
                               "server)",
                               col, a->type_sql));
        step_lock(s, tbl, LOCK_ACCESS_EXCLUSIVE);
        s->est_ms = 0;
        break;
    }
    case ACT_CREATE_INDEX: {
        char *name = NULL, *sql;
        for (size_t i = 0; i < a->n_cols; i++)
            if (!column_known(c, a, &a->table, a->cols[i]))
                goto done;
        if (!a->index_name_given) {
            /* ChooseRelationName: the first of name, name1, name2, ... not taken */
            for (int k = 0; name == NULL; k++) {
                char label[16];
                snprintf(label, sizeof(label), k ? "idx%d" : "idx", k);
                name = migration_object_name(a->table.name, a->name_parts, a->n_name_parts, label);
                if (index_name_taken(c, t, a, name)) {
                    free(name);
                    name = NULL;
                }
            }
        } else {
            name = xstrdup(a->index_name);
            if (c->f->live && t && index_name_taken(c, t, a, name)) {
                if (a->missing_ok) {
                    WARN(c, a->line, NULL, "index %s already exists: skipped (IF NOT EXISTS)",
                         name);
                } else {
                    ERROR(c, a->line, xstrdup("choose another index name or drop the old index"),
                          "relation \"%s\" already exists", name);
                }
                free(name);
                goto done;
            }
        }
        if (t && t->exists && t->partitioned) {
            plan_partitioned_index(c, a, t, tbl, name);
            free(name);
            break;
        }
        {
            char *q = ident_sql(name);
            sql = str_replace_once(a->index_sql, MIGRATION_INDEX_NAME_SLOT, q);
            free(q);
        }
        s = step_add(c, STEP_INDEX, PHASE_INDEX, sql,
                     xasprintf("build %sindex %s concurrently, after any backfill: reads and "
                               "writes continue",
                               a->unique ? "unique " : "", name));
        s->index_name = name;
        s->missing_ok = a->missing_ok;
        s->index_schema = t && t->exists ? xstrdup(t->schema) : NULL;
        s->table_sql = xstrdup(tbl);
        step_lock(s, tbl, LOCK_SHARE_UPDATE_EXCLUSIVE);
        s->scans = true;
        s->est_ms = est_scan(t, INDEX_BYTES_PER_S);
        break;
    }
    case ACT_DROP_INDEX: {
        char kind = c->f->index_kind && idx < c->f->n_index_kind ? c->f->index_kind[idx] : 0;
        if (kind == '-' && !a->missing_ok) {
            ERROR(c, a->line,
                  xstrdup("check the index name (and schema), or write DROP INDEX IF "
                          "EXISTS"),
                  "index \"%s\" does not exist", a->index_name);
            break;
        }
        if (kind == 'I') {
            /* a partitioned index cannot be dropped CONCURRENTLY: brief, under lock_timeout */
            s = step_add(c, STEP_DDL, PHASE_INDEX,
                         str_replace_once(a->index_sql, "DROP INDEX CONCURRENTLY", "DROP INDEX"),
                         xasprintf("drop partitioned index %s (and its partitions' indexes): "
                                   "catalog only, brief ACCESS EXCLUSIVE",
                                   a->index_name));
            {
                char *ix = ident_sql(a->index_name);
                char *what = xasprintf("table of index %s", ix);
                step_lock(s, what, LOCK_ACCESS_EXCLUSIVE);
                free(what);
                free(ix);
            }
            s->est_ms = 0;
            break;
        }
    }
        s = step_add(c, STEP_DROP_INDEX, PHASE_INDEX, xstrdup(a->index_sql),
                     xasprintf("drop index %s concurrently", a->index_name));
        s->index_name = xstrdup(a->index_name);
        s->missing_ok = a->missing_ok;
        s->index_schema = a->table.schema ? xstrdup(a->table.schema) : NULL;
        {
            /* SHARE UPDATE EXCLUSIVE on the index's table; name the index, the table is implicit */
            char *ix = ident_sql(a->index_name);
            char *what = xasprintf("table of index %s", ix);
            step_lock(s, what, LOCK_SHARE_UPDATE_EXCLUSIVE);
            free(what);
            free(ix);
        }
        s->est_ms = 0;
        break;
    default:
        break;
    }
done:
    free(tbl);
    free(col);
}

void
plan_build(const migration_t *m, const facts_t *facts, plan_t *out)
{
    ctx_t c = {m, facts, out, 0, 0, 0, NULL};
    step_t *sorted;

    memset(out, 0, sizeof(*out));
    out->name = xstrdup(m->name);
    out->live = facts->live;
    out->server_desc = facts->server_desc ? xstrdup(facts->server_desc) : NULL;
    out->lock_timeout_ms = m->lock_timeout_ms ? m->lock_timeout_ms : PLAN_DEFAULT_LOCK_TIMEOUT_MS;
    out->batch_target_ms = m->batch_target_ms ? m->batch_target_ms : PLAN_DEFAULT_BATCH_TARGET_MS;
    out->backfill_workers = m->backfill_workers > 0 ? m->backfill_workers : 1;
    out->statement_timeout_ms =
        m->statement_timeout_ms ? m->statement_timeout_ms : PLAN_DEFAULT_STATEMENT_TIMEOUT_MS;
    retry_policy_default(&out->retry);
    out->search_path = m->search_path ? xstrdup(m->search_path) : NULL;
    out->contract_of = m->contract_of ? xstrdup(m->contract_of) : NULL;
    out->app_version = m->app_version ? xstrdup(m->app_version) : NULL;
    out->contract_hold_ms =
        m->contract_hold_ms >= 0 ? m->contract_hold_ms : PLAN_DEFAULT_CONTRACT_HOLD_MS;
    out->window = m->window ? xstrdup(m->window) : NULL;
    out->risk_threshold = m->risk_threshold >= 0 ? m->risk_threshold : PLAN_DEFAULT_RISK_THRESHOLD;
    out->risk_measured = m->risk_measured;
    for (size_t i = 0; i < m->n_cache_rules; i++) {
        const cache_rule_t *r = &m->cache_rules[i];
        char ***v = r->kind == CACHE_BUMP ? &out->cache_bump : &out->cache_purge;
        size_t *n = r->kind == CACHE_BUMP ? &out->n_cache_bump : &out->n_cache_purge;
        if (r->kind == CACHE_KEY)
            continue;
        *v = xrealloc(*v, (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(r->arg);
    }
    if (!facts->live) {
        out->assumptions = xcalloc(1, sizeof(char *));
        out->assumptions[0] = xstrdup(
            "no database given: assuming PostgreSQL 15, existing tables that are non-empty and of "
            "unknown size; defaults count as volatile only when they call a known volatile "
            "function (random(), clock_timestamp(), gen_random_uuid(), nextval(), ...)");
        out->n_assumptions = 1;
    }
    for (size_t i = 0; i < m->n_backfills; i++) {
        const backfill_directive_t *b = &m->backfills[i];
        bool found = false;
        for (size_t k = 0; k < m->n_actions && !found; k++) {
            const action_t *a = &m->actions[k];
            found = a->kind == ACT_ADD_COLUMN && strcmp(a->column, b->column) == 0 &&
                    (b->table == NULL || strcmp(b->table, a->table.name) == 0);
        }
        if (!found)
            ERROR(&c, b->line,
                  xstrdup("a backfill directive must name a column that this file adds with "
                          "ADD COLUMN"),
                  "convoy:backfill names column \"%s\", but no ADD COLUMN in this file adds it",
                  b->column);
    }
    choose_constraint_names(&c);
    for (size_t i = 0; i < m->n_actions; i++) {
        c.line = m->actions[i].line;
        c.stmt = (int)i;
        plan_action(&c, i);
    }
    strv_free(c.con_names, m->n_actions);
    warn_keys_without_backfill(&c);
    if (out->n_steps == 0 && out->n_refusals == 0 && out->n_errors == 0)
        WARN(&c, 1, NULL, "nothing to do: the file contains no schema change");

    /*
     * Statements run in file order, as psql runs them; the steps of one statement run in
     * phase order (its fill before its trigger, its trigger before its catch-up, ...).
     * Steps come out of the planner grouped by statement, so a stable counting sort by
     * phase inside each statement's run of steps is all it takes.
     */
    {
        int *pos_of_uid = xcalloc(out->n_steps + 1, sizeof(int));
        step_t *by_phase = xcalloc(out->n_steps ? out->n_steps : 1, sizeof(step_t));

        for (size_t lo = 0, hi; lo < out->n_steps; lo = hi) {
            size_t start[PHASE_CLEANUP + 2] = {0};
            for (hi = lo; hi < out->n_steps && out->steps[hi].stmt == out->steps[lo].stmt; hi++)
                start[out->steps[hi].phase + 1]++;
            start[0] = lo;
            for (int ph = 1; ph <= PHASE_CLEANUP + 1; ph++)
                start[ph] += start[ph - 1];
            for (size_t i = lo; i < hi; i++) {
                size_t at = start[out->steps[i].phase]++;
                by_phase[at] = out->steps[i];
                pos_of_uid[out->steps[i].uid] = (int)at + 1;
            }
        }
        free(out->steps);
        out->steps = sorted = by_phase;
        /* Links were made by uid; from here on they are 1-based step numbers. */
        for (size_t i = 0; i < out->n_steps; i++) {
            int *links[3] = {&sorted[i].requires, &sorted[i].final_step, &sorted[i].fill_step};
            for (int k = 0; k < 3; k++)
                *links[k] =
                    *links[k] > 0 && (size_t)*links[k] <= out->n_steps ? pos_of_uid[*links[k]] : 0;
        }
        free(pos_of_uid);
    }
}

static void
notes_free(plan_note_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].message);
        free(v[i].fix);
    }
    free(v);
}

void
plan_step_free(step_t *s)
{
    free(s->sql);
    free(s->summary);
    for (int k = 0; k < s->n_locks; k++)
        free(s->locks[k].table);
    free(s->table_sql);
    free(s->column_sql);
    free(s->expr_sql);
    free(s->cache_keys_sql);
    for (size_t k = 0; k < s->n_keys; k++) {
        free(s->key_cols[k]);
        free(s->key_types[k]);
    }
    free(s->key_cols);
    free(s->key_types);
    free(s->count_sql);
    free(s->sample_sql);
    free(s->check_desc);
    free(s->undo_sql);
    free(s->set_sql);
    free(s->where_sql);
    free(s->index_schema);
    free(s->index_name);
    memset(s, 0, sizeof(*s));
}

void
plan_free(plan_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_steps; i++)
        plan_step_free(&p->steps[i]);
    free(p->steps);
    notes_free(p->warnings, p->n_warnings);
    notes_free(p->refusals, p->n_refusals);
    notes_free(p->errors, p->n_errors);
    for (size_t i = 0; i < p->n_assumptions; i++)
        free(p->assumptions[i]);
    free(p->assumptions);
    strv_free(p->cache_bump, p->n_cache_bump);
    strv_free(p->cache_purge, p->n_cache_purge);
    free(p->name);
    free(p->server_desc);
    free(p->search_path);
    free(p->contract_of);
    free(p->app_version);
    free(p->window);
    memset(p, 0, sizeof(*p));
}
