/* Shard read requests: get by fingerprint / key ID / hash, search, stats, change log. Runs on
 * reader threads, concurrently with the writer (LevelDB reads are thread-safe). */
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/keyidx.h"
#include "shard/shard.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index entries one scan collects before its matches are intersected and limited: bounds the
 * memory and time of a lookup whatever the data. */
#define MAX_INTERNAL_MATCHES 20000
/* Index iterator moves one multi-word search may take (each a LevelDB seek or step of about a
 * microsecond): the intersection's work grows with the rarest word, and this bounds it even when
 * every word is common. */
#define MAX_SEARCH_MOVES 100000
/* Index entries one scan (key ID, e-mail, exact user ID) may look at, matching or not: with
 * MAX_INTERNAL_MATCHES it bounds the work of a scan whatever the index holds. */
#define MAX_SCAN_STEPS 100000
/* Key bytes one answer may read and carry (lookups, searches, hash fetches, ListKeys pages), so
 * that neither the work of a read nor the reply grows with the keys' sizes times the match
 * limit; at most a quarter of [cluster] max_message_bytes, so the reply always fits. An answer
 * holds at least one key whatever its size. */
#define OKS_SHARD_READ_BYTES (16u << 20)
/* Longest search text, in bytes. */
#define OKS_SHARD_SEARCH_MAX_TEXT 1024
/* Longest e-mail address of an e-mail search, in bytes. */
#define OKS_SHARD_EMAIL_MAX 255
/* Page size of ListKeys and ChangeLog when the request names none. */
#define OKS_SHARD_PAGE_DEFAULT 1000

