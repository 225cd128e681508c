/*
 * config_diff: what a SIGHUP reload changes (DESIGN.md "Operator surface",
 * Signals), for the `reloaded` audit record and the log line, and what it
 * does not apply: the restart-only keys (endpoints, state directory,
 * durability, the LMDB and batch bounds, CURVE on the sockets and the
 * server's key), which keep their running values.
 *
 * Areas, sources and [worker] sections are matched by name; key rings by
 * key name, a name whose key bytes changed counting as removed and added.
 * The catalogue, calendars and asset registry are compared by the digest of
 * their content, so a path that changes to a file of the same text changes
 * nothing. A diff owns its strings: it outlives both configs.
 */
#ifndef MANDATE_CONFIG_DIFF_H
#define MANDATE_CONFIG_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <msgpack.h>

#include "config/config.h"

/* Names: sections as the configs order them (added and changed in new's
 * order, then removed in old's), key names sorted, restart-only keys in the
 * order of [broker] then [security]. Each string is the diff's own. */
struct config_diff_names {
    char **v;
    size_t n;
};

/* Each field is the `reloaded` record's field of the same name. */
struct config_diff {
    struct config_diff_names areas_added, areas_removed;
    struct config_diff_names areas_changed; /* unit, triage_unit, types, workers, spawn, credit */
    struct config_diff_names sources_added, sources_removed;
    struct config_diff_names sources_changed; /* allow, rate, burst */
    struct config_diff_names source_keys_added, source_keys_removed;
    struct config_diff_names worker_keys_added, worker_keys_removed;
    struct config_diff_names workers_changed; /* [worker NAME] added, removed, areas changed */
    bool catalogue;                           /* its content changed */
    bool calendars;                           /* the years in effect changed */
    bool asset_registry;                      /* its content changed */
    bool delivery;                            /* any [delivery] key changed */
    /* "broker.ingress", ...: restart-only keys whose change the reload kept
     * back (filled by config_diff_keep_restart_only()). */
    struct config_diff_names restart_needed;
};

/*
 * Fills *d (overwritten: release it first if it holds a diff) with what
 * differs from old to new, both fully loaded. Key rings are compared when
 * both configs have their keys loaded (config_load_keys()).
 */
void config_diff_compute(const struct mandated_config *old, const struct mandated_config *new,
                         struct config_diff *d);
/* Whether nothing differs (restart_needed included). */
bool config_diff_empty(const struct config_diff *d);
/*
 * Packs d's fields as msgpack map entries (key, value pairs, no map header)
 * for the `reloaded` record: the non-empty lists as arrays of strings, the
 * true flags as true. Returns how many pairs it packed (0 for a no-op).
 */
unsigned config_diff_pack(const struct config_diff *d, msgpack_packer *pk);
/*
 * One line for the log, e.g. "areas +rf -postal ~press; sources +soc; source
 * keys +a -b; catalogue changed; restart needed for broker.http" (+ added,
 * - removed, ~ changed), or "nothing changed". Truncated to fit size.
 */
void config_diff_describe(const struct config_diff *d, char *buf, size_t size);
/* Frees what d holds and empties it; safe twice. */
void config_diff_release(struct config_diff *d);

/*
 * What a reload does not apply: copies old's values of the restart-only
 * keys into new (so that new describes what actually runs) and lists those
 * that differed in d->restart_needed. Call after config_diff_compute().
 *
 * With old's keys loaded, new keeps old's server key pair (the sockets took
 * it at bind; a changed key file asks for a restart too), and new's key
 * rings follow the CURVE switches kept: no source ring while curve stays
 * off, old's ring while curve stays on but new's file turned it off (else
 * every source would be refused); d's key lists are computed again from
 * the rings that result.
 */
void config_diff_keep_restart_only(struct mandated_config *new, const struct mandated_config *old,
                                   struct config_diff *d);

#endif
