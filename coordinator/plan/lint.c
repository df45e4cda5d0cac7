/* lint.c: the linter: the file's parse tree and convoy's own plan turned into findings. */
#include "convoy/lint.h"

#include "convoy/plan.h"
#include "convoy/quote.h"
#include "convoy/util.h"
#include "lint_int.h"
#include "pgq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A table this file creates: safety rules do not apply to it (it is empty). */
typedef struct {
    char *schema;
    char *name;
    char **cols; /* its columns and their deparsed types, for later type changes */
    char **types;
    size_t n_cols;
} new_table_t;

typedef struct {
    size_t start; /* byte offset of the first token */
    int line, col;
} stmt_pos_t;

typedef struct {
    const migration_t *m;
    const facts_t *f;
    const lint_config_t *cfg;
    lint_result_t *out;
    const char *text;
    lint_cursor_t cursor; /* offset -> line/column, walking forward */
    plan_t plan;
    bool *refusal_used; /* per plan refusal: already reported by a rule */
    stmt_pos_t *stmts;
    size_t n_stmts;
    size_t *finding_stmt; /* per finding: the statement it belongs to */
    size_t cur;           /* the statement being linted */
    new_table_t *new_tables;
    size_t n_new_tables;
    bool saw_transaction;
} lctx_t;

/* ---------------------------------------------------------------- positions and findings */

void
lint_cursor_pos(lint_cursor_t *c, size_t off, int *line, int *col)
{
    if (off < c->off || c->line == 0) {
        c->off = 0;
        c->line = 1;
        c->col = 1;
    }
    for (; c->off < off && c->text[c->off]; c->off++) {
        unsigned char ch = (unsigned char)c->text[c->off];
        if (ch == '\n') {
            c->line++;
            c->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c->col++; /* a UTF-8 continuation byte does not start a new character */
        }
    }
    *line = c->line;
    *col = c->col;
}

static void
pos_of(lctx_t *c, size_t off, int *line, int *col)
{
    lint_cursor_pos(&c->cursor, off, line, col);
}

static lint_severity_t
rule_severity(const lctx_t *c, lint_rule_index_t r)
{
    return c->cfg->severity[r];
}

static void add_finding(lctx_t *c,
                        lint_rule_index_t r,
                        lint_severity_t sev,
                        int loc,
                        const char *fix,
                        const char *fmt,
                        ...) __attribute__((format(printf, 6, 7)));

/* loc: a byte offset into the file, or -1 for the statement's start. */
static void
add_finding(lctx_t *c,
            lint_rule_index_t r,
            lint_severity_t sev,
            int loc,
            const char *fix,
            const char *fmt,
            ...)
{
    lint_result_t *o = c->out;
    lint_finding_t *f;
    va_list ap;

    if (rule_severity(c, r) == LINT_OFF)
        return;
    o->findings = xrealloc(o->findings, (o->n_findings + 1) * sizeof(*o->findings));
    c->finding_stmt = xrealloc(c->finding_stmt, (o->n_findings + 1) * sizeof(size_t));
    c->finding_stmt[o->n_findings] = c->cur;
    f = &o->findings[o->n_findings++];
    memset(f, 0, sizeof(*f));
    f->rule = lint_rule_at(r);
    f->severity = sev;
    if (loc >= 0 && c->n_stmts > 0) {
        pos_of(c, (size_t)loc, &f->line, &f->col);
    } else if (c->cur < c->n_stmts) {
        f->line = c->stmts[c->cur].line;
        f->col = c->stmts[c->cur].col;
    } else {
        f->line = 1;
        f->col = 1;
    }
    va_start(ap, fmt);
    {
        sb_t sb;
        sb_init(&sb);
        sb_vprintf(&sb, fmt, ap);
        f->message = sb_steal(&sb);
    }
    va_end(ap);
    f->fix = xstrdup(fix ? fix : lint_rule_at(r)->fix);
}

static void
assume(lctx_t *c, const char *text)
{
    lint_result_t *o = c->out;
    for (size_t i = 0; i < o->n_assumptions; i++)
        if (strcmp(o->assumptions[i], text) == 0)
            return;
    o->assumptions = xrealloc(o->assumptions, (o->n_assumptions + 1) * sizeof(char *));
    o->assumptions[o->n_assumptions++] = xstrdup(text);
}

/* ---------------------------------------------------------------- what the plan does */

/* Offline, the planner refuses every type change it cannot prove: the type rule decides. */
static bool
offline_type_refusal(const plan_note_t *n)
{
    return strstr(n->message, "no database given to prove it is binary-coercible") != NULL;
}

/* The first refusal of the current statement not yet reported, or -1. */
static long
stmt_refusal(lctx_t *c)
{
    int line = c->stmts[c->cur].line;
    for (size_t i = 0; i < c->plan.n_refusals; i++)
        if (c->plan.refusals[i].line == line && !c->refusal_used[i] &&
            !offline_type_refusal(&c->plan.refusals[i]))
            return (long)i;
    return -1;
}

/* "a; then b" from the summaries of the current statement's steps; NULL when none. */
static char *
stmt_steps(lctx_t *c)
{
    int line = c->stmts[c->cur].line;
    sb_t sb;
    size_t n = 0;

    sb_init(&sb);
    for (size_t i = 0; i < c->plan.n_steps; i++) {
        if (c->plan.steps[i].line != line)
            continue;
        sb_printf(&sb, "%s%s", n++ ? "; then " : "", c->plan.steps[i].summary);
    }
    if (n == 0) {
        sb_free(&sb);
        return NULL;
    }
    return sb_steal(&sb);
}

/*
 * A lock hazard squawk would flag: reported with what convoy does about it. Refused: an
 * error with the planner's reason and alternative; made safe: the rule's severity and the
 * steps convoy will run instead.
 */
static void
safety(lctx_t *c, lint_rule_index_t r, int loc, const char *what)
{
    long ref;
    char *steps;

    if (rule_severity(c, r) == LINT_OFF)
        return;
    if ((ref = stmt_refusal(c)) >= 0) {
        const plan_note_t *n = &c->plan.refusals[ref];
        c->refusal_used[ref] = true;
        (void)what; /* the planner's reason says it more precisely */
        add_finding(c, r, LINT_ERROR, loc, n->fix ? n->fix : lint_rule_at(r)->fix,
                    "convoy refuses this: %s", n->message);
        return;
    }
    steps = stmt_steps(c);
    if (steps)
        add_finding(c, r, rule_severity(c, r), loc, NULL, "%s; convoy will run this as: %s", what,
                    steps);
    else
        add_finding(c, r, rule_severity(c, r), loc, NULL, "%s", what);
    free(steps);
}

/* ---------------------------------------------------------------- tables */

static bool
same_name(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool
same_schema(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a == NULL || strcmp(a, "public") == 0) && (b == NULL || strcmp(b, "public") == 0);
    return strcmp(a, b) == 0;
}

static const char *
rv_schema(const PgQuery__RangeVar *rv)
{
    return PGQ_STR_SET(rv->schemaname) ? rv->schemaname : NULL;
}

