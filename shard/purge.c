/* The purge after a slot move (docs/replicas.md "Slot moves"): once the map in force and the one
 * before both leave a slot out of this shard, nobody sends it that slot's reads or writes any
 * more, so its keys are removed, a batch at a time under the store's write lock. The removals
 * are not change-log entries: the keys live on in the slot's replicas, and the readers of this
 * log (peers, oks-sync, the HTTP cache) must not take them as deleted. Tombstones stay: they
 * cost little and refuse a deleted key should the slot ever come back. Reads and stats already
 * leave such keys out (shard/read.c), so a purge not done yet is never visible. The shard serves
 * reads meanwhile: the purge keeps to [shard] background_rate keys per second, and its writes
 * are not synced one by one (a purge cut by a crash is done again at the next start, and the
 * next synced write of the store makes the earlier ones durable). */
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/reclaim.h"
#include "shard/shard.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PURGE_BATCH 64
#define PURGE_IDLE_MS 200

typedef struct fpr_list {
    uint8_t fpr[PURGE_BATCH][32];
    size_t len[PURGE_BATCH];
    size_t n;
} fpr_list;

static int collect(unsigned slot, const uint8_t hash[16], const uint8_t *fpr, size_t len,
                   void *arg)
{
    (void)slot;
    (void)hash;
    fpr_list *l = arg;
    memcpy(l->fpr[l->n], fpr, len);
    l->len[l->n++] = len;
    return l->n == PURGE_BATCH;
}

/* Removes one batch of keys of slot; the number removed, or an error. */
static long purge_batch(oks_shard *sh, unsigned slot, oks_err *e)
{
    fpr_list l = {.n = 0};
    if (oks_store_slot_hashes(sh->store, slot, slot, NULL, PURGE_BATCH, collect, &l, e))
        return -1;
    if (!l.n)
        return 0;
    oks_store_change ch[PURGE_BATCH];
    oks_store_record rec[PURGE_BATCH];
    oks_pgp_key *key[PURGE_BATCH];
    size_t n = 0;
    long rc = 0;
    oks_pgp_limits big = sh->lim;
    big.max_key_bytes = (size_t)-1;
    oks_store_write_lock(sh->store);
    if (oks_shard_takes_slot(sh, slot)) { /* taken again meanwhile (a move rolled back) */
        oks_store_write_unlock(sh->store);
        return 0;
    }
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        memset(&rec[n], 0, sizeof rec[n]);
        int found = oks_store_get(sh->store, l.fpr[i], l.len[i], &rec[n], e);
        if (found < 0)
            rc = -1;
        if (found != 1)
            continue;
        if (oks_pgp_key_parse(rec[n].key.ptr, rec[n].key.len, &big, OKS_PGP_TRUSTED, &key[n], e)) {
            oks_store_record_release(&rec[n]);
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "stored key unreadable");
            continue;
        }
        ch[n] = (oks_store_change){.fpr = l.fpr[i], .fpr_len = l.len[i], .old_key = key[n],
                                   .old_hash = rec[n].hash, .old_bytes = rec[n].key.len,
                                   .unlogged = true};
        n++;
    }
    if (rc == 0 && n && oks_store_apply(sh->store, ch, n, false, e))
        rc = -1;
    oks_store_write_unlock(sh->store);
    for (size_t i = 0; i < n; i++) {
        oks_pgp_key_free(key[i]);
        oks_store_record_release(&rec[i]);
    }
    return rc ? rc : (long)n;
}

/* One pass over the slots; keys removed, or -1 (logged). */
static long purge_pass(oks_shard *sh)
{
    const oks_cluster *c = sh->conf;
    long total = 0;
    oks_pace pace = {c->shard_background_rate, 0};
    for (unsigned s = 0; s < c->n_slots && !atomic_load(&sh->rstop); s++) {
        if (oks_shard_takes_slot(sh, s) || oks_store_slot_keys(sh->store, s, s) == 0)
            continue;
        long n;
        oks_err e = {0};
        while ((n = purge_batch(sh, s, &e)) > 0 && !atomic_load(&sh->rstop)) {
            total += n;
            oks_shard_pace(sh, &pace, (size_t)n);
        }
        if (n < 0) {
            oks_warn("purge of slot %u: %s", s, e.msg);
            return -1;
        }
    }
    return total;
}

uint64_t oks_shard_pace(oks_shard *sh, oks_pace *p, size_t n)
{
    if (!p->rate)
        return 0;
    uint64_t t0 = oks_now_us(), now = t0;
    for (; now < p->next_us && !atomic_load(&sh->rstop); now = oks_now_us())
        usleep((useconds_t)(p->next_us - now > 50000 ? 50000 : p->next_us - now));
    p->next_us = (p->next_us > now ? p->next_us : now) + (uint64_t)n * 1000000 / p->rate;
    return (now - t0) / 1000;
}

void *oks_shard_purge_main(void *arg)
{
    oks_shard *sh = arg;
    unsigned done_gen = 0;
    bool first = true;
    oks_reclaim_reader *rd = oks_reclaim_reader_new(sh->gc); /* no map held between passes */
    while (!atomic_load(&sh->rstop)) {
        oks_reclaim_quiescent(rd);
        unsigned gen = atomic_load(&sh->map_gen);
        /* a static map never purges: its slots change only with the operator's restart */
        if ((first || gen != done_gen) && sh->conf->epoch) {
            long n = purge_pass(sh);
            if (n > 0)
                oks_info("purge: removed %ld keys of slots this shard no longer holds", n);
            if (n >= 0) {
                done_gen = gen;
                first = false;
            }
        }
        usleep(PURGE_IDLE_MS * 1000);
    }
    oks_reclaim_reader_free(rd);
    return NULL;
}
