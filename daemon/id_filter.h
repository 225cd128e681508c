/*
 * id_filter: which event ids the `ids` B-tree may hold, as a Bloom filter
 * in front of it (daemon/audit_log.h has the tables).
 *
 * Why: a new random id (UUIDv4) that is not in the memtable had to be looked
 * up in `ids` before it could be claimed, and once that table outgrows the
 * CPU's caches each lookup reads cold pages: in a 20-million-event run of
 * bench/growth the lookups took about 4.8 µs an event by the end, 40 % of
 * the broker's CPU. The filter answers "not held" for almost every new id (about
 * 1 % false positives at its size) from one cache line, and only a "maybe"
 * costs the lookup. A wrong "maybe" costs time; there is no wrong
 * "not held", which the invariant (ids deduplicated forever) rests on:
 * every id put into `ids` is added, and nothing is ever taken out.
 *
 * Memory only, rebuilt at every start from `ids` on a thread of its own,
 * so that a start does not wait on a scan of every id ever claimed. Until it
 * is ready every claim looks `ids` up, as without it, and the ids the
 * writer puts into `ids` meanwhile are kept aside and added once it is.
 * A build may see some of those as well: an id added twice changes nothing.
 *
 * Threads: the writer of the moment (the writer thread, or the loop thread
 * for a batch it writes itself: never both at once) calls everything but
 * id_filter_build_add(), which the build's fill function calls on the
 * filter's own thread.
 */
#ifndef MANDATE_ID_FILTER_H
#define MANDATE_ID_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 200 million ids take 250 MB. */
#define ID_FILTER_CAPACITY_MAX 200000000

struct id_filter;

/*
 * Fills the filter on its thread: id_filter_build_add() for every id `ids`
 * held when the filter was made (more does no harm). Returns 0, or -errno,
 * which leaves the filter unused for the process's life (every claim then
 * looks `ids` up). It returns early, with any value, once build_add says to
 * stop.
 */
typedef int (*id_filter_fill_fn)(void *arg, struct id_filter *f);

/* A filter sized for capacity ids, built by fill(arg); NULL if it cannot
 * start (capacity 0 or past the maximum among the reasons). */
struct id_filter *id_filter_new(size_t capacity, id_filter_fill_fn fill, void *arg);
/* Stops a build still running, waits for its thread and frees everything. */
void id_filter_destroy(struct id_filter **f_p);

/* The build's thread: id is held. False: stop, the filter is being destroyed. */
bool id_filter_build_add(struct id_filter *f, const uint8_t id[16]);

/* The writer: id has been put into `ids` (in the open batch: if it aborts, a
 * wrong "maybe" is all that is left). */
void id_filter_add(struct id_filter *f, const uint8_t id[16]);
/* Asks for id's part of the filter ahead of an add or a test of it, so that
 * the cache miss overlaps the work between. */
void id_filter_prefetch(struct id_filter *f, const uint8_t id[16]);
/* False only if `ids` surely does not hold id; true before the filter is ready. */
bool id_filter_may_hold(struct id_filter *f, const uint8_t id[16]);
/* Whether lookups are answered yet (a finished build is taken up here too). */
bool id_filter_ready(struct id_filter *f);
/* Ids the ready filter holds, counting an id added twice twice; 0 before. */
size_t id_filter_count(const struct id_filter *f);
/* Waits for the build to end and takes it up: 0, or its -errno. For tests
 * and benchmarks; the broker never waits for it. */
int id_filter_wait(struct id_filter *f);

#endif
