/*
 * mdp: MDP/0.1 worker-protocol frames and bodies (ZeroMQ RFC 7 plus the
 * extensions of DESIGN.md "Worker protocol"), for the broker and workers.
 *
 * Frame parsers check the count, then every frame's size, then its content,
 * and stop at the first fault with an error naming the frame (numbered from
 * 0 at the empty delimiter). Body decoders bounds-scan with msgpack_scan
 * before msgpack-c sees a byte, so a declared length can never make it
 * allocate more than the message could hold. mdp_outcome_decode never
 * fails: whatever it cannot read is an opaque `done` with its BLAKE2b-256.
 *
 * Allocation failure while packing or unpacking aborts (common/alloc.h).
 */
#include "common/alloc.h"
#include "proto/mdp.h"
#include "proto/pack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/msgpack_scan.h"
#include "proto/text.h"

/* The extension frame of READY is a tiny map; anything longer is a fault. */
#define S_CREDIT_MAX_BYTES 256

static const char *const s_command_names[] = {
    [MDP_READY] = "READY",         [MDP_REQUEST] = "REQUEST",       [MDP_REPLY] = "REPLY",
    [MDP_HEARTBEAT] = "HEARTBEAT", [MDP_DISCONNECT] = "DISCONNECT",
};

static const char *const s_status_names[] = {
    [MDP_STATUS_DONE] = "done",
    [MDP_STATUS_FAILED] = "failed",
    [MDP_STATUS_RETRY] = "retry",
};

const char *
mdp_command_name(enum mdp_command cmd)
{
    if ((unsigned)cmd < MDP_READY || (unsigned)cmd > MDP_DISCONNECT)
        return "?";
    return s_command_names[cmd];
}

const char *
mdp_status_name(enum mdp_status st)
{
    if ((unsigned)st > MDP_STATUS_RETRY)
        return "?";
    return s_status_names[st];
}

__attribute__((format(printf, 2, 3))) static int
s_fail(char err[MDP_ERROR_MAX], const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, MDP_ERROR_MAX, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* ------------------------------------------------------------------------ */
/* Frames. */

int
mdp_address_seq(const void *address, size_t len, uint64_t *ret_seq, char err[MDP_ERROR_MAX])
{
    const uint8_t *p = address;
    char quoted[TEXT_QUOTE_SIZE];
    uint64_t v = 0;

    text_quote(quoted, sizeof(quoted), address, len);
    if (len == 0)
        return s_fail(err, "frame 3: client address is empty, a seq expected");
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return s_fail(err, "frame 3: client address '%s' is not a decimal seq", quoted);
    }
    if (p[0] == '0')
        return s_fail(err, "frame 3: client address '%s' is not a seq (%s)", quoted,
                      len == 1 ? "seq 0" : "leading zero");
    for (size_t i = 0; i < len; i++) {
        unsigned d = p[i] - '0';

        if (v > (UINT64_MAX - d) / 10)
            return s_fail(err, "frame 3: client address '%s' overflows a 64-bit seq", quoted);
        v = v * 10 + d;
    }
    *ret_seq = v;
    return 0;
}

size_t
mdp_seq_address(uint64_t seq, char buf[24])
{
    int n = snprintf(buf, 24, "%" PRIu64, seq);

    return (size_t)n;
}

/*
 * Frames 0..2, common to every command: the empty delimiter, the protocol
 * and a one-byte command. Checks only that the command is in 1..5.
 */
static int
s_header(const struct mdp_frame *frames, size_t nframes, enum mdp_command *ret_cmd,
         char err[MDP_ERROR_MAX])
{
    const size_t plen = sizeof(MDPW_PROTOCOL) - 1;
    char quoted[TEXT_QUOTE_SIZE];
    uint8_t c;

    if (nframes < 1)
        return s_fail(err, "frame 0: missing, empty delimiter expected");
    if (frames[0].len != 0)
        return s_fail(err, "frame 0: empty delimiter expected, got %zu bytes", frames[0].len);
    if (nframes < 2)
        return s_fail(err, "frame 1: missing, protocol '%s' expected", MDPW_PROTOCOL);
    if (frames[1].len != plen || memcmp(frames[1].data, MDPW_PROTOCOL, plen) != 0) {
        text_quote(quoted, sizeof(quoted), frames[1].data, frames[1].len);
        return s_fail(err, "frame 1: protocol '%s' expected, got '%s'", MDPW_PROTOCOL, quoted);
    }
    if (nframes < 3)
        return s_fail(err, "frame 2: missing, command expected");
    if (frames[2].len != 1)
        return s_fail(err, "frame 2: command of 1 byte expected, got %zu bytes", frames[2].len);
    c = *(const uint8_t *)frames[2].data;
    if (c < MDP_READY || c > MDP_DISCONNECT)
        return s_fail(err, "frame 2: command 0x%02x is not an MDP worker command", c);
    *ret_cmd = (enum mdp_command)c;
    return 0;
}

