/* risk.c: a migration's risk score and its reasons, from the plan, sizes and measurements. */
#include "convoy/risk.h"

#include "convoy/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GB                    (1024LL * 1024 * 1024)
/* WAL written by a backfill that updates every row, per byte of the table: the new row
 * versions, their index entries and the full-page images after each checkpoint. Measured by
 * `convoy rehearse` at 1.2-2.1 on PostgreSQL 15 (docs/rehearse.md); the middle is used. */
#define BACKFILL_WAL_PER_BYTE 1.6

void
risk_measured_init(risk_measured_t *m)
{
    m->duration_ms = -1;
    m->wal_bytes = -1;
    m->max_block_ms = -1;
    m->max_wait_ms = -1;
    m->lock_timeout_ms = -1;
    m->p99_before_ms = -1;
    m->p99_during_ms = -1;
    m->max_during_ms = -1;
    m->replica_lag_ms = -1;
    m->replay_bytes_per_s = -1;
}

void
risk_format_bytes(int64_t b, char *buf, size_t len)
{
    if (b >= GB)
        snprintf(buf, len, "%.1f GB", (double)b / (double)GB);
    else if (b >= 1024 * 1024)
        snprintf(buf, len, "%.0f MB", (double)b / (1024.0 * 1024.0));
    else if (b >= 1024)
        snprintf(buf, len, "%.0f kB", (double)b / 1024.0);
    else
        snprintf(buf, len, "%lld B", (long long)b);
}

