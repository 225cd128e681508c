/*
 * mandate-worker: serves one area for the broker over MDP/0.1. Reads the
 * same config as the daemon, finds the area and its handler, and runs the
 * worker loop in the foreground until SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "config/config.h"
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
            "                      [-v]... [-q] [-h] [-V]\n"
            "  -a, --area NAME      the area to serve (an [area NAME] of the config)\n"
            "  -c, --config FILE    configuration (default: config/mandated.conf,\n"
            "                       else /etc/mandated/mandated.conf, else built in)\n"
            "  -e, --endpoint E     the broker's endpoint (default: [broker] workers)\n"
            "  -n, --credit N       requests in flight, 1..%d (default: the area's credit)\n"
            "  -v, --verbose        more logging (repeatable)\n"
            "  -q, --quiet          warnings and errors only\n"
            "  -h, --help           this text\n"
            "  -V, --version        print the version\n",
            MDP_CREDIT_MAX);
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {{"area", required_argument, NULL, 'a'},
                                            {"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"credit", required_argument, NULL, 'n'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *area_name = NULL, *endpoint = NULL;
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

    const struct worker_options wopt = {
        .cfg = cfg,
        .area = area,
        .endpoint = endpoint,
        .credit = (unsigned)credit,
        .handler = handler,
    };
    w = worker_new(&wopt);
    if (!w) {
        config_destroy(&cfg);
        return EX_OSERR;
    }
    rc = worker_run(w);
    worker_destroy(&w); /* and with it the handler's state */
    config_destroy(&cfg);
    if (rc == -EINVAL)
        return EX_CONFIG; /* the endpoint: a config error */
    return rc < 0 ? EX_UNAVAILABLE : EX_OK;
}
