/*
 * mandatectl: the operator and publisher CLI (DESIGN.md "Operator surface").
 * This file holds main(), the global options and what the subcommands share;
 * each subcommand lives in its own mandatectl_NAME.c.
 */
#include "tools/mandatectl.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sodium.h>

#include "proto/text.h"

static const char s_usage_global[] =
    "usage: mandatectl [-c FILE] [--state-dir DIR] [--endpoint EP] COMMAND [ARGS]\n"
    "       mandatectl -h | -V\n"
    "\n"
    "global options (also accepted after COMMAND):\n"
    "  -c, --config FILE     configuration (default: config/mandated.conf,\n"
    "                        else /etc/mandated/mandated.conf, else built in)\n"
    "      --state-dir DIR   audit log under DIR/audit (default: the config's state_dir)\n"
    "      --endpoint EP     broker ingress (default: the config's ingress)\n"
    "  -h, --help            this text\n"
    "  -V, --version         print the version\n"
    "\n"
    "commands:\n";

static const struct {
    const char *name;
    const char *text;
} s_usage_cmds[] = {
    {"publish",
     "  publish --type T --source S [--data JSON | FILE.jsonl | -] [--id ID]\n"
     "          [--corr ID] [--subject S] [--time MS] [--window N] [--timeout MS]\n"
     "          [--retries N] [--key FILE --server-key FILE]\n"
     "      Publish events and wait for their ACKs. --data gives one event's data\n"
     "      (a JSON object; without --data or FILE: {}). FILE.jsonl or - (stdin)\n"
     "      gives one event per line: either the data object itself, or an object\n"
     "      with a \"type\" key and optional \"source\", \"data\", \"id\", \"corr\",\n"
     "      \"subject\", \"time\" (options fill in what a line leaves out). Blank lines\n"
     "      are skipped. IDs are 32 hex digits or a UUID; new UUIDv7 ids unless given.\n"
     "      Prints \"SEQ ID\" (\" dup\" for a resent id) per event in input order;\n"
     "      NACKs go to stderr with their line. Exit 0 all ACKed, 1 a NACK,\n"
     "      65 bad input, 69 the broker never answered, 78 a config or key file\n"
     "      that cannot be used.\n"
     "      --window N     events in flight (default 64)\n"
     "      --timeout MS   resend the same bytes after MS without reply (2000)\n"
     "      --retries N    resends before giving up on an event (5)\n"
     "      --key FILE     CURVE: this publisher's key pair, NAME.key_secret (0600)\n"
     "      --server-key FILE\n"
     "                     CURVE: the broker's public key, NAME.key. Both or neither;\n"
     "                     without them, when the config is read (without --endpoint,\n"
     "                     or with -c) and says curve = on: its client_secret_key\n"
     "                     and server_public_key\n"},
    {"tail", "  tail [-f] [--from SEQ | --last N] [--kind K] [--type GLOB] [--area A] [--json]\n"
             "      Print audit records (default: the last 20) from the log, read-only.\n"
             "      -f, --follow   keep printing new records until interrupted\n"
             "      --from SEQ     start at SEQ;  --last N: the last N matching records\n"
             "      --kind K       only records of kind K (accepted, rejected, dispatched,\n"
             "                     completed, failed, retried, deadlettered, worker_joined,\n"
             "                     worker_lost, worker_refused, deadline, auth_refused,\n"
             "                     started, stopped, reloaded, reload_failed)\n"
             "      --type GLOB    only records whose type (or event type) matches GLOB\n"
             "      --area A       only records for area A (events, deliveries, workers)\n"
             "      --json         one JSON object per line with every field\n"},
    {"show", "  show SEQ | ID [--json]\n"
             "      One event's history: its accepted record, then each record of its\n"
             "      delivery (dispatched, completed, failed, retried, deadlettered) and,\n"
             "      indented, the follow-up events it emitted. SEQ may be the seq of any\n"
             "      of the event's records; ID is its id (32 hex digits or a UUID). The\n"
             "      first line sums it up: seq, id, type, source, area and state (waiting,\n"
             "      in flight, completed, dead-lettered). Exit 1 if there is no such event.\n"
             "      --json         the records only, one JSON object per line\n"},
    {"verify", "  verify [--from SEQ]\n"
               "      Recompute the hash chain; exit 1 naming the first bad seq.\n"},
    {"stats", "  stats\n"
              "      Record counts by kind, ids, pending deliveries, chain head.\n"},
    {"keygen", "  keygen NAME [--dir DIR]\n"
               "      Write a new CURVE key pair in the ZeroMQ certificate format: DIR/NAME.key\n"
               "      (public, to hand over) and DIR/NAME.key_secret (mode 0600). DIR defaults\n"
               "      to the working directory; an existing key is never overwritten.\n"},
};