static void add(risk_t *r, int points, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
add(risk_t *r, int points, const char *fmt, ...)
{
    va_list ap;
    sb_t sb;

    r->score += points;
    if (r->n_reasons == RISK_MAX_REASONS)
        return;
    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    sb_printf(&sb, " (+%d)", points);
    r->reasons[r->n_reasons++] = sb_steal(&sb);
}

static const char *
first_table(const step_t *s)
{
    if (s->table_sql)
        return s->table_sql;
    return s->n_locks > 0 ? s->locks[0].table : "the table";
}

void
risk_assess(
    const plan_t *p, int64_t table_bytes, int64_t table_rows, const risk_measured_t *m, risk_t *out)
{
    int64_t est_total = 0, wal = -1;
    bool backfill = false, est_unknown = false;
    char a[64], b[64];

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < p->n_steps; i++) {
        const step_t *s = &p->steps[i];
        bool blocks = false;
        for (int k = 0; k < s->n_locks; k++)
            blocks |= lock_mode_blocks_writes(s->locks[k].mode);
        if (s->est_ms > 0)
            est_total += s->est_ms;
        else if (s->est_ms < 0)
            est_unknown = true;
        if (blocks && (s->rewrites || s->scans) && s->kind != STEP_BACKFILL) {
            format_duration(s->est_ms, a, sizeof(a));
            if (s->est_ms >= 1000 || s->est_ms < 0)
                add(out, 45, "step %zu holds %s on %s while it %s (est. %s): the traffic waits",
                    i + 1, lock_mode_name(s->locks[0].mode), first_table(s),
                    s->rewrites ? "rewrites it" : "scans it", s->est_ms < 0 ? "unknown" : a);
            else
                add(out, 20, "step %zu holds %s on %s while it %s (est. %s)", i + 1,
                    lock_mode_name(s->locks[0].mode), first_table(s),
                    s->rewrites ? "rewrites it" : "scans it", a);
        }
        if (s->kind == STEP_BACKFILL && !s->catchup)
            backfill = true;
        if (s->kind == STEP_INDEX && table_bytes > 10 * GB) {
            risk_format_bytes(table_bytes, a, sizeof(a));
            add(out, 10, "step %zu builds an index on %s (%s): two scans and its WAL", i + 1,
                first_table(s), a);
        }
        if (s->kind == STEP_VALIDATE && table_bytes > 10 * GB) {
            risk_format_bytes(table_bytes, a, sizeof(a));
            add(out, 5, "step %zu validates over %s (%s), holding SHARE UPDATE EXCLUSIVE", i + 1,
                first_table(s), a);
        }
    }
    if (backfill && table_bytes >= 0)
        wal = (int64_t)((double)table_bytes * BACKFILL_WAL_PER_BYTE);
    if (m && m->wal_bytes >= 0)
        wal = m->wal_bytes;
    if (wal >= 0 && (backfill || (m && m->wal_bytes >= 0))) {
        int pts = wal < GB / 4 ? 0 : wal < GB ? 5 : wal < 10 * GB ? 15 : wal < 50 * GB ? 25 : 35;
        risk_format_bytes(wal, a, sizeof(a));
        if (pts > 0 || (m && m->wal_bytes >= 0))
            add(out, pts, "%s writes %s of WAL at full scale%s", backfill ? "the backfill" : "it",
                a, m && m->wal_bytes >= 0 ? " (measured)" : " (estimate: 1.6 x the table)");
        if (m && m->replay_bytes_per_s > 0) {
            double replay_s = (double)wal / m->replay_bytes_per_s;
            double dur_s = m->duration_ms > 0 ? (double)m->duration_ms / 1000.0 : 0;
            risk_format_bytes((int64_t)m->replay_bytes_per_s, b, sizeof(b));
            if (replay_s > dur_s + 60) {
                format_duration((int64_t)((replay_s - dur_s) * 1000), a, sizeof(a));
                add(out, 10, "the slowest replica replays %s/s: expect %s of throttling", b, a);
            }
        }
    } else if (backfill && table_bytes < 0) {
        add(out, 5, "the backfill's WAL is unknown: the table's size is not known (offline)");
    }
    if (m && m->duration_ms >= 0)
        est_total = m->duration_ms;
    if (est_total > 600000) {
        int pts = est_total > 3600000 ? 15 : 8;
        format_duration(est_total, a, sizeof(a));
        add(out, pts, "it runs for %s at full scale%s", a,
            m && m->duration_ms >= 0 ? "" : " (est.)");
    } else if (est_unknown && table_rows < 0 && !(m && m->duration_ms >= 0)) {
        add(out, 5, "durations are unknown (planned offline)");
    }
    if (m) {
        int64_t lt = m->lock_timeout_ms > 0 ? m->lock_timeout_ms : p->lock_timeout_ms;
        if (m->max_block_ms > lt) {
            format_duration(m->max_block_ms, a, sizeof(a));
            format_duration(lt, b, sizeof(b));
            add(out, 40, "a write-blocking lock was held for %s, over lock_timeout %s", a, b);
        }
        if (m->max_wait_ms > 1000) {
            format_duration(m->max_wait_ms, a, sizeof(a));
            add(out, 20, "other sessions waited up to %s behind convoy's locks", a);
        }
        if (m->p99_before_ms > 0 && m->p99_during_ms > 3 * m->p99_before_ms &&
            m->p99_during_ms > 20)
            add(out, 15, "the traffic's p99 rose from %.1f ms to %.1f ms while it ran",
                m->p99_before_ms, m->p99_during_ms);
        if (m->max_during_ms > 1000)
            add(out, 10, "the traffic's worst latency while it ran was %.0f ms", m->max_during_ms);
        if (m->replica_lag_ms > 1000)
            add(out, 10, "a replica lagged %.1f s behind", m->replica_lag_ms / 1000.0);
    }
    if (out->score > 100)
        out->score = 100;
    if (p->risk_measured >= 0) {
        char *line = xasprintf("the score is the rehearsal's (-- convoy:risk %d); estimated: %d",
                               p->risk_measured, out->score);
        if (out->n_reasons == RISK_MAX_REASONS)
            free(out->reasons[--out->n_reasons]);
        memmove(out->reasons + 1, out->reasons, out->n_reasons * sizeof(out->reasons[0]));
        out->reasons[0] = line;
        out->n_reasons++;
        out->score = p->risk_measured;
        out->measured = true;
    } else if (m) {
        out->measured = true;
    }
    if (out->n_reasons == 0)
        out->reasons[out->n_reasons++] =
            xstrdup("no write-blocking lock is held over a scan or rewrite, and no large backfill");
}

void
risk_free(risk_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_reasons; i++)
        free(r->reasons[i]);
    memset(r, 0, sizeof(*r));
}

const char *
risk_level(int score, int threshold)
{
    if (score >= threshold)
        return "high";
    return score < 30 ? "low" : "medium";
}

json_t *
risk_to_json(const risk_t *r, int threshold)
{
    json_t *o = json_object(), *a = json_array();

    for (size_t i = 0; i < r->n_reasons; i++)
        json_array_append_new(a, json_string(r->reasons[i]));
    json_object_set_new(o, "score", json_integer(r->score));
    json_object_set_new(o, "level", json_string(risk_level(r->score, threshold)));
    json_object_set_new(o, "threshold", json_integer(threshold));
    json_object_set_new(o, "measured", json_boolean(r->measured));
    json_object_set_new(o, "reasons", a);
    return o;
}
