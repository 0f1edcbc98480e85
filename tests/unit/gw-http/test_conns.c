/* gw-http/conns: the total cap, the per-peer cap, IPv6 counted per /64, IPv4-mapped addresses
 * counted as IPv4, exempt peers, and entries that go away with their last connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw-http/conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static struct sockaddr_storage addr(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    return ss;
}

static enum gw_admit admit(gw_conns *c, const char *peer, bool exempt, gw_conn_ticket **t)
{
    struct sockaddr_storage ss = addr(peer);
    return gw_conns_admit(c, (struct sockaddr *)&ss, exempt, t);
}

static void one_peer_cannot_take_more_than_its_share(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(100, 3);
    gw_conn_ticket *t[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(admit(c, "192.0.2.1", false, &t[i]), GW_ADMIT_OK);
    assert_int_equal(admit(c, "192.0.2.1", false, &t[3]), GW_ADMIT_PEER_FULL);
    assert_int_equal(admit(c, "192.0.2.2", false, &t[3]), GW_ADMIT_OK); /* others still get in */
    assert_int_equal(gw_conns_open(c), 4);
    gw_conns_release(t[0]);
    assert_int_equal(admit(c, "192.0.2.1", false, &t[0]), GW_ADMIT_OK); /* a slot came free */
    unsigned long full, peer;
    gw_conns_refused(c, &full, &peer);
    assert_int_equal(full, 0);
    assert_int_equal(peer, 1);
    for (int i = 0; i < 4; i++)
        gw_conns_release(t[i]);
    assert_int_equal(gw_conns_open(c), 0);
    gw_conns_free(c);
}

static void the_total_cap_holds_for_every_peer(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(2, 10);
    gw_conn_ticket *a, *b, *x;
    assert_int_equal(admit(c, "192.0.2.1", false, &a), GW_ADMIT_OK);
    assert_int_equal(admit(c, "198.51.100.7", true, &b), GW_ADMIT_OK);
    assert_int_equal(admit(c, "203.0.113.9", false, &x), GW_ADMIT_FULL);
    assert_int_equal(admit(c, "198.51.100.7", true, &x), GW_ADMIT_FULL); /* exempt too */
    assert_int_equal(gw_conns_open(c), 2);
    gw_conns_release(b);
    assert_int_equal(admit(c, "203.0.113.9", false, &x), GW_ADMIT_OK);
    gw_conns_release(a);
    gw_conns_release(x);
    gw_conns_free(c);
}

static void trusted_proxies_are_not_capped_per_peer(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(1000, 2);
    gw_conn_ticket *t[50];
    for (int i = 0; i < 50; i++)
        assert_int_equal(admit(c, "10.0.0.1", true, &t[i]), GW_ADMIT_OK);
    for (int i = 0; i < 50; i++)
        gw_conns_release(t[i]);
    assert_int_equal(gw_conns_open(c), 0);
    gw_conns_free(c);
}

static void ipv6_peers_are_counted_per_64(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(100, 2);
    gw_conn_ticket *a, *b, *x;
    assert_int_equal(admit(c, "2001:db8:1:2::1", false, &a), GW_ADMIT_OK);
    assert_int_equal(admit(c, "2001:db8:1:2:ffff::9", false, &b), GW_ADMIT_OK);
    assert_int_equal(admit(c, "2001:db8:1:2:dead:beef:0:1", false, &x), GW_ADMIT_PEER_FULL);
    assert_int_equal(admit(c, "2001:db8:1:3::1", false, &x), GW_ADMIT_OK); /* another /64 */
    gw_conns_release(x);
    /* an IPv4 client seen through a dual-stack socket is the same client as over IPv4 */
    gw_conn_ticket *m1, *m2, *m3;
    assert_int_equal(admit(c, "192.0.2.5", false, &m1), GW_ADMIT_OK);
    assert_int_equal(admit(c, "::ffff:192.0.2.5", false, &m2), GW_ADMIT_OK);
    assert_int_equal(admit(c, "192.0.2.5", false, &m3), GW_ADMIT_PEER_FULL);
    gw_conns_release(m1);
    gw_conns_release(m2);
    gw_conns_release(a);
    gw_conns_release(b);
    assert_int_equal(gw_conns_open(c), 0);
    gw_conns_free(c);
}

