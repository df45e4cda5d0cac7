/* test_lint.c: every lint rule fires on its case and stays quiet on the near miss; the seed
 * statement; -- convoy:allow; the [lint] configuration; live facts; the renderers. */
#include "convoy/facts.h"
#include "convoy/lint.h"
#include "convoy/migration.h"
#include "convoy/plan.h"
#include "convoy/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* The seed database's tables as a schema file would give them (for the --schema cases). */
static const char schema_sql[] =
    "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL,"
    " name text, status varchar(20) NOT NULL, created_at timestamptz NOT NULL);"
    "CREATE TABLE products (id bigint PRIMARY KEY, price numeric(10, 2) NOT NULL, sku "
    "varchar(32) NOT NULL, label text NOT NULL);";

#define N64                                                                                        \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcd"
#define N63                                                                                        \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abcdefghij"                                                                                   \
    "abc"

typedef struct {
    const char *rule;
    const char *fires;     /* a file that gets a finding of `rule` */
    const char *near_miss; /* a file that does not */
    bool schema;           /* lint with schema_sql as the offline facts */
    const char *config;    /* "key=value" applied to the configuration, or NULL */
} rule_case_t;

static const rule_case_t cases[] = {
    /* durable types */
    {"timestamp-without-time-zone", "CREATE TABLE audit_events (happened_at timestamp NOT NULL);",
     "CREATE TABLE audit_events (happened_at timestamptz NOT NULL);", false, NULL},
    {"json-type", "ALTER TABLE users ADD COLUMN settings json;",
     "ALTER TABLE users ADD COLUMN settings jsonb;", false, NULL},
    {"char-type", "CREATE TABLE currencies (code char(3) NOT NULL);",
     "CREATE TABLE currencies (code text NOT NULL CHECK (char_length(code) = 3));", false, NULL},
    {"varchar-length", "CREATE TABLE notes (title varchar(200) NOT NULL);",
     "CREATE TABLE notes (title text NOT NULL CHECK (char_length(title) <= 200));", false, NULL},
    {"int-key", "CREATE TABLE accounts (id integer PRIMARY KEY);",
     "CREATE TABLE accounts (id bigint PRIMARY KEY, login_count integer NOT NULL);", false, NULL},
    {"serial-type", "CREATE TABLE accounts (id bigserial PRIMARY KEY);",
     "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);", false, NULL},
    {"money-or-float-amount", "CREATE TABLE payments (amount double precision NOT NULL);",
     "CREATE TABLE payments (amount numeric(12, 2) NOT NULL, ratio double precision NOT "
     "NULL);",
     false, NULL},
    /* explicit defaults and constraints */
    {"nullable-required", "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';",
     "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';", false, NULL},
    {"default-now-existing-rows",
     "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;",
     "-- convoy:backfill last_login = created_at\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;",
     false, NULL},
    /* clear names */
    {"name-abbreviation", "ALTER TABLE users ADD COLUMN usr_email text;",
     "ALTER TABLE users ADD COLUMN user_email text;", false, NULL},
    {"name-too-short", "ALTER TABLE users ADD COLUMN nm text;",
     "CREATE TABLE widgets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);", false, NULL},
    {"name-too-long", "ALTER TABLE users ADD COLUMN " N64 " text;",
     "ALTER TABLE users ADD COLUMN " N63 " text;", false, NULL},
    {"name-reserved-word", "ALTER TABLE users ADD COLUMN \"order\" integer;",
     "ALTER TABLE users ADD COLUMN sort_order integer;", false, NULL},
    {"name-mixed-case", "ALTER TABLE users ADD COLUMN \"lastName\" text;",
     "ALTER TABLE users ADD COLUMN last_name text;", false, NULL},
    {"boolean-name", "ALTER TABLE users ADD COLUMN admin_flag boolean NOT NULL DEFAULT false;",
     "ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;", false, NULL},
    /* lock safety */
    {"index-blocks-writes", "CREATE INDEX users_name_idx ON users (name);",
     "CREATE TABLE widgets (label text NOT NULL);\n"
     "CREATE INDEX widgets_label_idx ON widgets (label);",
     false, NULL},
    {"drop-index-blocks", "DROP INDEX users_name_idx;", "DROP INDEX CONCURRENTLY users_name_idx;",
     false, NULL},
    {"constraint-scans-table",
     "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents > 0);",
     "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents > 0) NOT "
     "VALID;",
     false, NULL},
    {"unique-builds-index", "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
     "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;", false,
     NULL},
    {"set-not-null-scans", "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
     "ALTER TABLE users ALTER COLUMN email SET NOT NULL;", true, NULL},
    {"add-column-rewrites", "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
     "ALTER TABLE users ADD COLUMN quota_bytes bigint NOT NULL DEFAULT (2 * 1024);", false, NULL},
    {"type-change-rewrites",
     "ALTER TABLE users ALTER COLUMN status TYPE integer USING status::integer;",
     "ALTER TABLE users ALTER COLUMN status TYPE varchar(40);", true, NULL},
    {"breaking-change", "ALTER TABLE users DROP COLUMN name;",
     "CREATE TABLE drafts (body text NOT NULL, title text NOT NULL);\n"
     "ALTER TABLE drafts DROP COLUMN body;",
     false, NULL},
    {"drop-not-null", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
     "ALTER TABLE users ALTER COLUMN email SET DEFAULT '';", false, NULL},
    {"domain-constraint", "CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);",
     "CREATE DOMAIN email_address AS text;", false, NULL},
    {"transaction-control", "BEGIN;\nALTER TABLE users ADD COLUMN bio_html text;\nCOMMIT;",
     "ALTER TABLE users ADD COLUMN bio_html text;", false, NULL},
    {"enum-value-position", "ALTER TYPE mood ADD VALUE 'meh';",
     "ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';", false, NULL},
    {"reindex-blocks", "REINDEX INDEX users_name_idx;",
     "REINDEX INDEX CONCURRENTLY users_name_idx;", false, NULL},
    {"detach-partition-blocks", "ALTER TABLE events DETACH PARTITION events_2024;",
     "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;", false, NULL},
    {"table-rewrite", "VACUUM FULL users;", "VACUUM users;", false, NULL},
    {"truncate", "TRUNCATE users CASCADE;", "DELETE FROM users WHERE id = 1;", false, NULL},
    {"drop-database", "DROP DATABASE legacy;", "DROP VIEW legacy_report;", false, NULL},
    {"duplicate-assignment", "UPDATE users SET name = 'a', name = 'b' WHERE id = 1;",
     "UPDATE users SET name = 'a', status = 'b' WHERE id = 1;", false, NULL},
    {"unqualified-table", "CREATE TABLE widgets (label text NOT NULL);",
     "CREATE TABLE public.widgets (label text NOT NULL);", false, "unqualified-table=warning"},
    {"refused", "REFRESH MATERIALIZED VIEW user_stats;",
     "REFRESH MATERIALIZED VIEW CONCURRENTLY user_stats;", false, NULL},
    {"plan-error", "-- convoy:backfill nickname = 1\nALTER TABLE users ADD COLUMN bio_html text;",
     "-- convoy:backfill bio_html = 'none'\nALTER TABLE users ADD COLUMN bio_html text;", false,
     NULL},
    /* the file */
    {"allow-unknown",
     "-- convoy:allow no-such-rule it is fine\nALTER TABLE users ADD COLUMN settings json;",
     "-- convoy:allow json-type a legacy client reads it\n"
     "ALTER TABLE users ADD COLUMN settings json;",
     false, NULL},
    {"allow-unused",
     "-- convoy:allow json-type a legacy client reads it\n"
     "ALTER TABLE users ADD COLUMN settings jsonb;",
     "-- convoy:allow json-type a legacy client reads it\n"
     "ALTER TABLE users ADD COLUMN settings json;",
     false, NULL},
};

