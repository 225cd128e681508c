/*
 * mandatectl publish: JSON in, MEP/1 on the wire through libmandate, one
 * "SEQ ID" line per event out, in input order although replies arrive in
 * any order (a ring of results, printed from the oldest as they complete).
 *
 * A regular file is read twice: first every line is checked, so a bad line
 * 900 refuses the whole file before event 1 is sent; stdin is read once and
 * stops at the first bad line (events already sent are still waited for).
 *
 * CURVE: --key and --server-key name the publisher's pair and the broker's
 * public key; without them, a config that is read and says curve = on gives
 * client_secret_key and server_public_key. The keys are loaded, and so
 * checked, before connecting: a key that cannot be used is a config error
 * naming its file, not a broker that never answers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "common/clock.h"
#include "config/curve_cert.h"
#include "tools/json_msgpack.h"
#include "tools/mandate_client.h"
#include "tools/mandatectl.h"
#include "proto/pack.h"

#define CMD "publish"

enum {
    OPT_TYPE = CTL_OPT_FIRST_LOCAL,
    OPT_SOURCE,
    OPT_DATA,
    OPT_ID,
    OPT_CORR,
    OPT_SUBJECT,
    OPT_TIME,
    OPT_WINDOW,
    OPT_TIMEOUT,
    OPT_RETRIES,
    OPT_KEY,
    OPT_SERVER_KEY,
};

/* One event's outcome, kept until every event before it has been printed. */
struct result {
    uint64_t ordinal;
    unsigned long line;
    uint8_t id[16];
    bool done, ack, dup;
    uint64_t seq;
    enum mep_code code;
    char reason[MEP_REASON_MAX + 1];
};

/* Everything an event line resolves to, borrowed from the line's JSON or the options. */
struct event_spec {
    const char *type, *source, *subject;
    uint8_t id[16];
    bool has_id, has_corr;
    uint8_t corr[16];
    bool has_time;
    uint64_t time_ms;
    const json_t *data; /* NULL: {} */
};

struct pub {
    /* Defaults from the command line. */
    struct event_spec opt;
    const char *data_text;
    const char *input; /* FILE, "-", or NULL */
    const char *input_name;

    struct mandate_client *client;
    struct result *ring;
    size_t ring_size;
    uint64_t next_ordinal, next_print;
    uint64_t acks, nacks, timeouts;
    msgpack_sbuffer data;
};

/* ---- results, in input order ---- */

static void
s_print_ready(struct pub *p)
{
    while (p->next_print < p->next_ordinal) {
        struct result *r = &p->ring[p->next_print % p->ring_size];
        char hex[33];

        if (!r->done)
            break;
        json_msgpack_hex(r->id, 16, hex);
        if (r->ack) {
            printf("%" PRIu64 " %s%s\n", r->seq, hex, r->dup ? " dup" : "");
        } else if (p->input) {
            fprintf(stderr, "%s: %s:%lu: NACK %s: %s (id %s)\n", CTL_PROG, p->input_name, r->line,
                    mep_code_name(r->code), r->reason, hex);
        } else {
            fprintf(stderr, "%s: NACK %s: %s (id %s)\n", CTL_PROG, mep_code_name(r->code),
                    r->reason, hex);
        }
        p->next_print++;
    }
}

static void
s_on_reply(void *cb_arg, const struct mep_reply *reply, void *user)
{
    struct pub *p = cb_arg;
    uint64_t ordinal = (uint64_t)(uintptr_t)user;
    struct result *r = &p->ring[ordinal % p->ring_size];

    r->done = true;
    r->ack = reply->is_ack;
    if (reply->is_ack) {
        r->seq = reply->seq;
        r->dup = reply->dup;
        p->acks++;
    } else {
        r->code = reply->code;
        snprintf(r->reason, sizeof(r->reason), "%s", reply->reason);
        /* The client's own timeout carries the event's id; the broker never says "timeout: ". */
        if (reply->code == MEP_UNAVAILABLE && strncmp(reply->reason, "timeout: ", 9) == 0)
            p->timeouts++;
        else
            p->nacks++;
    }
    s_print_ready(p);
}

/* ---- turning JSON into an event ---- */

static int s_fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

static int
s_string_field(const json_t *obj, const char *key, const char **ret, char *err, size_t size)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return s_fail(err, size, "\"%s\": expected a string", key);
    *ret = json_string_value(v);
    return 0;
}