static new_table_t *
new_table(lctx_t *c, const PgQuery__RangeVar *rv)
{
    for (size_t i = 0; rv && i < c->n_new_tables; i++)
        if (same_name(c->new_tables[i].name, rv->relname) &&
            same_schema(c->new_tables[i].schema, rv_schema(rv)))
            return &c->new_tables[i];
    return NULL;
}

/* What the catalog (or the schema file) says about the table, or NULL. */
static const table_fact_t *
table_facts(const lctx_t *c, const PgQuery__RangeVar *rv)
{
    const table_fact_t *t = facts_table(c->f, rv_schema(rv), rv->relname);

    for (size_t i = 0; t == NULL && i < c->f->n_tables; i++)
        if (same_name(c->f->tables[i].name_given, rv->relname) &&
            same_schema(c->f->tables[i].schema_given, rv_schema(rv)))
            t = &c->f->tables[i];
    return t && t->exists ? t : NULL;
}

/* With a database: the table is known to be empty, so nothing is filled or scanned. */
static bool
known_empty(const lctx_t *c, const PgQuery__RangeVar *rv)
{
    const table_fact_t *t = table_facts(c, rv);
    return c->f->live && t && !t->has_rows;
}

static void
remember_table(lctx_t *c, const PgQuery__CreateStmt *cs)
{
    new_table_t *t;

    c->new_tables = xrealloc(c->new_tables, (c->n_new_tables + 1) * sizeof(*c->new_tables));
    t = &c->new_tables[c->n_new_tables++];
    memset(t, 0, sizeof(*t));
    t->schema = rv_schema(cs->relation) ? xstrdup(cs->relation->schemaname) : NULL;
    t->name = xstrdup(cs->relation->relname);
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF || e->column_def->type_name == NULL)
            continue;
        t->cols = xrealloc(t->cols, (t->n_cols + 1) * sizeof(char *));
        t->types = xrealloc(t->types, (t->n_cols + 1) * sizeof(char *));
        t->cols[t->n_cols] = xstrdup(e->column_def->colname);
        t->types[t->n_cols++] = pgq_deparse_type(e->column_def->type_name);
    }
}

/* ---------------------------------------------------------------- types */

static const char *
type_name(const PgQuery__TypeName *tn)
{
    const char *n = tn ? pgq_last_name(tn->names, tn->n_names) : NULL;
    if (n == NULL)
        return "";
    if (tn->n_names > 2)
        return "";
    if (tn->n_names == 2 &&
        strcmp(pgq_node_str(tn->names[0]) ? pgq_node_str(tn->names[0]) : "", "pg_catalog") != 0)
        return ""; /* a user type that happens to share the name */
    return n;
}

static bool
type_is(const PgQuery__TypeName *tn, const char *const *names)
{
    const char *n = type_name(tn);
    for (size_t i = 0; names[i]; i++)
        if (strcmp(n, names[i]) == 0)
            return true;
    return false;
}

static const char *const t_small_int[] = {"int4",    "int2",        "serial",  "serial4",
                                          "serial2", "smallserial", "integer", "smallint",
                                          "int",     NULL};
static const char *const t_serial[] = {"serial",      "serial4", "serial8", "bigserial",
                                       "smallserial", "serial2", NULL};
static const char *const t_timestamp[] = {"timestamp", NULL};
static const char *const t_json[] = {"json", NULL};
static const char *const t_char[] = {"bpchar", NULL};
static const char *const t_varchar[] = {"varchar", NULL};
static const char *const t_money[] = {"money", NULL};
static const char *const t_float[] = {"float4", "float8", NULL};
static const char *const t_bool[] = {"bool", NULL};

/* Name parts (split on '_') that mark an amount of money. */
static bool
looks_like_amount(const char *name)
{
    static const char *const words[] = {
        "amount",  "amt",    "price",   "cost",   "total",  "balance", "fee",      "fees",
        "tax",     "salary", "payment", "charge", "credit", "debit",   "subtotal", "discount",
        "revenue", "budget", "wage",    "refund", "paid",   NULL};
    const char *p = name;

    while (*p) {
        size_t n = strcspn(p, "_");
        for (size_t i = 0; words[i]; i++)
            if (strlen(words[i]) == n && strncmp(words[i], p, n) == 0)
                return true;
        p += n;
        if (*p == '_')
            p++;
    }
    return false;
}

/* ---------------------------------------------------------------- names */

