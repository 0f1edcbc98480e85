/* shard/read: read requests against a real store. A lookup by fingerprint finds the key with
 * that primary fingerprint and, when subkeys are asked for, the key with that subkey; and a
 * storage failure is answered as one: with one byte of a stored key flipped in its LevelDB table
 * file, lookups of that key by fingerprint, key ID and user ID words answer STATUS_INTERNAL with
 * LevelDB's reason and the shard's name, never "no matching key" and never the damaged bytes;
 * and the read budget cuts an answer with a mark (truncated), never silently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "lib/cluster.h"
#include "lib/pgp.h"
#include "shard/shard.h"

#define KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg" /* first key: one subkey */

typedef struct fixture {
    char dir[64], conf_path[64];
    oks_cluster conf;
    oks_shard sh;
    oks_buf file, bytes;
    oks_pgp_key *key;
    uint8_t hash[16];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/oks-test-read-XXXXXX");
    snprintf(f->conf_path, sizeof f->conf_path, "/tmp/oks-test-read-conf-XXXXXX");
    int fd = mkstemp(f->conf_path);
    if (!mkdtemp(f->dir) || fd < 0)
        return -1;
    static const char conf[] = "[cluster]\nslots = 16\nrouters = tcp://127.0.0.1:1\n"
                               "[shard.s0]\nendpoint = tcp://127.0.0.1:2\nslots = 0-15\n";
    if (write(fd, conf, sizeof conf - 1) != (ssize_t)(sizeof conf - 1))
        return -1;
    close(fd);
    oks_err e;
    if (oks_cluster_load(f->conf_path, &f->conf, &e))
        return -1;
    FILE *fp = fopen(KEYRING, "rb");
    if (!fp)
        return -1;
    uint8_t chunk[65536];
    size_t n, off = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&f->file, chunk, n);
    fclose(fp);
    oks_pgp_limits_default(&f->sh.lim);
    oks_slice k;
    if (oks_pgp_split_next(f->file.data, f->file.len, &off, &k, &e) ||
        oks_pgp_key_parse(k.ptr, k.len, &f->sh.lim, OKS_PGP_TRUSTED, &f->key, &e) ||
        f->key->n_subkeys < 1)
        return -1;
    oks_pgp_key_serialize(f->key, &f->bytes);
    oks_pgp_key_sks_hash(f->key, f->hash);
    f->sh.conf = &f->conf;
    f->sh.self = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->sh.store)
        oks_store_close(f->sh.store);
    oks_pgp_key_free(f->key);
    oks_buf_release(&f->file);
    oks_buf_release(&f->bytes);
    oks_cluster_release(&f->conf);
    unlink(f->conf_path);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void open_store(fixture *f)
{
    oks_err e;
    assert_int_equal(oks_store_open(f->dir, NULL, &f->sh.store, &e), 0);
}

static void close_store(fixture *f)
{
    oks_store_close(f->sh.store);
    f->sh.store = NULL;
}

static void store_key(fixture *f)
{
    oks_err e;
    oks_store_change c = {.fpr = f->key->primary.fpr,
                          .fpr_len = f->key->primary.fpr_len,
                          .new_key = f->key,
                          .new_key_bytes = f->bytes.data,
                          .new_key_len = f->bytes.len,
                          .new_hash = f->hash};
    assert_int_equal(oks_store_apply(f->sh.store, &c, 1, true, &e), 0);
}

static void get_fpr(fixture *f, const uint8_t *fpr, size_t len, bool subkeys, Oks__Response *r)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    g.fingerprint = (ProtobufCBinaryData){len, (uint8_t *)fpr};
    g.subkeys = subkeys;
    oks__response__init(r);
    oks_shard_handle_read(&f->sh, &q, r);
}