static void set_error(Oks__Response *r, Oks__Status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(Oks__Response *r, Oks__Status st, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->status = st;
    free(r->error == protobuf_c_empty_string ? NULL : r->error);
    r->error = oks_xstrdup(buf);
}

bool oks_shard_owns_keyid(const oks_shard *sh, const uint8_t keyid[8])
{
    return oks_shard_takes_slot(sh, oks_slot_of_keyid(keyid, sh->conf->n_slots));
}

bool oks_shard_check_route(oks_shard *sh, const Oks__Request *req, Oks__Response *resp)
{
    const oks_cluster *c = sh->conf;
    /* a static map must match exactly; a map kept in etcd changes under running routers, which
     * may be one map behind or ahead: the slot check below is what counts then */
    if (req->map_digest.len && !c->epoch &&
        (req->map_digest.len != 32 || memcmp(req->map_digest.data, c->digest, 32) != 0)) {
        set_error(resp, OKS__STATUS__STATUS_WRONG_SHARD,
                  "shard %s: the request's slot map differs from this shard's (stale config?)",
                  c->shards[sh->self].name);
        return false;
    }
    /* only a router names a slot, and it always sends its map digest; without one, slot is the
     * proto3 default 0, not a claim (direct clients: health, stats, tools) */
    if (req->map_digest.len && req->slot >= 0 &&
        ((unsigned)req->slot >= c->n_slots || !oks_shard_takes_slot(sh, (unsigned)req->slot))) {
        set_error(resp, OKS__STATUS__STATUS_WRONG_SHARD, "shard %s does not hold slot %d",
                  c->shards[sh->self].name, req->slot);
        return false;
    }
    return true;
}

/* A key in a response: the protobuf struct first, then what owns its bytes. */
typedef struct shard_key {
    Oks__Key k;
    char *raw;     /* LevelDB's buffer (taken from a record), or NULL */
    uint8_t *copy; /* malloc'd copy, or NULL */
    uint8_t fpr[32], hash[16];
} shard_key;

/* Appends a stored record to resp->keys. take: the record's buffer is handed over (no copy);
 * otherwise (iterator memory) the bytes are copied. */
static int add_key(Oks__Response *r, oks_store_record *rec, const uint8_t *fpr, size_t fl,
                   bool take)
{
    Oks__Key **v = oks_xrealloc(r->keys, (r->n_keys + 1) * sizeof *v);
    r->keys = v;
    shard_key *k = oks_xcalloc(1, sizeof *k);
    oks__key__init(&k->k);
    const uint8_t *data = rec->key.ptr;
    if (take) {
        k->raw = rec->raw;
        rec->raw = NULL;
    } else {
        k->copy = oks_xmalloc(rec->key.len ? rec->key.len : 1);
        memcpy(k->copy, rec->key.ptr, rec->key.len);
        data = k->copy;
    }
    memcpy(k->fpr, fpr, fl);
    memcpy(k->hash, rec->hash, 16);
    k->k.data = (ProtobufCBinaryData){rec->key.len, (uint8_t *)data};
    k->k.fingerprint = (ProtobufCBinaryData){fl, k->fpr};
    k->k.sks_hash = (ProtobufCBinaryData){16, k->hash};
    k->k.updated = rec->updated;
    v[r->n_keys++] = &k->k;
    return 0;
}

void oks_shard_response_release(Oks__Response *r)
{
    for (size_t i = 0; i < r->n_keys; i++) {
        shard_key *k = (shard_key *)r->keys[i];
        if (k->raw)
            oks_store_record_release(&(oks_store_record){.raw = k->raw});
        free(k->copy);
        free(k);
    }
    free(r->keys);
    for (size_t i = 0; i < r->n_results; i++) {
        free(r->results[i]->reason == protobuf_c_empty_string ? NULL : r->results[i]->reason);
        free(r->results[i]);
    }
    free(r->results);
    for (size_t i = 0; i < r->n_shards; i++) {
        free(r->shards[i]->slot_ranges == protobuf_c_empty_string ? NULL
                                                                    : r->shards[i]->slot_ranges);
        for (size_t k = 0; k < r->shards[i]->n_ranges; k++)
            free(r->shards[i]->ranges[k]);
        free(r->shards[i]->ranges);
        free(r->shards[i]);
    }
    free(r->shards);
    for (size_t i = 0; i < r->n_changes; i++) {
        free(r->changes[i]->tombstone); /* one block with its fields */
        free(r->changes[i]); /* packed with its byte fields in one block */
    }
    free(r->changes);
    oks_shard_release_slots(r);
    for (size_t i = 0; i < r->n_backup_entries; i++)
        free(r->backup_entries[i]); /* one block with its bytes (shard/backup.c) */
    free(r->backup_entries);
    free(r->backup);
    if (r->error != protobuf_c_empty_string)
        free(r->error);
    oks__response__init(r);
}

/* Fingerprint set collected from index scans (small, linear; bounded by the match limits). */
typedef struct fpr_set {
    uint8_t (*v)[33]; /* [0] = length, then bytes */
    size_t n, cap, max;
    bool nomem;       /* an entry could not be added: the set is incomplete */
    bool cut;         /* a work budget or the match cap stopped the scan: there may be more */
} fpr_set;

/* Appends (O(1)); duplicates are removed once, by set_unique, before the set is answered. */
static int set_add(const uint8_t *fpr, size_t fl, void *arg)
{
    fpr_set *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *nv = oks_xrealloc(s->v, cap * sizeof *s->v);
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n][0] = (uint8_t)fl;
    memcpy(s->v[s->n] + 1, fpr, fl);
    s->n++;
    return s->n >= s->max;
}

static int fpr_cmp(const void *a, const void *b)
{
    const uint8_t *x = a, *y = b;
    size_t n = x[0] < y[0] ? x[0] : y[0];
    int c = memcmp(x + 1, y + 1, n);
    return c ? c : (int)x[0] - (int)y[0];
}

/* Removes repeated entries. Index scans give sorted, unique entries (left as they are); a few
 * entries in the order they were added (a fingerprint's primary key, then the key holding it as
 * a subkey) keep that order; larger unsorted sets (hash lookups) are sorted: O(n log n) in all,
 * never a linear search per entry. */
