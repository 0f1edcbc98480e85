/* JSON bodies of the gateway's answers (see json.h); values are escaped by jansson. */
#include "gw-http/json.h"

#include <string.h>

json_t *gw_json_stats(const Oks__Response *r, const char *sync_state)
{
    uint64_t total = 0;
    json_t *o = json_object(), *shards = json_array();
    int bad = 0;
    for (size_t i = 0; i < r->n_shards; i++) {
        const Oks__ShardStats *s = r->shards[i];
        json_t *so = json_object();
        total += s->keys;
        bad -= json_object_set_new(so, "name", oks_json_cstr(s->name));
        bad -= json_object_set_new(so, "up", json_boolean(s->up));
        bad -= json_object_set_new(so, "keys", oks_json_uint(s->keys));
        bad -= json_object_set_new(so, "bytes", oks_json_uint(s->bytes));
        bad -= json_object_set_new(so, "slots", oks_json_uint(s->slots));
        bad -= json_object_set_new(so, "last_seq", oks_json_uint(s->last_seq));
        bad -= json_array_append_new(shards, so);
    }
    if (r->total_keys) /* each key once, though replicas hold it R times */
        total = r->total_keys;
    bad -= json_object_set_new(o, "total_keys", oks_json_uint(total));
    bad -= json_object_set_new(o, "shards", shards);
    if (bad || !o || gw_sync_stats_json(sync_state, o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gw_json_vks_upload(const char *fpr, const char *token, const oks_pgp_key *key)
{
    json_t *o = json_object(), *status = json_object();
    int bad = 0;
    for (size_t i = 0; key && i < key->n_uids; i++) {
        char mail[256];
        size_t n;
        if (key->uids[i].tag != OKS_PGP_TAG_UID ||
            !(n = oks_pgp_uid_email(key->uids[i].body, key->uids[i].len, mail, sizeof mail)))
            continue;
        bad -= oks_json_set_key(status, mail, n, json_string("published"));
    }
    bad -= json_object_set_new(o, "key_fpr", oks_json_cstr(fpr));
    bad -= json_object_set_new(o, "status", status);
    bad -= json_object_set_new(o, "token", oks_json_cstr(token));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gw_json_error(const char *msg)
{
    json_t *o = json_object();
    if (json_object_set_new(o, "error", oks_json_cstr(msg ? msg : ""))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
