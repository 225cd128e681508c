/*
 * area_press: press (Art. 3 item 4), Phòng Thông tin - Báo chí - Xuất bản.
 *
 * press.conference_notice: a notice must arrive 24 h before the conference,
 * or 2 working days for a foreign organiser (Luật Báo chí 2016 Art. 41(3),
 * Art. 56(10)); the event's time is when it was received. Late: outcome
 * late_notice.
 * press.bulletin_licence_application: the page size and count limits (Thông
 * tư 41/2020 Art. 18); over them: refused, with the reasons in writing. The
 * decision is due 20 days from the dossier (Luật Báo chí Art. 34), tracked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_conference_notice(struct area_result *r)
{
    char kind[16] = "", when[48], due_text[48];
    area_data_str(r->req, "organiser_kind", kind, sizeof kind);
    const char *rule = strcmp(kind, "foreign") == 0 ? "notice_foreign" : "notice";
    int64_t due;
    if (area_result_deadline(r, rule, -1, &due) < 0)
        return;
    int64_t received = (int64_t)r->req->env->time_ms;
    area_format_time(received, when, sizeof when);
    area_format_time(due, due_text, sizeof due_text);
    if (received > due) {
        area_result_outcome(r, "late_notice");
        area_result_finding(r, "late_notice", catalogue_basis(r->type, rule),
                            "received %s; a %s organiser's notice was due by %s", when, kind,
                            due_text);
    } else {
        area_result_outcome(r, "notice_accepted");
    }
}

/* "19x27", "19 × 27", "19*27" (cm): width and height. */
static bool
s_parse_size(const char *s, double *w, double *h)
{
    char *end;
    *w = strtod(s, &end);
    if (end == s)
        return false;
    while (*end == ' ')
        end++;
    if (strncmp(end, "×", strlen("×")) == 0)
        end += strlen("×");
    else if (*end == 'x' || *end == 'X' || *end == '*')
        end++;
    else
        return false;
    const char *rest = end;
    *h = strtod(rest, &end);
    while (*end == ' ')
        end++;
    return end != rest && *end == '\0' && *w > 0 && *h > 0;
}

static void
s_bulletin(struct area_result *r)
{
    char size[40] = "", max_size[40];
    double w, h, max_w, max_h, max_pages;
    uint64_t pages = 0;
    const char *limit = area_limit(r, "max_size_cm");
    const char *basis = "Thông tư 41/2020/TT-BTTTT Art. 18";
    bool refused = false;

    area_data_str(r->req, "size_cm", size, sizeof size);
    area_data_u64(r->req, "pages", &pages);
    if (limit) {
        snprintf(max_size, sizeof max_size, "%s", limit);
        if (!s_parse_size(max_size, &max_w, &max_h)) {
            area_result_finding(r, "limit_not_set", "", "limit.max_size_cm '%s' is not WxH",
                                max_size);
        } else if (!s_parse_size(size, &w, &h)) {
            refused = true;
            area_result_finding(r, "size_unreadable", basis,
                                "size_cm '%s' is not WIDTHxHEIGHT in cm", size);
        } else if ((w > h ? h : w) > (max_w > max_h ? max_h : max_w) ||
                   (w > h ? w : h) > (max_w > max_h ? max_w : max_h)) {
            refused = true;
            area_result_finding(r, "size_over_limit", basis, "%gx%g cm exceeds %s cm", w, h,
                                max_size);
        }
    }
    if (area_limit_number(r, "max_pages", &max_pages) && (double)pages > max_pages) {
        refused = true;
        area_result_finding(r, "pages_over_limit", basis, "%llu pages, at most %g",
                            (unsigned long long)pages, max_pages);
    }
    area_result_outcome(r, refused ? "refused" : "under_review");
    area_result_deadline(r, "decide", -1, NULL);
}

static const struct area_rules s_rules[] = {
    {"press.conference_notice", s_conference_notice},
    {"press.bulletin_licence_application", s_bulletin},
    {NULL, NULL},
};

int
area_press(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
