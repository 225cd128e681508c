/*
 * id_memtable: recent event ids in an open-addressing hash (SipHash with a
 * key of this process, so that ids chosen by a publisher cannot pile into
 * one probe run), each also on its key range's list in seq order, for the
 * sweep (daemon/id_memtable.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/alloc.h"
#include "daemon/id_memtable.h"

#define NONE          UINT32_MAX
#define SLOTS_INITIAL 4096

struct entry {
    uint8_t id[16];
    uint64_t seq;
    uint32_t next; /* on its range's list, or the free list */
    uint32_t hash; /* s_hash(id) */
};

/* A slot's tag: 31 bits of the hash, and whether the entry is committed. */
#define HASH_BITS 0x7fffffffu
#define COMMITTED 0x80000000u

/* Where the sweep is; the batch's start keeps a copy for an abort. */
struct sweep {
    bool started;
    unsigned range;
    uint64_t arrival;     /* the range's ids below this seq are taken */
    uint64_t start;       /* the first seq not covered by the sweep in progress */
    uint64_t prune_below; /* ids_new below this seq is all in `ids` */
};

struct id_memtable {
    pthread_mutex_t lock; /* other threads' lookups against the writer's changes */
    unsigned char key[crypto_shorthash_KEYBYTES];

    struct entry *e;
    uint32_t ecap, eused, free_head;

    /* An entry's index + 1 (0: empty) and its tag: a probe compares the hash
     * bits before it reads an entry, and a move needs no rehash. */
    struct slot {
        uint32_t entry;
        uint32_t tag;
    } * slot;
    size_t mask, count;
    /* The writer looks an id up, then adds it: the second hash is the first's. */
    uint8_t last_id[16];
    uint32_t last_hash;

    uint32_t head[ID_MEMTABLE_RANGES], tail[ID_MEMTABLE_RANGES];
    struct sweep sweep, saved;
    uint64_t batch_first; /* the open batch's first seq */
    uint64_t gen;

    uint32_t *added, *taken;
    size_t nadded, cap_added, ntaken, cap_taken;
    struct id_memtable_item *items;
    size_t cap_items;
};

/* The writer alone calls this (other threads hash for themselves), so the memo needs no lock. */
static uint32_t
s_hash(struct id_memtable *mt, const uint8_t id[16])
{
    if (memcmp(id, mt->last_id, 16) == 0)
        return mt->last_hash;
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, id, 16, mt->key);
    memcpy(mt->last_id, id, 16);
    mt->last_hash = (uint32_t)h & HASH_BITS;
    return mt->last_hash;
}

static unsigned
s_range(const uint8_t id[16])
{
    return ((unsigned)id[0] << 4) | (id[1] >> 4);
}

struct id_memtable *
id_memtable_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    struct id_memtable *mt = xcalloc(1, sizeof *mt);
    pthread_mutex_init(&mt->lock, NULL);
    randombytes_buf(mt->key, sizeof mt->key);
    uint64_t h; /* the memo starts true: the all-zero id's hash */
    crypto_shorthash((unsigned char *)&h, mt->last_id, 16, mt->key);
    mt->last_hash = (uint32_t)h & HASH_BITS;
    mt->slot = xcalloc(SLOTS_INITIAL, sizeof *mt->slot);
    mt->mask = SLOTS_INITIAL - 1;
    mt->free_head = NONE;
    for (unsigned r = 0; r < ID_MEMTABLE_RANGES; r++)
        mt->head[r] = mt->tail[r] = NONE;
    return mt;
}

void
id_memtable_destroy(struct id_memtable **mt_p)
{
    struct id_memtable *mt = *mt_p;
    if (!mt)
        return;
    pthread_mutex_destroy(&mt->lock);
    free(mt->e);
    free(mt->slot);
    free(mt->added);
    free(mt->taken);
    free(mt->items);
    free(mt);
    *mt_p = NULL;
}

size_t
id_memtable_size(const struct id_memtable *mt)
{
    return mt->count;
}

/* The slot holding id (hash h), or the empty slot ending its probe run. */
static size_t
s_probe(const struct id_memtable *mt, const uint8_t id[16], uint32_t h)
{
    size_t i = h & mt->mask;
    for (; mt->slot[i].entry; i = (i + 1) & mt->mask)
        if ((mt->slot[i].tag & HASH_BITS) == h &&
            memcmp(mt->e[mt->slot[i].entry - 1].id, id, 16) == 0)
            break;
    return i;
}

