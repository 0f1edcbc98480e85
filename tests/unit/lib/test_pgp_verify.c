/* lib/pgp_verify + pgp_clean: self-signatures verify on real keys, a corrupted one is dropped
 * and only it, trusted signatures are not checked again, v6 (RFC 9580 A.3) verifies, an Ed448
 * v6 key signed by OpenSSL verifies, the whole debian-keyring verifies on two threads at once,
 * the left-16 check, unknown hash algorithms and v6 salt sizes are reported as such, the
 * third-party cap keeps the newest certifications and third-party signatures stay wherever they
 * sit, v3 keys are not acceptable, bytes after a v4 key's material are left out of its
 * fingerprint and signatures (as gpg does) but kept in the packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pgp.h"

static void read_file(const char *path, oks_buf *b)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(oks_buf_append(b, chunk, n), 0);
    fclose(f);
}

static void rfc9580_v6_certificate_verifies(void **state)
{
    (void)state;
    oks_buf text = OKS_BUF_INIT, bin = OKS_BUF_INIT;
    read_file("tests/data/rfc9580-a3.asc", &text);
    size_t off = 0;
    oks_err e;
    assert_int_equal(oks_armor_decode((char *)text.data, text.len, &off, &bin, &e), 0);
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
    assert_int_equal(st.self_dropped, 0);
    assert_int_equal(st.self_verified, 2); /* direct-key signature + subkey binding */
    assert_int_equal(k->n_subkeys, 1);
    assert_false(oks_pgp_key_revoked(k));
    oks_pgp_key_free(k);
    oks_buf_release(&text);
    oks_buf_release(&bin);
}

/* Finds, in a verified key, a user ID with two or more good self-certifications. */
static const oks_pgp_sig *two_self_certs(const oks_pgp_key *k)
{
    for (size_t u = 0; u < k->n_uids; u++) {
        const oks_pgp_sig *found = NULL;
        int n = 0;
        for (size_t i = 0; i < k->uids[u].sigs.n; i++)
            if (k->uids[u].sigs.v[i].state == OKS_SIG_GOOD) {
                found = &k->uids[u].sigs.v[i];
                n++;
            }
        if (n >= 2)
            return found;
    }
    return NULL;
}

static void corrupted_self_signature_is_dropped_alone(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    int tried = 0;
    while (oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e) == 0 && tried < 50) {
        oks_pgp_key *k;
        oks_pgp_verify_stats st;
        if (oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e) ||
            oks_pgp_key_verify(k, NULL, &st, &e)) {
            continue;
        }
        const oks_pgp_sig *victim = two_self_certs(k);
        if (!victim) {
            oks_pgp_key_free(k);
            continue;
        }
        tried++;
        size_t uids = k->n_uids, good = st.self_verified;
        /* flip a bit at the end of that signature in a copy of the original bytes */
        uint8_t *copy = malloc(ks.len);
        memcpy(copy, ks.ptr, ks.len);
        uint8_t *at = memmem(copy, ks.len, victim->body, victim->len);
        assert_non_null(at);
        at[victim->len - 1] ^= 0x01;
        oks_pgp_key_free(k);
        assert_int_equal(oks_pgp_key_parse(copy, ks.len, NULL, 0, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
        assert_int_equal(st.self_dropped, 1);
        assert_int_equal(st.self_verified, good - 1);
        assert_int_equal(k->n_uids, uids);
        oks_pgp_key_free(k);
        free(copy);
        break;
    }
    assert_int_equal(tried, 1);
    oks_buf_release(&ring);
}

static void trusted_signatures_are_not_verified_again(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-role-keys.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e), 0);
    oks_pgp_key *k;
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, OKS_PGP_TRUSTED, &k, &e), 0);
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
    assert_int_equal(st.self_verified, 0);
    assert_true(st.self_trusted > 0);
    oks_pgp_key_free(k);
    oks_buf_release(&ring);
}

