/*
 * test_json_msgpack: JSON -> msgpack packing (types, the depth bound and its
 * error path, taken both ways), msgpack -> JSON for display (every msgpack
 * type, including those JSON lacks), round trips, and mandatectl publish
 * refusing malformed or too deep JSON input with file:line before it sends.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/json_msgpack.h"

struct packed {
    msgpack_sbuffer sb;
    msgpack_unpacked up;
};

static int
s_pack_text(const char *text, unsigned depth, struct packed *ret, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    msgpack_packer pk;
    int rc;

    cr_assert_not_null(j, "test JSON '%s': %s", text, jerr.text);
    msgpack_sbuffer_init(&ret->sb);
    msgpack_packer_init(&pk, &ret->sb, msgpack_sbuffer_write);
    rc = json_msgpack_pack(&pk, j, depth, err, errlen);
    json_decref(j);
    msgpack_unpacked_init(&ret->up);
    if (rc == 0) {
        size_t off = 0;
        cr_assert_eq(msgpack_unpack_next(&ret->up, ret->sb.data, ret->sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(off, ret->sb.size, "one object, no trailing bytes");
    }
    return rc;
}

static void
s_release(struct packed *p)
{
    msgpack_unpacked_destroy(&p->up);
    msgpack_sbuffer_destroy(&p->sb);
}

/* Converts o to compact JSON text (caller frees). */
static char *
s_display(const msgpack_object *o)
{
    json_t *j = json_msgpack_to_json(o);
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(j);
    cr_assert_not_null(text);
    return text;
}

/* Packs text, converts back, and expects the same JSON value. */
static void
s_round_trip(const char *text)
{
    struct packed p;
    json_t *want = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *got;

    cr_assert_eq(s_pack_text(text, JSON_MSGPACK_MAX_DEPTH, &p, NULL, 0), 0, "%s", text);
    got = json_msgpack_to_json(&p.up.data);
    char *got_text = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_expect(json_equal(want, got), "round trip of %s gave %s", text, got_text);
    free(got_text);
    json_decref(want);
    json_decref(got);
    s_release(&p);
}

Test(json_msgpack, round_trips)
{
    s_round_trip("{}");
    s_round_trip("[]");
    s_round_trip("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}");
    s_round_trip("{\"n\":0,\"neg\":-1,\"min\":-9223372036854775808,\"max\":9223372036854775807}");
    s_round_trip("{\"pi\":3.25,\"tiny\":-1e-300}");
    s_round_trip("{\"vi\":\"Phòng Thông tin - Báo chí\",\"emoji\":\"\\ud83d\\ude00\"}");
    s_round_trip("{\"\":\"empty key\",\"nested\":[[[1],[2,[3]]]]}");
    s_round_trip("\"a bare string\"");
    s_round_trip("42");
}

