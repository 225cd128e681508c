/*
 * netns: several hosts on one machine for process-level tests. A lab is a
 * set of network namespaces named PREFIX-PID-HOST (the pid is the test's),
 * joined by veth pairs whose ends and addresses live inside those namespaces
 * only: the machine's own namespace gets no interface, no address and no
 * route. Made with iproute2's `ip`, fork/exec'd without a shell. Needs root.
 *
 * Cleanup: netns_lab_destroy() deletes every namespace (and so its veths);
 * an atexit handler does it for a lab a failed test left behind; and
 * netns_lab_new() first deletes the leftovers of an earlier run that could
 * not clean up (killed): namespaces of this prefix whose pid is ours or no
 * longer alive.
 */
#ifndef MANDATE_NETNS_H
#define MANDATE_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#define NETNS_NAME_MAX  64
#define NETNS_HOSTS_MAX 8

struct netns_lab;

/* One end of a veth pair: the host (namespace) it is in, its name, its address with prefix. */
struct netns_end {
    const char *host;
    const char *ifname; /* at most 15 characters */
    const char *addr;   /* "198.18.1.1/24" */
};

/*
 * Makes one namespace per host (NULL-terminated, at most NETNS_HOSTS_MAX),
 * each with its loopback up. Returns NULL with why filled where namespaces
 * cannot be made (not root, no `ip`, `ip netns add` refused): the caller's
 * reason to skip.
 */
struct netns_lab *netns_lab_new(const char *prefix, const char *const *hosts, char *why,
                                size_t why_size);
/*
 * Returns the creating thread to the namespace it started in (if it entered
 * one of the lab's) and deletes the namespaces. Accepts NULL, nulls *lab_p.
 */
void netns_lab_destroy(struct netns_lab **lab_p);

/* The namespace's full name (as under /run/netns), or NULL for an unknown host. */
const char *netns_lab_name(const struct netns_lab *lab, const char *host);
/* The last `ip` command line and what it said: after a failure, why. */
const char *netns_lab_error(const struct netns_lab *lab);

/* A veth pair between two hosts, addressed and up. Returns 0 or -errno (netns_lab_error). */
int netns_lab_link(struct netns_lab *lab, const struct netns_end *a, const struct netns_end *b);
/* `ip link set IFNAME up|down` inside host's namespace: cutting a link, restoring it. */
int netns_lab_set_link(struct netns_lab *lab, const char *host, const char *ifname, bool up);
/*
 * The calling thread joins host's namespace (NULL: the one it started in).
 * Threads and processes it makes from then on start there; sockets it has
 * already made stay where they are.
 */
int netns_lab_enter(struct netns_lab *lab, const char *host);

/*
 * The calling thread joins /run/netns/NAME. Only open/setns/close, so a
 * child may call it between fork and exec. Returns 0 or -errno.
 */
int netns_enter(const char *name);

#endif
