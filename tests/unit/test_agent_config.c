/*
 * test_agent_config.c: the agent's INI config (agent/config.c). Each case is a file written
 * to a temp directory and the exact error lines agent_config_load must report for it (all
 * of them, sorted by line), or none; good configs are then checked field by field. Key files
 * are real ones, written with keys_generate_files; Redis password files are written in setup.
 * role = app's error_counter_file need not exist (the app writes it): it is never opened here.
 */
#include "config.h"
#include "convoy/transport.h"
#include "convoy/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static char dir[64];            /* the temp directory */
static char cfg_path[128];      /* DIR/agent.ini */
static curve_keys_t agent_keys; /* DIR/keys/r1.key, .pub */
static curve_keys_t coord_keys; /* DIR/keys/coordinator.key, .pub */
static curve_keys_t open_keys;  /* DIR/keys/open.key: mode 0644, refused */

/* s with %F replaced by the config path and %D by the temp directory; the caller frees. */
static char *
expand(const char *s)
{
    sb_t sb;

    sb_init(&sb);
    sb_puts(&sb, "");
    for (; *s; s++) {
        if (s[0] == '%' && s[1] == 'F') {
            sb_puts(&sb, cfg_path);
            s++;
        } else if (s[0] == '%' && s[1] == 'D') {
            sb_puts(&sb, dir);
            s++;
        } else if (s[0] == '%' && s[1] == 'K') { /* the coordinator's public key itself */
            sb_puts(&sb, coord_keys.public_z85);
            s++;
        } else {
            sb_putc(&sb, *s);
        }
    }
    return sb_steal(&sb);
}

static void
write_config(const char *text)
{
    char *t = expand(text);
    FILE *f = fopen(cfg_path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(t, 1, strlen(t), f), strlen(t));
    assert_int_equal(fclose(f), 0);
    free(t);
}

/* DIR/name with text, mode mode */
static void
write_file(const char *name, const char *text, mode_t mode)
{
    char path[192];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
    char *err = NULL, prefix[128];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/convoy-test-agent-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/agent.ini", dir);
    snprintf(prefix, sizeof(prefix), "%s/keys", dir);
    assert_int_equal(mkdir(prefix, 0700), 0);
    snprintf(prefix, sizeof(prefix), "%s/keys/r1", dir);
    assert_true(keys_generate_files(prefix, &agent_keys, &err));
    snprintf(prefix, sizeof(prefix), "%s/keys/coordinator", dir);
    assert_true(keys_generate_files(prefix, &coord_keys, &err));
    snprintf(prefix, sizeof(prefix), "%s/keys/open", dir);
    assert_true(keys_generate_files(prefix, &open_keys, &err));
    snprintf(prefix, sizeof(prefix), "%s/keys/open.key", dir);
    assert_int_equal(chmod(prefix, 0644), 0);
    write_file("keys/redis.pass", "s3cret pass\n", 0600);
    write_file("keys/redis2.pass", "an0ther\r\n", 0600);
    write_file("keys/redis-open.pass", "s3cret\n", 0644);
    write_file("keys/redis-empty.pass", "\n", 0600);
    write_file("keys/redis-two.pass", "one\ntwo\n", 0600);
    return 0;
}

static int
teardown(void **state)
{
    static const char *const files[] = {"agent.ini",
                                        "keys/r1.key",
                                        "keys/r1.pub",
                                        "keys/coordinator.key",
                                        "keys/coordinator.pub",
                                        "keys/open.key",
                                        "keys/open.pub",
                                        "keys/redis.pass",
                                        "keys/redis2.pass",
                                        "keys/redis-open.pass",
                                        "keys/redis-empty.pass",
                                        "keys/redis-two.pass"};
    char path[192];

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/keys", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
}

/* ---- the table ------------------------------------------------------------------- */

#define MAX_LINES 16

typedef struct {
    const char *name;
    const char *ini;
    const char *errors[MAX_LINES]; /* the exact lines, %F = the file; none: the config is good */
} config_case_t;

#define INSECURE_BASE                                                                              \
    "[agent]\n"                                                                                    \
    "node = r1\n"                                                                                  \
    "role = replica\n"                                                                             \
    "conninfo = host=/tmp port=5433 dbname=app\n"                                                  \
    "coordinators = tcp://127.0.0.1:7400\n"                                                        \
    "insecure = true\n"

#define CACHE_BASE                                                                                 \
    "[agent]\n"                                                                                    \
    "node = cache-1\n"                                                                             \
    "role = cache\n"                                                                               \
    "conninfo = host=/tmp port=5432 dbname=app\n"                                                  \
    "coordinators = tcp://127.0.0.1:7400\n"                                                        \
    "insecure = true\n"

#define APP_BASE                                                                                   \
    "[agent]\n"                                                                                    \
    "node = web1\n"                                                                                \
    "role = app\n"                                                                                 \
    "coordinators = tcp://127.0.0.1:7400\n"                                                        \
    "insecure = true\n"

