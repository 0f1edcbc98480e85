/* gw-dns: owner-name hashing (RFC 7929's example), name classification, answers (negative with
 * SOA, records, TC when they do not fit, EDNS), query parsing errors, the answer cache, RRL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw-dns/dns.h"

#include <arpa/inet.h>
#include <libknot/libknot.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7929 section 3: hugh@example.com */
static const char HUGH[] = "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6";

static void owner_hash_matches_rfc_example(void **state)
{
    (void)state;
    char h[GWD_HASH_HEX + 1];
    gwd_owner_hash("hugh", 4, h);
    assert_string_equal(h, HUGH);
    gwd_owner_hash("Hugh", 4, h); /* hashed as given: case matters */
    assert_string_not_equal(h, HUGH);
}

static size_t wire_name(const char *text, uint8_t *out)
{
    assert_non_null(knot_dname_from_str(out, text, KNOT_DNAME_MAXLEN));
    knot_dname_to_lower(out);
    return knot_dname_size(out);
}

static void names_are_classified(void **state)
{
    (void)state;
    gwd_zones z;
    oks_err e;
    assert_int_equal(gwd_zones_parse(&z, "Example.COM, b.org.", &e), 0);
    assert_int_equal(z.n, 2);
    assert_string_equal(z.names[0], "example.com");
    assert_string_equal(z.names[1], "b.org");
    uint8_t w[KNOT_DNAME_MAXLEN];
    gwd_name n;
    char text[200];
    snprintf(text, sizeof text, "%s._openpgpkey.example.com", HUGH);
    wire_name(text, w);
    gwd_name_classify(&z, w, &n);
    assert_int_equal(n.kind, GWD_NAME_OWNER);
    assert_int_equal(n.zone, 0);
    assert_string_equal(n.hash, HUGH);
    wire_name("_openpgpkey.b.org", w);
    gwd_name_classify(&z, w, &n);
    assert_int_equal(n.kind, GWD_NAME_APEX);
    assert_int_equal(n.zone, 1);
    wire_name("zz._openpgpkey.b.org", w);
    gwd_name_classify(&z, w, &n);
    assert_int_equal(n.kind, GWD_NAME_OTHER);
    wire_name("x._openpgpkey.c.org", w);
    gwd_name_classify(&z, w, &n);
    assert_int_equal(n.kind, GWD_NAME_OUTSIDE);
    wire_name("example.com", w);
    gwd_name_classify(&z, w, &n);
    assert_int_equal(n.kind, GWD_NAME_OUTSIDE);
    assert_int_not_equal(gwd_zones_parse(&z, "bad/domain", &e), 0);
}

/* A query for name/type, with an OPT record of payload edns (0: none). */
static size_t make_query(const char *name, uint16_t type, uint16_t edns, uint8_t *out)
{
    memset(out, 0, 512);
    knot_pkt_t *p = knot_pkt_new(out, 512, NULL);
    knot_pkt_clear(p);
    uint8_t w[KNOT_DNAME_MAXLEN];
    wire_name(name, w);
    knot_wire_set_id(p->wire, 0x4242);
    knot_wire_set_rd(p->wire);
    assert_int_equal(knot_pkt_put_question(p, w, KNOT_CLASS_IN, type), KNOT_EOK);
    if (edns) {
        knot_rrset_t opt;
        assert_int_equal(knot_edns_init(&opt, edns, 0, 0, NULL), KNOT_EOK);
        knot_pkt_begin(p, KNOT_ADDITIONAL);
        assert_int_equal(knot_pkt_put(p, KNOT_COMPR_HINT_NONE, &opt, 0), KNOT_EOK);
        knot_rrset_clear(&opt, NULL);
    }
    size_t n = p->size;
    knot_pkt_free(p);
    return n;
}

typedef struct parsed {
    uint16_t id, an, ns, ar;
    int rcode;
    bool tc, aa;
    uint16_t first_an_type, first_ns_type;
} parsed;

static parsed parse_answer(uint8_t *wire, size_t n)
{
    parsed r = {0};
    knot_pkt_t *p = knot_pkt_new(wire, (uint16_t)n, NULL);
    assert_int_equal(knot_pkt_parse(p, 0), KNOT_EOK);
    r.id = knot_wire_get_id(wire);
    r.an = knot_wire_get_ancount(wire);
    r.ns = knot_wire_get_nscount(wire);
    r.ar = knot_wire_get_arcount(wire);
    r.rcode = knot_wire_get_rcode(wire);
    r.tc = knot_wire_get_tc(wire) != 0;
    r.aa = knot_wire_get_aa(wire) != 0;
    const knot_pktsection_t *an = knot_pkt_section(p, KNOT_ANSWER);
    const knot_pktsection_t *ns = knot_pkt_section(p, KNOT_AUTHORITY);
    if (an->count)
        r.first_an_type = knot_pkt_rr(an, 0)->type;
    if (ns->count)
        r.first_ns_type = knot_pkt_rr(ns, 0)->type;
    knot_pkt_free(p);
    return r;
}