static void key_without_valid_user_id_is_refused(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-role-keys.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e), 0);
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
    /* break every user ID self-certification */
    uint8_t *copy = malloc(ks.len);
    memcpy(copy, ks.ptr, ks.len);
    for (size_t u = 0; u < k->n_uids; u++)
        for (size_t i = 0; i < k->uids[u].sigs.n; i++) {
            const oks_pgp_sig *s = &k->uids[u].sigs.v[i];
            uint8_t *at = memmem(copy, ks.len, s->body, s->len);
            if (at && s->has_issuer && !memcmp(s->issuer, k->primary.keyid, 8))
                at[s->len - 1] ^= 0x80;
        }
    oks_pgp_key_free(k);
    assert_int_equal(oks_pgp_key_parse(copy, ks.len, NULL, 0, &k, &e), 0);
    assert_int_equal(oks_pgp_key_verify(k, NULL, NULL, &e), OKS_E_NOTKEY);
    oks_pgp_key_free(k);
    free(copy);
    oks_buf_release(&ring);
}

/* tests/data/ed448-v6.pgp: a v6 Ed448 (algorithm 28) key with a direct-key signature and a
 * user ID certification, made by tests/integration/helpers/make_v6_ed448.py with OpenSSL, so
 * libgcrypt checks signatures it did not make. */
static void ed448_v6_key_signed_by_openssl_verifies(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    read_file("tests/data/ed448-v6.pgp", &bin);
    oks_pgp_key *k;
    oks_err e;
    oks_pgp_verify_stats st;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
    assert_int_equal(k->primary.algo, OKS_PGP_ED448);
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
    assert_int_equal(st.self_verified, 2);
    assert_int_equal(st.self_dropped, 0);
    assert_int_equal(k->n_uids, 1);
    /* break the user ID certification: it goes, with its user ID; the v6 key stays usable */
    const oks_pgp_sig *cert = &k->uids[0].sigs.v[0];
    uint8_t *at = memmem(bin.data, bin.len, cert->body, cert->len);
    assert_non_null(at);
    at[cert->len - 1] ^= 0x01;
    oks_pgp_key_free(k);
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
    assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
    assert_int_equal(st.self_verified, 1);
    assert_int_equal(st.self_dropped, 1);
    assert_int_equal(st.uids_dropped, 1);
    assert_int_equal(k->n_uids, 0);
    oks_pgp_key_free(k);
    oks_buf_release(&bin);
}

static void left16_hash_and_salt_errors_are_told_apart(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    read_file("tests/data/ed448-v6.pgp", &bin);
    oks_pgp_key *k;
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
    assert_true(k->sigs.n >= 1);
    oks_pgp_sig s = k->sigs.v[0];
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, NULL, NULL, &s, &e), 0);
    s.left16[0] ^= 0xFF;
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, NULL, NULL, &s, &e),
                     OKS_E_BADSIG);
    s = k->sigs.v[0];
    s.hash_algo = 99;
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, NULL, NULL, &s, &e),
                     OKS_E_UNSUPPORTED);
    /* v6: the salt size must match the hash (32 octets for SHA-512), and SHA-1 is refused */
    s = k->sigs.v[0];
    s.salt_len = 16;
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, NULL, NULL, &s, &e),
                     OKS_E_FORMAT);
    s = k->sigs.v[0];
    s.hash_algo = 2;
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, NULL, NULL, &s, &e),
                     OKS_E_FORMAT);
    /* the same signature checked as if it bound a user ID: a different digest */
    s = k->sigs.v[0];
    assert_int_equal(oks_pgp_sig_verify(&k->primary, &k->primary, &k->uids[0], NULL, &s, &e),
                     OKS_E_BADSIG);
    oks_pgp_key_free(k);
    oks_buf_release(&bin);
}

/* tests/data/matrix-*.pgp (tests/integration/helpers/make_sig_matrix.py, signed by OpenSSL):
 * one user ID per hash algorithm (MD5, SHA-1, RIPEMD-160, SHA-224/256/384/512, SHA3-256/512),
 * plus a v3 certification (RSA, DSA) or one whose EdDSA r is a short MPI (Ed25519). */
