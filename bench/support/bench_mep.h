/*
 * bench_mep: the client side of MEP/1 that benchmarks share beyond
 * daemon_harness's blocking helpers: a reply read without waiting, and the
 * moment a broker that is starting first answers.
 */
#ifndef MANDATED_BENCH_MEP_H
#define MANDATED_BENCH_MEP_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/*
 * Reads one whole reply if one is waiting: "MEP1" · command · body. Returns
 * 1 with the frame count, the command (truncated to 7) and the body
 * (truncated to size), 0 if nothing was waiting, or -errno.
 */
int bench_mep_recv(void *sock, char cmd[8], uint8_t *body, size_t size, size_t *ret_len,
                   int *ret_frames);

/*
 * Waits for a broker being started to answer MEP/1 PING with PONG, and
 * returns 0 with the CLOCK_MONOTONIC time (common/clock.h) the PONG arrived.
 * The PING goes out through a DEALER of ctx that retries its connection
 * every millisecond, so the time is within about 1 ms of the broker's first
 * answer (the daemon answers PING from its event loop, once it has started
 * completely). pid > 0: -ECHILD as soon as that child has exited (it is
 * then reaped); -ETIMEDOUT after timeout_ms; -EINTR when *stop becomes
 * non-zero (stop may be NULL).
 */
int bench_mep_wait_pong(void *ctx, const char *endpoint, pid_t pid, int timeout_ms,
                        const volatile sig_atomic_t *stop, uint64_t *ret_pong_ns);

#endif
