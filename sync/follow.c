/* sync/follow: change logs into the prefix tree, cursors, the ignore set (see follow.h). */
#include "sync/follow.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"

/* shard names (malloc'd array of malloc'd strings) */
static int shard_names(oks_sync_follow *f, char ***names, size_t *n, oks_err *e)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetStats st = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &st;
    Oks__Response *r;
    int rc = oks_client_call_checked(f->client, &q, &r, f->timeout_ms, OKS_CALL_OK_ONLY, e);
    if (rc)
        return rc;
    *names = oks_xcalloc(r->n_shards ? r->n_shards : 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; *names && i < r->n_shards; i++)
        (*names)[(*n)++] = oks_xstrdup(r->shards[i]->name);
    oks__response__free_unpacked(r, NULL);
    return *names ? 0 : OKS_E_NOMEM;
}

/* a BE64 metadata value, 0 when absent or not 8 bytes */
static uint64_t meta_u64(oks_ptree *t, const char *key)
{
    uint8_t *v;
    size_t l;
    oks_err e;
    uint64_t x = 0;
    if (oks_ptree_meta_get(t, key, &v, &l, &e) == 0) {
        if (l == 8)
            x = oks_be64(v);
        free(v);
    }
    return x;
}

uint64_t oks_sync_cursor(oks_ptree *t, const char *shard)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    return meta_u64(t, key);
}

void oks_sync_net_change(uint8_t (*add)[16], size_t *nadd, uint8_t (*del)[16], size_t *ndel,
                         const uint8_t *old_hash, const uint8_t *new_hash)
{
    if (old_hash) {
        size_t i;
        for (i = 0; i < *nadd && memcmp(add[i], old_hash, 16) != 0; i++)
            ;
        if (i < *nadd)
            memmove(add[i], add[i + 1], (--*nadd - i) * 16);
        else
            memcpy(del[(*ndel)++], old_hash, 16);
    }
    if (new_hash) {
        int small = 1;
        for (int k = 1; k < 16; k++)
            small &= new_hash[k] == 0;
        if (small && new_hash[0] <= 2)
            return; /* a hash equal to a sample point cannot be reconciled; skip it */
        size_t i;
        for (i = 0; i < *ndel && memcmp(del[i], new_hash, 16) != 0; i++)
            ;
        if (i < *ndel)
            memmove(del[i], del[i + 1], (--*ndel - i) * 16);
        else
            memcpy(add[(*nadd)++], new_hash, 16);
    }
}

/* Applies one ChangeLog answer of shard to the tree in one batch with the last sequence as the
 * shard's cursor; *cur moves to that sequence, *n is the number of entries (0: the log's end). */
static int apply_page(oks_sync_follow *f, const char *shard, const Oks__Response *r,
                      uint64_t *cur, size_t *n, oks_err *e)
{
    char key[300];
    snprintf(key, sizeof key, "cursor.%s", shard);
    size_t m = r->n_changes < OKS_SYNC_FOLLOW_PAGE ? r->n_changes : OKS_SYNC_FOLLOW_PAGE;
    size_t nadd = 0, ndel = 0;
    uint64_t c = *cur;
    for (size_t i = 0; i < m; i++) {
        const Oks__Change *ch = r->changes[i];
        oks_sync_net_change(f->add, &nadd, f->del, &ndel,
                            ch->old_hash.len == 16 ? ch->old_hash.data : NULL,
                            ch->new_hash.len == 16 ? ch->new_hash.data : NULL);
        c = ch->seq;
    }
    *n = m;
    if (m == 0)
        return 0;
    uint8_t seq[8];
    oks_put_be64(seq, c);
    int rc = oks_ptree_apply(f->t, (const uint8_t(*)[16])f->add, nadd,
                             (const uint8_t(*)[16])f->del, ndel, key, seq, 8, e);
    if (rc == 0) {
        *cur = c;
        f->applied += m;
    }
    return rc;
}

