/* shard/keyidx: the index entries of a key are sorted and unique, and an update writes only the
 * entries that differ (on a real LevelDB, with real keys from debian-keyring). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pgp.h"
#include "shard/keyidx.h"
#include "shard/store.h"

#define KEYRING "/usr/share/keyrings/debian-keyring.gpg"

/* The first key of the keyring with at least min_uids user IDs (parsed, trusted), and its bytes. */
static oks_pgp_key *key_with_uids(size_t min_uids, oks_buf *bytes)
{
    FILE *fp = fopen(KEYRING, "rb");
    assert_non_null(fp);
    oks_buf file = OKS_BUF_INIT;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&file, chunk, n);
    fclose(fp);
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    size_t off = 0;
    oks_slice k;
    oks_err e;
    oks_pgp_key *key = NULL;
    while (off < file.len && oks_pgp_split_next(file.data, file.len, &off, &k, &e) == 0) {
        if (oks_pgp_key_parse(k.ptr, k.len, &lim, OKS_PGP_TRUSTED, &key, &e) == 0) {
            if (key->n_uids >= min_uids)
                break;
            oks_pgp_key_free(key);
        }
        key = NULL;
    }
    oks_buf_release(&file);
    assert_non_null(key);
    oks_pgp_key_serialize(key, bytes);
    return key;
}

/* The entries as written before keyidx: every emitted entry, duplicates included. */
static size_t words_seen;
static void count_word(const char *w, size_t n, void *arg)
{
    (void)w;
    (void)arg;
    if (words_seen++ < OKS_KEYIDX_WORDS_PER_UID && n > 0 && n < 128)
        (*(size_t *)arg)++;
}

static void entries_are_sorted_unique_and_fewer_than_emitted(void **state)
{
    (void)state;
    oks_buf bytes = OKS_BUF_INIT;
    oks_pgp_key *key = key_with_uids(3, &bytes);
    oks_keyidx x = OKS_KEYIDX_INIT;
    assert_int_equal(oks_keyidx_build(&x, key, key->primary.fpr, key->primary.fpr_len), 0);
    for (size_t i = 1; i < x.n; i++)
        assert_true(oks_keyidx_cmp(&x, i - 1, &x, i) < 0);
    /* every user ID of this key carries the owner's name: words repeat across user IDs */
    size_t emitted = 2 + 3 * key->n_subkeys, words = 0;
    for (size_t i = 0; i < key->n_uids; i++) {
        if (key->uids[i].tag != OKS_PGP_TAG_UID)
            continue;
        emitted += 2;
        words_seen = 0;
        oks_pgp_words(key->uids[i].body, key->uids[i].len, count_word, &words);
    }
    assert_true(x.n < emitted + words);
    /* the primary's 64-bit key ID entry is there, once, with the fingerprint in its key */
    size_t found = 0;
    for (size_t i = 0; i < x.n; i++) {
        const uint8_t *k = oks_keyidx_key(&x, i);
        if (k[0] == 'i' && x.v[i].klen == 9u + key->primary.fpr_len &&
            memcmp(k + 1, key->primary.keyid, 8) == 0) {
            assert_memory_equal(k + 9, key->primary.fpr, key->primary.fpr_len);
            assert_int_equal(x.v[i].vlen, 0);
            found++;
        }
        if (k[0] == 'f')
            assert_memory_equal(oks_keyidx_val(&x, i), key->primary.fpr, key->primary.fpr_len);
    }
    assert_int_equal(found, 1);
    /* building again reuses the storage and gives the same entries */
    size_t n = x.n;
    assert_int_equal(oks_keyidx_build(&x, key, key->primary.fpr, key->primary.fpr_len), 0);
    assert_int_equal(x.n, n);
    oks_keyidx_release(&x);
    oks_pgp_key_free(key);
    oks_buf_release(&bytes);
}

/* key's packets without user ID number drop (0-based among tag-13 packets) and its signatures */
static oks_pgp_key *without_uid(const oks_buf *bytes, size_t drop, oks_buf *out)
{
    size_t off = 0, uid = 0;
    bool skipping = false;
    oks_pgp_packet p;
    oks_err e;
    while (off < bytes->len && oks_pgp_packet_next(bytes->data, bytes->len, &off, &p, &e) == 0) {
        if (p.tag == OKS_PGP_TAG_UID || p.tag == OKS_PGP_TAG_UAT || p.tag == OKS_PGP_TAG_PUBSUBKEY)
            skipping = p.tag == OKS_PGP_TAG_UID && uid++ == drop;
        if (!skipping)
            oks_buf_append(out, bytes->data + p.offset, p.header_len + p.len);
    }
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    oks_pgp_key *k = NULL;
    assert_int_equal(oks_pgp_key_parse(out->data, out->len, &lim, OKS_PGP_TRUSTED, &k, &e), 0);
    return k;
}

static void first_word(const char *w, size_t n, void *arg)
{
    char *out = arg;
    if (!out[0] && n < 128)
        memcpy(out, w, n + 1);
}

