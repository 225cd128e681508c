/*
 * id_memtable: lookups see the open batch's ids only from the writer; a
 * commit publishes them and an abort forgets them; the sweep hands out each
 * committed id once, sorted, range by range, leaves the open batch's for
 * the next sweep, and says when a whole sweep is done; the hash keeps every
 * id through growth and removals.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/id_memtable.h"

/* An id whose first 12 bits (its range) are range, made unique by n. */
static void
s_id(uint8_t id[16], unsigned range, uint32_t n)
{
    memset(id, 0, 16);
    id[0] = (uint8_t)(range >> 4);
    id[1] = (uint8_t)((range & 15) << 4);
    memcpy(id + 8, &n, 4);
}

/* n ids in one batch, at seqs first.., spread over the ranges; committed. */
static void
s_add_batch(struct id_memtable *mt, uint64_t first, uint32_t n)
{
    id_memtable_begin(mt, first);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t id[16];
        uint64_t seq = first + i;
        s_id(id, (unsigned)((seq * 2654435761u) % ID_MEMTABLE_RANGES), (uint32_t)seq);
        id_memtable_add(mt, id, seq);
    }
    id_memtable_commit(mt);
}

Test(id_memtable, the_open_batch_is_seen_by_the_writer_alone_until_it_commits)
{
    struct id_memtable *mt = id_memtable_new();
    uint8_t a[16], b[16];
    uint64_t seq = 0;
    s_id(a, 7, 1);
    s_id(b, 7, 2);
    id_memtable_begin(mt, 1);
    id_memtable_add(mt, a, 1);
    cr_expect(id_memtable_find(mt, a, &seq));
    cr_expect_eq(seq, 1);
    cr_expect_not(id_memtable_find_committed(mt, a, &seq), "another thread saw an unwritten id");
    id_memtable_commit(mt);
    cr_expect(id_memtable_find_committed(mt, a, &seq));

    id_memtable_begin(mt, 2);
    id_memtable_add(mt, b, 2);
    id_memtable_abort(mt);
    cr_expect_not(id_memtable_find(mt, b, &seq), "an aborted batch's id is still known");
    cr_expect(id_memtable_find(mt, a, &seq), "the abort took a committed id with it");
    cr_expect_eq(id_memtable_size(mt), 1);
    id_memtable_destroy(&mt);
    cr_expect_null(mt);
    id_memtable_destroy(&mt);
}

Test(id_memtable, a_sweep_takes_each_id_once_in_key_order_then_says_it_is_done)
{
    struct id_memtable *mt = id_memtable_new();
    s_add_batch(mt, 1, 5000);
    cr_expect_eq(id_memtable_prune_below(mt), 0);

    /* The next batch: its own ids (5001..) wait; the 5000 come out in chunks. */
    id_memtable_begin(mt, 5001);
    uint8_t late[16];
    s_id(late, 4095, 5001);
    id_memtable_add(mt, late, 5001);
    static uint8_t seen[5002];
    size_t total = 0;
    for (int chunk = 0; chunk < 10; chunk++) {
        const struct id_memtable_item *it;
        size_t n = id_memtable_take(mt, 700, &it);
        for (size_t i = 0; i < n; i++) {
            cr_assert_lt(it[i].seq, 5001, "an id of the open batch was taken");
            cr_assert_eq(seen[it[i].seq]++, 0, "id of seq %llu taken twice",
                         (unsigned long long)it[i].seq);
            if (i)
                cr_assert_lt(memcmp(it[i - 1].id, it[i].id, 16), 0, "not in key order");
        }
        total += n;
    }
    cr_expect_eq(total, 5000);
    id_memtable_commit(mt);
    cr_expect_eq(id_memtable_size(mt), 1, "only the late id is left");
    uint64_t seq;
    cr_expect(id_memtable_find_committed(mt, late, &seq));

    /* Past the end of the ranges: the sweep that began at 5001 is done. */
    id_memtable_begin(mt, 5002);
    const struct id_memtable_item *it;
    cr_expect_eq(id_memtable_take(mt, 10, &it), 1);
    cr_expect_eq(it[0].seq, 5001);
    cr_expect_eq(id_memtable_prune_below(mt), 5001,
                 "every id below the sweep's start is swept, and nothing above");
    id_memtable_commit(mt);
    cr_expect_eq(id_memtable_size(mt), 0);
    id_memtable_destroy(&mt);
}