static void set_unique(fpr_set *s)
{
    bool sorted = true;
    for (size_t i = 1; i < s->n && sorted; i++)
        sorted = fpr_cmp(s->v[i - 1], s->v[i]) < 0;
    if (sorted)
        return;
    size_t k = 0;
    if (s->n <= 16) {
        for (size_t i = 0; i < s->n; i++) {
            bool seen = false;
            for (size_t j = 0; j < k && !seen; j++)
                seen = fpr_cmp(s->v[j], s->v[i]) == 0;
            if (!seen)
                memmove(s->v[k++], s->v[i], sizeof s->v[0]);
        }
    } else {
        qsort(s->v, s->n, sizeof *s->v, fpr_cmp);
        for (size_t i = 0; i < s->n; i++)
            if (k == 0 || fpr_cmp(s->v[i], s->v[k - 1]) != 0)
                memmove(s->v[k++], s->v[i], sizeof s->v[0]);
    }
    s->n = k;
}

/* A storage failure: the answer is an error naming the shard and the reason, never "not
 * found"; the shard's log names it too. */
static void storage_error(oks_shard *sh, Oks__Response *r, const char *what, const char *msg)
{
    const char *name = sh->conf->shards[sh->self].name;
    oks_warn("shard %s: %s failed: %s", name, what, msg);
    set_error(r, OKS__STATUS__STATUS_INTERNAL, "shard %s: %s failed: %s", name, what, msg);
}

static void no_memory(oks_shard *sh, Oks__Response *r)
{
    set_error(r, OKS__STATUS__STATUS_INTERNAL, "shard %s: out of memory",
              sh->conf->shards[sh->self].name);
}

/* A work budget ran out before anything was found: a refusal that says so, never "not
 * found". */
static void over_budget(oks_shard *sh, Oks__Response *r, const char *why)
{
    set_error(r, OKS__STATUS__STATUS_TOO_LARGE, "shard %s: work budget: %s (narrow the request)",
              sh->conf->shards[sh->self].name, why);
}

/* Key bytes one answer may read (OKS_SHARD_READ_BYTES, within the message cap). */
static size_t read_budget(const oks_shard *sh)
{
    size_t cap = sh->conf->max_message_bytes / 4;
    return cap && cap < OKS_SHARD_READ_BYTES ? cap : OKS_SHARD_READ_BYTES;
}

/* Runs an index scan into s (at most MAX_SCAN_STEPS entries looked at; s->cut when that or the
 * match cap stopped it); false (with r filled) when the store failed. */
static bool scan(oks_shard *sh, char kind, const uint8_t *prefix, size_t n, bool terminated,
                 fpr_set *s, Oks__Response *r)
{
    oks_err e;
    int sr = oks_store_scan(sh->store, kind, prefix, n, terminated, s->max, MAX_SCAN_STEPS,
                            set_add, s, &e);
    if (sr == OKS_E_LIMIT)
        s->cut = true;
    else if (sr < 0) {
        storage_error(sh, r, "index scan", e.msg);
        return false;
    }
    if (s->n >= s->max)
        s->cut = true;
    if (s->nomem) {
        no_memory(sh, r);
        return false;
    }
    return true;
}

/* Serves the last key of r in the form for clients (oks_pgp_key_client_form), if it differs. */
static int client_form(Oks__Response *r)
{
    shard_key *k = (shard_key *)r->keys[r->n_keys - 1];
    oks_buf b = OKS_BUF_INIT;
    int rc = oks_pgp_key_client_form(k->k.data.data, k->k.data.len, &b);
    if (rc <= 0) {
        oks_buf_release(&b);
        return rc;
    }
    if (k->raw)
        oks_store_record_release(&(oks_store_record){.raw = k->raw});
    free(k->copy);
    k->raw = NULL;
    k->copy = b.data; /* handed over */
    k->k.data = (ProtobufCBinaryData){b.len, k->copy};
    return 0;
}

/* Adds every key of the set to the response (up to limit, and up to the read budget: then
 * truncated); total = set size. client: in the form served to clients (not for GetByHash, whose
 * answers must hash as stored). A key that cannot be read makes the whole answer an error. A
 * set cut by a work budget is answered truncated, or, when it is empty, as a budget refusal. */
