/* gw-ldap/filter.c: RFC 4515 filters as slapd writes them, bounds, three-valued matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gw-ldap/gwl.h"

static gwl_filter *parse(gwl_arena *a, const char *s, unsigned max, int *rc)
{
    gwl_filter *f;
    oks_err e;
    *rc = gwl_filter_parse(s, strlen(s), max, a, &f, &e);
    return f;
}

static void parses_every_form(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    int rc;
    gwl_filter *f = parse(&a, "(&(pgpCertID=0123456789abcdef)(!(|(pgpRevoked=1)(pgpDisabled=1))))",
                          16, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(f->type, GWL_F_AND);
    assert_int_equal(f->n_kids, 2);
    assert_string_equal(f->kids[0]->attr, "pgpcertid");
    assert_string_equal(f->kids[0]->value.p, "0123456789abcdef");
    assert_int_equal(f->kids[1]->type, GWL_F_NOT);
    f = parse(&a, "(pgpUserID=*alice\\2aexample*org)", 16, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(f->type, GWL_F_SUB);
    assert_null(f->initial.p);
    assert_int_equal(f->n_any, 1);
    assert_string_equal(f->any[0].p, "alice*example");
    assert_string_equal(f->final.p, "org");
    f = parse(&a, "(objectClass=*)", 16, &rc);
    assert_int_equal(f->type, GWL_F_PRESENT);
    f = parse(&a, "(pgpKeySize>=02048)", 16, &rc);
    assert_int_equal(f->type, GWL_F_GE);
    f = parse(&a, "(cn:caseExactMatch:=x)", 16, &rc);
    assert_int_equal(f->type, GWL_F_EXT);
    f = parse(&a, "(?=false)", 16, &rc);
    assert_int_equal(f->type, GWL_F_FALSE);
    f = parse(&a, "(?=undefined)", 16, &rc);
    assert_int_equal(f->type, GWL_F_UNDEF);
    f = parse(&a, "(?bogusAttr=1)", 16, &rc);
    assert_int_equal(rc, 0);
    assert_true(f->undefined_attr);
    f = parse(&a, "(&)", 16, &rc);
    assert_int_equal(f->type, GWL_F_TRUE);
    f = parse(&a, "(|)", 16, &rc);
    assert_int_equal(f->type, GWL_F_FALSE);
    f = parse(&a, "(cn;lang-de=x)", 16, &rc);
    assert_true(f->has_options);
    assert_string_equal(f->attr, "cn");
    f = parse(&a, "(2.5.4.3=x)", 16, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(f->attr, "2.5.4.3");
    gwl_arena_release(&a);
}

static void malformed_filters_are_format_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "(",           ")",          "pgpCertID=1", "(pgpCertID=1",
        "(pgpCertID=1))", "(=1)",     "(pgpCertID~1)", "(a=\\4)",   "(a=\\zz)",
        "(a=b(c)",    "(&(a=1)",     "(!(a=1)(b=2))", "(a=*b**c)", "(1..2=x)",
        "(a;=x)",     "(?=)",        "(a:=x",      "(a:dn)",      "(a=1)x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gwl_arena a;
        gwl_arena_init(&a);
        gwl_filter *f;
        oks_err e;
        int rc = gwl_filter_parse(bad[i], strlen(bad[i]), 16, &a, &f, &e);
        if (rc != OKS_E_FORMAT)
            fail_msg("%s: %d", bad[i], rc);
        assert_null(f);
        gwl_arena_release(&a);
    }
    /* a NUL inside the string is never read past n, nor accepted */
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_filter *f;
    oks_err e;
    assert_int_equal(gwl_filter_parse("(a=b\0c)", 7, 16, &a, &f, &e), OKS_E_FORMAT);
    assert_int_equal(gwl_filter_parse("(a=b)", 3, 16, &a, &f, &e), OKS_E_FORMAT);
    gwl_arena_release(&a);
}

