/*
 * worker_result: the shape of the result map an area worker puts in its
 * REPLY, defined once for both sides: the workers pack it
 * (workers/area_result.c), the broker reads its deadlines back to track
 * them (daemon/deadline_table.c).
 *
 *   {"area", "unit", "type", "version", "outcome",
 *    "findings":  [{"code", "detail", "basis"}],
 *    "deadlines": [{"subject", "name", "due", "due_text", "rule", "basis",
 *                   "track", "closed_by"}],
 *    "calendar_missing", "basis", "handled_at", ...what the area adds}
 *
 * The keys are named here and nowhere else. A deadline entry is packed by
 * worker_result_pack_deadline() only, so its keys and their order are one
 * thing. What the broker reads is outside input (a worker wrote it, maybe
 * not ours): the reader checks every kind and size before it is used, and
 * a field too long to carry is dropped rather than cut.
 */
#ifndef MANDATE_WORKER_RESULT_H
#define MANDATE_WORKER_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "proto/envelope.h"

/* The result's keys. */
#define WORKER_RESULT_AREA             "area"
#define WORKER_RESULT_UNIT             "unit"
#define WORKER_RESULT_TYPE             "type"
#define WORKER_RESULT_VERSION          "version"
#define WORKER_RESULT_OUTCOME          "outcome"
#define WORKER_RESULT_FINDINGS         "findings"
#define WORKER_RESULT_DEADLINES        "deadlines"
#define WORKER_RESULT_CALENDAR_MISSING "calendar_missing"
#define WORKER_RESULT_BASIS            "basis"
#define WORKER_RESULT_HANDLED_AT       "handled_at"
/* The result's own keys, before what the area adds. */
#define WORKER_RESULT_NKEYS 10

/* A finding's keys: {"code", "detail", "basis"}. */
#define WORKER_RESULT_FINDING_CODE   "code"
#define WORKER_RESULT_FINDING_DETAIL "detail"
#define WORKER_RESULT_FINDING_BASIS  "basis"

/* A deadline's keys, in the order they are packed. */
#define WORKER_RESULT_DL_SUBJECT   "subject"
#define WORKER_RESULT_DL_NAME      "name"
#define WORKER_RESULT_DL_DUE       "due"
#define WORKER_RESULT_DL_DUE_TEXT  "due_text"
#define WORKER_RESULT_DL_RULE      "rule"
#define WORKER_RESULT_DL_BASIS     "basis"
#define WORKER_RESULT_DL_TRACK     "track"
#define WORKER_RESULT_DL_CLOSED_BY "closed_by"
/* The due_text of a deadline without a due time. */
#define WORKER_RESULT_DUE_TEXT_OPEN "open until closed"

#define WORKER_RESULT_NAME_MAX      64   /* a deadline's name */
#define WORKER_RESULT_TEXT_MAX      1024 /* a rule or basis: a line of the catalogue */
#define WORKER_RESULT_DEADLINES_MAX 8    /* entries read per result */
#define WORKER_RESULT_CLOSED_BY_MAX 16   /* closing types per deadline */

/* ------------------------------------------------------------------------ */
/* Packing (the workers). */

/* One entry of a result's "deadlines", as a handler packs it. */
struct worker_result_deadline_fields {
    const char *subject; /* NULL: nil */
    const char *name;
    bool open; /* no due time ("due" nil, due_text "open until closed") */
    int64_t due_ms;
    const char *due_text; /* ignored when open */
    const char *rule;
    const char *basis;
    bool track;
    const char *const *closed_by;
    size_t nclosed_by;
};

/* Packs one deadline entry: a map of the 8 keys above, in their order. */
void worker_result_pack_deadline(msgpack_packer *pk, const struct worker_result_deadline_fields *d);

/* ------------------------------------------------------------------------ */
/* Reading (the broker). */

/* One entry as the broker reads it back: outside input (a worker wrote it). */
struct worker_result_deadline {
    char name[WORKER_RESULT_NAME_MAX + 1];
    bool open;                          /* "due" was nil */
    uint64_t due_ms;                    /* UINT64_MAX when open */
    bool track;                         /* "track": true */
    const msgpack_object *rule, *basis; /* str of at most WORKER_RESULT_TEXT_MAX bytes, else NULL */
    const msgpack_object *subject;      /* str of at most ENVELOPE_SUBJECT_MAX bytes, else NULL */
    /* An array of at most WORKER_RESULT_CLOSED_BY_MAX elements, or NULL if
     * absent. Its elements are not checked: a reader skips what is not a
     * type name (a str of 1..ENVELOPE_TYPE_MAX bytes). */
    const msgpack_object *closed_by;
};

/* The value of key in a msgpack map, or NULL (map NULL or not a map: NULL). */
const msgpack_object *worker_result_get(const msgpack_object *map, const char *key);

/*
 * Reads a deadline entry into *ret, which points into entry (borrowed: it
 * lives as long as entry). Returns false, *ret untouched, when it is not
 * one: not a map; name missing, not a str, empty or longer than
 * WORKER_RESULT_NAME_MAX; "due" missing or neither a non-negative integer
 * nor nil; "closed_by" present but not an array of at most
 * WORKER_RESULT_CLOSED_BY_MAX elements. A rule, basis or subject of another
 * kind or too long is not a fault: it reads as NULL.
 */
bool worker_result_deadline_read(const msgpack_object *entry, struct worker_result_deadline *ret);

/* The result's "deadlines" array, or NULL if absent or not an array. All its
 * entries: a reader reads the first WORKER_RESULT_DEADLINES_MAX. */
const msgpack_object *worker_result_deadlines(const msgpack_object *result);

/* Whether any entry of the result's deadlines has "track": true (all of
 * them are looked at, not only the first WORKER_RESULT_DEADLINES_MAX). */
bool worker_result_tracks(const msgpack_object *result);

#endif
