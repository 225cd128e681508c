/*
 * envelope: decode, validate and encode the MEP/1 event envelope.
 *
 * Decoding goes size -> msgpack_scan -> msgpack-c unpack -> field checks and
 * stops at the first fault with a NACK code and a reason that names the
 * field. The id is looked for before anything else is judged, so that a NACK
 * can carry it whenever it was readable: a pipelining publisher correlates
 * replies by id. Reasons quote outside bytes only escaped and cut short.
 *
 * The message is copied into memory owned by the unpacked zone, so the
 * decoded envelope (data included) lives until envelope_release() whatever
 * happens to the caller's buffer. Allocation failure aborts (common/alloc.h).
 */
#include "common/alloc.h"
#include "proto/envelope.h"
#include "proto/pack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "proto/msgpack_scan.h"
#include "proto/text.h"

const struct envelope_limits envelope_default_limits = {65536, ENVELOPE_MAX_DEPTH,
                                                        ENVELOPE_MAX_STR};

enum s_field { F_V, F_ID, F_TYPE, F_SOURCE, F_TIME, F_DATA, F_CORR, F_SUBJECT, F_COUNT };

static const char *const s_field_names[F_COUNT] = {"v",    "id",   "type", "source",
                                                   "time", "data", "corr", "subject"};

/* Every field before corr is required. */
#define S_FIRST_OPTIONAL F_CORR

__attribute__((format(printf, 3, 4))) static int
s_fail(struct envelope_error *err, enum mep_code code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static int
s_field_index(const char *key, size_t len)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(s_field_names[i]) == len && memcmp(s_field_names[i], key, len) == 0)
            return i;
    }
    return -1;
}

/*
 * Reads a str (or bin) header of any width at p: header size and payload
 * size, false unless it is one and the payload fits in avail.
 */
static bool
s_raw_strbin(const uint8_t *p, size_t avail, bool bin, size_t *ret_hdr, size_t *ret_n)
{
    size_t hdr, n;

    if (avail == 0)
        return false;
    if (!bin && p[0] >= 0xa0 && p[0] <= 0xbf) {
        hdr = 1;
        n = p[0] & 0x1f;
    } else if (p[0] == (bin ? 0xc4 : 0xd9) && avail >= 2) {
        hdr = 2;
        n = p[1];
    } else if (p[0] == (bin ? 0xc5 : 0xda) && avail >= 3) {
        hdr = 3;
        n = (size_t)p[1] << 8 | p[2];
    } else if (p[0] == (bin ? 0xc6 : 0xdb) && avail >= 5) {
        hdr = 5;
        n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    } else {
        return false;
    }
    if (n > avail - hdr)
        return false;
    *ret_hdr = hdr;
    *ret_n = n;
    return true;
}

/*
 * The error path for bytes msgpack-c must not see: walks the top-level map
 * as far as it is well formed, to find the id for the NACK and to name the
 * key whose value holds byte 'fault' (SIZE_MAX: no fault to place). Every
 * step is bounds-checked; the walk simply stops where the bytes stop making
 * sense.
 */
