/* sync/backoff: the wait of a failing partner doubles per failure in a row, is bounded, ends by
 * itself, and a good round clears it; partners are independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "sync/backoff.h"

static void test_doubles_up_to_the_bound(void **state)
{
    (void)state;
    static oks_sync_backoff b;
    oks_sync_backoff_init(&b, 1000, 5000);
    unsigned k;
    assert_int_equal(oks_sync_backoff_left(&b, "a:1", 0), 0);
    assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 0, 0, &k), 1000);
    assert_int_equal(k, 1);
    assert_int_equal(oks_sync_backoff_left(&b, "a:1", 400), 600);
    assert_int_equal(oks_sync_backoff_left(&b, "a:1", 1000), 0);
    assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 1000, 0, &k), 2000);
    assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 3000, 0, &k), 4000);
    assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 7000, 0, &k), 5000);
    for (int i = 0; i < 100; i++)
        assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 7000, 0, &k), 5000);
    assert_int_equal(oks_sync_backoff_left(&b, "b:1", 7000), 0); /* others unaffected */
    oks_sync_backoff_ok(&b, "a:1");
    assert_int_equal(oks_sync_backoff_left(&b, "a:1", 7000), 0);
    assert_int_equal(oks_sync_backoff_fail(&b, "a:1", 7000, 0, &k), 1000);
    assert_int_equal(k, 1);
}

static void test_table_full_reuses_the_oldest(void **state)
{
    (void)state;
    static oks_sync_backoff b;
    oks_sync_backoff_init(&b, 1000, 1000);
    char name[32];
    for (int i = 0; i < OKS_SYNC_BACKOFF_MAX; i++) {
        snprintf(name, sizeof name, "p%d:1", i);
        oks_sync_backoff_fail(&b, name, i, 0, NULL);
    }
    oks_sync_backoff_fail(&b, "new:1", 5000, 0, NULL);
    assert_true(oks_sync_backoff_left(&b, "new:1", 5000) > 0);
    assert_int_equal(oks_sync_backoff_left(&b, "p0:1", 500), 0); /* its entry was reused */
    assert_true(oks_sync_backoff_left(&b, "p9:1", 500) > 0);
}

static void test_unreachable_partners_may_still_call(void **state)
{
    (void)state;
    static oks_sync_backoff b;
    oks_sync_backoff_init(&b, 1000, 5000);
    unsigned k;
    /* not reachable (down, or not up yet): we wait, its own sessions are welcome */
    oks_sync_backoff_fail(&b, "a:1", 0, 1, &k);
    assert_true(oks_sync_backoff_left(&b, "a:1", 10) > 0);
    assert_false(oks_sync_backoff_refuses_inbound(&b, "a:1", 10));
    /* a session it wasted: refused too */
    oks_sync_backoff_fail(&b, "a:1", 1000, 0, &k);
    assert_int_equal(k, 2);
    assert_true(oks_sync_backoff_refuses_inbound(&b, "a:1", 1010));
    assert_false(oks_sync_backoff_refuses_inbound(&b, "a:1", 3000)); /* the wait ended */
    assert_false(oks_sync_backoff_refuses_inbound(&b, "b:1", 1010));
    /* its good session clears everything */
    oks_sync_backoff_fail(&b, "a:1", 4000, 1, &k);
    oks_sync_backoff_ok(&b, "a:1");
    assert_int_equal(oks_sync_backoff_left(&b, "a:1", 4001), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_up_to_the_bound),
        cmocka_unit_test(test_table_full_reuses_the_oldest),
        cmocka_unit_test(test_unreachable_partners_may_still_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
