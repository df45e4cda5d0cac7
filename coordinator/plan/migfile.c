/* migfile.c: a migration file (SQL + `-- convoy:` directives) parsed into actions. */
#include "convoy/migration.h"
#include "convoy/util.h"
#include "convoy/window.h"
#include "pgq.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME_LEN      IDENT_MAX_BYTES
#define MAX_NAME_LEN_TEXT "63" /* MAX_NAME_LEN as text, for messages */
_Static_assert(IDENT_MAX_BYTES == 63, "MAX_NAME_LEN_TEXT must follow IDENT_MAX_BYTES");

/* Where a byte offset is, found by walking forward from the last position asked for. */
typedef struct {
    const char *text;
    size_t offset;
    int line;
    int col; /* in characters, not bytes */
} pos_cursor_t;

/* The single-valued directives, in the order of the directive table below. */
enum {
    DIR_NAME,
    DIR_LOCK_TIMEOUT,
    DIR_BATCH_TARGET,
    DIR_STATEMENT_TIMEOUT,
    DIR_CONTRACT,
    DIR_INDEX_FOREIGN_KEYS,
    DIR_APP_VERSION,
    DIR_CONTRACT_HOLD,
    DIR_EXPAND,
    DIR_WINDOW,
    DIR_RISK_THRESHOLD,
    DIR_RISK,
    DIR_BACKFILL_WORKERS,
    N_SINGLE_DIRECTIVES
};

typedef struct {
    const char *text;
    size_t len;
    migration_t *m;
    parse_error_t *err;
    pos_cursor_t pos;
    const PgQuery__ScanResult *tokens;
    size_t next_token; /* convert_statement: first token not yet passed */
    size_t cap_actions;
    int directive_line[N_SINGLE_DIRECTIVES]; /* where each was given; 0: not yet */
    /* tables created earlier in this file, and a hash index over them */
    qname_t *new_tables;
    size_t n_new_tables, cap_new_tables;
    size_t *new_table_slots; /* index + 1 into new_tables; 0: empty */
    size_t n_slots;          /* a power of two, at least twice n_new_tables */
} parser_t;

