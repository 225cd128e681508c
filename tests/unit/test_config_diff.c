/*
 * test_config_diff: what a reload reports and what it keeps back. Each
 * field of the `reloaded` record is made to change on its own and read
 * back from the msgpack config_diff_pack() wrote; the same config twice
 * reports nothing and packs nothing; restart-only keys keep their running
 * values, the server's key pair included.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_diff.h"
#include "config/embedded.h"
#include "tests/support/daemon_harness.h"

static char s_dir[256];

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "config-diff"), 0);
}

static void
s_teardown(void)
{
    harness_rm_rf(s_dir);
}

TestSuite(config_diff, .init = s_setup, .fini = s_teardown);

/* ------------------------------------------------------------------------ */
/* Helpers. */

static void
s_path(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", s_dir, rel);
}

static void
s_write(const char *rel, const char *text)
{
    char path[512];
    s_path(path, sizeof path, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void
s_mkdir(const char *rel)
{
    char path[512];
    s_path(path, sizeof path, rel);
    cr_assert_eq(mkdir(path, 0700), 0, "%s: %s", path, strerror(errno));
}

static void
s_remove(const char *rel)
{
    char path[512];
    s_path(path, sizeof path, rel);
    cr_assert_eq(unlink(path), 0, "%s: %s", path, strerror(errno));
}

/* A key pair NAME.key, NAME.key_secret under the folder rel. */
static void
s_keygen(const char *rel, const char *name)
{
    char dir[512];
    struct config_error err;
    s_path(dir, sizeof dir, rel);
    cr_assert_eq(curve_cert_generate(dir, name, NULL, &err), 0, "%s", err.message);
}

/* A config from text in which every "@" stands for the temporary folder. */
static struct mandated_config *
s_load(const char *text, bool keys)
{
    char buf[4096];
    size_t n = 0;
    for (const char *c = text; *c; c++) {
        int w = *c == '@' ? snprintf(buf + n, sizeof buf - n, "%s", s_dir)
                          : snprintf(buf + n, sizeof buf - n, "%c", *c);
        cr_assert(w > 0 && (size_t)w < sizeof buf - n, "config text too long");
        n += (size_t)w;
    }
    struct mandated_config *cfg = NULL;
    struct config_error err;
    char msg[700] = "";
    int rc = config_load_string(buf, "test.conf", &cfg, &err);
    if (rc < 0)
        config_error_format(&err, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    if (keys) {
        rc = config_load_keys(cfg, &err);
        if (rc < 0)
            config_error_format(&err, msg, sizeof msg);
        cr_assert_eq(rc, 0, "%s", msg);
    }
    return cfg;
}

/* The record's map as config_diff_pack() fills it, unpacked. */
struct packed {
    msgpack_sbuffer body, whole;
    msgpack_unpacked u;
    unsigned pairs;
};

static void
s_pack(const struct config_diff *d, struct packed *p)
{
    msgpack_sbuffer_init(&p->body);
    msgpack_sbuffer_init(&p->whole);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p->body, msgpack_sbuffer_write);
    p->pairs = config_diff_pack(d, &pk);
    msgpack_packer_init(&pk, &p->whole, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, p->pairs);
    msgpack_sbuffer_write(&p->whole, p->body.data, p->body.size);

    msgpack_unpacked_init(&p->u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&p->u, p->whole.data, p->whole.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, p->whole.size, "nothing after the map");
    cr_assert_eq(p->u.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(p->u.data.via.map.size, p->pairs);
}

static void
s_packed_free(struct packed *p)
{
    msgpack_unpacked_destroy(&p->u);
    msgpack_sbuffer_destroy(&p->body);
    msgpack_sbuffer_destroy(&p->whole);
}

static const msgpack_object *
s_get(const struct packed *p, const char *key)
{
    const msgpack_object_map *m = &p->u.data.via.map;
    const msgpack_object *hit = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        cr_assert_eq(k->type, MSGPACK_OBJECT_STR);
        if (k->via.str.size == strlen(key) && memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            cr_assert_null(hit, "'%s' packed twice", key);
            hit = &m->ptr[i].val;
        }
    }
    return hit;
}

/* The field is an array of exactly these strings, in this order ("" ends). */
static void
s_expect_list(const struct packed *p, const char *key, const char *const *want)
{
    const msgpack_object *o = s_get(p, key);
    cr_assert_not_null(o, "'%s' missing", key);
    cr_assert_eq(o->type, MSGPACK_OBJECT_ARRAY, "'%s' not an array", key);
    size_t n = 0;
    while (want[n])
        n++;
    cr_assert_eq(o->via.array.size, n, "'%s': %u names, want %zu", key, o->via.array.size, n);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *s = &o->via.array.ptr[i];
        cr_assert_eq(s->type, MSGPACK_OBJECT_STR);
        cr_expect(s->via.str.size == strlen(want[i]) &&
                      memcmp(s->via.str.ptr, want[i], s->via.str.size) == 0,
                  "'%s'[%zu] is '%.*s', want '%s'", key, i, (int)s->via.str.size, s->via.str.ptr,
                  want[i]);
    }
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
s_expect_true(const struct packed *p, const char *key)
{
    const msgpack_object *o = s_get(p, key);
    cr_assert_not_null(o, "'%s' missing", key);
    cr_expect(o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean, "'%s' not true", key);
}

/* The diff packs one pair: restart_needed, naming only key. */
static void
s_expect_only_restart(const struct config_diff *d, const char *key)
{
    struct packed p;
    s_pack(d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_list(&p, "restart_needed", LIST(key));
    s_packed_free(&p);
}

/* The diff from old to new text, packed; both configs destroyed. */
static void
s_diff_texts(const char *old_text, const char *new_text, struct config_diff *d, struct packed *p)
{
    struct mandated_config *old = s_load(old_text, false), *new = s_load(new_text, false);
    config_diff_compute(old, new, d);
    config_destroy(&old);
    config_destroy(&new);
    s_pack(d, p);
}

/* ------------------------------------------------------------------------ */
/* Nothing changed. */

Test(config_diff, same_config_is_empty_and_packs_nothing)
{
    struct mandated_config *old, *new;
    struct config_error err;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &old, &err), 0);
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &new, &err), 0);
    cr_assert_eq(config_load_keys(old, &err), 0);
    cr_assert_eq(config_load_keys(new, &err), 0);

    struct config_diff d;
    config_diff_compute(old, new, &d);
    config_diff_keep_restart_only(new, old, &d);
    cr_expect(config_diff_empty(&d));
    struct packed p;
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 0);
    cr_expect_eq(p.body.size, 0, "no bytes either");
    char line[64];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "nothing changed");
    s_packed_free(&p);
    config_diff_release(&d);
    config_diff_release(&d);
    cr_expect(config_diff_empty(&d), "released twice, still empty");
    config_destroy(&old);
    config_destroy(&new);
}

