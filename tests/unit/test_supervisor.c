/*
 * test_supervisor: spawned workers. A /bin/sh fake worker written into a
 * temporary directory appends "PID ARGS" to a file, so the tests see what
 * was started with which arguments; the loop runs for bounded times. Each
 * Criterion test is its own process, so the children, the SIGCHLD handler
 * and $PATH changes do not leak from one test into the next.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/rate_limit.h"
#include "common/clock.h"
#include "daemon/supervisor.h"
#include "tests/support/daemon_harness.h"

/*
 * The fake worker. Area "stubborn" ignores SIGTERM; every other area exits 0
 * on it. The trap is set before the line is written, so a written line means
 * the child is ready for the signal the test will send.
 */
#define SLEEPER                                                                                    \
    "#!/bin/sh\n"                                                                                  \
    "if [ \"$2\" = stubborn ]; then trap '' TERM; else trap 'exit 0' TERM; fi\n"                   \
    "echo \"$$ $@\" >> '%s'\n"                                                                     \
    "while :; do sleep 0.05; done\n"
/* A worker that fails at once, noting the time of each start in ns. */
#define QUITTER                                                                                    \
    "#!/bin/sh\n"                                                                                  \
    "date +%%s%%N >> '%s'\n"                                                                       \
    "exit 1\n"

static struct {
    char dir[256];
    char log[300];      /* the fake workers' "PID ARGS" lines */
    char program[300];  /* the fake worker */
    char endpoint[300]; /* only passed on, never bound */
    struct event_base *base;
    struct mandated_config *cfg;
    struct mandated_config *reloaded[4]; /* kept until the end, as the broker keeps them */
    size_t nreloaded;
    struct supervisor *s;
} F;

static void
s_setup(void)
{
    memset(&F, 0, sizeof F);
    cr_assert_eq(harness_mkdtemp(F.dir, sizeof F.dir, "test-supervisor"), 0);
    snprintf(F.log, sizeof F.log, "%s/started.log", F.dir);
    snprintf(F.program, sizeof F.program, "%s/fake-worker", F.dir);
    snprintf(F.endpoint, sizeof F.endpoint, "ipc://%s/workers.ipc", F.dir);
    F.base = event_base_new();
    cr_assert_not_null(F.base);
}

static void
s_teardown(void)
{
    /* The supervisor first: its events belong to the base. */
    supervisor_destroy(&F.s);
    config_destroy(&F.cfg);
    for (size_t i = 0; i < F.nreloaded; i++)
        config_destroy(&F.reloaded[i]);
    if (F.base)
        event_base_free(F.base);
    harness_rm_rf(F.dir);
}

TestSuite(supervisor, .init = s_setup, .fini = s_teardown, .timeout = 30);

/* Writes an executable script at path from fmt, which gets F.log once. */
static void
s_write_script(const char *path, const char *fmt)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fprintf(f, fmt, F.log);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, 0755), 0);
}

/* A config of [broker] lines and the sections given; worker_program is the
 * fake worker unless program is given ("" for the built-in default). */
static struct mandated_config *
s_config_text(const char *program, const char *sections)
{
    char text[4096];
    snprintf(text, sizeof text, "[broker]\nworkers = %s\n%s%s\n%s", F.endpoint,
             *(program ? program : F.program) ? "worker_program = " : "",
             program ? program : F.program, sections);
    struct config_error err;
    struct mandated_config *cfg = NULL;
    cr_assert_eq(config_load_string(text, "(test)", &cfg, &err), 0, "%s:%u: %s: %s", err.file,
                 err.line, err.key, err.message);
    return cfg;
}

/* F.cfg from the sections. */
static void
s_config(const char *program, const char *areas)
{
    F.cfg = s_config_text(program, areas);
}

/* supervisor_reconfigure() with a config of the fake worker and these
 * sections; the config lives until the test ends. Returns how long the
 * call took in ms: it must not block the loop. */
static uint64_t
s_reconfigure(const char *sections)
{
    cr_assert_lt(F.nreloaded, sizeof F.reloaded / sizeof F.reloaded[0]);
    struct mandated_config *cfg = s_config_text(NULL, sections);
    F.reloaded[F.nreloaded++] = cfg;
    uint64_t start = monotonic_ns();
    supervisor_reconfigure(F.s, cfg);
    return (monotonic_ns() - start) / 1000000u;
}

