/*
 * mandatectl_record: one audit record as a human line or a JSON object (see
 * mandatectl_record.h). The human columns of each kind are declared in one
 * table below; a kind missing from it still prints, as key=value pairs.
 */
#include "common/alloc.h"
#include "tools/mandatectl_record.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/pack.h"
#include "tools/json_msgpack.h"
#include "tools/mandatectl.h"

#define KIND_WIDTH  13 /* "worker_joined" */
#define MAX_COLUMNS 6

/* A column: the field's value, after an optional label, padded to width (0: not padded). */
struct column {
    const char *field;
    const char *label;  /* e.g. "event=", or NULL */
    int width;          /* label included */
    const char *suffix; /* printed right after the value, e.g. ":" */
    bool time_ms;       /* the value is ms since the epoch: shown as a UTC time */
};

/* What every event-delivery record starts with: which event, where, which attempt. */
/* clang-format off */
#define EVENT_COLUMNS                                       \
    {.field = "event_seq", .label = "event=", .width = 12}, \
    {.field = "area", .width = 12},                         \
    {.field = "attempt", .label = "attempt=", .width = 10}
/* clang-format on */

static const struct layout {
    const char *kind;
    struct column cols[MAX_COLUMNS];
} s_layouts[] = {
    {AUDIT_KIND_ACCEPTED,
     {{.field = "type", .width = 32},
      {.field = "source", .width = 12},
      {.field = "id", .width = 8}}},
    {AUDIT_KIND_REJECTED, {{.field = "code", .suffix = ":"}, {.field = "reason"}}},
    {AUDIT_KIND_DISPATCHED, {EVENT_COLUMNS, {.field = "worker"}}},
    {AUDIT_KIND_COMPLETED, {EVENT_COLUMNS, {.field = "worker", .width = 12}, {.field = "status"}}},
    {AUDIT_KIND_FAILED, {EVENT_COLUMNS, {.field = "worker", .width = 12}, {.field = "note"}}},
    {AUDIT_KIND_RETRIED,
     {EVENT_COLUMNS,
      {.field = "due_ms", .label = "due=", .width = 28, .time_ms = true},
      {.field = "reason"}}},
    {AUDIT_KIND_DEADLETTERED, {EVENT_COLUMNS, {.field = "reason"}}},
    {AUDIT_KIND_WORKER_JOINED,
     {{.field = "worker", .width = 12},
      {.field = "area", .width = 12},
      {.field = "credit", .label = "credit="}}},
    {AUDIT_KIND_WORKER_LOST,
     {{.field = "worker", .width = 12}, {.field = "area", .width = 12}, {.field = "reason"}}},
    {AUDIT_KIND_DEADLINE,
     {{.field = "event_seq", .label = "event=", .width = 12},
      {.field = "area", .width = 12},
      {.field = "state", .width = 10},
      {.field = "deadline", .width = 16},
      {.field = "due", .label = "due=", .time_ms = true}}},
};

/* ---- accessors ---- */

bool
ctl_str_is(const msgpack_object *o, const char *s)
{
    return o && pack_str_is(o, s);
}

const msgpack_object *
ctl_map_get(const msgpack_object *map, const char *key)
{
    return pack_map_get(map, key);
}

bool
ctl_record_u64(const struct audit_record *rec, const char *key, uint64_t *ret)
{
    const msgpack_object *o = audit_record_field(rec, key);

    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *ret = o->via.u64;
    return true;
}

int
ctl_seq_width(uint64_t last_seq)
{
    int n = 1;

    while (last_seq >= 10) {
        last_seq /= 10;
        n++;
    }
    return n < 6 ? 6 : n;
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

void
ctl_put_value(FILE *out, const msgpack_object *o)
{
    char hex[2 * AUDIT_HASH_LEN + 1];

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputc('-', out);
        break;
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
        if (o->via.bin.size <= AUDIT_HASH_LEN) {
            /* A hash (an opaque reply's): whole, and unquoted like an id. */
            json_msgpack_hex(o->via.bin.ptr, o->via.bin.size, hex);
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

void
ctl_put_time_ms(FILE *out, uint64_t ms)
{
    char when[40];

    if (ms > UINT64_MAX / 1000000u) {
        fprintf(out, "%" PRIu64, ms);
        return;
    }
    ctl_format_time_ns(ms * 1000000u, when, sizeof(when));
    fputs(when, out);
}

static const struct layout *
s_layout(const char *kind)
{
    for (size_t i = 0; i < sizeof(s_layouts) / sizeof(s_layouts[0]); i++)
        if (strcmp(s_layouts[i].kind, kind) == 0)
            return &s_layouts[i];
    return NULL;
}

static void
s_column(FILE *out, const struct audit_record *rec, const struct column *col)
{
    /* An accepted record's id, type and source may be its envelope's alone (format 2). */
    const msgpack_object *o = audit_record_event_field(rec, col->field);
    long start;

    fputc(' ', out);
    start = ftell(out);
    if (col->label)
        fputs(col->label, out);
    if (o && col->time_ms && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        ctl_put_time_ms(out, o->via.u64);
    else
        ctl_put_value(out, o ? o : &(msgpack_object){.type = MSGPACK_OBJECT_NIL});
    if (col->suffix)
        fputs(col->suffix, out);
    for (long n = ftell(out) - start; start >= 0 && n < col->width; n++)
        fputc(' ', out);
}

/* Fields every line shows in its own way, or (the carried event) leaves to --json. */
static bool
s_is_shown_first(const struct layout *l, const msgpack_object *key)
{
    static const char *const common[] = {"seq", "at", "kind", "prev", "event"};

    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (ctl_str_is(key, common[i]))
            return true;
    for (size_t i = 0; l && i < MAX_COLUMNS && l->cols[i].field; i++)
        if (ctl_str_is(key, l->cols[i].field))
            return true;
    return false;
}

static void
s_line(FILE *out, const struct audit_record *rec, int seq_width)
{
    const struct layout *l = s_layout(rec->kind);
    const msgpack_object *map = rec->map;
    char when[40];

    ctl_format_time_ns(rec->at_ns, when, sizeof(when));
    fprintf(out, "%*" PRIu64 "  %s  %-*s", seq_width, rec->seq, when, KIND_WIDTH, rec->kind);
    for (size_t i = 0; l && i < MAX_COLUMNS && l->cols[i].field; i++)
        s_column(out, rec, &l->cols[i]);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];

        if (s_is_shown_first(l, &kv->key) || kv->val.type == MSGPACK_OBJECT_NIL)
            continue;
        fputc(' ', out);
        ctl_put_value(out, &kv->key);
        fputc('=', out);
        ctl_put_value(out, &kv->val);
    }
}

void
ctl_record_print_human(FILE *out, const struct audit_record *rec, int seq_width)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);

    /* Built in memory so that the padding of a last column can be trimmed. */
    if (!mem)
        alloc_failed(0);
    s_line(mem, rec, seq_width);
    fclose(mem);
    while (len > 0 && buf[len - 1] == ' ')
        len--;
    fwrite(buf, 1, len, out);
    fputc('\n', out);
    free(buf);
}

void
ctl_record_print_json(FILE *out, const struct audit_record *rec)
{
    json_t *j = json_msgpack_to_json(rec->map);

    json_dumpf(j, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(j);
}
