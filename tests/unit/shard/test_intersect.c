/* shard/intersect: leapfrog intersection over sorted lists — results, order, the work done
 * (cursor moves grow with the shortest list), the move budget, and errors from a cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shard/intersect.h"

#include <stdlib.h>
#include <string.h>

/* A cursor over a sorted array of 20-byte entries made from numbers (big-endian in the first
 * 4 bytes, so byte order is number order). */
typedef struct arr {
    uint8_t (*v)[20];
    size_t n, pos, moves;
    int fail_at; /* move number that fails with OKS_E_IO, or 0 */
} arr;

static void entry_of(uint32_t x, uint8_t out[20])
{
    memset(out, 0xab, 20);
    out[0] = (uint8_t)(x >> 24), out[1] = (uint8_t)(x >> 16), out[2] = (uint8_t)(x >> 8),
    out[3] = (uint8_t)x;
}

static arr *arr_new(size_t n, uint32_t (*f)(size_t))
{
    arr *a = calloc(1, sizeof *a);
    a->v = malloc((n ? n : 1) * sizeof *a->v);
    a->n = n;
    for (size_t i = 0; i < n; i++)
        entry_of(f(i), a->v[i]);
    return a;
}

static void arr_free(arr *a)
{
    free(a->v);
    free(a);
}

static int a_seek(void *cur, const uint8_t *t, size_t len, oks_err *e)
{
    arr *a = cur;
    if (a->fail_at && (int)++a->moves == a->fail_at)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "read error");
    if (!a->fail_at)
        a->moves++;
    size_t lo = 0, hi = a->n; /* binary search: first entry >= t */
    while (t && lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (oks_intersect_cmp(oks_slice_of(a->v[mid], 20), oks_slice_of(t, len)) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    a->pos = t ? lo : 0;
    return a->pos < a->n;
}

static int a_next(void *cur, oks_err *e)
{
    arr *a = cur;
    if (a->fail_at && (int)++a->moves == a->fail_at)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "read error");
    if (!a->fail_at)
        a->moves++;
    return ++a->pos < a->n;
}

static oks_slice a_get(void *cur)
{
    arr *a = cur;
    return oks_slice_of(a->v[a->pos], 20);
}

static const oks_cursor_ops ops = {a_seek, a_next, a_get};

typedef struct got {
    uint32_t v[100000];
    size_t n;
} got;

static int collect(const uint8_t *p, size_t len, void *arg)
{
    got *g = arg;
    assert_int_equal(len, 20);
    g->v[g->n++] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return 0;
}

static uint32_t all(size_t i) { return (uint32_t)i; }
static uint32_t evens(size_t i) { return (uint32_t)(2 * i); }
static uint32_t odds(size_t i) { return (uint32_t)(2 * i + 1); }
static uint32_t threes(size_t i) { return (uint32_t)(3 * i); }
static uint32_t rare(size_t i) { return (uint32_t)(6 * 1000 * i + 6); }

static got g;

static void common_entries_come_out_in_order(void **state)
{
    (void)state;
    arr *a = arr_new(1000, evens), *b = arr_new(1000, threes), *c = arr_new(3000, all);
    void *cur[] = {a, b, c};
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 3, 1000, 100000, collect, &g, NULL), 0);
    assert_int_equal(g.n, 334); /* multiples of 6 below 2000 */
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.v[i], 6 * i);
    arr_free(a), arr_free(b), arr_free(c);
}

static void one_list_is_a_plain_scan_and_max_results_stops_it(void **state)
{
    (void)state;
    arr *a = arr_new(5000, all);
    void *cur[] = {a};
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 1, 100, 100000, collect, &g, NULL), 0);
    assert_int_equal(g.n, 100);
    assert_true(a->moves <= 101);
    arr_free(a);
}

