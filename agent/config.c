/*
 * config.c: the agent's INI config, read with inih.
 *
 * inih reports only the first line it could not parse and has no line numbers in its
 * handler (the Debian build has INI_HANDLER_LINENO off), so the file is fed to it through a
 * reader that counts physical lines and keeps their text. After the parse, every line the
 * handler never saw is classified (blank, comment, section header or a syntax error), so
 * every problem in the file is reported in one go, each with its line.
 */
#include "config.h"

#include "convoy/util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum {
    K_NODE,
    K_ROLE,
    K_CONNINFO,
    K_COORDINATORS,
    K_COORDINATOR_KEY,
    K_KEY_FILE,
    K_HEARTBEAT,
    K_INSECURE,
    K_REDIS,
    K_REDIS_PASSWORD_FILE,
    K_SECOND_PASS,
    K_PURGE_RATE,
    K_APP_VERSION,
    K_ERROR_COUNTER_FILE,
    N_KEYS
} key_id_t;

static const struct {
    const char *name;
    unsigned bit;
} key_specs[N_KEYS] = {
    {"node", AGENT_KEY_NODE},
    {"role", AGENT_KEY_ROLE},
    {"conninfo", AGENT_KEY_CONNINFO},
    {"coordinators", AGENT_KEY_COORDINATORS},
    {"coordinator_key", AGENT_KEY_COORDINATOR_KEY},
    {"key_file", AGENT_KEY_KEY_FILE},
    {"heartbeat", AGENT_KEY_HEARTBEAT},
    {"insecure", AGENT_KEY_INSECURE},
    {"redis", AGENT_KEY_REDIS},
    {"redis_password_file", AGENT_KEY_REDIS_PASSWORD_FILE},
    {"second_pass", AGENT_KEY_SECOND_PASS},
    {"purge_rate", AGENT_KEY_PURGE_RATE},
    {"app_version", AGENT_KEY_APP_VERSION},
    {"error_counter_file", AGENT_KEY_ERROR_COUNTER_FILE},
};

typedef struct {
    int line;
    size_t order; /* insertion order: a stable sort by line */
    char *text;
} cerr_t;

typedef struct {
    char *text; /* the physical line, capped a little over AGENT_MAX_LINE */
    size_t len; /* its full length, without the newline */
    bool handled;
} pline_t;

typedef struct {
    FILE *f;
    int line; /* the physical line the last chunk read belongs to */
    bool at_line_start;
    pline_t *lines;
    size_t n_lines, cap_lines;
    char *values[N_KEYS];
    int value_lines[N_KEYS];
    bool outside_reported;
    cerr_t *errs;
    size_t n_errs, cap_errs;
} parse_t;

