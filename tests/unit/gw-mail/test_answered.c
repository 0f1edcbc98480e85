/* gw-mail/answered.c: the answered-mail record (LevelDB): lookups by digest + Message-ID,
 * persistence across reopen, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-mail/answered.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/oks-answered.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void parse(const char *raw, oks_mail_msg *m)
{
    oks_err e;
    assert_int_equal(oks_mail_parse(raw, strlen(raw), NULL, m, &e), 0);
}

static void answered_mail_is_found_again_after_reopen(void **state)
{
    (void)state;
    oks_err e;
    oks_mail_msg a, b, c;
    parse("From: a@x\r\nMessage-ID: <1@x>\r\nSubject: HELP\r\n\r\n", &a);
    parse("From: a@x\r\nMessage-ID: <1@x>\r\nSubject: HELP\r\n\r\nother body\r\n", &b);
    parse("From: a@x\r\nSubject: HELP\r\n\r\n", &c);
    oks_mail_answered *s = oks_mail_answered_open(dir, 3600, &e);
    assert_non_null(s);
    assert_false(oks_mail_answered_has(s, &a));
    assert_int_equal(oks_mail_answered_put(s, &a, 1000, &e), 0);
    assert_int_equal(oks_mail_answered_put(s, &c, 1000, &e), 0);
    oks_mail_answered_close(s);
    s = oks_mail_answered_open(dir, 3600, &e);
    assert_non_null(s);
    assert_true(oks_mail_answered_has(s, &a));
    assert_true(oks_mail_answered_has(s, &c)); /* no Message-ID: the digest alone */
    assert_false(oks_mail_answered_has(s, &b)); /* same Message-ID, different mail */
    oks_mail_answered_close(s);
    oks_mail_msg_release(&a);
    oks_mail_msg_release(&b);
    oks_mail_msg_release(&c);
}

static void old_entries_expire(void **state)
{
    (void)state;
    oks_err e;
    oks_mail_msg a, b;
    parse("From: a@x\r\nMessage-ID: <old@x>\r\n\r\n", &a);
    parse("From: a@x\r\nMessage-ID: <new@x>\r\n\r\n", &b);
    oks_mail_answered *s = oks_mail_answered_open(dir, 100, &e);
    assert_non_null(s);
    assert_int_equal(oks_mail_answered_put(s, &a, 1000, &e), 0);
    assert_int_equal(oks_mail_answered_put(s, &b, 1090, &e), 0);
    assert_int_equal(oks_mail_answered_expire(s, 1150), 1);
    assert_false(oks_mail_answered_has(s, &a));
    assert_true(oks_mail_answered_has(s, &b));
    oks_mail_answered_close(s);
    oks_mail_msg_release(&a);
    oks_mail_msg_release(&b);
}

static void batch_of_records_synced_once_is_found_after_reopen(void **state)
{
    (void)state;
    oks_err e;
    oks_mail_msg m[3];
    parse("From: a@x\r\nMessage-ID: <b1@x>\r\n\r\n", &m[0]);
    parse("From: a@x\r\nMessage-ID: <b2@x>\r\n\r\n", &m[1]);
    parse("From: a@x\r\nMessage-ID: <b3@x>\r\n\r\n", &m[2]);
    oks_mail_answered *s = oks_mail_answered_open(dir, 3600, &e);
    assert_non_null(s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(oks_mail_answered_put(s, &m[i], 1000, &e), 0);
    assert_int_equal(oks_mail_answered_sync(s, &e), 0);
    assert_int_equal(oks_mail_answered_sync(s, &e), 0); /* nothing new: still fine */
    oks_mail_answered_close(s);
    s = oks_mail_answered_open(dir, 3600, &e);
    assert_non_null(s);
    for (int i = 0; i < 3; i++) {
        assert_true(oks_mail_answered_has(s, &m[i]));
        oks_mail_msg_release(&m[i]);
    }
    oks_mail_answered_close(s);
}

static void unwritable_directory_is_an_error(void **state)
{
    (void)state;
    oks_err e;
    assert_null(oks_mail_answered_open("/proc/oks-no-such/dir", 100, &e));
    assert_int_equal(e.code, OKS_E_IO);
}

static void tries_are_counted_undone_and_cleared_by_the_answer(void **state)
{
    (void)state;
    oks_err e;
    oks_mail_answered *a = oks_mail_answered_open(dir, 3600, &e);
    assert_non_null(a);
    oks_mail_msg m;
    parse("From: a@b.c\r\nMessage-ID: <t1@x>\r\nSubject: GET x\r\n\r\n", &m);
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 100), 1);
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 101), 2);
    oks_mail_answered_try_undo(a, &m, 102);
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 103), 2);
    assert_false(oks_mail_answered_has(a, &m)); /* a try is no answer */
    oks_mail_answered_close(a);
    a = oks_mail_answered_open(dir, 3600, &e); /* counts survive the process */
    assert_non_null(a);
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 104), 3);
    assert_int_equal(oks_mail_answered_put(a, &m, 105, &e), 0);
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 106), 1);
    /* counts expire with the answered records */
    assert_true(oks_mail_answered_expire(a, 106 + 3601) >= 2);
    assert_false(oks_mail_answered_has(a, &m));
    assert_int_equal(oks_mail_answered_try_begin(a, &m, 5000), 1);
    oks_mail_answered_close(a);
    oks_mail_msg_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answered_mail_is_found_again_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(old_entries_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_of_records_synced_once_is_found_after_reopen, setup,
                                        teardown),
        cmocka_unit_test(unwritable_directory_is_an_error),
        cmocka_unit_test_setup_teardown(tries_are_counted_undone_and_cleared_by_the_answer, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