/* Parses and lints sql; fails the test on a parse error. */
static void
lint_sql(const char *sql, bool with_schema, const char *config, lint_result_t *out)
{
    migration_t m;
    parse_error_t err;
    facts_t f = {0};
    lint_config_t cfg;
    char *e = NULL;

    if (!migration_parse("case.sql", sql, &m, &err))
        fail_msg("parse error %d:%d: %s\n%s", err.line, err.column, err.message, sql);
    if (with_schema && !lint_schema_facts("schema.sql", schema_sql, &f, &e))
        fail_msg("schema: %s", e);
    lint_config_init(&cfg);
    if (config) {
        char *key = xstrndup(config, strcspn(config, "="));
        if (!lint_config_set(&cfg, key, strchr(config, '=') + 1, &e))
            fail_msg("config %s: %s", config, e);
        free(key);
    }
    lint_run(&m, &f, &cfg, out);
    lint_config_free(&cfg);
    facts_free(&f);
    migration_free(&m);
}

static size_t
count_rule(const lint_result_t *r, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        n += strcmp(r->findings[i].rule->id, rule) == 0 && r->findings[i].allowed == NULL;
    return n;
}

static void
dump(const lint_result_t *r)
{
    lint_print_text(r, 1, stderr);
}

static void
test_every_rule_fires_and_misses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lint_result_t r;

        assert_non_null(lint_rule_find(cases[i].rule));
        lint_sql(cases[i].fires, cases[i].schema, cases[i].config, &r);
        if (count_rule(&r, cases[i].rule) == 0) {
            dump(&r);
            fail_msg("%s does not fire on:\n%s", cases[i].rule, cases[i].fires);
        }
        lint_result_free(&r);
        lint_sql(cases[i].near_miss, cases[i].schema, cases[i].config, &r);
        if (count_rule(&r, cases[i].rule) != 0) {
            dump(&r);
            fail_msg("%s fires on the near miss:\n%s", cases[i].rule, cases[i].near_miss);
        }
        lint_result_free(&r);
    }
}