bool
id_memtable_find(struct id_memtable *mt, const uint8_t id[16], uint64_t *ret_seq)
{
    uint32_t s = mt->slot[s_probe(mt, id, s_hash(mt, id))].entry;
    if (!s)
        return false;
    *ret_seq = mt->e[s - 1].seq;
    return true;
}

bool
id_memtable_find_committed(struct id_memtable *mt, const uint8_t id[16], uint64_t *ret_seq)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, id, 16, mt->key); /* not the writer's memo */
    pthread_mutex_lock(&mt->lock);
    const struct slot *sl = &mt->slot[s_probe(mt, id, (uint32_t)h & HASH_BITS)];
    bool found = sl->entry && (sl->tag & COMMITTED);
    if (found)
        *ret_seq = mt->e[sl->entry - 1].seq;
    pthread_mutex_unlock(&mt->lock);
    return found;
}

uint64_t
id_memtable_gen(struct id_memtable *mt)
{
    pthread_mutex_lock(&mt->lock);
    uint64_t g = mt->gen;
    pthread_mutex_unlock(&mt->lock);
    return g;
}

/* Doubles the slots; the lock is held. */
static void
s_grow_slots(struct id_memtable *mt)
{
    size_t old_n = mt->mask + 1, n = old_n * 2;
    struct slot *old = mt->slot;
    mt->slot = xcalloc(n, sizeof *mt->slot);
    mt->mask = n - 1;
    for (size_t j = 0; j < old_n; j++) {
        if (!old[j].entry)
            continue;
        size_t k = old[j].tag & HASH_BITS & mt->mask;
        while (mt->slot[k].entry)
            k = (k + 1) & mt->mask;
        mt->slot[k] = old[j];
    }
    free(old);
}

/* A new entry in the hash, on no list yet, or NONE if id is held already: each
 * id has one slot, which s_probe() and s_remove() rely on. The lock is held. */
static uint32_t
s_insert(struct id_memtable *mt, const uint8_t id[16], uint64_t seq, bool committed)
{
    if ((mt->count + 1) * 2 > mt->mask + 1)
        s_grow_slots(mt);
    uint32_t h = s_hash(mt, id);
    size_t at = s_probe(mt, id, h);
    if (mt->slot[at].entry)
        return NONE;
    uint32_t i = mt->free_head;
    if (i != NONE) {
        mt->free_head = mt->e[i].next;
    } else {
        if (mt->eused == mt->ecap) {
            mt->ecap = mt->ecap ? mt->ecap * 2 : 4096;
            mt->e = xreallocarray(mt->e, mt->ecap, sizeof *mt->e);
        }
        i = mt->eused++;
    }
    struct entry *e = &mt->e[i];
    memcpy(e->id, id, 16);
    e->seq = seq;
    e->next = NONE;
    e->hash = h;
    mt->slot[at] = (struct slot){.entry = i + 1, .tag = h | (committed ? COMMITTED : 0)};
    mt->count++;
    return i;
}

/* Takes entry i out of the hash and frees it (backward-shift deletion); the lock is held. */
static void
s_remove(struct id_memtable *mt, uint32_t i)
{
    size_t hole = s_probe(mt, mt->e[i].id, mt->e[i].hash);
    for (size_t j = (hole + 1) & mt->mask; mt->slot[j].entry; j = (j + 1) & mt->mask) {
        size_t home = mt->slot[j].tag & HASH_BITS & mt->mask;
        /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            mt->slot[hole] = mt->slot[j];
            hole = j;
        }
    }
    mt->slot[hole] = (struct slot){0};
    mt->e[i].next = mt->free_head;
    mt->free_head = i;
    mt->count--;
}

static void
s_list_append(struct id_memtable *mt, uint32_t i)
{
    unsigned r = s_range(mt->e[i].id);
    mt->e[i].next = NONE;
    if (mt->tail[r] == NONE)
        mt->head[r] = i;
    else
        mt->e[mt->tail[r]].next = i;
    mt->tail[r] = i;
}

bool
id_memtable_load(struct id_memtable *mt, const uint8_t id[16], uint64_t seq)
{
    pthread_mutex_lock(&mt->lock);
    uint32_t i = s_insert(mt, id, seq, true);
    if (i != NONE)
        s_list_append(mt, i);
    pthread_mutex_unlock(&mt->lock);
    return i != NONE;
}

