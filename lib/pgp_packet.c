/*
 * OpenPGP packet framing (RFC 4880 / RFC 9580 section 4.2): reading one packet header with every
 * length form, and writing packets back. Key material never uses partial or indeterminate
 * lengths, so both are refused here; every length is checked against what remains.
 * Also the default limits (pgp.h documents them).
 */
#include "lib/pgp.h"

void oks_pgp_limits_default(oks_pgp_limits *l)
{
    l->max_key_bytes = 1u << 20;
    l->max_packet_bytes = 8192;
    l->max_attribute_bytes = 65536;
    l->max_sig_bytes = 65536;
    l->max_packets = 20000;
    l->max_uids = 256;
    l->max_subkeys = 256;
    l->max_sigs_per_uid = 5000;
    l->max_third_party_per_uid = 256;
    l->max_third_party_per_key = 2048;
    l->max_third_party_sig_bytes = 3072;
    l->max_verify_cost = 10000;
}

int oks_pgp_packet_next(const uint8_t *p, size_t n, size_t *off, oks_pgp_packet *pkt,
                        oks_err *e)
{
    size_t o = *off;
    if (o >= n)
        return oks_err_set(e, OKS_E_TRUNCATED, o, "packet header expected, input ends");
    uint8_t h = p[o];
    if (!(h & 0x80))
        return oks_err_set(e, OKS_E_FORMAT, o, "packet header byte 0x%02x lacks bit 7", h);
    size_t rest = n - o - 1, hl, len;
    const uint8_t *q = p + o + 1;
    if (h & 0x40) {
        pkt->new_format = true;
        pkt->tag = h & 0x3f;
        if (rest < 1)
            return oks_err_set(e, OKS_E_TRUNCATED, o, "packet length missing");
        uint8_t o1 = q[0];
        if (o1 < 192) {
            len = o1;
            hl = 2;
        } else if (o1 < 224) {
            if (rest < 2)
                return oks_err_set(e, OKS_E_TRUNCATED, o, "2-octet packet length truncated");
            len = ((size_t)(o1 - 192) << 8) + q[1] + 192;
            hl = 3;
        } else if (o1 == 255) {
            if (rest < 5)
                return oks_err_set(e, OKS_E_TRUNCATED, o, "5-octet packet length truncated");
            len = oks_be32(q + 1);
            hl = 6;
        } else {
            return oks_err_set(e, OKS_E_FORMAT, o,
                               "partial body length in a tag-%u packet (not allowed in keys)",
                               pkt->tag);
        }
    } else {
        pkt->new_format = false;
        pkt->tag = (h >> 2) & 0x0f;
        switch (h & 3) {
        case 0:
            if (rest < 1)
                return oks_err_set(e, OKS_E_TRUNCATED, o, "packet length missing");
            len = q[0];
            hl = 2;
            break;
        case 1:
            if (rest < 2)
                return oks_err_set(e, OKS_E_TRUNCATED, o, "2-octet packet length truncated");
            len = oks_be16(q);
            hl = 3;
            break;
        case 2:
            if (rest < 4)
                return oks_err_set(e, OKS_E_TRUNCATED, o, "4-octet packet length truncated");
            len = oks_be32(q);
            hl = 5;
            break;
        default:
            return oks_err_set(e, OKS_E_FORMAT, o,
                               "indeterminate length in a tag-%u packet (not allowed in keys)",
                               pkt->tag);
        }
    }
    if (pkt->tag == 0)
        return oks_err_set(e, OKS_E_FORMAT, o, "packet tag 0 is reserved");
    if (len > n - o - hl)
        return oks_err_set(e, OKS_E_TRUNCATED, o,
                           "tag-%u packet length %zu runs past the end (%zu bytes left)",
                           pkt->tag, len, n - o - hl);
    pkt->offset = o;
    pkt->header_len = hl;
    pkt->body = p + o + hl;
    pkt->len = len;
    *off = o + hl + len;
    return 0;
}

int oks_pgp_packet_write(oks_buf *out, uint8_t tag, const uint8_t *body, size_t len,
                         bool force_new)
{
    uint8_t h[6];
    size_t hl;
    if (tag == 0 || tag > 63 || (uint64_t)len > 0xffffffffu)
        return OKS_E_ARG;
    if (tag < 16 && !force_new) {
        if (len < 256) {
            h[0] = (uint8_t)(0x80 | tag << 2);
            h[1] = (uint8_t)len;
            hl = 2;
        } else if (len < 65536) {
            h[0] = (uint8_t)(0x81 | tag << 2);
            h[1] = (uint8_t)(len >> 8);
            h[2] = (uint8_t)len;
            hl = 3;
        } else {
            h[0] = (uint8_t)(0x82 | tag << 2);
            h[1] = (uint8_t)(len >> 24);
            h[2] = (uint8_t)(len >> 16);
            h[3] = (uint8_t)(len >> 8);
            h[4] = (uint8_t)len;
            hl = 5;
        }
    } else {
        h[0] = (uint8_t)(0xc0 | tag);
        if (len < 192) {
            h[1] = (uint8_t)len;
            hl = 2;
        } else if (len < 8384) {
            h[1] = (uint8_t)(((len - 192) >> 8) + 192);
            h[2] = (uint8_t)(len - 192);
            hl = 3;
        } else {
            h[1] = 255;
            h[2] = (uint8_t)(len >> 24);
            h[3] = (uint8_t)(len >> 16);
            h[4] = (uint8_t)(len >> 8);
            h[5] = (uint8_t)len;
            hl = 6;
        }
    }
    int r = oks_buf_reserve(out, hl + len);
    if (r)
        return r;
    oks_buf_append(out, h, hl);
    return oks_buf_append(out, body, len);
}

/* ---- the form served to clients ------------------------------------------------------------ */

/* 1 if a key packet of p[0..n) has bytes after its last public field; 0 if none; <0 if p does
 * not parse (then it is served as stored). */
static int has_trailing(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        oks_pgp_packet pkt;
        oks_err e;
        if (oks_pgp_packet_next(p, n, &off, &pkt, &e))
            return -1;
        if (pkt.tag != OKS_PGP_TAG_PUBKEY && pkt.tag != OKS_PGP_TAG_PUBSUBKEY)
            continue;
        oks_pgp_pubkey pk;
        if (oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e))
            return -1;
        if (pk.hashed_len < pkt.len)
            return 1;
    }
    return 0;
}

int oks_pgp_key_client_form(const uint8_t *p, size_t n, oks_buf *out)
{
    int t = has_trailing(p, n);
    if (t <= 0)
        return 0;
    size_t off = 0;
    while (off < n) {
        oks_pgp_packet pkt;
        oks_pgp_pubkey pk;
        oks_err e;
        if (oks_pgp_packet_next(p, n, &off, &pkt, &e))
            return OKS_E_FORMAT; /* parsed above */
        int rc;
        if ((pkt.tag == OKS_PGP_TAG_PUBKEY || pkt.tag == OKS_PGP_TAG_PUBSUBKEY) &&
            oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e) == 0 &&
            pk.hashed_len < pkt.len)
            rc = oks_pgp_packet_write(out, pkt.tag, pkt.body, pk.hashed_len, pkt.new_format);
        else
            rc = oks_buf_append(out, p + pkt.offset, pkt.header_len + pkt.len);
        if (rc)
            return rc;
    }
    return 1;
}
