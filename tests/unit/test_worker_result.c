/*
 * test_worker_result: a deadline entry packed by the workers' packer reads
 * back the same through the broker's reader, open or not; the packer's
 * bytes, key order included; and every rule of the reader both ways on
 * input a worker could have written wrong: the name (missing, empty, at
 * and past its limit, not a str), the due time (nil, zero, a string,
 * negative, missing), closed_by (absent, not an array, too many, an
 * element that is not a str), texts too long to carry, entries and results
 * that are not maps, and "track" over more entries than are read.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "proto/worker_result.h"
#include "tools/json_msgpack.h"

/* A msgpack object made from JSON, alive until s_doc_free(). */
struct doc {
    msgpack_sbuffer sb;
    msgpack_unpacked up;
};

static const msgpack_object *
s_json(struct doc *d, const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(j, "%s: %s", text, jerr.text);
    msgpack_packer pk;
    char err[128];
    msgpack_sbuffer_init(&d->sb);
    msgpack_packer_init(&pk, &d->sb, pack_sbuffer_write);
    cr_assert_eq(json_msgpack_pack(&pk, j, 8, err, sizeof err), 0, "%s", err);
    json_decref(j);
    msgpack_unpacked_init(&d->up);
    cr_assert_eq(msgpack_unpack_next(&d->up, d->sb.data, d->sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    return &d->up.data;
}

static void
s_doc_free(struct doc *d)
{
    msgpack_unpacked_destroy(&d->up);
    msgpack_sbuffer_destroy(&d->sb);
}

/* Packs one entry with the workers' packer and unpacks it into d. */
static const msgpack_object *
s_packed(struct doc *d, const struct worker_result_deadline_fields *f)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(&d->sb);
    msgpack_packer_init(&pk, &d->sb, pack_sbuffer_write);
    worker_result_pack_deadline(&pk, f);
    msgpack_unpacked_init(&d->up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&d->up, d->sb.data, d->sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, d->sb.size, "one object, nothing after it");
    return &d->up.data;
}

static bool
s_str_eq(const msgpack_object *o, const char *s)
{
    return o && pack_str_is(o, s);
}

/* What a read gave, kept past the object it borrowed from. */
struct seen {
    char name[WORKER_RESULT_NAME_MAX + 1];
    bool open, track;
    uint64_t due_ms;
    bool rule, basis, subject, closed_by; /* the field was kept */
};

/* Whether the entry JSON reads as a deadline; *ret (may be NULL) gets what it read. */
static bool
s_reads(const char *json, struct seen *ret)
{
    struct doc d;
    struct worker_result_deadline dl;
    bool ok = worker_result_deadline_read(s_json(&d, json), &dl);
    if (ok && ret) {
        memcpy(ret->name, dl.name, sizeof ret->name);
        ret->open = dl.open;
        ret->track = dl.track;
        ret->due_ms = dl.due_ms;
        ret->rule = dl.rule != NULL;
        ret->basis = dl.basis != NULL;
        ret->subject = dl.subject != NULL;
        ret->closed_by = dl.closed_by != NULL;
    }
    s_doc_free(&d);
    return ok;
}

static const char *const s_closers[] = {"case.decision", "press.bulletin_withdrawn"};

Test(worker_result, pack_then_read_round_trip)
{
    const struct worker_result_deadline_fields f = {
        .subject = "HS-2026-17",
        .name = "decide",
        .due_ms = 1782147600000,
        .due_text = "2026-06-22 24:00 +07:00",
        .rule = "20 days from received track closed_by=case.decision",
        .basis = "Luật Báo chí 2016 Art. 34",
        .track = true,
        .closed_by = s_closers,
        .nclosed_by = 2,
    };
    struct doc d;
    const msgpack_object *e = s_packed(&d, &f);

    /* The keys, in the order the workers have always packed them. */
    static const char *const keys[] = {"subject", "name",  "due",   "due_text",
                                       "rule",    "basis", "track", "closed_by"};
    cr_assert_eq(e->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(e->via.map.size, 8);
    for (uint32_t i = 0; i < 8; i++)
        cr_expect(s_str_eq(&e->via.map.ptr[i].key, keys[i]), "key %u is %s", i, keys[i]);
    cr_expect(s_str_eq(worker_result_get(e, "due_text"), "2026-06-22 24:00 +07:00"));

    struct worker_result_deadline r;
    cr_assert(worker_result_deadline_read(e, &r));
    cr_expect_str_eq(r.name, "decide");
    cr_expect_not(r.open);
    cr_expect_eq(r.due_ms, 1782147600000u);
    cr_expect(r.track);
    cr_expect(s_str_eq(r.rule, f.rule));
    cr_expect(s_str_eq(r.basis, f.basis));
    cr_expect(s_str_eq(r.subject, "HS-2026-17"));
    cr_assert_not_null(r.closed_by);
    cr_assert_eq(r.closed_by->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(r.closed_by->via.array.size, 2);
    cr_expect(s_str_eq(&r.closed_by->via.array.ptr[0], "case.decision"));
    cr_expect(s_str_eq(&r.closed_by->via.array.ptr[1], "press.bulletin_withdrawn"));
    s_doc_free(&d);
}

/* The bytes themselves: what the audit log holds for every result so far. */
Test(worker_result, pack_bytes_are_the_workers_own)
{
    static const char *const closers[] = {"case.decision"};
    const struct worker_result_deadline_fields f = {
        .subject = "C-1",
        .name = "decide",
        .due_ms = 1780000000000, /* 0x19e70448800: a uint 64 */
        .due_text = "T1",
        .rule = "r",
        .basis = "b",
        .track = true,
        .closed_by = closers,
        .nclosed_by = 1,
    };
    /* One key and its value a line. */
    /* clang-format off */
    static const char want[] = "\x88"
        "\xa7" "subject" "\xa3" "C-1"
        "\xa4" "name" "\xa6" "decide"
        "\xa3" "due" "\xcf\x00\x00\x01\x9e\x70\x44\x88\x00"
        "\xa8" "due_text" "\xa2" "T1"
        "\xa4" "rule" "\xa1" "r"
        "\xa5" "basis" "\xa1" "b"
        "\xa5" "track" "\xc3"
        "\xa9" "closed_by" "\x91" "\xad" "case.decision";
    /* clang-format on */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    worker_result_pack_deadline(&pk, &f);
    cr_assert_eq(sb.size, sizeof want - 1);
    cr_expect_eq(memcmp(sb.data, want, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(worker_result, open_deadline_has_nil_due_and_no_subject)
{
    const struct worker_result_deadline_fields f = {
        .name = "case",
        .open = true,
        .due_ms = INT64_MAX,
        .due_text = "never packed when open",
        .rule = "open track closed_by=case.decision",
        .basis = "",
        .track = true,
        .closed_by = s_closers,
        .nclosed_by = 1,
    };
    struct doc d;
    const msgpack_object *e = s_packed(&d, &f);
    cr_expect_eq(worker_result_get(e, "due")->type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(worker_result_get(e, "subject")->type, MSGPACK_OBJECT_NIL);
    cr_expect(s_str_eq(worker_result_get(e, "due_text"), WORKER_RESULT_DUE_TEXT_OPEN));

    struct worker_result_deadline r;
    cr_assert(worker_result_deadline_read(e, &r));
    cr_expect(r.open);
    cr_expect_eq(r.due_ms, UINT64_MAX);
    cr_expect_null(r.subject, "nil is no subject");
    cr_expect(s_str_eq(r.basis, ""), "an empty basis is still a str");
    cr_expect_eq(r.closed_by->via.array.size, 1);
    s_doc_free(&d);
}

Test(worker_result, untracked_and_empty_closed_by)
{
    const struct worker_result_deadline_fields f = {
        .name = "notice", .due_ms = 5, .due_text = "x", .rule = "r", .basis = "b"};
    struct doc d;
    const msgpack_object *e = s_packed(&d, &f);
    cr_expect_eq(worker_result_get(e, "track")->type, MSGPACK_OBJECT_BOOLEAN);
    struct worker_result_deadline r;
    cr_assert(worker_result_deadline_read(e, &r));
    cr_expect_not(r.track);
    cr_assert_not_null(r.closed_by, "an empty array is an array");
    cr_expect_eq(r.closed_by->via.array.size, 0);
    s_doc_free(&d);
}

Test(worker_result, name_missing_empty_too_long_or_not_a_str)
{
    char json[256], name[WORKER_RESULT_NAME_MAX + 2];
    struct seen r;

    cr_expect_not(s_reads("{\"due\": 5}", NULL), "no name");
    cr_expect_not(s_reads("{\"name\": \"\", \"due\": 5}", NULL), "empty");
    cr_expect_not(s_reads("{\"name\": 7, \"due\": 5}", NULL), "an int");
    cr_expect_not(s_reads("{\"name\": null, \"due\": 5}", NULL), "nil");

    memset(name, 'n', sizeof name);
    name[WORKER_RESULT_NAME_MAX] = '\0';
    snprintf(json, sizeof json, "{\"name\": \"%s\", \"due\": 5}", name);
    cr_assert(s_reads(json, &r), "%d bytes is the limit", WORKER_RESULT_NAME_MAX);
    cr_expect_str_eq(r.name, name);
    name[WORKER_RESULT_NAME_MAX] = 'n';
    name[WORKER_RESULT_NAME_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{\"name\": \"%s\", \"due\": 5}", name);
    cr_expect_not(s_reads(json, NULL), "one byte over: refused, not cut");

    cr_assert(s_reads("{\"name\": \"a\", \"due\": 5}", &r), "one byte");
    cr_expect_str_eq(r.name, "a");
}

Test(worker_result, due_nil_zero_string_negative_or_missing)
{
    struct seen r;
    cr_assert(s_reads("{\"name\": \"d\", \"due\": null}", &r));
    cr_expect(r.open);
    cr_expect_eq(r.due_ms, UINT64_MAX);
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 0}", &r), "0 is a msgpack positive integer");
    cr_expect_not(r.open);
    cr_expect_eq(r.due_ms, 0);
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 1780000000000}", &r));
    cr_expect_eq(r.due_ms, 1780000000000u);

    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": \"1780000000000\"}", NULL), "a string");
    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": -1}", NULL), "negative");
    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": 1.5}", NULL), "a float");
    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": true}", NULL), "a bool");
    cr_expect_not(s_reads("{\"name\": \"d\"}", NULL), "missing");
}