static void
s_peek(const uint8_t *buf, size_t len, size_t fault, struct envelope_error *err, char *field,
       size_t fieldsz)
{
    static const struct msgpack_scan_limits loose = {MSGPACK_SCAN_DEPTH_CAP, SIZE_MAX};
    bool placed = fault == SIZE_MAX;
    size_t off, count;

    field[0] = '\0';
    if (len == 0)
        return;
    if (buf[0] >= 0x80 && buf[0] <= 0x8f) {
        count = buf[0] & 0x0f;
        off = 1;
    } else if (buf[0] == 0xde && len >= 3) {
        count = (size_t)buf[1] << 8 | buf[2];
        off = 3;
    } else if (buf[0] == 0xdf && len >= 5) {
        count = (size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | buf[4];
        off = 5;
    } else {
        return;
    }

    for (size_t i = 0; i < count && off < len; i++) {
        const uint8_t *key;
        size_t khdr, klen, vhdr, vlen, used;

        if (!s_raw_strbin(buf + off, len - off, false, &khdr, &klen))
            return;
        key = buf + off + khdr;
        /* A fault in the map header or a key lies in no field. */
        placed = placed || fault < off + khdr + klen;
        off += khdr + klen;
        if (msgpack_scan_one(buf + off, len - off, &loose, &used, NULL) != MSGPACK_SCAN_OK) {
            /* The strict scan failed no later than here, so it failed in this value. */
            if (!placed)
                text_quote(field, fieldsz, key, klen);
            return;
        }
        if (!err->has_id && klen == 2 && memcmp(key, "id", 2) == 0 &&
            s_raw_strbin(buf + off, used, true, &vhdr, &vlen) && vlen == ENVELOPE_ID_LEN &&
            vhdr + vlen == used) {
            err->has_id = true;
            memcpy(err->id, buf + off + vhdr, ENVELOPE_ID_LEN);
        }
        if (!placed && fault - off < used) {
            text_quote(field, fieldsz, key, klen);
            placed = true;
        }
        if (err->has_id && placed)
            return;
        off += used;
    }
}

/* Turns a scan fault into a NACK, naming the top-level field it lies in. */
static int
s_scan_fail(const uint8_t *buf, size_t len, enum msgpack_scan_result r, size_t at,
            const struct envelope_limits *limits, struct envelope_error *err)
{
    char key[TEXT_QUOTE_SIZE];
    char where[sizeof(key) + 16];

    s_peek(buf, len, r == MSGPACK_SCAN_TRAILING ? SIZE_MAX : at, err, key, sizeof(key));
    if (key[0] != '\0')
        snprintf(where, sizeof(where), "field '%s'", key);
    else
        snprintf(where, sizeof(where), "message");

    switch (r) {
    case MSGPACK_SCAN_EMPTY:
        return s_fail(err, MEP_BAD_MSGPACK, "message: empty");
    case MSGPACK_SCAN_TRUNCATED:
        return s_fail(err, MEP_BAD_MSGPACK, "%s: truncated msgpack at offset %zu", where, at);
    case MSGPACK_SCAN_BAD_BYTE:
        return s_fail(err, MEP_BAD_MSGPACK, "%s: invalid msgpack byte 0xc1 at offset %zu", where,
                      at);
    case MSGPACK_SCAN_TRAILING:
        return s_fail(err, MEP_BAD_MSGPACK, "message: trailing bytes at offset %zu", at);
    case MSGPACK_SCAN_TOO_DEEP:
        /* The scanner caps depth where msgpack-c does; say the limit that applied. */
        return s_fail(err, MEP_BAD_ENVELOPE, "%s: nesting deeper than %u", where,
                      limits->max_depth < MSGPACK_SCAN_DEPTH_CAP ? limits->max_depth
                                                                 : MSGPACK_SCAN_DEPTH_CAP);
    case MSGPACK_SCAN_STR_TOO_LONG:
        return s_fail(err, MEP_TOO_LARGE, "%s: string longer than %zu bytes", where,
                      limits->max_str);
    case MSGPACK_SCAN_OK:
        break;
    }
    return s_fail(err, MEP_BAD_MSGPACK, "message: %s", msgpack_scan_strerror(r));
}

static int
s_check_bin16(const msgpack_object *o, const char *name, struct envelope_error *err)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': bin of %d bytes expected, got %s", name,
                      ENVELOPE_ID_LEN, text_msgpack_type(o));
    if (o->via.bin.size != ENVELOPE_ID_LEN)
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': bin of %d bytes expected, got %u", name,
                      ENVELOPE_ID_LEN, (unsigned)o->via.bin.size);
    return 0;
}

