/*
 * mandatectl verify: recomputes the audit log's hash chain offline (through
 * proto/audit_record.h's verifier, which places the blame) and names the
 * first record whose bytes no longer match.
 *
 * The chain head is read first and the scan stops at its seq: the broker may
 * append while we read, and records past the head we compare against are
 * for a later verify.
 *
 * A long log is checked in ranges, one thread each: a record's hash depends
 * on its bytes alone, so each range starts from the hash of the stored record
 * before it. Ranges overlap by a record on each side, so that every link is
 * judged as the one sequential pass would judge it (a broken link is blamed
 * only once the record after it is seen), and the lowest range that fails
 * names the first bad seq: the same answer as one pass, sooner.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"

#define CMD "verify"

enum { OPT_FROM = CTL_OPT_FIRST_LOCAL };

#define RANGES_MAX        4
#define RANGE_MIN_RECORDS 50000 /* fewer are not worth a thread */

/* One range's pass: records first..last fed, first's prev taken as given. */
struct range {
    struct audit_reader *r;
    uint64_t first, last;
    uint8_t prev[AUDIT_HASH_LEN];
    uint64_t sha256_from;
    struct audit_verifier v;
    int rc; /* < 0: the log could not be read */
    pthread_t tid;
};

static int
s_feed(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct range *g = arg;

    return audit_verifier_feed(&g->v, seq, bytes, len) ? 0 : 1;
}

/* The hash of stored record seq, which the record after it must carry as prev. */
static int
s_hash_of(struct audit_reader *r, uint64_t seq, uint64_t sha256_from, uint8_t ret[AUDIT_HASH_LEN])
{
    void *bytes;
    size_t len;
    int rc = audit_reader_get(r, seq, &bytes, &len);
    if (rc < 0)
        return rc;
    audit_chain_hash(seq, sha256_from, bytes, len, ret);
    free(bytes);
    return 0;
}

static void *
s_range_main(void *arg)
{
    struct range *g = arg;

    audit_verifier_init(&g->v, g->first, g->prev, g->sha256_from);
    g->rc = audit_reader_scan(g->r, g->first, g->last, s_feed, g);
    if (g->rc > 0)
        g->rc = 0; /* stopped at a bad record: v says which */
    return NULL;
}

/*
 * Splits from..to into ranges of at least RANGE_MIN_RECORDS, one a CPU (two
 * at least, so that the split is the same on every machine), and checks
 * them at once. Range k > 0 starts one record early (its first link
 * is also range k-1's) and every range but the last runs one record long (to
 * judge a broken link at its end). Returns the number of ranges, or -errno.
 */
