/* Malformed input for the whole OpenPGP core: every truncation of a real key, lengths past the
 * end, absurd counts and lengths, random bytes, bad armor. Every call must return (0 or an
 * error with a message); the ASan+UBSan build of this test catches any memory error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/pgp.h"

static void load_sample(oks_buf *bin)
{
    FILE *f = fopen("tests/data/rfc9580-a3.asc", "rb");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    size_t off = 0;
    assert_int_equal(oks_armor_decode(text, n, &off, bin, NULL), 0);
}

static void exercise(const uint8_t *p, size_t n)
{
    oks_pgp_key *k = NULL;
    oks_err e;
    oks_err_clear(&e);
    int r = oks_pgp_key_parse(p, n, NULL, 0, &k, &e);
    if (r == 0) {
        oks_buf b = OKS_BUF_INIT;
        uint8_t h[16];
        oks_pgp_key_serialize(k, &b);
        oks_pgp_key_sks_hash(k, h);
        oks_pgp_key_mr_index(k, &b);
        oks_pgp_key_free(k);
        oks_buf_release(&b);
    } else {
        assert_null(k);
        assert_true(e.msg[0] != '\0');
        assert_int_equal(e.code, r);
    }
    size_t off = 0;
    oks_slice s;
    for (int i = 0; i < 1000 && oks_pgp_split_next(p, n, &off, &s, NULL) != 1; i++)
        ;
}

static void every_truncation_of_a_key_is_an_error_with_offset(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    load_sample(&bin);
    for (size_t n = 1; n < bin.len; n++) {
        oks_pgp_key *k = NULL;
        oks_err e;
        int r = oks_pgp_key_parse(bin.data, n, NULL, 0, &k, &e);
        /* a cut at a packet boundary is a shorter valid key; anywhere else it is truncated */
        if (r != 0) {
            assert_int_equal(r, OKS_E_TRUNCATED);
            assert_true(e.offset < n);
        }
        oks_pgp_key_free(k);
        exercise(bin.data, n);
    }
    oks_buf_release(&bin);
}

static void every_byte_flip_of_a_key_is_handled(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    load_sample(&bin);
    for (size_t i = 0; i < bin.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            bin.data[i] ^= (uint8_t)(1 << bit);
            exercise(bin.data, bin.len);
            bin.data[i] ^= (uint8_t)(1 << bit);
        }
    oks_buf_release(&bin);
}

static void absurd_lengths_are_rejected(void **state)
{
    (void)state;
    /* five-octet length of 4 GiB - 1 */
    const uint8_t huge[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0xff, 6, 0};
    oks_pgp_key *k;
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(huge, sizeof huge, NULL, 0, &k, &e), OKS_E_TRUNCATED);
    /* v6 key whose material length field says 0xffffffff */
    const uint8_t v6[] = {0xc6, 12, 6, 0, 0, 0, 1, 27, 0xff, 0xff, 0xff, 0xff, 1, 2};
    assert_int_equal(oks_pgp_key_parse(v6, sizeof v6, NULL, 0, &k, &e), OKS_E_FORMAT);
    /* RSA MPI claiming 65535 bits in a 4-byte body */
    const uint8_t rsa[] = {0x98, 10, 4, 0, 0, 0, 1, 1, 0xff, 0xff, 1, 2};
    assert_int_equal(oks_pgp_key_parse(rsa, sizeof rsa, NULL, 0, &k, &e), OKS_E_FORMAT);
    /* ECC OID length 255 */
    const uint8_t ecc[] = {0x98, 8, 4, 0, 0, 0, 1, 22, 0xff, 1};
    assert_int_equal(oks_pgp_key_parse(ecc, sizeof ecc, NULL, 0, &k, &e), OKS_E_FORMAT);
}

static void absurd_signature_fields_are_rejected(void **state)
{
    (void)state;
    oks_pgp_sig s;
    oks_err e;
    /* hashed area length 0xffff in a short body */
    const uint8_t a[] = {4, 0x13, 22, 8, 0xff, 0xff, 0};
    assert_int_equal(oks_pgp_sig_parse(a, sizeof a, 7, &s, &e), OKS_E_TRUNCATED);
    assert_int_equal(e.offset, 7);
    /* subpacket with a five-octet length past its area */
    const uint8_t b[] = {4, 0x13, 22, 8, 0, 6, 0xff, 0x7f, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0};
    assert_int_equal(oks_pgp_sig_parse(b, sizeof b, 0, &s, &e), OKS_E_TRUNCATED);
    /* v6 hashed length 0xffffffff */
    const uint8_t c[] = {6, 0x1f, 27, 10, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(oks_pgp_sig_parse(c, sizeof c, 0, &s, &e), OKS_E_TRUNCATED);
    /* v6 salt longer than the rest */
    const uint8_t d[] = {6, 0x1f, 27, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 200, 1};
    assert_int_equal(oks_pgp_sig_parse(d, sizeof d, 0, &s, &e), OKS_E_TRUNCATED);
    /* unknown version */
    const uint8_t v5[] = {5, 0x13, 22, 8, 0, 0, 0, 0, 1, 2};
    assert_int_equal(oks_pgp_sig_parse(v5, sizeof v5, 0, &s, &e), OKS_E_UNSUPPORTED);
}

static void random_bytes_never_crash(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    uint8_t buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        /* make many inputs start like a key so assembly is reached */
        if (n > 2 && (iter & 1)) {
            buf[0] = 0x98;
            buf[1] = (uint8_t)(n / 4);
        }
        exercise(buf, n);
        oks_buf out = OKS_BUF_INIT;
        size_t off = 0;
        for (int i = 0; i < 8 && oks_armor_decode((char *)buf, n, &off, &out, NULL) != 1; i++)
            ;
        oks_buf_release(&out);
    }
}

static void bad_armor_gives_errors(void **state)
{
    (void)state;
    const char *cases[] = {
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\naGVs\n-----END PGP PUBLIC KEY BLOCK-----\n",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n=AAAA\naGVs\n"
        "-----END PGP PUBLIC KEY BLOCK-----\n",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsb\n-----END PGP PUBLIC KEY BLOCK-----\n",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n\xff\xfe\n-----END PGP PUBLIC KEY BLOCK-----\n",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oks_buf out = OKS_BUF_INIT;
        oks_err e;
        size_t off = 0;
        int r = oks_armor_decode(cases[i], strlen(cases[i]), &off, &out, &e);
        if (r != OKS_E_ARMOR && r != OKS_E_CRC)
            fail_msg("case %zu: got %d", i, r);
        assert_true(e.offset < strlen(cases[i]));
        assert_int_equal(out.len, 0);
        oks_buf_release(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_truncation_of_a_key_is_an_error_with_offset),
        cmocka_unit_test(every_byte_flip_of_a_key_is_handled),
        cmocka_unit_test(absurd_lengths_are_rejected),
        cmocka_unit_test(absurd_signature_fields_are_rejected),
        cmocka_unit_test(random_bytes_never_crash),
        cmocka_unit_test(bad_armor_gives_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
