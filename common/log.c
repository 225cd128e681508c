/* log: stderr logging with journald priority prefixes (see log.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static const char *s_ident = "mandated";
static int s_max_priority = LOG_INFO;
static bool s_journal;
static bool s_journal_tag; /* under journald, still name the process in each line */

void
log_init(const char *ident, int verbosity)
{
    s_ident = ident;
    s_max_priority = verbosity > 0 ? LOG_DEBUG : LOG_INFO;
    if (verbosity < 0)
        s_max_priority = LOG_WARNING;
    s_journal = getenv("JOURNAL_STREAM") != NULL;
    /* Spawned workers write to the broker's journal stream, which journald
     * files under the broker's name and pid: say whose line it is. */
    s_journal_tag = strcmp(ident, "mandated") != 0;
}

static const char *
s_level_name(int priority)
{
    static const char *names[] = {"emerg", "alert",  "crit", "error",
                                  "warn",  "notice", "info", "debug"};
    return names[priority & 7];
}

void
log_msg(int priority, const char *fmt, ...)
{
    if (priority > s_max_priority)
        return;
    char line[2048];
    int n;
    if (s_journal && s_journal_tag) {
        n = snprintf(line, sizeof line, "<%d>%s[%ld]: ", priority, s_ident, (long)getpid());
    } else if (s_journal) {
        n = snprintf(line, sizeof line, "<%d>", priority);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_ident, (long)getpid(), s_level_name(priority));
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line so that lines from several processes do not interleave. */
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}
