/*
 * curve_cert: keys pyzmq's zmq.auth.create_certificates makes are read as
 * they are (a secret file only once it is 0600); keys mandatectl keygen
 * makes are read back by pyzmq; malformed certificates are refused, each
 * naming the line and key at fault.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/curve_cert.h"
#include "tests/support/daemon_harness.h"

static char s_dir[256];

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "curve-cert"), 0);
}

static void
s_teardown(void)
{
    harness_rm_rf(s_dir);
}

TestSuite(curve_cert, .init = s_setup, .fini = s_teardown);

/* Debian's interpreter has python3-zmq (scripts/install-deps). */
static void
s_python(const char *code, char *out, size_t size)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"%s\"", code);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "python3 failed: %s", code);
}

static void
s_path(char *buf, size_t size, const char *file)
{
    snprintf(buf, size, "%s/%s", s_dir, file);
}

Test(curve_cert, pyzmq_keys_as_they_are)
{
    char code[1024], out[256], pub[512], sec[512];
    snprintf(code, sizeof code,
             "import zmq.auth; p, s = zmq.auth.create_certificates('%s', 'agency', "
             "metadata={'org': 'So TT'}); "
             "print(zmq.auth.load_certificate(s)[0].decode())",
             s_dir);
    s_python(code, out, sizeof out);
    out[strcspn(out, "\n")] = '\0';
    s_path(pub, sizeof pub, "agency.key");
    s_path(sec, sizeof sec, "agency.key_secret");

    struct curve_cert c;
    struct config_error err;
    cr_assert_eq(curve_cert_load(pub, false, &c, &err), 0, "%s", err.message);
    cr_expect_str_eq(c.public_z85, out);
    cr_expect_not(c.has_secret);

    /* pyzmq writes the secret file with the umask's mode: 0644 here. */
    chmod(sec, 0644);
    cr_expect_eq(curve_cert_load(sec, true, &c, &err), -EPERM);
    cr_expect_str_eq(err.file, sec);
    cr_expect(strstr(err.message, "0644") && strstr(err.message, "chmod 600"), "%s", err.message);
    chmod(sec, 0600);
    cr_assert_eq(curve_cert_load(sec, true, &c, &err), 0, "%s", err.message);
    cr_expect(c.has_secret);
    cr_expect_str_eq(c.public_z85, out);
    curve_cert_clear(&c);

    chmod(pub, 0600); /* past the mode check: its content is what is wrong */
    cr_expect_eq(curve_cert_load(pub, true, &c, &err), -EINVAL, "a public file is no secret");
    cr_expect_str_eq(err.key, "curve.secret-key");
}