Test(config_diff, order_of_globs_and_files_is_no_change)
{
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area a]\ntypes = a.* b.*\n[source s]\nallow = a.* b.x\n"
                 "[worker w]\nareas = a, b\n[area b]\ntypes = c.*\n",
                 "[area a]\ntypes = b.* a.*\n[area b]\ntypes = c.*\n[source s]\nallow = b.x a.*\n"
                 "[worker w]\nareas = b a\n",
                 &d, &p);
    cr_expect(config_diff_empty(&d));
    cr_expect_eq(p.pairs, 0);
    s_packed_free(&p);
    config_diff_release(&d);
}

/* ------------------------------------------------------------------------ */
/* Areas, sources, [worker] sections. */

Test(config_diff, areas_added_removed_changed)
{
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area press]\ntypes = press.*\n[area postal]\ntypes = postal.*\n"
                 "[area cyber]\ntypes = cyber.*\n",
                 "[area press]\nunit = Phòng TTBCXB\ntypes = press.*\n[area cyber]\ntypes = "
                 "cyber.*\n[area rf]\ntypes = rf.*\n",
                 &d, &p);
    cr_expect_eq(p.pairs, 3);
    s_expect_list(&p, "areas_added", LIST("rf"));
    s_expect_list(&p, "areas_removed", LIST("postal"));
    s_expect_list(&p, "areas_changed", LIST("press"));
    char line[256];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "areas +rf -postal ~press");
    s_packed_free(&p);
    config_diff_release(&d);

    /* Each key of an area, on its own. */
    const char *changes[] = {
        "types = a.* z.*\n",
        "types = a.*\nworkers = 2\n",
        "types = a.*\nspawn = no\n",
        "types = a.*\ncredit = 7\n",
        "types = a.*\ntriage_unit = SOC\n",
        "types = a.*\nunit = U\n",
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[area a]\n%s", changes[i]);
        s_diff_texts("[area a]\ntypes = a.*\n", text, &d, &p);
        cr_expect_eq(p.pairs, 1, "%s", changes[i]);
        s_expect_list(&p, "areas_changed", LIST("a"));
        s_packed_free(&p);
        config_diff_release(&d);
    }
}

