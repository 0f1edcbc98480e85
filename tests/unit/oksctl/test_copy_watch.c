/* oksctl slots: a copy's wait goes on for as long as slots keep becoming equal on the new
 * replica, however long that is, and gives up after --wait seconds in which none did; failed
 * digest requests are no progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>

#include "oksctl/slots.h"

static void a_long_copy_that_progresses_never_stalls(void **state)
{
    (void)state;
    oksctl_copy_watch w;
    oksctl_copy_watch_start(&w, 1000);
    /* 4096 slots, one more equal every 10 s, for more than 11 hours, with --wait 120 */
    unsigned d = 4096;
    uint64_t t = 1000;
    for (; d > 1; d--, t += 10000) {
        assert_false(oksctl_copy_watch_stalled(&w, d, t, 120));
        assert_false(oksctl_copy_watch_stalled(&w, d, t + 9700, 120)); /* polls in between */
    }
    assert_true(t - 1000 > 40000000ull);
    assert_int_equal(w.differ, 2);
}

static void no_progress_for_wait_seconds_stalls(void **state)
{
    (void)state;
    oksctl_copy_watch w;
    oksctl_copy_watch_start(&w, 0);
    assert_false(oksctl_copy_watch_stalled(&w, 50, 300, 2));
    assert_false(oksctl_copy_watch_stalled(&w, 40, 5000, 2)); /* progress at 5 s */
    assert_false(oksctl_copy_watch_stalled(&w, 40, 6999, 2));
    assert_false(oksctl_copy_watch_stalled(&w, 45, 6999, 2)); /* more differ: no progress */
    assert_true(oksctl_copy_watch_stalled(&w, 45, 7000, 2));
    assert_int_equal(w.differ, 45);
    assert_int_equal(w.fewest, 40);
}

static void failed_digests_are_no_progress(void **state)
{
    (void)state;
    oksctl_copy_watch w;
    oksctl_copy_watch_start(&w, 0);
    assert_false(oksctl_copy_watch_stalled(&w, 10, 100, 3));
    for (uint64_t t = 400; t < 3100; t += 300)
        assert_false(oksctl_copy_watch_stalled(&w, UINT_MAX, t, 3));
    assert_true(oksctl_copy_watch_stalled(&w, UINT_MAX, 3100, 3));
    assert_int_equal(w.differ, 10); /* the last count known */
    oksctl_copy_watch_start(&w, 0); /* never a count: still stalls, nothing known */
    assert_true(oksctl_copy_watch_stalled(&w, UINT_MAX, 3000, 3));
    assert_int_equal(w.differ, UINT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_long_copy_that_progresses_never_stalls),
        cmocka_unit_test(no_progress_for_wait_seconds_stalls),
        cmocka_unit_test(failed_digests_are_no_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