static void every_hash_algorithm_verifies(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        size_t sigs;
    } cases[] = {{"tests/data/matrix-rsa.pgp", 10}, {"tests/data/matrix-dsa.pgp", 10},
                 {"tests/data/matrix-p521.pgp", 9}, {"tests/data/matrix-ed25519.pgp", 10}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oks_buf bin = OKS_BUF_INIT;
        read_file(cases[c].file, &bin);
        oks_pgp_key *k;
        oks_err e;
        oks_pgp_verify_stats st;
        assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
        assert_int_equal(st.self_dropped, 0);
        assert_int_equal(st.self_verified, cases[c].sigs);
        assert_int_equal(k->n_uids, cases[c].sigs);
        oks_pgp_key_free(k);
        oks_buf_release(&bin);
    }
}

/* With max_third_party_per_uid = 3, each user ID keeps its 3 oldest third-party certifications
 * (a claimed creation time in the future never outranks a real one) and every self-signature;
 * the counts in the stats add up. */
static void third_party_certifications_capped_oldest_kept(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    lim.max_third_party_per_uid = 3;
    int checked = 0;
    while (checked < 20 && oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e) == 0) {
        oks_pgp_key *full, *k;
        oks_pgp_verify_stats fst, st;
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &full, &e), 0);
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
        assert_int_equal(oks_pgp_key_verify(full, NULL, &fst, &e), 0);
        assert_int_equal(oks_pgp_key_verify(k, &lim, &st, &e), 0);
        if (fst.third_party <= 3 * full->n_uids) {
            oks_pgp_key_free(full);
            oks_pgp_key_free(k);
            continue;
        }
        checked++;
        assert_int_equal(st.self_verified, fst.self_verified);
        assert_int_equal(st.third_party + st.third_party_dropped,
                         fst.third_party + fst.third_party_dropped);
        assert_true(st.third_party_dropped > 0);
        assert_int_equal(k->n_uids, full->n_uids);
        size_t kept_total = 0;
        for (size_t u = 0; u < k->n_uids; u++) {
            const oks_pgp_sigs *kept = &k->uids[u].sigs, *all = &full->uids[u].sigs;
            size_t n = 0, n_all = 0;
            uint32_t newest_kept = 0, oldest_gone = UINT32_MAX;
            for (size_t i = 0; i < kept->n; i++)
                if (kept->v[i].state == OKS_SIG_THIRD_PARTY) {
                    n++;
                    if (kept->v[i].created > newest_kept)
                        newest_kept = kept->v[i].created;
                }
            for (size_t i = 0; i < all->n; i++) {
                if (all->v[i].state != OKS_SIG_THIRD_PARTY)
                    continue;
                n_all++;
                bool found = false;
                for (size_t j = 0; j < kept->n && !found; j++)
                    found = kept->v[j].len == all->v[i].len &&
                            memcmp(kept->v[j].body, all->v[i].body, all->v[i].len) == 0;
                if (!found && all->v[i].created < oldest_gone)
                    oldest_gone = all->v[i].created;
            }
            assert_int_equal(n, n_all < 3 ? n_all : 3);
            if (n < n_all)
                assert_true(newest_kept <= oldest_gone);
            kept_total += n;
        }
        assert_int_equal(kept_total, st.third_party);
        oks_pgp_key_free(full);
        oks_pgp_key_free(k);
    }
    assert_int_equal(checked, 20);
    oks_buf_release(&ring);
}

typedef struct ring_job {
    oks_pgp_key **keys;
    size_t n;
    oks_pgp_verify_stats sum;
    size_t refused;
    unsigned algos; /* bit per signer algorithm seen on a kept key */
    size_t hash_changed; /* keys whose SKS hash cleaning changed */
} ring_job;

static void *verify_keys(void *arg)
{
    ring_job *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        oks_pgp_verify_stats st;
        oks_err e;
        uint8_t before[16], after[16];
        oks_pgp_key_sks_hash(j->keys[i], before);
        if (oks_pgp_key_verify(j->keys[i], NULL, &st, &e)) {
            j->refused++;
            continue;
        }
        j->sum.self_verified += st.self_verified;
        j->sum.self_dropped += st.self_dropped;
        j->sum.uids_dropped += st.uids_dropped;
        j->sum.subkeys_dropped += st.subkeys_dropped;
        j->algos |= 1u << (j->keys[i]->primary.algo & 31);
        oks_pgp_key_sks_hash(j->keys[i], after);
        j->hash_changed += memcmp(before, after, 16) != 0;
    }
    return NULL;
}

