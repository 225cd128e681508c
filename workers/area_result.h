/*
 * area_result: the result builder: what every area handler answers, built
 * the same way for all areas so that operators read one shape in the audit
 * log, the shape proto/worker_result.h defines (its keys, and the deadline
 * entries the broker reads back):
 *
 *   {"area", "unit", "type", "version", "outcome",
 *    "findings":  [{"code", "detail", "basis"}],
 *    "deadlines": [{"subject", "name", "due" (unix ms), "due_text", "rule",
 *                   "basis", "track", "closed_by": [types]}],
 *    "calendar_missing" (bool), "basis", "handled_at" (unix ms), ...extras}
 *
 * The dispatcher (handler_dispatch.h) starts one with area_result_init()
 * and ends it with area_result_finish(), which packs it into the outcome
 * (status done, note = the outcome and the first finding); in between, a
 * rule reads data with the area_data_* accessors, adds findings, deadlines
 * and extras, and may emit events or find it cannot run now. Deadlines come
 * from the catalogue's rules and the calendar; "due" is the instant the
 * period ends.
 */
#ifndef MANDATE_AREA_RESULT_H
#define MANDATE_AREA_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "workers/handlers.h"

#define AREA_RESULT_MAX_FINDINGS  32
#define AREA_RESULT_MAX_DEADLINES 8

struct area_finding {
    char code[48];
    char detail[256];
    const char *basis;
};

struct area_deadline {
    const struct catalogue_deadline *rule;
    const char *basis;
    int64_t due_ms;
};

struct area_result {
    const struct handler_request *req;
    struct handler_outcome *out;       /* where it is packed, and events emitted */
    int rc;                            /* 0, or the -errno of area_result_retry() */
    const struct catalogue_type *type; /* NULL for a type outside the catalogue */
    const char *unit;
    const char *outcome;
    const char *subject; /* the case tracked deadlines belong to: the event's subject */
    char subject_buf[ENVELOPE_SUBJECT_MAX + 1];
    struct area_finding findings[AREA_RESULT_MAX_FINDINGS];
    size_t nfindings;
    struct area_deadline deadlines[AREA_RESULT_MAX_DEADLINES];
    size_t ndeadlines;
    bool calendar_missing;
    msgpack_sbuffer extra;
    msgpack_packer extra_pk;
    uint32_t nextra;
};

/* Starts a result for req (its env must be valid), whose catalogue type the
 * caller looked up (NULL: outside the catalogue), to answer in out: outcome
 * "recorded". */
void area_result_init(struct area_result *r, const struct handler_request *req,
                      const struct catalogue_type *type, struct handler_outcome *out);
void area_result_destroy(struct area_result *r);

void area_result_outcome(struct area_result *r, const char *outcome);
/* The case this result's tracked deadlines belong to (copied; NULL: none). */
void area_result_subject(struct area_result *r, const char *subject);
/* The area's triage unit (if it has one) handles this event. */
void area_result_triage(struct area_result *r);
/* A finding: a rule applied and what it found; basis NULL = the type's. */
void area_result_finding(struct area_result *r, const char *code, const char *basis,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Computes the catalogue deadline name from its anchor (the event's time, or
 * its data field), or from anchor_ms if >= 0, and adds it. Returns its due
 * time in *ret_due (may be NULL) and 0; -ENOENT if the type has no such
 * deadline; -ENODATA if the anchor field is absent; -ENOSYS if the law gives
 * no figure (a finding says so).
 */
int area_result_deadline(struct area_result *r, const char *name, int64_t anchor_ms,
                         int64_t *ret_due);

/*
 * limit.NAME of the event's type (a figure the law gives, kept in the
 * catalogue). If it is unset, or not a number for area_limit_number(), a
 * finding says the rule was not applied and the result is NULL / false.
 */
const char *area_limit(struct area_result *r, const char *name);
bool area_limit_number(struct area_result *r, const char *name, double *ret);

/* Packs key and returns the packer for its value (exactly one object). */
msgpack_packer *area_result_extra(struct area_result *r, const char *key);

/* Emits one event with the answer (handler_outcome_emit()). */
void area_result_emit(struct area_result *r, const struct envelope_fields *f);

/*
 * The rule cannot run now (rc: -errno, a resource it needs is missing): no
 * result is packed, and the runtime answers retry so that the event comes
 * back later.
 */
void area_result_retry(struct area_result *r, int rc);

/* Packs the result into its outcome and sets status done and the note. */
void area_result_finish(struct area_result *r);

/* "2026-06-12 24:00 +07:00": an instant in Vietnam's time, a day's end as 24:00. */
void area_format_time(int64_t unix_ms, char *buf, size_t size);

/* The event's data, read by key; NULL or false if absent or of another kind. */
const msgpack_object *area_data(const struct handler_request *req, const char *key);
bool area_data_str(const struct handler_request *req, const char *key, char *buf, size_t size);
bool area_data_u64(const struct handler_request *req, const char *key, uint64_t *ret);
bool area_data_number(const struct handler_request *req, const char *key, double *ret);
bool area_data_bool(const struct handler_request *req, const char *key, bool *ret);
/* A date field as the unix ms of its day's start in Vietnam's time. */
bool area_data_date_ms(const struct handler_request *req, const char *key, int64_t *ret);

#endif