Test(config_diff, sources_allow_tightened_rate_burst)
{
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area a]\n[source soc]\nallow = cyber.* ops.*\n[source old]\n"
                 "[source r]\nrate = 10\n[source b]\nrate = 10\n",
                 "[area a]\n[source soc]\nallow = cyber.*\n[source new]\n"
                 "[source r]\nrate = 20\n[source b]\nrate = 10\nburst = 50\n",
                 &d, &p);
    cr_expect_eq(p.pairs, 3);
    s_expect_list(&p, "sources_added", LIST("new"));
    s_expect_list(&p, "sources_removed", LIST("old"));
    s_expect_list(&p, "sources_changed", LIST("soc", "r", "b"));
    cr_expect_null(s_get(&p, "areas_changed"));
    s_packed_free(&p);
    config_diff_release(&d);
}

Test(config_diff, worker_sections)
{
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area a]\n[area b]\n[worker w1]\nareas = a\n[worker w2]\nareas = a\n"
                 "[worker gone]\nareas = b\n",
                 "[area a]\n[area b]\n[worker w1]\nareas = a b\n[worker w2]\nareas = a\n"
                 "[worker w3]\nareas = b\n",
                 &d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_list(&p, "workers_changed", LIST("w1", "w3", "gone"));
    char line[256];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "worker sections ~w1 ~w3 ~gone");
    s_packed_free(&p);
    config_diff_release(&d);
}

Test(config_diff, delivery)
{
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area a]\n", "[delivery]\nheartbeat_ms = 1000\n[area a]\n", &d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_true(&p, "delivery");
    s_packed_free(&p);
    config_diff_release(&d);

    s_diff_texts("[delivery]\nmax_attempts = 5\n[area a]\n", "[area a]\n", &d, &p);
    cr_expect_eq(p.pairs, 0, "the default spelled out is the default");
    s_packed_free(&p);
    config_diff_release(&d);
}

/* ------------------------------------------------------------------------ */
/* The files the config names: by content, not by path. */

#define CAT_TEXT "[type a.x]\narea = a\nfield.n = uint max=3\n"
#define ASSETS_TEXT                                                                                \
    "[asset h]\ntitle = t\nsystem_level = 5\ncritical = yes\nowner = o\nowner_copes = no\n"
#define YEAR_TEXT "[year 2030]\ndecision = a test\n[rest]\n2030-01-02 = x\n"
#define FILES(n)                                                                                   \
    "[broker]\ncatalogue = @/cat" n ".ini\ncalendar_dir = @/cal" n "\n"                            \
    "asset_registry = @/assets" n ".ini\n[area a]\n"

Test(config_diff, catalogue_calendars_registry)
{
    s_mkdir("cal1");
    s_mkdir("cal2");
    s_write("cat1.ini", CAT_TEXT);
    s_write("cat2.ini", CAT_TEXT);
    s_write("assets1.ini", ASSETS_TEXT);
    s_write("assets2.ini", ASSETS_TEXT);
    s_write("cal1/2030.ini", YEAR_TEXT);
    s_write("cal2/2030.ini", YEAR_TEXT);
    s_write("cal2/notes.txt", "not a year\n");

    struct mandated_config *old = s_load(FILES("1"), false);
    struct mandated_config *new = s_load(FILES("2"), false);
    struct config_diff d;
    config_diff_compute(old, new, &d);
    cr_expect(config_diff_empty(&d), "other paths, same content");
    config_destroy(&new);

    s_write("cat2.ini", CAT_TEXT "title = x\n");
    new = s_load(FILES("2"), false);
    config_diff_compute(old, new, &d);
    struct packed p;
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_true(&p, "catalogue");
    s_packed_free(&p);
    config_destroy(&new);

    s_write("cat2.ini", CAT_TEXT);
    s_write("assets2.ini", ASSETS_TEXT "\n[asset g]\ntitle = t\nsystem_level = 1\ncritical = no\n"
                                       "owner = o\nowner_copes = yes\n");
    new = s_load(FILES("2"), false);
    config_diff_compute(old, new, &d);
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_true(&p, "asset_registry");
    s_packed_free(&p);
    config_destroy(&new);

    s_write("assets2.ini", ASSETS_TEXT);
    s_write("cal2/2031.ini", "[year 2031]\ndecision = another\n");
    new = s_load(FILES("2"), false);
    config_diff_compute(old, new, &d);
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 1, "a year added");
    s_expect_true(&p, "calendars");
    char line[128];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "calendars changed");
    s_packed_free(&p);
    config_destroy(&new);

    s_remove("cal2/2031.ini");
    s_write("cal2/2030.ini", "[year 2030]\ndecision = a test\n[rest]\n2030-01-03 = x\n");
    new = s_load(FILES("2"), false);
    config_diff_compute(old, new, &d);
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 1, "a year edited");
    s_expect_true(&p, "calendars");
    s_packed_free(&p);
    config_destroy(&new);
    config_destroy(&old);
}

