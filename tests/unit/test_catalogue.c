/*
 * test_catalogue: the type catalogue as data. The shipped catalogue must
 * load and cover DOMAIN.md; every type's sample data must pass and every
 * required field, left out, must be named; a broken catalogue file must be
 * refused naming its line and key; and the data check must name the field
 * and the rule for each way data can be wrong.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config/catalogue.h"
#include "config/config.h"
#include "config/embedded.h"
#include "proto/pack.h"
#include "tests/support/refused_file.h"
#include "tests/support/sample_data.h"
#include "tools/json_msgpack.h"

static struct catalogue *
s_shipped(void)
{
    struct catalogue *cat = NULL;
    struct config_error err;
    char buf[600];
    int rc = catalogue_load_embedded(&cat, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s", buf);
    return cat;
}

/* Unpacks packed msgpack into *u (to destroy) and returns the object. */
static const msgpack_object *
s_unpack(msgpack_unpacked *u, const msgpack_sbuffer *sb)
{
    msgpack_unpacked_init(u);
    cr_assert_eq(msgpack_unpack_next(u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    return &u->data;
}

/* Checks JSON data against a type; returns the rc, the reason in reason. */
static int
s_check_json(const struct catalogue_type *t, const char *json, char *reason, size_t size)
{
    /* Route through the sample packer's JSON path with a throwaway type. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    cr_assert_not_null(j, "bad test JSON: %s", jerr.text);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    char err[128];
    cr_assert_eq(json_msgpack_pack(&pk, j, 16, err, sizeof err), 0, "%s", err);
    json_decref(j);
    msgpack_unpacked u;
    int rc = catalogue_check_data(t, s_unpack(&u, &sb), reason, size);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Routing of every DOMAIN.md type is test_config's routes_the_catalogue. */
Test(catalogue, shipped_loads_with_basis_and_area)
{
    struct catalogue *cat = s_shipped();
    cr_expect_geq(cat->ntypes, 24);
    for (size_t i = 0; i < cat->ntypes; i++) {
        const struct catalogue_type *t = &cat->types[i];
        cr_expect(t->basis[0], "%s has no basis", t->name);
        /* Only what goes where its case is has no area. */
        bool by_corr = strncmp(t->name, "deadline.", 9) == 0 || !strcmp(t->name, "case.decision");
        cr_expect_eq(t->area == NULL, by_corr, "%s", t->name);
        if (i)
            cr_expect_lt(strcmp(cat->types[i - 1].name, t->name), 0, "not sorted");
    }
    cr_expect(catalogue_type(cat, "cyber.serious_incident_escalation")->internal);
    cr_expect_not(catalogue_type(cat, "cyber.soc_alert")->internal);
    cr_expect_null(catalogue_type(cat, "press.no_such"));
    catalogue_destroy(&cat);
    cr_assert_null(cat);
    catalogue_destroy(&cat); /* safe twice */
}

Test(catalogue, versions_side_by_side)
{
    struct catalogue *cat = s_shipped();
    const struct catalogue_type *v1 = catalogue_type(cat, "press.conference_notice");
    const struct catalogue_type *v2 = catalogue_type(cat, "press.conference_notice.v2");
    cr_assert(v1 && v2);
    cr_expect_eq(v1->version, 1);
    cr_expect_eq(v2->version, 2);
    cr_expect_str_eq(v2->base, "press.conference_notice");
    cr_expect_str_eq(v1->base, "press.conference_notice");
    /* v1's invitees is a string, v2's a list: each accepts only its own. */
    char reason[300];
    cr_expect_eq(
        s_check_json(v2,
                     "{\"organiser\":\"E\",\"organiser_kind\":\"foreign\",\"chair\":\"c\","
                     "\"purpose\":\"p\",\"content\":\"c\",\"start_time\":1,\"venue\":\"v\","
                     "\"invitees\":\"one string\"}",
                     reason, sizeof reason),
        -EINVAL);
    cr_expect(strstr(reason, "'data.invitees': expected an array of str, got str"), "%s", reason);
    catalogue_destroy(&cat);
}

/* Every publishable type has a sample; it passes; each required field, left
 * out, is named. */
Test(catalogue, every_type_valid_and_each_required_field_missing)
{
    struct catalogue *cat = s_shipped();
    size_t samples = 0;
    for (size_t i = 0; i < cat->ntypes; i++) {
        const struct catalogue_type *t = &cat->types[i];
        if (t->internal)
            continue;
        cr_assert_not_null(sample_data_json(t->name), "no sample for %s", t->name);
        samples++;
        char reason[300] = "";
        msgpack_sbuffer sb;
        msgpack_unpacked u;
        msgpack_sbuffer_init(&sb);
        cr_assert_eq(sample_data_pack(t->name, NULL, -1, &sb), 0);
        cr_expect_eq(catalogue_check_data(t, s_unpack(&u, &sb), reason, sizeof reason), 0, "%s: %s",
                     t->name, reason);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);

        for (size_t f = 0; f < t->nfields; f++) {
            const struct catalogue_field *fd = &t->fields[f];
            if (!fd->required)
                continue;
            msgpack_sbuffer_init(&sb);
            cr_assert_eq(sample_data_pack(t->name, fd->name, -1, &sb), 0);
            cr_expect_eq(catalogue_check_data(t, s_unpack(&u, &sb), reason, sizeof reason), -EINVAL,
                         "%s without %s passed", t->name, fd->name);
            char want[200];
            snprintf(want, sizeof want, "field 'data.%s': missing (required by %s)", fd->name,
                     t->name);
            cr_expect_str_eq(reason, want);
            msgpack_unpacked_destroy(&u);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    cr_expect_geq(samples, 24);
    catalogue_destroy(&cat);
}

/* The shipped config routes each catalogue type to its area and unit. */
Test(catalogue, shipped_config_routes_types_to_area_and_unit)
{
    struct mandated_config *cfg = NULL;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &cfg, NULL), 0);
    const struct area_conf *a = config_area_for_type(cfg, "press.conference_notice.v2");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->name, "press");
    cr_expect_str_eq(a->unit, "Phòng Thông tin - Báo chí - Xuất bản");
    a = config_area_for_type(cfg, "inspection.denunciation_received");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->unit, "Thanh tra Sở");
    a = config_area_for_type(cfg, "dx.edoc_received");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->name, "digital");
    cr_expect_str_eq(a->unit, "Phòng Công nghệ thông tin");
    /* case.decision goes where its case is: no area of its own. */
    cr_expect_null(config_area_for_type(cfg, "case.decision"));
    cr_expect_not_null(config_type(cfg, "case.decision"));
    cr_expect_null(config_area_for_type(cfg, "press.no_such"));
    config_destroy(&cfg);
}

