#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/page_prefill.h"

/* Small enough that the kernel's forced read (readahead off) caches it page by page. */
#define READ_CHUNK ((size_t)64 << 10)
/* Read between two looks at the target, so that a new one is seen soon. */
#define READ_BITE ((uint64_t)1 << 20)
/* The file is extended this much past the target at a time, not at every call. */
#define EXTEND_BY ((uint64_t)64 << 20)

static uint64_t
s_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void *
s_reader_main(void *arg)
{
    struct page_prefill *p = arg;
    sigset_t all;
    /* Signals are the loop thread's business. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && p->filled >= p->target)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        uint64_t from = p->filled, to = s_min(p->target, from + READ_BITE);
        pthread_mutex_unlock(&p->mu);
        uint64_t at = from;
        while (at < to) {
            size_t n = (size_t)s_min(to - at, READ_CHUNK);
            if (pread(p->fd, p->sink, n, (off_t)at) <= 0)
                break;
            at += n;
        }
        pthread_mutex_lock(&p->mu);
        /* A failed read gives up on the rest of this target, not on the next. */
        if (at < to)
            at = p->target;
        if (p->filled < at)
            p->filled = at;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void
page_prefill_open(struct page_prefill *p, const char *path)
{
    struct stat st;

    *p = (struct page_prefill){.fd = open(path, O_RDWR | O_CLOEXEC)};
    if (p->fd < 0)
        return;
    p->sink = malloc(READ_CHUNK);
    /* FMODE_RANDOM: a read caches exactly the pages asked for, each in its own folio. */
    if (!p->sink || posix_fadvise(p->fd, 0, 0, POSIX_FADV_RANDOM) != 0 || fstat(p->fd, &st) != 0)
        goto out_off;
    p->size = (uint64_t)st.st_size;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, s_reader_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        goto out_off;
    }
    pthread_setname_np(p->thread, "page-prefill");
    p->running = true;
    return;

out_off:
    page_prefill_close(p);
}

void
page_prefill_close(struct page_prefill *p)
{
    if (p->running) {
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->fd >= 0)
        close(p->fd);
    free(p->sink);
    *p = (struct page_prefill){.fd = -1};
}

void
page_prefill_ahead(struct page_prefill *p, uint64_t used, uint64_t limit)
{
    if (!p->running)
        return;
    uint64_t to = s_min(used + PAGE_PREFILL_AHEAD, limit);
    if (p->size < to) {
        uint64_t size = s_min(to + EXTEND_BY, limit);
        if (ftruncate(p->fd, (off_t)size) != 0)
            return;
        p->size = size;
    }
    pthread_mutex_lock(&p->mu);
    /* What LMDB wrote past the reads is cached already: start from there. */
    if (p->filled < used)
        p->filled = used;
    if (p->target < to) {
        p->target = to;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

uint64_t
page_prefill_wait(struct page_prefill *p)
{
    if (!p->running)
        return 0;
    pthread_mutex_lock(&p->mu);
    while (p->filled < p->target)
        pthread_cond_wait(&p->cv, &p->mu);
    uint64_t filled = p->filled;
    pthread_mutex_unlock(&p->mu);
    return filled;
}
