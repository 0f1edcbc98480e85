/* gw-mail/rate.c: address normalization, per-mailbox, per-domain and global limits charged
 * before a command runs, scan and byte budgets, and a counter map in which no address can
 * reset another's counter (neither by colliding with it nor by filling the map). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gw-mail/mail.h"

static void normalizes_case_and_subaddress(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(oks_mail_addr_normalize("Bob+x1@Example.ORG.", out, sizeof(out)), 0);
    assert_string_equal(out, "bob@example.org");
    assert_int_equal(oks_mail_addr_normalize("<bob@example.org>", out, sizeof(out)), 0);
    assert_string_equal(out, "bob@example.org");
    /* a local part that is only "+tag" keeps it: there is nothing else to count */
    assert_int_equal(oks_mail_addr_normalize("+x@example.org", out, sizeof(out)), 0);
    assert_string_equal(out, "+x@example.org");
    assert_int_not_equal(oks_mail_addr_normalize("no-at-sign", out, sizeof(out)), 0);
    assert_int_not_equal(oks_mail_addr_normalize("a@", out, sizeof(out)), 0);
    assert_int_not_equal(oks_mail_addr_normalize("bob@example.org", out, 8), 0);
}

static void subaddresses_share_the_mailbox_counter(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.per_sender = 2};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_null(oks_mail_rate_admit(r, "bob+1@example.org", false, 1000));
    assert_null(oks_mail_rate_admit(r, "BOB+2@Example.org", false, 1001));
    assert_non_null(oks_mail_rate_admit(r, "bob+3@example.org", false, 1002));
    assert_non_null(oks_mail_rate_admit(r, "bob@EXAMPLE.ORG", false, 1002));
    assert_null(oks_mail_rate_admit(r, "alice@example.org", false, 1002));
    /* the window passes */
    assert_null(oks_mail_rate_admit(r, "bob@example.org", false, 1000 + 3600));
    oks_mail_rate_free(r);
}

/* The old table had 1,024 slots indexed by a hash: any of the thousands of addresses below that
 * landed in the victim's slot replaced its counter. Here none of them touches it. */
static void other_addresses_never_reset_a_counter(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.per_sender = 3, .global = 0};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    for (int i = 0; i < 3; i++)
        assert_null(oks_mail_rate_admit(r, "victim@example.org", false, 100));
    assert_non_null(oks_mail_rate_admit(r, "victim@example.org", false, 100));
    char a[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(a, sizeof(a), "attacker%d@example.net", i);
        assert_null(oks_mail_rate_admit(r, a, false, 101));
    }
    assert_non_null(oks_mail_rate_admit(r, "victim@example.org", false, 102));
    oks_mail_rate_free(r);
}

/* A full map of live entries refuses new addresses; it never evicts a live counter. */
static void full_map_refuses_new_addresses_and_keeps_live_counters(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.per_sender = 1, .max_entries = 4, .sender_window_s = 100};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_null(oks_mail_rate_admit(r, "victim@a.org", false, 0));  /* m:victim, d:a.org */
    assert_null(oks_mail_rate_admit(r, "x@b.org", false, 10));      /* m:x, d:b.org */
    assert_int_equal(oks_mail_rate_entries(r), 4);
    const char *why = oks_mail_rate_admit(r, "y@c.org", false, 20);
    assert_non_null(why);
    assert_non_null(strstr(why, "full"));
    assert_non_null(oks_mail_rate_admit(r, "victim@a.org", false, 20)); /* still counted */
    /* once the victim's window has passed its entries may go, not before */
    assert_null(oks_mail_rate_admit(r, "y@c.org", false, 105));
    assert_non_null(oks_mail_rate_admit(r, "x@b.org", false, 105)); /* x's window still runs */
    oks_mail_rate_free(r);
}

/* Without max_entries the map holds whatever the global limit can admit within a window. */
static void default_size_follows_the_global_limit(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.per_sender = 1, .global = 50, .global_window_s = 60,
                            .sender_window_s = 600};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    char a[64];
    int admitted = 0;
    for (int t = 0; t < 600; t += 60)
        for (int i = 0; i < 60; i++) {
            snprintf(a, sizeof(a), "u%d.%d@d%d.example", t, i, i);
            const char *why = oks_mail_rate_admit(r, a, false, t);
            if (why == NULL)
                admitted++;
            else
                assert_non_null(strstr(why, "global"));
        }
    assert_int_equal(admitted, 500);
    oks_mail_rate_free(r);
}

