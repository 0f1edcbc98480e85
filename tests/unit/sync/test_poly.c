/* sync/poly: polynomial helpers and the recon interpolation: the toy example of protocols.md
 * §2.12 (a) number for number, random set differences of every recoverable size, and refusal
 * ("low mbar") when the difference is too large. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "sync/poly.h"

static oks_zzp chi(const oks_zzp *set, int n, oks_zzp k)
{
    oks_zzp r = oks_zzp_one();
    for (int i = 0; i < n; i++)
        r = oks_zzp_mul(r, oks_zzp_sub(k, set[i]));
    return r;
}

static void ratios(const oks_zzp *r, int nr, const oks_zzp *l, int nl, oks_zzp *f)
{
    for (int i = 0; i < OKS_RECON_SAMPLES; i++) {
        oks_zzp k = oks_recon_point(i);
        f[i] = oks_zzp_div(chi(r, nr, k), chi(l, nl, k));
    }
}

static int contains(const oks_zzp *s, int n, oks_zzp x)
{
    for (int i = 0; i < n; i++)
        if (oks_zzp_eq(s[i], x))
            return 1;
    return 0;
}

static void test_sample_points_in_sks_order(void **state)
{
    (void)state;
    const int64_t want[6] = {0, -1, 1, -2, 2, -3};
    for (int i = 0; i < 6; i++)
        assert_true(oks_zzp_eq(oks_recon_point(i), oks_zzp_from_int(want[i])));
}

static void test_toy_example_numbers(void **state)
{
    (void)state;
    oks_zzp r[4] = {oks_zzp_from_int(7), oks_zzp_from_int(1000), oks_zzp_from_int(2000),
                    oks_zzp_from_int(3000)};
    oks_zzp l[3] = {oks_zzp_from_int(5), oks_zzp_from_int(1000), oks_zzp_from_int(2000)};
    const char *chir[6] = {"42000000000", "48088048008", "35934035994",
                           "54198216072", "29890119960", "60330540270"};
    const int64_t chil[6] = {-10000000, -12018006, -7988004, -14042028, -5982012, -16072072};
    const char *fs[6] = {"530512889551602322505127520352579433139",
                         "176837629850534107501709173450859808445",
                         "265256444775801161252563760176289714171",
                         "227362666950686709645054651579676897857",
                         "353675259701068215003418346901719619896",
                         "132628222387900580626281880088144855581"};
    oks_zzp f[6];
    char dec[64];
    ratios(r, 4, l, 3, f);
    for (int i = 0; i < 6; i++) {
        oks_zzp k = oks_recon_point(i);
        assert_string_equal(oks_zzp_to_dec(chi(r, 4, k), dec, sizeof dec), chir[i]);
        assert_true(oks_zzp_eq(chi(l, 3, k), oks_zzp_from_int(chil[i])));
        assert_string_equal(oks_zzp_to_dec(f[i], dec, sizeof dec), fs[i]);
    }
    oks_zzp ro[5], lo[5];
    int nr, nl;
    oks_err e;
    assert_int_equal(oks_recon_interpolate(f, 4 - 3, ro, &nr, lo, &nl, &e), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(nl, 1);
    assert_true(contains(ro, nr, oks_zzp_from_int(7)));
    assert_true(contains(ro, nr, oks_zzp_from_int(3000)));
    assert_true(oks_zzp_eq(lo[0], oks_zzp_from_int(5)));
}

static void random_hash_elems(oks_zzp *out, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t h[16];
        gcry_randomize(h, sizeof h, GCRY_WEAK_RANDOM);
        out[i] = oks_zzp_from_hash(h);
    }
}

static void test_every_recoverable_difference_found(void **state)
{
    (void)state;
    /* common part + a remote-only + b local-only for every a + b <= 5 */
    for (int a = 0; a <= 5; a++)
        for (int b = 0; a + b <= 5; b++)
            for (int rep = 0; rep < 4; rep++) {
                oks_zzp common[40], ra[5], lb[5], rset[45], lset[45], f[6], ro[5], lo[5];
                random_hash_elems(common, 40);
                random_hash_elems(ra, a);
                random_hash_elems(lb, b);
                memcpy(rset, common, sizeof common);
                memcpy(rset + 40, ra, sizeof ra[0] * (size_t)a);
                memcpy(lset, common, sizeof common);
                memcpy(lset + 40, lb, sizeof lb[0] * (size_t)b);
                ratios(rset, 40 + a, lset, 40 + b, f);
                int nr, nl;
                oks_err e;
                assert_int_equal(oks_recon_interpolate(f, a - b, ro, &nr, lo, &nl, &e), 0);
                assert_int_equal(nr, a);
                assert_int_equal(nl, b);
                for (int i = 0; i < a; i++)
                    assert_true(contains(ro, nr, ra[i]));
                for (int i = 0; i < b; i++)
                    assert_true(contains(lo, nl, lb[i]));
            }
}

