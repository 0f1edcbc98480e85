/* lib/pgp_verify + pgp_clean: self-signatures verify on real keys, a corrupted one is dropped
 * and only it, trusted signatures are not checked again, v6 (RFC 9580 A.3) verifies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
