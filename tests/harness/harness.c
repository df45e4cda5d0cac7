/* harness.c: throwaway PostgreSQL/Redis servers with a crash-proof cleanup watchdog. */
#define _GNU_SOURCE /* pipe2, nftw */

#include "harness.h"

#include "convoy/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HARNESS_PG_BINDIR
#define HARNESS_PG_BINDIR ""
#endif

#define PG_START_ATTEMPTS 3
#define PG_CTL_TIMEOUT_MS 90000
#define INITDB_TIMEOUT_MS 120000
#define REDIS_READY_MS    10000
#define WD_RECORD_MAX     1024

struct harness_pg {
    char *dir;     /* mkdtemp directory: data/, postgres.log, sockets */
    char *datadir; /* dir/data */
    char *logfile; /* dir/postgres.log */
    char conninfo[256];
    int port;
    int reg_id;
    bool is_replica;
    harness_pg_t *next; /* registry, newest first */
};

struct harness_redis {
    char *dir;
    pid_t pid;
    int port;
    int reg_id;
    harness_redis_t *next;
};

typedef struct scratch_dir {
    char *path;
    int reg_id;
    struct scratch_dir *next;
} scratch_dir_t;

/* Process-wide registry of what must be cleaned up. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static harness_pg_t *g_pgs;
static harness_redis_t *g_redises;
static scratch_dir_t *g_dirs;
static int g_next_reg_id = 1;
static pid_t g_owner_pid;
static int g_wd_fd = -1; /* write end of the watchdog pipe; only this process holds it */
static bool g_atexit_done;
static int g_used_ports[64];
static int g_nused_ports;

static char g_bindir[PATH_MAX];
static bool g_bindir_resolved;

/* ------------------------------------------------------------------------------------------ */
/* small utilities                                                                            */

/* snprintf that reports truncation (and formatting errors) as false. */
static bool __attribute__((format(printf, 3, 4)))
fmt_buf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}

int64_t
harness_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
harness_now_ms(void)
{
    return harness_now_us() / 1000;
}

void
harness_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

char *
harness_read_file(const char *path)
{
    return read_file(path, NULL);
}

static bool
append_file(const char *path, const char *text)
{
    bool ok = false;
    FILE *f = fopen(path, "a");

    if (f == NULL) {
        fprintf(stderr, "harness: cannot open %s: %s\n", path, strerror(errno));
        goto done;
    }
    if (fputs(text, f) == EOF) {
        fprintf(stderr, "harness: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (f != NULL && fclose(f) != 0)
        ok = false;
    return ok;
}

/* Prints the last `max` bytes of a file to stderr (server logs on failure). */
static void
print_file_tail(const char *label, const char *path, size_t max)
{
    char *text = harness_read_file(path);
    size_t len;

    if (text == NULL) {
        fprintf(stderr, "harness: (no %s at %s)\n", label, path);
        return;
    }
    len = strlen(text);
    fprintf(stderr, "harness: ---- last part of %s (%s) ----\n%s\nharness: ----\n", label, path,
            len > max ? text + len - max : text);
    free(text);
}

static int
nftw_remove(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static bool
remove_tree(const char *path)
{
    if (access(path, F_OK) != 0)
        return true;
    return nftw(path, nftw_remove, 32, FTW_DEPTH | FTW_PHYS) == 0;
}

static bool
running_as_root(void)
{
    return geteuid() == 0;
}

static bool
postgres_ids(uid_t *uid, gid_t *gid)
{
    static bool looked_up, found;
    static uid_t s_uid;
    static gid_t s_gid;

    if (!looked_up) {
        struct passwd *pw = getpwnam("postgres");
        looked_up = true;
        if (pw != NULL) {
            found = true;
            s_uid = pw->pw_uid;
            s_gid = pw->pw_gid;
        }
    }
    if (found) {
        *uid = s_uid;
        *gid = s_gid;
    }
    return found;
}

/* ------------------------------------------------------------------------------------------ */
/* child processes                                                                            */

typedef struct {
    const char *const *argv;
    const char *cwd; /* NULL: inherit */
    int out_fd;      /* -1: /dev/null */
    int err_fd;      /* -1: /dev/null */
    bool as_postgres;
    bool die_with_parent; /* SIGKILL the child if the test process dies */
} spawn_req_t;

/* runuser lives in /usr/sbin, which a CI job's PATH may lack. */
static const char *
runuser_path(void)
{
    static const char *const candidates[] = {"/usr/sbin/runuser", "/sbin/runuser",
                                             "/usr/bin/runuser", "/bin/runuser"};

    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    }
    return "runuser";
}

/* Builds the argv actually executed: prefixed with runuser when root must become postgres. */
static const char **
build_argv(const spawn_req_t *req)
{
    size_t n = 0, i, k = 0;
    const char **argv;
    bool wrap = req->as_postgres && running_as_root();

    while (req->argv[n] != NULL)
        n++;
    argv = xmalloc((n + 5) * sizeof(*argv));
    if (wrap) {
        argv[k++] = runuser_path();
        argv[k++] = "-u";
        argv[k++] = "postgres";
        argv[k++] = "--";
    }
    for (i = 0; i < n; i++)
        argv[k++] = req->argv[i];
    argv[k] = NULL;
    return argv;
}

static pid_t
spawn_child(const spawn_req_t *req)
{
    const char **argv = build_argv(req);
    int status_pipe[2] = {-1, -1};
    int devnull = -1;
    pid_t pid = -1;
    int child_errno = 0;
    ssize_t n;

    pid_t parent = getpid();

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(status_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: spawn %s: %s\n", argv[0], strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to exec. */
        struct sigaction sa;
        int out = req->out_fd >= 0 ? req->out_fd : devnull;
        int err = req->err_fd >= 0 ? req->err_fd : devnull;
        int e;

        sigset_t none;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &sa, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
            dup2(err, STDERR_FILENO) < 0)
            goto child_fail;
        if (req->die_with_parent) {
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            if (getppid() != parent)
                _exit(127);
        }
        if (req->cwd != NULL && chdir(req->cwd) != 0)
            goto child_fail;
        execvp(argv[0], (char *const *)argv);
    child_fail:
        e = errno;
        if (write(status_pipe[1], &e, sizeof(e)) < 0) {
            /* nothing more we can do */
        }
        _exit(127);
    }
    close(status_pipe[1]);
    status_pipe[1] = -1;
    do {
        n = read(status_pipe[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(child_errno)) {
        fprintf(stderr, "harness: cannot execute %s: %s\n", argv[0], strerror(child_errno));
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
    }
done:
    if (status_pipe[0] >= 0)
        close(status_pipe[0]);
    if (status_pipe[1] >= 0)
        close(status_pipe[1]);
    if (devnull >= 0)
        close(devnull);
    free(argv);
    return pid;
}

static int
decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int
harness_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return decode_status(status);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "harness: waitpid(%d): %s\n", (int)pid, strerror(errno));
            return -1;
        }
        if (harness_now_ms() >= deadline)
            return -1;
        harness_sleep_ms(5);
    }
}

