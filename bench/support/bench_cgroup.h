/*
 * bench_cgroup: a memory cgroup for the daemon under test, so that its page
 * cache is recycled as on a machine whose RAM is already full, instead of
 * growing into memory nobody has touched since boot. On a VM that hands
 * free pages back to its host (virtio-balloon free page reporting), the
 * first touch of such a page costs microseconds (bench_first_touch_ns in
 * bench_machine.h), and
 * a growing log pays it for every new page of the file.
 *
 * cgroup v2 where the root offers its memory controller (enabled for the
 * root's children if it was not: that stays), else v1's memory hierarchy.
 * Needs root. The group is made once and removed at the end.
 */
#ifndef MANDATED_BENCH_CGROUP_H
#define MANDATED_BENCH_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_cgroup {
    char path[256]; /* the group's directory, "" if none */
};

/* Makes the group "mandated-bench-PID" with a limit of max_bytes; -errno with err set. */
int bench_cgroup_create(struct bench_cgroup *cg, uint64_t max_bytes, char *err, size_t errlen);
/* Moves pid into the group; -errno. */
int bench_cgroup_add(const struct bench_cgroup *cg, pid_t pid);
/* The most the group has held, in bytes (v1's max usage, v2's peak); 0 if unknown. */
uint64_t bench_cgroup_peak(const struct bench_cgroup *cg);
/* Removes the group (its processes must have exited); harmless when there is none. */
void bench_cgroup_remove(struct bench_cgroup *cg);

#endif