void
ctl_usage(FILE *out, const char *cmd)
{
    if (!cmd)
        fputs(s_usage_global, out);
    for (size_t i = 0; i < sizeof(s_usage_cmds) / sizeof(s_usage_cmds[0]); i++) {
        if (!cmd || strcmp(cmd, s_usage_cmds[i].name) == 0) {
            if (cmd)
                fputs("usage: mandatectl [GLOBAL OPTIONS] COMMAND ... (see mandatectl --help)\n",
                      out);
            fputs(s_usage_cmds[i].text, out);
        }
    }
}

int
ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s%s", CTL_PROG, cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return ctl_bad_option(cmd);
}

int
ctl_bad_option(const char *cmd)
{
    fprintf(stderr, "try '%s %s%s--help'\n", CTL_PROG, cmd ? cmd : "", cmd ? " " : "");
    return EX_USAGE;
}

bool
ctl_global_option(struct ctl *ctl, int opt, const char *arg)
{
    switch (opt) {
    case 'c':
        ctl->config_path = arg;
        return true;
    case CTL_OPT_STATE_DIR:
        ctl->state_dir = arg;
        return true;
    case CTL_OPT_ENDPOINT:
        ctl->endpoint = arg;
        return true;
    default:
        return false;
    }
}

static int
s_load_config(struct ctl *ctl)
{
    struct config_error err;
    char msg[1024];

    if (ctl->cfg)
        return 0;
    if (config_load_default(ctl->config_path, &ctl->cfg, &err) < 0) {
        config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "%s: %s\n", CTL_PROG, msg);
        return EX_CONFIG;
    }
    return 0;
}

/*
 * A setting from --state-dir / --endpoint, else from the config. An explicit
 * -c is always loaded, so a broken file is reported even when the override
 * makes it unnecessary; without -c the lookup is skipped if an override
 * already answers.
 */
static int
s_setting(struct ctl *ctl, const char *override, bool want_state_dir, const char **ret)
{
    if (!override || ctl->config_path) {
        int rc = s_load_config(ctl);
        if (rc != 0)
            return rc;
    }
    if (override)
        *ret = override;
    else
        *ret = want_state_dir ? ctl->cfg->broker.state_dir : ctl->cfg->broker.ingress;
    return 0;
}

int
ctl_state_dir(struct ctl *ctl, const char **ret_dir)
{
    return s_setting(ctl, ctl->state_dir, true, ret_dir);
}

int
ctl_endpoint(struct ctl *ctl, const char **ret_endpoint)
{
    return s_setting(ctl, ctl->endpoint, false, ret_endpoint);
}