typedef struct {
    char *data;
    size_t len, cap;
} capbuf_t;

static void
capbuf_append(capbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (nd == NULL) {
            fprintf(stderr, "harness: out of memory\n");
            abort();
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Reads whatever is available; returns false at EOF (or error). */
static bool
drain_fd(int fd, capbuf_t *b)
{
    char chunk[8192];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            capbuf_append(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
}

static int
run_req(spawn_req_t *req, char **out, char **err, int timeout_ms)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    capbuf_t ob = {0}, eb = {0};
    bool out_open = true, err_open = true, exited = false;
    int64_t deadline = harness_now_ms() + timeout_ms;
    int result = -1, status = 0;
    pid_t pid = -1;

    capbuf_append(&ob, "", 0);
    capbuf_append(&eb, "", 0);
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        goto done;
    }
    req->out_fd = out_pipe[1];
    req->err_fd = err_pipe[1];
    req->die_with_parent = true;
    pid = spawn_child(req);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;
    if (pid < 0)
        goto done;
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

    while (!exited) {
        struct pollfd pfd[2];
        nfds_t nfds = 0;
        pid_t r;

        if (out_open) {
            pfd[nfds].fd = out_pipe[0];
            pfd[nfds].events = POLLIN;
            nfds++;
        }
        if (err_open) {
            pfd[nfds].fd = err_pipe[0];
            pfd[nfds].events = POLLIN;
            nfds++;
        }
        if (nfds > 0)
            poll(pfd, nfds, 20);
        else
            harness_sleep_ms(5);
        if (out_open)
            out_open = drain_fd(out_pipe[0], &ob);
        if (err_open)
            err_open = drain_fd(err_pipe[0], &eb);
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            exited = true;
            /* Everything the child wrote is in the pipes now; a grandchild that kept them
             * open (a daemon) must not make us wait. */
            if (out_open)
                drain_fd(out_pipe[0], &ob);
            if (err_open)
                drain_fd(err_pipe[0], &eb);
            result = decode_status(status);
        } else if (harness_now_ms() >= deadline) {
            const char *name = req->argv[0];
            fprintf(stderr, "harness: %s timed out after %d ms; killing it\n", name, timeout_ms);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            if (out_open)
                drain_fd(out_pipe[0], &ob);
            if (err_open)
                drain_fd(err_pipe[0], &eb);
            result = -1;
            break;
        }
    }
done:
    if (out_pipe[0] >= 0)
        close(out_pipe[0]);
    if (err_pipe[0] >= 0)
        close(err_pipe[0]);
    if (out != NULL)
        *out = ob.data;
    else
        free(ob.data);
    if (err != NULL)
        *err = eb.data;
    else
        free(eb.data);
    return result;
}

int
harness_run(const char *const argv[], char **out, char **err, int timeout_ms)
{
    spawn_req_t req = {.argv = argv, .out_fd = -1, .err_fd = -1};
    return run_req(&req, out, err, timeout_ms);
}