/* A str of at most max bytes, valid UTF-8, without NUL (it becomes a C string). */
static int
s_check_str(const msgpack_object *o, const char *name, size_t max, struct envelope_error *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': str expected, got %s", name,
                      text_msgpack_type(o));
    if (o->via.str.size > max)
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': longer than %zu bytes", name, max);
    if (!text_utf8_valid(o->via.str.ptr, o->via.str.size))
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': invalid UTF-8", name);
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': contains NUL", name);
    return 0;
}

static int
s_check_uint(const msgpack_object *o, const char *name, struct envelope_error *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': uint expected, got %s", name,
                      text_msgpack_type(o));
    return 0;
}

static void
s_copy_str(char *dst, const msgpack_object *o)
{
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
}

/* Checks the unpacked top-level object and fills env; the first fault wins. */
static int
s_validate(const msgpack_object *top, struct envelope *env, struct envelope_error *err)
{
    const msgpack_object *f[F_COUNT] = {NULL};
    char quoted[TEXT_QUOTE_SIZE];
    int rc;

    if (top->type != MSGPACK_OBJECT_MAP)
        return s_fail(err, MEP_BAD_ENVELOPE, "message: map expected, got %s",
                      text_msgpack_type(top));

    /* The id before anything is judged, so that the NACK can carry it. */
    for (uint32_t i = 0; i < top->via.map.size; i++) {
        const msgpack_object_kv *kv = &top->via.map.ptr[i];

        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "id", 2) == 0 && kv->val.type == MSGPACK_OBJECT_BIN &&
            kv->val.via.bin.size == ENVELOPE_ID_LEN) {
            err->has_id = true;
            memcpy(err->id, kv->val.via.bin.ptr, ENVELOPE_ID_LEN);
            break;
        }
    }

    for (uint32_t i = 0; i < top->via.map.size; i++) {
        const msgpack_object_kv *kv = &top->via.map.ptr[i];
        int idx;

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return s_fail(err, MEP_BAD_ENVELOPE, "key #%u: str expected, got %s", (unsigned)i + 1,
                          text_msgpack_type(&kv->key));
        idx = s_field_index(kv->key.via.str.ptr, kv->key.via.str.size);
        if (idx < 0) {
            text_quote(quoted, sizeof(quoted), kv->key.via.str.ptr, kv->key.via.str.size);
            return s_fail(err, MEP_BAD_ENVELOPE, "unknown key '%s'", quoted);
        }
        if (f[idx])
            return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': duplicate key", s_field_names[idx]);
        f[idx] = &kv->val;
    }
    for (int k = 0; k < S_FIRST_OPTIONAL; k++) {
        if (!f[k])
            return s_fail(err, MEP_BAD_ENVELOPE, "field '%s': missing", s_field_names[k]);
    }

    if ((rc = s_check_uint(f[F_V], "v", err)) < 0)
        return rc;
    if (f[F_V]->via.u64 != ENVELOPE_VERSION)
        return s_fail(err, MEP_BAD_ENVELOPE, "field 'v': version %llu unsupported, %d expected",
                      (unsigned long long)f[F_V]->via.u64, ENVELOPE_VERSION);
    if ((rc = s_check_bin16(f[F_ID], "id", err)) < 0)
        return rc;
    if ((rc = s_check_str(f[F_TYPE], "type", ENVELOPE_TYPE_MAX, err)) < 0)
        return rc;
    if (!envelope_type_name_valid(f[F_TYPE]->via.str.ptr, f[F_TYPE]->via.str.size))
        return s_fail(err, MEP_BAD_ENVELOPE, "field 'type': not a dotted lower-case name");
    if ((rc = s_check_str(f[F_SOURCE], "source", ENVELOPE_SOURCE_MAX, err)) < 0)
        return rc;
    if (!envelope_source_name_valid(f[F_SOURCE]->via.str.ptr, f[F_SOURCE]->via.str.size))
        return s_fail(err, MEP_BAD_ENVELOPE,
                      "field 'source': not a source name (1..64 of A-Z a-z 0-9 _ . : -)");
    if ((rc = s_check_uint(f[F_TIME], "time", err)) < 0)
        return rc;
    if (f[F_TIME]->via.u64 == 0)
        return s_fail(err, MEP_BAD_ENVELOPE, "field 'time': must be positive");
    if (f[F_DATA]->type != MSGPACK_OBJECT_MAP)
        return s_fail(err, MEP_BAD_ENVELOPE, "field 'data': map expected, got %s",
                      text_msgpack_type(f[F_DATA]));
    if (f[F_CORR] && (rc = s_check_bin16(f[F_CORR], "corr", err)) < 0)
        return rc;
    if (f[F_SUBJECT] && (rc = s_check_str(f[F_SUBJECT], "subject", ENVELOPE_SUBJECT_MAX, err)) < 0)
        return rc;

    env->v = f[F_V]->via.u64;
    memcpy(env->id, f[F_ID]->via.bin.ptr, ENVELOPE_ID_LEN);
    s_copy_str(env->type, f[F_TYPE]);
    s_copy_str(env->source, f[F_SOURCE]);
    env->time_ms = f[F_TIME]->via.u64;
    env->has_corr = f[F_CORR] != NULL;
    if (env->has_corr)
        memcpy(env->corr, f[F_CORR]->via.bin.ptr, ENVELOPE_ID_LEN);
    env->has_subject = f[F_SUBJECT] != NULL;
    if (env->has_subject)
        s_copy_str(env->subject, f[F_SUBJECT]);
    env->data = f[F_DATA];
    return 0;
}

