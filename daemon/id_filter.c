/*
 * id_filter: see id_filter.h. The build fills its own filter; the writer
 * takes it over at its first call after the build ended, adds the ids it
 * kept aside meanwhile, and from then on adds to it directly.
 *
 * A blocked Bloom filter: an id sets and tests 8 bits of one 64-byte block,
 * one cache line, in memory backed by huge pages where the kernel has them,
 * so that an id costs one cache miss and no TLB miss. libbloom (Debian's
 * libbloom-dev) was measured first: its 7 bits an id in 7 lines across 19 MB
 * cost 0.7 µs an event under bench/ingest, 12 % of its throughput, whose
 * ascending ids it only adds and never saves a lookup for (bench/README,
 * "The id filter").
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/id_filter.h"

#define BITS_PER_ID      10 /* with 8 bits an id in 512-bit blocks: about 1 % false positives */
#define BLOCK_WORDS      8  /* 64 bytes */
#define HUGE_PAGE        ((size_t)2 << 20)
#define STOP_CHECK_EVERY 4096 /* ids the build adds between two looks at `stopping` */

/* The bits: nblocks blocks, the hash key of this process (ids are chosen by
 * publishers: a key they do not know keeps them from piling into a block). */
struct bits {
    uint64_t *w;
    size_t nblocks;
    unsigned char key[crypto_shorthash_KEYBYTES];
    /* The last id hashed: a claim asks for its block early (id_filter_prefetch),
     * then tests or sets it. One thread at a time, as for the bits. */
    uint8_t last_id[16];
    uint64_t last_hash;
    bool memo;
};

static bool
s_bits_init(struct bits *b, size_t capacity)
{
    b->nblocks = (capacity * BITS_PER_ID + 511) / 512;
    size_t align = b->nblocks * 64 < HUGE_PAGE ? 64 : HUGE_PAGE;
    size_t bytes = (b->nblocks * 64 + align - 1) / align * align;
    b->w = aligned_alloc(align, bytes);
    if (!b->w)
        return false;
    /* Touched now, at the start: the memory it takes does not grow later. */
    madvise(b->w, bytes, MADV_HUGEPAGE);
    memset(b->w, 0, bytes);
    randombytes_buf(b->key, sizeof b->key);
    return true;
}

static uint64_t
s_hash(struct bits *b, const uint8_t id[16])
{
    if (!b->memo || memcmp(id, b->last_id, 16) != 0) {
        crypto_shorthash((unsigned char *)&b->last_hash, id, 16, b->key);
        memcpy(b->last_id, id, 16);
        b->memo = true;
    }
    return b->last_hash;
}

/* The id's block, and in a and step the first of its 8 bits and the distance between them. */
static uint64_t *
s_block(struct bits *b, const uint8_t id[16], unsigned *a, unsigned *step)
{
    uint64_t h = s_hash(b, id);
    *a = (unsigned)h & 511;
    *step = ((unsigned)(h >> 9) & 511) | 1; /* odd: the 8 bits differ */
    return b->w + BLOCK_WORDS * (size_t)(((h >> 32) * (uint64_t)b->nblocks) >> 32);
}

static void
s_bits_add(struct bits *b, const uint8_t id[16])
{
    unsigned a, step;
    uint64_t *blk = s_block(b, id, &a, &step);
    for (unsigned i = 0; i < 8; i++, a = (a + step) & 511)
        blk[a >> 6] |= (uint64_t)1 << (a & 63);
}

static bool
s_bits_test(struct bits *b, const uint8_t id[16])
{
    unsigned a, step;
    const uint64_t *blk = s_block(b, id, &a, &step);
    for (unsigned i = 0; i < 8; i++, a = (a + step) & 511)
        if (!(blk[a >> 6] & ((uint64_t)1 << (a & 63))))
            return false;
    return true;
}

enum filter_state { FILTER_BUILDING, FILTER_READY, FILTER_UNUSED };

struct id_filter {
    size_t capacity;
    struct bits bits; /* the build's until it ends, then the writer's */

    pthread_t thread;
    bool joined;
    id_filter_fill_fn fill;
    void *fill_arg;
    size_t build_added; /* the build thread's own count */

    pthread_mutex_t mu; /* guards the three below */
    bool stopping;
    bool built;
    int build_rc;

    /* The writer's. */
    enum filter_state state;
    uint8_t (*aside)[16]; /* put into `ids` while the build ran */
    size_t naside, cap_aside;
    size_t count;
    bool said_full;
};

