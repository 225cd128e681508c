/*
 * acceptance: an admitted event (daemon/admission.h) enters the log. The
 * one place that does it, for every origin: published events (ingress),
 * workers' follow-ups (delivery) and the broker's own deadline.* events
 * (the deadline scan). In the open write transaction: claims the id (a
 * second event with it is a duplicate and writes nothing), appends the
 * `accepted` record and its pending entry, and closes the tracked deadlines
 * its type closes (daemon/deadline_table.h).
 */
#ifndef MANDATE_ACCEPTANCE_H
#define MANDATE_ACCEPTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/catalogue.h"
#include "daemon/audit_log.h"

/*
 * Writes record (its id not yet claimed); ctype is the event's catalogue
 * type (NULL: one only an area glob routes). Returns 0 with *ret_dup false
 * and the new seq, 0 with *ret_dup true and the seq of the earlier event
 * with that id, or -errno (the transaction is then to be aborted).
 */
int acceptance_write(struct audit_log *log, const struct audit_accepted *record,
                     const struct catalogue_type *ctype, uint64_t *ret_seq, bool *ret_dup);

#endif
