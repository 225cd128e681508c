/*
 * test_config: the INI configuration. The shipped default must load and
 * route the whole DOMAIN.md catalogue; every error must name the exact
 * file, line and key, since that is all an operator gets from
 * `mandated --check-config`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/embedded.h"
#include "tests/support/daemon_harness.h"

#define NAME "test.conf"

/* Loads text that must fail; checks rc, file, line and key. */
static struct config_error
s_fails(const char *text, unsigned line, const char *key)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    int rc = config_load_string(text, NAME, &cfg, &err);
    char buf[700];
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, -EINVAL, "rc %d for: %s", rc, buf);
    cr_assert_null(cfg, "output touched on failure");
    cr_expect_str_eq(err.file, NAME, "%s", buf);
    cr_expect_eq(err.line, line, "line %u, want %u: %s", err.line, line, buf);
    cr_expect_str_eq(err.key, key, "%s", buf);
    return err;
}

static struct mandated_config *
s_loads(const char *text)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    char buf[700] = "";
    int rc = config_load_string(text, NAME, &cfg, &err);
    if (rc)
        config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, buf);
    cr_assert_not_null(cfg);
    return cfg;
}

/* A temporary file holding text; the path is the caller's to unlink. */
static void
s_temp_file(char path[static 64], const char *text)
{
    snprintf(path, 64, "/tmp/test_config.XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

#define AREA "[area a]\ntypes = a.*\n"

/* ------------------------------------------------------------------------ */
/* The shipped default. */

Test(config_default, embedded_loads)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &cfg, &err), 0,
                 "%s:%u: %s: %s", err.file, err.line, err.key, err.message);
    cr_expect_str_eq(cfg->path, embedded_config.name);
    cr_expect_eq(cfg->nareas, 13);
    const struct source_conf *soc = config_source(cfg, "soc");
    cr_assert_not_null(soc);
    cr_expect_eq(soc->rate, 5000);
    cr_expect_eq(soc->burst, 5000);
    cr_expect(config_source_allows(soc, "cyber.soc_alert"));
    cr_expect_not(config_source_allows(soc, "press.conference_notice"));

    cr_expect_str_eq(cfg->broker.ingress, "tcp://127.0.0.1:7400");
    cr_expect_str_eq(cfg->broker.workers, "ipc://mandated-workers.ipc");
    cr_expect_str_eq(cfg->broker.http, "127.0.0.1:7480");
    cr_expect_str_eq(cfg->broker.state_dir, "./var");
    cr_expect_eq(cfg->broker.durability, DURABILITY_FULL);
    cr_expect_eq(cfg->broker.max_event_bytes, 65536);
    cr_expect_eq(cfg->broker.commit_max_batch, 1024);
    cr_expect_eq(cfg->broker.commit_max_delay_ms, 0);
    cr_expect_eq(cfg->broker.map_max_bytes, 68719476736ull);
    cr_expect_eq(cfg->broker.map_initial_bytes, 67108864ull);
    cr_expect_eq(cfg->broker.rejected_log_rate, 100);
    cr_expect_eq(cfg->delivery.heartbeat_ms, 2500);
    cr_expect_eq(cfg->delivery.liveness, 3);
    cr_expect_eq(cfg->delivery.max_attempts, 5);
    cr_expect_eq(cfg->delivery.retry_backoff_ms, 1000);
    cr_expect_not(cfg->security.curve);
    cr_expect_str_eq(cfg->security.server_secret_key, "keys/server.key_secret");
    cr_expect_str_eq(cfg->security.sources_dir, "keys/sources");

    const struct area_conf *cyber = config_area(cfg, "cyber");
    cr_assert_not_null(cyber);
    cr_expect_eq(cyber->workers, 2);
    cr_expect(cyber->spawn);
    cr_expect_eq(cyber->credit, 128, "the SOC lane runs a deeper pipeline");
    cr_expect_str_eq(cyber->unit, "Phòng Công nghệ thông tin");
    const struct area_conf *it = config_area(cfg, "it_industry");
    cr_assert_not_null(it);
    cr_expect_eq(it->ntypes, 0);
    cr_expect_null(config_area(cfg, "nope"));
    config_destroy(&cfg);
    cr_expect_null(cfg);
}

/* The file on disk and the embedded copy are the same config. */
Test(config_default, file_matches_embedded)
{
    char path[PATH_MAX];
    const char *src = getenv("MANDATE_SOURCE_DIR");
    if (src)
        snprintf(path, sizeof path, "%s/config/mandated.conf", src);
    else {
        /* Beside this file: tests/unit/../../config. */
        const char *slash = strrchr(__FILE__, '/');
        snprintf(path, sizeof path, "%.*s/../../config/mandated.conf",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    }
    struct mandated_config *file = NULL, *embedded = NULL;
    struct config_error err;
    cr_assert_eq(config_load_file(path, &file, &err), 0, "%s: %s", path, err.message);
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &embedded, &err),
                 0);
    cr_expect_eq(file->nareas, embedded->nareas);
    for (size_t i = 0; i < file->nareas && i < embedded->nareas; i++) {
        cr_expect_str_eq(file->areas[i].name, embedded->areas[i].name);
        cr_expect_eq(file->areas[i].ntypes, embedded->areas[i].ntypes);
    }
    config_destroy(&file);
    config_destroy(&embedded);
}

