/* lib/pgp_packet: every header and length form, rejections, and writer round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/pgp.h"

static void old_format_one_two_four_octet_lengths(void **state)
{
    (void)state;
    /* tag 13: one-octet len 2; tag 2 two-octet len 3; tag 14 four-octet len 1 */
    const uint8_t in[] = {0xb4, 2, 'a', 'b', 0x89, 0, 3, 1, 2, 3, 0xba, 0, 0, 0, 1, 9};
    size_t off = 0;
    oks_pgp_packet p;
    oks_err e;
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), 0);
    assert_int_equal(p.tag, 13);
    assert_false(p.new_format);
    assert_int_equal(p.len, 2);
    assert_int_equal(p.header_len, 2);
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), 0);
    assert_int_equal(p.tag, 2);
    assert_int_equal(p.len, 3);
    assert_int_equal(p.offset, 4);
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), 0);
    assert_int_equal(p.tag, 14);
    assert_int_equal(p.len, 1);
    assert_int_equal(p.body[0], 9);
    assert_int_equal(off, sizeof in);
}

static void new_format_one_two_five_octet_lengths(void **state)
{
    (void)state;
    uint8_t in[16 + 200 + 8];
    size_t n = 0;
    in[n++] = 0xcd; /* tag 13 */
    in[n++] = 1;
    in[n++] = 'x';
    in[n++] = 0xc2; /* tag 2, two-octet: 192 + 8 = 200 */
    in[n++] = 192;
    in[n++] = 8;
    memset(in + n, 7, 200);
    n += 200;
    in[n++] = 0xd1; /* tag 17, five-octet length 2 */
    in[n++] = 255;
    in[n++] = 0;
    in[n++] = 0;
    in[n++] = 0;
    in[n++] = 2;
    in[n++] = 1;
    in[n++] = 2;
    size_t off = 0;
    oks_pgp_packet p;
    assert_int_equal(oks_pgp_packet_next(in, n, &off, &p, NULL), 0);
    assert_true(p.new_format);
    assert_int_equal(p.tag, 13);
    assert_int_equal(oks_pgp_packet_next(in, n, &off, &p, NULL), 0);
    assert_int_equal(p.tag, 2);
    assert_int_equal(p.len, 200);
    assert_int_equal(p.header_len, 3);
    assert_int_equal(oks_pgp_packet_next(in, n, &off, &p, NULL), 0);
    assert_int_equal(p.tag, 17);
    assert_int_equal(p.len, 2);
    assert_int_equal(p.header_len, 6);
    assert_int_equal(off, n);
}

static void partial_length_is_rejected(void **state)
{
    (void)state;
    uint8_t in[600] = {0xc2, 0xe9}; /* partial chunk of 512 */
    size_t off = 0;
    oks_pgp_packet p;
    oks_err e;
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "partial"));
    assert_int_equal(e.offset, 0);
    assert_int_equal(off, 0);
}

static void indeterminate_length_is_rejected(void **state)
{
    (void)state;
    const uint8_t in[] = {0x8b, 1, 2, 3}; /* old format tag 2, length type 3 */
    size_t off = 0;
    oks_pgp_packet p;
    oks_err e;
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "indeterminate"));
}

static void length_past_end_names_offset(void **state)
{
    (void)state;
    const uint8_t in[] = {0xb4, 1, 'a', 0xb4, 5, 'a', 'b'};
    size_t off = 0;
    oks_pgp_packet p;
    oks_err e;
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), 0);
    assert_int_equal(oks_pgp_packet_next(in, sizeof in, &off, &p, &e), OKS_E_TRUNCATED);
    assert_int_equal(e.offset, 3);
    assert_int_equal(off, 3);
}

static void truncated_length_octets_are_errors(void **state)
{
    (void)state;
    const uint8_t a[] = {0x89, 0};          /* two-octet length, one present */
    const uint8_t b[] = {0xc2, 255, 0, 0};  /* five-octet length cut */
    const uint8_t c[] = {0xc2, 200};        /* two-octet new length cut */
    const uint8_t d[] = {0xb4};             /* no length at all */
    oks_pgp_packet p;
    size_t off = 0;
    assert_int_equal(oks_pgp_packet_next(a, sizeof a, &off, &p, NULL), OKS_E_TRUNCATED);
    off = 0;
    assert_int_equal(oks_pgp_packet_next(b, sizeof b, &off, &p, NULL), OKS_E_TRUNCATED);
    off = 0;
    assert_int_equal(oks_pgp_packet_next(c, sizeof c, &off, &p, NULL), OKS_E_TRUNCATED);
    off = 0;
    assert_int_equal(oks_pgp_packet_next(d, sizeof d, &off, &p, NULL), OKS_E_TRUNCATED);
}

static void header_without_bit7_and_tag0_are_rejected(void **state)
{
    (void)state;
    const uint8_t a[] = {0x34, 0};
    const uint8_t b[] = {0xc0, 0};
    oks_pgp_packet p;
    size_t off = 0;
    assert_int_equal(oks_pgp_packet_next(a, sizeof a, &off, &p, NULL), OKS_E_FORMAT);
    off = 0;
    assert_int_equal(oks_pgp_packet_next(b, sizeof b, &off, &p, NULL), OKS_E_FORMAT);
}

static void writer_round_trips_every_length_form(void **state)
{
    (void)state;
    static uint8_t body[70000];
    const size_t lens[] = {0, 1, 191, 192, 255, 256, 8383, 8384, 65535, 65536, 70000};
    for (int nf = 0; nf < 2; nf++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            oks_buf b = OKS_BUF_INIT;
            memset(body, (int)i, lens[i]);
            assert_int_equal(oks_pgp_packet_write(&b, 13, body, lens[i], nf), 0);
            size_t off = 0;
            oks_pgp_packet p;
            assert_int_equal(oks_pgp_packet_next(b.data, b.len, &off, &p, NULL), 0);
            assert_int_equal(p.tag, 13);
            assert_int_equal(p.new_format, nf);
            assert_int_equal(p.len, lens[i]);
            assert_int_equal(off, b.len);
            oks_buf_release(&b);
        }
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_pgp_packet_write(&b, 17, body, 3, false), 0);
    assert_int_equal(b.data[0], 0xc0 | 17); /* tags >= 16 always new format */
    oks_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_format_one_two_four_octet_lengths),
        cmocka_unit_test(new_format_one_two_five_octet_lengths),
        cmocka_unit_test(partial_length_is_rejected),
        cmocka_unit_test(indeterminate_length_is_rejected),
        cmocka_unit_test(length_past_end_names_offset),
        cmocka_unit_test(truncated_length_octets_are_errors),
        cmocka_unit_test(header_without_bit7_and_tag0_are_rejected),
        cmocka_unit_test(writer_round_trips_every_length_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
