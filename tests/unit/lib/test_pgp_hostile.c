/* Hostile keys: the third-party budget is a function of the key's content alone (copies merged
 * in any order clean to the same bytes), packets gpg cannot import are dropped, and keys too
 * costly to verify are refused before the work is done, and certifications the owner attested
 * outrank forgeries. Real keys (debian-keyring, a gpg-made Ed25519 key and an sq-made key with
 * its attestation in tests/data) with crafted junk certifications. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pgp.h"

static void read_file(const char *path, oks_buf *b)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(oks_buf_append(b, chunk, n), 0);
    fclose(f);
}

static uint64_t rng = 88172645463325252ull;
static uint8_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)rng;
}

static void put(uint8_t *p, size_t *o, const void *src, size_t n)
{
    memcpy(p + *o, src, n);
    *o += n;
}

/* A v4 certification (type 0x10, RSA, SHA-256) by a random issuer that verifies for nobody:
 * creation time `created`, a notation padding the hashed area to `hashed` bytes (>= 29), an
 * unhashed area of `unhashed` bytes (>= 10) holding the issuer key ID, a 2048-bit MPI. */
static void junk_cert(oks_buf *out, uint32_t created, size_t hashed, size_t unhashed)
{
    static uint8_t b[70000];
    size_t o = 0;
    uint8_t issuer[20];
    for (int i = 0; i < 20; i++)
        issuer[i] = rnd();
    put(b, &o, (uint8_t[]){4, 0x10, 1, 8, (uint8_t)(hashed >> 8), (uint8_t)hashed}, 6);
    put(b, &o, (uint8_t[]){5, 2, (uint8_t)(created >> 24), (uint8_t)(created >> 16),
                           (uint8_t)(created >> 8), (uint8_t)created}, 6);
    put(b, &o, (uint8_t[]){22, 33, 4}, 3);
    put(b, &o, issuer, 20);
    /* notation subpacket (type 20) filling the rest: 5-octet length form */
    size_t nl = hashed - 29 - 5;
    put(b, &o, (uint8_t[]){255, (uint8_t)(nl >> 24), (uint8_t)(nl >> 16), (uint8_t)(nl >> 8),
                           (uint8_t)nl, 20}, 6);
    for (size_t i = 1; i < nl; i++)
        b[o++] = rnd();
    put(b, &o, (uint8_t[]){(uint8_t)(unhashed >> 8), (uint8_t)unhashed}, 2);
    put(b, &o, (uint8_t[]){9, 16}, 2);
    put(b, &o, issuer + 12, 8);
    if (unhashed > 10) {
        /* one more unhashed subpacket of unhashed - 10 octets (5-octet length form) */
        size_t ul = unhashed - 10 - 5;
        put(b, &o, (uint8_t[]){255, (uint8_t)(ul >> 24), (uint8_t)(ul >> 16), (uint8_t)(ul >> 8),
                               (uint8_t)ul, 101}, 6);
        for (size_t i = 1; i < ul; i++)
            b[o++] = rnd();
    }
    put(b, &o, (uint8_t[]){rnd(), rnd(), 0x08, 0x00}, 4);
    for (int i = 0; i < 256; i++)
        b[o++] = (uint8_t)(rnd() | (i == 0 ? 0x80 : 0));
    assert_int_equal(oks_pgp_packet_write(out, OKS_PGP_TAG_SIG, b, o, false), 0);
}

/* The gpg-made key (primary, user ID, self-certification) with `n` junk certifications after
 * its user ID. */
static void flooded_key(oks_buf *out, size_t n, uint32_t created, size_t hashed)
{
    read_file("tests/data/hostile-owner.pgp", out);
    for (size_t i = 0; i < n; i++)
        junk_cert(out, created + (uint32_t)i, hashed, 10);
}

static void serialize(const oks_pgp_key *k, oks_buf *out)
{
    out->len = 0;
    assert_int_equal(oks_pgp_key_serialize(k, out), 0);
}

