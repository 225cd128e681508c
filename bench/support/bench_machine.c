#include "bench/support/bench_machine.h"
#include "common/clock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define PORT_FIRST 17400
#define PORT_SPAN  1000

const char *
bench_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

const char *
bench_fs_type(const char *path)
{
    static const struct {
        unsigned long magic;
        const char *name;
    } types[] = {{0xEF53, "ext4"},          {0x58465342, "xfs"},
                 {0x9123683E, "btrfs"},     {0x01021994, "tmpfs"},
                 {0x794c7630, "overlayfs"}, {0x2fc12fc1, "zfs"},
                 {0x65735546, "fuse"},      {0x6969, "nfs"}};
    struct statfs fs;
    if (statfs(path, &fs) == 0)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if ((unsigned long)fs.f_type == types[i].magic)
                return types[i].name;
    return "unknown";
}

int
bench_free_port(void)
{
    static int next;
    if (!next)
        next = PORT_FIRST + (int)(getpid() % PORT_SPAN);
    for (int tries = 0; tries < PORT_SPAN; tries++) {
        int port = next;
        next = next + 1 < PORT_FIRST + 2 * PORT_SPAN ? next + 1 : PORT_FIRST;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int free_port = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (free_port)
            return port;
    }
    return -EADDRINUSE;
}

int
bench_cpu_ticks(unsigned long long *ret_busy, unsigned long long *ret_total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -errno;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -EIO;
    *ret_total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    *ret_busy = *ret_total - v[3] - v[4]; /* all but idle and iowait */
    return 0;
}

double
bench_busy_cores(void)
{
    unsigned long long b0, t0, b1, t1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (bench_cpu_ticks(&b0, &t0) < 0)
        return -1;
    usleep(500000);
    if (bench_cpu_ticks(&b1, &t1) < 0 || t1 <= t0)
        return -1;
    return (double)(b1 - b0) / (double)(t1 - t0) * (double)(ncpu > 0 ? ncpu : 1);
}

void
bench_print_busy(const char *when, double busy)
{
    if (busy < 0)
        printf("  quiet?     %s: /proc/stat unreadable\n", when);
    else
        printf("  quiet?     %s: %.2f CPUs busy with other processes%s\n", when, busy,
               busy > BENCH_BUSY_WARN ? "  <- NOT QUIET: figures are skewed" : "");
}

void
bench_print_tmpfs_warning(void)
{
    if (strcmp(bench_fs_type(bench_tmpdir()), "tmpfs") == 0)
        printf("  WARNING    %s is tmpfs: fsync costs nothing there; set TMPDIR to a real disk\n",
               bench_tmpdir());
}

double
bench_first_touch_ns(size_t bytes)
{
    const size_t page = 4096;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    uint64_t t0 = monotonic_ns();
    for (size_t off = 0; off < bytes; off += page)
        ((volatile char *)p)[off] = 1;
    uint64_t t1 = monotonic_ns();
    munmap(p, bytes);
    return (double)(t1 - t0) / (double)(bytes / page);
}
