/* gw-http/ratelimit: token buckets per client and class, X-Forwarded-For trust. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
