/* gw-mail/parse.c: header fields, Subject decoding, bodies and attachments of fetched mails,
 * limits, and the libetpan boundary crash mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-mail/mail.h"

static int parse(const char *raw, oks_mail_msg *m)
{
    oks_err e;
    return oks_mail_parse(raw, strlen(raw), NULL, m, &e);
}

static void reads_sender_reply_to_message_id_and_subject(void **state)
{
    (void)state;
    oks_mail_msg m;
    const char *raw = "Return-Path: <alice@example.org>\r\n"
                      "From: Alice <alice@example.org>\r\n"
                      "Reply-To: Alice Other <other@example.org>\r\n"
                      "To: keyserver@localhost\r\n"
                      "Message-ID: <abc.123@example.org>\r\n"
                      "References: <r1@x> <r2@x>\r\n"
                      "Subject: GET alice\r\n\r\nhello\r\n";
    assert_int_equal(parse(raw, &m), 0);
    assert_string_equal(m.from, "alice@example.org");
    assert_string_equal(m.reply_to, "other@example.org");
    assert_string_equal(oks_mail_reply_address(&m), "other@example.org");
    assert_string_equal(m.message_id, "abc.123@example.org");
    assert_string_equal(m.references, "r1@x r2@x");
    assert_string_equal(m.subject, "GET alice");
    assert_true(m.has_return_path);
    assert_false(m.null_return_path);
    assert_string_equal((char *)m.text.data, "hello\r\n");
    oks_mail_msg_release(&m);
}

static void from_is_reply_address_without_reply_to(void **state)
{
    (void)state;
    oks_mail_msg m;
    assert_int_equal(parse("From: bob@example.org\nSubject: HELP\n\n", &m), 0);
    assert_null(m.reply_to);
    assert_string_equal(oks_mail_reply_address(&m), "bob@example.org");
    oks_mail_msg_release(&m);
}

static void decodes_rfc2047_subject_and_unfolds(void **state)
{
    (void)state;
    oks_mail_msg m;
    assert_int_equal(parse("From: a@b.c\r\nSubject: =?utf-8?q?GET_J=C3=BCrgen?=\r\n"
                           " =?iso-8859-1?q?M=FCller?=\r\n\r\n",
                           &m),
                     0);
    assert_string_equal(m.subject, "GET J\xc3\xbcrgenM\xc3\xbcller");
    oks_mail_msg_release(&m);
}

static void flags_bounce_auto_submitted_and_bulk(void **state)
{
    (void)state;
    oks_mail_msg m;
    assert_int_equal(parse("Return-Path: <>\r\nFrom: MAILER-DAEMON@x.org\r\n"
                           "Auto-Submitted: auto-replied\r\nPrecedence: Bulk\r\n"
                           "Subject: x\r\n\r\n",
                           &m),
                     0);
    assert_true(m.null_return_path);
    assert_true(m.auto_submitted);
    assert_true(m.precedence_bulk);
    oks_mail_msg_release(&m);
    assert_int_equal(parse("From: a@b.c\r\nAuto-Submitted: no\r\nPrecedence: first-class\r\n\r\n",
                           &m),
                     0);
    assert_false(m.auto_submitted);
    assert_false(m.precedence_bulk);
    assert_false(m.null_return_path);
    oks_mail_msg_release(&m);
}

static void collects_x_keyserver_sent(void **state)
{
    (void)state;
    oks_mail_msg m;
    assert_int_equal(parse("From: ks1@a.org\r\nSubject: incremental\r\n"
                           "X-KeyServer-Sent: ks1@a.org\r\nX-Keyserver-Sent:  ks2@b.org \r\n\r\n",
                           &m),
                     0);
    assert_int_equal(m.n_ks_sent, 2);
    assert_string_equal(m.ks_sent[0], "ks1@a.org");
    assert_string_equal(m.ks_sent[1], "ks2@b.org");
    oks_mail_msg_release(&m);
}

static void finds_pgp_keys_attachment_and_text_part(void **state)
{
    (void)state;
    oks_mail_msg m;
    const char *raw =
        "From: a@b.c\r\nSubject: ADD\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nhi =C3=A9\r\n"
        "--XX\r\nContent-Type: text/html\r\n\r\n<p>ignored</p>\r\n"
        "--XX\r\nContent-Type: application/pgp-keys\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=k.asc\r\n\r\n"
        "LS0tLS1CRUdJTiBQR1AgUFVCTElDIEtFWSBCTE9DSy0tLS0t\r\n"
        "--XX--\r\n";
    assert_int_equal(parse(raw, &m), 0);
    assert_non_null(strstr((char *)m.text.data, "hi \xc3\xa9"));
    assert_null(strstr((char *)m.text.data, "ignored"));
    assert_int_equal(m.n_attachments, 1);
    assert_string_equal((char *)m.attachments[0].data, "-----BEGIN PGP PUBLIC KEY BLOCK-----");
    oks_mail_msg_release(&m);
}

static void attachments_over_the_limit_are_counted_and_dropped(void **state)
{
    (void)state;
    oks_mail_limits lim;
    oks_mail_limits_default(&lim);
    lim.max_attachments = 1;
    const char *raw = "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\nContent-Type: application/pgp-keys\r\n\r\nk1\r\n"
                      "--b\r\nContent-Type: application/pgp-keys\r\n\r\nk2\r\n"
                      "--b\r\nContent-Type: application/pgp-keys\r\n\r\nk3\r\n--b--\r\n";
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse(raw, strlen(raw), &lim, &m, &e), 0);
    assert_int_equal(m.n_attachments, 1);
    assert_int_equal(m.attachments_dropped, 2);
    oks_mail_msg_release(&m);
}

static void oversize_mail_is_refused_with_limit(void **state)
{
    (void)state;
    oks_mail_limits lim;
    oks_mail_limits_default(&lim);
    lim.max_message_bytes = 10;
    oks_mail_msg m;
    oks_err e;
    const char *raw = "From: a@b.c\r\n\r\nlong body";
    assert_int_equal(oks_mail_parse(raw, strlen(raw), &lim, &m, &e), OKS_E_LIMIT);
    oks_mail_msg_release(&m);
}

static void digest_differs_for_different_mails(void **state)
{
    (void)state;
    oks_mail_msg a, b;
    assert_int_equal(parse("From: a@b.c\r\n\r\nx", &a), 0);
    assert_int_equal(parse("From: a@b.c\r\n\r\ny", &b), 0);
    assert_memory_not_equal(a.digest, b.digest, 32);
    oks_mail_msg_release(&a);
    oks_mail_msg_release(&b);
}

/* libetpan 1.9.4 crashed in mailmime_extract_boundary on this mail (boundary unquotes to '"') */
static void quoted_quote_boundary_does_not_crash(void **state)
{
    (void)state;
    oks_mail_msg m;
    const char *raw = "From: a@b.c\r\nSubject: GET x\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n\r\nbody\r\n";
    oks_err e;
    int r = oks_mail_parse(raw, strlen(raw), NULL, &m, &e);
    assert_true(r == 0 || r == OKS_E_FORMAT);
    oks_mail_msg_release(&m);
}