Test(json_msgpack, types_on_the_wire)
{
    struct packed p;

    cr_assert_eq(s_pack_text("[0,5,-5,1.5,\"s\",null,true]", 8, &p, NULL, 0), 0);
    const msgpack_object *a = p.up.data.via.array.ptr;
    cr_expect_eq(p.up.data.type, MSGPACK_OBJECT_ARRAY);
    cr_expect_eq(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER, "0 is a uint");
    cr_expect_eq(a[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_expect_eq(a[2].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_expect_eq(a[2].via.i64, -5);
    cr_expect_eq(a[3].type, MSGPACK_OBJECT_FLOAT64);
    cr_expect_eq(a[4].type, MSGPACK_OBJECT_STR);
    cr_expect_eq(a[5].type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(a[6].type, MSGPACK_OBJECT_BOOLEAN);
    /* A real is a float64 (0xcb) even when a float32 would hold it. */
    cr_expect(memmem(p.sb.data, p.sb.size, "\xcb\x3f\xf8", 3) != NULL);
    s_release(&p);
}

Test(json_msgpack, strings_keep_nul_bytes)
{
    struct packed p;

    /* jansson accepts \u0000 in values (JSON_ALLOW_NUL), never in keys. */
    cr_assert_eq(s_pack_text("{\"k\":\"a\\u0000b\"}", 8, &p, NULL, 0), 0);
    const msgpack_object_kv *kv = p.up.data.via.map.ptr;
    cr_expect_eq(kv->val.via.str.size, 3);
    cr_expect_eq(memcmp(kv->val.via.str.ptr, "a\0b", 3), 0);
    /* Displayed, a str holding NUL becomes tagged hex, never an embedded NUL. */
    char *text = s_display(&kv->val);
    cr_expect_str_eq(text, "\"hex:610062\"");
    free(text);
    s_release(&p);
}

Test(json_msgpack, depth_bound_both_ways)
{
    struct packed p;
    char err[200];

    /* Three containers deep: allowed at 3, refused at 2. */
    cr_expect_eq(s_pack_text("{\"a\":[{}]}", 3, &p, err, sizeof(err)), 0);
    s_release(&p);
    cr_expect_eq(s_pack_text("{\"a\":[{}]}", 2, &p, err, sizeof(err)), -ELOOP);
    cr_expect_str_eq(err, ".a[0]: nested deeper than 2 levels");
    cr_expect_eq(p.sb.size, 0, "nothing packed on failure");
    s_release(&p);

    /* Scalars do not count; the top-level container does. */
    cr_expect_eq(s_pack_text("{\"a\":1,\"b\":\"x\"}", 1, &p, err, sizeof(err)), 0);
    s_release(&p);
    cr_expect_eq(s_pack_text("[]", 0, &p, err, sizeof(err)), -ELOOP);
    cr_expect_str_eq(err, ".: nested deeper than 0 levels");
    s_release(&p);
    cr_expect_eq(s_pack_text("7", 0, &p, err, sizeof(err)), 0);
    s_release(&p);
}

Test(json_msgpack, deep_json_names_the_path)
{
    char text[4096] = "{\"top\":", err[300];
    struct packed p;

    /* 100 nested arrays inside the object: well within jansson, past our bound. */
    for (int i = 0; i < 100; i++)
        strcat(text, "[");
    for (int i = 0; i < 100; i++)
        strcat(text, "]");
    strcat(text, "}");
    cr_expect_eq(s_pack_text(text, JSON_MSGPACK_MAX_DEPTH, &p, err, sizeof(err)), -ELOOP);
    cr_expect(strncmp(err, ".top[0][0]", 10) == 0, "path: %s", err);
    cr_expect(strstr(err, "nested deeper than 64 levels") != NULL, "%s", err);
    s_release(&p);
}

/* ---- msgpack -> JSON for display ---- */

static char *
s_display_bytes(const char *bytes, size_t len)
{
    msgpack_unpacked up;
    size_t off = 0;
    char *text;

    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, bytes, len, &off), MSGPACK_UNPACK_SUCCESS);
    text = s_display(&up.data);
    msgpack_unpacked_destroy(&up);
    return text;
}

#define DISPLAYS(bytes, want)                                                                      \
    do {                                                                                           \
        char *got_ = s_display_bytes(bytes, sizeof(bytes) - 1);                                    \
        cr_expect_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

Test(json_msgpack, display_of_every_type)
{
    DISPLAYS("\xc0", "null");
    DISPLAYS("\xc3", "true");
    DISPLAYS("\x7f", "127");
    DISPLAYS("\xd0\x80", "-128");
    /* Past INT64_MAX: a decimal string rather than a rounded number. */
    DISPLAYS("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "\"18446744073709551615\"");
    DISPLAYS("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", "9223372036854775807");
    DISPLAYS("\xca\x3f\xc0\x00\x00", "1.5");                     /* float32 */
    DISPLAYS("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "\"nan\""); /* NaN */
    DISPLAYS("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00", "\"-inf\"");
    DISPLAYS("\xa3\x61\x62\x63", "\"abc\"");
    DISPLAYS("\xa0", "\"\"");
    DISPLAYS("\xa2\xc3\x28", "\"hex:c328\"");       /* not UTF-8 */
    DISPLAYS("\xc4\x03\x00\xab\xff", "\"00abff\""); /* bin */
    DISPLAYS("\xd4\x05\x2a", "{\"ext\":5,\"hex\":\"2a\"}");
    DISPLAYS("\xc7\x00\xfe", "{\"ext\":-2,\"hex\":\"\"}");
    DISPLAYS("\x92\x01\xa1\x78", "[1,\"x\"]");
}

Test(json_msgpack, display_map_keys)
{
    /* Non-string keys become their compact JSON text; a bin key its hex. */
    DISPLAYS("\x84\x01\xa1\x61\xc0\xa1\x62\x92\x01\x02\xa1\x63\xc4\x02\xbe\xef\xa1\x64",
             "{\"1\":\"a\",\"null\":\"b\",\"[1,2]\":\"c\",\"beef\":\"d\"}");
    /* Duplicate keys: the last one wins, as in most JSON readers. */
    DISPLAYS("\x82\xa1\x6b\x01\xa1\x6b\x02", "{\"k\":2}");
    /* A key that is not UTF-8. */
    DISPLAYS("\x81\xa1\xff\x01", "{\"hex:ff\":1}");
}

Test(json_msgpack, hex)
{
    char out[9];

    json_msgpack_hex("\x01\xab\xcd\xef", 4, out);
    cr_expect_str_eq(out, "01abcdef");
    json_msgpack_hex("", 0, out);
    cr_expect_str_eq(out, "");
}

/* ---- mandatectl publish refuses bad input before sending anything ---- */

/* Runs mandatectl with args, stdin from input; returns the exit code, stderr in *ret_err. */
static int
s_ctl(const char *input, char **ret_err, const char *const *args)
{
    const char *bin = getenv("MANDATECTL_BIN");
    char errpath[] = "/tmp/test_json_msgpack_err.XXXXXX";
    char inpath[] = "/tmp/test_json_msgpack_in.XXXXXX";
    int errfd = mkstemp(errpath), infd = mkstemp(inpath), status;
    pid_t pid;

    cr_assert(errfd >= 0 && infd >= 0);
    cr_assert_eq(write(infd, input, strlen(input)), (ssize_t)strlen(input));
    lseek(infd, 0, SEEK_SET);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        const char *argv[32] = {bin};
        int n = 1;

        for (; args[n - 1] && n < 31; n++)
            argv[n] = args[n - 1];
        argv[n] = NULL;
        dup2(infd, 0);
        dup2(errfd, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    FILE *f = fdopen(errfd, "r");
    rewind(f);
    *ret_err = calloc(1, 4096);
    fread(*ret_err, 1, 4095, f);
    fclose(f);
    close(infd);
    unlink(errpath);
    unlink(inpath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The endpoint is never reached: the input is refused first. */
#define CTL_PUBLISH                                                                                \
    "--endpoint", "ipc:///nonexistent/mandated.ipc", "publish", "--type", "press.bulletin",        \
        "--source", "test", "--timeout", "50", "--retries", "0"

Test(json_msgpack, publish_refuses_bad_json)
{
    char *err;

    if (!getenv("MANDATECTL_BIN"))
        cr_skip_test("MANDATECTL_BIN not set");

    const char *const stdin_args[] = {CTL_PUBLISH, "-", NULL};
    cr_expect_eq(s_ctl("{\"a\":1}\n\n{\"a\": tru}\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "<stdin>:3:") != NULL, "names the line: %s", err);
    cr_expect(strstr(err, "bad JSON") != NULL, "%s", err);
    free(err);

    cr_expect_eq(s_ctl("[1,2]\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "<stdin>:1: expected a JSON object") != NULL, "%s", err);
    free(err);

    cr_expect_eq(s_ctl("{\"a\":1,\"a\":2}\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "<stdin>:1:") != NULL && strstr(err, "duplicate"), "%s", err);
    free(err);

    cr_expect_eq(s_ctl("{\"type\":\"press.bulletin\",\"colour\":1}\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "unknown key \"colour\"") != NULL, "%s", err);
    free(err);

    cr_expect_eq(s_ctl("{\"type\":\"Not A Type\"}\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "<stdin>:1: type 'Not A Type'") != NULL, "%s", err);
    free(err);

    cr_expect_eq(s_ctl("{\"type\":\"press.x\",\"id\":\"xyz\"}\n", &err, stdin_args), 65);
    cr_expect(strstr(err, "\"id\": expected 32 hex digits") != NULL, "%s", err);
    free(err);

    char deep[600] = "{\"a\":";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    for (int i = 0; i < 70; i++)
        strcat(deep, "]");
    strcat(deep, "}\n");
    cr_expect_eq(s_ctl(deep, &err, stdin_args), 65);
    cr_expect(strstr(err, "<stdin>:1: data: .a[0]") != NULL, "%s", err);
    cr_expect(strstr(err, "nested deeper than 64 levels") != NULL, "%s", err);
    free(err);

    const char *const data_args[] = {CTL_PUBLISH, "--data", "{\"a\":", NULL};
    cr_expect_eq(s_ctl("", &err, data_args), 65);
    cr_expect(strstr(err, "--data: column") != NULL, "%s", err);
    free(err);
}

Test(json_msgpack, publish_checks_a_whole_file_first)
{
    char path[] = "/tmp/test_json_msgpack_file.XXXXXX", *err;
    int fd;

    if (!getenv("MANDATECTL_BIN"))
        cr_skip_test("MANDATECTL_BIN not set");
    /* Line 3 is bad: a regular file is refused before line 1 is sent (else: 69, no broker). */
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    dprintf(fd, "{\"a\":1}\n{\"a\":2}\n{\"a\":\n");
    close(fd);
    const char *const args[] = {CTL_PUBLISH, path, NULL};
    cr_expect_eq(s_ctl("", &err, args), 65);
    char want[64];
    snprintf(want, sizeof(want), "%s:3:", path);
    cr_expect(strstr(err, want) != NULL, "names file:line: %s", err);
    free(err);
    unlink(path);
}
