/*
 * test_orm_examples.c: the seed's statement and the ORM shapes named in issue 6 plan and
 * apply with no warning other than the now() one (Must show 4), against a real server.
 */
#include "itest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static const struct {
    const char *name;
    const char *sql;
    bool now_warning; /* the one warning allowed: DEFAULT now() stamps existing rows */
} examples[] = {
    {"seed_last_login",
     "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n", true},
    {"prisma_enum",
     "CREATE TYPE \"public\".\"Role\" AS ENUM ('USER', 'ADMIN');\n"
     "ALTER TABLE \"User\" ADD COLUMN \"role\" \"public\".\"Role\" NOT NULL DEFAULT 'USER';\n",
     false},
    {"prisma_unique", "CREATE UNIQUE INDEX \"User_email_key\" ON \"User\"(\"email\");\n", false},
    {"typeorm_index", "CREATE INDEX \"IDX_78a916df40e02a9deb1c4b75ed\" ON \"User\" (\"name\");\n",
     false},
    {"uuid_ossp",
     "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\";\n"
     "ALTER TABLE users ADD COLUMN public_id uuid NOT NULL DEFAULT uuid_generate_v4();\n",
     false},
    {"sequence_nextval",
     "CREATE SEQUENCE users_ticket_seq;\n"
     "ALTER TABLE users ADD COLUMN ticket bigint DEFAULT nextval('users_ticket_seq');\n",
     false},
    {"domain_column",
     "CREATE DOMAIN email_address AS text;\n"
     "ALTER TABLE users ADD COLUMN contact email_address;\n",
     false},
    {"function_default",
     "CREATE FUNCTION default_tier() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'basic' $$;\n"
     "ALTER TABLE users ADD COLUMN tier text DEFAULT default_tier();\n",
     false},
    {"alembic_version",
     "UPDATE alembic_version SET version_num='b2c3d4' WHERE alembic_version.version_num = "
     "'a1b2c3';\n",
     false},
    {"rails_metadata",
     "UPDATE \"ar_internal_metadata\" SET \"value\" = 'production', \"updated_at\" = '2024-05-01 "
     "12:00:00' WHERE \"ar_internal_metadata\".\"key\" = 'environment';\n",
     false},
    {"three_row_fix", "UPDATE users SET email = lower(email) WHERE id IN (5, 10, 15);\n", false},
};

static void
seed(itest_env_t *env)
{
    itest_exec(env->conn,
               "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);"
               "INSERT INTO users SELECT g, 'U' || g || '@x', 'n' || g "
               "FROM generate_series(1, 50000) g;"
               "CREATE TABLE \"User\" (id serial PRIMARY KEY, email text, name text);"
               "INSERT INTO \"User\" (email, name) SELECT 'u' || g, 'n' || g "
               "FROM generate_series(1, 1000) g;"
               "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
               "INSERT INTO alembic_version VALUES ('a1b2c3');"
               "CREATE TABLE ar_internal_metadata (key varchar PRIMARY KEY, value varchar, "
               "created_at timestamp(6) NOT NULL DEFAULT now(), updated_at timestamp(6) NOT NULL "
               "DEFAULT now());"
               "INSERT INTO ar_internal_metadata (key, value) VALUES ('environment', 'dev');"
               "ANALYZE;");
}

static void
test_orm_examples_have_no_warnings(void **state)
{
    itest_env_t *env = *state;

    seed(env);
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        char file[64];
        const char *path;
        convoy_result_t r;
        json_t *plan, *warnings;
        json_error_t e;
        size_t n;

        snprintf(file, sizeof(file), "%s.sql", examples[i].name);
        path = itest_write_migration(env, file, examples[i].sql);
        {
            const char *args[] = {"plan", "--json", path, NULL};
            r = itest_convoy(env, args);
        }
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
        plan = json_loads(r.out, 0, &e);
        assert_non_null(plan);
        warnings = json_object_get(plan, "warnings");
        n = json_array_size(warnings);
        if (n != (examples[i].now_warning ? 1u : 0u)) {
            char *w = json_dumps(warnings, JSON_INDENT(2));
            fprintf(stderr, "%s: unexpected warnings: %s\n", examples[i].name, w);
            free(w);
            json_decref(plan);
            fail();
        }
        if (examples[i].now_warning) {
            const char *msg =
                json_string_value(json_object_get(json_array_get(warnings, 0), "message"));
            assert_non_null(msg);
            assert_true(strstr(msg, "now()") != NULL);
        }
        json_decref(plan);
        {
            const char *args[] = {"apply", path, NULL};
            r = itest_convoy(env, args);
        }
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    /* what the files asked for is there, as psql would have made it */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_class WHERE relname = "
                                          "'User_email_key' AND relkind = 'i'"),
                     1);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_class WHERE relname = "
                                          "'IDX_78a916df40e02a9deb1c4b75ed'"),
                     1);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM users WHERE public_id IS NULL OR "
                                          "last_login IS NULL"),
                     0);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM alembic_version WHERE "
                                          "version_num = 'b2c3d4'"),
                     1);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM users WHERE id IN (5, 10, 15) AND "
                                          "email = lower(email)"),
                     3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orm_examples_have_no_warnings),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