/* Every key of debian-keyring.gpg (RSA, DSA with Elgamal subkeys, EdDSA, ECDSA P-384), cleaned
 * on two threads at once: every self-signature verifies, nothing is dropped, so every key keeps
 * the SKS hash SKS stores for it. 249CB3771750745D5CDD323CE267B052364F028D carries two
 * third-party certifications before its first user ID: they stay where they are. */
static void debian_keyring_verifies_on_two_threads(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-keyring.gpg", &ring);
    size_t off = 0, n = 0, cap = 0;
    oks_pgp_key **keys = NULL;
    oks_slice ks;
    oks_err e;
    int rc;
    while ((rc = oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e)) != 1) {
        assert_int_equal(rc, 0);
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            keys = realloc(keys, cap * sizeof *keys);
            assert_non_null(keys);
        }
        assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &keys[n], &e), 0);
        n++;
    }
    assert_true(n > 800);
    ring_job jobs[2] = {{keys, n / 2, {0}, 0, 0, 0}, {keys + n / 2, n - n / 2, {0}, 0, 0, 0}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, verify_keys, &jobs[1]), 0);
    verify_keys(&jobs[0]);
    assert_int_equal(pthread_join(t, NULL), 0);
    size_t verified = jobs[0].sum.self_verified + jobs[1].sum.self_verified;
    assert_int_equal(jobs[0].refused + jobs[1].refused, 0);
    assert_int_equal(jobs[0].sum.self_dropped + jobs[1].sum.self_dropped, 0);
    assert_int_equal(jobs[0].sum.uids_dropped + jobs[1].sum.uids_dropped, 0);
    assert_int_equal(jobs[0].sum.subkeys_dropped + jobs[1].sum.subkeys_dropped, 0);
    assert_int_equal(jobs[0].sum.third_party_dropped + jobs[1].sum.third_party_dropped, 0);
    assert_int_equal(jobs[0].hash_changed + jobs[1].hash_changed, 0);
    assert_true(verified > 6000);
    unsigned algos = jobs[0].algos | jobs[1].algos;
    assert_true(algos & (1u << OKS_PGP_RSA));
    assert_true(algos & (1u << OKS_PGP_DSA));
    assert_true(algos & (1u << OKS_PGP_EDDSA));
    assert_true(algos & (1u << OKS_PGP_ECDSA));
    for (size_t i = 0; i < n; i++)
        oks_pgp_key_free(keys[i]);
    free(keys);
    oks_buf_release(&ring);
}

/* One acceptance policy (oks_pgp_key_acceptable), applied by the shard and oksctl inspect: a v3
 * RSA key parses but is refused, a v4 key is accepted. */
static void v3_keys_are_not_acceptable(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT, body = OKS_BUF_INIT;
    static const uint8_t head[] = {3, 0x40, 0, 0, 0, 0, 0, 1};
    oks_buf_append(&body, head, sizeof head);
    uint8_t n[2 + 64], ex[] = {0, 17, 1, 0, 1};
    n[0] = 2; /* 512-bit modulus */
    n[1] = 0;
    for (size_t i = 2; i < sizeof n; i++)
        n[i] = (uint8_t)(0x80 | i);
    oks_buf_append(&body, n, sizeof n);
    oks_buf_append(&body, ex, sizeof ex);
    assert_int_equal(oks_pgp_packet_write(&bin, OKS_PGP_TAG_PUBKEY, body.data, body.len, false), 0);
    oks_pgp_key *k;
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k, &e), 0);
    assert_int_equal(k->primary.version, 3);
    assert_int_equal(oks_pgp_key_acceptable(k, &e), OKS_E_UNSUPPORTED);
    oks_pgp_key_free(k);

    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-role-keys.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    assert_int_equal(oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e), 0);
    assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &k, &e), 0);
    assert_int_equal(oks_pgp_key_acceptable(k, &e), 0);
    oks_pgp_key_free(k);
    oks_buf_release(&ring);
    oks_buf_release(&bin);
    oks_buf_release(&body);
}

