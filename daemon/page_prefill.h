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
 * reads, and the audit log calls this only between two write transactions
 * (before each begins), so LMDB writes there only after it has returned;
 * the file is only ever made longer. It is a cache hint: every failure is
 * ignored, and the log is as correct with it as without.
 */
#ifndef MANDATE_PAGE_PREFILL_H
#define MANDATE_PAGE_PREFILL_H

#include <stdint.h>

struct page_prefill {
    int fd;          /* the data file, read with readahead off; -1 if unused */
    uint64_t size;   /* the file's size as last set or seen */
    uint64_t used;   /* LMDB's bytes at the last call */
    uint64_t filled; /* bytes from the start already read into the cache */
    void *sink;      /* what the reads land in */
};

/* Opens path for the hint; on failure the hint is off (fd -1), nothing else. */
void page_prefill_open(struct page_prefill *p, const char *path);
void page_prefill_close(struct page_prefill *p);
/*
 * used: the bytes LMDB's pages occupy now (last page + 1, times the page
 * size); limit: the map's size, past which LMDB never writes. Keeps up to
 * PAGE_PREFILL_AHEAD bytes past used in the cache. One call reads what LMDB
 * grew by since the last one (at the first, all it holds) plus at most
 * PAGE_PREFILL_STEP, so that no commit waits for the whole distance at once.
 */
void page_prefill_ahead(struct page_prefill *p, uint64_t used, uint64_t limit);

#define PAGE_PREFILL_AHEAD ((uint64_t)16 << 20)
#define PAGE_PREFILL_STEP  ((uint64_t)1 << 20)

#endif