/* Literal names (indexed at load) and wildcard globs together keep first-match order. */
Test(config_routing, literals_and_globs_first_match_wins)
{
    struct mandated_config *cfg = s_loads("[area a]\ntypes = x.* y.exact\n"
                                          "[area b]\ntypes = z.one y.*\n"
                                          "[area c]\ntypes = *\n");
    static const char *const want[][2] = {
        {"x.any", "a"},   {"y.exact", "a"}, {"z.one", "b"},
        {"y.other", "b"}, {"z.two", "c"},   {"q.r", "c"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct area_conf *a = config_area_for_type(cfg, want[i][0]);
        cr_assert_not_null(a, "%s", want[i][0]);
        cr_expect_str_eq(a->name, want[i][1], "%s", want[i][0]);
    }
    config_destroy(&cfg);
    cfg = s_loads("[area a]\ntypes = only.this\n");
    cr_assert_null(config_area_for_type(cfg, "only.that"));
    cr_assert_null(config_area_for_type(cfg, "only.thi"));
    cr_assert_not_null(config_area_for_type(cfg, "only.this"));
    config_destroy(&cfg);
}

Test(config_default, routes_the_catalogue)
{
    static const char *const routes[][2] = {
        {"press.conference_notice", "press"},
        {"press.bulletin_licence_application", "press"},
        {"publishing.noncommercial_permit", "publishing"},
        {"publishing.noncommercial_import", "publishing"},
        {"printing.licence_application", "publishing"},
        {"printing.establishment_registration", "publishing"},
        {"printing.color_copier_registration", "publishing"},
        {"publishing.book_fair_permit", "publishing"},
        {"foreign_info.display_request", "foreign_info"},
        {"grassroots.feedback_item", "grassroots"},
        {"einfo.general_website_licence", "einfo"},
        {"einfo.game_point_certificate", "einfo"},
        {"ads.online_takedown", "ads"},
        {"postal.activity_notification", "postal"},
        {"postal.licence_application", "postal"},
        {"telecom.infrastructure_report", "telecom"},
        {"rf.interference_report", "rf"},
        {"dx.edoc_received", "digital"},
        {"cyber.soc_alert", "cyber"},
        {"cyber.incident_notification", "cyber"},
        {"cyber.incident_final_report", "cyber"},
        {"cyber.serious_incident_escalation", "cyber"},
        {"inspection.complaint_received", "inspection"},
        {"inspection.denunciation_received", "inspection"},
    };
    struct mandated_config *cfg = NULL;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &cfg, NULL), 0);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct area_conf *a = config_area_for_type(cfg, routes[i][0]);
        cr_assert_not_null(a, "%s is not routed", routes[i][0]);
        cr_expect_str_eq(a->name, routes[i][1], "%s", routes[i][0]);
    }
    cr_expect_null(config_area_for_type(cfg, "press.unknown"));
    cr_expect_null(config_area_for_type(cfg, "nothing"));
    cr_expect_null(config_area_for_type(cfg, ""));
    cr_expect_null(config_area_for_type(cfg, NULL));
    config_destroy(&cfg);
}

Test(config_default, describe)
{
    struct mandated_config *cfg = NULL;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &cfg, NULL), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    config_describe(cfg, out);
    fclose(out);
    cr_expect_not_null(strstr(text, "(embedded default)"));
    cr_expect_not_null(strstr(text, "[area press] unit: Phòng Thông tin - Báo chí - Xuất bản"));
    cr_expect_not_null(strstr(text, "cyber.soc_alert"));
    cr_expect_not_null(strstr(text, "[source soc] rate: 5000/s"));
    cr_expect_not_null(strstr(text, "asks for: ingress tcp://127.0.0.1:7400, workers "
                                    "ipc://mandated-workers.ipc, http 127.0.0.1:7480, the "
                                    "audit log in ./var/audit, fsync every commit"),
                       "%s", text);
    free(text);
    config_destroy(&cfg);

    cfg = s_loads("[broker]\ndurability = relaxed\nstate_dir = /srv/m/\n" AREA);
    out = open_memstream(&text, &len);
    config_describe(cfg, out);
    fclose(out);
    cr_expect_not_null(strstr(text, "audit log in /srv/m/audit, durability relaxed: commits not "
                                    "fsynced"),
                       "%s", text);
    free(text);
    config_destroy(&cfg);
}

/* ------------------------------------------------------------------------ */
/* Values. */

Test(config_values, defaults_without_keys)
{
    struct mandated_config *cfg = s_loads("[area a]\n");
    cr_expect_str_eq(cfg->path, NAME);
    cr_expect_str_eq(cfg->broker.ingress, "tcp://127.0.0.1:7400");
    cr_expect_eq(cfg->broker.max_event_bytes, 65536);
    cr_expect_eq(cfg->broker.map_initial_bytes, 67108864ull);
    cr_expect_eq(cfg->delivery.heartbeat_ms, 2500);
    cr_expect_eq(cfg->nareas, 1);
    cr_expect_str_eq(cfg->areas[0].name, "a");
    cr_expect_str_eq(cfg->areas[0].unit, "");
    cr_expect_eq(cfg->areas[0].ntypes, 0);
    cr_expect_eq(cfg->areas[0].workers, 1);
    cr_expect(cfg->areas[0].spawn);
    cr_expect_eq(cfg->areas[0].credit, 32);
    cr_expect_eq(cfg->delivery.drain_timeout_ms, 5000);
    cr_expect_str_eq(cfg->broker.worker_program, "");
    cr_expect_eq(cfg->nsources, 0);
    config_destroy(&cfg);
}

