/* gw-mail/keys.c: the keys of a mail (ADD, INCREMENTAL): armored blocks in the text and in
 * attachments, binary attachments split into single keys, the limit and what is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-mail/mail.h"
#include "lib/pgp.h"

static void load(const char *path, oks_buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (tests run from the top of the tree)", path);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(oks_buf_append(b, chunk, n), 0);
    fclose(f);
}

/* a parsed mail with the given text body and attachments (files; NULL ends the list) */
static void mail(oks_mail_msg *m, const char *text_file, const char **att_files)
{
    memset(m, 0, sizeof *m);
    if (text_file)
        load(text_file, &m->text);
    size_t n = 0;
    while (att_files && att_files[n])
        n++;
    m->attachments = calloc(n ? n : 1, sizeof *m->attachments);
    assert_non_null(m->attachments);
    for (size_t i = 0; i < n; i++)
        load(att_files[i], &m->attachments[i]);
    m->n_attachments = n;
}

static size_t collect(const oks_mail_msg *m, size_t max, size_t *skipped, size_t *parsed)
{
    oks_buf *keys;
    size_t n = oks_mail_collect_keys(m, max, &keys, skipped);
    *parsed = 0;
    for (size_t i = 0; i < n; i++) {
        oks_pgp_key *k;
        oks_err e;
        if (oks_pgp_key_parse(keys[i].data, keys[i].len, NULL, OKS_PGP_TRUSTED, &k, &e) == 0) {
            (*parsed)++;
            oks_pgp_key_free(k);
        }
        oks_buf_release(&keys[i]);
    }
    free(keys);
    return n;
}

static void armored_blocks_in_the_text_become_one_key_each(void **state)
{
    (void)state;
    oks_mail_msg m;
    mail(&m, "tests/fuzz/corpus/armor/two-blocks-text.asc", NULL);
    size_t skipped, parsed;
    assert_int_equal(collect(&m, 50, &skipped, &parsed), 2);
    assert_int_equal(parsed, 2);
    assert_int_equal(skipped, 0);
    oks_mail_msg_release(&m);
}

static void binary_and_armored_attachments_are_split(void **state)
{
    (void)state;
    const char *att[] = {"tests/data/matrix-rsa.pgp", "tests/data/rfc9580-a3.asc", NULL};
    oks_mail_msg m, one;
    mail(&m, NULL, att);
    mail(&one, NULL, att + 1);
    size_t skipped, parsed, n_rsa, n_asc;
    size_t n = collect(&m, 50, &skipped, &parsed);
    assert_int_equal(skipped, 0);
    assert_int_equal(parsed, n);
    n_asc = collect(&one, 50, &skipped, &parsed);
    assert_int_equal(n_asc, 1);
    n_rsa = n - n_asc;
    assert_true(n_rsa >= 1);
    oks_mail_msg_release(&m);
    oks_mail_msg_release(&one);
}

static void keys_over_the_limit_are_counted_as_skipped(void **state)
{
    (void)state;
    const char *att[] = {"tests/data/rfc9580-a3.asc", NULL};
    oks_mail_msg m;
    mail(&m, "tests/fuzz/corpus/armor/two-blocks-text.asc", att);
    m.attachments_dropped = 2; /* attachments the parser did not keep count too */
    size_t skipped, parsed;
    assert_int_equal(collect(&m, 1, &skipped, &parsed), 1);
    assert_int_equal(parsed, 1);
    assert_int_equal(skipped, 2 + 2);
    oks_mail_msg_release(&m);
}

static void blocks_that_do_not_decode_are_skipped_not_fatal(void **state)
{
    (void)state;
    oks_mail_msg m;
    mail(&m, NULL, NULL);
    static const char bad[] = "hello\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!not base64!!!\n"
                              "-----END PGP PUBLIC KEY BLOCK-----\n";
    assert_int_equal(oks_buf_append(&m.text, bad, sizeof bad - 1), 0);
    m.attachments = realloc(m.attachments, sizeof *m.attachments);
    oks_buf_init(&m.attachments[0]);
    assert_int_equal(oks_buf_append(&m.attachments[0], "\x99\x00\x05garbage", 10), 0);
    m.n_attachments = 1;
    size_t skipped, parsed;
    assert_int_equal(collect(&m, 50, &skipped, &parsed), 0);
    assert_true(skipped >= 2);
    oks_mail_msg_release(&m);
}

static void a_mail_without_keys_has_none(void **state)
{
    (void)state;
    oks_mail_msg m;
    mail(&m, NULL, NULL);
    assert_int_equal(oks_buf_append(&m.text, "ADD\n", 4), 0);
    size_t skipped = 99, parsed;
    assert_int_equal(collect(&m, 50, &skipped, &parsed), 0);
    assert_int_equal(skipped, 0);
    oks_mail_msg_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(armored_blocks_in_the_text_become_one_key_each),
        cmocka_unit_test(binary_and_armored_attachments_are_split),
        cmocka_unit_test(keys_over_the_limit_are_counted_as_skipped),
        cmocka_unit_test(blocks_that_do_not_decode_are_skipped_not_fatal),
        cmocka_unit_test(a_mail_without_keys_has_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
