/*
 * config: loads the INI configuration (DESIGN.md "Config") with inih and
 * checks it completely before anyone sees it, so that a config either loads
 * whole or fails with one error naming its file, line and key.
 * inih reads it through config/ini_file.c, which counts lines and opens
 * sections first: an [area] exists even with no keys, and its checks carry
 * its header's line.
 *
 * Allocation failure aborts with a message (STYLE.md rule 4): a config is
 * loaded at start and on SIGHUP, where there is nothing better to do.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "config/config.h"
#include "config/embedded.h"
#include "config/ini_file.h"
#include "proto/text.h"

#define LOCAL_CONFIG  "config/mandated.conf"
#define SYSTEM_CONFIG "/etc/mandated/mandated.conf"
/* Config files are hand-written pages; anything bigger is a mistake. */
#define MAX_FILE_BYTES (1024 * 1024)
/* Names end up in MDP service names, unit names and error keys (96 bytes). */
#define MAX_NAME 64
#define MAX_RATE 1e9
#define KIB      1024ull
#define MIB      (1024ull * 1024)
/* Past 64 TiB an LMDB map cannot be mapped in a 47-bit address space. */
#define MAX_MAP_BYTES (64ull * 1024 * 1024 * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* The key table: every key, its section, type and range. The defaults are
 * in s_config_new(); man/mandated.conf.5 documents both. */

enum section {
    SEC_NONE,
    SEC_BROKER,
    SEC_DELIVERY,
    SEC_SECURITY,
    SEC_AREA,
    SEC_SOURCE,
    SEC_WORKER,
};

enum kind {
    K_ENDPOINT, /* ZeroMQ endpoint: tcp://, ipc://, inproc:// */
    K_HOSTPORT, /* HOST:PORT for the HTTP server */
    K_PATH,     /* non-empty string */
    K_TEXT,     /* UTF-8 text, may be empty, may continue on indented lines */
    K_DURABILITY,
    K_BOOL,
    K_UINT, /* unsigned */
    K_SIZE, /* size_t */
    K_U64,  /* uint64_t */
    K_RATE, /* double in 0..MAX_RATE */
    K_GLOBS,
    K_AREAS, /* area names, separated by commas or blanks */
};

struct key_def {
    enum section sec;
    const char *name;
    enum kind kind;
    /* Offset in struct mandated_config (global sections), struct area_conf
     * or struct source_conf. */
    size_t offset;
    uint64_t min, max;
};

#define BROKER(m)   offsetof(struct mandated_config, broker.m)
#define DELIVERY(m) offsetof(struct mandated_config, delivery.m)
#define SECURITY(m) offsetof(struct mandated_config, security.m)
#define AREA(m)     offsetof(struct area_conf, m)
#define SOURCE(m)   offsetof(struct source_conf, m)
#define WORKER(m)   offsetof(struct worker_conf, m)

static const struct key_def s_keys[] = {
    {SEC_BROKER, "ingress", K_ENDPOINT, BROKER(ingress), 0, 0},
    {SEC_BROKER, "workers", K_ENDPOINT, BROKER(workers), 0, 0},
    {SEC_BROKER, "http", K_HOSTPORT, BROKER(http), 0, 0},
    {SEC_BROKER, "state_dir", K_PATH, BROKER(state_dir), 0, 0},
    {SEC_BROKER, "durability", K_DURABILITY, BROKER(durability), 0, 0},
    {SEC_BROKER, "max_event_bytes", K_SIZE, BROKER(max_event_bytes), 256, 16 * MIB},
    {SEC_BROKER, "commit_max_batch", K_UINT, BROKER(commit_max_batch), 1, 65536},
    {SEC_BROKER, "commit_max_delay_ms", K_UINT, BROKER(commit_max_delay_ms), 0, 1000},
    {SEC_BROKER, "map_max_bytes", K_U64, BROKER(map_max_bytes), MIB, MAX_MAP_BYTES},
    {SEC_BROKER, "map_initial_bytes", K_U64, BROKER(map_initial_bytes), 64 * KIB, MAX_MAP_BYTES},
    {SEC_BROKER, "ids_in_memory", K_UINT, BROKER(ids_in_memory), 1, 100000000},
    {SEC_BROKER, "ids_filter", K_UINT, BROKER(ids_filter), 0, 200000000},
    {SEC_BROKER, "rejected_log_rate", K_RATE, BROKER(rejected_log_rate), 0, 0},
    {SEC_BROKER, "worker_program", K_PATH, BROKER(worker_program), 0, 0},
    {SEC_BROKER, "catalogue", K_TEXT, BROKER(catalogue), 0, 0},
    {SEC_BROKER, "calendar_dir", K_TEXT, BROKER(calendar_dir), 0, 0},
    {SEC_BROKER, "asset_registry", K_TEXT, BROKER(asset_registry), 0, 0},
    {SEC_DELIVERY, "heartbeat_ms", K_UINT, DELIVERY(heartbeat_ms), 10, 600000},
    {SEC_DELIVERY, "liveness", K_UINT, DELIVERY(liveness), 1, 100},
    {SEC_DELIVERY, "max_attempts", K_UINT, DELIVERY(max_attempts), 1, 1000},
    {SEC_DELIVERY, "retry_backoff_ms", K_UINT, DELIVERY(retry_backoff_ms), 0, 3600000},
    {SEC_DELIVERY, "drain_timeout_ms", K_UINT, DELIVERY(drain_timeout_ms), 0, 600000},
    {SEC_DELIVERY, "deadline_scan_ms", K_UINT, DELIVERY(deadline_scan_ms), 10, 3600000},
    {SEC_DELIVERY, "deadline_warn_ms", K_UINT, DELIVERY(deadline_warn_ms), 0, 4000000000u},
    {SEC_SECURITY, "curve", K_BOOL, SECURITY(curve), 0, 0},
    {SEC_SECURITY, "server_secret_key", K_PATH, SECURITY(server_secret_key), 0, 0},
    {SEC_SECURITY, "server_public_key", K_PATH, SECURITY(server_public_key), 0, 0},
    {SEC_SECURITY, "sources_dir", K_PATH, SECURITY(sources_dir), 0, 0},
    {SEC_SECURITY, "workers_curve", K_BOOL, SECURITY(workers_curve), 0, 0},
    {SEC_SECURITY, "worker_keys_dir", K_PATH, SECURITY(worker_keys_dir), 0, 0},
    {SEC_SECURITY, "worker_secret_key", K_TEXT, SECURITY(worker_secret_key), 0, 0},
    {SEC_SECURITY, "client_secret_key", K_TEXT, SECURITY(client_secret_key), 0, 0},
    {SEC_AREA, "unit", K_TEXT, AREA(unit), 0, 0},
    {SEC_AREA, "triage_unit", K_TEXT, AREA(triage_unit), 0, 0},
    {SEC_AREA, "types", K_GLOBS, AREA(types), 0, 0},
    {SEC_AREA, "workers", K_UINT, AREA(workers), 0, 64},
    {SEC_AREA, "spawn", K_BOOL, AREA(spawn), 0, 0},
    {SEC_AREA, "credit", K_UINT, AREA(credit), 1, 1024},
    {SEC_SOURCE, "allow", K_GLOBS, SOURCE(allow), 0, 0},
    {SEC_SOURCE, "rate", K_RATE, SOURCE(rate), 0, 0},
    {SEC_SOURCE, "burst", K_RATE, SOURCE(burst), 0, 0},
    {SEC_WORKER, "areas", K_AREAS, WORKER(areas), 0, 0},
};