Test(config_values, all_keys)
{
    struct mandated_config *cfg = s_loads("[broker]\n"
                                          "ingress = tcp://*:9000\n"
                                          "workers = inproc://w\n"
                                          "http = [::1]:8080\n"
                                          "state_dir = /var/lib/mandated\n"
                                          "durability = relaxed\n"
                                          "max_event_bytes = 256\n"
                                          "commit_max_batch = 65536\n"
                                          "commit_max_delay_ms = 1000\n"
                                          "map_max_bytes = 1048576\n"
                                          "map_initial_bytes = 65536\n"
                                          "rejected_log_rate = 0.5\n"
                                          "worker_program = /opt/w/bin/worker\n"
                                          "[delivery]\n"
                                          "heartbeat_ms = 10\n"
                                          "liveness = 100\n"
                                          "max_attempts = 1\n"
                                          "retry_backoff_ms = 0\n"
                                          "drain_timeout_ms = 0\n"
                                          "[security]\n"
                                          "curve = YES\n"
                                          "server_secret_key = /k/s\n"
                                          "sources_dir = /k/src\n"
                                          "[area x_1]\n"
                                          "unit = Thanh tra Sở\n"
                                          "types = x.* y.? z.[ab]\n"
                                          "workers = 0\n"
                                          "spawn = off\n"
                                          "credit = 1024\n"
                                          "[source agency-1.hp]\n"
                                          "allow = x.a\n"
                                          "rate = 1e3\n"
                                          "burst = 20\n");
    cr_expect_str_eq(cfg->broker.ingress, "tcp://*:9000");
    cr_expect_str_eq(cfg->broker.workers, "inproc://w");
    cr_expect_str_eq(cfg->broker.http, "[::1]:8080");
    cr_expect_str_eq(cfg->broker.state_dir, "/var/lib/mandated");
    cr_expect_eq(cfg->broker.durability, DURABILITY_RELAXED);
    cr_expect_eq(cfg->broker.max_event_bytes, 256);
    cr_expect_eq(cfg->broker.commit_max_batch, 65536);
    cr_expect_eq(cfg->broker.commit_max_delay_ms, 1000);
    cr_expect_eq(cfg->broker.map_max_bytes, 1048576);
    cr_expect_eq(cfg->broker.map_initial_bytes, 65536);
    cr_expect_eq(cfg->broker.rejected_log_rate, 0.5);
    cr_expect_eq(cfg->delivery.heartbeat_ms, 10);
    cr_expect_eq(cfg->delivery.liveness, 100);
    cr_expect_eq(cfg->delivery.max_attempts, 1);
    cr_expect_eq(cfg->delivery.retry_backoff_ms, 0);
    cr_expect_eq(cfg->delivery.drain_timeout_ms, 0);
    cr_expect_str_eq(cfg->broker.worker_program, "/opt/w/bin/worker");
    cr_expect(cfg->security.curve);
    cr_expect_str_eq(cfg->security.server_secret_key, "/k/s");
    cr_expect_str_eq(cfg->security.sources_dir, "/k/src");
    const struct area_conf *a = &cfg->areas[0];
    cr_expect_str_eq(a->name, "x_1");
    cr_expect_str_eq(a->unit, "Thanh tra Sở");
    cr_expect_eq(a->ntypes, 3);
    cr_expect_eq(a->workers, 0);
    cr_expect_not(a->spawn);
    cr_expect_eq(a->credit, 1024);
    cr_expect_eq(config_area_for_type(cfg, "z.b"), a);
    cr_expect_null(config_area_for_type(cfg, "z.c"));
    cr_expect_eq(config_area_for_type(cfg, "y.q"), a);
    cr_expect_null(config_area_for_type(cfg, "y.qq"));
    const struct source_conf *s = config_source(cfg, "agency-1.hp");
    cr_assert_not_null(s);
    cr_expect_eq(s->rate, 1000);
    cr_expect_eq(s->burst, 20);
    config_destroy(&cfg);
}

Test(config_values, bools)
{
    static const char *const yes[] = {"on", "yes", "true", "1", "On", "TRUE"};
    static const char *const no[] = {"off", "no", "false", "0", "OFF", "No"};
    for (size_t i = 0; i < 6; i++) {
        char text[128];
        snprintf(text, sizeof text, "[security]\ncurve = %s\n" AREA, yes[i]);
        struct mandated_config *cfg = s_loads(text);
        cr_expect(cfg->security.curve, "%s", yes[i]);
        config_destroy(&cfg);
        snprintf(text, sizeof text, "[security]\ncurve = %s\n" AREA, no[i]);
        cfg = s_loads(text);
        cr_expect_not(cfg->security.curve, "%s", no[i]);
        config_destroy(&cfg);
    }
}

/* inih strips "value ; comment" (whitespace before ';') and nothing else. */
Test(config_values, inline_comments)
{
    struct mandated_config *cfg = s_loads("[broker] ; the broker\n"
                                          "state_dir = /x ; where\n"
                                          "max_event_bytes = 1024\t; tab then comment\n"
                                          "# hash comment\n"
                                          "; semicolon comment\n"
                                          "[area a]\n"
                                          "unit = a;b\n");
    cr_expect_str_eq(cfg->broker.state_dir, "/x");
    cr_expect_eq(cfg->broker.max_event_bytes, 1024);
    cr_expect_str_eq(cfg->areas[0].unit, "a;b");
    config_destroy(&cfg);
}

Test(config_values, continuation_lines)
{
    struct mandated_config *cfg = s_loads("[area a]\n"
                                          "types = a.one\n"
                                          "   a.two a.three\n"
                                          "\ta.four\n"
                                          "unit = Phòng\n"
                                          "  Công nghệ thông tin\n"
                                          "[source s]\n"
                                          "allow =\n"
                                          "  a.one\n");
    const struct area_conf *a = &cfg->areas[0];
    cr_assert_eq(a->ntypes, 4);
    cr_expect_str_eq(a->types[3], "a.four");
    cr_expect_str_eq(a->unit, "Phòng Công nghệ thông tin");
    cr_expect_eq(cfg->sources[0].nallow, 1);
    config_destroy(&cfg);
}

/* CRLF line ends, a UTF-8 BOM and a last line without newline still count
 * lines right. */
Test(config_values, crlf_bom_and_no_final_newline)
{
    struct mandated_config *cfg = s_loads("\xef\xbb\xbf[broker]\r\nstate_dir = /y\r\n[area a]\r\n"
                                          "unit = z");
    cr_expect_str_eq(cfg->broker.state_dir, "/y");
    cr_expect_str_eq(cfg->areas[0].unit, "z");
    config_destroy(&cfg);
    s_fails("\xef\xbb\xbf[broker]\r\n\r\nbogus = 1\r\n", 3, "broker.bogus");
}

Test(config_values, map_initial_clamped_when_defaulted)
{
    struct mandated_config *cfg = s_loads("[broker]\nmap_max_bytes = 1048576\n" AREA);
    cr_expect_eq(cfg->broker.map_initial_bytes, 1048576);
    config_destroy(&cfg);
}

Test(config_values, empty_string_and_no_text)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_expect_eq(config_load_string("", NAME, &cfg, &err), -EINVAL);
    cr_expect_eq(err.line, 0);
    cr_expect_null(cfg);
    cr_expect_eq(config_load_string(NULL, NAME, &cfg, &err), -EINVAL);
    cr_expect_null(cfg);
}

/* ------------------------------------------------------------------------ */
/* Sources. */

