/* gw-ldap/plan.c: filters -> cluster lookups, refusals of unbounded and oversized filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-ldap/gwl.h"

static int plan(const char *s, gwl_plan *p, const char **why)
{
    gwl_arena a;
    gwl_arena_init(&a);
    gwl_filter *f;
    oks_err e;
    assert_int_equal(gwl_filter_parse(s, strlen(s), 64, &a, &f, &e), 0);
    *why = NULL;
    int rc = gwl_plan_keys(f, 4, 3, p, why);
    gwl_arena_release(&a);
    return rc;
}

static void dirmngr_filters_become_one_lookup(void **state)
{
    (void)state;
    gwl_plan p;
    const char *why;
    /* receive by fingerprint: primary or subkey fingerprint, one fan-out lookup */
    assert_int_equal(plan("(|(gpgfingerprint=0123456789abcdef0123456789abcdef01234567)"
                          "(gpgsubfingerprint=0123456789abcdef0123456789abcdef01234567))", &p, &why), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.v[0].kind, GWL_LK_FPR_SUB);
    assert_int_equal(p.v[0].id_len, 20);
    assert_int_equal(p.v[0].id[19], 0x67);
    assert_int_equal(plan("(pgpcertid=0123456789abcdef)", &p, &why), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.v[0].kind, GWL_LK_KEYID);
    assert_int_equal(plan("(pgpkeyid=89abcdef)", &p, &why), 0);
    assert_int_equal(p.v[0].kind, GWL_LK_SHORTID);
    assert_int_equal(p.v[0].id_len, 4);
    /* search by mailbox, without revoked or disabled keys: the AND takes its bounded part */
    assert_int_equal(plan("(&(gpgmailbox=alice@example.org)(!(|(pgprevoked=1)(pgpdisabled=1))))",
                          &p, &why), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.v[0].kind, GWL_LK_EMAIL);
    assert_string_equal(p.v[0].text, "alice@example.org");
    /* search by words of a user ID */
    assert_int_equal(plan("(pgpuserid=*alice example*)", &p, &why), 0);
    assert_int_equal(p.v[0].kind, GWL_LK_WORDS);
    assert_string_equal(p.v[0].text, "alice example");
    /* an AND prefers the cheapest lookup */
    assert_int_equal(plan("(&(pgpuserid=*alice*)(pgpcertid=0123456789abcdef))", &p, &why), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.v[0].kind, GWL_LK_KEYID);
    /* address books: mail and cn are gpgMailbox and pgpUserID; sn is on no key entry */
    assert_int_equal(plan("(|(cn=*smith*)(mail=*smith*)(sn=*smith*))", &p, &why), 0);
    assert_int_equal(p.n, 1); /* the same words twice: one lookup */
    assert_int_equal(plan("(mail=bob@example.org)", &p, &why), 0);
    assert_int_equal(p.v[0].kind, GWL_LK_EMAIL);
}

static void filters_no_key_can_match_need_no_lookup(void **state)
{
    (void)state;
    gwl_plan p;
    const char *why;
    static const char *const never[] = {
        "(pgpcertid=xyz)", "(gpgfingerprint=0123)", "(sn=smith)", "(?foo=1)", "(|)",
        "(objectclass=person)", "(&(pgpcertid=0123456789abcdef)(?=false))",
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        int rc = plan(never[i], &p, &why);
        if (rc != 0 || !p.never)
            fail_msg("%s: rc %d never %d", never[i], rc, p.never);
    }
}

static void unbounded_filters_are_refused(void **state)
{
    (void)state;
    gwl_plan p;
    const char *why;
    static const char *const unbounded[] = {
        "(objectclass=*)",
        "(objectclass=pgpkeyinfo)",
        "(&)",
        "(pgpuserid=*a*)",                       /* no word of min_word_length */
        "(pgpuserid=*)",
        "(!(pgprevoked=1))",
        "(pgpkeytype=rsa)",
        "(pgpcertid=*0123*)",                    /* key IDs by equality only */
        "(pgpkeycreatetime>=20200101000000z)",
        "(|(pgpcertid=0123456789abcdef)(pgpkeysize=02048))", /* one unbounded OR branch */
    };
    for (size_t i = 0; i < sizeof unbounded / sizeof unbounded[0]; i++) {
        int rc = plan(unbounded[i], &p, &why);
        if (rc != GWL_LDAP_UNWILLING)
            fail_msg("%s: rc %d", unbounded[i], rc);
        assert_non_null(why);
    }
}

static void too_many_lookups_are_refused(void **state)
{
    (void)state;
    gwl_plan p;
    const char *why;
    assert_int_equal(plan("(|(pgpuserid=*alpha*)(pgpuserid=*bravo*)(pgpuserid=*charlie*)"
                          "(pgpuserid=*delta*))", &p, &why), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(plan("(|(pgpuserid=*alpha*)(pgpuserid=*bravo*)(pgpuserid=*charlie*)"
                          "(pgpuserid=*delta*)(pgpuserid=*echo*))", &p, &why),
                     GWL_LDAP_ADMINLIMIT);
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dirmngr_filters_become_one_lookup),
        cmocka_unit_test(filters_no_key_can_match_need_no_lookup),
        cmocka_unit_test(unbounded_filters_are_refused),
        cmocka_unit_test(too_many_lookups_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
