/*
 * oksctl backup / restore: a consistent copy of one live shard, read page by page from a
 * snapshot the shard holds (proto "Backup", admin key only, straight to the shard), written as
 * one versioned, checksummed stream; and that stream loaded into a fresh shard data directory.
 *
 * The stream format is in lib/backup.h (its reader lives there, fuzzed).
 */
#include "lib/backup.h"
#include "oksctl/cluster.h"
#include "oksctl/oksctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKUP_FILE "backup.oks"
/* Entries per WriteBatch of a restore. */
#define RESTORE_BATCH 1000

static const char backup_usage[] =
    "usage: oksctl backup [-c CONFIG] --shard NAME --out DIR|-\n"
    "\n"
    "Copies every entry of the live shard NAME (keys, indexes, change log, counters) from one\n"
    "snapshot, page by page, into DIR/" BACKUP_FILE " (DIR is created) or to standard output\n"
    "(-). Talks to the shard directly: needs the admin key when [security] is set.\n";

static const char restore_usage[] =
    "usage: oksctl restore --in DIR|- --data DIR\n"
    "\n"
    "Checks and loads a backup (DIR/" BACKUP_FILE ", or standard input with -) into the data\n"
    "directory of a stopped shard, which must be empty or absent. A backup whose checksum,\n"
    "version or framing is wrong is refused; nothing is left in --data then.\n";

typedef struct bstream {
    FILE *f;
    gcry_md_hd_t md;
} bstream;

static int put(bstream *s, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    gcry_md_write(s->md, p, n);
    return fwrite(p, 1, n, s->f) == n ? 0 : -1;
}

static int put32(bstream *s, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return put(s, b, 4);
}

static int put64(bstream *s, uint64_t v)
{
    return put32(s, (uint32_t)(v >> 32)) | put32(s, (uint32_t)v);
}

static int backup_pages(oksctl_conn *c, const char *shard, bstream *s)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Backup b = OKS__BACKUP__INIT;
    q.op_case = OKS__REQUEST__OP_BACKUP;
    q.backup = &b;
    uint8_t *after = NULL;
    uint64_t count = 0;
    int rc = 0;
    for (bool first = true;; first = false) {
        Oks__Response *r = oksctl_call(c, &q);
        if (!r) {
            rc = 1;
            break;
        }
        if (r->status != OKS__STATUS__STATUS_OK || !r->backup) {
            fprintf(stderr, "oksctl: backup of %s: %s: %s\n", shard,
                    oks_proto_status_name(r->status), r->error ? r->error : "no backup page");
            oks__response__free_unpacked(r, NULL);
            rc = 1;
            break;
        }
        if (first) {
            const char *name = r->backup->shard;
            if (put(s, OKS_BACKUP_MAGIC, 8) || put32(s, OKS_BACKUP_VERSION) ||
                put32(s, (uint32_t)strlen(name)) || put(s, name, strlen(name)) ||
                put64(s, r->backup->last_seq))
                rc = -1;
            b.id = r->backup->id;
        }
        for (size_t i = 0; rc == 0 && i < r->n_backup_entries; i++) {
            const Oks__BackupEntry *en = r->backup_entries[i];
            if (put(s, "E", 1) || put32(s, (uint32_t)en->key.len) ||
                put32(s, (uint32_t)en->value.len) || put(s, en->key.data, en->key.len) ||
                put(s, en->value.data, en->value.len))
                rc = -1;
            count++;
        }
        if (r->n_backup_entries) {
            const ProtobufCBinaryData *k = &r->backup_entries[r->n_backup_entries - 1]->key;
            free(after);
            after = malloc(k->len ? k->len : 1);
            if (!after) {
                rc = -1;
            } else {
                memcpy(after, k->data, k->len);
                b.after = (ProtobufCBinaryData){k->len, after};
            }
        }
        bool done = r->backup->done;
        oks__response__free_unpacked(r, NULL);
        if (rc || done)
            break;
    }
    free(after);
    if (rc < 0)
        fprintf(stderr, "oksctl: backup of %s: cannot write: %s\n", shard, strerror(errno));
    if (rc)
        return 1;
    if (put(s, "Z", 1) || put64(s, count)) {
        fprintf(stderr, "oksctl: backup: cannot write: %s\n", strerror(errno));
        return 1;
    }
    unsigned char *d = gcry_md_read(s->md, GCRY_MD_SHA256);
    if (fwrite(d, 1, 32, s->f) != 32 || fflush(s->f) != 0) {
        fprintf(stderr, "oksctl: backup: cannot write: %s\n", strerror(errno));
        return 1;
    }
    fprintf(stderr, "oksctl: backup of %s: %llu entries\n", shard, (unsigned long long)count);
    return 0;
}

