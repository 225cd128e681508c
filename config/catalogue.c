/*
 * catalogue: loads config/catalogue.ini (grammar in its header) through
 * ini_file, checks it whole (anchors name time fields, closing types exist,
 * versions have their base), and checks events' data against it.
 *
 * The data check is on the broker's intake path: one pass over the data
 * map, a linear search of the type's fields per key (types have a dozen
 * fields at most), no allocation.
 *
 * Allocation failure aborts with a message (STYLE.md rule 4).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "config/catalogue.h"
#include "config/embedded.h"
#include "proto/envelope.h"
#include "proto/text.h"

#define MAX_FILE_BYTES (4 * 1024 * 1024)
#define MAX_NAME       64
#define MAX_ITEMS      1000000u
/* The data check keeps one bit per field. */
#define MAX_FIELDS 64

static const char *const s_kind_names[] = {
    [FIELD_STR] = "str",   [FIELD_TIME] = "time", [FIELD_DATE] = "date",
    [FIELD_UINT] = "uint", [FIELD_INT] = "int",   [FIELD_NUMBER] = "number",
    [FIELD_BOOL] = "bool", [FIELD_MAP] = "map",   [FIELD_ANY] = "any",
};

static const char *const s_unit_names[] = {
    [DEADLINE_HOURS] = "hours",
    [DEADLINE_DAYS] = "days",
    [DEADLINE_WORKING_DAYS] = "working_days",
};

/* Splits s at sep into a new list of non-empty words. */
static char **
s_split(const char *s, const char *sep, size_t *ret_n)
{
    char **list = NULL;
    size_t n = 0;
    while (*s) {
        size_t skip = strspn(s, sep);
        s += skip;
        size_t len = strcspn(s, sep);
        if (!len)
            break;
        list = xreallocarray(list, n + 1, sizeof *list);
        list[n++] = xstrndup(s, len);
        s += len;
    }
    *ret_n = n;
    return list;
}

static void
s_free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ------------------------------------------------------------------------ */
/* Parser state. */

struct parse {
    struct catalogue *cat;
    struct ini_file *ini;
    struct catalogue_type *cur; /* NULL before the first [type] */
    unsigned *header_lines;     /* per type, for the whole-file checks */
    char last_key[MAX_NAME + 16];
    /* Where each deadline was set (index parallel to the type's deadlines),
     * so that the checks after parsing can name its line. */
    unsigned **deadline_lines;
};

