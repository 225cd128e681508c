/*
 * mandatectl: what the subcommands share (the global options, the config
 * loaded on demand, and small formatting helpers). Internal to mandatectl.
 */
#ifndef MANDATE_MANDATECTL_H
#define MANDATE_MANDATECTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "tools/audit_reader.h"

#define CTL_PROG "mandatectl"

/* Long-only options, shared by every subcommand's getopt_long table. */
enum {
    CTL_OPT_STATE_DIR = 0x100,
    CTL_OPT_ENDPOINT,
    CTL_OPT_FIRST_LOCAL, /* subcommands number their own long-only options from here */
};

/* clang-format off */
#define CTL_GLOBAL_OPTIONS                                     \
    {"config", required_argument, NULL, 'c'},                  \
    {"state-dir", required_argument, NULL, CTL_OPT_STATE_DIR}, \
    {"endpoint", required_argument, NULL, CTL_OPT_ENDPOINT},   \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

struct ctl {
    const char *config_path; /* -c; NULL: the default lookup */
    const char *state_dir;   /* --state-dir, else the config's */
    const char *endpoint;    /* --endpoint, else the config's ingress */
    struct mandated_config *cfg;
};

/* Takes a global option seen by a subcommand's getopt loop; false if opt is not one. */
bool ctl_global_option(struct ctl *ctl, int opt, const char *arg);

/* The state directory / ingress endpoint, loading the config if needed. 0 or EX_CONFIG. */
int ctl_state_dir(struct ctl *ctl, const char **ret_dir);
int ctl_endpoint(struct ctl *ctl, const char **ret_endpoint);

/* Opens the audit log; prints why not and returns the exit code (EX_NOINPUT, ...) on failure. */
int ctl_open_reader(struct ctl *ctl, struct audit_reader **ret_reader);

/* Parses a decimal option value in [min, max]; prints "--opt: ..." and returns EX_USAGE if not. */
int ctl_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ret);

/* Prints "mandatectl: <cmd>: <msg>\n" plus the subcommand's usage hint; returns EX_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt's own message is already printed: adds the hint and returns EX_USAGE. */
int ctl_bad_option(const char *cmd);

/* "2024-05-01T12:34:56.789Z" for a time in ns since the epoch (buf: 32 bytes). */
void ctl_format_time_ns(uint64_t ns, char *buf, size_t size);

/* Parses an event id: 32 hex digits, or a UUID with dashes. */
bool ctl_parse_id(const char *text, uint8_t ret_id[16]);

/* Subcommands: argv[0] is the subcommand's name. Each returns the exit code. */
int ctl_publish(struct ctl *ctl, int argc, char **argv);
int ctl_tail(struct ctl *ctl, int argc, char **argv);
int ctl_show(struct ctl *ctl, int argc, char **argv);
int ctl_verify(struct ctl *ctl, int argc, char **argv);
int ctl_stats(struct ctl *ctl, int argc, char **argv);
int ctl_keygen(struct ctl *ctl, int argc, char **argv);

/* The usage text of one subcommand (NULL: all of them). */
void ctl_usage(FILE *out, const char *cmd);

#endif
