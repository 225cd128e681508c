/*
 * supervisor: forks, execs, reaps and restarts the spawned workers.
 *
 * The broker has other threads (the batch writer, ZeroMQ's I/O threads), so
 * between fork and exec the child calls only async-signal-safe functions:
 * everything it needs (argv, environment, the exec error message) is built
 * by the parent before the fork. All signals are blocked across the fork so
 * that none reaches libevent's handler in the child, whose self-pipe it
 * still shares with the parent: a SIGTERM there would stop the broker.
 *
 * Only our own pids are waited for (never waitpid(-1)), so the supervisor
 * does not steal the children of other code in the same process.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/alloc.h"
#include "common/log.h"
#include "daemon/supervisor.h"

#define DEFAULT_PROGRAM  "mandate-worker"
#define BACKOFF_MIN_MS   100u
#define BACKOFF_MAX_MS   30000u
#define MIN_UPTIME_MS    10000u /* a child that lived this long resets the backoff */
#define DESTROY_STOP_MS  5000u
#define STOP_POLL_MS     5u
#define EXIT_EXEC_FAILED 127

extern char **environ;

struct area_spawn {
    char *name;
    char **argv;      /* NULL-terminated, owned */
    char *exec_error; /* what the child writes to stderr when exec fails, up to the errno text */
};

struct child {
    struct supervisor *sup;
    size_t area;           /* index into sup->areas */
    pid_t pid;             /* 0 while not running */
    uint64_t started_ns;   /* monotonic */
    unsigned quick_exits;  /* consecutive exits before MIN_UPTIME_MS */
    struct event *restart; /* timer for the next start */
};

struct supervisor {
    struct event_base *base;
    struct event *sigchld;
    char *program;  /* execve'd if it holds a '/', else searched in $PATH */
    char *fallback; /* searched in $PATH if program cannot be run, or NULL */
    long max_fd;    /* highest fd to close in a child if close_range() is missing */
    struct area_spawn *areas;
    size_t nareas;
    struct child *children;
    size_t nchildren;
    uint64_t restarts;
    bool stopped;
};

/* ------------------------------------------------------------------------ */
/* In the child, between fork and exec: async-signal-safe calls only. */

static void
s_child_close_fds(long max_fd)
{
    if (close_range(3, ~0u, 0) == 0)
        return;
    for (long fd = 3; fd <= max_fd; fd++)
        close((int)fd);
}

static void
s_child_exec_failed(const char *prefix, int err)
{
    char buf[1024];
    const char *desc = strerrordesc_np(err);
    if (!desc)
        desc = "unknown error";
    size_t n = strlen(prefix), m = strlen(desc);
    if (n > sizeof buf - 1)
        n = sizeof buf - 1;
    if (m > sizeof buf - 1 - n)
        m = sizeof buf - 1 - n;
    memcpy(buf, prefix, n);
    memcpy(buf + n, desc, m);
    buf[n + m] = '\n';
    /* One write, so that the line does not interleave with the broker's. */
    ssize_t w = write(STDERR_FILENO, buf, n + m + 1);
    (void)w;
}

static _Noreturn void
s_child(const struct supervisor *s, const struct area_spawn *a, char *const envp[], pid_t parent)
{
    /* A worker starts with a clean slate: default dispositions (libevent
     * installed handlers; an ignored signal would stay ignored across exec)
     * and, once it will die with us, an empty mask. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* EINVAL for the C library's own: fine */
    /* PDEATHSIG follows the forking thread, the loop thread, which lives as
     * long as the broker. If the broker died before prctl, nobody would
     * ever signal us: getppid() tells. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(EXIT_FAILURE);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The audit log, the broker's sockets and the loop's fds are not the worker's. */
    s_child_close_fds(s->max_fd);

    if (strchr(s->program, '/'))
        execve(s->program, a->argv, envp);
    else
        execvpe(s->program, a->argv, envp);
    int err = errno;
    if (s->fallback && (err == ENOENT || err == EACCES)) {
        execvpe(s->fallback, a->argv, envp);
        err = errno;
    }
    s_child_exec_failed(a->exec_error, err);
    _exit(EXIT_EXEC_FAILED);
}

