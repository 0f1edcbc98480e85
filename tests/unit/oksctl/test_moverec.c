/* oksctl/moverec: every record oksctl writes reads back as itself; a record that is not one
 * (an unknown or repeated key, a number out of range, a phase or a side its kind never has, a
 * record too long) is refused with the line and field named; a record is checked against the
 * map before --resume or --abort acts on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oksctl/moverec.h"

static void every_record_oksctl_writes_reads_back(void **state)
{
    (void)state;
    static const oksctl_move recs[] = {
        {.first = 0, .last = 1364, .kind = "move", .from = "s0", .to = "s2", .phase = "copy"},
        {.first = 7, .last = 7, .kind = "move", .from = "s0", .to = "s2", .phase = "switch"},
        {.first = 7, .last = 9, .kind = "move", .from = "s0", .to = "s2", .phase = "purge"},
        {.first = 7, .last = 9, .kind = "move", .from = "s0", .to = "s2", .phase = "abort"},
        {.first = 100, .last = 199, .kind = "add", .from = "-", .to = "s2", .phase = "copy"},
        {.first = 100, .last = 199, .kind = "add", .from = "-", .to = "s2", .phase = "abort"},
        {.first = 0, .last = 65535, .target = 8, .kind = "add", .from = "-", .to = "a_b.c-9",
         .phase = "copy"},
        {.first = 100, .last = 199, .kind = "remove", .from = "s0", .to = "-", .phase = "purge"},
        {.first = 2048, .last = 4095, .target = 1, .kind = "remove", .from = "s1", .to = "-",
         .phase = "purge"},
        {.first = 0, .last = 0, .target = 2, .kind = "replicas", .from = "-", .to = "-",
         .phase = "plan"},
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        char doc[512];
        oksctl_move m;
        oks_err e;
        oksctl_move_render(&recs[i], doc, sizeof doc);
        assert_int_equal(oksctl_move_parse(doc, strlen(doc), &m, &e), 0);
        assert_memory_equal(&m, &recs[i], sizeof m);
    }
}

static void a_record_without_kind_is_a_move(void **state)
{
    (void)state;
    static const char doc[] = "first = 5\nlast = 9\n\nfrom = s0\n  to=s1  \nphase = copy";
    oksctl_move m;
    oks_err e;
    assert_int_equal(oksctl_move_parse(doc, strlen(doc), &m, &e), 0);
    assert_string_equal(m.kind, "move");
    assert_string_equal(m.to, "s1");
    assert_int_equal(m.first, 5);
    assert_int_equal(m.last, 9);
}

static void what_is_not_a_record_is_refused(void **state)
{
    (void)state;
    static const char head[] = "kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\n";
    static const struct {
        const char *doc, *why;
    } bad[] = {
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = copy\ncolour = x\n",
         "line 7: unknown key \"colour\""},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = copy\nfirst = 3\n",
         "line 7: first set twice"},
        {"kind = add\nfirst = 4294967297\nlast = 2\nfrom = -\nto = s2\nphase = copy\n",
         "line 2: bad first"},
        {"kind = add\nfirst = 1\nlast = 65536\nfrom = -\nto = s2\nphase = copy\n",
         "line 3: bad last"},
        {"kind = add\nfirst = -1\nlast = 2\nfrom = -\nto = s2\nphase = copy\n", "bad first"},
        {"kind = add\nfirst = 1x\nlast = 2\nfrom = -\nto = s2\nphase = copy\n", "bad first"},
        {"kind = add\nfirst = 3\nlast = 2\nfrom = -\nto = s2\nphase = copy\n",
         "first is after last"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = copyx\n", "bad phase"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = switch\n",
         "a phase this kind of record never has"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = s0\nto = s2\nphase = copy\n",
         "an add needs to = a shard and from = -"},
        {"kind = remove\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = purge\n",
         "a remove needs from = a shard and to = -"},
        {"kind = move\nfirst = 1\nlast = 2\nfrom = s2\nto = s2\nphase = copy\n",
         "a move needs two different shards"},
        {"kind = move\nfirst = 1\nlast = 2\nfrom = s1\nto = s2\nphase = copy\ntarget = 2\n",
         "a move has no target"},
        {"kind = replicas\nfirst = 0\nlast = 0\nfrom = -\nto = -\nphase = plan\n",
         "needs from = -, to = - and a target"},
        {"kind = replicas\nfirst = 0\nlast = 0\nfrom = -\nto = -\nphase = plan\ntarget = 9\n",
         "bad target"},
        {"kind = adds\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase = copy\n", "bad kind"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s 2\nphase = copy\n", "bad to"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\n", "no phase"},
        {"kind = add\nfirst = 1\nlast = 2\nfrom = -\nto = s2\nphase copy\n", "line 6: no"},
        {"", "no first"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oksctl_move m;
        oks_err e;
        assert_int_equal(oksctl_move_parse(bad[i].doc, strlen(bad[i].doc), &m, &e),
                         OKS_E_FORMAT);
        if (!strstr(e.msg, bad[i].why))
            fail_msg("record %zu: \"%s\" does not say \"%s\"", i, e.msg, bad[i].why);
    }
    /* a NUL inside a value, and a record longer than any oksctl writes */
    char doc[OKSCTL_MOVE_MAX + 2];
    oksctl_move m;
    oks_err e;
    int n = snprintf(doc, sizeof doc, "%sphase = copy\n", head);
    doc[n - 3] = '\0';
    assert_int_equal(oksctl_move_parse(doc, (size_t)n, &m, &e), OKS_E_FORMAT);
    static const char nul_name[] = "first = 5\nlast = 9\nfrom = \0\0\nto = s1\nphase = copy\n";
    assert_int_equal(oksctl_move_parse(nul_name, sizeof nul_name - 1, &m, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "line 3: bad from"));
    memset(doc, '\n', sizeof doc);
    memcpy(doc, head, strlen(head));
    assert_int_equal(oksctl_move_parse(doc, sizeof doc, &m, &e), OKS_E_LIMIT);
}

static void a_record_is_checked_against_the_map(void **state)
{
    (void)state;
    static oks_cluster c;
    c.n_slots = 4096;
    c.n_shards = 2;
    snprintf(c.shards[0].name, sizeof c.shards[0].name, "s0");
    snprintf(c.shards[1].name, sizeof c.shards[1].name, "s1");
    oksctl_move m = {.first = 100, .last = 4095, .kind = "add", .from = "-", .to = "s1",
                     .phase = "copy"};
    oks_err e;
    assert_int_equal(oksctl_move_fits(&m, &c, &e), 0);
    m.last = 4096;
    assert_int_equal(oksctl_move_fits(&m, &c, &e), OKS_E_STATE);
    assert_non_null(strstr(e.msg, "slots 100-4096, the map has 0-4095"));
    m.last = 199;
    snprintf(m.to, sizeof m.to, "s7");
    assert_int_equal(oksctl_move_fits(&m, &c, &e), OKS_E_STATE);
    assert_non_null(strstr(e.msg, "shard s7"));
    oksctl_move p = {.target = 2, .kind = "replicas", .from = "-", .to = "-", .phase = "plan"};
    assert_int_equal(oksctl_move_fits(&p, &c, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_record_oksctl_writes_reads_back),
        cmocka_unit_test(a_record_without_kind_is_a_move),
        cmocka_unit_test(what_is_not_a_record_is_refused),
        cmocka_unit_test(a_record_is_checked_against_the_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
