/* The shard add path: prepare on worker threads, commit on the writer (see ingest.h). */
#include "shard/ingest.h"

#include <stdio.h>
#include <string.h>

#pragma weak oks_pgp_key_verify

static void reject(oks_ingest *j, const char *what, const oks_err *e)
{
    char buf[300];
    j->outcome = OKS_REJECTED;
    snprintf(j->reason, sizeof j->reason, "%s%s%s", what, e ? ": " : "",
             e ? oks_err_format(e, buf, sizeof buf) : "");
    oks_pgp_key_free(j->key);
    j->key = NULL;
}

/* Whether the fingerprint of j is deleted (a tombstone that is not lifted): 1 (j rejected,
 * saying so), 0, or an error. */
static int tombstoned(oks_store *s, oks_ingest *j, oks_err *e)
{
    oks_tomb t;
    int r = oks_store_tomb_get(s, j->fpr, j->fpr_len, &t, e);
    if (r != 1 || t.lifted)
        return r < 0 ? r : 0;
    reject(j, "", NULL);
    snprintf(j->reason, sizeof j->reason, "deleted by the operator: %.150s", t.reason);
    j->deleted = true;
    return 1;
}

/* Parses a stored record (released here); 1, or an error. */
static int parse_stored(oks_store_record *rec, const oks_pgp_limits *lim, oks_pgp_key **out,
                        uint8_t hash[16], size_t *bytes, oks_err *e)
{
    memcpy(hash, rec->hash, 16);
    *bytes = rec->key.len;
    /* a stored key was within limits when written; parse it with room for later growth */
    oks_pgp_limits big = *lim;
    big.max_key_bytes = (size_t)-1;
    int r = oks_pgp_key_parse(rec->key.ptr, rec->key.len, &big, OKS_PGP_TRUSTED, out, e);
    oks_store_record_release(rec);
    return r ? r : 1;
}

/* The stored copy of a key now: 0 none, 1 found (*out parsed, hash, bytes), or an error. When
 * it still has the hash prepare saw (known), prepare's parsed copy is taken instead of parsing
 * it again. */
static int load_stored(oks_store *s, oks_ingest *j, const oks_pgp_limits *lim, oks_pgp_key **out,
                       uint8_t hash[16], size_t *bytes, oks_err *e)
{
    oks_store_record rec;
    *out = NULL;
    int r = oks_store_get(s, j->fpr, j->fpr_len, &rec, e);
    if (r <= 0)
        return r;
    if (j->prep_old && memcmp(rec.hash, j->old_hash, 16) == 0 &&
        rec.key.len == j->prep_old_bytes) {
        memcpy(hash, rec.hash, 16);
        *bytes = rec.key.len;
        *out = j->prep_old;
        j->prep_old = NULL;
        oks_store_record_release(&rec);
        return 1;
    }
    return parse_stored(&rec, lim, out, hash, bytes, e);
}

void oks_ingest_prepare(oks_store *s, const uint8_t *data, size_t len, const oks_pgp_limits *lim,
                        oks_ingest *j)
{
    oks_ingest_prepare_flags(s, data, len, lim, 0, j);
}

void oks_ingest_prepare_flags(oks_store *s, const uint8_t *data, size_t len,
                              const oks_pgp_limits *lim, unsigned flags, oks_ingest *j)
{
    memset(j, 0, sizeof *j);
    oks_err e;
    oks_pgp_key *inc = NULL, *old = NULL, *merged = NULL;
    if (oks_pgp_key_parse(data, len, lim, (int)flags, &inc, &e)) {
        reject(j, "unparsable key", &e);
        return;
    }
    j->fpr_len = inc->primary.fpr_len;
    memcpy(j->fpr, inc->primary.fpr, j->fpr_len);
    memcpy(j->keyid, inc->primary.keyid, 8);
    if (oks_pgp_key_acceptable(inc, &e)) {
        oks_pgp_key_free(inc);
        reject(j, "key not accepted", &e);
        return;
    }
    int d = tombstoned(s, j, &e);
    if (d) {
        oks_pgp_key_free(inc);
        if (d < 0)
            reject(j, "tombstone unreadable", &e);
        return;
    }
    /* Re-submission of exactly what is stored (the usual refresh / re-import): the canonical
     * form hashes like the stored copy, so nothing can change: no merge, no verification. The
     * hash index answers that without reading the key record; its entries are small and stay in
     * the block cache when the key records of a large shard do not; so does the key-ID entry
     * that says whether the key is stored at all (a new key is not hashed twice). */
    int r = oks_store_known(s, j->keyid, j->fpr, j->fpr_len, &e);
    if (r == 1) {
        uint8_t inc_hash[16], owner[32];
        size_t owner_len = 0;
        oks_pgp_key_sks_hash(inc, inc_hash);
        r = oks_store_by_hash(s, inc_hash, owner, &owner_len, &e);
        if (r == 1 && owner_len == j->fpr_len && memcmp(owner, j->fpr, owner_len) == 0) {
            memcpy(j->old_hash, inc_hash, 16);
            memcpy(j->new_hash, inc_hash, 16);
            j->had_old = true;
            j->outcome = OKS_UNCHANGED;
            oks_pgp_key_free(inc);
            return;
        }
        /* otherwise one read of the stored copy, to merge with */
        oks_store_record rec;
        if (r >= 0)
            r = oks_store_get(s, j->fpr, j->fpr_len, &rec, &e);
        if (r == 1)
            r = parse_stored(&rec, lim, &old, j->old_hash, &j->prep_old_bytes, &e);
    }
    if (r < 0) {
        oks_pgp_key_free(inc);
        reject(j, "stored copy unreadable", &e);
        return;
    }
    j->had_old = r == 1;
    if (old) {
        /* the union may exceed the limits before cleaning trims the third-party material (a key
         * flooded before that budget existed must still take its owner's revocation): the
         * limit that counts is the owner's material after cleaning, below */
        oks_pgp_limits room = *lim;
        room.max_key_bytes = (size_t)-1;
        room.max_sigs_per_uid = (size_t)-1;
        r = oks_pgp_key_merge(old, inc, &room, &merged, &e);
        oks_pgp_key_free(inc);
        /* kept for the commit: unless the key changes meanwhile, it is what the write replaces
         * (its index entries are removed), and need not be read and parsed again there */
        j->prep_old = old;
        if (r) {
            reject(j, "merge failed", &e);
            return;
        }
    } else {
        merged = inc;
    }
    j->key = merged;
    if (oks_pgp_key_verify && (r = oks_pgp_key_verify(merged, lim, &j->vst, &e))) {
        reject(j, r == OKS_E_LIMIT ? "key too costly to verify"
                                   : "no valid self-signed user ID, subkey or direct signature",
               &e);
        return;
    }
    oks_pgp_key_serialize(merged, &j->bytes);
    /* third-party certifications have their own budget (cleaning): the size limit is on the
     * owner's material, so they can never crowd out a revocation, self-signature or subkey */
    size_t owner = oks_pgp_key_owner_bytes(merged);
    if (owner > lim->max_key_bytes) {
        oks_err_set(&e, OKS_E_LIMIT, OKS_NO_OFFSET, "key material grows to %zu bytes (limit %zu)",
                    owner, lim->max_key_bytes);
        reject(j, "key too large", &e);
        return;
    }
    oks_pgp_key_sks_hash(merged, j->new_hash);
    if (j->had_old && memcmp(j->new_hash, j->old_hash, 16) == 0) {
        j->outcome = OKS_UNCHANGED;
        oks_pgp_key_free(j->key);
        j->key = NULL;
        return;
    }
    j->outcome = j->had_old ? OKS_UPDATED : OKS_NEW;
}

