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
/* Number of entries in a named db ("ids", "ids_new", "pending", "log"), or -1. */
long log_inspect_count(const char *state_dir, const char *db);
/* Distinct event ids the log knows: those in `ids`, and those in `ids_new` only; -1. */
long log_inspect_count_ids(const char *state_dir);
/* Records of a kind (and of an area, unless area is NULL); -1 if the log cannot be read. */
long log_inspect_count_kind(const char *state_dir, const char *kind, const char *area);
/* Records of a kind whose string field key is value (value NULL: any). */
long log_inspect_count_field(const char *state_dir, const char *kind, const char *key,
                             const char *value);
/* Polls until the named db is empty (e.g. "pending": every delivery done); false on timeout. */
bool log_inspect_wait_empty(const char *state_dir, const char *db, int timeout_ms);
/* Polls until there are at least n such records; false on timeout. */
bool log_inspect_wait_kind(const char *state_dir, const char *kind, const char *area, long n,
                           int timeout_ms);
/* Overwrites one byte of record seq at offset (writes through LMDB; daemon must be stopped). */
int log_inspect_flip_byte(const char *state_dir, uint64_t seq, size_t offset);

#endif
