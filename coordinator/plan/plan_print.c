/* plan_print.c: a plan rendered for people (text) and for machines (JSON). */
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdio.h>
#include <string.h>

static void
print_notes(FILE *out, const char *title, const plan_note_t *v, size_t n)
{
    if (n == 0)
        return;
    fprintf(out, "\n%s:\n", title);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  line %d: %s\n", v[i].line, v[i].message);
        if (v[i].fix)
            fprintf(out, "    fix: %s\n", v[i].fix);
    }
}

void
plan_print(const plan_t *p, FILE *out)
{
    char buf[64];

    fprintf(out, "migration %s: %zu step%s", p->name, p->n_steps, p->n_steps == 1 ? "" : "s");
    if (p->live)
        fprintf(out, " (planned against %s)\n", p->server_desc ? p->server_desc : "live catalog");
    else
        fprintf(out, " (planned offline)\n");
    format_duration(p->lock_timeout_ms, buf, sizeof(buf));
    fprintf(out, "lock_timeout %s per attempt, bounded jittered retries; ", buf);
    format_duration(p->batch_target_ms, buf, sizeof(buf));
    fprintf(out, "backfill batches target %s", buf);
    if (p->backfill_workers > 1)
        fprintf(out, ", %d sessions side by side", p->backfill_workers);
    fputc('\n', out);
    if (p->app_version) {
        format_duration(p->contract_hold_ms, buf, sizeof(buf));
        fprintf(out,
                "for app version %s: the contract gate opens once every app node has run it for "
                "%s\n",
                p->app_version, buf);
    }
    if (p->contract_of)
        fprintf(out, "contract of %s: waits until its contract gate is open\n", p->contract_of);
    for (size_t i = 0; i < p->n_assumptions; i++)
        fprintf(out, "assumption: %s\n", p->assumptions[i]);

    for (size_t i = 0; i < p->n_steps; i++) {
        const step_t *s = &p->steps[i];
        fprintf(out, "\n%2zu. %s\n", i + 1, s->summary);
        fprintf(out, "    kind: %s", step_kind_name(s->kind));
        fprintf(out, "   rewrites: %s   scans: %s   transactional: %s", s->rewrites ? "yes" : "no",
                s->scans ? "yes" : "no", s->transactional ? "yes" : "no");
        if (s->est_ms == 0)
            fprintf(out, "   est: instant (plus lock wait)\n");
        else if (s->est_ms < 0)
            fprintf(out, "   est: unknown (table size unknown)\n");
        else {
            format_duration(s->est_ms, buf, sizeof(buf));
            fprintf(out, "   est: ~%s\n", buf);
        }
        for (int k = 0; k < s->n_locks; k++)
            fprintf(out, "    lock: %s on %s%s\n", lock_mode_name(s->locks[k].mode),
                    s->locks[k].table,
                    s->locks[k].mode == LOCK_ACCESS_EXCLUSIVE ? " (brief: blocks reads and writes)"
                    : lock_mode_blocks_writes(s->locks[k].mode) ? " (blocks writes)"
                                                                : "");
        fprintf(out, "    sql: ");
        for (const char *c = s->sql; c && *c; c++) {
            fputc(*c, out);
            if (*c == '\n')
                fputs("         ", out);
        }
        fputc('\n', out);
    }
    print_notes(out, "warnings", p->warnings, p->n_warnings);
    print_notes(out, "refused (convoy will not run this file)", p->refusals, p->n_refusals);
    print_notes(out, "errors", p->errors, p->n_errors);
}

static json_t *
notes_json(const plan_note_t *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:i, s:s}", "line", v[i].line, "message", v[i].message);
        json_object_set_new(o, "fix", v[i].fix ? json_string(v[i].fix) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *
plan_to_json(const plan_t *p)
{
    json_t *root = json_object();
    json_t *steps = json_array();
    json_t *assumptions = json_array();

    json_object_set_new(root, "migration", json_string(p->name));
    json_object_set_new(root, "live", json_boolean(p->live));
    json_object_set_new(root, "server", p->server_desc ? json_string(p->server_desc) : json_null());
    json_object_set_new(root, "lock_timeout_ms", json_integer(p->lock_timeout_ms));
    json_object_set_new(root, "batch_target_ms", json_integer(p->batch_target_ms));
    json_object_set_new(root, "statement_timeout_ms", json_integer(p->statement_timeout_ms));
    json_object_set_new(root, "backfill_workers", json_integer(p->backfill_workers));
    json_object_set_new(root, "app_version",
                        p->app_version ? json_string(p->app_version) : json_null());
    json_object_set_new(root, "contract_hold_ms", json_integer(p->contract_hold_ms));
    json_object_set_new(root, "contract_of",
                        p->contract_of ? json_string(p->contract_of) : json_null());
    for (size_t i = 0; i < p->n_assumptions; i++)
        json_array_append_new(assumptions, json_string(p->assumptions[i]));
    json_object_set_new(root, "assumptions", assumptions);
    for (size_t i = 0; i < p->n_steps; i++) {
        const step_t *s = &p->steps[i];
        json_t *locks = json_array();
        json_t *o;
        for (int k = 0; k < s->n_locks; k++)
            json_array_append_new(locks, json_pack("{s:s, s:s}", "table", s->locks[k].table, "mode",
                                                   lock_mode_name(s->locks[k].mode)));
        o = json_pack("{s:i, s:s, s:s, s:s, s:o, s:b, s:b, s:b}", "n", (int)(i + 1), "kind",
                      step_kind_name(s->kind), "summary", s->summary, "sql", s->sql, "locks", locks,
                      "rewrites", s->rewrites, "scans", s->scans, "transactional",
                      s->transactional);
        json_object_set_new(o, "estimate_ms",
                            s->est_ms >= 0 ? json_integer(s->est_ms) : json_null());
        json_array_append_new(steps, o);
    }
    json_object_set_new(root, "steps", steps);
    json_object_set_new(root, "warnings", notes_json(p->warnings, p->n_warnings));
    json_object_set_new(root, "refusals", notes_json(p->refusals, p->n_refusals));
    json_object_set_new(root, "errors", notes_json(p->errors, p->n_errors));
    json_object_set_new(root, "ok", json_boolean(p->n_refusals == 0 && p->n_errors == 0));
    return root;
}