/* ------------------------------------------------------------------------ */
/* In the parent. */

/* The broker's environment minus what systemd meant for the broker alone. */
static char **
s_child_env(void)
{
    static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                       "LISTEN_PID=",    "LISTEN_FDS=",   "LISTEN_FDNAMES="};
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    char **env = xcalloc(n + 1, sizeof *env);
    for (size_t i = 0; i < n; i++) {
        bool keep = true;
        for (size_t d = 0; d < sizeof drop / sizeof drop[0] && keep; d++)
            keep = strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
        if (keep)
            env[k++] = environ[i];
    }
    return env;
}

static unsigned
s_backoff_ms(unsigned quick_exits)
{
    unsigned ms = BACKOFF_MIN_MS;
    for (unsigned i = 0; i < quick_exits && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void
s_describe_status(int status, char *buf, size_t size)
{
    if (status < 0)
        snprintf(buf, size, "was reaped elsewhere (status unknown)");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_EXEC_FAILED)
        snprintf(buf, size, "exited with status %d (could not exec the worker program?)",
                 EXIT_EXEC_FAILED);
    else if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        snprintf(buf, size, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
                 abbrev ? abbrev : "?", WCOREDUMP(status) ? ", core dumped" : "");
    } else
        snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
}

/* Forks and execs child c. 0, or -errno (logged) if fork failed. */
static int
s_spawn(struct supervisor *s, struct child *c)
{
    const struct area_spawn *a = &s->areas[c->area];
    char **envp = s_child_env();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        s_child(s, a, envp, parent);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(envp);
    if (pid < 0) {
        log_err("area %s: cannot fork a worker: %s", a->name, strerror(err));
        return -err;
    }
    c->pid = pid;
    c->started_ns = monotonic_ns();
    return 0;
}

static void
s_schedule_restart(struct child *c, unsigned delay_ms)
{
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    evtimer_add(c->restart, &tv);
}

static void
s_on_restart(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    struct supervisor *s = c->sup;
    if (s->stopped || c->pid > 0)
        return;
    if (s_spawn(s, c) < 0) {
        /* Out of processes or memory: try again later, backing off as for a crash. */
        unsigned delay = s_backoff_ms(c->quick_exits++);
        log_warn("area %s: retrying in %u ms", s->areas[c->area].name, delay);
        s_schedule_restart(c, delay);
        return;
    }
    s->restarts++;
    log_notice("area %s: worker %ld started (restart %llu)", s->areas[c->area].name, (long)c->pid,
               (unsigned long long)s->restarts);
}

/* Child c has been reaped with status (-1: unknown). Logs it; restarts it unless stopping. */
static void
s_exited(struct supervisor *s, struct child *c, int status)
{
    const char *area = s->areas[c->area].name;
    long pid = (long)c->pid;
    uint64_t lived_ms = (monotonic_ns() - c->started_ns) / 1000000u;
    char how[96];
    s_describe_status(status, how, sizeof how);
    c->pid = 0;
    if (s->stopped) {
        log_info("area %s: worker %ld %s", area, pid, how);
        return;
    }
    if (lived_ms >= MIN_UPTIME_MS)
        c->quick_exits = 0;
    unsigned delay = s_backoff_ms(c->quick_exits);
    if (c->quick_exits < UINT_MAX)
        c->quick_exits++;
    log_warn("area %s: worker %ld %s after %llu ms; restarting in %u ms", area, pid, how,
             (unsigned long long)lived_ms, delay);
    s_schedule_restart(c, delay);
}

/* Reaps the children that have exited; returns how many still run. */
static size_t
s_reap(struct supervisor *s)
{
    size_t running = 0;
    for (size_t i = 0; i < s->nchildren; i++) {
        struct child *c = &s->children[i];
        if (c->pid <= 0)
            continue;
        int status;
        pid_t r;
        do
            r = waitpid(c->pid, &status, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            running++;
        else
            s_exited(s, c, r < 0 ? -1 : status);
    }
    return running;
}

static void
s_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    s_reap(arg);
}