static void test_too_large_difference_is_low_mbar(void **state)
{
    (void)state;
    for (int total = 6; total <= 12; total++)
        for (int a = 0; a <= total; a++) {
            oks_zzp rset[20], lset[20], f[6], ro[5], lo[5];
            random_hash_elems(rset, a);
            random_hash_elems(lset, total - a);
            ratios(rset, a, lset, total - a, f);
            int nr = 9, nl = 9;
            oks_err e;
            assert_int_equal(oks_recon_interpolate(f, a - (total - a), ro, &nr, lo, &nl, &e),
                             OKS_E_LIMIT);
            assert_int_equal(nr + nl, 0);
        }
}

static void test_garbage_values_never_crash(void **state)
{
    (void)state;
    for (int rep = 0; rep < 200; rep++) {
        oks_zzp f[6], ro[5], lo[5];
        uint8_t b[17];
        for (int i = 0; i < 6; i++) {
            gcry_randomize(b, sizeof b, GCRY_WEAK_RANDOM);
            f[i] = rep % 7 == 0 ? oks_zzp_zero() : oks_zzp_from_bytes(b);
        }
        int nr, nl;
        oks_err e;
        int rc = oks_recon_interpolate(f, rep % 13 - 6, ro, &nr, lo, &nl, &e);
        assert_true(rc == 0 || rc == OKS_E_LIMIT);
        assert_true(nr >= 0 && nr <= 5 && nl >= 0 && nl <= 5);
    }
}

static void test_roots_of_product_of_linear_factors(void **state)
{
    (void)state;
    oks_zzp rs[6];
    random_hash_elems(rs, 6);
    oks_poly f;
    oks_poly_zero(&f);
    f.c[0] = oks_zzp_one();
    f.deg = 0;
    for (int i = 0; i < 6; i++) {
        /* f *= (z - r_i) */
        for (int k = f.deg + 1; k >= 0; k--) {
            oks_zzp hi = k > 0 ? f.c[k - 1] : oks_zzp_zero();
            oks_zzp lo = k <= f.deg ? oks_zzp_mul(f.c[k], rs[i]) : oks_zzp_zero();
            f.c[k] = oks_zzp_sub(hi, lo);
        }
        f.deg++;
    }
    assert_true(oks_poly_splits(&f));
    oks_zzp got[8];
    int n;
    assert_int_equal(oks_poly_roots(&f, got, &n), 0);
    assert_int_equal(n, 6);
    for (int i = 0; i < 6; i++)
        assert_true(contains(got, n, rs[i]));
    /* (z - a)^2 has a double root: not a product of distinct linear factors */
    oks_poly sq;
    oks_poly_zero(&sq);
    sq.c[0] = oks_zzp_mul(rs[0], rs[0]);
    sq.c[1] = oks_zzp_neg(oks_zzp_add(rs[0], rs[0]));
    sq.c[2] = oks_zzp_one();
    sq.deg = 2;
    assert_false(oks_poly_splits(&sq));
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_points_in_sks_order),
        cmocka_unit_test(test_toy_example_numbers),
        cmocka_unit_test(test_every_recoverable_difference_found),
        cmocka_unit_test(test_too_large_difference_is_low_mbar),
        cmocka_unit_test(test_garbage_values_never_crash),
        cmocka_unit_test(test_roots_of_product_of_linear_factors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
