/*
 * config_diff: see config_diff.h. The record's fields are one table
 * (s_fields[]), which packing, describing, emptiness and release all walk,
 * so a field added to struct config_diff is added there once. The
 * restart-only keys are another (s_restart_only[]): compared and copied
 * back by kind, named as the config's errors name them.
 *
 * Allocation failure aborts (common/alloc.h), as the config's loading does.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "config/config_diff.h"
#include "proto/audit_record.h"

/* ------------------------------------------------------------------------ */
/* The record's fields. */

#define FIELD(m) offsetof(struct config_diff, m)

struct field {
    const char *name;  /* the record's key */
    const char *group; /* what the log line calls it; one group, one clause */
    const char *sign;  /* before each name in the log line: "+", "-", "~" or "" */
    bool flag;         /* a bool, else a struct config_diff_names */
    size_t offset;
};

static const struct field s_fields[] = {
    {"areas_added", "areas", "+", false, FIELD(areas_added)},
    {"areas_removed", "areas", "-", false, FIELD(areas_removed)},
    {"areas_changed", "areas", "~", false, FIELD(areas_changed)},
    {"sources_added", "sources", "+", false, FIELD(sources_added)},
    {"sources_removed", "sources", "-", false, FIELD(sources_removed)},
    {"sources_changed", "sources", "~", false, FIELD(sources_changed)},
    {"source_keys_added", "source keys", "+", false, FIELD(source_keys_added)},
    {"source_keys_removed", "source keys", "-", false, FIELD(source_keys_removed)},
    {"worker_keys_added", "worker keys", "+", false, FIELD(worker_keys_added)},
    {"worker_keys_removed", "worker keys", "-", false, FIELD(worker_keys_removed)},
    {"workers_changed", "worker sections", "~", false, FIELD(workers_changed)},
    {"catalogue", "catalogue changed", "", true, FIELD(catalogue)},
    {"calendars", "calendars changed", "", true, FIELD(calendars)},
    {"asset_registry", "asset registry changed", "", true, FIELD(asset_registry)},
    {"delivery", "delivery changed", "", true, FIELD(delivery)},
    {"restart_needed", "restart needed for", "", false, FIELD(restart_needed)},
};

#define NFIELDS (sizeof s_fields / sizeof s_fields[0])

static struct config_diff_names *
s_names(struct config_diff *d, const struct field *f)
{
    return (struct config_diff_names *)((char *)d + f->offset);
}

static const struct config_diff_names *
s_cnames(const struct config_diff *d, const struct field *f)
{
    return (const struct config_diff_names *)((const char *)d + f->offset);
}

static bool
s_flag(const struct config_diff *d, const struct field *f)
{
    return *(const bool *)((const char *)d + f->offset);
}

/* Whether the field goes into the record: a true flag, a non-empty list. */
static bool
s_present(const struct config_diff *d, const struct field *f)
{
    return f->flag ? s_flag(d, f) : s_cnames(d, f)->n > 0;
}

static void
s_add(struct config_diff_names *l, const char *name)
{
    l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
    l->v[l->n++] = xstrdup(name);
}

static bool
s_has(const struct config_diff_names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static void
s_clear(struct config_diff_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Comparing sections. */

/* Globs and area lists as sets: their order changes neither routing (an
 * area takes a type if any of its globs matches) nor permissions. */
static bool
s_same_set(char *const *a, size_t na, char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j]) != 0)
            j++;
        if (j == nb)
            return false;
    }
    for (size_t j = 0; j < nb; j++) {
        size_t i = 0;
        while (i < na && strcmp(a[i], b[j]) != 0)
            i++;
        if (i == na)
            return false;
    }
    return true;
}

static bool
s_area_same(const void *va, const void *vb)
{
    const struct area_conf *a = va, *b = vb;
    return strcmp(a->unit, b->unit) == 0 && strcmp(a->triage_unit, b->triage_unit) == 0 &&
           s_same_set(a->types, a->ntypes, b->types, b->ntypes) && a->workers == b->workers &&
           a->spawn == b->spawn && a->credit == b->credit;
}

