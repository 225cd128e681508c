/*
 * The command lines as an operator meets them: mandated -t on good and bad
 * configs, usage errors, the relaxed-durability warning, and mandatectl
 * publish -> tail --json -> verify against a running daemon.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

/* Data the catalogue accepts, as publishers write it. */
#define NOTICE_DATA(content)                                                                       \
    "{\"organiser\":\"Sở Văn hóa\",\"organiser_kind\":\"domestic\",\"chair\":\"A\","           \
    "\"purpose\":\"p\",\"content\":\"" content "\",\"start_time\":1780300000000,"                  \
    "\"venue\":\"Nhà hát\",\"invitees\":\"báo chí\"}"
#define ALERT_DATA(asset)                                                                          \
    "{\"format\":\"wazuh\",\"time\":1780000000000,\"asset\":\"" asset "\",\"rule\":\"r\","         \
    "\"severity_raw\":5,\"observables\":[]}"

/* Runs a command line through sh, captures stdout+stderr; returns the exit code. */
static int
s_run(char **ret_out, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0)
        len += n;
    buf[len] = '\0';
    int status = pclose(p);
    *ret_out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *
s_bin(void)
{
    const char *b = getenv("MANDATED_BIN");
    return b ? b : "build/mandated";
}

Test(cli, check_config_prints_and_exits_zero)
{
    struct harness *h = harness_new(NULL, NULL);
    char *out;
    cr_assert_eq(s_run(&out, "%s -t -c %s", s_bin(), harness_config_path(h)), 0, "%s", out);
    cr_assert(strstr(out, "press.conference_notice"), "areas and types listed: %s", out);
    cr_assert(strstr(out, harness_state_dir(h)));
    free(out);
    harness_destroy(&h);
}

Test(cli, check_config_names_file_line_and_key_and_exits_78)
{
    struct harness *h = harness_new("commit_max_batch = lots\n", NULL);
    char *out, want[400];
    cr_assert_eq(s_run(&out, "%s --check-config -c %s", s_bin(), harness_config_path(h)), 78);
    /* The harness writes [broker] then four keys; the bad one is on line 6. */
    snprintf(want, sizeof want, "%s:6: broker.commit_max_batch", harness_config_path(h));
    cr_assert(strstr(out, want), "want '%s' in: %s", want, out);
    free(out);
    cr_assert_eq(s_run(&out, "%s -c /nonexistent/mandated.conf", s_bin()), 78);
    cr_assert(strstr(out, "/nonexistent/mandated.conf"), "%s", out);
    free(out);
    harness_destroy(&h);
}

Test(cli, usage)
{
    char *out;
    cr_assert_eq(s_run(&out, "%s --help", s_bin()), 0);
    cr_assert(strstr(out, "--check-config"));
    free(out);
    cr_assert_eq(s_run(&out, "%s --bogus", s_bin()), 64);
    free(out);
    cr_assert_eq(s_run(&out, "%s -V", s_bin()), 0);
    cr_assert(strstr(out, "mandated 0."), "%s", out);
    free(out);
}

Test(cli, relaxed_durability_says_so_at_start, .timeout = 30)
{
    struct harness *h = harness_new("durability = relaxed\n", NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert_eq(harness_stop(h, 10000), 0);
    char *out = harness_daemon_log(h);
    cr_assert(strstr(out, "durability = relaxed"), "log: %s", out);
    free(out);
    harness_destroy(&h);
}

Test(cli, publish_tail_verify_round_trip, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    char *out;
    int rc = harness_ctl(h, NULL, &out, "publish", "--type", "press.conference_notice", "--source",
                         "so-van-hoa", "--id", "0123456789abcdef0123456789abcdef", "--data",
                         NOTICE_DATA("Lễ hội"), NULL);
    cr_assert_eq(rc, 0, "publish: %s", out);
    cr_assert(strstr(out, "0123456789abcdef0123456789abcdef"), "%s", out);
    free(out);

    /* Same id again: still exit 0, reported as a duplicate. */
    rc = harness_ctl(h, NULL, &out, "publish", "--type", "press.conference_notice", "--source",
                     "so-van-hoa", "--id", "0123456789abcdef0123456789abcdef", "--data",
                     NOTICE_DATA("Lễ hội"), NULL);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "dup"), "%s", out);
    free(out);

    /* A batch from stdin with one unknown type: exit 1, the rest accepted. */
    rc = harness_ctl(
        h,
        "{\"type\":\"cyber.soc_alert\",\"source\":\"soc\",\"data\":" ALERT_DATA(
            "a") "}\n"
                 "{\"type\":\"cyber.no_such\",\"source\":\"soc\",\"data\":{}}\n"
                 "{\"type\":\"inspection.complaint_received\",\"source\":\"ttcp\",\"data\":"
                 "{\"received_at\":1780000000000,\"complainant\":\"P\",\"address\":\"L\","
                 "\"respondent\":\"R\",\"content\":\"C\",\"request\":\"Q\"}}\n",
        &out, "publish", "-", NULL);
    cr_assert_eq(rc, 1, "one NACK must make publish exit 1: %s", out);
    free(out);

    rc = harness_ctl(h, NULL, &out, "tail", "--json", "--kind", "accepted", NULL);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "\"organiser\": \"Sở Văn hóa\"") ||
                  strstr(out, "\"organiser\":\"Sở Văn hóa\""),
              "tail --json must show the event's data: %s", out);
    cr_assert(strstr(out, "cyber.soc_alert"));
    cr_assert(strstr(out, "inspection.complaint_received"));
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 3, "three accepted events, one JSON line each: %s", out);
    free(out);

    rc = harness_ctl(h, NULL, &out, "tail", "--json", "--kind", "rejected", NULL);
    cr_assert(strstr(out, "unknown_type"), "%s", out);
    free(out);

    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}

