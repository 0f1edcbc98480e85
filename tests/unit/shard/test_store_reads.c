/* shard/store: how table files are read ([shard] table_reads). With pread no LevelDB table file
 * of the store is ever mapped into the process, with mmap it is (LevelDB's default) — checked in
 * /proc/self/maps after a lookup that must read a table; the options come from a real config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cluster.h"
#include "lib/pgp.h"
#include "shard/store.h"

#define KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

typedef struct fixture {
    char dir[64];
    oks_buf file, bytes;
    oks_pgp_key *key;
    uint8_t hash[16];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/oks-test-reads-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    FILE *fp = fopen(KEYRING, "rb");
    if (!fp)
        return -1;
    uint8_t chunk[65536];
    size_t n, off = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(&f->file, chunk, n);
    fclose(fp);
    oks_pgp_limits lim;
    oks_pgp_limits_default(&lim);
    oks_slice k;
    oks_err e;
    if (oks_pgp_split_next(f->file.data, f->file.len, &off, &k, &e) ||
        oks_pgp_key_parse(k.ptr, k.len, &lim, OKS_PGP_TRUSTED, &f->key, &e))
        return -1;
    oks_pgp_key_serialize(f->key, &f->bytes);
    oks_pgp_key_sks_hash(f->key, f->hash);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    oks_pgp_key_free(f->key);
    oks_buf_release(&f->file);
    oks_buf_release(&f->bytes);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Table files (*.ldb) of dir on disk, and how many of them /proc/self/maps shows mapped. */
static size_t tables_on_disk(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        n += l > 4 && strcmp(de->d_name + l - 4, ".ldb") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static size_t tables_mapped(const char *dir)
{
    FILE *m = fopen("/proc/self/maps", "r");
    assert_non_null(m);
    char line[4096];
    size_t n = 0, dl = strlen(dir);
    while (fgets(line, sizeof line, m)) {
        const char *p = strstr(line, dir);
        if (p && p[dl] == '/' && strstr(p, ".ldb"))
            n++;
    }
    fclose(m);
    return n;
}

/* Stores the key, reopens the store (LevelDB writes the recovered log into a table file) and
 * looks the key up, which reads it from that table. Returns the mapped table count. */
static size_t lookup_through_a_table(fixture *f, const oks_store_opts *o)
{
    oks_store *s = NULL;
    oks_err e;
    assert_int_equal(oks_store_open(f->dir, o, &s, &e), 0);
    oks_store_change c = {.fpr = f->key->primary.fpr,
                          .fpr_len = f->key->primary.fpr_len,
                          .new_key = f->key,
                          .new_key_bytes = f->bytes.data,
                          .new_key_len = f->bytes.len,
                          .new_hash = f->hash};
    assert_int_equal(oks_store_apply(s, &c, 1, true, &e), 0);
    oks_store_close(s);
    assert_int_equal(tables_on_disk(f->dir), 0);
    assert_int_equal(oks_store_open(f->dir, o, &s, &e), 0);
    assert_true(tables_on_disk(f->dir) >= 1);
    oks_store_record rec;
    assert_int_equal(oks_store_get(s, f->key->primary.fpr, f->key->primary.fpr_len, &rec, &e), 1);
    assert_int_equal(rec.key.len, f->bytes.len);
    assert_memory_equal(rec.key.ptr, f->bytes.data, f->bytes.len);
    assert_memory_equal(rec.hash, f->hash, 16);
    oks_store_record_release(&rec);
    size_t mapped = tables_mapped(f->dir);
    oks_store_close(s);
    return mapped;
}

static void pread_reads_leave_no_table_file_mapped(void **state)
{
    fixture *f = *state;
    oks_store_opts o = {.cache_mb = 8, .table_reads = OKS_STORE_READS_PREAD};
    assert_int_equal(lookup_through_a_table(f, &o), 0);
}

static void default_options_read_tables_with_pread(void **state)
{
    fixture *f = *state;
    assert_int_equal(lookup_through_a_table(f, NULL), 0);
}

static void mmap_reads_map_the_table_file(void **state)
{
    fixture *f = *state;
    oks_store_opts o = {.cache_mb = 8, .table_reads = OKS_STORE_READS_MMAP};
    assert_true(lookup_through_a_table(f, &o) >= 1);
}

/* Loads a config whose [shard] section has the given lines: the load or the options fail. */
static int opts_of(fixture *f, const char *shard_lines, oks_store_opts *o, oks_err *e)
{
    char path[96];
    snprintf(path, sizeof path, "%s/oks.conf", f->dir);
    FILE *c = fopen(path, "w");
    assert_non_null(c);
    fprintf(c, "[cluster]\nslots = 4\n[shard.a]\nendpoint = tcp://127.0.0.1:1\ndata = %s\n"
               "slots = 0-3\n[shard]\n%s",
            f->dir, shard_lines);
    fclose(c);
    oks_cluster conf;
    int r = oks_cluster_load(path, &conf, e); /* bad values are refused here */
    if (r)
        return r;
    r = oks_store_opts_from_config(&conf, o, e);
    oks_cluster_release(&conf);
    return r;
}

static void config_selects_table_reads_and_sizes(void **state)
{
    fixture *f = *state;
    oks_store_opts o;
    oks_err e;
    assert_int_equal(opts_of(f, "cache_mb = 32\n", &o, &e), 0);
    assert_int_equal(o.table_reads, OKS_STORE_READS_PREAD);
    assert_int_equal(o.cache_mb, 32);
    assert_int_equal(o.write_buffer_mb, OKS_STORE_WRITE_BUFFER_MB);
    assert_int_equal(o.max_open_files, OKS_STORE_MAX_OPEN_FILES);
    assert_int_equal(opts_of(f, "table_reads = mmap\nwrite_buffer_mb = 4\nmax_open_files = 100\n",
                             &o, &e),
                     0);
    assert_int_equal(o.table_reads, OKS_STORE_READS_MMAP);
    assert_int_equal(o.write_buffer_mb, 4);
    assert_int_equal(o.max_open_files, 100);
    assert_int_equal(opts_of(f, "table_reads = pread\n", &o, &e), 0);
    assert_int_equal(o.table_reads, OKS_STORE_READS_PREAD);
}

static void bad_table_reads_or_size_is_refused_by_name(void **state)
{
    fixture *f = *state;
    oks_store_opts o;
    oks_err e;
    assert_int_equal(opts_of(f, "table_reads = mmapped\n", &o, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "table_reads"));
    assert_int_equal(opts_of(f, "write_buffer_mb = 0\n", &o, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "write_buffer_mb"));
    assert_int_equal(opts_of(f, "max_open_files = 12x\n", &o, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "max_open_files"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pread_reads_leave_no_table_file_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(default_options_read_tables_with_pread, setup, teardown),
        cmocka_unit_test_setup_teardown(mmap_reads_map_the_table_file, setup, teardown),
        cmocka_unit_test_setup_teardown(config_selects_table_reads_and_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_table_reads_or_size_is_refused_by_name, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