int
ctl_open_reader(struct ctl *ctl, struct audit_reader **ret_reader)
{
    const char *dir;
    int rc = ctl_state_dir(ctl, &dir);

    if (rc != 0)
        return rc;
    rc = audit_reader_open(dir, ret_reader);
    if (rc == 0)
        return 0;
    if (rc == -ENOENT) {
        fprintf(stderr, "%s: no audit log in %s/%s (has the broker run with this state_dir?)\n",
                CTL_PROG, dir, AUDIT_READER_SUBDIR);
        return EX_NOINPUT;
    }
    if (rc == -EACCES) {
        fprintf(stderr,
                "%s: %s/%s: permission denied (readers register in lock.mdb: run as the "
                "daemon's user or group)\n",
                CTL_PROG, dir, AUDIT_READER_SUBDIR);
        return EX_NOPERM;
    }
    fprintf(stderr, "%s: %s/%s: %s\n", CTL_PROG, dir, AUDIT_READER_SUBDIR,
            rc == -EIO ? "not a readable LMDB audit log" : strerror(-rc));
    return EX_IOERR;
}

int
ctl_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
    uint64_t v;

    if (text_parse_u64(arg, min, max, &v) < 0) {
        fprintf(stderr,
                "%s: --%s: expected a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'\n",
                CTL_PROG, opt, min, max, arg);
        return EX_USAGE;
    }
    *ret = v;
    return 0;
}

void
ctl_format_time_ns(uint64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000u);
    unsigned ms = (unsigned)(ns / 1000000u % 1000u);
    struct tm tm;
    char date[24];

    if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, size, "?");
        return;
    }
    snprintf(buf, size, "%s.%03uZ", date, ms);
}

bool
ctl_parse_id(const char *text, uint8_t ret_id[16])
{
    size_t len = strlen(text), bin_len = 0;
    const char *end = NULL;
    uint8_t id[16];

    if (len == 36) {
        /* The UUID form: dashes exactly at 8, 13, 18 and 23. */
        if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
            return false;
    } else if (len != 32) {
        return false;
    }
    if (sodium_hex2bin(id, sizeof(id), text, len, len == 36 ? "-" : NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof(id) || end != text + len)
        return false;
    memcpy(ret_id, id, sizeof(id));
    return true;
}

static const struct {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
} s_commands[] = {
    /* clang-format off */
    {"publish", ctl_publish},
    {"tail", ctl_tail},
    {"show", ctl_show},
    {"verify", ctl_verify},
    {"stats", ctl_stats},
    {"keygen", ctl_keygen},
    /* clang-format on */
};

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    struct ctl ctl = {0};
    int opt, rc;

    /* A closed stdout shows as EPIPE on write, which the subcommands handle. */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", CTL_PROG);
        return EX_SOFTWARE;
    }

    /* "+": stop at the command name; what follows is the subcommand's. */
    while ((opt = getopt_long(argc, argv, "+c:hV", options, NULL)) != -1) {
        if (ctl_global_option(&ctl, opt, optarg))
            continue;
        switch (opt) {
        case 'h':
            ctl_usage(stdout, NULL);
            return EX_OK;
        case 'V':
            printf("mandatectl %s\n", MANDATED_VERSION);
            return EX_OK;
        default:
            return ctl_bad_option(NULL);
        }
    }
    if (optind == argc) {
        fprintf(stderr, "%s: missing command (publish, tail, show, verify, stats, keygen)\n",
                CTL_PROG);
        return ctl_bad_option(NULL);
    }
    if (strcmp(argv[optind], "help") == 0) {
        ctl_usage(stdout, optind + 1 < argc ? argv[optind + 1] : NULL);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++) {
        if (strcmp(argv[optind], s_commands[i].name) == 0) {
            char **sub_argv = argv + optind;
            int sub_argc = argc - optind;
            char name[64];

            /* getopt names argv[0] in its messages: "mandatectl tail: unrecognized option". */
            snprintf(name, sizeof(name), "%s %s", CTL_PROG, s_commands[i].name);
            sub_argv[0] = name;

            optind = 0; /* GNU getopt: start over on the subcommand's arguments */
            rc = s_commands[i].run(&ctl, sub_argc, sub_argv);
            config_destroy(&ctl.cfg);
            return rc;
        }
    }
    fprintf(stderr, "%s: unknown command '%s' (publish, tail, show, verify, stats, keygen)\n",
            CTL_PROG, argv[optind]);
    return ctl_bad_option(NULL);
}
