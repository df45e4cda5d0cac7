/*
 * plan_codec.c: steps and settings to and from JSON, so durable state holds the exact plan.
 *
 * Every object carries "v" (PLAN_CODEC_VERSION); enums are stored by name. Unknown keys are
 * ignored, so a newer convoy can add fields an older one skips; a newer major version is
 * refused with a message rather than misread.
 */
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

    json_object_set_new(o, "v", json_integer(PLAN_CODEC_VERSION));
    json_object_set_new(o, "kind", json_string(step_kind_name(s->kind)));
    json_object_set_new(o, "sql", str_or_null(s->sql));
    json_object_set_new(o, "summary", str_or_null(s->summary));
    for (int k = 0; k < s->n_locks; k++)
        json_array_append_new(locks, json_pack("{s:s, s:s}", "table", s->locks[k].table, "mode",
                                               lock_mode_name(s->locks[k].mode)));
    json_object_set_new(o, "locks", locks);
    json_object_set_new(o, "rewrites", json_boolean(s->rewrites));
    json_object_set_new(o, "scans", json_boolean(s->scans));
    json_object_set_new(o, "transactional", json_boolean(s->transactional));
    json_object_set_new(o, "est_ms", json_integer(s->est_ms));
    json_object_set_new(o, "phase", json_integer(s->phase));
    json_object_set_new(o, "line", json_integer(s->line));
    json_object_set_new(o, "undo_sql", str_or_null(s->undo_sql));
    json_object_set_new(o, "final_step", json_integer(s->final_step));
    json_object_set_new(o, "requires", json_integer(s->requires));
    json_object_set_new(o, "table_sql", str_or_null(s->table_sql));
    json_object_set_new(o, "column_sql", str_or_null(s->column_sql));
    json_object_set_new(o, "expr_sql", str_or_null(s->expr_sql));
    json_object_set_new(o, "key_cols", strv(s->key_cols, s->n_keys));
    json_object_set_new(o, "key_types", strv(s->key_types, s->n_keys));
    json_object_set_new(o, "set_sql", str_or_null(s->set_sql));
    json_object_set_new(o, "where_sql", str_or_null(s->where_sql));
    json_object_set_new(o, "delete_rows", json_boolean(s->delete_rows));
    json_object_set_new(o, "catchup", json_boolean(s->catchup));
    json_object_set_new(o, "fill_step", json_integer(s->fill_step));
    json_object_set_new(o, "cache_keys_sql", str_or_null(s->cache_keys_sql));
    json_object_set_new(o, "count_sql", str_or_null(s->count_sql));
    json_object_set_new(o, "sample_sql", str_or_null(s->sample_sql));
    json_object_set_new(o, "check_desc", str_or_null(s->check_desc));
    json_object_set_new(o, "index_schema", str_or_null(s->index_schema));
    json_object_set_new(o, "index_name", str_or_null(s->index_name));
    json_object_set_new(o, "missing_ok", json_boolean(s->missing_ok));
    return o;
}