Test(config_sources, allow_and_deny)
{
    struct mandated_config *cfg = s_loads("[area a]\ntypes = cyber.* press.*\n"
                                          "[source soc]\nallow = cyber.* press.conference_notice\n"
                                          "[source open]\nrate = 0.5\n"
                                          "[source quiet]\nallow =\n");
    const struct source_conf *soc = config_source(cfg, "soc");
    cr_assert_not_null(soc);
    cr_expect(config_source_allows(soc, "cyber.soc_alert"));
    cr_expect(config_source_allows(soc, "press.conference_notice"));
    cr_expect_not(config_source_allows(soc, "press.bulletin_licence_application"));
    cr_expect_not(config_source_allows(soc, "cyberx"));
    cr_expect_not(config_source_allows(soc, ""));
    cr_expect_not(config_source_allows(soc, NULL));
    cr_expect_eq(soc->rate, 0);
    cr_expect_eq(soc->burst, 0);

    /* A section without allow globs, or no section at all: anything. */
    const struct source_conf *open = config_source(cfg, "open");
    cr_assert_not_null(open);
    cr_expect(config_source_allows(open, "anything.at_all"));
    /* A bucket smaller than one token would refuse every event. */
    cr_expect_eq(open->rate, 0.5);
    cr_expect_eq(open->burst, 1);
    cr_expect(config_source_allows(config_source(cfg, "quiet"), "x.y"));
    cr_expect_null(config_source(cfg, "unknown"));
    cr_expect(config_source_allows(NULL, "press.conference_notice"));
    config_destroy(&cfg);
}

Test(config_sources, errors)
{
    s_fails(AREA "[source soc]\nrate = 10\nburst = 0.5\n", 5, "source.soc.burst");
    s_fails(AREA "[source soc]\nrate = inf\n", 4, "source.soc.rate");
    s_fails(AREA "[source soc]\nrate = -1\n", 4, "source.soc.rate");
    s_fails(AREA "[source soc]\nrate = 0x10\n", 4, "source.soc.rate");
    s_fails(AREA "[source soc]\nrate = 2e9\n", 4, "source.soc.rate");
    s_fails(AREA "[source soc]\nallow = Cyber.*\n", 4, "source.soc.allow");
    s_fails(AREA "[source soc]\n[source soc]\n", 4, "[source soc]");
    s_fails(AREA "[source a/b]\n", 3, "[source a/b]");
    s_fails(AREA "[source soc]\nbogus = 1\n", 4, "source.soc.bogus");
}

/* ------------------------------------------------------------------------ */
/* Errors: one test per kind, each with its exact line and key. */

Test(config_errors, unknown_section)
{
    struct config_error err = s_fails(AREA "\n[bogus]\nx = 1\n", 4, "[bogus]");
    cr_expect_not_null(strstr(err.message, "unknown section"));
    /* Found even when empty: the reader sees headers inih keeps to itself. */
    s_fails("[broker]\n[worker]\n" AREA, 2, "[worker]");
}

Test(config_errors, unknown_key)
{
    struct config_error err =
        s_fails("[broker]\ningress = tcp://x:1\nbogus = 1\n" AREA, 3, "broker.bogus");
    cr_expect_str_eq(err.message, "unknown key");
    s_fails(AREA "workerz = 2\n", 3, "area.a.workerz");
    s_fails("[delivery]\nstate_dir = x\n" AREA, 2, "delivery.state_dir");
}

Test(config_errors, key_outside_section)
{
    s_fails("; top\ningress = tcp://x:1\n" AREA, 2, "ingress");
}

Test(config_errors, bad_integer)
{
    struct config_error err =
        s_fails("[delivery]\nliveness = 3\nheartbeat_ms = 12x\n" AREA, 3, "delivery.heartbeat_ms");
    cr_expect_not_null(strstr(err.message, "not an integer in 10..600000"), "%s", err.message);
    cr_expect_not_null(strstr(err.message, "12x"), "%s", err.message);
    s_fails("[delivery]\nliveness = \n" AREA, 2, "delivery.liveness");
    s_fails("[delivery]\nliveness = +3\n" AREA, 2, "delivery.liveness");
    s_fails("[delivery]\nliveness = 0x3\n" AREA, 2, "delivery.liveness");
    s_fails("[delivery]\nliveness = 3 4\n" AREA, 2, "delivery.liveness");
    s_fails("[delivery]\nliveness = 3.0\n" AREA, 2, "delivery.liveness");
    err = s_fails("[broker]\nmap_max_bytes = 99999999999999999999999\n" AREA, 2,
                  "broker.map_max_bytes");
    cr_expect_not_null(strstr(err.message, "not an integer in"), "%s", err.message);
    cr_expect_not_null(strstr(err.message, "overflow"), "%s", err.message);
}

Test(config_errors, out_of_range)
{
    struct config_error err =
        s_fails("[broker]\nmax_event_bytes = 255\n" AREA, 2, "broker.max_event_bytes");
    cr_expect_not_null(strstr(err.message, "256..16777216"), "%s", err.message);
    /* Both bounds, both ways. */
    struct mandated_config *cfg = s_loads("[broker]\nmax_event_bytes = 16777216\n" AREA);
    config_destroy(&cfg);
    s_fails("[broker]\nmax_event_bytes = 16777217\n" AREA, 2, "broker.max_event_bytes");
    s_fails("[broker]\ncommit_max_batch = 0\n" AREA, 2, "broker.commit_max_batch");
    s_fails("[broker]\ncommit_max_delay_ms = 1001\n" AREA, 2, "broker.commit_max_delay_ms");
    s_fails("[broker]\nmap_max_bytes = 1048575\n" AREA, 2, "broker.map_max_bytes");
    s_fails("[broker]\nmap_initial_bytes = 65535\n" AREA, 2, "broker.map_initial_bytes");
    s_fails("[delivery]\nheartbeat_ms = 9\n" AREA, 2, "delivery.heartbeat_ms");
    s_fails("[delivery]\nliveness = 101\n" AREA, 2, "delivery.liveness");
    s_fails("[delivery]\nmax_attempts = 0\n" AREA, 2, "delivery.max_attempts");
    s_fails(AREA "workers = 65\n", 3, "area.a.workers");
    cfg = s_loads(AREA "workers = 64\n");
    config_destroy(&cfg);
    s_fails(AREA "credit = 0\n", 3, "area.a.credit");
    s_fails(AREA "credit = 1025\n", 3, "area.a.credit");
    s_fails(AREA "credit = 8x\n", 3, "area.a.credit");
    s_fails("[delivery]\ndrain_timeout_ms = 600001\n" AREA, 2, "delivery.drain_timeout_ms");
    s_fails("[broker]\nworker_program =\n" AREA, 2, "broker.worker_program");
    err = s_fails("[broker]\nids_filter = 200000001\n" AREA, 2, "broker.ids_filter");
    cr_expect_not_null(strstr(err.message, "0..200000000"), "%s", err.message);
    s_fails("[broker]\nids_filter = -1\n" AREA, 2, "broker.ids_filter");
    cfg = s_loads("[broker]\nids_filter = 0\n" AREA);
    cr_expect_eq(cfg->broker.ids_filter, 0, "0: no filter");
    config_destroy(&cfg);
    cfg = s_loads("[broker]\nids_filter = 200000000\n" AREA);
    cr_expect_eq(cfg->broker.ids_filter, 200000000);
    config_destroy(&cfg);
}