Test(config_diff, calendar_year_as_shipped_is_no_change)
{
    /* A file that replaces a shipped year with the same text changes no
     * day; one that differs by a day does. */
    const struct embedded_file *y = &embedded_calendars[0];
    cr_assert_not_null(y->name);
    /* "(embedded calendar 2024.ini)" */
    const char *base = strrchr(y->name, ' ');
    cr_assert_not_null(base);
    char rel[64];
    s_mkdir("cal");
    snprintf(rel, sizeof rel, "cal/%.8s", base + 1);
    cr_assert_str_eq(rel + strlen(rel) - 4, ".ini", "%s", y->name);
    s_write(rel, y->text);

    struct mandated_config *old = s_load("[area a]\n", false);
    struct mandated_config *new = s_load("[broker]\ncalendar_dir = @/cal\n[area a]\n", false);
    struct config_diff d;
    config_diff_compute(old, new, &d);
    cr_expect(config_diff_empty(&d), "%s as shipped", rel);
    config_destroy(&new);

    char *text = NULL;
    cr_assert_geq(asprintf(&text, "%s\n; an operator's note\n", y->text), 0);
    s_write(rel, text);
    free(text);
    new = s_load("[broker]\ncalendar_dir = @/cal\n[area a]\n", false);
    config_diff_compute(old, new, &d);
    cr_expect(d.calendars, "its text differs");
    config_diff_release(&d);
    config_destroy(&new);
    config_destroy(&old);
}

/* ------------------------------------------------------------------------ */
/* Key rings. */

#define KEY_PATHS     "server_secret_key = @/server.key_secret\nsources_dir = @/sources\n[area a]\n"
#define CURVE_CONF    "[security]\ncurve = on\n" KEY_PATHS
#define NO_CURVE_CONF "[security]\n" KEY_PATHS

Test(config_diff, source_keys_added_removed_replaced)
{
    s_keygen(".", "server");
    s_mkdir("sources");
    s_keygen("sources", "a");
    s_keygen("sources", "b");
    s_keygen("sources", "c");
    struct mandated_config *old = s_load(CURVE_CONF, true);

    s_remove("sources/b.key");
    s_remove("sources/c.key");
    s_remove("sources/c.key_secret");
    s_keygen("sources", "c"); /* same name, another key */
    s_keygen("sources", "d");
    struct mandated_config *new = s_load(CURVE_CONF, true);

    struct config_diff d;
    config_diff_compute(old, new, &d);
    struct packed p;
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 2);
    s_expect_list(&p, "source_keys_added", LIST("c", "d"));
    s_expect_list(&p, "source_keys_removed", LIST("b", "c"));
    char line[256];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "source keys +c +d -b -c");
    s_packed_free(&p);

    /* Nothing restart-only changed: the lists stand as computed. */
    config_diff_keep_restart_only(new, old, &d);
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 2);
    s_expect_list(&p, "source_keys_added", LIST("c", "d"));
    s_packed_free(&p);
    config_diff_release(&d);

    /* Keys not loaded on one side: no key is compared. */
    struct mandated_config *bare = s_load(CURVE_CONF, false);
    config_diff_compute(old, bare, &d);
    cr_expect(config_diff_empty(&d));
    config_destroy(&bare);
    config_destroy(&old);
    config_destroy(&new);
}

#define WORKERS_CONF                                                                               \
    "[security]\nworkers_curve = on\nserver_secret_key = @/server.key_secret\n"                    \
    "worker_keys_dir = @/workers\n[area a]\nspawn = no\n[area b]\nspawn = no\n"

