/*
 * broker: the daemon as a whole: one libevent loop owning the audit log,
 * the ingress socket, signals and timers. Records `started` and `stopped`.
 */
#ifndef MANDATE_BROKER_H
#define MANDATE_BROKER_H

#include "config/config.h"

struct broker;

/* Opens the audit log, records `started`, binds. NULL on failure (logged). */
struct broker *broker_new(const struct mandated_config *cfg);
/* Runs until SIGTERM/SIGINT; returns the process exit code. */
int broker_run(struct broker *b);
void broker_destroy(struct broker **b_p);

#endif
