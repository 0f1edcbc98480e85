/* gw-ldap/sockreq.c: slapd back-sock requests (slapd-sock(5)) as slapd 2.5 writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-ldap/gwl.h"

static int parse(gwl_arena *a, const char *t, gwl_req *r)
{
    oks_err e;
    return gwl_req_parse(t, strlen(t), a, r, &e);
}

static void search_lines(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_req r;
    const char *t = "SEARCH\nmsgid: 7\nsuffix: o=OpenKeyServer\nbase: ou=GnuPG Keys,o=OpenKeyServer\n"
                    "scope: 2\nderef: 0\nsizelimit: 100\ntimelimit: -1\n"
                    "filter: (pgpCertID=0123456789abcdef)\nattrsonly: 0\n"
                    "attrs: pgpKey pgpcertid\nbinddn: \npeername: IP=127.0.0.1:4000\n\n";
    assert_int_equal(parse(&a, t, &r), 0);
    assert_int_equal(r.op, GWL_OP_SEARCH);
    assert_int_equal(r.msgid, 7);
    assert_string_equal(r.suffix, "o=OpenKeyServer");
    assert_string_equal(r.dn, "ou=GnuPG Keys,o=OpenKeyServer");
    assert_int_equal(r.scope, GWL_SCOPE_SUB);
    assert_int_equal(r.sizelimit, 100);
    assert_int_equal(r.timelimit, -1);
    assert_string_equal(r.filter, "(pgpCertID=0123456789abcdef)");
    assert_false(r.all_attrs);
    assert_int_equal(r.n_attrs, 2);
    assert_true(gwl_req_wants(&r, "pgpKey"));
    assert_true(gwl_req_wants(&r, "pgpCertID"));
    assert_false(gwl_req_wants(&r, "pgpUserID"));
    t = "SEARCH\nmsgid: 1\nbase: \nscope: 0\nfilter: (objectClass=*)\nattrs: all\n\n";
    assert_int_equal(parse(&a, t, &r), 0);
    assert_true(r.all_attrs);
    assert_true(gwl_req_wants(&r, "anything"));
    /* "1.1": no attributes */
    t = "SEARCH\nbase: o=x\nfilter: (a=1)\nattrs: 1.1\n\n";
    assert_int_equal(parse(&a, t, &r), 0);
    assert_false(gwl_req_wants(&r, "pgpKey"));
    gwl_arena_release(&a);
}

static void add_and_modify_carry_ldif(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_req r;
    /* "LS0t" is base64 of "---"; the value is folded over two lines */
    const char *t = "ADD\nmsgid: 3\nsuffix: o=X\ndn: pgpCertID=01,ou=GnuPG Keys,o=X\n"
                    "objectClass: pgpKeyInfo\npgpKey:: LS0tLS1C\n RUdJTg==\npgpUserID: a\npgpUserID: b\n\n";
    assert_int_equal(parse(&a, t, &r), 0);
    assert_int_equal(r.op, GWL_OP_ADD);
    assert_string_equal(r.dn, "pgpCertID=01,ou=GnuPG Keys,o=X");
    assert_int_equal(r.n_items, 3);
    assert_string_equal(r.items[1].name, "pgpKey");
    assert_int_equal(r.items[1].v[0].n, 10);
    assert_memory_equal(r.items[1].v[0].p, "-----BEGIN", 10);
    assert_int_equal(r.items[2].n, 2);
    /* dirmngr's modify: attributes deleted, then added */
    t = "MODIFY\nmsgid: 4\nsuffix: o=X\ndn: pgpCertID=01,ou=GnuPG Keys,o=X\n"
        "delete: pgpDisabled\n-\ndelete: pgpKeyID\n-\nadd: pgpKey\npgpKey: abc\n-\n\n";
    assert_int_equal(parse(&a, t, &r), 0);
    assert_int_equal(r.op, GWL_OP_MODIFY);
    assert_int_equal(r.n_items, 3);
    assert_int_equal(r.items[0].mod, GWL_MOD_DELETE);
    assert_int_equal(r.items[0].n, 0);
    assert_int_equal(r.items[2].mod, GWL_MOD_ADD);
    assert_string_equal(r.items[2].v[0].p, "abc");
    gwl_arena_release(&a);
}