/* An area's types glob routes a catalogue type over the catalogue's area. */
Test(catalogue, area_glob_overrides_the_catalogue)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    char buf[600];
    int rc = config_load_string("[area press]\nunit = P\n[area inspection]\nunit = T\n"
                                "types = press.bulletin_*\n",
                                "t.conf", &cfg, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s", buf);
    cr_expect_str_eq(config_area_for_type(cfg, "press.bulletin_licence_application")->name,
                     "inspection");
    cr_expect_str_eq(config_area_for_type(cfg, "press.conference_notice")->name, "press");
    /* Its area is not configured here: unknown to this broker. */
    cr_expect_null(config_area_for_type(cfg, "cyber.soc_alert"));
    config_destroy(&cfg);
}

Test(catalogue, config_names_a_missing_catalogue_file)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    int rc = config_load_string("[broker]\ncatalogue = /nonexistent/cat.ini\n[area a]\n", "t.conf",
                                &cfg, &err);
    cr_expect_eq(rc, -ENOENT);
    cr_expect_null(cfg);
    cr_expect_str_eq(err.file, "/nonexistent/cat.ini");
    cr_expect(strstr(err.message, "cannot open"), "%s", err.message);
}

/* ------------------------------------------------------------------------ */
/* Broken catalogue files: each refused with its line and key. */

