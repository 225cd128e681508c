/*
 * worker_result: see worker_result.h. The reader is what the broker's
 * deadline table accepts from a worker (daemon/deadline_table.c): a
 * malformed entry is skipped, an over-long text is dropped from it.
 */
#include <string.h>

#include "proto/pack.h"
#include "proto/worker_result.h"

static void
s_pack_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void
worker_result_pack_deadline(msgpack_packer *pk, const struct worker_result_deadline_fields *d)
{
    msgpack_pack_map(pk, 8);
    pack_cstr(pk, WORKER_RESULT_DL_SUBJECT);
    if (d->subject)
        pack_cstr(pk, d->subject);
    else
        msgpack_pack_nil(pk);
    pack_cstr(pk, WORKER_RESULT_DL_NAME);
    pack_cstr(pk, d->name);
    pack_cstr(pk, WORKER_RESULT_DL_DUE);
    if (d->open)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, d->due_ms);
    pack_cstr(pk, WORKER_RESULT_DL_DUE_TEXT);
    pack_cstr(pk, d->open ? WORKER_RESULT_DUE_TEXT_OPEN : d->due_text);
    pack_cstr(pk, WORKER_RESULT_DL_RULE);
    pack_cstr(pk, d->rule);
    pack_cstr(pk, WORKER_RESULT_DL_BASIS);
    pack_cstr(pk, d->basis);
    pack_cstr(pk, WORKER_RESULT_DL_TRACK);
    s_pack_bool(pk, d->track);
    pack_cstr(pk, WORKER_RESULT_DL_CLOSED_BY);
    msgpack_pack_array(pk, (uint32_t)d->nclosed_by);
    for (size_t i = 0; i < d->nclosed_by; i++)
        pack_cstr(pk, d->closed_by[i]);
}

const msgpack_object *
worker_result_get(const msgpack_object *map, const char *key)
{
    return pack_map_get(map, key);
}

/* A string a worker wrote, if it is one and fits what a deadline event can
 * carry; NULL otherwise (the deadline then goes without it). */
static const msgpack_object *
s_text(const msgpack_object *o, size_t max)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max ? o : NULL;
}

static bool
s_true(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

bool
worker_result_deadline_read(const msgpack_object *entry, struct worker_result_deadline *ret)
{
    struct worker_result_deadline d;
    memset(&d, 0, sizeof d);

    /* The name keys the broker's table: it must be there whole, never cut. */
    if (!pack_str_copy(worker_result_get(entry, WORKER_RESULT_DL_NAME), d.name, sizeof d.name))
        return false;

    /* The due time orders the table: a deadline without one is no deadline. */
    const msgpack_object *due = worker_result_get(entry, WORKER_RESULT_DL_DUE);
    if (due && due->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        d.due_ms = due->via.u64;
    } else if (due && due->type == MSGPACK_OBJECT_NIL) {
        d.open = true;
        d.due_ms = UINT64_MAX;
    } else {
        return false;
    }

    d.closed_by = worker_result_get(entry, WORKER_RESULT_DL_CLOSED_BY);
    if (d.closed_by && (d.closed_by->type != MSGPACK_OBJECT_ARRAY ||
                        d.closed_by->via.array.size > WORKER_RESULT_CLOSED_BY_MAX))
        return false;

    d.track = s_true(worker_result_get(entry, WORKER_RESULT_DL_TRACK));
    d.rule = s_text(worker_result_get(entry, WORKER_RESULT_DL_RULE), WORKER_RESULT_TEXT_MAX);
    d.basis = s_text(worker_result_get(entry, WORKER_RESULT_DL_BASIS), WORKER_RESULT_TEXT_MAX);
    d.subject = s_text(worker_result_get(entry, WORKER_RESULT_DL_SUBJECT), ENVELOPE_SUBJECT_MAX);
    *ret = d;
    return true;
}

const msgpack_object *
worker_result_deadlines(const msgpack_object *result)
{
    const msgpack_object *list = worker_result_get(result, WORKER_RESULT_DEADLINES);
    return list && list->type == MSGPACK_OBJECT_ARRAY ? list : NULL;
}

bool
worker_result_tracks(const msgpack_object *result)
{
    const msgpack_object *list = worker_result_deadlines(result);
    for (uint32_t i = 0; list && i < list->via.array.size; i++)
        if (s_true(worker_result_get(&list->via.array.ptr[i], WORKER_RESULT_DL_TRACK)))
            return true;
    return false;
}
