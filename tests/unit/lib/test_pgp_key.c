/* lib/pgp_key, pgp_sks, pgp_pubkey: assembly, canonical form, split, merge, SKS hash vectors,
 * fingerprints, limits. Real keys come from /usr/share/keyrings (package debian-keyring). */
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
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        assert_int_equal(oks_buf_append(b, tmp, n), 0);
    fclose(f);
}

/* The key with this v4 fingerprint (hex, uppercase) from a keyring file, parsed. */
static oks_pgp_key *keyring_key(const char *path, const char *fpr_hex, oks_buf *raw_out)
{
    oks_buf b = OKS_BUF_INIT;
    read_file(path, &b);
    size_t off = 0;
    oks_slice s;
    oks_pgp_key *found = NULL;
    while (!found && oks_pgp_split_next(b.data, b.len, &off, &s, NULL) == 0) {
        oks_pgp_key *k;
        if (oks_pgp_key_parse(s.ptr, s.len, NULL, 0, &k, NULL) != 0)
            continue;
        char hex[65];
        oks_hex(hex, k->primary.fpr, k->primary.fpr_len, 1);
        if (strcmp(hex, fpr_hex) == 0) {
            found = k;
            if (raw_out)
                oks_buf_append(raw_out, s.ptr, s.len);
        } else {
            oks_pgp_key_free(k);
        }
    }
    oks_buf_release(&b);
    if (!found)
        fail_msg("key %s not in %s", fpr_hex, path);
    return found;
}

static void hash_hex(const oks_pgp_key *k, char out[33])
{
    uint8_t h[16];
    oks_pgp_key_sks_hash(k, h);
    oks_hex(out, h, 16, 1);
}

static void sks_hash_matches_protocols_vectors(void **state)
{
    (void)state;
    char h[33];
    oks_pgp_key *k = keyring_key("/usr/share/keyrings/debian-maintainers.gpg",
                                 "740D7FE2AB3143E86C8FD12300186602339240CB", NULL);
    hash_hex(k, h);
    assert_string_equal(h, "BC1FDDCE88FAE3EC0142A178FDC2E8C0");
    oks_pgp_key_free(k);
    k = keyring_key("/usr/share/keyrings/debian-role-keys.gpg",
                    "57731224A9762EA155AB2A530CA8D15BB24D96F2", NULL);
    hash_hex(k, h);
    assert_string_equal(h, "2017861032527DAAA59705CED646E8D9");
    oks_pgp_key_free(k);
}

static oks_pgp_key *v6_sample(oks_buf *bin)
{
    oks_buf text = OKS_BUF_INIT;
    read_file("tests/data/rfc9580-a3.asc", &text);
    size_t off = 0;
    assert_int_equal(oks_armor_decode((char *)text.data, text.len, &off, bin, NULL), 0);
    oks_buf_release(&text);
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_key_parse(bin->data, bin->len, NULL, 0, &k, NULL), 0);
    return k;
}

static void v6_sample_fingerprint_keyid_and_hash(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin);
    char hex[65];
    assert_int_equal(k->primary.version, 6);
    assert_int_equal(k->primary.algo, OKS_PGP_ED25519);
    oks_hex(hex, k->primary.fpr, k->primary.fpr_len, 0);
    assert_string_equal(hex, "cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9");
    oks_hex(hex, k->primary.keyid, 8, 1);
    assert_string_equal(hex, "CB186C4F0609A697");
    assert_int_equal(k->sigs.n, 1);
    assert_int_equal(k->sigs.v[0].type, 0x1f);
    assert_int_equal(k->sigs.v[0].version, 6);
    assert_int_equal(k->sigs.v[0].salt_len, 32); /* SHA-512 */
    assert_int_equal(k->n_subkeys, 1);
    assert_int_equal(k->subkeys[0].key.algo, OKS_PGP_X25519);
    assert_int_equal(k->subkeys[0].sigs.v[0].type, 0x18);
    hash_hex(k, hex);
    assert_string_equal(hex, "A9B9AB307D2E551B951EC87F27840DDA");
    oks_pgp_key_free(k);
    oks_buf_release(&bin);
}

