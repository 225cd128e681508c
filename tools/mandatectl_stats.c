/*
 * mandatectl stats: a summary of the audit log (records by kind, event ids,
 * pending deliveries, chain head, map use). Counting kinds reads every
 * record, in short read transactions like every scan here.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"

#define CMD       "stats"
#define MAX_KINDS 32

struct kinds {
    char name[MAX_KINDS][32];
    uint64_t count[MAX_KINDS];
    size_t n;
    uint64_t other;      /* kinds past MAX_KINDS */
    uint64_t unreadable; /* records that do not decode */
    uint64_t first;
};

static int
s_count(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct kinds *k = arg;
    struct audit_record rec;
    size_t i;

    if (!k->first)
        k->first = seq;
    if (audit_record_decode(bytes, len, &rec) < 0) {
        k->unreadable++;
        return 0;
    }
    for (i = 0; i < k->n; i++)
        if (strcmp(k->name[i], rec.kind) == 0)
            break;
    if (i == k->n && k->n < MAX_KINDS) {
        memcpy(k->name[i], rec.kind, sizeof(k->name[i]));
        k->n++;
    }
    if (i < k->n)
        k->count[i]++;
    else
        k->other++;
    audit_record_release(&rec);
    return 0;
}

int
ctl_stats(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct audit_reader *r = NULL;
    struct audit_counts counts;
    struct audit_meta meta;
    struct kinds *k;
    uint64_t last;
    char hex[2 * AUDIT_HASH_LEN + 1];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        if (opt == 'h') {
            ctl_usage(stdout, CMD);
            return EX_OK;
        }
        return ctl_bad_option(CMD);
    }
    if (optind < argc)
        return ctl_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    k = calloc(1, sizeof(*k));
    if (!k)
        return EX_OSERR;
    rc = ctl_open_reader(ctl, &r);
    if (rc != 0) {
        free(k);
        return rc;
    }
    if ((rc = audit_reader_meta(r, &meta)) < 0 || (rc = audit_reader_last_seq(r, &last)) < 0 ||
        (rc = audit_reader_scan(r, 1, last, s_count, k)) < 0 ||
        (rc = audit_reader_counts(r, &counts)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r),
                audit_reader_strerror(r, rc));
        audit_reader_destroy(&r);
        free(k);
        return EX_IOERR;
    }

    printf("log:         %s\n", audit_reader_path(r));
    if (last)
        printf("records:     %" PRIu64 " (seq %" PRIu64 "..%" PRIu64 ")\n", counts.log, k->first,
               last);
    else
        printf("records:     0\n");
    for (size_t i = 0; i < k->n; i++)
        printf("  %-16s %" PRIu64 "\n", k->name[i], k->count[i]);
    if (k->other)
        printf("  %-16s %" PRIu64 "\n", "(other kinds)", k->other);
    if (k->unreadable)
        printf("  %-16s %" PRIu64 " (run 'mandatectl verify')\n", "(unreadable)", k->unreadable);
    if (counts.has_ids)
        printf("event ids:   %" PRIu64 "\n", counts.ids);
    if (counts.has_pending)
        printf("pending:     %" PRIu64 "\n", counts.pending);
    if (counts.has_deadlines)
        printf("deadlines:   %" PRIu64 " tracked, not yet closed or breached\n", counts.deadlines);
    if (meta.has_head) {
        json_msgpack_hex(meta.chain_head, AUDIT_HASH_LEN, hex);
        printf("chain head:  %s (seq %" PRIu64 ")\n", hex, meta.chain_seq);
    }
    if (meta.has_version)
        printf("format:      %" PRIu64 "\n", meta.format_version);
    printf("map:         %.1f MiB used of %.1f MiB\n", counts.last_page_bytes / 1048576.0,
           counts.map_size / 1048576.0);
    audit_reader_destroy(&r);
    free(k);
    return EX_OK;
}