/* A rule added to the table without a case here fails this test. */
static void
test_every_rule_has_a_case(void **state)
{
    size_t n;
    const lint_rule_t *rules = lint_rules(&n);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
            found |= strcmp(cases[k].rule, rules[i].id) == 0;
        if (!found)
            fail_msg("rule %s has no fire/near-miss case in test_lint.c", rules[i].id);
        assert_non_null(rules[i].reason);
        assert_non_null(rules[i].fix);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(rules[k].id, rules[i].id);
    }
}

/* Must-show 5: the seed's statement gets the now() finding and nothing else. */
static void
test_seed_statement(void **state)
{
    lint_result_t r;

    (void)state;
    lint_sql("ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;", false,
             NULL, &r);
    if (r.n_findings != 1)
        dump(&r);
    assert_int_equal(r.n_findings, 1);
    assert_string_equal(r.findings[0].rule->id, "default-now-existing-rows");
    assert_int_equal(r.findings[0].severity, LINT_WARNING);
    assert_int_equal(r.findings[0].line, 1);
    assert_int_equal(r.findings[0].col, 53); /* the DEFAULT expression */
    assert_non_null(strstr(r.findings[0].fix, "-- convoy:backfill last_login ="));
    assert_true(r.n_assumptions > 0); /* offline: it says what it assumed */
    lint_result_free(&r);

    lint_sql("ALTER TABLE users ADD COLUMN last_login timestamp DEFAULT now() NOT NULL;", false,
             NULL, &r);
    assert_int_equal(count_rule(&r, "timestamp-without-time-zone"), 1);
    assert_int_equal(count_rule(&r, "default-now-existing-rows"), 1);
    assert_int_equal(r.n_findings, 2);
    lint_result_free(&r);
}