static void emit_set(oks_shard *sh, fpr_set *s, size_t limit, bool client, Oks__Response *r)
{
    if (s->nomem) {
        no_memory(sh, r);
        return;
    }
    if (s->cut && s->n == 0) {
        over_budget(sh, r, "the index scan stopped before finding a match");
        return;
    }
    set_unique(s);
    r->total = (uint32_t)s->n;
    r->truncated = s->cut;
    size_t bytes = 0, budget = read_budget(sh);
    for (size_t i = 0; i < s->n && r->n_keys < limit; i++) {
        oks_store_record rec;
        oks_err e;
        uint8_t kid[8];
        /* a key of a slot moved away, kept here until the purge removes it, is never served */
        if (oks_keyid_of_fpr(s->v[i] + 1, s->v[i][0], kid) == 0 && !oks_shard_owns_keyid(sh, kid))
            continue;
        int found = oks_store_get(sh->store, s->v[i] + 1, s->v[i][0], &rec, &e);
        if (found < 0) {
            storage_error(sh, r, "key read", e.msg);
            return;
        }
        if (found == 0)
            continue; /* deleted since the index scan */
        if (r->n_keys > 0 && rec.key.len > budget - bytes) {
            oks_store_record_release(&rec);
            r->truncated = true; /* the read budget: the rest is not read */
            break;
        }
        bytes += rec.key.len < budget - bytes ? rec.key.len : budget - bytes;
        int added = add_key(r, &rec, s->v[i] + 1, s->v[i][0], true);
        oks_store_record_release(&rec);
        if (added == 0 && client)
            added = client_form(r);
        if (added < 0) {
            no_memory(sh, r);
            return;
        }
    }
    if (r->n_keys == 0 && r->status == OKS__STATUS__STATUS_OK)
        set_error(r, OKS__STATUS__STATUS_NOT_FOUND, "no matching key");
}

/* Lookup by fingerprint. Without subkeys: the key with that primary fingerprint (the router
 * asks its slot's owner only). With subkeys (the router asks every shard): also the key that has
 * a subkey with that fingerprint ("f" index), listed after the primary. Both are point reads, so
 * the many shards that hold neither answer from their Bloom filters. */
static void get_fingerprint(oks_shard *sh, const Oks__GetByFingerprint *g, Oks__Response *r)
{
    size_t fl = g->fingerprint.len;
    const uint8_t *fpr = g->fingerprint.data;
    if (fl != 20 && fl != 32) {
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "fingerprint must be 20 or 32 bytes, not %zu",
                  fl);
        return;
    }
    /* the candidates, read by emit_set: the fingerprint itself, then its subkey's owner */
    fpr_set s = {.max = 2};
    set_add(fpr, fl, &s);
    if (g->subkeys) {
        uint8_t owner[32];
        size_t ol;
        oks_err e;
        int sub = oks_store_subkey_owner(sh->store, fpr, fl, owner, &ol, &e);
        if (sub < 0) {
            storage_error(sh, r, "subkey index read", e.msg);
            free(s.v);
            return;
        }
        if (sub == 1)
            set_add(owner, ol, &s);
    }
    emit_set(sh, &s, s.max, true, r);
    r->total = (uint32_t)r->n_keys; /* a candidate need not exist */
    free(s.v);
}

static void get_key_id(oks_shard *sh, const Oks__GetByKeyId *g, Oks__Response *r, size_t limit)
{
    size_t n = g->key_id.len;
    if (n != 8 && n != 4) {
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "key ID must be 4 or 8 bytes, not %zu", n);
        return;
    }
    fpr_set s = {.max = MAX_INTERNAL_MATCHES};
    if (!scan(sh, n == 8 ? 'i' : 's', g->key_id.data, n, false, &s, r)) {
        free(s.v);
        return;
    }
    if (g->primary_only && n == 8) {
        size_t k = 0;
        for (size_t i = 0; i < s.n; i++) {
            uint8_t kid[8];
            if (oks_keyid_of_fpr(s.v[i] + 1, s.v[i][0], kid) == 0 &&
                memcmp(kid, g->key_id.data, 8) == 0)
                memmove(s.v[k++], s.v[i], sizeof s.v[0]);
        }
        s.n = k;
    }
    emit_set(sh, &s, limit, true, r);
    free(s.v);
}