/* Rewrites key packets (tag 6 when primary, tag 14 when subkeys) with extra bytes after their
 * body, every other packet copied. */
static void append_to_key_packets(const uint8_t *p, size_t n, bool primary, bool subkeys,
                                  const uint8_t *extra, size_t extra_len, oks_buf *out)
{
    size_t off = 0;
    oks_pgp_packet pkt;
    oks_err e;
    while (off < n) {
        assert_int_equal(oks_pgp_packet_next(p, n, &off, &pkt, &e), 0);
        oks_buf body = OKS_BUF_INIT;
        oks_buf_append(&body, pkt.body, pkt.len);
        if ((primary && pkt.tag == OKS_PGP_TAG_PUBKEY) ||
            (subkeys && pkt.tag == OKS_PGP_TAG_PUBSUBKEY))
            oks_buf_append(&body, extra, extra_len);
        assert_int_equal(oks_pgp_packet_write(out, pkt.tag, body.data, body.len, false), 0);
        oks_buf_release(&body);
    }
}

/* A v4 key packet with bytes after its last MPI: gpg 2.2 fingerprints (and checks
 * self-signatures over) the key material as parsed and ignores them; so do we. The packet is
 * kept as received: serialized with its extra bytes and SKS-hashed so (SKS stores it so). Both
 * copies merge, in either order, into the one with the extra bytes. */
