/* sync/recon_wire: message framing and bodies against the captured SKS bytes and sizes of
 * protocols.md §2.6-2.7, round trips of every type, the Config check, and refusal of malformed
 * input (every truncation, bad lengths, huge counts, unknown types, trailing bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sync/recon_wire.h"

static oks_recon_config sks_cfg(uint32_t port)
{
    return (oks_recon_config){"1.1.6", port, 2, 5, "yminsky.dedup,yminsky.merge"};
}

static void put_str(oks_buf *b, const char *s, size_t n)
{
    oks_buf_put_be32(b, (uint32_t)n);
    oks_buf_append(b, s, n);
}

static void test_config_matches_sks_capture(void **state)
{
    (void)state;
    /* the capture of §2.7, rebuilt field by field */
    oks_buf want = OKS_BUF_INIT, got = OKS_BUF_INIT;
    oks_buf_put_be32(&want, 0x7E);
    oks_buf_putc(&want, 10);
    oks_buf_put_be32(&want, 5);
    put_str(&want, "bitquantum", 10);
    put_str(&want, "\0\0\0\2", 4);
    put_str(&want, "filters", 7);
    put_str(&want, "yminsky.dedup,yminsky.merge", 27);
    put_str(&want, "http port", 9);
    put_str(&want, "\0\0\xB5\x23", 4);
    put_str(&want, "mbar", 4);
    put_str(&want, "\0\0\0\5", 4);
    put_str(&want, "version", 7);
    put_str(&want, "1.1.6", 5);
    assert_int_equal(want.len, 4 + 0x7E);
    oks_recon_config c = sks_cfg(46371);
    assert_int_equal(oks_recon_config_write(&got, &c), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    /* and it parses and passes our own check, giving the port back */
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_recon_msg m;
    oks_err e;
    uint32_t len, port = 0;
    assert_int_equal(oks_recon_frame_len(got.data, &lim, &len, &e), 0);
    assert_int_equal(oks_recon_msg_parse(got.data + 4, len, &lim, &m, &e), 0);
    assert_int_equal(m.nkv, 5);
    oks_recon_config mine = sks_cfg(11371);
    assert_int_equal(oks_recon_config_check(&m, &mine, &port, &e), 0);
    assert_int_equal(port, 46371);
    oks_recon_msg_release(&m);
    oks_buf v = OKS_BUF_INIT;
    oks_recon_verdict_write(&v, NULL);
    assert_int_equal(v.len, 10);
    assert_memory_equal(v.data, "\0\0\0\6passed", 10);
    oks_buf_release(&v);
    oks_buf_release(&want);
    oks_buf_release(&got);
}

static int check_cfg(const oks_recon_config *peer, oks_err *e)
{
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_buf b = OKS_BUF_INIT;
    oks_recon_config_write(&b, peer);
    oks_recon_msg m;
    assert_int_equal(oks_recon_msg_parse(b.data + 4, b.len - 4, &lim, &m, e), 0);
    oks_recon_config mine = sks_cfg(11371);
    uint32_t port;
    int rc = oks_recon_config_check(&m, &mine, &port, e);
    oks_recon_msg_release(&m);
    oks_buf_release(&b);
    return rc;
}

static void test_config_check_like_sks(void **state)
{
    (void)state;
    oks_err e;
    oks_recon_config c = sks_cfg(1);
    c.filters = "yminsky.merge,yminsky.dedup"; /* same set, other order */
    assert_int_equal(check_cfg(&c, &e), 0);
    c.version = "1.1.5";
    assert_int_equal(check_cfg(&c, &e), 0);
    c = sks_cfg(1);
    c.filters = "schema:application/pgp-keys,yminsky.merge,yminsky.dedup";
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
    assert_non_null(strstr(e.msg, "filters differ"));
    c = sks_cfg(1);
    c.filters = "yminsky.dedup";
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
    c = sks_cfg(1);
    c.mbar = 6;
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
    assert_non_null(strstr(e.msg, "mbar"));
    c = sks_cfg(1);
    c.bitquantum = 1;
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
    c = sks_cfg(1);
    c.version = "0.1.4";
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
    c = sks_cfg(0);
    assert_int_equal(check_cfg(&c, &e), OKS_E_PROTO);
}

static void test_config_missing_entry_refused(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    oks_buf_putc(&b, 10);
    oks_buf_put_be32(&b, 1);
    put_str(&b, "version", 7);
    put_str(&b, "1.1.6", 5);
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_recon_msg m;
    oks_err e;
    assert_int_equal(oks_recon_msg_parse(b.data, b.len, &lim, &m, &e), 0);
    oks_recon_config mine = sks_cfg(1);
    uint32_t port;
    assert_int_equal(oks_recon_config_check(&m, &mine, &port, &e), OKS_E_PROTO);
    assert_string_equal(e.msg, "Missing entry in configdata");
    oks_recon_msg_release(&m);
    oks_buf_release(&b);
}