/* The words of a search, copied (oks_pgp_words hands each one over in a scratch buffer); at
 * most OKS_STORE_MAX_TERMS, the rest ignored. */
typedef struct search_words {
    char w[OKS_STORE_MAX_TERMS][OKS_STORE_MAX_TERM + 1];
    oks_slice v[OKS_STORE_MAX_TERMS];
    size_t n;
} search_words;

static void collect_word(const char *w, size_t n, void *arg)
{
    search_words *x = arg;
    if (x->n == OKS_STORE_MAX_TERMS || n == 0 || n > OKS_STORE_MAX_TERM)
        return;
    memcpy(x->w[x->n], w, n);
    x->v[x->n] = oks_slice_of(x->w[x->n], n);
    x->n++;
}

/* Keys holding every word, by leapfrogging over the word index lists (oks_store_intersect):
 * the work grows with the rarest word and stops at MAX_SEARCH_MOVES. False (r filled) when the
 * search cannot be answered. */
static bool search_words_all(oks_shard *sh, const char *t, size_t tl, fpr_set *s,
                             Oks__Response *r)
{
    search_words *x = oks_xcalloc(1, sizeof *x);
    oks_pgp_words((const uint8_t *)t, tl, collect_word, x);
    size_t words = x->n;
    oks_err e;
    int sr = words ? oks_store_intersect(sh->store, 'w', x->v, x->n, s->max, MAX_SEARCH_MOVES,
                                         set_add, s, &e)
                   : 0;
    free(x);
    if (words == 0) {
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "search text has no words");
        return false;
    }
    if (sr == OKS_E_LIMIT && s->n == 0) {
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST,
                  "search too broad: its words share too few keys to be worth the work "
                  "(make it more specific)");
        return false;
    }
    if (sr < 0 && sr != OKS_E_LIMIT) {
        storage_error(sh, r, "word search", e.msg);
        return false;
    }
    /* the move budget after some matches, or the match cap: the keys found, marked as a part */
    s->cut = sr == OKS_E_LIMIT || s->n >= s->max;
    return true;
}

/* SEARCH_DANE: "<56 hex digits>@domain" -> the 'd' index prefix (hash octets, lowercased
 * domain). Returns its length, 0 if t is not of that form. */