/* stored = clean(merge(stored, upload)), as the shard does (stored copies parsed trusted) */
static void add(oks_buf *stored, const uint8_t *p, size_t n, const oks_pgp_limits *lim)
{
    oks_err e;
    oks_pgp_key *inc, *old, *m;
    oks_pgp_limits room = *lim;
    room.max_key_bytes = room.max_sigs_per_uid = (size_t)-1;
    assert_int_equal(oks_pgp_key_parse(p, n, lim, 0, &inc, &e), 0);
    if (stored->len) {
        /* the stored copy from a buffer of its own, released after the merge as the shard
         * releases its record: the merged key must own everything it points to */
        oks_buf copy = OKS_BUF_INIT;
        assert_int_equal(oks_buf_append(&copy, stored->data, stored->len), 0);
        assert_int_equal(oks_pgp_key_parse(copy.data, copy.len, &room, OKS_PGP_TRUSTED, &old,
                                           &e), 0);
        assert_int_equal(oks_pgp_key_merge(old, inc, &room, &m, &e), 0);
        oks_pgp_key_free(old);
        oks_pgp_key_free(inc);
        oks_buf_release(&copy);
    } else {
        m = inc;
    }
    assert_int_equal(oks_pgp_key_verify(m, lim, NULL, &e), 0);
    assert_true(oks_pgp_key_owner_bytes(m) <= lim->max_key_bytes);
    serialize(m, stored);
    oks_pgp_key_free(m);
}

/* Copies of one key, each holding a part of its third-party certifications plus junk dated in
 * the future and in the past, added in every order (4! = 24): every order ends with the same
 * bytes, equal to cleaning the union at once; the budget is applied (a small one here). */
static void any_order_gives_the_same_bytes(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    lim.max_third_party_per_uid = 7;
    lim.max_third_party_per_key = 16;
    /* a key with 2+ user IDs and 20+ certifications */
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    oks_pgp_key *k = NULL;
    while (oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e) == 0) {
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
        size_t certs = 0;
        for (size_t u = 0; u < k->n_uids; u++)
            certs += k->uids[u].sigs.n;
        if (k->n_uids >= 2 && certs >= 40 && k->n_subkeys >= 1)
            break;
        oks_pgp_key_free(k);
        k = NULL;
    }
    assert_non_null(k);
    enum { PARTS = 4 };
    oks_buf part[PARTS];
    for (int c = 0; c < PARTS; c++) {
        part[c] = (oks_buf)OKS_BUF_INIT;
        oks_buf *b = &part[c];
        assert_int_equal(oks_pgp_packet_write(b, 6, k->primary.body, k->primary.len, false), 0);
        for (size_t i = 0; i < k->sigs.n; i++)
            oks_pgp_packet_write(b, 2, k->sigs.v[i].body, k->sigs.v[i].len, false);
        for (size_t u = 0; u < k->n_uids; u++) {
            const oks_pgp_uid *uid = &k->uids[u];
            oks_pgp_packet_write(b, uid->tag, uid->body, uid->len, false);
            for (size_t i = 0; i < uid->sigs.n; i++) {
                const oks_pgp_sig *s = &uid->sigs.v[i];
                bool self = s->has_issuer && memcmp(s->issuer, k->primary.keyid, 8) == 0;
                if (self || i % PARTS == (size_t)c)
                    oks_pgp_packet_write(b, 2, s->body, s->len, false);
            }
            /* junk: dated 2030 and dated just after the key's creation */
            junk_cert(b, 1900000000u + (uint32_t)c, 100, 10);
            junk_cert(b, k->primary.created + 1 + (uint32_t)c, 100, 10);
        }
        for (size_t sk = 0; sk < k->n_subkeys; sk++) {
            oks_pgp_packet_write(b, 14, k->subkeys[sk].key.body, k->subkeys[sk].key.len, false);
            for (size_t i = 0; i < k->subkeys[sk].sigs.n; i++)
                oks_pgp_packet_write(b, 2, k->subkeys[sk].sigs.v[i].body,
                                     k->subkeys[sk].sigs.v[i].len, false);
            junk_cert(b, 1900000000u + (uint32_t)c, 100, 10);
        }
    }
    /* all at once: the union of every part, cleaned once */
    oks_buf want = OKS_BUF_INIT, got = OKS_BUF_INIT;
    oks_pgp_key *u;
    assert_int_equal(oks_pgp_key_parse(part[0].data, part[0].len, NULL, 0, &u, &e), 0);
    for (int c = 1; c < PARTS; c++) {
        oks_pgp_key *p, *m;
        assert_int_equal(oks_pgp_key_parse(part[c].data, part[c].len, NULL, 0, &p, &e), 0);
        assert_int_equal(oks_pgp_key_merge(u, p, NULL, &m, &e), 0);
        oks_pgp_key_free(u);
        oks_pgp_key_free(p);
        u = m;
    }
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_verify(u, &lim, &st, &e), 0);
    assert_true(st.third_party_dropped > 0); /* the budget did cut */
    serialize(u, &want);
    oks_pgp_key_free(u);
    int perm[PARTS] = {0, 1, 2, 3}, orders = 0;
    for (;;) {
        got.len = 0;
        for (int c = 0; c < PARTS; c++)
            add(&got, part[perm[c]].data, part[perm[c]].len, &lim);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        orders++;
        /* next permutation */
        int i = PARTS - 2;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = PARTS - 1;
        while (perm[j] < perm[i])
            j--;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        for (int a = i + 1, b = PARTS - 1; a < b; a++, b--) {
            t = perm[a];
            perm[a] = perm[b];
            perm[b] = t;
        }
    }
    assert_int_equal(orders, 24);
    for (int c = 0; c < PARTS; c++)
        oks_buf_release(&part[c]);
    oks_buf_release(&want);
    oks_buf_release(&got);
    oks_pgp_key_free(k);
    oks_buf_release(&ring);
}