static pid_t
spawn_to_files(const char *const argv[],
               const char *stdout_path,
               const char *stderr_path,
               bool die_with_parent)
{
    spawn_req_t req = {
        .argv = argv, .out_fd = -1, .err_fd = -1, .die_with_parent = die_with_parent};
    pid_t pid = -1;

    if (stdout_path != NULL) {
        req.out_fd = open(stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (req.out_fd < 0) {
            fprintf(stderr, "harness: open %s: %s\n", stdout_path, strerror(errno));
            goto done;
        }
    }
    if (stderr_path != NULL) {
        req.err_fd = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (req.err_fd < 0) {
            fprintf(stderr, "harness: open %s: %s\n", stderr_path, strerror(errno));
            goto done;
        }
    }
    pid = spawn_child(&req);
done:
    if (req.out_fd >= 0)
        close(req.out_fd);
    if (req.err_fd >= 0)
        close(req.err_fd);
    return pid;
}

pid_t
harness_spawn(const char *const argv[], const char *stdout_path, const char *stderr_path)
{
    return spawn_to_files(argv, stdout_path, stderr_path, false);
}

/* Runs a PostgreSQL tool from the bindir (as postgres when root), echoing output on failure. */
static bool
run_pg_tool(const char *const argv[], int timeout_ms)
{
    spawn_req_t req = {.argv = argv, .cwd = "/", .out_fd = -1, .err_fd = -1, .as_postgres = true};
    char *out = NULL, *err = NULL;
    int rc = run_req(&req, &out, &err, timeout_ms);
    bool ok = rc == 0;

    if (!ok) {
        fprintf(stderr, "harness: %s exited with %d\n", argv[0], rc);
        if (out != NULL && out[0] != '\0')
            fprintf(stderr, "harness: stdout:\n%s\n", out);
        if (err != NULL && err[0] != '\0')
            fprintf(stderr, "harness: stderr:\n%s\n", err);
    }
    free(out);
    free(err);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* watchdog                                                                                   */

typedef struct {
    int id;
    char kind; /* 'P' postgres dir, 'R' redis pid+dir, 'D' plain dir */
    pid_t pid;
    char *path;
} wd_record_t;

static void
wd_stop_pg(const char *bindir, const char *dir)
{
    char pg_ctl[PATH_MAX], datadir[PATH_MAX];
    const char *argv[] = {pg_ctl, "-D", datadir, "-m", "immediate", "-w", "-t", "30", "stop", NULL};
    spawn_req_t req = {.argv = argv, .cwd = "/", .out_fd = -1, .err_fd = -1, .as_postgres = true};
    pid_t pid;

    if (!fmt_buf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", bindir) ||
        !fmt_buf(datadir, sizeof(datadir), "%s/data", dir))
        return;
    if (access(datadir, F_OK) != 0)
        return;
    pid = spawn_child(&req);
    if (pid > 0)
        harness_wait(pid, 60000);
}

static void
wd_kill_redis(pid_t pid)
{
    char path[64];
    char *cmdline;

    if (pid <= 0 || !fmt_buf(path, sizeof(path), "/proc/%d/cmdline", (int)pid))
        return;
    cmdline = harness_read_file(path);
    /* Guard against pid reuse: only kill what is still a redis-server. */
    if (cmdline != NULL && strstr(cmdline, "redis") != NULL)
        kill(pid, SIGKILL);
    free(cmdline);
}

static void
wd_cleanup(wd_record_t *recs, size_t n, const char *bindir)
{
    size_t i;

    /* Newest first: replicas before their primary. */
    for (i = n; i-- > 0;) {
        if (recs[i].path == NULL)
            continue;
        if (recs[i].kind == 'P')
            wd_stop_pg(bindir, recs[i].path);
        else if (recs[i].kind == 'R')
            wd_kill_redis(recs[i].pid);
        /* A tool the test was running (pg_basebackup, initdb) may still be writing into
         * the directory until it notices its server is gone: retry for a while. */
        bool removed = false;
        for (int attempt = 0; attempt < 100 && !removed; attempt++) {
            removed = remove_tree(recs[i].path);
            if (!removed)
                harness_sleep_ms(100);
        }
        if (!removed)
            fprintf(stderr, "harness watchdog: could not remove %s: %s\n", recs[i].path,
                    strerror(errno));
        else
            fprintf(stderr, "harness watchdog: cleaned up %s\n", recs[i].path);
    }
}

static void
wd_handle_line(char *line, wd_record_t **recs, size_t *n, size_t *cap)
{
    char kind = line[0];
    char *p = line + 1, *end;
    long id, pid = 0;
    size_t i;

    if (kind == '\0' || *p != ' ')
        return;
    id = strtol(p + 1, &end, 10);
    if (end == p + 1)
        return;
    p = end;
    if (kind == 'U') {
        for (i = 0; i < *n; i++) {
            if ((*recs)[i].id == id) {
                free((*recs)[i].path);
                (*recs)[i].path = NULL;
            }
        }
        return;
    }
    if (kind == 'R') {
        pid = strtol(p, &end, 10);
        if (end == p)
            return;
        p = end;
    }
    if (*p != ' ' || p[1] != '/')
        return;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        wd_record_t *nr = realloc(*recs, ncap * sizeof(**recs));
        if (nr == NULL)
            return;
        *recs = nr;
        *cap = ncap;
    }
    (*recs)[*n].id = (int)id;
    (*recs)[*n].kind = kind;
    (*recs)[*n].pid = (pid_t)pid;
    (*recs)[*n].path = xstrdup(p + 1);
    (*n)++;
}

static void __attribute__((noreturn)) wd_main(int rfd, const char *bindir)
{
    wd_record_t *recs = NULL;
    size_t n = 0, cap = 0;
    char buf[2 * WD_RECORD_MAX];
    size_t have = 0;
    struct sigaction sa;
    int devnull;

    /* A new session so that a terminal ^C or a process-group kill does not reach us. */
    setsid();
    prctl(PR_SET_NAME, "harness-wdog", 0, 0, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    /* Keep only stdin/out/err and the pipe: no other descriptor of the test may be pinned. */
    for (int fd = 3; fd < 1024; fd++) {
        if (fd != rfd)
            close(fd);
    }
    if (chdir("/") != 0) {
        /* harmless */
    }

    for (;;) {
        ssize_t r = read(rfd, buf + have, sizeof(buf) - have - 1);
        char *start, *nl;

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* EOF: the test process is gone */
        have += (size_t)r;
        buf[have] = '\0';
        start = buf;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            wd_handle_line(start, &recs, &n, &cap);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have >= sizeof(buf) - 1)
            have = 0; /* garbage: drop */
    }
    wd_cleanup(recs, n, bindir);
    _exit(0);
}

static void harness_atexit(void);

/* Starts the watchdog (once); caller holds g_lock. */
static bool
watchdog_ensure(void)
{
    int fds[2] = {-1, -1};
    pid_t mid;
    int status;
    struct sigaction sa;

    if (g_wd_fd >= 0 && g_owner_pid == getpid())
        return true;
    /* The watchdog needs pg_ctl's location even if the first thing registered is not a
     * PostgreSQL server; resolve it before the fork copies our memory. */
    (void)harness_pg_bindir();
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        return false;
    }
    fflush(NULL);
    mid = fork();
    if (mid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (mid == 0) {
        /* Double fork: the watchdog is reparented away from the test process, so killing
         * the test's process tree (ctest timeout) does not kill the watchdog too. */
        pid_t wd = fork();
        if (wd != 0)
            _exit(wd < 0 ? 1 : 0);
        close(fds[1]);
        wd_main(fds[0], g_bindir);
    }
    close(fds[0]);
    while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "harness: could not start the cleanup watchdog\n");
        close(fds[1]);
        return false;
    }
    /* A dead watchdog must not kill us with SIGPIPE; libpq handles SIGPIPE itself. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    g_wd_fd = fds[1];
    g_owner_pid = getpid();
    if (!g_atexit_done) {
        atexit(harness_atexit);
        g_atexit_done = true;
    }
    return true;
}

static void __attribute__((format(printf, 1, 2))) wd_send(const char *fmt, ...)
{
    char rec[WD_RECORD_MAX];
    va_list ap;
    int n;
    size_t off = 0;

    if (g_wd_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(rec, sizeof(rec), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rec)) {
        fprintf(stderr, "harness: watchdog record too long; not registered\n");
        return;
    }
    while (off < (size_t)n) {
        ssize_t w = write(g_wd_fd, rec + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "harness: watchdog write failed: %s\n", strerror(errno));
            return;
        }
        off += (size_t)w;
    }
}

/* Registers something for cleanup; returns its id (0 if the watchdog is unavailable). */
static int
wd_register(char kind, pid_t pid, const char *path)
{
    int id;

    pthread_mutex_lock(&g_lock);
    if (!watchdog_ensure()) {
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    id = g_next_reg_id++;
    if (kind == 'R')
        wd_send("R %d %d %s\n", id, (int)pid, path);
    else
        wd_send("%c %d %s\n", kind, id, path);
    pthread_mutex_unlock(&g_lock);
    return id;
}

static void
wd_unregister(int id)
{
    if (id <= 0)
        return;
    pthread_mutex_lock(&g_lock);
    if (g_owner_pid == getpid())
        wd_send("U %d\n", id);
    pthread_mutex_unlock(&g_lock);
}

static void
harness_atexit(void)
{
    if (g_owner_pid != getpid())
        return; /* a forked child exiting must not stop the parent's servers */
    harness_stop_all();
}

/* ------------------------------------------------------------------------------------------ */
/* PostgreSQL                                                                                 */

static bool
is_executable(const char *dir, const char *tool)
{
    char path[PATH_MAX];
    return fmt_buf(path, sizeof(path), "%s/%s", dir, tool) && access(path, X_OK) == 0;
}

static bool
set_bindir(const char *dir)
{
    if (dir == NULL || dir[0] == '\0' || !is_executable(dir, "initdb") ||
        !is_executable(dir, "pg_ctl") || !is_executable(dir, "postgres"))
        return false;
    return fmt_buf(g_bindir, sizeof(g_bindir), "%s", dir);
}

const char *
harness_pg_bindir(void)
{
    if (!g_bindir_resolved) {
        const char *env = getenv("CONVOY_PG_BINDIR");
        g_bindir_resolved = true;
        g_bindir[0] = '\0';
        if (env != NULL && env[0] != '\0') {
            /* An explicit override is authoritative: no fallback. */
            if (!set_bindir(env))
                g_bindir[0] = '\0';
        } else if (!set_bindir(HARNESS_PG_BINDIR)) {
            const char *argv[] = {"pg_config", "--bindir", NULL};
            char *out = NULL;
            if (harness_run(argv, &out, NULL, 10000) == 0) {
                out[strcspn(out, "\r\n")] = '\0';
                if (!set_bindir(out))
                    g_bindir[0] = '\0';
            }
            free(out);
        }
    }
    return g_bindir[0] != '\0' ? g_bindir : NULL;
}

/* Exits 77 (skip) -- or 1 when $CONVOY_TEST_NO_SKIP is set, as in CI where nothing may skip. */
static void __attribute__((noreturn)) skip_test(void)
{
    const char *no_skip = getenv("CONVOY_TEST_NO_SKIP");

    if (no_skip != NULL && no_skip[0] != '\0' && strcmp(no_skip, "0") != 0) {
        fprintf(stderr, "harness: CONVOY_TEST_NO_SKIP is set: failing instead of skipping\n");
        exit(1);
    }
    exit(HARNESS_EXIT_SKIP);
}

void
harness_require_pg(void)
{
    if (harness_pg_bindir() == NULL) {
        fprintf(stderr, "harness: SKIP: PostgreSQL server binaries (initdb, pg_ctl, postgres) not "
                        "found via $CONVOY_PG_BINDIR or `pg_config --bindir`\n");
        skip_test();
    }
    if (running_as_root()) {
        uid_t uid;
        gid_t gid;
        if (!postgres_ids(&uid, &gid)) {
            fprintf(stderr, "harness: SKIP: running as root but there is no 'postgres' user to "
                            "run the server as\n");
            skip_test();
        }
    }
}

static bool
port_taken_by_us(int port)
{
    for (int i = 0; i < g_nused_ports; i++) {
        if (g_used_ports[i] == port)
            return true;
    }
    return false;
}

/* A currently free 127.0.0.1 TCP port (bind to port 0 and ask the kernel). */
static int
free_port(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int port = -1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
            return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = 0;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
            port = ntohs(sa.sin_port);
        close(fd);
        if (port <= 0)
            return -1;
        pthread_mutex_lock(&g_lock);
        if (!port_taken_by_us(port)) {
            if (g_nused_ports < (int)(sizeof(g_used_ports) / sizeof(g_used_ports[0])))
                g_used_ports[g_nused_ports++] = port;
            pthread_mutex_unlock(&g_lock);
            return port;
        }
        pthread_mutex_unlock(&g_lock);
    }
    return -1;
}