static void add_err(parse_t *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_err(parse_t *p, int line, const char *fmt, ...)
{
    va_list ap;
    sb_t sb;

    if (p->n_errs == p->cap_errs) {
        p->cap_errs = p->cap_errs ? 2 * p->cap_errs : 8;
        p->errs = xrealloc(p->errs, p->cap_errs * sizeof(*p->errs));
    }
    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    p->errs[p->n_errs].line = line;
    p->errs[p->n_errs].order = p->n_errs;
    p->errs[p->n_errs].text = sb_steal(&sb);
    p->n_errs++;
}

/* fgets for inih, counting physical lines (inih may read a long line in several chunks). */
static char *
reader(char *str, int num, void *stream)
{
    parse_t *p = stream;
    pline_t *pl;
    size_t n;

    if (fgets(str, num, p->f) == NULL)
        return NULL;
    if (p->at_line_start) {
        if (p->n_lines == p->cap_lines) {
            p->cap_lines = p->cap_lines ? 2 * p->cap_lines : 32;
            p->lines = xrealloc(p->lines, p->cap_lines * sizeof(*p->lines));
        }
        pl = &p->lines[p->n_lines++];
        memset(pl, 0, sizeof(*pl));
        pl->text = xstrdup("");
        p->line++;
    }
    pl = &p->lines[p->n_lines - 1];
    n = strlen(str);
    p->at_line_start = n > 0 && str[n - 1] == '\n';
    if (pl->len <= AGENT_MAX_LINE + 2) {
        size_t keep = n < AGENT_MAX_LINE + 2 ? n : AGENT_MAX_LINE + 2;
        size_t old = strlen(pl->text);
        pl->text = xrealloc(pl->text, old + keep + 1);
        memcpy(pl->text + old, str, keep);
        pl->text[old + keep] = '\0';
    }
    pl->len += n;
    if (p->at_line_start) /* the length without "\n" (or "\r\n") */
        pl->len -= n >= 2 && str[n - 2] == '\r' ? 2 : 1;
    return str;
}

static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
    parse_t *p = user;
    pline_t *pl = p->n_lines ? &p->lines[p->n_lines - 1] : NULL;
    int line = p->line;
    int k;

    if (pl == NULL)
        return 1;
    pl->handled = true;
    if (pl->len > AGENT_MAX_LINE)
        return 1; /* refused as a whole in check_lines */
    if (section[0] == '\0') {
        if (!p->outside_reported)
            add_err(p, line, "`%s` is outside any section; put `[agent]` on a line above it", name);
        p->outside_reported = true;
    } else if (strcmp(section, "agent") != 0) {
        return 1; /* the section header is reported once, in check_lines */
    }
    if (name[0] == '\0') {
        add_err(p, line, "a value without a key; write `key = value`");
        return 1;
    }
    for (k = 0; k < N_KEYS; k++)
        if (strcmp(name, key_specs[k].name) == 0)
            break;
    if (k == N_KEYS) {
        const char *best = NULL;
        size_t best_d = 3;
        for (int i = 0; i < N_KEYS; i++) {
            size_t d = edit_distance(name, key_specs[i].name);
            if (d < best_d) {
                best_d = d;
                best = key_specs[i].name;
            }
        }
        if (best)
            add_err(p, line, "unknown key `%s`; did you mean `%s`?", name, best);
        else
            add_err(p, line,
                    "unknown key `%s`; the [agent] keys are node, role, conninfo, coordinators, "
                    "coordinator_key, key_file, heartbeat, insecure; for role = cache, redis, "
                    "redis_password_file, second_pass and purge_rate; for role = app, "
                    "app_version and error_counter_file",
                    name);
        return 1;
    }
    if (p->values[k] != NULL) {
        add_err(p, line, "`%s` is set twice (first on line %d); keep one", name, p->value_lines[k]);
        return 1;
    }
    p->values[k] = xstrdup(value);
    p->value_lines[k] = line;
    return 1;
}

/* Lines inih never handed to the handler: blank, comments, section headers, or errors. */
static int
check_lines(parse_t *p)
{
    int agent_line = 0;

    for (size_t i = 0; i < p->n_lines; i++) {
        const pline_t *pl = &p->lines[i];
        int line = (int)i + 1;
        const char *s = pl->text;
        const char *end;

        if (pl->len > AGENT_MAX_LINE) {
            add_err(p, line, "line is longer than %d characters; shorten it", AGENT_MAX_LINE);
            continue;
        }
        if (i == 0 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        if (*s == '\0' || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            /* inih's rule: the first ']' not inside an inline comment */
            const char *q = s + 1;
            bool ws = false;
            for (end = NULL; *q; q++) {
                if (*q == ']') {
                    end = q;
                    break;
                }
                if (*q == ';' && ws)
                    break;
                ws = isspace((unsigned char)*q) != 0;
            }
            if (end == NULL) {
                add_err(p, line, "a section header without its `]`; write `[agent]`");
            } else if ((size_t)(end - s - 1) == 5 && strncmp(s + 1, "agent", 5) == 0) {
                if (agent_line == 0)
                    agent_line = line;
            } else {
                add_err(p, line, "unknown section [%.*s]; the agent reads only [agent]",
                        (int)(end - s - 1), s + 1);
            }
            continue;
        }
        if (!pl->handled)
            add_err(p, line,
                    "cannot parse this line; write `key = value`, `[agent]` or a `;` "
                    "comment");
    }
    return agent_line;
}

/* ---- values ---------------------------------------------------------------------- */

static bool
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool
name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static bool
version_ok(const char *s)
{
    return name_ok(s, AGENT_MAX_APP_VERSION);
}

static bool
node_ok(const char *s)
{
    return name_ok(s, AGENT_MAX_NODE);
}

/* NULL when ep is an endpoint a DEALER can connect to, else what is wrong with it. */
static const char *
endpoint_problem(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0)
        return ep[6] ? NULL : "has no path";
    if (strncmp(ep, "tcp://", 6) == 0) {
        const char *host = ep + 6, *colon = strrchr(host, ':');
        size_t hl;
        int64_t port;

        if (colon == NULL)
            return "has no port";
        hl = (size_t)(colon - host);
        if (hl == 0)
            return "has no host";
        if (host[0] == '[') {
            if (hl < 3 || host[hl - 1] != ']')
                return "has a bad IPv6 address (write it as [ADDRESS])";
        } else {
            for (size_t i = 0; i < hl; i++)
                if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-' &&
                    host[i] != '_')
                    return "has a bad host";
        }
        if (!parse_int64(colon + 1, 1, 65535, &port))
            return "has a bad port (1 to 65535)";
        return NULL;
    }
    return "is not a tcp:// or ipc:// endpoint";
}

