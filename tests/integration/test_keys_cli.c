/*
 * The CURVE key options of the command-line programs, for real:
 * `mandate-worker --key --server-key`, `mandatectl publish --key
 * --server-key` and the example publisher `examples/day.py publish`. Every
 * malformed input (a flag without its partner, a missing file, a file that
 * is no certificate, a secret file group or others may read, a config that
 * asks for CURVE and names no key) with its exit status and the file named;
 * then, end to end, a broker with curve = on and workers_curve = on that
 * takes events from mandatectl's keys and has them completed by workers
 * with theirs: one started by hand with the flags, one spawned by the broker
 * with the config's keys, and day.py's pyzmq publisher.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config/curve_cert.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/sample_data.h"
#include "tests/support/worker_process.h"

#define PYTHON "/usr/bin/python3" /* Debian's, with python3-zmq and python3-msgpack */

static const char *
s_bin(const char *env, const char *fallback)
{
    const char *b = getenv(env);
    return b ? b : fallback;
}

/* Keys made with `mandatectl keygen`, and files that are not usable keys. */
static struct {
    char dir[256];
    char server_public[512], server_secret[512];
    char agency_secret[512], w1_secret[512], w1_public[512];
    char missing[512], garbage[512], loose[512];
    char config[512]; /* workers_curve = on, an area with spawn = no, no keys named */
    char out[512], err[512];
} K;

/*
 * Runs argv (NULL-terminated) with stdout and stderr to K.out and K.err;
 * its exit code (128 + signal), or -1 if it ran for more than 30 s.
 */
static int
s_run(const char *const *argv)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int out = open(K.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(K.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0)
            _exit(126);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* What the last s_run() wrote to stderr (static, cut short). */
static const char *
s_stderr(void)
{
    static char buf[4096];
    char *text = harness_read_file(K.err);
    snprintf(buf, sizeof buf, "%s", text);
    free(text);
    return buf;
}

static void
s_write(const char *path, mode_t mode, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

/* K.config: CURVE on both endpoints with this server pair, the key lines
 * given added to [security], and press with spawn = no. */
static void
s_write_config(const char *server_secret, const char *client_secret, const char *worker_secret)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[broker]\nworkers = ipc://%s/workers.ipc\ningress = ipc://%s/ingress.ipc\n"
             "[security]\ncurve = on\nworkers_curve = on\nserver_secret_key = %s\n"
             "%s%s%s%s%s%s"
             "[area press]\ntypes = press.*\nspawn = no\n",
             K.dir, K.dir, server_secret, client_secret ? "client_secret_key = " : "",
             client_secret ? client_secret : "", client_secret ? "\n" : "",
             worker_secret ? "worker_secret_key = " : "", worker_secret ? worker_secret : "",
             worker_secret ? "\n" : "");
    s_write(K.config, 0644, text);
}

static void
s_keygen(const char *name, const char *dir)
{
    const char *argv[] = {
        s_bin("MANDATECTL_BIN", "build/mandatectl"), "keygen", name, "--dir", dir, NULL};
    cr_assert_eq(s_run(argv), 0, "keygen %s: %s", name, s_stderr());
}

