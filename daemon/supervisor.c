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
 *
 * A reconfigure (SIGHUP) changes what is wanted, never what runs behind a
 * child's back: each area's argv is rebuilt, and a child keeps the command
 * line it was started with until it exits. Children are heap objects that
 * their timers point to, so the list of configured children can be rebuilt
 * in the new config's order without moving them; those no longer wanted are
 * moved to a list of their own ("retiring"): SIGTERM, SIGKILL after the
 * grace period, reaped and freed from the SIGCHLD event, never restarted.
 * Areas are kept by name until the supervisor goes, so that a retiring child
 * always has its area, and an area that comes back reuses its entry.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
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
#define ARGV_MAX         14 /* PROGRAM and six option pairs, then NULL */

extern char **environ;

struct area_spawn {
    char *name;
    char **argv;      /* NULL-terminated, owned; rebuilt at each reconfigure */
    char *exec_error; /* what the child writes to stderr when exec fails, up to the errno text */
};

struct child {
    struct supervisor *sup;
    struct area_spawn *area; /* one of sup->areas */
    pid_t pid;               /* 0 while not running */
    uint64_t started_ns;     /* monotonic */
    unsigned quick_exits;    /* consecutive exits before MIN_UPTIME_MS */
    struct event *restart;   /* timer for the next start */
    struct event *kill;      /* retiring: SIGKILL when the grace period is over */
    unsigned grace_ms;       /* retiring: that period, as it was when it began */
};