const char *
action_kind_name(action_kind_t kind)
{
    static const char *const names[] = {
        "add_column",   "add_check",       "add_foreign_key", "add_unique",    "attach_index",
        "validate",     "set_default",     "set_not_null",    "drop_not_null", "alter_type",
        "create_index", "drop_index",      "passthrough",     "ignore",        "refuse",
        "set_honoured", "drop_constraint", "update",          "contract"};
    return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

/*
 * Line and column of a byte offset. Walking on from the previous answer makes the
 * in-order lookups of a whole file linear; an earlier offset starts again at the top.
 */
static void
pos_at(pos_cursor_t *pc, size_t offset, int *line, int *col)
{
    if (offset < pc->offset || pc->line == 0) {
        pc->offset = 0;
        pc->line = 1;
        pc->col = 1;
    }
    for (; pc->offset < offset && pc->text[pc->offset]; pc->offset++) {
        unsigned char c = (unsigned char)pc->text[pc->offset];
        if (c == '\n') {
            pc->line++;
            pc->col = 1;
        } else if ((c & 0xC0) != 0x80) {
            pc->col++; /* a UTF-8 continuation byte does not start a new character */
        }
    }
    *line = pc->line;
    *col = pc->col;
}

size_t
ident_clip_len(const char *s, size_t limit)
{
    size_t n = strlen(s);

    if (n <= limit)
        return n;
    n = limit;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues the character that starts before it: cut before that one */
    return n;
}

static bool fail_at(parser_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
fail_at(parser_t *p, int line, int col, const char *fmt, ...)
{
    va_list ap;

    p->err->line = line;
    p->err->column = col;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
    va_end(ap);
    return false;
}

static void
qname_set(qname_t *q, const PgQuery__RangeVar *rv)
{
    q->schema = PGQ_STR_SET(rv->schemaname) ? xstrdup(rv->schemaname) : NULL;
    q->name = xstrdup(rv->relname);
}

/* FNV-1a over the schema (public when unqualified, as qname_equal treats it) and name. */
static size_t
qname_hash(const qname_t *q)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[2] = {q->schema ? q->schema : "public", q->name};

    for (int k = 0; k < 2; k++) {
        for (const char *c = parts[k]; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        h = (h ^ 0xFF) * 1099511628211ULL; /* a separator no identifier byte equals */
    }
    return (size_t)h;
}

static bool
qname_equal(const qname_t *a, const qname_t *b)
{
    const char *sa = a->schema ? a->schema : "public";
    const char *sb = b->schema ? b->schema : "public";
    return strcmp(a->name, b->name) == 0 && strcmp(sa, sb) == 0;
}

/* ---------------------------------------------------------------- directives */

static const char *
skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Reads a possibly quoted identifier; returns the position after it or NULL. */
static const char *
read_ident(const char *s, char **out)
{
    sb_t sb;

    if (*s == '"') {
        sb_init(&sb);
        s++;
        for (;;) {
            if (*s == '\0' || *s == '\n') {
                sb_free(&sb);
                return NULL;
            }
            if (*s == '"') {
                if (s[1] == '"') {
                    sb_putc(&sb, '"');
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            sb_putc(&sb, *s++);
        }
        *out = sb_steal(&sb);
        return s;
    }
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return NULL;
    sb_init(&sb);
    while (isalnum((unsigned char)*s) || *s == '_' || *s == '$')
        sb_putc(&sb, (char)tolower((unsigned char)*s++));
    *out = sb_steal(&sb);
    return s;
}

/*
 * Reports a scan or parse problem at a byte offset of `text`, whose first byte is at (line,
 * col) of the file. PostgreSQL's own syntax errors get `what` as context and `expected`.
 */
static bool
fail_pgq(parser_t *p,
         const pgq_error_t *e,
         const char *text,
         int line,
         int col,
         const char *what,
         const char *expected)
{
    pos_cursor_t pc = {text, 0, 0, 0};
    int l, c;

    pos_at(&pc, e->offset, &l, &c);
    if (l == 1)
        c += col - 1;
    l += line - 1;
    if (e->syntax)
        return fail_at(p, l, c, "%s: %s; expected %s", what, e->message, expected);
    return fail_at(p, l, c, "%s", e->message);
}

/* Parses "SELECT <expr>"; expr starts at (line, col) of the file. */
static bool
parse_backfill_expr(parser_t *p, const char *expr, int line, int col, backfill_directive_t *bf)
{
    static const char prefix[] = "SELECT ";
    char *sql = xasprintf("%s%s", prefix, expr);
    PgQuery__ScanResult *tokens = NULL;
    PgQuery__ParseResult *pr = NULL;
    pgq_error_t e;
    bool ok = false;

    if ((tokens = pgq_scan(sql, &e)) == NULL || (pr = pgq_parse(sql, tokens, &e)) == NULL) {
        /* Positions in sql are shifted by the prefix, which has no newline. */
        e.offset = e.offset >= sizeof(prefix) - 1 ? e.offset - (sizeof(prefix) - 1) : 0;
        fail_pgq(p, &e, expr, line, col, "invalid backfill expression",
                 "a SQL expression such as `-- convoy:backfill last_login = created_at`");
        goto done;
    }
    if (pr->n_stmts != 1 || pr->stmts[0]->stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        fail_at(p, line, col, "backfill expression must be a single SQL expression");
        goto done;
    }
    {
        PgQuery__SelectStmt *s = pr->stmts[0]->stmt->select_stmt;
        if (s->n_target_list != 1 || s->n_from_clause != 0 || s->where_clause != NULL ||
            s->n_group_clause != 0 || s->having_clause != NULL || s->n_sort_clause != 0 ||
            s->limit_count != NULL || s->op != PG_QUERY__SET_OPERATION__SETOP_NONE ||
            s->n_values_lists != 0 || s->with_clause != NULL) {
            fail_at(p, line, col,
                    "backfill expression must be a single SQL expression, not a query "
                    "(no FROM, WHERE, commas or set operations)");
            goto done;
        }
        PgQuery__Node *val = s->target_list[0]->res_target->val;
        bf->expr_sql = pgq_deparse_expr(val);
        bf->reads_columns = pgq_expr_reads_columns(val);
        if (bf->expr_sql == NULL) {
            fail_at(p, line, col, "backfill expression could not be normalised");
            goto done;
        }
    }
    ok = true;
done:
    pgq_tree_free(pr);
    pgq_scan_free(tokens);
    free(sql);
    return ok;
}

static bool
parse_duration_directive(parser_t *p,
                         const char *key,
                         const char *arg,
                         int line,
                         int col,
                         int64_t min_ms,
                         int64_t max_ms,
                         int64_t *out)
{
    int64_t ms;

    if (!parse_duration_ms(arg, &ms))
        return fail_at(p, line, col,
                       "invalid duration '%s' for convoy:%s; expected e.g. 50ms or 2s", arg, key);
    if (ms < min_ms || ms > max_ms)
        return fail_at(p, line, col, "convoy:%s %s is out of range; allowed %lld ms to %lld ms",
                       key, arg, (long long)min_ms, (long long)max_ms);
    *out = ms;
    return true;
}

/* One directive's argument; `col` is where the directive name starts, `arg_col` the argument. */
typedef bool (*directive_fn)(parser_t *p, const char *arg, int line, int col, int arg_col);

/* A migration name as -- convoy:name accepts it; false with *why. */
static bool
valid_migration_name(const char *s, const char **why)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME_LEN ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
        *why = "use 1-" MAX_NAME_LEN_TEXT " letters, digits, '_', '.' or '-'";
        return false;
    }
    return true;
}

static bool
dir_name(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    const char *why = NULL;

    (void)arg_col;
    if (!valid_migration_name(arg, &why))
        return fail_at(p, line, col, "invalid convoy:name '%s'; %s", arg, why);
    free(p->m->name);
    p->m->name = xstrdup(arg);
    return true;
}

static bool
dir_lock_timeout(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    (void)arg_col;
    return parse_duration_directive(p, "lock-timeout", arg, line, col, 1, 10000,
                                    &p->m->lock_timeout_ms);
}

static bool
dir_batch_target(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    (void)arg_col;
    return parse_duration_directive(p, "batch-target", arg, line, col, 10, 60000,
                                    &p->m->batch_target_ms);
}

static bool
dir_statement_timeout(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    (void)arg_col;
    return parse_duration_directive(p, "statement-timeout", arg, line, col, 100, 3600000,
                                    &p->m->statement_timeout_ms);
}

/* -- convoy:contract [EXPAND]: DROP COLUMN / RENAME are intended; with a name, this file is
 * the contract phase of migration EXPAND and runs only once EXPAND's contract gate is open. */
static bool
dir_contract(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    const char *why = NULL;
    (void)col;
    if (arg[0] != '\0' && !valid_migration_name(arg, &why)) {
        fail_at(p, line, arg_col,
                "convoy:contract takes nothing or the name of the migration this file is the "
                "contract of, got '%s' (%s)",
                arg, why);
        return false;
    }
    p->m->contract = true;
    free(p->m->contract_of);
    p->m->contract_of = arg[0] ? xstrdup(arg) : NULL;
    return true;
}

/* -- convoy:app-version V: the application version that needs this schema (the new one). */
static bool
dir_app_version(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    size_t n = strlen(arg);
    (void)col;
    if (n == 0 || n > 64 || strpbrk(arg, " \t'\"") != NULL) {
        fail_at(p, line, arg_col,
                "convoy:app-version needs the app version this migration is for, 1-64 "
                "characters without spaces or quotes (for example `-- convoy:app-version v2`), "
                "got '%s'",
                arg);
        return false;
    }
    free(p->m->app_version);
    p->m->app_version = xstrdup(arg);
    return true;
}

static bool
dir_contract_hold(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    (void)arg_col;
    return parse_duration_directive(p, "contract-hold", arg, line, col, 0, 7 * 86400000LL,
                                    &p->m->contract_hold_ms);
}

/* -- convoy:window "Sat 02:00-04:00 UTC": a risky migration starts its steps only inside it
 * (docs/migration-format.md); the spec is checked here, the clock is the engine's (hold.c). */
static bool
dir_window(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    char spec[128], why[512];
    size_t n = strlen(arg);
    window_t w;
    (void)col;
    if (n < 2 || arg[0] != '"' || arg[n - 1] != '"' || n - 2 >= sizeof(spec)) {
        fail_at(p, line, arg_col,
                "convoy:window needs the window in double quotes, for example "
                "`-- convoy:window \"Sat 02:00-04:00 UTC\"`, got '%s'",
                arg);
        return false;
    }
    memcpy(spec, arg + 1, n - 2);
    spec[n - 2] = '\0';
    if (!window_parse(spec, &w, why, sizeof(why))) {
        fail_at(p, line, arg_col + 1, "convoy:window: %s", why);
        return false;
    }
    free(p->m->window);
    p->m->window = xstrdup(spec);
    return true;
}

/* -- convoy:risk-threshold N: the risk score (0..100) from which the window applies. */
static bool
dir_risk_threshold(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    int64_t v;
    (void)col;
    if (!parse_int64(arg, 0, 100, &v)) {
        fail_at(p, line, arg_col,
                "convoy:risk-threshold needs a risk score from 0 to 100 (the window applies "
                "from that score on; 0: always), got '%s'",
                arg);
        return false;
    }
    p->m->risk_threshold = (int)v;
    return true;
}

/* -- convoy:backfill-workers N: sessions that fill disjoint ranges of a pass side by side. */
static bool
dir_backfill_workers(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    int64_t v;
    (void)line;
    (void)col;
    if (!parse_int64(arg, 1, MIGRATION_MAX_BACKFILL_WORKERS, &v)) {
        fail_at(p, line, arg_col,
                "convoy:backfill-workers needs a number of sessions from 1 to %d (1: one "
                "session, batch after batch), got '%s'",
                MIGRATION_MAX_BACKFILL_WORKERS, arg);
        return false;
    }
    p->m->backfill_workers = (int)v;
    return true;
}

/* -- convoy:risk N: the risk score a rehearsal measured (`convoy rehearse` prints the line);
 * it replaces the estimate from the plan. */
static bool
dir_risk(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    int64_t v;
    (void)col;
    if (!parse_int64(arg, 0, 100, &v)) {
        fail_at(p, line, arg_col,
                "convoy:risk needs the risk score a rehearsal measured, 0 to 100 (copy the "
                "line `convoy rehearse` prints), got '%s'",
                arg);
        return false;
    }
    p->m->risk_measured = (int)v;
    return true;
}

static bool
dir_index_foreign_keys(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    if (arg[0] != '\0') {
        fail_at(p, line, arg_col, "convoy:index-foreign-keys takes no value, got '%s'", arg);
        return false;
    }
    (void)col;
    p->m->index_foreign_keys = true;
    return true;
}

/* -- convoy:expand: the expand phase of an expand/contract change (a RENAME COLUMN becomes a
 * new column kept in sync with the old one until the contract phase drops the old one) */
static bool
dir_expand(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    if (arg[0] != '\0') {
        fail_at(p, line, arg_col, "convoy:expand takes no value, got '%s'", arg);
        return false;
    }
    (void)col;
    p->m->expand = true;
    return true;
}

static void
backfill_directive_free(backfill_directive_t *bf)
{
    free(bf->table);
    free(bf->column);
    free(bf->expr_sql);
}

/* `[table.]column = expression`; one per column. */
static bool
dir_backfill(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    backfill_directive_t bf = {0};
    char *first = NULL, *second = NULL;
    const char *q = read_ident(arg, &first);

    bf.line = line;
    if (q == NULL)
        return fail_at(p, line, col, "convoy:backfill needs `<column> = <SQL expression>`");
    if (*q == '.') {
        q = read_ident(q + 1, &second);
        if (q == NULL) {
            free(first);
            return fail_at(p, line, col, "convoy:backfill needs `<table>.<column> = <expression>`");
        }
        bf.table = first;
        bf.column = second;
    } else {
        bf.column = first;
    }
    q = skip_space(q);
    if (*q != '=') {
        backfill_directive_free(&bf);
        return fail_at(p, line, arg_col + (int)(q - arg),
                       "convoy:backfill expected '=' after the column name, as in "
                       "`-- convoy:backfill %s = <SQL expression>`",
                       arg[0] ? "last_login" : "column");
    }
    q = skip_space(q + 1);
    if (*q == '\0') {
        backfill_directive_free(&bf);
        return fail_at(p, line, col, "convoy:backfill is missing the expression after '='");
    }
    if (!parse_backfill_expr(p, q, line, arg_col + (int)(q - arg), &bf)) {
        backfill_directive_free(&bf);
        return false;
    }
    for (size_t i = 0; i < p->m->n_backfills; i++) {
        if (strcmp(p->m->backfills[i].column, bf.column) == 0) {
            int prev = p->m->backfills[i].line;
            fail_at(p, line, col,
                    "convoy:backfill for column %s is given twice (lines %d and %d); keep one "
                    "of them",
                    bf.column, prev, line);
            backfill_directive_free(&bf);
            return false;
        }
    }
    p->m->backfills = xrealloc(p->m->backfills, (p->m->n_backfills + 1) * sizeof(bf));
    p->m->backfills[p->m->n_backfills++] = bf;
    return true;
}

const char *
cache_kind_name(cache_kind_t k)
{
    return k == CACHE_KEY ? "key" : k == CACHE_BUMP ? "bump" : "purge";
}

/* A key template: text with {column} placeholders, at least one; no stray braces. */
static bool
valid_key_template(const char *t, const char **why)
{
    int placeholders = 0;

    for (const char *c = t; *c; c++) {
        if (*c == '}') {
            *why = "a '}' without its '{'";
            return false;
        }
        if (*c == '{') {
            const char *end = strchr(c, '}');
            size_t n;
            if (end == NULL) {
                *why = "a '{' without its '}'";
                return false;
            }
            n = (size_t)(end - c - 1);
            if (n == 0 || strspn(c + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
                (c[1] >= '0' && c[1] <= '9')) {
                *why = "a placeholder must name a lower-case column, as in {id}";
                return false;
            }
            placeholders++;
            c = end;
        } else if ((unsigned char)*c <= ' ' || *c == '\'' || *c == '\\') {
            *why = "a key template has no spaces, quotes, backslashes or control characters";
            return false;
        }
    }
    if (placeholders == 0) {
        *why = "a per-row key needs a {column} placeholder (for one key, use `cache bump`)";
        return false;
    }
    return true;
}

/* `key TEMPLATE` | `bump KEY` | `purge 'PATTERN'`; may repeat. */
static bool
dir_cache(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    static const char *const kinds[] = {"key", "bump", "purge"};
    cache_rule_t r = {0};
    const char *q = arg, *why = NULL;
    size_t n;
    int k;

    for (k = 0; k < 3; k++) {
        n = strlen(kinds[k]);
        if (strncmp(q, kinds[k], n) == 0 && (q[n] == ' ' || q[n] == '\t'))
            break;
    }
    if (k == 3)
        return fail_at(p, line, col,
                       "convoy:cache needs `key TEMPLATE` (e.g. key user:{id}), `bump KEY` (e.g. "
                       "bump users:version) or `purge 'PATTERN'`");
    q = skip_space(q + strlen(kinds[k]));
    r.kind = (cache_kind_t)k;
    r.line = line;
    n = strlen(q);
    while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
        n--;
    if (n >= 2 && q[0] == '\'' && q[n - 1] == '\'') {
        q++;
        n -= 2;
    }
    if (n == 0)
        return fail_at(p, line, arg_col + (int)(q - arg), "convoy:cache %s is missing its %s",
                       kinds[k],
                       k == 0   ? "key template"
                       : k == 1 ? "key"
                                : "pattern");
    r.arg = xstrndup(q, n);
    if (r.kind == CACHE_KEY && !valid_key_template(r.arg, &why)) {
        fail_at(p, line, arg_col + (int)(q - arg), "convoy:cache key %s: %s", r.arg, why);
        free(r.arg);
        return false;
    }
    if (r.kind != CACHE_KEY && strpbrk(r.arg, " \t") != NULL) {
        fail_at(p, line, arg_col + (int)(q - arg), "convoy:cache %s `%s`: no spaces in a key",
                kinds[k], r.arg);
        free(r.arg);
        return false;
    }
    p->m->cache_rules = xrealloc(p->m->cache_rules, (p->m->n_cache_rules + 1) * sizeof(r));
    p->m->cache_rules[p->m->n_cache_rules++] = r;
    return true;
}

/* `RULE REASON`: the next statement may break lint rule RULE; may repeat. The rule id is
 * checked by the linter, which knows the rules; here only its shape and the reason. */
static bool
dir_allow(parser_t *p, const char *arg, int line, int col, int arg_col)
{
    size_t n = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-");
    const char *reason = skip_space(arg + n);
    allow_directive_t a = {0};

    (void)col;
    if (n == 0 || (arg[n] != '\0' && arg[n] != ' ' && arg[n] != '\t'))
        return fail_at(p, line, arg_col,
                       "convoy:allow needs a lint rule id (lower case, digits, '-') and a reason, "
                       "as in `-- convoy:allow name-abbreviation qty is the domain's own word`");
    if (*reason == '\0')
        return fail_at(p, line, arg_col + (int)n,
                       "convoy:allow %.*s needs a reason after the rule id; it is kept in the "
                       "lint output, as in `-- convoy:allow %.*s <why this is fine here>`",
                       (int)n, arg, (int)n, arg);
    a.rule = xstrndup(arg, n);
    a.reason = xstrdup(reason);
    a.line = line;
    a.col = arg_col;
    p->m->allows = xrealloc(p->m->allows, (p->m->n_allows + 1) * sizeof(a));
    p->m->allows[p->m->n_allows++] = a;
    return true;
}

/* Every directive; a single-valued one has its slot in parser_t.directive_line. */
static const struct {
    const char *key;
    int single; /* DIR_* index, or -1 for a directive that may repeat (per column) */
    directive_fn apply;
} directive_table[] = {
    {"name", DIR_NAME, dir_name},
    {"backfill", -1, dir_backfill},
    {"lock-timeout", DIR_LOCK_TIMEOUT, dir_lock_timeout},
    {"batch-target", DIR_BATCH_TARGET, dir_batch_target},
    {"statement-timeout", DIR_STATEMENT_TIMEOUT, dir_statement_timeout},
    {"contract", DIR_CONTRACT, dir_contract},
    {"index-foreign-keys", DIR_INDEX_FOREIGN_KEYS, dir_index_foreign_keys},
    {"app-version", DIR_APP_VERSION, dir_app_version},
    {"contract-hold", DIR_CONTRACT_HOLD, dir_contract_hold},
    {"expand", DIR_EXPAND, dir_expand},
    {"window", DIR_WINDOW, dir_window},
    {"risk-threshold", DIR_RISK_THRESHOLD, dir_risk_threshold},
    {"risk", DIR_RISK, dir_risk},
    {"cache", -1, dir_cache},
    {"allow", -1, dir_allow},
    {"backfill-workers", DIR_BACKFILL_WORKERS, dir_backfill_workers},
};

/* `body` follows "convoy:" at (line, col); `col` is where "convoy:" starts. */
static bool
parse_directive(parser_t *p, const char *body, int line, int col)
{
    size_t klen = 0;
    char *key, *arg;
    const char *a;
    bool ok = false;
    size_t i;

    while (body[klen] &&
           (isalnum((unsigned char)body[klen]) || body[klen] == '-' || body[klen] == '_'))
        klen++;
    key = xstrndup(body, klen);
    a = skip_space(body + klen);
    arg = xstrdup(a);
    for (size_t n = strlen(arg); n > 0 && isspace((unsigned char)arg[n - 1]); n--)
        arg[n - 1] = '\0';

    for (i = 0; i < sizeof(directive_table) / sizeof(directive_table[0]); i++)
        if (strcmp(key, directive_table[i].key) == 0)
            break;
    if (i == sizeof(directive_table) / sizeof(directive_table[0])) {
        sb_t known;
        sb_init(&known);
        for (size_t k = 0; k < sizeof(directive_table) / sizeof(directive_table[0]); k++)
            sb_printf(&known, "%s%s", k ? ", " : "", directive_table[k].key);
        fail_at(p, line, col, "unknown directive 'convoy:%s'; expected one of: %s", key,
                known.data);
        sb_free(&known);
        goto done;
    }
    if (directive_table[i].single >= 0) {
        int *first = &p->directive_line[directive_table[i].single];
        if (*first > 0) {
            fail_at(p, line, col,
                    "convoy:%s is given twice (lines %d and %d); it takes one value: keep one "
                    "of them",
                    key, *first, line);
            goto done;
        }
        *first = line;
    }
    /* The directive is ASCII up to its argument, so bytes are columns. */
    ok = directive_table[i].apply(p, arg, line, col, col + 7 + (int)(a - body));
done:
    free(key);
    free(arg);
    return ok;
}

/* True when only spaces and tabs precede offset on its line. */
static bool
starts_line(const char *text, size_t offset)
{
    while (offset > 0 && (text[offset - 1] == ' ' || text[offset - 1] == '\t'))
        offset--;
    return offset == 0 || text[offset - 1] == '\n';
}

/*
 * Finds `-- convoy:` directives. Only a real `--` comment that stands on its own line is
 * one: the scanner's tokens tell comments from string literals and dollar-quoted bodies
 * that merely contain such a line.
 */
static bool
parse_directives(parser_t *p)
{
    for (size_t i = 0; i < p->tokens->n_tokens; i++) {
        const PgQuery__ScanToken *t = p->tokens->tokens[i];
        size_t start = (size_t)t->start;
        char *body;
        const char *c;
        int line, col;
        bool ok = true;

        if (t->token != PG_QUERY__TOKEN__SQL_COMMENT || !starts_line(p->text, start))
            continue;
        body = xstrndup(p->text + start + 2, (size_t)(t->end - t->start) - 2);
        c = skip_space(body);
        if (strncmp(c, "convoy:", 7) == 0) {
            pos_at(&p->pos, start, &line, &col);
            ok = parse_directive(p, c + 7, line, col + 2 + (int)(c - body));
        } else if (strncmp(c, "convoy ", 7) == 0 || strncmp(c, "convoy-", 7) == 0) {
            pos_at(&p->pos, start, &line, &col);
            ok = fail_at(p, line, col + 2 + (int)(c - body),
                         "looks like a convoy directive but lacks the colon; write "
                         "`-- convoy:<directive> ...`");
        }
        free(body);
        if (!ok)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- statements */

static action_t *
add_action(parser_t *p, action_kind_t kind, const char *stmt_sql, int line, int col)
{
    action_t *a;

    if (p->m->n_actions == p->cap_actions) {
        p->cap_actions = p->cap_actions ? p->cap_actions * 2 : 16;
        p->m->actions = xrealloc(p->m->actions, p->cap_actions * sizeof(action_t));
    }
    a = &p->m->actions[p->m->n_actions++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->line = line;
    a->line_col = col;
    a->stmt_sql = xstrdup(stmt_sql);
    a->lock = -1;
    return a;
}

static void
refuse(parser_t *p, const char *stmt_sql, int line, int col, const char *reason, const char *fix)
{
    action_t *a = add_action(p, ACT_REFUSE, stmt_sql, line, col);
    a->reason = xstrdup(reason);
    a->fix = fix ? xstrdup(fix) : NULL;
}

static bool
table_is_new(parser_t *p, const qname_t *q)
{
    size_t mask = p->n_slots - 1;

    if (p->n_slots == 0)
        return false;
    for (size_t h = qname_hash(q) & mask; p->new_table_slots[h] != 0; h = (h + 1) & mask)
        if (qname_equal(&p->new_tables[p->new_table_slots[h] - 1], q))
            return true;
    return false;
}

static void
slot_insert(parser_t *p, size_t index)
{
    size_t mask = p->n_slots - 1;
    size_t h = qname_hash(&p->new_tables[index]) & mask;

    while (p->new_table_slots[h] != 0)
        h = (h + 1) & mask;
    p->new_table_slots[h] = index + 1;
}

/* Remembers a table this file creates: later statements on it need no online dance. */
static void
add_new_table(parser_t *p, const qname_t *q)
{
    if (table_is_new(p, q))
        return;
    if (p->n_new_tables == p->cap_new_tables) {
        p->cap_new_tables = p->cap_new_tables ? p->cap_new_tables * 2 : 8;
        p->new_tables = xrealloc(p->new_tables, p->cap_new_tables * sizeof(qname_t));
    }
    p->new_tables[p->n_new_tables].schema = q->schema ? xstrdup(q->schema) : NULL;
    p->new_tables[p->n_new_tables].name = xstrdup(q->name);
    p->n_new_tables++;
    if (2 * p->n_new_tables > p->n_slots) {
        free(p->new_table_slots);
        p->n_slots = p->n_slots ? p->n_slots * 2 : 16;
        p->new_table_slots = xcalloc(p->n_slots, sizeof(size_t));
        for (size_t i = 0; i < p->n_new_tables; i++)
            slot_insert(p, i);
    } else {
        slot_insert(p, p->n_new_tables - 1);
    }
}

/*
 * The name PostgreSQL generates for an unnamed index or constraint (makeObjectName): table,
 * the columns joined by '_' (ChooseIndexNameAddition), and the suffix. When that is longer
 * than 63 bytes the longer of the two parts is shortened first, and each is cut on a
 * character boundary so the name stays valid UTF-8.
 */
char *
migration_object_name(const char *table, char **cols, size_t n_cols, const char *suffix)
{
    size_t t_len = strlen(table), c_len = 0, avail;
    size_t overhead = strlen(suffix) + 1;
    sb_t cols_sb, out;

    sb_init(&cols_sb);
    for (size_t i = 0; i < n_cols && cols_sb.len < MAX_NAME_LEN + 1; i++) {
        if (i > 0)
            sb_putc(&cols_sb, '_');
        sb_puts(&cols_sb, cols[i]);
    }
    if (n_cols > 0) {
        c_len = cols_sb.len;
        overhead++;
    }
    avail = MAX_NAME_LEN - overhead;
    while (t_len + c_len > avail) {
        if (t_len > c_len)
            t_len--;
        else
            c_len--;
    }
    t_len = ident_clip_len(table, t_len);
    if (n_cols > 0)
        c_len = ident_clip_len(cols_sb.data, c_len);
    sb_init(&out);
    sb_putn(&out, table, t_len);
    if (n_cols > 0) {
        sb_putc(&out, '_');
        sb_putn(&out, cols_sb.data, c_len);
    }
    sb_putc(&out, '_');
    sb_puts(&out, suffix);
    sb_free(&cols_sb);
    return sb_steal(&out);
}

static char **
string_list(PgQuery__Node **nodes, size_t n, size_t *n_out)
{
    char **out = xcalloc(n ? n : 1, sizeof(char *));
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        const char *s = pgq_node_str(nodes[i]);
        if (s)
            out[k++] = xstrdup(s);
    }
    *n_out = k;
    return out;
}

static bool
is_serial_type(PgQuery__TypeName *tn)
{
    static const char *const serials[] = {"serial",      "serial4", "bigserial", "serial8",
                                          "smallserial", "serial2", NULL};
    const char *name;

    if (tn == NULL || tn->n_names != 1)
        return false;
    name = pgq_node_str(tn->names[0]);
    for (int i = 0; name && serials[i]; i++)
        if (strcmp(name, serials[i]) == 0)
            return true;
    return false;
}

typedef struct {
    const char *first;
    bool several;
} colref_scan_t;

static bool
scan_column_ref(const ProtobufCMessage *msg, void *arg)
{
    colref_scan_t *scan = arg;
    const PgQuery__ColumnRef *cr;
    const char *name;

    if (msg->descriptor != &pg_query__column_ref__descriptor)
        return true;
    cr = (const PgQuery__ColumnRef *)msg;
    name = pgq_last_name(cr->fields, cr->n_fields);
    if (name == NULL)
        return true;
    if (scan->first == NULL)
        scan->first = name;
    else if (strcmp(scan->first, name) != 0)
        scan->several = true;
    return !scan->several;
}

/*
 * The column PostgreSQL names an unnamed CHECK after: the only column the expression
 * reads, or NULL when it reads none or several (the name is then table_check).
 */
static const char *
check_name_column(const PgQuery__Constraint *c)
{
    colref_scan_t scan = {NULL, false};

    if (c->raw_expr)
        pgq_walk(&c->raw_expr->base, scan_column_ref, &scan);
    return scan.several ? NULL : scan.first;
}

/* A table-level constraint (from ALTER TABLE ADD CONSTRAINT or a column's inline one). */
static void
add_constraint_action(parser_t *p,
                      const char *stmt_sql,
                      int line,
                      int col,
                      const qname_t *table,
                      PgQuery__Constraint *c,
                      const char *inline_column)
{
    action_kind_t kind;
    const char *suffix;
    action_t *a;
    PgQuery__String colstr = PG_QUERY__STRING__INIT;
    PgQuery__Node coln = PG_QUERY__NODE__INIT;
    PgQuery__Node *colarr[1] = {&coln};
    bool patched_fk = false, patched_keys = false;

    switch (c->contype) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        kind = ACT_ADD_CHECK;
        suffix = "check";
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        kind = ACT_ADD_FK;
        suffix = "fkey";
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
        kind = ACT_ADD_UNIQUE;
        suffix = "key";
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
        kind = ACT_ADD_UNIQUE;
        suffix = "pkey";
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
        refuse(p, stmt_sql, line, col,
               "EXCLUDE constraints build their index under an ACCESS EXCLUSIVE lock and "
               "cannot be added NOT VALID or USING INDEX: there is no online way to add one",
               "create a new table with the constraint and migrate the data, or enforce the "
               "rule in the application");
        return;
    default:
        return; /* NULL/NOT NULL/DEFAULT handled by the caller */
    }
    if (PGQ_STR_SET(c->indexname)) {
        a = add_action(p, ACT_ATTACH_INDEX, stmt_sql, line, col);
        a->table.schema = table->schema ? xstrdup(table->schema) : NULL;
        a->table.name = xstrdup(table->name);
        a->index_name = xstrdup(c->indexname);
        a->is_primary = c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
        a->constraint_name = PGQ_STR_SET(c->conname) ? xstrdup(c->conname) : NULL;
        a->name_given = PGQ_STR_SET(c->conname);
        a->constraint_sql = pgq_deparse_constraint(c);
        return;
    }
    if (kind == ACT_ADD_UNIQUE && (c->nulls_not_distinct || c->n_including > 0 ||
                                   c->n_options > 0 || PGQ_STR_SET(c->indexspace))) {
        /* The planner's CREATE UNIQUE INDEX + USING INDEX pair would silently drop these. */
        refuse(p, stmt_sql, line, col,
               "convoy adds UNIQUE and PRIMARY KEY constraints as CREATE UNIQUE INDEX "
               "CONCURRENTLY plus ADD CONSTRAINT ... USING INDEX, and cannot yet carry "
               "DEFERRABLE, INCLUDE, NULLS NOT DISTINCT, WITH (...) or USING INDEX TABLESPACE "
               "over to them",
               "write the two statements yourself and convoy runs both safely: CREATE UNIQUE "
               "INDEX <name> ON <table> (...) with the index options, then ALTER TABLE <table> "
               "ADD CONSTRAINT <name> UNIQUE USING INDEX <name> [DEFERRABLE ...]");
        return;
    }

    /* An inline column constraint names its column implicitly: make it explicit. */
    if (inline_column) {
        colstr.sval = (char *)inline_column;
        coln.node_case = PG_QUERY__NODE__NODE_STRING;
        coln.string = &colstr;
        if (kind == ACT_ADD_FK && c->n_fk_attrs == 0) {
            c->n_fk_attrs = 1;
            c->fk_attrs = colarr;
            patched_fk = true;
        } else if (kind == ACT_ADD_UNIQUE && c->n_keys == 0) {
            c->n_keys = 1;
            c->keys = colarr;
            patched_keys = true;
        }
    }

    a = add_action(p, kind, stmt_sql, line, col);
    a->table.schema = table->schema ? xstrdup(table->schema) : NULL;
    a->table.name = xstrdup(table->name);
    a->not_valid = c->skip_validation;
    a->is_primary = c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
    if (kind == ACT_ADD_FK) {
        a->cols = string_list(c->fk_attrs, c->n_fk_attrs, &a->n_cols);
        qname_set(&a->ref_table, c->pktable);
        a->ref_cols = string_list(c->pk_attrs, c->n_pk_attrs, &a->n_ref_cols);
    } else if (kind == ACT_ADD_UNIQUE) {
        a->cols = string_list(c->keys, c->n_keys, &a->n_cols);
    } else if (inline_column) {
        a->cols = xcalloc(1, sizeof(char *));
        a->cols[0] = xstrdup(inline_column);
        a->n_cols = 1;
    }
    a->name_given = PGQ_STR_SET(c->conname);
    if (a->name_given) {
        a->constraint_name = xstrdup(c->conname);
    } else if (kind == ACT_ADD_CHECK) {
        /* PostgreSQL: table_col_check when the expression reads one column, else table_check. */
        const char *only = check_name_column(c);
        char *only_col = (char *)only;
        a->constraint_name =
            migration_object_name(table->name, only ? &only_col : NULL, only ? 1 : 0, suffix);
        if (only) {
            a->name_parts = xcalloc(1, sizeof(char *));
            a->name_parts[0] = xstrdup(only);
            a->n_name_parts = 1;
        }
    } else if (a->is_primary) {
        a->constraint_name = migration_object_name(table->name, NULL, 0, suffix); /* table_pkey */
    } else {
        /* table_col1_col2_fkey / table_col1_col2_key, every column as PostgreSQL does */
        a->constraint_name = migration_object_name(table->name, a->cols, a->n_cols, suffix);
        a->name_parts = xcalloc(a->n_cols ? a->n_cols : 1, sizeof(char *));
        for (size_t i = 0; i < a->n_cols; i++)
            a->name_parts[i] = xstrdup(a->cols[i]);
        a->n_name_parts = a->n_cols;
    }
    a->name_label = xstrdup(suffix);
    if (kind == ACT_ADD_UNIQUE)
        a->index_name = xstrdup(a->constraint_name);
    a->constraint_sql = pgq_deparse_constraint(c);
    a->deferrable = c->deferrable;
    a->initdeferred = c->initdeferred;
    if (patched_fk) {
        c->n_fk_attrs = 0;
        c->fk_attrs = NULL;
    }
    if (patched_keys) {
        c->n_keys = 0;
        c->keys = NULL;
    }
}

static void
convert_add_column(parser_t *p,
                   const char *stmt_sql,
                   int line,
                   int col,
                   const qname_t *table,
                   PgQuery__ColumnDef *cd)
{
    action_t *a = add_action(p, ACT_ADD_COLUMN, stmt_sql, line, col);
    size_t first_constraint = p->m->n_actions;
    size_t n_actions_before;

    a->table.schema = table->schema ? xstrdup(table->schema) : NULL;
    a->table.name = xstrdup(table->name);
    a->column = xstrdup(cd->colname);
    a->type_sql = pgq_deparse_type(cd->type_name);
    if (cd->coll_clause) {
        char *coll = NULL;
        size_t n = 0;
        char **names = string_list(cd->coll_clause->collname, cd->coll_clause->n_collname, &n);
        sb_t sb;
        sb_init(&sb);
        sb_puts(&sb, " COLLATE ");
        for (size_t i = 0; i < n; i++) {
            coll = ident_sql(names[i]);
            sb_printf(&sb, "%s%s", i ? "." : "", coll);
            free(coll);
            free(names[i]);
        }
        free(names);
        a->collate_sql = sb_steal(&sb);
    }
    a->is_serial = is_serial_type(cd->type_name);
    if (a->is_serial) {
        a->reason = xasprintf("%s column: the sequence default is volatile, so every existing "
                              "row is rewritten under ACCESS EXCLUSIVE",
                              a->type_sql);
    }
    if (cd->is_not_null)
        a->not_null = true;
    if (cd->raw_default) {
        a->default_sql = pgq_deparse_expr(cd->raw_default);
        a->default_volatile_hint = pgq_expr_calls_volatile(cd->raw_default);
        a->default_calls_function = pgq_expr_calls_function(cd->raw_default);
    }
    /*
     * In a column definition the grammar leaves DEFERRABLE and INITIALLY DEFERRED as
     * separate attribute nodes after their constraint; fold them in, or the deparsed
     * constraint would silently lose them.
     */
    {
        PgQuery__Constraint *last = NULL;
        for (size_t i = 0; i < cd->n_constraints; i++) {
            PgQuery__Constraint *c = cd->constraints[i]->constraint;
            switch (c->contype) {
            case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
            case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
            case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
            case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
                last = c;
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRABLE:
                if (last)
                    last->deferrable = true;
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_NOT_DEFERRABLE:
                if (last)
                    last->deferrable = false;
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRED:
                if (last) {
                    last->deferrable = true;
                    last->initdeferred = true;
                }
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_IMMEDIATE:
                if (last)
                    last->initdeferred = false;
                break;
            default:
                break;
            }
        }
    }
    n_actions_before = p->m->n_actions;
    for (size_t i = 0; i < cd->n_constraints; i++) {
        PgQuery__Constraint *c = cd->constraints[i]->constraint;
        /* `a` may move when actions grow: re-fetch it by index. */
        action_t *self = &p->m->actions[first_constraint - 1];

        switch (c->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
            self->not_null = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_NULL:
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
            free(self->default_sql);
            self->default_sql = pgq_deparse_expr(c->raw_expr);
            self->default_volatile_hint = pgq_expr_calls_volatile(c->raw_expr);
            self->default_calls_function = pgq_expr_calls_function(c->raw_expr);
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
            self->is_serial = true;
            free(self->reason);
            self->reason = xstrdup("identity column: every existing row gets a sequence value, "
                                   "which rewrites the table under ACCESS EXCLUSIVE");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
            self->is_serial = true;
            free(self->reason);
            self->reason = xstrdup("GENERATED ALWAYS AS ... STORED computes and stores a value "
                                   "for every row, rewriting the table under ACCESS EXCLUSIVE");
            free(self->fix);
            {
                char *qcol = ident_sql(self->column);
                self->fix = xasprintf(
                    "add %s as a plain %s column, fill it with `-- convoy:backfill %s = <the "
                    "generation expression>` and keep it current from the application or a "
                    "trigger",
                    qcol, self->type_sql, qcol);
                free(qcol);
            }
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
            refuse(p, stmt_sql, line, col,
                   "adding a new PRIMARY KEY column rewrites and scans the table under "
                   "ACCESS EXCLUSIVE",
                   "add the column nullable, backfill it, then CREATE UNIQUE INDEX "
                   "CONCURRENTLY and ADD PRIMARY KEY USING INDEX in a later migration");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
        case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
            add_constraint_action(p, stmt_sql, line, col, table, c, cd->colname);
            break;
        default:
            break;
        }
    }
    (void)n_actions_before;
}

/* A statement that runs as written, in its own transaction under lock_timeout. */
static action_t *
brief(parser_t *p,
      const char *stmt_sql,
      int line,
      int col,
      const qname_t *table,
      int lock,
      const char *reason)
{
    action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
    if (table && table->name) {
        a->table.schema = table->schema ? xstrdup(table->schema) : NULL;
        a->table.name = xstrdup(table->name);
    }
    a->lock = lock;
    a->reason = xstrdup(reason);
    return a;
}

/*
 * DROP COLUMN / RENAME / DROP TABLE: the old application must be gone; -- convoy:contract
 * says it is. The planner decides (it also knows whether an IF EXISTS object exists).
 */
static action_t *
contract_change(parser_t *p,
                const char *stmt_sql,
                int line,
                int col,
                const qname_t *table,
                const char *what,
                const char *column,
                bool missing_ok)
{
    action_t *a = add_action(p, ACT_CONTRACT, stmt_sql, line, col);

    if (table && table->name) {
        a->table.schema = table->schema ? xstrdup(table->schema) : NULL;
        a->table.name = xstrdup(table->name);
    }
    a->column = column ? xstrdup(column) : NULL;
    a->missing_ok = missing_ok;
    a->reason = xasprintf("%s breaks every running application version that still uses %s", what,
                          strcmp(what, "RENAME") == 0 ? "the old name" : "it");
    a->fix = xstrdup("today: deploy an application version that no longer uses it, then put "
                     "`-- convoy:contract` at the top of this file: convoy runs it (metadata "
                     "only) under lock_timeout with retries");
    return a;
}

/* The ALTER TABLE with only its i-th subcommand, as SQL (the text as written for one). */
static char *
subcommand_sql(PgQuery__AlterTableStmt *ats, size_t i, const char *stmt_sql)
{
    PgQuery__Node n = PG_QUERY__NODE__INIT;
    PgQuery__Node **cmds = ats->cmds;
    size_t n_cmds = ats->n_cmds;
    char *err = NULL, *sql;

    if (n_cmds == 1)
        return xstrdup(stmt_sql);
    n.node_case = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT;
    n.alter_table_stmt = ats;
    ats->cmds = &cmds[i];
    ats->n_cmds = 1;
    sql = pgq_deparse_stmt(&n, &err);
    ats->cmds = cmds;
    ats->n_cmds = n_cmds;
    free(err);
    return sql ? sql : xstrdup(stmt_sql);
}

static void
convert_alter_table(
    parser_t *p, const char *stmt_sql, int line, int col, PgQuery__AlterTableStmt *ats)
{
    qname_t table = {0};
    size_t first_action;

    if (ats->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
        /* ALTER INDEX ... ATTACH PARTITION / SET (...): catalog only on the index */
        action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        a->reason = xstrdup("ALTER INDEX: catalog only, a brief lock on the index");
        return;
    }
    if (ats->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        refuse(p, stmt_sql, line, col, "convoy only plans ALTER TABLE on tables and indexes",
               "write the change as ALTER TABLE (or run this statement outside convoy)");
        return;
    }
    qname_set(&table, ats->relation);
    if (table_is_new(p, &table)) {
        action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        a->table = table;
        a->table_is_new = true;
        a->reason = xstrdup("table created earlier in this migration: it is empty");
        return;
    }
    first_action = p->m->n_actions;
    for (size_t i = 0; i < ats->n_cmds; i++) {
        PgQuery__AlterTableCmd *cmd = ats->cmds[i]->alter_table_cmd;
        action_t *a;
        char *sub = NULL;

        switch (cmd->subtype) {
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
            convert_add_column(p, stmt_sql, line, col, &table, cmd->def->column_def);
            if (cmd->missing_ok) {
                /* IF NOT EXISTS: the planner skips a column that already exists */
                for (size_t k = p->m->n_actions; k-- > 0;) {
                    if (p->m->actions[k].kind == ACT_ADD_COLUMN) {
                        p->m->actions[k].if_not_exists = true;
                        break;
                    }
                }
            }
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
            add_constraint_action(p, stmt_sql, line, col, &table, cmd->def->constraint, NULL);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
            a = add_action(p, ACT_VALIDATE, stmt_sql, line, col);
            a->table.schema = table.schema ? xstrdup(table.schema) : NULL;
            a->table.name = xstrdup(table.name);
            a->constraint_name = xstrdup(cmd->name);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
            a = add_action(p, ACT_SET_DEFAULT, stmt_sql, line, col);
            a->table.schema = table.schema ? xstrdup(table.schema) : NULL;
            a->table.name = xstrdup(table.name);
            a->column = xstrdup(cmd->name);
            if (cmd->def)
                a->default_sql = pgq_deparse_expr(cmd->def);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
            a = add_action(p,
                           cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull
                               ? ACT_SET_NOT_NULL
                               : ACT_DROP_NOT_NULL,
                           stmt_sql, line, col);
            a->table.schema = table.schema ? xstrdup(table.schema) : NULL;
            a->table.name = xstrdup(table.name);
            a->column = xstrdup(cmd->name);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType: {
            PgQuery__ColumnDef *cd = cmd->def->column_def;
            a = add_action(p, ACT_ALTER_TYPE, stmt_sql, line, col);
            /* USING: the server says whether it rewrites, as for any type change */
            if (cd->raw_default)
                a->using_sql = pgq_deparse_expr(cd->raw_default);
            a->table.schema = table.schema ? xstrdup(table.schema) : NULL;
            a->table.name = xstrdup(table.name);
            a->column = xstrdup(cmd->name);
            a->type_sql = pgq_deparse_type(cd->type_name);
            break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
            sub = subcommand_sql(ats, i, stmt_sql);
            contract_change(p, sub, line, col, &table, "DROP COLUMN", cmd->name, cmd->missing_ok);
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
            /* only relaxes a rule: the planner checks which kind of constraint it is */
            sub = subcommand_sql(ats, i, stmt_sql);
            a = add_action(p, ACT_DROP_CONSTRAINT, sub, line, col);
            a->table.schema = table.schema ? xstrdup(table.schema) : NULL;
            a->table.name = xstrdup(table.name);
            a->constraint_name = xstrdup(cmd->name);
            a->if_not_exists = cmd->missing_ok;
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
            sub = subcommand_sql(ats, i, stmt_sql);
            brief(p, sub, line, col, &table, 3 /* SHARE UPDATE EXCLUSIVE */,
                  "planner statistics/options only: SHARE UPDATE EXCLUSIVE, reads and writes "
                  "continue");
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetRelOptions:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetRelOptions:
            sub = subcommand_sql(ats, i, stmt_sql);
            brief(p, sub, line, col, &table, 3 /* SHARE UPDATE EXCLUSIVE (most options) */,
                  "storage options only (fillfactor, autovacuum): no rewrite; applies to pages "
                  "written from now on");
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
            sub = subcommand_sql(ats, i, stmt_sql);
            {
                action_t *at = brief(p, sub, line, col, &table, 3 /* SUE on the parent */,
                                     "ATTACH PARTITION: SHARE UPDATE EXCLUSIVE on the parent, "
                                     "ACCESS EXCLUSIVE on the table attached, which is scanned "
                                     "unless a validated CHECK proves its bound");
                if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
                    cmd->def->partition_cmd->name)
                    qname_set(&at->ref_table, cmd->def->partition_cmd->name);
                at->scans = true;
            }
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition:
            sub = subcommand_sql(ats, i, stmt_sql);
            if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
                cmd->def->partition_cmd->concurrent) {
                action_t *d = brief(p, sub, line, col, &table, 3,
                                    "DETACH PARTITION CONCURRENTLY: outside a transaction, "
                                    "reads and writes continue");
                d->concurrent = true;
            } else {
                brief(p, sub, line, col, &table, 7,
                      "DETACH PARTITION: metadata only, brief ACCESS EXCLUSIVE on the parent");
            }
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ReplicaIdentity:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableRowSecurity:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableRowSecurity:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ForceRowSecurity:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_NoForceRowSecurity:
            sub = subcommand_sql(ats, i, stmt_sql);
            brief(p, sub, line, col, &table, 7,
                  "catalog only (row security / replica identity): brief ACCESS EXCLUSIVE");
            break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrig:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrig:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableAlwaysTrig:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableReplicaTrig:
            sub = subcommand_sql(ats, i, stmt_sql);
            brief(p, sub, line, col, &table, 5 /* SHARE ROW EXCLUSIVE */,
                  "trigger state only: brief SHARE ROW EXCLUSIVE");
            break;
        default:
            refuse(p, stmt_sql, line, col,
                   "convoy does not yet know how to make this ALTER TABLE form safe (it may "
                   "rewrite the table or hold ACCESS EXCLUSIVE)",
                   "split it out and run it in a maintenance window");
            break;
        }
        free(sub);
    }
    /* ALTER TABLE IF EXISTS: the planner skips a missing table, as PostgreSQL does */
    for (size_t k = first_action; ats->missing_ok && k < p->m->n_actions; k++)
        p->m->actions[k].table_missing_ok = true;
    free(table.schema);
    free(table.name);
}

/*
 * PostgreSQL's FigureColname for an index expression: what the column of a SELECT of it
 * would be called, or NULL (then "expr"). The common shapes; anything else is "expr".
 */
static const char *
figure_colname(const PgQuery__Node *n)
{
    if (n == NULL)
        return NULL;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
        const PgQuery__ColumnRef *cr = n->column_ref;
        return cr->n_fields > 0 ? pgq_node_str(cr->fields[cr->n_fields - 1]) : NULL;
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const PgQuery__FuncCall *fc = n->func_call;
        return fc->n_funcname > 0 ? pgq_node_str(fc->funcname[fc->n_funcname - 1]) : NULL;
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
        const char *inner = figure_colname(n->type_cast->arg);
        const PgQuery__TypeName *tn = n->type_cast->type_name;
        if (inner)
            return inner;
        return tn && tn->n_names > 0 ? pgq_node_str(tn->names[tn->n_names - 1]) : NULL;
    }
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return "case";
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return "coalesce";
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        return "array";
    case PG_QUERY__NODE__NODE_ROW_EXPR:
        return "row";
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        return n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "greatest" : "least";
    case PG_QUERY__NODE__NODE_A_EXPR:
        return n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF ? "nullif" : NULL;
    default:
        return NULL;
    }
}

/* ChooseIndexColumnNames: one name per index column, repeats numbered (a, a1, a2). */
static char **
index_column_names(const PgQuery__IndexStmt *is, size_t *n_out)
{
    char **names = xcalloc(is->n_index_params ? is->n_index_params : 1, sizeof(char *));
    size_t n = 0;

    size_t total = is->n_index_params + is->n_index_including_params;

    names = xrealloc(names, (total ? total : 1) * sizeof(char *));
    /* key columns, then INCLUDE columns: PostgreSQL names the index after all of them */
    for (size_t i = 0; i < total; i++) {
        const PgQuery__IndexElem *ie =
            i < is->n_index_params ? is->index_params[i]->index_elem
                                   : is->index_including_params[i - is->n_index_params]->index_elem;
        const char *orig = PGQ_STR_SET(ie->indexcolname) ? ie->indexcolname
                           : PGQ_STR_SET(ie->name)       ? ie->name
                                                         : figure_colname(ie->expr);
        char *cur;
        if (orig == NULL || orig[0] == '\0' || strcmp(orig, "?column?") == 0)
            orig = "expr";
        cur = xstrdup(orig);
        for (int k = 1;; k++) {
            bool clash = false;
            for (size_t j = 0; j < n && !clash; j++)
                clash = strcmp(names[j], cur) == 0;
            if (!clash)
                break;
            free(cur);
            {
                char num[16];
                size_t keep;
                snprintf(num, sizeof(num), "%d", k);
                keep = ident_clip_len(orig, IDENT_MAX_BYTES - strlen(num));
                cur = xasprintf("%.*s%s", (int)keep, orig, num);
            }
        }
        names[n++] = cur;
    }
    *n_out = n;
    return names;
}

static void
convert_create_index(parser_t *p, PgQuery__Node *stmt, const char *stmt_sql, int line, int col)
{
    PgQuery__IndexStmt *is = stmt->index_stmt;
    qname_t table = {0};
    action_t *a;
    char **cols = xcalloc(is->n_index_params ? is->n_index_params : 1, sizeof(char *));
    size_t n_cols = 0;
    char *err = NULL;
    char *saved_name = is->idxname;
    char **index_name_parts = NULL;
    size_t n_parts = 0;

    qname_set(&table, is->relation);
    for (size_t i = 0; i < is->n_index_params; i++) {
        PgQuery__IndexElem *ie = is->index_params[i]->index_elem;
        if (PGQ_STR_SET(ie->name))
            cols[n_cols++] = xstrdup(ie->name);
    }
    /* PostgreSQL names an unnamed index (and each partition's index) after its columns, an
     * expression after what it computes (ChooseIndexColumnNames), numbering repeats */
    index_name_parts = index_column_names(is, &n_parts);
    if (table_is_new(p, &table)) {
        a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        a->table_is_new = true;
        a->table = table;
        a->reason = xstrdup("index on a table created in this migration: it is empty");
        for (size_t i = 0; i < n_cols; i++)
            free(cols[i]);
        free(cols);
        strv_free(index_name_parts, n_parts);
        return;
    }
    if (!is->relation->inh && !is->concurrent) {
        /* CREATE INDEX ... ON ONLY: the first step of the hand-written partitioned dance
         * (an invalid index on the parent, no build); as written, brief SHARE lock */
        a = brief(p, stmt_sql, line, col, &table, 4 /* SHARE */,
                  "CREATE INDEX ... ON ONLY: no build on a partitioned table, brief SHARE");
        a->only_index = true;
        for (size_t i = 0; i < n_cols; i++)
            free(cols[i]);
        free(cols);
        strv_free(index_name_parts, n_parts);
        free(table.schema);
        free(table.name);
        return;
    }
    a = add_action(p, ACT_CREATE_INDEX, stmt_sql, line, col);
    a->table = table;
    a->cols = cols;
    a->n_cols = n_cols;
    a->unique = is->unique;
    a->index_name_given = PGQ_STR_SET(is->idxname);
    a->missing_ok = is->if_not_exists;
    /* "CREATE UNIQUE INDEX" is not a constraint: PostgreSQL says _idx, not _key */
    a->index_name = a->index_name_given
                        ? xstrdup(is->idxname)
                        : migration_object_name(table.name, index_name_parts, n_parts, "idx");
    a->name_parts = index_name_parts;
    a->n_name_parts = n_parts;
    index_name_parts = NULL;
    n_parts = 0;
    /* the deparser writes the name unquoted: leave a slot that the planner fills */
    is->idxname = (char *)MIGRATION_INDEX_NAME_SLOT;
    is->concurrent = true;
    is->if_not_exists = false;
    a->index_sql = pgq_deparse_stmt(stmt, &err);
    free(err);
    err = NULL;
    {
        /* for a partitioned table: ON ONLY the parent, then each partition concurrently */
        PgQuery__RangeVar *rv = is->relation;
        char *relname = rv->relname, *schemaname = rv->schemaname;
        protobuf_c_boolean inh = rv->inh;
        is->concurrent = false;
        rv->inh = false;
        a->index_only_sql = pgq_deparse_stmt(stmt, &err);
        free(err);
        err = NULL;
        is->concurrent = true;
        rv->inh = true;
        rv->relname = (char *)MIGRATION_INDEX_TABLE_SLOT;
        rv->schemaname = (char *)"";
        a->index_part_sql = pgq_deparse_stmt(stmt, &err);
        rv->relname = relname;
        rv->schemaname = schemaname;
        rv->inh = inh;
    }
    is->idxname = saved_name;
    strv_free(index_name_parts, n_parts);
    free(err);
}

static void
convert_drop(parser_t *p, PgQuery__Node *stmt, const char *stmt_sql, int line, int col)
{
    PgQuery__DropStmt *ds = stmt->drop_stmt;
    char *err = NULL;

    if (ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
        PgQuery__Node **all = ds->objects;
        size_t n_all = ds->n_objects;
        if (ds->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE) {
            refuse(p, stmt_sql, line, col,
                   "DROP INDEX ... CASCADE also drops the constraints that depend on the index, "
                   "and DROP INDEX CONCURRENTLY cannot cascade",
                   "drop the dependent constraints first (ALTER TABLE ... DROP CONSTRAINT), then "
                   "DROP INDEX without CASCADE");
            return;
        }
        /* DROP INDEX a, b: one DROP INDEX CONCURRENTLY per index, in order */
        for (size_t k = 0; k < n_all; k++) {
            action_t *a = add_action(p, ACT_DROP_INDEX, stmt_sql, line, col);
            size_t n = 0;
            char **names = string_list(all[k]->list->items, all[k]->list->n_items, &n);
            if (n >= 1) {
                a->index_name = xstrdup(names[n - 1]);
                if (n >= 2)
                    a->table.schema = xstrdup(names[n - 2]);
            }
            strv_free(names, n);
            a->missing_ok = ds->missing_ok;
            ds->objects = &all[k];
            ds->n_objects = 1;
            ds->concurrent = true;
            a->index_sql = pgq_deparse_stmt(stmt, &err);
            free(err);
            err = NULL;
        }
        ds->objects = all;
        ds->n_objects = n_all;
        return;
    }
    if (ds->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        bool all_new = ds->n_objects > 0;
        for (size_t k = 0; k < ds->n_objects && all_new; k++) {
            size_t n = 0;
            char **names =
                string_list(ds->objects[k]->list->items, ds->objects[k]->list->n_items, &n);
            qname_t q = {n >= 2 ? names[n - 2] : NULL, n >= 1 ? names[n - 1] : NULL};
            all_new = q.name && table_is_new(p, &q);
            strv_free(names, n);
        }
        if (all_new) {
            add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
            return;
        }
        {
            size_t n = 0;
            char **names =
                string_list(ds->objects[0]->list->items, ds->objects[0]->list->n_items, &n);
            qname_t q = {n >= 2 ? names[n - 2] : NULL, n >= 1 ? names[n - 1] : NULL};
            action_t *a = contract_change(p, stmt_sql, line, col, ds->n_objects == 1 ? &q : NULL,
                                          "DROP TABLE", NULL, ds->missing_ok);
            free(a->reason);
            free(a->fix);
            a->reason = xstrdup("DROP TABLE destroys data and breaks every application version "
                                "still using the table");
            a->fix = xstrdup("today: stop every read and write of the table (deploy an "
                             "application version without it), then put `-- convoy:contract` "
                             "at the top of this file");
            strv_free(names, n);
        }
        return;
    }
    if (p->m->contract) {
        add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col)->reason =
            xstrdup("contract change (-- convoy:contract): run as written");
        return;
    }
    refuse(p, stmt_sql, line, col,
           "a DROP breaks every application version that still uses the object",
           "today: deploy an application version that no longer uses it, then put "
           "`-- convoy:contract` at the top of this file: convoy runs it as written");
}

