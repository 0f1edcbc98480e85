/* Fuzz target: packet framing, the public-key / signature body parsers on every packet, and the
 * form of a key served to clients. */
#include "lib/pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    oks_pgp_packet p;
    oks_err e;
    while (off < size && oks_pgp_packet_next(data, size, &off, &p, &e) == 0) {
        if (p.tag == OKS_PGP_TAG_PUBKEY || p.tag == OKS_PGP_TAG_PUBSUBKEY) {
            oks_pgp_pubkey pk;
            oks_pgp_pubkey_parse(p.body, p.len, p.tag, p.offset, &pk, &e);
        } else {
            /* any body as a signature, embedded signatures included */
            oks_pgp_sig s, emb;
            if (oks_pgp_sig_parse(p.body, p.len, p.offset, &s, &e) == 0 && s.embedded)
                oks_pgp_sig_parse(s.embedded, s.embedded_len, p.offset, &emb, &e);
        }
    }
    oks_buf b = OKS_BUF_INIT;
    if (oks_pgp_packet_write(&b, 13, data, size, size & 1) == 0) {
        off = 0;
        if (oks_pgp_packet_next(b.data, b.len, &off, &p, &e) != 0 || p.len != size ||
            off != b.len)
            __builtin_trap();
    }
    oks_buf_release(&b);
    /* the form served to clients: parses, and is its own client form */
    oks_buf c = OKS_BUF_INIT, c2 = OKS_BUF_INIT;
    if (oks_pgp_key_client_form(data, size, &c) == 1) {
        if (c.len >= size || oks_pgp_key_client_form(c.data, c.len, &c2) != 0 || c2.len != 0)
            __builtin_trap();
    }
    oks_buf_release(&c);
    oks_buf_release(&c2);
    return 0;
}
