/*
 * deadline_scan: the loop's watch over the tracked deadlines
 * (daemon/deadline_table.h). A timer scans the table in due order every
 * [delivery] deadline_scan_ms: a deadline within [delivery] deadline_warn_ms
 * of its due time gets a `deadline` record (state warning) and a
 * deadline.warning event, once; one past due gets a `deadline` record (state
 * breached) and a deadline.breached event, and leaves the table. Both
 * events go to the tracked event's area, with corr = its id, source
 * "broker", and an id derived from the deadline, so that a scan repeated
 * before the write commits, or after a crash, emits nothing twice. Each
 * deadline record is written only if its entry is still there (and not yet
 * warned) in the writing transaction.
 *
 * Its records go to the group commit through a journal of its own, as a
 * producer equal to ingress and delivery.
 */
#ifndef MANDATE_DEADLINE_SCAN_H
#define MANDATE_DEADLINE_SCAN_H

#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/group_commit.h"
#include "daemon/journal.h"
#include "daemon/loop_turn.h"

/* Deadline records queued (a repeated scan's duplicate, dropped at the
 * write, is counted again: these say what the scan found). */
struct deadline_scan_stats {
    uint64_t warned, breached, scans;
};

struct deadline_scan;

/*
 * Starts the timer and adds the scan to commit as a producer; every
 * deadline event that enters the log is handed to accepted(arg, e) for
 * routing. NULL on failure (logged).
 */
struct deadline_scan *deadline_scan_new(struct event_base *base, const struct mandated_config *cfg,
                                        struct audit_log *log, struct group_commit *commit,
                                        struct loop_turn *turn,
                                        void (*accepted)(void *arg, const struct journal_emit *e),
                                        void *arg);
/* SIGHUP: areas, catalogue and timing follow cfg. */
void deadline_scan_reconfigure(struct deadline_scan *s, const struct mandated_config *cfg);
const struct deadline_scan_stats *deadline_scan_stats(const struct deadline_scan *s);
void deadline_scan_destroy(struct deadline_scan **s_p);

#endif
