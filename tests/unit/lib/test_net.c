/* lib/net: HOST:PORT, port parsing and address networks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/net.h"

static void hostport_accepts_names_ipv4_and_bracketed_ipv6(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 0;
    oks_err e;
    assert_int_equal(oks_hostport_split("127.0.0.1:11371", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 11371);
    assert_int_equal(oks_hostport_split("keys.example.org:1", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "keys.example.org");
    assert_int_equal(port, 1);
    assert_int_equal(oks_hostport_split("[::1]:65535", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(oks_hostport_split("[2001:db8::7]:11370", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "2001:db8::7");
    assert_int_equal(port, 11370);
}

/* every refusal is OKS_E_FORMAT with a message, and leaves the outputs alone */
static void refused(const char *s, const char *why)
{
    char host[16] = "untouched";
    unsigned port = 7;
    oks_err e;
    oks_err_clear(&e);
    assert_int_equal(oks_hostport_split(s, host, sizeof host, &port, &e), OKS_E_FORMAT);
    assert_int_equal(e.code, OKS_E_FORMAT);
    if (strstr(e.msg, why) == NULL)
        fail_msg("'%s': message \"%s\" does not say \"%s\"", s, e.msg, why);
    assert_string_equal(host, "untouched");
    assert_int_equal(port, 7);
}

static void hostport_refuses_missing_port(void **state)
{
    (void)state;
    refused("127.0.0.1", "no port");
    refused("127.0.0.1:", "port must be");
    refused("[::1]", "no ']:'");
    refused("[::1]:", "port must be");
    refused("", "no port");
}

static void hostport_refuses_port_out_of_range(void **state)
{
    (void)state;
    refused("127.0.0.1:0", "1 to 65535");
    refused("127.0.0.1:65536", "1 to 65535");
    refused("127.0.0.1:99999999999", "1 to 65535");
    refused("[::1]:70000", "1 to 65535");
    refused("127.0.0.1:-1", "1 to 65535");
}

static void hostport_refuses_garbage(void **state)
{
    (void)state;
    refused(":80", "no host");
    refused("[]:80", "no host");
    refused("::1:80", "[ADDRESS]:PORT");
    refused("host:80x", "port must be");
    refused("host: 80", "port must be");
    refused("host:0x50", "port must be");
    refused("ho st:80", "space or control");
    refused("host\t:80", "space or control");
    refused("[::1:80", "no ']:'");
    refused("[::1]80", "no ']:'");
    refused("a]:80", "']' without '['");
    refused("[[::1]:80", "'[' inside");
    refused("a-host-name-longer-than-the-buffer:80", "longer than 15 bytes");
}

static void hostport_fills_a_host_that_just_fits(void **state)
{
    (void)state;
    char host[4];
    unsigned port;
    oks_err e;
    assert_int_equal(oks_hostport_split("abc:9", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "abc");
    assert_int_equal(oks_hostport_split("abcd:9", host, sizeof host, &port, NULL), OKS_E_FORMAT);
}

static void port_parse_takes_digits_only(void **state)
{
    (void)state;
    assert_int_equal(oks_port_parse("11370", 5), 11370);
    assert_int_equal(oks_port_parse("113701", 5), 11370); /* only len bytes are read */
    assert_int_equal(oks_port_parse("00080", 5), 80);
    assert_int_equal(oks_port_parse("", 0), -1);
    assert_int_equal(oks_port_parse("0", 1), -1);
    assert_int_equal(oks_port_parse("65536", 5), -1);
    assert_int_equal(oks_port_parse("000080", 6), -1);
    assert_int_equal(oks_port_parse("8 0", 3), -1);
    assert_int_equal(oks_port_parse("+80", 3), -1);
}

static void nets_match_addresses_and_prefixes(void **state)
{
    (void)state;
    const char *l = "127.0.0.0/8, ::1 10.1.2.3 2001:db8::/32";
    assert_true(oks_nets_match(l, "127.0.0.1"));
    assert_true(oks_nets_match(l, "127.255.0.9"));
    assert_true(oks_nets_match(l, "::ffff:127.0.0.1")); /* IPv4-mapped counts as IPv4 */
    assert_true(oks_nets_match(l, "::1"));
    assert_true(oks_nets_match(l, "10.1.2.3"));
    assert_false(oks_nets_match(l, "10.1.2.4"));
    assert_true(oks_nets_match(l, "2001:db8:ffff::7"));
    assert_false(oks_nets_match(l, "2001:db9::1"));
    assert_false(oks_nets_match(l, "128.0.0.1"));
    assert_false(oks_nets_match(l, "?"));
    assert_false(oks_nets_match(l, ""));
    assert_false(oks_nets_match("", "127.0.0.1"));
    assert_false(oks_nets_match(NULL, "127.0.0.1"));
    assert_true(oks_nets_match("any", "192.0.2.1"));
    assert_true(oks_nets_match("any", "2001:db8::1"));
    /* 0.0.0.0/0 is every IPv4 address, not every address */
    assert_true(oks_nets_match("0.0.0.0/0", "192.0.2.1"));
    assert_false(oks_nets_match("0.0.0.0/0", "2001:db8::1"));
    assert_true(oks_nets_match("192.0.2.128/25", "192.0.2.200"));
    assert_false(oks_nets_match("192.0.2.128/25", "192.0.2.100"));
}

static void nets_refuse_bad_entries(void **state)
{
    (void)state;
    oks_err e;
    assert_int_equal(oks_nets_check("127.0.0.0/8 ::1 any", &e), 0);
    assert_int_equal(oks_nets_check("", &e), 0);
    assert_int_equal(oks_nets_check("localhost", &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "'localhost'"));
    assert_int_equal(oks_nets_check("10.0.0.0/33", &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "prefix length over 32"));
    assert_int_equal(oks_nets_check("10.0.0.1/8", &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "bits set"));
    assert_int_equal(oks_nets_check("::/129", &e), OKS_E_FORMAT);
    assert_int_equal(oks_nets_check("10.0.0.0/", &e), OKS_E_FORMAT);
    assert_int_equal(oks_nets_check("10.0.0.0/x", &e), OKS_E_FORMAT);
    assert_int_equal(oks_nets_check("10.0.0.0/0008", &e), OKS_E_FORMAT);
    assert_int_equal(oks_nets_check("1.2.3.4 , 999.1.1.1", &e), OKS_E_FORMAT);
    /* a refused entry in the list matches nothing, the good ones still do */
    assert_true(oks_nets_match("bogus 10.0.0.0/8", "10.9.9.9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostport_accepts_names_ipv4_and_bracketed_ipv6),
        cmocka_unit_test(hostport_refuses_missing_port),
        cmocka_unit_test(hostport_refuses_port_out_of_range),
        cmocka_unit_test(hostport_refuses_garbage),
        cmocka_unit_test(hostport_fills_a_host_that_just_fits),
        cmocka_unit_test(port_parse_takes_digits_only),
        cmocka_unit_test(nets_match_addresses_and_prefixes),
        cmocka_unit_test(nets_refuse_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