/* Case-insensitive substring test. */
static bool
ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

/* "true" when a DefElem-style option list holds `name` (e.g. CONCURRENTLY, FULL). */
static bool
has_option(PgQuery__Node **opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            strcmp(opts[i]->def_elem->defname, name) == 0)
            return true;
    return false;
}

static void
convert_reindex(
    parser_t *p, const PgQuery__ReindexStmt *rs, const char *stmt_sql, int line, int col)
{
    action_t *a;

    if (!has_option(rs->params, rs->n_params, "concurrently")) {
        refuse(p, stmt_sql, line, col,
               "REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the "
               "index, while it rebuilds",
               "write REINDEX ... CONCURRENTLY: convoy runs it outside a transaction, where it "
               "blocks neither reads nor writes");
        return;
    }
    a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
    a->concurrent = true;
    a->lock = 3; /* SHARE UPDATE EXCLUSIVE, on the table (or the index) it names */
    a->scans = true;
    a->reason = xstrdup("REINDEX CONCURRENTLY: outside a transaction, reads and writes continue");
    if (rs->relation)
        qname_set(&a->table, rs->relation);
}

static void
convert_vacuum(parser_t *p, const PgQuery__VacuumStmt *vs, const char *stmt_sql, int line, int col)
{
    action_t *a;

    if (has_option(vs->options, vs->n_options, "full")) {
        refuse(p, stmt_sql, line, col,
               "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE for as long as it runs",
               "use pg_repack (or plain VACUUM, which convoy runs) instead");
        return;
    }
    a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
    a->lock = 3; /* SHARE UPDATE EXCLUSIVE */
    a->scans = true;
    if (vs->is_vacuumcmd) {
        a->concurrent = true; /* VACUUM cannot run inside a transaction block */
        a->reason = xstrdup("VACUUM: SHARE UPDATE EXCLUSIVE, reads and writes continue");
    } else {
        a->reason = xstrdup("ANALYZE: SHARE UPDATE EXCLUSIVE, reads and writes continue");
    }
    if (vs->n_rels == 1 && vs->rels[0]->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION &&
        vs->rels[0]->vacuum_relation->relation)
        qname_set(&a->table, vs->rels[0]->vacuum_relation->relation);
}

