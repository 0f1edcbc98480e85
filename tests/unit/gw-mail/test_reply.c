/* gw-mail/reply.c: reply headers, RFC 2047 encoding, MIME structure; replies parse back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-mail/mail.h"

static void header_encoding_leaves_ascii_alone(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_mail_header_encode("Your command, GET x", &b), 0);
    assert_int_equal(oks_buf_terminate(&b), 0);
    assert_string_equal((char *)b.data, "Your command, GET x");
    oks_buf_release(&b);
}

static void header_encoding_q_encodes_utf8_in_short_words(void **state)
{
    (void)state;
    oks_buf b = OKS_BUF_INIT;
    char long_text[400] = "GET J\xc3\xbcrgen ";
    for (size_t i = strlen(long_text); i < 300; i += 2)
        memcpy(long_text + i, "\xc3\xa9", 3);
    assert_int_equal(oks_mail_header_encode(long_text, &b), 0);
    assert_int_equal(oks_buf_terminate(&b), 0);
    const char *s = (char *)b.data;
    assert_true(strncmp(s, "=?utf-8?q?GET_J=C3=BCrgen_", 26) == 0);
    /* every encoded word is at most 75 characters and no UTF-8 sequence is split */
    for (const char *w = s; *w;) {
        size_t n = strcspn(w, " ");
        assert_true(n <= 75);
        assert_true(strncmp(w, "=?utf-8?q?", 10) == 0);
        assert_true(strncmp(w + n - 2, "?=", 2) == 0);
        assert_false(n >= 5 && strncmp(w + n - 5, "=C3", 3) == 0);
        w += n;
        while (*w == ' ')
            w++;
    }
    oks_buf_release(&b);
}

static void reply_has_threading_auto_submitted_and_parses_back(void **state)
{
    (void)state;
    const char *names[] = {"X-KeyServer-Sent"}, *values[] = {"keyserver@localhost"};
    oks_mail_reply r = {
        .from = "keyserver@localhost",
        .from_name = "OKS",
        .to = "alice@localhost",
        .subject = "Your command, GET J\xc3\xbcrgen",
        .in_reply_to = "req.1@example.org",
        .references = "old.0@example.org",
        .message_id = "reply.1@localhost",
        .text = "Here is the key.\n",
        .keys = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
        .extra_names = names,
        .extra_values = values,
        .n_extra = 1,
        .auto_replied = true,
    };
    r.keys_len = strlen(r.keys);
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(oks_mail_reply_build(&r, &out, &e), 0);
    assert_int_equal(oks_buf_terminate(&out), 0);
    const char *s = (char *)out.data;
    assert_non_null(strstr(s, "In-Reply-To: <req.1@example.org>"));
    assert_non_null(strstr(s, "References: <old.0@example.org> <req.1@example.org>"));
    assert_non_null(strstr(s, "Auto-Submitted: auto-replied"));
    assert_non_null(strstr(s, "Message-ID: <reply.1@localhost>"));
    assert_non_null(strstr(s, "=?utf-8?q?"));
    assert_non_null(strstr(s, "application/pgp-keys"));
    for (const unsigned char *p = out.data; *p; p++)
        assert_true(*p < 0x80); /* everything on the wire is 7-bit */

    oks_mail_msg m;
    assert_int_equal(oks_mail_parse(s, out.len, NULL, &m, &e), 0);
    assert_string_equal(m.from, "keyserver@localhost");
    assert_string_equal(m.message_id, "reply.1@localhost");
    assert_string_equal(m.subject, "Your command, GET J\xc3\xbcrgen");
    assert_true(m.auto_submitted);
    assert_int_equal(m.n_ks_sent, 1);
    assert_non_null(strstr((char *)m.text.data, "Here is the key."));
    assert_int_equal(m.n_attachments, 1);
    assert_non_null(strstr((char *)m.attachments[0].data, "BEGIN PGP PUBLIC KEY BLOCK"));
    oks_mail_msg_release(&m);
    oks_buf_release(&out);
}

static void reply_without_keys_is_single_text_part(void **state)
{
    (void)state;
    oks_mail_reply r = {.from = "ks@localhost", .to = "bob@localhost", .subject = "HELP",
                        .text = "help text \xc3\xa9\n", .auto_replied = true};
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(oks_mail_reply_build(&r, &out, &e), 0);
    assert_int_equal(oks_buf_terminate(&out), 0);
    assert_null(strstr((char *)out.data, "multipart"));
    assert_non_null(strstr((char *)out.data, "charset=\"utf-8\""));
    assert_null(strstr((char *)out.data, "In-Reply-To"));
    oks_mail_msg m;
    assert_int_equal(oks_mail_parse((char *)out.data, out.len, NULL, &m, &e), 0);
    assert_non_null(strstr((char *)m.text.data, "help text \xc3\xa9"));
    oks_mail_msg_release(&m);
    oks_buf_release(&out);
}

static void reply_to_unusable_address_fails(void **state)
{
    (void)state;
    oks_mail_reply r = {.from = "ks@localhost", .to = "<<<", .subject = "x", .text = "y"};
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    assert_int_not_equal(oks_mail_reply_build(&r, &out, &e), 0);
    oks_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_encoding_leaves_ascii_alone),
        cmocka_unit_test(header_encoding_q_encodes_utf8_in_short_words),
        cmocka_unit_test(reply_has_threading_auto_submitted_and_parses_back),
        cmocka_unit_test(reply_without_keys_is_single_text_part),
        cmocka_unit_test(reply_to_unusable_address_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
