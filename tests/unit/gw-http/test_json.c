/* gw-http/json: the JSON bodies of op=stats (with the sync worker's state file), the VKS upload
 * answer and VKS errors: exact bytes, escaping of hostile user IDs, and invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-http/json.h"

static char *dump(json_t *j)
{
    static oks_buf out;
    out.len = 0;
    assert_non_null(j);
    assert_int_equal(oks_json_dump(j, &out, false), 0);
    oks_buf_terminate(&out);
    json_decref(j);
    return (char *)out.data;
}

static oks_pgp_key *key_with_uids(const char *const *uids, size_t n)
{
    oks_pgp_key *k = calloc(1, sizeof *k);
    k->uids = calloc(n, sizeof *k->uids);
    k->n_uids = n;
    for (size_t i = 0; i < n; i++) {
        k->uids[i].tag = uids[i][0] == '\x11' ? OKS_PGP_TAG_UAT : OKS_PGP_TAG_UID;
        k->uids[i].body = (const uint8_t *)uids[i];
        k->uids[i].len = strlen(uids[i]);
    }
    return k;
}

static void vks_upload_escapes_every_address(void **state)
{
    (void)state;
    static const char *const uids[] = {
        "Quote <a\"b\\c@example.org>", /* quote and backslash: escaped, not skipped */
        "J\xc3\xb6rg <J\xc3\xb6rg@B\xc3\xbc" "cher.example>", /* non-ASCII kept as UTF-8 */
        "Bad <x\xff@example.org>",    /* invalid UTF-8: U+FFFD */
        "no address at all",
        "\x11 attribute <ua@example.org>",
    };
    oks_pgp_key *k = key_with_uids(uids, 5);
    const char *j = dump(gw_json_vks_upload("ABCD", "0123", k));
    assert_string_equal(j, "{\"key_fpr\":\"ABCD\",\"status\":{\"a\\\"b\\\\c@example.org\":\"published\","
                           "\"j\xc3\xb6rg@b\xc3\xbc" "cher.example\":\"published\","
                           "\"x\xef\xbf\xbd@example.org\":\"published\"},"
                           "\"token\":\"0123\"}");
    /* and it reads back as the same addresses */
    json_t *back = json_loads(j, 0, NULL);
    assert_non_null(back);
    json_t *st = json_object_get(back, "status");
    assert_non_null(json_object_get(st, "a\"b\\c@example.org"));
    assert_int_equal(json_object_size(st), 3);
    json_decref(back);
    free(k->uids);
    free(k);
    assert_string_equal(dump(gw_json_vks_upload("ABCD", "", NULL)),
                        "{\"key_fpr\":\"ABCD\",\"status\":{},\"token\":\"\"}");
}

static void errors_are_escaped(void **state)
{
    (void)state;
    assert_string_equal(dump(gw_json_error("bad \"x\"\\\n\x01")),
                        "{\"error\":\"bad \\\"x\\\"\\\\\\n\\u0001\"}");
}

static Oks__ShardStats *shard(const char *name, int up, uint64_t keys)
{
    Oks__ShardStats *s = calloc(1, sizeof *s);
    oks__shard_stats__init(s);
    s->name = (char *)name;
    s->up = up;
    s->keys = keys;
    s->bytes = keys * 1000;
    s->slots = 4;
    s->last_seq = 7;
    return s;
}

typedef struct stats_run {
    const char *path;
    char *json;
} stats_run;

/* The state file is cached per thread for a second, so each reading runs on a fresh thread. */
static void *stats_thread(void *arg)
{
    stats_run *sr = arg;
    Oks__ShardStats *sh[2] = {shard("s\"1", 1, 5), shard("s2", 0, 6)};
    Oks__Response r = OKS__RESPONSE__INIT;
    r.shards = sh;
    r.n_shards = 2;
    sr->json = strdup(dump(gw_json_stats(&r, sr->path)));
    free(sh[0]);
    free(sh[1]);
    return NULL;
}

static char *stats(const char *path)
{
    stats_run sr = {path, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stats_thread, &sr), 0);
    pthread_join(t, NULL);
    return sr.json;
}

static void stats_without_sync(void **state)
{
    (void)state;
    char *j = stats("/nonexistent/oks-sync-state");
    assert_string_equal(j, "{\"total_keys\":11,\"shards\":[{\"name\":\"s\\\"1\",\"up\":true,\"keys\":5,\"bytes\":5000,"
                           "\"slots\":4,\"last_seq\":7},{\"name\":\"s2\",\"up\":false,\"keys\":6,"
                           "\"bytes\":6000,\"slots\":4,\"last_seq\":7}]}");
    free(j);
}

static void stats_with_sync_state(void **state)
{
    (void)state;
    char path[] = "/tmp/oks-test-syncstate-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] =
        "oks-sync-state 1\n"
        "sync updated=1700000000 pid=42 tree=12345678901234567890 ignored=0\n"
        "partner name=h\"q\\:11370 last_sync_utc=never rounds=3 odd=\xff\n"
        "round time=1 utc=2023-11-14T22:13:20Z partner=p:1 result=ok added=2\n"
        "round time=2 partner=p:2 result=failed\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char *j = stats(path);
    unlink(path);
    const char *sync = strstr(j, ",\"sync\":");
    assert_non_null(sync);
    assert_string_equal(sync,
        ",\"sync\":{\"updated\":1700000000,\"pid\":42,\"tree\":\"12345678901234567890\","
        "\"ignored\":0,\"partners\":[{\"name\":\"h\\\"q\\\\:11370\",\"last_sync_utc\":\"never\","
        "\"rounds\":3,\"odd\":\"\xef\xbf\xbd\"}],\"rounds\":[{\"time\":1,"
        "\"utc\":\"2023-11-14T22:13:20Z\",\"partner\":\"p:1\",\"result\":\"ok\",\"added\":2},"
        "{\"time\":2,\"partner\":\"p:2\",\"result\":\"failed\"}]}}");
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vks_upload_escapes_every_address),
        cmocka_unit_test(errors_are_escaped),
        cmocka_unit_test(stats_without_sync),
        cmocka_unit_test(stats_with_sync_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
