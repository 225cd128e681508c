/*
 * batch_writer: the write runs on another thread, the done callback on the
 * loop thread, one batch at a time, and a wait drains a write in flight.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/batch_writer.h"

struct probe {
    pthread_t loop_thread;
    pthread_t write_thread;
    int writes, dones, last_rc;
    struct event_base *base;
};

static int
s_write(void *arg)
{
    struct probe *p = arg;
    p->write_thread = pthread_self();
    usleep(20 * 1000);
    return -++p->writes;
}

static void
s_done(void *arg, int rc)
{
    struct probe *p = arg;
    cr_assert(pthread_equal(pthread_self(), p->loop_thread), "done must run on the loop thread");
    p->dones++;
    p->last_rc = rc;
    event_base_loopbreak(p->base);
}

Test(batch_writer, write_elsewhere_done_here)
{
    struct probe p = {.loop_thread = pthread_self()};
    p.base = event_base_new();
    struct batch_writer *w = batch_writer_new(p.base, s_done, &p);
    cr_assert_not_null(w);
    cr_assert_not(batch_writer_busy(w));
    batch_writer_submit(w, s_write, &p);
    cr_assert(batch_writer_busy(w));
    event_base_dispatch(p.base);
    cr_assert_eq(p.dones, 1);
    cr_assert_eq(p.last_rc, -1);
    cr_assert_not(pthread_equal(p.write_thread, p.loop_thread), "the write ran on the loop");
    cr_assert_not(batch_writer_busy(w));
    batch_writer_destroy(&w);
    cr_assert_null(w);
    event_base_free(p.base);
}

Test(batch_writer, wait_runs_the_done_callback_once)
{
    struct probe p = {.loop_thread = pthread_self()};
    p.base = event_base_new();
    struct batch_writer *w = batch_writer_new(p.base, s_done, &p);
    batch_writer_submit(w, s_write, &p);
    batch_writer_wait(w);
    cr_assert_eq(p.dones, 1);
    cr_assert_not(batch_writer_busy(w));
    /* The eventfd still says "finished": dispatching must not run done again. */
    struct timeval tv = {0, 50 * 1000};
    event_base_loopexit(p.base, &tv);
    event_base_dispatch(p.base);
    cr_assert_eq(p.dones, 1);
    batch_writer_submit(w, s_write, &p);
    batch_writer_destroy(&w); /* destroy waits for the write in flight */
    cr_assert_eq(p.writes, 2);
    cr_assert_eq(p.dones, 2);
    event_base_free(p.base);
}