static void a_fingerprint_finds_its_primary_and_with_subkeys_its_subkeys_key(void **state)
{
    fixture *f = *state;
    open_store(f);
    store_key(f);
    const oks_pgp_pubkey *pk = &f->key->primary, *sk = &f->key->subkeys[0].key;
    Oks__Response r;
    get_fpr(f, pk->fpr, pk->fpr_len, true, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, 1);
    assert_int_equal(r.total, 1);
    assert_memory_equal(r.keys[0]->data.data, f->bytes.data, f->bytes.len);
    oks_shard_response_release(&r);
    get_fpr(f, sk->fpr, sk->fpr_len, true, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, 1);
    assert_memory_equal(r.keys[0]->fingerprint.data, pk->fpr, pk->fpr_len);
    oks_shard_response_release(&r);
    get_fpr(f, sk->fpr, sk->fpr_len, false, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_NOT_FOUND);
    oks_shard_response_release(&r);
    close_store(f);
}

/* The one table file of the store. */
static void table_path(const fixture *f, char *out, size_t cap)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    size_t n = 0;
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".ldb") == 0) {
            snprintf(out, cap, "%s/%s", f->dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
}

/* Flips one byte of the stored key's packets where they sit in the table file (key material
 * does not compress, so its bytes are there as they are). */
static void damage_key_in_table(fixture *f)
{
    char path[sizeof f->dir + 1 + 256];
    table_path(f, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *t = malloc((size_t)st.st_size);
    assert_non_null(t);
    assert_int_equal(pread(fd, t, (size_t)st.st_size, 0), st.st_size);
    const uint8_t *probe = f->bytes.data + f->bytes.len / 2;
    uint8_t *at = memmem(t, (size_t)st.st_size, probe, 32);
    assert_non_null(at);
    uint8_t b = (uint8_t)(at[16] ^ 0x01);
    assert_int_equal(pwrite(fd, &b, 1, at + 16 - t), 1);
    close(fd);
    free(t);
}

static void a_damaged_table_is_an_error_not_a_missing_key(void **state)
{
    fixture *f = *state;
    open_store(f);
    store_key(f);
    close_store(f);
    open_store(f); /* LevelDB writes the recovered log into a table file */
    close_store(f);
    damage_key_in_table(f);
    open_store(f);
    const oks_pgp_pubkey *pk = &f->key->primary;
    Oks__Response r;
    get_fpr(f, pk->fpr, pk->fpr_len, true, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_INTERNAL);
    assert_int_equal(r.n_keys, 0);
    assert_non_null(strstr(r.error, "shard s0"));
    assert_non_null(strstr(r.error, "Corruption"));
    oks_shard_response_release(&r);

    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByKeyId g = OKS__GET_BY_KEY_ID__INIT;
    q.op_case = OKS__REQUEST__OP_GET_KEY_ID;
    q.get_key_id = &g;
    g.key_id = (ProtobufCBinaryData){8, (uint8_t *)pk->keyid};
    oks__response__init(&r);
    oks_shard_handle_read(&f->sh, &q, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_INTERNAL);
    assert_non_null(strstr(r.error, "Corruption"));
    oks_shard_response_release(&r);

    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    s.text = "archive automatic signing";
    oks__response__init(&r);
    oks_shard_handle_read(&f->sh, &q, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_INTERNAL);
    assert_non_null(strstr(r.error, "Corruption"));
    oks_shard_response_release(&r);
    close_store(f);
}

/* Stores every key of the keyring (all hold the words "debian" and "key"); returns how many. */
static size_t store_keyring(fixture *f)
{
    oks_err e;
    oks_slice k;
    size_t off = 0, n = 0;
    while (oks_pgp_split_next(f->file.data, f->file.len, &off, &k, &e) == 0 && k.len) {
        oks_pgp_key *key;
        oks_buf bytes = OKS_BUF_INIT;
        uint8_t hash[16];
        assert_int_equal(oks_pgp_key_parse(k.ptr, k.len, &f->sh.lim, OKS_PGP_TRUSTED, &key, &e), 0);
        oks_pgp_key_serialize(key, &bytes);
        oks_pgp_key_sks_hash(key, hash);
        oks_store_change c = {.fpr = key->primary.fpr, .fpr_len = key->primary.fpr_len,
                              .new_key = key, .new_key_bytes = bytes.data,
                              .new_key_len = bytes.len, .new_hash = hash};
        assert_int_equal(oks_store_apply(f->sh.store, &c, 1, true, &e), 0);
        oks_pgp_key_free(key);
        oks_buf_release(&bytes);
        n++;
    }
    return n;
}

static void search_words(fixture *f, const char *text, Oks__Response *r)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    s.text = (char *)text;
    oks__response__init(r);
    oks_shard_handle_read(&f->sh, &q, r);
}

static void list_keys(fixture *f, Oks__Response *r)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__ListKeys l = OKS__LIST_KEYS__INIT;
    q.op_case = OKS__REQUEST__OP_LIST;
    q.list = &l;
    l.limit = 100;
    oks__response__init(r);
    oks_shard_handle_read(&f->sh, &q, r);
}