static int
s_id_field(const json_t *obj, const char *key, bool *ret_has, uint8_t ret_id[16], char *err,
           size_t size)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_string(v) || !ctl_parse_id(json_string_value(v), ret_id))
        return s_fail(err, size, "\"%s\": expected 32 hex digits or a UUID", key);
    *ret_has = true;
    return 0;
}

/*
 * Resolves one input object: with a "type" key it is an envelope-like line
 * whose fields override the options; otherwise it is the data itself.
 */
static int
s_resolve(const struct pub *p, const json_t *obj, struct event_spec *ev, char *err, size_t size)
{
    static const char *const keys[] = {"type", "source", "data", "id", "corr", "subject", "time"};

    *ev = p->opt;
    if (!json_is_object(obj))
        return s_fail(err, size, "expected a JSON object");
    if (json_object_get(obj, "type")) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)obj, key, v)
        {
            bool known = false;
            for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                known |= strcmp(key, keys[i]) == 0;
            if (!known)
                return s_fail(err, size,
                              "unknown key \"%s\" (a line with \"type\" may have only: type, "
                              "source, data, id, corr, subject, time)",
                              key);
        }
        if (s_string_field(obj, "type", &ev->type, err, size) < 0 ||
            s_string_field(obj, "source", &ev->source, err, size) < 0 ||
            s_string_field(obj, "subject", &ev->subject, err, size) < 0 ||
            s_id_field(obj, "id", &ev->has_id, ev->id, err, size) < 0 ||
            s_id_field(obj, "corr", &ev->has_corr, ev->corr, err, size) < 0)
            return -1;
        v = json_object_get(obj, "time");
        if (v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return s_fail(err, size, "\"time\": expected ms since the epoch (an integer)");
            ev->has_time = true;
            ev->time_ms = (uint64_t)json_integer_value(v);
        }
        v = json_object_get(obj, "data");
        if (v && !json_is_object(v))
            return s_fail(err, size, "\"data\": expected a JSON object");
        ev->data = v;
    } else {
        ev->data = obj;
    }
    if (!ev->type)
        return s_fail(err, size, "no type: give --type or a \"type\" key");
    if (!ev->source)
        return s_fail(err, size, "no source: give --source or a \"source\" key");
    if (!envelope_type_name_valid(ev->type, strlen(ev->type)))
        return s_fail(err, size, "type '%s': not a dotted lower-case name such as press.bulletin",
                      ev->type);
    if (!envelope_source_name_valid(ev->source, strlen(ev->source)))
        return s_fail(err, size, "source '%s': expected 1-64 of A-Z a-z 0-9 _ . : -", ev->source);
    if (ev->subject && strlen(ev->subject) > ENVELOPE_SUBJECT_MAX)
        return s_fail(err, size, "subject: longer than %d bytes", ENVELOPE_SUBJECT_MAX);
    return 0;
}

/* Packs the data map into p->data; fails on JSON nested past what packing allows. */
static int
s_pack_data(struct pub *p, const json_t *data, char *err, size_t size)
{
    msgpack_packer pk;
    char why[256];

    msgpack_sbuffer_clear(&p->data);
    msgpack_packer_init(&pk, &p->data, pack_sbuffer_write);
    if (!data) {
        msgpack_pack_map(&pk, 0);
        return 0;
    }
    if (json_msgpack_pack(&pk, data, JSON_MSGPACK_MAX_DEPTH, why, sizeof(why)) < 0)
        return s_fail(err, size, "data: %s", why);
    return 0;
}

/* ---- sending ---- */

static int
s_send(struct pub *p, const struct event_spec *ev, unsigned long line)
{
    struct envelope_fields f = {0};
    struct result *r;
    uint8_t id[16];
    int rc;

    /* Keep the ring from overrunning the oldest result not yet printed. */
    while (p->next_ordinal - p->next_print >= p->ring_size) {
        rc = mandate_client_poll(p->client, -1);
        if (rc < 0)
            return rc;
    }
    if (ev->has_id)
        memcpy(id, ev->id, 16);
    else
        mandate_new_id(id);
    r = &p->ring[p->next_ordinal % p->ring_size];
    memset(r, 0, sizeof(*r));
    r->ordinal = p->next_ordinal;
    r->line = line;
    memcpy(r->id, id, 16);

    f.id = id;
    f.type = ev->type;
    f.source = ev->source;
    f.time_ms = ev->has_time ? ev->time_ms : unix_ms();
    f.corr = ev->has_corr ? ev->corr : NULL;
    f.subject = ev->subject;
    f.data = p->data.data;
    f.data_len = p->data.size;
    for (;;) {
        rc = mandate_client_publish(p->client, &f, (void *)(uintptr_t)p->next_ordinal);
        if (rc != -EEXIST)
            break;
        /* The same id twice in the input: let the first finish; the second is then a dup. */
        rc = mandate_client_flush(p->client, -1);
        if (rc < 0)
            break;
    }
    if (rc < 0)
        return rc;
    p->next_ordinal++;
    return 0;
}