static const config_case_t cases[] = {
    {"insecure minimal", INSECURE_BASE, {NULL}},
    {"cache minimal", CACHE_BASE "redis = redis://127.0.0.1:6379\n", {NULL}},
    {"cache, every key",
     CACHE_BASE "redis = redis://cache-1.example.com:6380/15 ; db 15\n"
                "redis_password_file = keys/redis.pass\n"
                "second_pass = 2s\n"
                "purge_rate = 10000\n",
     {NULL}},
    {"cache over CURVE, an IPv6 address, an absolute password path",
     "[agent]\n"
     "node = cache-1\n"
     "role = cache\n"
     "conninfo = dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "coordinator_key = keys/coordinator.pub\n"
     "key_file = keys/r1.key\n"
     "redis = redis://[::1]:6379/0\n"
     "redis_password_file = %D/keys/redis.pass\n"
     "second_pass = 10ms\n"
     "purge_rate = 1\n",
     {NULL}},
    {"cache without redis: anchored at the [agent] header",
     "; the cache agent\n" CACHE_BASE "second_pass = 1s\n",
     {"%F:2: missing `redis` in [agent] (role = cache); add `redis = redis://HOST:PORT` or "
      "`redis://HOST:PORT/DB`, the Redis server the outbox invalidates",
      NULL}},
    {"the cache keys for another role",
     INSECURE_BASE "redis = redis://127.0.0.1:6379\n"
                   "redis_password_file = keys/redis.pass\n"
                   "second_pass = 1s\n"
                   "purge_rate = 5\n",
     {"%F:7: `redis` is only for role = cache (this agent's role is replica); remove it",
      "%F:8: `redis_password_file` is only for role = cache (this agent's role is replica); "
      "remove it",
      "%F:9: `second_pass` is only for role = cache (this agent's role is replica); remove it",
      "%F:10: `purge_rate` is only for role = cache (this agent's role is replica); remove it",
      NULL}},
    {"a typo of a cache key",
     CACHE_BASE "redis = redis://h:1\nsecond_passs = 1s\n",
     {"%F:8: unknown key `second_passs`; did you mean `second_pass`?", NULL}},
    {"cache: bad durations and rates",
     CACHE_BASE "redis = redis://h:1\nsecond_pass = soon\npurge_rate = 0\n",
     {"%F:8: second_pass = `soon` is not a duration; write e.g. `500ms` or `2s`",
      "%F:9: purge_rate = `0` is not a rate; write the most SCAN calls a second, 1 to 10000 "
      "(default 50)",
      NULL}},
    {"cache: out of range",
     CACHE_BASE "redis = redis://h:1\nsecond_pass = 5ms\npurge_rate = 10001\n",
     {"%F:8: second_pass = `5ms` is out of range; use 10ms to 1h",
      "%F:9: purge_rate = `10001` is not a rate; write the most SCAN calls a second, 1 to 10000 "
      "(default 50)",
      NULL}},
    {"cache: more bad values",
     CACHE_BASE "redis = redis://h:1\nsecond_pass = 2h\npurge_rate = 1.5\n",
     {"%F:8: second_pass = `2h` is out of range; use 10ms to 1h",
      "%F:9: purge_rate = `1.5` is not a rate; write the most SCAN calls a second, 1 to 10000 "
      "(default 50)",
      NULL}},
    {"cache: a password in the URL is not echoed",
     CACHE_BASE "redis = redis://default:hunter2@127.0.0.1:6379\n",
     {"%F:7: redis has a user or password in it (not shown); write `redis = "
      "redis://HOST:PORT[/DB]` and put the password in the file redis_password_file names",
      NULL}},
    {"cache: password files that cannot be used (1)",
     CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/nosuch.pass\n",
     {"%F:8: redis_password_file `%D/keys/nosuch.pass` cannot be read (No such file or "
      "directory); fix the path (relative to the config file's directory)",
      NULL}},
    {"cache: password files that cannot be used (2)",
     CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis-open.pass\n",
     {"%F:8: redis_password_file `%D/keys/redis-open.pass` must not be readable by others (mode "
      "644); run chmod 600 %D/keys/redis-open.pass",
      NULL}},
    {"cache: password files that cannot be used (3)",
     CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis-empty.pass\n",
     {"%F:8: redis_password_file `%D/keys/redis-empty.pass` is empty; write the password in it",
      NULL}},
    {"cache: password files that cannot be used (4)",
     CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis-two.pass\n",
     {"%F:8: redis_password_file `%D/keys/redis-two.pass` holds more than one line; write only "
      "the password in it",
      NULL}},
    {"cache: password files that cannot be used (5)",
     CACHE_BASE "redis = redis://h:1\nredis_password_file = keys\n",
     {"%F:8: redis_password_file `%D/keys` is not a regular file; name the file", NULL}},
    {"cache: empty values",
     CACHE_BASE "redis =\nredis_password_file =\n",
     {"%F:7: redis is empty; write `redis = redis://HOST:PORT`",
      "%F:8: redis_password_file is empty; write `redis_password_file = PATH` (or remove it when "
      "Redis needs no password)",
      NULL}},
    {"app minimal: no conninfo, no error counter", APP_BASE "app_version = 2.14.0\n", {NULL}},
    {"app, every key",
     APP_BASE "app_version = v2024.06.1-rc_3 ; the release\n"
              "error_counter_file = run/errors.count\n"
              "conninfo = host=/tmp port=5432 dbname=app\n"
              "heartbeat = 250ms\n",
     {NULL}},
    {"app over CURVE with an absolute counter path",
     "[agent]\n"
     "node = web1\n"
     "role = app\n"
     "coordinators = tcp://127.0.0.1:7400 tcp://127.0.0.1:7401\n"
     "coordinator_key = keys/coordinator.pub\n"
     "key_file = keys/r1.key\n"
     "app_version = 1\n"
     "error_counter_file = /var/run/web/errors\n",
     {NULL}},
    {"app without app_version: anchored at the [agent] header",
     "; the web app\n" APP_BASE "error_counter_file = errors\n",
     {"%F:2: missing `app_version` in [agent] (role = app); add `app_version = VERSION`, the "
      "version of the app running on this node (e.g. `2.14.0`)",
      NULL}},
    {"app: empty values",
     APP_BASE "app_version =\nerror_counter_file =\n",
     {"%F:6: app_version is empty; write e.g. `app_version = 2.14.0`",
      "%F:7: error_counter_file is empty; write `error_counter_file = PATH` (or remove it when "
      "the app keeps no error count)",
      NULL}},
    {"app: a version with a space, conninfo still checked when given",
     APP_BASE "app_version = 2.14 beta\nconninfo = host='oops\n",
     {"%F:6: app_version = `2.14 beta` is not a version; use 1 to 64 letters, digits, `.`, `_` "
      "or `-`",
      "%F:7: conninfo is not a valid libpq connection string or URI (not shown: it may hold a "
      "password); check its `key=value` pairs and quoting",
      NULL}},
    {"the app keys for another role",
     INSECURE_BASE "app_version = 2.14.0\n"
                   "error_counter_file = errors\n",
     {"%F:7: `app_version` is only for role = app (this agent's role is replica); remove it",
      "%F:8: `error_counter_file` is only for role = app (this agent's role is replica); "
      "remove it",
      NULL}},
    {"the app keys for a cache agent",
     CACHE_BASE "redis = redis://h:1\napp_version = 1\n",
     {"%F:8: `app_version` is only for role = app (this agent's role is cache); remove it", NULL}},
    {"the cache keys for an app agent",
     APP_BASE "app_version = 1\nredis = redis://h:1\nsecond_pass = 1s\n",
     {"%F:7: `redis` is only for role = cache (this agent's role is app); remove it",
      "%F:8: `second_pass` is only for role = cache (this agent's role is app); remove it", NULL}},
    {"a typo of an app key, and an app key twice",
     APP_BASE "app_versoin = 1\napp_version = 1\napp_version = 2\n",
     {"%F:6: unknown key `app_versoin`; did you mean `app_version`?",
      "%F:8: `app_version` is set twice (first on line 7); keep one", NULL}},
    {"conninfo is optional only for role = app",
     "[agent]\n"
     "node = r1\n"
     "role = replica\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "insecure = true\n",
     {"%F:1: missing `conninfo` in [agent]; add `conninfo = host=HOST port=PORT dbname=DB`, the "
      "libpq connection string of this node's database",
      NULL}},
    {"an unknown role still needs conninfo (it cannot tell)",
     "[agent]\n"
     "node = r1\n"
     "role = application\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "insecure = true\n",
     {"%F:1: missing `conninfo` in [agent]; add `conninfo = host=HOST port=PORT dbname=DB`, the "
      "libpq connection string of this node's database",
      "%F:3: role = `application` is not a role; use `replica`, `primary`, `cache` or `app`",
      NULL}},
    {"curve, the documented example",
     "[agent]\n"
     "node = r1                          ; this node's name, as the cluster config lists it\n"
     "role = replica                     ; replica | primary\n"
     "conninfo = host=/tmp port=5433 dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400 tcp://127.0.0.1:7401\n"
     "coordinator_key = keys/coordinator.pub   ; a .pub file or the 40-character key\n"
     "key_file = keys/r1.key             ; this agent's key pair (mode 0600)\n"
     "heartbeat = 100ms\n"
     "insecure = false\n",
     {NULL}},
    {"curve, absolute paths, the key inline, comments and blank lines",
     "# a comment\n"
     "\n"
     "; another\n"
     "[agent]\n"
     "  node: primary\n"
     "role = primary\n"
     "conninfo = postgresql://app@db.example.com:5432/app?sslmode=require\n"
     "coordinators = ipc:///run/convoy.sock\ttcp://[::1]:7400   tcp://coord-1.example.com:7401\n"
     "coordinator_key = %K\n"
     "key_file = %D/keys/r1.key\n"
     "heartbeat = 1.5s\n",
     {NULL}},
    {"a plain database name, CRLF line ends and a BOM",
     "\xEF\xBB\xBF[agent]\r\nnode = r1\r\nrole = replica\r\nconninfo = app\r\n"
     "coordinators = tcp://127.0.0.1:7400\r\ninsecure = yes\r\n",
     {NULL}},
    {"an empty file",
     "",
     {"%F:1: no [agent] section; put `[agent]` on a line above the agent's keys",
      "%F:1: missing `node` in [agent]; add `node = NAME`, this node's name as the cluster "
      "config lists it",
      "%F:1: missing `role` in [agent]; add `role = replica`, `role = primary`, `role = "
      "cache` or `role = app`",
      "%F:1: missing `conninfo` in [agent]; add `conninfo = host=HOST port=PORT dbname=DB`, the "
      "libpq connection string of this node's database",
      "%F:1: missing `coordinators` in [agent]; add `coordinators = tcp://HOST:PORT`, one or "
      "more separated by spaces",
      "%F:1: missing `key_file` in [agent]; add `key_file = PREFIX.key`, this agent's key pair "
      "written by `convoy keygen --out PREFIX` (or `insecure = true` to run without CURVE)",
      "%F:1: missing `coordinator_key` in [agent]; add `coordinator_key = PREFIX.pub`, the "
      "coordinator's public key file or its 40 characters (or `insecure = true` to run without "
      "CURVE)",
      NULL}},
    {"curve without its keys: anchored at the [agent] header",
     "; agent\n"
     "\n"
     "[agent]\n"
     "node = r1\n"
     "role = replica\n"
     "conninfo = dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400\n",
     {"%F:3: missing `key_file` in [agent]; add `key_file = PREFIX.key`, this agent's key pair "
      "written by `convoy keygen --out PREFIX` (or `insecure = true` to run without CURVE)",
      "%F:3: missing `coordinator_key` in [agent]; add `coordinator_key = PREFIX.pub`, the "
      "coordinator's public key file or its 40 characters (or `insecure = true` to run without "
      "CURVE)",
      NULL}},
    {"every kind of mistake at once, sorted by line",
     "[agent]\n"
     "nodes = r1\n"
     "colour = blue\n"
     "node = r1\n"
     "node = r2\n"
     "this line is junk\n"
     "role = leader\n"
     "heartbeat = soon\n"
     "insecure = maybe\n"
     "coordinators = tcp://127.0.0.1 tcp://h:99999 udp://x:1 tcp://a:1 tcp://a:1 tcp://:5\n"
     "conninfo = host='secret-password-here\n"
     "[cluster]\n"
     "name = x\n"
     "[agent\n",
     {"%F:2: unknown key `nodes`; did you mean `node`?",
      "%F:3: unknown key `colour`; the [agent] keys are node, role, conninfo, coordinators, "
      "coordinator_key, key_file, heartbeat, insecure; for role = cache, redis, "
      "redis_password_file, second_pass and purge_rate; for role = app, app_version and "
      "error_counter_file",
      "%F:5: `node` is set twice (first on line 4); keep one",
      "%F:6: cannot parse this line; write `key = value`, `[agent]` or a `;` comment",
      "%F:7: role = `leader` is not a role; use `replica`, `primary`, `cache` or `app`",
      "%F:8: heartbeat = `soon` is not a duration; write e.g. `100ms` or `1s`",
      "%F:9: insecure = `maybe` is not a boolean; write `true` or `false`",
      "%F:10: coordinators: `tcp://127.0.0.1` has no port; write `tcp://HOST:PORT` or "
      "`ipc://PATH`",
      "%F:10: coordinators: `tcp://h:99999` has a bad port (1 to 65535); write `tcp://HOST:PORT` "
      "or `ipc://PATH`",
      "%F:10: coordinators: `udp://x:1` is not a tcp:// or ipc:// endpoint; write "
      "`tcp://HOST:PORT` or `ipc://PATH`",
      "%F:10: coordinators: `tcp://a:1` is listed twice; list each coordinator once",
      "%F:10: coordinators: `tcp://:5` has no host; write `tcp://HOST:PORT` or `ipc://PATH`",
      "%F:11: conninfo is not a valid libpq connection string or URI (not shown: it may hold a "
      "password); check its `key=value` pairs and quoting",
      "%F:12: unknown section [cluster]; the agent reads only [agent]",
      "%F:14: a section header without its `]`; write `[agent]`", NULL}},
    {"heartbeat out of range, bad node name, empty values",
     INSECURE_BASE "heartbeat = 5ms\n"
                   "[agent]\n"
                   "key_file =\n"
                   "coordinator_key =\n",
     {"%F:7: heartbeat = `5ms` is out of range; use 10ms to 60s",
      "%F:9: key_file is empty; write `key_file = PREFIX.key`",
      "%F:10: coordinator_key is empty; write `coordinator_key = PREFIX.pub`", NULL}},
    {"a node name that cannot be a ZAP user id",
     "[agent]\n"
     "node = r 1\n"
     "role = replica\n"
     "conninfo = dbname=app\n"
     "coordinators =\n"
     "heartbeat = 61s\n"
     "insecure = on\n",
     {"%F:2: node = `r 1` is not a node name; use 1 to 63 letters, digits, `.`, `_` or `-`",
      "%F:5: coordinators is empty; write `coordinators = tcp://HOST:PORT`",
      "%F:6: heartbeat = `61s` is out of range; use 10ms to 60s", NULL}},
    {"key files: missing, readable by others, not a key",
     "[agent]\n"
     "node = r1\n"
     "role = replica\n"
     "conninfo = dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "key_file = keys/open.key\n"
     "coordinator_key = keys/nosuch.pub\n",
     {"%F:6: key_file: %D/keys/open.key: a secret key file must not be readable by others "
      "(mode 644); run chmod 600 %D/keys/open.key",
      "%F:7: coordinator_key `%D/keys/nosuch.pub` cannot be read (No such file or directory); "
      "fix the path (relative to the config file's directory) or give the key's 40 characters",
      NULL}},
    {"key files: a missing key pair, a file that holds no key, a bad 40-character key",
     "[agent]\n"
     "node = r1\n"
     "role = replica\n"
     "conninfo = dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "key_file = %D/keys/nosuch.key\n"
     "coordinator_key = agent.ini\n",
     {"%F:6: key_file `%D/keys/nosuch.key` cannot be read (No such file or directory); fix the "
      "path (relative to the config file's directory) or write one with `convoy keygen --out "
      "PREFIX`",
      "%F:7: coordinator_key: %D/agent.ini: no `public = …` key in it (write one with `convoy "
      "keygen`)",
      NULL}},
    {"keys before any section",
     "node = r1\n"
     "role = replica\n"
     "conninfo = dbname=app\n"
     "coordinators = tcp://127.0.0.1:7400\n"
     "insecure = true\n",
     {"%F:1: `node` is outside any section; put `[agent]` on a line above it", NULL}},
    {"a value without a key, and a section name with spaces",
     "[ agent ]\n" INSECURE_BASE "= 5\n",
     {"%F:1: unknown section [ agent ]; the agent reads only [agent]",
      "%F:8: a value without a key; write `key = value`", NULL}},
};