static bool
simple_lower(const char *s)
{
    if (!(islower((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '$'))
            return false;
    return true;
}

/* Rules on a name this file gives to a new object; `what` is "column", "table", ... */
static void
check_name(lctx_t *c, const char *name, const char *what, int loc)
{
    size_t len;
    const char *p;

    if (!PGQ_STR_SET(name))
        return;
    len = strlen(name);
    if (len > IDENT_MAX_BYTES) {
        add_finding(c, LR_NAME_LONG, rule_severity(c, LR_NAME_LONG), loc, NULL,
                    "%s name `%s` is %zu bytes: PostgreSQL truncates it to 63 (`%.*s`)", what, name,
                    len, (int)ident_clip_len(name, IDENT_MAX_BYTES), name);
        return;
    }
    if (!simple_lower(name)) {
        char *q = ident_sql(name);
        add_finding(c, LR_NAME_MIXED_CASE, rule_severity(c, LR_NAME_MIXED_CASE), loc, NULL,
                    "%s name %s must be double-quoted in every query", what, q);
        free(q);
        return;
    }
    {
        char *q = ident_sql(name);
        bool quoted = q[0] == '"';
        free(q);
        if (quoted) {
            add_finding(c, LR_NAME_RESERVED, rule_severity(c, LR_NAME_RESERVED), loc, NULL,
                        "%s name `%s` is an SQL keyword: it must be double-quoted in queries", what,
                        name);
            return;
        }
    }
    if (len <= 2 && !lint_word_in(c->cfg->short_ok, c->cfg->n_short_ok, name, len)) {
        add_finding(c, LR_NAME_SHORT, rule_severity(c, LR_NAME_SHORT), loc, NULL,
                    "%s name `%s` is %zu character%s: it does not say what it holds", what, name,
                    len, len == 1 ? "" : "s");
        return;
    }
    /* index and constraint names follow their own conventions (_idx, _fkey, fk_) */
    if (strcmp(what, "index") == 0 || strcmp(what, "constraint") == 0)
        return;
    for (p = name; *p;) {
        size_t n = strcspn(p, "_");
        const char *e = n ? lint_config_abbrev(c->cfg, p, n) : NULL;
        if (e != NULL) {
            const char *eq = strchr(e, '=');
            add_finding(c, LR_NAME_ABBREV, rule_severity(c, LR_NAME_ABBREV), loc, NULL,
                        "%s name `%s`: `%.*s` is an abbreviation%s%s", what, name, (int)n, p,
                        eq ? "; write " : "", eq ? eq + 1 : "");
            return;
        }
        p += n;
        if (*p == '_')
            p++;
    }
}

static bool
bool_name_ok(const lctx_t *c, const char *name)
{
    size_t first = strcspn(name, "_");
    const char *last = strrchr(name, '_');
    size_t n;

    last = last ? last + 1 : name;
    n = strlen(last);
    if (name[first] == '_' &&
        lint_word_in(c->cfg->bool_prefixes, c->cfg->n_bool_prefixes, name, first))
        return true;
    if (lint_word_in(c->cfg->bool_words, c->cfg->n_bool_words, last, n) ||
        lint_word_in(c->cfg->bool_words, c->cfg->n_bool_words, name, strlen(name)))
        return true;
    /* participles and -able adjectives: archived, confirmed, editable, visible */
    if ((n > 3 && strcmp(last + n - 2, "ed") == 0) ||
        (n > 5 && (strcmp(last + n - 4, "able") == 0 || strcmp(last + n - 4, "ible") == 0)))
        return true;
    return false;
}

/* ---------------------------------------------------------------- expressions */

static bool
find_time_call(const ProtobufCMessage *msg, void *arg)
{
    static const char *const funcs[] = {
        "now", "statement_timestamp", "transaction_timestamp", "clock_timestamp", "timeofday",
        NULL};
    if (msg->descriptor == &pg_query__func_call__descriptor) {
        const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)msg;
        const char *name = pgq_last_name(fc->funcname, fc->n_funcname);
        for (size_t i = 0; name && funcs[i]; i++)
            if (strcmp(name, funcs[i]) == 0) {
                *(const char **)arg = funcs[i];
                return false;
            }
    } else if (msg->descriptor == &pg_query__sqlvalue_function__descriptor) {
        const PgQuery__SQLValueFunction *v = (const PgQuery__SQLValueFunction *)msg;
        if (v->op >= PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE &&
            v->op <= PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N) {
            *(const char **)arg = "CURRENT_TIMESTAMP";
            return false;
        }
    }
    return true;
}

/* The current-time function the expression calls (now, CURRENT_TIMESTAMP, ...), or NULL. */
static const char *
time_call(const PgQuery__Node *e)
{
    const char *found = NULL;
    if (e)
        pgq_walk(&e->base, find_time_call, &found);
    return found;
}

static bool
is_null_const(const PgQuery__Node *e)
{
    return e && e->node_case == PG_QUERY__NODE__NODE_A_CONST && e->a_const->isnull;
}

static const backfill_directive_t *
backfill_for(const lctx_t *c, const char *table, const char *column)
{
    for (size_t i = 0; i < c->m->n_backfills; i++) {
        const backfill_directive_t *b = &c->m->backfills[i];
        if (strcmp(b->column, column) == 0 && (b->table == NULL || strcmp(b->table, table) == 0))
            return b;
    }
    return NULL;
}

/* ---------------------------------------------------------------- columns */

typedef struct {
    const PgQuery__RangeVar *table;
    bool table_new;
    bool adding;       /* ALTER TABLE ... ADD COLUMN (else CREATE TABLE) */
    bool key;          /* in the PRIMARY KEY or a FOREIGN KEY of the statement */
    int siblings;      /* other non-key columns of the table (or this statement) */
    int siblings_null; /* ... that are nullable */
} col_ctx_t;

/* The column's constraints, folded. */
typedef struct {
    bool not_null, primary, foreign, identity, generated, check, unique;
    const PgQuery__Node *def;
    int def_loc;
} col_cons_t;

static col_cons_t
column_constraints(const PgQuery__ColumnDef *cd)
{
    col_cons_t k = {0};

    k.not_null = cd->is_not_null;
    k.def = cd->raw_default;
    k.def_loc = cd->location;
    k.identity = PGQ_STR_SET(cd->identity);
    k.generated = PGQ_STR_SET(cd->generated);
    for (size_t i = 0; i < cd->n_constraints; i++) {
        const PgQuery__Node *n = cd->constraints[i];
        const PgQuery__Constraint *ct;
        if (n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
            continue;
        ct = n->constraint;
        switch (ct->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
            k.not_null = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
            k.primary = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
            k.foreign = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
            k.def = ct->raw_expr;
            k.def_loc = ct->location;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
            k.identity = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
            k.generated = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
            k.check = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
            k.unique = true;
            break;
        default:
            break;
        }
    }
    if (is_null_const(k.def))
        k.def = NULL;
    return k;
}

static bool
name_is_key(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "id") == 0 || (n > 3 && strcmp(name + n - 3, "_id") == 0);
}

static void
check_column_types(lctx_t *c,
                   const PgQuery__ColumnDef *cd,
                   const col_ctx_t *cc,
                   const col_cons_t *k)
{
    const PgQuery__TypeName *tn = cd->type_name;
    int loc = tn && tn->location >= 0 ? tn->location : cd->location;
    const char *name = cd->colname;
    char *ty;

    if (tn == NULL)
        return;
    ty = pgq_deparse_type((PgQuery__TypeName *)tn);
    if (type_is(tn, t_timestamp))
        add_finding(c, LR_TIMESTAMP, rule_severity(c, LR_TIMESTAMP), loc, NULL,
                    "column `%s` is %s (without time zone)", name, ty ? ty : "timestamp");
    else if (type_is(tn, t_json))
        add_finding(c, LR_JSON, rule_severity(c, LR_JSON), loc, NULL, "column `%s` is json", name);
    else if (type_is(tn, t_char))
        add_finding(c, LR_CHAR, rule_severity(c, LR_CHAR), loc, NULL, "column `%s` is %s", name,
                    ty ? ty : "char(n)");
    else if (type_is(tn, t_varchar) && tn->n_typmods > 0)
        add_finding(c, LR_VARCHAR, rule_severity(c, LR_VARCHAR), loc, NULL,
                    "column `%s` is %s: the length limit is a rule hidden in the type", name,
                    ty ? ty : "varchar(n)");
    else if (type_is(tn, t_money))
        add_finding(c, LR_MONEY_FLOAT, rule_severity(c, LR_MONEY_FLOAT), loc, NULL,
                    "column `%s` is money", name);
    else if (type_is(tn, t_float) && looks_like_amount(name))
        add_finding(c, LR_MONEY_FLOAT, rule_severity(c, LR_MONEY_FLOAT), loc, NULL,
                    "column `%s` looks like an amount but is %s", name, ty ? ty : "a float");
    if (type_is(tn, t_small_int) && tn->n_array_bounds == 0 &&
        (k->primary || k->foreign || cc->key || name_is_key(name)))
        add_finding(
            c, LR_INT_KEY, rule_severity(c, LR_INT_KEY), loc, NULL, "key column `%s` is %s (%s)",
            name, ty ? ty : "integer",
            type_is(tn, (const char *const[]){"int2", "smallint", "smallserial", "serial2", NULL})
                ? "16-bit: at most 32 767"
                : "32-bit: at most 2 147 483 647");
    if (type_is(tn, t_serial))
        add_finding(c, LR_SERIAL, rule_severity(c, LR_SERIAL), loc, NULL,
                    "column `%s` is %s: an owned sequence, not an identity", name,
                    ty ? ty : "serial");
    if (type_is(tn, t_bool) && !bool_name_ok(c, name))
        add_finding(c, LR_BOOLEAN_NAME, rule_severity(c, LR_BOOLEAN_NAME), cd->location, NULL,
                    "boolean column `%s` does not say what true means (is_%s? has_%s?)", name, name,
                    name);
    free(ty);
}

/* paid_at, shipped_on, due_date: NULL means "has not happened", not "unknown". */
static bool
names_an_event(const char *name)
{
    static const char *const suffixes[] = {"_at", "_on", "_date", "_time", NULL};
    size_t n = strlen(name);
    for (size_t i = 0; suffixes[i]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static void
check_nullable(lctx_t *c, const PgQuery__ColumnDef *cd, const col_ctx_t *cc, const col_cons_t *k)
{
    const char *name = cd->colname;
    const char *table = cc->table ? cc->table->relname : "";
    const char *why = NULL;
    char buf[200];

    if (k->not_null || k->primary || k->identity || k->generated ||
        (cd->type_name && type_is(cd->type_name, t_serial)))
        return;
    if (k->def != NULL)
        why = "it has a DEFAULT, so every new row gets a value anyway";
    else if (cc->adding && backfill_for(c, table, name))
        why = "the file backfills it (-- convoy:backfill), so every row gets a value";
    else if (lint_word_in(c->cfg->required_names, c->cfg->n_required_names, name, strlen(name))) {
        snprintf(buf, sizeof(buf), "its name says every row has one");
        why = buf;
    } else if (cc->siblings >= 2 && cc->siblings_null == 0 && !names_an_event(name)) {
        snprintf(buf, sizeof(buf), "every other column of %s is NOT NULL", table);
        why = buf;
    }
    if (why == NULL)
        return;
    add_finding(c, LR_NULLABLE_REQUIRED, rule_severity(c, LR_NULLABLE_REQUIRED), cd->location,
                cc->adding && !cc->table_new
                    ? "add NOT NULL: with a DEFAULT it is metadata only, otherwise add "
                      "`-- convoy:backfill <column> = <expression>` and convoy adds the NOT NULL "
                      "after the backfill without a long lock; or give the reason with "
                      "`-- convoy:allow nullable-required <why>`"
                    : NULL,
                "column `%s` is nullable but looks required: %s", name, why);
}

static void
check_default_now(lctx_t *c, const PgQuery__ColumnDef *cd, const col_ctx_t *cc, const col_cons_t *k)
{
    const char *fn;
    char *fix;

    if (!cc->adding || cc->table_new || k->def == NULL || known_empty(c, cc->table))
        return;
    if ((fn = time_call(k->def)) == NULL || backfill_for(c, cc->table->relname, cd->colname))
        return;
    fix = xasprintf("add `-- convoy:backfill %s = <expression>` (for example created_at, or "
                    "NULL on a nullable column) so existing rows get a value of their own; new "
                    "rows still get the DEFAULT",
                    cd->colname);
    add_finding(c, LR_DEFAULT_NOW, rule_severity(c, LR_DEFAULT_NOW), k->def_loc, fix,
                "DEFAULT %s%s fills every existing row of %s with the migration's time: `%s` of "
                "the old rows will not be true",
                fn, strcmp(fn, "CURRENT_TIMESTAMP") == 0 ? "" : "()", cc->table->relname,
                cd->colname);
    free(fix);
}

/* ADD COLUMN on an existing table: what squawk flags about rewrites and NOT NULL. */
static void
check_add_column_safety(lctx_t *c,
                        const PgQuery__ColumnDef *cd,
                        const col_cons_t *k,
                        const PgQuery__RangeVar *table)
{
    const char *name = cd->colname;
    const char *what = NULL;
    char buf[300];

    if (cd->type_name && type_is(cd->type_name, t_serial))
        what = "serial column: its sequence default is volatile and rewrites the table";
    else if (k->identity)
        what = "identity column: every existing row is rewritten to get a value";
    else if (k->generated)
        what = "GENERATED ... STORED column: every existing row is rewritten";
    else if (k->def && pgq_expr_calls_volatile(k->def)) {
        snprintf(buf, sizeof(buf),
                 "DEFAULT of `%s` is volatile: a plain ADD COLUMN would rewrite the table", name);
        what = buf;
    } else if (k->not_null && k->def == NULL && !known_empty(c, table)) {
        snprintf(buf, sizeof(buf),
                 "ADD COLUMN %s NOT NULL without a DEFAULT fails on existing rows", name);
        what = buf;
    }
    if (what)
        safety(c, LR_ADD_COLUMN_REWRITES, cd->location, what);
    if (k->foreign || k->check)
        safety(c, LR_CONSTRAINT_SCANS, cd->location,
               k->foreign ? "REFERENCES on an existing table validates every row under SHARE ROW "
                            "EXCLUSIVE on both tables"
                          : "CHECK on an existing table scans every row under ACCESS EXCLUSIVE");
    if (k->unique || k->primary)
        safety(c, LR_UNIQUE_INDEX, cd->location,
               "UNIQUE / PRIMARY KEY on an existing table builds its index under ACCESS "
               "EXCLUSIVE");
}

static void
check_column(lctx_t *c, const PgQuery__ColumnDef *cd, const col_ctx_t *cc)
{
    col_cons_t k = column_constraints(cd);

    check_name(c, cd->colname, "column", cd->location);
    check_column_types(c, cd, cc, &k);
    check_nullable(c, cd, cc, &k);
    check_default_now(c, cd, cc, &k);
    if (cc->adding && !cc->table_new)
        check_add_column_safety(c, cd, &k, cc->table);
}

/* ---------------------------------------------------------------- type changes */

typedef struct {
    char base[40];
    long mods[2];
    int n_mods;
} norm_type_t;

/* "character varying(20)", "varchar(20)", "pg_catalog.numeric(10,2)" -> base + mods. */
static void
norm_type(const char *s, norm_type_t *t)
{
    static const struct {
        const char *from, *to;
    } alias[] = {{"character varying", "varchar"},
                 {"character", "bpchar"},
                 {"char", "bpchar"},
                 {"decimal", "numeric"},
                 {"timestamp without time zone", "timestamp"},
                 {"timestamp with time zone", "timestamptz"},
                 {"bit varying", "varbit"},
                 {"integer", "int4"},
                 {"int", "int4"},
                 {"bigint", "int8"},
                 {"smallint", "int2"}};
    size_t n;
    const char *paren;

    memset(t, 0, sizeof(*t));
    if (strncmp(s, "pg_catalog.", 11) == 0)
        s += 11;
    paren = strchr(s, '(');
    n = paren ? (size_t)(paren - s) : strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    snprintf(t->base, sizeof(t->base), "%.*s", (int)n, s);
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (strcmp(t->base, alias[i].from) == 0)
            snprintf(t->base, sizeof(t->base), "%s", alias[i].to);
    while (paren && t->n_mods < 2) {
        char *end;
        long v = strtol(paren + 1, &end, 10);
        if (end == paren + 1)
            break;
        t->mods[t->n_mods++] = v;
        paren = *end == ',' ? end : NULL;
    }
}

/* 1: binary-coercible (no rewrite); 0: rewrites; -1: depends on the session (TimeZone). */
static int
coercible(const char *from, const char *to)
{
    norm_type_t a, b;

    norm_type(from, &a);
    norm_type(to, &b);
    if (strcmp(a.base, b.base) == 0) {
        if (a.n_mods == b.n_mods &&
            (a.n_mods == 0 || (a.mods[0] == b.mods[0] && (a.n_mods < 2 || a.mods[1] == b.mods[1]))))
            return 1; /* the same type */
        if (strcmp(a.base, "varchar") == 0 || strcmp(a.base, "varbit") == 0)
            return b.n_mods == 0 || (a.n_mods > 0 && b.mods[0] >= a.mods[0]);
        if (strcmp(a.base, "numeric") == 0)
            return b.n_mods == 0 || (a.n_mods == 2 && b.n_mods == 2 && b.mods[1] == a.mods[1] &&
                                     b.mods[0] >= a.mods[0]);
        return 0;
    }
    if (strcmp(a.base, "varchar") == 0 && strcmp(b.base, "text") == 0)
        return 1;
    if (strcmp(a.base, "text") == 0 && strcmp(b.base, "varchar") == 0 && b.n_mods == 0)
        return 1;
    if (strcmp(a.base, "cidr") == 0 && strcmp(b.base, "inet") == 0)
        return 1;
    if (strcmp(a.base, "timestamp") == 0 && strcmp(b.base, "timestamptz") == 0)
        return -1;
    return 0;
}

/* The column's current type: the catalog or schema file, or a CREATE TABLE of this file. */
static const char *
current_type(lctx_t *c, const PgQuery__RangeVar *rv, const char *column)
{
    const table_fact_t *t = table_facts(c, rv);
    const column_fact_t *cf = facts_column(t, column);
    new_table_t *nt;

    if (cf)
        return cf->type;
    if ((nt = new_table(c, rv)) != NULL)
        for (size_t i = 0; i < nt->n_cols; i++)
            if (strcmp(nt->cols[i], column) == 0)
                return nt->types[i];
    return NULL;
}

/* The ALTER TYPE action of the current statement for column, or -1. */
static long
type_action(const lctx_t *c, const char *column)
{
    for (size_t i = 0; i < c->m->n_actions; i++) {
        const action_t *a = &c->m->actions[i];
        if (a->kind == ACT_ALTER_TYPE && a->line == c->stmts[c->cur].line && a->column &&
            strcmp(a->column, column) == 0)
            return (long)i;
    }
    return -1;
}

/* USING that only casts the column to the new type changes nothing. */
static bool
trivial_using(const PgQuery__Node *u, const char *column)
{
    const PgQuery__Node *arg;
    if (u == NULL)
        return true;
    if (u->node_case != PG_QUERY__NODE__NODE_TYPE_CAST)
        return false;
    arg = u->type_cast->arg;
    return arg && arg->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
           arg->column_ref->n_fields == 1 &&
           same_name(pgq_node_str(arg->column_ref->fields[0]), column);
}

/* Takes the current statement's offline type refusal for `column`; its fix, or NULL. */
static const char *
take_offline_type_refusal(lctx_t *c, const char *column)
{
    int line = c->stmts[c->cur].line;
    char *needle = xasprintf("changing %s to", column);
    const char *fix = NULL;

    for (size_t pass = 0; pass < 2 && fix == NULL; pass++)
        for (size_t i = 0; i < c->plan.n_refusals; i++) {
            const plan_note_t *n = &c->plan.refusals[i];
            if (n->line == line && !c->refusal_used[i] && offline_type_refusal(n) &&
                (pass == 1 || strstr(n->message, needle))) {
                c->refusal_used[i] = true;
                fix = n->fix ? n->fix : "";
                break;
            }
        }
    free(needle);
    return fix;
}

static void
check_type_change(lctx_t *c, const PgQuery__RangeVar *rv, const PgQuery__AlterTableCmd *cmd)
{
    const PgQuery__ColumnDef *cd;
    const type_fact_t *tf;
    const char *from;
    char *to;
    long act;
    int verdict;

    if (cmd->def == NULL || cmd->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
        return;
    cd = cmd->def->column_def;
    if (cd->type_name == NULL)
        return;
    act = type_action(c, cmd->name);
    tf = act >= 0 ? facts_type(c->f, (size_t)act) : NULL;
    to = pgq_deparse_type(cd->type_name);
    if (c->f->live && tf && tf->probed) {
        if (tf->rewrites)
            safety(c, LR_TYPE_CHANGE, cd->location,
                   "this type change rewrites the table under ACCESS EXCLUSIVE (the server says "
                   "so)");
        free(to);
        return;
    }
    from = current_type(c, rv, cmd->name);
    if (from == NULL) {
        take_offline_type_refusal(c, cmd->name);
        assume(c, "the current type of a changed column is unknown offline: convoy asks the "
                  "server before it runs the change (give --db, or --schema FILE)");
        add_finding(c, LR_TYPE_CHANGE, LINT_INFO, cd->location,
                    "nothing to do if it is binary-coercible; otherwise expand/contract (a new "
                    "column, a backfill, then drop the old one)",
                    "changing `%s` to %s: convoy asks the server first; a binary-coercible change "
                    "(varchar widening, varchar -> text) runs as metadata only, a rewrite is "
                    "refused",
                    cmd->name, to ? to : "?");
        free(to);
        return;
    }
    verdict = trivial_using(cd->raw_default, cmd->name) ? coercible(from, to ? to : "") : 0;
    if (verdict == 1) {
        take_offline_type_refusal(c, cmd->name);
    } else if (verdict == -1) {
        take_offline_type_refusal(c, cmd->name);
        add_finding(c, LR_TYPE_CHANGE, LINT_INFO, cd->location, NULL,
                    "changing `%s` from %s to %s rewrites the table unless the session TimeZone "
                    "is UTC; convoy asks the server first and refuses a rewrite",
                    cmd->name, from, to ? to : "?");
    } else if (c->f->live) {
        char *what = xasprintf("changing `%s` from %s to %s is not binary-coercible: it rewrites "
                               "the table under ACCESS EXCLUSIVE",
                               cmd->name, from, to ? to : "?");
        safety(c, LR_TYPE_CHANGE, cd->location, what);
        free(what);
    } else {
        const char *fix = take_offline_type_refusal(c, cmd->name);
        add_finding(c, LR_TYPE_CHANGE, LINT_ERROR, cd->location, fix && *fix ? fix : NULL,
                    "changing `%s` from %s to %s is not binary-coercible: it rewrites the table "
                    "under ACCESS EXCLUSIVE, so convoy refuses it",
                    cmd->name, from, to ? to : "?");
    }
    free(to);
}

/* ---------------------------------------------------------------- statements */

static void
lint_create_table(lctx_t *c, const PgQuery__CreateStmt *cs)
{
    col_ctx_t cc = {0};
    char **keys = NULL;
    size_t n_keys = 0;

    check_name(c, cs->relation->relname, "table", cs->relation->location);
    if (!rv_schema(cs->relation))
        add_finding(c, LR_UNQUALIFIED_TABLE, rule_severity(c, LR_UNQUALIFIED_TABLE),
                    cs->relation->location, NULL, "table `%s` is not schema-qualified",
                    cs->relation->relname);
    cc.table = cs->relation;
    cc.table_new = true;
    /* table-level PRIMARY KEY / FOREIGN KEY columns, and the siblings' nullability */
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            const PgQuery__Constraint *ct = e->constraint;
            PgQuery__Node **v =
                ct->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? ct->fk_attrs : ct->keys;
            size_t nv =
                ct->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? ct->n_fk_attrs : ct->n_keys;
            if (ct->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY &&
                ct->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
                continue;
            for (size_t k = 0; k < nv; k++)
                if (pgq_node_str(v[k])) {
                    keys = xrealloc(keys, (n_keys + 1) * sizeof(char *));
                    keys[n_keys++] = (char *)pgq_node_str(v[k]);
                }
        }
    }
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        const PgQuery__ColumnDef *cd;
        col_cons_t k;
        bool key = false;
        if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
            continue;
        cd = e->column_def;
        k = column_constraints(cd);
        for (size_t j = 0; j < n_keys; j++)
            key |= strcmp(keys[j], cd->colname) == 0;
        if (k.primary || key || k.identity)
            continue;
        cc.siblings++;
        cc.siblings_null += !k.not_null;
    }
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            const PgQuery__ColumnDef *cd = e->column_def;
            col_cons_t k = column_constraints(cd);
            col_ctx_t one = cc;
            one.key = false;
            for (size_t j = 0; j < n_keys; j++)
                one.key |= strcmp(keys[j], cd->colname) == 0;
            if (!k.primary && !one.key && !k.identity) {
                one.siblings--; /* not counting itself */
                one.siblings_null -= !k.not_null;
            }
            check_column(c, cd, &one);
        } else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            check_name(c, e->constraint->conname, "constraint", e->constraint->location);
        }
    }
    free(keys);
    remember_table(c, cs);
}