static const char *
tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    return t != NULL && t[0] == '/' ? t : "/tmp";
}

/* mkdtemp under $TMPDIR or /tmp, owned by postgres when we are root. */
static char *
make_tmpdir(const char *prefix, bool for_postgres)
{
    char tmpl[PATH_MAX];
    char *dir = NULL;

    if (!fmt_buf(tmpl, sizeof(tmpl), "%s/%s-XXXXXX", tmp_base(), prefix)) {
        fprintf(stderr, "harness: temporary directory path too long\n");
        return NULL;
    }
    if (strchr(tmpl, '\'') != NULL || strchr(tmpl, ' ') != NULL || strchr(tmpl, '\n') != NULL) {
        fprintf(stderr, "harness: unsupported characters in temporary path %s\n", tmpl);
        return NULL;
    }
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", tmpl, strerror(errno));
        return NULL;
    }
    dir = xstrdup(tmpl);
    if (for_postgres && running_as_root()) {
        uid_t uid;
        gid_t gid;
        if (!postgres_ids(&uid, &gid) || chown(dir, uid, gid) != 0) {
            fprintf(stderr, "harness: cannot chown %s to postgres: %s\n", dir, strerror(errno));
            rmdir(dir);
            free(dir);
            return NULL;
        }
    }
    return dir;
}

