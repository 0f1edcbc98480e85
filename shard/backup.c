/* Backup pages of a live shard (see shard.h and proto/oks.proto "Backup"): a LevelDB snapshot
 * per backup, read in bounded pages by the admin worker, released after the last page or when
 * it has been idle for OKS_SHARD_BACKUP_IDLE_MS. */
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "shard/shard.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backups taken at once by one shard process (each holds a snapshot, which keeps old table
 * files from compaction). */
#define OKS_SHARD_BACKUP_MAX 4
/* A snapshot no page has read for this long is released (its client went away). */
#define OKS_SHARD_BACKUP_IDLE_MS (10u * 60u * 1000u)
/* Entries per page when the request names none. */
#define OKS_SHARD_BACKUP_PAGE 1000
/* Key and value bytes of one page: a quarter of the message limit at most. */
#define OKS_SHARD_BACKUP_BYTES (8u << 20)

typedef struct backup_slot {
    const oks_shard *sh;
    uint64_t id;
    const leveldb_snapshot_t *snap;
    uint64_t used_ms;
    uint64_t last_seq;
} backup_slot;

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static backup_slot slots[OKS_SHARD_BACKUP_MAX];
static uint64_t next_id = 1;

static void slot_free(backup_slot *b)
{
    leveldb_release_snapshot(oks_store_leveldb((oks_store *)b->sh->store), b->snap);
    memset(b, 0, sizeof *b);
}

void oks_shard_backup_release_all(const oks_shard *sh)
{
    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < OKS_SHARD_BACKUP_MAX; i++)
        if (slots[i].snap && slots[i].sh == sh)
            slot_free(&slots[i]);
    pthread_mutex_unlock(&slots_lock);
}

static void fail(Oks__Response *r, Oks__Status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(Oks__Response *r, Oks__Status st, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->status = st;
    r->error = oks_xstrdup(buf);
}

/* The snapshot of id (0: a new one) for this page; NULL with r filled when there is none. */
static backup_slot *slot_get(oks_shard *sh, uint64_t id, Oks__Response *r)
{
    uint64_t now = oks_now_ms();
    backup_slot *found = NULL, *empty = NULL;
    for (size_t i = 0; i < OKS_SHARD_BACKUP_MAX; i++) {
        backup_slot *b = &slots[i];
        if (b->snap && now - b->used_ms > OKS_SHARD_BACKUP_IDLE_MS) {
            oks_info("backup %llu: snapshot idle, released", (unsigned long long)b->id);
            slot_free(b);
        }
        if (b->snap && b->sh == sh && id && b->id == id)
            found = b;
        if (!b->snap && !empty)
            empty = b;
    }
    if (id) {
        if (!found)
            fail(r, OKS__STATUS__STATUS_NOT_FOUND,
                 "no backup snapshot %s here (finished, idle too long, or the shard restarted): "
                 "start the backup again", "with that id");
        else
            found->used_ms = now;
        return found;
    }
    if (!empty) {
        fail(r, OKS__STATUS__STATUS_UNAVAILABLE, "%s backups are running on this shard already",
             OKS_PROTO_STR(OKS_SHARD_BACKUP_MAX));
        return NULL;
    }
    leveldb_t *db = oks_store_leveldb(sh->store);
    empty->sh = sh;
    empty->id = next_id++;
    empty->snap = leveldb_create_snapshot(db);
    empty->used_ms = now;
    /* the counters entry "m" of the snapshot: BE64 keys, BE64 bytes, BE64 last seq */
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(ro, empty->snap);
    size_t vl = 0;
    char *err = NULL;
    char *v = leveldb_get(db, ro, "m", 1, &vl, &err);
    if (v && vl >= 24)
        empty->last_seq = oks_be64((const uint8_t *)v + 16);
    leveldb_free(v);
    leveldb_free(err);
    leveldb_readoptions_destroy(ro);
    oks_info("backup %llu: snapshot taken at change %llu", (unsigned long long)empty->id,
             (unsigned long long)empty->last_seq);
    return empty;
}

static Oks__BackupEntry *entry_new(const char *k, size_t kl, const char *v, size_t vl)
{
    /* one block: the message, then the key and value bytes */
    Oks__BackupEntry *e = oks_xmalloc(sizeof *e + kl + vl + 1);
    oks__backup_entry__init(e);
    uint8_t *p = (uint8_t *)(e + 1);
    memcpy(p, k, kl);
    if (vl)
        memcpy(p + kl, v, vl);
    e->key.data = p;
    e->key.len = kl;
    e->value.data = p + kl;
    e->value.len = vl;
    return e;
}

void oks_shard_handle_backup(oks_shard *sh, const Oks__Request *req, Oks__Response *r)
{
    const Oks__Backup *q = req->backup;
    size_t limit = q->limit ? q->limit : OKS_SHARD_BACKUP_PAGE;
    if (limit > OKS_PROTO_MAX_ITEMS)
        limit = OKS_PROTO_MAX_ITEMS;
    size_t max_bytes = sh->conf->max_message_bytes / 4;
    if (max_bytes > OKS_SHARD_BACKUP_BYTES)
        max_bytes = OKS_SHARD_BACKUP_BYTES;
    pthread_mutex_lock(&slots_lock); /* one page at a time per process: pages are admin work */
    backup_slot *b = slot_get(sh, q->id, r);
    if (!b) {
        pthread_mutex_unlock(&slots_lock);
        return;
    }
    leveldb_t *db = oks_store_leveldb(sh->store);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(ro, b->snap);
    leveldb_readoptions_set_fill_cache(ro, 0);
    leveldb_readoptions_set_verify_checksums(ro, 1);
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
    if (q->after.len)
        leveldb_iter_seek(it, (const char *)q->after.data, q->after.len);
    else
        leveldb_iter_seek_to_first(it);
    size_t cap = 64, bytes = 0;
    r->backup_entries = oks_xmalloc(cap * sizeof *r->backup_entries);
    for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (q->after.len && kl == q->after.len && memcmp(k, q->after.data, kl) == 0)
            continue;
        if (r->n_backup_entries == limit || (r->n_backup_entries && bytes > max_bytes))
            break;
        const char *v = leveldb_iter_value(it, &vl);
        if (r->n_backup_entries == cap) {
            cap *= 2;
            r->backup_entries = oks_xrealloc(r->backup_entries, cap * sizeof *r->backup_entries);
        }
        r->backup_entries[r->n_backup_entries++] = entry_new(k, kl, v, vl);
        bytes += kl + vl + 8;
    }
    bool done = !leveldb_iter_valid(it);
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    const char *name = sh->conf->shards[sh->self].name;
    Oks__BackupPage *pg = oks_xmalloc(sizeof *pg + strlen(name) + 1);
    oks__backup_page__init(pg);
    pg->shard = strcpy((char *)(pg + 1), name);
    pg->id = b->id;
    pg->last_seq = b->last_seq;
    pg->done = done && !err;
    r->backup = pg;
    if (err) {
        fail(r, OKS__STATUS__STATUS_INTERNAL, "storage error while reading the backup: %s", err);
        oks_error("backup %llu: %s", (unsigned long long)b->id, err);
        leveldb_free(err);
        slot_free(b);
    } else if (done) {
        oks_info("backup %llu: last page read, snapshot released", (unsigned long long)b->id);
        slot_free(b);
    }
    pthread_mutex_unlock(&slots_lock);
}
