/* Shard storage: the intersection of index lists for word and user-ID searches (see store.h,
 * shard/intersect.h). */
#include "lib/ldb.h"
#include "shard/intersect.h"
#include "shard/store_int.h"

#include <string.h>

/* One index list as an intersection cursor: a LevelDB iterator over the entries that start with
 * kind, term and a NUL; the entry is the fingerprint after that prefix. */
typedef struct index_cursor {
    leveldb_iterator_t *it;
    uint8_t key[1 + OKS_STORE_MAX_TERM + 1 + OKS_INTERSECT_MAX_ENTRY];
    size_t prefix_len;
} index_cursor;

/* Moves to the first entry of the list from where the iterator is: 1 on one, 0 past the list,
 * or an error. LevelDB's iterator steps over a block it cannot read and goes on, keeping the
 * error in its status: the status is checked on every move, so a damaged table fails the search
 * instead of hiding its entries. */
static int cursor_settle(index_cursor *c, oks_err *e)
{
    int r = 0;
    for (; leveldb_iter_valid(c->it); leveldb_iter_next(c->it)) {
        size_t kl;
        const char *k = leveldb_iter_key(c->it, &kl);
        if (kl < c->prefix_len || memcmp(k, c->key, c->prefix_len) != 0)
            break;
        size_t fl = kl - c->prefix_len;
        if (fl == 20 || fl == 32) {
            r = 1;
            break;
        }
    }
    char *err = NULL;
    leveldb_iter_get_error(c->it, &err);
    return err ? oks_ldb_error(e, err, "leveldb", "index scan") : r;
}

static int cursor_seek(void *cur, const uint8_t *target, size_t len, oks_err *e)
{
    index_cursor *c = cur;
    if (len > OKS_INTERSECT_MAX_ENTRY)
        len = OKS_INTERSECT_MAX_ENTRY;
    if (target)
        memcpy(c->key + c->prefix_len, target, len);
    leveldb_iter_seek(c->it, (const char *)c->key, c->prefix_len + (target ? len : 0));
    return cursor_settle(c, e);
}

static int cursor_next(void *cur, oks_err *e)
{
    index_cursor *c = cur;
    leveldb_iter_next(c->it);
    return cursor_settle(c, e);
}

static oks_slice cursor_get(void *cur)
{
    index_cursor *c = cur;
    size_t kl;
    const char *k = leveldb_iter_key(c->it, &kl);
    return oks_slice_of(k + c->prefix_len, kl - c->prefix_len);
}

static const oks_cursor_ops index_cursor_ops = {cursor_seek, cursor_next, cursor_get};

int oks_store_intersect(oks_store *s, char kind, const oks_slice *terms, size_t n,
                        size_t max_results, size_t max_moves, oks_store_fpr_fn fn, void *arg,
                        oks_err *e)
{
    if (n == 0 || n > OKS_STORE_MAX_TERMS)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "%zu search terms (1..%d)", n,
                           OKS_STORE_MAX_TERMS);
    index_cursor c[OKS_STORE_MAX_TERMS];
    void *cur[OKS_STORE_MAX_TERMS];
    size_t k = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (terms[i].len == 0 || terms[i].len > OKS_STORE_MAX_TERM) {
            r = oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "search term of %zu bytes (1..%d)",
                            terms[i].len, OKS_STORE_MAX_TERM);
            goto done;
        }
        bool again = false; /* the same word twice narrows nothing */
        for (size_t j = 0; j < i && !again; j++)
            again = terms[j].len == terms[i].len && memcmp(terms[j].ptr, terms[i].ptr,
                                                           terms[i].len) == 0;
        if (again)
            continue;
        c[k].key[0] = (uint8_t)kind;
        memcpy(c[k].key + 1, terms[i].ptr, terms[i].len);
        c[k].key[1 + terms[i].len] = 0;
        c[k].prefix_len = terms[i].len + 2;
        c[k].it = leveldb_create_iterator(s->db, s->ro_scan);
        cur[k] = &c[k];
        k++;
    }
    r = oks_intersect(cur, &index_cursor_ops, k, max_results, max_moves, fn, arg, e);
done:
    for (size_t i = 0; i < k; i++)
        leveldb_iter_destroy(c[i].it);
    return r;
}