/* The read budget (a quarter of max_message_bytes, at most 16 MiB): a search or a ListKeys page
 * whose keys pass it answers the keys read until then, at least one, marked truncated, with the
 * full match count; within the budget the same requests answer every key, unmarked. */
static void the_read_budget_cuts_answers_and_says_so(void **state)
{
    fixture *f = *state;
    open_store(f);
    size_t n = store_keyring(f);
    assert_true(n > 2);
    Oks__Response r;
    search_words(f, "debian key", &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, n);
    assert_int_equal(r.total, n);
    assert_false(r.truncated);
    oks_shard_response_release(&r);
    list_keys(f, &r);
    assert_int_equal(r.n_keys, n);
    assert_false(r.truncated);
    oks_shard_response_release(&r);

    f->conf.max_message_bytes = 4 * 1024; /* a budget of 1 KiB: smaller than any key here */
    search_words(f, "debian key", &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, 1);
    assert_int_equal(r.total, n);
    assert_true(r.truncated);
    oks_shard_response_release(&r);
    list_keys(f, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, 1);
    assert_true(r.truncated);
    oks_shard_response_release(&r);
    close_store(f);
}

static void search_kind(fixture *f, const char *text, Oks__SearchKind kind, Oks__Response *r)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    s.text = (char *)text;
    s.kind = kind;
    oks__response__init(r);
    oks_shard_handle_read(&f->sh, &q, r);
}

/* SEARCH_DANE ("<hex of SHA2-256(local part)[0..28]>@domain", RFC 7929 owner names) finds the
 * keys SEARCH_EMAIL finds for that address, the domain and hex digits in any case; text of
 * another form is a bad request. */
static void a_dane_search_finds_the_keys_of_the_address(void **state)
{
    fixture *f = *state;
    open_store(f);
    store_keyring(f);
    Oks__Response r;
    search_kind(f, "ftpmaster@debian.org", OKS__SEARCH_KIND__SEARCH_EMAIL, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    size_t by_mail = r.n_keys;
    assert_true(by_mail > 0);
    oks_shard_response_release(&r);
    uint8_t h[32];
    gcry_md_hash_buffer(GCRY_MD_SHA256, h, "ftpmaster", 9);
    char text[128];
    for (int i = 0; i < 28; i++)
        snprintf(text + 2 * i, 3, "%02X", h[i]);
    strcat(text, "@Debian.ORG");
    search_kind(f, text, OKS__SEARCH_KIND__SEARCH_DANE, &r);
    assert_int_equal(r.status, OKS__STATUS__STATUS_OK);
    assert_int_equal(r.n_keys, by_mail);
    oks_shard_response_release(&r);
    text[0] = text[0] == '0' ? '1' : '0'; /* another hash: nothing */
    search_kind(f, text, OKS__SEARCH_KIND__SEARCH_DANE, &r);
    assert_int_equal(r.n_keys, 0);
    oks_shard_response_release(&r);
    static const char *const bad[] = {"ftpmaster@debian.org", "abc@debian.org",
                                      "0000000000000000000000000000000000000000000000000000000g@x"};
    for (size_t i = 0; i < 3; i++) {
        search_kind(f, bad[i], OKS__SEARCH_KIND__SEARCH_DANE, &r);
        assert_int_equal(r.status, OKS__STATUS__STATUS_BAD_REQUEST);
        oks_shard_response_release(&r);
    }
    close_store(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_fingerprint_finds_its_primary_and_with_subkeys_its_subkeys_key, setup, teardown),
        cmocka_unit_test_setup_teardown(a_damaged_table_is_an_error_not_a_missing_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_read_budget_cuts_answers_and_says_so, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_dane_search_finds_the_keys_of_the_address, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
