/*
 * bench_spawn: the servers a benchmark starts from other packages (redis-server,
 * nats-server), run as child processes it can account for and always stop:
 * they die with the benchmark, and are stopped by their pid, never by name.
 */
#ifndef MANDATED_BENCH_SPAWN_H
#define MANDATED_BENCH_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Starts argv[0] (a path) with argv (NULL-terminated): stdin from /dev/null,
 * stdout and stderr into log_path (created or truncated). The child gets
 * SIGKILL if this process dies. Returns 0 with *ret_pid once exec has
 * succeeded, or -errno (exec's own error when the program would not run).
 */
int bench_spawn(const char *const argv[], const char *log_path, pid_t *ret_pid);

/* True, with the wait status, when pid has already exited (it is then reaped). */
bool bench_spawn_exited(pid_t pid, int *ret_status);

/*
 * sig (SIGTERM, or what the server takes as its clean stop), then up to
 * timeout_ms for pid to exit, then SIGKILL. Returns its exit code (0..255),
 * 128 + the signal that ended it, or -ETIMEDOUT when it had to be killed.
 * The pid is reaped either way.
 */
int bench_spawn_stop(pid_t pid, int sig, int timeout_ms);

/* The first line a program prints (its --version), without the newline; "" if none. */
void bench_spawn_first_line(const char *const argv[], char *buf, size_t size);

#endif
