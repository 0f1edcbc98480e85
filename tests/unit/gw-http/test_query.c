/* gw-http/query: form decoding and /pks/lookup classification with their status codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw-http/query.h"

static int parse(const char *q, gw_form *f, gw_lookup *l, const char **why)
{
    if (gw_form_parse(f, q, strlen(q), why))
        return -1;
    return gw_lookup_parse(f, l, why);
}

static void decodes_plus_percent_and_any_order(void **state)
{
    (void)state;
    gw_form f;
    const char *why;
    size_t n;
    assert_int_equal(gw_form_parse(&f, "b=x%20y+z&a=%41%00B&c", 21, &why), 0);
    assert_string_equal(gw_form_get(&f, "b", NULL), "x y z");
    assert_memory_equal(gw_form_get(&f, "a", &n), "A\0B", 3);
    assert_int_equal(n, 3);
    assert_string_equal(gw_form_get(&f, "c", NULL), "");
    assert_null(gw_form_get(&f, "d", NULL));
    gw_form_release(&f);
}

static void rejects_bad_escapes(void **state)
{
    (void)state;
    gw_form f;
    const char *why;
    assert_int_equal(gw_form_parse(&f, "a=%zz", 5, &why), -1);
    assert_int_equal(gw_form_parse(&f, "a=%4", 4, &why), -1);
    assert_int_equal(gw_form_parse(&f, "a=%", 3, &why), -1);
}

static void classifies_searches(void **state)
{
    (void)state;
    gw_form f;
    gw_lookup l;
    const char *why;
    assert_int_equal(parse("op=get&options=mr&search=0x1A9CE8A87CD573B9EA39CA428604BF7E622149FA",
                           &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_FPR);
    assert_int_equal(l.id_len, 20);
    assert_true(l.mr);
    gw_form_release(&f);
    assert_int_equal(parse("op=index&search=0x8604BF7E622149FA", &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_KEYID);
    gw_form_release(&f);
    assert_int_equal(parse("op=index&search=0x622149fa", &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_SHORTID);
    gw_form_release(&f);
    assert_int_equal(parse("op=index&search=pc@example.org", &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_EMAIL);
    gw_form_release(&f);
    assert_int_equal(parse("op=index&search=Perc%20Colon", &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_WORDS);
    assert_string_equal(l.text, "Perc Colon");
    gw_form_release(&f);
    assert_int_equal(parse("op=hget&search=BC1FDDCE88FAE3EC0142A178FDC2E8C0", &f, &l, &why), 0);
    assert_int_equal(l.kind, GW_S_HASH);
    gw_form_release(&f);
}

static void answers_the_right_status(void **state)
{
    (void)state;
    gw_form f;
    gw_lookup l;
    const char *why;
    assert_int_equal(parse("search=x", &f, &l, &why), 400);
    gw_form_release(&f);
    assert_int_equal(parse("op=frob&search=x", &f, &l, &why), 501);
    gw_form_release(&f);
    assert_int_equal(parse("op=fr%3Cob&search=x", &f, &l, &why), 400);
    gw_form_release(&f);
    assert_int_equal(parse("op=get", &f, &l, &why), 400);
    gw_form_release(&f);
    assert_int_equal(parse("op=get&search=0x12345", &f, &l, &why), 400);
    gw_form_release(&f);
    assert_int_equal(parse("op=get&search=0x0123456789ABCDEF0123456789ABCDEF", &f, &l, &why), 404);
    gw_form_release(&f);
    assert_int_equal(parse("op=hget&search=abc", &f, &l, &why), 400);
    gw_form_release(&f);
    assert_int_equal(parse("op=stats", &f, &l, &why), 0);
    gw_form_release(&f);
}

static enum gw_op op_of(const char *path, const char *query)
{
    return gw_request_op(path, strlen(path), query, query ? strlen(query) : 0);
}

/* The op a request is counted under agrees with the op gw_lookup_parse reads. */
static void request_op_follows_the_lookup_parser(void **state)
{
    (void)state;
    assert_int_equal(op_of("/pks/add", NULL), GW_OP_ADD);
    assert_int_equal(op_of("/pks/hashquery", "x=1"), GW_OP_HASHQUERY);
    assert_int_equal(op_of("/pks/health", NULL), GW_OP_HEALTH);
    assert_int_equal(op_of("/metrics", NULL), GW_OP_OTHER);
    assert_int_equal(op_of("/pks/lookup", NULL), GW_OP_OTHER);
    assert_int_equal(op_of("/pks/lookupx", "op=get"), GW_OP_OTHER);
    static const struct {
        const char *q;
        enum gw_op op;
    } cases[] = {
        {"op=get&search=0x1", GW_OP_GET},   {"search=x&op=vindex", GW_OP_VINDEX},
        {"op=index", GW_OP_INDEX},          {"op=x-stats", GW_OP_STATS},
        {"op=hget&op=get", GW_OP_HGET},     {"%6Fp=g%65t", GW_OP_GET},
        {"xop=get&op=stats", GW_OP_STATS},  {"op=getx", GW_OP_OTHER},
        {"op=", GW_OP_OTHER},               {"op", GW_OP_OTHER},
        {"op=%zz", GW_OP_OTHER},            {"&&op=get", GW_OP_GET},
        {"op=aaaaaaaaaaaaaaaaaaaaaa", GW_OP_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(op_of("/pks/lookup", cases[i].q), cases[i].op);
        gw_form f;
        gw_lookup l;
        const char *why;
        if (cases[i].op != GW_OP_OTHER) {
            assert_int_equal(gw_form_parse(&f, cases[i].q, strlen(cases[i].q), &why), 0);
            gw_lookup_parse(&f, &l, &why);
            assert_int_equal(l.op, cases[i].op);
            gw_form_release(&f);
        }
    }
    assert_string_equal(gw_op_name(GW_OP_HASHQUERY), "hashquery");
    assert_string_equal(gw_op_name(GW_OP_OTHER), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_plus_percent_and_any_order),
        cmocka_unit_test(request_op_follows_the_lookup_parser),
        cmocka_unit_test(rejects_bad_escapes),
        cmocka_unit_test(classifies_searches),
        cmocka_unit_test(answers_the_right_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