/*
 * SET lock_timeout / statement_timeout apply to convoy's steps the way the directives do
 * (within the same bounds); other SET commands only last for a session convoy does not
 * keep, and are ignored with a warning.
 */
static void
convert_set(
    parser_t *p, const PgQuery__VariableSetStmt *vs, const char *stmt_sql, int line, int col)
{
    const char *name = vs->name ? vs->name : "";
    bool lt = strcmp(name, "lock_timeout") == 0, st = strcmp(name, "statement_timeout") == 0;
    int64_t ms = 0;
    char *v = NULL;

    if (strcmp(name, "search_path") == 0 &&
        vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && vs->n_args > 0) {
        /* psql resolves the statements that follow with it: so do convoy's plan and steps */
        sb_t sp;
        sb_init(&sp);
        for (size_t i = 0; i < vs->n_args; i++) {
            char *e = pgq_deparse_expr(vs->args[i]);
            sb_printf(&sp, "%s%s", i ? ", " : "", e ? e : "''");
            free(e);
        }
        free(p->m->search_path);
        p->m->search_path = sb_steal(&sp);
        add_action(p, ACT_SET_HONOURED, stmt_sql, line, col);
        return;
    }
    if ((lt || st) && vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && vs->n_args == 1)
        v = pgq_deparse_expr(vs->args[0]);
    if (v) {
        /* '3s' deparses quoted, 3000 as a bare number (milliseconds) */
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
            memmove(v, v + 1, n - 2);
            v[n - 2] = '\0';
        }
    }
    if (v && parse_duration_ms(v, &ms)) {
        int slot = lt ? DIR_LOCK_TIMEOUT : DIR_STATEMENT_TIMEOUT;
        int64_t lo = lt ? 1 : 100, hi = lt ? 10000 : 3600000;
        int64_t *dst = lt ? &p->m->lock_timeout_ms : &p->m->statement_timeout_ms;
        action_t *a = add_action(p, ACT_IGNORE, stmt_sql, line, col);
        if (p->directive_line[slot] > 0) {
            a->reason =
                xasprintf("%s: the -- convoy:%s directive on line %d wins over this SET", name,
                          lt ? "lock-timeout" : "statement-timeout", p->directive_line[slot]);
        } else if (ms == 0 || ms > hi || ms < lo) {
            *dst = ms == 0 || ms > hi ? hi : lo;
            a->reason = xasprintf("%s = %s is outside convoy's bounds for a step (%lld ms .. "
                                  "%lld ms): using %lld ms per attempt, with retries",
                                  name, v, (long long)lo, (long long)hi, (long long)*dst);
        } else {
            *dst = ms;
            a->reason = NULL; /* honoured exactly: nothing to say */
            a->kind = ACT_SET_HONOURED;
        }
        free(v);
        return;
    }
    free(v);
    add_action(p, ACT_IGNORE, stmt_sql, line, col)->reason =
        xasprintf("SET %s is ignored: it would only last for psql's session; convoy runs each "
                  "step in its own transaction",
                  name[0] ? name : "(this setting)");
}

