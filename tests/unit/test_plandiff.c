/* test_plandiff.c: table-driven tests of the EXPLAIN plan comparison and statement matching. */
#include "convoy/plandiff.h"

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

/* Plans as EXPLAIN (FORMAT JSON) prints them (only the fields plandiff reads). */
#define SEQ_USERS                                                                                  \
    "[{\"Plan\": {\"Node Type\": \"Seq Scan\", \"Relation Name\": \"users\", \"Alias\": "          \
    "\"users\", \"Total Cost\": 18334.0}}]"
#define IDX_USERS_EMAIL                                                                            \
    "[{\"Plan\": {\"Node Type\": \"Index Scan\", \"Index Name\": \"users_email_idx\", "            \
    "\"Relation Name\": \"users\", \"Alias\": \"users\", \"Total Cost\": 8.44}}]"
#define HYPO_USERS_EMAIL                                                                           \
    "[{\"Plan\": {\"Node Type\": \"Index Scan\", \"Index Name\": \"<13741>btree_users_email\", "   \
    "\"Relation Name\": \"users\", \"Alias\": \"users\", \"Total Cost\": 8.44}}]"
#define IDX_USERS_EMAIL_COSTLIER                                                                   \
    "{\"Node Type\": \"Index Scan\", \"Index Name\": \"users_email_idx\", \"Relation Name\": "     \
    "\"users\", \"Alias\": \"users\", \"Total Cost\": 9.5}"
#define BITMAP_USERS                                                                               \
    "{\"Plan\": {\"Node Type\": \"Bitmap Heap Scan\", \"Relation Name\": \"users\", \"Alias\": "   \
    "\"users\", \"Total Cost\": 120.0, \"Plans\": [{\"Node Type\": \"Bitmap Index Scan\", "        \
    "\"Index Name\": \"users_email_idx\", \"Total Cost\": 4.0}]}}"
#define HASH_JOIN_UO                                                                               \
    "{\"Node Type\": \"Hash Join\", \"Total Cost\": 500.0, \"Plans\": [{\"Node Type\": \"Seq "     \
    "Scan\", \"Relation Name\": \"users\", \"Alias\": \"u\", \"Total Cost\": 200.0}, {\"Node "     \
    "Type\": \"Hash\", \"Total Cost\": 100.0, \"Plans\": [{\"Node Type\": \"Seq Scan\", "          \
    "\"Relation Name\": \"orders\", \"Alias\": \"o\", \"Total Cost\": 100.0}]}]}"
#define HASH_JOIN_OU                                                                               \
    "{\"Node Type\": \"Hash Join\", \"Total Cost\": 480.0, \"Plans\": [{\"Node Type\": \"Seq "     \
    "Scan\", \"Relation Name\": \"orders\", \"Alias\": \"o\", \"Total Cost\": 100.0}, {\"Node "    \
    "Type\": \"Hash\", \"Total Cost\": 200.0, \"Plans\": [{\"Node Type\": \"Seq Scan\", "          \
    "\"Relation Name\": \"users\", \"Alias\": \"u\", \"Total Cost\": 200.0}]}]}"
#define NESTLOOP_UO                                                                                \
    "{\"Node Type\": \"Nested Loop\", \"Total Cost\": 60.0, \"Plans\": [{\"Node Type\": \"Seq "    \
    "Scan\", \"Relation Name\": \"users\", \"Alias\": \"u\", \"Total Cost\": 20.0}, {\"Node "      \
    "Type\": \"Index Scan\", \"Index Name\": \"orders_user_id_idx\", \"Relation Name\": "          \
    "\"orders\", \"Alias\": \"o\", \"Total Cost\": 4.0}]}"
#define SEQ_WITH_SUBPLAN                                                                           \
    "{\"Node Type\": \"Seq Scan\", \"Relation Name\": \"users\", \"Alias\": \"users\", \"Total "   \
    "Cost\": 50.0, \"Plans\": [{\"Node Type\": \"Index Scan\", \"Parent Relationship\": "          \
    "\"SubPlan\", \"Index Name\": \"orders_pkey\", \"Relation Name\": \"orders\", \"Alias\": "     \
    "\"orders\", \"Total Cost\": 8.0}]}"