Test(worker_result, closed_by_absent_not_an_array_or_too_many)
{
    struct seen r;
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 5}", &r), "absent is fine");
    cr_expect_not(r.closed_by);

    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": 5, \"closed_by\": \"case.decision\"}", NULL),
                  "a str, not an array");
    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": 5, \"closed_by\": null}", NULL), "nil");
    cr_expect_not(s_reads("{\"name\": \"d\", \"due\": 5, \"closed_by\": {}}", NULL), "a map");

    char json[1024];
    int n = snprintf(json, sizeof json, "{\"name\": \"d\", \"due\": 5, \"closed_by\": [\"t\"");
    for (int i = 1; i < WORKER_RESULT_CLOSED_BY_MAX; i++)
        n += snprintf(json + n, sizeof json - (size_t)n, ", \"t%d\"", i);
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    cr_assert(s_reads(json, &r), "%d types is the limit", WORKER_RESULT_CLOSED_BY_MAX);
    cr_expect(r.closed_by);
    snprintf(json + n, sizeof json - (size_t)n, ", \"one.more\"]}");
    cr_expect_not(s_reads(json, NULL), "one over");
}

/*
 * The broker has only ever checked closed_by's kind and count; an element
 * that is not a type name is skipped where closed_by is matched, not
 * refused here. Reading through worker_result keeps that.
 */
