/*
 * test_asset_registry: the shipped example loads and answers lookups; a
 * broken registry file is refused naming its line and key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/support/refused_file.h"
#include "config/asset_registry.h"

Test(asset_registry, shipped_example)
{
    struct asset_registry *reg = NULL;
    struct config_error err;
    cr_assert_eq(asset_registry_load(NULL, &reg, &err), 0, "%s", err.message);
    cr_assert_geq(reg->nassets, 5);
    const struct asset *a = asset_registry_find(reg, "cong-dich-vu-cong");
    cr_assert_not_null(a);
    cr_expect_eq(a->system_level, 4);
    cr_expect_not(a->owner_copes);
    cr_expect_not(a->critical);
    a = asset_registry_find(reg, "lgsp");
    cr_assert_not_null(a);
    cr_expect(a->critical && a->owner_copes);
    cr_expect_eq(asset_registry_find(reg, "web-01")->system_level, 2);
    cr_expect_null(asset_registry_find(reg, "nope"));
    cr_expect_null(asset_registry_find(NULL, "lgsp"));
    asset_registry_destroy(&reg);
    cr_expect_null(reg);
    asset_registry_destroy(&reg);
}

#define FULL "title = t\nsystem_level = 3\ncritical = no\nowner = o\nowner_copes = yes\n"

static const struct refused_file s_bad[] = {
    {"title = t\n", 1, "title", "outside any section"},
    {"[system a]\n", 1, "[system a]", "unknown section"},
    {"[asset]\n", 1, "[asset]", "unknown section"},
    {"[asset a]\n" FULL "[asset a]\n", 7, "[asset a]", "duplicate asset (first on line 1)"},
    {"[asset a]\ncolour = red\n", 2, "asset.a.colour", "unknown key"},
    {"[asset a]\nsystem_level = 6\n", 2, "asset.a.system_level", "not a level 1..5"},
    {"[asset a]\nsystem_level = four\n", 2, "asset.a.system_level", "not a level 1..5"},
    {"[asset a]\ncritical = maybe\n", 2, "asset.a.critical", "yes or no"},
    {"[asset a]\nowner_copes = 1\n", 2, "asset.a.owner_copes", "yes or no"},
    {"[asset a]\ntitle = t\ntitle = u\n", 3, "asset.a.title",
     "duplicate key (first set on line 2)"},
    {"[asset a]\ntitle = t\n  more\n", 3, "asset.a.title", "one line"},
    {"[asset a]\ntitle = t\nsystem_level = 3\ncritical = no\nowner = o\n", 1, "[asset a]",
     "owner_copes is missing"},
};

Test(asset_registry, broken_files_name_line_and_key)
{
    for (size_t i = 0; i < sizeof s_bad / sizeof *s_bad; i++) {
        const struct refused_file *b = &s_bad[i];
        struct asset_registry *reg = NULL;
        struct config_error err;
        int rc = asset_registry_load_string(b->text, "assets.ini", &reg, &err);
        refused_file_expect(b, "assets.ini", rc, &err, reg);
    }
}

Test(asset_registry, missing_file_names_it)
{
    struct asset_registry *reg = NULL;
    struct config_error err;
    cr_expect_eq(asset_registry_load("/nonexistent/assets.ini", &reg, &err), -ENOENT);
    cr_expect_str_eq(err.file, "/nonexistent/assets.ini");
    cr_expect_null(reg);
}
