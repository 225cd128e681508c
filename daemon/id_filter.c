/*
 * id_filter: see id_filter.h. The build fills its own filter; the writer
 * takes it over at its first call after the build ended, adds the ids it
 * kept aside meanwhile, and from then on adds to it directly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <bloom.h>

#include "common/alloc.h"
#include "common/log.h"
#include "daemon/id_filter.h"

#define FALSE_POSITIVES  0.01
#define STOP_CHECK_EVERY 4096 /* ids the build adds between two looks at `stopping` */

enum filter_state { FILTER_BUILDING, FILTER_READY, FILTER_UNUSED };

struct id_filter {
    size_t capacity;
    struct bloom bloom; /* the build's until it ends, then the writer's */

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
    int rc = f->fill(f->fill_arg, f);
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
    if (capacity && capacity < ID_FILTER_CAPACITY_MIN)
        capacity = f->capacity = ID_FILTER_CAPACITY_MIN;
    if (capacity == 0 || capacity > ID_FILTER_CAPACITY_MAX ||
        bloom_init(&f->bloom, (int)capacity, FALSE_POSITIVES) != 0) {
        log_err("id filter: cannot size it for %zu ids", capacity);
        goto out_free;
    }
    if (pthread_create(&f->thread, NULL, s_build_main, f) != 0) {
        log_err("id filter: cannot start its build");
        bloom_free(&f->bloom);
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
    bloom_free(&f->bloom);
    pthread_mutex_destroy(&f->mu);
    free(f->aside);
    free(f);
    *f_p = NULL;
}

bool
id_filter_build_add(struct id_filter *f, const uint8_t id[16])
{
    bloom_add(&f->bloom, id, 16);
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
    bloom_add(&f->bloom, id, 16);
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

bool
id_filter_may_hold(struct id_filter *f, const uint8_t id[16])
{
    s_take_build(f);
    return f->state != FILTER_READY || bloom_check(&f->bloom, id, 16) != 0;
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