int oksctl_backup(int argc, char **argv)
{
    const char *conf = NULL, *shard = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(backup_usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            conf = argv[++i];
        } else if (strcmp(argv[i], "--shard") == 0 && i + 1 < argc) {
            shard = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else {
            fputs(backup_usage, stderr);
            return 2;
        }
    }
    if (!shard || !out) {
        fputs(backup_usage, stderr);
        return 2;
    }
    char path[4096], tmp[4200];
    bstream s = {0};
    if (strcmp(out, "-") == 0) {
        s.f = stdout;
    } else {
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "oksctl: %s: %s\n", out, strerror(errno));
            return 1;
        }
        snprintf(path, sizeof path, "%s/" BACKUP_FILE, out);
        snprintf(tmp, sizeof tmp, "%s.part", path);
        if (!(s.f = fopen(tmp, "wbx"))) {
            fprintf(stderr, "oksctl: %s: %s\n", tmp, strerror(errno));
            return 1;
        }
    }
    oksctl_conn c;
    int rc = oksctl_connect_to(&c, conf, shard);
    if (rc == 0) {
        gcry_md_open(&s.md, GCRY_MD_SHA256, 0);
        rc = backup_pages(&c, shard, &s);
        gcry_md_close(s.md);
        oksctl_disconnect(&c);
    }
    if (s.f != stdout) {
        if (rc == 0 && (fsync(fileno(s.f)) != 0 || rename(tmp, path) != 0)) {
            fprintf(stderr, "oksctl: %s: %s\n", path, strerror(errno));
            rc = 1;
        }
        fclose(s.f);
        if (rc)
            unlink(tmp);
    }
    return rc;
}

/* ---- restore -------------------------------------------------------------------------- */

static int file_read(void *arg, void *buf, size_t n)
{
    return fread(buf, 1, n, arg) == n ? 0 : -1;
}

typedef struct restore_ctx {
    leveldb_t *db;
    leveldb_writebatch_t *wb;
    leveldb_writeoptions_t *wo;
    size_t pending;
    char *err;
} restore_ctx;

static int restore_flush(restore_ctx *r, bool sync)
{
    leveldb_writeoptions_set_sync(r->wo, sync);
    leveldb_write(r->db, r->wo, r->wb, &r->err);
    leveldb_writebatch_clear(r->wb);
    r->pending = 0;
    return r->err ? -1 : 0;
}

static int restore_entry(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    restore_ctx *r = arg;
    leveldb_writebatch_put(r->wb, (const char *)k, kl, (const char *)v, vl);
    return ++r->pending == RESTORE_BATCH ? restore_flush(r, false) : 0;
}

/* Reads a whole stream; with db set, writes its entries. 0, or 1 after printing why. */
static int restore_read(FILE *f, leveldb_t *db, const char *what)
{
    restore_ctx r = {db, leveldb_writebatch_create(), leveldb_writeoptions_create(), 0, NULL};
    oks_backup_info info;
    oks_err e;
    char msg[400];
    int rc = oks_backup_read(file_read, f, db ? restore_entry : NULL, &r, &info, &e);
    if (rc == 0 && db && restore_flush(&r, true))
        rc = oks_err_set(&e, OKS_E_IO, OKS_NO_OFFSET, "cannot write the data directory");
    if (rc)
        fprintf(stderr, "oksctl: restore: %s: %s%s%s\n", what, oks_err_format(&e, msg, sizeof msg),
                r.err ? ": " : "", r.err ? r.err : "");
    else if (db)
        fprintf(stderr, "oksctl: restore: %llu entries of shard %s (change %llu)\n",
                (unsigned long long)info.entries, info.shard,
                (unsigned long long)info.last_seq);
    leveldb_free(r.err);
    leveldb_writebatch_destroy(r.wb);
    leveldb_writeoptions_destroy(r.wo);
    return rc ? 1 : 0;
}

static bool dir_empty_or_absent(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    closedir(d);
    return empty;
}

int oksctl_restore(int argc, char **argv)
{
    const char *in = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(restore_usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--in") == 0 && i + 1 < argc) {
            in = argv[++i];
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else {
            fputs(restore_usage, stderr);
            return 2;
        }
    }
    if (!in || !data) {
        fputs(restore_usage, stderr);
        return 2;
    }
    if (!dir_empty_or_absent(data)) {
        fprintf(stderr, "oksctl: restore: %s is not empty: restore into a fresh data directory "
                        "of a stopped shard\n", data);
        return 1;
    }
    char path[4096];
    FILE *f = stdin;
    if (strcmp(in, "-") != 0) {
        snprintf(path, sizeof path, "%s/" BACKUP_FILE, in);
        if (!(f = fopen(path, "rb"))) {
            fprintf(stderr, "oksctl: restore: %s: %s\n", path, strerror(errno));
            return 1;
        }
        /* a file is checked whole before anything is written */
        int bad = restore_read(f, NULL, path);
        if (bad || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return 1;
        }
    } else {
        snprintf(path, sizeof path, "standard input");
    }
    leveldb_options_t *o = leveldb_options_create();
    leveldb_options_set_create_if_missing(o, 1);
    leveldb_options_set_error_if_exists(o, 1);
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, data, &err);
    int rc = 1;
    if (!db) {
        fprintf(stderr, "oksctl: restore: cannot create %s: %s\n", data, err);
        leveldb_free(err);
    } else {
        rc = restore_read(f, db, path);
        leveldb_close(db);
        if (rc) { /* a stream found bad half-way: leave nothing behind */
            leveldb_destroy_db(o, data, &err);
            leveldb_free(err);
            rmdir(data);
        }
    }
    leveldb_options_destroy(o);
    if (f != stdin)
        fclose(f);
    return rc;
}