static void garbage_does_not_crash(void **state)
{
    (void)state;
    const char *inputs[] = {"\r\n\r\n", "no colon line\r\n", ":\r\n\r\n", "From:\r\n\r\n",
                            "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        oks_mail_msg m;
        oks_err e;
        (void)oks_mail_parse(inputs[i], strlen(inputs[i]), NULL, &m, &e);
        oks_mail_msg_release(&m);
    }
}

/* The attack mail: n multiparts nested in one another (14,000 fit in 1 MiB), with headers that
 * come before the body; the caller frees it. */
static char *nested_mail(int n, const char *extra_header, size_t *len)
{
    size_t cap = (size_t)n * 80 + 512, o = 0;
    char *m = malloc(cap);
    assert_non_null(m);
    o += (size_t)snprintf(m + o, cap - o, "From: alice@example.org\r\nSubject: ADD\r\n%s"
                          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\""
                          "\r\n\r\n", extra_header);
    for (int i = 1; i < n; i++)
        o += (size_t)snprintf(m + o, cap - o, "--b%d\r\nContent-Type: multipart/mixed; "
                              "boundary=\"b%d\"\r\n\r\n", i - 1, i);
    o += (size_t)snprintf(m + o, cap - o, "--b%d\r\n\r\nx\r\n", n - 1);
    for (int i = n - 1; i >= 0; i--)
        o += (size_t)snprintf(m + o, cap - o, "--b%d--\r\n", i);
    *len = o;
    return m;
}

static void nested_multiparts_are_refused_before_libetpan_parses_them(void **state)
{
    (void)state;
    size_t len;
    char *raw = nested_mail(14000, "", &len);
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse(raw, len, NULL, &m, &e), OKS_E_LIMIT);
    assert_non_null(strstr(e.msg, "more than 16 multipart"));
    assert_false(m.body_parsed);
    oks_mail_msg_release(&m);
    free(raw);
}

