/* lib/cluster slots: slot lists as written in the config, the key ID a fingerprint routes by
 * (checked against lib/pgp's own key ID of real keys), and how evenly key IDs spread over slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster.h"
#include "lib/pgp.h"

static void slot_lists_take_ranges_and_single_slots(void **state)
{
    (void)state;
    uint16_t owner[16];
    memset(owner, 0xff, sizeof owner);
    oks_err e;
    assert_int_equal(oks_slots_parse("0-3, 5,7-9", 16, owner, 2, &e), 0);
    for (unsigned s = 0; s < 16; s++) {
        int mine = s <= 3 || s == 5 || (s >= 7 && s <= 9);
        assert_int_equal(owner[s], mine ? 2 : UINT16_MAX);
    }
    assert_int_equal(oks_slots_parse("4,6,10-15", 16, owner, 3, &e), 0);
    for (unsigned s = 0; s < 16; s++)
        assert_true(owner[s] != UINT16_MAX);
}

static void malformed_slot_lists_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"a", "3-", "5-2", "1-2x", "-1", "0-16", "16", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t owner[16];
        memset(owner, 0xff, sizeof owner);
        oks_err e;
        oks_err_clear(&e);
        assert_int_equal(oks_slots_parse(bad[i], 16, owner, 0, &e), OKS_E_FORMAT);
        assert_true(e.msg[0] != '\0');
    }
    uint16_t owner[16];
    memset(owner, 0xff, sizeof owner);
    oks_err e;
    assert_int_equal(oks_slots_parse("0-7", 16, owner, 0, &e), 0);
    assert_int_equal(oks_slots_parse("7-8", 16, owner, 1, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 7"));
}

static void routing_key_id_is_the_key_id_of_real_keys(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/keyrings/debian-keyring.gpg", "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t off = 0, checked = 0;
    oks_slice k;
    oks_err e;
    int r;
    /* the keys wholly inside the first MiB; a cut key at the end is skipped */
    while ((r = oks_pgp_split_next(buf, n, &off, &k, &e)) != 1 && off < n) {
        if (r)
            continue;
        oks_pgp_key *key = NULL;
        if (oks_pgp_key_parse(k.ptr, k.len, NULL, OKS_PGP_TRUSTED, &key, &e))
            continue;
        uint8_t kid[8];
        if (key->primary.version == 4) {
            assert_int_equal(oks_keyid_of_fpr(key->primary.fpr, key->primary.fpr_len, kid), 0);
            assert_memory_equal(kid, key->primary.keyid, 8);
            checked++;
        }
        for (size_t i = 0; i < key->n_subkeys; i++)
            if (key->subkeys[i].key.version == 4) {
                assert_int_equal(oks_keyid_of_fpr(key->subkeys[i].key.fpr,
                                                  key->subkeys[i].key.fpr_len, kid), 0);
                assert_memory_equal(kid, key->subkeys[i].key.keyid, 8);
            }
        oks_pgp_key_free(key);
    }
    assert_true(checked >= 10);
}

static void key_ids_spread_evenly_over_four_shards(void **state)
{
    (void)state;
    /* four shards of 1024 slots each; 400k key IDs from a fixed xorshift sequence */
    unsigned count[4] = {0};
    uint64_t x = 0x9e3779b97f4a7c15u;
    const unsigned n = 400000;
    for (unsigned i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint8_t kid[8];
        for (int b = 0; b < 8; b++)
            kid[b] = (uint8_t)(x >> (56 - 8 * b));
        unsigned slot = oks_slot_of_keyid(kid, 4096);
        assert_true(slot < 4096);
        count[slot / 1024]++;
    }
    for (int s = 0; s < 4; s++) {
        assert_true(count[s] > n / 4 - n / 100);
        assert_true(count[s] < n / 4 + n / 100);
    }
}

static void slot_order_follows_the_key_id(void **state)
{
    (void)state;
    uint8_t lo[8] = {0}, hi[8], mid[8] = {0x80};
    memset(hi, 0xff, sizeof hi);
    assert_int_equal(oks_slot_of_keyid(lo, 4096), 0);
    assert_int_equal(oks_slot_of_keyid(hi, 4096), 4095);
    assert_int_equal(oks_slot_of_keyid(mid, 4096), 2048);
    assert_int_equal(oks_slot_of_keyid(hi, 7), 6);
    assert_int_equal(oks_slot_of_keyid(hi, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slot_lists_take_ranges_and_single_slots),
        cmocka_unit_test(malformed_slot_lists_are_refused),
        cmocka_unit_test(routing_key_id_is_the_key_id_of_real_keys),
        cmocka_unit_test(key_ids_spread_evenly_over_four_shards),
        cmocka_unit_test(slot_order_follows_the_key_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