static void
s_setup(void)
{
    memset(&K, 0, sizeof K);
    cr_assert_eq(harness_mkdtemp(K.dir, sizeof K.dir, "mandate-keys"), 0);
    snprintf(K.out, sizeof K.out, "%s/stdout", K.dir);
    snprintf(K.err, sizeof K.err, "%s/stderr", K.dir);
    char sub[3][300];
    snprintf(sub[0], sizeof sub[0], "%s/sources", K.dir);
    snprintf(sub[1], sizeof sub[1], "%s/workers", K.dir);
    snprintf(sub[2], sizeof sub[2], "%s/made", K.dir);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(mkdir(sub[i], 0700), 0);
    /* Each public half goes where the broker looks for it, as an operator would put it. */
    s_keygen("server", K.dir);
    s_keygen("so-van-hoa", sub[2]);
    s_keygen("w1", sub[2]);
    char from[400], to[400];
    snprintf(from, sizeof from, "%s/so-van-hoa.key", sub[2]);
    snprintf(to, sizeof to, "%s/so-van-hoa.key", sub[0]);
    cr_assert_eq(rename(from, to), 0);
    snprintf(from, sizeof from, "%s/w1.key", sub[2]);
    snprintf(to, sizeof to, "%s/w1.key", sub[1]);
    cr_assert_eq(rename(from, to), 0);

    snprintf(K.server_public, sizeof K.server_public, "%s/server.key", K.dir);
    snprintf(K.server_secret, sizeof K.server_secret, "%s/server.key_secret", K.dir);
    snprintf(K.agency_secret, sizeof K.agency_secret, "%s/so-van-hoa.key_secret", sub[2]);
    snprintf(K.w1_secret, sizeof K.w1_secret, "%s/w1.key_secret", sub[2]);
    snprintf(K.w1_public, sizeof K.w1_public, "%s/w1.key", sub[1]);
    snprintf(K.missing, sizeof K.missing, "%s/no-such.key_secret", K.dir);
    snprintf(K.garbage, sizeof K.garbage, "%s/garbage.key_secret", K.dir);
    s_write(K.garbage, 0600, "this is not a certificate\n");
    /* A real secret key file, only too open. */
    snprintf(K.loose, sizeof K.loose, "%s/loose.key_secret", K.dir);
    char *secret = harness_read_file(K.w1_secret);
    s_write(K.loose, 0644, secret);
    free(secret);

    snprintf(K.config, sizeof K.config, "%s/mandated.conf", K.dir);
    s_write_config(K.server_secret, NULL, NULL);
}

static void
s_teardown(void)
{
    harness_rm_rf(K.dir);
}

