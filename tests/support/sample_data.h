/*
 * sample_data: one valid data map for every type of the shipped catalogue,
 * for tests and benchmarks that need events the broker accepts.
 */
#ifndef MANDATE_SAMPLE_DATA_H
#define MANDATE_SAMPLE_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

struct sample_data {
    const char *type;
    const char *json; /* the data map as JSON */
};

/* Every publishable type of the shipped catalogue, ended by a NULL type. */
extern const struct sample_data sample_data[];

/* The sample of a type, or NULL. */
const char *sample_data_json(const char *type);

/*
 * Packs type's sample data into out (appends), with the key named
 * without_key left out (NULL: none) and, if n >= 0, "n": n added (extra
 * keys pass the catalogue). Returns 0, -ENOENT (no sample).
 */
int sample_data_pack(const char *type, const char *without_key, int64_t n, msgpack_sbuffer *out);

/* The SAMPLE_NOTICE_FIELDS key/value pairs of a valid press.conference_notice
 * (short ASCII values), without a map header: callers add keys of their own. */
#define SAMPLE_NOTICE_FIELDS 8
void sample_notice_fields(msgpack_packer *pk);

/*
 * A valid press.conference_notice data map with two more keys: "n" (a
 * fixed-width uint32, so every event has the same size) and, if pad_len,
 * "pad" (pad_len 'x's, at most 1024). For the tests and benchmarks that publish many.
 */
void sample_notice_pack(msgpack_packer *pk, uint32_t n, size_t pad_len);

#endif
