/*
 * envelope: the event envelope of MEP/1 PUB (DESIGN.md "Envelope"): decode
 * with every limit checked, validate each field, and encode for publishers.
 */
#ifndef MANDATE_ENVELOPE_H
#define MANDATE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "proto/mep.h"

#define ENVELOPE_VERSION     1
#define ENVELOPE_ID_LEN      16
#define ENVELOPE_TYPE_MAX    128 /* bytes of a type name */
#define ENVELOPE_SOURCE_MAX  64  /* bytes of a source name */
#define ENVELOPE_SUBJECT_MAX 256 /* bytes of a case reference */
#define ENVELOPE_MAX_DEPTH   8
#define ENVELOPE_MAX_STR     (16 * 1024)

struct envelope_limits {
    size_t max_bytes;   /* whole encoded envelope; [broker] max_event_bytes */
    unsigned max_depth; /* ENVELOPE_MAX_DEPTH unless configured */
    size_t max_str;     /* ENVELOPE_MAX_STR unless configured */
};

/* The defaults of DESIGN.md: 64 KiB, depth 8, strings 16 KiB. */
extern const struct envelope_limits envelope_default_limits;

struct envelope {
    uint64_t v;
    uint8_t id[ENVELOPE_ID_LEN];
    char type[ENVELOPE_TYPE_MAX + 1];
    char source[ENVELOPE_SOURCE_MAX + 1];
    uint64_t time_ms;
    bool has_corr;
    uint8_t corr[ENVELOPE_ID_LEN];
    bool has_subject;
    char subject[ENVELOPE_SUBJECT_MAX + 1];
    /* The data map, valid until envelope_release(); points into 'unpacked'. */
    const msgpack_object *data;
    msgpack_unpacked unpacked;
};

/* Why an envelope was refused: the NACK code and a reason naming the field. */
struct envelope_error {
    enum mep_code code;
    bool has_id; /* the id was readable: the NACK can carry it */
    uint8_t id[ENVELOPE_ID_LEN];
    char reason[MEP_REASON_MAX + 1];
};

/*
 * Decodes and validates buf as an envelope. On success returns 0 and *ret
 * must later go through envelope_release(). On failure returns -EBADMSG,
 * fills *err (code + reason such as "field 'type': not a dotted lower-case
 * name") and leaves nothing to release.
 *
 * Codes: too_large (over max_bytes, or a string over max_str), bad_msgpack
 * (not one well-formed msgpack object), bad_envelope (not a map, a key not a
 * string, unknown / duplicate / missing key, wrong type, bad id size, bad
 * UTF-8, nesting deeper than max_depth, v != 1).
 */
int envelope_decode(const void *buf, size_t len, const struct envelope_limits *limits,
                    struct envelope *ret, struct envelope_error *err);
void envelope_release(struct envelope *env);

/*
 * A reusable decoder for the hot path: decodes without copying the message
 * and without allocating once its zone has warmed up. The result's data
 * points into buf and into the decoder, so it is valid only until the next
 * call on the same decoder and while buf lives; envelope_release() on it is
 * a harmless no-op. Checks and errors are exactly those of envelope_decode().
 */
struct envelope_decoder {
    msgpack_zone zone;
};

void envelope_decoder_init(struct envelope_decoder *dec);
void envelope_decoder_destroy(struct envelope_decoder *dec);
int envelope_decode_with(struct envelope_decoder *dec, const void *buf, size_t len,
                         const struct envelope_limits *limits, struct envelope *ret,
                         struct envelope_error *err);

/* Whether s is a dotted lower-case type name: [a-z][a-z0-9_]* ('.' [a-z][a-z0-9_]*)+ */
bool envelope_type_name_valid(const char *s, size_t len);
/* Whether s is a source name: 1..64 bytes of [A-Za-z0-9_.:-]. */
bool envelope_source_name_valid(const char *s, size_t len);

/* What a publisher supplies to encode an envelope. */
struct envelope_fields {
    const uint8_t *id; /* ENVELOPE_ID_LEN bytes */
    const char *type;
    const char *source;
    uint64_t time_ms;
    const uint8_t *corr; /* NULL: absent */
    const char *subject; /* NULL: absent */
    const void *data;    /* an already packed msgpack map, copied verbatim */
    size_t data_len;
};

/* Packs the envelope into out (appends). The data bytes are trusted. */
void envelope_encode(const struct envelope_fields *f, msgpack_sbuffer *out);

#endif