Test(id_memtable, an_aborted_take_gives_the_same_ids_again)
{
    struct id_memtable *mt = id_memtable_new();
    s_add_batch(mt, 1, 300);
    const struct id_memtable_item *it;
    id_memtable_begin(mt, 301);
    size_t n = id_memtable_take(mt, 100, &it);
    cr_assert_eq(n, 100);
    uint64_t first[100];
    for (size_t i = 0; i < n; i++)
        first[i] = it[i].seq;
    id_memtable_abort(mt);
    cr_expect_eq(id_memtable_size(mt), 300, "an aborted sweep removed ids");

    id_memtable_begin(mt, 301);
    cr_assert_eq(id_memtable_take(mt, 100, &it), 100);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(it[i].seq, first[i], "item %zu differs after the abort", i);
    id_memtable_commit(mt);
    cr_expect_eq(id_memtable_size(mt), 200);
    id_memtable_destroy(&mt);
}

/*
 * One busy range (time-ordered ids share their first bits) cannot hold the
 * sweep: here half of what arrives is taken each batch, and still the sweep
 * goes round, each time taking only what was there when it arrived.
 */
Test(id_memtable, ids_that_keep_arriving_in_one_range_do_not_hold_the_sweep)
{
    struct id_memtable *mt = id_memtable_new();
    uint64_t seq = 1;
    for (int batch = 0; batch < 200; batch++) {
        id_memtable_begin(mt, seq);
        const struct id_memtable_item *it;
        id_memtable_take(mt, 50, &it);
        for (int i = 0; i < 100; i++, seq++) {
            uint8_t id[16];
            s_id(id, 1234, (uint32_t)seq);
            id_memtable_add(mt, id, seq);
        }
        id_memtable_commit(mt);
    }
    cr_expect_gt(id_memtable_prune_below(mt), 3000, "the sweep stayed in the busy range");
    id_memtable_destroy(&mt);
}

Test(id_memtable, the_hash_keeps_every_id_through_growth_and_removals)
{
    struct id_memtable *mt = id_memtable_new();
    const uint32_t n = 200000;
    s_add_batch(mt, 1, n);
    /* Remove about half, in the sweep's order. */
    id_memtable_begin(mt, n + 1);
    const struct id_memtable_item *it;
    static uint8_t gone[200001];
    size_t took = id_memtable_take(mt, n / 2, &it);
    cr_assert_eq(took, n / 2);
    for (size_t i = 0; i < took; i++)
        gone[it[i].seq] = 1;
    id_memtable_commit(mt);
    cr_assert_eq(id_memtable_size(mt), n - n / 2);
    for (uint64_t seq = 1; seq <= n; seq++) {
        uint8_t id[16];
        uint64_t found = 0;
        s_id(id, (unsigned)((seq * 2654435761u) % ID_MEMTABLE_RANGES), (uint32_t)seq);
        bool in = id_memtable_find(mt, id, &found);
        cr_assert_eq(in, !gone[seq], "seq %llu: %s", (unsigned long long)seq,
                     in ? "still there after its removal" : "lost");
        if (in)
            cr_assert_eq(found, seq);
    }
    id_memtable_destroy(&mt);
}

/* An id read back twice (a damaged ids_new) is refused and leaves the first as it was. */
Test(id_memtable, a_loaded_id_held_already_is_refused_and_changes_nothing)
{
    struct id_memtable *mt = id_memtable_new();
    uint8_t id[16], other[16];
    uint64_t seq = 0;
    s_id(id, 7, 1);
    s_id(other, 7, 2);
    cr_assert(id_memtable_load(mt, id, 5));
    cr_assert(id_memtable_load(mt, other, 6));
    cr_assert_not(id_memtable_load(mt, id, 9));
    cr_assert_eq(id_memtable_size(mt), 2);
    cr_assert(id_memtable_find_committed(mt, id, &seq));
    cr_assert_eq(seq, 5);
    /* The sweep hands the id out once, and its removal leaves the other found. */
    id_memtable_begin(mt, 10);
    const struct id_memtable_item *it;
    cr_assert_eq(id_memtable_take(mt, 10, &it), 2);
    cr_assert_eq(it[0].seq, 5);
    cr_assert_eq(it[1].seq, 6);
    id_memtable_commit(mt);
    cr_assert_eq(id_memtable_size(mt), 0);
    cr_assert_not(id_memtable_find_committed(mt, other, &seq));
    id_memtable_destroy(&mt);
}