static harness_pg_t *
pg_alloc(char *dir, bool is_replica)
{
    harness_pg_t *pg = xmalloc(sizeof(*pg));

    memset(pg, 0, sizeof(*pg));
    pg->dir = dir;
    pg->datadir = xasprintf("%s/data", dir);
    pg->logfile = xasprintf("%s/postgres.log", dir);
    pg->is_replica = is_replica;
    pg->reg_id = wd_register('P', 0, dir);
    return pg;
}

/* Stops (if running) and forgets a half-made or finished server. */
static void
pg_destroy(harness_pg_t *pg)
{
    char pg_ctl[PATH_MAX];

    if (pg == NULL)
        return;
    if (access(pg->datadir, F_OK) == 0 && g_bindir[0] != '\0' &&
        fmt_buf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", g_bindir)) {
        char pidfile[PATH_MAX];
        if (fmt_buf(pidfile, sizeof(pidfile), "%s/postmaster.pid", pg->datadir) &&
            access(pidfile, F_OK) == 0) {
            const char *argv[] = {pg_ctl, "-D", pg->datadir, "-m",   "immediate",
                                  "-w",   "-t", "60",        "stop", NULL};
            run_pg_tool(argv, PG_CTL_TIMEOUT_MS);
        }
    }
    if (!remove_tree(pg->dir))
        fprintf(stderr, "harness: could not remove %s: %s\n", pg->dir, strerror(errno));
    wd_unregister(pg->reg_id);
    free(pg->dir);
    free(pg->datadir);
    free(pg->logfile);
    free(pg);
}

static void
pg_link(harness_pg_t *pg)
{
    pthread_mutex_lock(&g_lock);
    pg->next = g_pgs;
    g_pgs = pg;
    pthread_mutex_unlock(&g_lock);
}