/* Runs the loop for ms milliseconds. */
static void
s_run_ms(unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_base_loopexit(F.base, &tv);
    event_base_dispatch(F.base);
}

static uint64_t
s_ms_since(uint64_t start_ns)
{
    return (monotonic_ns() - start_ns) / 1000000u;
}

/* Lines in the fake workers' log (0 if there is none yet). */
static size_t
s_log_lines(void)
{
    char *text = harness_read_file(F.log);
    size_t n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

/* Runs the loop in small steps until the log has n lines; false after timeout_ms. */
static bool
s_run_until_lines(size_t n, unsigned timeout_ms)
{
    uint64_t start = monotonic_ns();
    while (s_log_lines() < n && s_ms_since(start) < timeout_ms)
        s_run_ms(10);
    return s_log_lines() >= n;
}

/* The index of the child with this pid, or -1. */
static long
s_child_of(pid_t pid)
{
    for (size_t i = 0; i < supervisor_size(F.s); i++)
        if (supervisor_pid(F.s, i) == pid)
            return (long)i;
    return -1;
}

static bool
s_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* The arguments the fake worker with this pid logged (" --area ..."), or "" (malloc'd). */
static char *
s_args_of(pid_t pid)
{
    char *text = harness_read_file(F.log), *save = NULL, *found = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *args = NULL;
        if (strtol(line, &args, 10) == (long)pid)
            found = strdup(args);
    }
    free(text);
    return found ? found : strdup("");
}

/* Runs the loop until every child runs and none is retiring; false after timeout_ms. */
static bool
s_run_until_settled(unsigned timeout_ms)
{
    uint64_t start = monotonic_ns();
    for (;;) {
        bool settled = supervisor_retiring(F.s) == 0;
        for (size_t i = 0; i < supervisor_size(F.s) && settled; i++)
            settled = supervisor_pid(F.s, i) > 0;
        if (settled || s_ms_since(start) >= timeout_ms)
            return settled;
        s_run_ms(10);
    }
}

/* The fake worker for the areas given, a supervisor over them, and the loop
 * run until the first `lines` children have written their line. */
static void
s_start_sleepers(const char *sections, size_t lines)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, sections);
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(lines, 5000), "only %zu workers wrote their line", s_log_lines());
}

/* kill -9 child i and run the loop until another process takes its place:
 * the new pid (0 if none came within 5 s). */
static pid_t
s_kill_and_wait_restart(size_t i)
{
    pid_t victim = supervisor_pid(F.s, i);
    cr_assert_gt(victim, 0);
    cr_assert_eq(kill(victim, SIGKILL), 0);
    uint64_t start = monotonic_ns();
    while ((supervisor_pid(F.s, i) == victim || supervisor_pid(F.s, i) == 0) &&
           s_ms_since(start) < 5000)
        s_run_ms(10);
    pid_t now = supervisor_pid(F.s, i);
    cr_expect(s_gone(victim), "the killed child %ld was not reaped", (long)victim);
    return now == victim ? 0 : now;
}

/* ------------------------------------------------------------------------ */

#define THREE_AREAS                                                                                \
    "[area alpha]\ntypes = alpha.*\nworkers = 2\ncredit = 7\n"                                     \
    "[area beta]\ntypes = beta.*\n"                                                                \
    "[area gamma]\ntypes = gamma.*\nworkers = 3\nspawn = no\n"                                     \
    "[area delta]\ntypes = delta.*\nworkers = 0\n"

/* alpha: 2 with credit 7; beta: 1 with the default credit; gamma (spawn = no)
 * and delta (workers = 0): none. No -c: "(test)" is not a file. */
Test(supervisor, starts_workers_with_their_arguments)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, THREE_AREAS);
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_expect_eq(supervisor_size(F.s), 3);
    cr_expect_eq(supervisor_running(F.s), 3);
    cr_expect_str_eq(supervisor_area(F.s, 0), "alpha");
    cr_expect_str_eq(supervisor_area(F.s, 1), "alpha");
    cr_expect_str_eq(supervisor_area(F.s, 2), "beta");
    cr_expect_null(supervisor_area(F.s, 3));
    cr_expect_eq(supervisor_pid(F.s, 3), 0);
    cr_assert(s_run_until_lines(3, 5000), "only %zu workers wrote their line", s_log_lines());
    s_run_ms(100);
    cr_expect_eq(s_log_lines(), 3, "no more than the three");
    cr_expect_eq(supervisor_restarts(F.s), 0);

    char *text = harness_read_file(F.log);
    bool seen[3] = {false};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *args = NULL;
        long pid = strtol(line, &args, 10);
        long i = s_child_of((pid_t)pid);
        cr_assert_geq(i, 0, "line from an unknown pid: %s", line);
        cr_expect_not(seen[i], "two lines from child %ld", i);
        seen[i] = true;
        char want[512];
        snprintf(want, sizeof want, " --area %s --credit %s --endpoint %s",
                 i < 2 ? "alpha" : "beta", i < 2 ? "7" : "32", F.endpoint);
        cr_expect_str_eq(args, want, "child %ld", i);
    }
    free(text);
}