TestSuite(keys, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* ------------------------------------------------------------------------ */
/* Malformed input: the same cases for each program. */

/* Runs argv's first n arguments (room for 5 more) with --key and
 * --server-key added, each unless NULL. */
static int
s_run_with_keys(const char **argv, size_t n, const char *key, const char *server_key)
{
    if (key) {
        argv[n++] = "--key";
        argv[n++] = key;
    }
    if (server_key) {
        argv[n++] = "--server-key";
        argv[n++] = server_key;
    }
    argv[n] = NULL;
    return s_run(argv);
}

/* How a program is run with a key pair and a server key (NULL: that flag left out). */
typedef int(run_fn)(const char *key, const char *server_key);

static int
s_worker(const char *key, const char *server_key)
{
    const char *argv[20] = {s_bin("MANDATE_WORKER_BIN", "build/mandate-worker"), "--area", "press",
                            "-c", K.config};
    size_t n = 5;
    return s_run_with_keys(argv, n, key, server_key);
}

static int
s_publish(const char *key, const char *server_key)
{
    const char *argv[20] = {s_bin("MANDATECTL_BIN", "build/mandatectl"),
                            "-c",
                            K.config,
                            "publish",
                            "--type",
                            "press.conference_notice",
                            "--source",
                            "so-van-hoa",
                            "--retries",
                            "0",
                            "--timeout",
                            "200"};
    size_t n = 12;
    return s_run_with_keys(argv, n, key, server_key);
}

static int
s_day_py(const char *key, const char *server_key)
{
    char script[400], input[400], endpoint[400];
    snprintf(script, sizeof script, "%s/examples/day.py", s_bin("MANDATE_SOURCE_DIR", "."));
    snprintf(input, sizeof input, "%s/examples/day.jsonl", s_bin("MANDATE_SOURCE_DIR", "."));
    snprintf(endpoint, sizeof endpoint, "ipc://%s/ingress.ipc", K.dir);
    const char *argv[20] = {PYTHON,   script,      "publish", input,          "--endpoint",
                            endpoint, "--retries", "0",       "--timeout-ms", "200"};
    size_t n = 10;
    return s_run_with_keys(argv, n, key, server_key);
}

/* Exit 78 with the file named in the message (and want, if given). */
static void
s_expect_78(run_fn *run, const char *key, const char *server_key, const char *file,
            const char *want)
{
    int rc = run(key, server_key);
    cr_expect_eq(rc, 78, "--key %s --server-key %s: exit %d: %s", key, server_key, rc, s_stderr());
    cr_expect(strstr(s_stderr(), file), "the message does not name %s: %s", file, s_stderr());
    if (want)
        cr_expect(strstr(s_stderr(), want), "no '%s' in: %s", want, s_stderr());
}

static void
s_malformed(run_fn *run)
{
    /* One without the other: a usage error, before any file is read. */
    cr_expect_eq(run(K.w1_secret, NULL), 64, "%s", s_stderr());
    cr_expect(strstr(s_stderr(), "--server-key"), "%s", s_stderr());
    cr_expect_eq(run(NULL, K.server_public), 64, "%s", s_stderr());
    cr_expect(strstr(s_stderr(), "--key"), "%s", s_stderr());

    s_expect_78(run, K.missing, K.server_public, K.missing, NULL);
    s_expect_78(run, K.garbage, K.server_public, K.garbage, NULL);
    s_expect_78(run, K.loose, K.server_public, K.loose, NULL);
    s_expect_78(run, K.w1_public, K.server_public, K.w1_public, NULL); /* no secret in it */
    s_expect_78(run, K.w1_secret, K.missing, K.missing, "--server-key");
    s_expect_78(run, K.w1_secret, K.garbage, K.garbage, "--server-key");
}

Test(keys, worker_flags_malformed)
{
    s_malformed(s_worker);
    /* The mode is what is wrong, and the message says so. */
    s_expect_78(s_worker, K.loose, K.server_public, K.loose, "0644");
}

Test(keys, publish_flags_malformed)
{
    s_malformed(s_publish);
    s_expect_78(s_publish, K.loose, K.server_public, K.loose, "0644");
}

Test(keys, day_py_flags_malformed)
{
    if (system(PYTHON " -c 'import zmq.auth, msgpack' 2>/dev/null") != 0)
        cr_skip_test("no pyzmq and msgpack for " PYTHON);
    s_malformed(s_day_py);
    s_expect_78(s_day_py, K.loose, K.server_public, K.loose, "group or others");
}

/* Without flags, a config with CURVE on gives the keys, and says so when it names none. */
Test(keys, keys_from_the_config)
{
    s_expect_78(s_publish, NULL, NULL, "security.client_secret_key", "key pair");
    s_expect_78(s_worker, NULL, NULL, "security.worker_secret_key", "--key");

    /* A key the config names that cannot be used: the file and the key that named it. */
    s_write_config(K.server_secret, K.loose, K.missing);
    s_expect_78(s_publish, NULL, NULL, K.loose, "security.client_secret_key");
    s_expect_78(s_worker, NULL, NULL, K.missing, "security.worker_secret_key");

    /* The broker's public key defaults to its pair's NAME.key; a missing one is named too. */
    char gone[600];
    snprintf(gone, sizeof gone, "%s/gone.key_secret", K.dir);
    s_write_config(gone, K.agency_secret, K.w1_secret);
    snprintf(gone, sizeof gone, "%s/gone.key", K.dir);
    s_expect_78(s_publish, NULL, NULL, gone, "security.server_public_key");
    s_expect_78(s_worker, NULL, NULL, gone, "security.server_public_key");
}

/* ------------------------------------------------------------------------ */
/* End to end: the daemon's CURVE with the keys the programs were given. */

/* A broker with CURVE on both endpoints, admitting so-van-hoa's and w1's keys. */
static struct harness *
s_broker(const char *extra_security)
{
    char tail[4096];
    snprintf(tail, sizeof tail,
             "[security]\ncurve = on\nserver_secret_key = %s\nsources_dir = %s/sources\n"
             "workers_curve = on\nworker_keys_dir = %s/workers\n%s"
             "[worker w1]\nareas = press\n",
             K.server_secret, K.dir, K.dir, extra_security ? extra_security : "");
    struct harness *h = harness_new(NULL, tail);
    struct curve_cert server, agency;
    struct config_error err;
    cr_assert_eq(curve_cert_load(K.server_public, false, &server, &err), 0, "%s", err.message);
    cr_assert_eq(curve_cert_load(K.agency_secret, true, &agency, &err), 0, "%s", err.message);
    harness_set_curve(h, server.public_z85, agency.public_z85, agency.secret_z85);
    curve_cert_clear(&agency);
    return h;
}

/* mandatectl publish through the harness (-c its config), one notice; the exit code. */
static int
s_ctl_publish(struct harness *h, const char *id, bool with_flags, char **ret_out, char **ret_err)
{
    const char *data = sample_data_json("press.conference_notice");
    cr_assert_not_null(data);
    if (with_flags)
        return harness_ctl_err(h, ret_out, ret_err, "publish", "--type", "press.conference_notice",
                               "--source", "so-van-hoa", "--id", id, "--data", data, "--key",
                               K.agency_secret, "--server-key", K.server_public, NULL);
    return harness_ctl_err(h, ret_out, ret_err, "publish", "--type", "press.conference_notice",
                           "--source", "so-van-hoa", "--id", id, "--data", data, NULL);
}

/* Waits for w1's press worker to join, as the key w1. */
static void
s_wait_w1_joined(struct harness *h)
{
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "press", 1, 15000), "%s",
              harness_daemon_log(h));
    cr_expect_eq(log_inspect_count_field(harness_state_dir(h), "worker_joined", "key", "w1"), 1);
}