static const struct refused_file s_bad_files[] = {
    {"area = x\n", 1, "area", "outside any section"},
    {"[kind a.b]\n", 1, "[kind a.b]", "unknown section"},
    {"[type Press.X]\n", 1, "[type Press.X]", "bad type name"},
    {"[type nodot]\n", 1, "[type nodot]", "bad type name"},
    {"[type a.b]\n[type a.b]\n", 2, "[type a.b]", "duplicate type (first on line 1)"},
    {"[type a.b.v1]\n", 1, "[type a.b.v1]", "version 1 is the bare name"},
    {"[type a.b.v3]\narea = a\n", 1, "[type a.b.v3]", "does not have"},
    {"[type a.b]\ncolour = red\n", 2, "type.a.b.colour", "unknown key"},
    {"[type a.b]\narea = A-B\n", 2, "type.a.b.area", "bad area name"},
    {"[type a.b]\narea = a\narea = b\n", 3, "type.a.b.area", "duplicate key"},
    {"[type a.b]\ninternal = maybe\n", 2, "type.a.b.internal", "yes or no"},
    {"[type a.b]\nfield.x = blob\n", 2, "type.a.b.field.x", "unknown kind 'blob'"},
    {"[type a.b]\nfield.x =\n", 2, "type.a.b.field.x", "empty"},
    {"[type a.b]\nfield.X = str\n", 2, "type.a.b.field.X", "bad field name"},
    {"[type a.b]\nfield.x = str\nfield.x = uint\n", 3, "type.a.b.field.x", "duplicate field"},
    {"[type a.b]\nfield.x = bool max=3\n", 2, "type.a.b.field.x", "only str and numbers"},
    {"[type a.b]\nfield.x = str max=ten\n", 2, "type.a.b.field.x", "not a number"},
    {"[type a.b]\nfield.x = uint min=5 max=1\n", 2, "type.a.b.field.x", "above max"},
    {"[type a.b]\nfield.x = uint one_of=1|2\n", 2, "type.a.b.field.x", "str fields only"},
    {"[type a.b]\nfield.x = str one_of=\n", 2, "type.a.b.field.x", "lists no value"},
    {"[type a.b]\nfield.x = str items=1..2\n", 2, "type.a.b.field.x", "arrays only"},
    {"[type a.b]\nfield.x = str[] items=5..2\n", 2, "type.a.b.field.x", "items=MIN..MAX"},
    {"[type a.b]\nfield.x = str mandatory\n", 2, "type.a.b.field.x", "unknown word"},
    {"[type a.b]\ndeadline.d = soon\n", 2, "type.a.b.deadline.d", "expected 'N hours"},
    {"[type a.b]\ndeadline.d = 3 weeks from received\n", 2, "type.a.b.deadline.d",
     "unknown unit 'weeks'"},
    {"[type a.b]\ndeadline.d = 3 days after received\n", 2, "type.a.b.deadline.d",
     "'from' or 'before'"},
    {"[type a.b]\ndeadline.d = 0 days from received\n", 2, "type.a.b.deadline.d", "expected"},
    {"[type a.b]\ndeadline.d = 3 days from x\n", 2, "type.a.b.deadline.d",
     "not a time or date field"},
    {"[type a.b]\nfield.x = str\ndeadline.d = 3 days from x\n", 3, "type.a.b.deadline.d",
     "not a time or date field"},
    {"[type a.b]\ndeadline.d = 3 days from received track\n", 2, "type.a.b.deadline.d",
     "needs closed_by"},
    {"[type a.b]\ndeadline.d = 3 days from received track closed_by=a.zz\n", 2,
     "type.a.b.deadline.d", "closed_by names 'a.zz'"},
    {"[type a.b]\nfield.t = time\ndeadline.d = 3 days before t track closed_by=a.b\n", 3,
     "type.a.b.deadline.d", "checked on arrival"},
    {"[type a.b]\ndeadline.d = open\n", 2, "type.a.b.deadline.d", "needs track and closed_by"},
    {"[type a.b]\ndeadline.d = none\ndeadline.d = none\n", 3, "type.a.b.deadline.d",
     "duplicate deadline"},
    {"[type a.b]\nlimit.x = 1\nlimit.x = 2\n", 3, "type.a.b.limit.x", "duplicate key"},
    {"[type a.b]\nfield.x = str\n  continued\n", 3, "type.a.b.field.x", "only title, basis"},
    {"[type a.b]\nfield.x str\n", 2, "", "syntax error"},
};