static const gwd_soa SOA = {"", "", 7, 3600, 600, 604800, 300};

static void negative_answers_carry_the_soa(void **state)
{
    (void)state;
    uint8_t qw[512], out[65535];
    char name[200];
    snprintf(name, sizeof name, "%s._openpgpkey.example.com", HUGH);
    size_t qn = make_query(name, KNOT_RRTYPE_OPENPGPKEY, 0, qw);
    gwd_query q;
    assert_int_equal(gwd_query_parse(qw, qn, &q), 0);
    assert_int_equal(q.rcode, -1);
    assert_int_equal(q.qtype, KNOT_RRTYPE_OPENPGPKEY);
    assert_false(q.edns);
    size_t n = gwd_answer(qw, &q, KNOT_RCODE_NXDOMAIN, NULL, 3600, "example.com", &SOA, out,
                          gwd_answer_cap(&q, false));
    assert_true(n > 0);
    parsed r = parse_answer(out, n);
    assert_int_equal(r.id, 0x4242);
    assert_int_equal(r.rcode, KNOT_RCODE_NXDOMAIN);
    assert_true(r.aa);
    assert_int_equal(r.an, 0);
    assert_int_equal(r.ns, 1);
    assert_int_equal(r.first_ns_type, KNOT_RRTYPE_SOA);
    /* REFUSED: no SOA, not authoritative */
    n = gwd_answer(qw, &q, KNOT_RCODE_REFUSED, NULL, 3600, NULL, &SOA, out, 512);
    r = parse_answer(out, n);
    assert_int_equal(r.rcode, KNOT_RCODE_REFUSED);
    assert_false(r.aa);
    assert_int_equal(r.ns, 0);
}

static void fill(gwd_records *recs, size_t count, size_t len)
{
    uint8_t blob[4000];
    for (size_t i = 0; i < count; i++) {
        memset(blob, (int)(0x41 + i), len);
        assert_int_equal(gwd_records_add(recs, blob, len), 0);
    }
}

static void records_fit_or_truncate(void **state)
{
    (void)state;
    uint8_t qw[512], out[65535];
    char name[200];
    snprintf(name, sizeof name, "%s._openpgpkey.example.com", HUGH);
    gwd_query q;
    gwd_records recs = {.data = OKS_BUF_INIT};
    fill(&recs, 2, 150);
    /* small: fits 512 without EDNS */
    size_t qn = make_query(name, KNOT_RRTYPE_OPENPGPKEY, 0, qw);
    assert_int_equal(gwd_query_parse(qw, qn, &q), 0);
    size_t n = gwd_answer(qw, &q, KNOT_RCODE_NOERROR, &recs, 3600, "example.com", &SOA, out,
                          gwd_answer_cap(&q, false));
    parsed r = parse_answer(out, n);
    assert_false(r.tc);
    assert_int_equal(r.an, 2);
    assert_int_equal(r.ns, 0);
    assert_int_equal(r.first_an_type, KNOT_RRTYPE_OPENPGPKEY);
    /* 3 x 1000 bytes: over 512, TC with an empty answer; fits TCP */
    recs.n = 0;
    recs.data.len = 0;
    fill(&recs, 3, 1000);
    n = gwd_answer(qw, &q, KNOT_RCODE_NOERROR, &recs, 3600, "example.com", &SOA, out,
                   gwd_answer_cap(&q, false));
    assert_true(n > 0 && n <= 512);
    r = parse_answer(out, n);
    assert_true(r.tc);
    assert_int_equal(r.an, 0);
    assert_int_equal(r.ns, 0);
    n = gwd_answer(qw, &q, KNOT_RCODE_NOERROR, &recs, 3600, "example.com", &SOA, out,
                   gwd_answer_cap(&q, true));
    r = parse_answer(out, n);
    assert_false(r.tc);
    assert_int_equal(r.an, 3);
    /* EDNS 4096: fits UDP, and the answer carries an OPT record */
    qn = make_query(name, KNOT_RRTYPE_OPENPGPKEY, 4096, qw);
    assert_int_equal(gwd_query_parse(qw, qn, &q), 0);
    assert_true(q.edns);
    assert_int_equal(gwd_answer_cap(&q, false), 4096);
    n = gwd_answer(qw, &q, KNOT_RCODE_NOERROR, &recs, 3600, "example.com", &SOA, out,
                   gwd_answer_cap(&q, false));
    r = parse_answer(out, n);
    assert_false(r.tc);
    assert_int_equal(r.an, 3);
    assert_int_equal(r.ar, 1);
    /* EDNS 1232 (what resolvers send): TC, the OPT record still there */
    qn = make_query(name, KNOT_RRTYPE_OPENPGPKEY, 1232, qw);
    assert_int_equal(gwd_query_parse(qw, qn, &q), 0);
    n = gwd_answer(qw, &q, KNOT_RCODE_NOERROR, &recs, 3600, "example.com", &SOA, out,
                   gwd_answer_cap(&q, false));
    assert_true(n <= 1232);
    r = parse_answer(out, n);
    assert_true(r.tc);
    assert_int_equal(r.an, 0);
    assert_int_equal(r.ar, 1);
    oks_buf_release(&recs.data);
}

