/* pgq.c: deparse fragments and walk libpg_query protobuf trees generically. */
#include "pgq.h"

#include "convoy/util.h"

#include <stdlib.h>
#include <string.h>

static int parse_version = 150001;

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

char *
pgq_quote_ident(const char *ident)
{
    PgQuery__String s = PG_QUERY__STRING__INIT;
    PgQuery__Node sn = PG_QUERY__NODE__INIT;
    PgQuery__Node *fields[1] = {&sn};
    PgQuery__ColumnRef cr = PG_QUERY__COLUMN_REF__INIT;
    PgQuery__Node crn = PG_QUERY__NODE__INIT;
    char *out;

    s.sval = (char *)ident;
    sn.node_case = PG_QUERY__NODE__NODE_STRING;
    sn.string = &s;
    cr.n_fields = 1;
    cr.fields = fields;
    crn.node_case = PG_QUERY__NODE__NODE_COLUMN_REF;
    crn.column_ref = &cr;
    out = pgq_deparse_expr(&crn);
    return out ? out : quote_ident(ident);
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