static int
s_check_ranges(struct audit_reader *r, uint64_t from, uint64_t to,
               const uint8_t prev[AUDIT_HASH_LEN], uint64_t sha256_from, struct range *g)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t count = to - from + 1;
    int n = cpus < 2 ? 2 : cpus > RANGES_MAX ? RANGES_MAX : (int)cpus;
    while (n > 1 && count / (uint64_t)n < RANGE_MIN_RECORDS)
        n--;

    for (int k = 0; k < n; k++) {
        uint64_t start = from + count * (uint64_t)k / (uint64_t)n;
        uint64_t end = from + count * (uint64_t)(k + 1) / (uint64_t)n - 1;
        g[k] = (struct range){
            .r = r, .first = k ? start - 1 : start, .last = end, .sha256_from = sha256_from};
        if (k + 1 < n)
            g[k].last = end + 1;
        if (k == 0) {
            memcpy(g[k].prev, prev, AUDIT_HASH_LEN);
        } else {
            int rc = s_hash_of(r, g[k].first - 1, sha256_from, g[k].prev);
            /* A record missing there is for range k-1 to name. */
            if (rc == -ENOENT)
                memset(g[k].prev, 0, AUDIT_HASH_LEN);
            else if (rc < 0)
                return rc;
        }
    }
    int started = 0;
    for (int k = 1; k < n; k++, started++)
        if (pthread_create(&g[k].tid, NULL, s_range_main, &g[k]) != 0)
            break;
    s_range_main(&g[0]);
    /* Ranges whose thread would not start are checked here, one after the other. */
    for (int k = started + 1; k < n; k++)
        s_range_main(&g[k]);
    for (int k = 1; k <= started; k++)
        pthread_join(g[k].tid, NULL);
    for (int k = 0; k < n; k++)
        if (g[k].rc < 0)
            return g[k].rc;
    return n;
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
    if (meta.format_version > AUDIT_READER_FORMAT_MAX) {
        /* Its chain may be hashed another way: no verdict rather than a wrong one. */
        fprintf(stderr,
                "%s: %s: verify: meta format_version is %" PRIu64
                ", newer than this mandatectl reads (1 to %d)\n",
                CTL_PROG, audit_reader_path(r), meta.format_version, AUDIT_READER_FORMAT_MAX);
        audit_reader_destroy(&r);
        return EX_DATAERR;
    }
    if (meta.sha256_from == 0) {
        printf("bad: meta: chain_sha256_from is missing or not a seq, so the format %" PRIu64
               " chain cannot be followed\n",
               meta.format_version);
        audit_reader_destroy(&r);
        return 1;
    }

    if (from > 1) {
        /* Trust starts at SEQ-1: its hash is the prev SEQ must carry. */
        rc = s_hash_of(r, from - 1, meta.sha256_from, prev);
        if (rc == -ENOENT) {
            fprintf(stderr, "%s: verify: --from %" PRIu64 ": no record %" PRIu64 " in the log\n",
                    CTL_PROG, from, from - 1);
            audit_reader_destroy(&r);
            return EX_DATAERR;
        }
        if (rc < 0)
            goto out_err;
    }

    struct range ranges[RANGES_MAX];
    struct range *verdict;
    int n = 1;
    if (to >= from) {
        n = s_check_ranges(r, from, to, prev, meta.sha256_from, ranges);
        if (n < 0) {
            rc = n;
            goto out_err;
        }
    } else {
        ranges[0] = (struct range){.r = r, .first = from, .last = to};
        audit_verifier_init(&ranges[0].v, from, prev, meta.sha256_from);
    }
    /* The lowest range that failed; a link broken at the very end of a range
     * but the last is judged by the next range, which sees the record after. */
    verdict = &ranges[n - 1];
    for (int k = 0; k < n - 1; k++)
        if (ranges[k].v.bad_seq) {
            verdict = &ranges[k];
            break;
        }
    if (verdict != &ranges[n - 1] ||
        !audit_verifier_finish(&verdict->v, meta.has_head ? meta.chain_head : NULL,
                               meta.chain_seq)) {
        char prefix[48];
        const char *why = verdict->v.why;

        /* The verifier says "record N: ..." itself; keep the line to one "seq N". */
        snprintf(prefix, sizeof(prefix), "record %" PRIu64 ": ", verdict->v.bad_seq);
        if (strncmp(why, prefix, strlen(prefix)) == 0)
            why += strlen(prefix);
        printf("bad: seq %" PRIu64 ": %s\n", verdict->v.bad_seq, why);
        audit_reader_destroy(&r);
        return 1;
    }
    uint64_t fed = to >= from ? to - from + 1 : 0;
    if (meta.has_head) {
        json_msgpack_hex(meta.chain_head, AUDIT_HASH_LEN, hex);
        printf("ok: %" PRIu64 " records, chain head %s matches\n", fed, hex);
    } else {
        printf("ok: %" PRIu64 " records (empty log, no chain head yet)\n", fed);
    }
    audit_reader_destroy(&r);
    return EX_OK;

out_err:
    fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r), audit_reader_strerror(r, rc));
    audit_reader_destroy(&r);
    return EX_IOERR;
}
