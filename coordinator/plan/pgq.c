/* pgq.c: deparse fragments and walk libpg_query protobuf trees generically. */
#include "pgq.h"

#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_version = 150001;

/* Byte offset of the `chars`-th character (0-based) of UTF-8 text. */
static size_t
char_to_byte(const char *text, size_t chars)
{
    size_t i = 0;

    while (text[i] && chars > 0) {
        i++;
        while (((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        chars--;
    }
    return i;
}

/* PostgreSQL's "unterminated ..." scanner errors, and how to close each. */
static const struct {
    const char *what;
    const char *closer;
} unterminated[] = {
    {"unterminated /* comment", "*/"},
    {"unterminated quoted string", "'"},
    {"unterminated dollar-quoted string", "the same $tag$ that opened it"},
    {"unterminated quoted identifier", "\""},
    {"unterminated bit string literal", "'"},
    {"unterminated hexadecimal string literal", "'"},
};

/* Fills err from a libpg_query error whose cursorpos (1-based, in characters) is in sql. */
static void
set_pg_error(pgq_error_t *err, const char *sql, const PgQueryError *e)
{
    size_t chars = e->cursorpos > 0 ? (size_t)e->cursorpos - 1 : 0;

    err->offset = char_to_byte(sql, chars);
    for (size_t i = 0; i < sizeof(unterminated) / sizeof(unterminated[0]); i++) {
        size_t n = strlen(unterminated[i].what);
        if (strncmp(e->message, unterminated[i].what, n) == 0 &&
            (e->message[n] == '\0' || e->message[n] == ' ')) {
            /* "at or near" would quote the whole rest of the file: say where it starts. */
            err->syntax = false;
            snprintf(err->message, sizeof(err->message), "%s starting here; close it with %s",
                     unterminated[i].what, unterminated[i].closer);
            return;
        }
    }
    err->syntax = true;
    snprintf(err->message, sizeof(err->message), "%s", e->message);
}

PgQuery__ScanResult *
pgq_scan(const char *sql, pgq_error_t *err)
{
    PgQueryScanResult r = pg_query_scan(sql);
    PgQuery__ScanResult *scan = NULL;

    memset(err, 0, sizeof(*err));
    if (r.error) {
        set_pg_error(err, sql, r.error);
    } else {
        scan = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
        if (scan == NULL)
            snprintf(err->message, sizeof(err->message),
                     "internal error: could not decode the scanner's tokens");
    }
    pg_query_free_scan_result(r);
    return scan;
}

void
pgq_scan_free(PgQuery__ScanResult *scan)
{
    if (scan)
        pg_query__scan_result__free_unpacked(scan, NULL);
}

bool
pgq_token_is_comment(const PgQuery__ScanToken *t)
{
    return t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT;
}

/*
 * An upper bound on parse-tree depth from the tokens alone, so that input which would
 * overflow libpg_query's own recursion never reaches it. Within one bracket level, the
 * tokens between commas form one expression whose tree can be as deep as it has tokens
 * (a+b+c nests left); a bracketed group adds its own deepest expression. The bound along
 * a path is the sum over its levels. False, with the offset of the expression that goes
 * over PGQ_MAX_TOKENS, when the bound is exceeded.
 */
typedef struct {
    size_t seg_len; /* tokens of the current comma-separated expression */
    size_t child;   /* deepest bracketed group inside it */
    size_t best;    /* deepest finished expression at this level */
    size_t seg_start;
} token_level_t;

static bool
finish_segment(token_level_t *l, size_t *offset)
{
    size_t est = l->seg_len + l->child;

    if (est > PGQ_MAX_TOKENS) {
        *offset = l->seg_start;
        return false;
    }
    if (est > l->best)
        l->best = est;
    l->seg_len = 0;
    l->child = 0;
    return true;
}

static void
count_token(token_level_t *l, size_t start)
{
    if (l->seg_len == 0 && l->child == 0)
        l->seg_start = start;
    l->seg_len++;
}

static bool
tokens_within_bound(const PgQuery__ScanResult *tokens, size_t *offset)
{
    size_t cap = 16, depth = 1;
    token_level_t *lv = xcalloc(cap, sizeof(*lv));
    bool ok = true;

    for (size_t i = 0; ok && i < tokens->n_tokens; i++) {
        const PgQuery__ScanToken *t = tokens->tokens[i];
        size_t start = (size_t)t->start;
        token_level_t *top = &lv[depth - 1];

        if (pgq_token_is_comment(t))
            continue;
        switch (t->token) {
        case PG_QUERY__TOKEN__ASCII_40: /* ( */
        case PG_QUERY__TOKEN__ASCII_91: /* [ */
            count_token(top, start);
            if (depth + top->seg_len + top->child > PGQ_MAX_TOKENS) {
                *offset = start;
                ok = false;
                break;
            }
            if (depth == cap) {
                cap *= 2;
                lv = xrealloc(lv, cap * sizeof(*lv));
            }
            memset(&lv[depth++], 0, sizeof(*lv));
            break;
        case PG_QUERY__TOKEN__ASCII_41: /* ) */
        case PG_QUERY__TOKEN__ASCII_93: /* ] */
            if (depth == 1) {
                count_token(top, start); /* unbalanced: the parser reports it */
                break;
            }
            if (!(ok = finish_segment(top, offset)))
                break;
            depth--;
            if (top->best > lv[depth - 1].child)
                lv[depth - 1].child = top->best;
            count_token(&lv[depth - 1], start);
            break;
        case PG_QUERY__TOKEN__ASCII_44: /* , */
        case PG_QUERY__TOKEN__ASCII_59: /* ; */
            ok = finish_segment(top, offset);
            break;
        default:
            count_token(top, start);
            if (top->seg_len + top->child > PGQ_MAX_TOKENS) {
                *offset = top->seg_start;
                ok = false;
            }
            break;
        }
    }
    /* Close what the input left open, innermost first. */
    while (ok && depth > 1) {
        token_level_t *top = &lv[depth - 1];
        if (!(ok = finish_segment(top, offset)))
            break;
        depth--;
        if (top->best > lv[depth - 1].child)
            lv[depth - 1].child = top->best;
    }
    if (ok)
        ok = finish_segment(&lv[0], offset);
    free(lv);
    return ok;
}

/* ------------------------------------------------------- packed-tree depth check */

static bool
read_varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = d[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

typedef struct {
    const ProtobufCMessageDescriptor *desc;
    size_t end;
} pb_frame_t;

typedef enum { DEPTH_OK, DEPTH_EXCEEDED, DEPTH_MALFORMED } depth_result_t;

/*
 * Walks a packed ParseResult without recursion, counting Node messages along each path:
 * protobuf-c's unpack and every recursive walk after it cost stack per level. On
 * DEPTH_EXCEEDED, *location is the first source position found inside the part that is too
 * deep, else the position of the statement that holds it.
 */
static depth_result_t
packed_tree_depth(const uint8_t *d, size_t len, size_t *location)
{
    size_t cap = 64, n = 0, pos = 0, node_depth = 0;
    pb_frame_t *st = xmalloc(cap * sizeof(*st));
    depth_result_t res = DEPTH_OK;
    bool want_location = false, have_location = false;
    size_t stmt_location = 0, stmt_end = 0;

    st[n++] = (pb_frame_t){&pg_query__parse_result__descriptor, len};
    while (n > 0 && !have_location) {
        pb_frame_t *top = &st[n - 1];
        uint64_t key, v;
        const ProtobufCFieldDescriptor *f;

        if (pos == top->end) {
            if (top->desc == &pg_query__node__descriptor)
                node_depth--;
            if (want_location && top->desc == &pg_query__raw_stmt__descriptor)
                break; /* the statement that is too deep has been read */
            n--;
            continue;
        }
        if (pos > top->end || !read_varint(d, top->end, &pos, &key))
            goto malformed;
        f = protobuf_c_message_descriptor_get_field(top->desc, (unsigned)(key >> 3));
        switch (key & 7) {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
            if (!read_varint(d, top->end, &pos, &v))
                goto malformed;
            if (f == NULL || (int32_t)v < 0)
                break;
            if (!want_location)
                break;
            if (node_depth > PGQ_MAX_DEPTH && strcmp(f->name, "location") == 0) {
                *location = (size_t)(int32_t)v;
                have_location = true;
            } else if (top->desc == &pg_query__raw_stmt__descriptor && top->end == stmt_end &&
                       strcmp(f->name, "stmt_location") == 0) {
                stmt_location = (size_t)(int32_t)v; /* absent (0) for the first statement */
            }
            break;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
            pos += 8;
            break;
        case PROTOBUF_C_WIRE_TYPE_32BIT:
            pos += 4;
            break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
            if (!read_varint(d, top->end, &pos, &v) || v > top->end - pos)
                goto malformed;
            if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE) {
                pos += (size_t)v;
                break;
            }
            if (n == cap) {
                cap *= 2;
                st = xrealloc(st, cap * sizeof(*st));
                top = &st[n - 1];
            }
            st[n++] = (pb_frame_t){f->descriptor, pos + (size_t)v};
            if (f->descriptor == &pg_query__node__descriptor && ++node_depth > PGQ_MAX_DEPTH &&
                !want_location) {
                want_location = true;
                res = DEPTH_EXCEEDED;
                for (size_t i = 0; i < n; i++)
                    if (st[i].desc == &pg_query__raw_stmt__descriptor)
                        stmt_end = st[i].end;
            }
            break;
        default:
            goto malformed;
        }
    }
    if (res == DEPTH_EXCEEDED && !have_location)
        *location = stmt_location;
    free(st);
    return res;
malformed:
    free(st);
    return DEPTH_MALFORMED;
}

static const char simplify_hint[] = "simplify it or move part of it into a SQL function";

PgQuery__ParseResult *
pgq_parse(const char *sql, const PgQuery__ScanResult *tokens, pgq_error_t *err)
{
    PgQueryProtobufParseResult r;
    PgQuery__ParseResult *tree = NULL;
    size_t where = 0;

    memset(err, 0, sizeof(*err));
    if (!tokens_within_bound(tokens, &where)) {
        err->offset = where;
        snprintf(err->message, sizeof(err->message),
                 "expression is too large to parse safely: more than %d tokens in one nested "
                 "expression (convoy's limit); %s",
                 PGQ_MAX_TOKENS, simplify_hint);
        return NULL;
    }
    r = pg_query_parse_protobuf(sql);
    if (r.error) {
        set_pg_error(err, sql, r.error);
        goto done;
    }
    switch (packed_tree_depth((const uint8_t *)r.parse_tree.data, r.parse_tree.len, &where)) {
    case DEPTH_OK:
        tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
                                              (const uint8_t *)r.parse_tree.data);
        if (tree == NULL)
            snprintf(err->message, sizeof(err->message),
                     "internal error: could not decode the parse tree");
        break;
    case DEPTH_EXCEEDED:
        err->offset = where;
        snprintf(err->message, sizeof(err->message),
                 "expression is nested too deeply: more than %d levels in the parse tree (convoy's "
                 "limit); %s",
                 PGQ_MAX_DEPTH, simplify_hint);
        break;
    case DEPTH_MALFORMED:
        snprintf(err->message, sizeof(err->message), "internal error: the parse tree is malformed");
        break;
    }
done:
    pg_query_free_protobuf_parse_result(r);
    return tree;
}

void
pgq_tree_free(PgQuery__ParseResult *tree)
{
    if (tree)
        pg_query__parse_result__free_unpacked(tree, NULL);
}

static char *
deparse_raw(PgQuery__Node *stmt, char **err)
{
    PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
    PgQuery__RawStmt *stmts[1] = {&raw};
    PgQuery__ParseResult pr = PG_QUERY__PARSE_RESULT__INIT;
    PgQueryProtobuf pb;
    PgQueryDeparseResult res;
    char *out = NULL;

    raw.stmt = stmt;
    pr.version = parse_version;
    pr.n_stmts = 1;
    pr.stmts = stmts;
    pb.len = pg_query__parse_result__get_packed_size(&pr);
    pb.data = xmalloc(pb.len);
    pg_query__parse_result__pack(&pr, (uint8_t *)pb.data);
    res = pg_query_deparse_protobuf(pb);
    if (res.error) {
        if (err)
            *err = xstrdup(res.error->message);
    } else {
        out = xstrdup(res.query);
    }
    pg_query_free_deparse_result(res);
    free(pb.data);
    return out;
}

char *
pgq_deparse_stmt(PgQuery__Node *stmt, char **err)
{
    return deparse_raw(stmt, err);
}

static char *
strip_prefix_owned(char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    char *out;

    if (s == NULL)
        return NULL;
    if (strncmp(s, prefix, n) != 0)
        return s;
    out = xstrdup(s + n);
    free(s);
    return out;
}

char *
pgq_deparse_expr(PgQuery__Node *expr)
{
    PgQuery__ResTarget rt = PG_QUERY__RES_TARGET__INIT;
    PgQuery__Node rtn = PG_QUERY__NODE__INIT;
    PgQuery__Node *targets[1] = {&rtn};
    PgQuery__SelectStmt sel = PG_QUERY__SELECT_STMT__INIT;
    PgQuery__Node seln = PG_QUERY__NODE__INIT;

    rt.val = expr;
    rtn.node_case = PG_QUERY__NODE__NODE_RES_TARGET;
    rtn.res_target = &rt;
    sel.n_target_list = 1;
    sel.target_list = targets;
    sel.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
    sel.op = PG_QUERY__SET_OPERATION__SETOP_NONE;
    seln.node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
    seln.select_stmt = &sel;
    return strip_prefix_owned(deparse_raw(&seln, NULL), "SELECT ");
}

char *
pgq_deparse_type(PgQuery__TypeName *tn)
{
    PgQuery__AConst null_const = PG_QUERY__A__CONST__INIT;
    PgQuery__Node nulln = PG_QUERY__NODE__INIT;
    PgQuery__TypeCast tc = PG_QUERY__TYPE_CAST__INIT;
    PgQuery__Node tcn = PG_QUERY__NODE__INIT;

    null_const.isnull = true;
    nulln.node_case = PG_QUERY__NODE__NODE_A_CONST;
    nulln.a_const = &null_const;
    tc.arg = &nulln;
    tc.type_name = tn;
    tcn.node_case = PG_QUERY__NODE__NODE_TYPE_CAST;
    tcn.type_cast = &tc;
    return strip_prefix_owned(pgq_deparse_expr(&tcn), "NULL::");
}

char *
pgq_deparse_constraint(PgQuery__Constraint *c)
{
    PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;
    PgQuery__AlterTableCmd cmd = PG_QUERY__ALTER_TABLE_CMD__INIT;
    PgQuery__Node cmdn = PG_QUERY__NODE__INIT;
    PgQuery__Node *cmds[1] = {&cmdn};
    PgQuery__AlterTableStmt ats = PG_QUERY__ALTER_TABLE_STMT__INIT;
    PgQuery__Node atsn = PG_QUERY__NODE__INIT;
    PgQuery__Node defn = PG_QUERY__NODE__INIT;
    char *saved_name = c->conname;
    protobuf_c_boolean saved_skip = c->skip_validation;
    char *out;

    rv.relname = "x";
    rv.inh = true;
    rv.relpersistence = "p";
    c->conname = "";
    c->skip_validation = false;
    defn.node_case = PG_QUERY__NODE__NODE_CONSTRAINT;
    defn.constraint = c;
    cmd.subtype = PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint;
    cmd.def = &defn;
    cmd.behavior = PG_QUERY__DROP_BEHAVIOR__DROP_RESTRICT;
    cmdn.node_case = PG_QUERY__NODE__NODE_ALTER_TABLE_CMD;
    cmdn.alter_table_cmd = &cmd;
    ats.relation = &rv;
    ats.n_cmds = 1;
    ats.cmds = cmds;
    ats.objtype = PG_QUERY__OBJECT_TYPE__OBJECT_TABLE;
    atsn.node_case = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT;
    atsn.alter_table_stmt = &ats;
    out = strip_prefix_owned(deparse_raw(&atsn, NULL), "ALTER TABLE x ADD ");
    c->conname = saved_name;
    c->skip_validation = saved_skip;
    return out;
}

const char *
pgq_node_str(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_STRING || n->string == NULL)
        return NULL;
    return n->string->sval;
}

const char *
pgq_last_name(PgQuery__Node **names, size_t n)
{
    if (n == 0)
        return NULL;
    return pgq_node_str(names[n - 1]);
}

static bool
walk_message(const ProtobufCMessage *msg, pgq_visit_fn fn, void *arg)
{
    const ProtobufCMessageDescriptor *d;

    if (msg == NULL)
        return true;
    if (!fn(msg, arg))
        return false;
    d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < count; k++)
                if (!walk_message(items[k], fn, arg))
                    return false;
        } else {
            const ProtobufCMessage *child = *(const ProtobufCMessage *const *)(base + f->offset);
            if (!walk_message(child, fn, arg))
                return false;
        }
    }
    return true;
}