static bool
s_valid_name(const char *s, size_t len)
{
    if (!len || len > MAX_NAME || !(*s >= 'a' && *s <= 'z'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* "press.conference_notice.v2" → base "press.conference_notice", 2. */
static int
s_split_version(const char *name, char **ret_base, unsigned *ret_version, char *msg, size_t size)
{
    const char *dot = strrchr(name, '.');
    if (dot && dot[1] == 'v' && dot[2] >= '0' && dot[2] <= '9' &&
        strspn(dot + 2, "0123456789") == strlen(dot + 2)) {
        uint64_t v;
        if (text_parse_u64(dot + 2, 1, 1000, &v) < 0 || v < 2 || dot[2] == '0') {
            snprintf(msg, size,
                     "version suffix '%s' must be .v2 to .v1000 (version 1 is the bare name)", dot);
            return -EINVAL;
        }
        if (!memchr(name, '.', (size_t)(dot - name))) {
            snprintf(msg, size, "'%s' has a version but no dotted base name", name);
            return -EINVAL;
        }
        *ret_base = xstrndup(name, (size_t)(dot - name));
        *ret_version = (unsigned)v;
        return 0;
    }
    *ret_base = xstrdup(name);
    *ret_version = 1;
    return 0;
}

static void
s_section(struct ini_file *f, void *user, const char *raw)
{
    struct parse *p = user;
    struct catalogue *cat = p->cat;
    unsigned line = ini_file_line(f);
    char label[160], msg[200];

    p->ini = f;
    snprintf(label, sizeof label, "[%s]", raw);
    if (strncmp(raw, "type", 4) != 0 || (raw[4] != ' ' && raw[4] != '\t')) {
        ini_file_fail(f, line, label, "unknown section (expected [type NAME])");
        return;
    }
    const char *name = raw + 5;
    while (*name == ' ' || *name == '\t')
        name++;
    if (!envelope_type_name_valid(name, strlen(name))) {
        ini_file_fail(f, line, label,
                      "bad type name '%.64s': dotted lower-case, like press.conference_notice",
                      name);
        return;
    }
    for (size_t i = 0; i < cat->ntypes; i++)
        if (strcmp(cat->types[i].name, name) == 0) {
            ini_file_fail(f, line, label, "duplicate type (first on line %u)", p->header_lines[i]);
            return;
        }
    char *base;
    unsigned version;
    if (s_split_version(name, &base, &version, msg, sizeof msg) < 0) {
        ini_file_fail(f, line, label, "%s", msg);
        return;
    }
    cat->types = xreallocarray(cat->types, cat->ntypes + 1, sizeof *cat->types);
    p->header_lines = xreallocarray(p->header_lines, cat->ntypes + 1, sizeof *p->header_lines);
    p->deadline_lines =
        xreallocarray(p->deadline_lines, cat->ntypes + 1, sizeof *p->deadline_lines);
    struct catalogue_type *t = &cat->types[cat->ntypes];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->base = base;
    t->version = version;
    t->title = xstrdup("");
    t->basis = xstrdup("");
    p->header_lines[cat->ntypes] = line;
    p->deadline_lines[cat->ntypes] = NULL;
    cat->ntypes++;
    p->cur = t;
}

/* ------------------------------------------------------------------------ */
/* Values. */

static int
s_parse_number(const char *s, double *ret)
{
    if (!*s || strspn(s, "0123456789.-+eE") != strlen(s))
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* "KIND[[]] [optional] [min=N] [max=N] [one_of=A|B] [items=MIN..MAX]" */
static int
s_parse_field(struct catalogue_field *fd, const char *spec, char *msg, size_t size)
{
    size_t nwords;
    char **words = s_split(spec, " \t", &nwords);
    int rc = -EINVAL;

    fd->required = true;
    fd->max_items = MAX_ITEMS;
    if (!nwords) {
        snprintf(msg, size,
                 "empty: expected a kind (str, time, date, uint, int, number, bool, "
                 "map or any)");
        goto out;
    }
    size_t klen = strlen(words[0]);
    if (klen > 2 && strcmp(words[0] + klen - 2, "[]") == 0) {
        fd->array = true;
        words[0][klen - 2] = '\0';
    }
    size_t k;
    for (k = 0; k < sizeof s_kind_names / sizeof *s_kind_names; k++)
        if (strcmp(words[0], s_kind_names[k]) == 0)
            break;
    if (k == sizeof s_kind_names / sizeof *s_kind_names) {
        snprintf(msg, size,
                 "unknown kind '%.32s' (str, time, date, uint, int, number, bool, map or any, "
                 "[] for an array)",
                 words[0]);
        goto out;
    }
    fd->kind = (enum field_kind)k;
    for (size_t i = 1; i < nwords; i++) {
        const char *w = words[i];
        double v;
        if (strcmp(w, "optional") == 0) {
            fd->required = false;
        } else if (strncmp(w, "min=", 4) == 0 || strncmp(w, "max=", 4) == 0) {
            if (s_parse_number(w + 4, &v) < 0) {
                snprintf(msg, size, "'%.32s': not a number", w);
                goto out;
            }
            if (fd->kind != FIELD_STR && fd->kind != FIELD_UINT && fd->kind != FIELD_INT &&
                fd->kind != FIELD_NUMBER) {
                snprintf(msg, size, "'%.32s': only str and numbers take min and max", w);
                goto out;
            }
            if (w[1] == 'i')
                fd->has_min = true, fd->min = v;
            else
                fd->has_max = true, fd->max = v;
        } else if (strncmp(w, "one_of=", 7) == 0) {
            if (fd->kind != FIELD_STR) {
                snprintf(msg, size, "one_of is for str fields only");
                goto out;
            }
            s_free_list(fd->one_of, fd->none_of);
            fd->one_of = s_split(w + 7, "|", &fd->none_of);
            if (!fd->none_of) {
                snprintf(msg, size, "one_of lists no value");
                goto out;
            }
        } else if (strncmp(w, "items=", 6) == 0) {
            const char *dots = strstr(w + 6, "..");
            char lo[24] = "", hi[24] = "";
            uint64_t a, b;
            if (dots && (size_t)(dots - (w + 6)) < sizeof lo)
                memcpy(lo, w + 6, (size_t)(dots - (w + 6)));
            if (dots)
                snprintf(hi, sizeof hi, "%s", dots + 2);
            if (!dots || text_parse_u64(lo, 0, MAX_ITEMS, &a) < 0 ||
                text_parse_u64(hi, 0, MAX_ITEMS, &b) < 0 || a > b) {
                snprintf(msg, size, "'%.32s': expected items=MIN..MAX, 0 <= MIN <= MAX <= %u", w,
                         MAX_ITEMS);
                goto out;
            }
            if (!fd->array) {
                snprintf(msg, size, "items is for arrays only (KIND[])");
                goto out;
            }
            fd->min_items = a;
            fd->max_items = b;
        } else {
            snprintf(msg, size,
                     "unknown word '%.32s' (optional, min=N, max=N, one_of=A|B, items=MIN..MAX)",
                     w);
            goto out;
        }
    }
    if (fd->has_min && fd->has_max && fd->min > fd->max) {
        snprintf(msg, size, "min %g is above max %g", fd->min, fd->max);
        goto out;
    }
    rc = 0;
out:
    s_free_list(words, nwords);
    return rc;
}

/* "N UNIT from|before ANCHOR [track] [closed_by=A|B]", "none", "open track closed_by=A". */
static int
s_parse_deadline(struct catalogue_deadline *d, const char *spec, char *msg, size_t size)
{
    size_t nwords;
    char **words = s_split(spec, " \t", &nwords);
    size_t i = 0;
    int rc = -EINVAL;

    d->rule = xstrdup(spec);
    if (nwords == 1 && strcmp(words[0], "none") == 0) {
        d->form = DEADLINE_NONE;
        rc = 0;
        goto out;
    }
    if (nwords >= 1 && strcmp(words[0], "open") == 0) {
        d->form = DEADLINE_OPEN;
        i = 1;
    } else {
        uint64_t n;
        if (nwords < 4 || text_parse_u64(words[0], 1, 100000, &n) < 0) {
            snprintf(msg, size,
                     "expected 'N hours|days|working_days from|before ANCHOR', 'none' or 'open "
                     "track closed_by=TYPE'");
            goto out;
        }
        d->n = (unsigned)n;
        size_t u;
        for (u = 0; u < 3; u++)
            if (strcmp(words[1], s_unit_names[u]) == 0)
                break;
        if (u == 3) {
            snprintf(msg, size, "unknown unit '%.32s' (hours, days or working_days)", words[1]);
            goto out;
        }
        d->unit = (enum deadline_unit)u;
        if (strcmp(words[2], "from") != 0 && strcmp(words[2], "before") != 0) {
            snprintf(msg, size, "expected 'from' or 'before', not '%.32s'", words[2]);
            goto out;
        }
        d->before = words[2][0] == 'b';
        if (strcmp(words[3], "received") != 0 && !s_valid_name(words[3], strlen(words[3]))) {
            snprintf(msg, size, "anchor '%.32s' is neither 'received' nor a field name", words[3]);
            goto out;
        }
        d->anchor = xstrdup(words[3]);
        i = 4;
    }
    for (; i < nwords; i++) {
        if (strcmp(words[i], "track") == 0) {
            d->track = true;
        } else if (strncmp(words[i], "closed_by=", 10) == 0) {
            s_free_list(d->closed_by, d->nclosed_by);
            d->closed_by = s_split(words[i] + 10, "|", &d->nclosed_by);
        } else {
            snprintf(msg, size, "unknown word '%.32s' (track, closed_by=TYPE|TYPE)", words[i]);
            goto out;
        }
    }
    if (d->form == DEADLINE_OPEN && !d->track) {
        snprintf(msg, size, "an open deadline has no due time: it needs track and closed_by");
        goto out;
    }
    if (d->track && !d->nclosed_by) {
        snprintf(msg, size, "a tracked deadline needs closed_by=TYPE, or it never closes");
        goto out;
    }
    if (d->before && d->track) {
        snprintf(msg, size, "a notice period ('before') is checked on arrival, not tracked");
        goto out;
    }
    rc = 0;
out:
    s_free_list(words, nwords);
    return rc;
}

/* Appends a continuation line to a text value. */
static void
s_append(char **s, const char *more)
{
    size_t a = strlen(*s), b = strlen(more);
    *s = xreallocarray(*s, a + b + 2, 1);
    if (a)
        (*s)[a++] = ' ';
    memcpy(*s + a, more, b + 1);
}

static struct catalogue_pair *
s_find_pair(struct catalogue_pair *pairs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pairs[i].name, name) == 0)
            return &pairs[i];
    return NULL;
}

static void
s_key(struct ini_file *f, void *user, const char *key, const char *value)
{
    struct parse *p = user;
    struct catalogue_type *t = p->cur;
    unsigned line = ini_file_line(f);
    char msg[200];

    p->ini = f;
    if (!t) {
        ini_file_fail(f, line, key, "key outside any section (put it under [type NAME])");
        return;
    }
    char full[MAX_NAME * 3];
    snprintf(full, sizeof full, "type.%s.%s", t->name, key);

    if (ini_file_continuation(f)) {
        if (strcmp(key, "title") == 0)
            s_append(&t->title, value);
        else if (strcmp(key, "basis") == 0)
            s_append(&t->basis, value);
        else if (strncmp(key, "basis.", 6) == 0 && t->nbases)
            s_append(&t->bases[t->nbases - 1].value, value);
        else if (strncmp(key, "limit.", 6) == 0 && t->nlimits)
            s_append(&t->limits[t->nlimits - 1].value, value);
        else
            ini_file_fail(f, line, full,
                          "indented line '%.64s' continues this key, but only title, basis and "
                          "limits may span lines",
                          value);
        return;
    }

    if (strcmp(key, "area") == 0) {
        if (t->area) {
            ini_file_fail(f, line, full, "duplicate key");
        } else if (!s_valid_name(value, strlen(value))) {
            ini_file_fail(f, line, full, "bad area name '%.64s': must match [a-z][a-z0-9_]*",
                          value);
        } else {
            t->area = xstrdup(value);
        }
    } else if (strcmp(key, "internal") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0)
            t->internal = value[0] == 'y';
        else
            ini_file_fail(f, line, full, "expected yes or no, not '%.64s'", value);
    } else if (strcmp(key, "title") == 0 || strcmp(key, "basis") == 0) {
        char **s = key[0] == 't' ? &t->title : &t->basis;
        free(*s);
        *s = xstrdup(value);
    } else if (strncmp(key, "field.", 6) == 0) {
        const char *name = key + 6;
        if (!s_valid_name(name, strlen(name))) {
            ini_file_fail(f, line, full, "bad field name: must match [a-z][a-z0-9_]*");
            return;
        }
        if (catalogue_field(t, name)) {
            ini_file_fail(f, line, full, "duplicate field");
            return;
        }
        if (t->nfields == MAX_FIELDS) {
            ini_file_fail(f, line, full, "more than %d fields in one type", MAX_FIELDS);
            return;
        }
        t->fields = xreallocarray(t->fields, t->nfields + 1, sizeof *t->fields);
        struct catalogue_field *fd = &t->fields[t->nfields++];
        memset(fd, 0, sizeof *fd);
        fd->name = xstrdup(name);
        fd->name_len = strlen(name);
        if (s_parse_field(fd, value, msg, sizeof msg) < 0)
            ini_file_fail(f, line, full, "%s", msg);
    } else if (strncmp(key, "deadline.", 9) == 0) {
        const char *name = key + 9;
        if (!s_valid_name(name, strlen(name))) {
            ini_file_fail(f, line, full, "bad deadline name: must match [a-z][a-z0-9_]*");
            return;
        }
        if (catalogue_deadline(t, name)) {
            ini_file_fail(f, line, full, "duplicate deadline");
            return;
        }
        t->deadlines = xreallocarray(t->deadlines, t->ndeadlines + 1, sizeof *t->deadlines);
        unsigned **lines = &p->deadline_lines[t - p->cat->types];
        *lines = xreallocarray(*lines, t->ndeadlines + 1, sizeof **lines);
        (*lines)[t->ndeadlines] = line;
        struct catalogue_deadline *d = &t->deadlines[t->ndeadlines++];
        memset(d, 0, sizeof *d);
        d->name = xstrdup(name);
        if (s_parse_deadline(d, value, msg, sizeof msg) < 0)
            ini_file_fail(f, line, full, "%s", msg);
    } else if (strncmp(key, "limit.", 6) == 0 || strncmp(key, "basis.", 6) == 0) {
        const char *name = key + 6;
        bool limit = key[0] == 'l';
        struct catalogue_pair **pairs = limit ? &t->limits : &t->bases;
        size_t *n = limit ? &t->nlimits : &t->nbases;
        if (!s_valid_name(name, strlen(name))) {
            ini_file_fail(f, line, full, "bad name: must match [a-z][a-z0-9_]*");
            return;
        }
        if (s_find_pair(*pairs, *n, name)) {
            ini_file_fail(f, line, full, "duplicate key");
            return;
        }
        *pairs = xreallocarray(*pairs, *n + 1, sizeof **pairs);
        (*pairs)[*n].name = xstrdup(name);
        (*pairs)[*n].value = xstrdup(value);
        (*n)++;
    } else {
        ini_file_fail(f, line, full,
                      "unknown key (area, internal, title, basis, field.NAME, deadline.NAME, "
                      "basis.NAME, limit.NAME)");
    }
}

/* ------------------------------------------------------------------------ */
/* Whole-file checks. */

static int
s_type_cmp(const void *a, const void *b)
{
    return strcmp(((const struct catalogue_type *)a)->name,
                  ((const struct catalogue_type *)b)->name);
}

static void
s_check(struct parse *p, const char *file, struct config_error *err, bool *failed)
{
    struct catalogue *cat = p->cat;
    char key[MAX_NAME * 3];

    for (size_t i = 0; i < cat->ntypes && !*failed; i++) {
        struct catalogue_type *t = &cat->types[i];
        if (t->version > 1) {
            bool found = false;
            for (size_t j = 0; j < cat->ntypes; j++)
                found |= strcmp(cat->types[j].name, t->base) == 0;
            if (!found) {
                snprintf(key, sizeof key, "[type %s]", t->name);
                config_error_set(err, file, p->header_lines[i], key,
                                 "version %u of '%s', which the catalogue does not have",
                                 t->version, t->base);
                *failed = true;
            }
        }
        for (size_t k = 0; k < t->ndeadlines && !*failed; k++) {
            const struct catalogue_deadline *d = &t->deadlines[k];
            unsigned line = p->deadline_lines[i][k];
            snprintf(key, sizeof key, "type.%s.deadline.%s", t->name, d->name);
            if (d->anchor && strcmp(d->anchor, "received") != 0) {
                const struct catalogue_field *fd = catalogue_field(t, d->anchor);
                if (!fd || fd->array || (fd->kind != FIELD_TIME && fd->kind != FIELD_DATE)) {
                    config_error_set(err, file, line, key,
                                     "anchor '%s' is not a time or date field of this type",
                                     d->anchor);
                    *failed = true;
                } else {
                    t->deadlines[k].anchor_kind =
                        fd->kind == FIELD_DATE ? ANCHOR_DATE : ANCHOR_TIME;
                }
            }
            for (size_t c = 0; c < d->nclosed_by && !*failed; c++) {
                bool found = false;
                for (size_t j = 0; j < cat->ntypes; j++)
                    if (strcmp(cat->types[j].name, d->closed_by[c]) == 0) {
                        found = true;
                        cat->types[j].closes |= d->track;
                    }
                if (!found) {
                    config_error_set(err, file, line, key,
                                     "closed_by names '%s', which the catalogue does not have",
                                     d->closed_by[c]);
                    *failed = true;
                }
            }
        }
    }
}

static void
s_free_type(struct catalogue_type *t)
{
    free(t->name);
    free(t->base);
    free(t->area);
    free(t->title);
    free(t->basis);
    for (size_t i = 0; i < t->nfields; i++) {
        free(t->fields[i].name);
        s_free_list(t->fields[i].one_of, t->fields[i].none_of);
    }
    free(t->fields);
    for (size_t i = 0; i < t->ndeadlines; i++) {
        struct catalogue_deadline *d = &t->deadlines[i];
        free(d->name);
        free(d->anchor);
        free(d->rule);
        s_free_list(d->closed_by, d->nclosed_by);
    }
    free(t->deadlines);
    for (size_t i = 0; i < t->nlimits; i++) {
        free(t->limits[i].name);
        free(t->limits[i].value);
    }
    free(t->limits);
    for (size_t i = 0; i < t->nbases; i++) {
        free(t->bases[i].name);
        free(t->bases[i].value);
    }
    free(t->bases);
}

void
catalogue_destroy(struct catalogue **cat_p)
{
    if (!cat_p || !*cat_p)
        return;
    struct catalogue *cat = *cat_p;
    for (size_t i = 0; i < cat->ntypes; i++)
        s_free_type(&cat->types[i]);
    free(cat->types);
    free(cat->path);
    free(cat);
    *cat_p = NULL;
}

static const struct ini_file_ops s_ops = {
    .section = s_section,
    .key = s_key,
    .long_line_hint = "continue a long value on indented lines",
};

static int
s_load_text(const char *text, size_t len, const char *name, struct catalogue **ret,
            struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    struct catalogue *cat = xcalloc(1, sizeof *cat);
    cat->path = xstrdup(name);
    crypto_generichash(cat->digest, sizeof cat->digest, (const unsigned char *)text, len, NULL, 0);
    struct parse p = {.cat = cat};
    bool failed = ini_file_parse(text, len, name, &s_ops, &p, err) < 0;
    if (!failed)
        s_check(&p, name, err, &failed);
    for (size_t i = 0; i < cat->ntypes; i++)
        free(p.deadline_lines[i]);
    free(p.deadline_lines);
    free(p.header_lines);
    if (failed) {
        catalogue_destroy(&cat);
        return -EINVAL;
    }
    if (cat->ntypes) /* qsort's base may not be NULL, even for no element */
        qsort(cat->types, cat->ntypes, sizeof *cat->types, s_type_cmp);
    *ret = cat;
    return 0;
}

int
catalogue_load_string(const char *text, const char *name, struct catalogue **ret,
                      struct config_error *err)
{
    return s_load_text(text, strlen(text), name ? name : "(string)", ret, err);
}

int
catalogue_load_file(const char *path, struct catalogue **ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    char *text;
    size_t len;
    int rc = ini_file_read(path, MAX_FILE_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = s_load_text(text, len, path, ret, err);
    free(text);
    return rc;
}

int
catalogue_load_embedded(struct catalogue **ret, struct config_error *err)
{
    return catalogue_load_string(embedded_catalogue.text, embedded_catalogue.name, ret, err);
}

/* ------------------------------------------------------------------------ */
/* Lookups. */

const struct catalogue_type *
catalogue_type(const struct catalogue *cat, const char *name)
{
    if (!cat)
        return NULL;
    size_t lo = 0, hi = cat->ntypes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, cat->types[mid].name);
        if (c == 0)
            return &cat->types[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct catalogue_field *
catalogue_field(const struct catalogue_type *t, const char *name)
{
    for (size_t i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

const struct catalogue_deadline *
catalogue_deadline(const struct catalogue_type *t, const char *name)
{
    for (size_t i = 0; i < t->ndeadlines; i++)
        if (strcmp(t->deadlines[i].name, name) == 0)
            return &t->deadlines[i];
    return NULL;
}

const char *
catalogue_limit(const struct catalogue_type *t, const char *name)
{
    const struct catalogue_pair *pair = s_find_pair(t->limits, t->nlimits, name);
    return pair ? pair->value : NULL;
}

const char *
catalogue_basis(const struct catalogue_type *t, const char *name)
{
    const struct catalogue_pair *pair = name ? s_find_pair(t->bases, t->nbases, name) : NULL;
    return pair ? pair->value : t->basis;
}

/* ------------------------------------------------------------------------ */
/* The data check. */

static int s_fail(char *reason, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static size_t
s_utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    return chars;
}

static const char *
s_expected(enum field_kind kind)
{
    switch (kind) {
    case FIELD_TIME:
        return "time (uint, ms since the Unix epoch)";
    case FIELD_DATE:
        return "date (\"YYYY-MM-DD\")";
    case FIELD_NUMBER:
        return "number";
    default:
        return s_kind_names[kind];
    }
}

/* "data.NAME" or "data.NAME[ITEM]": made only for an error, never per event. */
static const char *
s_where(char *buf, size_t size, const struct catalogue_field *fd, long item)
{
    if (item < 0)
        snprintf(buf, size, "data.%s", fd->name);
    else
        snprintf(buf, size, "data.%s[%ld]", fd->name, item);
    return buf;
}

/* One value (an array's item when item >= 0) against the field's kind and limits. */
static int
s_check_value(const struct catalogue_type *t, const struct catalogue_field *fd,
              const msgpack_object *o, long item, char *reason, size_t size)
{
    char wbuf[MAX_NAME + 32];
#define WHERE s_where(wbuf, sizeof wbuf, fd, item)
    double v = 0;
    bool numeric = false;
    bool ok;

    switch (fd->kind) {
    case FIELD_STR:
    case FIELD_DATE:
        ok = o->type == MSGPACK_OBJECT_STR;
        break;
    case FIELD_TIME:
    case FIELD_UINT:
        ok = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        break;
    case FIELD_INT:
        ok = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
             o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
        break;
    case FIELD_NUMBER:
        ok = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
             o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_FLOAT32 ||
             o->type == MSGPACK_OBJECT_FLOAT64;
        break;
    case FIELD_BOOL:
        ok = o->type == MSGPACK_OBJECT_BOOLEAN;
        break;
    case FIELD_MAP:
        ok = o->type == MSGPACK_OBJECT_MAP;
        break;
    default:
        ok = true;
        break;
    }
    if (!ok)
        return s_fail(reason, size, "field '%s': expected %s, got %s (%s)", WHERE,
                      s_expected(fd->kind), text_msgpack_type(o), t->name);

    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        v = (double)o->via.u64, numeric = true;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = (double)o->via.i64, numeric = true;
    else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        v = o->via.f64, numeric = true;
    if (numeric && fd->kind != FIELD_ANY) {
        if (!isfinite(v))
            return s_fail(reason, size, "field '%s': not a finite number (%s)", WHERE, t->name);
        if (fd->has_min && v < fd->min)
            return s_fail(reason, size, "field '%s': %g is below the minimum %g (%s)", WHERE, v,
                          fd->min, t->name);
        if (fd->has_max && v > fd->max)
            return s_fail(reason, size, "field '%s': %g is above the maximum %g (%s)", WHERE, v,
                          fd->max, t->name);
    }
    if (o->type != MSGPACK_OBJECT_STR || fd->kind == FIELD_ANY)
        return 0;

    const char *s = o->via.str.ptr;
    size_t n = o->via.str.size;
    char quoted[TEXT_QUOTE_SIZE];
    if (fd->kind == FIELD_DATE) {
        int y, m, d;
        if (!text_parse_date(s, n, &y, &m, &d)) {
            text_quote(quoted, sizeof quoted, s, n);
            return s_fail(reason, size, "field '%s': \"%s\" is not a date \"YYYY-MM-DD\" (%s)",
                          WHERE, quoted, t->name);
        }
        return 0;
    }
    size_t chars = s_utf8_chars(s, n);
    if (fd->has_min && (double)chars < fd->min)
        return s_fail(reason, size, "field '%s': %zu characters, at least %g (%s)", WHERE, chars,
                      fd->min, t->name);
    if (fd->has_max && (double)chars > fd->max)
        return s_fail(reason, size, "field '%s': %zu characters, at most %g (%s)", WHERE, chars,
                      fd->max, t->name);
    if (fd->none_of) {
        for (size_t i = 0; i < fd->none_of; i++)
            if (strlen(fd->one_of[i]) == n && memcmp(fd->one_of[i], s, n) == 0)
                return 0;
        char allowed[160] = "";
        size_t used = 0;
        for (size_t i = 0; i < fd->none_of && used < sizeof allowed; i++)
            used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? "|" : "",
                                     fd->one_of[i]);
        text_quote(quoted, sizeof quoted, s, n);
        return s_fail(reason, size, "field '%s': \"%s\" is not one of %s (%s)", WHERE, quoted,
                      allowed, t->name);
    }
    return 0;
#undef WHERE
}

static int
s_check_field(const struct catalogue_type *t, const struct catalogue_field *fd,
              const msgpack_object *o, char *reason, size_t size)
{
    char where[MAX_NAME + 32];
    if (!fd->array)
        return s_check_value(t, fd, o, -1, reason, size);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(reason, size, "field '%s': expected an array of %s, got %s (%s)",
                      s_where(where, sizeof where, fd, -1), s_kind_names[fd->kind],
                      text_msgpack_type(o), t->name);
    size_t n = o->via.array.size;
    if (n < fd->min_items || n > fd->max_items)
        return s_fail(reason, size, "field '%s': %zu items, expected %zu..%zu (%s)",
                      s_where(where, sizeof where, fd, -1), n, fd->min_items, fd->max_items,
                      t->name);
    for (size_t i = 0; i < n; i++)
        if (s_check_value(t, fd, &o->via.array.ptr[i], (long)i, reason, size) < 0)
            return -EINVAL;
    return 0;
}

int
catalogue_check_data(const struct catalogue_type *t, const msgpack_object *data, char *reason,
                     size_t size)
{
    uint64_t seen = 0; /* one bit per field: MAX_FIELDS */

    if (data->type != MSGPACK_OBJECT_MAP)
        return s_fail(reason, size, "field 'data': expected a map, got %s (%s)",
                      text_msgpack_type(data), t->name);
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object *k = &data->via.map.ptr[i].key;
        const msgpack_object *v = &data->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return s_fail(reason, size, "field 'data': a key is %s, not str (%s)",
                          text_msgpack_type(k), t->name);
        for (size_t f = 0; f < t->nfields; f++) {
            const struct catalogue_field *fd = &t->fields[f];
            if (fd->name_len != k->via.str.size ||
                memcmp(fd->name, k->via.str.ptr, k->via.str.size) != 0)
                continue;
            if (seen & (1ull << f))
                return s_fail(reason, size, "field 'data.%s': given twice (%s)", fd->name, t->name);
            seen |= 1ull << f;
            /* A JSON publisher's null for an optional field means "absent". */
            if (v->type == MSGPACK_OBJECT_NIL && !fd->required)
                break;
            if (s_check_field(t, fd, v, reason, size) < 0)
                return -EINVAL;
            break;
        }
    }
    for (size_t f = 0; f < t->nfields; f++)
        if (t->fields[f].required && !(seen & (1ull << f)))
            return s_fail(reason, size, "field 'data.%s': missing (required by %s)",
                          t->fields[f].name, t->name);
    return 0;
}