/* Is n a constant (or a list of them): a literal, a parameter, a cast of one? */
static bool
is_const(const PgQuery__Node *n)
{
    if (n == NULL)
        return false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
    case PG_QUERY__NODE__NODE_PARAM_REF:
        return true;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return is_const(n->type_cast->arg);
    case PG_QUERY__NODE__NODE_LIST:
        for (size_t i = 0; i < n->list->n_items; i++)
            if (!is_const(n->list->items[i]))
                return false;
        return true;
    default:
        return false;
    }
}

/* Collects the columns a WHERE pins to constants: col = c, col IN (c, ...), ANDed. */
static void
collect_where_eq(const PgQuery__Node *w, action_t *a)
{
    if (w == NULL)
        return;
    if (w->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        w->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < w->bool_expr->n_args; i++)
            collect_where_eq(w->bool_expr->args[i], a);
        return;
    }
    if (w->node_case == PG_QUERY__NODE__NODE_A_EXPR) {
        const PgQuery__AExpr *e = w->a_expr;
        const char *op = e->n_name == 1 ? pgq_node_str(e->name[0]) : NULL;
        bool eq = (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP && op && strcmp(op, "=") == 0) ||
                  (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_IN && op && strcmp(op, "=") == 0);
        if (eq && e->lexpr && e->lexpr->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
            is_const(e->rexpr)) {
            const PgQuery__ColumnRef *cr = e->lexpr->column_ref;
            const char *name = cr->n_fields ? pgq_node_str(cr->fields[cr->n_fields - 1]) : NULL;
            if (name) {
                a->where_eq = xrealloc(a->where_eq, (a->n_where_eq + 1) * sizeof(char *));
                a->where_eq[a->n_where_eq++] = xstrdup(name);
            }
        }
    }
}

