/* acceptance: see acceptance.h. */
#include <errno.h>
#include <msgpack.h>

#include "daemon/acceptance.h"
#include "daemon/deadline_table.h"
#include "proto/envelope.h"
#include "proto/msgpack_scan.h"

/* An event of a closing type closes the deadlines of its case: its corr and
 * subject, read from the envelope's own bytes (whatever its origin). */
static int
s_close_deadlines(struct audit_log *log, const struct catalogue_type *ctype, const char *env,
                  size_t len)
{
    size_t off, flen;
    const uint8_t *corr = NULL;
    const char *subject = NULL;
    size_t subject_len = 0;
    if (msgpack_scan_map_field(env, len, "corr", &off, &flen) == 0 && flen == 2 + ENVELOPE_ID_LEN &&
        (uint8_t)env[off] == 0xc4 && env[off + 1] == ENVELOPE_ID_LEN)
        corr = (const uint8_t *)env + off + 2;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_scan_map_field(env, len, "subject", &off, &flen) == 0 &&
        msgpack_unpack_next(&u, env + off, flen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_STR) {
        subject = u.data.via.str.ptr;
        subject_len = u.data.via.str.size;
    }
    int rc = deadline_table_close(log, ctype, corr, subject, subject_len);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
acceptance_write(struct audit_log *log, const struct audit_accepted *record,
                 const struct catalogue_type *ctype, uint64_t *ret_seq, bool *ret_dup)
{
    uint64_t seq;
    int rc = audit_log_claim_id(log, record->id, &seq);
    if (rc == -EEXIST) {
        *ret_dup = true;
        *ret_seq = seq;
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = audit_log_append_accepted(log, record, &seq);
    if (rc == 0 && ctype && ctype->closes)
        rc = s_close_deadlines(log, ctype, record->event, record->event_len);
    if (rc < 0)
        return rc;
    *ret_dup = false;
    *ret_seq = seq;
    return 0;
}