Test(config_diff, worker_keys)
{
    s_keygen(".", "server");
    s_mkdir("workers");
    s_keygen("workers", "w1");
    s_keygen("workers", "old");
    struct mandated_config *old = s_load(WORKERS_CONF "[worker w1]\nareas = a\n", true);
    s_remove("workers/old.key");
    s_keygen("workers", "w2");
    struct mandated_config *new =
        s_load(WORKERS_CONF "[worker w1]\nareas = a, b\n[worker w2]\nareas = b\n", true);

    struct config_diff d;
    config_diff_compute(old, new, &d);
    struct packed p;
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 3);
    s_expect_list(&p, "worker_keys_added", LIST("w2"));
    s_expect_list(&p, "worker_keys_removed", LIST("old"));
    s_expect_list(&p, "workers_changed", LIST("w1", "w2"));
    cr_expect_null(s_get(&p, "source_keys_added"), "curve is off: no source ring");
    s_packed_free(&p);
    config_diff_release(&d);
    config_destroy(&old);
    config_destroy(&new);
}

/* ------------------------------------------------------------------------ */
/* What a reload keeps. */

Test(config_diff, restart_only_keys_kept_and_listed)
{
    struct mandated_config *old = s_load("[area a]\n", true);
    struct mandated_config *new =
        s_load("[broker]\ningress = tcp://127.0.0.1:7999\nworkers = ipc://@/w.ipc\n"
               "http = 127.0.0.1:7998\nstate_dir = @/state\ndurability = relaxed\n"
               "max_event_bytes = 1024\ncommit_max_batch = 8\nmap_max_bytes = 1048576\n"
               "map_initial_bytes = 65536\ncommit_max_delay_ms = 3\nids_in_memory = 10\n"
               "ids_filter = 0\n"
               "[security]\nserver_secret_key = @/s.key_secret\nserver_public_key = @/p.key\n"
               "sources_dir = @/src\n[area a]\n",
               true);
    struct config_diff d;
    config_diff_compute(old, new, &d);
    cr_expect(config_diff_empty(&d), "restart-only keys are not the compute's to list");
    config_diff_keep_restart_only(new, old, &d);

    cr_expect_str_eq(new->broker.ingress, old->broker.ingress);
    cr_expect_str_eq(new->broker.workers, old->broker.workers);
    cr_expect_str_eq(new->broker.http, old->broker.http);
    cr_expect_str_eq(new->broker.state_dir, old->broker.state_dir);
    cr_expect_eq(new->broker.durability, DURABILITY_FULL);
    cr_expect_eq(new->broker.max_event_bytes, old->broker.max_event_bytes);
    cr_expect_eq(new->broker.commit_max_batch, old->broker.commit_max_batch);
    cr_expect_eq(new->broker.map_max_bytes, old->broker.map_max_bytes);
    cr_expect_eq(new->broker.map_initial_bytes, old->broker.map_initial_bytes);
    cr_expect_eq(new->broker.ids_in_memory, old->broker.ids_in_memory);
    cr_expect_eq(new->broker.ids_filter, old->broker.ids_filter);
    cr_expect_str_eq(new->security.server_secret_key, old->security.server_secret_key);
    cr_expect_str_eq(new->security.server_public_key, old->security.server_public_key);
    cr_expect_eq(new->broker.commit_max_delay_ms, 3, "reloadable: applied");
    char want_dir[512];
    s_path(want_dir, sizeof want_dir, "src");
    cr_expect_str_eq(new->security.sources_dir, want_dir, "reloadable: applied");

    struct packed p;
    s_pack(&d, &p);
    cr_expect_eq(p.pairs, 1);
    s_expect_list(&p, "restart_needed",
                  LIST("broker.ingress", "broker.workers", "broker.http", "broker.state_dir",
                       "broker.durability", "broker.max_event_bytes", "broker.commit_max_batch",
                       "broker.map_max_bytes", "broker.map_initial_bytes", "broker.ids_in_memory",
                       "broker.ids_filter", "security.server_secret_key",
                       "security.server_public_key"));
    s_packed_free(&p);

    /* Again: the values are old's now, nothing more is listed. */
    struct config_diff again;
    config_diff_compute(old, new, &again);
    config_diff_keep_restart_only(new, old, &again);
    cr_expect(config_diff_empty(&again));
    config_diff_release(&again);

    char line[512];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line, "restart needed for broker.ingress broker.workers broker.http "
                           "broker.state_dir broker.durability broker.max_event_bytes "
                           "broker.commit_max_batch broker.map_max_bytes "
                           "broker.map_initial_bytes broker.ids_in_memory broker.ids_filter "
                           "security.server_secret_key "
                           "security.server_public_key");
    config_diff_release(&d);
    config_destroy(&old);
    config_destroy(&new);
}