static void size_and_depth_are_bounded(void **state)
{
    (void)state;
    char s[4096];
    size_t k = 0;
    for (int i = 0; i < 40; i++)
        k += (size_t)sprintf(s + k, "(!");
    k += (size_t)sprintf(s + k, "(a=1)");
    for (int i = 0; i < 40; i++)
        s[k++] = ')';
    s[k] = 0;
    gwl_arena a;
    gwl_arena_init(&a);
    int rc;
    parse(&a, s, 1000, &rc);
    assert_int_equal(rc, OKS_E_LIMIT); /* deeper than GWL_FILTER_MAX_DEPTH */
    parse(&a, "(|(a=1)(a=2)(a=3)(a=4))", 4, &rc);
    assert_int_equal(rc, OKS_E_LIMIT); /* 5 terms */
    parse(&a, "(|(a=1)(a=2)(a=3))", 4, &rc);
    assert_int_equal(rc, 0);
    k = (size_t)sprintf(s, "(|");
    for (int i = 0; i < 70; i++)
        k += (size_t)sprintf(s + k, "(a=%d)", i);
    sprintf(s + k, ")");
    parse(&a, s, 1000, &rc);
    assert_int_equal(rc, OKS_E_LIMIT); /* more operands than one node takes */
    gwl_arena_release(&a);
}

static void entry(gwl_entry *en, gwl_arena *a)
{
    gwl_entry_init(en, a, "pgpCertID=0123456789ABCDEF,ou=GnuPG Keys,o=X");
    gwl_entry_adds(en, "objectClass", "pgpKeyInfo");
    gwl_entry_adds(en, "pgpCertID", "0123456789ABCDEF");
    gwl_entry_adds(en, "pgpUserID", "Ãlice  Example <alice@example.org>");
    gwl_entry_adds(en, "pgpRevoked", "0");
    gwl_entry_adds(en, "pgpKeySize", "02048");
}

static gwl_tri eval(gwl_arena *a, const gwl_entry *en, const char *s)
{
    int rc;
    gwl_filter *f = parse(a, s, 64, &rc);
    assert_int_equal(rc, 0);
    return gwl_filter_match(f, en);
}

static void matching_is_three_valued_and_case_ignoring(void **state)
{
    (void)state;
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_entry en;
    entry(&en, &a);
    assert_int_equal(eval(&a, &en, "(pgpcertid=0123456789abcdef)"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpUserID=*ãlice example*)"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpUserID=*<alice@example.org>*)"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpUserID=ãlice*org>)"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpUserID=*bob*)"), GWL_FALSE);
    assert_int_equal(eval(&a, &en, "(&(pgpCertID=0123456789ABCDEF)(!(|(pgpRevoked=1)(pgpDisabled=1))))"),
                     GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpKeySize>=01024)"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(pgpKeySize<=01024)"), GWL_FALSE);
    assert_int_equal(eval(&a, &en, "(gpgMailbox=*)"), GWL_FALSE);
    assert_int_equal(eval(&a, &en, "(objectClass=*)"), GWL_TRUE);
    /* undefined parts: AND with undefined is undefined, OR with true is true, NOT keeps it */
    assert_int_equal(eval(&a, &en, "(?x=1)"), GWL_UNDEFINED);
    assert_int_equal(eval(&a, &en, "(&(pgpRevoked=0)(?x=1))"), GWL_UNDEFINED);
    assert_int_equal(eval(&a, &en, "(|(pgpRevoked=0)(?x=1))"), GWL_TRUE);
    assert_int_equal(eval(&a, &en, "(!(?x=1))"), GWL_UNDEFINED);
    assert_int_equal(eval(&a, &en, "(&(pgpRevoked=1)(?x=1))"), GWL_FALSE);
    assert_int_equal(eval(&a, &en, "(cn:dn:=x)"), GWL_UNDEFINED);
    gwl_arena_release(&a);
}

static void folding_follows_case_ignore(void **state)
{
    (void)state;
    char out[64];
    const char *in = "  Ab\tÉÇ  Ωx ";
    size_t n = gwl_fold(in, strlen(in), out, true);
    out[n] = 0;
    assert_string_equal(out, "ab éç ωx");
    n = gwl_fold(" A ", 3, out, false);
    out[n] = 0;
    assert_string_equal(out, " a ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_form),
        cmocka_unit_test(malformed_filters_are_format_errors),
        cmocka_unit_test(size_and_depth_are_bounded),
        cmocka_unit_test(matching_is_three_valued_and_case_ignoring),
        cmocka_unit_test(folding_follows_case_ignore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
