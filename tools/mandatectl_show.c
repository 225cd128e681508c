/*
 * mandatectl show: one event's history. Finds the event's `accepted` record
 * (by its seq, by the seq of any record of its delivery, or by its id through
 * the `ids` table), then reads the log forward to its end for the records
 * that name the event: its delivery records (`event_seq`) and the follow-up
 * events it emitted (`cause`). Nothing indexes an event's later records, so
 * every later record is read, in the short read transactions of every scan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/alloc.h"
#include "proto/text.h"
#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"
#include "tools/mandatectl_record.h"

#define CMD "show"

/* Exit code for "no such event": the seq or id is fine, the log just does not have it. */
#define EXIT_NOT_FOUND 1

enum {
    OPT_JSON = CTL_OPT_FIRST_LOCAL,
};

enum state {
    STATE_WAITING,
    STATE_IN_FLIGHT,
    STATE_COMPLETED,
    STATE_DEADLETTERED,
};

/* How each delivery record moves the event on; completed and dead-lettered are final. */
static const struct {
    const char *kind;
    enum state state;
} s_transitions[] = {
    /* clang-format off */
    {AUDIT_KIND_DISPATCHED,   STATE_IN_FLIGHT},
    {AUDIT_KIND_FAILED,       STATE_WAITING},
    {AUDIT_KIND_RETRIED,      STATE_WAITING},
    {AUDIT_KIND_COMPLETED,    STATE_COMPLETED},
    {AUDIT_KIND_DEADLETTERED, STATE_DEADLETTERED},
    /* clang-format on */
};

/* A record of the history, copied out of its read transaction. */
struct item {
    void *bytes;
    size_t len;
    bool followup; /* an event this one emitted, not a record of its own delivery */
};

struct history {
    uint64_t event; /* seq of the event's `accepted` record */
    struct item *items;
    size_t n, cap;
    enum state state;
    size_t decisive; /* the item that set state (0, the accepted record: none did) */
};

static int s_not_found(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
s_not_found(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s: ", CTL_PROG, CMD);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_NOT_FOUND;
}

/* ---- the argument ---- */

struct target {
    bool by_id;
    uint8_t id[16];
    uint64_t seq;
};

static int
s_parse_target(const char *arg, struct target *ret_target)
{
    size_t len = strlen(arg), digits = 0;

    if (ctl_parse_id(arg, ret_target->id)) {
        ret_target->by_id = true;
        return 0;
    }
    if (len > 0 && strspn(arg, "0123456789") == len) {
        if (text_parse_u64(arg, 0, UINT64_MAX, &ret_target->seq) < 0)
            return ctl_usage_error(CMD, "seq %s is out of range (1 to %" PRIu64 ")", arg,
                                   UINT64_MAX);
        if (ret_target->seq == 0)
            return ctl_usage_error(CMD, "there is no seq 0: seqs start at 1");
        return 0;
    }
    if (len > 0 && strspn(arg, "0123456789abcdefABCDEF-") == len) {
        for (size_t i = 0; i < len; i++)
            digits += arg[i] != '-';
        if (digits != 32)
            return ctl_usage_error(CMD, "'%s' is not an event id: it has %zu hex digits, not 32",
                                   arg, digits);
        return ctl_usage_error(CMD,
                               "'%s' is not an event id: dashes go where a UUID has them "
                               "(8-4-4-4-12)",
                               arg);
    }
    return ctl_usage_error(CMD, "'%s' is neither a seq nor an event id (32 hex digits or a UUID)",
                           arg);
}

/* ---- finding the event ---- */

/* Reads and decodes record seq; prints why not and returns the exit code on failure. */
static int
s_load(struct audit_reader *r, uint64_t seq, uint64_t last, struct audit_record *ret_rec,
       struct item *ret_item)
{
    void *bytes;
    size_t len;
    int rc = audit_reader_get(r, seq, &bytes, &len);

    if (rc == -ENOENT)
        return s_not_found("seq %" PRIu64 " is not in the log (its last seq is %" PRIu64 ")", seq,
                           last);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r),
                audit_reader_strerror(r, rc));
        return EX_IOERR;
    }
    if (audit_record_decode(bytes, len, ret_rec) < 0) {
        free(bytes);
        fprintf(stderr,
                "%s: %s: seq %" PRIu64 " is not a readable record ('mandatectl verify' checks "
                "the log)\n",
                CTL_PROG, CMD, seq);
        return EX_IOERR;
    }
    ret_item->bytes = bytes;
    ret_item->len = len;
    ret_item->followup = false;
    return 0;
}

/*
 * Loads the `accepted` record of the event that record seq belongs to: seq
 * itself when it is one, else the record its event_seq names, which must be
 * an earlier `accepted` record. On success the record is decoded in ret_rec
 * (it points into itself: decode in place, never copy it) and its bytes are
 * in ret_item.
 */
