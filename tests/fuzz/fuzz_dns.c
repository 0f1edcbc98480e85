/* Fuzz target: the DNS gateway on arbitrary datagrams: query parsing (libknot's parser under
 * gwd_query_parse), owner-name classification, and the answers written for every outcome,
 * which must parse back. The gateway units are compiled in here because fuzz targets link only
 * lib/. The first byte picks the answer's size cap. */
#include "gw-dns/answer.c"
#include "gw-dns/owner.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gwd_zones z;
    static uint8_t out[65535];
    if (!z.n) {
        oks_err e;
        if (gwd_zones_parse(&z, "example.org other.test", &e))
            abort();
    }
    if (size < 1)
        return 0;
    size_t cap = data[0] & 1 ? 65535 : 512 + (size_t)data[0] * 8;
    data++;
    size--;
    gwd_query q;
    if (gwd_query_parse(data, size, &q))
        return 0;
    gwd_name nm;
    int rcode = q.rcode;
    const char *zone = NULL;
    if (rcode < 0) {
        gwd_name_classify(&z, q.qname, &nm);
        rcode = nm.kind == GWD_NAME_OUTSIDE ? KNOT_RCODE_REFUSED : KNOT_RCODE_NXDOMAIN;
        if (nm.kind != GWD_NAME_OUTSIDE)
            zone = z.names[nm.zone];
        if (nm.kind == GWD_NAME_OWNER && strlen(nm.hash) != GWD_HASH_HEX)
            abort();
    }
    gwd_records recs = {.data = OKS_BUF_INIT};
    if (zone && size > 40)
        gwd_records_add(&recs, data, size / 2);
    gwd_soa soa = {"", "", 1, 2, 3, 4, 5};
    size_t n =
        gwd_answer(data, &q, recs.n ? KNOT_RCODE_NOERROR : rcode, &recs, 60, zone, &soa, out, cap);
    oks_buf_release(&recs.data);
    if (n > cap)
        abort();
    if (n > KNOT_WIRE_HEADER_SIZE) {
        knot_pkt_t *p = knot_pkt_new(out, (uint16_t)n, NULL);
        if (!p || knot_pkt_parse(p, 0) != KNOT_EOK)
            abort();
        knot_pkt_free(p);
    }
    return 0;
}