Test(curve_cert, keygen_pairs_read_by_pyzmq)
{
    struct curve_cert made, back;
    struct config_error err;
    cr_assert_eq(curve_cert_generate(s_dir, "soc", &made, &err), 0, "%s", err.message);
    char pub[512], sec[512], code[2048], out[256];
    s_path(pub, sizeof pub, "soc.key");
    s_path(sec, sizeof sec, "soc.key_secret");
    struct stat st;
    cr_assert_eq(stat(sec, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(pub, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0644);

    snprintf(code, sizeof code,
             "import zmq.auth; p, s = zmq.auth.load_certificate('%s'); "
             "q, n = zmq.auth.load_certificate('%s'); "
             "print(p.decode(), s.decode(), q.decode(), n)",
             sec, pub);
    s_python(code, out, sizeof out);
    char expect[256];
    snprintf(expect, sizeof expect, "%s %s %s None\n", made.public_z85, made.secret_z85,
             made.public_z85);
    cr_expect_str_eq(out, expect);

    cr_assert_eq(curve_cert_load(sec, true, &back, &err), 0, "%s", err.message);
    cr_expect_eq(memcmp(back.secret_key, made.secret_key, CURVE_KEY_LEN), 0);
    cr_expect_eq(memcmp(back.public_key, made.public_key, CURVE_KEY_LEN), 0);

    cr_expect_eq(curve_cert_generate(s_dir, "soc", NULL, &err), -EEXIST, "never overwritten");
    cr_expect_eq(curve_cert_generate(s_dir, "../x", NULL, &err), -EINVAL);
    cr_expect_eq(curve_cert_generate(s_dir, "", NULL, &err), -EINVAL);
    curve_cert_clear(&made);
    curve_cert_clear(&back);
}

#define PUB "C*M*>5WA6xV)=?aRmbl0Mt5B9[Z9jxX)Xyqk/D5/"
#define SEC "<fp@I+.(G#V[--/Ont7.!/]y@.r4Q6RT7@<!+2jm" /* PUB's */

static void
s_refused(const char *text, bool secret, unsigned line, const char *key, const char *words)
{
    struct curve_cert c;
    struct config_error err;
    cr_assert_eq(curve_cert_parse(text, strlen(text), "t.key", secret, &c, &err), -EINVAL,
                 "accepted: %s", text);
    cr_expect_str_eq(err.file, "t.key");
    cr_expect_eq(err.line, line, "line of '%s': %u", err.message, err.line);
    cr_expect_str_eq(err.key, key, "key of '%s'", err.message);
    cr_expect(strstr(err.message, words), "'%s' does not say '%s'", err.message, words);
    cr_expect_not(c.has_secret);
}

Test(curve_cert, well_formed_variants)
{
    struct curve_cert c;
    struct config_error err;
    const char *ok[] = {
        "metadata\ncurve\n    public-key = \"" PUB "\"\n",
        "# a comment\r\n\r\nmetadata\r\n    name = \"x\" # trailing\r\ncurve\r\n"
        "    public-key = '" PUB "'\r\n",
        "curve\n    public-key = \"" PUB "\"\n    secret-key = \"" SEC "\"\n",
        "metadata\n    org = So TT\n    deep\n        deeper = 1\ncurve\n    public-key = \"" PUB
        "\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_expect_eq(curve_cert_parse(ok[i], strlen(ok[i]), "t.key", false, &c, &err), 0, "%zu: %s",
                     i, err.message);
        cr_expect_str_eq(c.public_z85, PUB);
    }
}

Test(curve_cert, malformed_certificates_name_line_and_key)
{
    s_refused("curve\n\tpublic-key = \"" PUB "\"\n", false, 2, "", "tab");
    s_refused("curve\n  public-key = \"" PUB "\"\n", false, 2, "", "4 a level");
    s_refused("curve\n        public-key = \"" PUB "\"\n", false, 2, "", "deeper");
    s_refused("curve\n    public-key \"" PUB "\"\n", false, 2, "curve.public-key", "'='");
    s_refused("curve\n    public-key = \"" PUB "\n", false, 2, "curve.public-key", "unterminated");
    s_refused("curve\n    public-key = \"" PUB "\" x\n", false, 2, "curve.public-key",
              "after the closing quote");
    s_refused("curve\n    public-key = \"abc\"\n", false, 2, "curve.public-key", "got 3");
    s_refused("curve\n    public-key = \"" PUB "\"\n    public-key = \"" PUB "\"\n", false, 3,
              "curve.public-key", "duplicate");
    s_refused("curve\n    public-key = \"" PUB "\"\n    secret = \"x\"\n", false, 3, "curve.secret",
              "unknown key");
    s_refused("metadata\n    name = x\n", false, 0, "curve.public-key", "missing");
    s_refused("curve\n    public-key = \"" PUB "\"\n", true, 0, "curve.secret-key", "missing");
    /* A secret key of another pair. */
    s_refused("curve\n    public-key = \"" PUB "\"\n    secret-key = \"" PUB "\"\n", false, 3,
              "curve.secret-key", "does not belong");
    s_refused("curve\n    = 1\n", false, 2, "", "expected a name");
    /* Z85 length right, characters not: a space and a quote are not in its alphabet. */
    s_refused("curve\n    public-key = 'C*M*>5WA6xV)=?aRmbl0Mt5B9[Z9jxX)Xyqk/D \"'\n", false, 2,
              "curve.public-key", "do not decode");

    struct curve_cert c;
    struct config_error err;
    char nul[] = "curve\n\0    public-key = \"x\"\n";
    cr_expect_eq(curve_cert_parse(nul, sizeof nul - 1, "t.key", false, &c, &err), -EINVAL);
    cr_expect(strstr(err.message, "NUL"));
    size_t big_len = CURVE_CERT_MAX_SIZE + 1;
    char *big = malloc(big_len);
    memset(big, '#', big_len);
    cr_expect_eq(curve_cert_parse(big, big_len, "t.key", false, &c, &err), -EINVAL);
    cr_expect(strstr(err.message, "larger than"));
    free(big);
    char missing[512];
    s_path(missing, sizeof missing, "nope.key");
    cr_expect_eq(curve_cert_load(missing, false, &c, &err), -ENOENT);
    cr_expect_str_eq(err.file, missing);
}
