/* gw-mail/cmd_get.c: what a GET/INDEX argument asks the cluster (fingerprint, key ID, e-mail or
 * words search). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-mail/cmd.h"

static const char fpr40[] = "0123456789ABCDEF0123456789abcdef01234567";

static void forty_or_sixty_four_hex_digits_are_a_fingerprint(void **state)
{
    (void)state;
    oks_mail_lookup l;
    oks_mail_lookup_build(&l, fpr40, 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_GET_FINGERPRINT);
    assert_ptr_equal(l.q.get_fingerprint, &l.gf);
    assert_int_equal(l.gf.fingerprint.len, 20);
    assert_int_equal(l.gf.fingerprint.data[0], 0x01);
    assert_int_equal(l.gf.fingerprint.data[19], 0x67);
    assert_true(l.gf.subkeys);
    /* 0x prefix and spaces (as gpg prints fingerprints) */
    oks_mail_lookup_build(&l, "0x0123 4567 89AB CDEF 0123  4567 89ab cdef 0123 4567", 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_GET_FINGERPRINT);
    assert_int_equal(l.gf.fingerprint.len, 20);
    char v6[65];
    memset(v6, 'a', 64);
    v6[64] = '\0';
    oks_mail_lookup_build(&l, v6, 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_GET_FINGERPRINT);
    assert_int_equal(l.gf.fingerprint.len, 32);
}

static void prefixed_eight_or_sixteen_hex_digits_are_a_key_id(void **state)
{
    (void)state;
    oks_mail_lookup l;
    oks_mail_lookup_build(&l, "0xDEADBEEF", 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_GET_KEY_ID);
    assert_int_equal(l.gk.key_id.len, 4);
    assert_int_equal(l.gk.key_id.data[0], 0xde);
    oks_mail_lookup_build(&l, "0X0123456789abcdef", 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_GET_KEY_ID);
    assert_int_equal(l.gk.key_id.len, 8);
    /* without 0x, eight hex digits are a word ("deadbeef" is a name too) */
    oks_mail_lookup_build(&l, "DEADBEEF", 20);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_SEARCH);
    assert_int_equal(l.s.kind, OKS__SEARCH_KIND__SEARCH_WORDS);
}

static void other_arguments_are_a_search_of_at_most_limit_keys(void **state)
{
    (void)state;
    oks_mail_lookup l;
    oks_mail_lookup_build(&l, "alice@example.org", 7);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_SEARCH);
    assert_ptr_equal(l.q.search, &l.s);
    assert_int_equal(l.s.kind, OKS__SEARCH_KIND__SEARCH_EMAIL);
    assert_string_equal(l.s.text, "alice@example.org");
    assert_int_equal(l.s.limit, 7);
    oks_mail_lookup_build(&l, "Alice alice@example.org", 7);
    assert_int_equal(l.s.kind, OKS__SEARCH_KIND__SEARCH_WORDS);
    oks_mail_lookup_build(&l, "0x0123456789", 7); /* 10 digits: neither */
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_SEARCH);
    oks_mail_lookup_build(&l, "0123456789ABCDEF0123456789abcdef0123456g", 7);
    assert_int_equal(l.q.op_case, OKS__REQUEST__OP_SEARCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forty_or_sixty_four_hex_digits_are_a_fingerprint),
        cmocka_unit_test(prefixed_eight_or_sixteen_hex_digits_are_a_key_id),
        cmocka_unit_test(other_arguments_are_a_search_of_at_most_limit_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
