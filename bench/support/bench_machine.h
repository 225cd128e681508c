/*
 * bench_machine: what a benchmark must know of the machine it runs on, to
 * place its files, find a port, and say whether the figures can be trusted.
 */
#ifndef MANDATED_BENCH_MACHINE_H
#define MANDATED_BENCH_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_BUSY_WARN 0.15 /* cores: above this the machine was not quiet */

/* $TMPDIR, else /tmp: where every temporary directory goes. */
const char *bench_tmpdir(void);

/* The file system under path ("ext4", "tmpfs", ...; "unknown"). */
const char *bench_fs_type(const char *path);

/*
 * A loopback TCP port nobody holds, or -errno. Probing without SO_REUSEADDR
 * also refuses a port with connections in TIME_WAIT, so consecutive runs
 * never meet an earlier run's leftovers.
 */
int bench_free_port(void);

/* Busy and total jiffies of all CPUs from /proc/stat; -errno. */
int bench_cpu_ticks(unsigned long long *ret_busy, unsigned long long *ret_total);

/*
 * Cores kept busy over half a second while the caller does nothing: other
 * tenants of the machine. Negative when /proc/stat cannot be read.
 */
double bench_busy_cores(void);

/* "  quiet?     WHEN: 0.02 CPUs busy with other processes", with a warning when not. */
void bench_print_busy(const char *when, double busy);
/* A warning line when bench_tmpdir() is tmpfs, where an fsync costs nothing. */
void bench_print_tmpfs_warning(void);

/*
 * Nanoseconds per 4 KiB page to first touch `bytes` of fresh anonymous
 * memory (mapped, written one byte a page, unmapped): what a new page of
 * page cache costs the kernel on this machine before anything is copied in
 * (microseconds on a VM that hands free pages back to its host). < 0 if the
 * memory cannot be mapped.
 */
double bench_first_touch_ns(size_t bytes);

#endif
