#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/support/bench_cgroup.h"

#define V2_ROOT "/sys/fs/cgroup"
#define V1_ROOT "/sys/fs/cgroup/memory"

static int
s_write(const char *dir, const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return rc;
}

static uint64_t
s_read_u64(const char *dir, const char *file)
{
    char path[512], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t v = fgets(buf, sizeof buf, f) ? strtoull(buf, NULL, 10) : 0;
    fclose(f);
    return v;
}

/* v2 only counts when its memory controller can be enabled for children of the root. */
static bool
s_v2_memory(void)
{
    char buf[256] = "";
    FILE *f = fopen(V2_ROOT "/cgroup.controllers", "r");
    if (!f)
        return false;
    bool found = false;
    if (fgets(buf, sizeof buf, f))
        for (char *save = NULL, *t = strtok_r(buf, " \n", &save); t && !found;
             t = strtok_r(NULL, " \n", &save))
            found = strcmp(t, "memory") == 0;
    fclose(f);
    return found && s_write(V2_ROOT, "cgroup.subtree_control", "+memory") == 0;
}

int
bench_cgroup_create(struct bench_cgroup *cg, uint64_t max_bytes, char *err, size_t errlen)
{
    bool v2 = s_v2_memory();
    const char *root = v2 ? V2_ROOT : V1_ROOT;
    char limit[32];

    snprintf(cg->path, sizeof cg->path, "%s/mandated-bench-%d", root, (int)getpid());
    if (mkdir(cg->path, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(err, errlen, "mkdir %s: %s (needs root and a cgroup memory controller)", cg->path,
                 strerror(errno));
        cg->path[0] = '\0';
        return rc;
    }
    snprintf(limit, sizeof limit, "%" PRIu64, max_bytes);
    const char *file = v2 ? "memory.max" : "memory.limit_in_bytes";
    int rc = s_write(cg->path, file, limit);
    if (rc < 0) {
        snprintf(err, errlen, "%s/%s: %s", cg->path, file, strerror(-rc));
        bench_cgroup_remove(cg);
    }
    return rc;
}

int
bench_cgroup_add(const struct bench_cgroup *cg, pid_t pid)
{
    char text[32];
    snprintf(text, sizeof text, "%d", (int)pid);
    return cg->path[0] ? s_write(cg->path, "cgroup.procs", text) : -ENOENT;
}

uint64_t
bench_cgroup_peak(const struct bench_cgroup *cg)
{
    if (!cg->path[0])
        return 0;
    uint64_t v = s_read_u64(cg->path, "memory.max_usage_in_bytes");
    return v ? v : s_read_u64(cg->path, "memory.peak");
}

void
bench_cgroup_remove(struct bench_cgroup *cg)
{
    if (cg->path[0])
        rmdir(cg->path);
    cg->path[0] = '\0';
}