Test(config_diff, curve_turned_off_keeps_running_keys)
{
    s_keygen(".", "server");
    s_mkdir("sources");
    s_keygen("sources", "a");
    struct mandated_config *old = s_load(CURVE_CONF, true);
    struct mandated_config *new = s_load(NO_CURVE_CONF, true);
    cr_assert_null(new->keys.sources, "curve = off reads no ring");

    struct config_diff d;
    config_diff_compute(old, new, &d);
    cr_expect_eq(d.source_keys_removed.n, 1, "by the files, a would go");
    config_diff_keep_restart_only(new, old, &d);

    cr_expect(new->security.curve, "curve stays on");
    cr_assert_not_null(new->keys.sources, "so does the ring, else every source is refused");
    cr_assert_eq(new->keys.sources->n, 1);
    cr_expect_str_eq(new->keys.sources->entries[0].name, "a");
    cr_expect(new->keys.server.has_secret);
    cr_expect_str_eq(new->keys.server.public_z85, old->keys.server.public_z85);
    cr_expect_eq(d.source_keys_removed.n, 0, "no key was removed from what runs");

    s_expect_only_restart(&d, "security.curve");
    config_diff_release(&d);
    config_destroy(&new); /* the ring and server key are new's own copies */
    cr_expect_eq(old->keys.sources->n, 1);
    config_destroy(&old);
}

Test(config_diff, curve_turned_on_waits_for_restart)
{
    s_keygen(".", "server");
    s_mkdir("sources");
    s_keygen("sources", "a");
    struct mandated_config *old = s_load(NO_CURVE_CONF, true);
    struct mandated_config *new = s_load(CURVE_CONF, true);

    struct config_diff d;
    config_diff_compute(old, new, &d);
    cr_expect_eq(d.source_keys_added.n, 1);
    config_diff_keep_restart_only(new, old, &d);
    cr_expect_not(new->security.curve);
    cr_expect_null(new->keys.sources, "no ring while curve is off");
    cr_expect_not(new->keys.server.has_secret, "old's server key: none");

    s_expect_only_restart(&d, "security.curve");
    config_diff_release(&d);
    config_destroy(&old);
    config_destroy(&new);
}

Test(config_diff, server_key_replaced_in_place)
{
    s_keygen(".", "server");
    s_mkdir("sources");
    struct mandated_config *old = s_load(CURVE_CONF, true);
    s_remove("server.key");
    s_remove("server.key_secret");
    s_keygen(".", "server");
    struct mandated_config *new = s_load(CURVE_CONF, true);
    cr_assert_str_neq(new->keys.server.public_z85, old->keys.server.public_z85);

    struct config_diff d;
    config_diff_compute(old, new, &d);
    config_diff_keep_restart_only(new, old, &d);
    cr_expect_str_eq(new->keys.server.public_z85, old->keys.server.public_z85,
                     "the sockets keep the key they were bound with");
    cr_expect_eq(memcmp(new->keys.server.secret_key, old->keys.server.secret_key,
                        sizeof old->keys.server.secret_key),
                 0);
    s_expect_only_restart(&d, "security.server_secret_key");
    config_diff_release(&d);
    config_destroy(&old);
    config_destroy(&new);
}

/* ------------------------------------------------------------------------ */
/* The log line. */

Test(config_diff, describe_groups_and_truncates)
{
    s_write("cat.ini", CAT_TEXT);
    struct config_diff d;
    struct packed p;
    s_diff_texts("[area press]\n[area postal]\n[source old]\n[delivery]\nliveness = 4\n",
                 "[broker]\ncatalogue = @/cat.ini\n[area press]\n[area rf]\n[source soc]\n", &d,
                 &p);
    cr_expect_eq(p.pairs, 6);
    s_expect_true(&p, "catalogue");
    s_expect_true(&p, "delivery");
    cr_expect_null(s_get(&p, "calendars"));
    cr_expect_null(s_get(&p, "asset_registry"));
    s_packed_free(&p);

    char line[256];
    config_diff_describe(&d, line, sizeof line);
    cr_expect_str_eq(line,
                     "areas +rf -postal; sources +soc -old; catalogue changed; delivery changed");
    char small[12];
    memset(small, 'x', sizeof small);
    config_diff_describe(&d, small, sizeof small);
    cr_expect_eq(strlen(small), sizeof small - 1);
    cr_expect_str_eq(small, "areas +rf -");
    config_diff_describe(&d, small, 1);
    cr_expect_str_eq(small, "");
    config_diff_release(&d);
}