/* Frames 3..: client address, empty delimiter, body (REQUEST and REPLY). */
static int
s_addressed(const struct mdp_frame *frames, size_t nframes, struct mdp_msg *m,
            char err[MDP_ERROR_MAX])
{
    char spare[MDP_ERROR_MAX];

    if (nframes < 4)
        return s_fail(err, "frame 3: missing, client address expected");
    if (frames[3].len == 0)
        return s_fail(err, "frame 3: client address is empty");
    if (frames[3].len > MDP_ADDRESS_MAX)
        return s_fail(err, "frame 3: client address longer than %d bytes", MDP_ADDRESS_MAX);
    if (nframes < 5)
        return s_fail(err, "frame 4: missing, empty delimiter expected");
    if (frames[4].len != 0)
        return s_fail(err, "frame 4: empty delimiter expected, got %zu bytes", frames[4].len);
    m->address = frames[3].data;
    m->address_len = frames[3].len;
    m->has_seq = mdp_address_seq(m->address, m->address_len, &m->seq, spare) == 0;
    m->body = nframes > 5 ? &frames[5] : NULL;
    m->nbody = nframes - 5;
    return 0;
}

static int
s_no_more(size_t nframes, size_t want, enum mdp_command cmd, char err[MDP_ERROR_MAX])
{
    if (nframes > want)
        return s_fail(err, "frame %zu: unexpected, %s has at most %zu frames", want,
                      mdp_command_name(cmd), want);
    return 0;
}

/* The READY extension frame: {"credit": N}, 1 <= N, capped at MDP_CREDIT_MAX. */
static int
s_credit(const struct mdp_frame *f, unsigned *ret_credit, char err[MDP_ERROR_MAX])
{
    static const struct msgpack_scan_limits limits = {2, S_CREDIT_MAX_BYTES};
    const msgpack_object *credit = NULL;
    msgpack_unpacked up;
    enum msgpack_scan_result r;
    size_t off = 0;
    int rc = 0;

    if (f->len > S_CREDIT_MAX_BYTES)
        return s_fail(err, "frame 4: credit map longer than %d bytes", S_CREDIT_MAX_BYTES);
    r = msgpack_scan(f->data, f->len, &limits, &off);
    if (r != MSGPACK_SCAN_OK)
        return s_fail(err, "frame 4: credit map: %s at offset %zu", msgpack_scan_strerror(r), off);

    msgpack_unpacked_init(&up);
    off = 0;
    if (msgpack_unpack_next(&up, f->data, f->len, &off) != MSGPACK_UNPACK_SUCCESS) {
        rc = s_fail(err, "frame 4: credit map: not msgpack");
        goto out;
    }
    if (up.data.type != MSGPACK_OBJECT_MAP) {
        rc = s_fail(err, "frame 4: credit map expected, got %s", text_msgpack_type(&up.data));
        goto out;
    }
    /* Other keys are left for later extensions. */
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];

        if (!pack_str_is(&kv->key, "credit"))
            continue;
        if (credit) {
            rc = s_fail(err, "frame 4: field 'credit': duplicate key");
            goto out;
        }
        credit = &kv->val;
    }
    if (!credit) {
        rc = s_fail(err, "frame 4: field 'credit': missing");
        goto out;
    }
    if (credit->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = s_fail(err, "frame 4: field 'credit': positive integer expected, got %s",
                    text_msgpack_type(credit));
        goto out;
    }
    if (credit->via.u64 == 0) {
        rc = s_fail(err, "frame 4: field 'credit': 0, at least 1 expected");
        goto out;
    }
    *ret_credit = credit->via.u64 > MDP_CREDIT_MAX ? MDP_CREDIT_MAX : (unsigned)credit->via.u64;