static void
convert_update(parser_t *p, PgQuery__UpdateStmt *us, const char *stmt_sql, int line, int col)
{
    action_t *a;
    sb_t set;

    a = add_action(p, ACT_UPDATE, stmt_sql, line, col);
    qname_set(&a->table, us->relation);
    a->table_is_new = table_is_new(p, &a->table);
    a->batchable = us->n_from_clause == 0 && us->n_returning_list == 0 && us->with_clause == NULL &&
                   us->relation->alias == NULL;
    sb_init(&set);
    for (size_t i = 0; i < us->n_target_list; i++) {
        const PgQuery__ResTarget *rt = us->target_list[i]->res_target;
        char *v, *c;
        if (rt->n_indirection > 0 || rt->val == NULL ||
            rt->val->node_case == PG_QUERY__NODE__NODE_MULTI_ASSIGN_REF) {
            a->batchable = false;
            continue;
        }
        v = pgq_deparse_expr(rt->val);
        c = ident_sql(rt->name);
        sb_printf(&set, "%s%s = %s", set.len ? ", " : "", c, v ? v : "NULL");
        if (i == 0) {
            a->column = xstrdup(rt->name);
        }
        free(v);
        free(c);
    }
    a->set_sql = sb_steal(&set);
    if (us->where_clause) {
        a->where_sql = pgq_deparse_expr(us->where_clause);
        collect_where_eq(us->where_clause, a);
    }
}