Test(config_errors, negative)
{
    struct config_error err =
        s_fails("[broker]\ncommit_max_batch = -5\n" AREA, 2, "broker.commit_max_batch");
    cr_expect_not_null(strstr(err.message, "not an integer in 1..65536"), "%s", err.message);
    cr_expect_not_null(strstr(err.message, "-5"), "%s", err.message);
    /* strtoull would have turned -1 into 18446744073709551615. */
    s_fails("[broker]\nmap_max_bytes = -1\n" AREA, 2, "broker.map_max_bytes");
}

Test(config_errors, bad_durability)
{
    struct config_error err =
        s_fails("[broker]\n\ndurability = fast\n" AREA, 3, "broker.durability");
    cr_expect_not_null(strstr(err.message, "fast"), "%s", err.message);
}

Test(config_errors, bad_bool)
{
    s_fails("[security]\ncurve = maybe\n" AREA, 2, "security.curve");
    s_fails(AREA "spawn = 2\n", 3, "area.a.spawn");
}

Test(config_errors, bad_strings)
{
    s_fails("[broker]\ningress = 127.0.0.1:7400\n" AREA, 2, "broker.ingress");
    s_fails("[broker]\nworkers = tcp://\n" AREA, 2, "broker.workers");
    s_fails("[broker]\nhttp = 7480\n" AREA, 2, "broker.http");
    s_fails("[broker]\nhttp = localhost:70000\n" AREA, 2, "broker.http");
    s_fails("[broker]\nhttp = ::1:80\n" AREA, 2, "broker.http");
    s_fails("[broker]\nstate_dir =\n" AREA, 2, "broker.state_dir");
    s_fails("[security]\nsources_dir =\n" AREA, 2, "security.sources_dir");
    s_fails(AREA "unit = \xff\xfe\n", 3, "area.a.unit");
}

Test(config_errors, duplicate_area)
{
    struct config_error err = s_fails(AREA "[area b]\n[area a]\n", 4, "[area a]");
    cr_expect_not_null(strstr(err.message, "line 1"), "%s", err.message);
}

Test(config_errors, duplicate_section)
{
    s_fails("[broker]\n[delivery]\n[broker]\n" AREA, 3, "[broker]");
}

Test(config_errors, duplicate_key)
{
    struct config_error err =
        s_fails(AREA "workers = 1\nspawn = no\nworkers = 2\n", 5, "area.a.workers");
    cr_expect_not_null(strstr(err.message, "line 3"), "%s", err.message);
    s_fails("[broker]\nhttp = a:1\nhttp = a:1\n" AREA, 3, "broker.http");
}

Test(config_errors, bad_area_name)
{
    s_fails("[area Press]\n", 1, "[area Press]");
    s_fails("[area 1st]\n", 1, "[area 1st]");
    s_fails("[area a-b]\n", 1, "[area a-b]");
    s_fails("[area a b]\n", 1, "[area a b]");
    s_fails("[area]\n", 1, "[area]");
    s_fails("[broker x]\n" AREA, 1, "[broker x]");
}

Test(config_errors, bad_glob)
{
    struct config_error err = s_fails("[area a]\nunit = x\ntypes = a.b A.*\n", 3, "area.a.types");
    cr_expect_not_null(strstr(err.message, "A.*"), "%s", err.message);
    s_fails("[area a]\ntypes = a/b\n", 2, "area.a.types");
    s_fails("[area a]\ntypes = a.[b\n", 2, "area.a.types");
    s_fails("[area a]\ntypes = a.b]\n", 2, "area.a.types");
    s_fails("[area a]\ntypes = a.b\n  c,d\n", 3, "area.a.types");
}

Test(config_errors, shadowed_type)
{
    s_fails("[area a]\ntypes = x.*\n[area b]\nunit = u\ntypes = y.z x.y\n", 5, "area.b.types");
    s_fails("[area a]\ntypes = x.y\n[area b]\ntypes = x.y\n", 4, "area.b.types");
    /* A later glob may overlap: a catch-all at the end is legitimate. */
    struct mandated_config *cfg = s_loads("[area a]\ntypes = x.y\n[area b]\ntypes = *\n");
    cr_expect_str_eq(config_area_for_type(cfg, "x.y")->name, "a");
    cr_expect_str_eq(config_area_for_type(cfg, "q.r")->name, "b");
    config_destroy(&cfg);
}

Test(config_errors, syntax_error_no_equals)
{
    struct config_error err = s_fails(AREA "workers = 1\nspawn yes\nunit = x\n", 4, "");
    cr_expect_not_null(strstr(err.message, "syntax error"), "%s", err.message);
    cr_expect_not_null(strstr(err.message, "spawn yes"), "%s", err.message);
    /* The first error wins even when a later key is bad too. */
    s_fails("[broker]\noops\nbogus = 1\n" AREA, 2, "");
    s_fails("[broker]\n= 5\n" AREA, 2, "");
}