static void
check_case(const config_case_t *c)
{
    agent_config_t cfg;
    agent_config_errors_t errs;
    size_t n_expected = 0;
    bool ok;

    write_config(c->ini);
    ok = agent_config_load(cfg_path, &cfg, &errs);
    while (n_expected < MAX_LINES && c->errors[n_expected])
        n_expected++;
    for (size_t i = 0; i < errs.n || i < n_expected; i++) {
        char *want = i < n_expected ? expand(c->errors[i]) : NULL;
        const char *got = i < errs.n ? errs.lines[i] : NULL;
        if (want == NULL || got == NULL || strcmp(want, got) != 0) {
            print_error("case \"%s\", error %zu:\n  want: %s\n  got:  %s\n", c->name, i + 1,
                        want ? want : "(none)", got ? got : "(none)");
            free(want);
            agent_config_errors_free(&errs);
            if (ok)
                agent_config_free(&cfg);
            fail();
        }
        free(want);
    }
    assert_int_equal(ok, n_expected == 0);
    if (ok) {
        assert_int_equal(errs.n, 0);
        agent_config_free(&cfg);
    }
    agent_config_errors_free(&errs);
}

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

/* ---- good configs, field by field ------------------------------------------------ */

static void
load_ok(const char *ini, agent_config_t *cfg)
{
    agent_config_errors_t errs;

    write_config(ini);
    if (!agent_config_load(cfg_path, cfg, &errs)) {
        for (size_t i = 0; i < errs.n; i++)
            print_error("%s\n", errs.lines[i]);
        agent_config_errors_free(&errs);
        fail();
    }
}