/* A config that came from a file is passed on with -c, as an absolute path. */
Test(supervisor, passes_the_config_file)
{
    s_write_script(F.program, SLEEPER);
    char path[300], text[2048];
    snprintf(path, sizeof path, "%s/mandated.conf", F.dir);
    snprintf(text, sizeof text,
             "[broker]\nworkers = %s\nworker_program = %s\n[area alpha]\ntypes = alpha.*\n",
             F.endpoint, F.program);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    struct config_error err;
    cr_assert_eq(config_load_file(path, &F.cfg, &err), 0, "%s", err.message);
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(1, 5000));

    char *line = harness_read_file(F.log);
    char want[1024];
    snprintf(want, sizeof want, "%ld --area alpha --credit 32 --endpoint %s -c %s\n",
             (long)supervisor_pid(F.s, 0), F.endpoint, path);
    cr_expect_str_eq(line, want);
    free(line);
}

Test(supervisor, no_spawned_areas_no_children)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area gamma]\ntypes = gamma.*\nworkers = 3\nspawn = no\n"
                   "[area delta]\ntypes = delta.*\nworkers = 0\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s, "nothing to spawn is not a failure");
    cr_expect_eq(supervisor_size(F.s), 0);
    cr_expect_eq(supervisor_running(F.s), 0);
    s_run_ms(200);
    cr_expect_eq(s_log_lines(), 0);
    supervisor_stop(F.s, 1000);
    cr_expect_eq(supervisor_running(F.s), 0);
}

/* kill -9 one child: a new one takes its place, the other is untouched. */
Test(supervisor, restarts_a_killed_worker)
{
    s_start_sleepers("[area alpha]\ntypes = alpha.*\nworkers = 2\n", 2);
    pid_t victim = supervisor_pid(F.s, 0), other = supervisor_pid(F.s, 1);

    uint64_t start = monotonic_ns();
    pid_t replacement = s_kill_and_wait_restart(0);
    cr_expect_gt(replacement, 0);
    cr_expect_neq(replacement, victim);
    cr_expect_eq(supervisor_pid(F.s, 1), other);
    cr_expect_eq(supervisor_running(F.s), 2);
    cr_expect_eq(supervisor_restarts(F.s), 1);
    /* The first restart waits the minimum backoff, not longer. */
    cr_expect_lt(s_ms_since(start), 1000);
    cr_expect(s_run_until_lines(3, 5000), "the replacement ran the program");
}

/* A program that fails at once is restarted after 100, 200, 400 ms...: over
 * 1.2 s a handful of starts, not a fork bomb. */
Test(supervisor, backs_off_a_failing_worker)
{
    s_write_script(F.program, QUITTER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    s_run_ms(1200);
    uint64_t restarts = supervisor_restarts(F.s);
    cr_expect_geq(restarts, 2, "%llu restarts", (unsigned long long)restarts);
    cr_expect_leq(restarts, 4, "%llu restarts", (unsigned long long)restarts);

    /* The gaps between starts roughly double. */
    char *text = harness_read_file(F.log);
    long long t[16];
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < 16;
         line = strtok_r(NULL, "\n", &save))
        t[n++] = atoll(line);
    free(text);
    cr_assert_geq(n, 3, "%zu starts", n);
    for (size_t i = 1; i < n; i++) {
        long long gap_ms = (t[i] - t[i - 1]) / 1000000;
        long long want_ms = 100ll << (i - 1);
        cr_expect_geq(gap_ms, want_ms * 9 / 10, "gap %zu: %lld ms, want about %lld", i, gap_ms,
                      want_ms);
        cr_expect_lt(gap_ms, want_ms + 300, "gap %zu: %lld ms, want about %lld", i, gap_ms,
                     want_ms);
    }
}