static void log_request(Oks__Request *q, Oks__ChangeLog *cl, const char *shard, uint64_t after)
{
    oks__request__init(q);
    oks__change_log__init(cl);
    q->op_case = OKS__REQUEST__OP_CHANGES;
    q->changes = cl;
    cl->shard = (char *)shard;
    cl->after_seq = after;
    cl->limit = OKS_SYNC_FOLLOW_PAGE;
}

static int ensure_pages(oks_sync_follow *f, oks_err *e)
{
    if (!f->add)
        f->add = oks_xmalloc(OKS_SYNC_FOLLOW_PAGE * 16);
    if (!f->del)
        f->del = oks_xmalloc(OKS_SYNC_FOLLOW_PAGE * 16);
    return f->add && f->del ? 0 : oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
}

static int catch_up_shard(oks_sync_follow *f, const char *shard, oks_err *e)
{
    uint64_t cur = oks_sync_cursor(f->t, shard);
    int rc = ensure_pages(f, e);
    size_t n = 1;
    while (rc == 0 && n > 0) {
        Oks__Request q;
        Oks__ChangeLog cl;
        log_request(&q, &cl, shard, cur);
        Oks__Response *r;
        rc = oks_client_call_checked(f->client, &q, &r, f->timeout_ms, OKS_CALL_OK_ONLY, e);
        if (rc)
            break;
        rc = apply_page(f, shard, r, &cur, &n, e);
        oks__response__free_unpacked(r, NULL);
    }
    return rc;
}

static void free_names(oks_sync_follow *f)
{
    for (size_t i = 0; i < f->n_names; i++)
        free(f->names[i]);
    free(f->names);
    f->names = NULL;
    f->n_names = f->cur_name = 0;
}

static void pass_logged(oks_sync_follow *f)
{
    if (f->applied)
        oks_info("tree: %zu changes applied, %zu hashes", f->applied, oks_ptree_count(f->t));
    f->applied = 0;
}

int oks_sync_follow_catch_up(oks_sync_follow *f, oks_err *e)
{
    oks_sync_follow_abort(f);
    int rc = shard_names(f, &f->names, &f->n_names, e);
    for (size_t i = 0; rc == 0 && i < f->n_names; i++)
        rc = catch_up_shard(f, f->names[i], e);
    free_names(f);
    pass_logged(f);
    return rc;
}

void oks_sync_follow_release(oks_sync_follow *f)
{
    free_names(f);
    free(f->add);
    free(f->del);
    f->add = f->del = NULL;
}

/* ---- passes without blocking ---------------------------------------------------------------- */

enum { IDLE, WAIT_NAMES, WAIT_PAGE };

static void pass_end(oks_sync_follow *f, int ok, const oks_err *e)
{
    if (!ok && e)
        oks_warn("change log: %s", e->msg);
    f->busy = IDLE;
    f->done = f->started;
    if (ok)
        f->ok = f->done;
    free_names(f);
    pass_logged(f);
}

static void send_next(oks_sync_follow *f, const Oks__Request *q)
{
    oks_err e;
    f->req_id = ++f->next_id;
    f->req_until = (int64_t)oks_now_ms() + f->timeout_ms;
    if (oks_client_send(f->client, f->req_id, q, &e))
        pass_end(f, 0, &e);
}

static void send_names(oks_sync_follow *f)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetStats st = OKS__GET_STATS__INIT;
    q.op_case = OKS__REQUEST__OP_STATS;
    q.stats = &st;
    f->busy = WAIT_NAMES;
    send_next(f, &q);
}

/* the next page of the current shard, or the first of the next shard, or the pass's end */
static void send_page(oks_sync_follow *f)
{
    if (f->cur_name >= f->n_names) {
        pass_end(f, 1, NULL);
        return;
    }
    Oks__Request q;
    Oks__ChangeLog cl;
    log_request(&q, &cl, f->names[f->cur_name], f->cursor);
    f->busy = WAIT_PAGE;
    send_next(f, &q);
}

static void start_pass(oks_sync_follow *f)
{
    oks_err e;
    f->started++;
    f->again = 0;
    if (ensure_pages(f, &e)) {
        pass_end(f, 0, &e);
        return;
    }
    send_names(f);
}

