/* plan_codec.c: steps to and from JSON, so durable state holds the exact plan. */
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdlib.h>
#include <string.h>

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *
strv(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *
plan_step_encode(const step_t *s)
{
    json_t *o = json_object();
    json_t *locks = json_array();

    json_object_set_new(o, "kind", json_string(step_kind_name(s->kind)));
    json_object_set_new(o, "sql", str_or_null(s->sql));
    json_object_set_new(o, "summary", str_or_null(s->summary));
    for (int k = 0; k < s->n_locks; k++)
        json_array_append_new(locks, json_pack("{s:s, s:i}", "table", s->locks[k].table, "mode",
                                               (int)s->locks[k].mode));
    json_object_set_new(o, "locks", locks);
    json_object_set_new(o, "rewrites", json_boolean(s->rewrites));
    json_object_set_new(o, "scans", json_boolean(s->scans));
    json_object_set_new(o, "transactional", json_boolean(s->transactional));
    json_object_set_new(o, "est_ms", json_integer(s->est_ms));
    json_object_set_new(o, "phase", json_integer(s->phase));
    json_object_set_new(o, "undone_by_abort", json_boolean(s->undone_by_abort));
    json_object_set_new(o, "table_sql", str_or_null(s->table_sql));
    json_object_set_new(o, "column_sql", str_or_null(s->column_sql));
    json_object_set_new(o, "expr_sql", str_or_null(s->expr_sql));
    json_object_set_new(o, "key_cols", strv(s->key_cols, s->n_keys));
    json_object_set_new(o, "key_types", strv(s->key_types, s->n_keys));
    json_object_set_new(o, "count_sql", str_or_null(s->count_sql));
    json_object_set_new(o, "sample_sql", str_or_null(s->sample_sql));
    json_object_set_new(o, "index_schema", str_or_null(s->index_schema));
    json_object_set_new(o, "index_name", str_or_null(s->index_name));
    return o;
}

static char *
get_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static char **
get_strv(const json_t *o, const char *key, size_t *n)
{
    const json_t *a = json_object_get(o, key);
    char **out;

    *n = json_is_array(a) ? json_array_size(a) : 0;
    out = xcalloc(*n ? *n : 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        const json_t *v = json_array_get(a, i);
        out[i] = xstrdup(json_is_string(v) ? json_string_value(v) : "");
    }
    return out;
}

bool
plan_step_decode(const json_t *o, step_t *out)
{
    const char *kind;
    const json_t *locks;
    size_t n_types = 0;
    bool found = false;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "kind")))
        return false;
    kind = json_string_value(json_object_get(o, "kind"));
    for (int k = STEP_DDL; k <= STEP_PASSTHROUGH; k++) {
        if (strcmp(kind, step_kind_name((step_kind_t)k)) == 0) {
            out->kind = (step_kind_t)k;
            found = true;
        }
    }
    if (!found)
        return false;
    out->sql = get_str(o, "sql");
    out->summary = get_str(o, "summary");
    locks = json_object_get(o, "locks");
    for (size_t i = 0; json_is_array(locks) && i < json_array_size(locks) && i < PLAN_MAX_LOCKS;
         i++) {
        const json_t *l = json_array_get(locks, i);
        out->locks[i].table = get_str(l, "table");
        out->locks[i].mode = (lock_mode_t)json_integer_value(json_object_get(l, "mode"));
        if (out->locks[i].table == NULL)
            out->locks[i].table = xstrdup("?");
        out->n_locks++;
    }
    out->rewrites = json_is_true(json_object_get(o, "rewrites"));
    out->scans = json_is_true(json_object_get(o, "scans"));
    out->transactional = json_is_true(json_object_get(o, "transactional"));
    out->est_ms = json_integer_value(json_object_get(o, "est_ms"));
    out->phase = (int)json_integer_value(json_object_get(o, "phase"));
    out->undone_by_abort = json_is_true(json_object_get(o, "undone_by_abort"));
    out->table_sql = get_str(o, "table_sql");
    out->column_sql = get_str(o, "column_sql");
    out->expr_sql = get_str(o, "expr_sql");
    out->key_cols = get_strv(o, "key_cols", &out->n_keys);
    out->key_types = get_strv(o, "key_types", &n_types);
    if (n_types != out->n_keys) {
        plan_step_free(out);
        return false;
    }
    out->count_sql = get_str(o, "count_sql");
    out->sample_sql = get_str(o, "sample_sql");
    out->index_schema = get_str(o, "index_schema");
    out->index_name = get_str(o, "index_name");
    return out->sql != NULL;
}
