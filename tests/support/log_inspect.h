/*
 * log_inspect: reads an audit log directly with LMDB for assertions
 * (independent of mandatectl, so a bug there cannot hide one in the daemon).
 */
#ifndef MANDATE_LOG_INSPECT_H
#define MANDATE_LOG_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/audit_record.h"

/* Calls fn for every record in seq order; stops early if fn returns false. Returns records seen or
 * -1. */
long log_inspect_each(const char *state_dir,
                      bool (*fn)(uint64_t key_seq, const struct audit_record *rec,
                                 const void *bytes, size_t len, void *arg),
                      void *arg);
/* Number of entries in a named db ("ids", "pending", "log"), or -1. */
long log_inspect_count(const char *state_dir, const char *db);
/* Overwrites one byte of record seq at offset (writes through LMDB; daemon must be stopped). */
int log_inspect_flip_byte(const char *state_dir, uint64_t seq, size_t offset);

#endif