static int count(const uint8_t *fpr, size_t len, void *arg)
{
    (void)fpr;
    (void)len;
    (*(size_t *)arg)++;
    return 0;
}

static size_t hits(oks_store *s, char kind, const char *text)
{
    size_t n = 0;
    oks_err e;
    assert_int_equal(oks_store_scan(s, kind, (const uint8_t *)text, strlen(text), true, 100, 1000, count,
                                    &n, &e),
                     0);
    return n;
}

static oks_store_change change(const oks_pgp_key *old, const oks_pgp_key *new, const oks_buf *nb,
                               const uint8_t *oh, const uint8_t *nh)
{
    oks_store_change c = {0};
    c.fpr = new->primary.fpr;
    c.fpr_len = new->primary.fpr_len;
    c.old_key = old;
    c.old_hash = oh;
    c.new_key = new;
    c.new_key_bytes = nb->data;
    c.new_key_len = nb->len;
    c.new_hash = nh;
    return c;
}

static void update_removes_only_what_left_the_key(void **state)
{
    (void)state;
    oks_buf full_b = OKS_BUF_INIT, less_b = OKS_BUF_INIT;
    oks_pgp_key *full = key_with_uids(2, &full_b);
    /* drop the first user ID that has an e-mail address no other user ID of the key has */
    char mail[256], other[256];
    size_t drop = 0, ml = 0;
    for (size_t i = 0, nth = 0; i < full->n_uids && !ml; i++) {
        if (full->uids[i].tag != OKS_PGP_TAG_UID)
            continue;
        size_t l = oks_pgp_uid_email(full->uids[i].body, full->uids[i].len, mail, sizeof mail);
        bool unique = l > 0;
        for (size_t j = 0; j < full->n_uids && unique; j++)
            if (j != i && full->uids[j].tag == OKS_PGP_TAG_UID &&
                oks_pgp_uid_email(full->uids[j].body, full->uids[j].len, other, sizeof other) ==
                    l &&
                memcmp(mail, other, l) == 0)
                unique = false;
        if (unique) {
            drop = nth;
            ml = l;
        }
        nth++;
    }
    assert_true(ml > 0);
    oks_pgp_key *less = without_uid(&full_b, drop, &less_b);
    assert_int_equal(less->n_uids + 1, full->n_uids);
    /* a word both copies share: the first word of a user ID that stays */
    char kept[128] = "";
    for (size_t i = 0; i < less->n_uids && !kept[0]; i++)
        oks_pgp_words(less->uids[i].body, less->uids[i].len, first_word, kept);
    assert_true(kept[0] != '\0');

    char dir[] = "/tmp/oks-test-keyidx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    oks_store *s = NULL;
    oks_err e;
    const oks_store_opts o = {.cache_mb = 8};
    assert_int_equal(oks_store_open(dir, &o, &s, &e), 0);
    uint8_t h1[16], h2[16];
    oks_pgp_key_sks_hash(full, h1);
    oks_pgp_key_sks_hash(less, h2);

    oks_store_change c = change(NULL, full, &full_b, NULL, h1);
    assert_int_equal(oks_store_apply(s, &c, 1, true, &e), 0);
    assert_int_equal(hits(s, 'e', mail), 1);
    assert_int_equal(hits(s, 'w', kept), 1);

    c = change(full, less, &less_b, h1, h2);
    assert_int_equal(oks_store_apply(s, &c, 1, true, &e), 0);
    assert_int_equal(hits(s, 'e', mail), 0);
    assert_int_equal(hits(s, 'w', kept), 1);
    uint8_t fpr[32];
    size_t fl = 0;
    assert_int_equal(oks_store_by_hash(s, h2, fpr, &fl, &e), 1);
    assert_int_equal(oks_store_by_hash(s, h1, fpr, &fl, &e), 0);

    c = change(less, full, &full_b, h2, h1);
    assert_int_equal(oks_store_apply(s, &c, 1, true, &e), 0);
    assert_int_equal(hits(s, 'e', mail), 1);
    assert_int_equal(hits(s, 'w', kept), 1);

    /* delete: nothing of the key stays findable */
    oks_store_change d = {0};
    d.fpr = full->primary.fpr;
    d.fpr_len = full->primary.fpr_len;
    d.old_key = full;
    d.old_hash = h1;
    d.old_bytes = full_b.len;
    assert_int_equal(oks_store_apply(s, &d, 1, true, &e), 0);
    assert_int_equal(hits(s, 'e', mail), 0);
    assert_int_equal(hits(s, 'w', kept), 0);
    size_t ids = 0;
    assert_int_equal(oks_store_scan(s, 'i', full->primary.keyid, 8, false, 10, 1000, count, &ids, &e), 0);
    assert_int_equal(ids, 0);

    oks_store_close(s);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    oks_pgp_key_free(full);
    oks_pgp_key_free(less);
    oks_buf_release(&full_b);
    oks_buf_release(&less_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_are_sorted_unique_and_fewer_than_emitted),
        cmocka_unit_test(update_removes_only_what_left_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
