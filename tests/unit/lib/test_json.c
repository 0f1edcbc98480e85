/* lib/json: UTF-8 repair, escaping through jansson, compact dumps, and reading one string
 * member with errors for everything that is not a JSON object holding it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/json.h"

static char *dump(json_t *j)
{
    static oks_buf out;
    out.len = 0;
    assert_int_equal(oks_json_dump(j, &out, false), 0);
    oks_buf_terminate(&out);
    json_decref(j);
    return (char *)out.data;
}

static void escapes_quote_backslash_and_controls(void **state)
{
    (void)state;
    const char uid[] = "a\"b\\c\n\x01\x7f/<\xc3\xa9>";
    assert_string_equal(dump(oks_json_text(uid, sizeof uid - 1)),
                        "\"a\\\"b\\\\c\\n\\u0001\x7f/<\xc3\xa9>\"");
    /* NUL bytes are kept, as \u0000 */
    assert_string_equal(dump(oks_json_text("a\0b", 3)), "\"a\\u0000b\"");
    assert_string_equal(dump(oks_json_cstr(NULL)), "null");
}

static void invalid_utf8_becomes_replacement_characters(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xff", "\xef\xbf\xbd"},                        /* never valid */
        {"a\xc3", "a\xef\xbf\xbd"},                      /* truncated at the end */
        {"\xc3(", "\xef\xbf\xbd("},                      /* bad continuation */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},        /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"\xf0\x9f\x94\x91 ok", "\xf0\x9f\x94\x91 ok"},  /* valid 4-byte sequence kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oks_buf b = OKS_BUF_INIT;
        assert_int_equal(oks_json_utf8(&b, (const uint8_t *)cases[i].in, strlen(cases[i].in)), 0);
        oks_buf_terminate(&b);
        assert_string_equal((char *)b.data, cases[i].out);
        oks_buf_release(&b);
        json_t *s = oks_json_cstr(cases[i].in);
        assert_non_null(s); /* jansson would refuse the raw bytes */
        assert_string_equal(json_string_value(s), cases[i].out);
        json_decref(s);
    }
}

static void keys_are_repaired_and_order_is_kept(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_int_equal(oks_json_set_key(o, "z\xff\"", 3, json_integer(1)), 0);
    assert_int_equal(json_object_set_new(o, "a", oks_json_uint(UINT64_MAX)), 0);
    assert_int_equal(json_object_set_new(o, "h", oks_json_hex((const uint8_t *)"\x01\xab", 2, true)),
                     0);
    assert_int_equal(oks_json_set_key(o, "x", 1, NULL), -1);
    assert_string_equal(dump(o), "{\"z\xef\xbf\xbd\\\"\":1,\"a\":9223372036854775807,\"h\":\"01AB\"}");
}

static void dump_appends_and_adds_a_newline(void **state)
{
    (void)state;
    oks_buf out = OKS_BUF_INIT;
    oks_buf_append(&out, "x", 1);
    json_t *a = json_array();
    json_array_append_new(a, json_true());
    assert_int_equal(oks_json_dump(a, &out, true), 0);
    assert_int_equal(oks_json_dump(NULL, &out, true), OKS_E_NOMEM);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, "x[true]\n", 8);
    json_decref(a);
    oks_buf_release(&out);
}

static int get(const char *text, oks_buf *out, oks_err *e)
{
    out->len = 0;
    return oks_json_get_string(text, strlen(text), "keytext", out, e);
}

static void reads_one_string_member(void **state)
{
    (void)state;
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    assert_int_equal(get(" {\"a\":[1,{}], \"keytext\" : \"x\\ny\\u00e9\\\"\\/\"}\n", &out, &e), 0);
    assert_string_equal((char *)out.data, "x\ny\xc3\xa9\"/");
    static const char *bad[] = {
        "",                            /* empty */
        "\"keytext\"",                 /* not an object */
        "[\"keytext\",\"x\"]",         /* an array */
        "{\"keytext\":1}",             /* not a string */
        "{\"other\":\"x\"}",           /* missing */
        "{\"keytext\":\"x\"} trailing", /* garbage after the object */
        "{\"keytext\":\"x\",\"keytext\":\"y\"}", /* duplicate */
        "{\"keytext\":\"\\u0000\"}",   /* NUL in a string */
        "{\"keytext\":\"\xff\"}",      /* invalid UTF-8 */
        "{\"keytext\":\"x\"",          /* truncated */
        "{'keytext':'x'}",             /* not JSON quoting */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(get(bad[i], &out, &e), OKS_E_FORMAT);
        assert_true(e.msg[0] != '\0');
    }
    /* nesting deeper than the parser allows is an error, not a crash */
    oks_buf deep = OKS_BUF_INIT;
    for (int i = 0; i < 100000; i++)
        oks_buf_putc(&deep, '[');
    assert_int_equal(oks_json_get_string(deep.data, deep.len, "keytext", &out, &e), OKS_E_FORMAT);
    oks_buf_release(&deep);
    oks_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_quote_backslash_and_controls),
        cmocka_unit_test(invalid_utf8_becomes_replacement_characters),
        cmocka_unit_test(keys_are_repaired_and_order_is_kept),
        cmocka_unit_test(dump_appends_and_adds_a_newline),
        cmocka_unit_test(reads_one_string_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
