/* rehearse_report.c: a rehearsal's report as Markdown and as one self-contained HTML page. */
#include "convoy/explain.h"
#include "convoy/rehearse.h"
#include "convoy/risk.h"
#include "convoy/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma weak explain_report_text

static const char *
js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double
jnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void
fmt_ms(double ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 10)
        snprintf(buf, len, "%.1f ms", ms);
    else
        format_duration((int64_t)llround(ms), buf, len);
}

static void
fmt_rate(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
}

/* HTML-escaped text */
static void
esc(sb_t *sb, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            sb_puts(sb, "&lt;");
            break;
        case '>':
            sb_puts(sb, "&gt;");
            break;
        case '&':
            sb_puts(sb, "&amp;");
            break;
        case '"':
            sb_puts(sb, "&quot;");
            break;
        default:
            sb_putc(sb, *s);
        }
    }
}

/* Markdown table cells: no pipes or newlines */
static void
cell(sb_t *sb, const char *s)
{
    for (; s && *s; s++)
        sb_putc(sb, *s == '|' ? '/' : *s == '\n' ? ' ' : *s);
}

/* ------------------------------------------------------------- shared pieces */

static void
row_start(sb_t *sb, bool html)
{
    sb_puts(sb, html ? "<tr>" : "|");
}

static void
row_cell(sb_t *sb, bool html, const char *text)
{
    if (html) {
        sb_puts(sb, "<td>");
        esc(sb, text);
        sb_puts(sb, "</td>");
    } else {
        sb_putc(sb, ' ');
        cell(sb, text);
        sb_puts(sb, " |");
    }
}

static void
row_end(sb_t *sb, bool html)
{
    sb_puts(sb, html ? "</tr>\n" : "\n");
}

static void
table_head(sb_t *sb, bool html, const char *const *cols)
{
    int n = 0;
    if (html) {
        sb_puts(sb, "<table><tr>");
        for (; cols[n]; n++) {
            sb_puts(sb, "<th>");
            esc(sb, cols[n]);
            sb_puts(sb, "</th>");
        }
        sb_puts(sb, "</tr>\n");
        return;
    }
    sb_puts(sb, "|");
    for (; cols[n]; n++)
        sb_printf(sb, " %s |", cols[n]);
    sb_puts(sb, "\n|");
    for (int i = 0; i < n; i++)
        sb_puts(sb, "---|");
    sb_puts(sb, "\n");
}

static void
table_end(sb_t *sb, bool html)
{
    sb_puts(sb, html ? "</table>\n" : "\n");
}

static void
heading(sb_t *sb, bool html, int level, const char *text)
{
    if (html) {
        sb_printf(sb, "<h%d>", level);
        esc(sb, text);
        sb_printf(sb, "</h%d>\n", level);
    } else {
        for (int i = 0; i < level; i++)
            sb_putc(sb, '#');
        sb_printf(sb, " %s\n\n", text);
    }
}

static void
para(sb_t *sb, bool html, const char *text)
{
    if (html) {
        sb_puts(sb, "<p>");
        esc(sb, text);
        sb_puts(sb, "</p>\n");
    } else {
        sb_printf(sb, "%s\n\n", text);
    }
}

static void
emit_summary(sb_t *sb, bool html, const json_t *rep)
{
    const json_t *risk = json_object_get(rep, "risk"), *r;
    char line[512];
    size_t i;

    snprintf(line, sizeof(line),
             "File %s, main table %s, STAGING at scale %g of PROD; traffic: %s (%d clients); "
             "locks and waits sampled every %d ms; %d replica(s) of STAGING.",
             js(rep, "file"), js(rep, "main_table"), jnum(rep, "scale"),
             js(json_object_get(rep, "traffic"), "kind"),
             (int)jnum(json_object_get(rep, "traffic"), "clients"), (int)jnum(rep, "sample_ms"),
             (int)jnum(rep, "replicas"));
    para(sb, html, line);
    snprintf(line, sizeof(line), "Risk: %d/100, %s (a maintenance window applies from %d)",
             (int)jnum(risk, "score"), js(risk, "level"), (int)jnum(risk, "threshold"));
    heading(sb, html, 2, line);
    sb_puts(sb, html ? "<ul>\n" : "");
    json_array_foreach(json_object_get(risk, "reasons"), i, r)
    {
        if (html) {
            sb_puts(sb, "<li>");
            esc(sb, json_string_value(r));
            sb_puts(sb, "</li>\n");
        } else {
            sb_printf(sb, "- %s\n", json_string_value(r));
        }
    }
    sb_puts(sb, html ? "</ul>\n" : "\n");
    snprintf(line, sizeof(line),
             "To apply on PROD with this measured risk, add to the migration file: %s",
             js(risk, "directive"));
    para(sb, html, line);
}

