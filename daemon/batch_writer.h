/*
 * batch_writer: the writer thread of the group commit (daemon/group_commit.h),
 * which alone uses it. The loop hands over one batch at a time and keeps reading and checking
 * the next while this one is written and fsynced; the completion comes back
 * into the loop through an eventfd, so replies are still sent from the loop.
 *
 * Only one batch is ever in flight, and the loop touches the audit log only
 * while the writer is idle: the log keeps exactly one writer at a time.
 */
#ifndef MANDATE_BATCH_WRITER_H
#define MANDATE_BATCH_WRITER_H

#include <stdbool.h>

#include <event2/event.h>

/* Runs on the writer thread; returns 0 or -errno. */
typedef int (*batch_write_fn)(void *arg);
/* Runs on the loop thread once the write has finished. */
typedef void (*batch_done_fn)(void *arg, int rc);

struct batch_writer;

/* NULL on failure (logged). */
struct batch_writer *batch_writer_new(struct event_base *base, batch_done_fn done, void *done_arg);
void batch_writer_destroy(struct batch_writer **w_p);

bool batch_writer_busy(struct batch_writer *w);
/* Starts write(arg) on the writer thread; the writer must not be busy. */
void batch_writer_submit(struct batch_writer *w, batch_write_fn write, void *arg);
/* Blocks until the writer is idle, running the done callback of a finished write. */
void batch_writer_wait(struct batch_writer *w);

#endif
