/* gw-http/ratelimit: token buckets per client and class, work charged in units, IPv6 clients per
 * /64, X-Forwarded-For trust. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw-http/ratelimit.h"

#include <string.h>

static void burst_then_refill(void **state)
{
    (void)state;
    double rate[GW_RL_CLASSES] = {2, 0}, burst[GW_RL_CLASSES] = {3, 1};
    gw_ratelimit *rl = gw_rl_new(rate, burst);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_rl_take(rl, GW_RL_LOOKUP, "a", 100.0), 0);
    assert_true(gw_rl_take(rl, GW_RL_LOOKUP, "a", 100.0) >= 1);
    assert_int_equal(gw_rl_take(rl, GW_RL_LOOKUP, "b", 100.0), 0); /* other client */
    assert_int_equal(gw_rl_take(rl, GW_RL_LOOKUP, "a", 100.6), 0); /* 1.2 tokens back */
    assert_int_equal(gw_rl_take(rl, GW_RL_UPLOAD, "a", 100.6), 0); /* rate 0: no limit */
    gw_rl_free(rl);
}

/* n tokens at once: allowed while the bucket holds min(n, burst), then the debt is waited out;
 * the debt is at most one burst. */
static void work_is_charged_in_units(void **state)
{
    (void)state;
    double rate[GW_RL_CLASSES] = {0, 0, 10}, burst[GW_RL_CLASSES] = {1, 1, 100};
    gw_ratelimit *rl = gw_rl_new(rate, burst);
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "a", 60, 10.0), 0);
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "a", 30, 10.0), 0);
    /* 10 left: 30 more must wait (30 - 10) / 10 s, rounded up */
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "a", 30, 10.0), 3);
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "a", 5, 10.0), 0);
    /* more than a burst: allowed with a full bucket, into debt, floored at -burst */
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "b", 1000, 10.0), 0);
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "b", 1, 10.0), 11);
    assert_int_equal(gw_rl_take_n(rl, GW_RL_VERIFY, "b", 1, 30.1), 0);
    gw_rl_free(rl);
}

static void ipv6_clients_are_counted_per_64(void **state)
{
    (void)state;
    char k[64];
    gw_rl_key("192.0.2.7", k);
    assert_string_equal(k, "192.0.2.7");
    gw_rl_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    gw_rl_key("2001:db8:1:2::1", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    gw_rl_key("::ffff:192.0.2.9", k);
    assert_string_equal(k, "192.0.2.9");
    gw_rl_key("not-an-address", k);
    assert_string_equal(k, "not-an-address");
    gw_rl_key("2001:db8::zz", k);
    assert_string_equal(k, "2001:db8::zz");
}

static void forwarded_for_only_from_proxies(void **state)
{
    (void)state;
    char out[64];
    const char *xff = "203.0.113.9, 10.0.0.1, 127.0.0.1";
    gw_rl_client("192.0.2.5", xff, strlen(xff), "127.0.0.1", out);
    assert_string_equal(out, "192.0.2.5"); /* peer is no proxy: header ignored */
    gw_rl_client("127.0.0.1", xff, strlen(xff), "127.0.0.1, 10.0.0.1", out);
    assert_string_equal(out, "203.0.113.9"); /* right-most entry that is not a proxy */
    gw_rl_client("127.0.0.1", NULL, 0, "127.0.0.1", out);
    assert_string_equal(out, "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refill),
        cmocka_unit_test(forwarded_for_only_from_proxies),
        cmocka_unit_test(work_is_charged_in_units),
        cmocka_unit_test(ipv6_clients_are_counted_per_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