#define NKEYS (sizeof(s_keys) / sizeof(s_keys[0]))

/* The index of a key in s_keys, or NKEYS. */
static size_t
s_key_index(enum section sec, const char *name)
{
    size_t i;
    for (i = 0; i < NKEYS; i++)
        if (s_keys[i].sec == sec && strcmp(s_keys[i].name, name) == 0)
            break;
    return i;
}

static const char *const s_section_names[] = {
    [SEC_NONE] = "",
    [SEC_BROKER] = "broker",
    [SEC_DELIVERY] = "delivery",
    [SEC_SECURITY] = "security",
    [SEC_AREA] = "area",
    [SEC_SOURCE] = "source",
    [SEC_WORKER] = "worker",
};

/* ------------------------------------------------------------------------ */
/* Parser state. */

/* Where a section and each of its keys were set; 0 = not set. */
struct section_lines {
    unsigned header;
    unsigned key[NKEYS];
};

struct parse {
    const char *name; /* file name for errors */
    struct mandated_config *cfg;
    struct config_error *err;
    bool failed;
    struct ini_file *ini; /* while inih runs; NULL in the checks after it */
    size_t last_key;      /* what a continuation line continues */

    enum section cur;
    size_t cur_index; /* area or source index */
    struct section_lines global[SEC_WORKER + 1];
    struct section_lines *area_lines;
    struct section_lines *source_lines;
    struct section_lines *worker_lines;
};

/* ------------------------------------------------------------------------ */
/* Errors. */

/* Records the first error only: it is the one the operator must fix first,
 * and later ones are often its consequences. */
static void s_fail(struct parse *p, unsigned line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_fail(struct parse *p, unsigned line, const char *key, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    if (p->ini)
        ini_file_failv(p->ini, line, key, fmt, ap); /* also stops inih */
    else
        config_error_setv(p->err, p->name, line, key, fmt, ap);
    va_end(ap);
}

/* "broker.ingress", "area.press.types", "source.soc.rate". */
static void
s_key_name(const struct parse *p, enum section sec, size_t index, const char *key, char *buf,
           size_t size)
{
    if (sec == SEC_AREA)
        snprintf(buf, size, "area.%s.%s", p->cfg->areas[index].name, key);
    else if (sec == SEC_SOURCE)
        snprintf(buf, size, "source.%s.%s", p->cfg->sources[index].name, key);
    else if (sec == SEC_WORKER)
        snprintf(buf, size, "worker.%s.%s", p->cfg->workers[index].name, key);
    else if (sec == SEC_NONE)
        snprintf(buf, size, "%s", key);
    else
        snprintf(buf, size, "%s.%s", s_section_names[sec], key);
}

static struct section_lines *
s_lines(struct parse *p, enum section sec, size_t index)
{
    if (sec == SEC_AREA)
        return &p->area_lines[index];
    if (sec == SEC_SOURCE)
        return &p->source_lines[index];
    if (sec == SEC_WORKER)
        return &p->worker_lines[index];
    return &p->global[sec];
}

/* ------------------------------------------------------------------------ */
/* Value parsers: 0 on success, else a message in msg. */

static int
s_parse_u64(const char *value, uint64_t min, uint64_t max, uint64_t *ret, char *msg, size_t size)
{
    int rc = text_parse_u64(value, min, max, ret);
    if (rc == -EINVAL)
        snprintf(msg, size, "not an integer in %" PRIu64 "..%" PRIu64 ": '%.64s'%s", min, max,
                 value, value[0] == '-' ? " (negative)" : "");
    else if (rc == -EOVERFLOW)
        snprintf(msg, size, "not an integer in %" PRIu64 "..%" PRIu64 ": '%.64s' (overflow)", min,
                 max, value);
    else if (rc == -ERANGE)
        snprintf(msg, size, "out of range %" PRIu64 "..%" PRIu64 ": %.64s", min, max, value);
    return rc == -EOVERFLOW ? -ERANGE : rc;
}

/* A plain decimal number: no hex, inf or nan, which strtod would take. */
static int
s_parse_rate(const char *value, double *ret, char *msg, size_t size)
{
    bool ok = *value != '\0';
    for (const char *c = value; *c; c++)
        if (!isdigit((unsigned char)*c) && *c != '.' && *c != 'e' && *c != 'E' && *c != '-' &&
            *c != '+')
            ok = false;
    double v = 0;
    if (ok) {
        errno = 0;
        char *end;
        v = strtod(value, &end);
        ok = !errno && !*end && isfinite(v);
    }
    if (!ok) {
        snprintf(msg, size, "not a number in 0..%.0f: '%.64s'", MAX_RATE, value);
        return -EINVAL;
    }
    if (v < 0 || v > MAX_RATE) {
        snprintf(msg, size, "out of range 0..%.0f: %.64s", MAX_RATE, value);
        return -ERANGE;
    }
    *ret = v;
    return 0;
}

static int
s_parse_bool(const char *value, bool *ret, char *msg, size_t size)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    snprintf(msg, size, "not a boolean (on/off, yes/no, true/false, 1/0): '%.64s'", value);
    return -EINVAL;
}

static int
s_parse_endpoint(const char *value, char *msg, size_t size)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(value, schemes[i], n) == 0 && value[n])
            return 0;
    }
    snprintf(msg, size,
             "not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME): '%.64s'",
             value);
    return -EINVAL;
}