static void
convert_delete(parser_t *p, PgQuery__DeleteStmt *ds, const char *stmt_sql, int line, int col)
{
    action_t *a = add_action(p, ACT_UPDATE, stmt_sql, line, col);

    qname_set(&a->table, ds->relation);
    a->table_is_new = table_is_new(p, &a->table);
    a->is_delete = true;
    if (ds->where_clause) {
        a->where_sql = pgq_deparse_expr(ds->where_clause);
        collect_where_eq(ds->where_clause, a);
    }
}

static void
convert_statement(parser_t *p, PgQuery__RawStmt *raw)
{
    PgQuery__Node *stmt = raw->stmt;
    size_t start = (size_t)raw->stmt_location;
    size_t end = raw->stmt_len ? start + (size_t)raw->stmt_len : p->len;
    const PgQuery__ScanResult *tk = p->tokens;
    char *stmt_sql;
    int line, col;

    /*
     * The statement starts at its first token that is not a comment. Statements come in
     * file order, so one pass over the tokens serves them all.
     */
    while (p->next_token < tk->n_tokens && ((size_t)tk->tokens[p->next_token]->start < start ||
                                            pgq_token_is_comment(tk->tokens[p->next_token])))
        p->next_token++;
    if (p->next_token < tk->n_tokens && (size_t)tk->tokens[p->next_token]->start < end)
        start = (size_t)tk->tokens[p->next_token]->start;
    while (end > start && isspace((unsigned char)p->text[end - 1]))
        end--;
    stmt_sql = xstrndup(p->text + start, end - start);
    pos_at(&p->pos, start, &line, &col);

    switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        convert_alter_table(p, stmt_sql, line, col, stmt->alter_table_stmt);
        break;
    case PG_QUERY__NODE__NODE_INDEX_STMT:
        convert_create_index(p, stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_DROP_STMT:
        convert_drop(p, stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_CREATE_STMT: {
        action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        const PgQuery__CreateStmt *cs = stmt->create_stmt;
        qname_set(&a->table, cs->relation);
        a->table_is_new = true;
        a->replay = true;
        add_new_table(p, &a->table);
        if (cs->partbound && cs->n_inh_relations == 1 &&
            cs->inh_relations[0]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) {
            /* PARTITION OF: ACCESS EXCLUSIVE on the parent, and a scan of its DEFAULT
             * partition (if any) under that lock; the step lists it and runs under
             * lock_timeout and statement_timeout */
            qname_set(&a->ref_table, cs->inh_relations[0]->range_var);
            a->lock = 7;
            a->reason = xstrdup("CREATE TABLE ... PARTITION OF: brief ACCESS EXCLUSIVE on the "
                                "parent; a DEFAULT partition is scanned under it");
        }
        break;
    }
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
    case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
    case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
        add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col)->replay = true;
        break;
    case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT: {
        qname_t t = {0};
        qname_set(&t, stmt->create_policy_stmt->table);
        brief(p, stmt_sql, line, col, &t, 7, "CREATE POLICY: catalog only, brief ACCESS EXCLUSIVE");
        free(t.schema);
        free(t.name);
        break;
    }
    case PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT:
    case PG_QUERY__NODE__NODE_COMMENT_STMT:
    case PG_QUERY__NODE__NODE_GRANT_STMT:
    case PG_QUERY__NODE__NODE_VIEW_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        /* ORMs wrap every file in BEGIN/COMMIT; convoy runs each step in its own short
         * transaction (docs/planner.md), so there is nothing to warn about */
        add_action(p, ACT_SET_HONOURED, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        convert_set(p, stmt->variable_set_stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
        qname_t t = {0};
        qname_set(&t, stmt->create_trig_stmt->relation);
        if (table_is_new(p, &t))
            add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        else
            brief(p, stmt_sql, line, col, &t, 5 /* SHARE ROW EXCLUSIVE */,
                  "CREATE TRIGGER: brief SHARE ROW EXCLUSIVE, no scan");
        free(t.schema);
        free(t.name);
        break;
    }
    case PG_QUERY__NODE__NODE_SELECT_STMT: {
        /* a SELECT only reads (setval() of Django's sqlsequencereset, a sanity check); one that
         * locks rows or creates a table is something else */
        const PgQuery__SelectStmt *ss = stmt->select_stmt;
        if (ss->n_locking_clause > 0 || ss->into_clause) {
            refuse(p, stmt_sql, line, col,
                   "SELECT ... FOR UPDATE / INTO locks rows or writes a table for as long as "
                   "its transaction runs",
                   "write it as INSERT/UPDATE, or CREATE TABLE ... AS for a new table");
            break;
        }
        add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col)->reason =
            xstrdup("SELECT: reads only, bounded by statement_timeout");
        break;
    }
    case PG_QUERY__NODE__NODE_DO_STMT: {
        /* ORMs wrap conditional DDL in DO (Sequelize's enums); convoy cannot see inside it,
         * so it runs as written in one short transaction: its locks wait at most lock_timeout
         * and it runs at most statement_timeout. The probes run it first, like CREATE TYPE. */
        action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        /* replayed for the probes only when it creates types and touches nothing that a
         * rollback cannot undo (a sequence's nextval is not rolled back) */
        a->replay = ci_contains(stmt_sql, "create type") && !ci_contains(stmt_sql, "nextval") &&
                    !ci_contains(stmt_sql, "setval") && !ci_contains(stmt_sql, "insert") &&
                    !ci_contains(stmt_sql, "serial") && !ci_contains(stmt_sql, "identity");
        a->reason = xstrdup("DO block: runs as written in its own transaction, bounded by "
                            "lock_timeout and statement_timeout");
        break;
    }
    case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
        add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col)->reason =
            xstrdup("ALTER TYPE ... ADD VALUE: catalog only, no table lock");
        break;
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
        /* Django emits SET CONSTRAINTS ... IMMEDIATE after adding a deferrable foreign key. */
        add_action(p, ACT_SET_HONOURED, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
        const PgQuery__RenameStmt *rs = stmt->rename_stmt;
        qname_t t = {0};
        if (rs->relation)
            qname_set(&t, rs->relation);
        if (rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
            /* applications do not name indexes; SHARE UPDATE EXCLUSIVE on the index */
            add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col)->reason =
                xstrdup("ALTER INDEX ... RENAME: catalog only, SHARE UPDATE EXCLUSIVE on the "
                        "index");
        } else if (rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT) {
            brief(p, stmt_sql, line, col, &t, 7,
                  "RENAME CONSTRAINT: catalog only, brief ACCESS EXCLUSIVE");
        } else if (t.name && table_is_new(p, &t)) {
            add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        } else {
            action_t *a =
                contract_change(p, stmt_sql, line, col, &t, "RENAME", NULL, rs->missing_ok);
            if (rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
                PGQ_STR_SET(rs->subname) && PGQ_STR_SET(rs->newname)) {
                /* the planner can make it an expand/contract (-- convoy:expand) */
                a->column = xstrdup(rs->subname);
                a->rename_to = xstrdup(rs->newname);
                free(a->fix);
                a->fix = xstrdup(
                    "rename through expand/contract: put `-- convoy:expand` at the top of this "
                    "file (convoy adds the new column, keeps both in sync with a trigger and "
                    "backfills it), roll out the app version that uses the new name, then run "
                    "the same RENAME in a file with `-- convoy:contract NAME-OF-THIS-MIGRATION` "
                    "(docs/rename.md); or, once no running version uses the old name, put `-- "
                    "convoy:contract` at the top of this file and convoy runs it as written");
            }
        }
        free(t.schema);
        free(t.name);
        break;
    }
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        convert_update(p, stmt->update_stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        convert_delete(p, stmt->delete_stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        refuse(p, stmt_sql, line, col, "TRUNCATE takes ACCESS EXCLUSIVE and destroys data",
               "run it separately and deliberately");
        break;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
        convert_reindex(p, stmt->reindex_stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        convert_vacuum(p, stmt->vacuum_stmt, stmt_sql, line, col);
        break;
    case PG_QUERY__NODE__NODE_CREATE_STATS_STMT: {
        action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
        const PgQuery__CreateStatsStmt *cs = stmt->create_stats_stmt;
        a->lock = 3; /* SHARE UPDATE EXCLUSIVE */
        a->reason =
            xstrdup("CREATE STATISTICS: SHARE UPDATE EXCLUSIVE, no scan (ANALYZE fills it)");
        if (cs->n_relations == 1 && cs->relations[0]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
            qname_set(&a->table, cs->relations[0]->range_var);
        break;
    }
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
        if (stmt->refresh_mat_view_stmt->concurrent) {
            action_t *a = add_action(p, ACT_PASSTHROUGH, stmt_sql, line, col);
            a->lock = 6; /* EXCLUSIVE: readers of the view continue */
            a->scans = true;
            a->reason = xstrdup("REFRESH MATERIALIZED VIEW CONCURRENTLY: readers of the view "
                                "continue while it runs");
            qname_set(&a->table, stmt->refresh_mat_view_stmt->relation);
        } else {
            refuse(p, stmt_sql, line, col,
                   "REFRESH MATERIALIZED VIEW holds ACCESS EXCLUSIVE on the view, blocking its "
                   "readers, for as long as the query runs",
                   "write REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index, "
                   "CREATE UNIQUE INDEX ... ON the view): convoy runs it while readers continue");
        }
        break;
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
    case PG_QUERY__NODE__NODE_LOCK_STMT:
        refuse(p, stmt_sql, line, col, "this statement takes a strong lock for as long as it runs",
               "run it outside convoy in a maintenance window (pg_repack for VACUUM FULL/CLUSTER)");
        break;
    default:
        refuse(p, stmt_sql, line, col,
               "convoy does not know how to make this kind of statement safe",
               "run it separately, or open an issue describing the statement");
        break;
    }
    free(stmt_sql);
}

/* True when a token other than a comment or ';' exists. */
static bool
has_sql_tokens(const PgQuery__ScanResult *tokens)
{
    for (size_t i = 0; i < tokens->n_tokens; i++)
        if (!pgq_token_is_comment(tokens->tokens[i]) &&
            tokens->tokens[i]->token != PG_QUERY__TOKEN__ASCII_59)
            return true;
    return false;
}

/*
 * Length of the valid UTF-8 prefix of s (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), the way PostgreSQL's pg_utf8_islegal judges it.
 */
static size_t
utf8_valid_prefix(const unsigned char *s, size_t len, size_t *bad_len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            *bad_len = 1;
            return i;
        }
        for (size_t k = 1; k < n; k++) {
            unsigned char b = i + k < len ? s[i + k] : 0;
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                *bad_len = k + (i + k < len ? 1 : 0);
                return i;
            }
        }
        i += n;
    }
    *bad_len = 0;
    return i;
}