static void many_peers_come_and_go_without_leaving_entries(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(100000, 1);
    static gw_conn_ticket *t[20000];
    char ip[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf(ip, sizeof ip, "10.%d.%d.%d", round, i / 256, i % 256);
            assert_int_equal(admit(c, ip, false, &t[i]), GW_ADMIT_OK);
        }
        assert_int_equal(gw_conns_peers(c), 20000);
        for (int i = 0; i < 20000; i++)
            gw_conns_release(t[i]);
    }
    assert_int_equal(gw_conns_open(c), 0);
    assert_int_equal(gw_conns_peers(c), 0);
    gw_conns_free(c);
}

static void requests_in_flight_are_capped_and_outlive_the_connection(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(100, 10);
    gw_conn_ticket *t, *p;
    assert_int_equal(admit(c, "192.0.2.1", false, &t), GW_ADMIT_OK);
    for (int i = 0; i < 3; i++)
        assert_true(gw_conns_inflight_take(t, 3));
    assert_false(gw_conns_inflight_take(t, 3));
    assert_int_equal(gw_conns_refused_inflight(c), 1);
    gw_conns_release(t); /* the connection closes, its requests are still out */
    assert_int_equal(gw_conns_peers(c), 1);
    gw_conn_ticket *t2;
    assert_int_equal(admit(c, "192.0.2.1", false, &t2), GW_ADMIT_OK);
    assert_ptr_equal(t2, t); /* a new connection of the same client finds them counted */
    assert_false(gw_conns_inflight_take(t2, 3));
    gw_conns_release(t2);
    for (int i = 0; i < 3; i++)
        gw_conns_inflight_release(t);
    assert_int_equal(gw_conns_peers(c), 0); /* gone with the last answer */
    /* a trusted proxy is not capped per client */
    assert_int_equal(admit(c, "198.51.100.1", true, &p), GW_ADMIT_OK);
    for (int i = 0; i < 50; i++)
        assert_true(gw_conns_inflight_take(p, 3));
    for (int i = 0; i < 50; i++)
        gw_conns_inflight_release(p);
    gw_conns_release(p);
    assert_int_equal(gw_conns_open(c), 0);
    gw_conns_free(c);
}

/* Two loop threads share the listener: the place in the total is taken before accept(2), so at
 * the cap nothing is accepted (and then closed); a per-peer refusal or an empty accept gives the
 * place back. */
static void a_place_is_reserved_before_accept(void **state)
{
    (void)state;
    gw_conns *c = gw_conns_new(2, 1);
    struct sockaddr_storage a = addr("192.0.2.1");
    gw_conn_ticket *t[3];
    assert_true(gw_conns_reserve(c));
    assert_true(gw_conns_reserve(c));
    assert_false(gw_conns_reserve(c)); /* the cap: leave it in the backlog */
    assert_int_equal(gw_conns_open(c), 2);
    gw_conns_unreserve(c); /* accept found nothing */
    assert_int_equal(gw_conns_open(c), 1);
    assert_int_equal(gw_conns_admit_reserved(c, (struct sockaddr *)&a, false, &t[0]), GW_ADMIT_OK);
    assert_true(gw_conns_reserve(c));
    assert_int_equal(gw_conns_admit_reserved(c, (struct sockaddr *)&a, false, &t[1]),
                     GW_ADMIT_PEER_FULL);
    assert_int_equal(gw_conns_open(c), 1); /* the refused one gave its place back */
    unsigned long full, peer;
    gw_conns_refused(c, &full, &peer);
    assert_int_equal(full, 0); /* not accepting at the cap is no refusal */
    assert_int_equal(peer, 1);
    gw_conns_release(t[0]);
    assert_int_equal(gw_conns_open(c), 0);
    gw_conns_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_peer_cannot_take_more_than_its_share),
        cmocka_unit_test(the_total_cap_holds_for_every_peer),
        cmocka_unit_test(a_place_is_reserved_before_accept),
        cmocka_unit_test(trusted_proxies_are_not_capped_per_peer),
        cmocka_unit_test(ipv6_peers_are_counted_per_64),
        cmocka_unit_test(many_peers_come_and_go_without_leaving_entries),
        cmocka_unit_test(requests_in_flight_are_capped_and_outlive_the_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