static size_t dane_prefix(const char *t, size_t tl, uint8_t *out, size_t cap)
{
    size_t hl = 2 * OKS_KEYIDX_DANE_HASH;
    if (tl <= hl + 1 || t[hl] != '@' || tl - hl - 1 > 255 || cap < tl)
        return 0;
    for (size_t i = 0; i < hl; i++) {
        int c = t[i] | 32, v = c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
        if (v < 0 || v > 15 || (c > '9' && c < 'a'))
            return 0;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    size_t n = OKS_KEYIDX_DANE_HASH;
    for (size_t i = hl + 1; i < tl; i++) {
        uint8_t c = (uint8_t)t[i];
        if (c <= ' ' || c == '@' || c == 0x7f)
            return 0;
        out[n++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return n;
}

static void search(oks_shard *sh, const Oks__Search *q, Oks__Response *r, size_t limit)
{
    fpr_set s = {.max = MAX_INTERNAL_MATCHES};
    const char *t = q->text;
    size_t tl = strlen(t);
    if (tl == 0 || tl > OKS_SHARD_SEARCH_MAX_TEXT) {
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST,
                  "search text must be 1..%d bytes", OKS_SHARD_SEARCH_MAX_TEXT);
        return;
    }
    if (q->limit && q->limit < limit)
        limit = q->limit;
    bool ok = true;
    switch (q->kind) {
    case OKS__SEARCH_KIND__SEARCH_EMAIL: {
        char mail[OKS_SHARD_EMAIL_MAX + 1];
        size_t ml = oks_pgp_uid_email((const uint8_t *)t, tl, mail, sizeof mail);
        if (ml == 0 || ml >= sizeof mail) {
            set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "not an e-mail address");
            return;
        }
        ok = scan(sh, 'e', (const uint8_t *)mail, ml, true, &s, r);
        break;
    }
    case OKS__SEARCH_KIND__SEARCH_DANE: {
        uint8_t pfx[OKS_KEYIDX_DANE_HASH + 256];
        size_t pl = dane_prefix(t, tl, pfx, sizeof pfx);
        if (pl == 0) {
            set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "expected <56 hex digits>@domain");
            return;
        }
        ok = scan(sh, 'd', pfx, pl, true, &s, r);
        break;
    }
    case OKS__SEARCH_KIND__SEARCH_EXACT:
        /* the index holds whole user IDs cut at OKS_KEYIDX_UID_MAX bytes */
        ok = scan(sh, 'u', (const uint8_t *)t, tl > OKS_KEYIDX_UID_MAX ? OKS_KEYIDX_UID_MAX : tl,
                  true, &s, r);
        break;
    default:
        ok = search_words_all(sh, t, tl, &s, r);
        break;
    }
    if (ok)
        emit_set(sh, &s, limit, true, r);
    free(s.v);
}

static void get_hash(oks_shard *sh, const Oks__GetByHash *g, Oks__Response *r)
{
    if (g->n_hashes > OKS_PROTO_MAX_ITEMS) {
        set_error(r, OKS__STATUS__STATUS_TOO_LARGE,
                  "at most " OKS_PROTO_MAX_ITEMS_TEXT " hashes per request");
        return;
    }
    fpr_set s = {.max = OKS_PROTO_MAX_ITEMS};
    for (size_t i = 0; i < g->n_hashes; i++) {
        uint8_t fpr[32];
        size_t fl;
        oks_err e;
        if (g->hashes[i].len != 16)
            continue;
        int found = oks_store_by_hash(sh->store, g->hashes[i].data, fpr, &fl, &e);
        if (found < 0) {
            storage_error(sh, r, "hash index read", e.msg);
            free(s.v);
            return;
        }
        if (found == 1)
            set_add(fpr, fl, &s);
    }
    emit_set(sh, &s, OKS_PROTO_MAX_ITEMS, false, r);
    free(s.v);
}

/* A copy of a change's tombstone in one block (freed with one free). */
static Oks__Tombstone *tomb_copy(const Oks__Tombstone *t)
{
    size_t fl = t->fingerprint.len, rl = strlen(t->reason) + 1, wl = strlen(t->who) + 1;
    Oks__Tombstone *m = oks_xmalloc(sizeof *m + fl + rl + wl);
    if (!m)
        return NULL;
    oks__tombstone__init(m);
    uint8_t *p = (uint8_t *)(m + 1);
    if (fl)
        memcpy(p, t->fingerprint.data, fl);
    m->fingerprint = (ProtobufCBinaryData){fl, p};
    m->reason = memcpy(p + fl, t->reason, rl);
    m->who = memcpy(p + fl + rl, t->who, wl);
    m->lifted = t->lifted;
    m->stamp_ms = t->stamp_ms;
    return m;
}