struct supervisor {
    struct event_base *base;
    struct event *sigchld;
    char *program;             /* execve'd if it holds a '/', else searched in $PATH */
    char *fallback;            /* searched in $PATH if program cannot be run, or NULL */
    long max_fd;               /* highest fd to close in a child if close_range() is missing */
    unsigned grace_ms;         /* SIGTERM to SIGKILL for a retiring child */
    struct area_spawn **areas; /* every area that has had children, by name */
    size_t nareas;
    struct child **children; /* the configured ones, in the config's area order */
    size_t nchildren;
    struct child **retiring; /* no longer configured, SIGTERM sent, not yet reaped */
    size_t nretiring;
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
    const struct area_spawn *a = c->area;
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

/* Starts c from a timer or a reconfigure: a failed fork is tried again later,
 * backing off as for a crash (out of processes or memory). */
static bool
s_start_or_retry(struct supervisor *s, struct child *c)
{
    if (s_spawn(s, c) == 0)
        return true;
    unsigned delay = s_backoff_ms(c->quick_exits++);
    log_warn("area %s: retrying in %u ms", c->area->name, delay);
    s_schedule_restart(c, delay);
    return false;
}

static void
s_on_restart(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    struct supervisor *s = c->sup;
    if (s->stopped || c->pid > 0 || !s_start_or_retry(s, c))
        return;
    s->restarts++;
    log_notice("area %s: worker %ld started (restart %llu)", c->area->name, (long)c->pid,
               (unsigned long long)s->restarts);
}

/* A retiring child's grace period is over. */
static void
s_on_kill(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    if (c->pid <= 0)
        return;
    log_warn("area %s: worker %ld still running %u ms after SIGTERM; killing it", c->area->name,
             (long)c->pid, c->grace_ms);
    kill(c->pid, SIGKILL);
}

/* A child of area a with its restart timer, not started; NULL if libevent fails (logged). */
static struct child *
s_child_new(struct supervisor *s, struct area_spawn *a)
{
    struct child *c = xcalloc(1, sizeof *c);
    c->sup = s;
    c->area = a;
    c->restart = evtimer_new(s->base, s_on_restart, c);
    if (!c->restart) {
        log_err("workers: area %s: cannot create a restart timer", a->name);
        free(c);
        return NULL;
    }
    return c;
}

static void
s_child_free(struct child *c)
{
    if (c->restart)
        event_free(c->restart);
    if (c->kill)
        event_free(c->kill);
    free(c);
}

/* Child c has been reaped with status (-1: unknown). Logs it; restarts it unless stopping. */
static void
s_exited(struct supervisor *s, struct child *c, int status)
{
    const char *area = c->area->name;
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

/* A retiring child has been reaped with status (-1: unknown): logged and freed. */
static void
s_retired(struct child *c, int status)
{
    char how[96];
    s_describe_status(status, how, sizeof how);
    log_info("area %s: worker %ld %s (no longer configured)", c->area->name, (long)c->pid, how);
    s_child_free(c);
}

/* Reaps c if it has exited (flags 0: waits for it). True with *ret_status
 * (-1: unknown) once reaped. */
static bool
s_wait(const struct child *c, int flags, int *ret_status)
{
    int status;
    pid_t r;
    do
        r = waitpid(c->pid, &status, flags);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    *ret_status = r < 0 ? -1 : status;
    return true;
}

/* Reaps the children that have exited, configured and retiring; returns how many still run. */
static size_t
s_reap(struct supervisor *s)
{
    size_t running = 0, kept = 0;
    int status;
    for (size_t i = 0; i < s->nchildren; i++) {
        struct child *c = s->children[i];
        if (c->pid <= 0)
            continue;
        if (s_wait(c, WNOHANG, &status))
            s_exited(s, c, status);
        else
            running++;
    }
    for (size_t i = 0; i < s->nretiring; i++) {
        struct child *c = s->retiring[i];
        if (s_wait(c, WNOHANG, &status)) {
            s_retired(c, status);
        } else {
            s->retiring[kept++] = c;
            running++;
        }
    }
    s->nretiring = kept;
    return running;
}

static void
s_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    s_reap(arg);
}

/*
 * A child no longer configured: one that is not running is dropped; one
 * that runs gets SIGTERM, as at stop, and SIGKILL if it is still there
 * after the grace period. Never blocks: the SIGCHLD event reaps it.
 */
static void
s_retire(struct supervisor *s, struct child *c)
{
    if (c->pid <= 0) {
        s_child_free(c); /* and with it a restart it was waiting for */
        return;
    }
    evtimer_del(c->restart);
    log_info("area %s: stopping worker %ld", c->area->name, (long)c->pid);
    kill(c->pid, SIGTERM);
    c->kill = evtimer_new(s->base, s_on_kill, c);
    if (c->kill) {
        c->grace_ms = s->grace_ms;
        struct timeval tv = {.tv_sec = c->grace_ms / 1000, .tv_usec = (c->grace_ms % 1000) * 1000};
        evtimer_add(c->kill, &tv);
    } else {
        log_err("area %s: cannot create a timer; worker %ld gets no SIGKILL before the stop",
                c->area->name, (long)c->pid);
    }
    s->retiring = xrealloc(s->retiring, (s->nretiring + 1) * sizeof *s->retiring);
    s->retiring[s->nretiring++] = c;
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

/*
 * A path of the config made absolute against the broker's working
 * directory, which relative paths in the config resolve against: the
 * worker gets the file the broker means whatever its own directory. Not
 * realpath(): the file need not exist yet, and the worker reports it if not.
 */
static char *
s_absolute(const char *path)
{
    if (path[0] == '/')
        return xstrdup(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        log_warn("workers: getcwd: %s; passing %s as it is", strerror(errno), path);
        return xstrdup(path);
    }
    char *abs = xasprintf("%s/%s", cwd, path);
    free(cwd);
    return abs;
}

/* broker.worker_program, else mandate-worker beside us with $PATH as the fallback. */
static void
s_resolve_program(struct supervisor *s, const char *configured)
{
    free(s->program);
    free(s->fallback);
    s->program = s->fallback = NULL;
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

/* What every spawned worker of one config is told besides its area and credit. */
struct spawn_args {
    const char *endpoint;
    char *config_file; /* NULL: no -c */
    char *key;         /* workers_curve = on: the pair and the broker's key; else NULL */
    char *server_key;
};

static void
s_spawn_args_init(struct spawn_args *sa, const struct mandated_config *cfg)
{
    sa->endpoint = cfg->broker.workers;
    sa->config_file = s_config_file(cfg->path);
    sa->key = sa->server_key = NULL;
    /* The config refuses workers_curve = on without a pair when areas spawn. */
    if (cfg->security.workers_curve && cfg->security.worker_secret_key[0]) {
        sa->key = s_absolute(cfg->security.worker_secret_key);
        sa->server_key = s_absolute(cfg->security.server_public_key);
    }
}

static void
s_spawn_args_release(struct spawn_args *sa)
{
    free(sa->config_file);
    free(sa->key);
    free(sa->server_key);
}

static void
s_area_free_argv(struct area_spawn *a)
{
    for (char **arg = a->argv; arg && *arg; arg++)
        free(*arg);
    free(a->argv);
    free(a->exec_error);
    a->argv = NULL;
    a->exec_error = NULL;
}

/* (Re)builds a's command line from its section and the config's spawn_args. */
static void
s_area_set_argv(struct supervisor *s, struct area_spawn *a, const struct area_conf *conf,
                const struct spawn_args *sa)
{
    size_t argc = 0;
    s_area_free_argv(a);
    a->argv = xcalloc(ARGV_MAX, sizeof *a->argv);
    a->argv[argc++] = xstrdup(s->fallback ? DEFAULT_PROGRAM : s->program);
    a->argv[argc++] = xstrdup("--area");
    a->argv[argc++] = xstrdup(conf->name);
    a->argv[argc++] = xstrdup("--credit");
    a->argv[argc++] = xasprintf("%u", conf->credit);
    a->argv[argc++] = xstrdup("--endpoint");
    a->argv[argc++] = xstrdup(sa->endpoint);
    if (sa->config_file) {
        a->argv[argc++] = xstrdup("-c");
        a->argv[argc++] = xstrdup(sa->config_file);
    }
    if (sa->key) {
        a->argv[argc++] = xstrdup("--key");
        a->argv[argc++] = xstrdup(sa->key);
        a->argv[argc++] = xstrdup("--server-key");
        a->argv[argc++] = xstrdup(sa->server_key);
    }
    /* The child cannot format: it appends strerror's text to this. Shaped
     * like log.c's lines, less the timestamp it cannot produce. */
    const char *what = s->fallback ? " nor " : "";
    const char *fallback = s->fallback ? s->fallback : "";
    const char *from_path = s->fallback ? " from $PATH" : "";
    if (getenv("JOURNAL_STREAM"))
        a->exec_error = xasprintf("<%d>workers: area %s: cannot exec %s%s%s%s: ", LOG_ERR, a->name,
                                  s->program, what, fallback, from_path);
    else
        a->exec_error = xasprintf("mandated[%ld] error: workers: area %s: cannot exec %s%s%s%s: ",
                                  (long)getpid(), a->name, s->program, what, fallback, from_path);
}

/* The area called name, added if it has never had children here. */
static struct area_spawn *
s_area(struct supervisor *s, const char *name)
{
    for (size_t i = 0; i < s->nareas; i++)
        if (strcmp(s->areas[i]->name, name) == 0)
            return s->areas[i];
    struct area_spawn *a = xcalloc(1, sizeof *a);
    a->name = xstrdup(name);
    s->areas = xrealloc(s->areas, (s->nareas + 1) * sizeof *s->areas);
    s->areas[s->nareas++] = a;
    return a;
}

static bool
s_spawns(const struct area_conf *conf)
{
    return conf->spawn && conf->workers > 0;
}

/* Watches SIGCHLD once there is a child to reap. 0 or -ENOMEM (logged). */
static int
s_watch_sigchld(struct supervisor *s)
{
    if (s->sigchld)
        return 0;
    s->sigchld = evsignal_new(s->base, SIGCHLD, s_on_sigchld, s);
    if (!s->sigchld || event_add(s->sigchld, NULL) < 0) {
        log_err("workers: cannot watch SIGCHLD");
        if (s->sigchld)
            event_free(s->sigchld);
        s->sigchld = NULL;
        return -ENOMEM;
    }
    return 0;
}

/*
 * Makes the configured children those cfg asks for: per area with spawn =
 * yes and workers > 0, in cfg's order, the children it already has (oldest
 * first) up to `workers`, then new ones, which go to fresh (*ret_nfresh of
 * them); every other child is retired. -ENOMEM if a new child could not be
 * made (logged; it is left out).
 */
static int
s_rebuild(struct supervisor *s, const struct mandated_config *cfg, const struct spawn_args *sa,
          size_t want, struct child **fresh, size_t *ret_nfresh)
{
    struct child **old = s->children, **next = xcalloc(want ? want : 1, sizeof *next);
    size_t nold = s->nchildren, k = 0, nfresh = 0;
    int rc = 0;

    for (size_t i = 0; i < cfg->nareas; i++) {
        const struct area_conf *conf = &cfg->areas[i];
        if (!s_spawns(conf))
            continue;
        struct area_spawn *a = s_area(s, conf->name);
        s_area_set_argv(s, a, conf, sa);
        unsigned have = 0;
        for (size_t j = 0; j < nold && have < conf->workers; j++)
            if (old[j] && old[j]->area == a) {
                next[k++] = old[j];
                old[j] = NULL;
                have++;
            }
        for (; have < conf->workers; have++) {
            struct child *c = s_child_new(s, a);
            if (!c) {
                rc = -ENOMEM;
                continue;
            }
            fresh[nfresh++] = c;
            next[k++] = c;
        }
    }
    for (size_t j = 0; j < nold; j++)
        if (old[j])
            s_retire(s, old[j]);
    free(old);
    s->children = next;
    s->nchildren = k;
    *ret_nfresh = nfresh;
    return rc;
}

/*
 * Applies cfg: the program, the grace period and every area's command line
 * from cfg, then the children of s_rebuild(), the new ones started. first:
 * supervisor_new's call, where any failure fails (-errno, logged);
 * otherwise a fork that fails is retried later and a child that cannot be
 * made is left out (logged), and 0 is returned. *ret_started: how many
 * children were started.
 */
static int
s_apply(struct supervisor *s, const struct mandated_config *cfg, bool first, size_t *ret_started)
{
    struct spawn_args sa;
    size_t want = 0, nfresh = 0, started = 0;

    *ret_started = 0;
    s_resolve_program(s, cfg->broker.worker_program);
    s->grace_ms = cfg->delivery.drain_timeout_ms;
    for (size_t i = 0; i < cfg->nareas; i++)
        if (s_spawns(&cfg->areas[i]))
            want += cfg->areas[i].workers;
    if (want > 0 && s_watch_sigchld(s) < 0 && first)
        return -ENOMEM;

    s_spawn_args_init(&sa, cfg);
    struct child **fresh = xcalloc(want ? want : 1, sizeof *fresh);
    int rc = s_rebuild(s, cfg, &sa, want, fresh, &nfresh);
    for (size_t f = 0; f < nfresh && (rc == 0 || !first); f++) {
        struct child *c = fresh[f];
        if (first) {
            if ((rc = s_spawn(s, c)) < 0)
                break;
        } else if (!s_start_or_retry(s, c)) {
            continue;
        }
        started++;
        log_debug("area %s: worker %ld started", c->area->name, (long)c->pid);
    }
    if (first && rc == 0 && want > 0)
        log_notice("workers: started %zu for %zu area(s): %s --endpoint %s%s%s%s%s", started,
                   s->nareas, s->program, sa.endpoint, sa.config_file ? " -c " : "",
                   sa.config_file ? sa.config_file : "", sa.key ? " --key " : "",
                   sa.key ? sa.key : "");
    free(fresh);
    s_spawn_args_release(&sa);
    *ret_started = started;
    return first ? rc : 0;
}

struct supervisor *
supervisor_new(struct event_base *base, const struct mandated_config *cfg)
{
    struct supervisor *s = xcalloc(1, sizeof *s);
    size_t started;
    s->base = base;
    struct rlimit rl;
    s->max_fd =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= INT_MAX
            ? (long)rl.rlim_cur - 1
            : 65535;
    if (s_apply(s, cfg, true, &started) < 0) {
        supervisor_destroy(&s);
        return NULL;
    }
    if (s->nchildren == 0)
        log_info("workers: no area has spawn = yes and workers > 0; none started");
    else if (s->fallback && access(s->program, X_OK) < 0)
        log_warn("workers: no %s (%s); using %s from $PATH", s->program, strerror(errno),
                 s->fallback);
    return s;
}

void
supervisor_reconfigure(struct supervisor *s, const struct mandated_config *cfg)
{
    if (s->stopped)
        return;
    size_t before = s->nchildren, retiring = s->nretiring, started;
    s_apply(s, cfg, false, &started);
    size_t stopping = s->nretiring - retiring;
    if (started == 0 && stopping == 0 && s->nchildren == before)
        return;
    log_notice("workers: reconfigured: %zu started, %zu stopping; %zu configured", started,
               stopping, s->nchildren);
}

/* SIGKILLs and reaps every child still running (blocking). */
static void
s_kill_rest(struct supervisor *s)
{
    int status;
    for (size_t i = 0; i < s->nchildren; i++) {
        struct child *c = s->children[i];
        if (c->pid <= 0)
            continue;
        kill(c->pid, SIGKILL);
        s_exited(s, c, s_wait(c, 0, &status) ? status : -1);
    }
    for (size_t i = 0; i < s->nretiring; i++) {
        struct child *c = s->retiring[i];
        kill(c->pid, SIGKILL);
        s_retired(c, s_wait(c, 0, &status) ? status : -1);
    }
    s->nretiring = 0;
}

void
supervisor_stop(struct supervisor *s, unsigned timeout_ms)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    /* Timers first: nothing is restarted, and the base may go after this. */
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i]->restart) {
            event_free(s->children[i]->restart);
            s->children[i]->restart = NULL;
        }
    for (size_t i = 0; i < s->nretiring; i++) {
        struct child *c = s->retiring[i];
        if (c->restart)
            event_free(c->restart);
        if (c->kill)
            event_free(c->kill);
        c->restart = c->kill = NULL;
    }
    if (s->sigchld)
        event_free(s->sigchld);
    s->sigchld = NULL;