/* A program that does not exist: exit 127 with a clear message, and backoff. */
Test(supervisor, missing_program_is_not_a_fork_bomb)
{
    char errlog[300];
    snprintf(errlog, sizeof errlog, "%s/stderr", F.dir);
    int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(fd, 0);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);

    s_config("/nonexistent/mandate-worker", "[area alpha]\ntypes = alpha.*\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s, "the program is only run in the child");
    s_run_ms(1000);
    uint64_t restarts = supervisor_restarts(F.s);
    supervisor_destroy(&F.s);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    cr_expect_leq(restarts, 4, "%llu restarts", (unsigned long long)restarts);
    char *text = harness_read_file(errlog);
    cr_expect(strstr(text, "area alpha: cannot exec /nonexistent/mandate-worker: No such file or "
                           "directory\n"),
              "%s", text);
    cr_expect(strstr(text, "exited with status 127"), "%s", text);
    cr_expect(strstr(text, "restarting in 200 ms"), "%s", text);
    free(text);
}

/* With worker_program empty and no mandate-worker beside this executable,
 * mandate-worker is looked up in $PATH. */
Test(supervisor, default_program_from_path)
{
    char exe[PATH_MAX], sibling[PATH_MAX + 32], program[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert_gt(n, 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(sibling, sizeof sibling, "%s/mandate-worker", exe);
    if (access(sibling, X_OK) == 0)
        cr_skip_test("%s exists: it would run instead of the fake", sibling);

    snprintf(program, sizeof program, "%s/mandate-worker", F.dir);
    s_write_script(program, SLEEPER);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s:/usr/bin:/bin", F.dir);
    setenv("PATH", path, 1);
    s_config("", "[area alpha]\ntypes = alpha.*\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(1, 5000), "the fake mandate-worker from $PATH did not run");
    cr_expect_eq(supervisor_restarts(F.s), 0);
}

/* SIGTERM ends well-behaved children at once, well before the timeout. */
Test(supervisor, stop_terminates_all)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\nworkers = 3\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(3, 5000));
    pid_t pids[3];
    for (size_t i = 0; i < 3; i++)
        pids[i] = supervisor_pid(F.s, i);

    uint64_t start = monotonic_ns();
    supervisor_stop(F.s, 5000);
    cr_expect_lt(s_ms_since(start), 2000, "stop took %llu ms",
                 (unsigned long long)s_ms_since(start));
    cr_expect_eq(supervisor_running(F.s), 0);
    for (size_t i = 0; i < 3; i++) {
        cr_expect(s_gone(pids[i]), "child %zu (%ld) still there", i, (long)pids[i]);
        cr_expect_eq(supervisor_pid(F.s, i), 0);
    }
    supervisor_stop(F.s, 5000); /* twice is fine */
    cr_expect_eq(supervisor_restarts(F.s), 0, "no restarts while stopping");
    cr_expect_eq(s_log_lines(), 3);
}

/* A child that ignores SIGTERM is killed when the timeout runs out. */
Test(supervisor, stop_kills_a_stubborn_worker)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\n[area stubborn]\ntypes = stubborn.*\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(2, 5000));
    pid_t polite = supervisor_pid(F.s, 0), stubborn = supervisor_pid(F.s, 1);
    cr_assert_str_eq(supervisor_area(F.s, 1), "stubborn");

    uint64_t start = monotonic_ns();
    supervisor_stop(F.s, 300);
    uint64_t took = s_ms_since(start);
    cr_expect_geq(took, 300, "stop returned after %llu ms", (unsigned long long)took);
    cr_expect_lt(took, 2000, "stop took %llu ms", (unsigned long long)took);
    cr_expect_eq(supervisor_running(F.s), 0);
    cr_expect(s_gone(polite));
    cr_expect(s_gone(stubborn));
}

/* Destroying a running supervisor stops its children too. */
Test(supervisor, destroy_stops)
{
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\nworkers = 2\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(2, 5000));
    pid_t pids[2] = {supervisor_pid(F.s, 0), supervisor_pid(F.s, 1)};
    supervisor_destroy(&F.s);
    cr_expect_null(F.s);
    cr_expect(s_gone(pids[0]));
    cr_expect(s_gone(pids[1]));
    supervisor_destroy(&F.s); /* NULL is fine */
}

