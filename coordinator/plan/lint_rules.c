/* lint_rules.c: the lint rule table, the [lint] configuration and its defaults. */
#include "convoy/lint.h"
#include "convoy/util.h"
#include "lint_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* One row per rule, in the order of lint_rule_index_t (lint_int.h). */
static const lint_rule_t rules[] = {
    /* durable types */
    {"timestamp-without-time-zone", "types", LINT_WARNING,
     "timestamp without time zone stores a wall-clock reading, not an instant: the same value "
     "means different moments on servers and clients in other zones",
     "use timestamptz (timestamp with time zone): the same 8 bytes, stored as UTC",
     "prefer-timestamp-tz"},
    {"json-type", "types", LINT_WARNING,
     "json keeps the text as written: every read parses it again, and it has no equality, no "
     "GIN index and no containment operators",
     "use jsonb", NULL},
    {"char-type", "types", LINT_WARNING,
     "char(n) pads with spaces, compares ignoring them and still allows shorter values: it is "
     "never the fixed-width field it looks like",
     "use text (with CHECK (char_length(col) = n) when the length is a rule)", "ban-char-field"},
    {"varchar-length", "types", LINT_INFO,
     "varchar(n) hides a business rule in the type; changing n later is a type change",
     "use text with CHECK (char_length(col) <= n) where the length matters, plain text where it "
     "does not",
     "prefer-text-field"},
    {"int-key", "types", LINT_WARNING,
     "a 32-bit (or 16-bit) key runs out at 2.1 billion (32 767) rows, and widening a key later "
     "rewrites the table and every table that references it",
     "use bigint (bigint GENERATED ALWAYS AS IDENTITY for a generated key)",
     "prefer-bigint-over-int, prefer-bigint-over-smallint"},
    {"serial-type", "types", LINT_WARNING,
     "serial creates a separately owned sequence with its own grants and lets inserts bypass it",
     "use bigint GENERATED ALWAYS AS IDENTITY", "prefer-identity"},
    {"money-or-float-amount", "types", LINT_WARNING,
     "money depends on lc_monetary and has one fixed scale; real and double precision round "
     "amounts (0.1 + 0.2 <> 0.3)",
     "use numeric(p, s) with the scale the currency needs", NULL},
    /* explicit defaults and constraints */
    {"nullable-required", "defaults", LINT_WARNING,
     "the column looks required (its name, NOT NULL on its siblings, or the default the file "
     "gives it) but is added nullable, so NULLs can creep in",
     "add NOT NULL (convoy adds it to an existing table without a long lock), or give the reason "
     "with `-- convoy:allow nullable-required <why>`",
     NULL},
    {"default-now-existing-rows", "defaults", LINT_WARNING,
     "a DEFAULT of the current time is evaluated once for the existing rows: every old row gets "
     "the migration's timestamp, which is not what happened to it",
     "add `-- convoy:backfill <column> = <expression>` to give existing rows a value of their "
     "own; new rows still get the DEFAULT",
     NULL},
    /* clear names */
    {"name-abbreviation", "names", LINT_WARNING,
     "abbreviations (usr, ts, qty, ...) make every future reader guess; the list is in "
     "docs/lint.md and convoy.ini can extend it",
     "spell the word out", NULL},
    {"name-too-short", "names", LINT_WARNING,
     "a one- or two-letter name says nothing about what it holds", "use a descriptive name", NULL},
    {"name-too-long", "names", LINT_ERROR,
     "PostgreSQL silently truncates identifiers to 63 bytes: two long names can collide and "
     "the name in the catalog is not the one in the code",
     "shorten it to 63 bytes or fewer", "identifier-too-long"},
    {"name-reserved-word", "names", LINT_WARNING,
     "a reserved word must be double-quoted in every query that uses it",
     "choose a name that is not a keyword (e.g. user -> account_user, order -> sort_order)", NULL},
    {"name-mixed-case", "names", LINT_WARNING,
     "upper case (or other characters outside [a-z0-9_]) in a quoted name forces double quotes "
     "in every query, and the unquoted spelling means another name",
     "use lower-case snake_case", NULL},
    {"boolean-name", "names", LINT_INFO,
     "a boolean named like a noun does not say which way true points",
     "name it is_/has_/can_... or with an adjective (active, deleted); convoy.ini can extend the "
     "lists",
     NULL},
    /* lock safety: what squawk flags, answered by convoy's plan */
    {"index-blocks-writes", "safety", LINT_INFO,
     "CREATE INDEX holds SHARE on the table while it builds: every write waits",
     "nothing to do: convoy runs it as CREATE INDEX CONCURRENTLY",
     "require-concurrent-index-creation"},
    {"drop-index-blocks", "safety", LINT_INFO,
     "DROP INDEX takes ACCESS EXCLUSIVE on the table: reads and writes wait",
     "nothing to do: convoy runs it as DROP INDEX CONCURRENTLY",
     "require-concurrent-index-deletion"},
    {"constraint-scans-table", "safety", LINT_INFO,
     "adding a CHECK or FOREIGN KEY scans the whole table under a lock that blocks writes (on "
     "both tables for a foreign key)",
     "nothing to do: convoy pre-checks the rows, adds it NOT VALID and VALIDATEs it under SHARE "
     "UPDATE EXCLUSIVE",
     "constraint-missing-not-valid, adding-foreign-key-constraint"},
    {"unique-builds-index", "safety", LINT_INFO,
     "ADD UNIQUE / PRIMARY KEY builds its index under ACCESS EXCLUSIVE",
     "nothing to do: convoy builds the index CONCURRENTLY and attaches it with USING INDEX",
     "disallowed-unique-constraint, adding-serial-primary-key-field"},
    {"set-not-null-scans", "safety", LINT_INFO,
     "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE",
     "nothing to do: convoy validates a CHECK (col IS NOT NULL) first, so SET NOT NULL is "
     "instant",
     "adding-not-nullable-field"},
    {"add-column-rewrites", "safety", LINT_INFO,
     "this ADD COLUMN rewrites the table under ACCESS EXCLUSIVE (volatile default, serial, "
     "identity, GENERATED STORED, constrained domain) or fails on existing rows (NOT NULL "
     "without a default)",
     "convoy adds the column without a rewrite and backfills it in batches, or refuses and "
     "names the sequence to write",
     "adding-field-with-default, adding-required-field, adding-serial-primary-key-field"},
    {"type-change-rewrites", "safety", LINT_INFO,
     "ALTER COLUMN TYPE that is not binary-coercible rewrites the table and its indexes under "
     "ACCESS EXCLUSIVE",
     "add a new column, backfill it, switch readers, drop the old one (expand/contract); "
     "binary-coercible changes (varchar widening, varchar -> text) are fine",
     "changing-column-type"},
    {"breaking-change", "safety", LINT_INFO,
     "DROP COLUMN / DROP TABLE / RENAME breaks every running application version that still "
     "uses the old name",
     "ship the application change first, then put `-- convoy:contract` in this file",
     "ban-drop-column, ban-drop-table, renaming-column, renaming-table"},
    {"drop-not-null", "safety", LINT_INFO,
     "after DROP NOT NULL the column may hold NULLs that readers written for the old schema do "
     "not expect",
     "make sure every reader handles NULL before this ships", "ban-drop-not-null"},
    {"domain-constraint", "safety", LINT_WARNING,
     "a constraint on a domain cannot be added NOT VALID and checked online, and adding a "
     "column of a constrained domain rewrites the table",
     "put the CHECK on the columns instead (NOT VALID, then VALIDATE)",
     "ban-create-domain-with-constraint, ban-alter-domain-with-add-constraint"},
    {"transaction-control", "safety", LINT_INFO,
     "the file's own BEGIN/COMMIT would hold every lock until the end of the file",
     "nothing to do: convoy runs each step in its own short transaction and ignores them",
     "transaction-nesting, ban-uncommitted-transaction, "
     "ban-concurrent-index-creation-in-transaction"},
    {"enum-value-position", "safety", LINT_INFO,
     "ADD VALUE without BEFORE/AFTER appends the value, and enum order decides < > and ORDER BY",
     "say where it goes: ADD VALUE 'x' BEFORE 'y' (or AFTER)", "require-enum-value-ordering"},
    {"reindex-blocks", "safety", LINT_INFO,
     "REINDEX blocks writes and the reads that would use the index",
     "write REINDEX ... CONCURRENTLY: convoy runs it outside a transaction",
     "require-concurrent-reindex"},
    {"detach-partition-blocks", "safety", LINT_INFO,
     "DETACH PARTITION takes ACCESS EXCLUSIVE on the parent",
     "nothing to do: it is metadata only, and convoy runs it under lock_timeout with retries "
     "(write DETACH PARTITION ... CONCURRENTLY to take only SHARE UPDATE EXCLUSIVE)",
     "require-concurrent-partition-detach"},
    {"table-rewrite", "safety", LINT_ERROR,
     "VACUUM FULL / CLUSTER rewrite the table under ACCESS EXCLUSIVE for as long as it takes",
     "use pg_repack (or pg_squeeze) outside the migration", "prefer-repack"},
    {"truncate", "safety", LINT_ERROR,
     "TRUNCATE takes ACCESS EXCLUSIVE and empties the table (with CASCADE, every table that "
     "references it too)",
     "delete in batches with a WHERE, or drop the table in a contract migration",
     "ban-truncate-cascade"},
    {"drop-database", "safety", LINT_ERROR, "DROP DATABASE destroys everything in it",
     "not from a migration", "ban-drop-database"},
    {"duplicate-assignment", "safety", LINT_ERROR,
     "PostgreSQL rejects an UPDATE that assigns the same column twice", "assign each column once",
     "ban-duplicate-column-assignments"},
    {"unqualified-table", "safety", LINT_OFF,
     "an unqualified table name depends on search_path (opt-in rule)", "write schema.table",
     "require-table-schema"},
    {"refused", "safety", LINT_ERROR,
     "convoy refuses this statement: it cannot be made safe as written",
     "write the alternative the message names", NULL},
    {"plan-error", "safety", LINT_ERROR,
     "the statement cannot be planned against this database (unknown table or column, SQL the "
     "server rejects)",
     "fix the statement", NULL},
    /* the file itself */
    {"allow-unknown", "file", LINT_ERROR, "-- convoy:allow names a rule convoy does not have",
     "use a rule id from `convoy lint --help` or docs/lint.md", NULL},
    {"allow-unused", "file", LINT_WARNING,
     "-- convoy:allow suppresses nothing in the statement after it",
     "remove it, or move it to the line before the statement it is about", NULL},
};