Test(worker_result, closed_by_element_not_a_str_is_kept_for_the_matcher_to_skip)
{
    struct doc d;
    const msgpack_object *e =
        s_json(&d, "{\"name\": \"d\", \"due\": 5, \"closed_by\": [\"case.decision\", 7, null]}");
    struct worker_result_deadline r;
    cr_assert(worker_result_deadline_read(e, &r));
    cr_assert_eq(r.closed_by, worker_result_get(e, "closed_by"), "the array itself, borrowed");
    cr_expect_eq(r.closed_by->via.array.size, 3);
    cr_expect_eq(r.closed_by->via.array.ptr[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    s_doc_free(&d);
}

Test(worker_result, texts_too_long_or_of_another_kind_read_as_null)
{
    size_t size = 2 * WORKER_RESULT_TEXT_MAX + ENVELOPE_SUBJECT_MAX + 256;
    char *json = malloc(size);
    char *rule = malloc(WORKER_RESULT_TEXT_MAX + 2);
    char subject[ENVELOPE_SUBJECT_MAX + 2];
    struct seen r;
    cr_assert_not_null(json);
    cr_assert_not_null(rule);

    memset(rule, 'r', WORKER_RESULT_TEXT_MAX);
    rule[WORKER_RESULT_TEXT_MAX] = '\0';
    memset(subject, 's', ENVELOPE_SUBJECT_MAX);
    subject[ENVELOPE_SUBJECT_MAX] = '\0';
    snprintf(json, size, "{\"name\": \"d\", \"due\": 5, \"rule\": \"%s\", \"subject\": \"%s\"}",
             rule, subject);
    cr_assert(s_reads(json, &r));
    cr_expect(r.rule, "%d bytes fit", WORKER_RESULT_TEXT_MAX);
    cr_expect(r.subject, "%d bytes fit", ENVELOPE_SUBJECT_MAX);
    cr_expect_not(r.basis, "absent");

    strcat(rule, "r");
    strcat(subject, "s");
    snprintf(json, size,
             "{\"name\": \"d\", \"due\": 5, \"rule\": \"%s\", \"basis\": \"%s\", "
             "\"subject\": \"%s\"}",
             rule, rule, subject);
    cr_assert(s_reads(json, &r), "too long is not a fault: the deadline goes without it");
    cr_expect_not(r.rule);
    cr_expect_not(r.basis);
    cr_expect_not(r.subject);

    cr_assert(
        s_reads("{\"name\": \"d\", \"due\": 5, \"rule\": 3, \"basis\": [], \"subject\": {}}", &r));
    cr_expect_not(r.rule);
    cr_expect_not(r.basis);
    cr_expect_not(r.subject);
    free(rule);
    free(json);
}

Test(worker_result, track_only_when_true)
{
    struct seen r;
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 5, \"track\": true}", &r));
    cr_expect(r.track);
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 5, \"track\": false}", &r));
    cr_expect_not(r.track);
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 5, \"track\": \"true\"}", &r));
    cr_expect_not(r.track, "a string is not true");
    cr_assert(s_reads("{\"name\": \"d\", \"due\": 5, \"track\": 1}", &r));
    cr_expect_not(r.track, "nor is 1");
}

