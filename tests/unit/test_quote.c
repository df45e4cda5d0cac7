/* test_quote.c: the one identifier quoter (ident_sql, qname_sql), table-driven. */
#include "convoy/quote.h"
#include "convoy/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

/*
 * Undoes ident_sql: returns the identifier a quoted name denotes, or NULL when the
 * text is not exactly one well-formed quoted identifier. Caller frees.
 */
static char *
unquote_ident(const char *q)
{
    size_t n = strlen(q);
    char *out, *o;

    if (n < 2 || q[0] != '"' || q[n - 1] != '"')
        return NULL;
    out = o = xmalloc(n);
    for (size_t i = 1; i < n - 1; i++) {
        if (q[i] == '"') {
            if (i + 1 >= n - 1 || q[i + 1] != '"') {
                free(out);
                return NULL; /* a lone quote would end the identifier early */
            }
            i++;
        }
        *o++ = q[i];
    }
    *o = '\0';
    return out;
}

static void
test_ident_sql(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"users", "users"}, /* bare when the deparser would write it bare */
        {"last_login", "last_login"},
        {"Users", "\"Users\""},
        {"a\"b", "\"a\"\"b\""},
        {"\"", "\"\"\"\""},
        {"", "\"\""},
        {"users; DROP TABLE x", "\"users; DROP TABLE x\""},
        {"select", "\"select\""},
        {"last login", "\"last login\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *q = ident_sql(cases[i].in);
        char *back = unquote_ident(q);
        bool bare_ok = strcmp(q, cases[i].in) == 0;
        bool same = cases[i].out == NULL || strcmp(q, cases[i].out) == 0;
        bool round_trips = bare_ok || (back != NULL && strcmp(back, cases[i].in) == 0);

        if (!same || !round_trips)
            print_error("ident_sql(\"%s\") = %s, expected %s (round trip %s)\n", cases[i].in, q,
                        cases[i].out ? cases[i].out : "(either)", round_trips ? "ok" : "FAILED");
        free(back);
        free(q);
        if (!same || !round_trips)
            fail();
    }
}

static void
test_qname_sql(void **state)
{
    static const struct {
        const char *schema, *name, *out;
    } cases[] = {
        {NULL, "users", "users"},
        {"public", "users", "public.users"},
        {"App", "User", "\"App\".\"User\""},
        {"s", "select", "s.\"select\""},
        {"a.b", "c", "\"a.b\".c"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qname_t q = {(char *)cases[i].schema, (char *)cases[i].name};
        char *got = qname_sql(&q);
        bool same = strcmp(got, cases[i].out) == 0;
        if (!same)
            print_error("qname_sql(%s, %s) = %s, expected %s\n",
                        cases[i].schema ? cases[i].schema : "NULL", cases[i].name, got,
                        cases[i].out);
        free(got);
        if (!same)
            fail();
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ident_sql),
        cmocka_unit_test(test_qname_sql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
