/* report.c: the end-of-run report (see include/convoy/report.h). */
#include "convoy/report.h"

#include "convoy/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One query's rows as a JSON value (the query returns one json column). */
static json_t *
json_query(pg_t *pg, const char *sql, const char *name)
{
    const char *p[1] = {name};
    char *v = pg_value(pg, sql, 1, p);
    json_t *j = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;

    free(v);
    return j ? j : json_null();
}

static const char *
s_(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static long long
i_(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void
markdown(sb_t *md, const char *name, json_t *r)
{
    json_t *m = json_object_get(r, "migration"), *e;
    size_t i;

    sb_printf(md, "# convoy report: %s\n\n", name);
    sb_printf(md, "- status: **%s**\n- started: %s by %s\n- finished: %s\n- duration: %lld ms\n",
              s_(m, "status"), s_(m, "started_at"), s_(m, "started_by"), s_(m, "finished_at"),
              i_(m, "duration_ms"));
    if (i_(m, "worst_lag_ms") >= 0)
        sb_printf(md, "- worst replica lag seen: %lld ms\n", i_(m, "worst_lag_ms"));
    sb_puts(md, "\n## Steps\n\n| # | kind | status | duration ms | rows | attempts | step |\n"
                "|---|---|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(r, "steps"), i, e) sb_printf(
        md, "| %lld | %s | %s | %lld | %lld | %lld | %s |\n", i_(e, "n"), s_(e, "kind"),
        s_(e, "status"), i_(e, "duration_ms"), i_(e, "rows"), i_(e, "attempts"), s_(e, "summary"));
    sb_puts(md, "\n## Lock waits\n\n");
    if (json_array_size(json_object_get(r, "lock_waits")) == 0)
        sb_puts(md, "none\n");
    json_array_foreach(json_object_get(r, "lock_waits"), i, e)
        sb_printf(md, "- step %lld at %s: %s\n", i_(e, "step"), s_(e, "at"), s_(e, "detail"));
    sb_puts(md, "\n## Holds (throttle, replay, readers, pauses)\n\n");
    if (json_array_size(json_object_get(r, "holds")) == 0)
        sb_puts(md, "none\n");
    json_array_foreach(json_object_get(r, "holds"), i, e) sb_printf(
        md, "- step %lld, %lld ms: %s\n", i_(e, "step"), i_(e, "held_ms"), s_(e, "detail"));
    sb_puts(md, "\n## Cache invalidations\n\n");
    e = json_object_get(r, "cache");
    sb_printf(md, "%lld outbox rows, %lld keys, %lld confirmed, %lld removed from Redis\n",
              i_(e, "rows"), i_(e, "keys"), i_(e, "confirmed"), i_(e, "removed"));
    sb_puts(md, "\n## Verification\n\n");
    e = json_object_get(r, "verification");
    if (!json_is_object(e)) {
        sb_puts(md, "not verified\n");
    } else {
        json_t *c;
        size_t k;
        sb_printf(md, "%s at %s\n\n", json_is_true(json_object_get(e, "ok")) ? "passed" : "FAILED",
                  s_(e, "at"));
        json_array_foreach(json_object_get(e, "report"), k, c) sb_printf(
            md, "- %s %s %s: %s\n", json_is_true(json_object_get(c, "ok")) ? "ok" : "FAIL",
            s_(c, "node"), s_(c, "check"), s_(c, "detail"));
    }
    sb_puts(md, "\n## Gates\n\n");
    if (json_array_size(json_object_get(r, "gates")) == 0)
        sb_puts(md, "no change\n");
    json_array_foreach(json_object_get(r, "gates"), i, e)
        sb_printf(md, "- %s: %s\n", s_(e, "at"), s_(e, "outcome"));
}

static bool
write_text(const char *path, const char *text, char **err)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

bool
report_write(pg_t *pg, const char *name, const char *dir, char **md_path, char **err)
{
    json_t *r = json_object();
    char *jpath, *mpath, *txt;
    sb_t md;
    bool ok;

    json_object_set_new(
        r, "migration",
        json_query(pg,
                   "SELECT json_build_object('name', name, 'status', status, 'started_by', "
                   "started_by, 'started_at', started_at, 'finished_at', finished_at, "
                   "'duration_ms', (extract(epoch FROM coalesce(finished_at, now()) - "
                   "started_at) * 1000)::bigint, 'worst_lag_ms', worst_lag_ms, 'file', file) FROM "
                   "convoy.migrations WHERE name = $1",
                   name));
    json_object_set_new(
        r, "steps",
        json_query(pg,
                   "SELECT coalesce(json_agg(json_build_object('n', n, 'kind', kind, 'summary', "
                   "summary, 'status', status, 'duration_ms', duration_ms, 'rows', rows, "
                   "'attempts', attempts, 'started_at', started_at, 'finished_at', finished_at) "
                   "ORDER BY n), '[]') FROM convoy.steps WHERE migration = $1",
                   name));
    json_object_set_new(
        r, "lock_waits",
        json_query(pg,
                   "SELECT coalesce(json_agg(json_build_object('step', step, 'at', at, "
                   "'detail', detail) ORDER BY id), '[]') FROM convoy.audit WHERE migration = $1 "
                   "AND action = 'lock_wait'",
                   name));
    json_object_set_new(
        r, "holds",
        json_query(pg,
                   "SELECT coalesce(json_agg(json_build_object('step', step, 'at', at, 'held_ms', "
                   "duration_ms, 'detail', detail) ORDER BY id), '[]') FROM convoy.audit WHERE "
                   "migration = $1 AND action = 'release'",
                   name));
    json_object_set_new(
        r, "cache",
        json_query(
            pg,
            "SELECT json_build_object('rows', count(*), 'keys', coalesce(sum(cardinality("
            "keys)), 0), 'confirmed', count(confirmed_at), 'removed', coalesce(sum(removed), "
            "0)) FROM convoy.invalidations WHERE migration = $1",
            name));
    json_object_set_new(
        r, "verification",
        json_query(pg,
                   "SELECT json_build_object('ok', ok, 'at', at, 'report', report) FROM "
                   "convoy.verifications WHERE migration = $1 ORDER BY id DESC LIMIT 1",
                   name));
    json_object_set_new(
        r, "gates",
        json_query(pg,
                   "SELECT coalesce(json_agg(json_build_object('at', at, 'outcome', outcome, "
                   "'reasons', detail) ORDER BY id), '[]') FROM convoy.audit WHERE migration = $1 "
                   "AND action = 'gate'",
                   name));
    jpath = xasprintf("%s/%s.report.json", dir, name);
    mpath = xasprintf("%s/%s.report.md", dir, name);
    txt = json_dumps(r, JSON_INDENT(2));
    sb_init(&md);
    markdown(&md, name, r);
    ok = write_text(jpath, txt, err) && write_text(mpath, md.data, err);
    free(txt);
    sb_free(&md);
    json_decref(r);
    free(jpath);
    if (ok)
        *md_path = mpath;
    else
        free(mpath);
    return ok;
}