Test(config_errors, syntax_error_header)
{
    struct config_error err = s_fails(AREA "[area b\ntypes = b.*\n", 3, "");
    cr_expect_not_null(strstr(err.message, "']'"), "%s", err.message);
    s_fails(AREA "[area b] types = b.*\n", 3, "[area b]");
}

/* An indented key after another is read by inih as more of that value. */
Test(config_errors, indented_key)
{
    struct config_error err =
        s_fails("[broker]\n  state_dir = /x\n  durability = full\n" AREA, 3, "broker.state_dir");
    cr_expect_not_null(strstr(err.message, "indent"), "%s", err.message);
    s_fails("[area a]\ntypes = a.*\n    workers = 2\n", 3, "area.a.types");
    s_fails("[broker]\nstate_dir = /x\n  /y\n" AREA, 3, "broker.state_dir");
    err = s_fails("[area a]\ntypes = a.*\n  [area b]\n", 3, "area.a.types");
    cr_expect_not_null(strstr(err.message, "section headers"), "%s", err.message);
}

Test(config_errors, long_line)
{
    char text[1024];
    int n = snprintf(text, sizeof text, "[area a]\nunit = ");
    memset(text + n, 'x', 300);
    snprintf(text + n + 300, sizeof text - (size_t)n - 300, "\nbogus = 1\n");
    struct config_error err = s_fails(text, 2, "");
    cr_expect_not_null(strstr(err.message, "line longer than"), "%s", err.message);
}

Test(config_errors, map_initial_above_max)
{
    struct config_error err = s_fails("[broker]\nmap_initial_bytes = 2097152\nmap_max_bytes = "
                                      "1048576\n" AREA,
                                      2, "broker.map_initial_bytes");
    cr_expect_not_null(strstr(err.message, "line 3"), "%s", err.message);
    /* Above the default maximum (64 GiB) when map_max_bytes is not set. */
    s_fails("[broker]\n\nmap_initial_bytes = 137438953472\n" AREA, 3, "broker.map_initial_bytes");
    struct mandated_config *cfg = s_loads("[broker]\nmap_initial_bytes = 1048576\nmap_max_bytes = "
                                          "1048576\n" AREA);
    config_destroy(&cfg);
}

Test(config_errors, no_areas)
{
    struct config_error err = s_fails("[broker]\n[source soc]\nallow = x.*\n", 0, "");
    cr_expect_str_eq(err.message, "no [area] sections: nothing could be routed");
}

Test(config_errors, nul_byte)
{
    static const char text[] = "[area a]\n\nunit = a\0b\n";
    char path[64];
    s_temp_file(path, "");
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_expect_eq(config_load_file(path, &cfg, &err), -EINVAL);
    cr_expect_eq(err.line, 3);
    cr_expect_null(cfg);
    unlink(path);
}

/* ------------------------------------------------------------------------ */
/* Files. */

Test(config_files, error_names_the_file)
{
    char path[64];
    s_temp_file(path, "; test\n[delivery]\nmax_attempts = many\n" AREA);
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_expect_eq(config_load_file(path, &cfg, &err), -EINVAL);
    cr_expect_null(cfg);
    cr_expect_str_eq(err.file, path);
    cr_expect_eq(err.line, 3);
    cr_expect_str_eq(err.key, "delivery.max_attempts");
    char buf[700], want[700];
    config_error_format(&err, buf, sizeof buf);
    snprintf(want, sizeof want, "%s:3: delivery.max_attempts: %s", path, err.message);
    cr_expect_str_eq(buf, want);
    unlink(path);
}

Test(config_files, loads)
{
    char path[64];
    s_temp_file(path, "[area a]\ntypes = a.*\n");
    struct mandated_config *cfg = NULL;
    cr_assert_eq(config_load_file(path, &cfg, NULL), 0);
    cr_expect_str_eq(cfg->path, path);
    cr_expect_str_eq(config_area_for_type(cfg, "a.b")->name, "a");
    config_destroy(&cfg);
    config_destroy(&cfg); /* safe twice */
    config_destroy(NULL);
    unlink(path);
}

Test(config_files, missing_file)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_expect_eq(config_load_file("/nonexistent/mandated.conf", &cfg, &err), -ENOENT);
    cr_expect_null(cfg);
    cr_expect_eq(err.line, 0);
    cr_expect_str_eq(err.key, "");
    char buf[512];
    config_error_format(&err, buf, sizeof buf);
    cr_expect_str_eq(buf, "/nonexistent/mandated.conf: cannot open: No such file or directory");
    /* An explicit path is never replaced by a fallback. */
    cr_expect_eq(config_load_default("/nonexistent/mandated.conf", &cfg, &err), -ENOENT);
    cr_expect_null(cfg);
}

Test(config_files, directory)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    cr_expect_eq(config_load_file("/tmp", &cfg, &err), -EISDIR);
    cr_expect_null(cfg);
}

Test(config_files, lookup_order)
{
    char dir[] = "/tmp/test_config.dXXXXXX", old[PATH_MAX], path[PATH_MAX + 32];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(getcwd(old, sizeof old));
    cr_assert_eq(chdir(dir), 0);

    struct mandated_config *cfg = NULL;
    struct config_error err;
    if (access("/etc/mandated/mandated.conf", R_OK) != 0) {
        cr_expect_eq(config_load_default(NULL, &cfg, &err), 0);
        cr_expect_str_eq(cfg->path, embedded_config.name);
        config_destroy(&cfg);
    }

    cr_assert_eq(mkdir("config", 0700), 0);
    FILE *f = fopen("config/mandated.conf", "w");
    fputs("[area local]\n", f);
    fclose(f);
    cr_expect_eq(config_load_default(NULL, &cfg, &err), 0);
    cr_expect_str_eq(cfg->path, "config/mandated.conf");
    cr_expect_not_null(config_area(cfg, "local"));
    config_destroy(&cfg);

    snprintf(path, sizeof path, "%s/config/mandated.conf", dir);
    cr_expect_eq(config_load_default(path, &cfg, &err), 0);
    cr_expect_str_eq(cfg->path, path);
    config_destroy(&cfg);

    unlink("config/mandated.conf");
    rmdir("config");
    cr_assert_eq(chdir(old), 0);
    rmdir(dir);
}

