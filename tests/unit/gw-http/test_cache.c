/* gw-http/cache: validity by logical clock (per-fingerprint and global dependencies, races with
 * invalidations, flush, staleness of the change-log reader) and the byte budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw-http/cache.h"

#include <stdio.h>
#include <string.h>

static const uint8_t FA[20] = {0x10, 0x20, 1}, FB[20] = {0x99, 0x88, 2};

static void copy_len(void *arg, const gw_cached *v)
{
    *(size_t *)arg = v->len;
}

static bool has(gw_cache *c, const char *key, uint64_t now)
{
    size_t len = 0;
    return gw_cache_get(c, key, strlen(key), now, copy_len, &len);
}

static bool put(gw_cache *c, const char *key, const uint8_t *fpr, uint64_t tag, size_t len)
{
    static uint8_t body[1 << 20];
    gw_cached v = {.ctype = "text/plain", .body = body, .len = len, .count = 1};
    return gw_cache_put(c, key, strlen(key), fpr, fpr ? 20 : 0, tag, &v);
}

static void served_only_after_change_logs_were_read(void **state)
{
    (void)state;
    gw_cache *c = gw_cache_new(1 << 20, 1000);
    assert_true(put(c, "a", FA, gw_cache_tag(c), 10));
    assert_false(has(c, "a", 5000)); /* never read: bypassed */
    gw_cache_fresh(c, 5000);
    assert_true(has(c, "a", 5500));
    size_t len = 0;
    assert_true(gw_cache_get(c, "a", 1, 5500, copy_len, &len));
    assert_int_equal(len, 10);
    assert_false(has(c, "a", 6001)); /* reader silent for longer than max_stale */
    gw_cache_fresh(c, 6001);
    assert_true(has(c, "a", 6001));
    gw_cache_free(c);
}

static void a_change_drops_what_depends_on_it(void **state)
{
    (void)state;
    gw_cache *c = gw_cache_new(1 << 20, 1000);
    gw_cache_fresh(c, 1);
    uint64_t t = gw_cache_tag(c);
    assert_true(put(c, "key-a", FA, t, 10));
    assert_true(put(c, "key-b", FB, t, 10));
    assert_true(put(c, "search", NULL, t, 10));
    gw_cache_invalidate(c, FB, 20);
    assert_true(has(c, "key-a", 1));   /* another key */
    assert_false(has(c, "key-b", 1));  /* that key */
    assert_false(has(c, "search", 1)); /* depends on every key */
    gw_cache_flush(c);
    assert_false(has(c, "key-a", 1));
    gw_cache_counters cc;
    gw_cache_counters_get(c, &cc);
    assert_int_equal(cc.entries, 0);
    assert_int_equal(cc.stale, 3);
    gw_cache_free(c);
}

static void an_answer_racing_a_change_is_not_kept(void **state)
{
    (void)state;
    gw_cache *c = gw_cache_new(1 << 20, 1000);
    gw_cache_fresh(c, 1);
    uint64_t sent = gw_cache_tag(c);  /* request sent */
    gw_cache_invalidate(c, FA, 20);   /* the key changes before the answer arrives */
    assert_false(put(c, "key-a", FA, sent, 10));
    assert_false(has(c, "key-a", 1));
    assert_false(put(c, "search", NULL, sent, 10));
    assert_true(put(c, "key-a", FA, gw_cache_tag(c), 10)); /* a later request may */
    assert_true(has(c, "key-a", 1));
    gw_cache_free(c);
}

static void budget_evicts_the_least_recent(void **state)
{
    (void)state;
    /* 32 stripes of 32 KiB; one entry may take a quarter of a stripe */
    gw_cache *c = gw_cache_new(32 * 32768, 1000);
    gw_cache_fresh(c, 1);
    assert_false(put(c, "huge", NULL, gw_cache_tag(c), 16384));
    char k[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_true(put(c, k, NULL, gw_cache_tag(c), 4000));
    }
    gw_cache_counters cc;
    gw_cache_counters_get(c, &cc);
    assert_true(cc.bytes <= 32 * 32768);
    assert_true(cc.evicted >= 2000 - 32 * 32768 / 4000);
    assert_true(has(c, "k1999", 1));
    assert_false(has(c, "k0", 1));
    assert_true(put(c, "k1999", NULL, gw_cache_tag(c), 20)); /* replaced, not duplicated */
    size_t len = 0;
    assert_true(gw_cache_get(c, "k1999", 5, 1, copy_len, &len));
    assert_int_equal(len, 20);
    gw_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(served_only_after_change_logs_were_read),
        cmocka_unit_test(a_change_drops_what_depends_on_it),
        cmocka_unit_test(an_answer_racing_a_change_is_not_kept),
        cmocka_unit_test(budget_evicts_the_least_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
