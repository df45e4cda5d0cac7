/* plandiff.c: compare a statement's EXPLAIN plans before and after a migration (pure). */
#include "convoy/plandiff.h"

#include "convoy/util.h"
#include "pgq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;    /* the alias, "#2" appended when it repeats */
    char *access; /* "Seq Scan", "Index Scan using x", "Bitmap Heap Scan using x, y" */
} scan_t;

/* What one plan tree says, flattened. */
typedef struct {
    char **types; /* node types in preorder */
    size_t n_types;
    scan_t *scans; /* relation scans in preorder: the join order */
    size_t n_scans;
    char **indexes; /* distinct index names used (after the alias mapping) */
    size_t n_indexes;
    double cost;
    sb_t shape;
} shape_t;

static void
strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = s;
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool
cstrv_has(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != NULL && strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const char *
str_field(const json_t *node, const char *key)
{
    const json_t *v = json_object_get(node, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *
index_name(const plandiff_opts_t *o, const char *name)
{
    for (size_t i = 0; i < o->n_aliases; i++)
        if (o->alias_from[i] != NULL && strcmp(o->alias_from[i], name) == 0)
            return o->alias_to[i];
    return name;
}

/* The node tree of whatever EXPLAIN (FORMAT JSON) gave, or NULL. */
static const json_t *
plan_root(const json_t *j)
{
    if (json_is_array(j))
        j = json_array_get(j, 0);
    if (!json_is_object(j))
        return NULL;
    if (json_is_object(json_object_get(j, "Plan")))
        j = json_object_get(j, "Plan");
    return str_field(j, "Node Type") ? j : NULL;
}

/* The indexes a scan uses: its own, or a Bitmap Heap Scan's Bitmap Index Scans' (through
 * BitmapAnd/BitmapOr); never a SubPlan's. */
static void
scan_indexes(const json_t *node, const plandiff_opts_t *o, sb_t *out)
{
    const char *ix = str_field(node, "Index Name");
    const json_t *kids = json_object_get(node, "Plans");
    size_t i;
    const json_t *k;

    if (ix != NULL)
        sb_printf(out, "%s%s", out->len ? ", " : "", index_name(o, ix));
    json_array_foreach(kids, i, k)
    {
        const char *t = str_field(k, "Node Type");
        if (t != NULL && strncmp(t, "Bitmap", 6) == 0)
            scan_indexes(k, o, out);
    }
}

static void
walk(const json_t *node, const plandiff_opts_t *o, shape_t *s)
{
    const char *type = str_field(node, "Node Type");
    const char *rel = str_field(node, "Relation Name");
    const char *alias = str_field(node, "Alias");
    const char *ix = str_field(node, "Index Name");
    const json_t *kids = json_object_get(node, "Plans");
    size_t n_kids = json_is_array(kids) ? json_array_size(kids) : 0;

    if (type == NULL)
        type = "?";
    strv_push(&s->types, &s->n_types, xstrdup(type));
    sb_puts(&s->shape, type);
    if (ix != NULL) {
        ix = index_name(o, ix);
        sb_printf(&s->shape, " using %s", ix);
        if (!strv_has(s->indexes, s->n_indexes, ix))
            strv_push(&s->indexes, &s->n_indexes, xstrdup(ix));
    }
    if (rel != NULL) {
        sb_printf(&s->shape, " on %s", rel);
        if (alias != NULL && strcmp(alias, rel) != 0)
            sb_printf(&s->shape, " %s", alias);
    }
    /* a scan reads a relation (ModifyTable names its target, but its child scans it) */
    if (rel != NULL && strstr(type, "Scan") != NULL) {
        sb_t access, key;
        size_t seen = 0;

        sb_init(&access);
        sb_init(&key);
        scan_indexes(node, o, &access);
        if (access.len > 0) {
            char *ixs = sb_steal(&access);
            sb_init(&access);
            sb_printf(&access, "%s using %s", type, ixs);
            free(ixs);
        } else {
            sb_puts(&access, type);
        }
        if (alias == NULL)
            alias = rel;
        for (size_t i = 0; i < s->n_scans; i++) {
            const char *k = s->scans[i].key;
            size_t len = strlen(alias);
            if (strncmp(k, alias, len) == 0 && (k[len] == '\0' || k[len] == '#'))
                seen++;
        }
        if (strcmp(alias, rel) != 0)
            sb_printf(&key, "%s (%s)", alias, rel);
        else
            sb_puts(&key, alias);
        if (seen > 0)
            sb_printf(&key, "#%zu", seen + 1);
        s->scans = xrealloc(s->scans, (s->n_scans + 1) * sizeof(scan_t));
        s->scans[s->n_scans].key = sb_steal(&key);
        s->scans[s->n_scans].access = sb_steal(&access);
        s->n_scans++;
    }
    if (n_kids > 0) {
        sb_puts(&s->shape, n_kids > 1 ? " > (" : " > ");
        for (size_t i = 0; i < n_kids; i++) {
            if (i > 0)
                sb_puts(&s->shape, ", ");
            walk(json_array_get(kids, i), o, s);
        }
        if (n_kids > 1)
            sb_putc(&s->shape, ')');
    }
}

static bool
shape_read(const json_t *plan, const plandiff_opts_t *o, shape_t *s)
{
    const json_t *root = plan_root(plan);
    const json_t *cost;

    memset(s, 0, sizeof(*s));
    sb_init(&s->shape);
    if (root == NULL)
        return false;
    cost = json_object_get(root, "Total Cost");
    s->cost = json_is_number(cost) ? json_number_value(cost) : -1;
    walk(root, o, s);
    return true;
}

static void
shape_free(shape_t *s)
{
    strv_free(s->types, s->n_types);
    for (size_t i = 0; i < s->n_scans; i++) {
        free(s->scans[i].key);
        free(s->scans[i].access);
    }
    free(s->scans);
    strv_free(s->indexes, s->n_indexes);
    sb_free(&s->shape);
}

static const scan_t *
scan_by_key(const shape_t *s, const char *key)
{
    for (size_t i = 0; i < s->n_scans; i++)
        if (strcmp(s->scans[i].key, key) == 0)
            return &s->scans[i];
    return NULL;
}

/* Node types in a but not in b (as a multiset), "A, B", or NULL when none. */
static char *
types_minus(const shape_t *a, const shape_t *b)
{
    bool *used = xcalloc(b->n_types ? b->n_types : 1, sizeof(bool));
    sb_t out;

    sb_init(&out);
    for (size_t i = 0; i < a->n_types; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n_types && !found; k++) {
            if (!used[k] && strcmp(a->types[i], b->types[k]) == 0) {
                used[k] = true;
                found = true;
            }
        }
        if (!found)
            sb_printf(&out, "%s%s", out.len ? ", " : "", a->types[i]);
    }
    free(used);
    if (out.len == 0) {
        sb_free(&out);
        return NULL;
    }
    return sb_steal(&out);
}

static char *
join_keys(const shape_t *s)
{
    sb_t out;

    sb_init(&out);
    for (size_t i = 0; i < s->n_scans; i++)
        sb_printf(&out, "%s%s", i ? ", " : "", s->scans[i].key);
    return sb_steal(&out);
}

static char *
join_strv(char *const *v, size_t n)
{
    sb_t out;

    sb_init(&out);
    for (size_t i = 0; i < n; i++)
        sb_printf(&out, "%s%s", i ? ", " : "", v[i]);
    if (n == 0)
        sb_puts(&out, "none");
    return sb_steal(&out);
}

/* True when both scan the same relations (as a multiset), in another order. */
static bool
join_order_differs(const shape_t *b, const shape_t *a)
{
    bool same_order = true;

    if (b->n_scans != a->n_scans || b->n_scans < 2)
        return false;
    for (size_t i = 0; i < b->n_scans; i++) {
        if (scan_by_key(a, b->scans[i].key) == NULL)
            return false;
        if (strcmp(b->scans[i].key, a->scans[i].key) != 0)
            same_order = false;
    }
    return !same_order;
}

static bool
same_index_set(const shape_t *b, const shape_t *a)
{
    if (b->n_indexes != a->n_indexes)
        return false;
    for (size_t i = 0; i < b->n_indexes; i++)
        if (!strv_has(a->indexes, a->n_indexes, b->indexes[i]))
            return false;
    return true;
}

static void
compare_shapes(const shape_t *b, const shape_t *a, const plandiff_opts_t *o, plandiff_t *d)
{
    char *gone = types_minus(b, a), *came = types_minus(a, b);

    if (gone != NULL || came != NULL) {
        d->node_types_changed = true;
        strv_push(
            &d->changes, &d->n_changes,
            xasprintf("node types: %s -> %s", gone ? gone : "nothing", came ? came : "nothing"));
    }
    free(gone);
    free(came);
    for (size_t i = 0; i < b->n_scans; i++) {
        const scan_t *x = &b->scans[i], *y = scan_by_key(a, x->key);
        if (y == NULL)
            strv_push(&d->changes, &d->n_changes,
                      xasprintf("%s: %s -> not scanned", x->key, x->access));
        else if (strcmp(x->access, y->access) != 0)
            strv_push(&d->changes, &d->n_changes,
                      xasprintf("%s: %s -> %s", x->key, x->access, y->access));
    }
    for (size_t i = 0; i < a->n_scans; i++)
        if (scan_by_key(b, a->scans[i].key) == NULL)
            strv_push(&d->changes, &d->n_changes,
                      xasprintf("%s: not scanned -> %s", a->scans[i].key, a->scans[i].access));
    if (join_order_differs(b, a)) {
        char *x = join_keys(b), *y = join_keys(a);
        d->join_order_changed = true;
        strv_push(&d->changes, &d->n_changes, xasprintf("join order: %s -> %s", x, y));
        free(x);
        free(y);
    }
    if (!same_index_set(b, a)) {
        char *x = join_strv(b->indexes, b->n_indexes), *y = join_strv(a->indexes, a->n_indexes);
        d->index_changed = true;
        strv_push(&d->changes, &d->n_changes, xasprintf("indexes used: %s -> %s", x, y));
        free(x);
        free(y);
    }
    d->changed = d->n_changes > 0;
    for (size_t i = 0; i < a->n_indexes; i++)
        if (cstrv_has(o->created, o->n_created, a->indexes[i]))
            strv_push(&d->uses_created, &d->n_uses_created, xstrdup(a->indexes[i]));
    d->after_cost = a->cost;
    if (b->cost > 0 && a->cost >= 0) {
        double thr = o->threshold_pct >= 0 ? o->threshold_pct : PLANDIFF_DEFAULT_THRESHOLD_PCT;
        d->cost_change_pct = (a->cost - b->cost) / b->cost * 100.0;
        if (d->cost_change_pct > thr) {
            d->regression = true;
            strv_push(&d->reasons, &d->n_reasons,
                      xasprintf("estimated cost %.2f -> %.2f (%+.0f%%), over the %.0f%% threshold",
                                b->cost, a->cost, d->cost_change_pct, thr));
        }
    }
}

bool
plandiff_compare(const json_t *before,
                 const json_t *after,
                 const plandiff_opts_t *o,
                 plandiff_t *out,
                 char **err)
{
    shape_t b, a;
    bool have_after = after != NULL;

    memset(out, 0, sizeof(*out));
    out->before_cost = out->after_cost = -1;
    if (!shape_read(before, o, &b)) {
        shape_free(&b);
        *err = xstrdup("the before plan has no node tree");
        return false;
    }
    if (have_after && !shape_read(after, o, &a)) {
        shape_free(&a);
        shape_free(&b);
        *err = xstrdup("the after plan has no node tree");
        return false;
    }
    out->before_cost = b.cost;
    out->before_shape = xstrdup(b.shape.data ? b.shape.data : "");
    for (size_t i = 0; i < b.n_indexes; i++)
        if (cstrv_has(o->dropped, o->n_dropped, b.indexes[i]))
            strv_push(&out->uses_dropped, &out->n_uses_dropped, xstrdup(b.indexes[i]));
    if (have_after) {
        out->compared = true;
        out->after_shape = xstrdup(a.shape.data ? a.shape.data : "");
        compare_shapes(&b, &a, o, out);
        shape_free(&a);
    }
    if (!o->drops_simulated) {
        for (size_t i = 0; i < out->n_uses_dropped; i++) {
            out->regression = true;
            strv_push(&out->reasons, &out->n_reasons,
                      xasprintf("uses index %s, which this migration drops (its plan without "
                                "the index was not simulated)",
                                out->uses_dropped[i]));
        }
    }
    shape_free(&b);
    return true;
}

void
plandiff_free(plandiff_t *d)
{
    if (d == NULL)
        return;
    strv_free(d->changes, d->n_changes);
    strv_free(d->reasons, d->n_reasons);
    strv_free(d->uses_created, d->n_uses_created);
    strv_free(d->uses_dropped, d->n_uses_dropped);
    free(d->before_shape);
    free(d->after_shape);
    memset(d, 0, sizeof(*d));
}

static json_t *
strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *
cost_json(double c)
{
    return c >= 0 && isfinite(c) ? json_real(c) : json_null();
}

json_t *
plandiff_to_json(const plandiff_t *d)
{
    json_t *o = json_object();

    json_object_set_new(o, "compared", json_boolean(d->compared));
    json_object_set_new(o, "changed", json_boolean(d->changed));
    json_object_set_new(o, "node_types_changed", json_boolean(d->node_types_changed));
    json_object_set_new(o, "join_order_changed", json_boolean(d->join_order_changed));
    json_object_set_new(o, "index_changed", json_boolean(d->index_changed));
    json_object_set_new(o, "before_cost", cost_json(d->before_cost));
    json_object_set_new(o, "after_cost", d->compared ? cost_json(d->after_cost) : json_null());
    json_object_set_new(o, "cost_change_pct",
                        d->compared && d->before_cost > 0 ? json_real(d->cost_change_pct)
                                                          : json_null());
    json_object_set_new(o, "regression", json_boolean(d->regression));
    json_object_set_new(o, "changes", strv_json(d->changes, d->n_changes));
    json_object_set_new(o, "reasons", strv_json(d->reasons, d->n_reasons));
    json_object_set_new(o, "uses_created", strv_json(d->uses_created, d->n_uses_created));
    json_object_set_new(o, "uses_dropped", strv_json(d->uses_dropped, d->n_uses_dropped));
    json_object_set_new(o, "before_shape", json_string(d->before_shape ? d->before_shape : ""));
    json_object_set_new(o, "after_shape",
                        d->after_shape ? json_string(d->after_shape) : json_null());
    return o;
}

typedef struct {
    const plandiff_table_t *tables;
    size_t n;
    bool touches;
} touch_t;

static bool
find_table(const ProtobufCMessage *msg, void *arg)
{
    touch_t *t = arg;
    const PgQuery__RangeVar *rv;

    if (msg->descriptor != &pg_query__range_var__descriptor)
        return true;
    rv = (const PgQuery__RangeVar *)msg;
    if (!PGQ_STR_SET(rv->relname))
        return true;
    for (size_t i = 0; i < t->n; i++) {
        const plandiff_table_t *x = &t->tables[i];
        if (x->name == NULL || strcmp(x->name, rv->relname) != 0)
            continue;
        if (PGQ_STR_SET(rv->schemaname) && (x->schema == NULL || strcmp(x->schema, rv->schemaname)))
            continue;
        t->touches = true;
        return false;
    }
    return true;
}

plandiff_stmt_kind_t
plandiff_stmt_touches(
    const char *sql, const plandiff_table_t *tables, size_t n, bool *touches, char **deparsed)
{
    pgq_error_t e = {0};
    PgQuery__ScanResult *scan = pgq_scan(sql, &e);
    PgQuery__ParseResult *tree = scan ? pgq_parse(sql, scan, &e) : NULL;
    plandiff_stmt_kind_t kind = PLANDIFF_STMT_UNPARSED;
    touch_t t = {tables, n, false};

    *touches = false;
    if (deparsed != NULL)
        *deparsed = NULL;
    if (tree != NULL && tree->n_stmts == 1 && tree->stmts[0]->stmt != NULL) {
        const PgQuery__Node *st = tree->stmts[0]->stmt;
        switch (st->node_case) {
        case PG_QUERY__NODE__NODE_SELECT_STMT:
        case PG_QUERY__NODE__NODE_INSERT_STMT:
        case PG_QUERY__NODE__NODE_UPDATE_STMT:
        case PG_QUERY__NODE__NODE_DELETE_STMT:
            kind = PLANDIFF_STMT_DML;
            pgq_walk((const ProtobufCMessage *)st, find_table, &t);
            *touches = t.touches;
            if (deparsed != NULL) {
                char *derr = NULL;
                *deparsed = pgq_deparse_stmt(tree->stmts[0]->stmt, &derr);
                free(derr);
                if (*deparsed == NULL)
                    kind = PLANDIFF_STMT_UNPARSED;
            }
            break;
        default:
            kind = PLANDIFF_STMT_OTHER;
            break;
        }
    }
    pgq_tree_free(tree);
    pgq_scan_free(scan);
    return kind;
}