/* Relative paths are relative to the config file's directory. */
static char *
resolve_path(const char *config_path, const char *value)
{
    const char *slash = strrchr(config_path, '/');

    if (value[0] == '/' || slash == NULL)
        return xstrdup(value);
    return xasprintf("%.*s/%s", (int)(slash - config_path), config_path, value);
}

static bool
looks_like_conninfo(const char *s)
{
    return strchr(s, '=') != NULL || strncmp(s, "postgres://", 11) == 0 ||
           strncmp(s, "postgresql://", 13) == 0;
}

/* ---- role = cache ---------------------------------------------------------------- */

static bool
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/*
 * redis://HOST:PORT[/DB], strictly: HOST a name, an IPv4 address or [IPv6]; PORT 1 to
 * 65535; DB digits. NULL when url is one (the parts in c), else what is wrong with it.
 */
static const char *
redis_url_problem(const char *url, agent_config_t *c)
{
    const char *host, *colon, *end, *slash;
    char num[16];
    int64_t port, db = 0;
    size_t hl;

    if (strncmp(url, "rediss://", 9) == 0)
        return "is a TLS URL (rediss://), which this agent does not support";
    if (strncmp(url, "unix://", 7) == 0 || url[0] == '/')
        return "is a Unix socket, which this agent does not support";
    if (strncmp(url, "redis://", 8) != 0)
        return "is not a redis:// URL";
    host = url + 8;
    if (strpbrk(host, "?#") != NULL)
        return "has a query or fragment (`?`, `#`); the URL is only redis://HOST:PORT[/DB]";
    for (const char *q = host; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return "has a space or a control character in it";
    slash = strchr(host, '/');
    end = slash ? slash : host + strlen(host);
    if (host[0] == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close == NULL || close == host + 1)
            return "has a bad IPv6 address (write it as [ADDRESS])";
        for (const char *q = host + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return "has a bad IPv6 address (write it as [ADDRESS])";
        if (close + 1 == end || close[1] != ':')
            return "has no port (write redis://HOST:PORT)";
        colon = close + 1;
        hl = (size_t)(close - host - 1);
        host++;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        if (colon == NULL)
            return "has no port (write redis://HOST:PORT)";
        hl = (size_t)(colon - host);
        if (hl == 0)
            return "has no host";
        for (size_t i = 0; i < hl; i++)
            if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-' &&
                host[i] != '_')
                return "has a bad host";
    }
    if ((size_t)(end - colon - 1) >= sizeof(num) || !all_digits(colon + 1, end - colon - 1))
        return "has a bad port (1 to 65535)";
    memcpy(num, colon + 1, (size_t)(end - colon - 1));
    num[end - colon - 1] = '\0';
    if (!parse_int64(num, 1, 65535, &port))
        return "has a bad port (1 to 65535)";
    if (slash) {
        size_t dl = strlen(slash + 1);
        if (dl >= sizeof(num) || !all_digits(slash + 1, dl))
            return "has a bad database number after its `/` (digits, e.g. /0)";
        if (!parse_int64(slash + 1, 0, INT32_MAX, &db))
            return "has a bad database number after its `/` (0 to 2147483647)";
    }
    c->redis_host = xstrndup(host, hl);
    c->redis_port = (int)port;
    c->redis_db = (int)db;
    return NULL;
}

