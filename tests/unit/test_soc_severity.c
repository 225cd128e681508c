/*
 * test_soc_severity: DOMAIN.md's severity table, every row and both sides
 * of every boundary, for each feed, bare and in the feed's own object; and
 * values that cannot be read.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "proto/pack.h"
#include "tools/json_msgpack.h"
#include "workers/soc_severity.h"

#define STIX_LABELS "critical:P1 high:P2 medium:P3 low:P4"

struct sev_case {
    const char *format;
    const char *raw; /* JSON */
    int want;        /* 0: unreadable */
};

static const struct sev_case s_cases[] = {
    {"ocsf", "6", 1},
    {"ocsf", "5", 1},
    {"ocsf", "4", 2},
    {"ocsf", "3", 3},
    {"ocsf", "2", 4},
    {"ocsf", "99", 4},
    {"ocsf", "{\"severity_id\": 5, \"class_uid\": 2004}", 1},
    {"ocsf", "\"4\"", 2},
    {"ocsf", "\"High\"", 0},
    {"cef", "10", 1},
    {"cef", "9", 1},
    {"cef", "8", 2},
    {"cef", "7", 2},
    {"cef", "6", 3},
    {"cef", "4", 3},
    {"cef", "3", 4},
    {"cef", "0", 4},
    {"cef", "11", 0},
    {"cef", "\"Very-High\"", 1},
    {"cef", "\"high\"", 2},
    {"cef", "\"Medium\"", 3},
    {"cef", "\"Low\"", 4},
    {"cef", "{\"severity\": \"8\"}", 2},
    {"cef", "\"urgent\"", 0},
    {"wazuh", "15", 1},
    {"wazuh", "12", 1},
    {"wazuh", "11", 2},
    {"wazuh", "10", 2},
    {"wazuh", "9", 3},
    {"wazuh", "7", 3},
    {"wazuh", "6", 4},
    {"wazuh", "0", 4},
    {"wazuh", "{\"rule\": {\"level\": 12, \"id\": \"5712\"}}", 1},
    {"wazuh", "{\"level\": 10}", 2},
    {"wazuh", "[12]", 0},
    {"misp", "1", 2},
    {"misp", "2", 3},
    {"misp", "3", 4},
    {"misp", "4", 4},
    {"misp", "\"1\"", 2},
    {"misp", "{\"threat_level_id\": \"2\"}", 3},
    {"misp", "0", 0},
    {"misp", "5", 0},
    {"stix", "\"critical\"", 1},
    {"stix", "\"High\"", 2},
    {"stix", "{\"x_severity\": \"medium\", \"type\": \"indicator\"}", 3},
    {"stix", "\"low\"", 4},
    {"stix", "\"severe\"", 0},
    {"stix", "7", 0},
    {"syslog", "3", 0},
};

Test(soc_severity, the_table_of_domain_md)
{
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        const struct sev_case *c = &s_cases[i];
        json_error_t jerr;
        json_t *j = json_loads(c->raw, JSON_DECODE_ANY, &jerr);
        cr_assert_not_null(j, "%s", c->raw);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
        char err[64], why[160] = "";
        cr_assert_eq(json_msgpack_pack(&pk, j, 8, err, sizeof err), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
        int p = soc_priority(c->format, &u.data, STIX_LABELS, why, sizeof why);
        cr_expect_eq(p, c->want, "%s %s: P%d, want P%d (%s)", c->format, c->raw, p, c->want, why);
        if (!c->want)
            cr_expect(why[0], "%s %s: no reason given", c->format, c->raw);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        json_decref(j);
    }
}