static void
emit_generation(sb_t *sb, bool html, const json_t *rep)
{
    static const char *const cols[] = {"table",
                                       "PROD rows",
                                       "STAGING rows",
                                       "generated",
                                       "rows/s",
                                       "plain INSERT ... SELECT",
                                       "rows/s",
                                       "generation / INSERT ... SELECT",
                                       NULL};
    const json_t *g;
    size_t i;
    char a[64], b[64], c[64], d[64], e[64], f[64], h[64];

    heading(sb, html, 2, "STAGING data: generated from PROD's statistics");
    para(sb, html,
         "One INSERT ... SELECT over generate_series per table, next to a plain INSERT ... "
         "SELECT * of the same rows into a table of the same shape (LIKE ... INCLUDING ALL).");
    table_head(sb, html, cols);
    json_array_foreach(json_object_get(rep, "generation"), i, g)
    {
        row_start(sb, html);
        row_cell(sb, html, js(g, "table"));
        snprintf(a, sizeof(a), "%.0f", jnum(g, "prod_rows"));
        row_cell(sb, html, a);
        snprintf(b, sizeof(b), "%.0f", jnum(g, "rows"));
        row_cell(sb, html, b);
        fmt_ms(jnum(g, "generate_ms"), c, sizeof(c));
        row_cell(sb, html, c);
        fmt_rate(jnum(g, "generate_rows_per_s"), d, sizeof(d));
        row_cell(sb, html, d);
        fmt_ms(jnum(g, "insert_select_ms"), e, sizeof(e));
        row_cell(sb, html, e);
        fmt_rate(jnum(g, "insert_select_rows_per_s"), f, sizeof(f));
        row_cell(sb, html, f);
        snprintf(h, sizeof(h), "%.2f", jnum(g, "ratio"));
        row_cell(sb, html, h);
        row_end(sb, html);
    }
    table_end(sb, html);
}

static void
emit_stats(sb_t *sb, bool html, const json_t *rep)
{
    static const char *const cols[] = {"table",
                                       "column",
                                       "null_frac PROD",
                                       "null_frac STAGING",
                                       "n_distinct PROD",
                                       "n_distinct STAGING",
                                       "MCVs shared",
                                       "ok",
                                       NULL};
    const json_t *t, *c;
    size_t i, k;
    char a[64], b[64], d[64], e[64], f[64];

    heading(sb, html, 2, "Statistics: PROD's pg_stats next to STAGING's");
    para(sb, html,
         "ok: null fractions within 0.02, n_distinct within 20% (as a fraction of the rows where "
         "PROD's is one, else as a count), at least 60% of PROD's most common values among "
         "STAGING's.");
    table_head(sb, html, cols);
    json_array_foreach(json_object_get(rep, "statistics"), i, t)
    {
        json_array_foreach(json_object_get(t, "columns"), k, c)
        {
            bool ok = json_is_true(json_object_get(c, "null_frac_ok")) &&
                      json_is_true(json_object_get(c, "n_distinct_ok")) &&
                      !json_is_false(json_object_get(c, "mcv_ok"));
            row_start(sb, html);
            row_cell(sb, html, js(t, "table"));
            row_cell(sb, html, js(c, "column"));
            snprintf(a, sizeof(a), "%.4f", jnum(c, "prod_null_frac"));
            row_cell(sb, html, a);
            snprintf(b, sizeof(b), "%.4f", jnum(c, "staging_null_frac"));
            row_cell(sb, html, b);
            snprintf(d, sizeof(d), "%.4g", jnum(c, "prod_n_distinct"));
            row_cell(sb, html, d);
            snprintf(e, sizeof(e), "%.4g", jnum(c, "staging_n_distinct"));
            row_cell(sb, html, e);
            if (json_object_get(c, "mcv_top"))
                snprintf(f, sizeof(f), "%d of %d", (int)jnum(c, "mcv_shared"),
                         (int)jnum(c, "mcv_top"));
            else
                snprintf(f, sizeof(f), "-");
            row_cell(sb, html, f);
            row_cell(sb, html, ok ? "yes" : "NO");
            row_end(sb, html);
        }
    }
    table_end(sb, html);
}

