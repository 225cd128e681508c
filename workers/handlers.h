/*
 * handlers: what an area handler sees and what it answers. One handler per
 * area, found by name in the table of handler_table.c; an area's own file
 * (workers/area_press.c, ...) defines one handler_fn, which hands its rule
 * table to handler_dispatch(), and adds one line to that table. A handler
 * that keeps state across requests (cyber: its incident store) names an
 * open and a close hook on that line; the runtime opens the state at start,
 * hands it to every call and closes it at stop.
 *
 * The runtime (worker.c) decodes the REQUEST, re-packs its event and runs
 * envelope_decode() on it, calls the handler once per request, and packs
 * the REPLY from the outcome. A handler never touches the socket and does
 * not log for the runtime: it says what happened in status and note.
 */
#ifndef MANDATE_WORKER_HANDLERS_H
#define MANDATE_WORKER_HANDLERS_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "config/config.h"
#include "proto/envelope.h"
#include "proto/mdp.h"

/* One request, borrowed for the duration of the call. */
struct handler_request {
    uint64_t seq;
    unsigned attempt; /* the broker's delivery attempt, +1 on each retry */
    const char *area;
    /* The event as the broker sent it (a map), whatever its content. */
    const msgpack_object *event;
    /* The event decoded and validated as an envelope, or NULL if it is not a
     * valid one; then env_err says why (its reason names the field). */
    const struct envelope *env;
    const struct envelope_error *env_err;
    const struct mandated_config *cfg;
    const struct area_conf *area_conf;
    /* What the area's open hook made (NULL without one), kept across requests. */
    void *state;
};

/*
 * What a handler answers. The runtime initialises it before the call as
 * status done, empty note, no result, no emit; the handler changes what it
 * needs through the functions below.
 */
struct handler_outcome {
    enum mdp_status status;
    char note[MDP_NOTE_MAX + 1];
    /* A packed msgpack map, written through result_pk; empty = no result. */
    msgpack_sbuffer result;
    msgpack_packer result_pk;
    /* Packed envelopes to emit as new events (the broker sets corr and source). */
    msgpack_sbuffer *emit;
    size_t nemit;
    size_t emit_cap;
};

/*
 * Handles one request: fills out and returns 0. A negative -errno means the
 * handler could not run at all (a resource it needs is missing): the runtime
 * answers `retry` with a note naming the error, and the broker delivers the
 * event again later.
 */
typedef int (*handler_fn)(const struct handler_request *req, struct handler_outcome *out);

/*
 * An area handler's state across requests. open makes it once, before the
 * first request, and returns 0 or -errno (the worker does not start then);
 * close ends it after the last, accepts a NULL *state_p, is safe twice and
 * nulls it.
 */
typedef int (*handler_open_fn)(const struct mandated_config *cfg, void **ret_state);
typedef void (*handler_close_fn)(void **state_p);

struct handler_entry {
    const char *area;
    handler_fn handle;
    handler_open_fn open;   /* NULL: the handler keeps no state */
    handler_close_fn close; /* set with open */
};

/* The entry of an area, or NULL if the table has none. */
const struct handler_entry *handler_lookup(const char *area);
/* The table itself, ended by a NULL area. */
extern const struct handler_entry handler_table[];
/* For an area the table does not name: handler_generic, no state. */
extern const struct handler_entry handler_generic_entry;

void handler_outcome_init(struct handler_outcome *out);
/* Back to status done, no note, no result, no emit (keeps the buffers). */
void handler_outcome_reset(struct handler_outcome *out);
void handler_outcome_destroy(struct handler_outcome *out);
/* Sets the note (printf format), cut to MDP_NOTE_MAX bytes on a character boundary. */
void handler_outcome_note(struct handler_outcome *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends one envelope to emit, encoded with envelope_encode(). */
void handler_outcome_emit(struct handler_outcome *out, const struct envelope_fields *f);

/* The areas' handlers: workers/area_NAME.c; and the generic one, for an
 * area without rules (handler_dispatch.c). */
int handler_generic(const struct handler_request *req, struct handler_outcome *out);
int area_press(const struct handler_request *req, struct handler_outcome *out);
int area_publishing(const struct handler_request *req, struct handler_outcome *out);
int area_foreign_info(const struct handler_request *req, struct handler_outcome *out);
int area_grassroots(const struct handler_request *req, struct handler_outcome *out);
int area_einfo(const struct handler_request *req, struct handler_outcome *out);
int area_ads(const struct handler_request *req, struct handler_outcome *out);
int area_postal(const struct handler_request *req, struct handler_outcome *out);
int area_telecom(const struct handler_request *req, struct handler_outcome *out);
int area_rf(const struct handler_request *req, struct handler_outcome *out);
int area_digital(const struct handler_request *req, struct handler_outcome *out);
int area_cyber(const struct handler_request *req, struct handler_outcome *out);
int area_inspection(const struct handler_request *req, struct handler_outcome *out);
/* The cyber handler's state: its incident store, opened on the first alert. */
int area_cyber_open(const struct mandated_config *cfg, void **ret_state);
void area_cyber_close(void **state_p);

#endif