/* A worker gets stdout and stderr, no other fd of the broker, and none of
 * the variables systemd meant for the broker alone. */
Test(supervisor, child_hygiene)
{
    s_write_script(F.program,
                   "#!/bin/sh\n"
                   "for fd in 1 2 42; do [ -e /proc/$$/fd/$fd ] && printf 'fd%%s ' $fd; done"
                   " >> '%1$s'\n"
                   "echo \"notify=${NOTIFY_SOCKET-unset} keep=${MANDATE_TEST_KEEP-unset}\""
                   " >> '%1$s'\n"
                   "exec sleep 30\n");
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, 42), 42, "fd 42 without O_CLOEXEC, as a leak would be");
    close(fd);
    setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    setenv("MANDATE_TEST_KEEP", "yes", 1);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(1, 5000));
    char *text = harness_read_file(F.log);
    cr_expect_str_eq(text, "fd1 fd2 notify=unset keep=yes\n");
    free(text);
    close(42);
}

/* kill -9 the broker: its workers get SIGTERM (PR_SET_PDEATHSIG) and exit. The
 * test process is a subreaper, so the orphans come back to it to be reaped. */
Test(supervisor, workers_die_with_the_broker)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\nworkers = 2\n");
    pid_t broker = fork();
    cr_assert_geq(broker, 0);
    if (broker == 0) {
        /* A stand-in broker with a loop of its own (a base does not survive fork). */
        struct event_base *base = event_base_new();
        struct supervisor *s = base ? supervisor_new(base, F.cfg) : NULL;
        if (!s)
            _exit(1);
        for (;;)
            event_base_dispatch(base);
    }
    uint64_t start = monotonic_ns();
    while (s_log_lines() < 2 && s_ms_since(start) < 5000)
        usleep(10 * 1000);
    cr_assert_eq(s_log_lines(), 2);
    char *text = harness_read_file(F.log);
    char *second = strchr(text, '\n') + 1;
    pid_t workers[2] = {(pid_t)atol(text), (pid_t)atol(second)};
    free(text);

    cr_assert_eq(kill(broker, SIGKILL), 0);
    cr_assert_eq(waitpid(broker, NULL, 0), broker);
    for (size_t i = 0; i < 2; i++) {
        int status = 0;
        pid_t r = 0;
        start = monotonic_ns();
        while ((r = waitpid(workers[i], &status, WNOHANG)) == 0 && s_ms_since(start) < 3000)
            usleep(10 * 1000);
        if (r == 0)
            kill(workers[i], SIGKILL);
        cr_expect_eq(r, workers[i], "worker %ld outlived the broker", (long)workers[i]);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker %ld: status 0x%x, want exit 0 from its TERM trap", (long)workers[i],
                  (unsigned)status);
    }
}

/* ------------------------------------------------------------------------ */
/* supervisor_reconfigure: a SIGHUP reload's new config. */

/* beta goes, gamma comes, alpha drops from 2 to 1: the child alpha keeps is
 * untouched, the others get SIGTERM and are reaped from the loop, gamma's
 * are started with their arguments, and none of it blocks. */
Test(supervisor, reconfigure_adds_removes_and_resizes_areas)
{
    s_start_sleepers("[area alpha]\ntypes = alpha.*\nworkers = 2\n"
                     "[area beta]\ntypes = beta.*\n",
                     3);
    pid_t alpha0 = supervisor_pid(F.s, 0), alpha1 = supervisor_pid(F.s, 1),
          beta = supervisor_pid(F.s, 2);

    uint64_t took = s_reconfigure("[area alpha]\ntypes = alpha.*\n"
                                  "[area gamma]\ntypes = gamma.*\nworkers = 2\ncredit = 5\n");
    cr_expect_lt(took, 200, "reconfigure blocked for %llu ms", (unsigned long long)took);
    cr_expect_eq(supervisor_size(F.s), 3);
    cr_expect_str_eq(supervisor_area(F.s, 0), "alpha");
    cr_expect_str_eq(supervisor_area(F.s, 1), "gamma");
    cr_expect_str_eq(supervisor_area(F.s, 2), "gamma");
    cr_expect_eq(supervisor_pid(F.s, 0), alpha0, "the child alpha keeps was replaced");
    cr_expect_eq(supervisor_retiring(F.s), 2);

    cr_assert(s_run_until_settled(5000), "%zu still retiring", supervisor_retiring(F.s));
    cr_assert(s_run_until_lines(5, 5000), "gamma's workers did not start");
    cr_expect(s_gone(alpha1), "alpha's second child still runs");
    cr_expect(s_gone(beta), "beta's child still runs");
    cr_expect_eq(supervisor_pid(F.s, 0), alpha0);
    cr_expect_eq(supervisor_running(F.s), 3);
    cr_expect_eq(supervisor_restarts(F.s), 0, "a stopped child was restarted");
    for (size_t i = 1; i < 3; i++) {
        char *args = s_args_of(supervisor_pid(F.s, i)), want[512];
        snprintf(want, sizeof want, " --area gamma --credit 5 --endpoint %s", F.endpoint);
        cr_expect_str_eq(args, want, "child %zu", i);
        free(args);
    }
    s_run_ms(300);
    cr_expect_eq(s_log_lines(), 5, "a retired child came back");

    /* Supervision goes on as before: kill -9 a new child and it is restarted. */
    cr_expect_gt(s_kill_and_wait_restart(2), 0, "the killed child was not restarted");
    cr_expect_eq(supervisor_restarts(F.s), 1);
}

