/* shard/store_batch: a batch in key order has the same writes as the ones made, writes to one
 * key in their order, and written to LevelDB it leaves the same contents (real LevelDB); a large
 * batch of keys sharing long prefixes comes out in LevelDB's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/store_int.h"

typedef struct seen {
    char k[16][8], v[16][8];
    size_t kl[16], n;
    bool del[16];
} seen;

static void on_put(void *st, const char *k, size_t kl, const char *v, size_t vl)
{
    seen *s = st;
    assert_true(s->n < 16 && kl < 8 && vl < 8);
    memcpy(s->k[s->n], k, kl);
    s->kl[s->n] = kl;
    memcpy(s->v[s->n], v, vl);
    s->v[s->n][vl] = 0;
    s->del[s->n++] = false;
}

static void on_del(void *st, const char *k, size_t kl)
{
    seen *s = st;
    assert_true(s->n < 16 && kl < 8);
    memcpy(s->k[s->n], k, kl);
    s->kl[s->n] = kl;
    s->v[s->n][0] = 0;
    s->del[s->n++] = true;
}

/* keys that differ past their first 8 bytes, one a prefix of another, a key written three
 * times (put, delete, put) and one put then deleted */
static void mixed(oks_wbatch *wb)
{
    oks_wbatch_init(wb);
    oks_wbatch_put(wb, "kx", 2, "1", 1);
    oks_wbatch_put(wb, "b", 1, "2", 1);
    oks_wbatch_delete(wb, "kx", 2);
    oks_wbatch_put(wb, "b\0", 2, "3", 1);
    oks_wbatch_put(wb, "a", 1, "4", 1);
    oks_wbatch_put(wb, "kx", 2, "5", 1);
    oks_wbatch_put(wb, "z", 1, "6", 1);
    oks_wbatch_delete(wb, "z", 1);
    oks_wbatch_put(wb, "\xff", 1, "7", 1);
}

static void sorted_order_keeps_writes_to_one_key_in_order(void **state)
{
    (void)state;
    oks_wbatch b;
    mixed(&b);
    leveldb_writebatch_t *out = oks_wbatch_leveldb(&b);
    assert_non_null(out);
    seen s = {0};
    leveldb_writebatch_iterate(out, &s, on_put, on_del);
    static const struct {
        const char *k;
        size_t kl;
        const char *v;
        bool del;
    } want[] = {{"a", 1, "4", false},  {"b", 1, "2", false},  {"b\0", 2, "3", false},
                {"kx", 2, "1", false}, {"kx", 2, "", true},   {"kx", 2, "5", false},
                {"z", 1, "6", false},  {"z", 1, "", true},    {"\xff", 1, "7", false}};
    assert_int_equal(s.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.kl[i], want[i].kl);
        assert_memory_equal(s.k[i], want[i].k, want[i].kl);
        assert_string_equal(s.v[i], want[i].v);
        assert_int_equal(s.del[i], want[i].del);
    }
    leveldb_writebatch_destroy(out);
    oks_wbatch_release(&b);
}

static void sorted_batch_leaves_the_same_contents(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/oks-test-batch-XXXXXX");
    assert_non_null(mkdtemp(dir));
    leveldb_options_t *o = leveldb_options_create();
    leveldb_options_set_create_if_missing(o, 1);
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, dir, &err);
    assert_null(err);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    oks_wbatch b;
    mixed(&b);
    leveldb_writebatch_t *out = oks_wbatch_leveldb(&b);
    leveldb_write(db, wo, out, &err);
    assert_null(err);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    static const struct {
        const char *k;
        size_t kl;
        const char *v; /* NULL: absent */
    } want[] = {{"a", 1, "4"}, {"b", 1, "2"}, {"b\0", 2, "3"}, {"kx", 2, "5"},
                {"z", 1, NULL}, {"\xff", 1, "7"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t vl = 0;
        char *v = leveldb_get(db, ro, want[i].k, want[i].kl, &vl, &err);
        assert_null(err);
        if (!want[i].v) {
            assert_null(v);
            continue;
        }
        assert_non_null(v);
        assert_int_equal(vl, strlen(want[i].v));
        assert_memory_equal(v, want[i].v, vl);
        leveldb_free(v);
    }
    leveldb_writebatch_destroy(out);
    oks_wbatch_release(&b);
    leveldb_readoptions_destroy(ro);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
    leveldb_destroy_db(o, dir, &err);
    leveldb_free(err);
    leveldb_options_destroy(o);
}

