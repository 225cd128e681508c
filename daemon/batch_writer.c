/*
 * batch_writer: one worker thread, one batch in flight. The mutex orders
 * everything the loop prepared before a submit ahead of the thread's reads,
 * and everything the thread wrote ahead of the loop's done callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/batch_writer.h"
#include "common/alloc.h"
#include "common/log.h"

enum writer_state { WRITER_IDLE, WRITER_QUEUED, WRITER_RUNNING, WRITER_FINISHED };

struct batch_writer {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* state changes, both ways */
    enum writer_state state;
    bool quit;
    batch_write_fn write;
    void *arg;
    int rc;

    int efd;
    struct event *ev;
    batch_done_fn done;
    void *done_arg;
};

static void *
s_thread_main(void *p)
{
    struct batch_writer *w = p;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->state != WRITER_QUEUED && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        w->state = WRITER_RUNNING;
        pthread_mutex_unlock(&w->mu);
        int rc = w->write(w->arg);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->state = WRITER_FINISHED;
        pthread_cond_broadcast(&w->cv);
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_err("batch writer: eventfd: %s", strerror(errno));
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Runs the done callback if a write has finished. */
static void
s_reap(struct batch_writer *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->state != WRITER_FINISHED) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    int rc = w->rc;
    w->state = WRITER_IDLE;
    pthread_mutex_unlock(&w->mu);
    w->done(w->done_arg, rc);
}

static void
s_on_finished(evutil_socket_t fd, short what, void *arg)
{
    struct batch_writer *w = arg;
    uint64_t n;
    if (read(w->efd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_err("batch writer: eventfd: %s", strerror(errno));
    s_reap(w);
}

struct batch_writer *
batch_writer_new(struct event_base *base, batch_done_fn done, void *done_arg)
{
    struct batch_writer *w = xcalloc(1, sizeof *w);
    w->done = done;
    w->done_arg = done_arg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        log_err("batch writer: eventfd: %s", strerror(errno));
        goto out_destroy;
    }
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, s_on_finished, w);
    event_add(w->ev, NULL);
    int rc = pthread_create(&w->thread, NULL, s_thread_main, w);
    if (rc) {
        log_err("batch writer: thread: %s", strerror(rc));
        goto out_destroy;
    }
    w->started = true;
    return w;

out_destroy:
    batch_writer_destroy(&w);
    return NULL;
}

void
batch_writer_destroy(struct batch_writer **w_p)
{
    struct batch_writer *w = *w_p;
    if (!w)
        return;
    if (w->started) {
        batch_writer_wait(w);
        pthread_mutex_lock(&w->mu);
        w->quit = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    if (w->ev)
        event_free(w->ev);
    if (w->efd >= 0)
        close(w->efd);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *w_p = NULL;
}

bool
batch_writer_busy(struct batch_writer *w)
{
    pthread_mutex_lock(&w->mu);
    bool busy = w->state != WRITER_IDLE;
    pthread_mutex_unlock(&w->mu);
    return busy;
}

void
batch_writer_submit(struct batch_writer *w, batch_write_fn write_fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    if (w->state != WRITER_IDLE) {
        pthread_mutex_unlock(&w->mu);
        log_crit("batch writer: submit while busy");
        abort();
    }
    w->write = write_fn;
    w->arg = arg;
    w->state = WRITER_QUEUED;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void
batch_writer_wait(struct batch_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->state == WRITER_QUEUED || w->state == WRITER_RUNNING)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    s_reap(w);
}
