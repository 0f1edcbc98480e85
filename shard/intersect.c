/* Leapfrog intersection (see intersect.h). The cursors are kept in order of their current
 * entries; each turn the cursor with the smallest entry seeks to the largest one, and when
 * the smallest equals the largest every list holds it. */
#include "shard/intersect.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

int oks_intersect_cmp(oks_slice a, oks_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

typedef struct slot {
    void *cur;
    oks_slice at;
} slot;

static int by_entry(const void *a, const void *b)
{
    return oks_intersect_cmp(((const slot *)a)->at, ((const slot *)b)->at);
}

int oks_intersect(void *const *cursors, const oks_cursor_ops *ops, size_t k, size_t max_results,
                  size_t max_moves, oks_intersect_fn fn, void *arg, oks_err *e)
{
    if (k == 0)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "intersection of no lists");
    slot *s = oks_xcalloc(k, sizeof *s);
    int r = 0;
    size_t moves = 0, found = 0;
    for (size_t i = 0; i < k; i++) {
        s[i].cur = cursors[i];
        if ((r = ops->seek(s[i].cur, NULL, 0, e)) <= 0)
            goto done;
        s[i].at = ops->get(s[i].cur);
    }
    moves = k;
    qsort(s, k, sizeof *s, by_entry);
    /* s[p] holds the smallest entry, s[(p + k - 1) % k] the largest */
    uint8_t max[OKS_INTERSECT_MAX_ENTRY];
    size_t max_len, p = 0;
    oks_slice top = s[k - 1].at;
    max_len = top.len < sizeof max ? top.len : sizeof max;
    memcpy(max, top.ptr, max_len);
    for (;;) {
        if (moves++ >= max_moves) {
            r = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                            "the lists take more than %zu steps to intersect", max_moves);
            goto done;
        }
        slot *c = &s[p];
        if (oks_intersect_cmp(c->at, oks_slice_of(max, max_len)) == 0) {
            if (fn(max, max_len, arg) || ++found >= max_results) {
                r = 0;
                goto done;
            }
            r = ops->next(c->cur, e);
        } else {
            r = ops->seek(c->cur, max, max_len, e);
        }
        if (r <= 0)
            goto done;
        c->at = ops->get(c->cur);
        max_len = c->at.len < sizeof max ? c->at.len : sizeof max;
        memcpy(max, c->at.ptr, max_len);
        p = (p + 1) % k;
    }
done:
    free(s);
    return r < 0 ? r : 0;
}
