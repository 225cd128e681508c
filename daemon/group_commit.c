/*
 * group_commit: see group_commit.h.
 *
 * Pacing. Awaited records (new events) go at once: commit as soon as no
 * more input is immediately readable (DESIGN.md: a fixed wait only adds
 * latency), unless commit_max_delay_ms asks for fuller batches. Records
 * nobody waits on go when RIDER_BATCH_MIN of them gathered or after
 * RIDER_DELAY_MS. A small awaited batch with nothing else readable is
 * written right on the loop thread: a lock-step publisher would otherwise
 * pay two thread wake-ups per event, and there is no next batch whose
 * reading the fsync could overlap.
 *
 * Only one transaction is ever in flight, and the loop writes only while
 * the writer thread is idle: the log has exactly one writer at a time. When
 * one ends, the next is handed over before the producers answer the first
 * (done, then answer): the ACKs of one batch go out during the next write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/batch_writer.h"
#include "daemon/group_commit.h"

#define INLINE_BATCH_MAX 4   /* written on the loop thread when nothing else waits */
#define RIDER_BATCH_MIN  256 /* unawaited records worth a commit of their own at once */
#define RIDER_DELAY_MS   2   /* how long fewer of them wait for more */
#define RIDER_RETRY_MS   100 /* between attempts while commits fail */

struct group_commit {
    const struct mandated_config *cfg;
    struct audit_log *log;
    struct batch_writer *writer;
    struct event *delay_ev;
    bool delay_armed;

    struct group_commit_producer producers[GROUP_COMMIT_PRODUCERS_MAX];
    size_t nproducers;
    bool taken[GROUP_COMMIT_PRODUCERS_MAX]; /* in the transaction in flight */
    bool writing;                           /* a transaction is in flight */
    uint64_t write_ns;                      /* of the last one, set by s_write */
    uint64_t commit_ns;                     /* of that, in the commit (its writes and fsyncs) */

    bool last_commit_failed;
    struct group_commit_stats stats;
};

/* One transaction for everything taken. Returns 0 or -errno (nothing written). */
static int
s_write_once(struct group_commit *gc)
{
    bool wrote = false;
    int rc = audit_log_begin(gc->log);
    for (size_t i = 0; rc == 0 && i < gc->nproducers; i++)
        if (gc->taken[i])
            rc = gc->producers[i].write(gc->producers[i].arg, gc->log, &wrote);
    if (rc == 0 && wrote) {
        uint64_t t0 = monotonic_ns();
        rc = audit_log_commit(gc->log);
        gc->commit_ns += monotonic_ns() - t0;
    } else
        audit_log_abort(gc->log);
    return rc;
}

/* Writer thread: the transaction, growing the map as often as it helps. */
static int
s_write(void *arg)
{
    struct group_commit *gc = arg;
    uint64_t t0 = monotonic_ns();
    int rc;
    gc->commit_ns = 0;
    for (;;) {
        rc = s_write_once(gc);
        if (rc != -ENOSPC || !audit_log_map_was_full(gc->log) || audit_log_grow(gc->log) < 0)
            break;
    }
    gc->write_ns = monotonic_ns() - t0;
    return rc;
}

/* Loop thread: the transaction ended; every producer in it hears how
 * (done), and is marked in answering[] for s_answer(). */
static void
s_finish(struct group_commit *gc, int rc, bool answering[GROUP_COMMIT_PRODUCERS_MAX])
{
    gc->stats.batches++;
    gc->stats.write_ns += gc->write_ns;
    gc->stats.commit_ns += gc->commit_ns;
    if (rc < 0) {
        gc->stats.commit_failures++;
        if (!gc->last_commit_failed)
            log_err("audit log: commit failed: %s%s; answering `unavailable`", strerror(-rc),
                    audit_log_map_was_full(gc->log) ? " (map at map_max_bytes)" : "");
        gc->last_commit_failed = true;
    } else if (gc->last_commit_failed) {
        log_notice("audit log: commits work again");
        gc->last_commit_failed = false;
    }
    gc->writing = false;
    for (size_t i = 0; i < gc->nproducers; i++) {
        answering[i] = gc->taken[i];
        if (!gc->taken[i])
            continue;
        gc->taken[i] = false;
        gc->producers[i].done(gc->producers[i].arg, rc);
    }
}

static void
s_answer(struct group_commit *gc, const bool answering[GROUP_COMMIT_PRODUCERS_MAX])
{
    for (size_t i = 0; i < gc->nproducers; i++)
        if (answering[i] && gc->producers[i].answer)
            gc->producers[i].answer(gc->producers[i].arg);
}

/* What the producers have queued: awaited and not, and whether more input is readable. */
static void
s_count(struct group_commit *gc, size_t *awaited, size_t *others, bool *more_coming)
{
    *awaited = *others = 0;
    *more_coming = false;
    for (size_t i = 0; i < gc->nproducers; i++) {
        const struct group_commit_producer *p = &gc->producers[i];
        size_t n = p->queued(p->arg);
        if (p->awaited)
            *awaited += n;
        else
            *others += n;
        if (n && p->more_coming && p->more_coming(p->arg))
            *more_coming = true;
    }
}

static void
s_arm_delay(struct group_commit *gc, unsigned delay_ms)
{
    if (gc->delay_armed)
        return;
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    evtimer_add(gc->delay_ev, &tv);
    gc->delay_armed = true;
}

