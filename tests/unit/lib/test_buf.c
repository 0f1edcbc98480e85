/* lib/buf and lib/err: growth, hex round trips, error formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"

static void buf_grows_and_terminates(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(oks_buf_printf(&b, "%d,", i), 0);
    assert_int_equal(oks_buf_terminate(&b), 0);
    assert_true(strncmp((char *)b.data, "0,1,2,", 6) == 0);
    assert_int_equal(strlen((char *)b.data), b.len);
    oks_buf_release(&b);
    assert_null(b.data);
}

static void hex_round_trip_and_rejects_bad_digits(void **state)
{
    (void)state;
    uint8_t in[4] = {0x00, 0xAB, 0x7f, 0xff}, out[4];
    char hex[9];
    oks_hex(hex, in, 4, 1);
    assert_string_equal(hex, "00AB7FFF");
    assert_int_equal(oks_unhex(out, "00ab7fFF", 4), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(oks_unhex(out, "00ag7fff", 4), -1);
}

static void be64_round_trip_is_big_endian(void **state)
{
    (void)state;
    uint8_t b[8];
    oks_put_be64(b, 0x0102030405060708ull);
    static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b, want, 8);
    assert_true(oks_be64(b) == 0x0102030405060708ull);
    oks_put_be64(b, UINT64_MAX - 1);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(b[7], 0xfe);
    assert_true(oks_be64(b) == UINT64_MAX - 1);
}

static void err_names_offset(void **state)
{
    (void)state;
    oks_err e;
    char msg[300];
    assert_int_equal(oks_err_set(&e, OKS_E_TRUNCATED, 17, "packet length %d", 5), OKS_E_TRUNCATED);
    oks_err_format(&e, msg, sizeof msg);
    assert_string_equal(msg, "truncated: packet length 5 (at byte 17)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_terminates),
        cmocka_unit_test(hex_round_trip_and_rejects_bad_digits),
        cmocka_unit_test(be64_round_trip_is_big_endian),
        cmocka_unit_test(err_names_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
