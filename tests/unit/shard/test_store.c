/* shard/store: keys, index entries, counters and change log written in one batch, on a real
 * LevelDB in a scratch directory, with real keys from /usr/share/keyrings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cluster.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "lib/tomb.h"
#include "shard/store.h"

#define KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

static const oks_store_opts opts8 = {.cache_mb = 8};

typedef struct fixture {
    char dir[64];
    oks_store *s;
    oks_buf file;
    oks_pgp_key *key;   /* first key of the keyring */
    oks_pgp_key *key2;  /* second key */
    oks_buf bytes, bytes2;
    uint8_t hash[16], hash2[16];
} fixture;

static oks_pgp_key *next_key(const oks_buf *f, size_t *off)
{
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    oks_slice k;
    oks_err e;
    assert_int_equal(oks_pgp_split_next(f->data, f->len, off, &k, &e), 0);
    oks_pgp_key *key = NULL;
    assert_int_equal(oks_pgp_key_parse(k.ptr, k.len, &lim, OKS_PGP_TRUSTED, &key, &e), 0);
    return key;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/oks-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    FILE *fp = fopen(KEYRING, "rb");
    if (!fp)
        return -1;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&f->file, chunk, n);
    fclose(fp);
    size_t off = 0;
    f->key = next_key(&f->file, &off);
    f->key2 = next_key(&f->file, &off);
    oks_pgp_key_serialize(f->key, &f->bytes);
    oks_pgp_key_serialize(f->key2, &f->bytes2);
    oks_pgp_key_sks_hash(f->key, f->hash);
    oks_pgp_key_sks_hash(f->key2, f->hash2);
    oks_err e;
    if (oks_store_open(f->dir, &opts8, &f->s, &e))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->s)
        oks_store_close(f->s);
    oks_pgp_key_free(f->key);
    oks_pgp_key_free(f->key2);
    oks_buf_release(&f->file);
    oks_buf_release(&f->bytes);
    oks_buf_release(&f->bytes2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static oks_store_change add_of(const oks_pgp_key *k, const oks_buf *b, const uint8_t *h)
{
    oks_store_change c = {0};
    c.fpr = k->primary.fpr;
    c.fpr_len = k->primary.fpr_len;
    c.new_key = k;
    c.new_key_bytes = b->data;
    c.new_key_len = b->len;
    c.new_hash = h;
    return c;
}

static int collect(const uint8_t *fpr, size_t len, void *arg)
{
    oks_buf *out = arg;
    oks_buf_append(out, fpr, len);
    return 0;
}

static void stored_key_reads_back_with_its_hash(void **state)
{
    fixture *f = *state;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    oks_store_record rec;
    assert_int_equal(oks_store_get(f->s, f->key->primary.fpr, f->key->primary.fpr_len, &rec, &e), 1);
    assert_int_equal(rec.key.len, f->bytes.len);
    assert_memory_equal(rec.key.ptr, f->bytes.data, f->bytes.len);
    assert_memory_equal(rec.hash, f->hash, 16);
    oks_store_record_release(&rec);
    assert_int_equal(oks_store_get(f->s, f->key2->primary.fpr, f->key2->primary.fpr_len, &rec, &e),
                     0);
}

static void key_ids_and_hash_index_find_the_primary(void **state)
{
    fixture *f = *state;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    oks_buf got = OKS_BUF_INIT;
    assert_int_equal(oks_store_scan(f->s, 'i', f->key->primary.keyid, 8, false, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(got.len, f->key->primary.fpr_len);
    assert_memory_equal(got.data, f->key->primary.fpr, got.len);
    got.len = 0;
    /* 32-bit ID: the low half of the 64-bit key ID */
    assert_int_equal(oks_store_scan(f->s, 's', f->key->primary.keyid + 4, 4, false, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(got.len, f->key->primary.fpr_len);
    for (size_t i = 0; i < f->key->n_subkeys; i++) {
        got.len = 0;
        assert_int_equal(oks_store_scan(f->s, 'i', f->key->subkeys[i].key.keyid, 8, false, 10, 1000,
                                        collect, &got, &e), 0);
        assert_int_equal(got.len, f->key->primary.fpr_len);
        assert_memory_equal(got.data, f->key->primary.fpr, got.len);
    }
    uint8_t fpr[32];
    size_t fl = 0;
    assert_int_equal(oks_store_by_hash(f->s, f->hash, fpr, &fl, &e), 1);
    assert_int_equal(fl, f->key->primary.fpr_len);
    assert_memory_equal(fpr, f->key->primary.fpr, fl);
    oks_buf_release(&got);
}

static void email_and_word_index_find_the_key(void **state)
{
    fixture *f = *state;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    char mail[512];
    size_t ml = 0;
    for (size_t i = 0; i < f->key->n_uids && !ml; i++)
        if (f->key->uids[i].tag == OKS_PGP_TAG_UID)
            ml = oks_pgp_uid_email(f->key->uids[i].body, f->key->uids[i].len, mail, sizeof mail);
    assert_true(ml > 0);
    oks_buf got = OKS_BUF_INIT;
    assert_int_equal(oks_store_scan(f->s, 'e', (uint8_t *)mail, ml, true, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(got.len, f->key->primary.fpr_len);
    got.len = 0;
    assert_int_equal(oks_store_scan(f->s, 'w', (uint8_t *)"debian", 6, true, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(got.len, f->key->primary.fpr_len);
    got.len = 0;
    assert_int_equal(oks_store_scan(f->s, 'e', (uint8_t *)"nobody@example.org", 18, true, 10, 1000, collect,
                                    &got, &e), 0);
    assert_int_equal(got.len, 0);
    /* the work budget: a scan that may look at no entry stops with OKS_E_LIMIT, not "none" */
    assert_int_equal(oks_store_scan(f->s, 'w', (uint8_t *)"debian", 6, true, 10, 0, collect, &got,
                                    &e), OKS_E_LIMIT);
    assert_non_null(strstr(e.msg, "work budget"));
    assert_int_equal(got.len, 0);
    oks_buf_release(&got);
}

static void delete_removes_key_and_every_index_entry(void **state)
{
    fixture *f = *state;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    oks_store_change d = {0};
    d.fpr = f->key->primary.fpr;
    d.fpr_len = f->key->primary.fpr_len;
    d.old_key = f->key;
    d.old_hash = f->hash;
    d.old_bytes = f->bytes.len;
    assert_int_equal(oks_store_apply(f->s, &d, 1, true, &e), 0);
    oks_store_record rec;
    assert_int_equal(oks_store_get(f->s, d.fpr, d.fpr_len, &rec, &e), 0);
    oks_buf got = OKS_BUF_INIT;
    assert_int_equal(oks_store_scan(f->s, 'i', f->key->primary.keyid, 8, false, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(oks_store_scan(f->s, 'w', (uint8_t *)"debian", 6, true, 10, 1000, collect, &got, &e), 0);
    assert_int_equal(got.len, 0);
    uint8_t fpr[32];
    size_t fl;
    assert_int_equal(oks_store_by_hash(f->s, f->hash, fpr, &fl, &e), 0);
    oks_store_stats st;
    oks_store_stats_get(f->s, &st);
    assert_int_equal(st.keys, 0);
    assert_int_equal(st.bytes, 0);
    oks_buf_release(&got);
}

static void counters_are_kept_across_reopen(void **state)
{
    fixture *f = *state;
    oks_store_change c[2] = {add_of(f->key, &f->bytes, f->hash), add_of(f->key2, &f->bytes2, f->hash2)};
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, c, 2, true, &e), 0);
    oks_store_stats st;
    oks_store_stats_get(f->s, &st);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.bytes, f->bytes.len + f->bytes2.len);
    assert_int_equal(st.last_seq, 2);
    oks_store_close(f->s);
    f->s = NULL;
    assert_int_equal(oks_store_open(f->dir, &opts8, &f->s, &e), 0);
    oks_store_stats_get(f->s, &st);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.bytes, f->bytes.len + f->bytes2.len);
    assert_int_equal(st.last_seq, 2);
}

/* Keys per slot: kept by every write, rebuilt by a scan when a store opens without them (or for
 * another slot count), read back after a reopen. */
static void keys_are_counted_per_slot(void **state)
{
    fixture *f = *state;
    oks_err e;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0); /* written without counters */
    oks_store_close(f->s);
    oks_store_opts o = opts8;
    o.n_slots = 16;
    assert_int_equal(oks_store_open(f->dir, &o, &f->s, &e), 0);
    unsigned s1 = oks_slot_of_keyid(f->key->primary.keyid, 16);
    unsigned s2 = oks_slot_of_keyid(f->key2->primary.keyid, 16);
    assert_int_equal(oks_store_slot_keys(f->s, 0, 15), 1);
    assert_int_equal(oks_store_slot_keys(f->s, s1, s1), 1);
    c = add_of(f->key2, &f->bytes2, f->hash2);
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    assert_int_equal(oks_store_slot_keys(f->s, s2, s2), s1 == s2 ? 2 : 1);
    /* an update does not count twice; a delete counts down */
    oks_store_change u = add_of(f->key2, &f->bytes2, f->hash2);
    u.old_key = f->key2;
    u.old_hash = f->hash2;
    u.old_bytes = f->bytes2.len;
    assert_int_equal(oks_store_apply(f->s, &u, 1, true, &e), 0);
    assert_int_equal(oks_store_slot_keys(f->s, 0, 15), 2);
    oks_store_change d = {0};
    d.fpr = f->key->primary.fpr;
    d.fpr_len = f->key->primary.fpr_len;
    d.old_key = f->key;
    d.old_hash = f->hash;
    d.old_bytes = f->bytes.len;
    assert_int_equal(oks_store_apply(f->s, &d, 1, true, &e), 0);
    oks_store_close(f->s);
    assert_int_equal(oks_store_open(f->dir, &o, &f->s, &e), 0);
    assert_int_equal(oks_store_slot_keys(f->s, 0, 15), 1);
    assert_int_equal(oks_store_slot_keys(f->s, s2, s2), 1);
    /* another slot count: counted again */
    oks_store_close(f->s);
    o.n_slots = 4096;
    assert_int_equal(oks_store_open(f->dir, &o, &f->s, &e), 0);
    unsigned big = oks_slot_of_keyid(f->key2->primary.keyid, 4096);
    assert_int_equal(oks_store_slot_keys(f->s, big, big), 1);
    assert_int_equal(oks_store_slot_keys(f->s, 0, 4095), 1);
}

static void cursors_are_stored(void **state)
{
    fixture *f = *state;
    oks_err e;
    uint64_t v = 99;
    assert_int_equal(oks_store_cursor_get(f->s, "replica.s1", &v, &e), 0);
    assert_int_equal(v, 0);
    assert_int_equal(oks_store_cursor_put(f->s, "replica.s1", 1234, &e), 0);
    oks_store_close(f->s);
    assert_int_equal(oks_store_open(f->dir, &opts8, &f->s, &e), 0);
    assert_int_equal(oks_store_cursor_get(f->s, "replica.s1", &v, &e), 0);
    assert_int_equal(v, 1234);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(oks_store_cursor_put(f->s, longname, 1, &e), OKS_E_ARG);
}

typedef struct changes_seen {
    uint64_t seq[8];
    Oks__Change *c[8];
    size_t n;
} changes_seen;

static int on_change(uint64_t seq, const uint8_t *packed, size_t len, void *arg)
{
    changes_seen *cs = arg;
    if (cs->n < 8) {
        cs->seq[cs->n] = seq;
        cs->c[cs->n++] = oks__change__unpack(NULL, len, packed);
    }
    return 0;
}

static void change_log_records_old_and_new_hash_in_order(void **state)
{
    fixture *f = *state;
    oks_store_change c = add_of(f->key, &f->bytes, f->hash);
    oks_err e;
    assert_int_equal(oks_store_apply(f->s, &c, 1, true, &e), 0);
    /* replace with the second key's bytes under the same fingerprint: an update */
    oks_store_change u = c;
    u.old_key = f->key;
    u.old_hash = f->hash;
    u.old_bytes = f->bytes.len;
    u.new_hash = f->hash2;
    assert_int_equal(oks_store_apply(f->s, &u, 1, true, &e), 0);
    changes_seen cs = {0};
    assert_int_equal(oks_store_changes(f->s, 0, 100, on_change, &cs, &e), 0);
    assert_int_equal(cs.n, 2);
    assert_int_equal(cs.seq[0], 1);
    assert_int_equal(cs.seq[1], 2);
    assert_non_null(cs.c[0]);
    assert_non_null(cs.c[1]);
    assert_int_equal(cs.c[0]->old_hash.len, 0);
    assert_memory_equal(cs.c[0]->new_hash.data, f->hash, 16);
    assert_memory_equal(cs.c[1]->old_hash.data, f->hash, 16);
    assert_memory_equal(cs.c[1]->new_hash.data, f->hash2, 16);
    for (size_t i = 0; i < cs.n; i++)
        oks__change__free_unpacked(cs.c[i], NULL);
    cs.n = 0;
    assert_int_equal(oks_store_changes(f->s, 1, 100, on_change, &cs, &e), 0);
    assert_int_equal(cs.n, 1);
    assert_int_equal(cs.seq[0], 2);
    oks__change__free_unpacked(cs.c[0], NULL);
    /* the old hash no longer finds the key, the new one does */
    uint8_t fpr[32];
    size_t fl;
    assert_int_equal(oks_store_by_hash(f->s, f->hash, fpr, &fl, &e), 0);
    assert_int_equal(oks_store_by_hash(f->s, f->hash2, fpr, &fl, &e), 1);
}

/* A store opened empty answers the reads that miss from the bits of what it wrote since
 * (shard/store_fresh.c): every key, hash and tombstone written is still found, before and after
 * a reopen (which reads LevelDB only). */
static void store_opened_empty_finds_everything_it_wrote(void **state)
{
    fixture *f = *state;
    const oks_pgp_key *k = f->key, *k2 = f->key2;
    oks_err e;
    oks_store_record rec;
    oks_tomb t;
    uint8_t fpr[32], h3[16];
    size_t fl;
    assert_true(oks_store_was_empty(f->s));
    assert_int_equal(oks_store_get(f->s, k->primary.fpr, k->primary.fpr_len, &rec, &e), 0);
    assert_int_equal(oks_store_known(f->s, k->primary.keyid, k->primary.fpr, k->primary.fpr_len, &e),
                     0);
    assert_int_equal(oks_store_by_hash(f->s, f->hash, fpr, &fl, &e), 0);
    assert_int_equal(oks_store_tomb_get(f->s, k2->primary.fpr, k2->primary.fpr_len, &t, &e), 0);

    oks_store_change c = add_of(k, &f->bytes, f->hash);
    assert_int_equal(oks_store_apply(f->s, &c, 1, false, &e), 0);
    oks_tomb nt;
    assert_int_equal(oks_tomb_init(&nt, k2->primary.fpr, k2->primary.fpr_len, false, 1000, "spam",
                                   4, "admin", &e), 0);
    oks_store_change d = {.fpr = k2->primary.fpr, .fpr_len = k2->primary.fpr_len, .tomb = &nt};
    assert_int_equal(oks_store_apply(f->s, &d, 1, false, &e), 0);
    /* an update under another hash: the new hash is found, the old one no longer */
    memcpy(h3, f->hash2, 16);
    h3[0] ^= 0x80;
    oks_store_change u = add_of(k, &f->bytes, h3);
    u.old_key = k;
    u.old_hash = f->hash;
    u.old_bytes = f->bytes.len;
    assert_int_equal(oks_store_apply(f->s, &u, 1, true, &e), 0);

    for (int round = 0; round < 2; round++) {
        assert_int_equal(round == 0, oks_store_was_empty(f->s));
        assert_int_equal(oks_store_get(f->s, k->primary.fpr, k->primary.fpr_len, &rec, &e), 1);
        assert_memory_equal(rec.hash, h3, 16);
        oks_store_record_release(&rec);
        assert_int_equal(oks_store_known(f->s, k->primary.keyid, k->primary.fpr,
                                         k->primary.fpr_len, &e), 1);
        assert_int_equal(oks_store_by_hash(f->s, h3, fpr, &fl, &e), 1);
        assert_memory_equal(fpr, k->primary.fpr, fl);
        assert_int_equal(oks_store_by_hash(f->s, f->hash, fpr, &fl, &e), 0);
        assert_int_equal(oks_store_tomb_get(f->s, k2->primary.fpr, k2->primary.fpr_len, &t, &e),
                         1);
        assert_int_equal(oks_store_get(f->s, k2->primary.fpr, k2->primary.fpr_len, &rec, &e), 0);
        assert_int_equal(oks_store_tomb_get(f->s, k->primary.fpr, k->primary.fpr_len, &t, &e), 0);
        oks_store_close(f->s);
        f->s = NULL;
        assert_int_equal(oks_store_open(f->dir, &opts8, &f->s, &e), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stored_key_reads_back_with_its_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(store_opened_empty_finds_everything_it_wrote, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(key_ids_and_hash_index_find_the_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(email_and_word_index_find_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_removes_key_and_every_index_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(counters_are_kept_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_are_counted_per_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(cursors_are_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(change_log_records_old_and_new_hash_in_order, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