static void *
s_build_main(void *arg)
{
    struct id_filter *f = arg;
    sigset_t all;
    /* Signals are the loop thread's business. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint64_t t0 = monotonic_ns();
    int rc = f->fill(f->fill_arg, f);
    if (rc == 0)
        log_info("id filter: built from the %zu ids in `ids` in %llu ms (sized for %zu)",
                 f->build_added, (unsigned long long)((monotonic_ns() - t0) / 1000000),
                 f->capacity);
    pthread_mutex_lock(&f->mu);
    f->built = true;
    f->build_rc = rc;
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct id_filter *
id_filter_new(size_t capacity, id_filter_fill_fn fill, void *arg)
{
    struct id_filter *f = xcalloc(1, sizeof *f);
    f->capacity = capacity;
    f->fill = fill;
    f->fill_arg = arg;
    f->joined = true;
    pthread_mutex_init(&f->mu, NULL);
    if (capacity == 0 || capacity > ID_FILTER_CAPACITY_MAX || sodium_init() < 0 ||
        !s_bits_init(&f->bits, capacity)) {
        log_err("id filter: cannot size it for %zu ids", capacity);
        goto out_free;
    }
    if (pthread_create(&f->thread, NULL, s_build_main, f) != 0) {
        log_err("id filter: cannot start its build");
        free(f->bits.w);
        goto out_free;
    }
    pthread_setname_np(f->thread, "id-filter");
    f->joined = false;
    return f;

out_free:
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
}

static void
s_join(struct id_filter *f)
{
    if (!f->joined)
        pthread_join(f->thread, NULL);
    f->joined = true;
}

void
id_filter_destroy(struct id_filter **f_p)
{
    struct id_filter *f = *f_p;
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_mutex_unlock(&f->mu);
    s_join(f);
    free(f->bits.w);
    pthread_mutex_destroy(&f->mu);
    free(f->aside);
    free(f);
    *f_p = NULL;
}

bool
id_filter_build_add(struct id_filter *f, const uint8_t id[16])
{
    s_bits_add(&f->bits, id);
    if (++f->build_added % STOP_CHECK_EVERY)
        return true;
    pthread_mutex_lock(&f->mu);
    bool stop = f->stopping;
    pthread_mutex_unlock(&f->mu);
    return !stop;
}

static void
s_add(struct id_filter *f, const uint8_t id[16])
{
    s_bits_add(&f->bits, id);
    if (++f->count > f->capacity && !f->said_full) {
        f->said_full = true;
        log_notice("id filter: it now holds more ids than the %zu it was sized for, so more "
                   "new ids are looked up in `ids`; the next start sizes it for twice the ids "
                   "held (or raise [broker] ids_filter)",
                   f->capacity);
    }
}

/* The writer takes over a build that has ended. */
static void
s_take_build(struct id_filter *f)
{
    if (f->state != FILTER_BUILDING)
        return;
    pthread_mutex_lock(&f->mu);
    bool built = f->built;
    int rc = f->build_rc;
    pthread_mutex_unlock(&f->mu);
    if (!built)
        return;
    s_join(f);
    if (rc < 0) {
        log_err("id filter: its build failed (%s); new ids are looked up in `ids` instead",
                strerror(-rc));
        f->state = FILTER_UNUSED;
    } else {
        f->state = FILTER_READY;
        f->count = f->build_added;
        for (size_t i = 0; i < f->naside; i++)
            s_add(f, f->aside[i]);
    }
    free(f->aside);
    f->aside = NULL;
    f->naside = f->cap_aside = 0;
}

void
id_filter_add(struct id_filter *f, const uint8_t id[16])
{
    s_take_build(f);
    if (f->state == FILTER_READY) {
        s_add(f, id);
    } else if (f->state == FILTER_BUILDING) {
        if (f->naside == f->cap_aside) {
            f->cap_aside = f->cap_aside ? f->cap_aside * 2 : 1024;
            f->aside = xreallocarray(f->aside, f->cap_aside, sizeof *f->aside);
        }
        memcpy(f->aside[f->naside++], id, 16);
    }
}

void
id_filter_prefetch(struct id_filter *f, const uint8_t id[16])
{
    unsigned a, step;
    if (f->state == FILTER_READY)
        __builtin_prefetch(s_block(&f->bits, id, &a, &step), 1);
}

bool
id_filter_may_hold(struct id_filter *f, const uint8_t id[16])
{
    s_take_build(f);
    return f->state != FILTER_READY || s_bits_test(&f->bits, id);
}

bool
id_filter_ready(struct id_filter *f)
{
    s_take_build(f);
    return f->state == FILTER_READY;
}

size_t
id_filter_count(const struct id_filter *f)
{
    return f->state == FILTER_READY ? f->count : 0;
}

int
id_filter_wait(struct id_filter *f)
{
    s_join(f);
    s_take_build(f);
    /* Joined: the build's result needs no lock. */
    return f->state == FILTER_READY ? 0 : f->build_rc;
}
