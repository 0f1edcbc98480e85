/* bench/zipf: the table's masses follow 1/(r+1)^s, picks land where the masses say, the edges
 * of the uniform input map to the first and the last rank, and bad arguments are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/zipf.h"

#include <math.h>

static void masses_follow_the_law(void **state)
{
    (void)state;
    bench_zipf *z = bench_zipf_new(4, 1.0);
    assert_non_null(z);
    double h = 1 + 1 / 2.0 + 1 / 3.0 + 1 / 4.0;
    assert_true(fabs(bench_zipf_mass(z, 1) - 1 / h) < 1e-12);
    assert_true(fabs(bench_zipf_mass(z, 2) - (1 + 0.5) / h) < 1e-12);
    assert_true(bench_zipf_mass(z, 4) == 1.0);
    assert_true(bench_zipf_mass(z, 9) == 1.0);
    assert_true(bench_zipf_mass(z, 0) == 0.0);
    bench_zipf_free(z);
}

static void edges_pick_the_first_and_last_rank(void **state)
{
    (void)state;
    bench_zipf *z = bench_zipf_new(1000, 1.2);
    assert_non_null(z);
    assert_int_equal(bench_zipf_pick(z, 0), 0);
    assert_int_equal(bench_zipf_pick(z, UINT64_MAX), 999);
    bench_zipf_free(z);
    z = bench_zipf_new(1, 1.0);
    assert_int_equal(bench_zipf_pick(z, UINT64_MAX / 2), 0);
    bench_zipf_free(z);
}

/* 200,000 picks over 100,000 keys at s = 1: the top 1 % gets its mass (0.619), within 1 %
 * absolute; a uniform law would give 0.01. */
static void picks_land_where_the_masses_say(void **state)
{
    (void)state;
    size_t n = 100000, top = n / 100, hits = 0, picks = 200000;
    bench_zipf *z = bench_zipf_new(n, 1.0);
    assert_non_null(z);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < picks; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t r = bench_zipf_pick(z, s);
        assert_true(r < n);
        hits += r < top;
    }
    double want = bench_zipf_mass(z, top);
    assert_true(want > 0.61 && want < 0.63);
    assert_true(fabs((double)hits / (double)picks - want) < 0.01);
    bench_zipf_free(z);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    assert_null(bench_zipf_new(0, 1.0));
    assert_null(bench_zipf_new(10, 0.0));
    assert_null(bench_zipf_new(10, -1.0));
    assert_null(bench_zipf_new(10, NAN));
    assert_null(bench_zipf_new(10, INFINITY));
    bench_zipf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masses_follow_the_law),
        cmocka_unit_test(edges_pick_the_first_and_last_rank),
        cmocka_unit_test(picks_land_where_the_masses_say),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