static bool
s_source_same(const void *va, const void *vb)
{
    const struct source_conf *a = va, *b = vb;
    return s_same_set(a->allow, a->nallow, b->allow, b->nallow) && a->rate == b->rate &&
           a->burst == b->burst;
}

static bool
s_worker_same(const void *va, const void *vb)
{
    const struct worker_conf *a = va, *b = vb;
    return s_same_set(a->areas, a->nareas, b->areas, b->nareas);
}

/* Sections of one kind, an array of structs that start with their name. */
struct sections {
    const void *base;
    size_t n, stride;
};

static_assert(offsetof(struct area_conf, name) == 0, "sections start with their name");
static_assert(offsetof(struct source_conf, name) == 0, "sections start with their name");
static_assert(offsetof(struct worker_conf, name) == 0, "sections start with their name");

static const void *
s_section_at(const struct sections *s, size_t i)
{
    return (const char *)s->base + i * s->stride;
}

static const char *
s_section_name(const struct sections *s, size_t i)
{
    return *(char *const *)s_section_at(s, i);
}

static const void *
s_section_find(const struct sections *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s_section_name(s, i), name) == 0)
            return s_section_at(s, i);
    return NULL;
}

/* Added and changed in new's order, then removed in old's. */
static void
s_diff_sections(const struct sections *old, const struct sections *new,
                bool (*same)(const void *, const void *), struct config_diff_names *added,
                struct config_diff_names *removed, struct config_diff_names *changed)
{
    for (size_t i = 0; i < new->n; i++) {
        const char *name = s_section_name(new, i);
        const void *was = s_section_find(old, name);
        if (!was)
            s_add(added, name);
        else if (!same(was, s_section_at(new, i)))
            s_add(changed, name);
    }
    for (size_t i = 0; i < old->n; i++)
        if (!s_section_find(new, s_section_name(old, i)))
            s_add(removed, s_section_name(old, i));
}

#define SECTIONS(cfg, arr, count)                                                                  \
    {                                                                                              \
        (cfg)->arr, (cfg)->count, sizeof *(cfg)->arr                                               \
    }

/* ------------------------------------------------------------------------ */
/* Key rings. */

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of from's keys that to lacks or holds with other key bytes,
 * sorted by name (a ring is sorted by key, which reads as noise). */
static void
s_ring_missing(const struct keyring *from, const struct keyring *to, struct config_diff_names *out)
{
    for (size_t i = 0; from && i < from->n; i++) {
        const struct keyring_entry *e = &from->entries[i];
        const struct keyring_entry *o = to ? keyring_find_name(to, e->name) : NULL;
        if (!o || memcmp(o->key, e->key, sizeof e->key) != 0)
            s_add(out, e->name);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, s_strcmp_p);
}

static void
s_diff_keys(const struct mandated_config *old, const struct mandated_config *new,
            struct config_diff *d)
{
    s_clear(&d->source_keys_added);
    s_clear(&d->source_keys_removed);
    s_clear(&d->worker_keys_added);
    s_clear(&d->worker_keys_removed);
    if (!old->keys.loaded || !new->keys.loaded)
        return;
    s_ring_missing(new->keys.sources, old->keys.sources, &d->source_keys_added);
    s_ring_missing(old->keys.sources, new->keys.sources, &d->source_keys_removed);
    s_ring_missing(new->keys.workers, old->keys.workers, &d->worker_keys_added);
    s_ring_missing(old->keys.workers, new->keys.workers, &d->worker_keys_removed);
}

static struct keyring *
s_keyring_dup(const struct keyring *k)
{
    struct keyring *c = xcalloc(1, sizeof *c);
    c->dir = xstrdup(k->dir);
    c->n = k->n;
    c->entries = xcalloc(k->n ? k->n : 1, sizeof *c->entries);
    if (k->n)
        memcpy(c->entries, k->entries, k->n * sizeof *c->entries);
    return c;
}

