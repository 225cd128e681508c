/*
 * daemon_harness: process-level test support. Everything here is real: the
 * daemon binary (from $MANDATED_BIN), its LMDB files in a mkdtemp directory,
 * ZeroMQ sockets over ipc in that directory, signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "proto/curve_socket.h"
#include "config/embedded.h"
#include "proto/envelope.h"
#include "proto/pack.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/netns.h"
#include "tests/support/sample_data.h"

struct harness {
    char dir[256];
    char state_dir[300];
    char config[300];
    char endpoint[320];
    char workers[320];
    char log_path[300];
    pid_t pid;
    void *ctx;
    bool curve; /* the sockets it makes connect with these keys */
    char curve_server[41], curve_public[41], curve_secret[41];
    char netns[64]; /* the daemon's network namespace (harness_set_netns); "": the test's */
};

static void
s_die(const char *what)
{
    fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
    abort();
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

struct harness *
harness_new(const char *broker_extra, const char *tail_extra)
{
    struct harness *h = calloc(1, sizeof *h);
    if (!h)
        s_die("calloc");
    if (harness_mkdtemp(h->dir, sizeof h->dir, "mandated-test") < 0)
        s_die("mkdtemp");
    snprintf(h->state_dir, sizeof h->state_dir, "%s/var", h->dir);
    snprintf(h->config, sizeof h->config, "%s/mandated.conf", h->dir);
    snprintf(h->log_path, sizeof h->log_path, "%s/mandated.log", h->dir);
    bool own_ingress = broker_extra && strstr(broker_extra, "ingress");
    if (!own_ingress)
        snprintf(h->endpoint, sizeof h->endpoint, "ipc://%s/ingress.ipc", h->dir);

    FILE *f = fopen(h->config, "w");
    if (!f)
        s_die("fopen config");
    fprintf(f, "[broker]\n");
    if (!own_ingress)
        fprintf(f, "ingress = %s\n", h->endpoint);
    snprintf(h->workers, sizeof h->workers, "ipc://%s/workers.ipc", h->dir);
    fprintf(f, "workers = %s\nstate_dir = %s\nhttp = 127.0.0.1:%d\n%s\n", h->workers, h->state_dir,
            20000 + (int)(getpid() % 20000), broker_extra ? broker_extra : "");
    /* The shipped catalogue and sources, so tests see the real type names; no
     * spawned workers unless a test asks (harness_config_area). */
    const char *areas = strstr(embedded_config.text, "\n[area ");
    for (const char *p = areas; p && *p;) {
        const char *spawn = strstr(p, "spawn = yes");
        if (!spawn) {
            fputs(p, f);
            break;
        }
        fprintf(f, "%.*sspawn = no", (int)(spawn - p), p);
        p = spawn + strlen("spawn = yes");
    }
    fprintf(f, "\n%s", tail_extra ? tail_extra : "");
    fclose(f);

    if (own_ingress) {
        const char *p = strstr(broker_extra, "ingress");
        p = strchr(p, '=');
        p++;
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " \n;");
        snprintf(h->endpoint, sizeof h->endpoint, "%.*s", (int)n, p);
    }
    h->ctx = zmq_ctx_new();
    return h;
}

int
harness_mkdtemp(char *buf, size_t size, const char *prefix)
{
    const char *tmp = s_env("TMPDIR", "/tmp");
    if ((size_t)snprintf(buf, size, "%s/%s-XXXXXX", tmp, prefix) >= size)
        return -ENAMETOOLONG;
    return mkdtemp(buf) ? 0 : -errno;
}

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? -1 : 0;
}