/* Junk certifications dated in the future never outrank real ones: the Debian key's own
 * certifications all stay (within the budget), the 2030 junk goes. */
static void future_junk_does_not_evict_real_certifications(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT, b = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    oks_pgp_key *k = NULL;
    size_t real = 0;
    while (oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e) == 0) {
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
        real = k->n_uids == 1 ? k->uids[0].sigs.n : 0;
        if (real >= 60)
            break;
        oks_pgp_key_free(k);
        k = NULL;
    }
    assert_non_null(k);
    oks_buf_append(&b, ks.ptr, ks.len);
    oks_pgp_key_free(k);
    /* 500 junk certifications on its user ID, dated 2030 (appended after the subkeys: put them
     * right after the user ID's signatures by rebuilding) */
    oks_pgp_key *orig;
    assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &orig, &e), 0);
    b.len = 0;
    oks_pgp_packet_write(&b, 6, orig->primary.body, orig->primary.len, false);
    oks_pgp_packet_write(&b, 13, orig->uids[0].body, orig->uids[0].len, false);
    for (int i = 0; i < 500; i++)
        junk_cert(&b, 1900000000u + (uint32_t)i, 60, 10);
    for (size_t i = 0; i < orig->uids[0].sigs.n; i++)
        oks_pgp_packet_write(&b, 2, orig->uids[0].sigs.v[i].body, orig->uids[0].sigs.v[i].len,
                             false);
    oks_pgp_key *k2;
    assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k2, &e), 0);
    oks_pgp_verify_stats st, st0;
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    assert_int_equal(oks_pgp_key_verify(orig, &lim, &st0, &e), 0);
    assert_true(st0.third_party > 0);
    lim.max_third_party_per_uid = st0.third_party; /* room for every real one, not one more */
    assert_int_equal(oks_pgp_key_verify(k2, &lim, &st, &e), 0);
    assert_int_equal(st.third_party, st0.third_party);
    assert_int_equal(k2->uids[0].sigs.n, orig->uids[0].sigs.n);
    for (size_t i = 0; i < k2->uids[0].sigs.n; i++)
        assert_true(k2->uids[0].sigs.v[i].created < 1900000000u);
    oks_pgp_key_free(k2);
    oks_pgp_key_free(orig);
    oks_buf_release(&b);
    oks_buf_release(&ring);
}

/* A key flooded to just under max_key_bytes still takes its owner's revocation: the limit is
 * on the owner's material, the junk is cut to its budget; a key stored flooded (before the
 * budget existed) is cut down the same way when the revocation comes. */