void
pgq_walk(const ProtobufCMessage *root, pgq_visit_fn fn, void *arg)
{
    walk_message(root, fn, arg);
}

typedef struct {
    const ProtobufCMessageDescriptor *const *wanted; /* NULL-terminated */
    bool found;
} find_t;

static bool
find_message(const ProtobufCMessage *msg, void *arg)
{
    find_t *f = arg;

    for (size_t i = 0; f->wanted[i]; i++) {
        if (msg->descriptor == f->wanted[i]) {
            f->found = true;
            return false;
        }
    }
    return true;
}

/* True when any node under expr has one of the wanted types. */
static bool
expr_contains(const PgQuery__Node *expr, const ProtobufCMessageDescriptor *const *wanted)
{
    find_t f = {wanted, false};
    pgq_walk(&expr->base, find_message, &f);
    return f.found;
}

bool
pgq_expr_reads_columns(const PgQuery__Node *expr)
{
    static const ProtobufCMessageDescriptor *const wanted[] = {&pg_query__column_ref__descriptor,
                                                               NULL};
    return expr_contains(expr, wanted);
}

bool
pgq_expr_calls_function(const PgQuery__Node *expr)
{
    static const ProtobufCMessageDescriptor *const wanted[] = {
        &pg_query__func_call__descriptor, &pg_query__sqlvalue_function__descriptor, NULL};
    return expr_contains(expr, wanted);
}

static bool
find_volatile_call(const ProtobufCMessage *msg, void *arg)
{
    /* Common volatile built-ins; the live probe decides when a database is given. */
    static const char *const volatile_funcs[] = {
        "random",    "clock_timestamp", "gen_random_uuid", "uuid_generate_v4", "uuid_generate_v1",
        "timeofday", "nextval",         "setval",          "txid_current",     "random_normal",
        NULL};
    const PgQuery__FuncCall *fc;
    const char *name;

    if (msg->descriptor != &pg_query__func_call__descriptor)
        return true;
    fc = (const PgQuery__FuncCall *)msg;
    name = pgq_last_name(fc->funcname, fc->n_funcname);
    for (int i = 0; name && volatile_funcs[i]; i++) {
        if (strcmp(name, volatile_funcs[i]) == 0) {
            *(bool *)arg = true;
            return false;
        }
    }
    return true;
}

bool
pgq_expr_calls_volatile(const PgQuery__Node *expr)
{
    bool found = false;
    pgq_walk(&expr->base, find_volatile_call, &found);
    return found;
}