static void key_material_trailing_bytes_ignored_for_fingerprint(void **state)
{
    (void)state;
    oks_buf ring = OKS_BUF_INIT;
    read_file("/usr/share/keyrings/debian-role-keys.gpg", &ring);
    size_t off = 0;
    oks_slice ks;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(ring.data, ring.len, &off, &ks, &e), 0);
    oks_pgp_key *orig;
    oks_pgp_verify_stats st0;
    assert_int_equal(oks_pgp_key_parse(ks.ptr, ks.len, NULL, 0, &orig, &e), 0);
    assert_int_equal(oks_pgp_key_verify(orig, NULL, &st0, &e), 0);
    assert_true(orig->n_subkeys > 0);
    uint8_t h0[16];
    oks_pgp_key_sks_hash(orig, h0);
    static const uint8_t extra[] = {0x01, 0x02, 0x03, 0x00, 0xff};
    for (int mode = 0; mode < 2; mode++) {
        oks_buf t = OKS_BUF_INIT, ser = OKS_BUF_INIT;
        append_to_key_packets(ks.ptr, ks.len, true, mode == 1, extra, sizeof extra, &t);
        oks_pgp_key *k;
        oks_pgp_verify_stats st;
        assert_int_equal(oks_pgp_key_parse(t.data, t.len, NULL, 0, &k, &e), 0);
        assert_int_equal(k->primary.fpr_len, 20);
        assert_memory_equal(k->primary.fpr, orig->primary.fpr, 20);
        assert_memory_equal(k->primary.keyid, orig->primary.keyid, 8);
        assert_int_equal(k->primary.len, orig->primary.len + sizeof extra);
        assert_int_equal(k->primary.hashed_len, orig->primary.len);
        assert_int_equal(k->primary.bits, orig->primary.bits);
        assert_int_equal(oks_pgp_key_verify(k, NULL, &st, &e), 0);
        assert_int_equal(st.self_dropped, 0);
        assert_int_equal(st.self_verified, st0.self_verified);
        assert_int_equal(k->n_uids, orig->n_uids);
        assert_int_equal(k->n_subkeys, orig->n_subkeys);
        for (size_t i = 0; i < k->n_subkeys; i++) {
            bool found = false;
            for (size_t j = 0; j < orig->n_subkeys && !found; j++)
                found = memcmp(k->subkeys[i].key.fpr, orig->subkeys[j].key.fpr, 20) == 0;
            assert_true(found);
            assert_int_equal(k->subkeys[i].key.len,
                             k->subkeys[i].key.hashed_len + (mode == 1 ? sizeof extra : 0));
        }
        /* kept as received */
        uint8_t h[16];
        oks_pgp_key_sks_hash(k, h);
        assert_memory_not_equal(h, h0, 16);
        assert_int_equal(oks_pgp_key_serialize(k, &ser), 0);
        assert_non_null(memmem(ser.data, ser.len, k->primary.body, k->primary.len));
        assert_memory_equal(k->primary.body + orig->primary.len, extra, sizeof extra);
        /* the gpg-exported (trimmed) copy merges in, in either order, to the same key */
        oks_pgp_key *m1, *m2;
        oks_buf s1 = OKS_BUF_INIT, s2 = OKS_BUF_INIT;
        assert_int_equal(oks_pgp_key_merge(orig, k, NULL, &m1, &e), 0);
        assert_int_equal(oks_pgp_key_merge(k, orig, NULL, &m2, &e), 0);
        assert_int_equal(m1->primary.len, k->primary.len);
        assert_int_equal(m1->n_subkeys, orig->n_subkeys);
        for (size_t i = 0; i < m1->n_subkeys; i++)
            assert_int_equal(m1->subkeys[i].key.len,
                             m1->subkeys[i].key.hashed_len + (mode == 1 ? sizeof extra : 0));
        oks_pgp_key_sks_hash(m1, h);
        uint8_t hk[16];
        oks_pgp_key_sks_hash(k, hk);
        assert_memory_equal(h, hk, 16);
        oks_pgp_key_serialize(m1, &s1);
        oks_pgp_key_serialize(m2, &s2);
        assert_int_equal(s1.len, s2.len);
        assert_memory_equal(s1.data, s2.data, s1.len);
        /* served to clients without the bytes: the key as it was before they were added */
        oks_buf cf = OKS_BUF_INIT;
        assert_int_equal(oks_pgp_key_client_form(s1.data, s1.len, &cf), 1);
        oks_pgp_key *c;
        assert_int_equal(oks_pgp_key_parse(cf.data, cf.len, NULL, 0, &c, &e), 0);
        oks_pgp_key_sks_hash(c, h);
        assert_memory_equal(h, h0, 16);
        assert_memory_equal(c->primary.fpr, orig->primary.fpr, 20);
        oks_buf again = OKS_BUF_INIT;
        assert_int_equal(oks_pgp_key_client_form(cf.data, cf.len, &again), 0);
        assert_int_equal(again.len, 0);
        oks_pgp_key_free(c);
        oks_buf_release(&cf);
        oks_pgp_key_free(m1);
        oks_pgp_key_free(m2);
        oks_buf_release(&s1);
        oks_buf_release(&s2);
        oks_pgp_key_free(k);
        oks_buf_release(&t);
        oks_buf_release(&ser);
    }
    /* a key without such bytes, and bytes that do not parse: served as stored */
    oks_buf none = OKS_BUF_INIT;
    assert_int_equal(oks_pgp_key_client_form(ks.ptr, ks.len, &none), 0);
    static const uint8_t junk[] = {0x99, 0xff, 0xff};
    assert_int_equal(oks_pgp_key_client_form(junk, sizeof junk, &none), 0);
    assert_int_equal(none.len, 0);
    oks_pgp_key_free(orig);
    oks_buf_release(&ring);
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc9580_v6_certificate_verifies),
        cmocka_unit_test(corrupted_self_signature_is_dropped_alone),
        cmocka_unit_test(trusted_signatures_are_not_verified_again),
        cmocka_unit_test(key_without_valid_user_id_is_refused),
        cmocka_unit_test(ed448_v6_key_signed_by_openssl_verifies),
        cmocka_unit_test(left16_hash_and_salt_errors_are_told_apart),
        cmocka_unit_test(every_hash_algorithm_verifies),
        cmocka_unit_test(third_party_certifications_capped_oldest_kept),
        cmocka_unit_test(debian_keyring_verifies_on_two_threads),
        cmocka_unit_test(v3_keys_are_not_acceptable),
        cmocka_unit_test(key_material_trailing_bytes_ignored_for_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