int oks_ingest_commit(oks_store *s, const oks_pgp_limits *lim, oks_ingest *j,
                      oks_store_change *ch, oks_err *e)
{
    uint8_t cur_hash[16];
    size_t cur_bytes = 0;
    oks_pgp_key *cur = NULL;
    /* a delete since prepare: its tombstone wins (nothing is written) */
    int r = tombstoned(s, j, e);
    if (r)
        return r < 0 ? r : 1;
    r = load_stored(s, j, lim, &cur, cur_hash, &cur_bytes, e);
    if (r < 0)
        return r;
    bool changed = (r == 1) != j->had_old || (r == 1 && memcmp(cur_hash, j->old_hash, 16) != 0);
    if (changed && cur) {
        /* someone else wrote this key since prepare: merge with what is stored now. Everything
         * in j->key is verified and everything stored was verified: no crypto needed; cleaning
         * again only applies the third-party budget to the union, as if both had come at once */
        oks_pgp_key *mine = NULL, *merged = NULL;
        oks_pgp_limits big = *lim;
        big.max_key_bytes = (size_t)-1;
        big.max_sigs_per_uid = (size_t)-1;
        r = oks_pgp_key_parse(j->bytes.data, j->bytes.len, &big, OKS_PGP_TRUSTED, &mine, e);
        if (!r)
            r = oks_pgp_key_merge(cur, mine, &big, &merged, e);
        if (!r && oks_pgp_key_verify)
            r = oks_pgp_key_verify(merged, lim, NULL, e);
        oks_pgp_key_free(mine);
        if (r) {
            oks_pgp_key_free(merged);
            oks_pgp_key_free(cur);
            return r;
        }
        oks_pgp_key_free(j->key);
        j->key = merged;
        j->bytes.len = 0;
        oks_pgp_key_serialize(merged, &j->bytes);
        oks_pgp_key_sks_hash(merged, j->new_hash);
        if (memcmp(j->new_hash, cur_hash, 16) == 0) {
            j->outcome = OKS_UNCHANGED;
            oks_pgp_key_free(cur);
            return 1; /* nothing to write */
        }
    }
    if (cur) {
        memcpy(j->old_hash, cur_hash, 16);
        j->had_old = true;
        j->outcome = OKS_UPDATED;
    } else {
        j->had_old = false;
        j->outcome = OKS_NEW;
    }
    j->old_key = cur;
    j->old_bytes = cur ? cur_bytes : 0;
    memset(ch, 0, sizeof *ch);
    ch->fpr = j->fpr;
    ch->fpr_len = j->fpr_len;
    ch->old_key = cur;
    ch->old_hash = cur ? j->old_hash : NULL;
    ch->old_bytes = cur_bytes;
    ch->new_key = j->key;
    ch->new_key_bytes = j->bytes.data;
    ch->new_key_len = j->bytes.len;
    ch->new_hash = j->new_hash;
    return 0;
}

void oks_ingest_release(oks_ingest *j)
{
    oks_pgp_key_free(j->key);
    oks_pgp_key_free(j->old_key);
    oks_pgp_key_free(j->prep_old);
    oks_buf_release(&j->bytes);
    j->key = j->old_key = j->prep_old = NULL;
}