Test(config_files, error_format)
{
    struct config_error err = {.file = "f.conf", .line = 7, .key = "broker.http", .message = "m"};
    char buf[64];
    config_error_format(&err, buf, sizeof buf);
    cr_expect_str_eq(buf, "f.conf:7: broker.http: m");
    err.line = 0;
    config_error_format(&err, buf, sizeof buf);
    cr_expect_str_eq(buf, "f.conf: broker.http: m");
    err.key[0] = '\0';
    config_error_format(&err, buf, sizeof buf);
    cr_expect_str_eq(buf, "f.conf: m");
    config_error_format(&err, buf, 4);
    cr_expect_str_eq(buf, "f.c");
}

Test(config_files, split_hostport)
{
    char host[64];
    unsigned port = 0;
    cr_expect_eq(config_split_hostport("127.0.0.1:7480", host, sizeof host, &port), 0);
    cr_expect_str_eq(host, "127.0.0.1");
    cr_expect_eq(port, 7480);
    cr_expect_eq(config_split_hostport("[::1]:80", host, sizeof host, &port), 0);
    cr_expect_str_eq(host, "::1");
    cr_expect_eq(port, 80);
    cr_expect_eq(config_split_hostport("localhost:0", host, sizeof host, &port), -EINVAL);
    cr_expect_eq(config_split_hostport(":80", host, sizeof host, &port), -EINVAL);
    cr_expect_eq(config_split_hostport("[::1]80", host, sizeof host, &port), -EINVAL);
    cr_expect_eq(config_split_hostport("localhost:80", host, 4, &port), -ENAMETOOLONG);
}

/* The data files the config names: the catalogue, the calendars and the
 * asset registry, at their defaults (compiled in) and from files. */
