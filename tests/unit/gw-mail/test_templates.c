/* gw-mail/templates.c: the built-in reply bodies (count and plural words, key listings as plain
 * text), overrides from a template directory, broken templates refused at load, dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-mail/templates.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/oks-mailtmpl.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Renders id from t (NULL = built-in) with ctx; returns a static NUL-terminated copy. */
static const char *render(const oks_mail_templates *t, enum oks_mail_tmpl_id id, oks_tmpl *ctx)
{
    static oks_buf out;
    oks_err e;
    out.len = 0;
    assert_int_equal(oks_mail_tmpl_render(t, id, ctx, &out, &e), 0);
    assert_int_equal(oks_buf_terminate(&out), 0);
    return (const char *)out.data;
}

static oks_tmpl *counted(size_t n)
{
    oks_tmpl *c = oks_tmpl_new();
    assert_non_null(c);
    oks_mail_tmpl_num(c, "count", n);
    oks_mail_tmpl_flag(c, "found", n > 0);
    oks_mail_tmpl_flag(c, "plural", n != 1);
    return c;
}

static void builtin_get_reply_counts_keys_in_words(void **state)
{
    (void)state;
    oks_tmpl *c = counted(1);
    oks_mail_tmpl_str(c, "search", "alice@example.org");
    assert_string_equal(render(NULL, OKS_MAIL_T_GET, c),
                        "1 key matching \"alice@example.org\" is attached.\n");
    oks_tmpl_free(c);
    c = counted(2);
    oks_mail_tmpl_str(c, "search", "x");
    oks_mail_tmpl_num(c, "more", 5);
    oks_mail_tmpl_flag(c, "partial", 1);
    assert_string_equal(render(NULL, OKS_MAIL_T_GET, c),
                        "2 keys matching \"x\" are attached.\n"
                        "(5 more keys match; at most 2 are returned per mail.)\n"
                        "(Some servers did not answer; results may be incomplete.)\n");
    oks_tmpl_free(c);
    c = counted(0);
    oks_mail_tmpl_str(c, "search", "nobody");
    assert_string_equal(render(NULL, OKS_MAIL_T_GET, c), "No keys match \"nobody\".\n");
    oks_tmpl_free(c);
}

static void builtin_index_lists_keys_as_plain_text(void **state)
{
    (void)state;
    oks_tmpl *c = counted(1);
    oks_mail_tmpl_str(c, "search", "alice");
    oks_tmpl *k = oks_tmpl_push(c, "keys");
    oks_mail_tmpl_str(k, "algo", "ed");
    oks_mail_tmpl_num(k, "bits", 255);
    oks_mail_tmpl_str(k, "keyid", "0123456789ABCDEF");
    oks_mail_tmpl_str(k, "fpr", "AAAA");
    oks_mail_tmpl_str(k, "created", "2026-01-02");
    oks_tmpl *u = oks_tmpl_push(k, "uids");
    oks_mail_tmpl_str(u, "uid", "Alice & Co <alice@example.org>");
    oks_tmpl *s = oks_tmpl_push(u, "sigs");
    oks_mail_tmpl_str(s, "issuer", "0123456789ABCDEF");
    oks_mail_tmpl_str(s, "created", "2026-01-03");
    oks_mail_tmpl_flag(s, "self", 1);
    oks_tmpl *sk = oks_tmpl_push(k, "subkeys");
    oks_mail_tmpl_str(sk, "algo", "cv");
    oks_mail_tmpl_num(sk, "bits", 255);
    oks_mail_tmpl_str(sk, "keyid", "FEDCBA9876543210");
    oks_mail_tmpl_str(sk, "created", "2026-01-04");
    assert_string_equal(render(NULL, OKS_MAIL_T_INDEX, c),
                        "1 key matching \"alice\":\n\n"
                        "pub  ed255/0x0123456789ABCDEF 2026-01-02\n"
                        "     Fingerprint=AAAA\n"
                        "uid  Alice & Co <alice@example.org>\n"
                        "sig  0x0123456789ABCDEF 2026-01-03 (self)\n"
                        "sub  cv255/0xFEDCBA9876543210 2026-01-04\n\n");
    oks_tmpl_free(c);
}

static void template_directory_overrides_only_its_files(void **state)
{
    (void)state;
    write_file("help.txt", "Custom help for {{server_address}}:\n{{help}}-- end\n");
    write_file("unrelated.html", "{{#broken");
    oks_mail_templates t;
    oks_err e;
    assert_int_equal(oks_mail_tmpl_load(&t, dir, &e), 0);
    oks_tmpl *c = counted(0);
    oks_mail_tmpl_str(c, "help", "HELP <x>\n");
    oks_mail_tmpl_str(c, "server_address", "ks@example.org");
    oks_mail_tmpl_str(c, "search", "y");
    assert_string_equal(render(&t, OKS_MAIL_T_HELP, c),
                        "Custom help for ks@example.org:\nHELP <x>\n-- end\n");
    assert_string_equal(render(&t, OKS_MAIL_T_GET, c), "No keys match \"y\".\n");
    oks_tmpl_free(c);
    oks_mail_tmpl_release(&t);
}

static void broken_template_is_refused_at_load(void **state)
{
    (void)state;
    write_file("get.txt", "ok so far {{#found}} never closed\n");
    oks_mail_templates t;
    oks_err e;
    assert_int_equal(oks_mail_tmpl_load(&t, dir, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "get.txt"));
    assert_int_equal(e.offset, 10);
}

static void dumped_defaults_load_back_unchanged(void **state)
{
    (void)state;
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    assert_int_equal(oks_mail_tmpl_dump(dir), 0);
    fclose(stdout);
    stdout = saved;
    oks_mail_templates t;
    oks_err e;
    assert_int_equal(oks_mail_tmpl_load(&t, dir, &e), 0);
    for (int i = 0; i < OKS_MAIL_T_COUNT; i++) {
        assert_non_null(t.text[i]);
        assert_string_equal(t.text[i], oks_mail_tmpl_builtin(i));
    }
    oks_mail_tmpl_release(&t);
}

static void no_directory_means_builtin_templates_and_a_missing_one_is_an_error(void **state)
{
    (void)state;
    oks_mail_templates t;
    oks_err e;
    assert_int_equal(oks_mail_tmpl_load(&t, NULL, &e), 0);
    for (int i = 0; i < OKS_MAIL_T_COUNT; i++)
        assert_null(t.text[i]);
    assert_int_equal(oks_mail_tmpl_load(&t, "/nonexistent/oks-templates", &e), OKS_E_IO);
    assert_non_null(strstr(e.msg, "/nonexistent/oks-templates"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_get_reply_counts_keys_in_words),
        cmocka_unit_test(builtin_index_lists_keys_as_plain_text),
        cmocka_unit_test_setup_teardown(template_directory_overrides_only_its_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(broken_template_is_refused_at_load, setup, teardown),
        cmocka_unit_test_setup_teardown(dumped_defaults_load_back_unchanged, setup, teardown),
        cmocka_unit_test(no_directory_means_builtin_templates_and_a_missing_one_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
