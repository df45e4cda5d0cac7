/* lint_print.c: lint findings as text, JSON, SARIF 2.1.0 and GitHub Actions annotations. */
#include "convoy/lint.h"
#include "convoy/util.h"

#include <stdio.h>
#include <string.h>

static const char *
status_word(const lint_finding_t *f)
{
    return f->allowed ? "allowed" : lint_severity_name(f->severity);
}

static void
print_finding(const lint_result_t *r, const lint_finding_t *f, FILE *out, const char *indent)
{
    fprintf(out, "%s%s:%d:%d: %s [%s] %s\n", indent, r->path, f->line, f->col, status_word(f),
            f->rule->id, f->message);
    if (f->allowed)
        fprintf(out, "%s    allowed: %s\n", indent, f->allowed);
    else
        fprintf(out, "%s    fix: %s\n", indent, f->fix);
}

void
lint_print_findings(const lint_result_t *r, FILE *out, const char *indent)
{
    if (r->n_findings == 0)
        return;
    fprintf(out, "\nlint (docs/lint.md):\n");
    for (size_t k = 0; k < r->n_findings; k++)
        print_finding(r, &r->findings[k], out, indent);
}

void
lint_print_text(const lint_result_t *r, size_t n, FILE *out)
{
    size_t counts[3] = {0}, allowed = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < r[i].n_findings; k++) {
            const lint_finding_t *f = &r[i].findings[k];
            print_finding(&r[i], f, out, "");
            if (f->allowed)
                allowed++;
            else if (f->severity <= LINT_ERROR)
                counts[f->severity]++;
        }
        for (size_t k = 0; k < r[i].n_assumptions; k++)
            fprintf(out, "%s: assumption: %s\n", r[i].path, r[i].assumptions[k]);
    }
    fprintf(out, "%zu file%s: %zu error%s, %zu warning%s, %zu info, %zu allowed\n", n,
            n == 1 ? "" : "s", counts[LINT_ERROR], counts[LINT_ERROR] == 1 ? "" : "s",
            counts[LINT_WARNING], counts[LINT_WARNING] == 1 ? "" : "s", counts[LINT_INFO], allowed);
}

/* GitHub's workflow-command escaping: data escapes %, CR, LF; properties also ':' and ','. */
static void
gh_escape(FILE *out, const char *s, bool property)
{
    for (; *s; s++) {
        if (*s == '%')
            fputs("%25", out);
        else if (*s == '\r')
            fputs("%0D", out);
        else if (*s == '\n')
            fputs("%0A", out);
        else if (property && *s == ':')
            fputs("%3A", out);
        else if (property && *s == ',')
            fputs("%2C", out);
        else
            fputc(*s, out);
    }
}

void
lint_print_github(const lint_result_t *r, size_t n, FILE *out)
{
    static const char *const cmd[] = {"notice", "warning", "error"};

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r[i].n_findings; k++) {
            const lint_finding_t *f = &r[i].findings[k];
            if (f->allowed || f->severity > LINT_ERROR)
                continue;
            fprintf(out, "::%s file=", cmd[f->severity]);
            gh_escape(out, r[i].path, true);
            fprintf(out, ",line=%d,col=%d,title=", f->line, f->col);
            gh_escape(out, "convoy ", true);
            gh_escape(out, f->rule->id, true);
            fputs("::", out);
            gh_escape(out, f->message, false);
            fputs(" (fix: ", out);
            gh_escape(out, f->fix, false);
            fputs(")\n", out);
        }
}

static json_t *
finding_json(const lint_result_t *r, const lint_finding_t *f)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "rule", f->rule->id, "category",
                  f->rule->category, "severity", lint_severity_name(f->severity), "file", r->path,
                  "line", f->line, "column", f->col, "message", f->message, "fix", f->fix);
    json_object_set_new(o, "allowed", f->allowed ? json_string(f->allowed) : json_null());
    return o;
}

json_t *
lint_findings_json(const lint_result_t *r)
{
    json_t *a = json_array();
    for (size_t k = 0; k < r->n_findings; k++)
        json_array_append_new(a, finding_json(r, &r->findings[k]));
    return a;
}

json_t *
lint_to_json(const lint_result_t *r, size_t n)
{
    json_t *files = json_array();
    size_t counts[3] = {0}, allowed = 0;

    for (size_t i = 0; i < n; i++) {
        json_t *as = json_array();
        for (size_t k = 0; k < r[i].n_assumptions; k++)
            json_array_append_new(as, json_string(r[i].assumptions[k]));
        for (size_t k = 0; k < r[i].n_findings; k++) {
            const lint_finding_t *f = &r[i].findings[k];
            if (f->allowed)
                allowed++;
            else if (f->severity <= LINT_ERROR)
                counts[f->severity]++;
        }
        json_array_append_new(files, json_pack("{s:s, s:o, s:o}", "file", r[i].path, "findings",
                                               lint_findings_json(&r[i]), "assumptions", as));
    }
    return json_pack("{s:i, s:o, s:{s:I, s:I, s:I, s:I}}", "version", 1, "files", files, "counts",
                     "error", (json_int_t)counts[LINT_ERROR], "warning",
                     (json_int_t)counts[LINT_WARNING], "info", (json_int_t)counts[LINT_INFO],
                     "allowed", (json_int_t)allowed);
}

static const char *
sarif_level(lint_severity_t s)
{
    return s == LINT_ERROR ? "error" : s == LINT_WARNING ? "warning" : "note";
}

json_t *
lint_to_sarif(const lint_result_t *r, size_t n, const char *tool_version)
{
    size_t n_rules;
    const lint_rule_t *rules = lint_rules(&n_rules);
    json_t *jrules = json_array();
    json_t *results = json_array();

    for (size_t i = 0; i < n_rules; i++) {
        json_array_append_new(
            jrules,
            json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}}", "id",
                      rules[i].id, "name", rules[i].id, "shortDescription", "text", rules[i].reason,
                      "fullDescription", "text", rules[i].reason, "help", "text", rules[i].fix,
                      "defaultConfiguration", "level",
                      rules[i].severity == LINT_OFF ? "none" : sarif_level(rules[i].severity),
                      "properties", "category", rules[i].category, "squawk",
                      rules[i].squawk ? rules[i].squawk : ""));
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r[i].n_findings; k++) {
            const lint_finding_t *f = &r[i].findings[k];
            char *text = xasprintf("%s (fix: %s)", f->message, f->fix);
            json_t *res = json_pack(
                "{s:s, s:i, s:s, s:{s:s}, s:[{s:{s:{s:s}, s:{s:i, s:i}}}]}", "ruleId", f->rule->id,
                "ruleIndex", (int)(f->rule - rules), "level", sarif_level(f->severity), "message",
                "text", text, "locations", "physicalLocation", "artifactLocation", "uri", r[i].path,
                "region", "startLine", f->line, "startColumn", f->col);
            if (f->allowed)
                json_object_set_new(
                    res, "suppressions",
                    json_pack("[{s:s, s:s}]", "kind", "inSource", "justification", f->allowed));
            json_array_append_new(results, res);
            free(text);
        }
    return json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:o, s:s}]}", "$schema",
                     "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs",
                     "tool", "driver", "name", "convoy", "version", tool_version, "rules", jrules,
                     "results", results, "columnKind", "unicodeCodePoints");
}