/* The siblings of an ADD COLUMN: the table's other columns (catalog or schema file). */
static void
add_column_siblings(const lctx_t *c, const PgQuery__RangeVar *rv, col_ctx_t *cc)
{
    const table_fact_t *t = table_facts(c, rv);
    for (size_t i = 0; t && i < t->n_cols; i++) {
        bool key = false;
        for (size_t k = 0; k < t->n_pk; k++)
            key |= strcmp(t->pk_cols[k], t->cols[i].name) == 0;
        if (key)
            continue;
        cc->siblings++;
        cc->siblings_null += !t->cols[i].not_null;
    }
}

static void
lint_alter_constraint(lctx_t *c, const PgQuery__Constraint *ct, bool table_new)
{
    check_name(c, ct->conname, "constraint", ct->location);
    if (table_new)
        return;
    switch (ct->contype) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        if (!ct->skip_validation)
            safety(c, LR_CONSTRAINT_SCANS, ct->location,
                   "ADD CHECK without NOT VALID scans every row under ACCESS EXCLUSIVE");
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        if (!ct->skip_validation)
            safety(c, LR_CONSTRAINT_SCANS, ct->location,
                   "ADD FOREIGN KEY without NOT VALID scans every row under SHARE ROW EXCLUSIVE "
                   "on both tables");
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
        if (!PGQ_STR_SET(ct->indexname))
            safety(c, LR_UNIQUE_INDEX, ct->location,
                   ct->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY
                       ? "ADD PRIMARY KEY builds its index under ACCESS EXCLUSIVE"
                       : "ADD UNIQUE builds its index under ACCESS EXCLUSIVE");
        break;
    default:
        break;
    }
}