static void
lat_cells(sb_t *sb, bool html, const json_t *l)
{
    char a[32], b[32], c[32], d[32];
    snprintf(a, sizeof(a), "%.0f", jnum(l, "n"));
    row_cell(sb, html, a);
    if (jnum(l, "n") > 0) {
        fmt_ms(jnum(l, "p50_ms"), b, sizeof(b));
        fmt_ms(jnum(l, "p99_ms"), c, sizeof(c));
        fmt_ms(jnum(l, "max_ms"), d, sizeof(d));
    } else {
        snprintf(b, sizeof(b), "-");
        snprintf(c, sizeof(c), "-");
        snprintf(d, sizeof(d), "-");
    }
    row_cell(sb, html, b);
    row_cell(sb, html, c);
    row_cell(sb, html, d);
}

/* ------------------------------------------------------------- charts */

typedef struct {
    double x0, x1, y0, y1;
    int w, h, left, bottom;
} frame_t;

static double
fx(const frame_t *f, double x)
{
    return f->left + (x - f->x0) / (f->x1 - f->x0 > 0 ? f->x1 - f->x0 : 1) * (f->w - f->left - 10);
}

static double
fy(const frame_t *f, double y)
{
    double span = f->y1 - f->y0 > 0 ? f->y1 - f->y0 : 1;
    return (f->h - f->bottom) - (y - f->y0) / span * (f->h - f->bottom - 10);
}

static void
svg_open(sb_t *sb, const frame_t *f, const char *title, const char *yunit)
{
    sb_printf(sb,
              "<figure><figcaption>%s</figcaption><svg viewBox=\"0 0 %d %d\" width=\"%d\" "
              "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
              title, f->w, f->h, f->w, f->h);
    sb_printf(sb,
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>"
              "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
              f->left, f->h - f->bottom, f->w - 10, f->h - f->bottom, f->left, f->left,
              f->h - f->bottom);
    for (int i = 0; i <= 4; i++) {
        double y = f->y0 + (f->y1 - f->y0) * i / 4.0, x = f->x0 + (f->x1 - f->x0) * i / 4.0;
        sb_printf(sb, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.3g%s</text>",
                  f->left - 4, fy(f, y) + 4, y, i == 4 ? yunit : "");
        sb_printf(sb,
                  "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.1f s</text>",
                  fx(f, x), f->h - f->bottom + 16, x / 1000.0);
    }
    sb_puts(sb, "\n");
}

static void
svg_marks(sb_t *sb, const frame_t *f, const json_t *phase)
{
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(phase, "steps"), i, s)
    {
        double b = jnum(s, "begin_ms"), e = json_object_get(s, "end_ms") ? jnum(s, "end_ms") : b;
        double x0 = fx(f, b), x1 = fx(f, e);
        sb_printf(
            sb,
            "<rect x=\"%.1f\" y=\"10\" width=\"%.1f\" height=\"%d\" class=\"step s%zu\"><title>",
            x0, x1 - x0 < 1.5 ? 1.5 : x1 - x0, f->h - f->bottom - 10, i % 4);
        esc(sb, js(s, "summary"));
        sb_printf(sb, "</title></rect><text x=\"%.1f\" y=\"22\" class=\"steplabel\">%d</text>\n",
                  x0 + 2, (int)jnum(s, "n"));
    }
}