#define UPDATE_SEQ                                                                                 \
    "{\"Node Type\": \"ModifyTable\", \"Operation\": \"Update\", \"Relation Name\": "              \
    "\"users\", \"Alias\": \"users\", \"Total Cost\": 3774.0, \"Plans\": [{\"Node Type\": "        \
    "\"Seq Scan\", \"Relation Name\": \"users\", \"Alias\": \"users\", \"Total Cost\": 3774.0}]}"
#define UPDATE_IDX                                                                                 \
    "{\"Node Type\": \"ModifyTable\", \"Operation\": \"Update\", \"Relation Name\": "              \
    "\"users\", \"Alias\": \"users\", \"Total Cost\": 8.06, \"Plans\": [{\"Node Type\": "          \
    "\"Index Scan\", \"Index Name\": \"users_email_idx\", \"Relation Name\": \"users\", "          \
    "\"Alias\": \"users\", \"Total Cost\": 8.06}]}"

#define MAXS 4

typedef struct {
    const char *name;
    const char *before;
    const char *after; /* NULL: before-only */
    double threshold;
    const char *created[MAXS];
    const char *dropped[MAXS];
    bool drops_simulated;
    /* expectations */
    bool changed, node_types, join_order, index_changed, regression;
    const char *change_has[MAXS]; /* substrings that some change line must contain */
    const char *reason_has[MAXS]; /* ... and some reason */
    const char *uses_created[MAXS];
    const char *uses_dropped[MAXS];
    const char *before_shape; /* exact, when given */
} diff_case_t;

static const diff_case_t diff_cases[] = {
    {"a new index turns a Seq Scan into an Index Scan (hypopg name mapped)",
     SEQ_USERS,
     HYPO_USERS_EMAIL,
     20,
     {"users_email_idx"},
     {NULL},
     true,
     true,
     true,
     false,
     true,
     false,
     {"node types: Seq Scan -> Index Scan", "users: Seq Scan -> Index Scan using users_email_idx",
      "indexes used: none -> users_email_idx"},
     {NULL},
     {"users_email_idx"},
     {NULL},
     "Seq Scan on users"},
    {"dropping the index a statement uses: Index Scan -> Seq Scan, cost far over the threshold",
     IDX_USERS_EMAIL,
     SEQ_USERS,
     20,
     {NULL},
     {"users_email_idx"},
     true,
     true,
     true,
     false,
     true,
     true,
     {"users: Index Scan using users_email_idx -> Seq Scan"},
     {"estimated cost 8.44 -> 18334.00", "over the 20% threshold"},
     {NULL},
     {"users_email_idx"},
     "Index Scan using users_email_idx on users"},
    {"before-only: a statement using a dropped index is a regression by itself",
     IDX_USERS_EMAIL,
     NULL,
     20,
     {NULL},
     {"users_email_idx"},
     false,
     false,
     false,
     false,
     false,
     true,
     {NULL},
     {"uses index users_email_idx, which this migration drops"},
     {NULL},
     {"users_email_idx"},
     NULL},
    {"before-only, no dropped index used: nothing flagged",
     SEQ_USERS,
     NULL,
     20,
     {NULL},
     {"other_idx"},
     false,
     false,
     false,
     false,
     false,
     false,
     {NULL},
     {NULL},
     {NULL},
     {NULL},
     NULL},
    {"a dropped index whose loss was simulated is judged by cost alone (within threshold)",
     BITMAP_USERS,
     "{\"Node Type\": \"Seq Scan\", \"Relation Name\": \"users\", \"Alias\": \"users\", "
     "\"Total Cost\": 130.0}",
     20,
     {NULL},
     {"users_email_idx"},
     true,
     true,
     true,
     false,
     true,
     false,
     {"users: Bitmap Heap Scan using users_email_idx -> Seq Scan",
      "node types: Bitmap Heap Scan, Bitmap Index Scan -> Seq Scan"},
     {NULL},
     {NULL},
     {"users_email_idx"},
     "Bitmap Heap Scan on users > Bitmap Index Scan using users_email_idx"},
    {"the same plan, a little costlier but under the threshold: no change, no regression",
     IDX_USERS_EMAIL,
     IDX_USERS_EMAIL_COSTLIER,
     20,
     {NULL},
     {NULL},
     true,
     false,
     false,
     false,
     false,
     false,
     {NULL},
     {NULL},
     {NULL},
     {NULL},
     NULL},
    {"the same plan over a low threshold is a cost regression without a shape change",
     IDX_USERS_EMAIL,
     IDX_USERS_EMAIL_COSTLIER,
     5,
     {NULL},
     {NULL},
     true,
     false,
     false,
     false,
     false,
     true,
     {NULL},
     {"(+13%), over the 5% threshold"},
     {NULL},
     {NULL},
     NULL},
    {"join order: the same relations in the other order",
     HASH_JOIN_UO,
     HASH_JOIN_OU,
     20,
     {NULL},
     {NULL},
     true,
     true,
     false,
     true,
     false,
     false,
     {"join order: u (users), o (orders) -> o (orders), u (users)"},
     {NULL},
     {NULL},
     {NULL},
     "Hash Join > (Seq Scan on users u, Hash > Seq Scan on orders o)"},
    {"join method and index choice: Hash Join -> Nested Loop with an index on orders",
     HASH_JOIN_UO,
     NESTLOOP_UO,
     20,
     {"orders_user_id_idx"},
     {NULL},
     true,
     true,
     true,
     false,
     true,
     false,
     {"node types: Hash Join, Hash, Seq Scan -> Nested Loop, Index Scan",
      "o (orders): Seq Scan -> Index Scan using orders_user_id_idx"},
     {NULL},
     {"orders_user_id_idx"},
     {NULL},
     NULL},
    {"an UPDATE's target is not a scan: the change is on its Seq Scan",
     UPDATE_SEQ,
     UPDATE_IDX,
     20,
     {"users_email_idx"},
     {NULL},
     true,
     true,
     true,
     false,
     true,
     false,
     {"users: Seq Scan -> Index Scan using users_email_idx"},
     {NULL},
     {"users_email_idx"},
     {NULL},
     "ModifyTable on users > Seq Scan on users"},
    {"a SubPlan's index is not the outer scan's access path",
     SEQ_WITH_SUBPLAN,
     SEQ_WITH_SUBPLAN,
     20,
     {NULL},
     {"orders_pkey"},
     true,
     false,
     false,
     false,
     false,
     false,
     {NULL},
     {NULL},
     {NULL},
     {"orders_pkey"},
     "Seq Scan on users > Index Scan using orders_pkey on orders"},
};