static void fill_elems(oks_zzp *v, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = oks_zzp_from_int((int64_t)(i * 7919 + (size_t)seed * 104729 + 3));
}

static void test_message_sizes_match_capture(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    oks_recon_msg m;
    oks_recon_msg_init(&m, OKS_RECON_RQST_POLY);
    m.size = 238;
    for (int i = 0; i < 6; i++)
        m.samples[i] = oks_zzp_from_int(i + 100);
    assert_int_equal(oks_recon_msg_write(&b, &m), 0);
    assert_int_equal(oks_be32(b.data), 119);
    assert_memory_equal(b.data, "\0\0\0\x77\0\0\0\0\0\0\0\0\0\0\0\0\xEE\0\0\0\6", 21);
    b.len = 0;
    oks_zzp v[64];
    fill_elems(v, 64, 1);
    oks_recon_msg_init(&m, OKS_RECON_RQST_FULL);
    m.prefix.nbits = 2; /* "00" */
    m.elems = v;
    m.nelems = 64;
    assert_int_equal(oks_recon_msg_write(&b, &m), 0);
    assert_int_equal(oks_be32(b.data), 1102);
    b.len = 0;
    assert_int_equal(oks_recon_write_set(&b, OKS_RECON_ELEMENTS, v, 3), 0);
    assert_int_equal(oks_be32(b.data), 56);
    b.len = 0;
    assert_int_equal(oks_recon_write_empty(&b, OKS_RECON_FLUSH), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "\0\0\0\1\6", 5);
    oks_buf_release(&b);
}

static void roundtrip(const oks_recon_msg *m, oks_recon_msg *back)
{
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_buf b = OKS_BUF_INIT;
    oks_err e;
    uint32_t len;
    assert_int_equal(oks_recon_msg_write(&b, m), 0);
    assert_int_equal(oks_recon_frame_len(b.data, &lim, &len, &e), 0);
    assert_int_equal(len, b.len - 4);
    assert_int_equal(oks_recon_msg_parse(b.data + 4, len, &lim, back, &e), 0);
    assert_int_equal(back->type, m->type);
    oks_buf_release(&b);
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    oks_recon_msg m, back;
    oks_zzp v[10];
    fill_elems(v, 10, 2);
    oks_recon_msg_init(&m, OKS_RECON_RQST_POLY);
    m.prefix.nbits = 6;
    m.prefix.b[0] = 0xB8; /* 101110 */
    m.size = 12345;
    memcpy(m.samples, v, sizeof m.samples);
    roundtrip(&m, &back);
    assert_int_equal(back.prefix.nbits, 6);
    assert_int_equal(back.prefix.b[0], 0xB8);
    assert_int_equal(back.size, 12345);
    for (int i = 0; i < 6; i++)
        assert_true(oks_zzp_eq(back.samples[i], v[i]));
    oks_recon_msg_release(&back);
    int settypes[] = {OKS_RECON_RQST_FULL, OKS_RECON_ELEMENTS, OKS_RECON_FULL_ELEMENTS};
    for (int t = 0; t < 3; t++) {
        oks_recon_msg_init(&m, settypes[t]);
        m.elems = v;
        m.nelems = 10;
        roundtrip(&m, &back);
        assert_int_equal(back.nelems, 10);
        for (int i = 0; i < 10; i++) {
            int found = 0;
            for (size_t j = 0; j < back.nelems; j++)
                found |= oks_zzp_eq(back.elems[j], v[i]);
            assert_true(found);
        }
        oks_recon_msg_release(&back);
    }
    int empty[] = {OKS_RECON_SYNC_FAIL, OKS_RECON_DONE, OKS_RECON_FLUSH};
    for (int t = 0; t < 3; t++) {
        oks_recon_msg_init(&m, empty[t]);
        roundtrip(&m, &back);
        oks_recon_msg_release(&back);
    }
    oks_recon_msg_init(&m, OKS_RECON_ERROR);
    m.text = "server should never receive request for non-existant node";
    m.text_len = (uint32_t)strlen(m.text);
    roundtrip(&m, &back);
    assert_string_equal(back.text, m.text);
    oks_recon_msg_release(&back);
}

static void test_duplicate_elements_dropped(void **state)
{
    (void)state;
    oks_zzp v[5] = {oks_zzp_from_int(9), oks_zzp_from_int(4), oks_zzp_from_int(9),
                    oks_zzp_from_int(4), oks_zzp_from_int(1)};
    oks_recon_msg m, back;
    oks_recon_msg_init(&m, OKS_RECON_ELEMENTS);
    m.elems = v;
    m.nelems = 5;
    roundtrip(&m, &back);
    assert_int_equal(back.nelems, 3);
    oks_recon_msg_release(&back);
}