/* The size limit and the bounds scan: nothing is unpacked before both pass. */
static int
s_precheck(const void *buf, size_t len, const struct envelope_limits **limits_p,
           struct envelope_error *err)
{
    struct msgpack_scan_limits sl;
    enum msgpack_scan_result r;
    size_t at = 0;

    if (!*limits_p)
        *limits_p = &envelope_default_limits;
    const struct envelope_limits *limits = *limits_p;
    memset(err, 0, sizeof(*err));
    if (len > limits->max_bytes) {
        char unused[4];

        s_peek(buf, limits->max_bytes, SIZE_MAX, err, unused, sizeof(unused));
        return s_fail(err, MEP_TOO_LARGE, "message: %zu bytes, the limit is %zu", len,
                      limits->max_bytes);
    }
    sl.max_depth = limits->max_depth;
    sl.max_str = limits->max_str;
    r = msgpack_scan(buf, len, &sl, &at);
    if (r != MSGPACK_SCAN_OK)
        return s_scan_fail(buf, len, r, at, limits, err);
    return 0;
}

void
envelope_decoder_init(struct envelope_decoder *dec)
{
    if (!msgpack_zone_init(&dec->zone, MSGPACK_ZONE_CHUNK_SIZE))
        alloc_failed(MSGPACK_ZONE_CHUNK_SIZE);
}

void
envelope_decoder_destroy(struct envelope_decoder *dec)
{
    msgpack_zone_destroy(&dec->zone);
}

/*
 * The one decode path: bounds scan, msgpack-c into zone, field checks. The
 * objects point into buf (msgpack-c does not copy str or bin), so buf must
 * live as long as the zone's contents are used.
 */
static int
s_decode_in(msgpack_zone *zone, const void *buf, size_t len, const struct envelope_limits *limits,
            struct envelope *ret, struct envelope_error *err)
{
    msgpack_object top;
    size_t off = 0;
    int rc = s_precheck(buf, len, &limits, err);
    if (rc < 0)
        return rc;
    msgpack_unpack_return ur = msgpack_unpack(buf, len, &off, zone, &top);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        alloc_failed(len);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        /* Unreachable after a clean scan; kept so that a msgpack-c surprise is a NACK. */
        return s_fail(err, MEP_BAD_MSGPACK, "message: msgpack-c refused it");
    }
    /* data points at a kv value inside the zone, not at the stack's top object. */
    rc = s_validate(&top, ret, err);
    if (rc < 0)
        ret->data = NULL;
    return rc;
}