static void disjoint_and_empty_lists_give_nothing(void **state)
{
    (void)state;
    arr *a = arr_new(1000, evens), *b = arr_new(1000, odds), *z = arr_new(0, all);
    void *cur[] = {a, b};
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 2, 1000, 100000, collect, &g, NULL), 0);
    assert_int_equal(g.n, 0);
    void *cur2[] = {a, z};
    assert_int_equal(oks_intersect(cur2, &ops, 2, 1000, 100000, collect, &g, NULL), 0);
    assert_int_equal(g.n, 0);
    arr_free(a), arr_free(b), arr_free(z);
}

/* the attack: many common words and one rare one; the work follows the rare list */
static void work_grows_with_the_shortest_list(void **state)
{
    (void)state;
    enum { K = 16 };
    arr *l[K];
    void *cur[K];
    for (int i = 0; i < K - 1; i++)
        cur[i] = l[i] = arr_new(20000, all);
    cur[K - 1] = l[K - 1] = arr_new(3, rare);
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, K, 1000, 100000, collect, &g, NULL), 0);
    assert_int_equal(g.n, 3);
    size_t moves = 0;
    for (int i = 0; i < K; i++)
        moves += l[i]->moves;
    assert_true(moves <= (size_t)K * 2 * 4); /* about two moves per list and match */
    for (int i = 0; i < K; i++)
        arr_free(l[i]);
}

static void the_move_budget_stops_a_costly_intersection(void **state)
{
    (void)state;
    /* interleaved lists: every seek lands one past the other list's entry, nothing matches */
    arr *a = arr_new(50000, evens), *b = arr_new(50000, odds);
    void *cur[] = {a, b};
    oks_err e;
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 2, 1000, 5000, collect, &g, &e), OKS_E_LIMIT);
    assert_true(a->moves + b->moves <= 5001);
    assert_non_null(strstr(e.msg, "5000"));
    arr_free(a), arr_free(b);
}

static void a_cursor_error_is_returned(void **state)
{
    (void)state;
    arr *a = arr_new(100, all), *b = arr_new(100, evens);
    b->fail_at = 5;
    void *cur[] = {a, b};
    oks_err e;
    g.n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 2, 1000, 100000, collect, &g, &e), OKS_E_IO);
    assert_string_equal(e.msg, "read error");
    arr_free(a), arr_free(b);
}

static int stop_after_two(const uint8_t *p, size_t len, void *arg)
{
    (void)p, (void)len;
    return ++*(int *)arg == 2;
}

static void the_callback_can_stop_it(void **state)
{
    (void)state;
    arr *a = arr_new(100, all), *b = arr_new(100, all);
    void *cur[] = {a, b};
    int n = 0;
    assert_int_equal(oks_intersect(cur, &ops, 2, 1000, 100000, stop_after_two, &n, NULL), 0);
    assert_int_equal(n, 2);
    arr_free(a), arr_free(b);
}

static void the_order_puts_a_prefix_first(void **state)
{
    (void)state;
    const uint8_t x[3] = {1, 2, 3}, y[2] = {1, 2}, z[3] = {1, 2, 4};
    assert_true(oks_intersect_cmp(oks_slice_of(y, 2), oks_slice_of(x, 3)) < 0);
    assert_true(oks_intersect_cmp(oks_slice_of(x, 3), oks_slice_of(z, 3)) < 0);
    assert_int_equal(oks_intersect_cmp(oks_slice_of(x, 3), oks_slice_of(x, 3)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(common_entries_come_out_in_order),
        cmocka_unit_test(one_list_is_a_plain_scan_and_max_results_stops_it),
        cmocka_unit_test(disjoint_and_empty_lists_give_nothing),
        cmocka_unit_test(work_grows_with_the_shortest_list),
        cmocka_unit_test(the_move_budget_stops_a_costly_intersection),
        cmocka_unit_test(a_cursor_error_is_returned),
        cmocka_unit_test(the_callback_can_stop_it),
        cmocka_unit_test(the_order_puts_a_prefix_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
