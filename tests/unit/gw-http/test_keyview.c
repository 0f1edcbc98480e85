/* gw-http/keyview: the key context of the HTML pages: fingerprint blocks, usages from key
 * flags or the algorithm, the status of user IDs (valid / revoked / re-certified / expired),
 * subkeys with their expiry and revocation, the shared line budget and what it left out, and
 * that no item shows a value of the key around it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-http/gw.h"

static void fingerprint_blocks(void **state)
{
    (void)state;
    char out[100];
    gw_fpr_groups("CD78852E7CD1A67336595B5E8D1880FD9DF198AB", out, sizeof out);
    assert_string_equal(out, "CD78 852E 7CD1 A673 3659  5B5E 8D18 80FD 9DF1 98AB");
    gw_fpr_groups("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", out,
                  sizeof out);
    assert_string_equal(out, "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567 89AB CDEF "
                             "0123 4567 89AB CDEF");
    gw_fpr_groups("ABCDEF", out, sizeof out);
    assert_string_equal(out, "ABCD EF");
    gw_fpr_groups("", out, sizeof out);
    assert_string_equal(out, "");
    char small[7];
    gw_fpr_groups("0123456789", small, sizeof small);
    assert_string_equal(small, "0123 4"); /* cut, still terminated */
    gw_fpr_groups("0123456789", small, 1);
    assert_string_equal(small, "");
}

static void usages(void **state)
{
    (void)state;
    assert_int_equal(gw_key_usage(OKS_PGP_EDDSA, true, 0x01, true), GW_USE_CERTIFY);
    assert_int_equal(gw_key_usage(OKS_PGP_ECDH, true, 0x0C, false), GW_USE_ENCRYPT);
    assert_int_equal(gw_key_usage(OKS_PGP_ECDH, true, 0x04, false), 0x04);
    assert_int_equal(gw_key_usage(OKS_PGP_EDDSA, true, 0x22, false), GW_USE_SIGN | GW_USE_AUTH);
    assert_int_equal(gw_key_usage(OKS_PGP_RSA, false, 0, true),
                     GW_USE_CERTIFY | GW_USE_SIGN | GW_USE_ENCRYPT);
    assert_int_equal(gw_key_usage(OKS_PGP_ELGAMAL_E, false, 0, false), GW_USE_ENCRYPT);
    assert_int_equal(gw_key_usage(OKS_PGP_DSA, false, 0, false), GW_USE_SIGN);
    assert_int_equal(gw_key_usage(OKS_PGP_EDDSA, true, 0x00, false), 0);
}

static oks_pgp_sig sig(uint8_t type, uint32_t created, enum oks_pgp_sig_state st)
{
    oks_pgp_sig s = {0};
    s.type = type;
    s.created = created;
    s.state = st;
    return s;
}

static void uid_status(void **state)
{
    (void)state;
    oks_pgp_sig v[3];
    oks_pgp_uid u = {OKS_PGP_TAG_UID, (const uint8_t *)"a", 1, {v, 1}};
    v[0] = sig(0x13, 1000, OKS_SIG_GOOD);
    assert_string_equal(gw_uid_status(&u, 5000), "valid");
    v[1] = sig(0x30, 2000, OKS_SIG_GOOD);
    u.sigs.n = 2;
    assert_string_equal(gw_uid_status(&u, 5000), "revoked");
    /* a revocation by someone else is not believed */
    v[1].state = OKS_SIG_THIRD_PARTY;
    assert_string_equal(gw_uid_status(&u, 5000), "valid");
    /* re-certified after the revocation */
    v[1].state = OKS_SIG_GOOD;
    v[2] = sig(0x10, 3000, OKS_SIG_GOOD);
    u.sigs.n = 3;
    assert_string_equal(gw_uid_status(&u, 5000), "valid");
    v[2].sig_expires = 1000;
    assert_string_equal(gw_uid_status(&u, 3999), "valid");
    assert_string_equal(gw_uid_status(&u, 4000), "expired");
}

static const char page[] =
    "{{#keys}}{{fpr_groups}}|{{status}}|{{expires}}|{{#usages}}{{name}},{{/usages}}|{{title}}\n"
    "{{#uids}}U {{uid}} {{status}}{{#vindex}}{{#sigs}} S{{type}}{{#self}}*{{/self}}{{/sigs}}"
    "{{/vindex}}\n{{/uids}}"
    "{{#subkeys}}K {{keyid}} {{status}} {{expires}} {{#usages}}{{name}},{{/usages}}\n{{/subkeys}}"
    "T {{truncated}}\n{{/keys}}";

static char *render(const oks_pgp_key *k, bool sigs, uint64_t now, size_t *lines)
{
    static oks_buf out;
    oks_err e;
    out.len = 0;
    oks_tmpl *t = oks_tmpl_new();
    if (sigs)
        oks_tmpl_set(t, "vindex", "yes", 3);
    assert_int_equal(gw_page_key(oks_tmpl_push(t, "keys"), k, sigs, now, lines), 0);
    assert_int_equal(oks_tmpl_render_text(page, strlen(page), t, &out, &e), 0);
    oks_buf_terminate(&out);
    oks_tmpl_free(t);
    return (char *)out.data;
}

