/* lib/tmpl: escaping by the engine, raw values, sections over lists, inverted sections,
 * lookups in enclosing items, and errors with offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/tmpl.h"

static char *render(const char *src, const oks_tmpl *t, int *rc)
{
    static oks_buf out;
    oks_err e;
    out.len = 0;
    *rc = oks_tmpl_render(src, strlen(src), t, &out, &e);
    oks_buf_terminate(&out);
    return (char *)out.data;
}

static void values_are_escaped_unless_triple(void **state)
{
    (void)state;
    oks_tmpl *t = oks_tmpl_new();
    oks_tmpl_setf(t, "uid", "%s", "<script>\"'&");
    int rc;
    assert_string_equal(render("a {{uid}} b", t, &rc), "a &lt;script&gt;&quot;&#39;&amp; b");
    assert_string_equal(render("{{{uid}}}", t, &rc), "<script>\"'&");
    assert_string_equal(render("[{{missing}}]", t, &rc), "[]");
    oks_tmpl_free(t);
}

static void sections_repeat_and_see_parents(void **state)
{
    (void)state;
    oks_tmpl *t = oks_tmpl_new();
    oks_tmpl_setf(t, "title", "keys");
    for (int i = 0; i < 3; i++)
        oks_tmpl_setf(oks_tmpl_push(t, "keys"), "n", "%d", i);
    int rc;
    assert_string_equal(render("{{#keys}}{{n}}/{{title}};{{/keys}}", t, &rc),
                        "0/keys;1/keys;2/keys;");
    assert_string_equal(render("{{^keys}}none{{/keys}}{{^nothing}}empty{{/nothing}}", t, &rc),
                        "empty");
    assert_string_equal(render("{{#title}}has {{title}}{{/title}}", t, &rc), "has keys");
    oks_tmpl_free(t);
}

static void text_rendering_inserts_values_unescaped(void **state)
{
    (void)state;
    oks_tmpl *t = oks_tmpl_new();
    oks_tmpl_setf(t, "uid", "%s", "Alice <alice@example.org> & \"Bob\"");
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    const char *src = "uid {{uid}} / {{{uid}}}{{#uid}}!{{/uid}}";
    assert_int_equal(oks_tmpl_render_text(src, strlen(src), t, &out, &e), 0);
    assert_int_equal(oks_buf_terminate(&out), 0);
    assert_string_equal((char *)out.data, "uid Alice <alice@example.org> & \"Bob\" / "
                                          "Alice <alice@example.org> & \"Bob\"!");
    assert_int_equal(oks_tmpl_render_text("{{#a}}", 6, t, &out, &e), OKS_E_FORMAT);
    oks_buf_release(&out);
    oks_tmpl_free(t);
}

static void malformed_templates_are_errors(void **state)
{
    (void)state;
    oks_tmpl *t = oks_tmpl_new();
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(oks_tmpl_render("x {{#a}} y", 10, t, &out, &e), OKS_E_FORMAT);
    assert_int_equal(e.offset, 2);
    assert_int_equal(oks_tmpl_render("x {{a", 5, t, &out, &e), OKS_E_FORMAT);
    assert_int_equal(oks_tmpl_render("{{/a}}", 6, t, &out, &e), OKS_E_FORMAT);
    oks_buf_release(&out);
    oks_tmpl_free(t);
}

static void template_files_load_or_fail_loudly(void **state)
{
    (void)state;
    char dir[] = "/tmp/oks-tmpl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], *out = NULL;
    oks_err e;
    /* no directory, or no such file: the built-in text */
    assert_int_equal(oks_tmpl_load(NULL, "home.html", "builtin", 100, &out, &e), 0);
    assert_string_equal(out, "builtin");
    free(out);
    assert_int_equal(oks_tmpl_load(dir, "home.html", "builtin", 100, &out, &e), 0);
    assert_string_equal(out, "builtin");
    free(out);
    /* the file */
    snprintf(path, sizeof path, "%s/home.html", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("mine {{x}}", f);
    fclose(f);
    assert_int_equal(oks_tmpl_load(dir, "home.html", "builtin", 100, &out, &e), 0);
    assert_string_equal(out, "mine {{x}}");
    free(out);
    /* larger than the bound: an error, not a cut template */
    assert_int_equal(oks_tmpl_load(dir, "home.html", "builtin", 5, &out, &e), OKS_E_LIMIT);
    assert_null(out);
    assert_non_null(strstr(e.msg, "home.html"));
    /* there but unreadable (a directory): an error, not the built-in text */
    snprintf(path, sizeof path, "%s/key.html", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(oks_tmpl_load(dir, "key.html", "builtin", 100, &out, &e), OKS_E_IO);
    assert_null(out);
    assert_non_null(strstr(e.msg, "key.html"));
    rmdir(path);
    snprintf(path, sizeof path, "%s/home.html", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_escaped_unless_triple),
        cmocka_unit_test(sections_repeat_and_see_parents),
        cmocka_unit_test(text_rendering_inserts_values_unescaped),
        cmocka_unit_test(malformed_templates_are_errors),
        cmocka_unit_test(template_files_load_or_fail_loudly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