uint64_t oks_sync_follow_kick(oks_sync_follow *f)
{
    if (f->busy == IDLE) {
        start_pass(f);
        return f->started;
    }
    f->again = 1;
    return f->started + 1;
}

void oks_sync_follow_abort(oks_sync_follow *f)
{
    if (f->busy != IDLE)
        pass_end(f, 0, NULL);
    f->again = 0;
}

static void on_reply(oks_sync_follow *f, Oks__Response *r)
{
    oks_err e;
    if (r->status != OKS__STATUS__STATUS_OK) {
        oks_err_set(&e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "router: %s: %s",
                    oks_proto_status_name(r->status), r->error ? r->error : "");
        pass_end(f, 0, &e);
        return;
    }
    if (f->busy == WAIT_NAMES) {
        f->names = oks_xcalloc(r->n_shards ? r->n_shards : 1, sizeof *f->names);
        for (size_t i = 0; i < r->n_shards; i++)
            f->names[f->n_names++] = oks_xstrdup(r->shards[i]->name);
        f->cur_name = 0;
        if (f->n_names)
            f->cursor = oks_sync_cursor(f->t, f->names[0]);
        send_page(f);
        return;
    }
    size_t n;
    if (apply_page(f, f->names[f->cur_name], r, &f->cursor, &n, &e)) {
        pass_end(f, 0, &e);
        return;
    }
    if (n == 0 && ++f->cur_name < f->n_names)
        f->cursor = oks_sync_cursor(f->t, f->names[f->cur_name]);
    send_page(f);
}

void oks_sync_follow_step(oks_sync_follow *f)
{
    /* a few replies per turn: one page is one LevelDB batch of at most OKS_SYNC_FOLLOW_PAGE */
    for (int k = 0; k < 4; k++) {
        uint64_t id;
        Oks__Response *r = NULL;
        oks_err e;
        if (oks_client_recv(f->client, &id, &r, 0, &e) != 0)
            break;
        if (f->busy != IDLE && id == f->req_id)
            on_reply(f, r);
        oks__response__free_unpacked(r, NULL); /* or a late answer to a given-up request */
    }
    if (f->busy != IDLE && (int64_t)oks_now_ms() >= f->req_until) {
        oks_err e;
        oks_err_set(&e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "no answer from the routers in %d ms",
                    f->timeout_ms);
        pass_end(f, 0, &e);
    }
    if (f->busy == IDLE && f->again)
        start_pass(f);
}

int64_t oks_sync_follow_deadline(const oks_sync_follow *f)
{
    return f->busy != IDLE ? f->req_until : INT64_MAX;
}

/* ---- ignore set ----------------------------------------------------------------------------- */

static void ignore_key(char key[64], const uint8_t h[16])
{
    char hex[33];
    oks_hex(hex, h, 16, 1);
    snprintf(key, 64, "ignore.%s", hex);
}

bool oks_sync_ignored(oks_sync_follow *f, const uint8_t h[16])
{
    char key[64];
    ignore_key(key, h);
    return meta_u64(f->t, key) > (uint64_t)time(NULL);
}

void oks_sync_ignore(void *arg, const uint8_t h[16])
{
    oks_sync_follow *f = arg;
    char key[64];
    ignore_key(key, h);
    if (!oks_sync_ignored(f, h))
        f->ignored++;
    uint8_t v[8];
    oks_put_be64(v, (uint64_t)time(NULL) + (uint64_t)f->ignore_seconds);
    oks_err e;
    oks_ptree_apply(f->t, NULL, 0, NULL, 0, key, v, 8, &e);
}

static void count_one(void *arg, const char *key, size_t klen, const uint8_t *v, size_t vl)
{
    (void)key;
    (void)klen;
    oks_sync_follow *f = arg;
    if (vl == 8 && oks_be64(v) > (uint64_t)time(NULL))
        f->ignored++;
}

void oks_sync_ignore_count(oks_sync_follow *f)
{
    f->ignored = 0;
    oks_ptree_meta_scan(f->t, "ignore.", count_one, f);
}