static void key_context(void **state)
{
    (void)state;
    oks_pgp_sig s0[2], s1[2], b0[1], b1[2];
    s0[0] = sig(0x13, 100, OKS_SIG_GOOD);
    s0[0].has_key_flags = true;
    s0[0].key_flags = 0x03;
    s0[0].has_key_expires = true;
    s0[0].key_expires = 10000;
    s0[1] = sig(0x10, 200, OKS_SIG_THIRD_PARTY);
    s0[1].has_issuer = true;
    memcpy(s0[1].issuer, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    s1[0] = sig(0x13, 100, OKS_SIG_GOOD);
    s1[1] = sig(0x30, 300, OKS_SIG_GOOD);
    oks_pgp_uid uids[2] = {
        {OKS_PGP_TAG_UID, (const uint8_t *)"Alice <a@example.org>", 21, {s0, 2}},
        {OKS_PGP_TAG_UID, (const uint8_t *)"Old\x1b <old@example.org>", 22, {s1, 2}}};
    b0[0] = sig(0x18, 100, OKS_SIG_GOOD);
    b0[0].has_key_flags = true;
    b0[0].key_flags = 0x0C;
    b0[0].has_key_expires = true;
    b0[0].key_expires = 500;
    b1[0] = sig(0x18, 100, OKS_SIG_GOOD);
    b1[1] = sig(0x28, 150, OKS_SIG_GOOD);
    oks_pgp_subkey subs[2] = {0};
    subs[0].key.algo = OKS_PGP_ECDH;
    subs[0].key.created = 100;
    subs[0].key.fpr_len = 20;
    memcpy(subs[0].key.keyid, "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa", 8);
    subs[0].sigs = (oks_pgp_sigs){b0, 1};
    subs[1].key.algo = OKS_PGP_EDDSA;
    subs[1].key.created = 100;
    subs[1].key.fpr_len = 20;
    memcpy(subs[1].key.keyid, "\xbb\xbb\xbb\xbb\xbb\xbb\xbb\xbb", 8);
    subs[1].sigs = (oks_pgp_sigs){b1, 2};
    oks_pgp_key k = {0};
    k.primary.version = 4;
    k.primary.algo = OKS_PGP_EDDSA;
    k.primary.created = 0;
    k.primary.fpr_len = 20;
    memset(k.primary.fpr, 0xab, 20);
    k.uids = uids;
    k.n_uids = 2;
    k.subkeys = subs;
    k.n_subkeys = 2;
    size_t lines = 100;
    /* at 400 s: the key (expires at 10000) is valid, the encryption subkey (600) too */
    char *out = render(&k, false, 400, &lines);
    assert_string_equal(out,
        "ABAB ABAB ABAB ABAB ABAB  ABAB ABAB ABAB ABAB ABAB|valid|1970-01-01|certify,sign,|"
        "Alice <a@example.org>\n"
        "U Alice <a@example.org> valid\n"
        "U Old? <old@example.org> revoked\n"
        "K AAAAAAAAAAAAAAAA valid 1970-01-01 encrypt,\n"
        "K BBBBBBBBBBBBBBBB revoked never sign,\n"
        "T \n");
    assert_int_equal(lines, 96);
    /* later: the subkey has expired, then the key */
    out = render(&k, false, 600, &lines);
    assert_non_null(strstr(out, "K AAAAAAAAAAAAAAAA expired"));
    assert_non_null(strstr(out, "|valid|"));
    out = render(&k, false, 10000, &lines);
    assert_non_null(strstr(out, "|expired|"));
    /* signatures in a vindex, and a budget that runs out: what is left out is named */
    lines = 3;
    out = render(&k, true, 400, &lines);
    assert_string_equal(out,
        "ABAB ABAB ABAB ABAB ABAB  ABAB ABAB ABAB ABAB ABAB|valid|1970-01-01|certify,sign,|"
        "Alice <a@example.org>\n"
        "U Alice <a@example.org> valid S0x13* S0x10\n"
        "T 2 more signatures, 1 more user IDs, 2 more subkeys\n");
    assert_int_equal(lines, 0);
    /* a subkey whose binding has no key flags: usages from its algorithm, never the key's */
    b0[0].has_key_flags = false;
    k.n_subkeys = 1;
    lines = 100;
    out = render(&k, false, 400, &lines);
    assert_non_null(strstr(out, "K AAAAAAAAAAAAAAAA valid 1970-01-01 encrypt,\n"));
    b0[0].has_key_flags = true;
    b0[0].key_flags = 0;
    out = render(&k, false, 400, &lines);
    assert_non_null(strstr(out, "K AAAAAAAAAAAAAAAA valid 1970-01-01 none,\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fingerprint_blocks),
        cmocka_unit_test(usages),
        cmocka_unit_test(uid_status),
        cmocka_unit_test(key_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
