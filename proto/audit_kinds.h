/*
 * audit_kinds: what each kind of audit record says, one struct and one
 * packer per kind. A packer packs exactly the kind-specific fields of its
 * record (the common seq, at, kind and prev are audit_record_begin()'s) and
 * returns how many it packed, so that no call site counts fields by hand.
 *
 * Field names and order are the stored format: tools/ and operators' scripts
 * read them, and changing one changes what `mandatectl verify` covers.
 */
#ifndef MANDATE_AUDIT_KINDS_H
#define MANDATE_AUDIT_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "proto/audit_record.h"

/* started: the broker began writing (its first record of a run). */
struct audit_started {
    int64_t pid;
    const char *version;
    const char *durability; /* "full" | "relaxed" */
    const char *config;     /* the config file's path */
    uint64_t recovered_seq; /* last seq found in the log at start */
};
unsigned audit_pack_started(msgpack_packer *pk, const struct audit_started *r);

/* stopped: the broker's last record of a run, with the run's counts. */
struct audit_stopped {
    int64_t pid;
    const char *reason;
    uint64_t accepted, duplicates, rejected, rejected_suppressed, batches;
    uint64_t waiting, inflight; /* left pending, offered again at the next start */
};
unsigned audit_pack_stopped(msgpack_packer *pk, const struct audit_stopped *r);

/* accepted: an event entering the log. The envelope's bytes come last, so
 * that they end the record and can be read in place. */
struct audit_prepared;

struct audit_accepted {
    const uint8_t *id; /* 16 bytes, claimed in `ids`; the record reads it from the envelope */
    const char *area;
    uint64_t cause;    /* seq of the event whose completion emitted it; 0: no field */
    const void *event; /* the envelope's msgpack bytes, stored verbatim */
    size_t event_len;
    /* Optional: the record's own fields already packed and hashed (ingress
     * does it on the loop thread); NULL: packed when written. */
    const struct audit_prepared *prepared;
};
unsigned audit_pack_accepted(msgpack_packer *pk, const struct audit_accepted *r);

/* rejected: what a `rejected` record says; NULL strings and id pack as nil. */
struct audit_rejected {
    const uint8_t *id; /* 16 bytes, or NULL when it could not be read */
    const char *code;  /* the NACK code's name */
    const char *reason;
    const char *source;
    const char *type;
    const char *peer;    /* the connection's address, or the worker's name */
    uint64_t suppressed; /* rejections not written before this one; 0: no field */
};
unsigned audit_pack_rejected(msgpack_packer *pk, const struct audit_rejected *r);

/*
 * The delivery of one event: dispatched, completed, failed, retried,
 * deadlettered. attempt is 1 for the first delivery; in `retried` the next
 * attempt's number, in `deadlettered` the attempts made.
 */
struct audit_delivery {
    uint64_t event_seq;
    const char *area;
    unsigned attempt;
    const char *worker;           /* dispatched, completed, failed */
    const char *reason;           /* retried, deadlettered */
    uint64_t due_ms;              /* retried: when the next attempt is offered (unix ms) */
    const char *note;             /* completed, failed: the worker's note; NULL or "": nil */
    const msgpack_object *result; /* completed: NULL packs nil */
    const uint8_t *opaque_hash;   /* completed: a reply that was no map; NULL: no field */
};
unsigned audit_pack_dispatched(msgpack_packer *pk, const struct audit_delivery *r);
unsigned audit_pack_completed(msgpack_packer *pk, const struct audit_delivery *r);
unsigned audit_pack_failed(msgpack_packer *pk, const struct audit_delivery *r);
unsigned audit_pack_retried(msgpack_packer *pk, const struct audit_delivery *r);
unsigned audit_pack_deadlettered(msgpack_packer *pk, const struct audit_delivery *r);

/* worker_joined (credit) and worker_lost (reason, inflight). */
struct audit_worker {
    const char *worker;
    const char *area;
    unsigned credit;    /* joined */
    const char *reason; /* lost */
    unsigned inflight;  /* lost: requests it had */
    const char *key;    /* joined: its key's name (workers_curve = on); NULL or "": no field */
};
unsigned audit_pack_worker_joined(msgpack_packer *pk, const struct audit_worker *r);
unsigned audit_pack_worker_lost(msgpack_packer *pk, const struct audit_worker *r);

/* worker_refused: a worker whose key may not serve the area its READY named. */
struct audit_worker_refused {
    const char *worker; /* its routing identity, as worker_joined names it */
    const char *key;    /* its key's name in worker_keys_dir */
    const char *area;   /* what it offered */
    const char *reason;
};
unsigned audit_pack_worker_refused(msgpack_packer *pk, const struct audit_worker_refused *r);

/* auth_refused: ZAP refused a connection; at most one a second per peer address. */
struct audit_auth_refused {
    const char *peer;      /* the peer's address */
    const char *domain;    /* "ingress" | "workers" */
    const char *mechanism; /* "CURVE", ... */
    const char *key;       /* the client's public key (Z85), NULL if none */
    const char *reason;
    uint64_t suppressed; /* refusals of this peer not written since the last record */
};
unsigned audit_pack_auth_refused(msgpack_packer *pk, const struct audit_auth_refused *r);

/* reload_failed: a SIGHUP whose config could not be used; nothing changed. */
struct audit_reload_failed {
    const char *config; /* the file read */
    const char *error;  /* file:line: key: message */
};
unsigned audit_pack_reload_failed(msgpack_packer *pk, const struct audit_reload_failed *r);
/* reloaded: config first; what changed is packed by config_diff_pack(). */
unsigned audit_pack_reloaded_config(msgpack_packer *pk, const char *config);

/* deadline: a tracked deadline near ("warning") or past ("breached") due. */
struct audit_deadline {
    uint64_t event_seq;
    const char *area;
    const char *deadline;
    uint64_t due_ms;
    bool breached;
};
unsigned audit_pack_deadline(msgpack_packer *pk, const struct audit_deadline *r);

/* The `emitted` field a record that brought follow-ups in ends with: their seqs. */
unsigned audit_pack_emitted(msgpack_packer *pk, const uint64_t *seqs, size_t n);

#endif
