/* Tombstones and slot digests at the shard (shard/tombs.c, shard/store_slots.c) on real LevelDB
 * stores and real keys: two replicas given the same adds and deletes in opposite orders end with
 * equal stored state (a delete's tombstone wins over an add of the key either way, a later lift
 * over an earlier delete), a slot's digest is the XOR of its hashes and survives a rebuild at
 * open, and a change log with changelog_keep keeps only its newest entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pgp.h"
#include "shard/ingest.h"
#include "shard/shard.h"
#include "shard/store.h"

#define KEYRING "/usr/share/keyrings/debian-keyring.gpg"
#define NKEYS 12
#define SLOTS 64

typedef struct fixture {
    char dir[2][64];
    oks_shard sh[2]; /* only store and lim are used */
    oks_buf file;
    oks_slice keys[NKEYS];
    uint8_t fpr[NKEYS][20];
} fixture;

static const oks_store_opts opts = {.cache_mb = 8, .n_slots = SLOTS};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    FILE *fp = fopen(KEYRING, "rb");
    if (!f || !fp)
        return -1;
    uint8_t chunk[65536];
    size_t n, off = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&f->file, chunk, n);
    fclose(fp);
    oks_err e;
    for (int i = 0; i < NKEYS; i++) {
        oks_pgp_key *k = NULL;
        if (oks_pgp_split_next(f->file.data, f->file.len, &off, &f->keys[i], &e) ||
            oks_pgp_key_parse(f->keys[i].ptr, f->keys[i].len, NULL, OKS_PGP_TRUSTED, &k, &e))
            return -1;
        memcpy(f->fpr[i], k->primary.fpr, 20);
        oks_pgp_key_free(k);
    }
    for (int r = 0; r < 2; r++) {
        snprintf(f->dir[r], sizeof f->dir[r], "/tmp/oks-test-tombs-XXXXXX");
        if (!mkdtemp(f->dir[r]) || oks_store_open(f->dir[r], &opts, &f->sh[r].store, &e))
            return -1;
        oks_pgp_limits_default(&f->sh[r].lim);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int r = 0; r < 2; r++) {
        oks_store_close(f->sh[r].store);
        char cmd[96];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir[r]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", f->dir[r]);
    }
    oks_buf_release(&f->file);
    free(f);
    return 0;
}

/* prepare + commit + write, as the shard's verifier and writer do */
static enum oks_outcome add(oks_shard *sh, const oks_slice *k, bool *deleted)
{
    oks_ingest j;
    oks_ingest_prepare(sh->store, k->ptr, k->len, &sh->lim, &j);
    if (j.outcome == OKS_NEW || j.outcome == OKS_UPDATED) {
        oks_store_change ch;
        oks_err e;
        oks_store_write_lock(sh->store);
        int r = oks_ingest_commit(sh->store, &sh->lim, &j, &ch, &e);
        assert_true(r == 0 || r == 1);
        if (r == 0)
            assert_int_equal(oks_store_apply(sh->store, &ch, 1, true, &e), 0);
        oks_store_write_unlock(sh->store);
    }
    enum oks_outcome out = j.outcome;
    if (deleted)
        *deleted = j.deleted;
    if (out == OKS_REJECTED && j.deleted)
        assert_non_null(strstr(j.reason, "deleted by the operator: spam"));
    oks_ingest_release(&j);
    return out;
}

static void tomb(oks_shard *sh, const uint8_t *fpr, bool lifted, uint64_t stamp)
{
    oks_tomb t;
    oks_err e;
    bool changed, had;
    assert_int_equal(oks_tomb_init(&t, fpr, 20, lifted, stamp, "spam", 4, "admin", &e), 0);
    assert_int_equal(oks_shard_tomb_apply(sh, &t, &changed, &had, &e), 0);
}

