/*
 * The binary packets of one key file for oksctl import: a binary file is mapped read-only (no
 * copy; splitting starts at once and the pages are the page cache's), an armored file (also
 * after other text) or stdin is read and decoded into memory. The batches of keys sent from it point into it and hold a
 * reference each, so it lives until the last of them is answered. A mapped file that shrinks
 * while it is read stops oksctl with a message (exit 1) instead of a bare SIGBUS.
 */
#ifndef OKSCTL_KEYFILE_H
#define OKSCTL_KEYFILE_H

#include "lib/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct oksctl_keyfile {
    const uint8_t *data; /* the packets: into map, or owned.data */
    size_t len;
    void *map;           /* mapping of a binary file, or NULL */
    size_t map_len;
    oks_buf owned;       /* decoded armor / stdin */
    size_t refs;
} oksctl_keyfile;

/* Opens path ("-" = stdin) with one reference. On error, err says why and *out is NULL; an
 * armored file whose armor breaks part-way keeps the keys decoded before the break (*out set,
 * -1 returned). */
int oksctl_keyfile_open(const char *path, oksctl_keyfile **out, char *err, size_t err_size);
void oksctl_keyfile_ref(oksctl_keyfile *f);
/* Drops a reference; the last one unmaps or frees. NULL is ignored. */
void oksctl_keyfile_unref(oksctl_keyfile *f);

#endif
