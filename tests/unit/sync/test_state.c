/* sync/state: partner figures follow the membership, rounds update them, and the state file
 * has the documented records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/state.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *b = calloc(1, 65536);
    size_t n = fread(b, 1, 65535, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static oks_sync_round round_of(const char *peer, int ok, size_t fetch, size_t added, size_t sent)
{
    oks_sync_round r;
    memset(&r, 0, sizeof r);
    snprintf(r.partner, sizeof r.partner, "%s", peer);
    r.time = 1700000000;
    r.ok = ok;
    r.fetch = r.fetched = fetch;
    r.added = added;
    r.sent = sent;
    r.ms = 12;
    return r;
}

static void test_rounds_update_partner_and_file(void **state)
{
    (void)state;
    oks_sync_state *s = calloc(1, sizeof *s);
    oks_sync_members *m = calloc(1, sizeof *m);
    const char *text = "127.0.0.1 11370\n127.0.0.1 11380\n";
    oks_sync_members_parse(text, strlen(text), "t", m);
    oks_sync_state_set_members(s, m);
    assert_int_equal(s->n_peers, 2);
    oks_sync_round r = round_of("127.0.0.1:11370", 1, 5, 4, 7);
    oks_sync_state_round(s, &r);
    r = round_of("127.0.0.1:11370", 0, 0, 0, 0);
    oks_sync_state_round(s, &r);
    r = round_of("127.0.0.1:11380", 1, 0, 0, 0); /* moved nothing: not in the recent list */
    oks_sync_state_round(s, &r);
    assert_int_equal(s->n_recent, 2);
    char path[] = "/tmp/oks-test-state-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    oks_err e;
    assert_int_equal(oks_sync_state_write(s, path, 42, 3, &e), 0);
    char *f = slurp(path);
    assert_true(strncmp(f, "oks-sync-state 1\nsync updated=", 30) == 0);
    assert_non_null(strstr(f, " tree=42 ignored=3 members=2 rebuilds=0\n"));
    assert_non_null(strstr(f, "partner name=127.0.0.1:11370 last_sync=1700000000 "
                              "last_sync_utc=2023-11-14T22:13:20Z last_result=failed rounds=2 "
                              "failures=1 "));
    assert_non_null(strstr(f, "total_added=4 total_sent=7\n"));
    assert_non_null(strstr(f, "partner name=127.0.0.1:11380 last_sync=1700000000"));
    assert_non_null(strstr(f, "round time=1700000000 utc=2023-11-14T22:13:20Z "
                              "partner=127.0.0.1:11370 result=ok fetch=5 fetched=5 added=4 "
                              "sent=7 ignored=0 ms=12\n"));
    /* newest first */
    assert_true(strstr(f, "result=failed fetch=0") < strstr(f, "result=ok fetch=5"));
    free(f);
    /* a member removed from the file disappears; the figures of the kept one stay */
    text = "127.0.0.1 11370\n";
    oks_sync_members_parse(text, strlen(text), "t", m);
    oks_sync_state_set_members(s, m);
    assert_int_equal(s->n_peers, 1);
    assert_int_equal(s->peers[0].rounds, 2);
    unlink(path);
    free(s);
    free(m);
}

static void test_never_synced_partner(void **state)
{
    (void)state;
    oks_sync_state *s = calloc(1, sizeof *s);
    oks_sync_members *m = calloc(1, sizeof *m);
    const char *text = "10.0.0.1 11370\n";
    oks_sync_members_parse(text, strlen(text), "t", m);
    oks_sync_state_set_members(s, m);
    char path[] = "/tmp/oks-test-state-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    oks_err e;
    assert_int_equal(oks_sync_state_write(s, path, 0, 0, &e), 0);
    char *f = slurp(path);
    assert_non_null(strstr(f, "partner name=10.0.0.1:11370 last_sync=0 last_sync_utc=never "
                              "last_result=none rounds=0"));
    free(f);
    unlink(path);
    free(s);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_update_partner_and_file),
        cmocka_unit_test(test_never_synced_partner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
