/*
 * netns: namespaces and veth pairs through iproute2's `ip`, run by
 * fork/exec with its output captured for the error message. Every `ip` is
 * bounded (S_IP_TIMEOUT_MS, then SIGKILL to that pid): a test must end by
 * itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/support/netns.h"

#define S_IP_TIMEOUT_MS 10000
#define S_IP_ARGS_MAX   24
#define S_RUN_NETNS     "/run/netns"

struct netns_lab {
    char prefix[32];
    char names[NETNS_HOSTS_MAX][NETNS_NAME_MAX];
    char hosts[NETNS_HOSTS_MAX][NETNS_NAME_MAX];
    size_t n;
    int home_fd; /* the creating thread's namespace at netns_lab_new() */
    char error[1024];
    struct netns_lab *next_live;
};

/* Labs not destroyed yet, for the atexit handler. */
static struct netns_lab *s_live;
static bool s_atexit_set;

static const char *
s_ip_path(void)
{
    static const char *const paths[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* Reads the child's output into out (cut short) until EOF or the deadline. */
static void
s_read_output(int fd, char *out, size_t size, uint64_t deadline)
{
    size_t len = strlen(out);
    char buf[512];

    for (;;) {
        uint64_t now = monotonic_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return;
        size_t take = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
        out[len] = '\0';
    }
}

/*
 * Runs ip with the arguments (NULL-terminated). Returns 0, or -EIO (it
 * failed; lab->error holds the command and what it said), -ETIMEDOUT, or
 * -errno of fork/exec.
 */
static int
s_ip(struct netns_lab *lab, ...)
{
    const char *argv[S_IP_ARGS_MAX + 2];
    const char *ip = s_ip_path();
    size_t argc = 0, len;
    int pipefd[2], status, rc;
    va_list ap;

    if (!ip) {
        snprintf(lab->error, sizeof lab->error, "ip (iproute2) not found");
        return -ENOENT;
    }
    argv[argc++] = ip;
    va_start(ap, lab);
    for (const char *a; (a = va_arg(ap, const char *)) && argc < S_IP_ARGS_MAX + 1;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    len = (size_t)snprintf(lab->error, sizeof lab->error, "ip");
    for (size_t i = 1; i < argc && len < sizeof lab->error; i++)
        len += (size_t)snprintf(lab->error + len, sizeof lab->error - len, " %s", argv[i]);
    if (len < sizeof lab->error)
        snprintf(lab->error + len, sizeof lab->error - len, ": ");

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return rc;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execv(ip, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    uint64_t deadline = monotonic_ms() + S_IP_TIMEOUT_MS;
    s_read_output(pipefd[0], lab->error, sizeof lab->error, deadline);
    close(pipefd[0]);
    while ((rc = (int)waitpid(pid, &status, WNOHANG)) == 0 && monotonic_ms() < deadline)
        usleep(10000);
    if (rc == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -ETIMEDOUT;
    }
    if (rc < 0)
        return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int
netns_enter(const char *name)
{
    char path[sizeof S_RUN_NETNS + NETNS_NAME_MAX + 1];
    int fd, rc = 0;

    if ((size_t)snprintf(path, sizeof path, S_RUN_NETNS "/%s", name) >= sizeof path)
        return -ENAMETOOLONG;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (setns(fd, CLONE_NEWNET) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Whether a namespace is one of a live lab's (this process may hold two). */
static bool
s_is_live(const char *name)
{
    for (const struct netns_lab *l = s_live; l; l = l->next_live)
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->names[i], name) == 0)
                return true;
    return false;
}

/*
 * Deletes what an earlier run left: PREFIX-PID-* with PID ours (the same
 * names: a run killed before it could clean up, whose pid came round again)
 * or no longer alive. A live pid's namespaces belong to a run still going,
 * and are left alone.
 */
static void
s_remove_leftovers(struct netns_lab *lab)
{
    DIR *d = opendir(S_RUN_NETNS);
    size_t plen = strlen(lab->prefix);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, lab->prefix, plen) != 0 || e->d_name[plen] != '-')
            continue;
        long pid = strtol(e->d_name + plen + 1, &end, 10);
        if (end == e->d_name + plen + 1 || *end != '-' || pid <= 0)
            continue;
        if (s_is_live(e->d_name))
            continue;
        if (pid == getpid() || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
            fprintf(stderr, "netns: removing a leftover namespace %s\n", e->d_name);
            s_ip(lab, "netns", "delete", e->d_name, NULL);
        }
    }
    closedir(d);
}

static void
s_at_exit(void)
{
    while (s_live) {
        struct netns_lab *lab = s_live;
        netns_lab_destroy(&lab);
    }
}

struct netns_lab *
netns_lab_new(const char *prefix, const char *const *hosts, char *why, size_t why_size)
{
    struct netns_lab *lab;

    if (geteuid() != 0) {
        snprintf(why, why_size, "making network namespaces needs root (CI runs as root)");
        return NULL;
    }
    if (!s_ip_path()) {
        snprintf(why, why_size, "ip (iproute2) not found: scripts/install-deps installs it");
        return NULL;
    }
    lab = calloc(1, sizeof *lab);
    if (!lab) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    snprintf(lab->prefix, sizeof lab->prefix, "%s", prefix);
    lab->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    lab->next_live = s_live;
    s_live = lab;
    if (!s_atexit_set && atexit(s_at_exit) == 0)
        s_atexit_set = true;
    s_remove_leftovers(lab);

    for (size_t i = 0; hosts[i]; i++) {
        if (i == NETNS_HOSTS_MAX) {
            snprintf(why, why_size, "more than %d hosts", NETNS_HOSTS_MAX);
            goto out_destroy;
        }
        char *name = lab->names[lab->n];
        snprintf(name, NETNS_NAME_MAX, "%s-%ld-%s", prefix, (long)getpid(), hosts[i]);
        snprintf(lab->hosts[lab->n], NETNS_NAME_MAX, "%s", hosts[i]);
        if (s_ip(lab, "netns", "add", name, NULL) < 0) {
            snprintf(why, why_size, "cannot make a network namespace here: %s", lab->error);
            goto out_destroy;
        }
        lab->n++;
        if (s_ip(lab, "-n", name, "link", "set", "lo", "up", NULL) < 0) {
            snprintf(why, why_size, "cannot bring up a namespace's loopback: %s", lab->error);
            goto out_destroy;
        }
    }
    return lab;

out_destroy:
    netns_lab_destroy(&lab);
    return NULL;
}

void
netns_lab_destroy(struct netns_lab **lab_p)
{
    struct netns_lab *lab = *lab_p;

    if (!lab)
        return;
    for (struct netns_lab **p = &s_live; *p; p = &(*p)->next_live)
        if (*p == lab) {
            *p = lab->next_live;
            break;
        }
    if (lab->home_fd >= 0) {
        setns(lab->home_fd, CLONE_NEWNET);
        close(lab->home_fd);
    }
    /* Deleting a namespace deletes the veth ends in it, and so their peers. */
    for (size_t i = lab->n; i-- > 0;)
        if (s_ip(lab, "netns", "delete", lab->names[i], NULL) < 0)
            fprintf(stderr, "netns: %s\n", lab->error);
    free(lab);
    *lab_p = NULL;
}

const char *
netns_lab_name(const struct netns_lab *lab, const char *host)
{
    for (size_t i = 0; host && i < lab->n; i++)
        if (strcmp(lab->hosts[i], host) == 0)
            return lab->names[i];
    return NULL;
}

const char *
netns_lab_error(const struct netns_lab *lab)
{
    return lab->error;
}

/* A host's namespace, or NULL with the error set. */
static const char *
s_ns(struct netns_lab *lab, const char *host)
{
    const char *ns = netns_lab_name(lab, host);

    if (!ns)
        snprintf(lab->error, sizeof lab->error, "no host '%s' in the lab", host);
    return ns;
}

int
netns_lab_link(struct netns_lab *lab, const struct netns_end *a, const struct netns_end *b)
{
    const char *ns_a = s_ns(lab, a->host), *ns_b = s_ns(lab, b->host);
    int rc;

    if (!ns_a || !ns_b)
        return -ENOENT;
    /* Made inside a's namespace with the peer put in b's: the pair never
     * appears in the machine's own namespace, not even for a moment. */
    rc = s_ip(lab, "-n", ns_a, "link", "add", a->ifname, "type", "veth", "peer", "name", b->ifname,
              "netns", ns_b, NULL);
    if (rc == 0)
        rc = s_ip(lab, "-n", ns_a, "addr", "add", a->addr, "dev", a->ifname, NULL);
    if (rc == 0)
        rc = s_ip(lab, "-n", ns_b, "addr", "add", b->addr, "dev", b->ifname, NULL);
    if (rc == 0)
        rc = netns_lab_set_link(lab, a->host, a->ifname, true);
    if (rc == 0)
        rc = netns_lab_set_link(lab, b->host, b->ifname, true);
    return rc;
}

int
netns_lab_set_link(struct netns_lab *lab, const char *host, const char *ifname, bool up)
{
    const char *ns = s_ns(lab, host);

    if (!ns)
        return -ENOENT;
    return s_ip(lab, "-n", ns, "link", "set", "dev", ifname, up ? "up" : "down", NULL);
}

int
netns_lab_enter(struct netns_lab *lab, const char *host)
{
    if (!host) {
        if (lab->home_fd < 0 || setns(lab->home_fd, CLONE_NEWNET) < 0)
            return lab->home_fd < 0 ? -EBADF : -errno;
        return 0;
    }
    const char *ns = s_ns(lab, host);
    return ns ? netns_enter(ns) : -ENOENT;
}
