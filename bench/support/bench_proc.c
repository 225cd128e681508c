#include "bench/support/bench_proc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t
bench_proc_cpu_ns(pid_t pid)
{
    clockid_t clk = pid < 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
    struct timespec ts;
    if (pid > 0 && clock_getcpuclockid(pid, &clk) != 0)
        return 0;
    if (clock_gettime(clk, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long
bench_proc_rss_anon_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -ENOENT;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "RssAnon:", 8) == 0) {
            if (sscanf(line + 8, "%ld", &kib) != 1)
                kib = -EPROTO;
            break;
        }
    }
    fclose(f);
    return kib;
}

long long
bench_proc_write_bytes(pid_t pid)
{
    char path[64], line[256];
    long long bytes = -ENOENT;

    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "write_bytes:", 12) == 0) {
            if (sscanf(line + 12, "%lld", &bytes) != 1)
                bytes = -EPROTO;
            break;
        }
    }
    fclose(f);
    return bytes;
}

void
bench_proc_print_log_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    char buf[16 * 1024];
    if (!f)
        return;
    if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) < 0)
        rewind(f); /* shorter than the buffer */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = buf + n;
    for (int seen = 0; p > buf; p--) {
        if (p[-1] == '\n' && p != buf + n && ++seen > lines)
            break;
    }
    fprintf(stderr, "---- %s (end) ----\n%s----\n", path, p);
}