/*
 * The promise end to end: mandatectl publishes 20,000 events from a file
 * while the broker is killed -9 and restarted under it. publish must still
 * exit 0 (its resends get `dup` for what had landed), every line must be in
 * the log exactly once, and the chain must verify.
 */
Test(cli, publish_survives_broker_kill9_and_restart, .timeout = 120)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/events.jsonl", harness_dir(h));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 20000; i++)
        fprintf(f,
                "{\"type\":\"cyber.soc_alert\",\"source\":\"soc-feed\",\"data\":" ALERT_DATA(
                    "web-%d") "}\n",
                i);
    fclose(f);

    pid_t child = fork();
    if (child == 0) {
        int rc = harness_ctl(h, NULL, NULL, "publish", "--timeout", "500", "--retries", "40", path,
                             NULL);
        _exit(rc);
    }
    usleep(150 * 1000);
    int early;
    cr_assert_eq(waitpid(child, &early, WNOHANG), 0, "publish finished before the kill");
    harness_kill9(h);
    usleep(200 * 1000);
    cr_assert_eq(harness_start(h, 10000), 0, "restart failed");
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "publish exit status %d", status);
    cr_assert_eq(harness_stop(h, 10000), 0);
    long ids = log_inspect_count_ids(harness_state_dir(h));
    cr_assert_eq(ids, 20000, "%ld events in the log, 20000 published", ids);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}

/* tail -f sees a commit made after it started, and stops cleanly on SIGTERM. */
Test(cli, tail_follow_sees_new_commits, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    char out_path[400];
    snprintf(out_path, sizeof out_path, "%s/follow.out", harness_dir(h));
    pid_t child = fork();
    if (child == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        close(fd);
        const char *bin = getenv("MANDATECTL_BIN");
        execl(bin, bin, "-c", harness_config_path(h), "tail", "-f", "--json", "--kind", "accepted",
              (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "publish", "--type", "press.conference_notice",
                             "--source", "follow-test", "--data", NOTICE_DATA("xyzzy"), NULL),
                 0);
    char *out = NULL;
    bool seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        usleep(100 * 1000);
        free(out);
        out = harness_read_file(out_path);
        seen = strstr(out, "xyzzy") != NULL;
    }
    cr_assert(seen, "tail -f never printed the new event: %s", out);
    free(out);
    kill(child, SIGTERM);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tail -f exit status %d", status);
    harness_destroy(&h);
}

/* CURVE asked for but its keys missing: the daemon does not run without them. */
Test(cli, curve_on_without_keys_is_refused)
{
    struct harness *h = harness_new(NULL, "[security]\ncurve = on\n");
    char *out;
    cr_assert_eq(s_run(&out, "%s -c %s", s_bin(), harness_config_path(h)), 78, "%s", out);
    cr_assert(strstr(out, "keys/server.key_secret") && strstr(out, "cannot open"), "%s", out);
    free(out);
    harness_destroy(&h);
}

static const char *
s_ctl_bin(void)
{
    const char *b = getenv("MANDATECTL_BIN");
    return b ? b : "build/mandatectl";
}

Test(cli, keygen_writes_a_pair_once)
{
    char dir[256], *out;
    cr_assert_eq(harness_mkdtemp(dir, sizeof dir, "keygen"), 0);
    cr_assert_eq(s_run(&out, "%s keygen --dir %s soc", s_ctl_bin(), dir), 0, "%s", out);
    cr_expect(strstr(out, "/soc.key_secret") && strstr(out, "public-key "), "%s", out);
    free(out);
    /* A second run with the same name must not replace the secret. */
    cr_assert_eq(s_run(&out, "%s keygen --dir %s soc", s_ctl_bin(), dir), 73, "%s", out);
    cr_expect(strstr(out, "soc.key_secret: cannot create: File exists"), "%s", out);
    free(out);
    cr_assert_eq(s_run(&out, "%s keygen --dir %s ../up", s_ctl_bin(), dir), 64, "%s", out);
    cr_expect(strstr(out, "not a key name"), "%s", out);
    free(out);
    cr_assert_eq(s_run(&out, "%s keygen", s_ctl_bin()), 64);
    cr_expect(strstr(out, "missing NAME"), "%s", out);
    free(out);
    harness_rm_rf(dir);
}