out:
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* The service name of READY: 1..MDP_SERVICE_MAX printable ASCII bytes, no space. */
static int
s_service(const struct mdp_frame *f, char service[MDP_SERVICE_MAX + 1], char err[MDP_ERROR_MAX])
{
    const uint8_t *p = f->data;

    if (f->len == 0)
        return s_fail(err, "frame 3: service name is empty");
    if (f->len > MDP_SERVICE_MAX)
        return s_fail(err, "frame 3: service name longer than %d bytes", MDP_SERVICE_MAX);
    for (size_t i = 0; i < f->len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return s_fail(err, "frame 3: service name byte %zu (0x%02x) is not printable ASCII", i,
                          p[i]);
    }
    memcpy(service, p, f->len);
    service[f->len] = '\0';
    return 0;
}

int
mdp_parse_from_worker(const struct mdp_frame *frames, size_t nframes, struct mdp_msg *ret,
                      char err[MDP_ERROR_MAX])
{
    struct mdp_msg m;
    int rc;

    memset(&m, 0, sizeof(m));
    if ((rc = s_header(frames, nframes, &m.command, err)) < 0)
        return rc;
    switch (m.command) {
    case MDP_READY:
        if (nframes < 4)
            return s_fail(err, "frame 3: missing, service name expected");
        if ((rc = s_service(&frames[3], m.service, err)) < 0)
            return rc;
        m.credit = 1;
        if (nframes > 4 && (rc = s_credit(&frames[4], &m.credit, err)) < 0)
            return rc;
        if ((rc = s_no_more(nframes, 5, m.command, err)) < 0)
            return rc;
        break;
    case MDP_REPLY:
        if ((rc = s_addressed(frames, nframes, &m, err)) < 0)
            return rc;
        break;
    case MDP_HEARTBEAT:
    case MDP_DISCONNECT:
        if ((rc = s_no_more(nframes, 3, m.command, err)) < 0)
            return rc;
        break;
    case MDP_REQUEST:
        return s_fail(err, "frame 2: command 0x%02x (%s) is not a worker command", m.command,
                      mdp_command_name(m.command));
    }
    *ret = m;
    return 0;
}

int
mdp_parse_from_broker(const struct mdp_frame *frames, size_t nframes, struct mdp_msg *ret,
                      char err[MDP_ERROR_MAX])
{
    struct mdp_msg m;
    int rc;

    memset(&m, 0, sizeof(m));
    if ((rc = s_header(frames, nframes, &m.command, err)) < 0)
        return rc;
    switch (m.command) {
    case MDP_REQUEST:
        if ((rc = s_addressed(frames, nframes, &m, err)) < 0)
            return rc;
        break;
    case MDP_HEARTBEAT:
    case MDP_DISCONNECT:
        if ((rc = s_no_more(nframes, 3, m.command, err)) < 0)
            return rc;
        break;
    case MDP_READY:
    case MDP_REPLY:
        return s_fail(err, "frame 2: command 0x%02x (%s) is not a broker command", m.command,
                      mdp_command_name(m.command));
    }
    *ret = m;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Bodies. */

void
mdp_pack_credit(msgpack_sbuffer *out, unsigned credit)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "credit");
    msgpack_pack_unsigned_int(&pk, credit);
}

void
mdp_pack_request(msgpack_sbuffer *out, uint64_t seq, unsigned attempt, const char *area,
                 const void *envelope, size_t envelope_len)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, seq);
    pack_cstr(&pk, "attempt");
    msgpack_pack_unsigned_int(&pk, attempt);
    pack_cstr(&pk, "area");
    pack_cstr(&pk, area);
    pack_cstr(&pk, "event");
    pack_sbuffer_write(out, envelope, envelope_len);
}

/*
 * Bounds-scans buf as one msgpack object and unpacks it into a zone of its
 * own holding a copy of the bytes, so that the result outlives buf. Returns
 * the scan result; *up is initialised in every case and owns the zone.
 */
static enum msgpack_scan_result
s_unpack_copy(const void *buf, size_t len, msgpack_unpacked *up, size_t *ret_offset)
{
    static const struct msgpack_scan_limits limits = {MSGPACK_SCAN_DEPTH_CAP, SIZE_MAX};
    enum msgpack_scan_result r;
    msgpack_zone *zone;
    void *copy;
    size_t off = 0;

    msgpack_unpacked_init(up);
    r = msgpack_scan(buf, len, &limits, ret_offset);
    if (r != MSGPACK_SCAN_OK)
        return r;
    zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    copy = zone ? msgpack_zone_malloc_no_align(zone, len) : NULL;
    if (!copy)
        alloc_failed(len);
    memcpy(copy, buf, len);
    /* The scan proved it is one well-formed object, so this cannot fail but on memory. */
    if (msgpack_unpack(copy, len, &off, zone, &up->data) != MSGPACK_UNPACK_SUCCESS)
        alloc_failed(len);
    up->zone = zone;
    return MSGPACK_SCAN_OK;
}

