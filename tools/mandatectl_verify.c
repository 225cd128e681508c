/*
 * mandatectl verify: recomputes the audit log's hash chain offline (through
 * proto/audit_record.h's verifier, which places the blame) and names the
 * first record whose bytes no longer match.
 *
 * The chain head is read first and the scan stops at its seq: the broker may
 * append while we read, and records past the head we compare against are
 * for a later verify.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"

#define CMD "verify"

enum { OPT_FROM = CTL_OPT_FIRST_LOCAL };

struct verify {
    struct audit_verifier v;
    uint64_t fed;
};

static int
s_feed(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct verify *vr = arg;

    vr->fed++;
    return audit_verifier_feed(&vr->v, seq, bytes, len) ? 0 : 1;
}

int
ctl_verify(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {"from", required_argument, NULL, OPT_FROM},
        {NULL, 0, NULL, 0},
    };
    struct audit_reader *r = NULL;
    struct audit_meta meta;
    struct verify vr = {0};
    uint8_t prev[AUDIT_HASH_LEN] = {0};
    uint64_t from = 1, to;
    char hex[2 * AUDIT_HASH_LEN + 1];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            ctl_usage(stdout, CMD);
            return EX_OK;
        case OPT_FROM:
            if ((rc = ctl_parse_u64("from", optarg, 1, UINT64_MAX, &from)) != 0)
                return rc;
            break;
        default:
            return ctl_bad_option(CMD);
        }
    }
    if (optind < argc)
        return ctl_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    rc = ctl_open_reader(ctl, &r);
    if (rc != 0)
        return rc;
    rc = audit_reader_meta(r, &meta);
    /* Scan to the last record actually stored, not to what meta claims: a record
     * appended behind meta's back, or one missing, must both show up. */
    if (rc == 0)
        rc = audit_reader_last_seq(r, &to);
    if (rc == 0 && !meta.has_head)
        meta.chain_seq = to;
    if (rc < 0)
        goto out_err;

    if (from > 1) {
        void *bytes;
        size_t len;

        /* Trust starts at SEQ-1: its hash is the prev SEQ must carry. */
        rc = audit_reader_get(r, from - 1, &bytes, &len);
        if (rc == -ENOENT) {
            fprintf(stderr, "%s: verify: --from %" PRIu64 ": no record %" PRIu64 " in the log\n",
                    CTL_PROG, from, from - 1);
            audit_reader_destroy(&r);
            return EX_DATAERR;
        }
        if (rc < 0)
            goto out_err;
        audit_chain_hash(bytes, len, prev);
        free(bytes);
    }

    audit_verifier_init(&vr.v, from, prev);
    if (to >= from) {
        rc = audit_reader_scan(r, from, to, s_feed, &vr);
        if (rc < 0)
            goto out_err;
    }
    if (!audit_verifier_finish(&vr.v, meta.has_head ? meta.chain_head : NULL, meta.chain_seq)) {
        char prefix[48];
        const char *why = vr.v.why;

        /* The verifier says "record N: ..." itself; keep the line to one "seq N". */
        snprintf(prefix, sizeof(prefix), "record %" PRIu64 ": ", vr.v.bad_seq);
        if (strncmp(why, prefix, strlen(prefix)) == 0)
            why += strlen(prefix);
        printf("bad: seq %" PRIu64 ": %s\n", vr.v.bad_seq, why);
        audit_reader_destroy(&r);
        return 1;
    }
    if (meta.has_head) {
        json_msgpack_hex(meta.chain_head, AUDIT_HASH_LEN, hex);
        printf("ok: %" PRIu64 " records, chain head %s matches\n", vr.fed, hex);
    } else {
        printf("ok: %" PRIu64 " records (empty log, no chain head yet)\n", vr.fed);
    }
    audit_reader_destroy(&r);
    return EX_OK;

out_err:
    fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r), audit_reader_strerror(r, rc));
    audit_reader_destroy(&r);
    return EX_IOERR;
}
