/*
 * page_prefill: the region ahead is extended sparsely and read, never
 * written, by a thread of its own; it keeps PAGE_PREFILL_AHEAD past LMDB,
 * stops at the limit, leaves the bytes before it alone, stops its thread at
 * close; and a page rewritten in a region LMDB wrote in one
 * pwritev is written back alone (where the kernel caches in large folios,
 * the same rewrite without the prefill costs the whole folio).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon/page_prefill.h"
#include "tests/support/daemon_harness.h"

#define PAGE  4096
#define MIB   ((uint64_t)1 << 20)
#define LIMIT ((uint64_t)256 << 20)

static char s_dir[256], s_path[300];

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "page-prefill"), 0);
    snprintf(s_path, sizeof s_path, "%s/data.mdb", s_dir);
}

static void
s_teardown(void)
{
    harness_rm_rf(s_dir);
}

/* A file of n pages, page i filled with the byte i + 1, in one write. */
static void
s_write_pages(unsigned n)
{
    char *buf = malloc((size_t)n * PAGE);
    for (unsigned i = 0; i < n; i++)
        memset(buf + (size_t)i * PAGE, (int)(i + 1), PAGE);
    int fd = open(s_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, buf, (size_t)n * PAGE, 0), (ssize_t)n * PAGE);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    free(buf);
}

static struct stat
s_stat(void)
{
    struct stat st;
    cr_assert_eq(stat(s_path, &st), 0);
    return st;
}

/* This process's write_bytes (/proc/self/io): what it dirtied, whole folios. */
static uint64_t
s_write_bytes(void)
{
    char *io = harness_read_file("/proc/self/io");
    cr_assert_not_null(io);
    const char *at = strstr(io, "write_bytes: ");
    cr_assert_not_null(at);
    uint64_t v = strtoull(at + 13, NULL, 10);
    free(io);
    return v;
}

TestSuite(page_prefill, .init = s_setup, .fini = s_teardown);

Test(page_prefill, a_missing_file_turns_the_hint_off)
{
    struct page_prefill p;
    page_prefill_open(&p, s_path);
    cr_expect_eq(p.fd, -1);
    cr_expect_not(p.running, "no thread for a hint that is off");
    page_prefill_ahead(&p, 3 * PAGE, LIMIT); /* nothing to do, nothing created */
    cr_expect_eq(page_prefill_wait(&p), 0);
    cr_expect_neq(access(s_path, F_OK), 0);
    page_prefill_close(&p);
    page_prefill_close(&p); /* twice is harmless */
}

Test(page_prefill, extends_sparsely_reads_ahead_and_changes_no_byte)
{
    s_write_pages(3);
    struct stat before = s_stat();
    struct page_prefill p;
    page_prefill_open(&p, s_path);
    cr_assert_geq(p.fd, 0);
    cr_assert(p.running);

    page_prefill_ahead(&p, 3 * PAGE, LIMIT);
    cr_expect_eq(page_prefill_wait(&p), 3 * PAGE + PAGE_PREFILL_AHEAD);
    struct stat after = s_stat();
    cr_expect_geq((uint64_t)after.st_size, 3 * PAGE + PAGE_PREFILL_AHEAD,
                  "the file covers the region read");
    cr_expect_leq((uint64_t)after.st_size, LIMIT);
    cr_expect_eq(after.st_blocks, before.st_blocks, "no block allocated: %lld then %lld",
                 (long long)before.st_blocks, (long long)after.st_blocks);

    /* LMDB grew by 2 pages: the reads follow, no further than the distance ahead. */
    page_prefill_ahead(&p, 5 * PAGE, LIMIT);
    cr_expect_eq(page_prefill_wait(&p), 5 * PAGE + PAGE_PREFILL_AHEAD);
    page_prefill_ahead(&p, 5 * PAGE, LIMIT);
    cr_expect_eq(page_prefill_wait(&p), 5 * PAGE + PAGE_PREFILL_AHEAD);
    /* LMDB past the region read (a large commit): the reads go on from there. */
    page_prefill_ahead(&p, 40 * MIB, LIMIT);
    cr_expect_eq(page_prefill_wait(&p), 40 * MIB + PAGE_PREFILL_AHEAD);
    cr_expect_eq(s_stat().st_blocks, before.st_blocks);
    page_prefill_close(&p);
    cr_expect_not(p.running, "closed: the thread is gone");

    /* The pages written before are as they were; the rest reads as zeros. */
    int fd = open(s_path, O_RDONLY);
    char page[PAGE], want[PAGE];
    for (unsigned i = 0; i < 3; i++) {
        memset(want, (int)(i + 1), PAGE);
        cr_assert_eq(pread(fd, page, PAGE, (off_t)i * PAGE), PAGE);
        cr_expect_eq(memcmp(page, want, PAGE), 0, "page %u changed", i);
    }
    memset(want, 0, PAGE);
    cr_assert_eq(pread(fd, page, PAGE, 3 * PAGE), PAGE);
    cr_expect_eq(memcmp(page, want, PAGE), 0);
    close(fd);
}

Test(page_prefill, never_reads_or_extends_past_the_limit)
{
    s_write_pages(2);
    struct page_prefill p;
    page_prefill_open(&p, s_path);
    uint64_t limit = 2 * PAGE + 5 * PAGE;
    page_prefill_ahead(&p, 2 * PAGE, limit);
    cr_expect_eq(page_prefill_wait(&p), limit);
    cr_expect_eq((uint64_t)s_stat().st_size, limit);
    /* At the limit already: nothing more. */
    page_prefill_ahead(&p, limit, limit);
    cr_expect_eq(page_prefill_wait(&p), limit);
    cr_expect_eq((uint64_t)s_stat().st_size, limit);
    page_prefill_close(&p);
}

/*
 * How many bytes one rewritten page costs at its fsync, in a region first
 * written the way LMDB writes a commit's new pages: one pwritev of 64
 * contiguous pages, here at an index a 256 KiB folio may start at.
 */
static uint64_t
s_rewrite_cost(bool prefill)
{
    s_write_pages(64);
    struct page_prefill p;
    page_prefill_open(&p, s_path);
    if (prefill) {
        page_prefill_ahead(&p, 64 * PAGE, LIMIT);
        page_prefill_wait(&p);
    }
    int fd = open(s_path, O_RDWR);
    static char run[64][PAGE];
    struct iovec iov[64];
    for (int i = 0; i < 64; i++)
        iov[i] = (struct iovec){.iov_base = run[i], .iov_len = PAGE};
    cr_assert_eq(pwritev(fd, iov, 64, 64 * PAGE), 64 * PAGE);
    cr_assert_eq(fdatasync(fd), 0);
    uint64_t before = s_write_bytes();
    char page[PAGE];
    memset(page, 0x5a, PAGE);
    cr_assert_eq(pwrite(fd, page, PAGE, 100 * PAGE), PAGE);
    cr_assert_eq(fdatasync(fd), 0);
    uint64_t cost = s_write_bytes() - before;
    close(fd);
    page_prefill_close(&p);
    unlink(s_path);
    return cost;
}

Test(page_prefill, a_rewritten_page_is_written_back_alone)
{
    uint64_t without = s_rewrite_cost(false), with = s_rewrite_cost(true);
    cr_log_info("one rewritten page: %llu bytes without the prefill, %llu with",
                (unsigned long long)without, (unsigned long long)with);
    cr_expect_leq(with, 2 * PAGE, "%llu bytes for one page (%llu without the prefill)",
                  (unsigned long long)with, (unsigned long long)without);
}
