/* cmd_lint.c: `convoy lint FILE...`: findings for code review, in text, JSON, SARIF or GitHub. */
#include "cli.h"
#include "convoy/catalog.h"
#include "convoy/lint.h"
#include "convoy/log.h"
#include "convoy/util.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CONVOY_VERSION
#error "CONVOY_VERSION must be defined by the build (the CMake project version)"
#endif

/* The project file's [lint] section being read: errors are collected, each at file:line. */
typedef struct {
    const char *path;
    FILE *f;
    int line;
    lint_config_t *cfg;
    int errors;
} ini_reader_t;

/* inih reads one line per call: counting them gives the handler its line number. */
static char *
read_line(char *buf, int size, void *stream)
{
    ini_reader_t *r = stream;
    char *s = fgets(buf, size, r->f);
    if (s)
        r->line++;
    return s;
}

static int
on_entry(void *user, const char *section, const char *key, const char *value)
{
    ini_reader_t *r = user;
    char *err = NULL;

    if (strcmp(section, "lint") != 0)
        return 1; /* other sections belong to other parts of the project file */
    if (!lint_config_set(r->cfg, key, value, &err)) {
        fprintf(stderr, "convoy: %s:%d: %s\n", r->path, r->line, err);
        free(err);
        r->errors++;
    }
    return 1;
}

bool
cli_lint_config(const cli_opts_t *o, lint_config_t *cfg)
{
    const char *path = o->config ? o->config : "convoy.ini";
    ini_reader_t r = {0};
    int rc;

    lint_config_init(cfg);
    if (o->config == NULL && access(path, F_OK) != 0)
        return true; /* no project file: the defaults */
    r.path = path;
    r.cfg = cfg;
    if ((r.f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "convoy: %s: %s (give the project file with --config FILE)\n", path,
                strerror(errno));
        return false;
    }
    rc = ini_parse_stream(read_line, &r, on_entry, &r);
    fclose(r.f);
    if (rc > 0) {
        fprintf(stderr,
                "convoy: %s:%d: not INI syntax: write `rule-id = warning` lines under [lint]\n",
                path, rc);
        r.errors++;
    }
    log_debug("project file %s read", path);
    return r.errors == 0;
}

/* Reads --schema FILE into offline facts. */
static bool
load_schema(const char *path, facts_t *f)
{
    char *text = read_file(path, NULL), *err = NULL;
    bool ok;

    if (text == NULL) {
        fprintf(stderr, "convoy: %s: %s (give the schema, e.g. from pg_dump --schema-only)\n", path,
                strerror(errno));
        return false;
    }
    ok = lint_schema_facts(path, text, f, &err);
    if (!ok) {
        fprintf(stderr, "convoy: %s\n", err);
        free(err);
    }
    free(text);
    return ok;
}

static lint_severity_t
fail_level(const cli_opts_t *o)
{
    lint_severity_t s = LINT_ERROR;

    if (o->fail_on == NULL)
        return LINT_ERROR;
    if (strcmp(o->fail_on, "never") == 0)
        return LINT_OFF;
    lint_severity_parse(o->fail_on, &s);
    return s;
}

int
cmd_lint(const cli_opts_t *o)
{
    lint_config_t cfg;
    facts_t schema = {0};
    lint_result_t *results;
    size_t n = 0;
    pg_t *pg = NULL;
    const char *format = o->format ? o->format : "text";
    int rc = EXIT_OK;

    if (!cli_lint_config(o, &cfg)) {
        lint_config_free(&cfg);
        return EXIT_ERROR;
    }
    if (o->schema && !load_schema(o->schema, &schema)) {
        lint_config_free(&cfg);
        return EXIT_ERROR;
    }
    /* only with --db: a review tool does not connect because PG* happens to be set */
    if (o->db != NULL) {
        if ((pg = cli_connect(o)) == NULL) {
            facts_free(&schema);
            lint_config_free(&cfg);
            return EXIT_ERROR;
        }
    }
    results = xcalloc((size_t)o->n_files, sizeof(*results));
    for (int i = 0; i < o->n_files; i++) {
        migration_t m;
        facts_t live = {0};
        char *err = NULL;

        if (!cli_load_migration(o->files[i], &m, NULL)) {
            rc = EXIT_ERROR;
            continue;
        }
        if (pg != NULL && !catalog_fetch(pg, &m, &live, &err)) {
            fprintf(stderr, "convoy: %s: %s\n", o->files[i], err);
            free(err);
            migration_free(&m);
            rc = EXIT_ERROR;
            continue;
        }
        lint_run(&m, pg ? &live : &schema, &cfg, &results[n]);
        log_debug("lint %s: %zu findings", o->files[i], results[n].n_findings);
        n++;
        facts_free(&live);
        migration_free(&m);
    }
    if (strcmp(format, "json") == 0)
        cli_print_json(lint_to_json(results, n));
    else if (strcmp(format, "sarif") == 0)
        cli_print_json(lint_to_sarif(results, n, CONVOY_VERSION));
    else if (strcmp(format, "github") == 0)
        lint_print_github(results, n, stdout);
    else
        lint_print_text(results, n, stdout);
    if (rc == EXIT_OK && lint_count_at_least(results, n, fail_level(o)) > 0)
        rc = EXIT_LINT_FINDINGS;
    for (size_t i = 0; i < n; i++)
        lint_result_free(&results[i]);
    free(results);
    facts_free(&schema);
    pg_close(&pg);
    lint_config_free(&cfg);
    return rc;
}