static void
svg_line(sb_t *sb, const frame_t *f, const json_t *pts, int xi, int yi, const char *cls)
{
    const json_t *p;
    size_t i;
    if (json_array_size(pts) == 0)
        return;
    sb_printf(sb, "<polyline class=\"%s\" points=\"", cls);
    json_array_foreach(pts, i, p)
    {
        double y = json_number_value(json_array_get(p, (size_t)yi));
        if (y > f->y1)
            y = f->y1;
        sb_printf(sb, "%.1f,%.1f ", fx(f, json_number_value(json_array_get(p, (size_t)xi))),
                  fy(f, y));
    }
    sb_puts(sb, "\"/>\n");
}

static double
max_of(const json_t *pts, int yi)
{
    const json_t *p;
    size_t i;
    double m = 0;
    json_array_foreach(pts, i, p)
    {
        double y = json_number_value(json_array_get(p, (size_t)yi));
        if (y > m)
            m = y;
    }
    return m;
}

static void
charts(sb_t *sb, const json_t *phase)
{
    const json_t *tl = json_object_get(phase, "timeline");
    const json_t *lat = json_object_get(tl, "latency"), *lag = json_object_get(tl, "lag"),
                 *bat = json_object_get(tl, "batches"), *wait = json_object_get(tl, "waiting");
    frame_t f = {jnum(phase, "start_ms"), jnum(phase, "end_ms"), 0, 1, 900, 260, 60, 26};
    double m;

    m = max_of(lat, 2);
    f.y1 = m > 1 ? m * 1.1 : 1;
    svg_open(sb, &f,
             "Traffic latency over time (per 200 ms: median and worst), the steps shaded; sessions "
             "waiting behind the change's locks in red",
             " ms");
    svg_marks(sb, &f, phase);
    svg_line(sb, &f, lat, 0, 2, "max");
    svg_line(sb, &f, lat, 0, 1, "p50");
    {
        frame_t g = f;
        g.y1 = max_of(wait, 1) > 0 ? max_of(wait, 1) * 1.2 : 1;
        svg_line(sb, &g, wait, 0, 1, "wait");
    }
    sb_puts(sb, "</svg></figure>\n");

    f.y1 = max_of(lag, 1) > 1 ? max_of(lag, 1) * 1.1 : 1;
    svg_open(sb, &f, "Replica lag over time", " ms");
    svg_marks(sb, &f, phase);
    if (json_array_size(lag) == 0)
        sb_printf(sb, "<text x=\"%d\" y=\"%d\" class=\"note\">no replica of STAGING</text>\n",
                  f.w / 2 - 60, f.h / 2);
    svg_line(sb, &f, lag, 0, 1, "lag");
    sb_puts(sb, "</svg></figure>\n");

    if (json_array_size(bat) > 0) {
        frame_t g = f;
        f.y1 = max_of(bat, 1) * 1.1;
        svg_open(sb, &f, "Backfill: batch size (rows, blue) and rows/s (green, own scale)",
                 " rows");
        svg_marks(sb, &f, phase);
        svg_line(sb, &f, bat, 0, 1, "batch");
        g.y1 = max_of(bat, 3) > 0 ? max_of(bat, 3) * 1.1 : 1;
        svg_line(sb, &g, bat, 0, 3, "rate");
        sb_printf(sb,
                  "<text x=\"%d\" y=\"20\" class=\"tick\" text-anchor=\"end\">%.3g rows/s</text>",
                  f.w - 12, g.y1);
        sb_puts(sb, "</svg></figure>\n");
    }
}