int
config_split_hostport(const char *s, char *host, size_t hostsize, unsigned *ret_port)
{
    const char *colon, *h = s;
    size_t hlen;
    if (s[0] == '[') {
        /* [IPv6]:PORT */
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL;
        hlen = (size_t)(colon - s);
    }
    uint64_t port;
    if (hlen == 0 || text_parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -EINVAL;
    if (host) {
        if (hlen >= hostsize)
            return -ENAMETOOLONG;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (ret_port)
        *ret_port = (unsigned)port;
    return 0;
}

/* Rejects what cannot be shown as text: invalid UTF-8 and control bytes. */
static bool
s_is_text(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        size_t n;
        uint32_t cp;
        if (*u < 0x80) {
            if (*u < 0x20 && *u != '\t')
                return false;
            u++;
            continue;
        } else if ((*u & 0xe0) == 0xc0) {
            n = 1;
            cp = *u & 0x1f;
        } else if ((*u & 0xf0) == 0xe0) {
            n = 2;
            cp = *u & 0x0f;
        } else if ((*u & 0xf8) == 0xf0) {
            n = 3;
            cp = *u & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((u[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past Unicode. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        u += n + 1;
    }
    return true;
}

/* A type pattern: the characters of type names (lower-case, digits, '_',
 * '.', '-') plus fnmatch's '*', '?' and balanced '[...]'. Anything else
 * could never match a type and is a typo. */
static int
s_check_glob(const char *g, char *msg, size_t size)
{
    bool in_bracket = false;
    for (const char *c = g; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("_.*?[]-", *c))) {
            snprintf(
                msg, size,
                "bad type pattern '%.64s': '%c' is not allowed (use [a-z0-9_.-] and * ? [...])", g,
                *c);
            return -EINVAL;
        }
        if (*c == '[') {
            if (in_bracket) {
                snprintf(msg, size, "bad type pattern '%.64s': nested '['", g);
                return -EINVAL;
            }
            in_bracket = true;
        } else if (*c == ']') {
            if (!in_bracket) {
                snprintf(msg, size, "bad type pattern '%.64s': ']' without '['", g);
                return -EINVAL;
            }
            in_bracket = false;
        }
    }
    if (in_bracket) {
        snprintf(msg, size, "bad type pattern '%.64s': '[' without ']'", g);
        return -EINVAL;
    }
    return 0;
}

static bool
s_is_literal(const char *glob)
{
    return !strpbrk(glob, "*?[");
}

/* The first area (file order) with a glob matching type; optionally only wildcard globs. */
static const struct area_conf *
s_walk_globs(const struct mandated_config *cfg, const char *type, bool wildcards_only)
{
    for (size_t a = 0; a < cfg->nareas; a++)
        for (size_t t = 0; t < cfg->areas[a].ntypes; t++) {
            const char *glob = cfg->areas[a].types[t];
            if (wildcards_only && s_is_literal(glob))
                continue;
            if (fnmatch(glob, type, 0) == 0)
                return &cfg->areas[a];
        }
    return NULL;
}

static int s_route_cmp(const void *a, const void *b);

/* Once per load, so that routing an event is a bsearch, not a glob walk. */
static void
s_build_routes(struct mandated_config *cfg)
{
    size_t n = 0;
    for (size_t a = 0; a < cfg->nareas; a++)
        for (size_t t = 0; t < cfg->areas[a].ntypes; t++)
            n += s_is_literal(cfg->areas[a].types[t]);
    cfg->routes = xcalloc(n ? n : 1, sizeof *cfg->routes);
    for (size_t a = 0; a < cfg->nareas; a++)
        for (size_t t = 0; t < cfg->areas[a].ntypes; t++)
            if (s_is_literal(cfg->areas[a].types[t]))
                cfg->routes[cfg->nroutes++] = (struct type_route){cfg->areas[a].types[t], a};
    qsort(cfg->routes, cfg->nroutes, sizeof *cfg->routes, s_route_cmp);
}

/* ------------------------------------------------------------------------ */
/* Applying one key. */

static void *
s_field(struct parse *p, const struct key_def *k)
{
    char *base;
    if (k->sec == SEC_AREA)
        base = (char *)&p->cfg->areas[p->cur_index];
    else if (k->sec == SEC_SOURCE)
        base = (char *)&p->cfg->sources[p->cur_index];
    else if (k->sec == SEC_WORKER)
        base = (char *)&p->cfg->workers[p->cur_index];
    else
        base = (char *)p->cfg;
    return base + k->offset;
}

static int
s_add_globs(struct parse *p, const struct key_def *k, const char *value, char *msg, size_t size)
{
    char ***list = s_field(p, k);
    size_t *n = k->sec == SEC_AREA ? &p->cfg->areas[p->cur_index].ntypes
                                   : &p->cfg->sources[p->cur_index].nallow;
    const char *c = value;
    for (;;) {
        while (*c == ' ' || *c == '\t')
            c++;
        if (!*c)
            return 0;
        size_t len = strcspn(c, " \t");
        char *g = xstrndup(c, len);
        int rc = s_check_glob(g, msg, size);
        if (rc < 0) {
            free(g);
            return rc;
        }
        *list = xreallocarray(*list, *n + 1, sizeof **list);
        (*list)[(*n)++] = g;
        c += len;
    }
}

static bool s_valid_area_name(const char *s);

/* Area names for [worker NAME] areas; that they are configured areas is
 * checked once all sections are read. */
static int
s_add_areas(struct parse *p, const char *value, char *msg, size_t size)
{
    struct worker_conf *w = &p->cfg->workers[p->cur_index];
    const char *c = value;
    for (;;) {
        while (*c == ' ' || *c == '\t' || *c == ',')
            c++;
        if (!*c)
            return 0;
        size_t len = strcspn(c, " \t,");
        char *name = xstrndup(c, len);
        if (!s_valid_area_name(name)) {
            snprintf(msg, size, "bad area name '%.64s': must match [a-z][a-z0-9_]*", name);
            free(name);
            return -EINVAL;
        }
        w->areas = xreallocarray(w->areas, w->nareas + 1, sizeof *w->areas);
        w->areas[w->nareas++] = name;
        c += len;
    }
}

static int
s_apply(struct parse *p, const struct key_def *k, const char *value, char *msg, size_t size)
{
    void *field = s_field(p, k);
    uint64_t u;
    int rc = 0;

    switch (k->kind) {
    case K_ENDPOINT:
        rc = s_parse_endpoint(value, msg, size);
        break;
    case K_HOSTPORT:
        rc = config_split_hostport(value, NULL, 0, NULL);
        if (rc < 0)
            snprintf(msg, size, "not HOST:PORT (port 1..65535, IPv6 as [ADDR]:PORT): '%.64s'",
                     value);
        break;
    case K_PATH:
        if (!*value) {
            snprintf(msg, size, "empty value");
            rc = -EINVAL;
        }
        break;
    case K_TEXT:
        if (!s_is_text(value)) {
            snprintf(msg, size, "not valid UTF-8 text");
            rc = -EINVAL;
        }
        break;
    case K_DURABILITY:
        if (strcasecmp(value, "full") == 0)
            *(enum durability *)field = DURABILITY_FULL;
        else if (strcasecmp(value, "relaxed") == 0)
            *(enum durability *)field = DURABILITY_RELAXED;
        else {
            snprintf(msg, size, "not 'full' or 'relaxed': '%.64s'", value);
            rc = -EINVAL;
        }
        return rc;
    case K_BOOL:
        return s_parse_bool(value, (bool *)field, msg, size);
    case K_UINT:
        if ((rc = s_parse_u64(value, k->min, k->max, &u, msg, size)) == 0)
            *(unsigned *)field = (unsigned)u;
        return rc;
    case K_SIZE:
        if ((rc = s_parse_u64(value, k->min, k->max, &u, msg, size)) == 0)
            *(size_t *)field = (size_t)u;
        return rc;
    case K_U64:
        if ((rc = s_parse_u64(value, k->min, k->max, &u, msg, size)) == 0)
            *(uint64_t *)field = u;
        return rc;
    case K_RATE:
        return s_parse_rate(value, (double *)field, msg, size);
    case K_GLOBS:
        return s_add_globs(p, k, value, msg, size);
    case K_AREAS:
        return s_add_areas(p, value, msg, size);
    }
    if (rc == 0) {
        /* The string kinds replace their default. */
        char **s = field;
        free(*s);
        *s = xstrdup(value);
    }
    return rc;
}

/* An indented line after a key: inih hands it to us as more of that key's
 * value (Python configparser's rule). Lists and text take it; for anything
 * else it is almost surely an indented "key = value", which inih would
 * otherwise silently fold into the previous value. */
static int
s_continue(struct parse *p, const struct key_def *k, const char *value, char *msg, size_t size)
{
    if (strchr(value, '=') || value[0] == '[') {
        snprintf(msg, size,
                 "indented line '%.64s' continues this key's value; do not indent keys or "
                 "section headers",
                 value);
        return -EINVAL;
    }
    if (k->kind == K_GLOBS)
        return s_add_globs(p, k, value, msg, size);
    if (k->kind == K_AREAS)
        return s_add_areas(p, value, msg, size);
    if (k->kind == K_TEXT) {
        if (!s_is_text(value)) {
            snprintf(msg, size, "not valid UTF-8 text");
            return -EINVAL;
        }
        char **s = s_field(p, k);
        size_t a = strlen(*s), b = strlen(value);
        *s = xreallocarray(*s, a + b + 2, 1);
        if (a)
            (*s)[a++] = ' ';
        memcpy(*s + a, value, b + 1);
        return 0;
    }
    snprintf(msg, size,
             "indented line '%.64s' continues this key's value, but only types, allow, "
             "areas and unit may span lines",
             value);
    return -EINVAL;
}

static void
s_key(struct ini_file *f, void *user, const char *name, const char *value)
{
    struct parse *p = user;
    char key[128], msg[256];
    unsigned lineno = ini_file_line(f);

    p->ini = f;
    if (ini_file_continuation(f)) {
        const struct key_def *k = &s_keys[p->last_key];
        if (s_continue(p, k, value, msg, sizeof msg) < 0) {
            s_key_name(p, p->cur, p->cur_index, k->name, key, sizeof key);
            s_fail(p, lineno, key, "%s", msg);
        }
        return;
    }
    if (p->cur == SEC_NONE) {
        s_fail(p, lineno, name,
               "key outside any section (put it under [broker], [delivery], [security], "
               "[area NAME], [source NAME] or [worker NAME])");
        return;
    }
    s_key_name(p, p->cur, p->cur_index, name, key, sizeof key);
    size_t i = s_key_index(p->cur, name);
    if (i == NKEYS) {
        s_fail(p, lineno, key, "unknown key");
        return;
    }
    struct section_lines *lines = s_lines(p, p->cur, p->cur_index);
    if (lines->key[i]) {
        s_fail(p, lineno, key, "duplicate key (first set on line %u)", lines->key[i]);
        return;
    }
    lines->key[i] = lineno;
    p->last_key = i;
    if (s_apply(p, &s_keys[i], value, msg, sizeof msg) < 0) {
        s_fail(p, lineno, key, "%s", msg);
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* Sections. */

static bool
s_valid_area_name(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z') || strlen(s) > MAX_NAME)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Source names are agency codes, also used as key file names under
 * sources_dir: no '/', no spaces. ':' is allowed for "area:NAME". */
static bool
s_valid_source_name(const char *s)
{
    if (!*s || strlen(s) > MAX_NAME)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.:-", *s))
            return false;
    return true;
}

static void
s_area_init(struct area_conf *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    a->unit = xstrdup("");
    a->triage_unit = xstrdup("");
    a->workers = 1;
    a->spawn = true;
    a->credit = 32;
}

static void
s_source_init(struct source_conf *s, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = xstrdup(name);
}

/* Opens the section of the header text between '[' and ']'. */
static void
s_section(struct ini_file *f, void *user, const char *raw)
{
    struct parse *p = user;
    char label[128 + 2], kind[16] = "", name[128] = "";
    unsigned lineno = ini_file_line(f);

    p->ini = f;
    snprintf(label, sizeof label, "[%s]", raw);

    /* "kind" or "kind name": split at the first run of blanks. */
    size_t klen = strcspn(raw, " \t");
    const char *rest = raw + klen;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (klen >= sizeof kind)
        klen = sizeof kind - 1;
    memcpy(kind, raw, klen);
    kind[klen] = '\0';
    snprintf(name, sizeof name, "%s", rest);

    enum section sec = SEC_NONE;
    for (int s = SEC_BROKER; s <= SEC_WORKER; s++)
        if (strcmp(kind, s_section_names[s]) == 0)
            sec = (enum section)s;
    if (sec == SEC_NONE) {
        s_fail(p, lineno, label,
               "unknown section (expected [broker], [delivery], [security], [area NAME], "
               "[source NAME] or [worker NAME])");
        return;
    }

    if (sec == SEC_BROKER || sec == SEC_DELIVERY || sec == SEC_SECURITY) {
        if (*name) {
            s_fail(p, lineno, label, "[%s] takes no name", kind);
            return;
        }
        if (p->global[sec].header) {
            s_fail(p, lineno, label, "duplicate section (first on line %u)", p->global[sec].header);
            return;
        }
        p->global[sec].header = lineno;
        p->cur = sec;
        p->cur_index = 0;
        return;
    }

    struct mandated_config *cfg = p->cfg;
    if (!*name) {
        s_fail(p, lineno, label, "missing name: [%s NAME]", kind);
        return;
    }
    if (sec == SEC_AREA) {
        if (!s_valid_area_name(name)) {
            s_fail(p, lineno, label,
                   "bad area name '%.64s': must match [a-z][a-z0-9_]*, at most %d characters", name,
                   MAX_NAME);
            return;
        }
        for (size_t i = 0; i < cfg->nareas; i++)
            if (strcmp(cfg->areas[i].name, name) == 0) {
                s_fail(p, lineno, label, "duplicate area (first on line %u)",
                       p->area_lines[i].header);
                return;
            }
        cfg->areas = xreallocarray(cfg->areas, cfg->nareas + 1, sizeof *cfg->areas);
        p->area_lines = xreallocarray(p->area_lines, cfg->nareas + 1, sizeof *p->area_lines);
        s_area_init(&cfg->areas[cfg->nareas], name);
        memset(&p->area_lines[cfg->nareas], 0, sizeof *p->area_lines);
        p->area_lines[cfg->nareas].header = lineno;
        p->cur_index = cfg->nareas++;
    } else if (sec == SEC_SOURCE) {
        if (!s_valid_source_name(name)) {
            s_fail(p, lineno, label,
                   "bad source name '%.64s': use letters, digits and _ . : -, at most %d "
                   "characters",
                   name, MAX_NAME);
            return;
        }
        for (size_t i = 0; i < cfg->nsources; i++)
            if (strcmp(cfg->sources[i].name, name) == 0) {
                s_fail(p, lineno, label, "duplicate source (first on line %u)",
                       p->source_lines[i].header);
                return;
            }
        cfg->sources = xreallocarray(cfg->sources, cfg->nsources + 1, sizeof *cfg->sources);
        p->source_lines =
            xreallocarray(p->source_lines, cfg->nsources + 1, sizeof *p->source_lines);
        s_source_init(&cfg->sources[cfg->nsources], name);
        memset(&p->source_lines[cfg->nsources], 0, sizeof *p->source_lines);
        p->source_lines[cfg->nsources].header = lineno;
        p->cur_index = cfg->nsources++;
    } else {
        /* A worker key's name is its key file's, by the key directory's rule. */
        if (!keyring_valid_name(name, strlen(name))) {
            s_fail(p, lineno, label,
                   "bad worker key name '%.64s': use letters, digits and _ . -, at most %d "
                   "characters",
                   name, KEYRING_NAME_MAX);
            return;
        }
        for (size_t i = 0; i < cfg->nworkers; i++)
            if (strcmp(cfg->workers[i].name, name) == 0) {
                s_fail(p, lineno, label, "duplicate worker (first on line %u)",
                       p->worker_lines[i].header);
                return;
            }
        cfg->workers = xreallocarray(cfg->workers, cfg->nworkers + 1, sizeof *cfg->workers);
        p->worker_lines =
            xreallocarray(p->worker_lines, cfg->nworkers + 1, sizeof *p->worker_lines);
        memset(&cfg->workers[cfg->nworkers], 0, sizeof *cfg->workers);
        cfg->workers[cfg->nworkers].name = xstrdup(name);
        memset(&p->worker_lines[cfg->nworkers], 0, sizeof *p->worker_lines);
        p->worker_lines[cfg->nworkers].header = lineno;
        p->cur_index = cfg->nworkers++;
    }
    p->cur = sec;
}

/* ------------------------------------------------------------------------ */
/* Whole-config checks, after every key is known. */

/* The line a global key was set on, 0 for its default. */
static unsigned
s_global_line(struct parse *p, enum section sec, const char *key)
{
    return p->global[sec].key[s_key_index(sec, key)];
}

/* The public half of a NAME.key_secret path: NAME.key. */
static char *
s_public_of(const char *secret_path)
{
    size_t n = strlen(secret_path);
    if (n > 7 && strcmp(secret_path + n - 7, "_secret") == 0)
        return xstrndup(secret_path, n - 7);
    return xstrdup(secret_path);
}

/* The name a key file gives: its base name without .key or .key_secret. */
static void
s_key_file_name(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 11 && strcmp(base + n - 11, ".key_secret") == 0)
        n -= 11;
    else if (n > 4 && strcmp(base + n - 4, ".key") == 0)
        n -= 4;
    snprintf(out, size, "%.*s", (int)n, base);
}

/*
 * What [security] and [worker] sections must agree on: every area a worker
 * key names is configured; an endpoint that leaves the host has CURVE on
 * (DESIGN.md: the broker refuses to start otherwise); spawned workers have
 * a key that may serve their area when the workers endpoint wants one.
 */
static int
s_check_security(struct parse *p)
{
    struct mandated_config *cfg = p->cfg;
    size_t k_areas = s_key_index(SEC_WORKER, "areas");
    char key[128];

    if (!cfg->security.server_public_key[0]) {
        free(cfg->security.server_public_key);
        cfg->security.server_public_key = s_public_of(cfg->security.server_secret_key);
    }
    for (size_t i = 0; i < cfg->nworkers; i++) {
        const struct worker_conf *w = &cfg->workers[i];
        s_key_name(p, SEC_WORKER, i, "areas", key, sizeof key);
        unsigned line = p->worker_lines[i].key[k_areas];
        if (w->nareas == 0) {
            s_fail(p, line ? line : p->worker_lines[i].header, key,
                   "names no area: a worker key must serve at least one");
            return -EINVAL;
        }
        for (size_t a = 0; a < w->nareas; a++)
            if (!config_area(cfg, w->areas[a])) {
                s_fail(p, line, key, "'%s' is not a configured area", w->areas[a]);
                return -EINVAL;
            }
    }

    const struct {
        const char *key, *name;
        const char *endpoint;
        bool curve;
        const char *how;
    } ends[] = {
        {"ingress", "broker.ingress", cfg->broker.ingress, cfg->security.curve, "curve = on"},
        {"workers", "broker.workers", cfg->broker.workers, cfg->security.workers_curve,
         "workers_curve = on"},
    };
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (!ends[i].curve && !config_endpoint_is_local(ends[i].endpoint)) {
            s_fail(p, s_global_line(p, SEC_BROKER, ends[i].key), ends[i].name,
                   "'%s' is reachable from other hosts, and without CURVE anyone there could "
                   "%s: set [security] %s, or bind a loopback address",
                   ends[i].endpoint, i == 0 ? "publish as any source" : "take events as a worker",
                   ends[i].how);
            return -EINVAL;
        }

    if (!cfg->security.workers_curve)
        return 0;
    bool spawns = false;
    for (size_t a = 0; a < cfg->nareas; a++)
        spawns = spawns || (cfg->areas[a].spawn && cfg->areas[a].workers > 0);
    if (!spawns)
        return 0;
    unsigned line = s_global_line(p, SEC_SECURITY, "worker_secret_key");
    if (!cfg->security.worker_secret_key[0]) {
        s_fail(p, line, "security.worker_secret_key",
               "workers_curve = on and areas spawn workers: name the key pair they connect with");
        return -EINVAL;
    }
    char name[MAX_NAME + 16];
    s_key_file_name(cfg->security.worker_secret_key, name, sizeof name);
    const struct worker_conf *w = config_worker(cfg, name);
    for (size_t a = 0; a < cfg->nareas; a++) {
        const struct area_conf *area = &cfg->areas[a];
        if (!area->spawn || area->workers == 0 || config_worker_serves(w, area->name))
            continue;
        s_fail(p, line, "security.worker_secret_key",
               "spawned workers of area '%s' connect as '%s', but %s", area->name, name,
               w ? "its [worker] areas do not name that area"
                 : "there is no [worker] section of that name");
        return -EINVAL;
    }
    return 0;
}

static void
s_check(struct parse *p)
{
    struct mandated_config *cfg = p->cfg;
    const struct section_lines *broker = &p->global[SEC_BROKER];
    size_t k_initial = s_key_index(SEC_BROKER, "map_initial_bytes");
    size_t k_max = s_key_index(SEC_BROKER, "map_max_bytes");
    size_t k_burst = s_key_index(SEC_SOURCE, "burst");
    size_t k_types = s_key_index(SEC_AREA, "types");

    if (cfg->nareas == 0) {
        s_fail(p, 0, "", "no [area] sections: nothing could be routed");
        return;
    }

    /* The default first map size yields to a smaller explicit maximum; two
     * explicit values that contradict each other are an error. */
    if (cfg->broker.map_initial_bytes > cfg->broker.map_max_bytes) {
        if (broker->key[k_initial]) {
            char where[32] = "its default";
            if (broker->key[k_max])
                snprintf(where, sizeof where, "line %u", broker->key[k_max]);
            s_fail(p, broker->key[k_initial], "broker.map_initial_bytes",
                   "%" PRIu64 " exceeds map_max_bytes %" PRIu64 " (%s)",
                   cfg->broker.map_initial_bytes, cfg->broker.map_max_bytes, where);
            return;
        }
        cfg->broker.map_initial_bytes = cfg->broker.map_max_bytes;
    }

    for (size_t i = 0; i < cfg->nsources; i++) {
        struct source_conf *s = &cfg->sources[i];
        unsigned line = p->source_lines[i].key[k_burst];
        if (!line) {
            /* A bucket smaller than one token would refuse everything. */
            s->burst = s->rate > 0 && s->rate < 1 ? 1 : s->rate;
        } else if (s->rate > 0 && s->burst < 1) {
            char key[128];
            s_key_name(p, SEC_SOURCE, i, "burst", key, sizeof key);
            s_fail(p, line, key, "must be at least 1 when rate is set, or no event would pass");
            return;
        }
    }

    if (s_check_security(p) < 0)
        return;

    /* A literal type that an earlier area's glob already claims would never
     * reach this area: routing takes the first match. */
    for (size_t a = 1; a < cfg->nareas; a++) {
        for (size_t t = 0; t < cfg->areas[a].ntypes; t++) {
            const char *type = cfg->areas[a].types[t];
            if (!s_is_literal(type))
                continue;
            const struct area_conf *owner = s_walk_globs(cfg, type, false);
            if (owner && owner != &cfg->areas[a]) {
                char key[128];
                s_key_name(p, SEC_AREA, a, "types", key, sizeof key);
                s_fail(p, p->area_lines[a].key[k_types], key,
                       "type '%.64s' is already routed to area '%s' (line %u), which comes first",
                       type, owner->name, p->area_lines[owner - cfg->areas].key[k_types]);
                return;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Loading. */

static struct mandated_config *
s_config_new(const char *path)
{
    struct mandated_config *cfg = xcalloc(1, sizeof *cfg);
    cfg->path = xstrdup(path);
    cfg->broker.ingress = xstrdup("tcp://127.0.0.1:7400");
    cfg->broker.workers = xstrdup("ipc://mandated-workers.ipc");
    cfg->broker.http = xstrdup("127.0.0.1:7480");
    cfg->broker.state_dir = xstrdup("./var");
    cfg->broker.durability = DURABILITY_FULL;
    cfg->broker.max_event_bytes = 65536;
    cfg->broker.commit_max_batch = 1024;
    cfg->broker.commit_max_delay_ms = 0;
    cfg->broker.map_max_bytes = 68719476736ull;
    cfg->broker.map_initial_bytes = 67108864ull;
    cfg->broker.ids_in_memory = 1000000;
    cfg->broker.ids_filter = 16000000;
    cfg->broker.rejected_log_rate = 100;
    cfg->broker.worker_program = xstrdup("");
    cfg->broker.catalogue = xstrdup("");
    cfg->broker.calendar_dir = xstrdup("");
    cfg->broker.asset_registry = xstrdup("");
    cfg->delivery.heartbeat_ms = 2500;
    cfg->delivery.liveness = 3;
    cfg->delivery.max_attempts = 5;
    cfg->delivery.retry_backoff_ms = 1000;
    cfg->delivery.drain_timeout_ms = 5000;
    cfg->delivery.deadline_scan_ms = 1000;
    cfg->delivery.deadline_warn_ms = 86400000;
    cfg->security.curve = false;
    cfg->security.server_secret_key = xstrdup("keys/server.key_secret");
    cfg->security.server_public_key = xstrdup("");
    cfg->security.sources_dir = xstrdup("keys/sources");
    cfg->security.workers_curve = false;
    cfg->security.worker_keys_dir = xstrdup("keys/workers");
    cfg->security.worker_secret_key = xstrdup("");
    cfg->security.client_secret_key = xstrdup("");
    return cfg;
}

static const struct ini_file_ops s_ops = {
    .section = s_section,
    .key = s_key,
    .long_line_hint = "split types or allow over indented continuation lines",
};

/* Parses len bytes of text (not necessarily NUL-terminated at len). */
static int
s_load_text(const char *text, size_t len, const char *name, struct mandated_config **ret,
            struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;

    struct parse p = {
        .name = name,
        .cfg = s_config_new(name),
        .err = err,
    };
    p.failed = ini_file_parse(text, len, name, &s_ops, &p, err) < 0;
    p.ini = NULL;
    if (!p.failed)
        s_check(&p);
    if (!p.failed)
        s_build_routes(p.cfg);
    int rc = p.failed ? -EINVAL : 0;
    if (!p.failed) {
        const char *path = p.cfg->broker.catalogue;
        rc = *path ? catalogue_load_file(path, &p.cfg->catalogue, err)
                   : catalogue_load_embedded(&p.cfg->catalogue, err);
        p.failed = rc < 0;
    }
    if (!p.failed) {
        rc = calendar_load(p.cfg->broker.calendar_dir, &p.cfg->calendar, err);
        p.failed = rc < 0;
    }
    if (!p.failed) {
        rc = asset_registry_load(p.cfg->broker.asset_registry, &p.cfg->assets, err);
        p.failed = rc < 0;
    }

    free(p.area_lines);
    free(p.source_lines);
    free(p.worker_lines);
    if (p.failed) {
        config_destroy(&p.cfg);
        return rc;
    }
    *ret = p.cfg;
    return 0;
}

int
config_load_string(const char *text, const char *name, struct mandated_config **ret,
                   struct config_error *err)
{
    if (!name)
        name = "(string)";
    if (!text || !ret) {
        if (err)
            config_error_set(err, name, 0, "", "no text");
        return -EINVAL;
    }
    return s_load_text(text, strlen(text), name, ret, err);
}

int
config_load_file(const char *path, struct mandated_config **ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    if (!path || !ret) {
        config_error_set(err, "", 0, "", "no file name");
        return -EINVAL;
    }
    char *buf;
    size_t len;
    int rc = ini_file_read(path, MAX_FILE_BYTES, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = s_load_text(buf, len, path, ret, err);
    free(buf);
    return rc;
}

int
config_load_default(const char *explicit_path, struct mandated_config **ret,
                    struct config_error *err)
{
    if (explicit_path)
        return config_load_file(explicit_path, ret, err);
    if (access(LOCAL_CONFIG, R_OK) == 0)
        return config_load_file(LOCAL_CONFIG, ret, err);
    if (access(SYSTEM_CONFIG, R_OK) == 0)
        return config_load_file(SYSTEM_CONFIG, ret, err);
    return config_load_string(embedded_config.text, embedded_config.name, ret, err);
}

static void
s_free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void
s_keys_clear(struct config_keys *k)
{
    curve_cert_clear(&k->server);
    keyring_destroy(&k->sources);
    keyring_destroy(&k->workers);
    k->loaded = false;
}

int
config_load_keys(struct mandated_config *cfg, struct config_error *err)
{
    struct config_keys k = {0};
    int rc = 0;
    if (cfg->security.curve || cfg->security.workers_curve)
        rc = curve_cert_load(cfg->security.server_secret_key, true, &k.server, err);
    if (rc == 0 && cfg->security.curve)
        rc = keyring_load(cfg->security.sources_dir, &k.sources, err);
    if (rc == 0 && cfg->security.workers_curve)
        rc = keyring_load(cfg->security.worker_keys_dir, &k.workers, err);
    if (rc < 0) {
        s_keys_clear(&k);
        return rc;
    }
    s_keys_clear(&cfg->keys);
    k.loaded = true;
    cfg->keys = k;
    return 0;
}

void
config_destroy(struct mandated_config **cfg_p)
{
    if (!cfg_p || !*cfg_p)
        return;
    struct mandated_config *cfg = *cfg_p;
    free(cfg->path);
    free(cfg->broker.ingress);
    free(cfg->broker.workers);
    free(cfg->broker.http);
    free(cfg->broker.state_dir);
    free(cfg->broker.worker_program);
    free(cfg->broker.catalogue);
    free(cfg->broker.calendar_dir);
    free(cfg->broker.asset_registry);
    asset_registry_destroy(&cfg->assets);
    catalogue_destroy(&cfg->catalogue);
    calendar_destroy(&cfg->calendar);
    free(cfg->security.server_secret_key);
    free(cfg->security.server_public_key);
    free(cfg->security.sources_dir);
    free(cfg->security.worker_keys_dir);
    free(cfg->security.worker_secret_key);
    free(cfg->security.client_secret_key);
    s_keys_clear(&cfg->keys);
    for (size_t i = 0; i < cfg->nworkers; i++) {
        free(cfg->workers[i].name);
        s_free_list(cfg->workers[i].areas, cfg->workers[i].nareas);
    }
    free(cfg->workers);
    for (size_t i = 0; i < cfg->nareas; i++) {
        free(cfg->areas[i].name);
        free(cfg->areas[i].unit);
        free(cfg->areas[i].triage_unit);
        s_free_list(cfg->areas[i].types, cfg->areas[i].ntypes);
    }
    free(cfg->areas);
    for (size_t i = 0; i < cfg->nsources; i++) {
        free(cfg->sources[i].name);
        s_free_list(cfg->sources[i].allow, cfg->sources[i].nallow);
    }
    free(cfg->sources);
    free(cfg->routes);
    free(cfg);
    *cfg_p = NULL;
}

/* ------------------------------------------------------------------------ */
/* Lookups. */

static int
s_route_cmp(const void *a, const void *b)
{
    return strcmp(((const struct type_route *)a)->type, ((const struct type_route *)b)->type);
}

const struct area_conf *
config_area_for_type(const struct mandated_config *cfg, const char *type)
{
    if (!cfg || !type)
        return NULL;
    /* s_check refused any literal that an earlier glob claims, so a literal
     * hit is also the first match in file order. */
    struct type_route key = {.type = type};
    const struct type_route *hit =
        bsearch(&key, cfg->routes, cfg->nroutes, sizeof key, s_route_cmp);
    if (hit)
        return &cfg->areas[hit->area];
    const struct area_conf *a = s_walk_globs(cfg, type, true);
    if (a)
        return a;
    const struct catalogue_type *t = catalogue_type(cfg->catalogue, type);
    return t && t->area ? config_area(cfg, t->area) : NULL;
}

const struct catalogue_type *
config_type(const struct mandated_config *cfg, const char *type)
{
    return cfg && type ? catalogue_type(cfg->catalogue, type) : NULL;
}

const struct worker_conf *
config_worker(const struct mandated_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->nworkers; i++)
        if (strcmp(cfg->workers[i].name, name) == 0)
            return &cfg->workers[i];
    return NULL;
}

bool
config_worker_serves(const struct worker_conf *w, const char *area)
{
    for (size_t i = 0; w && i < w->nareas; i++)
        if (strcmp(w->areas[i], area) == 0)
            return true;
    return false;
}

bool
config_endpoint_is_local(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return true; /* ipc and inproc never leave the host */
    char host[256];
    if (config_split_hostport(endpoint + 6, host, sizeof host, NULL) < 0)
        return false;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "lo") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false; /* "*", other names and interfaces may face the network */
}

const struct area_conf *
config_area(const struct mandated_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t a = 0; a < cfg->nareas; a++)
        if (strcmp(cfg->areas[a].name, name) == 0)
            return &cfg->areas[a];
    return NULL;
}

const struct source_conf *
config_source(const struct mandated_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t s = 0; s < cfg->nsources; s++)
        if (strcmp(cfg->sources[s].name, name) == 0)
            return &cfg->sources[s];
    return NULL;
}

bool
config_source_allows(const struct source_conf *src, const char *type)
{
    if (!src || src->nallow == 0)
        return true;
    if (!type)
        return false;
    for (size_t i = 0; i < src->nallow; i++)
        if (fnmatch(src->allow[i], type, 0) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* --check-config. */

/* "68719476736 (64 GiB)": the exact figure, and one a person can read. */
static void
s_print_bytes(FILE *out, const char *label, uint64_t n)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0])
        v /= 1024, u++;
    if (u == 0)
        fprintf(out, "  %-22s %" PRIu64 "\n", label, n);
    else
        fprintf(out, "  %-22s %" PRIu64 " (%.4g %s)\n", label, n, v, units[u]);
}

static void
s_print_globs(FILE *out, char **list, size_t n, const char *none)
{
    if (n == 0)
        fputs(none, out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? " " : "", list[i]);
    fputc('\n', out);
}

void
config_describe(const struct mandated_config *cfg, FILE *out)
{
    if (!cfg || !out)
        return;
    const char *sd = cfg->broker.state_dir;
    size_t sdlen = strlen(sd);
    bool slash = sdlen && sd[sdlen - 1] == '/';

    fprintf(out, "config: %s\n\n[broker]\n", cfg->path);
    fprintf(out, "  %-22s %s\n", "ingress", cfg->broker.ingress);
    fprintf(out, "  %-22s %s\n", "workers", cfg->broker.workers);
    fprintf(out, "  %-22s %s\n", "http", cfg->broker.http);
    fprintf(out, "  %-22s %s\n", "state_dir", sd);
    fprintf(out, "  %-22s %s\n", "durability",
            cfg->broker.durability == DURABILITY_FULL ? "full" : "relaxed");
    s_print_bytes(out, "max_event_bytes", cfg->broker.max_event_bytes);
    fprintf(out, "  %-22s %u\n", "commit_max_batch", cfg->broker.commit_max_batch);
    fprintf(out, "  %-22s %u\n", "commit_max_delay_ms", cfg->broker.commit_max_delay_ms);
    s_print_bytes(out, "map_max_bytes", cfg->broker.map_max_bytes);
    s_print_bytes(out, "map_initial_bytes", cfg->broker.map_initial_bytes);
    fprintf(out, "  %-22s %u\n", "ids_in_memory", cfg->broker.ids_in_memory);
    fprintf(out, "  %-22s %u\n", "ids_filter", cfg->broker.ids_filter);
    fprintf(out, "  %-22s %s\n", "catalogue",
            cfg->broker.catalogue[0] ? cfg->broker.catalogue : "(embedded)");
    fprintf(out, "  %-22s %s\n", "calendar_dir",
            cfg->broker.calendar_dir[0] ? cfg->broker.calendar_dir : "(none: shipped years only)");
    fprintf(out, "  %-22s %s (%zu assets)\n", "asset_registry",
            cfg->broker.asset_registry[0] ? cfg->broker.asset_registry : "(embedded example)",
            cfg->assets ? cfg->assets->nassets : 0);
    fprintf(out, "  %-22s %g/s%s\n", "rejected_log_rate", cfg->broker.rejected_log_rate,
            cfg->broker.rejected_log_rate > 0 ? "" : " (rejections counted, never written)");

    fprintf(out, "\n[delivery]\n");
    fprintf(out, "  %-22s %u\n", "heartbeat_ms", cfg->delivery.heartbeat_ms);
    fprintf(out, "  %-22s %u\n", "liveness", cfg->delivery.liveness);
    fprintf(out, "  %-22s %u\n", "max_attempts", cfg->delivery.max_attempts);
    fprintf(out, "  %-22s %u\n", "retry_backoff_ms", cfg->delivery.retry_backoff_ms);
    fprintf(out, "  %-22s %u\n", "drain_timeout_ms", cfg->delivery.drain_timeout_ms);
    fprintf(out, "  %-22s %u\n", "deadline_scan_ms", cfg->delivery.deadline_scan_ms);
    fprintf(out, "  %-22s %u%s\n", "deadline_warn_ms", cfg->delivery.deadline_warn_ms,
            cfg->delivery.deadline_warn_ms ? "" : " (no warnings)");

    fprintf(out, "\n[security]\n");
    fprintf(out, "  %-22s %s\n", "curve", cfg->security.curve ? "on" : "off");
    fprintf(out, "  %-22s %s\n", "server_secret_key", cfg->security.server_secret_key);
    fprintf(out, "  %-22s %s\n", "server_public_key", cfg->security.server_public_key);
    fprintf(out, "  %-22s %s\n", "sources_dir", cfg->security.sources_dir);
    fprintf(out, "  %-22s %s\n", "workers_curve", cfg->security.workers_curve ? "on" : "off");
    fprintf(out, "  %-22s %s\n", "worker_keys_dir", cfg->security.worker_keys_dir);
    fprintf(out, "  %-22s %s\n", "worker_secret_key",
            cfg->security.worker_secret_key[0] ? cfg->security.worker_secret_key : "(none)");
    fprintf(out, "  %-22s %s\n", "client_secret_key",
            cfg->security.client_secret_key[0] ? cfg->security.client_secret_key : "(none)");
    if (cfg->keys.loaded) {
        fprintf(out, "  server key             %s\n", cfg->keys.server.public_z85);
        const struct keyring *rings[] = {cfg->keys.sources, cfg->keys.workers};
        const char *what[] = {"source keys", "worker keys"};
        for (size_t r = 0; r < 2; r++) {
            if (!rings[r])
                continue;
            fprintf(out, "  %-22s %zu in %s:", what[r], rings[r]->n, rings[r]->dir);
            for (size_t i = 0; i < rings[r]->n; i++)
                fprintf(out, " %s", rings[r]->entries[i].name);
            fputc('\n', out);
        }
    }

    unsigned spawned = 0;
    fprintf(out, "\n%zu area%s:\n", cfg->nareas, cfg->nareas == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->nareas; i++) {
        const struct area_conf *a = &cfg->areas[i];
        fprintf(out, "  [area %s] unit: %s; workers: %u, spawn: %s, credit: %u\n", a->name,
                a->unit[0] ? a->unit : "(none)", a->workers, a->spawn ? "yes" : "no", a->credit);
        fputs("    types: ", out);
        size_t listed = 0;
        for (size_t t = 0; cfg->catalogue && t < cfg->catalogue->ntypes; t++) {
            const char *name = cfg->catalogue->types[t].name;
            if (config_area_for_type(cfg, name) == a)
                fprintf(out, "%s%s", listed++ ? " " : "", name);
        }
        if (a->ntypes)
            fprintf(out, "%sand by glob: ", listed ? "; " : "");
        if (a->ntypes || !listed)
            s_print_globs(out, a->types, a->ntypes, "(none: this area receives nothing)");
        else
            fputc('\n', out);
        if (a->spawn)
            spawned += a->workers;
    }

    if (cfg->catalogue) {
        size_t unrouted = 0, corr = 0;
        for (size_t t = 0; t < cfg->catalogue->ntypes; t++) {
            const struct catalogue_type *ct = &cfg->catalogue->types[t];
            if (!ct->area)
                corr++;
            else if (!config_area_for_type(cfg, ct->name))
                unrouted++;
        }
        fprintf(out, "\ncatalogue: %s, %zu types; %zu go to the area of the event their corr names",
                cfg->catalogue->path, cfg->catalogue->ntypes, corr);
        if (unrouted) {
            fprintf(out, "; refused as unknown, their area not configured:");
            for (size_t t = 0; t < cfg->catalogue->ntypes; t++) {
                const struct catalogue_type *ct = &cfg->catalogue->types[t];
                if (ct->area && !config_area_for_type(cfg, ct->name))
                    fprintf(out, " %s (%s)", ct->name, ct->area);
            }
        }
        fputc('\n', out);
    }

    if (cfg->calendar) {
        fputs("calendars:", out);
        for (int y = 1900; y <= 9999; y++)
            if (calendar_has_year(cfg->calendar, y))
                fprintf(out, " %d", y);
        fputs(" (other years: weekends and fixed holidays only, flagged calendar_missing)\n", out);
    }

    fprintf(out, "\n%zu source%s%s\n", cfg->nsources, cfg->nsources == 1 ? "" : "s",
            cfg->nsources ? ":" : "");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct source_conf *s = &cfg->sources[i];
        fprintf(out, "  [source %s] rate: ", s->name);
        if (s->rate > 0)
            fprintf(out, "%g/s, burst %g\n", s->rate, s->burst);
        else
            fputs("unlimited\n", out);
        fputs("    allow: ", out);
        s_print_globs(out, s->allow, s->nallow, "(any type)");
    }

    if (cfg->nworkers)
        fprintf(out, "\n%zu worker key%s:\n", cfg->nworkers, cfg->nworkers == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->nworkers; i++) {
        fprintf(out, "  [worker %s] areas:", cfg->workers[i].name);
        for (size_t a = 0; a < cfg->workers[i].nareas; a++)
            fprintf(out, " %s", cfg->workers[i].areas[a]);
        fputc('\n', out);
    }

    fprintf(out, "\nasks for: ingress %s, workers %s, http %s, the audit log in %s%saudit, %s\n",
            cfg->broker.ingress, cfg->broker.workers, cfg->broker.http, sd, slash ? "" : "/",
            cfg->broker.durability == DURABILITY_FULL ? "fsync every commit"
                                                      : "durability relaxed: commits not fsynced");
    fprintf(out, "          %u worker process%s spawned; ", spawned, spawned == 1 ? "" : "es");
    if (cfg->security.curve)
        fprintf(out, "CURVE on: admit only the public keys in %s\n", cfg->security.sources_dir);
    else
        fprintf(out, "CURVE off: sources are taken at their word (keep ingress on loopback)\n");
}
