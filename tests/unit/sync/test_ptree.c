/* sync/ptree: the prefix tree's sample values and counts against direct products over the
 * element set, split at 51 and join at 25, look-ups by prefix (exact and covering leaf),
 * persistence across reopen with metadata in the same batch, and refusal of sample points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/ptree.h"

static void rand_hashes(uint8_t (*h)[16], size_t n)
{
    gcry_randomize(h, n * 16, GCRY_WEAK_RANDOM);
}

static int matches(const uint8_t h[16], const oks_recon_bits *p)
{
    for (uint32_t i = 0; i < p->nbits; i++)
        if (oks_recon_bit(h, i) != oks_recon_bit(p->b, i))
            return 0;
    return 1;
}

/* expected node values for prefix p over the set (with live[i] != 0) */
static void check_prefix(const oks_ptree *t, const oks_recon_bits *p, uint8_t (*h)[16],
                         const int *live, size_t n)
{
    oks_zzp want[OKS_RECON_SAMPLES];
    uint32_t cnt = 0;
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        want[i] = oks_zzp_one();
    for (size_t k = 0; k < n; k++) {
        if (!live[k] || !matches(h[k], p))
            continue;
        cnt++;
        oks_zzp x = oks_zzp_from_hash(h[k]);
        for (int i = 0; i < OKS_RECON_SAMPLES; i++)
            want[i] = oks_zzp_mul(want[i], oks_zzp_sub(oks_recon_point(i), x));
    }
    oks_ptree_node nd;
    assert_int_equal(oks_ptree_node_at(t, p, &nd), 0);
    assert_int_equal(nd.count, cnt);
    for (int i = 0; i < OKS_RECON_SAMPLES; i++)
        assert_true(oks_zzp_eq(nd.samples[i], want[i]));
    oks_zzp *el;
    size_t ne;
    assert_int_equal(oks_ptree_elements(t, p, &el, &ne), 0);
    assert_int_equal(ne, cnt);
    free(el);
}

static void check_all_prefixes(const oks_ptree *t, uint8_t (*h)[16], const int *live, size_t n)
{
    oks_recon_bits root = {0}, c, cc;
    check_prefix(t, &root, h, live, n);
    for (int a = 0; a < 4; a++) {
        oks_recon_bits_child(&root, a, &c);
        check_prefix(t, &c, h, live, n);
        for (int b = 0; b < 4; b++) {
            oks_recon_bits_child(&c, b, &cc);
            check_prefix(t, &cc, h, live, n);
        }
    }
}

static void test_samples_equal_products_under_inserts_and_deletes(void **state)
{
    (void)state;
    enum { N = 3000 };
    uint8_t(*h)[16] = malloc(N * 16);
    int *live = calloc(N, sizeof *live);
    rand_hashes(h, N);
    oks_ptree *t;
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &t, &e), 0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(oks_ptree_insert(t, h[i], &e), 0);
        live[i] = 1;
    }
    assert_int_equal(oks_ptree_insert(t, h[5], &e), 1);
    assert_int_equal(oks_ptree_count(t), N);
    check_all_prefixes(t, h, live, N);
    for (size_t i = 0; i < N; i += 3) {
        assert_int_equal(oks_ptree_delete(t, h[i], &e), 0);
        live[i] = 0;
    }
    assert_int_equal(oks_ptree_delete(t, h[0], &e), 1);
    check_all_prefixes(t, h, live, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(oks_ptree_has(t, h[i]), live[i]);
    oks_ptree_free(t);
    free(h);
    free(live);
}

static void test_split_above_50_and_join_at_25(void **state)
{
    (void)state;
    uint8_t h[60][16];
    rand_hashes(h, 60);
    oks_ptree *t;
    oks_err e;
    oks_recon_bits root = {0};
    oks_ptree_node nd;
    assert_int_equal(oks_ptree_open(NULL, &t, &e), 0);
    for (int i = 0; i < 50; i++)
        oks_ptree_insert(t, h[i], &e);
    oks_ptree_node_at(t, &root, &nd);
    assert_int_equal(nd.leaf, 1);
    oks_ptree_insert(t, h[50], &e);
    oks_ptree_node_at(t, &root, &nd);
    assert_int_equal(nd.leaf, 0);
    assert_int_equal(nd.count, 51);
    for (int i = 0; i < 25; i++)
        oks_ptree_delete(t, h[i], &e);
    oks_ptree_node_at(t, &root, &nd);
    assert_int_equal(nd.count, 26);
    assert_int_equal(nd.leaf, 0);
    oks_ptree_delete(t, h[25], &e);
    oks_ptree_node_at(t, &root, &nd);
    assert_int_equal(nd.count, 25);
    assert_int_equal(nd.leaf, 1);
    for (int i = 26; i < 51; i++)
        assert_true(oks_ptree_has(t, h[i]));
    oks_ptree_free(t);
}