/* Publishes one notice that must be ACKed and then completed (the n-th). */
static void
s_publish_completed(struct harness *h, const char *id, bool with_flags, long n)
{
    char *out = NULL, *err = NULL;
    int rc = s_ctl_publish(h, id, with_flags, &out, &err);
    cr_assert_eq(rc, 0, "publish: exit %d: %s%s", rc, out, err);
    cr_expect(strstr(out, id), "%s", out);
    free(out);
    free(err);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "completed", "press", n, 10000), "%s",
              harness_daemon_log(h));
    cr_expect_eq(log_inspect_count_field(harness_state_dir(h), "accepted", "source", "so-van-hoa"),
                 n);
}

static void
s_skip_unless_daemon_curve(void)
{
    if (access("/tmp/mandated-curve-ready", F_OK) != 0)
        cr_skip_test("the daemon's CURVE is not there yet (/tmp/mandated-curve-ready)");
}

/* mandatectl's flags get an ACK; a worker with --key/--server-key completes the event. */
Test(keys, publish_and_worker_with_flags, .timeout = 90)
{
    s_skip_unless_daemon_curve();
    struct harness *h = s_broker(NULL);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    const char *wargs[] = {"--key", K.w1_secret, "--server-key", K.server_public, NULL};
    pid_t w = worker_process_native(h, "press", wargs);
    s_wait_w1_joined(h);
    s_publish_completed(h, "0123456789abcdef0123456789abcd01", true, 1);

    /* The config names no client pair: without the flags publish says a key is needed. */
    char *out = NULL, *err = NULL;
    int rc = s_ctl_publish(h, "0123456789abcdef0123456789abcd02", false, &out, &err);
    cr_expect_eq(rc, 78, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "client_secret_key"), "%s", err);
    free(out);
    free(err);

    worker_process_stop(w, SIGTERM);
    cr_assert_eq(harness_stop(h, 10000), 0);
    harness_destroy(&h);
}