/* A ring follows the CURVE switch that runs: none while it is off, and
 * old's if it stays on but new's file turned it off (new read no ring). */
static void
s_ring_follow(struct keyring **ring, const struct keyring *old_ring, bool on)
{
    if (!on)
        keyring_destroy(ring);
    else if (!*ring && old_ring)
        *ring = s_keyring_dup(old_ring);
}

/* ------------------------------------------------------------------------ */
/* The diff. */

void
config_diff_compute(const struct mandated_config *old, const struct mandated_config *new,
                    struct config_diff *d)
{
    memset(d, 0, sizeof *d);

    struct sections oa = SECTIONS(old, areas, nareas), na = SECTIONS(new, areas, nareas);
    s_diff_sections(&oa, &na, s_area_same, &d->areas_added, &d->areas_removed, &d->areas_changed);
    struct sections os = SECTIONS(old, sources, nsources), ns = SECTIONS(new, sources, nsources);
    s_diff_sections(&os, &ns, s_source_same, &d->sources_added, &d->sources_removed,
                    &d->sources_changed);
    /* A [worker] section added, removed or changed: one list, as the
     * record has it. */
    struct sections ow = SECTIONS(old, workers, nworkers), nw = SECTIONS(new, workers, nworkers);
    s_diff_sections(&ow, &nw, s_worker_same, &d->workers_changed, &d->workers_changed,
                    &d->workers_changed);
    s_diff_keys(old, new, d);

    d->catalogue = (!old->catalogue) != (!new->catalogue) ||
                   (old->catalogue && memcmp(old->catalogue->digest, new->catalogue->digest,
                                             sizeof old->catalogue->digest) != 0);
    d->calendars =
        (!old->calendar) != (!new->calendar) ||
        (old->calendar && memcmp(calendar_digest(old->calendar), calendar_digest(new->calendar),
                                 CALENDAR_DIGEST_LEN) != 0);
    d->asset_registry = (!old->assets) != (!new->assets) ||
                        (old->assets && memcmp(old->assets->digest, new->assets->digest,
                                               sizeof old->assets->digest) != 0);
    /* [delivery] holds plain unsigned numbers only, set into zeroed memory. */
    d->delivery = memcmp(&old->delivery, &new->delivery, sizeof old->delivery) != 0;
}

bool
config_diff_empty(const struct config_diff *d)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (s_present(d, &s_fields[i]))
            return false;
    return true;
}

unsigned
config_diff_pack(const struct config_diff *d, msgpack_packer *pk)
{
    unsigned pairs = 0;
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &s_fields[i];
        if (!s_present(d, f))
            continue;
        audit_pack_key(pk, f->name);
        if (f->flag) {
            msgpack_pack_true(pk);
        } else {
            const struct config_diff_names *l = s_cnames(d, f);
            msgpack_pack_array(pk, l->n);
            for (size_t j = 0; j < l->n; j++)
                audit_pack_str(pk, l->v[j]);
        }
        pairs++;
    }
    return pairs;
}

/* Appends to buf as snprintf would, keeping *len at most size - 1. */
static void s_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

void
config_diff_describe(const struct config_diff *d, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    size_t len = 0;
    const char *group = NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &s_fields[i];
        if (!s_present(d, f))
            continue;
        if (!group || strcmp(group, f->group) != 0)
            s_append(buf, size, &len, "%s%s", group ? "; " : "", f->group);
        group = f->group;
        const struct config_diff_names *l = f->flag ? NULL : s_cnames(d, f);
        for (size_t j = 0; l && j < l->n; j++)
            s_append(buf, size, &len, " %s%s", f->sign, l->v[j]);
    }
    if (!group)
        s_append(buf, size, &len, "nothing changed");
}

void
config_diff_release(struct config_diff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < NFIELDS; i++)
        if (!s_fields[i].flag)
            s_clear(s_names(d, &s_fields[i]));
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------------------ */
/* What a reload keeps. */

enum kind { K_STR, K_BOOL, K_DURABILITY, K_SIZE, K_UINT, K_U64 };