static void test_prefix_below_a_leaf_uses_matching_elements(void **state)
{
    (void)state;
    uint8_t h[10][16];
    int live[10];
    rand_hashes(h, 10);
    h[0][0] = 0xB0; /* 1011 0000 */
    h[1][0] = 0xB4;
    h[2][0] = 0x30;
    oks_ptree *t;
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &t, &e), 0);
    for (int i = 0; i < 10; i++) {
        oks_ptree_insert(t, h[i], &e);
        live[i] = 1;
    }
    oks_recon_bits p = {0};
    p.nbits = 4;
    p.b[0] = 0xB0;
    oks_ptree_node nd;
    assert_int_equal(oks_ptree_node_at(t, &p, &nd), 0);
    assert_int_equal(nd.exact, 0);
    assert_int_equal(nd.leaf, 1);
    assert_true(nd.count >= 2);
    check_prefix(t, &p, h, live, 10);
    p.nbits = 3; /* odd prefix */
    check_prefix(t, &p, h, live, 10);
    oks_ptree_free(t);
}

static void test_sample_point_hashes_refused(void **state)
{
    (void)state;
    oks_ptree *t;
    oks_err e;
    assert_int_equal(oks_ptree_open(NULL, &t, &e), 0);
    uint8_t h[16] = {0};
    for (int v = 0; v <= 2; v++) {
        h[0] = (uint8_t)v;
        assert_int_equal(oks_ptree_insert(t, h, &e), OKS_E_ARG);
    }
    h[0] = 3;
    assert_int_equal(oks_ptree_insert(t, h, &e), 0);
    assert_int_equal(oks_ptree_count(t), 1);
    oks_ptree_free(t);
}

static void test_reopen_restores_tree_and_metadata(void **state)
{
    (void)state;
    char dir[] = "/tmp/oks-test-ptree-XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { N = 500 };
    uint8_t(*h)[16] = malloc(N * 16);
    rand_hashes(h, N);
    oks_ptree *t;
    oks_err e;
    assert_int_equal(oks_ptree_open(dir, &t, &e), 0);
    assert_int_equal(oks_ptree_apply(t, (const uint8_t(*)[16])h, N, NULL, 0, "cursor.0", "42", 2,
                                     &e), 0);
    assert_int_equal(oks_ptree_apply(t, NULL, 0, (const uint8_t(*)[16])h, 10, "cursor.0", "57",
                                     2, &e), 0);
    oks_recon_bits root = {0};
    oks_ptree_node before, after;
    oks_ptree_node_at(t, &root, &before);
    oks_ptree_free(t);
    assert_int_equal(oks_ptree_open(dir, &t, &e), 0);
    assert_int_equal(oks_ptree_count(t), N - 10);
    oks_ptree_node_at(t, &root, &after);
    assert_memory_equal(before.samples, after.samples, sizeof before.samples);
    uint8_t *v;
    size_t vl;
    assert_int_equal(oks_ptree_meta_get(t, "cursor.0", &v, &vl, &e), 0);
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "57", 2);
    free(v);
    assert_int_equal(oks_ptree_meta_get(t, "cursor.9", &v, &vl, &e), OKS_E_NOTFOUND);
    uint8_t(*all)[16];
    size_t n;
    assert_int_equal(oks_ptree_all_hashes(t, &all, &n), 0);
    assert_int_equal(n, N - 10);
    free(all);
    oks_ptree_free(t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(h);
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_equal_products_under_inserts_and_deletes),
        cmocka_unit_test(test_split_above_50_and_join_at_25),
        cmocka_unit_test(test_prefix_below_a_leaf_uses_matching_elements),
        cmocka_unit_test(test_sample_point_hashes_refused),
        cmocka_unit_test(test_reopen_restores_tree_and_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
