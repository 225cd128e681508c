/*
 * curve_cert: see curve_cert.h. The reader takes the part of ZPL (RFC 4)
 * that certificates use: lines indented by four spaces per level, `name`
 * opening a section, `name = value` with the value quoted ("..." or '...')
 * or bare up to a comment, `#` comments. Z85 and the key arithmetic are
 * libzmq's (zmq_z85_decode, zmq_curve_public, zmq_curve_keypair).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "common/alloc.h"
#include "config/curve_cert.h"

#define NAME_MAX_LEN  64
#define VALUE_MAX_LEN 255
#define DEPTH_MAX     8

struct parse {
    const char *name;
    struct config_error *err;
    unsigned line;
    char sections[DEPTH_MAX][NAME_MAX_LEN + 1]; /* the open section at each level */
    size_t depth;                               /* levels open */
    bool has_public, has_secret;
    char public_z85[CURVE_KEY_Z85_LEN + 1], secret_z85[CURVE_KEY_Z85_LEN + 1];
    unsigned public_line, secret_line;
};

static bool
s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("$-_@.&+/", c) != NULL;
}

/* Reads a value at p (line ends at end) into buf; false (err set) if malformed. */
static bool
s_value(struct parse *ps, const char *key, const char *p, const char *end, char *buf, size_t size)
{
    size_t n;
    if (p < end && (*p == '"' || *p == '\'')) {
        const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
        if (!close) {
            config_error_set(ps->err, ps->name, ps->line, key, "unterminated quoted value");
            return false;
        }
        n = (size_t)(close - p - 1);
        if (n >= size) {
            config_error_set(ps->err, ps->name, ps->line, key, "value longer than %zu bytes",
                             size - 1);
            return false;
        }
        memcpy(buf, p + 1, n);
        for (p = close + 1; p < end && (*p == ' ' || *p == '\t'); p++)
            ;
        if (p < end && *p != '#') {
            config_error_set(ps->err, ps->name, ps->line, key,
                             "text after the closing quote (start a comment with #)");
            return false;
        }
    } else {
        const char *stop = memchr(p, '#', (size_t)(end - p));
        if (!stop)
            stop = end;
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        n = (size_t)(stop - p);
        if (n >= size) {
            config_error_set(ps->err, ps->name, ps->line, key, "value longer than %zu bytes",
                             size - 1);
            return false;
        }
        memcpy(buf, p, n);
    }
    buf[n] = '\0';
    return true;
}

/* A Z85 key of the curve section: 40 characters that decode to 32 bytes. */
static bool
s_key(struct parse *ps, const char *key, const char *value, bool *seen, char *out, unsigned *line)
{
    uint8_t raw[CURVE_KEY_LEN];
    if (*seen) {
        config_error_set(ps->err, ps->name, ps->line, key, "duplicate key (first on line %u)",
                         *line);
        return false;
    }
    if (strlen(value) != CURVE_KEY_Z85_LEN || !zmq_z85_decode(raw, value)) {
        config_error_set(ps->err, ps->name, ps->line, key,
                         "not a CURVE key: expected %d Z85 characters, got %zu%s",
                         CURVE_KEY_Z85_LEN, strlen(value),
                         strlen(value) == CURVE_KEY_Z85_LEN ? " that do not decode" : "");
        sodium_memzero(raw, sizeof raw);
        return false;
    }
    sodium_memzero(raw, sizeof raw);
    memcpy(out, value, CURVE_KEY_Z85_LEN + 1);
    *seen = true;
    *line = ps->line;
    return true;
}