#define CFG(m) offsetof(struct mandated_config, m)

/* The keys bound at start: the sockets, the LMDB environment, the writer's
 * batch, and the CURVE settings the sockets were made with. */
static const struct {
    const char *name;
    enum kind kind;
    size_t offset;
} s_restart_only[] = {
    {"broker.ingress", K_STR, CFG(broker.ingress)},
    {"broker.workers", K_STR, CFG(broker.workers)},
    {"broker.http", K_STR, CFG(broker.http)},
    {"broker.state_dir", K_STR, CFG(broker.state_dir)},
    {"broker.durability", K_DURABILITY, CFG(broker.durability)},
    {"broker.max_event_bytes", K_SIZE, CFG(broker.max_event_bytes)},
    {"broker.commit_max_batch", K_UINT, CFG(broker.commit_max_batch)},
    {"broker.map_max_bytes", K_U64, CFG(broker.map_max_bytes)},
    {"broker.map_initial_bytes", K_U64, CFG(broker.map_initial_bytes)},
    {"broker.ids_in_memory", K_UINT, CFG(broker.ids_in_memory)},
    {"broker.ids_filter", K_UINT, CFG(broker.ids_filter)},
    {"security.curve", K_BOOL, CFG(security.curve)},
    {"security.workers_curve", K_BOOL, CFG(security.workers_curve)},
    {"security.server_secret_key", K_STR, CFG(security.server_secret_key)},
    {"security.server_public_key", K_STR, CFG(security.server_public_key)},
};

static size_t
s_kind_size(enum kind kind)
{
    switch (kind) {
    case K_STR:
        return sizeof(char *);
    case K_BOOL:
        return sizeof(bool);
    case K_DURABILITY:
        return sizeof(enum durability);
    case K_SIZE:
        return sizeof(size_t);
    case K_UINT:
        return sizeof(unsigned);
    case K_U64:
        return sizeof(uint64_t);
    }
    return 0;
}

/* Copies old's value into new if it differs; returns whether it did. */
static bool
s_keep(void *new_field, const void *old_field, enum kind kind)
{
    if (kind == K_STR) {
        char **n = new_field;
        const char *o = *(char *const *)old_field;
        if (strcmp(*n, o) == 0)
            return false;
        free(*n);
        *n = xstrdup(o);
        return true;
    }
    size_t size = s_kind_size(kind);
    if (memcmp(new_field, old_field, size) == 0)
        return false;
    memcpy(new_field, old_field, size);
    return true;
}

void
config_diff_keep_restart_only(struct mandated_config *new, const struct mandated_config *old,
                              struct config_diff *d)
{
    /* Before the switches are set back: whether each side read a server key. */
    bool new_server = new->security.curve || new->security.workers_curve;
    bool old_server = old->security.curve || old->security.workers_curve;

    for (size_t i = 0; i < sizeof s_restart_only / sizeof s_restart_only[0]; i++) {
        const char *name = s_restart_only[i].name;
        if (s_keep((char *)new + s_restart_only[i].offset,
                   (const char *)old + s_restart_only[i].offset, s_restart_only[i].kind) &&
            !s_has(&d->restart_needed, name))
            s_add(&d->restart_needed, name);
    }
    if (!old->keys.loaded)
        return;

    /* The same file name may now hold another pair: a restart takes it. */
    const char *secret = "security.server_secret_key";
    if (new->keys.loaded &&
        new_server &&old_server &&memcmp(new->keys.server.public_key, old->keys.server.public_key,
                                         sizeof old->keys.server.public_key) != 0 &&
        !s_has(&d->restart_needed, secret))
        s_add(&d->restart_needed, secret);
    curve_cert_clear(&new->keys.server);
    new->keys.server = old->keys.server;

    if (!new->keys.loaded)
        return;
    s_ring_follow(&new->keys.sources, old->keys.sources, new->security.curve);
    s_ring_follow(&new->keys.workers, old->keys.workers, new->security.workers_curve);
    s_diff_keys(old, new, d);
}
