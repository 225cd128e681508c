/*
 * mandated: the broker's entry point. Reads the config, then either prints
 * what it would do (--check-config) or runs the loop in the foreground.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include <sodium.h>

#include "config/config.h"
#include "daemon/broker.h"
#include "common/log.h"

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: mandated [-c FILE] [-t] [-v]... [-q] [-h] [-V]\n"
                 "  -c, --config FILE    configuration (default: config/mandated.conf,\n"
                 "                       else /etc/mandated/mandated.conf, else built in)\n"
                 "  -t, --check-config   check the configuration, print what would run, exit\n"
                 "  -v, --verbose        more logging (repeatable)\n"
                 "  -q, --quiet          warnings and errors only\n"
                 "  -h, --help           this text\n"
                 "  -V, --version        print the version\n");
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check-config", no_argument, NULL, 't'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    int check = 0, verbosity = 0, opt;
    struct mandated_config *cfg = NULL;
    struct config_error cerr;
    char msg[1024];

    while ((opt = getopt_long(argc, argv, "c:tvqhV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            check = 1;
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
            printf("mandated %s\n", MANDATED_VERSION);
            return EX_OK;
        default:
            s_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mandated: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return EX_USAGE;
    }
    log_init("mandated", verbosity);
    /* libsodium asks for this before any use. (It also picks the CPU-specific
     * BLAKE2b code, which on the dev VM's AMD EPYC is slower than the portable
     * one: see bench/README.md.) */
    if (sodium_init() < 0) {
        fprintf(stderr, "mandated: libsodium failed to initialise\n");
        return EX_SOFTWARE;
    }

    if (config_load_default(config_path, &cfg, &cerr) < 0) {
        config_error_format(&cerr, msg, sizeof msg);
        fprintf(stderr, "mandated: %s\n", msg);
        return EX_CONFIG;
    }
    /* The keys belong to the config: a broker that cannot read them does
     * not run without the authentication the operator asked for. */
    if (config_load_keys(cfg, &cerr) < 0) {
        config_error_format(&cerr, msg, sizeof msg);
        fprintf(stderr, "mandated: %s\n", msg);
        config_destroy(&cfg);
        return EX_CONFIG;
    }
    if (check) {
        config_describe(cfg, stdout);
        /* What this version does with it: HTTP comes later. */
        printf("\nmandated %s would: bind ingress %s and keep the audit log in %s/audit (%s);\n"
               "  route events to MDP workers on %s (heartbeat %u ms, liveness %u, %u attempts, "
               "backoff from %u ms);\n"
               "  spawn workers with %s; on SIGTERM wait up to %u ms for requests in flight;\n"
               "  the HTTP endpoint is configured but not yet served\n",
               MANDATED_VERSION, cfg->broker.ingress, cfg->broker.state_dir,
               cfg->broker.durability == DURABILITY_FULL ? "fsync every commit"
                                                         : "relaxed: no fsync per commit",
               cfg->broker.workers, cfg->delivery.heartbeat_ms, cfg->delivery.liveness,
               cfg->delivery.max_attempts, cfg->delivery.retry_backoff_ms,
               cfg->broker.worker_program[0] ? cfg->broker.worker_program
                                             : "mandate-worker beside mandated, else from PATH",
               cfg->delivery.drain_timeout_ms);
        printf("configuration ok\n");
        config_destroy(&cfg);
        return EX_OK;
    }
    log_info("config: %s", cfg->path);

    struct broker *b = broker_new(cfg);
    if (!b) {
        config_destroy(&cfg);
        return EX_UNAVAILABLE;
    }
    int rc = broker_run(b);
    broker_destroy(&b);
    config_destroy(&cfg);
    return rc;
}