/* ---- keys ---- */

/*
 * Loads the keys named by --key / --server-key (key_path set), else by a
 * config that was read and has curve = on. Returns 0, or EX_CONFIG after
 * naming the file that cannot be used and what named it.
 */
static int
s_load_keys(const struct mandated_config *cfg, const char *key_path, const char *server_path,
            struct curve_client *ret)
{
    const char *key_from = "--key", *server_from = "--server-key";
    struct config_error err;
    char msg[1024];

    ret->on = false;
    if (!key_path) {
        if (!cfg || !cfg->security.curve)
            return 0;
        if (!cfg->security.client_secret_key[0]) {
            fprintf(stderr,
                    "%s: %s: %s: security.client_secret_key: the broker has curve = on, so "
                    "publishing needs a key pair: set it, or give --key FILE and --server-key "
                    "FILE\n",
                    CTL_PROG, CMD, cfg->path);
            return EX_CONFIG;
        }
        key_path = cfg->security.client_secret_key;
        server_path = cfg->security.server_public_key;
        key_from = "security.client_secret_key";
        server_from = "security.server_public_key";
    }
    bool server_failed;
    if (curve_client_load(key_path, server_path, ret, &server_failed, &err) < 0) {
        config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "%s: %s: %s: %s\n", CTL_PROG, CMD, server_failed ? server_from : key_from,
                msg);
        return EX_CONFIG;
    }
    return 0;
}

/* ---- input ---- */

static void
s_chomp(char *line, size_t *len)
{
    while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r'))
        line[--*len] = '\0';
}

static bool
s_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t')
            return false;
    return true;
}

/*
 * Reads every line of in; with send false only checks them. Returns 0, or
 * EX_DATAERR after printing "FILE:LINE: why", or EX_IOERR / EX_UNAVAILABLE.
 */
static int
s_run_lines(struct pub *p, FILE *in, bool send)
{
    char *line = NULL, err[512];
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int rc = 0;

    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        json_error_t jerr;
        struct event_spec ev;
        json_t *obj;

        lineno++;
        s_chomp(line, &len);
        if (s_blank(line, len))
            continue;
        obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            fprintf(stderr, "%s: %s:%lu:%d: bad JSON: %s\n", CTL_PROG, p->input_name, lineno,
                    jerr.column, jerr.text);
            rc = EX_DATAERR;
            break;
        }
        if (s_resolve(p, obj, &ev, err, sizeof(err)) < 0 ||
            s_pack_data(p, ev.data, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s:%lu: %s\n", CTL_PROG, p->input_name, lineno, err);
            json_decref(obj);
            rc = EX_DATAERR;
            break;
        }
        if (send) {
            int s = s_send(p, &ev, lineno);
            if (s < 0) {
                fprintf(stderr, "%s: %s:%lu: cannot send: %s\n", CTL_PROG, p->input_name, lineno,
                        strerror(-s));
                json_decref(obj);
                rc = EX_UNAVAILABLE;
                break;
            }
        }
        json_decref(obj);
    }
    if (rc == 0 && ferror(in)) {
        fprintf(stderr, "%s: %s: %s\n", CTL_PROG, p->input_name, strerror(errno));
        rc = EX_IOERR;
    }
    free(line);
    return rc;
}