/* cfg->path when it names a readable regular file (made absolute), else NULL. */
static char *
s_config_file(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0)
        return NULL;
    char *abs = realpath(path, NULL);
    return abs ? abs : xstrdup(path);
}

/* broker.worker_program, else mandate-worker beside us with $PATH as the fallback. */
static void
s_resolve_program(struct supervisor *s, const char *configured)
{
    if (configured && *configured) {
        s->program = xstrdup(configured);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
    if (!slash) {
        s->program = xstrdup(DEFAULT_PROGRAM);
        return;
    }
    size_t dirlen = (size_t)(slash - exe) + 1;
    s->program = xmalloc(dirlen + sizeof DEFAULT_PROGRAM);
    memcpy(s->program, exe, dirlen);
    memcpy(s->program + dirlen, DEFAULT_PROGRAM, sizeof DEFAULT_PROGRAM);
    s->fallback = xstrdup(DEFAULT_PROGRAM);
}

static char *s_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return buf;
}

static void
s_area_init(struct supervisor *s, struct area_spawn *a, const struct area_conf *conf,
            const char *endpoint, const char *config_file)
{
    size_t argc = 0;
    a->name = xstrdup(conf->name);
    a->argv = xcalloc(10, sizeof *a->argv);
    a->argv[argc++] = xstrdup(s->fallback ? DEFAULT_PROGRAM : s->program);
    a->argv[argc++] = xstrdup("--area");
    a->argv[argc++] = xstrdup(conf->name);
    a->argv[argc++] = xstrdup("--credit");
    a->argv[argc++] = s_asprintf("%u", conf->credit);
    a->argv[argc++] = xstrdup("--endpoint");
    a->argv[argc++] = xstrdup(endpoint);
    if (config_file) {
        a->argv[argc++] = xstrdup("-c");
        a->argv[argc++] = xstrdup(config_file);
    }
    /* The child cannot format: it appends strerror's text to this. Shaped
     * like log.c's lines, less the timestamp it cannot produce. */
    const char *what = s->fallback ? " nor " : "";
    const char *fallback = s->fallback ? s->fallback : "";
    const char *from_path = s->fallback ? " from $PATH" : "";
    if (getenv("JOURNAL_STREAM"))
        a->exec_error = s_asprintf("<%d>workers: area %s: cannot exec %s%s%s%s: ", LOG_ERR, a->name,
                                   s->program, what, fallback, from_path);
    else
        a->exec_error = s_asprintf("mandated[%ld] error: workers: area %s: cannot exec %s%s%s%s: ",
                                   (long)getpid(), a->name, s->program, what, fallback, from_path);
}