static void
pg_unlink(harness_pg_t *pg)
{
    pthread_mutex_lock(&g_lock);
    for (harness_pg_t **pp = &g_pgs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == pg) {
            *pp = pg->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
}

static bool
pg_set_port(harness_pg_t *pg, int port)
{
    pg->port = port;
    return fmt_buf(pg->conninfo, sizeof(pg->conninfo),
                   "host=127.0.0.1 port=%d dbname=postgres user=postgres "
                   "application_name=convoy_test",
                   port);
}

/* Appends port/socket settings and starts the server; retries on a lost port race. */
static bool
pg_configure_and_start(harness_pg_t *pg, const char *extra_conf)
{
    char conf_path[PATH_MAX], pg_ctl[PATH_MAX];

    if (!fmt_buf(conf_path, sizeof(conf_path), "%s/postgresql.conf", pg->datadir) ||
        !fmt_buf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", g_bindir)) {
        fprintf(stderr, "harness: path too long\n");
        return false;
    }
    if (extra_conf != NULL && !append_file(conf_path, extra_conf))
        return false;
    for (int attempt = 1; attempt <= PG_START_ATTEMPTS; attempt++) {
        char conf[PATH_MAX + 128];
        int port = free_port();
        const char *argv[] = {pg_ctl, "-D", pg->datadir, "-l",    pg->logfile,
                              "-w",   "-t", "60",        "start", NULL};

        if (port < 0) {
            fprintf(stderr, "harness: no free port: %s\n", strerror(errno));
            return false;
        }
        /* Later lines win, so a retry simply appends a new port. */
        if (!fmt_buf(conf, sizeof(conf), "port = %d\nunix_socket_directories = '%s'\n", port,
                     pg->dir) ||
            !append_file(conf_path, conf) || !pg_set_port(pg, port))
            return false;
        if (run_pg_tool(argv, PG_CTL_TIMEOUT_MS))
            return true;
        print_file_tail("server log", pg->logfile, 4000);
        fprintf(stderr, "harness: PostgreSQL failed to start on port %d (attempt %d of %d)\n", port,
                attempt, PG_START_ATTEMPTS);
    }
    return false;
}

harness_pg_t *
harness_pg_start(const harness_pg_opts_t *opts)
{
    harness_pg_t *pg = NULL;
    char *dir = NULL;
    char initdb[PATH_MAX], conf[1024];

    if (harness_pg_bindir() == NULL) {
        fprintf(stderr, "harness: PostgreSQL server binaries not found\n");
        goto fail;
    }
    dir = make_tmpdir("convoy-pg", true);
    if (dir == NULL)
        goto fail;
    pg = pg_alloc(dir, false);
    dir = NULL;
    if (!fmt_buf(initdb, sizeof(initdb), "%s/initdb", g_bindir))
        goto fail;
    {
        const char *argv[] = {initdb, "-D",       pg->datadir, "-A",   "trust",       "--nosync",
                              "-U",   "postgres", "-E",        "UTF8", "--no-locale", NULL};
        if (!run_pg_tool(argv, INITDB_TIMEOUT_MS)) {
            fprintf(stderr, "harness: initdb failed in %s\n", pg->datadir);
            goto fail;
        }
    }
    if (!fmt_buf(conf, sizeof(conf),
                 "\n# convoy test harness\n"
                 "listen_addresses = '127.0.0.1'\n"
                 "fsync = %s\n"
                 "synchronous_commit = %s\n"
                 "full_page_writes = %s\n"
                 "max_connections = 100\n"
                 "wal_level = replica\n"
                 "max_wal_senders = 10\n"
                 "max_replication_slots = 10\n"
                 "hot_standby = on\n"
                 "logging_collector = off\n"
                 "log_min_messages = warning\n"
                 "log_line_prefix = '%%m [%%p] %%q%%a '\n"
                 "shared_buffers = 128MB\n"
                 "max_wal_size = 1GB\n",
                 opts != NULL && opts->fsync ? "on" : "off",
                 opts != NULL && opts->fsync ? "on" : "off",
                 opts != NULL && opts->fsync ? "on" : "off"))
        goto fail;
    if (!pg_configure_and_start(pg, conf))
        goto fail;
    pg_link(pg);
    return pg;
fail:
    fprintf(stderr, "harness: could not start a PostgreSQL primary\n");
    free(dir);
    pg_destroy(pg);
    return NULL;
}

harness_pg_t *
harness_pg_add_replica(harness_pg_t *primary)
{
    harness_pg_t *pg = NULL;
    char *dir = NULL;
    char basebackup[PATH_MAX], port_str[16], conf[512], auto_conf[PATH_MAX];

    if (primary == NULL || harness_pg_bindir() == NULL)
        goto fail;
    dir = make_tmpdir("convoy-replica", true);
    if (dir == NULL)
        goto fail;
    pg = pg_alloc(dir, true);
    dir = NULL;
    if (!fmt_buf(basebackup, sizeof(basebackup), "%s/pg_basebackup", g_bindir) ||
        !fmt_buf(port_str, sizeof(port_str), "%d", primary->port))
        goto fail;
    {
        const char *argv[] = {basebackup, "-R",     "-X",        "stream",   "-c",
                              "fast",     "-D",     pg->datadir, "-h",       "127.0.0.1",
                              "-p",       port_str, "-U",        "postgres", NULL};
        if (!run_pg_tool(argv, PG_CTL_TIMEOUT_MS)) {
            fprintf(stderr, "harness: pg_basebackup from port %d failed\n", primary->port);
            goto fail;
        }
    }
    /* The copied postgresql.conf names the primary's port and socket directory; the new
     * settings appended by pg_configure_and_start override them. A fixed application_name
     * lets us find this replica in the primary's pg_stat_replication. postgresql.auto.conf
     * is read last, so the override goes there. */
    if (!fmt_buf(auto_conf, sizeof(auto_conf), "%s/postgresql.auto.conf", pg->datadir) ||
        !fmt_buf(conf, sizeof(conf),
                 "primary_conninfo = 'host=127.0.0.1 port=%d user=postgres "
                 "application_name=replica_%d'\n",
                 primary->port, pg->reg_id) ||
        !append_file(auto_conf, conf))
        goto fail;
    if (!pg_configure_and_start(pg, "\n# convoy test harness: replica\nhot_standby = on\n"))
        goto fail;
    pg_link(pg);
    return pg;
fail:
    fprintf(stderr, "harness: could not start a replica\n");
    free(dir);
    pg_destroy(pg);
    return NULL;
}

bool
harness_pg_wait_streaming(harness_pg_t *primary, harness_pg_t *replica, int timeout_ms)
{
    PGconn *c = NULL;
    char sql[256];
    bool ok = false;

    if (primary == NULL || replica == NULL || !replica->is_replica)
        goto done;
    if (!fmt_buf(sql, sizeof(sql),
                 "SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' "
                 "AND application_name = 'replica_%d')",
                 replica->reg_id))
        goto done;
    c = harness_connect(primary);
    ok = harness_poll_sql(c, sql, timeout_ms);
    if (!ok) {
        fprintf(stderr, "harness: replica on port %d is not streaming after %d ms\n", replica->port,
                timeout_ms);
        print_file_tail("replica log", replica->logfile, 3000);
    }
done:
    if (c != NULL)
        PQfinish(c);
    return ok;
}

void
harness_pg_stop(harness_pg_t *pg)
{
    if (pg == NULL)
        return;
    pg_unlink(pg);
    pg_destroy(pg);
}

const char *
harness_pg_conninfo(const harness_pg_t *pg)
{
    return pg->conninfo;
}

char *
harness_pg_conninfo_db(const harness_pg_t *pg, const char *dbname)
{
    return xasprintf("host=127.0.0.1 port=%d dbname=%s user=postgres", pg->port,
                     dbname != NULL ? dbname : "postgres");
}

int
harness_pg_port(const harness_pg_t *pg)
{
    return pg->port;
}

const char *
harness_pg_datadir(const harness_pg_t *pg)
{
    return pg->datadir;
}

const char *
harness_pg_logfile(const harness_pg_t *pg)
{
    return pg->logfile;
}

/* ------------------------------------------------------------------------------------------ */
/* Redis                                                                                      */

static const char *
find_redis_server(void)
{
    static char path[PATH_MAX];
    const char *env_path = getenv("PATH");
    const char *p;

    if (path[0] != '\0')
        return path;
    if (env_path == NULL || env_path[0] == '\0')
        env_path = "/usr/local/bin:/usr/bin:/bin";
    p = env_path;
    while (*p != '\0') {
        size_t n = strcspn(p, ":");
        if (n > 0 && fmt_buf(path, sizeof(path), "%.*s/redis-server", (int)n, p) &&
            access(path, X_OK) == 0)
            return path;
        p += n;
        if (*p == ':')
            p++;
    }
    path[0] = '\0';
    return NULL;
}

void
harness_require_redis(void)
{
    if (find_redis_server() == NULL) {
        fprintf(stderr, "harness: SKIP: redis-server not found on PATH\n");
        skip_test();
    }
}

static int
tcp_connect_local(int port, int timeout_ms)
{
    struct sockaddr_in sa;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static char *
redis_command_port(int port, const char *inline_cmd)
{
    char req[512], line[512];
    size_t len = 0;
    char *result = NULL;
    int fd = -1;

    if (!fmt_buf(req, sizeof(req), "%s\r\n", inline_cmd))
        goto done;
    fd = tcp_connect_local(port, 2000);
    if (fd < 0)
        goto done;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto done;
    while (len < sizeof(line) - 1) {
        ssize_t n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto done;
        len += (size_t)n;
        line[len] = '\0';
        if (strstr(line, "\r\n") != NULL)
            break;
    }
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    result = xstrdup(line);
done:
    if (fd >= 0)
        close(fd);
    return result;
}

char *
harness_redis_command(const harness_redis_t *r, const char *inline_cmd)
{
    return redis_command_port(r->port, inline_cmd);
}

typedef struct {
    harness_redis_t *r;
    bool died;
} redis_ready_t;

static bool
redis_ready(void *arg)
{
    redis_ready_t *rr = arg;
    char *reply;
    bool ok;

    if (waitpid(rr->r->pid, NULL, WNOHANG) == rr->r->pid) {
        rr->died = true;
        return true;
    }
    reply = redis_command_port(rr->r->port, "PING");
    ok = reply != NULL && strcmp(reply, "+PONG") == 0;
    free(reply);
    return ok;
}

harness_redis_t *
harness_redis_start(void)
{
    harness_redis_t *r = NULL;
    const char *bin = find_redis_server();
    char *dir = NULL, *log = NULL;

    if (bin == NULL) {
        fprintf(stderr, "harness: redis-server not found on PATH\n");
        goto fail;
    }
    dir = make_tmpdir("convoy-redis", false);
    if (dir == NULL)
        goto fail;
    r = xmalloc(sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->dir = dir;
    r->pid = -1;
    dir = NULL;
    log = xasprintf("%s/redis.log", r->dir);
    r->reg_id = wd_register('D', 0, r->dir);
    for (int attempt = 1; attempt <= 3; attempt++) {
        char port_str[16];
        redis_ready_t rr = {.r = r};
        int rid;

        r->port = free_port();
        if (r->port < 0 || !fmt_buf(port_str, sizeof(port_str), "%d", r->port))
            goto fail;
        {
            const char *argv[] = {bin,      "--port", port_str,       "--bind", "127.0.0.1",
                                  "--save", "",       "--appendonly", "no",     "--daemonize",
                                  "no",     "--dir",  r->dir,         NULL};
            r->pid = spawn_to_files(argv, log, log, true);
        }
        if (r->pid < 0)
            goto fail;
        rid = wd_register('R', r->pid, r->dir);
        if (harness_poll(redis_ready, &rr, REDIS_READY_MS, 10) && !rr.died) {
            wd_unregister(r->reg_id);
            r->reg_id = rid;
            pthread_mutex_lock(&g_lock);
            r->next = g_redises;
            g_redises = r;
            pthread_mutex_unlock(&g_lock);
            free(log);
            return r;
        }
        print_file_tail("redis log", log, 3000);
        fprintf(stderr, "harness: redis-server did not answer PING on port %d (attempt %d)\n",
                r->port, attempt);
        if (!rr.died) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
        }
        wd_unregister(rid);
        r->pid = -1;
    }
fail:
    fprintf(stderr, "harness: could not start redis-server\n");
    if (r != NULL) {
        if (r->pid > 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
        }
        remove_tree(r->dir);
        wd_unregister(r->reg_id);
        free(r->dir);
        free(r);
    }
    free(dir);
    free(log);
    return NULL;
}

int
harness_redis_port(const harness_redis_t *r)
{
    return r->port;
}

void
harness_redis_stop(harness_redis_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    for (harness_redis_t **pp = &g_redises; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        if (harness_wait(r->pid, 5000) < 0) {
            kill(r->pid, SIGKILL);
            harness_wait(r->pid, 5000);
        }
    }
    if (!remove_tree(r->dir))
        fprintf(stderr, "harness: could not remove %s: %s\n", r->dir, strerror(errno));
    wd_unregister(r->reg_id);
    free(r->dir);
    free(r);
}

/* ------------------------------------------------------------------------------------------ */
/* scratch files, cleanup                                                                     */

char *
harness_mkdtemp(const char *prefix)
{
    char *dir = make_tmpdir(prefix != NULL ? prefix : "convoy-test", false);
    scratch_dir_t *sd;

    if (dir == NULL)
        return NULL;
    sd = xmalloc(sizeof(*sd));
    sd->path = xstrdup(dir);
    sd->reg_id = wd_register('D', 0, dir);
    pthread_mutex_lock(&g_lock);
    sd->next = g_dirs;
    g_dirs = sd;
    pthread_mutex_unlock(&g_lock);
    return dir;
}

char *
harness_write_file(const char *dir, const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    bool ok = false;

    if (f == NULL) {
        fprintf(stderr, "harness: cannot create %s: %s\n", path, strerror(errno));
        goto done;
    }
    if (content[0] != '\0' && fputs(content, f) == EOF) {
        fprintf(stderr, "harness: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok) {
        free(path);
        return NULL;
    }
    return path;
}

void
harness_stop_all(void)
{
    for (;;) {
        harness_pg_t *pg;
        pthread_mutex_lock(&g_lock);
        pg = g_pgs;
        pthread_mutex_unlock(&g_lock);
        if (pg == NULL)
            break;
        harness_pg_stop(pg); /* newest first: replicas before primaries */
    }
    for (;;) {
        harness_redis_t *r;
        pthread_mutex_lock(&g_lock);
        r = g_redises;
        pthread_mutex_unlock(&g_lock);
        if (r == NULL)
            break;
        harness_redis_stop(r);
    }
    for (;;) {
        scratch_dir_t *sd;
        pthread_mutex_lock(&g_lock);
        sd = g_dirs;
        if (sd != NULL)
            g_dirs = sd->next;
        pthread_mutex_unlock(&g_lock);
        if (sd == NULL)
            break;
        if (!remove_tree(sd->path))
            fprintf(stderr, "harness: could not remove %s: %s\n", sd->path, strerror(errno));
        wd_unregister(sd->reg_id);
        free(sd->path);
        free(sd);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* SQL helpers and polling                                                                    */

PGconn *
harness_connect(const harness_pg_t *pg)
{
    PGconn *c = PQconnectdb(pg->conninfo);

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect with \"%s\": %s", pg->conninfo, PQerrorMessage(c));
        PQfinish(c);
        exit(1);
    }
    return c;
}

bool
harness_exec(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "harness: SQL failed: %s\n  in: %.500s\n", PQerrorMessage(c), sql);
    PQclear(res);
    return ok;
}

char *
harness_query_value(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    char *value = NULL;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "harness: query failed: %s\n  in: %.500s\n", PQerrorMessage(c), sql);
        goto done;
    }
    if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0))
        goto done;
    value = xstrdup(PQgetvalue(res, 0, 0));