static int
s_run_data(struct pub *p, bool send)
{
    struct event_spec ev;
    json_error_t jerr;
    json_t *obj = NULL;
    char err[512];
    int rc = 0;

    if (p->data_text) {
        obj = json_loads(p->data_text, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            fprintf(stderr, "%s: --data: column %d: bad JSON: %s\n", CTL_PROG, jerr.column,
                    jerr.text);
            return EX_DATAERR;
        }
        if (!json_is_object(obj)) {
            fprintf(stderr, "%s: --data: expected a JSON object\n", CTL_PROG);
            json_decref(obj);
            return EX_DATAERR;
        }
    }
    ev = p->opt;
    ev.data = obj;
    /* --data is always the data, even when it has a "type" key of its own. */
    if (!ev.type || !ev.source) {
        json_decref(obj);
        return ctl_usage_error(CMD, "--type and --source are required with --data");
    }
    if (!envelope_type_name_valid(ev.type, strlen(ev.type)))
        rc = s_fail(err, sizeof(err), "--type '%s': not a dotted lower-case name", ev.type);
    else if (!envelope_source_name_valid(ev.source, strlen(ev.source)))
        rc = s_fail(err, sizeof(err), "--source '%s': expected 1-64 of A-Z a-z 0-9 _ . : -",
                    ev.source);
    if (rc < 0) {
        json_decref(obj);
        return ctl_usage_error(CMD, "%s", err);
    }
    if (s_pack_data(p, obj, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: --data: %s\n", CTL_PROG, err);
        json_decref(obj);
        return EX_DATAERR;
    }
    if (send && (rc = s_send(p, &ev, 0)) < 0) {
        fprintf(stderr, "%s: cannot send: %s\n", CTL_PROG, strerror(-rc));
        rc = EX_UNAVAILABLE;
    }
    json_decref(obj);
    return rc;
}

int
ctl_publish(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {"type", required_argument, NULL, OPT_TYPE},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"data", required_argument, NULL, OPT_DATA},
        {"id", required_argument, NULL, OPT_ID},
        {"corr", required_argument, NULL, OPT_CORR},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"time", required_argument, NULL, OPT_TIME},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"key", required_argument, NULL, OPT_KEY},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {NULL, 0, NULL, 0},
    };
    struct mandate_client_options copts;
    struct mandate_client_stats stats;
    struct pub p = {0};
    struct curve_client keys = {0};
    uint64_t v;
    const char *endpoint, *key_path = NULL, *server_key_path = NULL;
    FILE *in = NULL;
    int opt, rc;

    mandate_client_options_init(&copts);
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            ctl_usage(stdout, CMD);
            return EX_OK;
        case OPT_TYPE:
            p.opt.type = optarg;
            break;
        case OPT_SOURCE:
            p.opt.source = optarg;
            break;
        case OPT_DATA:
            p.data_text = optarg;
            break;
        case OPT_ID:
            if (!ctl_parse_id(optarg, p.opt.id))
                return ctl_usage_error(CMD, "--id: expected 32 hex digits or a UUID, not '%s'",
                                       optarg);
            p.opt.has_id = true;
            break;
        case OPT_CORR:
            if (!ctl_parse_id(optarg, p.opt.corr))
                return ctl_usage_error(CMD, "--corr: expected 32 hex digits or a UUID, not '%s'",
                                       optarg);
            p.opt.has_corr = true;
            break;
        case OPT_SUBJECT:
            if (strlen(optarg) > ENVELOPE_SUBJECT_MAX)
                return ctl_usage_error(CMD, "--subject: longer than %d bytes",
                                       ENVELOPE_SUBJECT_MAX);
            p.opt.subject = optarg;
            break;
        case OPT_TIME:
            if ((rc = ctl_parse_u64("time", optarg, 0, UINT64_MAX, &p.opt.time_ms)) != 0)
                return rc;
            p.opt.has_time = true;
            break;
        case OPT_WINDOW:
            if ((rc = ctl_parse_u64("window", optarg, 1, 65536, &v)) != 0)
                return rc;
            copts.window = (unsigned)v;
            break;
        case OPT_TIMEOUT:
            if ((rc = ctl_parse_u64("timeout", optarg, 1, 3600000, &v)) != 0)
                return rc;
            copts.timeout_ms = (unsigned)v;
            break;
        case OPT_RETRIES:
            if ((rc = ctl_parse_u64("retries", optarg, 0, 1000, &v)) != 0)
                return rc;
            copts.max_resends = (unsigned)v;
            break;
        case OPT_KEY:
            key_path = optarg;
            break;
        case OPT_SERVER_KEY:
            server_key_path = optarg;
            break;
        default:
            return ctl_bad_option(CMD);
        }
    }
    if (!key_path != !server_key_path)
        return ctl_usage_error(
            CMD, "%s needs %s too: the key pair and the broker's key go together",
            key_path ? "--key" : "--server-key", key_path ? "--server-key" : "--key");
    if (optind + 1 < argc)
        return ctl_usage_error(CMD, "one input at most, not '%s' and '%s'", argv[optind],
                               argv[optind + 1]);
    if (optind < argc) {
        p.input = argv[optind];
        if (p.data_text)
            return ctl_usage_error(CMD, "--data and an input file '%s' exclude each other",
                                   p.input);
        if (p.opt.has_id)
            return ctl_usage_error(CMD, "--id names one event: give ids per line (\"id\") with "
                                        "an input file");
    }
    if (p.opt.type && !envelope_type_name_valid(p.opt.type, strlen(p.opt.type)))
        return ctl_usage_error(CMD,
                               "--type '%s': not a dotted lower-case name such as "
                               "press.bulletin",
                               p.opt.type);
    if (p.opt.source && !envelope_source_name_valid(p.opt.source, strlen(p.opt.source)))
        return ctl_usage_error(CMD, "--source '%s': expected 1-64 of A-Z a-z 0-9 _ . : -",
                               p.opt.source);

    /* Check the input before connecting: a bad file changes nothing. */
    msgpack_sbuffer_init(&p.data);
    if (p.input) {
        struct stat st;

        if (strcmp(p.input, "-") == 0) {
            in = stdin;
            p.input_name = "<stdin>";
        } else {
            in = fopen(p.input, "r");
            p.input_name = p.input;
            if (!in) {
                fprintf(stderr, "%s: %s: %s\n", CTL_PROG, p.input, strerror(errno));
                rc = EX_NOINPUT;
                goto out;
            }
        }
        if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
            rc = s_run_lines(&p, in, false);
            if (rc != 0)
                goto out;
            rewind(in);
        }
    } else {
        rc = s_run_data(&p, false);
        if (rc != 0)
            goto out;
    }

    rc = ctl_endpoint(ctl, &endpoint);
    if (rc != 0)
        goto out;
    /* ctl->cfg is read unless --endpoint answered without -c. */
    rc = s_load_keys(ctl->cfg, key_path, server_key_path, &keys);
    if (rc != 0)
        goto out;
    if (keys.on) {
        copts.curve_server_key = keys.server.public_z85;
        copts.curve_public_key = keys.pair.public_z85;
        copts.curve_secret_key = keys.pair.secret_z85;
    }
    copts.on_reply = s_on_reply;
    copts.cb_arg = &p;
    p.ring_size = copts.window * 4 < 1024 ? 1024 : copts.window * 4;
    p.ring = calloc(p.ring_size, sizeof(*p.ring));
    if (!p.ring) {
        rc = EX_OSERR;
        goto out;
    }
    p.client = mandate_client_new(endpoint, &copts);
    if (!p.client) {
        fprintf(stderr, "%s: cannot connect to '%s': %s\n", CTL_PROG, endpoint, strerror(errno));
        rc = errno == EINVAL ? (ctl->endpoint ? EX_USAGE : EX_CONFIG) : EX_UNAVAILABLE;
        goto out;
    }

    rc = p.input ? s_run_lines(&p, in, true) : s_run_data(&p, true);
    /* Whatever stopped the input, wait for what was sent: it may be ACKed yet. */
    int frc = mandate_client_flush(p.client, -1);
    if (frc < 0 && rc == 0) {
        fprintf(stderr, "%s: %s\n", CTL_PROG, strerror(-frc));
        rc = EX_UNAVAILABLE;
    }
    s_print_ready(&p);
    mandate_client_get_stats(p.client, &stats);
    if (rc == 0) {
        if (p.nacks > 0)
            rc = 1;
        else if (p.timeouts > 0)
            rc = stats.replies == 0 ? EX_UNAVAILABLE : 1;
    }
    if (p.timeouts > 0 && stats.replies == 0)
        fprintf(stderr, "%s: no answer from the broker at %s\n", CTL_PROG, endpoint);
    if (fflush(stdout) != 0 && rc == 0)
        rc = EX_IOERR;

out:
    mandate_client_destroy(&p.client);
    curve_cert_clear(&keys.pair);
    if (in && in != stdin)
        fclose(in);
    free(p.ring);
    msgpack_sbuffer_destroy(&p.data);
    return rc;
}
