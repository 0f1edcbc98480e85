/* lib/armor: decode variants (headers, CRLF, CRC present/absent/wrong, several blocks, text
 * around), errors with offsets, encode/decode round trips, and armor detection after other text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/pgp.h"

/* "hello" = aGVsbG8=, CRC24("hello") */
#define BLOCK_FMT                                                                                  \
    "-----BEGIN PGP PUBLIC KEY BLOCK-----%s%s%saGVsbG8=%s%s-----END PGP PUBLIC KEY BLOCK-----%s"

static char crc_line[8];

static void make_crc_line(void)
{
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_armor_encode((const uint8_t *)"hello", 5, &b), 0);
    oks_buf_terminate(&b);
    const char *eq = strstr((char *)b.data, "\n=");
    assert_non_null(eq);
    memcpy(crc_line, eq + 1, 5);
    crc_line[5] = '\0';
    oks_buf_release(&b);
}

static int decode_str(const char *text, oks_buf *out, oks_err *e, size_t *off)
{
    size_t o = 0;
    int r = oks_armor_decode(text, strlen(text), off ? off : &o, out, e);
    return r;
}

static void decodes_with_headers_and_crc(void **state)
{
    (void)state;
    make_crc_line();
    char t[512];
    char crc[16];
    snprintf(crc, sizeof crc, "%s\n", crc_line);
    snprintf(t, sizeof t, BLOCK_FMT, "\n", "Version: x\nComment: a: b\n", "\n", "\n", crc, "\n");
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(decode_str(t, &b, NULL, NULL), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    oks_buf_release(&b);
}

static void decodes_crlf_and_trailing_whitespace(void **state)
{
    (void)state;
    make_crc_line();
    char t[512], crc[16];
    snprintf(crc, sizeof crc, "%s \r\n", crc_line);
    snprintf(t, sizeof t, BLOCK_FMT, "  \r\n", "Comment: x\r\n", "\r\n", " \t\r\n", crc, "\r\n");
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(decode_str(t, &b, NULL, NULL), 0);
    assert_memory_equal(b.data, "hello", 5);
    oks_buf_release(&b);
}

static void missing_crc_and_missing_blank_line_are_accepted(void **state)
{
    (void)state;
    char t[512];
    snprintf(t, sizeof t, BLOCK_FMT, "\n", "", "", "\n", "", "\n");
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(decode_str(t, &b, NULL, NULL), 0);
    assert_int_equal(b.len, 5);
    oks_buf_release(&b);
}

static void wrong_crc_is_rejected(void **state)
{
    (void)state;
    char t[512];
    snprintf(t, sizeof t, BLOCK_FMT, "\n", "", "\n", "\n", "=AAAA\n", "\n");
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(decode_str(t, &b, &e, NULL), OKS_E_CRC);
    assert_int_equal(e.offset, 0);
    assert_int_equal(b.len, 0);
    oks_buf_release(&b);
}

static void malformed_crc_line_and_bad_characters_are_rejected(void **state)
{
    (void)state;
    char t[512];
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    snprintf(t, sizeof t, BLOCK_FMT, "\n", "", "\n", "\n", "=AAA\n", "\n");
    assert_int_equal(decode_str(t, &b, &e, NULL), OKS_E_ARMOR);
    const char *bad = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGV*bG8=\n"
                      "-----END PGP PUBLIC KEY BLOCK-----\n";
    assert_int_equal(decode_str(bad, &b, &e, NULL), OKS_E_ARMOR);
    assert_int_equal(e.offset, strstr(bad, "*") - bad);
    assert_int_equal(b.len, 0);
    oks_buf_release(&b);
}

static void missing_end_line_is_an_error(void **state)
{
    (void)state;
    const char *t = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n";
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    size_t off = 0;
    assert_int_equal(decode_str(t, &b, &e, &off), OKS_E_ARMOR);
    assert_true(off > 0); /* the caller can go on after the BEGIN line */
    assert_int_equal(decode_str(t + off, &b, &e, NULL), 1);
    oks_buf_release(&b);
}

static void several_blocks_with_text_around(void **state)
{
    (void)state;
    char one[256], t[1024];
    snprintf(one, sizeof one, BLOCK_FMT, "\n", "", "\n", "\n", "", "\n");
    snprintf(t, sizeof t, "Hello, here are keys:\n%s\nand another\n%sbye\n", one, one);
    oks_buf b = OKS_BUF_INIT;
    size_t off = 0;
    assert_int_equal(oks_armor_decode(t, strlen(t), &off, &b, NULL), 0);
    assert_int_equal(oks_armor_decode(t, strlen(t), &off, &b, NULL), 0);
    assert_int_equal(oks_armor_decode(t, strlen(t), &off, &b, NULL), 1);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "hellohello", 10);
    oks_buf_release(&b);
}

