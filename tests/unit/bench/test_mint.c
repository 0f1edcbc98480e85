/* bench/mint: same seed, same bytes; different seeds differ; every minted key parses and all
 * its self-signatures verify with the OKS verifier (v4 and v6, with certifications). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gcrypt.h>
#include <string.h>

#include "bench/mint.h"
#include "lib/pgp.h"

#define N 12

static void mint_all(const bench_mint_opts *o, oks_buf *out, bench_mint_key *keys)
{
    bench_mint_primary prim[N];
    for (uint32_t i = 0; i < N; i++) {
        oks_err e;
        assert_int_equal(bench_mint_one(o, i, prim, out, &keys[i], &e), 0);
        prim[i] = keys[i].primary;
    }
}

static void mint_same_seed_gives_same_bytes(void **state)
{
    (void)state;
    bench_mint_opts o = {.seed = "s1", .v6_ratio = 0.5, .uids_min = 1, .uids_max = 3,
                         .certs = 2};
    oks_buf a = OKS_BUF_INIT, b = OKS_BUF_INIT;
    bench_mint_key ka[N], kb[N];
    mint_all(&o, &a, ka);
    mint_all(&o, &b, kb);
    assert_true(a.len > 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    for (int i = 0; i < N; i++)
        assert_string_equal(ka[i].fpr_hex, kb[i].fpr_hex);
    oks_buf_release(&a);
    oks_buf_release(&b);
}

static void mint_different_seeds_give_different_keys(void **state)
{
    (void)state;
    bench_mint_opts o1 = {.seed = "s1", .uids_min = 1, .uids_max = 1};
    bench_mint_opts o2 = {.seed = "s2", .uids_min = 1, .uids_max = 1};
    oks_buf a = OKS_BUF_INIT, b = OKS_BUF_INIT;
    bench_mint_key ka, kb;
    oks_err e;
    assert_int_equal(bench_mint_one(&o1, 0, NULL, &a, &ka, &e), 0);
    assert_int_equal(bench_mint_one(&o2, 0, NULL, &b, &kb, &e), 0);
    assert_string_not_equal(ka.fpr_hex, kb.fpr_hex);
    oks_buf_release(&a);
    oks_buf_release(&b);
}

static void mint_keys_verify_with_no_sig_dropped(void **state)
{
    (void)state;
    bench_mint_opts o = {.seed = "verify", .v6_ratio = 0.5, .uids_min = 1, .uids_max = 3,
                         .certs = 1};
    oks_buf all = OKS_BUF_INIT;
    bench_mint_key keys[N];
    mint_all(&o, &all, keys);
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    size_t off = 0;
    int n = 0, v6 = 0;
    oks_slice one;
    oks_err e;
    while (off < all.len) {
        assert_int_equal(oks_pgp_split_next(all.data, all.len, &off, &one, &e), 0);
        oks_pgp_key *k = NULL;
        assert_int_equal(oks_pgp_key_parse(one.ptr, one.len, &lim, 0, &k, &e), 0);
        oks_pgp_verify_stats st;
        memset(&st, 0, sizeof(st));
        assert_int_equal(oks_pgp_key_verify(k, &lim, &st, &e), 0);
        assert_int_equal(st.self_dropped, 0);
        assert_true(st.self_verified >= 2);
        assert_int_equal(st.uids_dropped, 0);
        assert_int_equal(st.subkeys_dropped, 0);
        if (keys[n].primary.version == 6)
            v6++;
        oks_pgp_key_free(k);
        n++;
    }
    assert_int_equal(n, N);
    assert_true(v6 > 0 && v6 < N);
    oks_buf_release(&all);
}

int main(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mint_same_seed_gives_same_bytes),
        cmocka_unit_test(mint_different_seeds_give_different_keys),
        cmocka_unit_test(mint_keys_verify_with_no_sig_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