int
mdp_request_decode(const void *buf, size_t len, struct mdp_request *ret, char err[MDP_ERROR_MAX])
{
    enum { F_SEQ, F_ATTEMPT, F_AREA, F_EVENT, F_COUNT };
    static const char *const names[F_COUNT] = {"seq", "attempt", "area", "event"};
    const msgpack_object *f[F_COUNT] = {NULL};
    struct mdp_request r;
    enum msgpack_scan_result sr;
    size_t off = 0;
    int rc = -EBADMSG;

    memset(&r, 0, sizeof(r));
    sr = s_unpack_copy(buf, len, &r.unpacked, &off);
    if (sr != MSGPACK_SCAN_OK) {
        if (sr == MSGPACK_SCAN_EMPTY)
            return s_fail(err, "body: empty");
        return s_fail(err, "body: %s at offset %zu", msgpack_scan_strerror(sr), off);
    }
    if (r.unpacked.data.type != MSGPACK_OBJECT_MAP) {
        rc = s_fail(err, "body: map expected, got %s", text_msgpack_type(&r.unpacked.data));
        goto fail;
    }
    /* Unknown keys are skipped so that a newer broker may add fields. */
    for (uint32_t i = 0; i < r.unpacked.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &r.unpacked.data.via.map.ptr[i];

        for (unsigned k = 0; k < F_COUNT; k++) {
            if (!pack_str_is(&kv->key, names[k]))
                continue;
            if (f[k]) {
                rc = s_fail(err, "field '%s': duplicate key", names[k]);
                goto fail;
            }
            f[k] = &kv->val;
        }
    }
    for (unsigned k = 0; k < F_COUNT; k++) {
        if (!f[k]) {
            rc = s_fail(err, "field '%s': missing", names[k]);
            goto fail;
        }
    }
    if (f[F_SEQ]->type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[F_SEQ]->via.u64 == 0) {
        rc = s_fail(err, "field 'seq': not a positive integer (%s)", text_msgpack_type(f[F_SEQ]));
        goto fail;
    }
    if (f[F_ATTEMPT]->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        f[F_ATTEMPT]->via.u64 > UINT32_MAX) {
        rc = s_fail(err, "field 'attempt': not an unsigned integer (%s)",
                    text_msgpack_type(f[F_ATTEMPT]));
        goto fail;
    }
    if (f[F_AREA]->type != MSGPACK_OBJECT_STR) {
        rc = s_fail(err, "field 'area': str expected, got %s", text_msgpack_type(f[F_AREA]));
        goto fail;
    }
    if (f[F_AREA]->via.str.size == 0 || f[F_AREA]->via.str.size > MDP_SERVICE_MAX ||
        memchr(f[F_AREA]->via.str.ptr, '\0', f[F_AREA]->via.str.size)) {
        rc = s_fail(err, "field 'area': 1 to %d bytes without NUL expected", MDP_SERVICE_MAX);
        goto fail;
    }
    if (f[F_EVENT]->type != MSGPACK_OBJECT_MAP) {
        rc = s_fail(err, "field 'event': map expected, got %s", text_msgpack_type(f[F_EVENT]));
        goto fail;
    }

    r.seq = f[F_SEQ]->via.u64;
    r.attempt = (unsigned)f[F_ATTEMPT]->via.u64;
    memcpy(r.area, f[F_AREA]->via.str.ptr, f[F_AREA]->via.str.size);
    r.area[f[F_AREA]->via.str.size] = '\0';
    /* A kv value in the zone, not the stack copy of the top object: survives the move. */
    r.event = f[F_EVENT];
    *ret = r;
    return 0;

fail:
    msgpack_unpacked_destroy(&r.unpacked);
    return rc;
}

void
mdp_request_release(struct mdp_request *req)
{
    if (!req)
        return;
    msgpack_unpacked_destroy(&req->unpacked);
    req->event = NULL;
}