int
envelope_decode_with(struct envelope_decoder *dec, const void *buf, size_t len,
                     const struct envelope_limits *limits, struct envelope *ret,
                     struct envelope_error *err)
{
    struct envelope_error spare;

    memset(ret, 0, offsetof(struct envelope, unpacked));
    msgpack_unpacked_init(&ret->unpacked); /* no zone: release stays a no-op */
    /* Keeps the chunks of earlier calls: after warm-up no allocation at all. */
    msgpack_zone_clear(&dec->zone);
    return s_decode_in(&dec->zone, buf, len, limits, ret, err ? err : &spare);
}

int
envelope_decode(const void *buf, size_t len, const struct envelope_limits *limits,
                struct envelope *ret, struct envelope_error *err)
{
    struct envelope_error spare;

    memset(ret, 0, sizeof(*ret));
    msgpack_unpacked_init(&ret->unpacked);
    /* A zone of its own, holding a copy of the message: the result outlives buf. */
    msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    void *copy = zone ? msgpack_zone_malloc_no_align(zone, len ? len : 1) : NULL;
    if (!copy)
        alloc_failed(len);
    if (len)
        memcpy(copy, buf, len);
    int rc = s_decode_in(zone, copy, len, limits, ret, err ? err : &spare);
    if (rc < 0) {
        msgpack_zone_free(zone);
        return rc;
    }
    ret->unpacked.zone = zone; /* envelope_release() frees it */
    return 0;
}

void
envelope_release(struct envelope *env)
{
    if (!env)
        return;
    msgpack_unpacked_destroy(&env->unpacked);
    env->data = NULL;
}

static bool
s_lower_start(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool
s_lower_rest(char c)
{
    return s_lower_start(c) || (c >= '0' && c <= '9') || c == '_';
}

bool
envelope_type_name_valid(const char *s, size_t len)
{
    size_t segments = 0;
    size_t i = 0;

    if (len == 0 || len > ENVELOPE_TYPE_MAX)
        return false;
    for (;;) {
        if (i >= len || !s_lower_start(s[i]))
            return false;
        for (i++; i < len && s_lower_rest(s[i]); i++)
            ;
        segments++;
        if (i == len)
            return segments >= 2;
        if (s[i] != '.')
            return false;
        i++;
    }
}

bool
envelope_source_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > ENVELOPE_SOURCE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static void
s_pack_bin16(msgpack_packer *pk, const uint8_t *b)
{
    msgpack_pack_bin(pk, ENVELOPE_ID_LEN);
    msgpack_pack_bin_body(pk, b, ENVELOPE_ID_LEN);
}

/*
 * The id goes right after v and data last: a reader that only peeks (the
 * NACK path for an oversize message) finds the id in the first bytes.
 */
void
envelope_encode(const struct envelope_fields *f, msgpack_sbuffer *out)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 6 + (f->corr != NULL) + (f->subject != NULL));
    pack_cstr(&pk, "v");
    msgpack_pack_uint64(&pk, ENVELOPE_VERSION);
    pack_cstr(&pk, "id");
    s_pack_bin16(&pk, f->id);
    pack_cstr(&pk, "type");
    pack_cstr(&pk, f->type);
    pack_cstr(&pk, "source");
    pack_cstr(&pk, f->source);
    pack_cstr(&pk, "time");
    msgpack_pack_uint64(&pk, f->time_ms);
    if (f->corr) {
        pack_cstr(&pk, "corr");
        s_pack_bin16(&pk, f->corr);
    }
    if (f->subject) {
        pack_cstr(&pk, "subject");
        pack_cstr(&pk, f->subject);
    }
    pack_cstr(&pk, "data");
    if (f->data && f->data_len > 0)
        pack_sbuffer_write(out, f->data, f->data_len);
    else
        msgpack_pack_map(&pk, 0);
}