static size_t
count(const char *const *v)
{
    size_t n = 0;
    while (n < MAXS && v[n] != NULL)
        n++;
    return n;
}

static bool
some_has(char *const *v, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i], needle) != NULL)
            return true;
    return false;
}

static void
dump(const diff_case_t *c, const plandiff_t *d)
{
    json_t *j = plandiff_to_json(d);
    char *s = json_dumps(j, JSON_INDENT(2));
    fprintf(stderr, "case: %s\n%s\n", c->name, s);
    free(s);
    json_decref(j);
}

static void
test_diff_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
        const diff_case_t *c = &diff_cases[i];
        json_error_t je;
        json_t *b = json_loads(c->before, 0, &je);
        json_t *a = c->after ? json_loads(c->after, 0, &je) : NULL;
        /* the hypothetical index's name, as hypopg reports it, maps to the migration's */
        const char *from[1] = {"<13741>btree_users_email"}, *to[1] = {"users_email_idx"};
        plandiff_opts_t o = {c->threshold,
                             c->created,
                             count(c->created),
                             c->dropped,
                             count(c->dropped),
                             c->drops_simulated,
                             from,
                             to,
                             1};
        plandiff_t d;
        char *err = NULL;
        bool ok;

        assert_non_null(b);
        if (c->after)
            assert_non_null(a);
        ok = plandiff_compare(b, a, &o, &d, &err);
        if (!ok)
            fprintf(stderr, "case: %s: %s\n", c->name, err);
        assert_true(ok);
        dump(c, &d);
        assert_int_equal(d.compared, c->after != NULL);
        assert_int_equal(d.changed, c->changed);
        assert_int_equal(d.node_types_changed, c->node_types);
        assert_int_equal(d.join_order_changed, c->join_order);
        assert_int_equal(d.index_changed, c->index_changed);
        assert_int_equal(d.regression, c->regression);
        assert_int_equal(d.n_reasons > 0, c->regression);
        for (size_t k = 0; k < count(c->change_has); k++)
            assert_true(some_has(d.changes, d.n_changes, c->change_has[k]));
        for (size_t k = 0; k < count(c->reason_has); k++)
            assert_true(some_has(d.reasons, d.n_reasons, c->reason_has[k]));
        assert_int_equal(d.n_uses_created, count(c->uses_created));
        for (size_t k = 0; k < count(c->uses_created); k++)
            assert_string_equal(d.uses_created[k], c->uses_created[k]);
        assert_int_equal(d.n_uses_dropped, count(c->uses_dropped));
        for (size_t k = 0; k < count(c->uses_dropped); k++)
            assert_string_equal(d.uses_dropped[k], c->uses_dropped[k]);
        if (c->before_shape)
            assert_string_equal(d.before_shape, c->before_shape);
        plandiff_free(&d);
        json_decref(b);
        json_decref(a);
    }
}

