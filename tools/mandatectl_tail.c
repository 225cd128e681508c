/*
 * mandatectl tail: prints audit records straight from the LMDB log, read-only
 * and safe while the broker writes; -f polls for new commits with a fresh
 * read transaction each time (LMDB readers see a commit only in a new one).
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "proto/envelope.h"
#include "tools/mandatectl.h"
#include "tools/mandatectl_record.h"

#define CMD          "tail"
#define DEFAULT_LAST 20
#define FOLLOW_MS    75

enum {
    OPT_FROM = CTL_OPT_FIRST_LOCAL,
    OPT_LAST,
    OPT_KIND,
    OPT_TYPE,
    OPT_AREA,
    OPT_JSON,
};

struct tail {
    const char *kind, *type_glob, *area;
    bool json;
    int seq_width;
    uint64_t next;    /* the seq after the last one looked at */
    uint64_t matched; /* scan_back: matches counted so far */
    uint64_t want;    /* scan_back: stop at this many */
    uint64_t start;   /* scan_back: seq of the earliest match kept */
    bool out_closed;  /* stdout failed: stop */
    int out_errno;    /* why; EPIPE (the reader went away) ends quietly */
};

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* ---- matching ---- */

/* A record's type: its own `type` field, else the type of the event it carries. */
static const msgpack_object *
s_record_type(const struct audit_record *rec)
{
    const msgpack_object *t = audit_record_event_field(rec, "type");

    return t && t->type == MSGPACK_OBJECT_STR ? t : NULL;
}

static bool
s_matches(const struct tail *t, const struct audit_record *rec)
{
    if (t->kind && strcmp(rec->kind, t->kind) != 0)
        return false;
    if (t->area && !ctl_str_is(audit_record_field(rec, "area"), t->area))
        return false;
    if (t->type_glob) {
        const msgpack_object *type = s_record_type(rec);
        char buf[ENVELOPE_TYPE_MAX + 1];

        if (!type || type->via.str.size >= sizeof(buf) ||
            memchr(type->via.str.ptr, '\0', type->via.str.size))
            return false;
        memcpy(buf, type->via.str.ptr, type->via.str.size);
        buf[type->via.str.size] = '\0';
        if (fnmatch(t->type_glob, buf, 0) != 0)
            return false;
    }
    return true;
}

/* ---- scanning ---- */

static int
s_print_one(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct tail *t = arg;
    struct audit_record rec;

    t->next = seq + 1;
    if (audit_record_decode(bytes, len, &rec) < 0) {
        fflush(stdout);
        fprintf(stderr,
                "%s: seq %" PRIu64 ": not a readable record (%zu bytes); "
                "'mandatectl verify' checks the log\n",
                CTL_PROG, seq, len);
        return 0;
    }
    if (s_matches(t, &rec)) {
        if (t->json)
            ctl_record_print_json(stdout, &rec);
        else
            ctl_record_print_human(stdout, &rec, t->seq_width);
    }
    audit_record_release(&rec);
    if (ferror(stdout)) {
        t->out_closed = true;
        t->out_errno = errno;
        return 1;
    }
    return s_stop ? 1 : 0;
}

static int
s_count_back(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct tail *t = arg;
    struct audit_record rec;

    if (audit_record_decode(bytes, len, &rec) < 0)
        return 0;
    if (s_matches(t, &rec)) {
        t->start = seq;
        t->matched++;
    }
    audit_record_release(&rec);
    return t->matched >= t->want || s_stop ? 1 : 0;
}

static bool
s_filtered(const struct tail *t)
{
    return t->kind || t->type_glob || t->area;
}

/* Whether the reader of our stdout has gone away (a pipe shows POLLERR then). */
static bool
s_stdout_gone(void)
{
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};

    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL));
}

int
ctl_tail(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {"follow", no_argument, NULL, 'f'},
        {"from", required_argument, NULL, OPT_FROM},
        {"last", required_argument, NULL, OPT_LAST},
        {"kind", required_argument, NULL, OPT_KIND},
        {"type", required_argument, NULL, OPT_TYPE},
        {"area", required_argument, NULL, OPT_AREA},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    struct tail t = {0};
    struct audit_reader *r = NULL;
    struct sigaction sa;
    bool follow = false, has_from = false, has_last = false;
    uint64_t from = 1, last_n = DEFAULT_LAST, last_seq;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:hf", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            ctl_usage(stdout, CMD);
            return EX_OK;
        case 'f':
            follow = true;
            break;
        case OPT_FROM:
            if ((rc = ctl_parse_u64("from", optarg, 0, UINT64_MAX, &from)) != 0)
                return rc;
            has_from = true;
            break;
        case OPT_LAST:
            if ((rc = ctl_parse_u64("last", optarg, 0, UINT64_MAX, &last_n)) != 0)
                return rc;
            has_last = true;
            break;
        case OPT_KIND:
            t.kind = optarg;
            break;
        case OPT_TYPE:
            t.type_glob = optarg;
            break;
        case OPT_AREA:
            t.area = optarg;
            break;
        case OPT_JSON:
            t.json = true;
            break;
        default:
            return ctl_bad_option(CMD);
        }
    }
    if (optind < argc)
        return ctl_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (has_from && has_last)
        return ctl_usage_error(CMD, "--from and --last exclude each other");

    rc = ctl_open_reader(ctl, &r);
    if (rc != 0)
        return rc;
    rc = audit_reader_last_seq(r, &last_seq);
    if (rc < 0)
        goto out_err;
    t.seq_width = ctl_seq_width(last_seq);

    if (has_from) {
        t.next = from ? from : 1;
    } else if (last_n == 0) {
        t.next = last_seq + 1;
    } else if (!s_filtered(&t)) {
        t.next = last_seq > last_n ? last_seq - last_n + 1 : 1;
    } else {
        /* The last N *matching* records: find where they begin, walking back. */
        t.want = last_n;
        t.start = last_seq + 1;
        rc = audit_reader_scan_back(r, last_seq, s_count_back, &t);
        if (rc < 0)
            goto out_err;
        t.next = t.start;
    }

    if (follow) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = s_on_signal; /* no SA_RESTART: the poll sleep must end */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    /* The first pass is bounded to the last seq seen above, so -f carries on from there. */
    rc = audit_reader_scan(r, t.next, follow ? 0 : last_seq, s_print_one, &t);
    while (rc >= 0 && follow && !s_stop && !t.out_closed) {
        struct timespec nap = {0, FOLLOW_MS * 1000000L};

        if (fflush(stdout) != 0) {
            t.out_closed = true;
            t.out_errno = errno;
            break;
        }
        if (s_stdout_gone()) {
            t.out_closed = true;
            t.out_errno = EPIPE;
            break;
        }
        nanosleep(&nap, NULL);
        if (s_stop)
            break;
        rc = audit_reader_scan(r, t.next, 0, s_print_one, &t);
    }
    if (rc < 0)
        goto out_err;
    if (!t.out_closed && fflush(stdout) != 0) {
        t.out_closed = true;
        t.out_errno = errno;
    }
    audit_reader_destroy(&r);
    /* A reader that went away (| head) is a normal end; any other write error is not. */
    if (t.out_closed && t.out_errno != EPIPE) {
        fprintf(stderr, "%s: stdout: %s\n", CTL_PROG, strerror(t.out_errno));
        return EX_IOERR;
    }
    return EX_OK;

out_err:
    fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r), audit_reader_strerror(r, rc));
    audit_reader_destroy(&r);
    return EX_IOERR;
}