/* The config's keys: publish without flags, and a worker the broker spawns
 * with --key/--server-key from worker_secret_key and server_public_key. */
Test(keys, config_keys_and_a_spawned_worker, .timeout = 90)
{
    s_skip_unless_daemon_curve();
    char extra[2048];
    snprintf(extra, sizeof extra, "client_secret_key = %s\nworker_secret_key = %s\n",
             K.agency_secret, K.w1_secret);
    struct harness *h = s_broker(extra);
    cr_assert_eq(harness_config_area(h, "press", "spawn", "yes"), 0);
    cr_assert_eq(harness_config_area(h, "press", "workers", "1"), 0);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    s_wait_w1_joined(h);
    s_publish_completed(h, "0123456789abcdef0123456789abcd03", false, 1);
    char *log = harness_daemon_log(h);
    char want[600];
    snprintf(want, sizeof want, "--key %s", K.w1_secret);
    cr_expect(strstr(log, want), "the broker did not say it passes the key: %s", log);
    free(log);
    cr_assert_eq(harness_stop(h, 10000), 0);
    harness_destroy(&h);
}

/* day.py's pyzmq publisher with --key/--server-key: its source's events
 * are accepted, the day's other sources are refused (the key decides). */
Test(keys, day_py_publishes_over_curve, .timeout = 120)
{
    s_skip_unless_daemon_curve();
    if (system(PYTHON " -c 'import zmq.auth, msgpack' 2>/dev/null") != 0)
        cr_skip_test("no pyzmq and msgpack for " PYTHON);
    struct harness *h = s_broker(NULL);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));

    char script[400], input[400];
    snprintf(script, sizeof script, "%s/examples/day.py", s_bin("MANDATE_SOURCE_DIR", "."));
    snprintf(input, sizeof input, "%s/day.jsonl", K.dir);
    /* Two of the day's notices from so-van-hoa and one line from another source. */
    char lines[8192], *day = NULL;
    size_t n = 0, o = 0;
    {
        char path[400];
        snprintf(path, sizeof path, "%s/examples/day.jsonl", s_bin("MANDATE_SOURCE_DIR", "."));
        day = harness_read_file(path);
    }
    bool other = false;
    char *save = NULL;
    for (char *l = strtok_r(day, "\n", &save); l && (n < 2 || !other);
         l = strtok_r(NULL, "\n", &save)) {
        bool ours = strstr(l, "\"source\": \"so-van-hoa\"") &&
                    strstr(l, "\"type\": \"press.conference_notice\"") && strstr(l, "\"venue\"") &&
                    !strstr(l, "alien");
        if ((ours && n < 2) || (!ours && !other && strstr(l, "\"source\": \"ubnd-xa\""))) {
            o += (size_t)snprintf(lines + o, sizeof lines - o, "%s\n", l);
            n += ours;
            other = other || !ours;
        }
    }
    free(day);
    cr_assert(n == 2 && other, "day.jsonl changed: %zu notices", n);
    s_write(input, 0600, lines);

    const char *argv[] = {PYTHON,
                          script,
                          "publish",
                          input,
                          "--endpoint",
                          harness_endpoint(h),
                          "--key",
                          K.agency_secret,
                          "--server-key",
                          K.server_public,
                          NULL};
    int rc = s_run(argv);
    char *acks = harness_read_file(K.out);
    cr_expect_eq(rc, 1, "one refusal: exit %d: %s / %s", rc, acks, s_stderr());
    cr_expect(strstr(s_stderr(), "2 acknowledged, 1 refused"), "%s", s_stderr());
    cr_expect(strstr(s_stderr(), "forbidden"), "%s", s_stderr());
    free(acks);
    cr_expect_eq(log_inspect_count_field(harness_state_dir(h), "accepted", "source", "so-van-hoa"),
                 2);
    cr_assert_eq(harness_stop(h, 10000), 0);
    harness_destroy(&h);
}