done:
    PQclear(res);
    return value;
}

bool
harness_query_int(PGconn *c, const char *sql, int64_t *out)
{
    char *v = harness_query_value(c, sql);
    char *end = NULL;
    long long n;
    bool ok = false;

    if (v == NULL) {
        fprintf(stderr, "harness: no integer from: %.500s\n", sql);
        goto done;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0') {
        fprintf(stderr, "harness: not an integer: \"%s\" from: %.500s\n", v, sql);
        goto done;
    }
    *out = (int64_t)n;
    ok = true;
done:
    free(v);
    return ok;
}

bool
harness_poll(bool (*cond)(void *arg), void *arg, int timeout_ms, int interval_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    if (interval_ms < 1)
        interval_ms = 1;
    for (;;) {
        if (cond(arg))
            return true;
        if (harness_now_ms() >= deadline)
            return false;
        harness_sleep_ms(interval_ms);
    }
}

typedef struct {
    PGconn *c;
    const char *sql;
} poll_sql_t;

static bool
poll_sql_cond(void *arg)
{
    poll_sql_t *ps = arg;
    char *v = harness_query_value(ps->c, ps->sql);
    bool ok = v != NULL && strcmp(v, "t") == 0;

    free(v);
    return ok;
}

bool
harness_poll_sql(PGconn *c, const char *sql_returning_bool, int timeout_ms)
{
    poll_sql_t ps = {.c = c, .sql = sql_returning_bool};
    return harness_poll(poll_sql_cond, &ps, timeout_ms, 20);
}