/* Refuses text that is not UTF-8, pointing at the first bad byte. */
static bool
check_utf8(parser_t *p)
{
    size_t bad_len = 0;
    size_t at = utf8_valid_prefix((const unsigned char *)p->text, p->len, &bad_len);
    char bytes[4 * 5 + 1] = "";
    int line, col;

    if (at == p->len)
        return true;
    for (size_t k = 0; k < bad_len && k < 4; k++) {
        size_t used = strlen(bytes);
        snprintf(bytes + used, sizeof(bytes) - used, "%s0x%02x", k ? " " : "",
                 (unsigned char)p->text[at + k]);
    }
    pos_at(&p->pos, at, &line, &col);
    return fail_at(p, line, col,
                   "invalid UTF-8 byte sequence %s; convoy reads migration files as UTF-8: "
                   "convert the file (for example `iconv -f LATIN1 -t UTF-8`)",
                   bytes);
}

static char *
default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    sb_t sb;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    sb_init(&sb);
    for (const char *s = base; *s && s != dot && sb.len < MAX_NAME_LEN; s++)
        sb_putc(&sb, (isalnum((unsigned char)*s) || *s == '-' || *s == '.') ? *s : '_');
    if (sb.len == 0)
        sb_puts(&sb, "migration");
    return sb_steal(&sb);
}

bool
migration_parse(const char *path, const char *text, migration_t *out, parse_error_t *err)
{
    static const char bom[] = "\xEF\xBB\xBF";
    parser_t p = {0};
    PgQuery__ScanResult *tokens = NULL;
    PgQuery__ParseResult *pr = NULL;
    pgq_error_t e;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    /* Editors on Windows start UTF-8 files with a byte-order mark: it is not SQL. */
    if (strncmp(text, bom, 3) == 0)
        text += 3;
    p.text = text;
    p.len = strlen(text);
    p.pos.text = text;
    p.m = out;
    p.err = err;
    out->path = xstrdup(path);
    out->text = xstrdup(text);
    out->name = default_name(path);
    out->contract_hold_ms = -1;
    out->risk_threshold = -1;
    out->risk_measured = -1;
    sha256_hex(text, p.len, out->checksum);

    if (!check_utf8(&p))
        goto done;
    if ((tokens = pgq_scan(text, &e)) == NULL) {
        fail_pgq(&p, &e, text, 1, 1, "SQL syntax error", "valid PostgreSQL SQL");
        goto done;
    }
    p.tokens = tokens;
    if (!parse_directives(&p))
        goto done;
    if (!has_sql_tokens(tokens)) {
        fail_at(&p, 1, 1,
                "no SQL statements found; expected at least one statement such as "
                "`ALTER TABLE users ADD COLUMN last_login timestamptz;`");
        goto done;
    }
    if ((pr = pgq_parse(text, tokens, &e)) == NULL) {
        fail_pgq(&p, &e, text, 1, 1, "SQL syntax error", "valid PostgreSQL SQL");
        goto done;
    }
    for (size_t i = 0; i < pr->n_stmts; i++)
        convert_statement(&p, pr->stmts[i]);
    ok = true;
done:
    pgq_tree_free(pr);
    pgq_scan_free(tokens);
    for (size_t i = 0; i < p.n_new_tables; i++) {
        free(p.new_tables[i].schema);
        free(p.new_tables[i].name);
    }
    free(p.new_tables);
    free(p.new_table_slots);
    if (!ok) {
        migration_free(out);
        memset(out, 0, sizeof(*out));
    }
    return ok;
}

bool
migration_load(const char *path, migration_t *out, parse_error_t *err)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    bool ok;

    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (text == NULL) {
        snprintf(err->message, sizeof(err->message), "cannot read file: %s", strerror(errno));
        return false;
    }
    if (strlen(text) != len) {
        /* Point at the first NUL, which is where the text as C sees it ends. */
        pos_cursor_t pc = {text, 0, 0, 0};
        pos_at(&pc, strlen(text), &err->line, &err->column);
        free(text);
        snprintf(err->message, sizeof(err->message),
                 "file contains a NUL byte; expected a UTF-8 text SQL file (is it UTF-16? "
                 "convert it with `iconv -f UTF-16 -t UTF-8`)");
        return false;
    }
    ok = migration_parse(path, text, out, err);
    free(text);
    return ok;
}

/* Action a names the column that action add adds. */
static bool
same_column(const action_t *add, const action_t *a)
{
    return a->column && a->table.name && add->column && add->table.name &&
           strcmp(a->column, add->column) == 0 && strcmp(a->table.name, add->table.name) == 0 &&
           (a->table.schema == NULL || add->table.schema == NULL ||
            strcmp(a->table.schema, add->table.schema) == 0);
}

const char *
migration_final_default(const migration_t *m, size_t i)
{
    const char *want = m->actions[i].default_sql;

    for (size_t k = i + 1; k < m->n_actions; k++)
        if (m->actions[k].kind == ACT_SET_DEFAULT && same_column(&m->actions[i], &m->actions[k]))
            want = m->actions[k].default_sql;
    return want;
}

column_null_t
migration_final_nullability(const migration_t *m, size_t i)
{
    column_null_t want = m->actions[i].not_null ? COLUMN_NOT_NULL : COLUMN_NULL_ANY;

    for (size_t k = i + 1; k < m->n_actions; k++) {
        if (!same_column(&m->actions[i], &m->actions[k]))
            continue;
        if (m->actions[k].kind == ACT_SET_NOT_NULL)
            want = COLUMN_NOT_NULL;
        else if (m->actions[k].kind == ACT_DROP_NOT_NULL)
            want = COLUMN_NULLABLE;
    }
    return want;
}

void
migration_free(migration_t *m)
{
    if (m == NULL)
        return;
    free(m->search_path);
    free(m->contract_of);
    free(m->app_version);
    free(m->window);
    for (size_t i = 0; i < m->n_cache_rules; i++)
        free(m->cache_rules[i].arg);
    free(m->cache_rules);
    for (size_t i = 0; i < m->n_allows; i++) {
        free(m->allows[i].rule);
        free(m->allows[i].reason);
    }
    free(m->allows);
    for (size_t i = 0; i < m->n_actions; i++) {
        action_t *a = &m->actions[i];
        free(a->stmt_sql);
        free(a->table.schema);
        free(a->table.name);
        free(a->column);
        free(a->rename_to);
        free(a->type_sql);
        free(a->collate_sql);
        free(a->default_sql);
        free(a->constraint_name);
        free(a->constraint_sql);
        strv_free(a->cols, a->n_cols);
        free(a->ref_table.schema);
        free(a->ref_table.name);
        strv_free(a->ref_cols, a->n_ref_cols);
        free(a->index_name);
        free(a->index_sql);
        free(a->index_only_sql);
        free(a->set_sql);
        free(a->where_sql);
        free(a->using_sql);
        free(a->name_label);
        strv_free(a->where_eq, a->n_where_eq);
        free(a->index_part_sql);
        strv_free(a->name_parts, a->n_name_parts);
        free(a->reason);
        free(a->fix);
    }
    free(m->actions);
    for (size_t i = 0; i < m->n_backfills; i++) {
        free(m->backfills[i].table);
        free(m->backfills[i].column);
        free(m->backfills[i].expr_sql);
    }
    free(m->backfills);
    free(m->path);
    free(m->name);
    free(m->text);
    memset(m, 0, sizeof(*m));
}