/* Fast defaults and binary-coercible changes: no finding at all (squawk flags them). */
static void
test_no_false_positives(void **state)
{
    static const char *const quiet[] = {
        "ALTER TABLE users ADD COLUMN quota_bytes bigint NOT NULL DEFAULT (2 * 1024 * 1024);",
        "ALTER TABLE users ADD COLUMN referral_code text NOT NULL DEFAULT upper('none');",
        "ALTER TABLE products ADD COLUMN display_label text NOT NULL DEFAULT concat('a', 'b');",
        "-- convoy:backfill first_seen_at = created_at\n"
        "ALTER TABLE users ADD COLUMN first_seen_at timestamptz NOT NULL DEFAULT "
        "statement_timestamp();",
        "ALTER TABLE users ALTER COLUMN status TYPE varchar(40);",
        "ALTER TABLE users ALTER COLUMN status TYPE text;",
        "ALTER TABLE users ALTER COLUMN status TYPE varchar(40) USING status::varchar(40);",
        "ALTER TABLE products ALTER COLUMN price TYPE numeric(12, 2);",
        "ALTER TABLE products ALTER COLUMN sku TYPE varchar;",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        lint_result_t r;
        lint_sql(quiet[i], true, NULL, &r);
        if (r.n_findings != 0) {
            dump(&r);
            fail_msg("expected no finding for:\n%s", quiet[i]);
        }
        lint_result_free(&r);
    }
}

static void
test_allow_directive(void **state)
{
    lint_result_t r;
    migration_t m;
    parse_error_t err;

    (void)state;
    lint_sql("-- convoy:allow json-type the reporting client only speaks json\n"
             "ALTER TABLE users ADD COLUMN settings json;\n"
             "ALTER TABLE users ADD COLUMN prefs json;\n",
             false, NULL, &r);
    assert_int_equal(r.n_findings, 2);
    /* the first statement's finding is kept, suppressed, with its reason */
    assert_string_equal(r.findings[0].rule->id, "json-type");
    assert_string_equal(r.findings[0].allowed, "the reporting client only speaks json");
    /* the allow covers only the statement after it */
    assert_null(r.findings[1].allowed);
    assert_int_equal(r.findings[1].line, 3);
    assert_int_equal(lint_count_at_least(&r, 1, LINT_WARNING), 1);
    lint_result_free(&r);

    /* a reason is required; the error names the line and the fix */
    assert_false(migration_parse("a.sql", "-- convoy:allow json-type\nSELECT 1;\n", &m, &err));
    assert_int_equal(err.line, 1);
    assert_non_null(strstr(err.message, "needs a reason"));
    assert_false(migration_parse("a.sql", "-- convoy:allow\nSELECT 1;\n", &m, &err));
    assert_non_null(strstr(err.message, "rule id"));
}

static void
test_config(void **state)
{
    lint_config_t c;
    char *err = NULL;
    lint_result_t r;
    migration_t m;
    parse_error_t pe;
    facts_t f = {0};

    (void)state;
    lint_config_init(&c);
    assert_true(lint_config_set(&c, "json-type", "off", &err));
    assert_true(lint_config_set(&c, "varchar-length", "error", &err));
    assert_true(lint_config_set(&c, "abbreviations", "cust=customer, sku", &err));
    assert_true(lint_config_set(&c, "allowed_abbreviations", "qty", &err));
    assert_true(lint_config_set(&c, "boolean_words", "legacy", &err));
    assert_false(lint_config_set(&c, "json-type", "loud", &err));
    assert_non_null(strstr(err, "off, info, warning or error"));
    free(err);
    assert_false(lint_config_set(&c, "no-such-key", "1", &err));
    assert_non_null(strstr(err, "unknown key"));
    free(err);
    assert_false(lint_config_set(&c, "abbreviations", "Bad Word", &err));
    free(err);

    assert_true(migration_parse("c.sql",
                                "CREATE TABLE stock (qty integer NOT NULL, cust_name text NOT "
                                "NULL, meta json NOT NULL, code varchar(8) NOT NULL,"
                                " legacy boolean NOT NULL);",
                                &m, &pe));
    lint_run(&m, &f, &c, &r);
    assert_int_equal(count_rule(&r, "json-type"), 0);         /* off */
    assert_int_equal(count_rule(&r, "name-abbreviation"), 1); /* cust, not qty */
    assert_non_null(strstr(r.findings[0].message, "cust"));
    assert_int_equal(count_rule(&r, "varchar-length"), 1);
    assert_int_equal(count_rule(&r, "boolean-name"), 0);
    for (size_t i = 0; i < r.n_findings; i++)
        if (strcmp(r.findings[i].rule->id, "varchar-length") == 0)
            assert_int_equal(r.findings[i].severity, LINT_ERROR);
    lint_result_free(&r);
    migration_free(&m);
    lint_config_free(&c);
}

