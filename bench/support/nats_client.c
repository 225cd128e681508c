#include "bench/support/nats_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "common/clock.h"

#define BUF_FIRST   (64 * 1024)
#define LINE_MAX_   (64 * 1024)        /* a control line (INFO can be long); longer is garbage */
#define PAYLOAD_MAX ((size_t)64 << 20) /* far above the server's max_payload (1 MiB) */
#define ARGS_MAX    6

struct buf {
    char *p;
    size_t cap, start, len; /* bytes [start, len) are live */
};

struct nats_conn {
    int fd;
    struct buf in, out;
    uint64_t pongs; /* PONGs seen: the handshake waits for the first */
};

/* Room for n more bytes at the end, moving the live bytes to the front first. */
static int
s_reserve(struct buf *b, size_t n)
{
    if (b->start > 0 && b->cap - b->len < n) {
        memmove(b->p, b->p + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
    }
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : BUF_FIRST;
    while (cap - b->len < n) {
        if (cap > PAYLOAD_MAX * 4)
            return -ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
s_append(struct buf *b, const void *data, size_t n)
{
    int rc = s_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* A subject is one token of the protocol line: no blanks, no line ends. */
static bool
s_subject_ok(const char *s)
{
    return s && *s && strpbrk(s, " \t\r\n") == NULL;
}

int
nats_sub(struct nats_conn *c, const char *subject, uint64_t sid)
{
    char line[512];
    if (!s_subject_ok(subject))
        return -EINVAL;
    int n = snprintf(line, sizeof line, "SUB %s %llu\r\n", subject, (unsigned long long)sid);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    return s_append(&c->out, line, (size_t)n);
}

int
nats_pub(struct nats_conn *c, const char *subject, const char *reply, const void *data, size_t len)
{
    char line[600];
    int n, rc;

    if (!s_subject_ok(subject) || (reply && !s_subject_ok(reply)))
        return -EINVAL;
    if (reply)
        n = snprintf(line, sizeof line, "PUB %s %s %zu\r\n", subject, reply, len);
    else
        n = snprintf(line, sizeof line, "PUB %s %zu\r\n", subject, len);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    /* One reservation for the whole message, so that it is never half queued. */
    if ((rc = s_reserve(&c->out, (size_t)n + len + 2)) < 0)
        return rc;
    s_append(&c->out, line, (size_t)n);
    s_append(&c->out, data, len);
    s_append(&c->out, "\r\n", 2);
    return 0;
}

int
nats_flush(struct nats_conn *c)
{
    struct buf *b = &c->out;
    while (b->start < b->len) {
        ssize_t n = send(c->fd, b->p + b->start, b->len - b->start, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (n < 0)
            return -errno;
        b->start += (size_t)n;
    }
    b->start = b->len = 0;
    return 0;
}

bool
nats_want_write(const struct nats_conn *c)
{
    return c->out.start < c->out.len;
}

int
nats_read(struct nats_conn *c)
{
    struct buf *b = &c->in;
    size_t got = 0;

    /* What nats_next() consumed is dropped now: its messages were valid until here. */
    if (b->start == b->len)
        b->start = b->len = 0;
    for (;;) {
        int rc = s_reserve(b, BUF_FIRST / 4);
        if (rc < 0)
            return rc;
        size_t room = b->cap - b->len;
        ssize_t n = recv(c->fd, b->p + b->len, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            return -errno;
        if (n == 0)
            return got ? (int)(got > INT32_MAX ? INT32_MAX : got) : -EPIPE;
        b->len += (size_t)n;
        got += (size_t)n;
        /* A short read emptied the socket: no need for the EAGAIN round. */
        if ((size_t)n < room || got >= PAYLOAD_MAX)
            break;
    }
    return got > INT32_MAX ? INT32_MAX : (int)got;
}

/* Splits line (len bytes, no CRLF) at blanks; returns the count, at most ARGS_MAX + 1. */
static int
s_split(const char *line, size_t len, const char *tok[], size_t tok_len[])
{
    int n = 0;
    size_t i = 0;
    while (i < len && n <= ARGS_MAX) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        tok[n] = line + s;
        tok_len[n] = i - s;
        n++;
    }
    return n;
}

static bool
s_parse_u64(const char *s, size_t len, uint64_t *ret)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *ret = v;
    return true;
}

static bool
s_op_is(const char *tok, size_t len, const char *op)
{
    return len == strlen(op) && strncasecmp(tok, op, len) == 0;
}

static int
s_bad(char *err, size_t errlen, const char *what, const char *line, size_t len)
{
    snprintf(err, errlen, "%s: '%.*s'", what, (int)(len > 120 ? 120 : len), line);
    return -EPROTO;
}

int
nats_next(struct nats_conn *c, struct nats_msg *ret, char *err, size_t errlen)
{
    struct buf *b = &c->in;

    for (;;) {
        const char *at = b->p + b->start;
        size_t avail = b->len - b->start;
        const char *crlf = avail ? memmem(at, avail, "\r\n", 2) : NULL;
        if (!crlf) {
            if (avail > LINE_MAX_)
                return s_bad(err, errlen, "control line too long", at, avail);
            return 0;
        }
        size_t line_len = (size_t)(crlf - at), after = line_len + 2;
        const char *tok[ARGS_MAX + 1];
        size_t tl[ARGS_MAX + 1];
        int n = s_split(at, line_len, tok, tl);
        if (n == 0)
            return s_bad(err, errlen, "empty protocol line", at, line_len);

        bool hmsg = s_op_is(tok[0], tl[0], "HMSG");
        if (hmsg || s_op_is(tok[0], tl[0], "MSG")) {
            /* MSG subject sid [reply] size; HMSG subject sid [reply] hdr_size total_size */
            int sizes = hmsg ? 2 : 1, args = n - 1;
            uint64_t hdr = 0, total;
            if (args != 2 + sizes && args != 3 + sizes)
                return s_bad(err, errlen, "malformed MSG line", at, line_len);
            bool has_reply = args == 3 + sizes;
            int sz = n - sizes;
            if (!s_parse_u64(tok[2], tl[2], &ret->sid) ||
                !s_parse_u64(tok[n - 1], tl[n - 1], &total) ||
                (hmsg && !s_parse_u64(tok[sz], tl[sz], &hdr)) || hdr > total || total > PAYLOAD_MAX)
                return s_bad(err, errlen, "malformed MSG line", at, line_len);
            if (avail < after + total + 2)
                return 0; /* the payload is still on its way */
            if (at[after + total] != '\r' || at[after + total + 1] != '\n')
                return s_bad(err, errlen, "payload not ended by CRLF after", at, line_len);
            ret->subject = tok[1];
            ret->subject_len = tl[1];
            ret->reply = has_reply ? tok[3] : NULL;
            ret->reply_len = has_reply ? tl[3] : 0;
            ret->hdr = hmsg ? (const uint8_t *)at + after : NULL;
            ret->hdr_len = (size_t)hdr;
            ret->data = (const uint8_t *)at + after + hdr;
            ret->len = (size_t)(total - hdr);
            b->start += after + total + 2;
            return 1;
        }
        if (s_op_is(tok[0], tl[0], "PING")) {
            int rc = s_append(&c->out, "PONG\r\n", 6);
            if (rc < 0)
                return rc;
        } else if (s_op_is(tok[0], tl[0], "PONG")) {
            c->pongs++;
        } else if (s_op_is(tok[0], tl[0], "-ERR")) {
            snprintf(err, errlen, "server: %.*s", (int)(line_len > 200 ? 200 : line_len), at);
            b->start += after;
            return -EPROTO;
        } else if (!s_op_is(tok[0], tl[0], "+OK") && !s_op_is(tok[0], tl[0], "INFO")) {
            return s_bad(err, errlen, "unknown protocol line", at, line_len);
        }
        b->start += after;
    }
}

bool
nats_msg_subject_is(const struct nats_msg *m, const char *s)
{
    size_t n = strlen(s);
    return m->subject_len == n && memcmp(m->subject, s, n) == 0;
}

/* Waits until c is readable (and writable, when output waits) or the deadline. */
static int
s_wait(struct nats_conn *c, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = monotonic_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = c->fd, .events = POLLIN | (nats_want_write(c) ? POLLOUT : 0)};
        int r = poll(&p, 1, (int)((deadline_ns - now) / 1000000u) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r > 0)
            return 0;
    }
}

int
nats_flush_all(struct nats_conn *c, int timeout_ms, char *err, size_t errlen)
{
    uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int rc = nats_flush(c);
        if (rc <= 0) {
            if (rc < 0)
                snprintf(err, errlen, "send: %s", strerror(-rc));
            return rc;
        }
        if ((rc = s_wait(c, deadline)) < 0) {
            snprintf(err, errlen, "send: %s", strerror(-rc));
            return rc;
        }
    }
}

/*
 * Reads until a message on subject arrives (its payload into buf), or, with
 * subject NULL, until a PONG does.
 */
static int
s_await(struct nats_conn *c, const char *subject, uint64_t deadline, char *buf, size_t size,
        char *err, size_t errlen)
{
    uint64_t pongs = c->pongs;
    for (;;) {
        struct nats_msg m;
        int rc;
        while ((rc = nats_next(c, &m, err, errlen)) == 1) {
            if (!subject || !nats_msg_subject_is(&m, subject))
                continue; /* not the answer: before we subscribed, or another's */
            size_t n = m.len < size - 1 ? m.len : size - 1;
            memcpy(buf, m.data, n);
            buf[n] = '\0';
            return 0;
        }
        if (rc < 0)
            return rc;
        if (!subject && c->pongs > pongs)
            return 0;
        if (nats_want_write(c) && (rc = nats_flush(c)) < 0) {
            snprintf(err, errlen, "send: %s", strerror(-rc));
            return rc;
        }
        if ((rc = s_wait(c, deadline)) < 0) {
            snprintf(err, errlen, "no %s from the server (%s)", subject ? "answer" : "PONG",
                     strerror(-rc));
            return rc;
        }
        if ((rc = nats_read(c)) < 0) {
            snprintf(err, errlen, "recv: %s", strerror(-rc));
            return rc;
        }
    }
}

int
nats_request(struct nats_conn *c, const char *subject, const char *reply, const void *data,
             size_t len, int timeout_ms, char *buf, size_t size, char *err, size_t errlen)
{
    uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc = nats_pub(c, subject, reply, data, len);
    if (rc < 0) {
        snprintf(err, errlen, "PUB %s: %s", subject, strerror(-rc));
        return rc;
    }
    if ((rc = nats_flush_all(c, timeout_ms, err, errlen)) < 0)
        return rc;
    return s_await(c, reply, deadline, buf, size, err, errlen);
}

/* Non-blocking connect to host:port within the deadline. */
static int
s_tcp_connect(const char *host, int port, uint64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, soerr = 0, rc;
    socklen_t sl = sizeof soerr;

    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "not an IPv4 address: %s", host);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    /* As every NATS client does: a PUB leaves at once, not when Nagle lets it. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        rc = -errno;
        goto fail;
    }
    for (;;) {
        uint64_t now = monotonic_ns();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            goto fail;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto fail;
        }
        if (r > 0)
            break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
        rc = soerr ? -soerr : -errno;
        goto fail;
    }
    return fd;
fail:
    snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(-rc));
    close(fd);
    return rc;
}

int
nats_connect(struct nats_conn **ret, const char *host, int port, const char *name, int timeout_ms,
             char *err, size_t errlen)
{
    uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    char connect[256], scratch[8];
    int rc;

    *ret = NULL;
    struct nats_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->fd = s_tcp_connect(host, port, deadline, err, errlen);
    if (c->fd < 0) {
        rc = c->fd;
        free(c);
        return rc;
    }
    /* The server speaks first: INFO {...}. */
    for (;;) {
        const char *at = c->in.p ? c->in.p + c->in.start : NULL;
        size_t avail = c->in.len - c->in.start;
        const char *crlf = avail ? memmem(at, avail, "\r\n", 2) : NULL;
        if (crlf) {
            if ((size_t)(crlf - at) < 5 || strncasecmp(at, "INFO ", 5) != 0) {
                rc = s_bad(err, errlen, "expected INFO", at, (size_t)(crlf - at));
                goto fail;
            }
            c->in.start += (size_t)(crlf - at) + 2;
            break;
        }
        if (avail > LINE_MAX_) {
            rc = s_bad(err, errlen, "INFO line too long", at, avail);
            goto fail;
        }
        if ((rc = s_wait(c, deadline)) < 0) {
            snprintf(err, errlen, "no INFO from %s:%d (%s)", host, port, strerror(-rc));
            goto fail;
        }
        if ((rc = nats_read(c)) < 0) {
            snprintf(err, errlen, "recv: %s", strerror(-rc));
            goto fail;
        }
    }
    int n = snprintf(connect, sizeof connect,
                     "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"%s\",\"lang\":\"c\","
                     "\"version\":\"0\"}\r\nPING\r\n",
                     name && strpbrk(name, "\"\\") == NULL ? name : "bench");
    if (n < 0 || (size_t)n >= sizeof connect || (rc = s_append(&c->out, connect, (size_t)n)) < 0 ||
        (rc = nats_flush_all(c, timeout_ms, err, errlen)) < 0) {
        if (n < 0 || (size_t)n >= sizeof connect)
            rc = -EINVAL;
        snprintf(err, errlen, "CONNECT: %s", strerror(-rc));
        goto fail;
    }
    /* verbose is off: the PONG is the only word that the CONNECT was taken; a
     * refusal is the -ERR nats_next() reports on the way. */
    if ((rc = s_await(c, NULL, deadline, scratch, sizeof scratch, err, errlen)) < 0)
        goto fail;
    *ret = c;
    return 0;

fail:
    nats_close(&c);
    return rc;
}

void
nats_close(struct nats_conn **c_p)
{
    struct nats_conn *c = *c_p;
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c);
    *c_p = NULL;
}

int
nats_fd(const struct nats_conn *c)
{
    return c->fd;
}
