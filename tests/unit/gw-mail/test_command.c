/* gw-mail/command.c: Subject commands, the reply policy, the MGET matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-mail/mail.h"

static void commands_are_case_insensitive_with_arguments(void **state)
{
    (void)state;
    oks_mail_cmd c;
    oks_mail_cmd_parse("  get  Alice Example ", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_GET);
    assert_string_equal(c.arg, "Alice Example");
    assert_string_equal(c.error, "");
    oks_mail_cmd_parse("Verbose\tIndex bob", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_VINDEX);
    assert_string_equal(c.arg, "bob");
    oks_mail_cmd_parse("INDEX bob", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_INDEX);
    oks_mail_cmd_parse("help", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_HELP);
    oks_mail_cmd_parse("ADD", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_ADD);
    oks_mail_cmd_parse("mget ^alice", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_MGET);
    assert_string_equal(c.arg, "^alice");
    oks_mail_cmd_parse("Incremental", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_INCREMENTAL);
}

static void command_words_need_a_word_boundary(void **state)
{
    (void)state;
    oks_mail_cmd c;
    oks_mail_cmd_parse("indexfoo", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_UNKNOWN);
    oks_mail_cmd_parse("GETTER x", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_UNKNOWN);
    oks_mail_cmd_parse("Re: GET x", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_UNKNOWN);
}

static void missing_subject_is_none(void **state)
{
    (void)state;
    oks_mail_cmd c;
    oks_mail_cmd_parse(NULL, 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_NONE);
    oks_mail_cmd_parse("   ", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_NONE);
}

static void malformed_arguments_carry_an_error(void **state)
{
    (void)state;
    oks_mail_cmd c;
    oks_mail_cmd_parse("GET", 30, &c);
    assert_int_equal(c.kind, OKS_MAIL_CMD_GET);
    assert_string_not_equal(c.error, "");
    oks_mail_cmd_parse("LAST 7", 30, &c);
    assert_string_equal(c.error, "");
    oks_mail_cmd_parse("LAST 31", 30, &c);
    assert_string_not_equal(c.error, "");
    oks_mail_cmd_parse("LAST 0", 30, &c);
    assert_string_not_equal(c.error, "");
    oks_mail_cmd_parse("LAST seven", 30, &c);
    assert_string_not_equal(c.error, "");
    oks_mail_cmd_parse("MGET x", 30, &c);
    assert_string_not_equal(c.error, "");
}

static oks_mail_msg msg_from(char *from)
{
    oks_mail_msg m;
    memset(&m, 0, sizeof(m));
    m.from = from;
    return m;
}

static void policy_answers_ordinary_mail(void **state)
{
    (void)state;
    oks_mail_policy pol = {"keyserver@localhost", NULL, 0};
    oks_mail_msg m = msg_from("alice@localhost");
    oks_mail_cmd c;
    const char *why;
    oks_mail_cmd_parse("GET x", 30, &c);
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_ANSWER);
}

static void policy_never_answers_bounces_auto_and_bulk(void **state)
{
    (void)state;
    oks_mail_policy pol = {"keyserver@localhost", NULL, 0};
    oks_mail_cmd c;
    const char *why;
    oks_mail_cmd_parse("GET x", 30, &c);
    oks_mail_msg m = msg_from("alice@localhost");
    m.null_return_path = true;
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    m = msg_from("MAILER-DAEMON@example.org");
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    m = msg_from("alice@localhost");
    m.auto_submitted = true;
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    m = msg_from("alice@localhost");
    m.precedence_bulk = true;
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    m = msg_from(NULL);
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
}

static void policy_never_answers_own_address(void **state)
{
    (void)state;
    oks_mail_policy pol = {"keyserver@localhost", NULL, 0};
    oks_mail_cmd c;
    const char *why;
    oks_mail_cmd_parse("HELP", 30, &c);
    oks_mail_msg m = msg_from("KeyServer@LOCALHOST");
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    m = msg_from("alice@localhost");
    m.reply_to = "<keyserver@localhost>";
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
    char *sent[] = {"keyserver@localhost"};
    m = msg_from("alice@localhost");
    m.ks_sent = sent;
    m.n_ks_sent = 1;
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
}

static void incremental_is_sync_only_from_configured_sites(void **state)
{
    (void)state;
    const char *sites[] = {"ks2@localhost"};
    oks_mail_policy pol = {"keyserver@localhost", sites, 1};
    oks_mail_cmd c;
    const char *why;
    oks_mail_cmd_parse("incremental", 30, &c);
    oks_mail_msg m = msg_from("ks2@localhost");
    m.precedence_bulk = true; /* incrementals carry Precedence: list */
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_SYNC);
    m = msg_from("mallory@localhost");
    assert_int_equal(oks_mail_decide(&m, &c, &pol, &why), OKS_MAIL_IGNORE);
}

static void mget_regex_matches_case_insensitively(void **state)
{
    (void)state;
    oks_mail_regex rx;
    oks_err e;
    assert_int_equal(oks_mail_regex_compile(&rx, "^alice.*@example\\.(org|net)", &e), 0);
    const char *u1 = "Alice Liddell <alice@EXAMPLE.net>", *u2 = "Bob <bob@example.org>";
    assert_true(oks_mail_regex_match(&rx, (const uint8_t *)u1, strlen(u1)));
    assert_false(oks_mail_regex_match(&rx, (const uint8_t *)u2, strlen(u2)));
    oks_mail_regex_release(&rx);
}

static void mget_regex_refuses_backrefs_big_counts_and_bad_sizes(void **state)
{
    (void)state;
    oks_mail_regex rx;
    oks_err e;
    assert_int_equal(oks_mail_regex_compile(&rx, "(a)\\1", &e), OKS_E_UNSUPPORTED);
    assert_int_equal(oks_mail_regex_compile(&rx, "a{1000}", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "a{1,1000}", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "a{2,}", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "^(ab+++++++++++)", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "((((a))))", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "a?b?c?d?e?f?g?h?i?j?k?l?m?n?o?p?q?", &e),
                     OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "[+*?(]+x", &e), 0); /* literals in brackets */
    oks_mail_regex_release(&rx);
    assert_int_equal(oks_mail_regex_compile(&rx, "a", &e), OKS_E_LIMIT);
    assert_int_equal(oks_mail_regex_compile(&rx, "(ab", &e), OKS_E_FORMAT);
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(oks_mail_regex_compile(&rx, big, &e), OKS_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_are_case_insensitive_with_arguments),
        cmocka_unit_test(command_words_need_a_word_boundary),
        cmocka_unit_test(missing_subject_is_none),
        cmocka_unit_test(malformed_arguments_carry_an_error),
        cmocka_unit_test(policy_answers_ordinary_mail),
        cmocka_unit_test(policy_never_answers_bounces_auto_and_bulk),
        cmocka_unit_test(policy_never_answers_own_address),
        cmocka_unit_test(incremental_is_sync_only_from_configured_sites),
        cmocka_unit_test(mget_regex_matches_case_insensitively),
        cmocka_unit_test(mget_regex_refuses_backrefs_big_counts_and_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
