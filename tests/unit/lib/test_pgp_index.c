/* lib/pgp_index: mr index lines (OKS escaping rule), e-mail extraction, SKS word splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/pgp.h"

/* RFC 9580 A.1 v4 Ed25519Legacy public key packet body */
static const uint8_t A1_KEY[] = {
    0x04, 0x53, 0xf3, 0x5f, 0x0b, 0x16, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f,
    0x01, 0x01, 0x07, 0x40, 0x3f, 0x09, 0x89, 0x94, 0xbd, 0xd9, 0x16, 0xed, 0x40, 0x53, 0x19,
    0x79, 0x34, 0xe4, 0xa8, 0x7c, 0x80, 0x73, 0x3a, 0x12, 0x80, 0xd6, 0x2f, 0x80, 0x10, 0x99,
    0x2e, 0x43, 0xee, 0x3b, 0x24, 0x06};

static oks_pgp_key *key_with_uid(const char *uid, bool with_uat)
{
    oks_buf b = OKS_BUF_INIT;
    oks_pgp_packet_write(&b, 6, A1_KEY, sizeof A1_KEY, false);
    oks_pgp_packet_write(&b, 13, (const uint8_t *)uid, strlen(uid), false);
    if (with_uat)
        oks_pgp_packet_write(&b, 17, (const uint8_t *)"\x05\x01xyz", 5, false);
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, NULL), 0);
    oks_buf_release(&b);
    return k;
}

static void v4_legacy_eddsa_key_fields(void **state)
{
    (void)state;
    oks_pgp_key *k = key_with_uid("x", false);
    char hex[41];
    oks_hex(hex, k->primary.fpr, 20, 0);
    assert_string_equal(hex, "c959bdbafa32a2f89a153b678cfde12197965a9a");
    assert_int_equal(k->primary.bits, 255);
    assert_string_equal(k->primary.curve, "ed25519");
    assert_int_equal(k->primary.created, 0x53f35f0b);
    oks_pgp_key_free(k);
}

static void mr_index_escapes_percent_colon_and_non_ascii(void **state)
{
    (void)state;
    oks_pgp_key *k = key_with_uid("Perc %41 Colon: \xc3\x9cn\xc3\xaf <pc@example.org>\x7f\x01", true);
    oks_buf out = OKS_BUF_INIT;
    assert_int_equal(oks_pgp_key_mr_index(k, &out), 0);
    oks_buf_terminate(&out);
    assert_string_equal((char *)out.data,
                        "pub:C959BDBAFA32A2F89A153B678CFDE12197965A9A:22:256:1408458507::\n"
                        "uat::::\n"
                        "uid:Perc %2541 Colon%3A %C3%9Cn%C3%AF <pc@example.org>%7F%01:::\n");
    oks_pgp_key_free(k);
    oks_buf_release(&out);
}

static void uid_email_is_extracted_and_lowercased(void **state)
{
    (void)state;
    char out[64];
    const char *u1 = "Alice Example (work) <Alice.X@Example.ORG>";
    assert_int_equal(oks_pgp_uid_email((const uint8_t *)u1, strlen(u1), out, sizeof out), 19);
    assert_string_equal(out, "alice.x@example.org");
    const char *u2 = "  bob@example.net ";
    assert_int_equal(oks_pgp_uid_email((const uint8_t *)u2, strlen(u2), out, sizeof out), 15);
    assert_string_equal(out, "bob@example.net");
    const char *none[] = {"No Address", "Broken <a@b", "Empty <>", "<@x>", "x <a b@c>"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(oks_pgp_uid_email((const uint8_t *)none[i], strlen(none[i]), out,
                                           sizeof out), 0);
    assert_int_equal(oks_pgp_uid_email((const uint8_t *)u1, strlen(u1), out, 10), 0);
}

static void collect(const char *w, size_t n, void *arg)
{
    oks_buf *b = arg;
    oks_buf_append(b, w, n);
    oks_buf_putc(b, '|');
}

static void words_split_like_sks(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    const char *t = "Perc Colon: \xc3\x9cn\xc3\xaf <PC@example.org>";
    oks_pgp_words((const uint8_t *)t, strlen(t), collect, &b);
    oks_buf_terminate(&b);
    /* 0xC3 lead bytes belong to words, 0x9C / 0xAF continuation bytes split them */
    assert_string_equal((char *)b.data, "perc|colon|\xc3|n\xc3|pc|example|org|");
    oks_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v4_legacy_eddsa_key_fields),
        cmocka_unit_test(mr_index_escapes_percent_colon_and_non_ascii),
        cmocka_unit_test(uid_email_is_extracted_and_lowercased),
        cmocka_unit_test(words_split_like_sks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
