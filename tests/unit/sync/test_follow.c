/* sync/follow: netting one change-log page into adds and deletes, the shard cursors and the
 * ignore set, over a real prefix tree in a temporary LevelDB. (Reading change logs through the
 * router is covered by the sync integration tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/follow.h"

static void hash(uint8_t h[16], uint8_t v)
{
    memset(h, 0, 16);
    h[0] = v;
    h[15] = 0x80; /* never a sample point */
}

static void net_change_cancels_add_then_delete_and_delete_then_add(void **state)
{
    (void)state;
    uint8_t add[8][16], del[8][16], a[16], b[16], c[16];
    size_t nadd = 0, ndel = 0;
    hash(a, 1);
    hash(b, 2);
    hash(c, 3);
    oks_sync_net_change(add, &nadd, del, &ndel, NULL, a); /* a added */
    oks_sync_net_change(add, &nadd, del, &ndel, a, b);    /* a replaced by b */
    assert_int_equal(nadd, 1);
    assert_int_equal(ndel, 0);
    assert_memory_equal(add[0], b, 16);
    oks_sync_net_change(add, &nadd, del, &ndel, c, NULL); /* c (stored before) deleted */
    oks_sync_net_change(add, &nadd, del, &ndel, NULL, c); /* and added again */
    assert_int_equal(nadd, 1);
    assert_int_equal(ndel, 0);
    oks_sync_net_change(add, &nadd, del, &ndel, b, NULL); /* b deleted: nothing left */
    assert_int_equal(nadd, 0);
    assert_int_equal(ndel, 0);
    oks_sync_net_change(add, &nadd, del, &ndel, c, a);
    assert_int_equal(nadd, 1);
    assert_int_equal(ndel, 1);
    assert_memory_equal(add[0], a, 16);
    assert_memory_equal(del[0], c, 16);
}

static void net_change_skips_hashes_equal_to_sample_points(void **state)
{
    (void)state;
    uint8_t add[4][16], del[4][16], point[16] = {2};
    size_t nadd = 0, ndel = 0;
    oks_sync_net_change(add, &nadd, del, &ndel, NULL, point);
    assert_int_equal(nadd, 0);
    point[0] = 3; /* 3 is not a sample point */
    oks_sync_net_change(add, &nadd, del, &ndel, NULL, point);
    assert_int_equal(nadd, 1);
}

typedef struct fixture {
    char dir[64];
    oks_ptree *t;
    oks_sync_follow f;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/oks-test-follow-XXXXXX");
    if (!fx || !mkdtemp(fx->dir))
        return -1;
    oks_err e;
    if (oks_ptree_open(fx->dir, &fx->t, &e))
        return -1;
    fx->f.t = fx->t;
    fx->f.ignore_seconds = 3600;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    oks_ptree_free(fx->t);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

static void cursor_is_zero_until_applied_with_the_hashes(void **state)
{
    fixture *fx = *state;
    assert_true(oks_sync_cursor(fx->t, "s0") == 0);
    uint8_t h[1][16], seq[8];
    hash(h[0], 9);
    oks_put_be64(seq, 0x123456789ull);
    oks_err e;
    assert_int_equal(oks_ptree_apply(fx->t, (const uint8_t(*)[16])h, 1, NULL, 0, "cursor.s0", seq,
                                     8, &e),
                     0);
    assert_true(oks_sync_cursor(fx->t, "s0") == 0x123456789ull);
    assert_true(oks_sync_cursor(fx->t, "s1") == 0);
    assert_true(oks_ptree_has(fx->t, h[0]));
    /* a cursor of the wrong size reads as 0: the log is read again from the start */
    assert_int_equal(oks_ptree_apply(fx->t, NULL, 0, NULL, 0, "cursor.s1", "abc", 3, &e), 0);
    assert_true(oks_sync_cursor(fx->t, "s1") == 0);
}

static void ignored_hashes_are_remembered_counted_and_expire(void **state)
{
    fixture *fx = *state;
    uint8_t a[16], b[16];
    hash(a, 1);
    hash(b, 2);
    assert_false(oks_sync_ignored(&fx->f, a));
    oks_sync_ignore(&fx->f, a);
    oks_sync_ignore(&fx->f, a); /* again: still one entry */
    assert_true(oks_sync_ignored(&fx->f, a));
    assert_false(oks_sync_ignored(&fx->f, b));
    assert_int_equal(fx->f.ignored, 1);
    fx->f.ignore_seconds = -10; /* an entry that expired already */
    oks_sync_ignore(&fx->f, b);
    assert_false(oks_sync_ignored(&fx->f, b));
    oks_sync_ignore_count(&fx->f);
    assert_int_equal(fx->f.ignored, 1);
    /* the set is in the tree's LevelDB: it survives a reopen */
    oks_ptree_free(fx->t);
    oks_err e;
    assert_int_equal(oks_ptree_open(fx->dir, &fx->t, &e), 0);
    fx->f.t = fx->t;
    fx->f.ignored = 0;
    oks_sync_ignore_count(&fx->f);
    assert_int_equal(fx->f.ignored, 1);
    assert_true(oks_sync_ignored(&fx->f, a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(net_change_cancels_add_then_delete_and_delete_then_add),
        cmocka_unit_test(net_change_skips_hashes_equal_to_sample_points),
        cmocka_unit_test_setup_teardown(cursor_is_zero_until_applied_with_the_hashes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ignored_hashes_are_remembered_counted_and_expire, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