/* spawn = no and workers = 0 stop an area's children; turned back on, it gets new ones. */
Test(supervisor, reconfigure_spawn_off_and_on)
{
    s_start_sleepers("[area alpha]\ntypes = alpha.*\nworkers = 2\n"
                     "[area beta]\ntypes = beta.*\n",
                     3);
    pid_t before[3];
    for (size_t i = 0; i < 3; i++)
        before[i] = supervisor_pid(F.s, i);

    s_reconfigure("[area alpha]\ntypes = alpha.*\nworkers = 2\nspawn = no\n"
                  "[area beta]\ntypes = beta.*\nworkers = 0\n");
    cr_expect_eq(supervisor_size(F.s), 0);
    cr_assert(s_run_until_settled(5000));
    cr_expect_eq(supervisor_running(F.s), 0);
    for (size_t i = 0; i < 3; i++)
        cr_expect(s_gone(before[i]), "child %zu (%ld) still runs", i, (long)before[i]);

    s_reconfigure("[area alpha]\ntypes = alpha.*\nworkers = 2\n"
                  "[area beta]\ntypes = beta.*\n");
    cr_expect_eq(supervisor_size(F.s), 3);
    cr_assert(s_run_until_settled(5000));
    cr_assert(s_run_until_lines(6, 5000));
    cr_expect_eq(supervisor_running(F.s), 3);
    cr_expect_str_eq(supervisor_area(F.s, 2), "beta");
    cr_expect_eq(supervisor_restarts(F.s), 0);
}

/* A supervisor that started with nothing to spawn (and so watched no
 * SIGCHLD) starts and supervises the workers of an area a reload adds. */
Test(supervisor, reconfigure_from_no_children)
{
    s_start_sleepers("[area alpha]\ntypes = alpha.*\nspawn = no\n", 0);
    cr_expect_eq(supervisor_size(F.s), 0);

    s_reconfigure("[area alpha]\ntypes = alpha.*\n");
    cr_assert_eq(supervisor_size(F.s), 1);
    cr_assert(s_run_until_lines(1, 5000));
    cr_expect_gt(s_kill_and_wait_restart(0), 0, "the killed child was not restarted");
}

/* A changed credit reaches the children started from then on; those that
 * run keep theirs: the new second child and the restart of the first. */
Test(supervisor, reconfigure_credit_applies_to_new_children)
{
    s_start_sleepers("[area alpha]\ntypes = alpha.*\ncredit = 7\n", 1);
    pid_t first = supervisor_pid(F.s, 0);

    s_reconfigure("[area alpha]\ntypes = alpha.*\ncredit = 9\nworkers = 2\n");
    cr_assert(s_run_until_lines(2, 5000));
    cr_expect_eq(supervisor_pid(F.s, 0), first, "a running child was restarted for its credit");
    char *args = s_args_of(supervisor_pid(F.s, 1)), want[512];
    snprintf(want, sizeof want, " --area alpha --credit 9 --endpoint %s", F.endpoint);
    cr_expect_str_eq(args, want);
    free(args);

    cr_assert_gt(s_kill_and_wait_restart(0), 0, "the first child was not restarted");
    cr_assert(s_run_until_lines(3, 5000), "the restart did not run the program");
    args = s_args_of(supervisor_pid(F.s, 0));
    cr_expect_str_eq(args, want, "the restart kept the old credit");
    free(args);
}