Test(worker_result, entry_not_a_map)
{
    struct worker_result_deadline r;
    memset(&r, 0x5a, sizeof r);
    struct worker_result_deadline before = r;
    cr_expect_not(s_reads("[\"name\", \"d\", \"due\", 5]", NULL), "an array");
    cr_expect_not(s_reads("\"d\"", NULL), "a str");
    cr_expect_not(s_reads("null", NULL), "nil");
    cr_expect_not(worker_result_deadline_read(NULL, &r), "no object");
    cr_expect_eq(memcmp(&r, &before, sizeof r), 0, "untouched on failure");
}

Test(worker_result, failure_leaves_ret_untouched)
{
    struct doc d;
    struct worker_result_deadline r;
    memset(&r, 0x5a, sizeof r);
    struct worker_result_deadline before = r;
    /* A name that would have been copied, then a fault further on. */
    cr_expect_not(worker_result_deadline_read(
        s_json(&d, "{\"name\": \"d\", \"due\": 5, \"closed_by\": 1}"), &r));
    cr_expect_eq(memcmp(&r, &before, sizeof r), 0);
    s_doc_free(&d);
}

Test(worker_result, get_on_maps_and_others)
{
    struct doc d;
    const msgpack_object *m = s_json(&d, "{\"a\": 1, \"ab\": 2, \"b\": 3}");
    cr_assert_not_null(worker_result_get(m, "ab"));
    cr_expect_eq(worker_result_get(m, "ab")->via.u64, 2);
    cr_expect_eq(worker_result_get(m, "b")->via.u64, 3);
    cr_expect_null(worker_result_get(m, "c"));
    cr_expect_null(worker_result_get(m, "A"), "keys are compared exactly");
    cr_expect_null(worker_result_get(NULL, "a"));
    cr_expect_null(worker_result_get(&m->via.map.ptr[0].val, "a"), "an int is no map");
    s_doc_free(&d);
}

