/*
 * area_einfo: electronic information (Art. 3 item 8), Phòng Thông tin - Báo
 * chí - Xuất bản. A general website licence is decided in 10 WD. A public
 * game point must lie limit.min_school_distance_m from schools and have the
 * room area limit.min_room_area_m2 gives for its urban class (the strictest
 * if the class is not given); its certificate lasts limit.valid_years.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_website(struct area_result *r)
{
    area_result_outcome(r, "under_review");
    area_result_deadline(r, "decide", -1, NULL);
}

/* The minimum room area for class in "special:50 I:50 II:40 ...": 0 if the
 * list does not name it; the largest of all if class is empty. */

/* The minimum room area for class in "special:50 I:50 II:40 ...": 0 if the
 * list does not name it; the largest of all if class is empty. */
static double
s_room_minimum(const char *list, const char *class)
{
    double best = 0;
    char word[32];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " \t");
        if (n && n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
            char *colon = strchr(word, ':');
            if (colon) {
                *colon = '\0';
                double v = strtod(colon + 1, NULL);
                if (!*class && v > best)
                    best = v;
                else if (*class && strcmp(word, class) == 0)
                    return v;
            }
        }
        p += n;
        p += strspn(p, " \t");
    }
    return best;
}

static void
s_game_point(struct area_result *r)
{
    const char *basis = "Nghị định 72/2013/NĐ-CP Art. 35, as amended by 27/2018/NĐ-CP";
    double distance = 0, area = 0, min_distance, years;
    char class[16] = "";
    bool refused = false;

    area_data_number(r->req, "school_distance_m", &distance);
    area_data_number(r->req, "room_area_m2", &area);
    area_data_str(r->req, "urban_class", class, sizeof class);
    if (area_limit_number(r, "min_school_distance_m", &min_distance) && distance < min_distance) {
        refused = true;
        area_result_finding(r, "too_close_to_school", basis, "%g m from a school, at least %g m",
                            distance, min_distance);
    }
    const char *rooms = area_limit(r, "min_room_area_m2");
    if (rooms) {
        double min_area = s_room_minimum(rooms, class);
        if (!*class)
            area_result_finding(r, "urban_class_missing", basis,
                                "no urban_class: the strictest minimum, %g m2, applies", min_area);
        if (min_area <= 0)
            area_result_finding(r, "limit_not_set", "",
                                "limit.min_room_area_m2 names no area for class '%s'", class);
        else if (area < min_area) {
            refused = true;
            area_result_finding(r, "room_too_small", basis, "%g m2 of rooms, at least %g m2", area,
                                min_area);
        }
    }
    area_result_outcome(r, refused ? "refused" : "under_review");
    area_result_deadline(r, "decide", -1, NULL);
    if (!refused && area_limit_number(r, "valid_years", &years))
        msgpack_pack_double(area_result_extra(r, "valid_years"), years);
}

static const struct area_rules s_rules[] = {
    {"einfo.general_website_licence", s_website},
    {"einfo.game_point_certificate", s_game_point},
    {NULL, NULL},
};

int
area_einfo(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
