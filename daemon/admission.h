/*
 * admission: whether an event may enter the log, and where it goes. The one
 * check every event passes, whatever its origin: published over MEP/1
 * (daemon/ingress.h), emitted by a worker as a follow-up (daemon/delivery.h),
 * or the broker's own deadline.* events (daemon/deadline_scan.h). It checks
 * the catalogue (type known, data valid), permissions (reserved sources,
 * internal types, a source's allow globs) and finds the area: by type, by
 * the case its corr names, or the origin's own.
 *
 * Runs on the loop thread; may read the log through its snapshot (a corr's
 * case). Rate limits are not admission's: they belong to the front door.
 */
#ifndef MANDATE_ADMISSION_H
#define MANDATE_ADMISSION_H

#include <stdbool.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "proto/envelope.h"
#include "proto/mep.h"

enum admission_origin {
    ADMISSION_PUBLISHED, /* by a source, over MEP/1 */
    ADMISSION_FOLLOW_UP, /* emitted by a worker of origin_area */
    ADMISSION_BROKER,    /* the broker's own, for origin_area */
};

struct admission_verdict {
    enum mep_code code; /* MEP_OK: admitted */
    char reason[MEP_REASON_MAX + 1];
    const struct area_conf *area;      /* where it goes, when admitted */
    const struct catalogue_type *type; /* NULL: a type only an area glob routes */
    const struct source_conf *source;  /* published: its [source] section, if any */
};

/*
 * Checks env (decoded and valid as an envelope). origin_area: for a
 * follow-up the emitting worker's area, for the broker's events the area
 * they go to; NULL for published events. Returns whether it is admitted;
 * *ret says where, or the NACK code and a reason naming the field.
 */
bool admission_check(const struct mandated_config *cfg, struct audit_log *log,
                     enum admission_origin origin, const struct envelope *env,
                     const struct area_conf *origin_area, struct admission_verdict *ret);

#endif
