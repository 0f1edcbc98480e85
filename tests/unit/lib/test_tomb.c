/* lib/tomb: the stored form of a tombstone, the order that decides between two tombstones of a
 * fingerprint (last writer wins, a delete wins a tie), and the hash a slot digest takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/tomb.h"

static const uint8_t FPR[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static oks_tomb make(bool lifted, uint64_t stamp, const char *reason, const char *who)
{
    oks_tomb t;
    oks_err e;
    assert_int_equal(oks_tomb_init(&t, FPR, 20, lifted, stamp, reason, reason ? strlen(reason) : 0,
                                   who, &e), 0);
    return t;
}

static void stored_form_reads_back(void **state)
{
    (void)state;
    oks_tomb t = make(true, 1764900000123ull, "spam key\nreported", "admin-1"), u;
    assert_string_equal(t.reason, "spam key reported"); /* control characters become spaces */
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(oks_tomb_encode(&t, &b), 0);
    assert_int_equal(oks_tomb_decode(b.data, b.len, FPR, 20, &u, &e), 0);
    assert_int_equal(oks_tomb_cmp(&t, &u), 0);
    assert_true(u.lifted);
    assert_int_equal(u.stamp_ms, 1764900000123ull);
    assert_string_equal(u.who, "admin-1");
    /* every cut is refused, never read past */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(oks_tomb_decode(b.data, n, FPR, 20, &u, &e), 0);
    b.data[0] = 2; /* another format */
    assert_int_equal(oks_tomb_decode(b.data, b.len, FPR, 20, &u, &e), OKS_E_FORMAT);
    oks_buf_release(&b);
}

static void empty_reason_is_named_and_long_ones_cut(void **state)
{
    (void)state;
    oks_tomb t = make(false, 1, NULL, NULL);
    assert_string_equal(t.reason, OKS_TOMB_NO_REASON);
    assert_string_equal(t.who, "-");
    char big[500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    t = make(false, 1, big, big);
    assert_int_equal(strlen(t.reason), OKS_TOMB_MAX_REASON);
    assert_int_equal(strlen(t.who), OKS_TOMB_MAX_WHO);
    oks_err e;
    assert_int_not_equal(oks_tomb_init(&t, FPR, 19, false, 1, "r", 1, "w", &e), 0);
}

static void newer_stamp_wins_and_delete_wins_a_tie(void **state)
{
    (void)state;
    oks_tomb del1 = make(false, 100, "a", "x"), lift2 = make(true, 200, "a", "x"),
             lift1 = make(true, 100, "a", "x"), del1b = make(false, 100, "b", "x");
    assert_true(oks_tomb_cmp(&lift2, &del1) > 0);
    assert_true(oks_tomb_cmp(&del1, &lift2) < 0);
    assert_true(oks_tomb_cmp(&del1, &lift1) > 0); /* same stamp: the delete */
    assert_true(oks_tomb_cmp(&lift1, &del1) < 0);
    /* same stamp and state: the reason decides, the same way from both sides */
    assert_true(oks_tomb_cmp(&del1b, &del1) > 0);
    assert_true(oks_tomb_cmp(&del1, &del1b) < 0);
    /* any order of the same set ends with the same winner */
    oks_tomb all[4] = {del1, lift2, lift1, del1b};
    int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int p = 0; p < 6; p++) {
        oks_tomb w = all[3];
        for (int i = 0; i < 3; i++)
            if (oks_tomb_cmp(&all[perms[p][i]], &w) > 0)
                w = all[perms[p][i]];
        assert_int_equal(oks_tomb_cmp(&w, &lift2), 0);
    }
}

static void hash_tells_tombstones_apart(void **state)
{
    (void)state;
    oks_tomb a = make(false, 100, "a", "x"), b = make(true, 100, "a", "x");
    uint8_t ha[16], hb[16], ha2[16];
    oks_tomb_hash(&a, ha);
    oks_tomb_hash(&b, hb);
    oks_tomb_hash(&a, ha2);
    assert_memory_equal(ha, ha2, 16);
    assert_memory_not_equal(ha, hb, 16);
    /* XOR: order free, and a hash put in and taken out leaves nothing */
    uint8_t d1[16] = {0}, d2[16] = {0}, zero[16] = {0};
    oks_digest_xor(d1, ha);
    oks_digest_xor(d1, hb);
    oks_digest_xor(d2, hb);
    oks_digest_xor(d2, ha);
    assert_memory_equal(d1, d2, 16);
    oks_digest_xor(d1, ha);
    oks_digest_xor(d1, hb);
    assert_memory_equal(d1, zero, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_form_reads_back),
        cmocka_unit_test(empty_reason_is_named_and_long_ones_cut),
        cmocka_unit_test(newer_stamp_wins_and_delete_wins_a_tie),
        cmocka_unit_test(hash_tells_tombstones_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
