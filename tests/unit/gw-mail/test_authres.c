/* gw-mail/authres.c: Authentication-Results parsing, and which reply addresses count as
 * authenticated (only the first header of the configured authserv-id, aligned domains). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-mail/mail.h"

static void parses_results_properties_comments_and_quotes(void **state)
{
    (void)state;
    oks_mail_authres a;
    oks_err e;
    assert_int_equal(oks_mail_authres_parse(
                         "MX.Example.org 1; (a comment (nested)) dkim=pass (good sig) "
                         "header.d=Example.com header.s=sel; spf=fail smtp.mailfrom=\"x@y.z\"; "
                         "dmarc/1=pass reason=\"aligned; ok\" header.from=example.com",
                         &a, &e),
                     0);
    assert_string_equal(a.authserv_id, "mx.example.org");
    assert_int_equal(a.n, 3);
    assert_string_equal(a.res[0].method, "dkim");
    assert_string_equal(a.res[0].result, "pass");
    assert_int_equal(a.res[0].n_props, 2);
    assert_string_equal(a.res[0].prop[0].name, "header.d");
    assert_string_equal(a.res[0].prop[0].value, "Example.com");
    assert_string_equal(a.res[1].method, "spf");
    assert_string_equal(a.res[1].result, "fail");
    assert_string_equal(a.res[1].prop[0].value, "x@y.z");
    assert_string_equal(a.res[2].method, "dmarc");
    assert_string_equal(a.res[2].prop[0].name, "header.from");

    assert_int_equal(oks_mail_authres_parse("mx.example.org; none", &a, &e), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(oks_mail_authres_parse("   ", &a, &e), OKS_E_FORMAT);
    assert_int_equal(oks_mail_authres_parse("id; =;;; x=; dkim=; (unclosed", &a, &e), 0);
}

static bool authenticated(const char *raw, const char *id)
{
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse_head(raw, strlen(raw), NULL, &m, &e), 0);
    bool r = oks_mail_reply_authenticated(&m, id, NULL);
    oks_mail_msg_release(&m);
    return r;
}

static void dmarc_dkim_or_spf_pass_for_the_reply_domain(void **state)
{
    (void)state;
    assert_true(authenticated("Authentication-Results: mx.test; dmarc=pass "
                              "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                              "mx.test"));
    assert_true(authenticated("Authentication-Results: mx.test; dkim=pass header.d=example.org "
                              "header.s=k\r\nFrom: a@Mail.Example.ORG\r\n\r\n",
                              "mx.test"));
    assert_true(authenticated("Authentication-Results: mx.test; spf=pass "
                              "smtp.mailfrom=bounce@example.org\r\nFrom: a@example.org\r\n\r\n",
                              "mx.test"));
    /* failures, other methods, unaligned domains */
    assert_false(authenticated("Authentication-Results: mx.test; dmarc=fail "
                               "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                               "mx.test"));
    assert_false(authenticated("Authentication-Results: mx.test; dkim=pass "
                               "header.d=example.org\r\nFrom: a@notexample.org\r\n\r\n",
                               "mx.test"));
    assert_false(authenticated("Authentication-Results: mx.test; dkim=pass "
                               "header.d=ample.org\r\nFrom: a@example.org\r\n\r\n",
                               "mx.test"));
    assert_false(authenticated("Authentication-Results: mx.test; iprev=pass "
                               "policy.iprev=192.0.2.1\r\nFrom: a@example.org\r\n\r\n",
                               "mx.test"));
    /* no authserv-id configured: nothing is trusted */
    assert_false(authenticated("Authentication-Results: mx.test; dmarc=pass "
                               "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                               ""));
}

/* The attack: a Reply-To of someone else; the sender's own domain passes. */
static void forged_reply_to_is_not_authenticated(void **state)
{
    (void)state;
    assert_false(authenticated("Authentication-Results: mx.test; dmarc=pass "
                               "header.from=attacker.example; dkim=pass header.d=attacker.example; "
                               "spf=pass smtp.mailfrom=attacker.example\r\n"
                               "From: a@attacker.example\r\nReply-To: victim@victim.example\r\n\r\n",
                               "mx.test"));
}

static void headers_of_other_servers_and_of_the_sender_do_not_count(void **state)
{
    (void)state;
    /* another authserv-id */
    assert_false(authenticated("Authentication-Results: other.test; dmarc=pass "
                               "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                               "mx.test"));
    /* the receiving MTA's header (on top) says none; one the sender wrote below claims pass */
    assert_false(authenticated("Authentication-Results: mx.test; none\r\n"
                               "Received: from somewhere\r\n"
                               "Authentication-Results: mx.test; dmarc=pass "
                               "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                               "mx.test"));
    /* another server's header above ours is skipped, ours is read */
    assert_true(authenticated("Authentication-Results: relay.test; none\r\n"
                              "Authentication-Results: MX.test; dmarc=pass "
                              "header.from=example.org\r\nFrom: a@example.org\r\n\r\n",
                              "mx.test"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_results_properties_comments_and_quotes),
        cmocka_unit_test(dmarc_dkim_or_spf_pass_for_the_reply_domain),
        cmocka_unit_test(forged_reply_to_is_not_authenticated),
        cmocka_unit_test(headers_of_other_servers_and_of_the_sender_do_not_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
