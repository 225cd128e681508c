/*
 * calendar: working days and the counting of statutory periods.
 *
 * The rest days of each year are data (config/calendar/YYYY.ini, compiled
 * in; [broker] calendar_dir adds or replaces years): the Prime Minister fixes
 * Tết and the bridges every year. Periods count the Civil Code's way
 * (Art. 147: the day of the triggering event is not counted; Art. 148: a
 * period ends at the end of its last day, moved to the end of the next
 * working day if that day is a rest day). Days are Vietnam's (UTC+7, no
 * daylight saving). For a year without a file, weekends and the fixed solar
 * holidays (1/1, 30/4, 1/5, 2/9) stand in, and every answer that used such
 * a day says calendar_missing.
 */
#ifndef MANDATE_CALENDAR_H
#define MANDATE_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "config/catalogue.h"
#include "config/ini_file.h"

#define CALENDAR_UTC_OFFSET_MS (7 * 3600 * 1000LL)
#define CALENDAR_DAY_MS        (86400 * 1000LL)
#define CALENDAR_DIGEST_LEN    32

struct calendar;

/*
 * The shipped years, then every YYYY.ini in dir (NULL or "": none), a year
 * there replacing the shipped one. Returns 0 or -errno / -EINVAL with *err
 * naming the file, line and key.
 */
int calendar_load(const char *dir, struct calendar **ret, struct config_error *err);
/* One file's text, as if read from a file called name (for tests). */
int calendar_load_string(const char *text, const char *name, struct calendar **ret,
                         struct config_error *err);
void calendar_destroy(struct calendar **cal_p);

/*
 * BLAKE2b-256 (CALENDAR_DIGEST_LEN bytes) over the text of each year in
 * effect, in year order: a reload compares it. A shipped year that a file
 * replaces no longer counts, and neither do the directory's listing order
 * or file names.
 */
const uint8_t *calendar_digest(const struct calendar *cal);

/* Whether a file covers the year. */
bool calendar_has_year(const struct calendar *cal, int year);
/* The decision(s) the year's file names, or NULL. */
const char *calendar_decision(const struct calendar *cal, int year);

/* Days since 1970-01-01 in Vietnam's time, and back. */
int64_t calendar_day_of_ms(int64_t unix_ms);
int64_t calendar_day_start_ms(int64_t day);
int64_t calendar_day_of_date(int year, int month, int day);
void calendar_date_of_day(int64_t day, int *ret_year, int *ret_month, int *ret_day);

/* Whether day is a working day; *missing is set (never cleared) if no file
 * covers its year. */
bool calendar_is_working_day(const struct calendar *cal, int64_t day, bool *missing);

/*
 * A period's due time (unix ms: the instant it ends, 24:00 of its last day,
 * or the anchor's time plus or minus the hours):
 *  - n hours from/before: anchor ± n h (the calendar does not matter);
 *  - n days from: the day after the anchor's is the first; the last, if a
 *    rest day, moves to the next working day;
 *  - n working days from: the nth working day after the anchor's day;
 *  - before (notice periods): the latest instant a notice may arrive, so
 *    that n full days / working days lie between its day and the anchor's.
 * *missing as above.
 */
int64_t calendar_due(const struct calendar *cal, int64_t anchor_ms, unsigned n,
                     enum deadline_unit unit, bool before, bool *missing);

#endif
