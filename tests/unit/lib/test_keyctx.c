/* lib/keyctx: one key as a template context, rendered through lib/tmpl: the names and values
 * both gateways' templates use, signatures only when asked, control characters in user IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/keyctx.h"

static const char tmpl[] =
    "{{#keys}}{{fpr}} {{keyid}} {{algo}}{{bits}} {{created}}{{#expires}} x{{expires}}{{/expires}}"
    "{{#revoked}} R{{/revoked}}\n"
    "{{#uids}}uid {{{uid}}}\n{{#sigs}}sig [{{issuer}}] {{type}} {{created}} {{#self}}self{{/self}}"
    "\n{{/sigs}}{{/uids}}{{#subkeys}}sub {{keyid}} {{algo}}{{bits}} {{created}}\n{{/subkeys}}"
    "{{/keys}}";

static char *render(const oks_pgp_key *k, bool sigs)
{
    static oks_buf out;
    oks_err e;
    out.len = 0;
    oks_tmpl *t = oks_tmpl_new();
    oks_tmpl *kt = oks_tmpl_push(t, "keys");
    assert_int_equal(oks_keyctx_key(kt, k, sigs), 0);
    assert_int_equal(oks_tmpl_render_text(tmpl, strlen(tmpl), t, &out, &e), 0);
    oks_buf_terminate(&out);
    oks_tmpl_free(t);
    return (char *)out.data;
}

static void key_as_context(void **state)
{
    (void)state;
    oks_pgp_sig sigs[2] = {0};
    sigs[0].type = 0x13;
    sigs[0].created = 86400;
    sigs[0].has_issuer = true;
    memcpy(sigs[0].issuer, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    sigs[1].type = 0x10;
    sigs[1].created = 2 * 86400; /* no issuer: a third party that cannot be named */
    oks_pgp_uid uids[2] = {{OKS_PGP_TAG_UID, (const uint8_t *)"A\tB\x7f <a@b>", 10, {sigs, 2}},
                           {OKS_PGP_TAG_UAT, (const uint8_t *)"\x01", 1, {NULL, 0}}};
    oks_pgp_subkey sub = {0};
    sub.key.algo = 18;
    sub.key.bits = 255;
    sub.key.created = 1700000000;
    memcpy(sub.key.keyid, "\xaa\xbb\xcc\xdd\xee\xff\x00\x01", 8);
    oks_pgp_key k = {0};
    k.primary.algo = 22;
    k.primary.bits = 255;
    k.primary.created = 0;
    k.primary.fpr_len = 20;
    memset(k.primary.fpr, 0xab, 20);
    memcpy(k.primary.keyid, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    k.uids = uids;
    k.n_uids = 2;
    k.subkeys = &sub;
    k.n_subkeys = 1;
    char want[1024];
    snprintf(want, sizeof want,
             "ABABABABABABABABABABABABABABABABABABABAB 1122334455667788 %s255 1970-01-01\n"
             "uid A?B? <a@b>\n"
             "sig [1122334455667788] 0x13 1970-01-02 self\n"
             "sig [] 0x10 1970-01-03 \n"
             "uid [user attribute]\n"
             "sub AABBCCDDEEFF0001 %s255 2023-11-14\n",
             oks_pgp_algo_name(22), oks_pgp_algo_name(18));
    assert_string_equal(render(&k, true), want);
    /* without signatures */
    char *nosig = render(&k, false);
    assert_null(strstr(nosig, "sig "));
    assert_non_null(strstr(nosig, "uid A?B? <a@b>\nuid [user attribute]\nsub "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_as_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
