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

#include <jansson.h>

#include "proto/envelope.h"
#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"

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

static bool
s_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);

    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *
s_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (s_str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* A record's type: its own `type` field, else the type of the event it carries. */
static const msgpack_object *
s_record_type(const struct audit_record *rec)
{
    const msgpack_object *t = audit_record_field(rec, "type");

    if (t && t->type == MSGPACK_OBJECT_STR)
        return t;
    t = s_map_get(audit_record_field(rec, "event"), "type");
    return t && t->type == MSGPACK_OBJECT_STR ? t : NULL;
}

static bool
s_matches(const struct tail *t, const struct audit_record *rec)
{
    if (t->kind && strcmp(rec->kind, t->kind) != 0)
        return false;
    if (t->area && !s_str_is(audit_record_field(rec, "area"), t->area))
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

/* ---- human output ---- */

/* Text from outside (reasons, sources) can hold anything: escape control bytes. */
static void
s_put_text(FILE *out, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\x%02x", ch);
        else
            fputc(ch, out);
    }
}

static void
s_put_value(FILE *out, const msgpack_object *o)
{
    char hex[17];

    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        s_put_text(out, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        if (o->via.bin.size == 16) {
            /*
             * An event id, shortened to its last 8 hex digits: a UUIDv7 begins
             * with its timestamp, so the first ones are the same for every event
             * of a minute, while the tail is random.
             */
            json_msgpack_hex((const uint8_t *)o->via.bin.ptr + 12, 4, hex);
            fputs(hex, out);
            break;
        }
        /* FALLTHROUGH */
    default: {
        json_t *j = json_msgpack_to_json(o);
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            s_put_text(out, text, strlen(text));
        free(text);
        json_decref(j);
        break;
    }
    }
}

/* Prints field as a padded column (width 0: no padding). "-" when absent or nil. */
static void
s_column(FILE *out, const msgpack_object *o, int width)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);

    if (!mem)
        return;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        fputc('-', mem);
    else
        s_put_value(mem, o);
    fclose(mem);
    fprintf(out, " %-*s", width, buf ? buf : "");
    free(buf);
}

static bool
s_is_shown_first(const char *kind, const msgpack_object *key)
{
    static const char *const common[] = {"seq", "at", "kind", "prev", "event"};

    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (s_str_is(key, common[i]))
            return true;
    if (strcmp(kind, AUDIT_KIND_ACCEPTED) == 0)
        return s_str_is(key, "type") || s_str_is(key, "source") || s_str_is(key, "id");
    if (strcmp(kind, AUDIT_KIND_REJECTED) == 0)
        return s_str_is(key, "code") || s_str_is(key, "reason");
    return false;
}

/*
 * seq, time, kind; then the kind's main fields as columns (accepted: type,
 * source, short id; rejected: code: reason), then every other field as
 * key=value, nil ones left out. The embedded event is --json's business.
 */
static void
s_print_human(const struct tail *t, const struct audit_record *rec, FILE *out)
{
    const msgpack_object *map = rec->map;
    char when[40];

    ctl_format_time_ns(rec->at_ns, when, sizeof(when));
    fprintf(out, "%*" PRIu64 "  %s  %-9s", t->seq_width, rec->seq, when, rec->kind);
    if (strcmp(rec->kind, AUDIT_KIND_ACCEPTED) == 0) {
        s_column(out, audit_record_field(rec, "type"), 32);
        s_column(out, audit_record_field(rec, "source"), 12);
        s_column(out, audit_record_field(rec, "id"), 8);
    } else if (strcmp(rec->kind, AUDIT_KIND_REJECTED) == 0) {
        s_column(out, audit_record_field(rec, "code"), 0);
        fputc(':', out);
        s_column(out, audit_record_field(rec, "reason"), 0);
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];

        if (s_is_shown_first(rec->kind, &kv->key) || kv->val.type == MSGPACK_OBJECT_NIL)
            continue;
        fputc(' ', out);
        s_put_value(out, &kv->key);
        fputc('=', out);
        s_put_value(out, &kv->val);
    }
    fputc('\n', out);
}

static void
s_print_json(const struct audit_record *rec, FILE *out)
{
    json_t *j = json_msgpack_to_json(rec->map);

    json_dumpf(j, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(j);
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
            s_print_json(&rec, stdout);
        else
            s_print_human(t, &rec, stdout);
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

static int
s_digits(uint64_t v)
{
    int n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
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
    t.seq_width = s_digits(last_seq) < 6 ? 6 : s_digits(last_seq);

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
