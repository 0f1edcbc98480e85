/* gw-http/hygiene: header blocks a proxy could frame differently, and NUL in request targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw-http/hygiene.h"

#include <string.h>

static const char *headers(const char *raw)
{
    return gw_hygiene_headers(raw, strlen(raw));
}

static void two_different_content_lengths_are_refused(void **state)
{
    (void)state;
    assert_non_null(headers("POST /pks/add HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
                            "content-length: 5\r\n\r\nhello"));
    assert_non_null(headers("POST /pks/add HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\n"
                            "CONTENT-LENGTH: 05\r\n\r\n"));
}

static void a_repeated_equal_content_length_is_accepted(void **state)
{
    (void)state;
    assert_null(headers("POST /pks/add HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"));
    assert_null(headers("POST /pks/add HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
    assert_null(headers("GET / HTTP/1.0\r\n\r\n"));
}

static void content_length_beside_transfer_encoding_is_refused(void **state)
{
    (void)state;
    assert_non_null(headers("POST /pks/add HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                            "Content-Length: 4\r\n\r\n"));
    assert_null(headers("POST /pks/add HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
}

static void an_unparsable_block_is_left_to_h2o(void **state)
{
    (void)state;
    assert_null(gw_hygiene_headers("", 0));
    assert_null(headers("GET / HTTP/1.1\r\nContent-Length: 1\r\n")); /* incomplete */
    assert_null(headers("\x01\x02 garbage"));
}

static void nul_in_a_target_is_refused(void **state)
{
    (void)state;
    static const char raw[] = "/pks/lookup?search=a\0b";
    assert_non_null(gw_hygiene_target(raw, sizeof raw - 1));
    const char *t = "/pks/lookup?op=index&search=alice%00bob";
    assert_non_null(gw_hygiene_target(t, strlen(t)));
    t = "/pks/lookup?op=index&search=%2500"; /* "%00" as text, encoded: fine */
    assert_null(gw_hygiene_target(t, strlen(t)));
    t = "/pks/lookup?op=get&search=0x1000000000000001";
    assert_null(gw_hygiene_target(t, strlen(t)));
    assert_null(gw_hygiene_target("%0", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_different_content_lengths_are_refused),
        cmocka_unit_test(a_repeated_equal_content_length_is_accepted),
        cmocka_unit_test(content_length_beside_transfer_encoding_is_refused),
        cmocka_unit_test(an_unparsable_block_is_left_to_h2o),
        cmocka_unit_test(nul_in_a_target_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