static void domain_limit_counts_every_mailbox_of_the_domain(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.per_sender = 10, .per_domain = 3};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_null(oks_mail_rate_admit(r, "a@victim.example", false, 0));
    assert_null(oks_mail_rate_admit(r, "b@victim.example", false, 0));
    assert_null(oks_mail_rate_admit(r, "c@Victim.Example", false, 0));
    const char *why = oks_mail_rate_admit(r, "d@victim.example", false, 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "domain"));
    assert_null(oks_mail_rate_admit(r, "d@other.example", false, 0));
    oks_mail_rate_free(r);
}

static void global_limit(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.global = 3, .global_window_s = 60};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_null(oks_mail_rate_admit(r, "a@x", false, 0));
    assert_null(oks_mail_rate_admit(r, "b@x", false, 1));
    assert_null(oks_mail_rate_admit(r, "c@x", false, 2));
    assert_non_null(oks_mail_rate_admit(r, "d@x", false, 3));
    oks_mail_rate_refund(r, "c@x", 3); /* c's reply could not be sent: kept for later */
    assert_null(oks_mail_rate_admit(r, "d@x", false, 3));
    assert_null(oks_mail_rate_admit(r, "d@x", false, 61));
    oks_mail_rate_free(r);
}

static void scan_budget_is_per_mailbox_and_global(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.scan_per_sender = 1000, .scan_global = 1500};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_int_equal(oks_mail_rate_scan_left(r, "a@x.org", 0), 1000);
    assert_null(oks_mail_rate_admit(r, "a@x.org", true, 0));
    oks_mail_rate_charge_scan(r, "a+tag@X.org", 1000, 0);
    assert_int_equal(oks_mail_rate_scan_left(r, "a@x.org", 0), 0);
    const char *why = oks_mail_rate_admit(r, "a@x.org", true, 1);
    assert_non_null(why);
    assert_non_null(strstr(why, "scan"));
    assert_null(oks_mail_rate_admit(r, "a@x.org", false, 1)); /* GET needs no scan budget */
    assert_int_equal(oks_mail_rate_scan_left(r, "b@x.org", 1), 500); /* global left */
    oks_mail_rate_charge_scan(r, "b@x.org", 500, 1);
    assert_non_null(oks_mail_rate_admit(r, "c@y.org", true, 2));
    assert_null(oks_mail_rate_admit(r, "c@y.org", true, 61)); /* next global window */
    oks_mail_rate_free(r);
}

static void reply_bytes_per_mailbox_and_domain(void **state)
{
    (void)state;
    oks_mail_rate_conf c = {.bytes_per_sender = 1000, .bytes_per_domain = 1500};
    oks_mail_rate *r = oks_mail_rate_new(&c);
    assert_true(oks_mail_rate_bytes_fit(r, "a@x.org", 1000, 0));
    assert_false(oks_mail_rate_bytes_fit(r, "a@x.org", 1001, 0));
    oks_mail_rate_charge_bytes(r, "a@x.org", 800, 0);
    assert_false(oks_mail_rate_bytes_fit(r, "a+1@x.org", 300, 0));
    assert_true(oks_mail_rate_bytes_fit(r, "b@x.org", 700, 0));
    assert_false(oks_mail_rate_bytes_fit(r, "b@x.org", 701, 0)); /* the domain's budget */
    oks_mail_rate_charge_bytes(r, "a@x.org", 200, 0);
    /* a mailbox whose byte budget is spent is not admitted to run more commands */
    assert_non_null(oks_mail_rate_admit(r, "a@x.org", false, 1));
    oks_mail_rate_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalizes_case_and_subaddress),
        cmocka_unit_test(subaddresses_share_the_mailbox_counter),
        cmocka_unit_test(other_addresses_never_reset_a_counter),
        cmocka_unit_test(full_map_refuses_new_addresses_and_keeps_live_counters),
        cmocka_unit_test(default_size_follows_the_global_limit),
        cmocka_unit_test(domain_limit_counts_every_mailbox_of_the_domain),
        cmocka_unit_test(global_limit),
        cmocka_unit_test(scan_budget_is_per_mailbox_and_global),
        cmocka_unit_test(reply_bytes_per_mailbox_and_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