static int add_change(uint64_t seq, const uint8_t *packed, size_t len, void *arg)
{
    Oks__Response *r = arg;
    (void)seq;
    Oks__Change *c = oks__change__unpack(NULL, len, packed);
    if (!c)
        return 0;
    /* copy into one block so release is a single free */
    size_t need = sizeof *c + c->fingerprint.len + c->old_hash.len + c->new_hash.len;
    Oks__Change *d = oks_xmalloc(need);
    if (d) {
        uint8_t *p = (uint8_t *)(d + 1);
        oks__change__init(d);
        d->seq = c->seq;
        d->time = c->time;
        /* empty fields (no old hash for a new key, no new hash after a delete) have NULL data:
         * never handed to memcpy */
        const ProtobufCBinaryData *src[3] = {&c->fingerprint, &c->old_hash, &c->new_hash};
        ProtobufCBinaryData *dst[3] = {&d->fingerprint, &d->old_hash, &d->new_hash};
        for (int f = 0; f < 3; f++) {
            if (src[f]->len)
                memcpy(p, src[f]->data, src[f]->len);
            *dst[f] = (ProtobufCBinaryData){src[f]->len, p};
            p += src[f]->len;
        }
        if (c->tombstone)
            d->tombstone = tomb_copy(c->tombstone);
        Oks__Change **v = oks_xrealloc(r->changes, (r->n_changes + 1) * sizeof *v);
        if (v) {
            r->changes = v;
            v[r->n_changes++] = d;
        } else {
            free(d);
        }
    }
    oks__change__free_unpacked(c, NULL);
    return 0;
}

typedef struct list_ctx {
    Oks__Response *r;
    size_t limit;
    size_t bytes, budget; /* key bytes taken, and the read budget */
    bool nomem;
} list_ctx;

/* One key of a ListKeys page; the page ends at its limit or when the next key would pass the
 * read budget (then truncated: the client asks again after the last key). */
static int list_one(const oks_store_record *rec, const uint8_t *fpr, size_t fl, void *arg)
{
    list_ctx *x = arg;
    if (x->r->n_keys > 0 && rec->key.len > x->budget - x->bytes) {
        x->r->truncated = true;
        return 1;
    }
    x->bytes += rec->key.len < x->budget - x->bytes ? rec->key.len : x->budget - x->bytes;
    if (add_key(x->r, (oks_store_record *)rec, fpr, fl, false) < 0) {
        x->nomem = true;
        return 1;
    }
    return x->r->n_keys >= x->limit;
}

/* The runs of slots this shard holds with one replica set each, and their key counts. */
static void fill_ranges(oks_shard *sh, const oks_cluster *c, Oks__ShardStats *s)
{
    if (!oks_store_slot_counts_ok(sh->store))
        return;
    for (unsigned a = 0; a < c->n_slots;) {
        unsigned b = a;
        const uint16_t *rs = oks_cluster_replicas_of(c, a);
        while (b + 1 < c->n_slots &&
               memcmp(oks_cluster_replicas_of(c, b + 1), rs, c->width * sizeof *rs) == 0)
            b++;
        if (oks_cluster_holds(c, a, (size_t)sh->self)) {
            Oks__SlotRangeKeys *k = oks_xmalloc(sizeof *k);
            oks__slot_range_keys__init(k);
            k->first = a;
            k->last = b;
            k->keys = oks_store_slot_keys(sh->store, a, b);
            s->ranges = oks_xrealloc(s->ranges, (s->n_ranges + 1) * sizeof *s->ranges);
            s->ranges[s->n_ranges++] = k;
        }
        a = b + 1;
    }
}

static void fill_stats(oks_shard *sh, Oks__Response *r)
{
    oks_store_stats st;
    oks_store_stats_get(sh->store, &st);
    Oks__ShardStats *s = oks_xmalloc(sizeof *s);
    Oks__ShardStats **v = oks_xmalloc(sizeof *v);
    if (!s || !v) {
        free(s);
        free(v);
        no_memory(sh, r);
        return;
    }
    oks__shard_stats__init(s);
    const oks_cluster *c = sh->conf;
    s->name = (char *)c->shards[sh->self].name;
    s->keys = st.keys;
    s->bytes = st.bytes;
    s->last_seq = st.last_seq;
    s->disk_bytes = st.disk_bytes;
    s->up = 1;
    unsigned n = 0;
    uint64_t held = 0;
    for (unsigned i = 0; i < c->n_slots; i++)
        if (oks_cluster_holds(c, i, (size_t)sh->self)) {
            n++;
            held += oks_store_slot_keys(sh->store, i, i);
        }
    s->slots = n;
    if (oks_store_slot_counts_ok(sh->store))
        s->keys = held; /* not the keys of slots it left and has not purged yet */
    s->slot_ranges = oks_xstrdup(c->shards[sh->self].slot_spec);
    s->adds = atomic_load(&sh->adds);
    s->sigs_verified = atomic_load(&sh->sigs_verified);
    s->expired = atomic_load(&sh->expired);
    fill_ranges(sh, c, s);
    v[0] = s;
    r->shards = v;
    r->n_shards = 1;
    r->last_seq = st.last_seq;
}

