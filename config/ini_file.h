/*
 * ini_file: inih with line numbers. Every data file under config/ (the
 * daemon's config, the type catalogue, the working-day calendars) is INI
 * read through here, so that each of their errors names the file, the line
 * and the key the same way.
 *
 * inih hands us one "key = value" at a time and nothing else: Debian's build
 * has no line numbers (no INI_HANDLER_LINENO) and does not report section
 * headers. So inih reads through our own line reader, which counts lines and
 * sees every header first: a header opens its section even with no keys, and
 * the section's checks can name the header's line. Files are read whole into
 * memory first: one reader serves files and strings, and a syntax error
 * found by inih can quote its line.
 */
#ifndef MANDATE_INI_FILE_H
#define MANDATE_INI_FILE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* What went wrong and where: "file:line: key: message". */
struct config_error {
    char file[256];
    unsigned line; /* 0 when the fault is not on one line (e.g. a missing file) */
    char key[96];  /* "section.key" or "[section]", empty if none */
    char message[256];
};

/* Formats "file:line: key: message" into buf. */
void config_error_format(const struct config_error *err, char *buf, size_t size);
void config_error_set(struct config_error *err, const char *file, unsigned line, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void config_error_setv(struct config_error *err, const char *file, unsigned line, const char *key,
                       const char *fmt, va_list ap);

struct ini_file;

/*
 * The caller's side of a parse. Both callbacks stop the parse by calling
 * ini_file_fail(); only the first failure is kept.
 */
struct ini_file_ops {
    /* A header: the text between '[' and ']', trimmed. */
    void (*section)(struct ini_file *f, void *user, const char *inner);
    /* A key, or (ini_file_continuation()) an indented line continuing the
     * previous key's value, given as name = that key, value = the line. */
    void (*key)(struct ini_file *f, void *user, const char *name, const char *value);
    /* Said when a line is too long, after "line longer than N bytes; ". */
    const char *long_line_hint;
};

/*
 * Parses len bytes of text called name. Returns 0, or -EINVAL with *err
 * filled (the first error: a syntax error of inih's, or the first a callback
 * reported).
 */
int ini_file_parse(const char *text, size_t len, const char *name, const struct ini_file_ops *ops,
                   void *user, struct config_error *err);

/*
 * Reads a whole file of at most max_bytes into *ret_text (malloc'd,
 * NUL-terminated) and *ret_len. Returns 0 or -errno with *err filled.
 */
int ini_file_read(const char *path, size_t max_bytes, char **ret_text, size_t *ret_len,
                  struct config_error *err);

/* The line being parsed, from 1. */
unsigned ini_file_line(const struct ini_file *f);
/* The file name given to ini_file_parse(). */
const char *ini_file_name(const struct ini_file *f);
/* Whether the key callback now sees a continuation line. */
bool ini_file_continuation(const struct ini_file *f);
bool ini_file_failed(const struct ini_file *f);
/* Records the first failure; line 0 = not on one line. */
void ini_file_fail(struct ini_file *f, unsigned line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ini_file_failv(struct ini_file *f, unsigned line, const char *key, const char *fmt,
                    va_list ap);

#endif