void
id_memtable_begin(struct id_memtable *mt, uint64_t next_seq)
{
    mt->batch_first = next_seq;
    mt->saved = mt->sweep;
    mt->nadded = mt->ntaken = 0;
}

static void
s_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *v = xreallocarray(*v, *cap, sizeof **v);
    }
    (*v)[(*n)++] = x;
}

void
id_memtable_add(struct id_memtable *mt, const uint8_t id[16], uint64_t seq)
{
    pthread_mutex_lock(&mt->lock);
    uint32_t i = s_insert(mt, id, seq, false);
    pthread_mutex_unlock(&mt->lock);
    if (i != NONE) /* the caller looked first: it is not */
        s_push(&mt->added, &mt->nadded, &mt->cap_added, i);
}

static int
s_item_cmp(const void *a, const void *b)
{
    return memcmp(((const struct id_memtable_item *)a)->id,
                  ((const struct id_memtable_item *)b)->id, 16);
}

size_t
id_memtable_take(struct id_memtable *mt, size_t max, const struct id_memtable_item **ret_items)
{
    struct sweep *sw = &mt->sweep;
    size_t first = mt->ntaken, n = 0;
    if (!sw->started) {
        *sw = (struct sweep){.started = true, .arrival = mt->batch_first, .start = mt->batch_first};
    }
    /* Every committed id is below batch_first: one round of the ranges reaches them all. */
    for (unsigned visits = 0; n < max;) {
        uint32_t h = mt->head[sw->range];
        if (h != NONE && mt->e[h].seq < sw->arrival) {
            mt->head[sw->range] = mt->e[h].next;
            if (mt->head[sw->range] == NONE)
                mt->tail[sw->range] = NONE;
            s_push(&mt->taken, &mt->ntaken, &mt->cap_taken, h);
            n++;
            continue;
        }
        if (++visits > ID_MEMTABLE_RANGES)
            break;
        if (++sw->range == ID_MEMTABLE_RANGES) {
            sw->range = 0;
            sw->prune_below = sw->start;
            sw->start = mt->batch_first;
        }
        sw->arrival = mt->batch_first;
    }
    *ret_items = mt->items;
    if (n == 0)
        return 0;
    if (mt->cap_items < n) {
        mt->cap_items = n;
        mt->items = xreallocarray(mt->items, n, sizeof *mt->items);
    }
    for (size_t k = 0; k < n; k++) {
        const struct entry *e = &mt->e[mt->taken[first + k]];
        memcpy(mt->items[k].id, e->id, 16);
        mt->items[k].seq = e->seq;
    }
    qsort(mt->items, n, sizeof *mt->items, s_item_cmp);
    *ret_items = mt->items;
    return n;
}

uint64_t
id_memtable_prune_below(const struct id_memtable *mt)
{
    return mt->sweep.prune_below;
}

void
id_memtable_commit(struct id_memtable *mt)
{
    pthread_mutex_lock(&mt->lock);
    for (size_t k = 0; k < mt->nadded; k++) {
        const struct entry *e = &mt->e[mt->added[k]];
        mt->slot[s_probe(mt, e->id, e->hash)].tag |= COMMITTED;
        s_list_append(mt, mt->added[k]);
    }
    for (size_t k = 0; k < mt->ntaken; k++)
        s_remove(mt, mt->taken[k]);
    if (mt->ntaken)
        mt->gen++;
    pthread_mutex_unlock(&mt->lock);
    mt->nadded = mt->ntaken = 0;
    mt->saved = mt->sweep;
}

void
id_memtable_abort(struct id_memtable *mt)
{
    pthread_mutex_lock(&mt->lock);
    for (size_t k = mt->nadded; k-- > 0;)
        s_remove(mt, mt->added[k]);
    pthread_mutex_unlock(&mt->lock);
    /* Back at the front of their lists, in the order they were taken from it. */
    for (size_t k = mt->ntaken; k-- > 0;) {
        uint32_t i = mt->taken[k];
        unsigned r = s_range(mt->e[i].id);
        mt->e[i].next = mt->head[r];
        mt->head[r] = i;
        if (mt->tail[r] == NONE)
            mt->tail[r] = i;
    }
    mt->nadded = mt->ntaken = 0;
    mt->sweep = mt->saved;
}
