/*
 * lint.h: findings about a migration file for code review (convoy lint, convoy plan).
 *
 * lint_run is a pure function of (migration, catalog facts, configuration): it walks the
 * file's libpg_query parse tree for the column rules (durable types, explicit defaults and
 * constraints, clear names) and reads convoy's own plan (plan_build) for the lock rules, so
 * a statement convoy makes safe is reported as "convoy will run this as ..." and one it
 * refuses as an error. The rules are one table (lint_rules); docs/lint.md documents each.
 */
#ifndef CONVOY_LINT_H
#define CONVOY_LINT_H

#include "convoy/facts.h"
#include "convoy/migration.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    LINT_INFO,
    LINT_WARNING,
    LINT_ERROR,
    LINT_OFF, /* only in a configuration: the rule does not run */
} lint_severity_t;

const char *lint_severity_name(lint_severity_t s);
/* "off", "info", "warning", "error"; false for anything else. */
bool lint_severity_parse(const char *name, lint_severity_t *out);

typedef struct {
    const char *id;           /* stable: used in convoy.ini, -- convoy:allow and every output */
    const char *category;     /* types, defaults, names, safety, file */
    lint_severity_t severity; /* default; LINT_OFF: opt-in */
    const char *reason;       /* one line: why it matters */
    const char *fix;          /* one line: what to write instead */
    const char *squawk;       /* the squawk rules it answers ("a, b"), or NULL */
} lint_rule_t;

/* The rule table (n set to its length). */
const lint_rule_t *lint_rules(size_t *n);
/* The rule of that id, or NULL. */
const lint_rule_t *lint_rule_find(const char *id);

/* The [lint] section of convoy.ini, with its defaults. */
typedef struct {
    lint_severity_t *severity; /* per rule, in lint_rules() order */
    char **abbrevs;            /* "usr=user" or "usr" (no suggestion) */
    size_t n_abbrevs;
    char **short_ok; /* one- and two-letter names that are fine: id */
    size_t n_short_ok;
    char **bool_prefixes; /* is, has, can, ... */
    size_t n_bool_prefixes;
    char **bool_words; /* adjectives a boolean may be named by: active, enabled, ... */
    size_t n_bool_words;
    char **required_names; /* column names that look required: created_at, status, ... */
    size_t n_required_names;
} lint_config_t;

void lint_config_init(lint_config_t *c);
void lint_config_free(lint_config_t *c);
/*
 * One `key = value` of [lint]: RULE = off|info|warning|error; abbreviations (added to the
 * list: `usr=user, qty=quantity`), allowed_abbreviations (taken off it), short_names,
 * boolean_prefixes (replace the list), boolean_words, required_names (added). False with
 * *err (caller frees) naming the fix.
 */
bool lint_config_set(lint_config_t *c, const char *key, const char *value, char **err);

typedef struct {
    const lint_rule_t *rule;
    lint_severity_t severity;
    int line, col; /* 1-based; col in characters */
    char *message;
    char *fix;
    char *allowed; /* the -- convoy:allow reason when suppressed, else NULL */
} lint_finding_t;

typedef struct {
    char *path;
    lint_finding_t *findings; /* in file order */
    size_t n_findings;
    char **assumptions; /* what an offline run assumed */
    size_t n_assumptions;
} lint_result_t;

/*
 * Lints a parsed migration. facts may be empty (offline: assumptions are listed), come from
 * the live catalog (catalog_fetch), or from lint_schema_facts. Never fails. Caller frees out
 * with lint_result_free.
 */
void
lint_run(const migration_t *m, const facts_t *facts, const lint_config_t *cfg, lint_result_t *out);
void lint_result_free(lint_result_t *r);

/*
 * Offline facts from a schema file (pg_dump --schema-only, or the SQL that built it): the
 * tables its CREATE TABLE statements define, their columns, types and NOT NULLs. Appends to
 * *f (live stays false). False with *err (caller frees) when the SQL does not parse.
 */
bool lint_schema_facts(const char *path, const char *sql, facts_t *f, char **err);

/* Counts of unsuppressed findings at or above `at` (LINT_OFF: none count). */
size_t lint_count_at_least(const lint_result_t *r, size_t n, lint_severity_t at);

/* Renderers (lint_print.c). `r` holds one result per file. */
void lint_print_text(const lint_result_t *r, size_t n, FILE *out);
/* plan's text: "lint:" and one file's findings, each line starting with indent (none: nothing). */
void lint_print_findings(const lint_result_t *r, FILE *out, const char *indent);
void lint_print_github(const lint_result_t *r, size_t n, FILE *out);
/* {"version":1, "files":[{file, findings, assumptions}], "counts":{...}}; caller decrefs. */
json_t *lint_to_json(const lint_result_t *r, size_t n);
/* One file's findings as a JSON array (plan --json's "findings"); caller decrefs. */
json_t *lint_findings_json(const lint_result_t *r);
/* SARIF 2.1.0: one run, every rule in tool.driver.rules; caller decrefs. */
json_t *lint_to_sarif(const lint_result_t *r, size_t n, const char *tool_version);

#endif