static void
test_fields_insecure(void **state)
{
    agent_config_t cfg;

    (void)state;
    load_ok(INSECURE_BASE, &cfg);
    assert_string_equal(cfg.path, cfg_path);
    assert_string_equal(cfg.node, "r1");
    assert_int_equal(cfg.role, AGENT_REPLICA);
    assert_string_equal(agent_role_name(cfg.role), "replica");
    assert_string_equal(cfg.conninfo, "host=/tmp port=5433 dbname=app");
    assert_int_equal(cfg.n_coordinators, 1);
    assert_string_equal(cfg.coordinators[0], "tcp://127.0.0.1:7400");
    assert_int_equal(cfg.heartbeat_ms, AGENT_HEARTBEAT_DEFAULT);
    assert_true(cfg.insecure);
    assert_string_equal(cfg.key_file, "");
    assert_string_equal(cfg.coordinator_key, "");
    assert_string_equal(cfg.server_public, "");
    agent_config_free(&cfg);
}

static void
test_fields_curve(void **state)
{
    agent_config_t cfg;

    (void)state;
    load_ok("[agent]\n"
            "node: primary\n"
            "role = primary ; the primary\n"
            "conninfo = host=db port=5432 dbname=app password=a;b\n"
            "coordinators = tcp://127.0.0.1:7400   ipc:///run/c.sock\n"
            "coordinator_key = keys/coordinator.pub\n"
            "key_file = keys/r1.key\n"
            "heartbeat = 250ms\n"
            "insecure = FALSE\n",
            &cfg);
    assert_string_equal(cfg.node, "primary");
    assert_int_equal(cfg.role, AGENT_PRIMARY);
    /* an inline comment needs whitespace before its `;` */
    assert_string_equal(cfg.conninfo, "host=db port=5432 dbname=app password=a;b");
    assert_int_equal(cfg.n_coordinators, 2);
    assert_string_equal(cfg.coordinators[1], "ipc:///run/c.sock");
    assert_int_equal(cfg.heartbeat_ms, 250);
    assert_false(cfg.insecure);
    assert_string_equal(cfg.key_file, "keys/r1.key");
    assert_string_equal(cfg.keys.public_z85, agent_keys.public_z85);
    assert_string_equal(cfg.keys.secret_z85, agent_keys.secret_z85);
    assert_string_equal(cfg.server_public, coord_keys.public_z85);
    agent_config_free(&cfg);
}