static int
s_find_event(struct audit_reader *r, uint64_t seq, uint64_t last, struct audit_record *ret_rec,
             struct item *ret_item)
{
    char kind[sizeof(ret_rec->kind)];
    uint64_t event;
    bool has_event;
    int rc = s_load(r, seq, last, ret_rec, ret_item);

    if (rc != 0)
        return rc;
    if (strcmp(ret_rec->kind, AUDIT_KIND_ACCEPTED) == 0)
        return 0;
    memcpy(kind, ret_rec->kind, sizeof(kind));
    has_event = ctl_record_u64(ret_rec, AUDIT_FIELD_EVENT_SEQ, &event);
    audit_record_release(ret_rec);
    free(ret_item->bytes);
    if (!has_event)
        return s_not_found("seq %" PRIu64 " is a `%s` record, not part of an event's history", seq,
                           kind);
    if (event >= seq)
        return s_not_found("seq %" PRIu64 " (%s) names event_seq %" PRIu64
                           ", which is not an earlier record",
                           seq, kind, event);
    rc = s_load(r, event, last, ret_rec, ret_item);
    if (rc != 0)
        return rc;
    if (strcmp(ret_rec->kind, AUDIT_KIND_ACCEPTED) != 0) {
        rc = s_not_found("seq %" PRIu64 " (%s) names event_seq %" PRIu64
                         ", which is a `%s` record, not an accepted event",
                         seq, kind, event, ret_rec->kind);
        audit_record_release(ret_rec);
        free(ret_item->bytes);
        return rc;
    }
    return 0;
}

/* ---- collecting the history ---- */

static void
s_push(struct history *h, const void *bytes, size_t len, bool followup)
{
    struct item *it;

    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->items = realloc(h->items, h->cap * sizeof(*h->items));
    }
    it = h->items ? &h->items[h->n] : NULL;
    if (it)
        it->bytes = malloc(len ? len : 1);
    if (!it || !it->bytes)
        alloc_failed(len);
    memcpy(it->bytes, bytes, len);
    it->len = len;
    it->followup = followup;
    h->n++;
}

static void
s_advance(struct history *h, const char *kind)
{
    for (size_t i = 0; i < sizeof(s_transitions) / sizeof(s_transitions[0]); i++) {
        if (strcmp(kind, s_transitions[i].kind) != 0)
            continue;
        /* A final state stays unless another final record follows (a late completion). */
        if (h->state >= STATE_COMPLETED && s_transitions[i].state < STATE_COMPLETED)
            return;
        h->state = s_transitions[i].state;
        h->decisive = h->n - 1;
        return;
    }
}

static int
s_collect(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct history *h = arg;
    struct audit_record rec;
    uint64_t v;

    if (audit_record_decode(bytes, len, &rec) < 0) {
        fprintf(stderr,
                "%s: %s: seq %" PRIu64 ": not a readable record, skipped ('mandatectl verify' "
                "checks the log)\n",
                CTL_PROG, CMD, seq);
        return 0;
    }
    if (ctl_record_u64(&rec, AUDIT_FIELD_EVENT_SEQ, &v) && v == h->event) {
        s_push(h, bytes, len, false);
        s_advance(h, rec.kind);
    } else if (strcmp(rec.kind, AUDIT_KIND_ACCEPTED) == 0 &&
               ctl_record_u64(&rec, AUDIT_FIELD_CAUSE, &v) && v == h->event) {
        s_push(h, bytes, len, true);
    }
    audit_record_release(&rec);
    return 0;
}

/* ---- output ---- */

/* label, then the field's value ("-" when it, or the record, is missing). */
static void
s_put_field(FILE *out, const char *label, const struct audit_record *rec, const char *key)
{
    static const msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    /* An accepted record's id, type and source may be its envelope's alone (format 2). */
    const msgpack_object *o = rec ? audit_record_event_field(rec, key) : NULL;

    fputs(label, out);
    ctl_put_value(out, o ? o : &nil);
}

/* The final state, with what the record that set it says about it. */
static void
s_put_state(FILE *out, enum state state, const struct audit_record *last)
{
    switch (state) {
    case STATE_WAITING:
        if (!last) {
            fputs("waiting (not dispatched yet)", out);
        } else if (strcmp(last->kind, AUDIT_KIND_RETRIED) == 0) {
            uint64_t due;

            s_put_field(out, "waiting (attempt ", last, "attempt");
            if (ctl_record_u64(last, "due_ms", &due)) {
                fputs(" due ", out);
                ctl_put_time_ms(out, due);
            }
            fputc(')', out);
        } else {
            s_put_field(out, "waiting (attempt ", last, "attempt");
            fputs(" failed)", out);
        }
        break;
    case STATE_IN_FLIGHT:
    case STATE_COMPLETED:
        fputs(state == STATE_IN_FLIGHT ? "in flight" : "completed", out);
        s_put_field(out, " (attempt ", last, "attempt");
        s_put_field(out, ", worker ", last, "worker");
        fputc(')', out);
        break;
    case STATE_DEADLETTERED:
        s_put_field(out, "dead-lettered (attempt ", last, "attempt");
        s_put_field(out, ": ", last, "reason");
        fputc(')', out);
        break;
    }
}

