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

/* F.cfg from [broker] lines and area sections; worker_program is the fake worker
 * unless program is given ("" for the built-in default). */
static void
s_config(const char *program, const char *areas)
{
    char text[4096];
    snprintf(text, sizeof text, "[broker]\nworkers = %s\n%s%s\n%s", F.endpoint,
             *(program ? program : F.program) ? "worker_program = " : "",
             program ? program : F.program, areas);
    struct config_error err;
    cr_assert_eq(config_load_string(text, "(test)", &F.cfg, &err), 0, "%s:%u: %s: %s", err.file,
                 err.line, err.key, err.message);
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
    s_write_script(F.program, SLEEPER);
    s_config(NULL, "[area alpha]\ntypes = alpha.*\nworkers = 2\n");
    F.s = supervisor_new(F.base, F.cfg);
    cr_assert_not_null(F.s);
    cr_assert(s_run_until_lines(2, 5000));
    pid_t victim = supervisor_pid(F.s, 0), other = supervisor_pid(F.s, 1);
    cr_assert_gt(victim, 0);

    cr_assert_eq(kill(victim, SIGKILL), 0);
    uint64_t start = monotonic_ns();
    while ((supervisor_pid(F.s, 0) == victim || supervisor_pid(F.s, 0) == 0) &&
           s_ms_since(start) < 5000)
        s_run_ms(10);
    pid_t replacement = supervisor_pid(F.s, 0);
    cr_expect_gt(replacement, 0);
    cr_expect_neq(replacement, victim);
    cr_expect(s_gone(victim), "the killed child was reaped");
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