static void serialize_is_canonical_and_stable(void **state)
{
    (void)state;
    oks_buf raw = OKS_BUF_INIT, s1 = OKS_BUF_INIT, s2 = OKS_BUF_INIT;
    oks_pgp_key *k = keyring_key("/usr/share/keyrings/debian-role-keys.gpg",
                                 "57731224A9762EA155AB2A530CA8D15BB24D96F2", &raw);
    assert_int_equal(oks_pgp_key_serialize(k, &s1), 0);
    oks_pgp_key *k2;
    assert_int_equal(oks_pgp_key_parse(s1.data, s1.len, NULL, 0, &k2, NULL), 0);
    assert_int_equal(oks_pgp_key_serialize(k2, &s2), 0);
    assert_int_equal(s1.len, s2.len);
    assert_memory_equal(s1.data, s2.data, s1.len);
    /* the input appended twice (minus the second primary) parses to the same key */
    oks_pgp_packet p;
    size_t off = 0;
    assert_int_equal(oks_pgp_packet_next(raw.data, raw.len, &off, &p, NULL), 0);
    oks_buf dup = OKS_BUF_INIT;
    oks_buf_append(&dup, raw.data, raw.len);
    oks_buf_append(&dup, raw.data + off, raw.len - off);
    oks_pgp_key *k3;
    assert_int_equal(oks_pgp_key_parse(dup.data, dup.len, NULL, 0, &k3, NULL), 0);
    oks_buf s3 = OKS_BUF_INIT;
    assert_int_equal(oks_pgp_key_serialize(k3, &s3), 0);
    assert_int_equal(s1.len, s3.len);
    assert_memory_equal(s1.data, s3.data, s1.len);
    oks_pgp_key_free(k);
    oks_pgp_key_free(k2);
    oks_pgp_key_free(k3);
    oks_buf_release(&raw);
    oks_buf_release(&s1);
    oks_buf_release(&s2);
    oks_buf_release(&s3);
    oks_buf_release(&dup);
}

/* Two partial copies of one key: primary + the first half of the packets, primary + the rest. */
static void halves(const oks_buf *raw, oks_buf *a, oks_buf *b)
{
    size_t off = 0, n = 0, first_end = 0;
    oks_pgp_packet p;
    while (off < raw->len) {
        assert_int_equal(oks_pgp_packet_next(raw->data, raw->len, &off, &p, NULL), 0);
        if (n++ == 0)
            first_end = off;
    }
    size_t mid_count = n / 2, i = 0;
    off = 0;
    size_t mid = 0;
    while (off < raw->len) {
        oks_pgp_packet_next(raw->data, raw->len, &off, &p, NULL);
        /* cut before a user ID or subkey so signatures stay with their component */
        if (++i >= mid_count && (p.tag == 13 || p.tag == 14)) {
            mid = p.offset;
            break;
        }
    }
    assert_true(mid > first_end);
    oks_buf_append(a, raw->data, mid);
    oks_buf_append(b, raw->data, first_end);
    oks_buf_append(b, raw->data + mid, raw->len - mid);
}

static void ser_equal(const oks_pgp_key *x, const oks_pgp_key *y)
{
    oks_buf a = OKS_BUF_INIT, b = OKS_BUF_INIT;
    assert_int_equal(oks_pgp_key_serialize(x, &a), 0);
    assert_int_equal(oks_pgp_key_serialize(y, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    oks_buf_release(&a);
    oks_buf_release(&b);
}

static void merge_is_commutative_idempotent_and_complete(void **state)
{
    (void)state;
    oks_buf raw = OKS_BUF_INIT, ra = OKS_BUF_INIT, rb = OKS_BUF_INIT;
    oks_pgp_key *full = keyring_key("/usr/share/keyrings/debian-maintainers.gpg",
                                    "740D7FE2AB3143E86C8FD12300186602339240CB", &raw);
    halves(&raw, &ra, &rb);
    oks_pgp_key *a, *b, *ab, *ba, *aa, *abb;
    assert_int_equal(oks_pgp_key_parse(ra.data, ra.len, NULL, 0, &a, NULL), 0);
    assert_int_equal(oks_pgp_key_parse(rb.data, rb.len, NULL, 0, &b, NULL), 0);
    assert_int_equal(oks_pgp_key_merge(a, b, NULL, &ab, NULL), 0);
    assert_int_equal(oks_pgp_key_merge(b, a, NULL, &ba, NULL), 0);
    assert_int_equal(oks_pgp_key_merge(a, a, NULL, &aa, NULL), 0);
    assert_int_equal(oks_pgp_key_merge(ab, b, NULL, &abb, NULL), 0);
    ser_equal(ab, ba);
    ser_equal(aa, a);
    ser_equal(abb, ab);
    ser_equal(ab, full);
    char h1[33], h2[33];
    hash_hex(ab, h1);
    hash_hex(full, h2);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, (hash_hex(a, h2), h2));
    oks_pgp_key *free_list[] = {full, a, b, ab, ba, aa, abb};
    for (size_t i = 0; i < 7; i++)
        oks_pgp_key_free(free_list[i]);
    oks_buf_release(&raw);
    oks_buf_release(&ra);
    oks_buf_release(&rb);
}

static void merge_refuses_different_primaries(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *v6 = v6_sample(&bin);
    oks_pgp_key *k = keyring_key("/usr/share/keyrings/debian-role-keys.gpg",
                                 "57731224A9762EA155AB2A530CA8D15BB24D96F2", NULL), *m;
    oks_err e;
    assert_int_equal(oks_pgp_key_merge(v6, k, NULL, &m, &e), OKS_E_ARG);
    assert_null(m);
    oks_pgp_key_free(v6);
    oks_pgp_key_free(k);
    oks_buf_release(&bin);
}

static void split_reports_signature_before_key_and_resumes(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT, in = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin);
    oks_pgp_key_free(k);
    const uint8_t sig[] = {0xc2, 3, 4, 0x13, 1};
    oks_buf_append(&in, sig, sizeof sig);
    oks_buf_append(&in, bin.data, bin.len);
    oks_buf_append(&in, bin.data, bin.len);
    size_t off = 0;
    oks_slice s;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), OKS_E_NOTKEY);
    assert_int_equal(e.offset, 0);
    assert_non_null(strstr(e.msg, "before any public-key packet"));
    assert_int_equal(off, sizeof sig);
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 0);
    assert_int_equal(s.len, bin.len);
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 0);
    assert_int_equal(s.ptr, in.data + sizeof sig + bin.len);
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 1);
    oks_buf_release(&bin);
    oks_buf_release(&in);
}