static void nesting_and_part_count_over_the_limits_are_errors(void **state)
{
    (void)state;
    size_t len;
    char *raw = nested_mail(10, "", &len); /* 10 containers pass the scan, depth 10 > 8 */
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse(raw, len, NULL, &m, &e), OKS_E_LIMIT);
    assert_non_null(strstr(e.msg, "nested deeper than 8"));
    oks_mail_msg_release(&m);
    free(raw);
    char flat[4096];
    size_t o = (size_t)snprintf(flat, sizeof(flat), "From: a@b.c\r\nContent-Type: multipart/mixed;"
                                " boundary=b\r\n\r\n");
    for (int i = 0; i < 17; i++)
        o += (size_t)snprintf(flat + o, sizeof(flat) - o, "--b\r\n\r\npart %d\r\n", i);
    o += (size_t)snprintf(flat + o, sizeof(flat) - o, "--b--\r\n");
    assert_int_equal(oks_mail_parse(flat, o, NULL, &m, &e), OKS_E_LIMIT);
    assert_non_null(strstr(e.msg, "more than 16 MIME parts"));
    oks_mail_msg_release(&m);
}

/* The policy headers of the attack mail are read without its body being parsed. */
static void head_alone_reads_policy_headers_and_leaves_the_body(void **state)
{
    (void)state;
    size_t len;
    char *raw = nested_mail(14000, "Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n", &len);
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse_head(raw, len, NULL, &m, &e), 0);
    assert_true(m.auto_submitted);
    assert_true(m.precedence_bulk);
    assert_string_equal(m.subject, "ADD");
    assert_false(m.body_parsed);
    assert_int_equal(m.text.len, 0);
    oks_mail_msg_release(&m);
    free(raw);
}

/* libetpan's comment parser recursed once per "(": 200,000 of them overflowed the stack. */
static void deeply_nested_comments_are_refused(void **state)
{
    (void)state;
    size_t n = 200000;
    char *raw = malloc(n + 64);
    assert_non_null(raw);
    size_t o = (size_t)sprintf(raw, "From: ");
    memset(raw + o, '(', n);
    o += n;
    o += (size_t)sprintf(raw + o, "a@b.c\r\nSubject: GET x\r\n\r\n");
    oks_mail_msg m;
    oks_err e;
    assert_int_equal(oks_mail_parse_head(raw, o, NULL, &m, &e), OKS_E_LIMIT);
    assert_non_null(strstr(e.msg, "parentheses nested deeper"));
    oks_mail_msg_release(&m);
    free(raw);
    /* ordinary parentheses, also many on separate body lines, are fine */
    const char *ok = "From: (Alice (the (real) one)) a@b.c\r\nSubject: GET x\r\n\r\n"
                     ":( :( :( :( :( :( :( :( :( :(\r\n:( :( :( :( :(\r\n";
    assert_int_equal(oks_mail_parse(ok, strlen(ok), NULL, &m, &e), 0);
    oks_mail_msg_release(&m);
}

static void authentication_results_are_kept_in_order(void **state)
{
    (void)state;
    oks_mail_msg m;
    const char *raw = "Authentication-Results: mx.test; none\r\n"
                      "Authentication-Results: other; dkim=pass header.d=x\r\n"
                      "From: a@b.c\r\n\r\n";
    assert_int_equal(parse(raw, &m), 0);
    assert_int_equal(m.n_auth_results, 2);
    assert_string_equal(m.auth_results[0], "mx.test; none");
    assert_string_equal(m.auth_results[1], "other; dkim=pass header.d=x");
    oks_mail_msg_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_sender_reply_to_message_id_and_subject),
        cmocka_unit_test(from_is_reply_address_without_reply_to),
        cmocka_unit_test(decodes_rfc2047_subject_and_unfolds),
        cmocka_unit_test(flags_bounce_auto_submitted_and_bulk),
        cmocka_unit_test(collects_x_keyserver_sent),
        cmocka_unit_test(finds_pgp_keys_attachment_and_text_part),
        cmocka_unit_test(attachments_over_the_limit_are_counted_and_dropped),
        cmocka_unit_test(oversize_mail_is_refused_with_limit),
        cmocka_unit_test(digest_differs_for_different_mails),
        cmocka_unit_test(quoted_quote_boundary_does_not_crash),
        cmocka_unit_test(garbage_does_not_crash),
        cmocka_unit_test(nested_multiparts_are_refused_before_libetpan_parses_them),
        cmocka_unit_test(nesting_and_part_count_over_the_limits_are_errors),
        cmocka_unit_test(head_alone_reads_policy_headers_and_leaves_the_body),
        cmocka_unit_test(deeply_nested_comments_are_refused),
        cmocka_unit_test(authentication_results_are_kept_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