void oks_shard_handle_read(oks_shard *sh, const Oks__Request *req, Oks__Response *r)
{
    size_t limit = sh->conf->search_max_matches;
    if (!oks_shard_check_route(sh, req, r))
        return;
    switch (req->op_case) {
    case OKS__REQUEST__OP_GET_FINGERPRINT:
        get_fingerprint(sh, req->get_fingerprint, r);
        break;
    case OKS__REQUEST__OP_GET_KEY_ID:
        get_key_id(sh, req->get_key_id, r, limit);
        break;
    case OKS__REQUEST__OP_SEARCH:
        search(sh, req->search, r, limit);
        break;
    case OKS__REQUEST__OP_GET_HASH:
        get_hash(sh, req->get_hash, r);
        break;
    case OKS__REQUEST__OP_STATS:
        fill_stats(sh, r);
        break;
    case OKS__REQUEST__OP_HEALTH:
        break;
    case OKS__REQUEST__OP_LIST: {
        oks_err e;
        list_ctx x = {.r = r,
                      .limit = req->list->limit ? req->list->limit : OKS_SHARD_PAGE_DEFAULT,
                      .budget = read_budget(sh)};
        if (x.limit > OKS_PROTO_MAX_ITEMS)
            x.limit = OKS_PROTO_MAX_ITEMS;
        if (oks_store_each_key(sh->store, req->list->after.data, req->list->after.len, list_one,
                               &x, &e))
            storage_error(sh, r, "key listing", e.msg);
        else if (x.nomem)
            no_memory(sh, r);
        break;
    }
    case OKS__REQUEST__OP_CHANGES: {
        oks_err e;
        size_t lim = req->changes->limit ? req->changes->limit : OKS_SHARD_PAGE_DEFAULT;
        if (lim > OKS_PROTO_MAX_ITEMS)
            lim = OKS_PROTO_MAX_ITEMS;
        oks_store_stats st;
        oks_store_stats_get(sh->store, &st);
        r->last_seq = st.last_seq;
        r->first_seq = oks_store_first_seq(sh->store);
        if (oks_store_changes(sh->store, req->changes->after_seq, lim, add_change, r, &e))
            storage_error(sh, r, "change log read", e.msg);
        break;
    }
    case OKS__REQUEST__OP_TOMBSTONES:
    case OKS__REQUEST__OP_DIGESTS:
    case OKS__REQUEST__OP_SLOT_HASHES:
        oks_shard_handle_slots(sh, req, r);
        break;
    default:
        set_error(r, OKS__STATUS__STATUS_BAD_REQUEST, "operation %d is not a read",
                  (int)req->op_case);
    }
    bool lookup = req->op_case == OKS__REQUEST__OP_GET_FINGERPRINT ||
                  req->op_case == OKS__REQUEST__OP_GET_KEY_ID ||
                  req->op_case == OKS__REQUEST__OP_SEARCH;
    int left = atomic_load(&sh->rebuilding);
    if (lookup && r->status == OKS__STATUS__STATUS_NOT_FOUND && left > 0)
        set_error(r, OKS__STATUS__STATUS_UNAVAILABLE,
                  "shard %s is rebuilding its empty store from its replica peers (%d left)",
                  sh->conf->shards[sh->self].name, left);
}
