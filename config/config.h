/*
 * config: the INI configuration (DESIGN.md "Config"), parsed with inih.
 * Every key has its default; every error names the file, line and key.
 * Routing: a type goes to the first area whose `types` globs match it, else
 * to its catalogue area (config/catalogue.h) if that area is configured; a
 * type neither names is unknown to the broker.
 */
#ifndef MANDATE_CONFIG_H
#define MANDATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/asset_registry.h"
#include "config/calendar.h"
#include "config/catalogue.h"
#include "config/curve_cert.h"
#include "config/keyring.h"
#include "config/ini_file.h"

enum durability { DURABILITY_FULL, DURABILITY_RELAXED };

struct area_conf {
    char *name;        /* MDP service name, e.g. "press" */
    char *unit;        /* handling unit */
    char *triage_unit; /* who triages its alerts (the SOC lane); empty: unit */
    char **types;      /* globs (fnmatch), e.g. "press.*": routes over the catalogue's */
    size_t ntypes;
    unsigned workers; /* processes to spawn */
    bool spawn;
    unsigned credit; /* requests in flight per spawned worker (READY's credit) */
};

struct source_conf {
    char *name;
    char **allow; /* type globs this source may publish; none = any */
    size_t nallow;
    double rate;  /* events/s, token bucket; 0 = unlimited */
    double burst; /* bucket size; defaults to rate (one second's worth) */
};

/* [worker NAME]: the areas a worker key may serve (workers_curve = on). */
struct worker_conf {
    char *name; /* the key file's name in worker_keys_dir, without .key */
    char **areas;
    size_t nareas;
};

/* The keys [security] names, read by config_load_keys() (the broker only:
 * mandatectl reads the config without the server's secret). */
struct config_keys {
    bool loaded;
    struct curve_cert server; /* with its secret */
    struct keyring *sources;  /* curve = on */
    struct keyring *workers;  /* workers_curve = on */
};

struct mandated_config {
    char *path; /* file it came from, or the embedded default's name */

    struct {
        char *ingress;
        char *workers;
        char *http;
        char *state_dir;
        enum durability durability;
        size_t max_event_bytes;
        unsigned commit_max_batch;
        unsigned commit_max_delay_ms;
        uint64_t map_max_bytes;
        uint64_t map_initial_bytes; /* first map size; grows on MDB_MAP_FULL */
        unsigned ids_in_memory;     /* recent ids held before the sweep into `ids` */
        unsigned ids_filter;        /* ids the filter in front of `ids` is sized for; 0: none */
        double rejected_log_rate;   /* rejected records/s written at most */
        char *worker_program;       /* spawned workers; empty: mandate-worker beside mandated */
        char *catalogue;            /* the type catalogue's file; empty: the embedded one */
        char *calendar_dir;         /* YYYY.ini calendars over the embedded years; empty: none */
        char *asset_registry;       /* the SOC's asset registry; empty: the embedded example */
    } broker;

    struct {
        unsigned heartbeat_ms;
        unsigned liveness;
        unsigned max_attempts;
        unsigned retry_backoff_ms;
        unsigned drain_timeout_ms; /* SIGTERM waits this long for in-flight replies */
        unsigned deadline_scan_ms; /* how often tracked deadlines are looked at */
        unsigned deadline_warn_ms; /* deadline.warning this long before due; 0: none */
    } delivery;

    struct {
        bool curve;              /* CURVE and ZAP on ingress */
        char *server_secret_key; /* the broker's pair (NAME.key_secret) */
        char *server_public_key; /* what clients and workers pin; default: the pair's NAME.key */
        char *sources_dir;       /* NAME.key per source */
        bool workers_curve;      /* CURVE and ZAP on the workers endpoint */
        char *worker_keys_dir;   /* NAME.key per worker key, served areas in [worker NAME] */
        char *worker_secret_key; /* spawned workers' pair; empty: none */
        char *client_secret_key; /* mandatectl publish's pair; empty: none */
    } security;

    struct catalogue *catalogue;   /* loaded from broker.catalogue */
    struct calendar *calendar;     /* the embedded years and broker.calendar_dir's */
    struct asset_registry *assets; /* from broker.asset_registry */
    struct area_conf *areas;
    size_t nareas;
    struct source_conf *sources;
    size_t nsources;
    struct worker_conf *workers;
    size_t nworkers;
    struct config_keys keys;

    /* Built at load for config_area_for_type(): literal type names sorted
     * for bsearch; only types they miss walk the wildcard globs. */
    struct type_route {
        const char *type; /* borrowed from areas[area].types */
        size_t area;
    } * routes;
    size_t nroutes;
};

/* Returns 0, or -errno (file unreadable) / -EINVAL (bad content) with *err filled. */
int config_load_file(const char *path, struct mandated_config **ret, struct config_error *err);
/* Parses text as if read from a file called name. */
int config_load_string(const char *text, const char *name, struct mandated_config **ret,
                       struct config_error *err);
/*
 * The lookup order of DESIGN.md: explicit path if given; else
 * config/mandated.conf under the working directory; else
 * /etc/mandated/mandated.conf; else the embedded default.
 */
int config_load_default(const char *explicit_path, struct mandated_config **ret,
                        struct config_error *err);
void config_destroy(struct mandated_config **cfg_p);
/*
 * Reads the keys [security] asks for into cfg->keys: the server's pair when
 * either CURVE is on, sources_dir when curve = on, worker_keys_dir when
 * workers_curve = on. Returns 0 or -errno / -EINVAL with *err naming the file
 * (and line and key). Nothing is kept on failure.
 */
int config_load_keys(struct mandated_config *cfg, struct config_error *err);

/*
 * The area an event of this type goes to: the first area whose type globs
 * match it (file order), else its catalogue area if configured; NULL if
 * neither. A catalogue type without an area (routed by its corr) gives NULL
 * here: see config_type().
 */
const struct area_conf *config_area_for_type(const struct mandated_config *cfg, const char *type);
/* The catalogue entry of a type, or NULL (a type only area globs route). */
const struct catalogue_type *config_type(const struct mandated_config *cfg, const char *type);
const struct area_conf *config_area(const struct mandated_config *cfg, const char *name);
const struct source_conf *config_source(const struct mandated_config *cfg, const char *name);
const struct worker_conf *config_worker(const struct mandated_config *cfg, const char *name);
/* Whether a worker key's [worker NAME] section names the area. */
bool config_worker_serves(const struct worker_conf *w, const char *area);
/* With no section a source may publish anything (curve = off); else only its allow globs. */
bool config_source_allows(const struct source_conf *src, const char *type);

/*
 * Splits "HOST:PORT" or "[IPV6]:PORT" (the form of [broker] http) into host
 * (NUL-terminated, hostsize bytes at most) and port 1..65535. host and
 * ret_port may be NULL to only check. Returns 0, -EINVAL or -ENAMETOOLONG.
 */
int config_split_hostport(const char *s, char *host, size_t hostsize, unsigned *ret_port);
/* Whether a ZeroMQ endpoint stays on this host: ipc, inproc, or tcp on a
 * loopback address (127.0.0.0/8, ::1, localhost, lo). */
bool config_endpoint_is_local(const char *endpoint);

/* Prints what the daemon would do with this config (for --check-config). */
void config_describe(const struct mandated_config *cfg, FILE *out);

#endif
