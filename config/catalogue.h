/*
 * catalogue: the event types as data (config/catalogue.ini, documented in
 * its header and in mandated.conf(5)): each type's area, the fields of its
 * data with their kinds and limits, its deadline rules and legal basis, and
 * the figures its handler checks against. The broker checks every event's
 * data here before it accepts it; workers read the rules and limits.
 */
#ifndef MANDATE_CATALOGUE_H
#define MANDATE_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "config/ini_file.h"

enum field_kind {
    FIELD_STR,
    FIELD_TIME, /* uint, ms since the Unix epoch */
    FIELD_DATE, /* "YYYY-MM-DD" */
    FIELD_UINT,
    FIELD_INT,
    FIELD_NUMBER, /* integer or float */
    FIELD_BOOL,
    FIELD_MAP,
    FIELD_ANY,
};

struct catalogue_field {
    char *name;
    size_t name_len; /* the data check compares it with every key */
    enum field_kind kind;
    bool array;
    bool required;
    bool has_min, has_max; /* a str's characters, a number's value */
    double min, max;
    size_t min_items, max_items; /* arrays */
    char **one_of;               /* str: the allowed values; none = any */
    size_t none_of;
};

enum deadline_unit { DEADLINE_HOURS, DEADLINE_DAYS, DEADLINE_WORKING_DAYS };

enum deadline_form {
    DEADLINE_PERIOD, /* n units from or before the anchor */
    DEADLINE_NONE,   /* the law gives no figure: nothing to compute */
    DEADLINE_OPEN,   /* no due time; tracked until closed */
};

struct catalogue_deadline {
    char *name;
    enum deadline_form form;
    unsigned n;
    enum deadline_unit unit;
    bool before;  /* a notice period: due n units before the anchor */
    char *anchor; /* "received" (the envelope's time) or a time/date field */
    enum { ANCHOR_RECEIVED, ANCHOR_TIME, ANCHOR_DATE } anchor_kind; /* resolved at load */
    bool track;
    char **closed_by; /* types whose event (corr = this event) closes it */
    size_t nclosed_by;
    char *rule; /* the rule as written, for results: "20 days from received" */
};

/* A name = value pair: a limit, or the basis of one deadline or limit. */
struct catalogue_pair {
    char *name;
    char *value;
};

struct catalogue_type {
    char *name;       /* the wire type: press.conference_notice.v2 */
    char *base;       /* without its version: press.conference_notice */
    unsigned version; /* 1 for the bare name */
    char *area;       /* NULL: the area of the event its corr names */
    bool internal;    /* emitted by workers and the broker only */
    bool closes;      /* some tracked deadline names it in closed_by */
    char *title;
    char *basis;
    struct catalogue_field *fields;
    size_t nfields;
    struct catalogue_deadline *deadlines;
    size_t ndeadlines;
    struct catalogue_pair *limits;
    size_t nlimits;
    struct catalogue_pair *bases; /* basis.NAME */
    size_t nbases;
};

struct catalogue {
    char *path;                   /* what it was loaded from */
    struct catalogue_type *types; /* sorted by name */
    size_t ntypes;
    uint8_t digest[32]; /* BLAKE2b-256 of the text loaded: a reload compares it */
};

/* Returns 0, or -errno / -EINVAL with *err naming the file, line and key. */
int catalogue_load_file(const char *path, struct catalogue **ret, struct config_error *err);
int catalogue_load_string(const char *text, const char *name, struct catalogue **ret,
                          struct config_error *err);
/* The shipped catalogue, compiled in. */
int catalogue_load_embedded(struct catalogue **ret, struct config_error *err);
void catalogue_destroy(struct catalogue **cat_p);

const struct catalogue_type *catalogue_type(const struct catalogue *cat, const char *name);
const struct catalogue_field *catalogue_field(const struct catalogue_type *t, const char *name);
const struct catalogue_deadline *catalogue_deadline(const struct catalogue_type *t,
                                                    const char *name);
/* limit.NAME's value, or NULL. */
const char *catalogue_limit(const struct catalogue_type *t, const char *name);
/* basis.NAME if given, else the type's basis. */
const char *catalogue_basis(const struct catalogue_type *t, const char *name);

/*
 * Checks an event's data map against its type. Returns 0, or -EINVAL with
 * a reason naming the field and the rule it breaks, e.g. "field
 * 'data.organiser_kind': 'x' is not one of domestic|foreign|central
 * (press.conference_notice)". Keys the type does not list pass unchecked.
 */
int catalogue_check_data(const struct catalogue_type *t, const msgpack_object *data, char *reason,
                         size_t size);

#endif
