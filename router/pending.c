/* Merging shard replies into one answer (see pending.h). Entries are moved out of each
 * unpacked reply into the merged response, so nothing is copied twice. */
#include "router/pending.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOVE_ALL(dst, ndst, src, nsrc)                                                             \
    do {                                                                                           \
        if ((nsrc) == 0)                                                                           \
            break;                                                                                 \
        void *nv_ = realloc((dst), ((ndst) + (nsrc)) * sizeof *(dst));                             \
        if (!nv_)                                                                                  \
            break;                                                                                 \
        (dst) = nv_;                                                                               \
        memcpy((dst) + (ndst), (src), (nsrc) * sizeof *(dst));                                     \
        (ndst) += (nsrc);                                                                          \
        (nsrc) = 0;                                                                                \
    } while (0)

static bool has_fpr(const Oks__Response *m, const ProtobufCBinaryData *f)
{
    for (size_t i = 0; i < m->n_keys; i++)
        if (m->keys[i]->fingerprint.len == f->len &&
            memcmp(m->keys[i]->fingerprint.data, f->data, f->len) == 0)
            return true;
    return false;
}

void oks_pending_merge(oks_pending *p, size_t shard_idx, Oks__Response *r)
{
    Oks__Response *m = p->merged;
    if (r->status != OKS__STATUS__STATUS_OK && r->status != OKS__STATUS__STATUS_NOT_FOUND &&
        p->worst == OKS__STATUS__STATUS_OK) {
        p->worst = r->status;
        free(p->worst_msg);
        p->worst_msg = strdup(r->error ? r->error : "");
    }
    m->total += r->total;
    if (r->last_seq > m->last_seq)
        m->last_seq = r->last_seq;
    /* keys: deduplicated by fingerprint, limited */
    for (size_t i = 0; i < r->n_keys; i++) {
        Oks__Key *k = r->keys[i];
        if (m->n_keys >= p->limit || has_fpr(m, &k->fingerprint))
            continue;
        void *nv = realloc(m->keys, (m->n_keys + 1) * sizeof *m->keys);
        if (!nv)
            continue;
        m->keys = nv;
        m->keys[m->n_keys++] = k;
        r->keys[i] = NULL;
    }
    for (size_t i = 0; i < r->n_keys; i++)
        if (r->keys[i])
            oks__key__free_unpacked(r->keys[i], NULL);
    r->n_keys = 0;
    /* add results: back to the caller's numbering */
    if (p->add_index && p->add_index[shard_idx]) {
        for (size_t i = 0; i < r->n_results; i++) {
            uint32_t ix = r->results[i]->index;
            r->results[i]->index = p->add_index[shard_idx][ix];
        }
    }
    MOVE_ALL(m->results, m->n_results, r->results, r->n_results);
    MOVE_ALL(m->shards, m->n_shards, r->shards, r->n_shards);
    MOVE_ALL(m->changes, m->n_changes, r->changes, r->n_changes);
}

void oks_pending_fail(oks_pending *p, const char *name, const char *why)
{
    size_t old = p->failed ? strlen(p->failed) : 0;
    char *n = realloc(p->failed, old + strlen(name) + 2);
    if (!n)
        return;
    if (old)
        n[old++] = ',';
    strcpy(n + old, name);
    p->failed = n;
    (void)why;
}

static int cmp_results(const void *a, const void *b)
{
    const Oks__AddResult *x = *(Oks__AddResult *const *)a, *y = *(Oks__AddResult *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

void oks_pending_finish(oks_pending *p, oks_buf *out)
{
    Oks__Response *m = p->merged;
    char msg[512];
    m->version = OKS_PROTO_VERSION;
    if (m->n_results > 1)
        qsort(m->results, m->n_results, sizeof *m->results, cmp_results);
    char **failed = NULL;
    size_t n_failed = 0;
    if (p->failed) {
        for (char *s = p->failed; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
            n_failed++;
        failed = calloc(n_failed, sizeof *failed);
        size_t i = 0;
        for (char *s = p->failed, *save = NULL, *t = strtok_r(s, ",", &save); t && failed;
             t = strtok_r(NULL, ",", &save))
            failed[i++] = t;
        m->failed_shards = failed;
        m->n_failed_shards = failed ? i : 0;
    }
    if (p->worst != OKS__STATUS__STATUS_OK) {
        m->status = p->worst;
        snprintf(msg, sizeof msg, "%s", p->worst_msg ? p->worst_msg : "");
    } else if (n_failed) {
        bool some = m->n_keys > 0 || m->n_results > 0 || m->n_shards > 0;
        bool fanout = p->expected > 1;
        m->status = some && fanout ? OKS__STATUS__STATUS_PARTIAL : OKS__STATUS__STATUS_UNAVAILABLE;
        snprintf(msg, sizeof msg, "shard(s) %s unavailable", p->failed);
        /* the names were split in place above; rebuild a readable list */
        size_t off = strlen("shard(s) ");
        for (size_t i = 0; i < m->n_failed_shards; i++)
            off += (size_t)snprintf(msg + off, off < sizeof msg ? sizeof msg - off : 0, "%s%s",
                                    i ? "," : "", m->failed_shards[i]);
        if (off < sizeof msg)
            snprintf(msg + off, sizeof msg - off, " unavailable");
    } else if (m->n_keys == 0 && (p->op == OKS__REQUEST__OP_GET_FINGERPRINT ||
                                  p->op == OKS__REQUEST__OP_GET_KEY_ID ||
                                  p->op == OKS__REQUEST__OP_SEARCH ||
                                  p->op == OKS__REQUEST__OP_GET_HASH)) {
        m->status = OKS__STATUS__STATUS_NOT_FOUND;
        snprintf(msg, sizeof msg, "no matching key");
    } else {
        m->status = OKS__STATUS__STATUS_OK;
        msg[0] = '\0';
    }
    m->error = msg;
    oks_proto_pack_response(m, out);
    m->error = (char *)protobuf_c_empty_string;
    free(failed);
    m->failed_shards = NULL;
    m->n_failed_shards = 0;
}

void oks_pending_release(oks_pending *p, size_t n_shards)
{
    Oks__Response *m = p->merged;
    if (m) {
        for (size_t i = 0; i < m->n_keys; i++)
            oks__key__free_unpacked(m->keys[i], NULL);
        for (size_t i = 0; i < m->n_results; i++)
            oks__add_result__free_unpacked(m->results[i], NULL);
        for (size_t i = 0; i < m->n_shards; i++)
            oks__shard_stats__free_unpacked(m->shards[i], NULL);
        for (size_t i = 0; i < m->n_changes; i++)
            oks__change__free_unpacked(m->changes[i], NULL);
        free(m->keys);
        free(m->results);
        free(m->shards);
        free(m->changes);
        free(m);
    }
    if (p->add_index) {
        for (size_t i = 0; i < n_shards; i++)
            free(p->add_index[i]);
        free(p->add_index);
    }
    free(p->asked);
    free(p->failed);
    free(p->worst_msg);
    zmq_msg_close(&p->client);
    zmq_msg_close(&p->rid);
    memset(p, 0, sizeof *p);
}