/* Drops the \restrict/\unrestrict lines newer pg_dump releases emit with a random key, so
 * that two dumps of the same schema compare equal. Edits text in place. */
static void
strip_restrict_lines(char *text)
{
    char *src = text, *dst = text;

    while (*src != '\0') {
        size_t len = strcspn(src, "\n");
        bool drop = strncmp(src, "\\restrict ", 10) == 0 || strncmp(src, "\\unrestrict ", 12) == 0;

        if (src[len] == '\n')
            len++;
        if (!drop) {
            memmove(dst, src, len);
            dst += len;
        }
        src += len;
    }
    *dst = '\0';
}

bool
harness_schema_dump(const harness_pg_t *pg, const char *dbname, char **out)
{
    return harness_schema_dump_excluding(pg, dbname, NULL, out);
}

bool
harness_schema_dump_excluding(const harness_pg_t *pg,
                              const char *dbname,
                              const char *exclude_schema,
                              char **out)
{
    char pg_dump[PATH_MAX], port_str[16];
    char *err = NULL;
    int rc;
    bool ok = false;

    *out = NULL;
    if (harness_pg_bindir() == NULL || !fmt_buf(pg_dump, sizeof(pg_dump), "%s/pg_dump", g_bindir) ||
        !fmt_buf(port_str, sizeof(port_str), "%d", pg->port))
        goto done;
    {
        const char *argv[] = {pg_dump,
                              "--schema-only",
                              "--no-password",
                              "-h",
                              "127.0.0.1",
                              "-p",
                              port_str,
                              "-U",
                              "postgres",
                              "-d",
                              dbname != NULL ? dbname : "postgres",
                              exclude_schema != NULL ? "-N" : NULL,
                              exclude_schema,
                              NULL};
        rc = harness_run(argv, out, &err, 60000);
    }
    if (rc != 0) {
        fprintf(stderr, "harness: pg_dump exited with %d: %s\n", rc, err != NULL ? err : "");
        free(*out);
        *out = NULL;
        goto done;
    }
    strip_restrict_lines(*out);
    ok = true;
done:
    free(err);
    return ok;
}