/* a batch reset and filled again into a cleared LevelDB batch (as oks_store_apply reuses both)
 * carries the second batch's writes only, in key order */
static void reused_batch_carries_only_its_new_writes(void **state)
{
    (void)state;
    oks_wbatch b;
    mixed(&b);
    leveldb_writebatch_t *out = leveldb_writebatch_create();
    oks_wbatch_fill(&b, out);
    size_t held = oks_wbatch_held(&b);
    assert_true(held > 0);
    oks_wbatch_reset(&b);
    assert_int_equal(oks_wbatch_held(&b), held); /* memory kept */
    oks_wbatch_put(&b, "q", 1, "8", 1);
    oks_wbatch_delete(&b, "c", 1);
    leveldb_writebatch_clear(out);
    oks_wbatch_fill(&b, out);
    seen s = {0};
    leveldb_writebatch_iterate(out, &s, on_put, on_del);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.kl[0], 1);
    assert_memory_equal(s.k[0], "c", 1);
    assert_true(s.del[0]);
    assert_memory_equal(s.k[1], "q", 1);
    assert_string_equal(s.v[1], "8");
    assert_false(s.del[1]);
    leveldb_writebatch_destroy(out);
    oks_wbatch_release(&b);
}

static void empty_batch_sorts_to_empty(void **state)
{
    (void)state;
    oks_wbatch b;
    oks_wbatch_init(&b);
    leveldb_writebatch_t *out = oks_wbatch_leveldb(&b);
    assert_non_null(out);
    seen s = {0};
    leveldb_writebatch_iterate(out, &s, on_put, on_del);
    assert_int_equal(s.n, 0);
    leveldb_writebatch_destroy(out);
    oks_wbatch_release(&b);
}

/* keys of 1 to 24 bytes from a small alphabet (so many share their first 8 bytes or are
 * prefixes of others), each value its position in the batch */
typedef struct big {
    char k[4000][24];
    size_t kl[4000], n;
    size_t got; /* positions seen, in order */
    char last[24];
    size_t last_kl;
    long last_pos;
} big;

static int bytewise(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void big_put(void *st, const char *k, size_t kl, const char *v, size_t vl)
{
    big *g = st;
    long pos = 0;
    assert_true(vl < 8);
    for (size_t i = 0; i < vl; i++)
        pos = pos * 10 + (v[i] - '0');
    assert_int_equal(kl, g->kl[pos]);
    assert_memory_equal(k, g->k[pos], kl);
    if (g->got) {
        int c = bytewise(g->last, g->last_kl, k, kl);
        assert_true(c < 0 || (c == 0 && g->last_pos < pos)); /* order, ties in write order */
    }
    memcpy(g->last, k, kl);
    g->last_kl = kl;
    g->last_pos = pos;
    g->got++;
}

static void big_del(void *st, const char *k, size_t kl)
{
    (void)st, (void)k, (void)kl;
    fail();
}

static void large_batch_comes_out_in_leveldb_order(void **state)
{
    (void)state;
    static big g;
    memset(&g, 0, sizeof g);
    oks_wbatch b;
    oks_wbatch_init(&b);
    unsigned x = 12345;
    g.n = 4000;
    for (size_t i = 0; i < g.n; i++) {
        x = x * 1103515245u + 12345u;
        g.kl[i] = 1 + (x >> 16) % 24;
        for (size_t j = 0; j < g.kl[i]; j++) {
            x = x * 1103515245u + 12345u;
            g.k[i][j] = j < 9 && (x >> 20) % 4 ? 'a' : (char)("ab\0\xff"[(x >> 16) % 4]);
        }
        char v[8];
        int vl = snprintf(v, sizeof v, "%zu", i);
        oks_wbatch_put(&b, g.k[i], g.kl[i], v, (size_t)vl);
    }
    leveldb_writebatch_t *out = oks_wbatch_leveldb(&b);
    leveldb_writebatch_iterate(out, &g, big_put, big_del);
    assert_int_equal(g.got, g.n);
    leveldb_writebatch_destroy(out);
    oks_wbatch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorted_order_keeps_writes_to_one_key_in_order),
        cmocka_unit_test(sorted_batch_leaves_the_same_contents),
        cmocka_unit_test(reused_batch_carries_only_its_new_writes),
        cmocka_unit_test(empty_batch_sorts_to_empty),
        cmocka_unit_test(large_batch_comes_out_in_leveldb_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