/* "event SEQ id=ID type=T source=S area=A [cause=C]: STATE" */
static void
s_print_summary(FILE *out, const struct audit_record *accepted, const struct history *h)
{
    const msgpack_object *id = audit_record_event_field(accepted, "id");
    struct audit_record last;
    bool has_last = false;
    uint64_t cause;

    fprintf(out, "event %" PRIu64, accepted->seq);
    if (id && id->type == MSGPACK_OBJECT_BIN && id->via.bin.size == 16) {
        char hex[33];

        json_msgpack_hex(id->via.bin.ptr, 16, hex);
        fprintf(out, " id=%s", hex);
    } else {
        s_put_field(out, " id=", accepted, "id");
    }
    s_put_field(out, " type=", accepted, "type");
    s_put_field(out, " source=", accepted, "source");
    s_put_field(out, " area=", accepted, "area");
    if (ctl_record_u64(accepted, AUDIT_FIELD_CAUSE, &cause))
        fprintf(out, " cause=%" PRIu64, cause);
    fputs(": ", out);
    if (h->decisive > 0)
        has_last =
            audit_record_decode(h->items[h->decisive].bytes, h->items[h->decisive].len, &last) == 0;
    s_put_state(out, h->state, has_last ? &last : NULL);
    fputc('\n', out);
    if (has_last)
        audit_record_release(&last);
}

static void
s_print(const struct history *h, const struct audit_record *accepted, bool json, int seq_width)
{
    if (!json)
        s_print_summary(stdout, accepted, h);
    for (size_t i = 0; i < h->n; i++) {
        struct audit_record rec;

        /* Every item decoded once already, when it was collected. */
        if (audit_record_decode(h->items[i].bytes, h->items[i].len, &rec) < 0)
            continue;
        if (json) {
            ctl_record_print_json(stdout, &rec);
        } else {
            if (h->items[i].followup)
                fputs("    ", stdout);
            ctl_record_print_human(stdout, &rec, seq_width);
        }
        audit_record_release(&rec);
    }
}

int
ctl_show(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    struct history h = {0};
    struct audit_reader *r = NULL;
    struct audit_record accepted;
    struct item first;
    struct target target = {0};
    uint64_t last, seq;
    bool json = false;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            ctl_usage(stdout, CMD);
            return EX_OK;
        case OPT_JSON:
            json = true;
            break;
        default:
            return ctl_bad_option(CMD);
        }
    }
    if (optind == argc)
        return ctl_usage_error(CMD, "missing the event: a SEQ or an ID");
    if (optind + 1 < argc)
        return ctl_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    rc = s_parse_target(argv[optind], &target);
    if (rc != 0)
        return rc;

    rc = ctl_open_reader(ctl, &r);
    if (rc != 0)
        return rc;
    rc = audit_reader_last_seq(r, &last);
    if (rc < 0)
        goto out_reader_err;
    if (last == 0) {
        rc = s_not_found("the audit log in %s is empty", audit_reader_path(r));
        goto out_reader;
    }
    seq = target.seq;
    if (target.by_id) {
        char hex[33];

        rc = audit_reader_lookup_id(r, target.id, &seq);
        json_msgpack_hex(target.id, sizeof(target.id), hex);
        if (rc == -ENOENT) {
            rc = s_not_found("no event with id %s in the log", hex);
            goto out_reader;
        }
        if (rc == -EBADMSG) {
            fprintf(stderr, "%s: %s: the ids entry of %s is not an 8-byte seq\n", CTL_PROG, CMD,
                    hex);
            rc = EX_IOERR;
            goto out_reader;
        }
        if (rc < 0)
            goto out_reader_err;
    }
    rc = s_find_event(r, seq, last, &accepted, &first);
    if (rc != 0)
        goto out_reader;

    h.event = accepted.seq;
    s_push(&h, first.bytes, first.len, false);
    free(first.bytes);
    rc = h.event < last ? audit_reader_scan(r, h.event + 1, last, s_collect, &h) : 0;
    if (rc < 0) {
        audit_record_release(&accepted);
        goto out_reader_err;
    }
    s_print(&h, &accepted, json, ctl_seq_width(last));
    audit_record_release(&accepted);
    rc = EX_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* A reader that went away (| head) is a normal end; any other write error is not. */
        if (errno != EPIPE) {
            fprintf(stderr, "%s: stdout: %s\n", CTL_PROG, strerror(errno));
            rc = EX_IOERR;
        }
    }
    goto out_reader;

out_reader_err:
    fprintf(stderr, "%s: %s: %s\n", CTL_PROG, audit_reader_path(r), audit_reader_strerror(r, rc));
    rc = EX_IOERR;
out_reader:
    for (size_t i = 0; i < h.n; i++)
        free(h.items[i].bytes);
    free(h.items);
    audit_reader_destroy(&r);
    return rc;
}