/* The password: the file's one line (a trailing newline is not part of it). */
static void
load_password(parse_t *p, int line, const char *kp, agent_config_t *c)
{
    struct stat st;
    size_t len = 0, n;
    char *text;

    if (stat(kp, &st) != 0 || access(kp, R_OK) != 0) {
        add_err(p, line,
                "redis_password_file `%s` cannot be read (%s); fix the path (relative to the "
                "config file's directory)",
                kp, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        add_err(p, line, "redis_password_file `%s` is not a regular file; name the file", kp);
        return;
    }
    if ((st.st_mode & 077) != 0) {
        add_err(p, line,
                "redis_password_file `%s` must not be readable by others (mode %o); run chmod "
                "600 %s",
                kp, (unsigned)(st.st_mode & 0777), kp);
        return;
    }
    text = read_file(kp, &len);
    if (text == NULL) {
        add_err(p, line, "redis_password_file `%s` cannot be read (%s)", kp, strerror(errno));
        return;
    }
    n = len;
    if (n > 0 && text[n - 1] == '\n')
        n--;
    if (n > 0 && text[n - 1] == '\r')
        n--;
    if (n == 0)
        add_err(p, line, "redis_password_file `%s` is empty; write the password in it", kp);
    else if (memchr(text, '\n', n) != NULL || memchr(text, '\r', n) != NULL)
        add_err(p, line,
                "redis_password_file `%s` holds more than one line; write only the password "
                "in it",
                kp);
    else if (memchr(text, '\0', n) != NULL)
        add_err(p, line, "redis_password_file `%s` holds a NUL byte; write only the password", kp);
    else if (n > AGENT_MAX_PASSWORD)
        add_err(p, line, "redis_password_file `%s` holds more than %d bytes", kp,
                AGENT_MAX_PASSWORD);
    else
        c->redis_password = xstrndup(text, n);
    memset(text, 0, len);
    free(text);
}

static void
check_cache(parse_t *p, const char *path, int anchor, agent_config_t *c)
{
    static const key_id_t cache_keys[] = {K_REDIS, K_REDIS_PASSWORD_FILE, K_SECOND_PASS,
                                          K_PURGE_RATE};
    char **v = p->values;
    int *ln = p->value_lines;

    if (c->role != AGENT_CACHE) {
        for (size_t i = 0; i < sizeof(cache_keys) / sizeof(cache_keys[0]); i++)
            if (v[cache_keys[i]] != NULL)
                add_err(p, ln[cache_keys[i]],
                        "`%s` is only for role = cache (this agent's role is %s); remove it",
                        key_specs[cache_keys[i]].name, agent_role_name(c->role));
        return;
    }

    /* redis: not echoed when it holds a user or password */
    if (v[K_REDIS] == NULL) {
        add_err(p, anchor,
                "missing `redis` in [agent] (role = cache); add `redis = redis://HOST:PORT` or "
                "`redis://HOST:PORT/DB`, the Redis server the outbox invalidates");
    } else if (v[K_REDIS][0] == '\0') {
        add_err(p, ln[K_REDIS], "redis is empty; write `redis = redis://HOST:PORT`");
    } else if (strchr(v[K_REDIS], '@') != NULL) {
        add_err(p, ln[K_REDIS],
                "redis has a user or password in it (not shown); write `redis = "
                "redis://HOST:PORT[/DB]` and put the password in the file redis_password_file "
                "names");
    } else {
        const char *why = redis_url_problem(v[K_REDIS], c);
        if (why)
            add_err(p, ln[K_REDIS],
                    "redis = `%s` %s; write `redis = redis://HOST:PORT` or "
                    "`redis://HOST:PORT/DB`",
                    v[K_REDIS], why);
        else
            c->redis = xstrdup(v[K_REDIS]);
    }

    /* redis_password_file */
    if (v[K_REDIS_PASSWORD_FILE] != NULL) {
        if (v[K_REDIS_PASSWORD_FILE][0] == '\0') {
            add_err(p, ln[K_REDIS_PASSWORD_FILE],
                    "redis_password_file is empty; write `redis_password_file = PATH` (or "
                    "remove it when Redis needs no password)");
        } else {
            char *kp = resolve_path(path, v[K_REDIS_PASSWORD_FILE]);
            c->redis_password_file = xstrdup(v[K_REDIS_PASSWORD_FILE]);
            load_password(p, ln[K_REDIS_PASSWORD_FILE], kp, c);
            free(kp);
        }
    }

    /* second_pass */
    c->second_pass_ms = AGENT_SECOND_PASS_DEFAULT;
    if (v[K_SECOND_PASS] != NULL) {
        int64_t ms;
        if (!parse_duration_ms(v[K_SECOND_PASS], &ms))
            add_err(p, ln[K_SECOND_PASS],
                    "second_pass = `%s` is not a duration; write e.g. `500ms` or `2s`",
                    v[K_SECOND_PASS]);
        else if (ms < AGENT_SECOND_PASS_MIN_MS || ms > AGENT_SECOND_PASS_MAX_MS)
            add_err(p, ln[K_SECOND_PASS], "second_pass = `%s` is out of range; use 10ms to 1h",
                    v[K_SECOND_PASS]);
        else
            c->second_pass_ms = ms;
    }

    /* purge_rate */
    c->purge_rate = AGENT_PURGE_RATE_DEFAULT;
    if (v[K_PURGE_RATE] != NULL) {
        int64_t n;
        if (!parse_int64(v[K_PURGE_RATE], 1, AGENT_PURGE_RATE_MAX, &n))
            add_err(p, ln[K_PURGE_RATE],
                    "purge_rate = `%s` is not a rate; write the most SCAN calls a second, 1 to "
                    "%d (default %d)",
                    v[K_PURGE_RATE], AGENT_PURGE_RATE_MAX, AGENT_PURGE_RATE_DEFAULT);
        else
            c->purge_rate = n;
    }
}

/* ---- role = app ------------------------------------------------------------------ */

static void
check_app(parse_t *p, const char *path, int anchor, agent_config_t *c)
{
    static const key_id_t app_keys[] = {K_APP_VERSION, K_ERROR_COUNTER_FILE};
    char **v = p->values;
    int *ln = p->value_lines;

    if (c->role != AGENT_APP) {
        for (size_t i = 0; i < sizeof(app_keys) / sizeof(app_keys[0]); i++)
            if (v[app_keys[i]] != NULL)
                add_err(p, ln[app_keys[i]],
                        "`%s` is only for role = app (this agent's role is %s); remove it",
                        key_specs[app_keys[i]].name, agent_role_name(c->role));
        return;
    }

    /* app_version */
    if (v[K_APP_VERSION] == NULL)
        add_err(p, anchor,
                "missing `app_version` in [agent] (role = app); add `app_version = VERSION`, the "
                "version of the app running on this node (e.g. `2.14.0`)");
    else if (v[K_APP_VERSION][0] == '\0')
        add_err(p, ln[K_APP_VERSION], "app_version is empty; write e.g. `app_version = 2.14.0`");
    else if (!version_ok(v[K_APP_VERSION]))
        add_err(p, ln[K_APP_VERSION],
                "app_version = `%s` is not a version; use 1 to %d letters, digits, `.`, `_` or "
                "`-`",
                v[K_APP_VERSION], AGENT_MAX_APP_VERSION);
    else
        c->app_version = xstrdup(v[K_APP_VERSION]);

    /* error_counter_file: written by the app, so it need not exist yet (a missing file is an
     * unknown rate at run time, not a config error) */
    if (v[K_ERROR_COUNTER_FILE] != NULL) {
        if (v[K_ERROR_COUNTER_FILE][0] == '\0') {
            add_err(p, ln[K_ERROR_COUNTER_FILE],
                    "error_counter_file is empty; write `error_counter_file = PATH` (or remove it "
                    "when the app keeps no error count)");
        } else {
            c->error_counter_file = xstrdup(v[K_ERROR_COUNTER_FILE]);
            c->error_counter_path = resolve_path(path, v[K_ERROR_COUNTER_FILE]);
        }
    }
}

static void
check_values(parse_t *p, const char *path, int anchor, agent_config_t *c)
{
    char **v = p->values;
    int *ln = p->value_lines;
    bool insecure_known = true, role_known = false;

    /* node */
    if (v[K_NODE] == NULL)
        add_err(p, anchor,
                "missing `node` in [agent]; add `node = NAME`, this node's name as the cluster "
                "config lists it");
    else if (!node_ok(v[K_NODE]))
        add_err(p, ln[K_NODE],
                "node = `%s` is not a node name; use 1 to %d letters, digits, `.`, `_` or `-`",
                v[K_NODE], AGENT_MAX_NODE);
    else
        c->node = xstrdup(v[K_NODE]);

    /* role */
    if (v[K_ROLE] == NULL) {
        add_err(p, anchor,
                "missing `role` in [agent]; add `role = replica`, `role = primary`, `role = "
                "cache` or `role = app`");
    } else if (strcmp(v[K_ROLE], "replica") == 0) {
        c->role = AGENT_REPLICA;
        role_known = true;
    } else if (strcmp(v[K_ROLE], "primary") == 0) {
        c->role = AGENT_PRIMARY;
        role_known = true;
    } else if (strcmp(v[K_ROLE], "cache") == 0) {
        c->role = AGENT_CACHE;
        role_known = true;
    } else if (strcmp(v[K_ROLE], "app") == 0) {
        c->role = AGENT_APP;
        role_known = true;
    } else {
        add_err(p, ln[K_ROLE],
                "role = `%s` is not a role; use `replica`, `primary`, `cache` or `app`", v[K_ROLE]);
    }

    /* conninfo: checked for syntax without echoing it (it may hold a password); optional for
     * role = app (an app agent without one uses no database) */
    if (v[K_CONNINFO] == NULL) {
        if (!role_known || c->role != AGENT_APP)
            add_err(p, anchor,
                    "missing `conninfo` in [agent]; add `conninfo = host=HOST port=PORT "
                    "dbname=DB`, the libpq connection string of this node's database");
    } else if (v[K_CONNINFO][0] == '\0') {
        add_err(p, ln[K_CONNINFO],
                "conninfo is empty; write `conninfo = host=HOST port=PORT dbname=DB`");
    } else {
        bool ok = true;
        if (looks_like_conninfo(v[K_CONNINFO])) {
            char *perr = NULL;
            PQconninfoOption *opts = PQconninfoParse(v[K_CONNINFO], &perr);
            ok = opts != NULL;
            PQconninfoFree(opts);
            PQfreemem(perr);
        }
        if (ok)
            c->conninfo = xstrdup(v[K_CONNINFO]);
        else
            add_err(p, ln[K_CONNINFO],
                    "conninfo is not a valid libpq connection string or URI (not shown: it "
                    "may hold a password); check its `key=value` pairs and quoting");
    }

    /* coordinators */
    if (v[K_COORDINATORS] == NULL) {
        add_err(p, anchor,
                "missing `coordinators` in [agent]; add `coordinators = tcp://HOST:PORT`, one "
                "or more separated by spaces");
    } else {
        char *copy = xstrdup(v[K_COORDINATORS]), *save = NULL;
        char **eps = xcalloc(AGENT_MAX_COORDINATORS, sizeof(char *));
        size_t n = 0;
        bool ok = true, too_many = false;

        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
            const char *why = endpoint_problem(tok);
            bool dup = false;
            if (why) {
                add_err(p, ln[K_COORDINATORS],
                        "coordinators: `%s` %s; write `tcp://HOST:PORT` or `ipc://PATH`", tok, why);
                ok = false;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                dup = dup || strcmp(eps[i], tok) == 0;
            if (dup) {
                add_err(p, ln[K_COORDINATORS],
                        "coordinators: `%s` is listed twice; list each coordinator once", tok);
                ok = false;
            } else if (n == AGENT_MAX_COORDINATORS) {
                too_many = true;
            } else {
                eps[n++] = xstrdup(tok);
            }
        }
        if (too_many) {
            add_err(p, ln[K_COORDINATORS], "coordinators: more than %d endpoints; list at most %d",
                    AGENT_MAX_COORDINATORS, AGENT_MAX_COORDINATORS);
            ok = false;
        }
        if (n == 0 && ok) {
            add_err(p, ln[K_COORDINATORS],
                    "coordinators is empty; write `coordinators = tcp://HOST:PORT`");
            ok = false;
        }
        if (ok) {
            c->coordinators = eps;
            c->n_coordinators = n;
        } else {
            strv_free(eps, n);
        }
        free(copy);
    }

    /* heartbeat */
    c->heartbeat_ms = AGENT_HEARTBEAT_DEFAULT;
    if (v[K_HEARTBEAT] != NULL) {
        int64_t ms;
        if (!parse_duration_ms(v[K_HEARTBEAT], &ms))
            add_err(p, ln[K_HEARTBEAT],
                    "heartbeat = `%s` is not a duration; write e.g. `100ms` or `1s`",
                    v[K_HEARTBEAT]);
        else if (ms < AGENT_HEARTBEAT_MIN_MS || ms > AGENT_HEARTBEAT_MAX_MS)
            add_err(p, ln[K_HEARTBEAT], "heartbeat = `%s` is out of range; use 10ms to 60s",
                    v[K_HEARTBEAT]);
        else
            c->heartbeat_ms = ms;
    }

    /* insecure */
    c->insecure = false;
    if (v[K_INSECURE] != NULL && !parse_bool(v[K_INSECURE], &c->insecure)) {
        add_err(p, ln[K_INSECURE], "insecure = `%s` is not a boolean; write `true` or `false`",
                v[K_INSECURE]);
        insecure_known = false;
    }

    /* keys: required with CURVE; checked whenever given */
    c->key_file = xstrdup(v[K_KEY_FILE] ? v[K_KEY_FILE] : "");
    c->coordinator_key = xstrdup(v[K_COORDINATOR_KEY] ? v[K_COORDINATOR_KEY] : "");
    if (v[K_KEY_FILE] == NULL) {
        if (insecure_known && !c->insecure)
            add_err(p, anchor,
                    "missing `key_file` in [agent]; add `key_file = PREFIX.key`, this agent's "
                    "key pair written by `convoy keygen --out PREFIX` (or `insecure = true` to "
                    "run without CURVE)");
    } else if (v[K_KEY_FILE][0] == '\0') {
        add_err(p, ln[K_KEY_FILE], "key_file is empty; write `key_file = PREFIX.key`");
    } else {
        char *kp = resolve_path(path, v[K_KEY_FILE]);
        char *kerr = NULL;
        if (access(kp, R_OK) != 0)
            add_err(p, ln[K_KEY_FILE],
                    "key_file `%s` cannot be read (%s); fix the path (relative to the config "
                    "file's directory) or write one with `convoy keygen --out PREFIX`",
                    kp, strerror(errno));
        else if (!keys_load(kp, &c->keys, &kerr))
            add_err(p, ln[K_KEY_FILE], "key_file: %s", kerr);
        free(kerr);
        free(kp);
    }
    if (v[K_COORDINATOR_KEY] == NULL) {
        if (insecure_known && !c->insecure)
            add_err(p, anchor,
                    "missing `coordinator_key` in [agent]; add `coordinator_key = PREFIX.pub`, "
                    "the coordinator's public key file or its 40 characters (or `insecure = "
                    "true` to run without CURVE)");
    } else if (v[K_COORDINATOR_KEY][0] == '\0') {
        add_err(p, ln[K_COORDINATOR_KEY],
                "coordinator_key is empty; write `coordinator_key = PREFIX.pub`");
    } else {
        const char *val = v[K_COORDINATOR_KEY];
        char *kp = strlen(val) == 40 ? xstrdup(val) : resolve_path(path, val);
        char *kerr = NULL;
        if (strlen(val) != 40 && access(kp, R_OK) != 0)
            add_err(p, ln[K_COORDINATOR_KEY],
                    "coordinator_key `%s` cannot be read (%s); fix the path (relative to the "
                    "config file's directory) or give the key's 40 characters",
                    kp, strerror(errno));
        else if (!keys_read_public(kp, c->server_public, &kerr))
            add_err(p, ln[K_COORDINATOR_KEY], "coordinator_key: %s", kerr);
        free(kerr);
        free(kp);
    }

    if (role_known) {
        check_cache(p, path, anchor, c);
        check_app(p, path, anchor, c);
    }
}

static int
cmp_err(const void *a, const void *b)
{
    const cerr_t *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void
parse_free(parse_t *p)
{
    for (size_t i = 0; i < p->n_lines; i++)
        free(p->lines[i].text);
    free(p->lines);
    for (int k = 0; k < N_KEYS; k++)
        free(p->values[k]);
    for (size_t i = 0; i < p->n_errs; i++)
        free(p->errs[i].text);
    free(p->errs);
}

bool
agent_config_load(const char *path, agent_config_t *out, agent_config_errors_t *errs)
{
    parse_t p;
    int rc, agent_line;

    memset(out, 0, sizeof(*out));
    memset(errs, 0, sizeof(*errs));
    memset(&p, 0, sizeof(p));
    p.at_line_start = true;
    p.f = fopen(path, "r");
    if (p.f == NULL) {
        errs->lines = xcalloc(1, sizeof(char *));
        errs->lines[0] = xasprintf("%s: cannot read the config file: %s", path, strerror(errno));
        errs->n = 1;
        return false;
    }
    /* inih's knobs are process globals in the Debian build: set every one we rely on */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_initial_alloc = 256;
    ini_max_line = AGENT_MAX_LINE + 3; /* the line, "\r\n" and the NUL */
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    ini_allow_bom = true;
    rc = ini_parse_stream(reader, &p, handler, &p);
    if (ferror(p.f))
        add_err(&p, p.line, "read error: %s", strerror(errno));
    fclose(p.f);
    if (rc == -2) {
        fprintf(stderr, "out of memory reading %s\n", path);
        abort();
    }
    agent_line = check_lines(&p);
    if (rc > 0) {
        bool seen = false;
        for (size_t i = 0; i < p.n_errs; i++)
            seen = seen || p.errs[i].line == rc;
        if (!seen)
            add_err(&p, rc, "cannot parse this line; write `key = value`");
    }
    if (agent_line == 0 && !p.outside_reported)
        add_err(&p, 1, "no [agent] section; put `[agent]` on a line above the agent's keys");
    out->path = xstrdup(path);
    check_values(&p, path, agent_line ? agent_line : 1, out);

    if (p.n_errs == 0) {
        parse_free(&p);
        return true;
    }
    qsort(p.errs, p.n_errs, sizeof(*p.errs), cmp_err);
    errs->lines = xcalloc(p.n_errs, sizeof(char *));
    for (size_t i = 0; i < p.n_errs; i++)
        errs->lines[i] = p.errs[i].line > 0
                             ? xasprintf("%s:%d: %s", path, p.errs[i].line, p.errs[i].text)
                             : xasprintf("%s: %s", path, p.errs[i].text);
    errs->n = p.n_errs;
    parse_free(&p);
    agent_config_free(out);
    return false;
}

void
agent_config_free(agent_config_t *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c->node);
    if (c->conninfo) {
        /* it may hold a password: do not leave it in freed memory */
        memset(c->conninfo, 0, strlen(c->conninfo));
        free(c->conninfo);
    }
    strv_free(c->coordinators, c->n_coordinators);
    free(c->coordinator_key);
    free(c->key_file);
    free(c->redis);
    free(c->redis_host);
    free(c->redis_password_file);
    free(c->app_version);
    free(c->error_counter_file);
    free(c->error_counter_path);
    if (c->redis_password) {
        memset(c->redis_password, 0, strlen(c->redis_password));
        free(c->redis_password);
    }
    memset(c, 0, sizeof(*c));
}

void
agent_config_errors_free(agent_config_errors_t *errs)
{
    if (errs == NULL)
        return;
    strv_free(errs->lines, errs->n);
    errs->lines = NULL;
    errs->n = 0;
}

const char *
agent_role_name(agent_role_t role)
{
    switch (role) {
    case AGENT_PRIMARY:
        return "primary";
    case AGENT_CACHE:
        return "cache";
    case AGENT_APP:
        return "app";
    default:
        return "replica";
    }
}

static bool
same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool
same_endpoints(const agent_config_t *a, const agent_config_t *b)
{
    if (a->n_coordinators != b->n_coordinators)
        return false;
    for (size_t i = 0; i < a->n_coordinators; i++) {
        bool found = false;
        for (size_t j = 0; j < b->n_coordinators && !found; j++)
            found = strcmp(a->coordinators[i], b->coordinators[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

unsigned
agent_config_changed(const agent_config_t *a, const agent_config_t *b)
{
    unsigned bits = 0;

    if (!same_str(a->node, b->node))
        bits |= AGENT_KEY_NODE;
    if (a->role != b->role)
        bits |= AGENT_KEY_ROLE;
    if (!same_str(a->conninfo, b->conninfo))
        bits |= AGENT_KEY_CONNINFO;
    if (!same_endpoints(a, b))
        bits |= AGENT_KEY_COORDINATORS;
    if (!same_str(a->coordinator_key, b->coordinator_key) ||
        strcmp(a->server_public, b->server_public) != 0)
        bits |= AGENT_KEY_COORDINATOR_KEY;
    if (!same_str(a->key_file, b->key_file) ||
        strcmp(a->keys.public_z85, b->keys.public_z85) != 0 ||
        strcmp(a->keys.secret_z85, b->keys.secret_z85) != 0)
        bits |= AGENT_KEY_KEY_FILE;
    if (a->heartbeat_ms != b->heartbeat_ms)
        bits |= AGENT_KEY_HEARTBEAT;
    if (a->insecure != b->insecure)
        bits |= AGENT_KEY_INSECURE;
    if (!same_str(a->redis, b->redis))
        bits |= AGENT_KEY_REDIS;
    if (!same_str(a->redis_password_file, b->redis_password_file) ||
        !same_str(a->redis_password, b->redis_password))
        bits |= AGENT_KEY_REDIS_PASSWORD_FILE;
    if (a->second_pass_ms != b->second_pass_ms)
        bits |= AGENT_KEY_SECOND_PASS;
    if (a->purge_rate != b->purge_rate)
        bits |= AGENT_KEY_PURGE_RATE;
    if (!same_str(a->app_version, b->app_version))
        bits |= AGENT_KEY_APP_VERSION;
    if (!same_str(a->error_counter_path, b->error_counter_path))
        bits |= AGENT_KEY_ERROR_COUNTER_FILE;
    return bits;
}

char *
agent_config_key_names(unsigned bits)
{
    sb_t sb;

    sb_init(&sb);
    sb_puts(&sb, "");
    for (int k = 0; k < N_KEYS; k++)
        if (bits & key_specs[k].bit)
            sb_printf(&sb, "%s%s", sb.len ? ", " : "", key_specs[k].name);
    return sb_steal(&sb);
}
