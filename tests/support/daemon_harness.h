/*
 * daemon_harness: runs the real mandated binary in a temporary state
 * directory for process-level tests and benchmarks: write a config, start,
 * wait until it answers PING, kill -9 or SIGTERM it, run mandatectl.
 */
#ifndef MANDATE_DAEMON_HARNESS_H
#define MANDATE_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct harness;

/*
 * broker_extra: lines added to [broker] (e.g. "durability = relaxed\n"), may
 * be NULL. tail_extra: sections appended after the default catalogue. The
 * ingress endpoint is ipc in the temporary directory unless broker_extra sets
 * `ingress`.
 */
struct harness *harness_new(const char *broker_extra, const char *tail_extra);
/* Removes the directory unless the test failed and MANDATE_KEEP_TMP is set. */
void harness_destroy(struct harness **h_p);

const char *harness_dir(const struct harness *h);
const char *harness_state_dir(const struct harness *h);
const char *harness_config_path(const struct harness *h);
const char *harness_endpoint(const struct harness *h);

/* The MDP endpoint workers connect to. */
const char *harness_workers_endpoint(const struct harness *h);
/*
 * Sets key = value in the config's [area AREA] (replacing the line or adding
 * one); takes effect at the next start. Areas have spawn = no unless a test
 * sets it. Returns 0 or -ENOENT.
 */
int harness_config_area(struct harness *h, const char *area, const char *key, const char *value);

/*
 * Replaces the whole config: [broker] with the harness's endpoints and
 * state dir, then sections as given (areas, sources, ...), nothing else.
 * Takes effect at the next start or SIGHUP.
 */
void harness_write_config(struct harness *h, const char *sections);

/* Starts the daemon and waits up to timeout_ms for a PONG. Returns 0 or -errno. */
int harness_start(struct harness *h, int timeout_ms);
pid_t harness_pid(const struct harness *h);
bool harness_running(struct harness *h);
/* kill -9 and reap. */
void harness_kill9(struct harness *h);
/* Waits up to timeout_ms for the daemon to exit by itself; its exit code, or -1. */
int harness_wait(struct harness *h, int timeout_ms);
/* SIGTERM, wait up to timeout_ms; returns the exit status (or -1 if it had to be killed). */
int harness_stop(struct harness *h, int timeout_ms);

/*
 * Runs mandatectl with -c CONFIG and the given arguments (NULL-terminated);
 * stdout goes to *ret_out (malloc'd, may be NULL), stdin from input if given.
 * Returns the exit code, or -1 on a signal.
 */
int harness_ctl(struct harness *h, const char *input, char **ret_out, ...);
/* The same without input, with stderr captured in *ret_err too (malloc'd). */
int harness_ctl_err(struct harness *h, char **ret_out, char **ret_err, ...);

/*
 * The state directory on a tmpfs of the given size ("1m"), to fill a disk for
 * real (needs root: -EPERM otherwise), then grown in place, then unmounted.
 * Each returns 0 or -errno.
 */
int harness_mount_state_tmpfs(struct harness *h, const char *size);
int harness_remount_state_tmpfs(struct harness *h, const char *size);
int harness_umount_state(struct harness *h);

/* A fresh directory TMPDIR/PREFIX-XXXXXX (default /tmp) in buf; 0 or -errno. */
int harness_mkdtemp(char *buf, size_t size, const char *prefix);
/* Removes a directory tree without a shell; 0 or -errno (missing is fine). */
int harness_rm_rf(const char *dir);

/* A whole file as a string (malloc'd; empty if unreadable). */
char *harness_read_file(const char *path);
/* What the daemon wrote to stderr so far, across restarts (malloc'd). */
char *harness_daemon_log(const struct harness *h);

/* A DEALER socket connected to the daemon (test's own context). */
void *harness_dealer(struct harness *h);
void *harness_zmq_ctx(struct harness *h);
/*
 * From now on harness_dealer() (and the start's PING) connect with CURVE:
 * the broker's public key and the client's pair, Z85. server_z85 NULL: plain.
 */
void harness_set_curve(struct harness *h, const char *server_z85, const char *public_z85,
                       const char *secret_z85);

/*
 * Packs a valid envelope for tests: type, source, id, time 1780000000000 +
 * n, and data the catalogue accepts: the type's sample (sample_data.h) with
 * "n": n added, or just {"n": n} for a type outside the catalogue.
 */
size_t harness_envelope(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                        const char *source, uint64_t n);
/* The same with corr (16 bytes, NULL: none), as a worker's follow-up event has. */
size_t harness_envelope_corr(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                             const char *source, uint64_t n, const uint8_t *corr);
/* The same with the data map given, already packed. */
size_t harness_envelope_data(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                             const char *source, uint64_t n, const uint8_t *corr, const void *data,
                             size_t data_len);

/* Sends MEP1 PUB body on a DEALER; receives one reply (cmd "ACK"/"NACK", body). */
int harness_send_pub(void *sock, const void *body, size_t len);
/* Receives one reply within timeout_ms; fills command (≤ 7 chars) and body. Returns body length or
 * -1. */
int harness_recv_reply(void *sock, char command[8], uint8_t *body, size_t size, int timeout_ms);

/*
 * From the next harness_start() on, the daemon runs in the network namespace
 * /run/netns/NAME (tests/support/netns.h), entered by the forked child before
 * exec; NULL: the test's own. The start's PING still comes from the test's
 * namespace, which must reach the ingress endpoint.
 */
void harness_set_netns(struct harness *h, const char *name);

#endif
