/*
 * calendar: one year = one file = 366 day kinds; counting walks day by day
 * (periods are at most a few hundred days, so the walk is short and plainly
 * follows the Civil Code's words).
 */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "config/calendar.h"
#include "config/embedded.h"
#include "proto/text.h"

#define MAX_FILE_BYTES (256 * 1024)
#define MIN_YEAR       1900
#define MAX_YEAR       9999

enum day_kind { DAY_DEFAULT, DAY_REST, DAY_WORK };

struct year {
    int year;
    char *decision;
    unsigned char kind[366];             /* by day of year, from 0 */
    uint8_t digest[CALENDAR_DIGEST_LEN]; /* of its file's text */
};

struct calendar {
    struct year *years; /* sorted by year */
    size_t nyears;
    uint8_t digest[CALENDAR_DIGEST_LEN]; /* over the years' digests, in year order */
};

/* ------------------------------------------------------------------------ */
/* Dates. Vietnam keeps UTC+7 all year: a day is a UTC day shifted 7 h. */

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t
calendar_day_of_ms(int64_t unix_ms)
{
    return s_floor_div(unix_ms + CALENDAR_UTC_OFFSET_MS, CALENDAR_DAY_MS);
}

int64_t
calendar_day_start_ms(int64_t day)
{
    return day * CALENDAR_DAY_MS - CALENDAR_UTC_OFFSET_MS;
}

int64_t
calendar_day_of_date(int year, int month, int day)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day};
    return (int64_t)timegm(&tm) / 86400;
}

void
calendar_date_of_day(int64_t day, int *ret_year, int *ret_month, int *ret_day)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    *ret_year = tm.tm_year + 1900;
    *ret_month = tm.tm_mon + 1;
    *ret_day = tm.tm_mday;
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday. */
static int
s_weekday(int64_t day)
{
    return (int)(((day % 7) + 7 + 4) % 7);
}

/* ------------------------------------------------------------------------ */
/* Loading. */

struct parse {
    struct year *y;
    int file_year; /* from the file name, 0 if unknown */
    enum { SEC_NONE, SEC_YEAR, SEC_REST, SEC_WORK } sec;
    bool seen_year;
    bool in_decision;
    unsigned lines[366]; /* where each day was listed */
};

static void
s_section(struct ini_file *f, void *user, const char *raw)
{
    struct parse *p = user;
    unsigned line = ini_file_line(f);
    char label[140];
    snprintf(label, sizeof label, "[%s]", raw);
    p->in_decision = false;
    if (strcmp(raw, "rest") == 0 || strcmp(raw, "work") == 0) {
        if (!p->seen_year) {
            ini_file_fail(f, line, label, "[year YYYY] must come first");
            return;
        }
        p->sec = raw[0] == 'r' ? SEC_REST : SEC_WORK;
        return;
    }
    uint64_t year;
    if (strncmp(raw, "year ", 5) != 0 || text_parse_u64(raw + 5, MIN_YEAR, MAX_YEAR, &year) < 0) {
        ini_file_fail(f, line, label, "unknown section (expected [year YYYY], [rest] or [work])");
        return;
    }
    if (p->seen_year) {
        ini_file_fail(f, line, label, "one year per file");
        return;
    }
    if (p->file_year && (int)year != p->file_year) {
        ini_file_fail(f, line, label, "the file is named for %d", p->file_year);
        return;
    }
    p->seen_year = true;
    p->y->year = (int)year;
    p->sec = SEC_YEAR;
}

