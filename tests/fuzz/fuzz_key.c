/* Fuzz target: split a stream into keys, assemble each, and check the canonical-form laws:
 * serialize(parse(serialize(k))) == serialize(k), merge(k, k) == k, merge(a, b) == merge(b, a)
 * for the first key and a copy of it cut in half; the SKS hash and mr index must not crash, and
 * a key cleaned by verification must still serialize to something that parses. */
#include "lib/pgp.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const oks_pgp_key *x, const oks_pgp_key *y)
{
    oks_buf a = OKS_BUF_INIT, b = OKS_BUF_INIT;
    oks_pgp_key_serialize(x, &a);
    oks_pgp_key_serialize(y, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        __builtin_trap();
    oks_buf_release(&a);
    oks_buf_release(&b);
}

static void laws(const oks_pgp_key *k, const oks_pgp_limits *lim)
{
    oks_buf ser = OKS_BUF_INIT, idx = OKS_BUF_INIT;
    oks_err e;
    uint8_t h[16];
    oks_pgp_key_sks_hash(k, h);
    oks_pgp_key_mr_index(k, &idx);
    oks_pgp_key_serialize(k, &ser);
    oks_pgp_key *k2 = NULL, *m = NULL, *a = NULL, *ab = NULL, *ba = NULL;
    if (oks_pgp_key_parse(ser.data, ser.len, lim, 0, &k2, &e) != 0)
        __builtin_trap(); /* a canonical key always parses again */
    same(k, k2);
    if (oks_pgp_key_merge(k, k, lim, &m, &e) == 0)
        same(k, m);
    /* the first half of the packets (cut at a packet boundary) merged back with the whole */
    size_t off = 0, cut = 0, n = 0;
    oks_pgp_packet p;
    while (off < ser.len && oks_pgp_packet_next(ser.data, ser.len, &off, &p, NULL) == 0)
        if (++n % 2 == 0 || cut == 0)
            cut = off;
    if (oks_pgp_key_parse(ser.data, cut, lim, 0, &a, &e) == 0 &&
        oks_pgp_key_merge(a, k, lim, &ab, &e) == 0 && oks_pgp_key_merge(k, a, lim, &ba, &e) == 0)
        same(ab, ba);
    oks_pgp_key_free(k2);
    oks_pgp_key_free(m);
    oks_pgp_key_free(a);
    oks_pgp_key_free(ab);
    oks_pgp_key_free(ba);
    oks_buf_release(&ser);
    oks_buf_release(&idx);
}

static void cleaned(const uint8_t *p, size_t n, const oks_pgp_limits *lim)
{
    oks_pgp_key *k = NULL, *k2 = NULL;
    oks_pgp_verify_stats st;
    oks_buf ser = OKS_BUF_INIT, idx = OKS_BUF_INIT;
    uint8_t h[16];
    if (oks_pgp_key_parse(p, n, lim, 0, &k, NULL) != 0)
        return;
    memset(&st, 0, sizeof st);
    if (oks_pgp_key_verify(k, lim, &st, NULL) == 0) {
        oks_pgp_key_mr_index(k, &idx);
        oks_pgp_key_sks_hash(k, h);
        oks_pgp_key_expires(k);
        for (size_t i = 0; i < k->n_subkeys; i++)
            oks_pgp_subkey_revoked(k, &k->subkeys[i]);
        oks_pgp_key_serialize(k, &ser);
        if (oks_pgp_key_parse(ser.data, ser.len, lim, 0, &k2, NULL) != 0)
            __builtin_trap();
    }
    oks_pgp_key_free(k);
    oks_pgp_key_free(k2);
    oks_buf_release(&ser);
    oks_buf_release(&idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    lim.max_packets = 2000;
    size_t off = 0;
    oks_slice s;
    oks_err e;
    for (int i = 0; i < 16; i++) {
        size_t before = off;
        int r = oks_pgp_split_next(data, size, &off, &s, &e);
        if (r == 1)
            break;
        if (off <= before && off < size)
            __builtin_trap();
        if (r < 0)
            continue;
        oks_pgp_key *k;
        if (oks_pgp_key_parse(s.ptr, s.len, &lim, 0, &k, &e) == 0) {
            laws(k, &lim);
            oks_pgp_key_free(k);
            cleaned(s.ptr, s.len, &lim);
        }
    }
    return 0;
}
