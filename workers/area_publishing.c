/*
 * area_publishing: publishing, printing and distribution (Art. 3 item 5),
 * Phòng Thông tin - Báo chí - Xuất bản. Deadlines and limits are the
 * catalogue's; here is which applies when:
 *  - noncommercial_permit: fewer manuscripts than limit.manuscripts makes
 *    the dossier incomplete, to be flagged within 2 WD; else decide 10 WD;
 *  - noncommercial_import: decide 15 days;
 *  - printing licence: decide 15 days, a re-issue 7 WD;
 *  - establishment registration: confirm 3 WD; a change must be filed 5 WD
 *    after it (late: finding);
 *  - colour copier: confirm 5 WD;
 *  - book fair: decide 10 WD; titles on limit.struck_titles are struck
 *    (Luật Xuất bản Art. 10), duplicates noted, dates checked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_noncommercial_permit(struct area_result *r)
{
    uint64_t copies = 0;
    double needed;
    area_data_u64(r->req, "manuscripts", &copies);
    if (area_limit_number(r, "manuscripts", &needed) && (double)copies < needed) {
        area_result_outcome(r, "incomplete_dossier");
        area_result_finding(r, "manuscripts_missing", NULL, "%llu manuscript copies, %g required",
                            (unsigned long long)copies, needed);
        area_result_deadline(r, "incomplete", -1, NULL);
        return;
    }
    area_result_outcome(r, "under_review");
    area_result_deadline(r, "decide", -1, NULL);
}

static void
s_under_review(struct area_result *r)
{
    area_result_outcome(r, "under_review");
    area_result_deadline(r, "decide", -1, NULL);
}

static void
s_printing_licence(struct area_result *r)
{
    bool reissue = false;
    area_data_bool(r->req, "reissue", &reissue);
    area_result_outcome(r, "under_review");
    area_result_deadline(r, reissue ? "reissue" : "decide", -1, NULL);
}

static void
s_establishment(struct area_result *r)
{
    char change[16] = "", when[48], due_text[48];
    int64_t due;
    area_data_str(r->req, "change_type", change, sizeof change);
    area_result_outcome(r, "registration_received");
    area_result_deadline(r, "confirm", -1, NULL);
    if (strcmp(change, "change") != 0)
        return;
    int rc = area_result_deadline(r, "change_filing", -1, &due);
    if (rc == -ENODATA) {
        area_result_finding(r, "change_date_missing", NULL,
                            "a change without changed_on: the 5 WD filing limit cannot be checked");
    } else if (rc == 0 && (int64_t)r->req->env->time_ms > due) {
        area_format_time((int64_t)r->req->env->time_ms, when, sizeof when);
        area_format_time(due, due_text, sizeof due_text);
        area_result_outcome(r, "late_filing");
        area_result_finding(r, "late_filing", NULL, "filed %s; the change was to be filed by %s",
                            when, due_text);
    }
}

static void
s_copier(struct area_result *r)
{
    area_result_outcome(r, "registration_received");
    area_result_deadline(r, "confirm", -1, NULL);
}

/* Whether title is one of the '|'-separated struck titles. */
static bool
s_struck(const char *list, const char *title, size_t len)
{
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n == len && strncasecmp(p, title, len) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static void
s_book_fair(struct area_result *r)
{
    const msgpack_object *titles = area_data(r->req, "titles");
    const char *struck = r->type ? catalogue_limit(r->type, "struck_titles") : NULL;
    int64_t start = 0, end = 0, due = 0;
    uint32_t nstruck = 0;
    bool refused = false;

    if (area_data_date_ms(r->req, "start_date", &start) &&
        area_data_date_ms(r->req, "end_date", &end) && end < start) {
        refused = true;
        area_result_finding(r, "dates_reversed", NULL, "end_date is before start_date");
    }
    msgpack_packer *pk = area_result_extra(r, "struck_titles");
    uint32_t n = titles && titles->type == MSGPACK_OBJECT_ARRAY ? titles->via.array.size : 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *t = &titles->via.array.ptr[i];
        if (struck && *struck && s_struck(struck, t->via.str.ptr, t->via.str.size))
            nstruck++;
    }
    msgpack_pack_array(pk, nstruck);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *t = &titles->via.array.ptr[i];
        if (struck && *struck && s_struck(struck, t->via.str.ptr, t->via.str.size)) {
            pack_strn(pk, t->via.str.ptr, t->via.str.size);
            area_result_finding(r, "title_struck", "Luật Xuất bản 2012 Art. 10",
                                "\"%.*s\" may not be shown", (int)t->via.str.size, t->via.str.ptr);
        }
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *u = &titles->via.array.ptr[j];
            if (u->via.str.size == t->via.str.size &&
                memcmp(u->via.str.ptr, t->via.str.ptr, t->via.str.size) == 0) {
                area_result_finding(r, "title_repeated", "", "\"%.*s\" is listed twice",
                                    (int)t->via.str.size, t->via.str.ptr);
                break;
            }
        }
    }
    area_result_outcome(r, refused ? "refused" : nstruck ? "titles_struck" : "under_review");
    if (area_result_deadline(r, "decide", -1, &due) == 0 && start && start < due)
        area_result_finding(r, "starts_before_decision_due", "",
                            "the fair starts before the decision is due: decide early");
}

static const struct area_rules s_rules[] = {
    {"publishing.noncommercial_permit", s_noncommercial_permit},
    {"publishing.noncommercial_import", s_under_review},
    {"printing.licence_application", s_printing_licence},
    {"printing.establishment_registration", s_establishment},
    {"printing.color_copier_registration", s_copier},
    {"publishing.book_fair_permit", s_book_fair},
    {NULL, NULL},
};

int
area_publishing(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