static void split_resumes_after_broken_framing(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT, in = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin);
    oks_pgp_key_free(k);
    /* key, key, a user-ID packet claiming 2 GiB that are not there (but a key is), key */
    const uint8_t broken[] = {0xcd, 0xff, 0x7f, 0xff, 0xff, 0xff, 'x'};
    oks_buf_append(&in, bin.data, bin.len);
    oks_buf_append(&in, bin.data, bin.len);
    size_t cut = in.len;
    oks_buf_append(&in, broken, sizeof broken);
    oks_buf_append(&in, bin.data, bin.len);
    size_t off = 0;
    oks_slice s;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 0);
    /* the second key swallows the broken packet: its framing error is reported... */
    int r = oks_pgp_split_next(in.data, in.len, &off, &s, &e);
    assert_true(r < 0);
    assert_int_equal(e.offset, cut);
    /* ...and the key after the damage is still found */
    assert_int_equal(off, cut + sizeof broken);
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 0);
    assert_int_equal(s.len, bin.len);
    assert_memory_equal(s.ptr, bin.data, bin.len);
    assert_int_equal(oks_pgp_split_next(in.data, in.len, &off, &s, &e), 1);
    oks_buf_release(&bin);
    oks_buf_release(&in);
}

static void split_and_parse_refuse_secret_keys(void **state)
{
    (void)state;
    const uint8_t sec[] = {0x94, 2, 4, 0};
    size_t off = 0;
    oks_slice s;
    oks_pgp_key *k;
    assert_int_equal(oks_pgp_split_next(sec, sizeof sec, &off, &s, NULL), OKS_E_SECRET);
    assert_int_equal(off, sizeof sec);
    assert_int_equal(oks_pgp_key_parse(sec, sizeof sec, NULL, 0, &k, NULL), OKS_E_SECRET);
}

static void truncated_key_names_offset(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin), *k2;
    oks_pgp_key_free(k);
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len - 5, NULL, 0, &k2, &e), OKS_E_TRUNCATED);
    assert_true(e.offset > 0 && e.offset < bin.len);
    assert_null(k2);
    /* primary key packet cut inside its header fields */
    const uint8_t shortpk[] = {0xc6, 3, 4, 0, 0};
    assert_int_equal(oks_pgp_key_parse(shortpk, sizeof shortpk, NULL, 0, &k2, &e),
                     OKS_E_TRUNCATED);
    oks_buf_release(&bin);
}

static void trust_and_marker_packets_are_dropped(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT, in = OKS_BUF_INIT, s1 = OKS_BUF_INIT, s2 = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin), *k2;
    const uint8_t junk[] = {0xb0, 2, 0, 0, 0xa8, 3, 'P', 'G', 'P', 0xd5, 1, 0};
    size_t off = 0;
    oks_pgp_packet p;
    oks_pgp_packet_next(bin.data, bin.len, &off, &p, NULL);
    oks_buf_append(&in, bin.data, off);
    oks_buf_append(&in, junk, sizeof junk);
    oks_buf_append(&in, bin.data + off, bin.len - off);
    assert_int_equal(oks_pgp_key_parse(in.data, in.len, NULL, 0, &k2, NULL), 0);
    assert_int_equal(k2->dropped_packets, 3);
    oks_pgp_key_serialize(k, &s1);
    oks_pgp_key_serialize(k2, &s2);
    assert_int_equal(s1.len, s2.len);
    assert_memory_equal(s1.data, s2.data, s1.len);
    oks_pgp_key_free(k);
    oks_pgp_key_free(k2);
    oks_buf_release(&bin);
    oks_buf_release(&in);
    oks_buf_release(&s1);
    oks_buf_release(&s2);
}

