/*
 * unit_log: the unit tests' way to open the broker's audit log in their
 * temporary directory (no fsync; a small map that may grow to map_max).
 * Include after <criterion/criterion.h>: a log that does not open fails
 * the test with LMDB's message.
 */
#ifndef MANDATE_TEST_UNIT_LOG_H
#define MANDATE_TEST_UNIT_LOG_H

#include <stdint.h>

#include "daemon/audit_log.h"

static inline struct audit_log *
unit_log_open(const char *dir, uint64_t map_initial, uint64_t map_max)
{
    struct audit_log_options o = {.durable = false, .map_initial = map_initial, .map_max = map_max};
    struct audit_log *log = NULL;
    char err[256];
    cr_assert_eq(audit_log_open(dir, &o, &log, err, sizeof err), 0, "%s", err);
    return log;
}

#endif