int
harness_rm_rf(const char *dir)
{
    if (nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
        fprintf(stderr, "harness: could not remove %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    return 0;
}

void
harness_destroy(struct harness **h_p)
{
    struct harness *h = *h_p;
    if (!h)
        return;
    if (h->pid > 0)
        harness_kill9(h);
    zmq_ctx_term(h->ctx);
    if (getenv("MANDATE_KEEP_TMP"))
        fprintf(stderr, "harness: kept %s\n", h->dir);
    else {
        /* A test that mounted a tmpfs there and failed midway would leave it mounted. */
        char var[300];
        snprintf(var, sizeof var, "%s/var", h->dir);
        umount2(var, MNT_DETACH);
        harness_rm_rf(h->dir);
    }
    free(h);
    *h_p = NULL;
}

const char *
harness_dir(const struct harness *h)
{
    return h->dir;
}
const char *
harness_state_dir(const struct harness *h)
{
    return h->state_dir;
}
const char *
harness_config_path(const struct harness *h)
{
    return h->config;
}
const char *
harness_endpoint(const struct harness *h)
{
    return h->endpoint;
}
pid_t
harness_pid(const struct harness *h)
{
    return h->pid;
}
void *
harness_zmq_ctx(struct harness *h)
{
    return h->ctx;
}

void *
harness_dealer(struct harness *h)
{
    void *s = zmq_socket(h->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (h->curve && curve_socket_client(s, h->curve_server, h->curve_public, h->curve_secret) < 0)
        s_die("CURVE keys");
    if (zmq_connect(s, h->endpoint) < 0)
        s_die("zmq_connect");
    return s;
}

void
harness_set_curve(struct harness *h, const char *server_z85, const char *public_z85,
                  const char *secret_z85)
{
    h->curve = server_z85 != NULL;
    if (!h->curve)
        return;
    snprintf(h->curve_server, sizeof h->curve_server, "%s", server_z85);
    snprintf(h->curve_public, sizeof h->curve_public, "%s", public_z85);
    snprintf(h->curve_secret, sizeof h->curve_secret, "%s", secret_z85);
}

static int
s_ping(struct harness *h, int timeout_ms)
{
    void *s = harness_dealer(h);
    char cmd[8];
    uint8_t body[64];
    int rc = -1;
    if (zmq_send(s, "MEP1", 4, ZMQ_SNDMORE) >= 0 && zmq_send(s, "PING", 4, ZMQ_SNDMORE) >= 0 &&
        zmq_send(s, "", 0, 0) >= 0)
        rc = harness_recv_reply(s, cmd, body, sizeof body, timeout_ms);
    zmq_close(s);
    return rc >= 0 && strcmp(cmd, "PONG") == 0 ? 0 : -1;
}

int
harness_start(struct harness *h, int timeout_ms)
{
    const char *bin = s_env("MANDATED_BIN", "build/mandated");
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* A test killed midway must not leave its daemon behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        if (h->netns[0] && netns_enter(h->netns) < 0) {
            fprintf(stderr, "harness: cannot enter network namespace %s\n", h->netns);
            _exit(126);
        }
        execl(bin, bin, "-c", h->config, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    h->pid = pid;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (!harness_running(h))
            return -ECHILD;
        if (s_ping(h, 200) == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            return -ETIMEDOUT;
    }
}

bool
harness_running(struct harness *h)
{
    if (h->pid <= 0)
        return false;
    int status;
    if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
        h->pid = 0;
        return false;
    }
    return true;
}

void
harness_kill9(struct harness *h)
{
    if (h->pid <= 0)
        return;
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    h->pid = 0;
}

int
harness_stop(struct harness *h, int timeout_ms)
{
    if (h->pid <= 0)
        return -1;
    kill(h->pid, SIGTERM);
    return harness_wait(h, timeout_ms);
}

int
harness_wait(struct harness *h, int timeout_ms)
{
    if (h->pid <= 0)
        return -1;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int status;
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            h->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10000);
    }
    harness_kill9(h);
    return -1;
}

static int
s_ctl(struct harness *h, const char *input, char **ret_out, char **ret_err, va_list ap)
{
    const char *bin = s_env("MANDATECTL_BIN", "build/mandatectl");
    const char *argv[64];
    int argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "-c";
    argv[argc++] = h->config;
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 62)
        argv[argc++] = a;
    argv[argc] = NULL;

    char out_path[320], err_path[320], in_path[320];
    snprintf(out_path, sizeof out_path, "%s/ctl.out", h->dir);
    snprintf(err_path, sizeof err_path, "%s/ctl.err", h->dir);
    snprintf(in_path, sizeof in_path, "%s/ctl.in", h->dir);
    if (input) {
        FILE *f = fopen(in_path, "w");
        if (!f)
            s_die("fopen ctl.in");
        fputs(input, f);
        fclose(f);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        close(fd);
        if (ret_err) {
            fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 2);
            close(fd);
        }
        fd = open(input ? in_path : "/dev/null", O_RDONLY);
        dup2(fd, 0);
        close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (ret_out)
        *ret_out = harness_read_file(out_path);
    if (ret_err)
        *ret_err = harness_read_file(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
harness_ctl(struct harness *h, const char *input, char **ret_out, ...)
{
    va_list ap;
    va_start(ap, ret_out);
    int rc = s_ctl(h, input, ret_out, NULL, ap);
    va_end(ap);
    return rc;
}

int
harness_ctl_err(struct harness *h, char **ret_out, char **ret_err, ...)
{
    va_list ap;
    va_start(ap, ret_err);
    int rc = s_ctl(h, NULL, ret_out, ret_err, ap);
    va_end(ap);
    return rc;
}

char *
harness_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    if (!buf)
        s_die("malloc");
    while (f && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2 && !(buf = realloc(buf, cap *= 2)))
            s_die("realloc");
    }
    buf[len] = '\0';
    if (f)
        fclose(f);
    return buf;
}

char *
harness_daemon_log(const struct harness *h)
{
    return harness_read_file(h->log_path);
}

size_t
harness_envelope(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                 const char *source, uint64_t n)
{
    return harness_envelope_corr(buf, size, id, type, source, n, NULL);
}