Test(worker_result, result_not_a_map_or_deadlines_not_an_array)
{
    struct doc d;
    cr_expect_null(worker_result_deadlines(NULL));
    cr_expect_not(worker_result_tracks(NULL));
    const msgpack_object *o = s_json(&d, "[{\"deadlines\": [{\"track\": true}]}]");
    cr_expect_null(worker_result_deadlines(o), "an array is no result");
    cr_expect_not(worker_result_tracks(o));
    s_doc_free(&d);
    o = s_json(&d, "{\"deadlines\": {\"track\": true}}");
    cr_expect_null(worker_result_deadlines(o), "deadlines is a map");
    cr_expect_not(worker_result_tracks(o));
    s_doc_free(&d);
    o = s_json(&d, "{\"outcome\": \"recorded\"}");
    cr_expect_null(worker_result_deadlines(o), "absent");
    cr_expect_not(worker_result_tracks(o));
    s_doc_free(&d);
    o = s_json(&d, "{\"deadlines\": []}");
    cr_assert_not_null(worker_result_deadlines(o));
    cr_expect_eq(worker_result_deadlines(o)->via.array.size, 0);
    cr_expect_not(worker_result_tracks(o));
    s_doc_free(&d);
}

Test(worker_result, tracks_any_entry_and_skips_non_maps)
{
    struct doc d;
    const msgpack_object *o =
        s_json(&d, "{\"deadlines\": [7, {\"name\": \"a\", \"track\": false}, {\"track\": true}]}");
    cr_expect(worker_result_tracks(o), "the entry need not be a valid deadline to say it tracks");
    s_doc_free(&d);
    o = s_json(&d, "{\"deadlines\": [7, \"track\", {\"name\": \"a\", \"track\": \"yes\"}]}");
    cr_expect_not(worker_result_tracks(o));
    s_doc_free(&d);
}

/* More entries than the broker reads: all are returned, and a tracked one
 * past the limit still says the result tracks (the broker's rule so far). */
Test(worker_result, more_entries_than_are_read)
{
    char json[2048];
    int n = snprintf(json, sizeof json, "{\"deadlines\": [");
    for (int i = 0; i <= WORKER_RESULT_DEADLINES_MAX; i++)
        n += snprintf(json + n, sizeof json - (size_t)n,
                      "%s{\"name\": \"d%d\", \"due\": %d, \"track\": %s}", i ? ", " : "", i, i + 1,
                      i == WORKER_RESULT_DEADLINES_MAX ? "true" : "false");
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    struct doc d;
    const msgpack_object *o = s_json(&d, json);
    const msgpack_object *list = worker_result_deadlines(o);
    cr_assert_not_null(list);
    cr_expect_eq(list->via.array.size, WORKER_RESULT_DEADLINES_MAX + 1);
    cr_expect(worker_result_tracks(o));
    struct worker_result_deadline r;
    cr_assert(worker_result_deadline_read(&list->via.array.ptr[WORKER_RESULT_DEADLINES_MAX], &r));
    cr_expect_str_eq(r.name, "d8");
    cr_expect(r.track);
    s_doc_free(&d);
}