/* With the live catalog: an empty table gets no now() finding; a probed no-rewrite type change
 * gets none; the siblings' NOT NULLs come from the catalog. */
static void
test_live_facts(void **state)
{
    migration_t m;
    parse_error_t pe;
    facts_t f = {0};
    lint_config_t c;
    lint_result_t r;
    column_fact_t cols[2] = {{.name = "email", .type = "text", .not_null = true},
                             {.name = "name", .type = "text", .not_null = true}};
    table_fact_t t = {0};

    (void)state;
    t.name_given = "users";
    t.name = "users";
    t.schema = "public";
    t.exists = true;
    t.has_rows = false;
    t.rows = 0;
    t.cols = cols;
    t.n_cols = 2;
    f.live = true;
    f.server_version = 150000;
    f.tables = &t;
    f.n_tables = 1;
    lint_config_init(&c);

    assert_true(migration_parse(
        "l.sql", "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;", &m,
        &pe));
    lint_run(&m, &f, &c, &r);
    assert_int_equal(count_rule(&r, "default-now-existing-rows"), 0);
    assert_int_equal(r.n_assumptions, 0);
    lint_result_free(&r);
    migration_free(&m);

    t.has_rows = true;
    assert_true(migration_parse("l.sql", "ALTER TABLE users ADD COLUMN nickname text;", &m, &pe));
    lint_run(&m, &f, &c, &r);
    assert_int_equal(count_rule(&r, "nullable-required"), 1); /* siblings are NOT NULL */
    lint_result_free(&r);
    migration_free(&m);

    lint_config_free(&c);
}

static void
test_renderers(void **state)
{
    lint_result_t r;
    json_t *j, *run, *res;
    char *s;
    FILE *mem;
    size_t len;

    (void)state;
    lint_sql("-- convoy:allow json-type legacy reader\n"
             "ALTER TABLE users ADD COLUMN settings json;\n"
             "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n",
             false, NULL, &r);

    j = lint_to_sarif(&r, 1, "0.0.0");
    assert_string_equal(json_string_value(json_object_get(j, "version")), "2.1.0");
    run = json_array_get(json_object_get(j, "runs"), 0);
    assert_true(json_array_size(json_object_get(
                    json_object_get(json_object_get(run, "tool"), "driver"), "rules")) > 30);
    res = json_object_get(run, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_non_null(json_object_get(json_array_get(res, 0), "suppressions"));
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(
                json_object_get(
                    json_array_get(json_object_get(json_array_get(res, 1), "locations"), 0),
                    "physicalLocation"),
                "region"),
            "startLine")),
        3);
    json_decref(j);

    j = lint_to_json(&r, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "allowed")),
                     1);
    json_decref(j);

    mem = open_memstream(&s, &len);
    lint_print_github(&r, 1, mem);
    fclose(mem);
    /* the suppressed finding is not annotated; the other one is */
    assert_non_null(strstr(s, "::warning file=case.sql,line=3,col="));
    assert_non_null(strstr(s, ",title=convoy default-now-existing-rows::"));
    assert_null(strstr(s, "json-type"));
    free(s);
    lint_result_free(&r);
}

/* One case per squawk rule (squawk 2.66.0, 38 rules): the convoy rule that answers it and
 * its severity, or none where convoy's own behaviour answers it (checked in the plan). */
typedef struct {
    const char *squawk;
    const char *sql;
    const char *convoy; /* NULL: no finding */
    lint_severity_t severity;
    bool schema;
    const char *config;
} parity_case_t;