/* One line without its newline. */
static bool
s_line(struct parse *ps, const char *p, const char *end)
{
    size_t indent = 0;
    while (p + indent < end && p[indent] == ' ')
        indent++;
    const char *q = p + indent;
    if (q == end || *q == '#')
        return true;
    if (*q == '\t') {
        config_error_set(ps->err, ps->name, ps->line, "", "indented with a tab (use 4 spaces)");
        return false;
    }
    if (indent % 4) {
        config_error_set(ps->err, ps->name, ps->line, "", "indented by %zu spaces (4 a level)",
                         indent);
        return false;
    }
    size_t level = indent / 4;
    if (level > ps->depth || level >= DEPTH_MAX) {
        config_error_set(ps->err, ps->name, ps->line, "", "indented deeper than its section");
        return false;
    }
    const char *name = q;
    while (q < end && s_name_char(*q))
        q++;
    size_t nlen = (size_t)(q - name);
    if (nlen == 0 || nlen > NAME_MAX_LEN) {
        config_error_set(ps->err, ps->name, ps->line, "",
                         nlen ? "name longer than %d characters"
                              : "expected a name (letters, digits, $-_@.&+/)",
                         NAME_MAX_LEN);
        return false;
    }
    char key[2 * NAME_MAX_LEN + 2];
    if (level > 0)
        snprintf(key, sizeof key, "%s.%.*s", ps->sections[level - 1], (int)nlen, name);
    else
        snprintf(key, sizeof key, "%.*s", (int)nlen, name);
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q == end || *q == '#') {
        /* A section: it holds the lines indented one level more. */
        memcpy(ps->sections[level], name, nlen);
        ps->sections[level][nlen] = '\0';
        ps->depth = level + 1;
        return true;
    }
    if (*q != '=') {
        config_error_set(ps->err, ps->name, ps->line, key, "expected '=' after the name");
        return false;
    }
    for (q++; q < end && (*q == ' ' || *q == '\t'); q++)
        ;
    char value[VALUE_MAX_LEN + 1];
    if (!s_value(ps, key, q, end, value, sizeof value))
        return false;
    ps->depth = level; /* a value closes what was open below its level */
    bool ok = true;
    if (level == 1 && strcmp(ps->sections[0], "curve") == 0) {
        if (strcmp(key, "curve.public-key") == 0)
            ok = s_key(ps, key, value, &ps->has_public, ps->public_z85, &ps->public_line);
        else if (strcmp(key, "curve.secret-key") == 0)
            ok = s_key(ps, key, value, &ps->has_secret, ps->secret_z85, &ps->secret_line);
        else {
            config_error_set(ps->err, ps->name, ps->line, key,
                             "unknown key (expected public-key or secret-key)");
            ok = false;
        }
    }
    sodium_memzero(value, sizeof value);
    return ok;
}

int
curve_cert_parse(const char *text, size_t len, const char *name, bool want_secret,
                 struct curve_cert *ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    memset(ret, 0, sizeof *ret);
    struct parse ps = {.name = name, .err = err};
    int rc = -EINVAL;
    if (len > CURVE_CERT_MAX_SIZE) {
        config_error_set(err, name, 0, "", "larger than %d bytes: not a certificate",
                         CURVE_CERT_MAX_SIZE);
        goto out;
    }
    if (memchr(text, '\0', len)) {
        config_error_set(err, name, 0, "", "holds a NUL byte: not a certificate");
        goto out;
    }
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        ps.line++;
        if (stop > p && stop[-1] == '\r')
            stop--;
        if (!s_line(&ps, p, stop))
            goto out;
        p = nl ? nl + 1 : end;
    }
    if (!ps.has_public) {
        config_error_set(err, name, 0, "curve.public-key", "missing");
        goto out;
    }
    if (want_secret && !ps.has_secret) {
        config_error_set(err, name, 0, "curve.secret-key",
                         "missing: this is a public certificate, not a NAME.key_secret");
        goto out;
    }
    if (ps.has_secret) {
        char derived[CURVE_KEY_Z85_LEN + 1];
        if (zmq_curve_public(derived, ps.secret_z85) != 0 || strcmp(derived, ps.public_z85) != 0) {
            config_error_set(err, name, ps.secret_line, "curve.secret-key",
                             "does not belong to the public-key on line %u", ps.public_line);
            goto out;
        }
        zmq_z85_decode(ret->secret_key, ps.secret_z85);
        memcpy(ret->secret_z85, ps.secret_z85, sizeof ret->secret_z85);
        ret->has_secret = true;
    }
    zmq_z85_decode(ret->public_key, ps.public_z85);
    memcpy(ret->public_z85, ps.public_z85, sizeof ret->public_z85);
    rc = 0;
out:
    sodium_memzero(ps.secret_z85, sizeof ps.secret_z85);
    return rc;
}

