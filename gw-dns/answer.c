/* DNS messages through libknot: query parsing and answer writing (EDNS, TC, negative answers). */
#include "gw-dns/dns.h"

#include <libknot/libknot.h>
#include <stdio.h>
#include <string.h>

int gwd_query_parse(const uint8_t *wire, size_t n, gwd_query *q)
{
    memset(q, 0, sizeof *q);
    q->rcode = -1;
    q->udp_size = KNOT_WIRE_MIN_PKTSIZE;
    if (n < KNOT_WIRE_HEADER_SIZE || n > KNOT_WIRE_MAX_PKTSIZE || knot_wire_get_qr(wire))
        return -1;
    q->id = knot_wire_get_id(wire);
    q->rd = knot_wire_get_rd(wire) != 0;
    if (knot_wire_get_opcode(wire) != KNOT_OPCODE_QUERY) {
        q->rcode = KNOT_RCODE_NOTIMPL;
        return 0;
    }
    if (knot_wire_get_qdcount(wire) != 1) {
        q->rcode = KNOT_RCODE_FORMERR;
        return 0;
    }
    /* knot_pkt_new keeps the pointer: the parser does not write into the wire */
    knot_pkt_t *p = knot_pkt_new((void *)wire, (uint16_t)n, NULL);
    if (!p) {
        q->rcode = KNOT_RCODE_SERVFAIL;
        return 0;
    }
    int r = knot_pkt_parse(p, 0);
    if (r != KNOT_EOK || p->qname_size == 0 || knot_wire_get_ancount(wire) != 0) {
        q->rcode = KNOT_RCODE_FORMERR;
    } else {
        memcpy(q->qname, knot_pkt_qname(p), p->qname_size);
        q->has_question = true;
        q->qtype = knot_pkt_qtype(p);
        q->qclass = knot_pkt_qclass(p);
        if (p->opt_rr) {
            q->edns = true;
            uint16_t sz = knot_edns_get_payload(p->opt_rr);
            q->udp_size = sz < KNOT_WIRE_MIN_PKTSIZE ? KNOT_WIRE_MIN_PKTSIZE : sz;
            q->do_bit = knot_edns_do(p->opt_rr);
            if (knot_edns_get_version(p->opt_rr) != 0)
                q->rcode = KNOT_RCODE_BADVERS;
        }
    }
    knot_pkt_free(p);
    return 0;
}

int gwd_records_add(gwd_records *r, const uint8_t *p, size_t n)
{
    if (n > 65535 || r->n == GWD_MAX_RECORDS)
        return OKS_E_LIMIT;
    int rc = oks_buf_append(&r->data, p, n);
    if (rc)
        return rc;
    r->len[r->n++] = (uint16_t)n;
    return 0;
}

size_t gwd_answer_cap(const gwd_query *q, bool tcp)
{
    if (tcp)
        return KNOT_WIRE_MAX_PKTSIZE;
    if (!q->edns)
        return KNOT_WIRE_MIN_PKTSIZE;
    return q->udp_size > GWD_UDP_MAX ? GWD_UDP_MAX : q->udp_size;
}

/* A header-only reply (the question could not be parsed): id, QR, RD copied, rcode. */
static size_t bare_reply(const gwd_query *q, const uint8_t *qwire, int rcode, uint8_t *out)
{
    memset(out, 0, KNOT_WIRE_HEADER_SIZE);
    knot_wire_set_id(out, q->id);
    knot_wire_set_qr(out);
    if (q->rd)
        knot_wire_set_rd(out);
    knot_wire_set_opcode(out, knot_wire_get_opcode(qwire));
    knot_wire_set_rcode(out, (short)rcode);
    return KNOT_WIRE_HEADER_SIZE;
}

static size_t dname_of(const char *text, uint8_t *out, size_t cap)
{
    return knot_dname_from_str(out, text, cap) ? knot_dname_size(out) : 0;
}

size_t gwd_soa_rdata(const char *zone, const gwd_soa *soa, uint8_t *rd, size_t cap)
{
    char mn[600], rn[600];
    if (soa->mname[0])
        snprintf(mn, sizeof mn, "%s", soa->mname);
    else
        snprintf(mn, sizeof mn, "ns._openpgpkey.%s", zone);
    if (soa->rname[0])
        snprintf(rn, sizeof rn, "%s", soa->rname);
    else
        snprintf(rn, sizeof rn, "hostmaster._openpgpkey.%s", zone);
    size_t o = dname_of(mn, rd, cap);
    if (!o)
        return 0;
    size_t r = dname_of(rn, rd + o, cap - o);
    if (!r || o + r + 20 > cap)
        return 0;
    o += r;
    uint32_t v[5] = {soa->serial, soa->refresh, soa->retry, soa->expire, soa->minimum};
    for (int i = 0; i < 5; i++, o += 4)
        knot_wire_write_u32(rd + o, v[i]);
    return o;
}

