/* The answered-mail record in LevelDB (see answered.h). Key: 32-byte digest + Message-ID. */
#include "gw-mail/answered.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ldb.h"

struct oks_mail_answered {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo;      /* synced */
    leveldb_writeoptions_t *wo_fast; /* not synced: put, made durable by the next sync */
    int64_t expiry_s;
};

static size_t make_key(const oks_mail_msg *m, char *k, size_t size)
{
    memcpy(k, m->digest, 32);
    size_t n = m->message_id ? strlen(m->message_id) : 0;
    if (n > size - 32)
        n = size - 32;
    if (n)
        memcpy(k + 32, m->message_id, n);
    return 32 + n;
}

oks_mail_answered *oks_mail_answered_open(const char *dir, int64_t expiry_s, oks_err *e)
{
    oks_mail_answered *a = oks_xcalloc(1, sizeof(*a));
    a->expiry_s = expiry_s;
    a->opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(a->opt, 1);
    a->ro = leveldb_readoptions_create();
    a->wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(a->wo, 1);
    a->wo_fast = leveldb_writeoptions_create();
    char *err = NULL;
    a->db = leveldb_open(a->opt, dir, &err);
    if (err) {
        oks_ldb_error(e, err, "answered store", dir);
        oks_mail_answered_close(a);
        return NULL;
    }
    return a;
}

void oks_mail_answered_close(oks_mail_answered *a)
{
    if (a == NULL)
        return;
    if (a->db)
        leveldb_close(a->db);
    leveldb_options_destroy(a->opt);
    leveldb_readoptions_destroy(a->ro);
    leveldb_writeoptions_destroy(a->wo);
    leveldb_writeoptions_destroy(a->wo_fast);
    free(a);
}

bool oks_mail_answered_has(oks_mail_answered *a, const oks_mail_msg *m)
{
    char k[32 + 256];
    size_t kl = make_key(m, k, sizeof(k)), vl = 0;
    char *err = NULL;
    char *v = leveldb_get(a->db, a->ro, k, kl, &vl, &err);
    if (err)
        leveldb_free(err);
    bool has = v != NULL;
    leveldb_free(v);
    return has;
}

/* The try count's key: the digest, a NUL (never part of a Message-ID) and "t". */
static size_t try_key(const oks_mail_msg *m, char k[34])
{
    memcpy(k, m->digest, 32);
    k[32] = '\0';
    k[33] = 't';
    return 34;
}

static unsigned try_get(oks_mail_answered *a, const oks_mail_msg *m)
{
    char k[34], *err = NULL;
    size_t vl = 0;
    char *v = leveldb_get(a->db, a->ro, k, try_key(m, k), &vl, &err);
    if (err)
        leveldb_free(err);
    unsigned n = v && vl == 16 ? (unsigned)oks_be64((const uint8_t *)v + 8) : 0;
    leveldb_free(v);
    return n;
}

static void try_set(oks_mail_answered *a, const oks_mail_msg *m, unsigned n, int64_t now)
{
    char k[34], *err = NULL;
    uint8_t v[16];
    oks_put_be64(v, (uint64_t)now);
    oks_put_be64(v + 8, n);
    leveldb_put(a->db, a->wo_fast, k, try_key(m, k), (const char *)v, sizeof(v), &err);
    if (err)
        leveldb_free(err);
}

unsigned oks_mail_answered_try_begin(oks_mail_answered *a, const oks_mail_msg *m, int64_t now)
{
    unsigned n = try_get(a, m) + 1;
    try_set(a, m, n, now);
    return n;
}

void oks_mail_answered_try_undo(oks_mail_answered *a, const oks_mail_msg *m, int64_t now)
{
    unsigned n = try_get(a, m);
    if (n)
        try_set(a, m, n - 1, now);
}

int oks_mail_answered_put(oks_mail_answered *a, const oks_mail_msg *m, int64_t now, oks_err *e)
{
    char k[32 + 256];
    size_t kl = make_key(m, k, sizeof(k));
    uint8_t v[8];
    oks_put_be64(v, (uint64_t)now);
    char *err = NULL;
    leveldb_put(a->db, a->wo_fast, k, kl, (const char *)v, 8, &err);
    if (err)
        return oks_ldb_error(e, err, "answered store", "write");
    char tk[34];
    leveldb_delete(a->db, a->wo_fast, tk, try_key(m, tk), &err);
    if (err)
        leveldb_free(err);
    return 0;
}

int oks_mail_answered_sync(oks_mail_answered *a, oks_err *e)
{
    /* an empty batch written with sync: LevelDB appends it to its log and fsyncs the log,
     * which holds every earlier unsynced put */
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    char *err = NULL;
    leveldb_write(a->db, a->wo, wb, &err);
    leveldb_writebatch_destroy(wb);
    if (err)
        return oks_ldb_error(e, err, "answered store", "sync");
    return 0;
}

size_t oks_mail_answered_expire(oks_mail_answered *a, int64_t now)
{
    size_t n = 0;
    leveldb_iterator_t *it = leveldb_create_iterator(a->db, a->ro);
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
        int64_t t = 0;
        if (vl == 8 || vl == 16) /* answered record, or try count */
            t = (int64_t)oks_be64(v);
        if ((vl != 8 && vl != 16) || t < now - a->expiry_s) {
            leveldb_writebatch_delete(wb, k, kl);
            n++;
        }
    }
    leveldb_iter_destroy(it);
    char *err = NULL;
    if (n)
        leveldb_write(a->db, a->wo, wb, &err);
    if (err) {
        leveldb_free(err);
        n = 0;
    }
    leveldb_writebatch_destroy(wb);
    return n;
}