static void
lint_alter_table(lctx_t *c, const PgQuery__AlterTableStmt *as)
{
    const PgQuery__RangeVar *rv = as->relation;
    bool is_new = new_table(c, rv) != NULL;
    col_ctx_t cc = {0};
    size_t adds = 0, adds_null = 0;

    if (as->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || rv == NULL)
        return;
    cc.table = rv;
    cc.table_new = is_new;
    cc.adding = true;
    add_column_siblings(c, rv, &cc);
    /* the other columns this statement adds are siblings too */
    for (size_t i = 0; i < as->n_cmds; i++) {
        const PgQuery__AlterTableCmd *cmd = as->cmds[i]->alter_table_cmd;
        if (cmd && cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn && cmd->def &&
            cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            col_cons_t k = column_constraints(cmd->def->column_def);
            adds++;
            adds_null += !k.not_null && !k.primary;
        }
    }
    for (size_t i = 0; i < as->n_cmds; i++) {
        const PgQuery__AlterTableCmd *cmd = as->cmds[i]->alter_table_cmd;
        int loc = -1;
        if (cmd == NULL)
            continue;
        if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
            loc = cmd->def->column_def->location;
        switch (cmd->subtype) {
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
            if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
                col_cons_t k = column_constraints(cmd->def->column_def);
                col_ctx_t one = cc;
                one.siblings += (int)adds - 1;
                one.siblings_null += (int)adds_null - (!k.not_null && !k.primary);
                check_column(c, cmd->def->column_def, &one);
            }
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
            if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                lint_alter_constraint(c, cmd->def->constraint, is_new);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull: {
            const column_fact_t *cf = facts_column(table_facts(c, rv), cmd->name);
            if (!is_new && !known_empty(c, rv) && !(cf && cf->not_null))
                safety(c, LR_SET_NOT_NULL, loc,
                       "SET NOT NULL scans every row under ACCESS EXCLUSIVE");
            break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
            if (!is_new)
                safety(c, LR_DROP_NOT_NULL, loc,
                       "DROP NOT NULL lets NULLs into a column readers "
                       "may assume is always set");
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
            if (!is_new)
                check_type_change(c, rv, cmd);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
            if (!is_new)
                safety(c, LR_BREAKING_CHANGE, loc,
                       "DROP COLUMN breaks every running application version that still uses it");
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition:
            if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
                !cmd->def->partition_cmd->concurrent)
                safety(c, LR_DETACH_PARTITION, loc,
                       "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the "
                       "parent");
            break;
        default:
            break;
        }
    }
}

