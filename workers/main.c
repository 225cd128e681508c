/*
 * mandate-worker: serves one area for the broker over MDP/0.1. Reads the
 * same config as the daemon, finds the area and its handler, and runs the
 * worker loop in the foreground until SIGTERM. With --key and --server-key
 * (or [security] workers_curve = on and the config's worker_secret_key and
 * server_public_key) it connects with CURVE.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "config/config.h"
#include "config/curve_cert.h"
#include "common/log.h"
#include "proto/mdp.h"
#include "proto/text.h"
#include "workers/handlers.h"
#include "workers/worker.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: mandate-worker --area NAME [-c FILE] [--endpoint E] [--credit N]\n"
            "                      [--key FILE --server-key FILE] [-v]... [-q] [-h] [-V]\n"
            "  -a, --area NAME      the area to serve (an [area NAME] of the config)\n"
            "  -c, --config FILE    configuration (default: config/mandated.conf,\n"
            "                       else /etc/mandated/mandated.conf, else built in)\n"
            "  -e, --endpoint E     the broker's endpoint (default: [broker] workers)\n"
            "  -n, --credit N       requests in flight, 1..%d (default: the area's credit)\n"
            "      --key FILE       CURVE: this worker's key pair, NAME.key_secret (0600)\n"
            "      --server-key FILE\n"
            "                       CURVE: the broker's public key, NAME.key. Both or\n"
            "                       neither; without them and with [security]\n"
            "                       workers_curve = on: worker_secret_key and\n"
            "                       server_public_key of the config\n"
            "  -v, --verbose        more logging (repeatable)\n"
            "  -q, --quiet          warnings and errors only\n"
            "  -h, --help           this text\n"
            "  -V, --version        print the version\n",
            MDP_CREDIT_MAX);
}

enum { OPT_KEY = 0x100, OPT_SERVER_KEY };

/*
 * Loads the keys named by --key / --server-key, else by the config when
 * workers_curve = on. Returns 0, or EX_CONFIG after saying which file (and
 * which option or key named it) cannot be used.
 */
static int
s_load_keys(const struct mandated_config *cfg, const char *key_path, const char *server_path,
            struct curve_client *ret)
{
    const char *key_from = "--key", *server_from = "--server-key";
    struct config_error cerr;
    char msg[1024];

    ret->on = false;
    if (!key_path) {
        if (!cfg->security.workers_curve)
            return 0;
        if (!cfg->security.worker_secret_key[0]) {
            fprintf(stderr,
                    "mandate-worker: %s: security.worker_secret_key: workers_curve = on but no "
                    "key pair is named: set it, or give --key and --server-key\n",
                    cfg->path);
            return EX_CONFIG;
        }
        key_path = cfg->security.worker_secret_key;
        server_path = cfg->security.server_public_key;
        key_from = "security.worker_secret_key";
        server_from = "security.server_public_key";
    }
    bool server_failed;
    if (curve_client_load(key_path, server_path, ret, &server_failed, &cerr) < 0) {
        config_error_format(&cerr, msg, sizeof msg);
        fprintf(stderr, "mandate-worker: %s: %s\n", server_failed ? server_from : key_from, msg);
        return EX_CONFIG;
    }
    log_info("CURVE: key %s (%s), broker %s (%s)", key_path, ret->pair.public_z85, server_path,
             ret->server.public_z85);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {{"area", required_argument, NULL, 'a'},
                                            {"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"credit", required_argument, NULL, 'n'},
                                            {"key", required_argument, NULL, OPT_KEY},
                                            {"server-key", required_argument, NULL, OPT_SERVER_KEY},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *area_name = NULL, *endpoint = NULL;
    const char *key_path = NULL, *server_key_path = NULL;
    struct curve_client keys = {0};
    int verbosity = 0, opt, rc;
    uint64_t credit = 0;
    struct mandated_config *cfg = NULL;
    struct config_error cerr;
    struct worker *w;
    static char ident[MDP_SERVICE_MAX + 32];
    char msg[1024];

    while ((opt = getopt_long(argc, argv, "a:c:e:n:vqhV", options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            area_name = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'n':
            if (text_parse_u64(optarg, 1, MDP_CREDIT_MAX, &credit) < 0) {
                fprintf(stderr, "mandate-worker: --credit '%s': 1..%d expected\n", optarg,
                        MDP_CREDIT_MAX);
                return EX_USAGE;
            }
            break;
        case OPT_KEY:
            key_path = optarg;
            break;
        case OPT_SERVER_KEY:
            server_key_path = optarg;
            break;
        case 'v':
            verbosity++;
            break;
        case 'q':
            verbosity = -1;
            break;
        case 'h':
            s_usage(stdout);
            return EX_OK;
        case 'V':
            printf("mandate-worker %s\n", MANDATED_VERSION);
            return EX_OK;
        default:
            s_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mandate-worker: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return EX_USAGE;
    }
    if (!area_name) {
        fprintf(stderr, "mandate-worker: --area NAME is required\n");
        s_usage(stderr);
        return EX_USAGE;
    }
    if (!key_path != !server_key_path) {
        fprintf(stderr,
                "mandate-worker: %s needs %s too: the key pair and the broker's key go "
                "together\n",
                key_path ? "--key" : "--server-key", key_path ? "--server-key" : "--key");
        s_usage(stderr);
        return EX_USAGE;
    }
    snprintf(ident, sizeof(ident), "mandate-worker@%.*s", MDP_SERVICE_MAX, area_name);
    log_init(ident, verbosity);
    if (sodium_init() < 0) {
        fprintf(stderr, "mandate-worker: libsodium failed to initialise\n");
        return EX_SOFTWARE;
    }

    if (config_load_default(config_path, &cfg, &cerr) < 0) {
        config_error_format(&cerr, msg, sizeof msg);
        fprintf(stderr, "mandate-worker: %s\n", msg);
        return EX_CONFIG;
    }
    const struct area_conf *area = config_area(cfg, area_name);
    if (!area) {
        fprintf(stderr, "mandate-worker: %s: no [area %s]\n", cfg->path, area_name);
        config_destroy(&cfg);
        return EX_CONFIG;
    }
    const struct handler_entry *handler = handler_lookup(area->name);
    if (!handler) {
        log_notice("area %s has no handler of its own; using the generic one", area->name);
        handler = &handler_generic_entry;
    }
    if (credit == 0)
        credit = area->credit ? area->credit : 1;
    if (!endpoint)
        endpoint = cfg->broker.workers;
    log_info("config: %s; area %s (%s)", cfg->path, area->name, area->unit);
    if ((rc = s_load_keys(cfg, key_path, server_key_path, &keys)) != 0) {
        config_destroy(&cfg);
        return rc;
    }

    const struct worker_options wopt = {
        .cfg = cfg,
        .area = area,
        .endpoint = endpoint,
        .credit = (unsigned)credit,
        .handler = handler,
        .curve_server_key = keys.on ? keys.server.public_z85 : NULL,
        .curve_public_key = keys.on ? keys.pair.public_z85 : NULL,
        .curve_secret_key = keys.on ? keys.pair.secret_z85 : NULL,
    };
    w = worker_new(&wopt);
    if (!w) {
        curve_cert_clear(&keys.pair);
        config_destroy(&cfg);
        return EX_OSERR;
    }
    rc = worker_run(w);
    worker_destroy(&w); /* and with it the handler's state */
    curve_cert_clear(&keys.pair);
    config_destroy(&cfg);
    if (rc == -EINVAL)
        return EX_CONFIG; /* the endpoint or the keys: a config error */
    return rc < 0 ? EX_UNAVAILABLE : EX_OK;
}