static void malformed_queries(void **state)
{
    (void)state;
    uint8_t qw[512] = {0};
    gwd_query q;
    assert_int_equal(gwd_query_parse(qw, 5, &q), -1); /* no header: nothing to answer */
    size_t qn = make_query("a._openpgpkey.example.com", KNOT_RRTYPE_OPENPGPKEY, 0, qw);
    assert_int_equal(gwd_query_parse(qw, qn - 3, &q), 0); /* question cut */
    assert_int_equal(q.rcode, KNOT_RCODE_FORMERR);
    uint8_t out[512];
    size_t n = gwd_answer(qw, &q, q.rcode, NULL, 0, NULL, &SOA, out, sizeof out);
    assert_int_equal(n, KNOT_WIRE_HEADER_SIZE);
    assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_FORMERR);
    assert_int_equal(knot_wire_get_id(out), 0x4242);
    assert_true(knot_wire_get_qr(out));
    knot_wire_set_qr(qw); /* a response: never answered */
    assert_int_equal(gwd_query_parse(qw, qn, &q), -1);
    knot_wire_clear_qr(qw);
    knot_wire_set_qdcount(qw, 2);
    assert_int_equal(gwd_query_parse(qw, qn, &q), 0);
    assert_int_equal(q.rcode, KNOT_RCODE_FORMERR);
}

static void cache_keeps_and_expires(void **state)
{
    (void)state;
    gwd_cache *c = gwd_cache_new(16);
    gwd_records recs = {.data = OKS_BUF_INIT}, got = {.data = OKS_BUF_INIT};
    fill(&recs, 2, 10);
    int rc;
    assert_false(gwd_cache_get(c, HUGH, 0, 100, &rc, &got));
    gwd_cache_put(c, HUGH, 0, 1000, KNOT_RCODE_NOERROR, &recs);
    assert_true(gwd_cache_get(c, HUGH, 0, 999, &rc, &got));
    assert_int_equal(rc, KNOT_RCODE_NOERROR);
    assert_int_equal(got.n, 2);
    assert_false(gwd_cache_get(c, HUGH, 1, 999, &rc, &got));  /* other zone */
    assert_false(gwd_cache_get(c, HUGH, 0, 1000, &rc, &got)); /* expired */
    gwd_cache_free(c);
    oks_buf_release(&recs.data);
    oks_buf_release(&got.data);
}

static void rrl_limits_per_prefix_and_slips(void **state)
{
    (void)state;
    gwd_rrl *r = gwd_rrl_new(1, 3, 2, 1024);
    struct sockaddr_in a = {.sin_family = AF_INET}, b = a, other = a;
    inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
    inet_pton(AF_INET, "192.0.2.77", &b.sin_addr); /* same /24 */
    inet_pton(AF_INET, "198.51.100.1", &other.sin_addr);
    uint64_t t = 1000000;
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t), GWD_RRL_SEND);
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&b, t), GWD_RRL_SEND);
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t), GWD_RRL_SEND);
    /* burst spent: every second limited response slips, the others are dropped */
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&b, t), GWD_RRL_DROP);
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t), GWD_RRL_SLIP);
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t), GWD_RRL_DROP);
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&other, t), GWD_RRL_SEND);
    /* one token per second comes back */
    assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t + 1000), GWD_RRL_SEND);
    assert_int_not_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t + 1000), GWD_RRL_SEND);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6}, v6b = v6;
    inet_pton(AF_INET6, "2001:db8:1:2::1", &v6.sin6_addr);
    inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &v6b.sin6_addr); /* same /64 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&v6, t), GWD_RRL_SEND);
    assert_int_not_equal(gwd_rrl_check(r, (struct sockaddr *)&v6b, t), GWD_RRL_SEND);
    gwd_rrl_free(r);
    r = gwd_rrl_new(0, 1, 2, 16); /* rate 0: no limit */
    for (int i = 0; i < 100; i++)
        assert_int_equal(gwd_rrl_check(r, (struct sockaddr *)&a, t), GWD_RRL_SEND);
    gwd_rrl_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owner_hash_matches_rfc_example),
        cmocka_unit_test(names_are_classified),
        cmocka_unit_test(negative_answers_carry_the_soa),
        cmocka_unit_test(records_fit_or_truncate),
        cmocka_unit_test(malformed_queries),
        cmocka_unit_test(cache_keeps_and_expires),
        cmocka_unit_test(rrl_limits_per_prefix_and_slips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
