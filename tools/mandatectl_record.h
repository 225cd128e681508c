/*
 * mandatectl_record: how mandatectl shows one audit record, as an aligned
 * human line or as one JSON object (shared by tail and show), and the small
 * msgpack accessors both need. Internal to mandatectl.
 */
#ifndef MANDATE_MANDATECTL_RECORD_H
#define MANDATE_MANDATECTL_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "proto/audit_record.h"

/* Whether o is the string s. */
bool ctl_str_is(const msgpack_object *o, const char *s);
/* The value of key in a msgpack map; NULL when absent or map is not a map. */
const msgpack_object *ctl_map_get(const msgpack_object *map, const char *key);
/* A record's unsigned integer field (event_seq, cause, attempt, ...); false when absent or not one.
 */
bool ctl_record_u64(const struct audit_record *rec, const char *key, uint64_t *ret);

/* The width of the seq column for a log whose last seq is last_seq (at least 6). */
int ctl_seq_width(uint64_t last_seq);

/*
 * One value for a human reader: strings with control bytes escaped as \xNN,
 * event ids (bin 16) shortened to their last 8 hex digits, other bin as hex,
 * nil as "-", maps and arrays as compact JSON.
 */
void ctl_put_value(FILE *out, const msgpack_object *o);
/* A time in ms since the epoch, as ctl_format_time_ns() writes it (or the number if too large). */
void ctl_put_time_ms(FILE *out, uint64_t ms);

/*
 * seq, time, kind, then the kind's main fields as columns (see the table in
 * mandatectl_record.c), then every other field as key=value, nil ones left
 * out. The event an `accepted` record carries is --json's business.
 */
void ctl_record_print_human(FILE *out, const struct audit_record *rec, int seq_width);
/* The whole record as one compact JSON object and a newline. */
void ctl_record_print_json(FILE *out, const struct audit_record *rec);

#endif