static void
test_fields_cache(void **state)
{
    agent_config_t cfg;

    (void)state;
    load_ok(CACHE_BASE "redis = redis://127.0.0.1:6379\n", &cfg);
    assert_int_equal(cfg.role, AGENT_CACHE);
    assert_string_equal(agent_role_name(cfg.role), "cache");
    assert_string_equal(cfg.redis, "redis://127.0.0.1:6379");
    assert_string_equal(cfg.redis_host, "127.0.0.1");
    assert_int_equal(cfg.redis_port, 6379);
    assert_int_equal(cfg.redis_db, 0);
    assert_null(cfg.redis_password_file);
    assert_null(cfg.redis_password);
    assert_int_equal(cfg.second_pass_ms, AGENT_SECOND_PASS_DEFAULT);
    assert_int_equal(cfg.second_pass_ms, 500);
    assert_int_equal(cfg.purge_rate, AGENT_PURGE_RATE_DEFAULT);
    assert_int_equal(cfg.purge_rate, 50);
    agent_config_free(&cfg);

    load_ok(CACHE_BASE "redis = redis://[::1]:6380/7\n"
                       "redis_password_file = keys/redis.pass\n"
                       "second_pass = 1.5s\n"
                       "purge_rate = 200\n",
            &cfg);
    assert_string_equal(cfg.redis, "redis://[::1]:6380/7");
    assert_string_equal(cfg.redis_host, "::1");
    assert_int_equal(cfg.redis_port, 6380);
    assert_int_equal(cfg.redis_db, 7);
    assert_string_equal(cfg.redis_password_file, "keys/redis.pass");
    assert_string_equal(cfg.redis_password, "s3cret pass"); /* the line, without its newline */
    assert_int_equal(cfg.second_pass_ms, 1500);
    assert_int_equal(cfg.purge_rate, 200);
    agent_config_free(&cfg);

    load_ok(CACHE_BASE "redis = redis://cache-1.example.com:1/2147483647\n"
                       "redis_password_file = keys/redis2.pass\n",
            &cfg);
    assert_string_equal(cfg.redis_host, "cache-1.example.com");
    assert_int_equal(cfg.redis_port, 1);
    assert_int_equal(cfg.redis_db, 2147483647);
    assert_string_equal(cfg.redis_password, "an0ther"); /* CRLF stripped too */
    agent_config_free(&cfg);

    /* the other roles carry no cache values */
    load_ok(INSECURE_BASE, &cfg);
    assert_null(cfg.redis);
    assert_null(cfg.redis_host);
    assert_null(cfg.redis_password);
    agent_config_free(&cfg);
}

