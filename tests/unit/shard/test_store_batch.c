/* shard/store_batch: a batch in key order has the same writes as the one it came from, writes to
 * one key in their order, and written to LevelDB it leaves the same contents (real LevelDB). */
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
static leveldb_writebatch_t *mixed(void)
{
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    leveldb_writebatch_put(wb, "kx", 2, "1", 1);
    leveldb_writebatch_put(wb, "b", 1, "2", 1);
    leveldb_writebatch_delete(wb, "kx", 2);
    leveldb_writebatch_put(wb, "b\0", 2, "3", 1);
    leveldb_writebatch_put(wb, "a", 1, "4", 1);
    leveldb_writebatch_put(wb, "kx", 2, "5", 1);
    leveldb_writebatch_put(wb, "z", 1, "6", 1);
    leveldb_writebatch_delete(wb, "z", 1);
    leveldb_writebatch_put(wb, "\xff", 1, "7", 1);
    return wb;
}

static void sorted_order_keeps_writes_to_one_key_in_order(void **state)
{
    (void)state;
    leveldb_writebatch_t *wb = mixed();
    leveldb_writebatch_t *out = oks_store_batch_sorted(wb);
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
    leveldb_writebatch_destroy(wb);
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
    leveldb_writebatch_t *wb = mixed();
    leveldb_writebatch_t *out = oks_store_batch_sorted(wb);
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
    leveldb_writebatch_destroy(wb);
    leveldb_readoptions_destroy(ro);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
    leveldb_destroy_db(o, dir, &err);
    leveldb_free(err);
    leveldb_options_destroy(o);
}

static void empty_batch_sorts_to_empty(void **state)
{
    (void)state;
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    leveldb_writebatch_t *out = oks_store_batch_sorted(wb);
    assert_non_null(out);
    seen s = {0};
    leveldb_writebatch_iterate(out, &s, on_put, on_del);
    assert_int_equal(s.n, 0);
    leveldb_writebatch_destroy(out);
    leveldb_writebatch_destroy(wb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorted_order_keeps_writes_to_one_key_in_order),
        cmocka_unit_test(sorted_batch_leaves_the_same_contents),
        cmocka_unit_test(empty_batch_sorts_to_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
