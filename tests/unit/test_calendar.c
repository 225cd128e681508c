/*
 * test_calendar: working days and the Civil Code's counting (Art. 147-148)
 * on the shipped calendars, across Tết, swapped bridges, make-up Saturdays,
 * weekends, year ends and years without a file; and calendar files that
 * must be refused naming their line and key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/calendar.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/refused_file.h"

static struct calendar *
s_shipped(void)
{
    struct calendar *cal = NULL;
    struct config_error err;
    char buf[600];
    int rc = calendar_load(NULL, &cal, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s", buf);
    return cal;
}

/* y-m-d hh:mm in Vietnam's time, as unix ms. */
static int64_t
s_local_ms(int y, int m, int d, int hh, int mm)
{
    return calendar_day_start_ms(calendar_day_of_date(y, m, d)) + ((int64_t)hh * 60 + mm) * 60000;
}

static void
s_date(int64_t day, char out[11])
{
    int y, m, d;
    calendar_date_of_day(day, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

struct count_case {
    const char *what;
    int y, m, d, hh; /* the anchor, local time */
    unsigned n;
    enum deadline_unit unit;
    bool before;
    const char *want; /* from: the period's last day; before: the day the notice must precede */
    bool missing;
};

static const struct count_case s_cases[] = {
    {"10 WD over Tết 2025", 2025, 1, 17, 10, 10, DEADLINE_WORKING_DAYS, false, "2025-02-07", false},
    {"5 WD over Tết 2026", 2026, 2, 12, 10, 5, DEADLINE_WORKING_DAYS, false, "2026-02-26", false},
    {"3 WD over the 2024 bridge ends on the make-up Saturday", 2024, 4, 26, 10, 3,
     DEADLINE_WORKING_DAYS, false, "2024-05-04", false},
    {"make-up Saturday 26/4/2025 counts", 2025, 4, 25, 10, 2, DEADLINE_WORKING_DAYS, false,
     "2025-04-28", false},
    {"1 WD past 30/4-4/5/2025", 2025, 4, 29, 10, 1, DEADLINE_WORKING_DAYS, false, "2025-05-05",
     false},
    {"20 d ending in Tết 2025 moves past it", 2025, 1, 10, 10, 20, DEADLINE_DAYS, false,
     "2025-02-03", false},
    {"10 d ending on Quốc khánh 2025 moves on", 2025, 8, 22, 10, 10, DEADLINE_DAYS, false,
     "2025-09-03", false},
    {"30 d across the year end, ending on a Sunday", 2024, 12, 20, 10, 30, DEADLINE_DAYS, false,
     "2025-01-20", false},
    {"5 WD across the year end and the 2026 New Year swap", 2025, 12, 26, 10, 5,
     DEADLINE_WORKING_DAYS, false, "2026-01-06", false},
    {"make-up Saturday 10/1/2026 counts", 2026, 1, 9, 10, 1, DEADLINE_WORKING_DAYS, false,
     "2026-01-10", false},
    {"2027 has no file: weekends only", 2027, 1, 4, 10, 10, DEADLINE_WORKING_DAYS, false,
     "2027-01-18", true},
    {"2027 has no file: 30/4 still a holiday", 2027, 4, 29, 10, 1, DEADLINE_WORKING_DAYS, false,
     "2027-05-03", true},
    {"days from 2023 end in 2024 on a holiday: only 2024 consulted", 2023, 12, 29, 10, 3,
     DEADLINE_DAYS, false, "2024-01-02", false},
    {"working days walk 2023's weekend: flagged", 2023, 12, 29, 10, 2, DEADLINE_WORKING_DAYS, false,
     "2024-01-03", true},
    {"10 WD over Quốc khánh 2024", 2024, 8, 28, 10, 10, DEADLINE_WORKING_DAYS, false, "2024-09-13",
     false},
    {"15 d ending on 30/4/2026 then 1/5 then a weekend", 2026, 4, 15, 10, 15, DEADLINE_DAYS, false,
     "2026-05-04", false},
    {"the day is Vietnam's: 06:00 ICT is the previous UTC day", 2025, 1, 24, 6, 1,
     DEADLINE_WORKING_DAYS, false, "2025-02-03", false},
    {"5 d landing in Tết 2024's weekend", 2024, 2, 5, 10, 5, DEADLINE_DAYS, false, "2024-02-15",
     false},
    {"Hùng Kings 2026 on a Sunday: Monday off in lieu", 2026, 4, 24, 10, 1, DEADLINE_WORKING_DAYS,
     false, "2026-04-28", false},
    {"2 WD notice before a Thursday", 2025, 5, 8, 9, 2, DEADLINE_WORKING_DAYS, true, "2025-05-06",
     false},
    {"2 WD notice before the Monday after the 2025 bridge", 2025, 5, 5, 9, 2, DEADLINE_WORKING_DAYS,
     true, "2025-04-28", false},
    {"2 WD notice before the Monday after Tết 2026", 2026, 2, 23, 9, 2, DEADLINE_WORKING_DAYS, true,
     "2026-02-12", false},
};

Test(calendar, civil_code_counting)
{
    struct calendar *cal = s_shipped();
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        const struct count_case *c = &s_cases[i];
        bool missing = false;
        int64_t anchor = s_local_ms(c->y, c->m, c->d, c->hh, 0);
        int64_t due = calendar_due(cal, anchor, c->n, c->unit, c->before, &missing);
        char got[11];
        /* A period ends at 24:00 of its last day; a notice must precede 00:00 of its day. */
        int64_t day = c->before ? calendar_day_of_ms(due) : calendar_day_of_ms(due - 1);
        cr_expect_eq(due, calendar_day_start_ms(c->before ? day : day + 1), "%s: not a day edge",
                     c->what);
        s_date(day, got);
        cr_expect_str_eq(got, c->want, "%s", c->what);
        cr_expect_eq(missing, c->missing, "%s: calendar_missing %d", c->what, missing);
    }
    cr_expect_geq(sizeof s_cases / sizeof *s_cases, 20);
    calendar_destroy(&cal);
}

Test(calendar, hours_ignore_the_calendar)
{
    struct calendar *cal = s_shipped();
    bool missing = false;
    /* 24 h from a request on the first day of Tết 2026 ends on the second. */
    int64_t req = s_local_ms(2026, 2, 16, 10, 0);
    cr_expect_eq(calendar_due(cal, req, 24, DEADLINE_HOURS, false, &missing),
                 s_local_ms(2026, 2, 17, 10, 0));
    /* A notice 24 h before a 09:00 start. */
    int64_t start = s_local_ms(2025, 6, 10, 9, 0);
    cr_expect_eq(calendar_due(cal, start, 24, DEADLINE_HOURS, true, &missing),
                 s_local_ms(2025, 6, 9, 9, 0));
    /* In a year without a file too, and without the flag. */
    cr_expect_eq(
        calendar_due(cal, s_local_ms(2031, 1, 1, 0, 0), 2, DEADLINE_HOURS, false, &missing),
        s_local_ms(2031, 1, 1, 2, 0));
    cr_expect_not(missing);
    calendar_destroy(&cal);
}

Test(calendar, shipped_years_name_their_decisions)
{
    struct calendar *cal = s_shipped();
    for (int y = 2024; y <= 2026; y++) {
        cr_assert(calendar_has_year(cal, y), "%d", y);
        cr_expect(strstr(calendar_decision(cal, y), "Art. 112"), "%d", y);
    }
    cr_expect(strstr(calendar_decision(cal, 2025), "8726/VPCP-KGVX"));
    cr_expect_not(calendar_has_year(cal, 2023));
    cr_expect_null(calendar_decision(cal, 2027));
    bool missing = false;
    cr_expect_not(calendar_is_working_day(cal, calendar_day_of_date(2025, 1, 29), &missing));
    cr_expect(calendar_is_working_day(cal, calendar_day_of_date(2025, 4, 26), &missing));
    cr_expect(calendar_is_working_day(cal, calendar_day_of_date(2025, 4, 25), &missing));
    cr_expect_not(missing);
    calendar_destroy(&cal);
}

/* ------------------------------------------------------------------------ */
/* Files. */

static const struct refused_file s_bad[] = {
    {"", 0, "", "no [year YYYY] section"},
    {"[year 2027]\n", 0, "decision", "missing"},
    {"[year 2027]\ndecision =\n", 2, "decision", "empty"},
    {"2027-01-01 = x\n", 1, "2027-01-01", "outside any section"},
    {"[rest]\n", 1, "[rest]", "must come first"},
    {"[year 27]\n", 1, "[year 27]", "unknown section"},
    {"[holidays]\n", 1, "[holidays]", "unknown section"},
    {"[year 2027]\ndecision = d\n[year 2028]\n", 3, "[year 2028]", "one year per file"},
    {"[year 2027]\ndecision = d\nsource = x\n", 3, "source", "unknown key"},
    {"[year 2027]\ndecision = d\n[rest]\n2027-02-30 = x\n", 4, "2027-02-30", "not a date"},
    {"[year 2027]\ndecision = d\n[rest]\n27/1/2027 = x\n", 4, "27/1/2027", "not a date"},
    {"[year 2027]\ndecision = d\n[rest]\n2028-01-03 = x\n", 4, "2028-01-03", "not in 2027"},
    {"[year 2027]\ndecision = d\n[rest]\n2027-02-08 = a\n[work]\n2027-02-08 = b\n", 6, "2027-02-08",
     "listed twice (first on line 4)"},
    {"[year 2027]\ndecision = d\n[work]\n2027-02-08 = a Monday\n", 4, "2027-02-08",
     "already: [work] lists Saturdays and Sundays"},
    {"[year 2027]\ndecision = d\n[rest]\n2027-02-08 = x\n  more\n", 5, "2027-02-08",
     "only decision may continue"},
};

Test(calendar, broken_files_name_line_and_key)
{
    for (size_t i = 0; i < sizeof s_bad / sizeof *s_bad; i++) {
        const struct refused_file *b = &s_bad[i];
        struct calendar *cal = NULL;
        struct config_error err;
        int rc = calendar_load_string(b->text, "2027.ini", &cal, &err);
        refused_file_expect(b, "2027.ini", rc, &err, cal);
    }
}

static void
s_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* An operator's directory adds years and replaces shipped ones. */
Test(calendar, directory_adds_and_replaces_years)
{
    char dir[256];
    cr_assert_eq(harness_mkdtemp(dir, sizeof dir, "calendar"), 0);
    s_write(dir, "2027.ini",
            "[year 2027]\ndecision = Thông báo test\n  continued\n[rest]\n2027-02-08 = Tết\n");
    s_write(dir, "2026.ini",
            "[year 2026]\ndecision = with the adjacent day\n[rest]\n2026-09-01 = adj\n"
            "2026-09-02 = Quốc khánh\n");
    s_write(dir, "README", "not a year");
    struct calendar *cal = NULL;
    struct config_error err;
    char buf[600];
    int rc = calendar_load(dir, &cal, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s", buf);
    cr_expect(calendar_has_year(cal, 2027));
    cr_expect_str_eq(calendar_decision(cal, 2027), "Thông báo test continued");
    cr_expect_str_eq(calendar_decision(cal, 2026), "with the adjacent day");
    bool missing = false;
    /* 1 WD from Monday 31/8/2026: 1 and 2 September are off now. */
    int64_t due = calendar_due(cal, s_local_ms(2026, 8, 31, 10, 0), 1, DEADLINE_WORKING_DAYS, false,
                               &missing);
    char got[11];
    s_date(calendar_day_of_ms(due - 1), got);
    cr_expect_str_eq(got, "2026-09-03");
    /* ... and the replaced 2026 no longer has Tết: the operator's file wins whole. */
    cr_expect(calendar_is_working_day(cal, calendar_day_of_date(2026, 2, 17), &missing));
    cr_expect_not(missing);
    calendar_destroy(&cal);

    /* A file whose [year] differs from its name is refused, naming the path. */
    s_write(dir, "2028.ini", "[year 2029]\ndecision = d\n");
    rc = calendar_load(dir, &cal, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_expect_eq(rc, -EINVAL);
    cr_expect(strstr(err.file, "/2028.ini"), "%s", buf);
    cr_expect_eq(err.line, 1);
    cr_expect(strstr(err.message, "named for 2028"), "%s", buf);
    cr_expect_null(cal);

    harness_rm_rf(dir);
    rc = calendar_load(dir, &cal, &err);
    cr_expect_eq(rc, -ENOENT);
    cr_expect_str_eq(err.key, "broker.calendar_dir");
}