static void
emit_phase(sb_t *sb, bool html, const json_t *ph)
{
    static const char *const scols[] = {
        "step", "kind", "what", "took", "at PROD's size", "rows", "speed", "locks (planned)", NULL};
    static const char *const lcols[] = {"lock", "table", "from", "held", "blocks writes", NULL};
    static const char *const tcols[] = {"window", "transactions", "p50", "p99", "max", NULL};
    const json_t *s, *l, *lat = json_object_get(ph, "latency");
    size_t i;
    char line[768], a[64], b[64], c[64], d[64], e[64], w[64], lag[64];

    snprintf(line, sizeof(line), "Run: %s", js(ph, "name"));
    heading(sb, html, 2, line);
    fmt_ms(jnum(ph, "duration_ms"), a, sizeof(a));
    fmt_ms(jnum(ph, "duration_full_ms"), b, sizeof(b));
    risk_format_bytes((int64_t)jnum(ph, "wal_bytes"), c, sizeof(c));
    risk_format_bytes((int64_t)jnum(ph, "wal_bytes_full"), d, sizeof(d));
    fmt_ms(jnum(ph, "max_block_ms"), e, sizeof(e));
    fmt_ms(jnum(ph, "max_wait_ms"), w, sizeof(w));
    if (jnum(ph, "max_replica_lag_ms") >= 0)
        fmt_ms(jnum(ph, "max_replica_lag_ms"), lag, sizeof(lag));
    else
        snprintf(lag, sizeof(lag), "no replica");
    snprintf(line, sizeof(line),
             "Result: %s%s%s. Took %s (%s at PROD's size, x%.2f). WAL: %s (%s at PROD's size). "
             "Longest write-blocking lock held: %s. Longest wait of another session behind it: "
             "%s. Worst replica lag: %s.",
             js(ph, "result"), json_object_get(ph, "message") ? ": " : "", js(ph, "message"), a, b,
             jnum(ph, "factor"), c, d, jnum(ph, "max_block_ms") > 0 ? e : "none seen", w, lag);
    para(sb, html, line);
    if (html)
        charts(sb, ph);
    heading(sb, html, 3, "Steps");
    table_head(sb, html, scols);
    json_array_foreach(json_object_get(ph, "steps"), i, s)
    {
        row_start(sb, html);
        snprintf(a, sizeof(a), "%d", (int)jnum(s, "n"));
        row_cell(sb, html, a);
        row_cell(sb, html, js(s, "kind"));
        row_cell(sb, html, js(s, "summary"));
        fmt_ms(json_object_get(s, "ms") ? jnum(s, "ms") : -1, b, sizeof(b));
        row_cell(sb, html, b);
        fmt_ms(json_object_get(s, "ms_full") ? jnum(s, "ms_full") : -1, c, sizeof(c));
        row_cell(sb, html, json_is_false(json_object_get(s, "scales")) ? "same (metadata)" : c);
        if (json_object_get(s, "rows"))
            snprintf(d, sizeof(d), "%.0f", jnum(s, "rows"));
        else
            snprintf(d, sizeof(d), "-");
        row_cell(sb, html, d);
        if (json_object_get(s, "rows_per_s")) {
            fmt_rate(jnum(s, "rows_per_s"), e, sizeof(e));
            strncat(e, " rows/s", sizeof(e) - strlen(e) - 1);
        } else if (json_object_get(s, "index_mb_per_s"))
            snprintf(e, sizeof(e), "%.1f MB/s built", jnum(s, "index_mb_per_s"));
        else if (json_object_get(s, "validate_mb_per_s"))
            snprintf(e, sizeof(e), "%.1f MB/s validated", jnum(s, "validate_mb_per_s"));
        else
            snprintf(e, sizeof(e), "-");
        row_cell(sb, html, e);
        row_cell(sb, html, js(s, "locks"));
        row_end(sb, html);
    }
    table_end(sb, html);
    heading(sb, html, 3, "Locks taken on the rehearsed tables (sampled from pg_locks)");
    if (json_array_size(json_object_get(ph, "locks")) == 0) {
        para(sb, html, "none seen");
    } else {
        table_head(sb, html, lcols);
        json_array_foreach(json_object_get(ph, "locks"), i, l)
        {
            row_start(sb, html);
            row_cell(sb, html, js(l, "mode"));
            row_cell(sb, html, js(l, "table"));
            snprintf(a, sizeof(a), "%.2f s", jnum(l, "start_ms") / 1000.0);
            row_cell(sb, html, a);
            fmt_ms(jnum(l, "held_ms"), b, sizeof(b));
            row_cell(sb, html, b);
            row_cell(sb, html, json_is_true(json_object_get(l, "blocks_writes")) ? "yes" : "no");
            row_end(sb, html);
        }
        table_end(sb, html);
    }
    heading(sb, html, 3, "Traffic latency");
    table_head(sb, html, tcols);
    {
        static const char *const names[] = {"before", "during", "after"};
        for (int k = 0; k < 3; k++) {
            row_start(sb, html);
            row_cell(sb, html, names[k]);
            lat_cells(sb, html, json_object_get(lat, names[k]));
            row_end(sb, html);
        }
        json_array_foreach(json_object_get(lat, "steps"), i, s)
        {
            snprintf(a, sizeof(a), "during step %d", (int)jnum(s, "n"));
            row_start(sb, html);
            row_cell(sb, html, a);
            lat_cells(sb, html, json_object_get(s, "latency"));
            row_end(sb, html);
        }
    }
    table_end(sb, html);
}

