#include "bench/support/bench_mep.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include <zmq.h>

#include "common/clock.h"

#define RESEND_MS 250 /* a lost PING (none is expected) costs at most this */

int
bench_mep_recv(void *sock, char cmd[8], uint8_t *body, size_t size, size_t *ret_len,
               int *ret_frames)
{
    int frames = 0, more = 1;
    cmd[0] = '\0';
    *ret_len = 0;
    *ret_frames = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, frames == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&m);
            if (frames == 0 && e == EAGAIN)
                return 0;
            return -e;
        }
        more = zmq_msg_more(&m);
        size_t n = zmq_msg_size(&m);
        if (frames == 1) {
            size_t c = n < 7 ? n : 7;
            memcpy(cmd, zmq_msg_data(&m), c);
            cmd[c] = '\0';
        } else if (frames == 2) {
            *ret_len = n < size ? n : size;
            memcpy(body, zmq_msg_data(&m), *ret_len);
        }
        frames++;
        zmq_msg_close(&m);
    }
    *ret_frames = frames;
    return 1;
}

static int
s_send_ping(void *s)
{
    if (zmq_send(s, "MEP1", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s, "PING", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s, "", 0, ZMQ_DONTWAIT) < 0)
        return -errno;
    return 0;
}

int
bench_mep_wait_pong(void *ctx, const char *endpoint, pid_t pid, int timeout_ms,
                    const volatile sig_atomic_t *stop, uint64_t *ret_pong_ns)
{
    /* libzmq retries a refused connection every ZMQ_RECONNECT_IVL (default 100 ms):
     * 1 ms makes the first answer, not the next retry, what is measured. */
    int linger = 0, ivl = 1, rc;
    uint64_t start = monotonic_ns(), last_ping;
    void *s = zmq_socket(ctx, ZMQ_DEALER);

    if (!s)
        return -errno;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    if (zmq_connect(s, endpoint) < 0) {
        rc = -errno;
        zmq_close(s);
        return rc;
    }
    /* Queued in the connection's pipe until the broker accepts: it survives refused tries. */
    rc = s_send_ping(s);
    last_ping = monotonic_ns();
    while (rc == 0) {
        zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
        int ready = zmq_poll(&item, 1, 1);
        uint64_t now = monotonic_ns();
        if (ready > 0) {
            char cmd[8];
            uint8_t body[64];
            size_t len;
            int frames;
            int got = bench_mep_recv(s, cmd, body, sizeof body, &len, &frames);
            if (got < 0) {
                rc = got;
            } else if (got > 0 && strcmp(cmd, "PONG") == 0) {
                *ret_pong_ns = now;
                break;
            }
            continue;
        }
        if (ready < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (stop && *stop) {
            rc = -EINTR;
        } else if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
            rc = -ECHILD;
        } else if (now - start > (uint64_t)timeout_ms * 1000000u) {
            rc = -ETIMEDOUT;
        } else if (now - last_ping > (uint64_t)RESEND_MS * 1000000u) {
            rc = s_send_ping(s);
            if (rc == -EAGAIN)
                rc = 0; /* the pipe is full of PINGs already: no answer yet */
            last_ping = now;
        }
    }
    zmq_close(s);
    return rc;
}