static const parity_case_t parity[] = {
    {"adding-field-with-default",
     "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();", "add-column-rewrites",
     LINT_INFO, false, NULL},
    {"adding-foreign-key-constraint",
     "ALTER TABLE users ADD CONSTRAINT users_org_fkey FOREIGN KEY (org_id) REFERENCES orgs (id);",
     "constraint-scans-table", LINT_INFO, false, NULL},
    {"adding-not-nullable-field", "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
     "set-not-null-scans", LINT_INFO, true, NULL},
    {"adding-required-field", "ALTER TABLE users ADD COLUMN tier text NOT NULL;",
     "add-column-rewrites", LINT_ERROR, false, NULL},
    {"adding-serial-primary-key-field", "ALTER TABLE legacy_notes ADD PRIMARY KEY (id);",
     "unique-builds-index", LINT_INFO, false, NULL},
    {"ban-alter-domain-with-add-constraint",
     "ALTER DOMAIN positive_amount ADD CONSTRAINT positive_amount_max CHECK (VALUE < 1000000);",
     "domain-constraint", LINT_ERROR, false, NULL},
    {"ban-char-field", "ALTER TABLE users ADD COLUMN country_code char(2);", "char-type",
     LINT_WARNING, false, NULL},
    {"ban-concurrent-index-creation-in-transaction",
     "BEGIN;\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\nCOMMIT;",
     "transaction-control", LINT_INFO, false, NULL},
    {"ban-create-domain-with-constraint",
     "CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);", "domain-constraint",
     LINT_WARNING, false, NULL},
    {"ban-drop-column", "ALTER TABLE users DROP COLUMN bio;", "breaking-change", LINT_ERROR, false,
     NULL},
    {"ban-drop-database", "DROP DATABASE legacy;", "drop-database", LINT_ERROR, false, NULL},
    {"ban-drop-not-null", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;", "drop-not-null",
     LINT_INFO, false, NULL},
    {"ban-drop-table", "DROP TABLE legacy_notes;", "breaking-change", LINT_ERROR, false, NULL},
    {"ban-duplicate-column-assignments", "UPDATE users SET name = 'a', name = 'b' WHERE id = 1;",
     "duplicate-assignment", LINT_ERROR, false, NULL},
    {"ban-truncate-cascade", "TRUNCATE users CASCADE;", "truncate", LINT_ERROR, false, NULL},
    {"ban-uncommitted-transaction", "BEGIN;\nALTER TABLE users ADD COLUMN bio_html text;",
     "transaction-control", LINT_INFO, false, NULL},
    {"changing-column-type",
     "ALTER TABLE users ALTER COLUMN status TYPE integer USING status::integer;",
     "type-change-rewrites", LINT_ERROR, true, NULL},
    {"constraint-missing-not-valid",
     "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents > 0);",
     "constraint-scans-table", LINT_INFO, false, NULL},
    {"disallowed-unique-constraint",
     "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", "unique-builds-index",
     LINT_INFO, false, NULL},
    {"identifier-too-long", "ALTER TABLE users ADD COLUMN " N64 " text;", "name-too-long",
     LINT_ERROR, false, NULL},
    {"prefer-bigint-over-int", "CREATE TABLE accounts (id integer PRIMARY KEY);", "int-key",
     LINT_WARNING, false, NULL},
    {"prefer-bigint-over-smallint", "CREATE TABLE accounts (id smallint PRIMARY KEY);", "int-key",
     LINT_WARNING, false, NULL},
    {"prefer-identity", "CREATE TABLE accounts (id bigserial PRIMARY KEY);", "serial-type",
     LINT_WARNING, false, NULL},
    {"prefer-repack", "VACUUM FULL users;", "table-rewrite", LINT_ERROR, false, NULL},
    {"prefer-robust-stmts", "ALTER TABLE users ADD COLUMN bio_html text;", NULL, LINT_INFO, false,
     NULL},
    {"prefer-text-field", "CREATE TABLE notes (title varchar(200) NOT NULL);", "varchar-length",
     LINT_INFO, false, NULL},
    {"prefer-timestamp-tz", "CREATE TABLE audit_events (happened_at timestamp NOT NULL);",
     "timestamp-without-time-zone", LINT_WARNING, false, NULL},
    {"renaming-column", "ALTER TABLE users RENAME COLUMN bio TO biography;", "breaking-change",
     LINT_ERROR, false, NULL},
    {"renaming-table", "ALTER TABLE legacy_notes RENAME TO archived_notes;", "breaking-change",
     LINT_ERROR, false, NULL},
    {"require-concurrent-index-creation", "CREATE INDEX users_name_idx ON users (name);",
     "index-blocks-writes", LINT_INFO, false, NULL},
    {"require-concurrent-index-deletion", "DROP INDEX users_name_idx;", "drop-index-blocks",
     LINT_INFO, false, NULL},
    {"require-concurrent-partition-detach", "ALTER TABLE events DETACH PARTITION events_2024;",
     "detach-partition-blocks", LINT_INFO, false, NULL},
    {"require-concurrent-reindex", "REINDEX INDEX users_name_idx;", "reindex-blocks", LINT_ERROR,
     false, NULL},
    {"require-enum-value-ordering", "ALTER TYPE mood ADD VALUE 'meh';", "enum-value-position",
     LINT_INFO, false, NULL},
    {"require-lock-timeout", "ALTER TABLE users ADD COLUMN bio_html text;", NULL, LINT_INFO, false,
     NULL},
    {"require-statement-timeout", "ALTER TABLE users ADD COLUMN bio_html text;", NULL, LINT_INFO,
     false, NULL},
    {"require-table-schema", "CREATE TABLE widgets (label text NOT NULL);", "unqualified-table",
     LINT_WARNING, false, "unqualified-table=warning"},
    {"transaction-nesting", "BEGIN;\nBEGIN;\nALTER TABLE users ADD COLUMN bio_html text;\nCOMMIT;",
     "transaction-control", LINT_INFO, false, NULL},
};