/* Every slot digest and key count of the two stores are equal. */
static void assert_same(fixture *f)
{
    oks_store_stats a, b;
    oks_store_stats_get(f->sh[0].store, &a);
    oks_store_stats_get(f->sh[1].store, &b);
    assert_int_equal(a.keys, b.keys);
    for (unsigned s = 0; s < SLOTS; s++) {
        uint8_t da[16], db[16];
        uint64_t ka, kb;
        assert_true(oks_store_slot_digest(f->sh[0].store, s, da, &ka));
        assert_true(oks_store_slot_digest(f->sh[1].store, s, db, &kb));
        assert_int_equal(ka, kb);
        assert_memory_equal(da, db, 16);
    }
}

static void delete_wins_over_add_in_both_orders(void **state)
{
    fixture *f = *state;
    /* replica 0: the adds, then the delete of key 3; replica 1: the delete first, then the adds
     * in reverse order */
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(add(&f->sh[0], &f->keys[i], NULL), OKS_NEW);
    tomb(&f->sh[0], f->fpr[3], false, 1000);
    tomb(&f->sh[1], f->fpr[3], false, 1000);
    for (int i = NKEYS - 1; i >= 0; i--) {
        bool deleted = false;
        enum oks_outcome o = add(&f->sh[1], &f->keys[i], &deleted);
        assert_int_equal(o, i == 3 ? OKS_REJECTED : OKS_NEW);
        assert_int_equal(deleted, i == 3);
    }
    /* the replica that stored the key refuses it back too */
    bool deleted = false;
    assert_int_equal(add(&f->sh[0], &f->keys[3], &deleted), OKS_REJECTED);
    assert_true(deleted);
    oks_store_record rec;
    oks_err e;
    for (int r = 0; r < 2; r++)
        assert_int_equal(oks_store_get(f->sh[r].store, f->fpr[3], 20, &rec, &e), 0);
    assert_same(f);
    oks_store_stats st;
    oks_store_stats_get(f->sh[0].store, &st);
    assert_int_equal(st.keys, NKEYS - 1); /* a tombstone is not a key */
}

static void later_lift_wins_over_earlier_delete_in_both_orders(void **state)
{
    fixture *f = *state;
    tomb(&f->sh[0], f->fpr[5], false, 100);
    tomb(&f->sh[0], f->fpr[5], true, 200);
    tomb(&f->sh[1], f->fpr[5], true, 200);
    tomb(&f->sh[1], f->fpr[5], false, 100); /* older: loses */
    for (int r = 0; r < 2; r++) {
        oks_tomb t;
        oks_err e;
        assert_int_equal(oks_store_tomb_get(f->sh[r].store, f->fpr[5], 20, &t, &e), 1);
        assert_true(t.lifted);
        assert_int_equal(t.stamp_ms, 200);
        assert_int_equal(add(&f->sh[r], &f->keys[5], NULL), OKS_NEW);
    }
    /* same stamp: the delete wins whichever came first */
    tomb(&f->sh[0], f->fpr[6], false, 300);
    tomb(&f->sh[0], f->fpr[6], true, 300);
    tomb(&f->sh[1], f->fpr[6], true, 300);
    tomb(&f->sh[1], f->fpr[6], false, 300);
    for (int r = 0; r < 2; r++)
        assert_int_equal(add(&f->sh[r], &f->keys[6], NULL), OKS_REJECTED);
    assert_same(f);
}

typedef struct xor_ctx {
    uint8_t d[16];
    size_t n;
} xor_ctx;

static int xor_hash(unsigned slot, const uint8_t hash[16], const uint8_t *fpr, size_t len,
                    void *arg)
{
    (void)fpr, (void)len, (void)slot;
    xor_ctx *x = arg;
    oks_digest_xor(x->d, hash);
    x->n++;
    return 0;
}

static int xor_tomb(const oks_tomb *t, void *arg)
{
    uint8_t h[16];
    oks_tomb_hash(t, h);
    oks_digest_xor(((xor_ctx *)arg)->d, h);
    return 0;
}