static char *
get_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int
get_int(const json_t *o, const char *key)
{
    return (int)json_integer_value(json_object_get(o, key));
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

static bool
version_ok(const json_t *o, const char **err)
{
    json_int_t v = json_integer_value(json_object_get(o, "v"));

    if (!json_is_object(o)) {
        *err = "not a JSON object";
        return false;
    }
    if (v < 1 || v > PLAN_CODEC_VERSION) {
        *err = v > PLAN_CODEC_VERSION ? "stored by a newer convoy (plan encoding version is "
                                        "newer than this binary): upgrade convoy"
                                      : "stored by a convoy older than 0.2 (no version): finish "
                                        "or abort it with that version";
        return false;
    }
    return true;
}

bool
plan_step_decode(const json_t *o, step_t *out, const char **err)
{
    const json_t *locks;
    size_t n_types = 0;

    memset(out, 0, sizeof(*out));
    if (!version_ok(o, err))
        return false;
    if (!json_is_string(json_object_get(o, "kind")) ||
        !step_kind_parse(json_string_value(json_object_get(o, "kind")), &out->kind)) {
        *err = "unknown step kind";
        return false;
    }
    out->sql = get_str(o, "sql");
    out->summary = get_str(o, "summary");
    locks = json_object_get(o, "locks");
    for (size_t i = 0; json_is_array(locks) && i < json_array_size(locks) && i < PLAN_MAX_LOCKS;
         i++) {
        const json_t *l = json_array_get(locks, i);
        const json_t *mode = json_object_get(l, "mode");
        out->locks[i].table = get_str(l, "table");
        if (out->locks[i].table == NULL)
            out->locks[i].table = xstrdup("?");
        out->n_locks++;
        if (!json_is_string(mode) ||
            !lock_mode_parse(json_string_value(mode), &out->locks[i].mode)) {
            *err = "unknown lock mode";
            plan_step_free(out);
            return false;
        }
    }
    out->rewrites = json_is_true(json_object_get(o, "rewrites"));
    out->scans = json_is_true(json_object_get(o, "scans"));
    out->transactional = json_is_true(json_object_get(o, "transactional"));
    out->est_ms = json_integer_value(json_object_get(o, "est_ms"));
    out->phase = get_int(o, "phase");
    out->line = get_int(o, "line");
    out->undo_sql = get_str(o, "undo_sql");
    out->final_step = get_int(o, "final_step");
    out->requires = get_int(o, "requires");
    out->table_sql = get_str(o, "table_sql");
    out->column_sql = get_str(o, "column_sql");
    out->expr_sql = get_str(o, "expr_sql");
    out->key_cols = get_strv(o, "key_cols", &out->n_keys);
    out->key_types = get_strv(o, "key_types", &n_types);
    out->set_sql = get_str(o, "set_sql");
    out->where_sql = get_str(o, "where_sql");
    out->delete_rows = json_is_true(json_object_get(o, "delete_rows"));
    out->catchup = json_is_true(json_object_get(o, "catchup"));
    out->fill_step = get_int(o, "fill_step");
    out->cache_keys_sql = get_str(o, "cache_keys_sql");
    out->count_sql = get_str(o, "count_sql");
    out->sample_sql = get_str(o, "sample_sql");
    out->check_desc = get_str(o, "check_desc");
    out->index_schema = get_str(o, "index_schema");
    out->index_name = get_str(o, "index_name");
    out->missing_ok = json_is_true(json_object_get(o, "missing_ok"));
    if (n_types != out->n_keys || out->sql == NULL) {
        *err = n_types != out->n_keys ? "key columns and key types differ in number" : "no sql";
        if (n_types != out->n_keys) {
            /* plan_step_free frees n_keys of each: free both by their own counts */
            strv_free(out->key_types, n_types);
            strv_free(out->key_cols, out->n_keys);
            out->key_types = out->key_cols = NULL;
            out->n_keys = 0;
        }
        plan_step_free(out);
        return false;
    }
    return true;
}

static json_t *
strs_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* An array of strings (absent: none, as a plan stored before the field existed). */
static void
json_strs(const json_t *a, char ***v, size_t *n)
{
    size_t i;
    const json_t *e;

    *v = NULL;
    *n = 0;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            continue;
        *v = xrealloc(*v, (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(json_string_value(e));
    }
}

json_t *
plan_settings_encode(const plan_t *p)
{
    json_t *o = json_pack(
        "{s:i, s:I, s:I, s:I, s:{s:I, s:I, s:i, s:I}}", "v", PLAN_CODEC_VERSION, "lock_timeout_ms",
        (json_int_t)p->lock_timeout_ms, "batch_target_ms", (json_int_t)p->batch_target_ms,
        "statement_timeout_ms", (json_int_t)p->statement_timeout_ms, "retry", "base_ms",
        (json_int_t)p->retry.base_ms, "cap_ms", (json_int_t)p->retry.cap_ms, "max_attempts",
        p->retry.max_attempts, "max_total_ms", (json_int_t)p->retry.max_total_ms);
    json_object_set_new(o, "search_path", str_or_null(p->search_path));
    json_object_set_new(o, "cache_bump", strs_json(p->cache_bump, p->n_cache_bump));
    json_object_set_new(o, "cache_purge", strs_json(p->cache_purge, p->n_cache_purge));
    json_object_set_new(o, "app_version", str_or_null(p->app_version));
    json_object_set_new(o, "contract_hold_ms", json_integer((json_int_t)p->contract_hold_ms));
    json_object_set_new(o, "contract_of", str_or_null(p->contract_of));
    json_object_set_new(o, "window", str_or_null(p->window));
    json_object_set_new(o, "risk_threshold", json_integer(p->risk_threshold));
    json_object_set_new(o, "risk_measured", json_integer(p->risk_measured));
    json_object_set_new(o, "backfill_workers", json_integer(p->backfill_workers));
    return o;
}

bool
plan_settings_decode(const json_t *o, plan_t *p, const char **err)
{
    const json_t *r;

    if (!version_ok(o, err))
        return false;
    r = json_object_get(o, "retry");
    p->lock_timeout_ms = json_integer_value(json_object_get(o, "lock_timeout_ms"));
    p->batch_target_ms = json_integer_value(json_object_get(o, "batch_target_ms"));
    p->statement_timeout_ms = json_integer_value(json_object_get(o, "statement_timeout_ms"));
    p->retry.base_ms = json_integer_value(json_object_get(r, "base_ms"));
    p->retry.cap_ms = json_integer_value(json_object_get(r, "cap_ms"));
    p->retry.max_attempts = (int)json_integer_value(json_object_get(r, "max_attempts"));
    p->retry.max_total_ms = json_integer_value(json_object_get(r, "max_total_ms"));
    free(p->search_path);
    p->search_path = get_str(o, "search_path");
    json_strs(json_object_get(o, "cache_bump"), &p->cache_bump, &p->n_cache_bump);
    json_strs(json_object_get(o, "cache_purge"), &p->cache_purge, &p->n_cache_purge);
    free(p->app_version);
    p->app_version = get_str(o, "app_version");
    free(p->contract_of);
    p->contract_of = get_str(o, "contract_of");
    /* stored before contract holds existed: the default */
    p->contract_hold_ms = json_is_integer(json_object_get(o, "contract_hold_ms"))
                              ? json_integer_value(json_object_get(o, "contract_hold_ms"))
                              : PLAN_DEFAULT_CONTRACT_HOLD_MS;
    /* stored before maintenance windows existed: none */
    free(p->window);
    p->window = get_str(o, "window");
    p->risk_threshold = json_is_integer(json_object_get(o, "risk_threshold"))
                            ? (int)json_integer_value(json_object_get(o, "risk_threshold"))
                            : PLAN_DEFAULT_RISK_THRESHOLD;
    p->risk_measured = json_is_integer(json_object_get(o, "risk_measured"))
                           ? (int)json_integer_value(json_object_get(o, "risk_measured"))
                           : -1;
    /* stored before parallel backfills existed (or unset): one session */
    p->backfill_workers = json_is_integer(json_object_get(o, "backfill_workers"))
                              ? (int)json_integer_value(json_object_get(o, "backfill_workers"))
                              : 1;
    if (p->backfill_workers == 0)
        p->backfill_workers = 1;
    if (p->lock_timeout_ms <= 0 || p->batch_target_ms <= 0 || p->statement_timeout_ms <= 0 ||
        p->retry.max_attempts <= 0 || p->backfill_workers < 1 ||
        p->backfill_workers > MIGRATION_MAX_BACKFILL_WORKERS) {
        *err = "settings are missing or out of range";
        return false;
    }
    return true;
}