    size_t running = 0;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i]->pid > 0 && kill(s->children[i]->pid, SIGTERM) == 0)
            running++;
    /* The retiring had theirs already; a second SIGTERM would cut a drain short. */
    running += s->nretiring;
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
    s_kill_rest(s);
}

void
supervisor_destroy(struct supervisor **s_p)
{
    struct supervisor *s = *s_p;
    if (!s)
        return;
    supervisor_stop(s, DESTROY_STOP_MS);
    for (size_t i = 0; i < s->nchildren; i++)
        s_child_free(s->children[i]);
    for (size_t i = 0; i < s->nretiring; i++)
        s_child_free(s->retiring[i]);
    for (size_t a = 0; a < s->nareas; a++) {
        s_area_free_argv(s->areas[a]);
        free(s->areas[a]->name);
        free(s->areas[a]);
    }
    free(s->areas);
    free(s->children);
    free(s->retiring);
    free(s->program);
    free(s->fallback);
    free(s);
    *s_p = NULL;
}

size_t
supervisor_running(const struct supervisor *s)
{
    size_t n = s->nretiring;
    for (size_t i = 0; i < s->nchildren; i++)
        n += s->children[i]->pid > 0;
    return n;
}

size_t
supervisor_size(const struct supervisor *s)
{
    return s->nchildren;
}

size_t
supervisor_retiring(const struct supervisor *s)
{
    return s->nretiring;
}

uint64_t
supervisor_restarts(const struct supervisor *s)
{
    return s->restarts;
}

pid_t
supervisor_pid(const struct supervisor *s, size_t i)
{
    return i < s->nchildren ? s->children[i]->pid : 0;
}

const char *
supervisor_area(const struct supervisor *s, size_t i)
{
    return i < s->nchildren ? s->children[i]->area->name : NULL;
}
