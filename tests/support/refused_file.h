/*
 * refused_file: the expectation every data-file test shares (the config's
 * catalogue, calendars, asset registry): a broken file is refused, leaves
 * no output, and its error names the file, the line, the key and what is
 * wrong. Criterion tests only: include it from tests/unit.
 */
#ifndef MANDATE_REFUSED_FILE_H
#define MANDATE_REFUSED_FILE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config/ini_file.h"

/* One broken file and what its error must say. */
struct refused_file {
    const char *text;
    unsigned line;
    const char *key;
    const char *message; /* a fragment of the message */
};

/* rc and err from loading f->text as a file called file; out: what the
 * loader wrote to its output pointer (must be NULL). */
static inline void
refused_file_expect(const struct refused_file *f, const char *file, int rc,
                    const struct config_error *err, const void *out)
{
    char buf[600];
    config_error_format(err, buf, sizeof buf);
    cr_expect_eq(rc, -EINVAL, "accepted: %s", f->text);
    cr_expect_null(out, "output touched on failure: %s", f->text);
    cr_expect_str_eq(err->file, file, "%s", buf);
    cr_expect_eq(err->line, f->line, "%s -> %s", f->text, buf);
    cr_expect_str_eq(err->key, f->key, "%s -> %s", f->text, buf);
    cr_expect(strstr(err->message, f->message), "%s -> %s", f->text, buf);
}

#endif
