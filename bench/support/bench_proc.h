/*
 * bench_proc: what a benchmark reads of a process it started (or of
 * itself): CPU time, anonymous memory, and the end of its log when it failed.
 */
#ifndef MANDATED_BENCH_PROC_H
#define MANDATED_BENCH_PROC_H

#include <stdint.h>
#include <sys/types.h>

/*
 * CPU time of a whole process, every thread, in ns (pid 0: this one; -1:
 * the calling thread only); 0 if it cannot be read.
 */
uint64_t bench_proc_cpu_ns(pid_t pid);

/*
 * RssAnon of pid from /proc/PID/status, in KiB: its heap and stacks, not
 * the file pages it maps (LMDB's map is RssFile). -errno when unreadable.
 */
long bench_proc_rss_anon_kib(pid_t pid);

/*
 * write_bytes of pid from /proc/PID/io: what it has caused to be written to
 * storage (buffered writes count when they dirty the page cache). -errno
 * when unreadable.
 */
long long bench_proc_write_bytes(pid_t pid);

/* The last lines of a log file on stderr, framed, which say why a server failed. */
void bench_proc_print_log_tail(const char *path, int lines);

#endif
