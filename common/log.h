/*
 * log: one line per event on stderr. Under journald ($JOURNAL_STREAM set) each
 * line starts with a <N> priority prefix and carries no timestamp, since the
 * journal adds its own; otherwise an ISO 8601 UTC timestamp and a level word.
 * Every program here logs through it; proto/, config/ and libmandate never log.
 */
#ifndef MANDATE_LOG_H
#define MANDATE_LOG_H

#include <syslog.h>

void log_init(const char *ident, int verbosity);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_crit(...)   log_msg(LOG_CRIT, __VA_ARGS__)
#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