Test(catalogue, broken_files_name_line_and_key)
{
    for (size_t i = 0; i < sizeof s_bad_files / sizeof *s_bad_files; i++) {
        const struct refused_file *b = &s_bad_files[i];
        struct catalogue *cat = NULL;
        struct config_error err;
        int rc = catalogue_load_string(b->text, "cat.ini", &cat, &err);
        refused_file_expect(b, "cat.ini", rc, &err, cat);
        catalogue_destroy(&cat);
    }
}

Test(catalogue, a_good_file_parses_whole)
{
    struct catalogue *cat = NULL;
    struct config_error err;
    char buf[600];
    const char *text = "[type z.last]\narea = z\n"
                       "[type a.first]\narea = a\ntitle = First\n  and more\n"
                       "basis = Law 1\nbasis.d = Law 2 Art. 3\nlimit.max = 64\n"
                       "field.when = time\nfield.tags = str[] optional items=0..3\n"
                       "deadline.d = 10 working_days from when track closed_by=z.last|a.first\n"
                       "deadline.n = none\n"
                       "[type a.first.v2]\narea = a\n";
    int rc = catalogue_load_string(text, "cat.ini", &cat, &err);
    config_error_format(&err, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s", buf);
    cr_assert_eq(cat->ntypes, 3);
    cr_expect_str_eq(cat->types[0].name, "a.first"); /* sorted */
    const struct catalogue_type *t = catalogue_type(cat, "a.first");
    cr_expect_str_eq(t->title, "First and more");
    cr_expect_str_eq(catalogue_basis(t, "d"), "Law 2 Art. 3");
    cr_expect_str_eq(catalogue_basis(t, "other"), "Law 1");
    cr_expect_str_eq(catalogue_limit(t, "max"), "64");
    cr_expect_null(catalogue_limit(t, "min"));
    const struct catalogue_deadline *d = catalogue_deadline(t, "d");
    cr_assert_not_null(d);
    cr_expect_eq(d->form, DEADLINE_PERIOD);
    cr_expect_eq(d->n, 10);
    cr_expect_eq(d->unit, DEADLINE_WORKING_DAYS);
    cr_expect_str_eq(d->anchor, "when");
    cr_expect_eq(d->anchor_kind, ANCHOR_TIME, "resolved at load");
    cr_expect(d->track);
    cr_expect_eq(d->nclosed_by, 2);
    cr_expect_str_eq(d->rule, "10 working_days from when track closed_by=z.last|a.first");
    cr_expect_eq(catalogue_deadline(t, "n")->form, DEADLINE_NONE);
    const struct catalogue_field *fd = catalogue_field(t, "tags");
    cr_expect(fd->array && !fd->required && fd->max_items == 3);
    catalogue_destroy(&cat);
}

/* ------------------------------------------------------------------------ */
/* The data check. */

static const char *const s_type_text = "[type t.x]\narea = t\n"
                                       "field.s = str max=3\n"
                                       "field.k = str one_of=a|bb\n"
                                       "field.n = number min=-1.5 max=2\n"
                                       "field.u = uint optional max=10\n"
                                       "field.d = date optional\n"
                                       "field.l = str[] optional items=1..2\n"
                                       "field.b = bool optional\n"
                                       "field.m = map optional\n"
                                       "field.t = time optional\n";

struct data_case {
    const char *json;
    const char *reason; /* NULL: valid */
};

static const struct data_case s_data_cases[] = {
    {"{\"s\":\"abc\",\"k\":\"a\",\"n\":2}", NULL},
    {"{\"s\":\"ằẵẳ\",\"k\":\"bb\",\"n\":-1.5,\"extra\":[1,{}]}", NULL}, /* characters, not bytes */
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"u\":null,\"d\":null}", NULL},  /* null = absent */
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"d\":\"2024-02-29\",\"l\":[\"x\"],\"b\":true,\"m\":{},"
     "\"t\":1}",
     NULL},
    {"[]", "field 'data': expected a map, got array (t.x)"},
    {"{\"k\":\"a\",\"n\":0}", "field 'data.s': missing (required by t.x)"},
    {"{\"s\":null,\"k\":\"a\",\"n\":0}", "field 'data.s': expected str, got nil (t.x)"},
    {"{\"s\":\"abcd\",\"k\":\"a\",\"n\":0}", "field 'data.s': 4 characters, at most 3 (t.x)"},
    {"{\"s\":1,\"k\":\"a\",\"n\":0}", "field 'data.s': expected str, got uint (t.x)"},
    {"{\"s\":\"a\",\"k\":\"c\",\"n\":0}", "field 'data.k': \"c\" is not one of a|bb (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":3}", "field 'data.n': 3 is above the maximum 2 (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":-2}", "field 'data.n': -2 is below the minimum -1.5 (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":\"1\"}", "field 'data.n': expected number, got str (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"u\":-1}",
     "field 'data.u': expected uint, got negative int (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"u\":11}",
     "field 'data.u': 11 is above the maximum 10 (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"d\":\"2023-02-29\"}",
     "field 'data.d': \"2023-02-29\" is not a date \"YYYY-MM-DD\" (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"d\":\"28/02/2023\"}",
     "field 'data.d': \"28/02/2023\" is not a date \"YYYY-MM-DD\" (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"l\":[]}", "field 'data.l': 0 items, expected 1..2 (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"l\":\"x\"}",
     "field 'data.l': expected an array of str, got str (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"l\":[\"x\",2]}",
     "field 'data.l[1]': expected str, got uint (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"b\":\"yes\"}",
     "field 'data.b': expected bool, got str (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"m\":[]}", "field 'data.m': expected map, got array (t.x)"},
    {"{\"s\":\"a\",\"k\":\"a\",\"n\":0,\"t\":1.5}",
     "field 'data.t': expected time (uint, ms since the Unix epoch), got float (t.x)"},
};

