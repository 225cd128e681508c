#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/page_prefill.h"

/* Small enough that the kernel's forced read (readahead off) caches it page by page. */
#define READ_CHUNK ((size_t)64 << 10)
/* The file is extended this much past the filled region at a time, not at every call. */
#define EXTEND_BY ((uint64_t)64 << 20)

static uint64_t
s_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
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
    if (!p->sink || posix_fadvise(p->fd, 0, 0, POSIX_FADV_RANDOM) != 0 || fstat(p->fd, &st) != 0) {
        page_prefill_close(p);
        return;
    }
    p->size = (uint64_t)st.st_size;
}

void
page_prefill_close(struct page_prefill *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->sink);
    *p = (struct page_prefill){.fd = -1};
}

void
page_prefill_ahead(struct page_prefill *p, uint64_t used, uint64_t limit)
{
    if (p->fd < 0)
        return;
    /* Behind LMDB (a commit larger than a step): what it wrote is cached already. */
    if (p->filled < used)
        p->filled = used;
    uint64_t grown = used > p->used ? used - p->used : 0;
    p->used = used;
    uint64_t to =
        s_min(s_min(used + PAGE_PREFILL_AHEAD, limit), p->filled + grown + PAGE_PREFILL_STEP);
    if (to <= p->filled)
        return;
    if (p->size < to) {
        uint64_t size = s_min(to + EXTEND_BY, limit);
        if (ftruncate(p->fd, (off_t)size) != 0)
            return;
        p->size = size;
    }
    while (p->filled < to) {
        size_t n = (size_t)s_min(to - p->filled, READ_CHUNK);
        if (pread(p->fd, p->sink, n, (off_t)p->filled) <= 0)
            return;
        p->filled += n;
    }
}
