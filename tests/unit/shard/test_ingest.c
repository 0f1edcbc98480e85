/* shard/ingest: a key is verified when it is new; sending what is stored again is answered from
 * the hash index with no verification; a key that grows is merged and only its news verified
 * (real LevelDB, real keys from debian-keyring). */
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
#include "shard/store.h"

#define KEYRING "/usr/share/keyrings/debian-keyring.gpg"

typedef struct fixture {
    char dir[64];
    oks_store *s;
    oks_buf file;
    oks_slice key; /* first key of the keyring with two or more user IDs, as in the file */
    oks_pgp_limits lim;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/oks-test-ingest-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    FILE *fp = fopen(KEYRING, "rb");
    if (!fp)
        return -1;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&f->file, chunk, n);
    fclose(fp);
    oks_pgp_limits_default(&f->lim);
    size_t off = 0;
    oks_err e;
    while (off < f->file.len && !f->key.ptr) {
        oks_slice k;
        if (oks_pgp_split_next(f->file.data, f->file.len, &off, &k, &e))
            return -1;
        oks_pgp_key *key = NULL;
        if (oks_pgp_key_parse(k.ptr, k.len, &f->lim, 0, &key, &e) == 0 && key->n_uids >= 2)
            f->key = k;
        oks_pgp_key_free(key);
    }
    const oks_store_opts o = {.cache_mb = 8};
    if (!f->key.ptr || oks_store_open(f->dir, &o, &f->s, &e))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    oks_store_close(f->s);
    oks_buf_release(&f->file);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* prepare + commit + write, as the shard's verifier and writer do; returns the outcome */
static enum oks_outcome add(fixture *f, const uint8_t *p, size_t n, uint64_t *verified)
{
    oks_ingest j;
    oks_ingest_prepare(f->s, p, n, &f->lim, &j);
    enum oks_outcome out = j.outcome;
    *verified = j.vst.self_verified;
    if (out == OKS_NEW || out == OKS_UPDATED) {
        oks_store_change ch;
        oks_err e;
        oks_store_write_lock(f->s);
        int r = oks_ingest_commit(f->s, &f->lim, &j, &ch, &e);
        assert_true(r == 0 || r == 1);
        if (r == 0)
            assert_int_equal(oks_store_apply(f->s, &ch, 1, true, &e), 0);
        oks_store_write_unlock(f->s);
        out = j.outcome;
    }
    oks_ingest_release(&j);
    return out;
}

/* the key's packets up to (not including) its second user ID: primary, first user ID and its
 * signatures */
static size_t first_uid_only(const oks_slice *key)
{
    size_t off = 0, uids = 0, end = key->len;
    oks_pgp_packet p;
    oks_err e;
    while (off < key->len && oks_pgp_packet_next(key->ptr, key->len, &off, &p, &e) == 0)
        if ((p.tag == OKS_PGP_TAG_UID || p.tag == OKS_PGP_TAG_UAT ||
             p.tag == OKS_PGP_TAG_PUBSUBKEY) &&
            ++uids == 2) {
            end = p.offset;
            break;
        }
    return end;
}

static void resubmission_is_unchanged_without_verifying(void **state)
{
    fixture *f = *state;
    uint64_t v = 0;
    assert_int_equal(add(f, f->key.ptr, f->key.len, &v), OKS_NEW);
    assert_true(v > 0);
    assert_int_equal(add(f, f->key.ptr, f->key.len, &v), OKS_UNCHANGED);
    assert_int_equal(v, 0);
    oks_store_stats st;
    oks_store_stats_get(f->s, &st);
    assert_int_equal(st.keys, 1);
}

static void growth_is_merged_and_a_part_is_unchanged(void **state)
{
    fixture *f = *state;
    uint64_t v_part = 0, v_full = 0, v = 0;
    size_t part = first_uid_only(&f->key);
    assert_true(part < f->key.len);
    assert_int_equal(add(f, f->key.ptr, part, &v_part), OKS_NEW);
    assert_true(v_part > 0);
    /* the whole key: updated, and only what the stored part lacked is verified */
    assert_int_equal(add(f, f->key.ptr, f->key.len, &v_full), OKS_UPDATED);
    assert_true(v_full > 0);
    /* the part again: merging it into the stored whole changes nothing */
    assert_int_equal(add(f, f->key.ptr, part, &v), OKS_UNCHANGED);
    assert_int_equal(add(f, f->key.ptr, f->key.len, &v), OKS_UNCHANGED);
    assert_int_equal(v, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(resubmission_is_unchanged_without_verifying, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(growth_is_merged_and_a_part_is_unchanged, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