int
curve_cert_load(const char *path, bool want_secret, struct curve_cert *ret,
                struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    memset(ret, 0, sizeof *ret);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        config_error_set(err, path, 0, "", "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        config_error_set(err, path, 0, "", "cannot stat: %s", strerror(-rc));
    } else if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        config_error_set(err, path, 0, "", "not a regular file");
    } else if (want_secret && (st.st_mode & 077)) {
        rc = -EPERM;
        config_error_set(err, path, 0, "",
                         "mode %04o: a secret key file must not be readable by group or others "
                         "(chmod 600 it)",
                         (unsigned)(st.st_mode & 07777));
    } else if (st.st_size > CURVE_CERT_MAX_SIZE) {
        rc = -EINVAL;
        config_error_set(err, path, 0, "", "larger than %d bytes: not a certificate",
                         CURVE_CERT_MAX_SIZE);
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    char *buf = xmalloc(CURVE_CERT_MAX_SIZE + 1);
    size_t len = 0;
    ssize_t n;
    for (;;) {
        n = read(fd, buf + len, CURVE_CERT_MAX_SIZE + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > CURVE_CERT_MAX_SIZE)
            break; /* parse says it is too large */
    }
    if (n < 0) {
        /* A part of a key file is not a smaller key file. */
        rc = -errno;
        config_error_set(err, path, 0, "", "cannot read: %s", strerror(-rc));
    }
    close(fd);
    if (rc == 0)
        rc = curve_cert_parse(buf, len, path, want_secret, ret, err);
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

int
curve_client_load(const char *pair_path, const char *server_path, struct curve_client *ret,
                  bool *ret_server_failed, struct config_error *err)
{
    ret->on = false;
    *ret_server_failed = false;
    int rc = curve_cert_load(pair_path, true, &ret->pair, err);
    if (rc < 0)
        return rc;
    rc = curve_cert_load(server_path, false, &ret->server, err);
    if (rc < 0) {
        curve_cert_clear(&ret->pair);
        *ret_server_failed = true;
        return rc;
    }
    ret->on = true;
    return 0;
}

void
curve_cert_clear(struct curve_cert *cert)
{
    sodium_memzero(cert, sizeof *cert);
}

/* Writes one certificate file with O_EXCL and exactly this mode. */
static int
s_write(const char *path, mode_t mode, const char *text, struct config_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        config_error_set(err, path, 0, "", "cannot create: %s", strerror(e));
        return -e;
    }
    size_t len = strlen(text);
    int rc =
        fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ? -errno : 0;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        config_error_set(err, path, 0, "", "cannot write: %s", strerror(-rc));
        unlink(path);
    }
    return rc;
}

int
curve_cert_generate(const char *dir, const char *name, struct curve_cert *ret,
                    struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    size_t nlen = strlen(name);
    bool valid = nlen > 0 && nlen <= NAME_MAX_LEN && name[0] != '.';
    for (size_t i = 0; valid && i < nlen; i++)
        valid = s_name_char(name[i]) && name[i] != '/';
    if (!valid) {
        config_error_set(err, name, 0, "",
                         "not a key name: 1..%d of letters, digits, $-_@.&+, not starting with .",
                         NAME_MAX_LEN);
        return -EINVAL;
    }
    struct curve_cert c = {0};
    if (zmq_curve_keypair(c.public_z85, c.secret_z85) != 0) {
        config_error_set(err, name, 0, "", "zmq_curve_keypair: %s", zmq_strerror(errno));
        return -ENOTSUP;
    }
    zmq_z85_decode(c.public_key, c.public_z85);
    zmq_z85_decode(c.secret_key, c.secret_z85);
    c.has_secret = true;

    char when[32], head[128], pub_text[1024], sec_text[1024];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&now, &tm));
    snprintf(head, sizeof head, "#   ****  Generated on %s UTC by mandatectl  ****\n", when);
    snprintf(pub_text, sizeof pub_text,
             "%s#   ZeroMQ CURVE Public Certificate\n"
             "#   Exchange securely, or use a secure mechanism to verify the contents\n"
             "#   of this file after exchange.\n\n"
             "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n",
             head, name, c.public_z85);
    snprintf(sec_text, sizeof sec_text,
             "%s#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
             "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             head, name, c.public_z85, c.secret_z85);

    char pub_path[4096], sec_path[4096];
    int rc = 0;
    if (snprintf(pub_path, sizeof pub_path, "%s/%s.key", dir, name) >= (int)sizeof pub_path ||
        snprintf(sec_path, sizeof sec_path, "%s/%s.key_secret", dir, name) >=
            (int)sizeof sec_path) {
        config_error_set(err, dir, 0, "", "directory name too long");
        rc = -ENAMETOOLONG;
    }
    /* The secret first: a public file alone would look like a finished pair. */
    if (rc == 0)
        rc = s_write(sec_path, 0600, sec_text, err);
    if (rc == 0) {
        rc = s_write(pub_path, 0644, pub_text, err);
        if (rc < 0)
            unlink(sec_path);
    }
    sodium_memzero(sec_text, sizeof sec_text);
    if (rc == 0 && ret)
        *ret = c;
    curve_cert_clear(&c);
    return rc;
}
