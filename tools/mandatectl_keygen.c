/*
 * mandatectl keygen: a CURVE key pair in the ZeroMQ certificate format
 * (config/curve_cert.h): NAME.key to hand over, NAME.key_secret (0600) to
 * keep. Never overwrites a key.
 */
#include <errno.h>
#include <sysexits.h>

#include "config/curve_cert.h"
#include "tools/mandatectl.h"

#define CMD "keygen"

int
ctl_keygen(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        CTL_GLOBAL_OPTIONS,
        {"dir", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    int opt;

    while ((opt = getopt_long(argc, argv, "c:hd:", options, NULL)) != -1) {
        if (ctl_global_option(ctl, opt, optarg))
            continue;
        if (opt == 'h') {
            ctl_usage(stdout, CMD);
            return EX_OK;
        }
        if (opt == 'd') {
            dir = optarg;
            continue;
        }
        return ctl_bad_option(CMD);
    }
    if (optind == argc)
        return ctl_usage_error(CMD, "missing NAME");
    if (optind + 1 < argc)
        return ctl_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);

    struct curve_cert cert;
    struct config_error err;
    int rc = curve_cert_generate(dir, argv[optind], &cert, &err);
    if (rc < 0) {
        char msg[700];
        config_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "%s: %s: %s\n", CTL_PROG, CMD, msg);
        return rc == -EINVAL ? EX_USAGE : EX_CANTCREAT;
    }
    printf("%s/%s.key\n%s/%s.key_secret\npublic-key %s\n", dir, argv[optind], dir, argv[optind],
           cert.public_z85);
    curve_cert_clear(&cert);
    return EX_OK;
}