static void flood_cannot_block_the_revocation(void **state)
{
    (void)state;
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    oks_buf up = OKS_BUF_INIT, stored = OKS_BUF_INIT, rev = OKS_BUF_INIT;
    /* 126 junk certifications of ~1,580 bytes, dated 2030: the limit just above them */
    flooded_key(&up, 126, 1900000000u, 1300);
    lim.max_key_bytes = up.len + 60;
    /* stored as if before the budget (all 120 kept, parsed trusted), then the revocation */
    oks_err e;
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_key_parse(up.data, up.len, &lim, 0, &k, &e), 0);
    oks_pgp_limits old = lim;
    old.max_third_party_per_uid = old.max_third_party_per_key = 500;
    assert_int_equal(oks_pgp_key_verify(k, &old, NULL, &e), 0);
    serialize(k, &stored);
    oks_pgp_key_free(k);
    /* the owner's upload: primary key, revocation, user ID and self-certification */
    oks_buf own = OKS_BUF_INIT;
    read_file("tests/data/hostile-owner.pgp", &own);
    size_t o = 0;
    oks_pgp_packet pk;
    assert_int_equal(oks_pgp_packet_next(own.data, own.len, &o, &pk, &e), 0);
    oks_buf_append(&rev, own.data, o);
    read_file("tests/data/hostile-owner-rev.pgp", &rev);
    oks_buf_append(&rev, own.data + o, own.len - o);
    oks_buf_release(&own);
    /* the revocation alone pushes the whole key past max_key_bytes */
    assert_true(stored.len + 122 > lim.max_key_bytes);
    lim.max_third_party_per_key = 64;
    add(&stored, rev.data, rev.len, &lim);
    assert_int_equal(oks_pgp_key_parse(stored.data, stored.len, NULL, OKS_PGP_TRUSTED, &k, &e), 0);
    assert_true(oks_pgp_key_revoked(k));
    size_t tp = 0;
    for (size_t i = 0; i < k->uids[0].sigs.n; i++)
        tp += k->uids[0].sigs.v[i].state == OKS_SIG_THIRD_PARTY;
    assert_int_equal(tp, 64);
    oks_pgp_key_free(k);
    oks_buf_release(&up);
    oks_buf_release(&stored);
    oks_buf_release(&rev);
}

/* What gpg refuses to import is dropped while parsing: a certification whose unhashed or hashed
 * area exceeds 10,000 bytes, a user ID over 2,048 bytes; 10,000 exactly is kept. */
static void packets_gpg_refuses_are_dropped(void **state)
{
    (void)state;
    struct {
        size_t hashed, unhashed;
        bool kept;
    } cases[] = {{100, 10001, false}, {10001, 10, false}, {100, 10000, true}, {10000, 10, true}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oks_buf b = OKS_BUF_INIT;
        read_file("tests/data/hostile-owner.pgp", &b);
        junk_cert(&b, 1700000000u, cases[c].hashed, cases[c].unhashed);
        oks_pgp_key *k;
        oks_err e;
        assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
        assert_int_equal(k->uids[0].sigs.n, cases[c].kept ? 2 : 1);
        assert_int_equal(k->dropped_packets, cases[c].kept ? 0 : 1);
        oks_pgp_key_free(k);
        oks_buf_release(&b);
    }
    /* a 2,049-byte user ID (and its signature) is dropped; 2,048 is kept */
    for (size_t len = 2048; len <= 2049; len++) {
        oks_buf b = OKS_BUF_INIT, orig = OKS_BUF_INIT;
        read_file("tests/data/hostile-owner.pgp", &orig);
        oks_pgp_key *k;
        oks_err e;
        assert_int_equal(oks_pgp_key_parse(orig.data, orig.len, NULL, 0, &k, &e), 0);
        oks_pgp_packet_write(&b, 6, k->primary.body, k->primary.len, false);
        oks_pgp_packet_write(&b, 13, k->uids[0].body, k->uids[0].len, false);
        oks_pgp_packet_write(&b, 2, k->uids[0].sigs.v[0].body, k->uids[0].sigs.v[0].len, false);
        uint8_t *uid = malloc(len);
        memset(uid, 'a', len);
        oks_pgp_packet_write(&b, 13, uid, len, false);
        free(uid);
        oks_pgp_key_free(k);
        assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
        assert_int_equal(k->n_uids, len == 2048 ? 2 : 1);
        oks_pgp_key_free(k);
        oks_buf_release(&b);
        oks_buf_release(&orig);
    }
}

/* An RSA key with a 16,384-bit public exponent (4096-bit modulus) and 20 self-signatures whose
 * digest prefixes match: refused by the acceptance policy before any verification; with a
 * 17-bit exponent it is accepted, and cleaning stops at the work budget: no more public-key
 * operations than the budget allows. */
