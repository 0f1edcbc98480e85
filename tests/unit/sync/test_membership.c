/* sync/membership: the SKS membership file format (HOST PORT per line, '#' comments, extra
 * words ignored, malformed lines skipped and counted), look-up by source address, and
 * command-line partners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/membership.h"

static oks_sync_members *parse(const char *text)
{
    oks_sync_members *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(oks_sync_members_parse(text, strlen(text), "test", m), 0);
    return m;
}

static void test_sks_file_with_comments_and_blank_lines(void **state)
{
    (void)state;
    oks_sync_members *m = parse("# partners\n"
                                "127.0.0.1 11370   # our other cluster\n"
                                "\n"
                                "   \t\n"
                                "10.1.2.3\t11371 extra words are ignored\n"
                                "192.168.0.9 11370");
    assert_int_equal(m->n, 3);
    assert_int_equal(m->malformed, 0);
    assert_string_equal(m->v[0].host, "127.0.0.1");
    assert_int_equal(m->v[0].port, 11370);
    assert_string_equal(m->v[0].ip, "127.0.0.1");
    assert_string_equal(m->v[0].label, "127.0.0.1:11370");
    assert_string_equal(m->v[1].label, "10.1.2.3:11371");
    assert_string_equal(m->v[2].label, "192.168.0.9:11370");
    free(m);
}

static void test_malformed_lines_are_skipped_and_counted(void **state)
{
    (void)state;
    oks_sync_members *m = parse("127.0.0.1\n"            /* no port */
                                "127.0.0.2 port\n"       /* not a number */
                                "127.0.0.3 70000\n"      /* out of range */
                                "127.0.0.4 0\n"
                                "127.0.0.5 11370\n"
                                "#127.0.0.6 11370\n");
    assert_int_equal(m->n, 1);
    assert_int_equal(m->malformed, 4);
    assert_string_equal(m->v[0].label, "127.0.0.5:11370");
    free(m);
    /* the NUL byte: parse with explicit length */
    static const char nul[] = "127.0.0.7 11\0 370\n127.0.0.8 11370\n";
    oks_sync_members *m2 = calloc(1, sizeof *m2);
    oks_sync_members_parse(nul, sizeof nul - 1, "test", m2);
    assert_int_equal(m2->n, 1);
    assert_int_equal(m2->malformed, 1);
    assert_string_equal(m2->v[0].ip, "127.0.0.8");
    free(m2);
}

static void test_find_by_source_address_ignores_port(void **state)
{
    (void)state;
    oks_sync_members *m = parse("127.0.0.1 11370\n127.0.0.2 5000\n127.0.0.2 6000\n");
    assert_int_equal(oks_sync_members_find_ip(m, "127.0.0.2"), 1);
    assert_int_equal(oks_sync_members_find_ip(m, "127.0.0.1"), 0);
    assert_int_equal(oks_sync_members_find_ip(m, "127.0.0.3"), -1);
    free(m);
}

static void test_command_line_partner_host_colon_port(void **state)
{
    (void)state;
    oks_sync_members *m = calloc(1, sizeof *m);
    oks_err e;
    assert_int_equal(oks_sync_members_add(m, "127.0.0.9:11370", &e), 0);
    assert_int_equal(oks_sync_members_add(m, "127.0.0.9", &e), OKS_E_ARG);
    assert_int_equal(oks_sync_members_add(m, "127.0.0.9:x", &e), OKS_E_ARG);
    assert_int_equal(m->n, 1);
    assert_string_equal(m->v[0].ip, "127.0.0.9");
    free(m);
}

static void test_load_reads_file_and_refuses_missing_or_huge(void **state)
{
    (void)state;
    char path[] = "/tmp/oks-test-membership-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("127.0.0.1 11370\n", f);
    fclose(f);
    oks_sync_members *m = calloc(1, sizeof *m);
    oks_err e;
    assert_int_equal(oks_sync_members_load(path, m, &e), 0);
    assert_int_equal(m->n, 1);
    f = fopen(path, "w");
    for (int i = 0; i < OKS_SYNC_MEMBERSHIP_MAX_BYTES / 16 + 1; i++)
        fputs("# padding line.\n", f);
    fclose(f);
    assert_int_equal(oks_sync_members_load(path, m, &e), OKS_E_LIMIT);
    unlink(path);
    assert_int_equal(oks_sync_members_load(path, m, &e), OKS_E_IO);
    free(m);
}

/* parsing never waits on DNS: names stay unresolved until oks_sync_members_resolve (which the
 * worker runs in a thread); a name that does not resolve is kept with no address */
static void test_names_are_looked_up_apart_from_parsing(void **state)
{
    (void)state;
    oks_sync_members *m = parse("localhost 11370\n"
                                "127.0.0.4 11370\n"
                                "no-such-host.invalid 11370\n");
    assert_int_equal(m->n, 3);
    assert_string_equal(m->v[0].ip, "");
    assert_string_equal(m->v[1].ip, "127.0.0.4");
    assert_string_equal(m->v[2].ip, "");
    assert_int_equal(oks_sync_members_unresolved(m), 2);
    assert_int_equal(oks_sync_members_find_ip(m, "127.0.0.1"), -1);
    assert_int_equal(oks_sync_members_resolve(m), 1);
    assert_string_equal(m->v[0].ip, "127.0.0.1");
    assert_string_equal(m->v[2].ip, "");
    assert_int_equal(oks_sync_members_unresolved(m), 1);
    assert_int_equal(oks_sync_members_find_ip(m, "127.0.0.1"), 0);
    free(m);
}

static void test_more_than_max_members_reported(void **state)
{
    (void)state;
    size_t cap = (OKS_SYNC_MAX_MEMBERS + 2) * 24;
    char *t = malloc(cap), *p = t;
    for (int i = 0; i < OKS_SYNC_MAX_MEMBERS + 2; i++)
        p += sprintf(p, "10.0.%d.%d 11370\n", i / 250, i % 250 + 1);
    oks_sync_members *m = parse(t);
    assert_int_equal(m->n, OKS_SYNC_MAX_MEMBERS);
    assert_int_equal(m->malformed, 2);
    free(m);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sks_file_with_comments_and_blank_lines),
        cmocka_unit_test(test_malformed_lines_are_skipped_and_counted),
        cmocka_unit_test(test_find_by_source_address_ignores_port),
        cmocka_unit_test(test_command_line_partner_host_colon_port),
        cmocka_unit_test(test_load_reads_file_and_refuses_missing_or_huge),
        cmocka_unit_test(test_more_than_max_members_reported),
        cmocka_unit_test(test_names_are_looked_up_apart_from_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