_Static_assert(sizeof(rules) / sizeof(rules[0]) == LR_COUNT, "one rule per lint_rule_index_t");

const lint_rule_t *
lint_rules(size_t *n)
{
    *n = LR_COUNT;
    return rules;
}

const lint_rule_t *
lint_rule_find(const char *id)
{
    for (size_t i = 0; i < LR_COUNT; i++)
        if (strcmp(rules[i].id, id) == 0)
            return &rules[i];
    return NULL;
}

const lint_rule_t *
lint_rule_at(lint_rule_index_t i)
{
    return &rules[i];
}

const char *
lint_severity_name(lint_severity_t s)
{
    static const char *const names[] = {"info", "warning", "error", "off"};
    return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

bool
lint_severity_parse(const char *name, lint_severity_t *out)
{
    for (int s = LINT_INFO; s <= LINT_OFF; s++)
        if (strcmp(name, lint_severity_name((lint_severity_t)s)) == 0) {
            *out = (lint_severity_t)s;
            return true;
        }
    return false;
}

/* ---------------------------------------------------------------- configuration */

/* The documented abbreviation list (docs/lint.md): abbreviation=word. */
static const char *const default_abbrevs[] = {
    "usr=user",          "ts=timestamp (or a name ending in _at)",
    "dt=date",           "amt=amount",
    "qty=quantity",      "cnt=count",
    "flg=flag",          "tmp=temporary",
    "num=number",        "nbr=number",
    "desc=description",  "addr=address",
    "pwd=password",      "passwd=password",
    "msg=message",       "txn=transaction",
    "trx=transaction",   "acct=account",
    "cust=customer",     "prod=product",
    "cfg=config",        "conf=config",
    "val=value",         "str=string",
    "pct=percent",       "src=source",
    "dst=destination",   "mgr=manager",
    "emp=employee",      "dept=department",
    "grp=group",         "img=image",
    "lbl=label",         "tz=time_zone",
    "dob=date_of_birth", "yr=year",
    "wk=week",           "hr=hour",
    "sts=status",        "ccy=currency",
    "curr=currency",
};
static const char *const default_short_ok[] = {"id"};
static const char *const default_bool_prefixes[] = {
    "is",   "has",   "have",  "can",    "should",  "was",      "were",
    "will", "needs", "allow", "allows", "uses",    "did",      "does",
    "must", "may",   "show",  "skip",   "include", "requires", "supports"};
static const char *const default_bool_words[] = {
    "active",   "inactive",  "enabled",   "disabled", "visible",  "hidden",   "deleted", "archived",
    "verified", "confirmed", "published", "locked",   "dirty",    "default",  "primary", "public",
    "private",  "valid",     "invalid",   "required", "optional", "paid",     "blocked", "banned",
    "pinned",   "starred",   "read",      "unread",   "done",     "complete", "open",    "closed",
    "internal", "external",  "online",    "offline",  "featured", "approved", "pending", "sent",
    "free",     "trial",     "admin",     "staff",    "superuser"};
static const char *const default_required_names[] = {
    "created_at", "updated_at", "created_by", "status",          "state",     "kind",
    "type",       "tenant_id",  "org_id",     "organization_id", "account_id"};

static char **
strv_from(const char *const *v, size_t n)
{
    char **out = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

#define STRV_FROM(arr) strv_from(arr, sizeof(arr) / sizeof(arr[0]))
#define NELEM(arr)     (sizeof(arr) / sizeof(arr[0]))

void
lint_config_init(lint_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->severity = xcalloc(LR_COUNT, sizeof(lint_severity_t));
    for (size_t i = 0; i < LR_COUNT; i++)
        c->severity[i] = rules[i].severity;
    c->abbrevs = STRV_FROM(default_abbrevs);
    c->n_abbrevs = NELEM(default_abbrevs);
    c->short_ok = STRV_FROM(default_short_ok);
    c->n_short_ok = NELEM(default_short_ok);
    c->bool_prefixes = STRV_FROM(default_bool_prefixes);
    c->n_bool_prefixes = NELEM(default_bool_prefixes);
    c->bool_words = STRV_FROM(default_bool_words);
    c->n_bool_words = NELEM(default_bool_words);
    c->required_names = STRV_FROM(default_required_names);
    c->n_required_names = NELEM(default_required_names);
}

void
lint_config_free(lint_config_t *c)
{
    if (c == NULL)
        return;
    free(c->severity);
    strv_free(c->abbrevs, c->n_abbrevs);
    strv_free(c->short_ok, c->n_short_ok);
    strv_free(c->bool_prefixes, c->n_bool_prefixes);
    strv_free(c->bool_words, c->n_bool_words);
    strv_free(c->required_names, c->n_required_names);
    memset(c, 0, sizeof(*c));
}

/* The abbreviation part of "usr=user" (or of "usr"): its length. */
static size_t
abbrev_len(const char *entry)
{
    return strcspn(entry, "=");
}

const char *
lint_config_abbrev(const lint_config_t *c, const char *word, size_t n)
{
    for (size_t i = 0; i < c->n_abbrevs; i++)
        if (abbrev_len(c->abbrevs[i]) == n && strncmp(c->abbrevs[i], word, n) == 0)
            return c->abbrevs[i];
    return NULL;
}

bool
lint_word_in(char *const *v, size_t n, const char *word, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && strncmp(v[i], word, len) == 0)
            return true;
    return false;
}

/* Splits "a, b ,c" into trimmed, lower-case items; false (with *bad) on an empty or odd one. */
static bool
split_list(const char *value, bool allow_eq, char ***out, size_t *n, char **bad)
{
    const char *p = value;

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *end = p + strcspn(p, ",");
        const char *a = p, *b = end;
        char *item;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        item = xstrndup(a, (size_t)(b - a));
        for (char *q = item; *q; q++) {
            if (allow_eq && *q == '=' && q != item) {
                q += strlen(q) - 1; /* the suggestion after '=' is free text */
                continue;
            }
            if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_')) {
                *bad = item;
                strv_free(*out, *n);
                *out = NULL;
                *n = 0;
                return false;
            }
        }
        if (item[0] == '\0') {
            free(item);
        } else {
            *out = xrealloc(*out, (*n + 1) * sizeof(char *));
            (*out)[(*n)++] = item;
        }
        p = *end ? end + 1 : end;
    }
    return true;
}

