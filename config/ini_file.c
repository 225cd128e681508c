/*
 * ini_file: drives inih through a line reader that counts lines and opens
 * sections itself (see ini_file.h). Allocation failure aborts with a message:
 * data files are read at start and on reload, where there is nothing better
 * to do.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "config/ini_file.h"

struct ini_file {
    const char *name;
    const struct ini_file_ops *ops;
    void *user;
    struct config_error *err;
    bool failed;

    /* The reader's cursor over the whole text. */
    const char *text, *pos, *end;
    unsigned lineno;
    /* inih treats an indented line as a continuation once a key has been
     * seen in the section; the reader must agree with it on which lines are
     * headers, and tells the key callback which calls are continuations. */
    bool key_seen;
    bool continuation;
    char last_key[64];
};

/* ------------------------------------------------------------------------ */
/* Errors. */

void
config_error_format(const struct config_error *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    char line[16] = "";
    if (err->line)
        snprintf(line, sizeof line, ":%u", err->line);
    snprintf(buf, size, "%s%s: %s%s%s", err->file, line, err->key, err->key[0] ? ": " : "",
             err->message);
}

void
config_error_setv(struct config_error *err, const char *file, unsigned line, const char *key,
                  const char *fmt, va_list ap)
{
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    snprintf(err->key, sizeof err->key, "%s", key ? key : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void
config_error_set(struct config_error *err, const char *file, unsigned line, const char *key,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_error_setv(err, file, line, key, fmt, ap);
    va_end(ap);
}

/* The first error only: it is the one to fix first, and later ones are
 * often its consequences. */
void
ini_file_failv(struct ini_file *f, unsigned line, const char *key, const char *fmt, va_list ap)
{
    if (f->failed)
        return;
    f->failed = true;
    config_error_setv(f->err, f->name, line, key, fmt, ap);
}

void
ini_file_fail(struct ini_file *f, unsigned line, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ini_file_failv(f, line, key, fmt, ap);
    va_end(ap);
}

unsigned
ini_file_line(const struct ini_file *f)
{
    return f->lineno;
}

const char *
ini_file_name(const struct ini_file *f)
{
    return f->name;
}

bool
ini_file_continuation(const struct ini_file *f)
{
    return f->continuation;
}

bool
ini_file_failed(const struct ini_file *f)
{
    return f->failed;
}

/* ------------------------------------------------------------------------ */
/* The line reader inih pulls from. */

/* inih's find_chars_or_comment(): the first of chars, or an inline ';'
 * comment (one preceded by whitespace), or the end. */
static const char *
s_find_or_comment(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* Classifies the line the way inih's ini_parse_stream() will, so that both
 * agree on what is a header and what is a continuation. */
static void
s_look_at_line(struct ini_file *f, const char *line)
{
    const char *start = line;
    f->continuation = false;
    if (f->lineno == 1 && (unsigned char)start[0] == 0xef && (unsigned char)start[1] == 0xbb &&
        (unsigned char)start[2] == 0xbf)
        start += 3;
    while (isspace((unsigned char)*start))
        start++;
    if (!*start || *start == ';' || *start == '#')
        return;
    if (f->key_seen && start > line) {
        f->continuation = true;
        return;
    }
    if (*start != '[')
        return;
    const char *close = s_find_or_comment(start + 1, "]");
    if (*close != ']')
        return; /* inih reports it; see s_syntax_error() */
    const char *after = close + 1;
    while (isspace((unsigned char)*after))
        after++;
    if (*after && *after != ';' && *after != '#') {
        /* inih would ignore it, and with it perhaps a key on the same line. */
        char label[128];
        snprintf(label, sizeof label, "%.*s",
                 (int)(close - start + 1 < 100 ? close - start + 1 : 100), start);
        ini_file_fail(f, f->lineno, label, "unexpected text after ']': '%.64s'", after);
        return;
    }
    f->key_seen = false;

    const char *inner = start + 1;
    size_t len = (size_t)(close - inner);
    while (len && isspace((unsigned char)*inner))
        inner++, len--;
    while (len && isspace((unsigned char)inner[len - 1]))
        len--;
    char raw[128];
    snprintf(raw, sizeof raw, "%.*s", (int)(len < 100 ? len : 100), inner);
    f->ops->section(f, f->user, raw);
}

static char *
s_reader(char *buf, int size, void *stream)
{
    struct ini_file *f = stream;
    if (f->failed || f->pos >= f->end)
        return NULL; /* stops inih at the first error */
    const char *nl = memchr(f->pos, '\n', (size_t)(f->end - f->pos));
    size_t len = nl ? (size_t)(nl - f->pos) : (size_t)(f->end - f->pos);
    f->lineno++;
    /* inih's line buffer is fixed (INI_MAX_LINE): a longer line would be
     * split in two and every later line number would be off. */
    if (size < 2 || len > (size_t)size - 1) {
        ini_file_fail(f, f->lineno, "", "line longer than %d bytes%s%s", size - 1,
                      f->ops->long_line_hint ? "; " : "",
                      f->ops->long_line_hint ? f->ops->long_line_hint : "");
        return NULL;
    }
    memcpy(buf, f->pos, len);
    buf[len] = '\0';
    f->pos = nl ? nl + 1 : f->end;
    s_look_at_line(f, buf);
    if (f->failed)
        return NULL;
    return buf;
}

static int
s_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_file *f = user;
    (void)section; /* the reader tracks sections itself, with their lines */

    if (f->failed)
        return 0;
    if (f->continuation) {
        f->ops->key(f, f->user, f->last_key, value);
        return !f->failed;
    }
    f->key_seen = true;
    if (!*name) {
        ini_file_fail(f, f->lineno, "", "syntax error: no key name before '='");
        return 0;
    }
    snprintf(f->last_key, sizeof f->last_key, "%s", name);
    f->ops->key(f, f->user, name, value);
    return !f->failed;
}

/* inih found a line it could not parse: a key without '=' or a header
 * without ']'. */
static void
s_syntax_error(struct ini_file *f, unsigned line)
{
    const char *s = f->text;
    for (unsigned n = 1; n < line && s < f->end; n++) {
        const char *nl = memchr(s, '\n', (size_t)(f->end - s));
        s = nl ? nl + 1 : f->end;
    }
    const char *nl = memchr(s, '\n', (size_t)(f->end - s));
    size_t len = nl ? (size_t)(nl - s) : (size_t)(f->end - s);
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len > 64)
        len = 64;
    if (len && *s == '[')
        ini_file_fail(f, line, "", "syntax error: section header without closing ']': '%.*s'",
                      (int)len, s);
    else
        ini_file_fail(f, line, "", "syntax error: expected 'key = value' or '[section]': '%.*s'",
                      (int)len, s);
}

int
ini_file_parse(const char *text, size_t len, const char *name, const struct ini_file_ops *ops,
               void *user, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);

    const char *nul = memchr(text, '\0', len);
    if (nul) {
        unsigned line = 1;
        for (const char *c = text; c < nul; c++)
            line += *c == '\n';
        config_error_set(err, name, line, "", "NUL byte in a text file");
        return -EINVAL;
    }

    struct ini_file f = {
        .name = name,
        .ops = ops,
        .user = user,
        .err = err,
        .text = text,
        .pos = text,
        .end = text + len,
    };
    int rc = ini_parse_stream(s_reader, &f, s_handler, &f);
    /* inih reports the first line it failed on: its own syntax errors and
     * those our callbacks refused. The earlier one is the one to report. */
    if (rc > 0 && (!f.failed || (unsigned)rc < err->line)) {
        f.failed = false;
        s_syntax_error(&f, (unsigned)rc);
    } else if (rc < 0 && !f.failed) {
        /* -2: inih could not allocate its buffer. */
        alloc_failed(len);
    }
    return f.failed ? -EINVAL : 0;
}

int
ini_file_read(const char *path, size_t max_bytes, char **ret_text, size_t *ret_len,
              struct config_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        config_error_set(err, path, 0, "", "cannot open: %s", strerror(e));
        return -e;
    }
    /* One byte over the limit tells a too-large file from one at it. */
    char *buf = xcalloc(1, max_bytes + 2);
    size_t len = fread(buf, 1, max_bytes + 1, f);
    int rc = 0;
    if (ferror(f)) {
        rc = errno ? -errno : -EIO;
        config_error_set(err, path, 0, "", "cannot read: %s", strerror(-rc));
    } else if (len > max_bytes) {
        rc = -EFBIG;
        config_error_set(err, path, 0, "", "larger than %zu bytes: not a config file", max_bytes);
    }
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *ret_text = buf;
    *ret_len = len;
    return 0;
}