static void
emit_all(sb_t *sb, bool html, const json_t *rep)
{
    const json_t *ph;
    size_t i;
    emit_summary(sb, html, rep);
    emit_generation(sb, html, rep);
    emit_stats(sb, html, rep);
    json_array_foreach(json_object_get(rep, "phases"), i, ph) emit_phase(sb, html, ph);
    if (json_is_null(json_object_get(rep, "explain_review")) || explain_report_text == NULL) {
        para(sb, html,
             "EXPLAIN review: not available (no pg_stat_statements on PROD, or a build without "
             "convoy explain-review).");
    } else {
        char *t = explain_report_text(json_object_get(rep, "explain_review"));
        heading(sb, html, 2, "EXPLAIN review: PROD's top statements, before and after, on STAGING");
        if (html) {
            sb_puts(sb, "<pre>");
            esc(sb, t);
            sb_puts(sb, "</pre>\n");
        } else {
            sb_printf(sb, "```\n%s\n```\n\n", t);
        }
        free(t);
    }
}

char *
rehearse_markdown(const json_t *rep)
{
    sb_t sb;
    sb_init(&sb);
    sb_printf(&sb, "# Rehearsal of %s\n\n", js(rep, "migration"));
    emit_all(&sb, false, rep);
    return sb_steal(&sb);
}

char *
rehearse_html(const json_t *rep)
{
    sb_t sb;
    sb_init(&sb);
    sb_puts(&sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<title>Rehearsal of ");
    esc(&sb, js(rep, "migration"));
    sb_puts(
        &sb,
        "</title><style>\n"
        "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}\n"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
        "padding:3px 7px;text-align:left;vertical-align:top}th{background:#f3f3f3}\n"
        "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}\n"
        ".axis{stroke:#888}.tick{font-size:10px;fill:#555}.note{fill:#777}\n"
        ".step{fill:#f4c542;opacity:.25}.s1{fill:#6aa6f8}.s2{fill:#7bd389}.s3{fill:#e98ae0}\n"
        ".steplabel{font-size:10px;fill:#444}\n"
        "polyline{fill:none;stroke-width:1.5}.max{stroke:#d9534f}.p50{stroke:#337ab7}"
        ".wait{stroke:#a00;stroke-dasharray:3 2}.lag{stroke:#8e44ad}.batch{stroke:#337ab7}"
        ".rate{stroke:#2e8b57}\n"
        "pre{background:#f7f7f7;padding:.6em;overflow:auto}\n"
        "</style></head><body>\n<h1>Rehearsal of ");
    esc(&sb, js(rep, "migration"));
    sb_puts(&sb, "</h1>\n<pre>");
    esc(&sb, js(rep, "source"));
    sb_puts(&sb, "</pre>\n");
    emit_all(&sb, true, rep);
    sb_puts(&sb, "</body></html>\n");
    return sb_steal(&sb);
}
