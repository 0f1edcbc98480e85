/* sync/zzp: field arithmetic mod p checked against libgcrypt's MPI arithmetic and against the
 * values of protocols.md §2.3 (wire encoding of a key hash and of -1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <string.h>

#include "lib/buf.h"
#include "sync/zzp.h"

static gcry_mpi_t mpi_p(void)
{
    gcry_mpi_t p = NULL;
    gcry_mpi_scan(&p, GCRYMPI_FMT_HEX, "18F1D10E4878B1FDFC91F85D930A5431B", 0, NULL);
    return p;
}

static gcry_mpi_t to_mpi(oks_zzp a)
{
    uint8_t le[17], be[17];
    oks_zzp_to_bytes(a, le);
    for (int i = 0; i < 17; i++)
        be[i] = le[16 - i];
    gcry_mpi_t m = NULL;
    gcry_mpi_scan(&m, GCRYMPI_FMT_USG, be, 17, NULL);
    return m;
}

static oks_zzp random_elem(void)
{
    uint8_t b[17];
    gcry_randomize(b, sizeof b, GCRY_WEAK_RANDOM);
    return oks_zzp_from_bytes(b);
}

static void test_hash_maps_to_little_endian_integer(void **state)
{
    (void)state;
    uint8_t h[16], back[16], wire[17];
    char dec[64];
    assert_int_equal(oks_unhex(h, "BC1FDDCE88FAE3EC0142A178FDC2E8C0", 16), 0);
    oks_zzp a = oks_zzp_from_hash(h);
    assert_string_equal(oks_zzp_to_dec(a, dec, sizeof dec),
                        "256420342931405302087513427148126625724");
    oks_zzp_to_bytes(a, wire);
    assert_memory_equal(wire, h, 16);
    assert_int_equal(wire[16], 0);
    assert_int_equal(oks_zzp_to_hash(a, back), 0);
    assert_memory_equal(back, h, 16);
}

static void test_minus_one_wire_form(void **state)
{
    (void)state;
    uint8_t want[17], got[17];
    assert_int_equal(oks_unhex(want, "1A43A530D9851FC9DF1F8B87E4101D8F01", 17), 0);
    oks_zzp_to_bytes(oks_zzp_from_int(-1), got);
    assert_memory_equal(got, want, 17);
    char dec[64];
    assert_string_equal(oks_zzp_to_dec(oks_zzp_from_int(-1), dec, sizeof dec),
                        "530512889551602322505127520352579437338");
}

static void test_values_above_p_are_reduced(void **state)
{
    (void)state;
    uint8_t b[17];
    memset(b, 0xff, sizeof b);
    oks_zzp a = oks_zzp_from_bytes(b);
    gcry_mpi_t p = mpi_p(), m = NULL, r = gcry_mpi_new(0);
    gcry_mpi_scan(&m, GCRYMPI_FMT_USG, b, 17, NULL);
    gcry_mpi_mod(r, m, p);
    gcry_mpi_t got = to_mpi(a);
    assert_int_equal(gcry_mpi_cmp(got, r), 0);
    uint8_t h[16];
    assert_int_equal(oks_zzp_to_hash(oks_zzp_from_int(-1), h), -1);
    gcry_mpi_release(p);
    gcry_mpi_release(m);
    gcry_mpi_release(r);
    gcry_mpi_release(got);
}

static void test_arithmetic_matches_mpi(void **state)
{
    (void)state;
    gcry_mpi_t p = mpi_p(), want = gcry_mpi_new(0);
    for (int i = 0; i < 2000; i++) {
        oks_zzp a = random_elem(), b = random_elem();
        if (i == 0)
            a = oks_zzp_from_int(-1);
        if (i == 1)
            b = oks_zzp_zero();
        gcry_mpi_t ma = to_mpi(a), mb = to_mpi(b), got;
        gcry_mpi_mulm(want, ma, mb, p);
        got = to_mpi(oks_zzp_mul(a, b));
        assert_int_equal(gcry_mpi_cmp(got, want), 0);
        gcry_mpi_release(got);
        gcry_mpi_addm(want, ma, mb, p);
        got = to_mpi(oks_zzp_add(a, b));
        assert_int_equal(gcry_mpi_cmp(got, want), 0);
        gcry_mpi_release(got);
        gcry_mpi_subm(want, ma, mb, p);
        got = to_mpi(oks_zzp_sub(a, b));
        assert_int_equal(gcry_mpi_cmp(got, want), 0);
        gcry_mpi_release(got);
        if (!oks_zzp_is_zero(b)) {
            assert_true(oks_zzp_eq(oks_zzp_mul(oks_zzp_div(a, b), b), a));
            assert_true(oks_zzp_eq(oks_zzp_mul(oks_zzp_inv(b), b), oks_zzp_one()));
        }
        gcry_mpi_release(ma);
        gcry_mpi_release(mb);
    }
    gcry_mpi_release(p);
    gcry_mpi_release(want);
}

static void test_small_integers_and_order(void **state)
{
    (void)state;
    oks_zzp s = oks_zzp_add(oks_zzp_from_int(7), oks_zzp_from_int(-10));
    assert_true(oks_zzp_eq(s, oks_zzp_from_int(-3)));
    assert_true(oks_zzp_eq(oks_zzp_mul(oks_zzp_from_int(-2), oks_zzp_from_int(-3)),
                           oks_zzp_from_int(6)));
    assert_true(oks_zzp_cmp(oks_zzp_from_int(5), oks_zzp_from_int(6)) < 0);
    assert_true(oks_zzp_cmp(oks_zzp_from_int(-1), oks_zzp_from_int(6)) > 0);
    assert_int_equal(oks_zzp_cmp(oks_zzp_from_int(9), oks_zzp_from_int(9)), 0);
    assert_true(oks_zzp_is_zero(oks_zzp_add(oks_zzp_from_int(-1), oks_zzp_one())));
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_maps_to_little_endian_integer),
        cmocka_unit_test(test_minus_one_wire_form),
        cmocka_unit_test(test_values_above_p_are_reduced),
        cmocka_unit_test(test_arithmetic_matches_mpi),
        cmocka_unit_test(test_small_integers_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