size_t
harness_envelope_corr(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                      const char *source, uint64_t n, const uint8_t *corr)
{
    msgpack_sbuffer data;
    msgpack_packer pk;
    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, pack_sbuffer_write);
    /* Data the catalogue accepts: its type's sample with n added; types
     * outside the catalogue just n. */
    if (sample_data_pack(type, NULL, (int64_t)n, &data) < 0) {
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "n", 1);
        msgpack_pack_uint64(&pk, n);
    }
    size_t len = harness_envelope_data(buf, size, id, type, source, n, corr, data.data, data.size);
    msgpack_sbuffer_destroy(&data);
    return len;
}

size_t
harness_envelope_data(uint8_t *buf, size_t size, const uint8_t id[16], const char *type,
                      const char *source, uint64_t n, const uint8_t *corr, const void *data,
                      size_t data_len)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    struct envelope_fields f = {.id = id,
                                .type = type,
                                .source = source,
                                .time_ms = 1780000000000ull + n,
                                .corr = corr,
                                .data = data,
                                .data_len = data_len};
    envelope_encode(&f, &out);
    size_t len = out.size <= size ? out.size : 0;
    if (len)
        memcpy(buf, out.data, len);
    msgpack_sbuffer_destroy(&out);
    return len;
}

int
harness_send_pub(void *sock, const void *body, size_t len)
{
    if (zmq_send(sock, "MEP1", 4, ZMQ_SNDMORE) < 0 || zmq_send(sock, "PUB", 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, body, len, 0) < 0)
        return -errno;
    return 0;
}

int
harness_recv_reply(void *sock, char command[8], uint8_t *body, size_t size, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    command[0] = '\0';
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return -1;
    char frames[4][8];
    int nframes = 0, body_len = -1;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0)
            return -1;
        more = zmq_msg_more(&m);
        size_t n = zmq_msg_size(&m);
        if (more && nframes < 4) {
            size_t c = n < 7 ? n : 7;
            memcpy(frames[nframes], zmq_msg_data(&m), c);
            frames[nframes][c] = '\0';
            nframes++;
        } else if (!more) {
            body_len = (int)(n < size ? n : size);
            memcpy(body, zmq_msg_data(&m), (size_t)body_len);
        }
        zmq_msg_close(&m);
    }
    if (nframes >= 2)
        strcpy(command, frames[nframes - 1]);
    return body_len;
}

void
harness_write_config(struct harness *h, const char *sections)
{
    FILE *f = fopen(h->config, "w");
    if (!f)
        s_die("fopen config");
    fprintf(f, "[broker]\ningress = %s\nworkers = %s\nstate_dir = %s\n\n%s", h->endpoint,
            h->workers, h->state_dir, sections);
    fclose(f);
}

int
harness_config_area(struct harness *h, const char *area, const char *key, const char *value)
{
    char *text = harness_read_file(h->config);
    char header[96];
    snprintf(header, sizeof header, "[area %s]\n", area);
    char *sec = strstr(text, header);
    if (!sec) {
        free(text);
        return -ENOENT;
    }
    /* The key's line within the section, which ends at the next "\n[". */
    char *end = strstr(sec + 1, "\n[");
    char *line = NULL;
    size_t klen = strlen(key);
    for (char *p = strchr(sec, '\n'); p && (!end || p < end); p = strchr(p + 1, '\n'))
        if (strncmp(p + 1, key, klen) == 0 && (p[1 + klen] == ' ' || p[1 + klen] == '=')) {
            line = p + 1;
            break;
        }
    FILE *f = fopen(h->config, "w");
    if (!f)
        s_die("fopen config");
    if (line) {
        char *eol = strchr(line, '\n');
        fprintf(f, "%.*s%s = %s%s", (int)(line - text), text, key, value, eol ? eol : "\n");
    } else {
        char *after = strchr(sec, '\n') + 1;
        fprintf(f, "%.*s%s = %s\n%s", (int)(after - text), text, key, value, after);
    }
    fclose(f);
    free(text);
    return 0;
}

const char *
harness_workers_endpoint(const struct harness *h)
{
    return h->workers;
}

static int
s_tmpfs(struct harness *h, const char *size, unsigned long flags)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    mkdir(h->state_dir, 0750);
    return mount("tmpfs", h->state_dir, "tmpfs", flags, opts) < 0 ? -errno : 0;
}

int
harness_mount_state_tmpfs(struct harness *h, const char *size)
{
    return s_tmpfs(h, size, 0);
}

int
harness_remount_state_tmpfs(struct harness *h, const char *size)
{
    return s_tmpfs(h, size, MS_REMOUNT);
}

int
harness_umount_state(struct harness *h)
{
    return umount(h->state_dir) < 0 ? -errno : 0;
}

void
harness_set_netns(struct harness *h, const char *name)
{
    snprintf(h->netns, sizeof h->netns, "%s", name ? name : "");
}