static void
s_key(struct ini_file *f, void *user, const char *key, const char *value)
{
    struct parse *p = user;
    unsigned line = ini_file_line(f);

    if (ini_file_continuation(f)) {
        if (!p->in_decision) {
            ini_file_fail(f, line, key, "only decision may continue on indented lines");
            return;
        }
        size_t a = strlen(p->y->decision), b = strlen(value);
        char *s = xrealloc(p->y->decision, a + b + 2);
        s[a] = ' ';
        memcpy(s + a + 1, value, b + 1);
        p->y->decision = s;
        return;
    }
    p->in_decision = false;
    if (p->sec == SEC_NONE) {
        ini_file_fail(f, line, key, "key outside any section (start with [year YYYY])");
        return;
    }
    if (p->sec == SEC_YEAR) {
        if (strcmp(key, "decision") != 0) {
            ini_file_fail(f, line, key, "unknown key (expected decision)");
        } else if (p->y->decision) {
            ini_file_fail(f, line, key, "duplicate key");
        } else if (!*value) {
            ini_file_fail(f, line, key, "empty: name the decision that fixed these days");
        } else {
            p->y->decision = xstrdup(value);
            p->in_decision = true;
        }
        return;
    }
    int y, m, d;
    if (!text_parse_date(key, strlen(key), &y, &m, &d)) {
        ini_file_fail(f, line, key, "not a date YYYY-MM-DD");
        return;
    }
    if (y != p->y->year) {
        ini_file_fail(f, line, key, "not in %d, the file's year", p->y->year);
        return;
    }
    int64_t day = calendar_day_of_date(y, m, d);
    size_t doy = (size_t)(day - calendar_day_of_date(y, 1, 1));
    if (p->lines[doy]) {
        ini_file_fail(f, line, key, "listed twice (first on line %u)", p->lines[doy]);
        return;
    }
    int wd = s_weekday(day);
    bool weekend = wd == 0 || wd == 6;
    if (p->sec == SEC_WORK && !weekend) {
        ini_file_fail(f, line, key, "a working day already: [work] lists Saturdays and Sundays");
        return;
    }
    p->lines[doy] = line;
    p->y->kind[doy] = p->sec == SEC_REST ? DAY_REST : DAY_WORK;
}

static const struct ini_file_ops s_ops = {
    .section = s_section,
    .key = s_key,
    .long_line_hint = "continue decision on indented lines",
};

static int
s_parse_year(const char *text, size_t len, const char *name, int file_year, struct year *ret,
             struct config_error *err)
{
    struct parse p = {.y = ret, .file_year = file_year};
    memset(ret, 0, sizeof *ret);
    crypto_generichash(ret->digest, sizeof ret->digest, (const unsigned char *)text, len, NULL, 0);
    int rc = ini_file_parse(text, len, name, &s_ops, &p, err);
    if (rc == 0 && !p.seen_year) {
        config_error_set(err, name, 0, "", "no [year YYYY] section");
        rc = -EINVAL;
    } else if (rc == 0 && !ret->decision) {
        config_error_set(err, name, 0, "decision",
                         "missing: name the decision that fixed these days");
        rc = -EINVAL;
    }
    if (rc < 0) {
        free(ret->decision);
        ret->decision = NULL;
    }
    return rc;
}

static int
s_year_cmp(const void *a, const void *b)
{
    return ((const struct year *)a)->year - ((const struct year *)b)->year;
}

/* Adds y, replacing a year already there. Takes y's decision. */
static void
s_put_year(struct calendar *cal, struct year *y)
{
    for (size_t i = 0; i < cal->nyears; i++)
        if (cal->years[i].year == y->year) {
            free(cal->years[i].decision);
            cal->years[i] = *y;
            return;
        }
    struct year *ys = xreallocarray(cal->years, cal->nyears + 1, sizeof *ys);
    cal->years = ys;
    cal->years[cal->nyears++] = *y;
}

/* Once the years are final and sorted. */
static void
s_digest(struct calendar *cal)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof cal->digest);
    for (size_t i = 0; i < cal->nyears; i++)
        crypto_generichash_update(&st, cal->years[i].digest, sizeof cal->years[i].digest);
    crypto_generichash_final(&st, cal->digest, sizeof cal->digest);
}

static struct calendar *
s_new(void)
{
    struct calendar *cal = xcalloc(1, sizeof *cal);
    return cal;
}

void
calendar_destroy(struct calendar **cal_p)
{
    if (!cal_p || !*cal_p)
        return;
    struct calendar *cal = *cal_p;
    for (size_t i = 0; i < cal->nyears; i++)
        free(cal->years[i].decision);
    free(cal->years);
    free(cal);
    *cal_p = NULL;
}

int
calendar_load_string(const char *text, const char *name, struct calendar **ret,
                     struct config_error *err)
{
    struct config_error local;
    struct year y;
    int rc = s_parse_year(text, strlen(text), name ? name : "(string)", 0, &y, err ? err : &local);
    if (rc < 0)
        return rc;
    struct calendar *cal = s_new();
    s_put_year(cal, &y);
    s_digest(cal);
    *ret = cal;
    return 0;
}

