/*
 * The keys a mail carries (see oks_mail_collect_keys in mail.h): armored blocks in the text body
 * and in attachments, and binary application/pgp-keys attachments, split into one binary key
 * each. Blocks that do not decode and keys over the limit are counted, never fatal.
 */
#include "gw-mail/mail.h"
#include "lib/xalloc.h"

#include "lib/pgp.h"

#include <stdlib.h>
#include <string.h>

static int push_key(oks_buf **keys, size_t *n, const uint8_t *p, size_t len)
{
    oks_buf *nk = oks_xrealloc(*keys, (*n + 1) * sizeof(*nk));
    *keys = nk;
    oks_buf_init(&nk[*n]);
    if (oks_buf_append(&nk[*n], p, len) != 0)
        return OKS_E_NOMEM;
    (*n)++;
    return 0;
}

static void split_binary(const uint8_t *p, size_t len, size_t max, oks_buf **keys, size_t *n,
                         size_t *skipped)
{
    size_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        oks_slice k;
        oks_err e;
        int r = oks_pgp_split_next(p, len, &off, &k, &e);
        if (r == 1)
            break;
        if (r != 0) {
            (*skipped)++;
            if (off >= len)
                break;
            continue;
        }
        if (*n >= max || push_key(keys, n, k.ptr, k.len) != 0)
            (*skipped)++;
    }
}

static void collect_armored(const char *text, size_t len, size_t max, oks_buf **keys, size_t *n,
                            size_t *skipped)
{
    size_t off = 0;
    for (int guard = 0; guard < 1000; guard++) {
        oks_buf bin = OKS_BUF_INIT;
        oks_err e;
        size_t before = off;
        int r = oks_armor_decode(text, len, &off, &bin, &e);
        if (r == 1) {
            oks_buf_release(&bin);
            break;
        }
        if (r != 0)
            (*skipped)++;
        else
            split_binary(bin.data, bin.len, max, keys, n, skipped);
        oks_buf_release(&bin);
        if (off <= before)
            break;
    }
}

size_t oks_mail_collect_keys(const oks_mail_msg *msg, size_t max, oks_buf **keys,
                             size_t *skipped)
{
    size_t n = 0;
    *keys = NULL;
    *skipped = 0;
    if (msg->text.len)
        collect_armored((const char *)msg->text.data, msg->text.len, max, keys, &n, skipped);
    for (size_t i = 0; i < msg->n_attachments; i++) {
        const oks_buf *a = &msg->attachments[i];
        if (oks_armor_detect(a->data, a->len))
            collect_armored((const char *)a->data, a->len, max, keys, &n, skipped);
        else
            split_binary(a->data, a->len, max, keys, &n, skipped);
    }
    *skipped += msg->attachments_dropped;
    return n;
}
