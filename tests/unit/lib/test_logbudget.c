/* lib/logbudget: at most per_minute lines a window, one per source; a source retrying in a loop
 * does not spend the lines of others; the dropped count comes back once when the window turns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "lib/logbudget.h"

static void one_line_per_source_and_window(void **state)
{
    (void)state;
    oks_logbudget b;
    unsigned sum;
    oks_logbudget_init(&b, 20);
    assert_true(oks_logbudget_take(&b, 1000, "10.0.0.1|k1", 11, &sum));
    for (int i = 0; i < 500; i++) /* the same peer retrying */
        assert_false(oks_logbudget_take(&b, 1000 + i / 10, "10.0.0.1|k1", 11, &sum));
    /* another peer in the same minute still gets its line */
    assert_true(oks_logbudget_take(&b, 1030, "10.0.0.2|k2", 11, &sum));
    assert_int_equal(sum, 0);
    /* the window turns: what was dropped is handed back once, the first peer may log again */
    assert_true(oks_logbudget_take(&b, 1060, "10.0.0.1|k1", 11, &sum));
    assert_int_equal(sum, 500);
    assert_false(oks_logbudget_take(&b, 1061, "10.0.0.1|k1", 11, &sum));
    assert_int_equal(sum, 0);
}

static void at_most_per_minute_distinct_sources(void **state)
{
    (void)state;
    oks_logbudget b;
    unsigned sum, logged = 0;
    char src[32];
    oks_logbudget_init(&b, 20);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(src, sizeof src, "peer-%d", i);
        logged += oks_logbudget_take(&b, 5000, src, (size_t)n, &sum);
    }
    assert_int_equal(logged, 20);
    assert_true(oks_logbudget_take(&b, 5060, "peer-0", 6, &sum));
    assert_int_equal(sum, 980);
}

static void no_source_counts_only(void **state)
{
    (void)state;
    oks_logbudget b;
    unsigned sum, logged = 0;
    oks_logbudget_init(&b, 3);
    for (int i = 0; i < 10; i++)
        logged += oks_logbudget_take(&b, 7, NULL, 0, &sum);
    assert_int_equal(logged, 3);
    /* a clock set back starts a new window too */
    assert_true(oks_logbudget_take(&b, 1, NULL, 0, &sum));
    assert_int_equal(sum, 7);
    oks_logbudget_init(&b, 1000); /* capped at OKS_LOGBUDGET_MAX */
    assert_int_equal(b.per_minute, OKS_LOGBUDGET_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_line_per_source_and_window),
        cmocka_unit_test(at_most_per_minute_distinct_sources),
        cmocka_unit_test(no_source_counts_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