/* "2026.ini" → 2026; 0 if the name is not YYYY.ini. */
static int
s_file_year(const char *name)
{
    uint64_t y;
    char digits[5];
    if (strlen(name) != 8 || strcmp(name + 4, ".ini") != 0)
        return 0;
    memcpy(digits, name, 4);
    digits[4] = '\0';
    return text_parse_u64(digits, MIN_YEAR, MAX_YEAR, &y) == 0 ? (int)y : 0;
}

int
calendar_load(const char *dir, struct calendar **ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    struct calendar *cal = s_new();
    int rc = 0;

    for (const struct embedded_file *e = embedded_calendars; e->name && rc == 0; e++) {
        struct year y;
        rc = s_parse_year(e->text, strlen(e->text), e->name, 0, &y, err);
        if (rc == 0)
            s_put_year(cal, &y);
    }
    if (rc == 0 && dir && *dir) {
        DIR *d = opendir(dir);
        if (!d) {
            rc = -errno;
            config_error_set(err, dir, 0, "broker.calendar_dir", "cannot open: %s", strerror(-rc));
        }
        for (struct dirent *de; rc == 0 && d && (de = readdir(d));) {
            int file_year = s_file_year(de->d_name);
            if (!file_year)
                continue; /* notes, backups and the like are not years */
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            char *text;
            size_t len;
            rc = ini_file_read(path, MAX_FILE_BYTES, &text, &len, err);
            if (rc < 0)
                break;
            struct year y;
            rc = s_parse_year(text, len, path, file_year, &y, err);
            free(text);
            if (rc == 0)
                s_put_year(cal, &y);
        }
        if (d)
            closedir(d);
    }
    if (rc < 0) {
        calendar_destroy(&cal);
        return rc;
    }
    if (cal->nyears) /* qsort's base may not be NULL, even for no element */
        qsort(cal->years, cal->nyears, sizeof *cal->years, s_year_cmp);
    s_digest(cal);
    *ret = cal;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Days. */

static const struct year *
s_year(const struct calendar *cal, int year)
{
    for (size_t i = 0; cal && i < cal->nyears; i++)
        if (cal->years[i].year == year)
            return &cal->years[i];
    return NULL;
}

const uint8_t *
calendar_digest(const struct calendar *cal)
{
    return cal->digest;
}

bool
calendar_has_year(const struct calendar *cal, int year)
{
    return s_year(cal, year) != NULL;
}

const char *
calendar_decision(const struct calendar *cal, int year)
{
    const struct year *y = s_year(cal, year);
    return y ? y->decision : NULL;
}

bool
calendar_is_working_day(const struct calendar *cal, int64_t day, bool *missing)
{
    int y, m, d;
    calendar_date_of_day(day, &y, &m, &d);
    int wd = s_weekday(day);
    bool weekday = wd != 0 && wd != 6;
    const struct year *yr = s_year(cal, y);
    if (yr) {
        unsigned char k = yr->kind[day - calendar_day_of_date(y, 1, 1)];
        return k == DAY_DEFAULT ? weekday : k == DAY_WORK;
    }
    if (missing)
        *missing = true;
    bool fixed_holiday =
        (m == 1 && d == 1) || (m == 4 && d == 30) || (m == 5 && d == 1) || (m == 9 && d == 2);
    return weekday && !fixed_holiday;
}

int64_t
calendar_due(const struct calendar *cal, int64_t anchor_ms, unsigned n, enum deadline_unit unit,
             bool before, bool *missing)
{
    int64_t hours_ms = (int64_t)n * 3600 * 1000;
    if (unit == DEADLINE_HOURS)
        return before ? anchor_ms - hours_ms : anchor_ms + hours_ms;

    int64_t day = calendar_day_of_ms(anchor_ms);
    if (before) {
        /* n whole days, or n working days, must lie between the notice's day
         * and the anchor's: the notice must arrive before the day reached. */
        for (unsigned k = 0; k < n;) {
            day--;
            if (unit == DEADLINE_DAYS || calendar_is_working_day(cal, day, missing))
                k++;
        }
        return calendar_day_start_ms(day);
    }
    if (unit == DEADLINE_DAYS) {
        day += n; /* Art. 147: counting starts the next day */
        while (!calendar_is_working_day(cal, day, missing))
            day++; /* Art. 148: a last day that is a rest day moves on */
    } else {
        for (unsigned k = 0; k < n;) {
            day++;
            if (calendar_is_working_day(cal, day, missing))
                k++;
        }
    }
    return calendar_day_start_ms(day + 1); /* 24:00 of the last day */
}