static void
strv_append(char ***v, size_t *n, char **add, size_t n_add)
{
    *v = xrealloc(*v, (*n + n_add + 1) * sizeof(char *));
    for (size_t i = 0; i < n_add; i++)
        (*v)[(*n)++] = add[i];
    free(add);
}

bool
lint_config_set(lint_config_t *c, const char *key, const char *value, char **err)
{
    const lint_rule_t *r = lint_rule_find(key);
    char **items = NULL, *bad = NULL;
    size_t n = 0;

    if (r != NULL) {
        if (!lint_severity_parse(value, &c->severity[r - rules])) {
            *err = xasprintf("%s = %s: a rule takes off, info, warning or error", key, value);
            return false;
        }
        return true;
    }
    if (strcmp(key, "abbreviations") == 0 || strcmp(key, "allowed_abbreviations") == 0 ||
        strcmp(key, "short_names") == 0 || strcmp(key, "boolean_prefixes") == 0 ||
        strcmp(key, "boolean_words") == 0 || strcmp(key, "required_names") == 0) {
        if (!split_list(value, strcmp(key, "abbreviations") == 0, &items, &n, &bad)) {
            *err = xasprintf("%s: '%s' is not a lower-case name; write a comma-separated list "
                             "such as `%s = %s`",
                             key, bad, key,
                             strcmp(key, "abbreviations") == 0 ? "usr=user, qty" : "a, b");
            free(bad);
            return false;
        }
    } else {
        *err = xasprintf("unknown key '%s' in [lint]; expected a rule id (see docs/lint.md), "
                         "abbreviations, allowed_abbreviations, short_names, boolean_prefixes, "
                         "boolean_words or required_names",
                         key);
        return false;
    }
    if (strcmp(key, "abbreviations") == 0) {
        strv_append(&c->abbrevs, &c->n_abbrevs, items, n);
    } else if (strcmp(key, "allowed_abbreviations") == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < c->n_abbrevs; k++)
                if (abbrev_len(c->abbrevs[k]) == strlen(items[i]) &&
                    strncmp(c->abbrevs[k], items[i], strlen(items[i])) == 0) {
                    free(c->abbrevs[k]);
                    c->abbrevs[k--] = c->abbrevs[--c->n_abbrevs];
                }
        strv_free(items, n);
    } else if (strcmp(key, "short_names") == 0) {
        strv_append(&c->short_ok, &c->n_short_ok, items, n);
    } else if (strcmp(key, "boolean_prefixes") == 0) {
        strv_free(c->bool_prefixes, c->n_bool_prefixes);
        c->bool_prefixes = items;
        c->n_bool_prefixes = n;
    } else if (strcmp(key, "boolean_words") == 0) {
        strv_append(&c->bool_words, &c->n_bool_words, items, n);
    } else {
        strv_append(&c->required_names, &c->n_required_names, items, n);
    }
    return true;
}
