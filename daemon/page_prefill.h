/*
 * page_prefill: keeps the page cache of the audit log's file ahead of what
 * LMDB has written in single-page folios.
 *
 * Why: kernels whose filesystem caches file data in large folios (ext4 from
 * Linux 6.16, XFS before 6.6) write a dirty folio back whole. LMDB writes a
 * commit's new pages with one pwritev per contiguous run, so the kernel
 * caches those runs in folios of 64 KiB and more; every later commit that
 * changes one 4 KiB page in them (the log's last page, a reused free page,
 * a random id's leaf in `ids`) makes its fsync write the whole folio: 15-20
 * times the bytes with random ids (bench/growth). Reading the region ahead
 * of LMDB, page by page through a descriptor with readahead off, puts one
 * zero page per index into the cache before LMDB writes there; its writes
 * then land in those pages and each dirty page is written back alone.
 *
 * The region is extended sparsely (ftruncate) and only read: no block is
 * allocated and nothing is written, so a full disk shows up exactly where
 * it would without this. Past LMDB's last page the file holds nothing LMDB
 * reads. The reads run on a thread of their own, so the writer thread only
 * sets a target: they take no time from a batch, and while the writer
 * waits on a commit's fsync they use the other core. Reading can never
 * change a byte, whatever LMDB writes at the same time; the one change to
 * the file, making it longer, is made by the caller, which the audit log
 * does only between two write transactions (before each begins), and the
 * file is only ever made longer. It is a cache hint: every failure is
 * ignored, and the log is as correct with it as without.
 */
#ifndef MANDATE_PAGE_PREFILL_H
#define MANDATE_PAGE_PREFILL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct page_prefill {
    int fd;        /* the data file, read with readahead off; -1 if unused */
    uint64_t size; /* the file's size as last set or seen; caller's thread */
    void *sink;    /* what the reads land in; reading thread */
    bool running;  /* the reading thread was started */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* target raised, progress made, or stopping */
    uint64_t target;   /* mu: read up to here */
    uint64_t filled;   /* mu: bytes from the start known to be cached */
    bool stopping;     /* mu */
};

/* Opens path for the hint and starts its reading thread; on failure the
 * hint is off (fd -1), nothing else. */
void page_prefill_open(struct page_prefill *p, const char *path);
/* Stops the reading thread; harmless on a hint that is off or closed. */
void page_prefill_close(struct page_prefill *p);
/*
 * used: the bytes LMDB's pages occupy now (last page + 1, times the page
 * size); limit: the map's size, past which LMDB never writes. Extends the
 * file if it must, then asks the reading thread to keep PAGE_PREFILL_AHEAD
 * bytes past used in the cache, and returns without waiting for it.
 */
void page_prefill_ahead(struct page_prefill *p, uint64_t used, uint64_t limit);
/* Waits until the reading thread has read up to its target (for tests);
 * returns the bytes known to be cached. */
uint64_t page_prefill_wait(struct page_prefill *p);

#define PAGE_PREFILL_AHEAD ((uint64_t)16 << 20)

#endif