static bool
s_status_from(const msgpack_object *o, enum mdp_status *ret)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return false;
    for (unsigned i = 0; i <= MDP_STATUS_RETRY; i++) {
        if (pack_str_is(o, s_status_names[i])) {
            *ret = (enum mdp_status)i;
            return true;
        }
    }
    return false;
}

/* Fills out from the top-level map; false if it is not an outcome map. */
static bool
s_outcome_fields(const msgpack_object *top, struct mdp_outcome *out)
{
    enum { F_STATUS, F_NOTE, F_RESULT, F_EMIT, F_COUNT };
    static const char *const names[F_COUNT] = {"status", "note", "result", "emit"};
    const msgpack_object *f[F_COUNT] = {NULL};

    if (top->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < top->via.map.size; i++) {
        const msgpack_object_kv *kv = &top->via.map.ptr[i];
        unsigned k;

        for (k = 0; k < F_COUNT; k++) {
            if (pack_str_is(&kv->key, names[k]))
                break;
        }
        if (k == F_COUNT || f[k])
            return false; /* unknown or duplicate key */
        f[k] = &kv->val;
    }
    if (!f[F_STATUS] || !s_status_from(f[F_STATUS], &out->status))
        return false;

    if (f[F_NOTE]) {
        const msgpack_object *n = f[F_NOTE];
        size_t len;

        if (n->type != MSGPACK_OBJECT_STR || !text_utf8_valid(n->via.str.ptr, n->via.str.size) ||
            memchr(n->via.str.ptr, '\0', n->via.str.size))
            return false;
        len = text_utf8_prefix(n->via.str.ptr, n->via.str.size, MDP_NOTE_MAX);
        memcpy(out->note, n->via.str.ptr, len);
        out->note[len] = '\0';
    }
    if (f[F_RESULT] && f[F_RESULT]->type != MSGPACK_OBJECT_NIL) {
        if (f[F_RESULT]->type != MSGPACK_OBJECT_MAP)
            return false;
        out->result = f[F_RESULT];
    }
    if (f[F_EMIT]) {
        const msgpack_object *e = f[F_EMIT];

        if (e->type != MSGPACK_OBJECT_ARRAY)
            return false;
        for (uint32_t i = 0; i < e->via.array.size; i++) {
            if (e->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
                return false;
        }
        out->emit = e->via.array.size ? e->via.array.ptr : NULL;
        out->nemit = e->via.array.size;
    }
    return true;
}

void
mdp_outcome_decode(const void *buf, size_t len, struct mdp_outcome *ret)
{
    memset(ret, 0, offsetof(struct mdp_outcome, unpacked));
    if (s_unpack_copy(buf, len, &ret->unpacked, NULL) == MSGPACK_SCAN_OK &&
        s_outcome_fields(&ret->unpacked.data, ret))
        return;

    msgpack_unpacked_destroy(&ret->unpacked);
    msgpack_unpacked_init(&ret->unpacked);
    memset(ret, 0, offsetof(struct mdp_outcome, unpacked));
    ret->status = MDP_STATUS_DONE;
    ret->opaque = true;
    crypto_generichash(ret->hash, sizeof(ret->hash), buf, len, NULL, 0);
}

void
mdp_outcome_release(struct mdp_outcome *out)
{
    if (!out)
        return;
    msgpack_unpacked_destroy(&out->unpacked);
    out->result = NULL;
    out->emit = NULL;
    out->nemit = 0;
}

void
mdp_pack_outcome(msgpack_sbuffer *out, enum mdp_status status, const char *note, const void *result,
                 size_t result_len, const msgpack_sbuffer *emit, size_t nemit)
{
    const char *name = mdp_status_name(status);
    msgpack_packer pk;

    if (!note)
        note = "";
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + (result != NULL) + (nemit > 0));
    pack_cstr(&pk, "status");
    pack_cstr(&pk, name);
    pack_cstr(&pk, "note");
    pack_strn(&pk, note, text_utf8_prefix(note, strlen(note), MDP_NOTE_MAX));
    if (result) {
        pack_cstr(&pk, "result");
        pack_sbuffer_write(out, result, result_len);
    }
    if (nemit > 0) {
        pack_cstr(&pk, "emit");
        msgpack_pack_array(&pk, nemit);
        for (size_t i = 0; i < nemit; i++)
            pack_sbuffer_write(out, emit[i].data, emit[i].size);
    }
}