/* Starts a transaction if one is due; force: the delay has run out. */
static void
s_submit(struct group_commit *gc, bool force)
{
    size_t awaited, others;
    bool more_coming;
    if (gc->writing)
        return;
    s_count(gc, &awaited, &others, &more_coming);
    if (awaited == 0 && others == 0)
        return;
    /* commit_max_delay_ms: an operator may trade latency for fuller batches. */
    unsigned delay_ms = gc->cfg->broker.commit_max_delay_ms;
    bool unawaited_only = awaited == 0;
    bool wait =
        unawaited_only ? others < RIDER_BATCH_MIN : awaited < gc->cfg->broker.commit_max_batch;
    if (unawaited_only && delay_ms < RIDER_DELAY_MS)
        delay_ms = RIDER_DELAY_MS;
    /* After a failed commit (disk or map full) unawaited records would be
     * retried back to back: space the attempts out. New events still go at once. */
    if (unawaited_only && gc->last_commit_failed) {
        delay_ms = RIDER_RETRY_MS;
        wait = true;
    }
    if (!force && delay_ms > 0 && wait) {
        s_arm_delay(gc, delay_ms);
        return;
    }
    if (gc->delay_armed) {
        evtimer_del(gc->delay_ev);
        gc->delay_armed = false;
    }
    bool inline_write = awaited > 0 && awaited + others <= INLINE_BATCH_MAX && !more_coming;
    for (size_t i = 0; i < gc->nproducers; i++) {
        const struct group_commit_producer *p = &gc->producers[i];
        if (p->queued(p->arg)) {
            p->take(p->arg);
            gc->taken[i] = true;
        }
    }
    gc->writing = true;
    if (!inline_write) {
        batch_writer_submit(gc->writer, s_write, gc);
        return;
    }
    bool answering[GROUP_COMMIT_PRODUCERS_MAX];
    s_finish(gc, s_write(gc), answering);
    s_answer(gc, answering);
}

/* Loop thread, after the writer thread finished. */
static void
s_on_written(void *arg, int rc)
{
    struct group_commit *gc = arg;
    bool answering[GROUP_COMMIT_PRODUCERS_MAX];
    s_finish(gc, rc, answering);
    /* What queued meanwhile is the next batch: the writer gets it before
     * the replies to this one go out, so that it never waits on them. */
    s_submit(gc, false);
    s_answer(gc, answering);
}

static void
s_on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct group_commit *gc = arg;
    gc->delay_armed = false;
    s_submit(gc, true);
}

struct group_commit *
group_commit_new(struct event_base *base, const struct mandated_config *cfg, struct audit_log *log)
{
    struct group_commit *gc = xcalloc(1, sizeof *gc);
    gc->cfg = cfg;
    gc->log = log;
    gc->delay_ev = evtimer_new(base, s_on_delay, gc);
    gc->writer = batch_writer_new(base, s_on_written, gc);
    if (!gc->delay_ev || !gc->writer) {
        log_err("group commit: cannot start the writer");
        group_commit_destroy(&gc);
        return NULL;
    }
    return gc;
}

void
group_commit_destroy(struct group_commit **gc_p)
{
    struct group_commit *gc = *gc_p;
    if (!gc)
        return;
    if (gc->writer)
        batch_writer_wait(gc->writer);
    batch_writer_destroy(&gc->writer);
    if (gc->delay_ev)
        event_free(gc->delay_ev);
    free(gc);
    *gc_p = NULL;
}

void
group_commit_reconfigure(struct group_commit *gc, const struct mandated_config *cfg)
{
    /* Only the loop thread reads it: pacing (commit_max_delay_ms); the batch
     * bound is restart-only, kept by the reload (config/config_diff.h). */
    gc->cfg = cfg;
}

void
group_commit_add(struct group_commit *gc, const struct group_commit_producer *p)
{
    if (gc->nproducers == GROUP_COMMIT_PRODUCERS_MAX) {
        log_crit("group commit: more than %d producers", GROUP_COMMIT_PRODUCERS_MAX);
        abort();
    }
    gc->producers[gc->nproducers++] = *p;
}

void
group_commit_flush(struct group_commit *gc)
{
    s_submit(gc, false);
}

/* Records still queued, and of those awaited; nothing is written here. */
static size_t
s_left(struct group_commit *gc, size_t *ret_awaited)
{
    size_t others;
    bool more_coming;
    s_count(gc, ret_awaited, &others, &more_coming);
    return *ret_awaited + others;
}

void
group_commit_drain(struct group_commit *gc)
{
    /* What was read before the stop is written and answered, not dropped;
     * so are the other producers' records. */
    size_t awaited;
    while (gc->writing || s_left(gc, &awaited)) {
        s_submit(gc, true);
        batch_writer_wait(gc->writer);
        /* Events get their NACK when a commit fails, but the other records
         * would be retried for ever: give up on them at a stop. Their events
         * are still pending, so they are delivered again after the restart. */
        size_t left = s_left(gc, &awaited);
        if (gc->last_commit_failed && !gc->writing && awaited == 0) {
            if (left)
                log_err("audit log: %zu delivery record(s) could not be written at the stop; "
                        "their events stay pending and are offered again at the next start",
                        left);
            break;
        }
    }
}

bool
group_commit_failing(const struct group_commit *gc)
{
    return gc->last_commit_failed;
}

const struct group_commit_stats *
group_commit_stats(const struct group_commit *gc)
{
    return &gc->stats;
}