static void costly_rsa_key_is_refused_before_the_work(void **state)
{
    (void)state;
    for (int big = 1; big >= 0; big--) {
        size_t ebits = big ? 16384 : 17;
        oks_buf body = OKS_BUF_INIT, b = OKS_BUF_INIT;
        uint8_t hdr[6] = {4, 0x60, 0, 0, 0, 1};
        oks_buf_append(&body, hdr, 6);
        uint8_t mpi[2 + 2048];
        mpi[0] = 4096 >> 8;
        mpi[1] = 0;
        for (int i = 0; i < 512; i++)
            mpi[2 + i] = (uint8_t)(rnd() | (i == 0 ? 0x80 : 0) | (i == 511 ? 1 : 0));
        oks_buf_append(&body, mpi, 2 + 512);
        mpi[0] = (uint8_t)(ebits >> 8);
        mpi[1] = (uint8_t)ebits;
        size_t eb = (ebits + 7) / 8;
        for (size_t i = 0; i < eb; i++)
            mpi[2 + i] = (uint8_t)(rnd() | 1);
        mpi[2] = big ? 0xff : 0x01; /* 16384 or 17 significant bits */
        if (!big) {
            mpi[3] = 0x00;
            mpi[4] = 0x01;
        }
        oks_buf_append(&body, mpi, 2 + eb);
        oks_pgp_packet_write(&b, 6, body.data, body.len, false);
        oks_pgp_packet_write(&b, 13, (const uint8_t *)"Costly <c@example.org>", 22, false);
        oks_pgp_key *k;
        oks_err e;
        assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
        if (big) {
            assert_int_equal(oks_pgp_key_acceptable(k, &e), OKS_E_UNSUPPORTED);
            assert_non_null(strstr(e.msg, "exponent"));
        } else {
            assert_int_equal(oks_pgp_key_acceptable(k, &e), 0);
            assert_int_equal(oks_pgp_verify_cost(&k->primary), 4);
        }
        oks_pgp_key_free(k);
        oks_buf_release(&body);
        oks_buf_release(&b);
    }
}

/* The attack key itself (helpers/make_hostile.py costly: 16,384-bit exponent, 20
 * self-certifications whose digest prefixes match): cleaning refuses it without one public-key
 * operation, also when the acceptance policy was skipped. */
static void huge_exponent_key_costs_no_public_key_operation(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    read_file("tests/fuzz/corpus/key/rsa-huge-exponent.pgp", &b);
    oks_pgp_key *k;
    oks_err e;
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
    assert_int_equal(k->uids[0].sigs.n, 20);
    assert_int_equal(oks_pgp_key_acceptable(k, &e), OKS_E_UNSUPPORTED);
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), OKS_E_UNSUPPORTED);
    assert_int_equal(st.pk_ops, 0);
    /* the primitive refuses it too */
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, &k->uids[0], NULL,
                                        &k->uids[0].sigs.v[0], &e),
                     OKS_E_UNSUPPORTED);
    oks_pgp_key_free(k);
    oks_buf_release(&b);
}

/* A real key cleaned under a work budget smaller than its self-signatures need: refused with
 * OKS_E_LIMIT, and no more public-key operations were done than the budget pays for. */
static void work_budget_bounds_public_key_operations(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    int tested = 0;
    while (tested < 20 && oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e) == 0) {
        oks_pgp_key *k;
        oks_pgp_verify_stats st;
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
        oks_pgp_key_free(k);
        size_t full = st.verify_cost, ops = st.pk_ops;
        if (ops < 4)
            continue;
        oks_pgp_limits lim;
        oks_pgp_limits_default(&lim);
        lim.max_verify_cost = full - 1;
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, &lim, &st, &e), OKS_E_LIMIT);
        assert_true(st.verify_cost <= lim.max_verify_cost);
        assert_true(st.pk_ops < ops);
        oks_pgp_key_free(k);
        tested++;
    }
    assert_int_equal(tested, 20);
    oks_buf_release(&ring);
}

/* How many of the certifications by other keys in the sq-made key tests/data/attest-certified.pgp
 * (two, by Carol and Dave) the key in b carries. */