/* A child that ignores SIGTERM at a reconfigure is killed after
 * drain_timeout_ms, from a timer: the loop keeps turning meanwhile. */
Test(supervisor, reconfigure_kills_a_stubborn_worker_later)
{
    s_start_sleepers("[delivery]\ndrain_timeout_ms = 300\n"
                     "[area alpha]\ntypes = alpha.*\n[area stubborn]\ntypes = stubborn.*\n",
                     2);
    pid_t stubborn = supervisor_pid(F.s, 1);

    uint64_t start = monotonic_ns();
    uint64_t took =
        s_reconfigure("[delivery]\ndrain_timeout_ms = 300\n[area alpha]\ntypes = alpha.*\n"
                      "[area stubborn]\ntypes = stubborn.*\nspawn = no\n");
    cr_expect_lt(took, 200, "reconfigure blocked for %llu ms", (unsigned long long)took);
    s_run_ms(150);
    cr_expect_not(s_gone(stubborn), "killed before the grace period");
    cr_expect_eq(supervisor_retiring(F.s), 1);
    cr_assert(s_run_until_settled(5000));
    uint64_t gone_after = s_ms_since(start);
    cr_expect(s_gone(stubborn));
    cr_expect_geq(gone_after, 300, "gone after %llu ms", (unsigned long long)gone_after);
    cr_expect_lt(gone_after, 2000, "gone after %llu ms", (unsigned long long)gone_after);
    cr_expect_eq(supervisor_running(F.s), 1);
}

/* supervisor_stop also stops what a reconfigure is still stopping. */
Test(supervisor, stop_after_reconfigure_reaps_the_retiring)
{
    s_start_sleepers("[delivery]\ndrain_timeout_ms = 60000\n"
                     "[area alpha]\ntypes = alpha.*\n[area stubborn]\ntypes = stubborn.*\n",
                     2);
    pid_t alpha = supervisor_pid(F.s, 0), stubborn = supervisor_pid(F.s, 1);
    s_reconfigure("[delivery]\ndrain_timeout_ms = 60000\n[area alpha]\ntypes = alpha.*\n");
    s_run_ms(50);
    cr_expect_eq(supervisor_retiring(F.s), 1);

    supervisor_stop(F.s, 300);
    cr_expect_eq(supervisor_running(F.s), 0);
    cr_expect_eq(supervisor_retiring(F.s), 0);
    cr_expect(s_gone(alpha));
    cr_expect(s_gone(stubborn));
    supervisor_reconfigure(F.s, F.cfg); /* after stop: nothing */
    cr_expect_eq(supervisor_running(F.s), 0);
}

/* workers_curve = on: every worker gets the config's pair and the broker's
 * public key, as absolute paths against the broker's working directory. */
Test(supervisor, passes_the_worker_keys)
{
    s_start_sleepers("[security]\nworkers_curve = on\nserver_secret_key = keys/server.key_secret\n"
                     "worker_secret_key = keys/w1.key_secret\n"
                     "[worker w1]\nareas = alpha\n"
                     "[area alpha]\ntypes = alpha.*\n",
                     1);
    char cwd[PATH_MAX], want[3 * PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want,
             " --area alpha --credit 32 --endpoint %s --key %s/keys/w1.key_secret "
             "--server-key %s/keys/server.key",
             F.endpoint, cwd, cwd);
    char *args = s_args_of(supervisor_pid(F.s, 0));
    cr_expect_str_eq(args, want);
    free(args);

    /* A reload that names another pair: the next worker started gets it. */
    s_reconfigure("[security]\nworkers_curve = on\nserver_secret_key = /k/server.key_secret\n"
                  "server_public_key = /k/pinned.key\nworker_secret_key = /k/w2.key_secret\n"
                  "[worker w2]\nareas = alpha\n"
                  "[area alpha]\ntypes = alpha.*\nworkers = 2\n");
    cr_assert(s_run_until_lines(2, 5000));
    args = s_args_of(supervisor_pid(F.s, 1));
    snprintf(want, sizeof want,
             " --area alpha --credit 32 --endpoint %s --key /k/w2.key_secret "
             "--server-key /k/pinned.key",
             F.endpoint);
    cr_expect_str_eq(args, want);
    free(args);
}