static void other_block_types_are_not_public_keys(void **state)
{
    (void)state;
    const char *t = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\naGVsbG8=\n"
                    "-----END PGP PRIVATE KEY BLOCK-----\n";
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(decode_str(t, &b, NULL, NULL), 1);
    assert_true(oks_armor_detect((const uint8_t *)t, strlen(t)));
    assert_false(oks_armor_detect((const uint8_t *)"\x99\x01", 2));
    oks_buf_release(&b);
}

/* The one detector every entry point uses: armor after any text (a mail, a web page, a form
 * dump) is armor; binary packets are not, even when a user ID holds an armor line. */
static void detects_armor_after_other_text(void **state)
{
    (void)state;
    oks_buf arm = OKS_BUF_INIT;
    assert_int_equal(oks_armor_encode((const uint8_t *)"hello", 5, &arm), 0);
    static const char *const before[] = {
        "",
        "  \r\n\n",
        "From: a@example.org\nSubject: my key\n\nHi, here it is:\n\n",
        "<html><body><pre>\n",
        "keytext=%2D%2D&x=1\nkeytext:\n",
    };
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        oks_buf t = OKS_BUF_INIT, out = OKS_BUF_INIT;
        oks_buf_append(&t, before[i], strlen(before[i]));
        oks_buf_append(&t, arm.data, arm.len);
        oks_buf_append(&t, "-- \nsignature\n", 14);
        assert_true(oks_armor_detect(t.data, t.len));
        size_t off = 0;
        assert_int_equal(oks_armor_decode((const char *)t.data, t.len, &off, &out, NULL), 0);
        assert_int_equal(out.len, 5);
        assert_memory_equal(out.data, "hello", 5);
        oks_buf_release(&t);
        oks_buf_release(&out);
    }
    /* binary: a tag-6 packet header first, an armor line inside a "user ID" */
    static const uint8_t bin[] = "\x98\x01\x04\xb4\x26-----BEGIN PGP PUBLIC KEY BLOCK-----\n";
    assert_false(oks_armor_detect(bin, sizeof bin - 1));
    assert_false(oks_armor_detect((const uint8_t *)"", 0));
    assert_false(oks_armor_detect((const uint8_t *)"plain text, no armor\n", 21));
    oks_buf_release(&arm);
}

static void encode_decode_round_trip_all_tail_lengths(void **state)
{
    (void)state;
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 1; n < sizeof data; n += 1) {
        oks_buf a = OKS_BUF_INIT, d = OKS_BUF_INIT;
        assert_int_equal(oks_armor_encode(data, n, &a), 0);
        size_t off = 0;
        assert_int_equal(oks_armor_decode((char *)a.data, a.len, &off, &d, NULL), 0);
        assert_int_equal(off, a.len);
        assert_int_equal(d.len, n);
        assert_memory_equal(d.data, data, n);
        /* 64-column lines */
        oks_buf_terminate(&a);
        for (char *l = strchr((char *)a.data, '\n'); l; l = strchr(l + 1, '\n')) {
            char *nx = strchr(l + 1, '\n');
            if (nx)
                assert_true(nx - l - 1 <= 64);
        }
        oks_buf_release(&a);
        oks_buf_release(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_with_headers_and_crc),
        cmocka_unit_test(decodes_crlf_and_trailing_whitespace),
        cmocka_unit_test(missing_crc_and_missing_blank_line_are_accepted),
        cmocka_unit_test(wrong_crc_is_rejected),
        cmocka_unit_test(malformed_crc_line_and_bad_characters_are_rejected),
        cmocka_unit_test(missing_end_line_is_an_error),
        cmocka_unit_test(several_blocks_with_text_around),
        cmocka_unit_test(other_block_types_are_not_public_keys),
        cmocka_unit_test(encode_decode_round_trip_all_tail_lengths),
        cmocka_unit_test(detects_armor_after_other_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