static int real_certifications(const oks_buf *b)
{
    oks_buf c = OKS_BUF_INIT;
    read_file("tests/data/attest-certified.pgp", &c);
    size_t o = 0;
    oks_pgp_packet pk;
    oks_err e;
    int real = 0, found = 0;
    while (o < c.len) {
        assert_int_equal(oks_pgp_packet_next(c.data, c.len, &o, &pk, &e), 0);
        if (pk.tag != OKS_PGP_TAG_SIG || pk.len < 2 || pk.body[1] != 0x10)
            continue;
        real++;
        found += memmem(b->data, b->len, pk.body, pk.len) != NULL;
    }
    assert_int_equal(real, 2);
    oks_buf_release(&c);
    return found;
}

/* Forged certifications dated at the key's creation outrank (oldest first) the real ones made
 * later and push them out; the owner's attestation (sq key attest-certifications) brings them
 * back, ahead of every forgery, whichever order the three copies arrive in, to the same bytes.
 * A budget of 4 per user ID; 6 forgeries. */
static void attested_certifications_outrank_forgeries(void **state)
{
    (void)state;
    static const char *const files[3] = {"tests/data/attest-certified.pgp",
                                         "tests/data/attest-forged.pgp",
                                         "tests/data/attest-attested.pgp"};
    static const int orders[][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {1, 0, 2}};
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    lim.max_third_party_per_uid = 4;
    oks_buf in[3] = {OKS_BUF_INIT, OKS_BUF_INIT, OKS_BUF_INIT}, first = OKS_BUF_INIT;
    for (int i = 0; i < 3; i++)
        read_file(files[i], &in[i]);
    /* the attack alone: the forgeries take the whole budget */
    oks_buf stored = OKS_BUF_INIT;
    add(&stored, in[0].data, in[0].len, &lim);
    assert_int_equal(real_certifications(&stored), 2);
    add(&stored, in[1].data, in[1].len, &lim);
    assert_int_equal(real_certifications(&stored), 0);
    oks_buf_release(&stored);
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        oks_buf b = OKS_BUF_INIT;
        for (int i = 0; i < 3; i++)
            add(&b, in[orders[o][i]].data, in[orders[o][i]].len, &lim);
        assert_int_equal(real_certifications(&b), 2);
        oks_pgp_key *k;
        oks_pgp_verify_stats st;
        oks_err e;
        assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, OKS_PGP_TRUSTED, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, &lim, &st, &e), 0);
        assert_int_equal(st.third_party, 4);
        assert_int_equal(st.attested, 2);
        oks_pgp_key_free(k);
        if (o == 0) {
            oks_buf_append(&first, b.data, b.len);
        } else {
            assert_int_equal(b.len, first.len);
            assert_memory_equal(b.data, first.data, b.len);
        }
        oks_buf_release(&b);
    }
    for (int i = 0; i < 3; i++)
        oks_buf_release(&in[i]);
    oks_buf_release(&first);
}

/* The work estimate a gateway charges before sending a key on: one check per claimed
 * self-signature at the primary key's cost; nothing for a key refused before any check. */
static void verify_estimate_bounds_the_work(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    oks_pgp_key *k;
    read_file("tests/data/attest-forged.pgp", &b);
    assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
    size_t est = oks_pgp_key_verify_estimate(k, NULL);
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
    /* the forgeries and Carol's and Dave's certifications are not self-signatures */
    assert_int_equal(est, st.pk_ops);
    assert_true(est >= 4);
    oks_pgp_key_free(k);
    oks_buf_release(&b);
    read_file("tests/fuzz/corpus/key/rsa-huge-exponent.pgp", &b);
    assert_int_equal(oks_pgp_key_parse(b.data, b.len, NULL, 0, &k, &e), 0);
    assert_int_equal(oks_pgp_key_verify_estimate(k, NULL), 0);
    oks_pgp_key_free(k);
    oks_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(any_order_gives_the_same_bytes),
        cmocka_unit_test(future_junk_does_not_evict_real_certifications),
        cmocka_unit_test(flood_cannot_block_the_revocation),
        cmocka_unit_test(packets_gpg_refuses_are_dropped),
        cmocka_unit_test(costly_rsa_key_is_refused_before_the_work),
        cmocka_unit_test(huge_exponent_key_costs_no_public_key_operation),
        cmocka_unit_test(work_budget_bounds_public_key_operations),
        cmocka_unit_test(attested_certifications_outrank_forgeries),
        cmocka_unit_test(verify_estimate_bounds_the_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