Test(catalogue, data_check_names_field_and_rule)
{
    struct catalogue *cat = NULL;
    cr_assert_eq(catalogue_load_string(s_type_text, "t.ini", &cat, NULL), 0);
    const struct catalogue_type *t = catalogue_type(cat, "t.x");
    for (size_t i = 0; i < sizeof s_data_cases / sizeof *s_data_cases; i++) {
        const struct data_case *c = &s_data_cases[i];
        char reason[300] = "";
        int rc = s_check_json(t, c->json, reason, sizeof reason);
        if (!c->reason) {
            cr_expect_eq(rc, 0, "%s refused: %s", c->json, reason);
        } else {
            cr_expect_eq(rc, -EINVAL, "%s accepted", c->json);
            cr_expect_str_eq(reason, c->reason, "%s", c->json);
        }
    }
    catalogue_destroy(&cat);
}

/* A key given twice in data (msgpack allows it; JSON parsers keep one). */
Test(catalogue, duplicate_data_key_refused)
{
    struct catalogue *cat = NULL;
    cr_assert_eq(catalogue_load_string(s_type_text, "t.ini", &cat, NULL), 0);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "s");
    pack_cstr(&pk, "a");
    pack_cstr(&pk, "k");
    pack_cstr(&pk, "a");
    pack_cstr(&pk, "n");
    msgpack_pack_int(&pk, 1);
    pack_cstr(&pk, "s");
    pack_cstr(&pk, "b");
    msgpack_unpacked u;
    char reason[300];
    cr_expect_eq(
        catalogue_check_data(catalogue_type(cat, "t.x"), s_unpack(&u, &sb), reason, sizeof reason),
        -EINVAL);
    cr_expect_str_eq(reason, "field 'data.s': given twice (t.x)");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    catalogue_destroy(&cat);
}