static bool
has_option(PgQuery__Node **opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            strcmp(opts[i]->def_elem->defname, name) == 0) {
            const PgQuery__Node *arg = opts[i]->def_elem->arg;
            /* (FULL false) is not FULL */
            if (arg && arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN && !arg->boolean->boolval)
                return false;
            return true;
        }
    return false;
}

static void
lint_drop(lctx_t *c, const PgQuery__DropStmt *ds)
{
    if (ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX && !ds->concurrent) {
        safety(c, LR_DROP_INDEX_BLOCKS, -1, "DROP INDEX takes ACCESS EXCLUSIVE on its table");
    } else if (ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        safety(c, LR_BREAKING_CHANGE, -1,
               "DROP TABLE breaks every running application version that still uses it");
    }
}

static void
lint_rename(lctx_t *c, const PgQuery__RenameStmt *rs)
{
    bool is_new = rs->relation && new_table(c, rs->relation) != NULL;
    const char *what;

    switch (rs->rename_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
        what = "column";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        what = "table";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        what = "index";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
        what = "constraint";
        break;
    default:
        return;
    }
    check_name(c, rs->newname, what, -1);
    if (!is_new && (rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ||
                    rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE))
        safety(c, LR_BREAKING_CHANGE, -1,
               "RENAME breaks every running application version that still uses the old name");
}