static void
test_squawk_parity(void **state)
{
    (void)state;
    assert_int_equal(sizeof(parity) / sizeof(parity[0]), 38);
    for (size_t i = 0; i < sizeof(parity) / sizeof(parity[0]); i++) {
        const parity_case_t *pc = &parity[i];
        lint_result_t r;
        bool found = false;

        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(parity[k].squawk, pc->squawk);
        lint_sql(pc->sql, pc->schema, pc->config, &r);
        if (pc->convoy == NULL) {
            /* answered by convoy's behaviour: no finding, and the plan carries the timeouts */
            migration_t m;
            parse_error_t err;
            facts_t f = {0};
            plan_t p;
            if (r.n_findings != 0)
                dump(&r);
            assert_int_equal(r.n_findings, 0);
            assert_true(migration_parse("p.sql", pc->sql, &m, &err));
            plan_build(&m, &f, &p);
            assert_int_equal(p.lock_timeout_ms, PLAN_DEFAULT_LOCK_TIMEOUT_MS);
            assert_int_equal(p.statement_timeout_ms, PLAN_DEFAULT_STATEMENT_TIMEOUT_MS);
            assert_int_equal(p.n_refusals, 0);
            plan_free(&p);
            migration_free(&m);
        } else {
            const lint_rule_t *rule = lint_rule_find(pc->convoy);
            assert_non_null(rule);
            /* the rule table names the squawk rule it answers (docs/lint.md's table) */
            if (rule->squawk == NULL || strstr(rule->squawk, pc->squawk) == NULL)
                fail_msg("rule %s does not list squawk's %s", pc->convoy, pc->squawk);
            for (size_t k = 0; k < r.n_findings; k++)
                found |= strcmp(r.findings[k].rule->id, pc->convoy) == 0 &&
                         r.findings[k].severity == pc->severity;
            if (!found) {
                dump(&r);
                fail_msg("squawk %s: expected %s at %s for:\n%s", pc->squawk, pc->convoy,
                         lint_severity_name(pc->severity), pc->sql);
            }
        }
        lint_result_free(&r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule_fires_and_misses),
        cmocka_unit_test(test_every_rule_has_a_case),
        cmocka_unit_test(test_seed_statement),
        cmocka_unit_test(test_no_false_positives),
        cmocka_unit_test(test_allow_directive),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_live_facts),
        cmocka_unit_test(test_renderers),
        cmocka_unit_test(test_squawk_parity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