Test(config_values, domain_files_and_deadline_keys)
{
    struct mandated_config *cfg = s_loads("[area a]\n");
    cr_expect_str_eq(cfg->broker.catalogue, "");
    cr_expect_str_eq(cfg->broker.calendar_dir, "");
    cr_expect_str_eq(cfg->broker.asset_registry, "");
    cr_expect_str_eq(cfg->areas[0].triage_unit, "");
    cr_expect_eq(cfg->delivery.deadline_scan_ms, 1000);
    cr_expect_eq(cfg->delivery.deadline_warn_ms, 86400000);
    cr_assert_not_null(cfg->catalogue);
    cr_expect_geq(cfg->catalogue->ntypes, 24);
    cr_expect(calendar_has_year(cfg->calendar, 2025));
    cr_expect_not(calendar_has_year(cfg->calendar, 2030));
    cr_expect_not_null(asset_registry_find(cfg->assets, "lgsp"));
    config_destroy(&cfg);

    char dir[256], text[2048], path[600];
    cr_assert_eq(harness_mkdtemp(dir, sizeof dir, "config-files"), 0);
    snprintf(path, sizeof path, "%s/2030.ini", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[year 2030]\ndecision = a test\n[rest]\n2030-01-02 = x\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/cat.ini", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[type a.x]\narea = a\nfield.n = uint max=3\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/assets.ini", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[asset h]\ntitle = t\nsystem_level = 5\ncritical = yes\nowner = o\nowner_copes = no\n",
          f);
    fclose(f);
    snprintf(text, sizeof text,
             "[broker]\ncatalogue = %s/cat.ini\ncalendar_dir = %s\nasset_registry = %s/assets.ini\n"
             "[delivery]\ndeadline_scan_ms = 10\ndeadline_warn_ms = 0\n"
             "[area a]\ntriage_unit = SOC\n",
             dir, dir, dir);
    cfg = s_loads(text);
    cr_expect_eq(cfg->catalogue->ntypes, 1);
    cr_expect_str_eq(config_area_for_type(cfg, "a.x")->name, "a");
    cr_expect_null(config_area_for_type(cfg, "press.conference_notice"), "only this catalogue");
    cr_expect(calendar_has_year(cfg->calendar, 2030));
    cr_expect(calendar_has_year(cfg->calendar, 2025), "the shipped years stay");
    cr_expect_eq(cfg->assets->nassets, 1);
    cr_expect_str_eq(cfg->areas[0].triage_unit, "SOC");
    cr_expect_eq(cfg->delivery.deadline_scan_ms, 10);
    cr_expect_eq(cfg->delivery.deadline_warn_ms, 0);
    config_destroy(&cfg);

    s_fails("[delivery]\ndeadline_scan_ms = 9\n" AREA, 2, "delivery.deadline_scan_ms");
    s_fails("[delivery]\ndeadline_scan_ms = 3600001\n" AREA, 2, "delivery.deadline_scan_ms");
    s_fails("[delivery]\ndeadline_warn_ms = 4000000001\n" AREA, 2, "delivery.deadline_warn_ms");

    /* An error in a file the config names is reported with that file's line. */
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[asset h]\nsystem_level = 9\n", f);
    fclose(f);
    struct config_error err;
    cr_expect_eq(config_load_string(text, NAME, &cfg, &err), -EINVAL);
    cr_expect_null(cfg);
    cr_expect_str_eq(err.file, path);
    cr_expect_eq(err.line, 2);
    cr_expect_str_eq(err.key, "asset.h.system_level");
    harness_rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* [security], [worker NAME] and endpoints that leave the host. */

Test(config_security, endpoints_off_the_host_need_curve)
{
    cr_assert(config_endpoint_is_local("ipc:///run/x.ipc"));
    cr_assert(config_endpoint_is_local("inproc://x"));
    cr_assert(config_endpoint_is_local("tcp://127.0.0.1:7400"));
    cr_assert(config_endpoint_is_local("tcp://127.9.8.7:1"));
    cr_assert(config_endpoint_is_local("tcp://[::1]:7400"));
    cr_assert(config_endpoint_is_local("tcp://localhost:7400"));
    cr_assert(config_endpoint_is_local("tcp://lo:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://*:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://0.0.0.0:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://198.18.0.1:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://[::]:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://eth0:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://broker.example:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://128.0.0.1:7400"));
    cr_assert_not(config_endpoint_is_local("tcp://nonsense"));

    struct config_error e =
        s_fails("[broker]\ningress = tcp://0.0.0.0:7400\n[area a]\n", 2, "broker.ingress");
    cr_assert(strstr(e.message, "curve = on"), "%s", e.message);
    e = s_fails("[area a]\n[broker]\nworkers = tcp://198.18.0.1:7401\n", 3, "broker.workers");
    cr_assert(strstr(e.message, "workers_curve = on"), "%s", e.message);
    struct mandated_config *cfg = s_loads("[broker]\ningress = tcp://0.0.0.0:7400\n"
                                          "workers = tcp://*:7401\n[security]\ncurve = on\n"
                                          "workers_curve = on\n[area a]\nspawn = no\n");
    cr_assert_str_eq(cfg->security.server_public_key, "keys/server.key",
                     "the public key defaults to the pair's public half");
    config_destroy(&cfg);
}

Test(config_security, worker_sections)
{
    struct mandated_config *cfg = s_loads("[area press]\n[area cyber]\n"
                                          "[worker w1]\nareas = press, cyber\n"
                                          "[worker w2]\nareas = cyber\n");
    cr_assert_eq(cfg->nworkers, 2);
    cr_assert(config_worker_serves(config_worker(cfg, "w1"), "press"));
    cr_assert(config_worker_serves(config_worker(cfg, "w1"), "cyber"));
    cr_assert_not(config_worker_serves(config_worker(cfg, "w2"), "press"));
    cr_assert_not(config_worker_serves(config_worker(cfg, "w3"), "press"));
    config_destroy(&cfg);

    s_fails("[area press]\n[worker w1]\nareas = press, postal\n", 3, "worker.w1.areas");
    s_fails("[area press]\n[worker w1]\nareas = Press\n", 3, "worker.w1.areas");
    s_fails("[area press]\n[worker w1]\n", 2, "worker.w1.areas");
    s_fails("[area press]\n[worker w1]\nareas = press\n[worker w1]\n", 4, "[worker w1]");
    s_fails("[area press]\n[worker a:b]\nareas = press\n", 2, "[worker a:b]");
    s_fails("[area press]\n[worker]\n", 2, "[worker]");
    s_fails("[area press]\n[worker w1]\nareas = press\nallow = x\n", 4, "worker.w1.allow");
}

Test(config_security, spawned_workers_need_a_key_that_may_serve_them)
{
    s_fails("[security]\nworkers_curve = on\n[area press]\n", 0, "security.worker_secret_key");
    s_fails("[security]\nworkers_curve = on\nworker_secret_key = keys/w/local.key_secret\n"
            "[area press]\n[area cyber]\n[worker local]\nareas = press\n",
            3, "security.worker_secret_key");
    s_fails("[security]\nworkers_curve = on\nworker_secret_key = keys/w/local.key_secret\n"
            "[area press]\n",
            3, "security.worker_secret_key");
    struct mandated_config *cfg =
        s_loads("[security]\nworkers_curve = on\nworker_secret_key = keys/w/local.key_secret\n"
                "[area press]\n[area cyber]\nspawn = no\n[worker local]\nareas = press\n");
    config_destroy(&cfg);
}

Test(config_security, keys_are_read_and_checked)
{
    char dir[256], path[400], text[2048];
    struct config_error err;
    struct mandated_config *cfg;
    cr_assert_eq(harness_mkdtemp(dir, sizeof dir, "config-keys"), 0);
    snprintf(path, sizeof path, "%s/sources", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(curve_cert_generate(dir, "server", NULL, &err), 0);
    cr_assert_eq(curve_cert_generate(path, "soc", NULL, &err), 0);
    snprintf(text, sizeof text,
             "[security]\ncurve = on\nserver_secret_key = %s/server.key_secret\n"
             "sources_dir = %s/sources\n[area a]\n",
             dir, dir);
    cfg = s_loads(text);
    cr_assert_not(cfg->keys.loaded, "loading the config does not read the secret");
    cr_assert_eq(config_load_keys(cfg, &err), 0, "%s", err.message);
    cr_assert(cfg->keys.loaded);
    /* The secret pair in sources_dir is no public key: only soc.key counts. */
    cr_assert_eq(cfg->keys.sources->n, 1);
    cr_assert_not_null(keyring_find_name(cfg->keys.sources, "soc"));
    cr_assert_null(cfg->keys.workers, "workers_curve is off");

    /* A second name for the same key is refused, naming the file. */
    char a[500], b[500];
    snprintf(a, sizeof a, "%s/sources/soc.key", dir);
    snprintf(b, sizeof b, "%s/sources/soc2.key", dir);
    char *body = harness_read_file(a);
    FILE *f = fopen(b, "w");
    fputs(body, f);
    fclose(f);
    free(body);
    cr_assert_eq(config_load_keys(cfg, &err), -EINVAL);
    cr_assert(strstr(err.file, "soc2.key") && strcmp(err.key, "public-key") == 0, "%s: %s",
              err.file, err.message);
    cr_assert(cfg->keys.loaded, "a failed load keeps the keys there were");
    unlink(b);
    /* A file name that cannot be a source. */
    snprintf(b, sizeof b, "%s/sources/bad name.key", dir);
    f = fopen(b, "w");
    fputs("curve\n", f);
    fclose(f);
    cr_assert_eq(config_load_keys(cfg, &err), -EINVAL);
    cr_assert(strstr(err.file, "bad name.key"), "%s", err.file);
    unlink(b);
    /* A secret group may read. */
    snprintf(b, sizeof b, "%s/server.key_secret", dir);
    cr_assert_eq(chmod(b, 0644), 0);
    cr_assert_eq(config_load_keys(cfg, &err), -EPERM);
    cr_assert_str_eq(err.file, b);
    /* A key directory that is not there. */
    cr_assert_eq(chmod(b, 0600), 0);
    snprintf(a, sizeof a, "%s/sources", dir);
    harness_rm_rf(a);
    cr_assert_eq(config_load_keys(cfg, &err), -ENOENT);
    cr_assert_str_eq(err.file, a);
    config_destroy(&cfg);
    harness_rm_rf(dir);
}