struct supervisor *
supervisor_new(struct event_base *base, const struct mandated_config *cfg)
{
    struct supervisor *s = xcalloc(1, sizeof *s);
    s->base = base;
    struct rlimit rl;
    s->max_fd =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= INT_MAX
            ? (long)rl.rlim_cur - 1
            : 65535;
    s_resolve_program(s, cfg->broker.worker_program);
    char *config_file = s_config_file(cfg->path);

    for (size_t i = 0; i < cfg->nareas; i++)
        if (cfg->areas[i].spawn)
            s->nchildren += cfg->areas[i].workers;
    s->areas = xcalloc(cfg->nareas ? cfg->nareas : 1, sizeof *s->areas);
    s->children = xcalloc(s->nchildren ? s->nchildren : 1, sizeof *s->children);
    for (size_t i = 0, k = 0; i < cfg->nareas; i++) {
        const struct area_conf *conf = &cfg->areas[i];
        if (!conf->spawn || conf->workers == 0)
            continue;
        s_area_init(s, &s->areas[s->nareas], conf, cfg->broker.workers, config_file);
        for (unsigned w = 0; w < conf->workers; w++, k++) {
            s->children[k].sup = s;
            s->children[k].area = s->nareas;
        }
        s->nareas++;
    }

    if (s->nchildren == 0) {
        log_info("workers: no area has spawn = yes and workers > 0; none started");
        free(config_file);
        return s;
    }
    if (s->fallback && access(s->program, X_OK) < 0)
        log_warn("workers: no %s (%s); using %s from $PATH", s->program, strerror(errno),
                 s->fallback);

    s->sigchld = evsignal_new(base, SIGCHLD, s_on_sigchld, s);
    if (!s->sigchld || event_add(s->sigchld, NULL) < 0) {
        log_err("workers: cannot watch SIGCHLD");
        goto out_destroy;
    }
    for (size_t i = 0; i < s->nchildren; i++) {
        s->children[i].restart = evtimer_new(base, s_on_restart, &s->children[i]);
        if (!s->children[i].restart) {
            log_err("workers: cannot create a restart timer");
            goto out_destroy;
        }
    }
    for (size_t i = 0; i < s->nchildren; i++) {
        if (s_spawn(s, &s->children[i]) < 0)
            goto out_destroy;
        log_debug("area %s: worker %ld started", s->areas[s->children[i].area].name,
                  (long)s->children[i].pid);
    }
    log_notice("workers: started %zu for %zu area(s): %s --endpoint %s%s%s", s->nchildren,
               s->nareas, s->program, cfg->broker.workers, config_file ? " -c " : "",
               config_file ? config_file : "");
    free(config_file);
    return s;

out_destroy:
    free(config_file);
    supervisor_destroy(&s);
    return NULL;
}

void
supervisor_stop(struct supervisor *s, unsigned timeout_ms)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].restart)
            event_free(s->children[i].restart);
    if (s->sigchld)
        event_free(s->sigchld);
    s->sigchld = NULL;
    for (size_t i = 0; i < s->nchildren; i++)
        s->children[i].restart = NULL;

    size_t running = 0;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].pid > 0 && kill(s->children[i].pid, SIGTERM) == 0)
            running++;
    if (running == 0) {
        s_reap(s);
        return;
    }
    log_info("workers: stopping %zu", running);

    uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    while ((running = s_reap(s)) > 0) {
        uint64_t now = monotonic_ns();
        if (now >= deadline)
            break;
        uint64_t step =
            deadline - now < STOP_POLL_MS * 1000000u ? deadline - now : STOP_POLL_MS * 1000000u;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step};
        nanosleep(&ts, NULL);
    }
    if (running == 0)
        return;

    log_warn("workers: %zu still running %u ms after SIGTERM; killing them", running, timeout_ms);
    for (size_t i = 0; i < s->nchildren; i++) {
        struct child *c = &s->children[i];
        if (c->pid <= 0)
            continue;
        kill(c->pid, SIGKILL);
        int status;
        pid_t r;
        do
            r = waitpid(c->pid, &status, 0);
        while (r < 0 && errno == EINTR);
        s_exited(s, c, r < 0 ? -1 : status);
    }
}

void
supervisor_destroy(struct supervisor **s_p)
{
    struct supervisor *s = *s_p;
    if (!s)
        return;
    supervisor_stop(s, DESTROY_STOP_MS);
    for (size_t a = 0; a < s->nareas; a++) {
        for (char **arg = s->areas[a].argv; arg && *arg; arg++)
            free(*arg);
        free(s->areas[a].argv);
        free(s->areas[a].name);
        free(s->areas[a].exec_error);
    }
    free(s->areas);
    free(s->children);
    free(s->program);
    free(s->fallback);
    free(s);
    *s_p = NULL;
}

size_t
supervisor_running(const struct supervisor *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nchildren; i++)
        n += s->children[i].pid > 0;
    return n;
}

size_t
supervisor_size(const struct supervisor *s)
{
    return s->nchildren;
}

uint64_t
supervisor_restarts(const struct supervisor *s)
{
    return s->restarts;
}

pid_t
supervisor_pid(const struct supervisor *s, size_t i)
{
    return i < s->nchildren ? s->children[i].pid : 0;
}

const char *
supervisor_area(const struct supervisor *s, size_t i)
{
    return i < s->nchildren ? s->areas[s->children[i].area].name : NULL;
}
