/*
 * incident_store: the SOC lane's correlation state, in an LMDB environment
 * of its own under the state directory (state_dir/cyber), shared by every
 * cyber worker on the machine: LMDB serialises their write transactions,
 * so two workers never open two incidents for one asset.
 *
 * Alerts on one asset whose times lie within the window of its current
 * incident (from window before its first alert to window after its last)
 * join it; any other opens a new one, named after that alert's event id.
 * Each alert's decision is kept by its seq: a redelivered alert gets the
 * same decision back (replay), so the events emitted for it, whose ids
 * derive from the incident, are the same and the broker keeps them once.
 *
 * Durability: commits are not fsynced (MDB_NOSYNC). A killed worker loses
 * nothing (the pages are in the kernel); a machine crash may lose the last
 * seconds of correlation, never an event: the audit log keeps the alerts.
 */
#ifndef MANDATE_INCIDENT_STORE_H
#define MANDATE_INCIDENT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#define INCIDENT_ID_MAX 24 /* "INC-" + 16 hex digits + NUL */

/* QĐ 05/2017 impact criteria, as bits. */
enum incident_impact {
    IMPACT_SERVICE_INTERRUPTION = 1 << 0,
    IMPACT_DATA_LEAK = 1 << 1,
    IMPACT_INTEGRITY_LOSS = 1 << 2,
    IMPACT_LOSS_OF_CONTROL = 1 << 3,
    IMPACT_SPREAD = 1 << 4,
};

struct incident_store;

struct alert_facts {
    const char *asset;
    uint64_t time_ms;
    int priority; /* 1 (P1) .. 4 */
    unsigned impacts;
    uint64_t seq;            /* the alert's seq in the audit log */
    const uint8_t *event_id; /* 16 bytes: names a new incident */
};

struct incident_params {
    uint64_t window_ms;
    int confirm_priority; /* an incident at this priority or worse-numbered-better is confirmed */
    bool serious_system;  /* level 4-5 or critical, and its owner cannot cope */
};

struct incident_decision {
    char incident_id[INCIDENT_ID_MAX];
    bool replay;        /* this alert was decided before */
    bool opened;        /* it opened the incident */
    bool rose;          /* it raised the incident's priority */
    bool milestone;     /* the incident reached 10, 100, 1000, ... alerts */
    bool confirmed_now; /* the incident just reached confirm_priority */
    bool escalate_now;  /* the incident just met the serious-incident test */
    int priority;
    uint32_t alerts;
    uint64_t first_seen, last_seen;
    unsigned impacts;
};

/* Opens (creating) the store in dir. Returns 0 or -errno. */
int incident_store_open(const char *dir, struct incident_store **ret);
void incident_store_destroy(struct incident_store **store_p);

/* Correlates one alert. Returns 0 or -errno (the caller answers retry). */
int incident_store_correlate(struct incident_store *s, const struct alert_facts *a,
                             const struct incident_params *p, struct incident_decision *ret);

#endif