/* every slot's digest is the XOR of its listed hashes and tombstones */
static void assert_digests_match_lists(oks_store *s, unsigned slots)
{
    size_t total = 0;
    for (unsigned sl = 0; sl < slots; sl++) {
        xor_ctx x = {{0}, 0};
        oks_err e;
        uint8_t d[16];
        uint64_t keys;
        assert_int_equal(oks_store_slot_hashes(s, sl, sl, NULL, 100000, xor_hash, &x, &e), 0);
        assert_int_equal(oks_store_slot_tombs(s, sl, sl, 1000, xor_tomb, &x, &e), 0);
        assert_true(oks_store_slot_digest(s, sl, d, &keys));
        assert_memory_equal(d, x.d, 16);
        assert_int_equal(keys, x.n);
        total += x.n;
    }
    oks_store_stats st;
    oks_store_stats_get(s, &st);
    assert_int_equal(total, st.keys);
}

static void digest_is_the_xor_of_hashes_and_survives_a_rebuild(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < NKEYS; i++)
        add(&f->sh[0], &f->keys[i], NULL);
    tomb(&f->sh[0], f->fpr[2], false, 5);
    assert_digests_match_lists(f->sh[0].store, SLOTS);
    /* reopened for another slot count: rebuilt by a scan */
    oks_err e;
    oks_store_close(f->sh[0].store);
    oks_store_opts o = opts;
    o.n_slots = 16;
    assert_int_equal(oks_store_open(f->dir[0], &o, &f->sh[0].store, &e), 0);
    assert_digests_match_lists(f->sh[0].store, 16);
    oks_tomb t;
    assert_int_equal(oks_store_tomb_get(f->sh[0].store, f->fpr[2], 20, &t, &e), 1);
    /* and back: rebuilt again, loaded as stored the time after */
    oks_store_close(f->sh[0].store);
    assert_int_equal(oks_store_open(f->dir[0], &opts, &f->sh[0].store, &e), 0);
    assert_digests_match_lists(f->sh[0].store, SLOTS);
    oks_store_close(f->sh[0].store);
    assert_int_equal(oks_store_open(f->dir[0], &opts, &f->sh[0].store, &e), 0);
    assert_digests_match_lists(f->sh[0].store, SLOTS);
}

static int count_change(uint64_t seq, const uint8_t *p, size_t n, void *arg)
{
    (void)p, (void)n;
    uint64_t *v = arg;
    if (!v[0])
        v[0] = seq;
    v[1]++;
    return 0;
}

static void change_log_keeps_the_newest_entries(void **state)
{
    fixture *f = *state;
    oks_err e;
    oks_store_close(f->sh[1].store);
    oks_store_opts o = opts;
    o.changelog_keep = 3;
    assert_int_equal(oks_store_open(f->dir[1], &o, &f->sh[1].store, &e), 0);
    for (int i = 0; i < NKEYS; i++)
        add(&f->sh[1], &f->keys[i], NULL);
    uint64_t v[2] = {0, 0};
    assert_int_equal(oks_store_changes(f->sh[1].store, 0, 1000, count_change, v, &e), 0);
    assert_int_equal(v[0], NKEYS - 2);
    assert_int_equal(v[1], 3);
    assert_int_equal(oks_store_first_seq(f->sh[1].store), NKEYS - 2);
    /* kept across a reopen */
    oks_store_close(f->sh[1].store);
    assert_int_equal(oks_store_open(f->dir[1], &o, &f->sh[1].store, &e), 0);
    assert_int_equal(oks_store_first_seq(f->sh[1].store), NKEYS - 2);
    assert_false(oks_store_was_empty(f->sh[1].store));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(delete_wins_over_add_in_both_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(later_lift_wins_over_earlier_delete_in_both_orders,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(digest_is_the_xor_of_hashes_and_survives_a_rebuild,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(change_log_keeps_the_newest_entries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