static void test_every_truncation_refused(void **state)
{
    (void)state;
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_buf b = OKS_BUF_INIT;
    oks_recon_config c = sks_cfg(11371);
    oks_recon_config_write(&b, &c);
    oks_zzp v[4];
    fill_elems(v, 4, 3);
    size_t cfg_end = b.len;
    oks_recon_msg m;
    oks_recon_msg_init(&m, OKS_RECON_RQST_FULL);
    m.prefix.nbits = 4;
    m.prefix.b[0] = 0x50;
    m.elems = v;
    m.nelems = 4;
    oks_recon_msg_write(&b, &m);
    size_t starts[2] = {0, cfg_end}, ends[2] = {cfg_end, b.len};
    for (int k = 0; k < 2; k++) {
        const uint8_t *body = b.data + starts[k] + 4;
        size_t full = ends[k] - starts[k] - 4;
        for (size_t cut = 0; cut < full; cut++) {
            oks_recon_msg out;
            oks_err e;
            int rc = oks_recon_msg_parse(body, cut, &lim, &out, &e);
            assert_true(rc == OKS_E_TRUNCATED || rc == OKS_E_FORMAT);
            assert_null(out.elems);
            assert_null(out.kv);
        }
        /* one extra byte is refused as trailing */
        uint8_t *longer = malloc(full + 1);
        memcpy(longer, body, full);
        longer[full] = 0;
        oks_recon_msg out;
        oks_err e;
        assert_int_equal(oks_recon_msg_parse(longer, full + 1, &lim, &out, &e), OKS_E_FORMAT);
        assert_non_null(strstr(e.msg, "trailing"));
        free(longer);
    }
    oks_buf_release(&b);
}

static void test_bad_lengths_and_types_refused(void **state)
{
    (void)state;
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    oks_recon_msg out;
    oks_err e;
    uint32_t len;
    assert_int_equal(oks_recon_frame_len((const uint8_t *)"\0\0\0\0", &lim, &len, &e),
                     OKS_E_FORMAT);
    assert_int_equal(oks_recon_frame_len((const uint8_t *)"\xff\xff\xff\xff", &lim, &len, &e),
                     OKS_E_LIMIT);
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\x0b", 1, &lim, &out, &e),
                     OKS_E_PROTO);
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\xff", 1, &lim, &out, &e),
                     OKS_E_PROTO);
    /* huge element count with few bytes */
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\x02\x7f\xff\xff\xff", 5, &lim, &out,
                                         &e), OKS_E_LIMIT);
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\x02\0\0\x01\0", 5, &lim, &out, &e),
                     OKS_E_TRUNCATED);
    /* bitstring: 200 bits, and 8 bits in 2 bytes */
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\x01\0\0\0\xc8\0\0\0\x19", 9, &lim,
                                         &out, &e), OKS_E_LIMIT);
    assert_int_equal(oks_recon_msg_parse((const uint8_t *)"\x01\0\0\0\x08\0\0\0\x02\0\0", 11,
                                         &lim, &out, &e), OKS_E_FORMAT);
    /* Poly with 5 samples */
    oks_buf b = OKS_BUF_INIT;
    oks_buf_putc(&b, 0);
    oks_buf_put_be32(&b, 0);
    oks_buf_put_be32(&b, 0);
    oks_buf_put_be32(&b, 10);
    oks_buf_put_be32(&b, 5);
    for (int i = 0; i < 5 * 17; i++)
        oks_buf_putc(&b, 1);
    assert_int_equal(oks_recon_msg_parse(b.data, b.len, &lim, &out, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "sample"));
    /* Config with too many entries, and an over-long string */
    b.len = 0;
    oks_buf_putc(&b, 10);
    oks_buf_put_be32(&b, 1000);
    assert_int_equal(oks_recon_msg_parse(b.data, b.len, &lim, &out, &e), OKS_E_LIMIT);
    b.len = 0;
    oks_buf_putc(&b, 7);
    oks_buf_put_be32(&b, 0x10000000);
    assert_int_equal(oks_recon_msg_parse(b.data, b.len, &lim, &out, &e), OKS_E_LIMIT);
    oks_buf_release(&b);
}

static void test_child_prefixes(void **state)
{
    (void)state;
    oks_recon_bits root = {0}, c, cc;
    char s[140];
    assert_int_equal(oks_recon_bits_child(&root, 2, &c), 0);
    assert_string_equal(oks_recon_bits_str(&c, s, sizeof s), "10");
    assert_int_equal(oks_recon_bits_child(&c, 3, &cc), 0);
    assert_string_equal(oks_recon_bits_str(&cc, s, sizeof s), "1011");
    assert_int_equal(cc.b[0], 0xB0);
    oks_recon_bits deep = {0};
    deep.nbits = 128;
    assert_int_equal(oks_recon_bits_child(&deep, 0, &c), OKS_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_matches_sks_capture),
        cmocka_unit_test(test_config_check_like_sks),
        cmocka_unit_test(test_config_missing_entry_refused),
        cmocka_unit_test(test_message_sizes_match_capture),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_duplicate_elements_dropped),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_bad_lengths_and_types_refused),
        cmocka_unit_test(test_child_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
