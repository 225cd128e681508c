/*
 * nats_client: the least of a NATS client (the text protocol over TCP,
 * docs.nats.io "Client Protocol") that a benchmark needs to load a
 * nats-server: connect with its INFO / CONNECT / PING-PONG handshake, SUB,
 * PUB with a reply subject, and a parser for what comes back (MSG, HMSG,
 * PING answered with PONG, PONG, +OK, INFO, -ERR). Debian has no NATS C
 * client, and this is all bench/peers asks of one.
 *
 * The socket is non-blocking once connected: PUB and SUB only append to an
 * output buffer, nats_flush() writes what the socket takes, nats_read() takes
 * what has arrived into a buffer that grows to hold a whole message, and
 * nats_next() hands out one message at a time. One thread per connection.
 */
#ifndef MANDATED_NATS_CLIENT_H
#define MANDATED_NATS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nats_conn;

/* One MSG or HMSG. Its pointers point into the connection's input buffer:
 * valid until the next nats_read() or nats_close(). Not NUL-terminated. */
struct nats_msg {
    const char *subject;
    size_t subject_len;
    const char *reply; /* NULL when the message has no reply subject */
    size_t reply_len;
    uint64_t sid;
    const uint8_t *hdr; /* HMSG: the header block ("NATS/1.0\r\n..."); else NULL */
    size_t hdr_len;
    const uint8_t *data; /* the payload, without the headers */
    size_t len;
};

/*
 * Connects to host:port (numeric IPv4) within timeout_ms: reads the server's
 * INFO, sends CONNECT (verbose and pedantic off) and a PING, and returns once
 * the PONG is back, so that a refused CONNECT fails here. 0 with *ret, or
 * -errno with err set.
 */
int nats_connect(struct nats_conn **ret, const char *host, int port, const char *name,
                 int timeout_ms, char *err, size_t errlen);
void nats_close(struct nats_conn **c);

/* The socket, to poll it. */
int nats_fd(const struct nats_conn *c);

/* Queue SUB and PUB (reply NULL: none). 0, or -ENOMEM / -EINVAL (a subject with blanks). */
int nats_sub(struct nats_conn *c, const char *subject, uint64_t sid);
int nats_pub(struct nats_conn *c, const char *subject, const char *reply, const void *data,
             size_t len);

/* Writes what the socket takes now: 0 when all is written, 1 when some waits (poll for
 * POLLOUT), -errno. */
int nats_flush(struct nats_conn *c);
bool nats_want_write(const struct nats_conn *c);

/*
 * Reads what has arrived, without waiting: the number of bytes (> 0), 0 when
 * nothing was there, -EPIPE when the server closed, -errno. Invalidates the
 * messages nats_next() handed out before.
 */
int nats_read(struct nats_conn *c);

/*
 * The next message from what was read: 1 with *ret, 0 when the rest has not
 * arrived yet (nats_read again), -EPROTO on -ERR or a line that is not the
 * protocol (err says which). A PING is answered (a PONG is queued: flush)
 * and +OK, PONG and INFO are taken silently.
 */
int nats_next(struct nats_conn *c, struct nats_msg *ret, char *err, size_t errlen);

/*
 * Blocking helpers for setup, not for the measured path: flush everything
 * within timeout_ms; publish data to subject with reply subject reply (the
 * caller has subscribed to it) and copy the payload of the first message on
 * reply into buf (truncated to size - 1, NUL-terminated). 0 or -errno (-ETIMEDOUT), err set.
 */
int nats_flush_all(struct nats_conn *c, int timeout_ms, char *err, size_t errlen);
int nats_request(struct nats_conn *c, const char *subject, const char *reply, const void *data,
                 size_t len, int timeout_ms, char *buf, size_t size, char *err, size_t errlen);

/* True when m's subject is s. */
bool nats_msg_subject_is(const struct nats_msg *m, const char *s);

#endif
