/* bench/http: response framing (Content-Length, chunked, close-delimited, HTTP/1.0, malformed)
 * and the loopback-only URL rule of the load client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "bench/http.h"

static int parse(const char *s, size_t n, bool eof, bench_http_resp *r)
{
    return bench_http_parse_response((const uint8_t *)s, n, eof, r);
}

static void response_with_content_length_completes_at_its_end(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1";
    bench_http_resp r;
    size_t full = strlen("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    for (size_t n = 0; n < full; n++)
        assert_int_equal(parse(s, n, false, &r), 0);
    assert_int_equal(parse(s, strlen(s), false, &r), 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.total, full);
    assert_false(r.close);
}

static void chunked_response_completes_after_last_chunk(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\na;x=y\r\n0123456789\r\n0\r\n\r\n";
    bench_http_resp r;
    for (size_t n = 0; n < strlen(s); n++)
        assert_int_equal(parse(s, n, false, &r), 0);
    assert_int_equal(parse(s, strlen(s), false, &r), 1);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.total, strlen(s));
}

static void http10_and_connection_close_mean_close(void **state)
{
    (void)state;
    bench_http_resp r;
    const char *a = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(a, strlen(a), false, &r), 1);
    assert_true(r.close);
    const char *b = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(b, strlen(b), false, &r), 1);
    assert_true(r.close);
    const char *c = "HTTP/1.0 200 OK\r\n\r\nbody until close";
    assert_int_equal(parse(c, strlen(c), false, &r), 0);
    assert_int_equal(parse(c, strlen(c), true, &r), 1);
    assert_int_equal(r.total, strlen(c));
}

static void malformed_or_truncated_responses_are_errors(void **state)
{
    (void)state;
    bench_http_resp r;
    const char *a = "SMTP 220 hello\r\n\r\n";
    assert_int_equal(parse(a, strlen(a), false, &r), -1);
    const char *b = "HTTP/1.1 2x0 OK\r\n\r\n";
    assert_int_equal(parse(b, strlen(b), false, &r), -1);
    const char *c = "HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n";
    assert_int_equal(parse(c, strlen(c), false, &r), -1);
    const char *d = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert_int_equal(parse(d, strlen(d), true, &r), -1);
    const char *e = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_int_equal(parse(e, strlen(e), false, &r), -1);
}

static void only_loopback_urls_are_accepted(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    socklen_t al;
    char host[64], err[128];
    assert_int_equal(bench_http_parse_url("http://127.0.0.1:8080", &a, &al, host, sizeof(host),
                                          err, sizeof(err)), 0);
    assert_string_equal(host, "127.0.0.1:8080");
    assert_int_equal(bench_http_parse_url("http://localhost:11371/", &a, &al, host,
                                          sizeof(host), err, sizeof(err)), 0);
    assert_int_equal(bench_http_parse_url("http://[::1]:80", &a, &al, host, sizeof(host), err,
                                          sizeof(err)), 0);
    assert_int_equal(bench_http_parse_url("http://10.1.2.3:80", &a, &al, host, sizeof(host),
                                          err, sizeof(err)), -1);
    assert_int_equal(bench_http_parse_url("http://example.org:80", &a, &al, host,
                                          sizeof(host), err, sizeof(err)), -1);
    assert_int_equal(bench_http_parse_url("https://127.0.0.1:443", &a, &al, host,
                                          sizeof(host), err, sizeof(err)), -1);
    assert_int_equal(bench_http_parse_url("http://127.0.0.1:99999", &a, &al, host,
                                          sizeof(host), err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(response_with_content_length_completes_at_its_end),
        cmocka_unit_test(chunked_response_completes_after_last_chunk),
        cmocka_unit_test(http10_and_connection_close_mean_close),
        cmocka_unit_test(malformed_or_truncated_responses_are_errors),
        cmocka_unit_test(only_loopback_urls_are_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