static void limits_reject_too_many_user_ids(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin), *k2;
    oks_pgp_key_free(k);
    for (int i = 0; i < 4; i++) {
        char uid[32];
        snprintf(uid, sizeof uid, "user %d", i);
        oks_pgp_packet_write(&bin, 13, (const uint8_t *)uid, strlen(uid), true);
    }
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    lim.max_uids = 3;
    oks_err e;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, &lim, 0, &k2, &e), OKS_E_LIMIT);
    lim.max_uids = 4;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, &lim, 0, &k2, &e), 0);
    assert_int_equal(k2->n_uids, 4);
    oks_pgp_key_free(k2);
    lim.max_key_bytes = bin.len - 1;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, &lim, 0, &k2, &e), OKS_E_LIMIT);
    lim.max_key_bytes = 1 << 20;
    lim.max_packets = 5;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, &lim, 0, &k2, &e), OKS_E_LIMIT);
    oks_buf_release(&bin);
}

static void oversize_user_id_is_dropped_with_its_signatures(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin), *k2;
    oks_pgp_key_free(k);
    static uint8_t big[9000];
    memset(big, 'a', sizeof big);
    /* a big user ID followed by a copy of the direct-key signature: both dropped */
    oks_pgp_packet_write(&bin, 13, big, sizeof big, true);
    size_t off = 0;
    oks_pgp_packet p;
    oks_pgp_packet_next(bin.data, bin.len, &off, &p, NULL);
    oks_pgp_packet_next(bin.data, bin.len, &off, &p, NULL);
    oks_pgp_packet_write(&bin, 2, p.body, p.len, true);
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, 0, &k2, NULL), 0);
    assert_int_equal(k2->n_uids, 0);
    assert_int_equal(k2->dropped_packets, 2);
    assert_int_equal(k2->sigs.n, 1);
    oks_pgp_key_free(k2);
    oks_buf_release(&bin);
}

static void trusted_flag_marks_self_signatures_good(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *k = v6_sample(&bin), *k2;
    assert_int_equal(k->sigs.v[0].state, OKS_SIG_UNCHECKED);
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, OKS_PGP_TRUSTED, &k2, NULL), 0);
    assert_int_equal(k2->sigs.v[0].state, OKS_SIG_GOOD);
    assert_int_equal(k2->subkeys[0].sigs.v[0].state, OKS_SIG_GOOD);
    oks_pgp_key_free(k);
    oks_pgp_key_free(k2);
    oks_buf_release(&bin);
}

static void merge_keeps_the_most_verified_state(void **state)
{
    (void)state;
    oks_buf bin = OKS_BUF_INIT;
    oks_pgp_key *plain = v6_sample(&bin), *trusted, *m1, *m2;
    assert_int_equal(oks_pgp_key_parse(bin.data, bin.len, NULL, OKS_PGP_TRUSTED, &trusted, NULL),
                     0);
    assert_int_equal(oks_pgp_key_merge(plain, trusted, NULL, &m1, NULL), 0);
    assert_int_equal(oks_pgp_key_merge(trusted, plain, NULL, &m2, NULL), 0);
    assert_int_equal(m1->sigs.n, 1);
    assert_int_equal(m1->sigs.v[0].state, OKS_SIG_GOOD);
    assert_int_equal(m2->sigs.v[0].state, OKS_SIG_GOOD);
    assert_int_equal(m1->subkeys[0].sigs.v[0].state, OKS_SIG_GOOD);
    oks_pgp_key *free_list[] = {plain, trusted, m1, m2};
    for (size_t i = 0; i < 4; i++)
        oks_pgp_key_free(free_list[i]);
    oks_buf_release(&bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sks_hash_matches_protocols_vectors),
        cmocka_unit_test(v6_sample_fingerprint_keyid_and_hash),
        cmocka_unit_test(serialize_is_canonical_and_stable),
        cmocka_unit_test(merge_is_commutative_idempotent_and_complete),
        cmocka_unit_test(merge_refuses_different_primaries),
        cmocka_unit_test(split_reports_signature_before_key_and_resumes),
        cmocka_unit_test(split_resumes_after_broken_framing),
        cmocka_unit_test(split_and_parse_refuse_secret_keys),
        cmocka_unit_test(truncated_key_names_offset),
        cmocka_unit_test(trust_and_marker_packets_are_dropped),
        cmocka_unit_test(limits_reject_too_many_user_ids),
        cmocka_unit_test(oversize_user_id_is_dropped_with_its_signatures),
        cmocka_unit_test(trusted_flag_marks_self_signatures_good),
        cmocka_unit_test(merge_keeps_the_most_verified_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