size_t gwd_answer(const uint8_t *qwire, const gwd_query *q, int rcode, const gwd_records *recs,
                  uint32_t ttl, const char *zone, const gwd_soa *soa, uint8_t *out, size_t cap)
{
    if (cap < KNOT_WIRE_HEADER_SIZE)
        return 0;
    if (cap > KNOT_WIRE_MAX_PKTSIZE)
        cap = KNOT_WIRE_MAX_PKTSIZE;
    /* over a caller's buffer libknot keeps whatever header bytes are there */
    memset(out, 0, KNOT_WIRE_HEADER_SIZE);
    knot_pkt_t *r = knot_pkt_new(out, (uint16_t)cap, NULL);
    if (!r)
        return 0;
    knot_pkt_clear(r);
    size_t len = 0;
    int ext = rcode >> 4;
    if (!q->has_question || knot_pkt_put_question(r, q->qname, q->qclass, q->qtype) != KNOT_EOK) {
        len = bare_reply(q, qwire, rcode & 15, out);
        goto done;
    }
    knot_wire_set_id(r->wire, q->id);
    knot_wire_set_qr(r->wire);
    if (q->rd)
        knot_wire_set_rd(r->wire);
    if (rcode != KNOT_RCODE_REFUSED && rcode != KNOT_RCODE_FORMERR)
        knot_wire_set_aa(r->wire);
    knot_wire_set_rcode(r->wire, (short)(rcode & 15));
    knot_rrset_t opt;
    knot_rrset_init_empty(&opt);
    if (q->edns) {
        if (knot_edns_init(&opt, GWD_EDNS_ADVERTISED, (uint8_t)ext, 0, NULL) != KNOT_EOK)
            goto fail;
        if (q->do_bit)
            knot_edns_set_do(&opt);
        knot_pkt_reserve(r, (uint16_t)knot_edns_wire_size(&opt));
    }
    knot_pkt_begin(r, KNOT_ANSWER);
    bool negative =
        (rcode == KNOT_RCODE_NXDOMAIN || rcode == KNOT_RCODE_NOERROR) && (!recs || recs->n == 0);
    if (recs && recs->n) {
        knot_rrset_t rr;
        knot_rrset_init(&rr, (knot_dname_t *)q->qname,
                        recs->type ? recs->type : KNOT_RRTYPE_OPENPGPKEY, KNOT_CLASS_IN, ttl);
        size_t o = 0;
        for (size_t i = 0; i < recs->n; i++) {
            if (knot_rrset_add_rdata(&rr, recs->data.data + o, recs->len[i], NULL) != KNOT_EOK) {
                knot_rdataset_clear(&rr.rrs, NULL);
                goto fail;
            }
            o += recs->len[i];
        }
        int pr = knot_pkt_put(r, KNOT_COMPR_HINT_QNAME, &rr, KNOT_PF_NOTRUNC);
        knot_rdataset_clear(&rr.rrs, NULL);
        if (pr == KNOT_ESPACE) {
            /* an RRset is never split: the whole answer goes over TCP */
            knot_wire_set_tc(r->wire);
            negative = false;
        } else if (pr != KNOT_EOK) {
            goto fail;
        }
    }
    knot_rrset_t soa_rr;
    uint8_t owner[KNOT_DNAME_MAXLEN], rd[2 * KNOT_DNAME_MAXLEN + 20];
    if (negative && zone) {
        char apex[300];
        snprintf(apex, sizeof apex, "_openpgpkey.%s", zone);
        size_t sl = gwd_soa_rdata(zone, soa, rd, sizeof rd);
        if (!knot_dname_from_str(owner, apex, sizeof owner) || !sl)
            goto fail;
        knot_rrset_init(&soa_rr, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, soa->minimum);
        if (knot_rrset_add_rdata(&soa_rr, rd, (uint16_t)sl, NULL) != KNOT_EOK)
            goto fail;
        knot_pkt_begin(r, KNOT_AUTHORITY);
        int pr = knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &soa_rr, KNOT_PF_NOTRUNC);
        knot_rdataset_clear(&soa_rr.rrs, NULL);
        if (pr == KNOT_ESPACE)
            knot_wire_set_tc(r->wire);
        else if (pr != KNOT_EOK)
            goto fail;
    }
    if (q->edns) {
        knot_pkt_reclaim(r, (uint16_t)knot_edns_wire_size(&opt));
        knot_pkt_begin(r, KNOT_ADDITIONAL);
        int pr = knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_NOTRUNC);
        if (pr != KNOT_EOK)
            goto fail;
    }
    len = r->size;
    knot_rrset_clear(&opt, NULL);
done:
    knot_pkt_free(r);
    return len;
fail:
    knot_rrset_clear(&opt, NULL);
    knot_pkt_free(r);
    return 0;
}