static void
test_bad_plans(void **state)
{
    static const char *const bad[] = {"[]", "{}", "[{\"Plan\": 3}]", "\"Seq Scan\""};
    plandiff_opts_t o = {20, NULL, 0, NULL, 0, false, NULL, NULL, 0};
    json_t *good = json_loads(SEQ_USERS, 0, NULL);
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        plandiff_t d;
        char *err = NULL;
        assert_non_null(j);
        assert_false(plandiff_compare(j, NULL, &o, &d, &err));
        assert_non_null(strstr(err, "before plan"));
        free(err);
        err = NULL;
        assert_false(plandiff_compare(good, j, &o, &d, &err));
        assert_non_null(strstr(err, "after plan"));
        free(err);
        json_decref(j);
    }
    json_decref(good);
}

typedef struct {
    const char *sql;
    plandiff_stmt_kind_t kind;
    bool touches;
} stmt_case_t;

static const stmt_case_t stmt_cases[] = {
    {"SELECT id, name FROM users WHERE email = $1", PLANDIFF_STMT_DML, true},
    {"select * from public.users u join orders o on o.user_id = u.id where o.id = $1",
     PLANDIFF_STMT_DML, true},
    {"SELECT * FROM other.users WHERE id = $1", PLANDIFF_STMT_DML, false},
    {"SELECT * FROM orders WHERE id IN (SELECT order_id FROM users_orders)", PLANDIFF_STMT_DML,
     false},
    {"SELECT * FROM orders WHERE user_id IN (SELECT id FROM users WHERE email = $1)",
     PLANDIFF_STMT_DML, true},
    {"WITH x AS (SELECT id FROM users WHERE created_at > $1) SELECT count(*) FROM x",
     PLANDIFF_STMT_DML, true},
    {"UPDATE users SET last_login = now() WHERE id = $1", PLANDIFF_STMT_DML, true},
    {"INSERT INTO users (email) VALUES ($1)", PLANDIFF_STMT_DML, true},
    {"DELETE FROM public.users WHERE id = $1", PLANDIFF_STMT_DML, true},
    {"SELECT $1", PLANDIFF_STMT_DML, false},
    {"EXPLAIN (FORMAT JSON) SELECT * FROM users", PLANDIFF_STMT_OTHER, false},
    {"SET statement_timeout = $1", PLANDIFF_STMT_OTHER, false},
    {"BEGIN", PLANDIFF_STMT_OTHER, false},
    {"SELECT 1; SELECT 2", PLANDIFF_STMT_UNPARSED, false},
    {"SELEC * FROM users", PLANDIFF_STMT_UNPARSED, false},
};

static void
test_stmt_cases(void **state)
{
    const plandiff_table_t tables[] = {{"public", "users"}, {"public", "accounts"}};
    (void)state;
    for (size_t i = 0; i < sizeof(stmt_cases) / sizeof(stmt_cases[0]); i++) {
        const stmt_case_t *c = &stmt_cases[i];
        bool touches = true;
        char *dep = NULL;
        plandiff_stmt_kind_t k = plandiff_stmt_touches(c->sql, tables, 2, &touches, &dep);
        if (k != c->kind || touches != c->touches)
            fprintf(stderr, "statement case %zu: %s: kind %d touches %d\n", i, c->sql, (int)k,
                    (int)touches);
        assert_int_equal(k, c->kind);
        assert_int_equal(touches, c->touches);
        /* DML comes back deparsed, with its $n placeholders kept */
        assert_int_equal(dep != NULL, c->kind == PLANDIFF_STMT_DML);
        if (dep != NULL && strstr(c->sql, "$1") != NULL)
            assert_non_null(strstr(dep, "$1"));
        free(dep);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_cases),
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_stmt_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