static void other_commands_and_crlf(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_req r;
    assert_int_equal(parse(&a, "UNBIND\r\nmsgid: 9\r\n\r\n", &r), 0);
    assert_int_equal(r.op, GWL_OP_UNBIND);
    assert_int_equal(r.msgid, 9);
    /* BIND credentials may be any bytes */
    assert_int_equal(parse(&a, "BIND\nmsgid: 2\ndn: cn=x,o=X\nmethod: 128\ncredlen: 3\ncred: a:b\n\n", &r), 0);
    assert_int_equal(r.op, GWL_OP_BIND);
    assert_string_equal(r.dn, "cn=x,o=X");
    assert_int_equal(parse(&a, "DELETE\nmsgid: 5\ndn: cn=y\n\n", &r), 0);
    assert_int_equal(r.op, GWL_OP_DELETE);
    gwl_arena_release(&a);
}

static void malformed_requests_are_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "\n\n",
        " continuation first\n\n",
        "FROBNICATE\n\n",
        "msgid: 1\n\n",
        "SEARCH\nbase: o=x\n\n",                       /* no filter */
        "SEARCH\nfilter: (a=1)\n\n",                   /* no base */
        "SEARCH\nbase: o=x\nfilter: (a=1)\nscope: 9\n\n",
        "SEARCH\nbase: o=x\nfilter: (a=1)\nsizelimit: 1x\n\n",
        "SEARCH\nbase: o=x\nfilter: (a=1)\nbare line\n\n",
        "ADD\nmsgid: 1\n\n",                           /* no dn */
        "ADD\ndn: o=x\npgpKey:: !!!!\n\n",             /* bad base64 */
        "ADD\ndn: o=x\npgpKey:< file:///etc/passwd\n\n", /* URL values */
        "MODIFY\ndn: o=x\nreplace: pgpKey\npgpKey: a\n\n", /* no "-" */
        "MODIFY\ndn: o=x\nreplace: pgpKey\ncn: a\n-\n\n",  /* another attribute's value */
        "MODIFY\ndn: o=x\nfrob: pgpKey\n-\n\n",
        "MODIFY\ndn: o=x\n-\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gwl_arena a;
        gwl_arena_init(&a);
        gwl_req r;
        int rc = parse(&a, bad[i], &r);
        if (rc != OKS_E_FORMAT)
            fail_msg("request %zu: %d", i, rc);
        gwl_arena_release(&a);
    }
}

static void counts_are_bounded(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_req r;
    oks_buf t = OKS_BUF_INIT;
    oks_buf_printf(&t, "ADD\ndn: o=x\n");
    for (int i = 0; i < GWL_REQ_MAX_VALUES + 1; i++)
        oks_buf_printf(&t, "pgpUserID: %d\n", i);
    oks_buf_printf(&t, "\n");
    oks_err e;
    assert_int_equal(gwl_req_parse((char *)t.data, t.len, &a, &r, &e), OKS_E_LIMIT);
    t.len = 0;
    oks_buf_printf(&t, "ADD\ndn: o=x\n");
    for (int i = 0; i < GWL_REQ_MAX_ATTRS + 1; i++)
        oks_buf_printf(&t, "a%d: x\n", i);
    oks_buf_printf(&t, "\n");
    assert_int_equal(gwl_req_parse((char *)t.data, t.len, &a, &r, &e), OKS_E_LIMIT);
    oks_buf_release(&t);
    gwl_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_lines),
        cmocka_unit_test(add_and_modify_carry_ldif),
        cmocka_unit_test(other_commands_and_crlf),
        cmocka_unit_test(malformed_requests_are_errors),
        cmocka_unit_test(counts_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