static void
lint_update(lctx_t *c, const PgQuery__UpdateStmt *us)
{
    for (size_t i = 0; i < us->n_target_list; i++) {
        const PgQuery__Node *a = us->target_list[i];
        if (a->node_case != PG_QUERY__NODE__NODE_RES_TARGET || a->res_target->n_indirection)
            continue;
        for (size_t k = 0; k < i; k++) {
            const PgQuery__Node *b = us->target_list[k];
            if (b->node_case == PG_QUERY__NODE__NODE_RES_TARGET && !b->res_target->n_indirection &&
                same_name(a->res_target->name, b->res_target->name)) {
                add_finding(c, LR_DUPLICATE_ASSIGNMENT, rule_severity(c, LR_DUPLICATE_ASSIGNMENT),
                            a->res_target->location, NULL,
                            "column `%s` is assigned twice: PostgreSQL rejects the UPDATE",
                            a->res_target->name);
                return;
            }
        }
    }
}

static bool
domain_has_constraint(PgQuery__Node **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
            (v[i]->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK ||
             v[i]->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL))
            return true;
    return false;
}

static void
lint_statement(lctx_t *c, const PgQuery__Node *s)
{
    switch (s->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        lint_create_table(c, s->create_stmt);
        break;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        lint_alter_table(c, s->alter_table_stmt);
        break;
    case PG_QUERY__NODE__NODE_INDEX_STMT: {
        const PgQuery__IndexStmt *is = s->index_stmt;
        check_name(c, is->idxname, "index", -1);
        if (!is->concurrent && is->relation && new_table(c, is->relation) == NULL &&
            !known_empty(c, is->relation))
            safety(c, LR_INDEX_BLOCKS, -1,
                   "CREATE INDEX without CONCURRENTLY holds SHARE on the table: writes wait "
                   "while it builds");
        break;
    }
    case PG_QUERY__NODE__NODE_DROP_STMT:
        lint_drop(c, s->drop_stmt);
        break;
    case PG_QUERY__NODE__NODE_RENAME_STMT:
        lint_rename(c, s->rename_stmt);
        break;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
        if (s->view_stmt->view)
            check_name(c, s->view_stmt->view->relname, "view", s->view_stmt->view->location);
        break;
    case PG_QUERY__NODE__NODE_DROPDB_STMT:
        safety(c, LR_DROP_DATABASE, -1, "DROP DATABASE in a migration");
        break;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        safety(c, LR_TRUNCATE, -1,
               s->truncate_stmt->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
                   ? "TRUNCATE ... CASCADE empties this table and every table that references it"
                   : "TRUNCATE takes ACCESS EXCLUSIVE and empties the table");
        break;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        if (s->vacuum_stmt->is_vacuumcmd &&
            has_option(s->vacuum_stmt->options, s->vacuum_stmt->n_options, "full"))
            safety(c, LR_TABLE_REWRITE, -1,
                   "VACUUM FULL rewrites the table under ACCESS "
                   "EXCLUSIVE");
        break;
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
        safety(c, LR_TABLE_REWRITE, -1, "CLUSTER rewrites the table under ACCESS EXCLUSIVE");
        break;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
        if (!has_option(s->reindex_stmt->params, s->reindex_stmt->n_params, "concurrently"))
            safety(c, LR_REINDEX, -1,
                   "REINDEX without CONCURRENTLY blocks writes while it "
                   "rebuilds");
        break;
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
        if (domain_has_constraint(s->create_domain_stmt->constraints,
                                  s->create_domain_stmt->n_constraints))
            safety(c, LR_DOMAIN_CONSTRAINT, -1,
                   "CREATE DOMAIN with a constraint: columns of this type cannot be added to a "
                   "table without a rewrite");
        break;
    case PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT:
        if (strcmp(s->alter_domain_stmt->subtype, "C") == 0)
            safety(c, LR_DOMAIN_CONSTRAINT, -1,
                   "ALTER DOMAIN ... ADD CONSTRAINT checks every column of the domain in every "
                   "table");
        break;
    case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT: {
        const PgQuery__AlterEnumStmt *ae = s->alter_enum_stmt;
        if (PGQ_STR_SET(ae->new_val) && !PGQ_STR_SET(ae->old_val) &&
            !PGQ_STR_SET(ae->new_val_neighbor))
            safety(c, LR_ENUM_POSITION, -1,
                   "ADD VALUE without BEFORE/AFTER appends the value at the end of the enum");
        break;
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: {
        PgQuery__TransactionStmtKind k = s->transaction_stmt->kind;
        if (!c->saw_transaction && (k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ||
                                    k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START)) {
            c->saw_transaction = true;
            add_finding(c, LR_TRANSACTION, rule_severity(c, LR_TRANSACTION), -1, NULL,
                        "the file wraps its statements in a transaction; convoy ignores "
                        "BEGIN/COMMIT and runs each step in its own short transaction (CREATE "
                        "INDEX CONCURRENTLY outside any)");
        }
        break;
    }
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        lint_update(c, s->update_stmt);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- the file */

/* Each statement's first token that is not a comment, and where it is. */
static void
statement_positions(lctx_t *c, const PgQuery__ParseResult *pr, const PgQuery__ScanResult *tk)
{
    size_t t = 0;

    c->stmts = xcalloc(pr->n_stmts ? pr->n_stmts : 1, sizeof(*c->stmts));
    c->n_stmts = pr->n_stmts;
    for (size_t i = 0; i < pr->n_stmts; i++) {
        size_t start = (size_t)pr->stmts[i]->stmt_location;
        while (t < tk->n_tokens &&
               ((size_t)tk->tokens[t]->start < start || pgq_token_is_comment(tk->tokens[t])))
            t++;
        if (t < tk->n_tokens)
            start = (size_t)tk->tokens[t]->start;
        c->stmts[i].start = start;
        pos_of(c, start, &c->stmts[i].line, &c->stmts[i].col);
    }
}

/*
 * Identifiers over 63 bytes, from the scanner's tokens: the parse tree already holds the
 * truncated name PostgreSQL would store.
 */
static void
long_identifiers(lctx_t *c, const PgQuery__ScanResult *tk)
{
    size_t s = 0;

    for (size_t i = 0; i < tk->n_tokens; i++) {
        const PgQuery__ScanToken *t = tk->tokens[i];
        const char *p = c->text + t->start;
        size_t len = (size_t)(t->end - t->start);
        char *name;

        if (t->token != PG_QUERY__TOKEN__IDENT)
            continue;
        if (p[0] == '"') {
            sb_t sb;
            sb_init(&sb);
            for (size_t k = 1; k + 1 < len; k++) {
                sb_putc(&sb, p[k]);
                if (p[k] == '"')
                    k++; /* "" is one quote */
            }
            name = sb_steal(&sb);
        } else {
            name = xstrndup(p, len);
            for (char *q = name; *q; q++)
                *q = (char)tolower((unsigned char)*q);
        }
        if (strlen(name) > IDENT_MAX_BYTES) {
            while (s + 1 < c->n_stmts && c->stmts[s + 1].start <= (size_t)t->start)
                s++;
            c->cur = s;
            add_finding(c, LR_NAME_LONG, rule_severity(c, LR_NAME_LONG), t->start, NULL,
                        "name `%s` is %zu bytes: PostgreSQL truncates it to 63 (`%.*s`)", name,
                        strlen(name), (int)ident_clip_len(name, IDENT_MAX_BYTES), name);
        }
        free(name);
    }
}

/* -- convoy:allow: suppress the rule's findings in the statement after the directive. */
static void
apply_allows(lctx_t *c)
{
    for (size_t i = 0; i < c->m->n_allows; i++) {
        const allow_directive_t *a = &c->m->allows[i];
        const lint_rule_t *r = lint_rule_find(a->rule);
        size_t s = 0, used = 0, n = c->out->n_findings;

        while (s < c->n_stmts && c->stmts[s].line <= a->line)
            s++;
        c->cur = s < c->n_stmts ? s : c->n_stmts;
        if (r == NULL) {
            lint_finding_t *f;
            add_finding(c, LR_ALLOW_UNKNOWN, rule_severity(c, LR_ALLOW_UNKNOWN), -1, NULL,
                        "-- convoy:allow %s: no such lint rule", a->rule);
            if (c->out->n_findings > n) {
                f = &c->out->findings[c->out->n_findings - 1];
                f->line = a->line;
                f->col = a->col;
            }
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            lint_finding_t *f = &c->out->findings[k];
            if (c->finding_stmt[k] == s && f->rule == r && f->allowed == NULL) {
                f->allowed = xstrdup(a->reason);
                used++;
            }
        }
        if (used == 0) {
            add_finding(c, LR_ALLOW_UNUSED, rule_severity(c, LR_ALLOW_UNUSED), -1, NULL,
                        "-- convoy:allow %s suppresses nothing in the next statement", a->rule);
            if (c->out->n_findings > n) {
                lint_finding_t *f = &c->out->findings[c->out->n_findings - 1];
                f->line = a->line;
                f->col = a->col;
            }
        }
    }
}

/* A plan note as a finding at its own line: the statement there, or column 1 of a directive. */
static void
note_finding(lctx_t *c, lint_rule_index_t r, const plan_note_t *n, const char *prefix)
{
    size_t before = c->out->n_findings;

    for (c->cur = 0; c->cur < c->n_stmts && c->stmts[c->cur].line < n->line; c->cur++)
        ;
    add_finding(c, r, LINT_ERROR, -1, n->fix, "%s%s", prefix, n->message);
    if (c->out->n_findings > before && n->line > 0 &&
        (c->cur >= c->n_stmts || c->stmts[c->cur].line != n->line)) {
        c->out->findings[before].line = n->line;
        c->out->findings[before].col = 1;
    }
}

/* Refusals and errors of the plan that no rule reported. */
static void
report_rest_of_plan(lctx_t *c)
{
    for (size_t i = 0; i < c->plan.n_refusals; i++)
        if (!c->refusal_used[i])
            note_finding(c, LR_REFUSED, &c->plan.refusals[i], "convoy refuses this: ");
    for (size_t i = 0; i < c->plan.n_errors; i++)
        note_finding(c, LR_PLAN_ERROR, &c->plan.errors[i], "");
}

static int
finding_cmp(const void *a, const void *b)
{
    const lint_finding_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return strcmp(x->rule->id, y->rule->id);
}

void
lint_run(const migration_t *m, const facts_t *facts, const lint_config_t *cfg, lint_result_t *out)
{
    static const facts_t none = {0};
    lctx_t c = {0};
    pgq_error_t e = {0};
    PgQuery__ScanResult *tokens = NULL;
    PgQuery__ParseResult *pr = NULL;

    memset(out, 0, sizeof(*out));
    out->path = xstrdup(m->path ? m->path : "-");
    c.m = m;
    c.f = facts ? facts : &none;
    c.cfg = cfg;
    c.out = out;
    c.text = m->text ? m->text : "";
    c.cursor.text = c.text;
    /* offline, the plan is the one `convoy plan --offline` shows, schema file or not */
    plan_build(m, c.f->live ? c.f : &none, &c.plan);
    c.refusal_used = xcalloc(c.plan.n_refusals + 1, sizeof(bool));
    if (!c.f->live) {
        assume(&c, "no database given: tables this file does not create are assumed to exist "
                   "and to hold rows (PostgreSQL 15)");
        if (c.f->n_tables > 0)
            assume(&c, "existing columns' types and NOT NULLs are taken from the schema file");
    }
    /* migration_parse accepted the text, so this parse succeeds too. */
    if ((tokens = pgq_scan(c.text, &e)) != NULL && (pr = pgq_parse(c.text, tokens, &e)) != NULL) {
        statement_positions(&c, pr, tokens);
        for (c.cur = 0; c.cur < pr->n_stmts; c.cur++)
            lint_statement(&c, pr->stmts[c.cur]->stmt);
        long_identifiers(&c, tokens);
    }
    c.cur = c.n_stmts;
    report_rest_of_plan(&c);
    apply_allows(&c);
    if (out->n_findings > 1)
        qsort(out->findings, out->n_findings, sizeof(*out->findings), finding_cmp);

    pgq_tree_free(pr);
    pgq_scan_free(tokens);
    plan_free(&c.plan);
    free(c.refusal_used);
    free(c.stmts);
    free(c.finding_stmt);
    for (size_t i = 0; i < c.n_new_tables; i++) {
        free(c.new_tables[i].schema);
        free(c.new_tables[i].name);
        strv_free(c.new_tables[i].cols, c.new_tables[i].n_cols);
        strv_free(c.new_tables[i].types, c.new_tables[i].n_cols);
    }
    free(c.new_tables);
}

void
lint_result_free(lint_result_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_findings; i++) {
        free(r->findings[i].message);
        free(r->findings[i].fix);
        free(r->findings[i].allowed);
    }
    free(r->findings);
    strv_free(r->assumptions, r->n_assumptions);
    free(r->path);
    memset(r, 0, sizeof(*r));
}

size_t
lint_count_at_least(const lint_result_t *r, size_t n, lint_severity_t at)
{
    size_t count = 0;
    if (at == LINT_OFF)
        return 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r[i].n_findings; k++)
            count += r[i].findings[k].allowed == NULL && r[i].findings[k].severity >= at;
    return count;
}