static void
test_fields_app(void **state)
{
    agent_config_t cfg;
    char *want;

    (void)state;
    load_ok(APP_BASE "app_version = 2.14.0\n", &cfg);
    assert_int_equal(cfg.role, AGENT_APP);
    assert_string_equal(agent_role_name(cfg.role), "app");
    assert_null(cfg.conninfo); /* no database */
    assert_string_equal(cfg.app_version, "2.14.0");
    assert_null(cfg.error_counter_file);
    assert_null(cfg.error_counter_path);
    assert_null(cfg.redis);
    agent_config_free(&cfg);

    load_ok(APP_BASE "app_version = v2024.06.1-rc_3 ; the release\n"
                     "error_counter_file = run/errors.count\n"
                     "conninfo = dbname=app\n",
            &cfg);
    assert_string_equal(cfg.app_version, "v2024.06.1-rc_3");
    assert_string_equal(cfg.conninfo, "dbname=app");
    assert_string_equal(cfg.error_counter_file, "run/errors.count");
    want = xasprintf("%s/run/errors.count", dir); /* relative to the config file's directory */
    assert_string_equal(cfg.error_counter_path, want);
    free(want);
    agent_config_free(&cfg);

    load_ok(APP_BASE "app_version = 1\nerror_counter_file = /var/run/web/errors\n", &cfg);
    assert_string_equal(cfg.error_counter_file, "/var/run/web/errors");
    assert_string_equal(cfg.error_counter_path, "/var/run/web/errors");
    agent_config_free(&cfg);

    /* the other roles carry no app values */
    load_ok(INSECURE_BASE, &cfg);
    assert_null(cfg.app_version);
    assert_null(cfg.error_counter_file);
    assert_null(cfg.error_counter_path);
    agent_config_free(&cfg);
}

/* app_version: 1 to 64 of [A-Za-z0-9._-], each value alone with its exact error. */
static void
test_app_versions(void **state)
{
    static const char *const good[] = {
        "1",
        "2.14.0",
        "v2_0-rc.1",
        "A-Z.a-z_0-9",
        "deadbeefcafe",
        "1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
    };
    static const char *const bad[] = {
        "12345678901234567890123456789012345678901234567890123456789012345", /* 65 */
        "2.14 0",
        "v1/2",
        "v1+build",
        "1,2",
        "r\xc3\xa9sum\xc3\xa9",
        "\"1.0\"",
        "a=b",
        "~1",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        agent_config_t cfg;
        char *ini = xasprintf(APP_BASE "app_version = %s\n", good[i]);
        load_ok(ini, &cfg);
        assert_string_equal(cfg.app_version, good[i]);
        agent_config_free(&cfg);
        free(ini);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        agent_config_errors_t errs;
        agent_config_t cfg;
        char *ini = xasprintf(APP_BASE "app_version = %s\n", bad[i]);
        char *want = xasprintf("%s:6: app_version = `%s` is not a version; use 1 to 64 letters, "
                               "digits, `.`, `_` or `-`",
                               cfg_path, bad[i]);

        write_config(ini);
        assert_false(agent_config_load(cfg_path, &cfg, &errs));
        if (errs.n != 1 || strcmp(errs.lines[0], want) != 0) {
            print_error("version `%s`:\n  want: %s\n  got:  %s (%zu lines)\n", bad[i], want,
                        errs.n ? errs.lines[0] : "(none)", errs.n);
            fail();
        }
        agent_config_errors_free(&errs);
        free(ini);
        free(want);
    }
}

/* Each bad URL alone (a key may be set once), with its exact error. */
static void
test_bad_redis_urls(void **state)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"127.0.0.1:6379", "is not a redis:// URL"},
        {"http://127.0.0.1:6379", "is not a redis:// URL"},
        {"REDIS://h:1", "is not a redis:// URL"},
        {"rediss://h:6379", "is a TLS URL (rediss://), which this agent does not support"},
        {"unix:///run/redis.sock", "is a Unix socket, which this agent does not support"},
        {"redis://", "has no port (write redis://HOST:PORT)"},
        {"redis://h", "has no port (write redis://HOST:PORT)"},
        {"redis://h/0", "has no port (write redis://HOST:PORT)"},
        {"redis://:6379", "has no host"},
        {"redis://h!:6379", "has a bad host"},
        {"redis://h:1:2", "has a bad port (1 to 65535)"},
        {"redis://h:", "has a bad port (1 to 65535)"},
        {"redis://h:0", "has a bad port (1 to 65535)"},
        {"redis://h:65536", "has a bad port (1 to 65535)"},
        {"redis://h:+1", "has a bad port (1 to 65535)"},
        {"redis://h:12ab", "has a bad port (1 to 65535)"},
        {"redis://h:99999999999999999999", "has a bad port (1 to 65535)"},
        {"redis://h:1/", "has a bad database number after its `/` (digits, e.g. /0)"},
        {"redis://h:1/x", "has a bad database number after its `/` (digits, e.g. /0)"},
        {"redis://h:1/-1", "has a bad database number after its `/` (digits, e.g. /0)"},
        {"redis://h:1/0/1", "has a bad database number after its `/` (digits, e.g. /0)"},
        {"redis://h:1/2147483648", "has a bad database number after its `/` (0 to 2147483647)"},
        {"redis://h:1/0?timeout=1",
         "has a query or fragment (`?`, `#`); the URL is only redis://HOST:PORT[/DB]"},
        {"redis://h:1#x",
         "has a query or fragment (`?`, `#`); the URL is only redis://HOST:PORT[/DB]"},
        {"redis://h x:1", "has a space or a control character in it"},
        {"redis://[::1:6379", "has a bad IPv6 address (write it as [ADDRESS])"},
        {"redis://[]:6379", "has a bad IPv6 address (write it as [ADDRESS])"},
        {"redis://[::g]:6379", "has a bad IPv6 address (write it as [ADDRESS])"},
        {"redis://[::1]", "has no port (write redis://HOST:PORT)"},
        {"redis://[::1]6379", "has no port (write redis://HOST:PORT)"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        agent_config_errors_t errs;
        agent_config_t cfg;
        char *ini = xasprintf(CACHE_BASE "redis = %s\n", bad[i].url);
        char *want = xasprintf("%s:7: redis = `%s` %s; write `redis = redis://HOST:PORT` or "
                               "`redis://HOST:PORT/DB`",
                               cfg_path, bad[i].url, bad[i].why);

        write_config(ini);
        assert_false(agent_config_load(cfg_path, &cfg, &errs));
        if (errs.n != 1 || strcmp(errs.lines[0], want) != 0) {
            print_error("url `%s`:\n  want: %s\n  got:  %s (%zu lines)\n", bad[i].url, want,
                        errs.n ? errs.lines[0] : "(none)", errs.n);
            fail();
        }
        agent_config_errors_free(&errs);
        free(ini);
        free(want);
    }
}

static void
test_long_lines(void **state)
{
    agent_config_errors_t errs;
    agent_config_t cfg;
    sb_t sb;
    char *want;

    (void)state;
    /* a long conninfo is fine up to AGENT_MAX_LINE characters a line */
    sb_init(&sb);
    sb_puts(&sb, "[agent]\nnode = r1\nrole = replica\ncoordinators = tcp://127.0.0.1:7400\n"
                 "insecure = true\nconninfo = dbname=app options='");
    for (int i = 0; i < 1000; i++)
        sb_puts(&sb, "-c a.b=c ");
    sb_puts(&sb, "'\n");
    load_ok(sb.data, &cfg);
    sb_free(&sb);
    assert_int_equal(strlen(cfg.conninfo), strlen("dbname=app options='") + 9000 + 1);
    agent_config_free(&cfg);
    /* a longer one is refused, once, with its line */
    sb_init(&sb);
    sb_puts(&sb, INSECURE_BASE "; ");
    for (int i = 0; i < AGENT_MAX_LINE; i++)
        sb_putc(&sb, 'x');
    sb_puts(&sb, " = y\nnode = again\n");
    write_config(sb.data);
    sb_free(&sb);
    assert_false(agent_config_load(cfg_path, &cfg, &errs));
    assert_int_equal(errs.n, 2);
    want =
        xasprintf("%s:7: line is longer than %d characters; shorten it", cfg_path, AGENT_MAX_LINE);
    assert_string_equal(errs.lines[0], want);
    free(want);
    want = xasprintf("%s:8: `node` is set twice (first on line 2); keep one", cfg_path);
    assert_string_equal(errs.lines[1], want);
    free(want);
    agent_config_errors_free(&errs);
}

static void
test_unreadable_file(void **state)
{
    agent_config_errors_t errs;
    agent_config_t cfg;
    char *want, path[160];

    (void)state;
    snprintf(path, sizeof(path), "%s/nosuch.ini", dir);
    assert_false(agent_config_load(path, &cfg, &errs));
    assert_int_equal(errs.n, 1);
    want = xasprintf("%s: cannot read the config file: No such file or directory", path);
    assert_string_equal(errs.lines[0], want);
    free(want);
    agent_config_errors_free(&errs);
}

static void
test_changed_bits(void **state)
{
    agent_config_t a, b;
    unsigned bits;
    char *names;

    (void)state;
    load_ok("[agent]\nnode = r1\nrole = replica\nconninfo = dbname=app\n"
            "coordinators = tcp://127.0.0.1:7400 tcp://127.0.0.1:7401\ninsecure = true\n",
            &a);
    /* the same endpoints in another order are the same coordinators */
    load_ok("[agent]\nnode = r1\nrole = replica\nconninfo = dbname=app\n"
            "coordinators = tcp://127.0.0.1:7401 tcp://127.0.0.1:7400\ninsecure = true\n",
            &b);
    assert_int_equal(agent_config_changed(&a, &b), 0);
    agent_config_free(&b);
    load_ok("[agent]\nnode = r2\nrole = primary\nconninfo = dbname=other\n"
            "coordinators = tcp://127.0.0.1:7400\nheartbeat = 1s\n"
            "coordinator_key = keys/coordinator.pub\nkey_file = keys/r1.key\n",
            &b);
    bits = agent_config_changed(&a, &b);
    assert_int_equal(bits, AGENT_KEY_NODE | AGENT_KEY_ROLE | AGENT_KEY_CONNINFO |
                               AGENT_KEY_COORDINATORS | AGENT_KEY_COORDINATOR_KEY |
                               AGENT_KEY_KEY_FILE | AGENT_KEY_HEARTBEAT | AGENT_KEY_INSECURE);
    names = agent_config_key_names(bits & ~AGENT_KEYS_RELOADABLE);
    assert_string_equal(names, "node, role, coordinators, coordinator_key, key_file, insecure");
    free(names);
    names = agent_config_key_names(bits & AGENT_KEYS_RELOADABLE);
    assert_string_equal(names, "conninfo, heartbeat");
    free(names);
    agent_config_free(&a);
    agent_config_free(&b);

    /* the cache keys: each its own bit, all of them reloadable; the password compares by
     * what the file holds */
    load_ok(CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis.pass\n", &a);
    load_ok(CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis.pass\n", &b);
    assert_int_equal(agent_config_changed(&a, &b), 0);
    write_file("keys/redis.pass", "rotated\n", 0600);
    agent_config_free(&b);
    load_ok(CACHE_BASE "redis = redis://h:1\nredis_password_file = keys/redis.pass\n", &b);
    assert_int_equal(agent_config_changed(&a, &b), AGENT_KEY_REDIS_PASSWORD_FILE);
    write_file("keys/redis.pass", "s3cret pass\n", 0600);
    agent_config_free(&b);
    load_ok(CACHE_BASE "redis = redis://h:1/1\nsecond_pass = 1s\npurge_rate = 9\n", &b);
    bits = agent_config_changed(&a, &b);
    assert_int_equal(bits, AGENT_KEY_REDIS | AGENT_KEY_REDIS_PASSWORD_FILE | AGENT_KEY_SECOND_PASS |
                               AGENT_KEY_PURGE_RATE);
    assert_int_equal(bits & ~AGENT_KEYS_RELOADABLE, 0);
    names = agent_config_key_names(bits);
    assert_string_equal(names, "redis, redis_password_file, second_pass, purge_rate");
    free(names);
    agent_config_free(&a);
    agent_config_free(&b);

    /* the app keys: each its own bit, reloadable; a conninfo given or removed is conninfo */
    load_ok(APP_BASE "app_version = 1.0\nerror_counter_file = errors\n", &a);
    load_ok(APP_BASE "app_version = 1.0\nerror_counter_file = errors ; the same\n", &b);
    assert_int_equal(agent_config_changed(&a, &b), 0);
    agent_config_free(&b);
    load_ok(APP_BASE "app_version = 1.1\nerror_counter_file = %D/errors\n", &b);
    assert_int_equal(agent_config_changed(&a, &b), AGENT_KEY_APP_VERSION); /* the same file */
    agent_config_free(&b);
    load_ok(APP_BASE "app_version = 1.1\nerror_counter_file = errors2\nconninfo = dbname=app\n",
            &b);
    bits = agent_config_changed(&a, &b);
    assert_int_equal(bits,
                     AGENT_KEY_APP_VERSION | AGENT_KEY_ERROR_COUNTER_FILE | AGENT_KEY_CONNINFO);
    assert_int_equal(bits & ~AGENT_KEYS_RELOADABLE, 0);
    assert_int_equal(AGENT_KEYS_APP, AGENT_KEY_APP_VERSION | AGENT_KEY_ERROR_COUNTER_FILE);
    names = agent_config_key_names(bits);
    assert_string_equal(names, "conninfo, app_version, error_counter_file");
    free(names);
    agent_config_free(&b);
    load_ok(APP_BASE "app_version = 1.0\n", &b);
    assert_int_equal(agent_config_changed(&a, &b), AGENT_KEY_ERROR_COUNTER_FILE);
    agent_config_free(&a);
    agent_config_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),           cmocka_unit_test(test_fields_insecure),
        cmocka_unit_test(test_fields_curve),    cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_unreadable_file), cmocka_unit_test(test_changed_bits),
        cmocka_unit_test(test_fields_cache),    cmocka_unit_test(test_bad_redis_urls),
        cmocka_unit_test(test_fields_app),      cmocka_unit_test(test_app_versions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
