/*
 * JSON form of one inspected key for `oksctl inspect --json`: one object per line, written by
 * jansson (lib/json.h); bytes that are not valid UTF-8 become U+FFFD.
 */
#include "oksctl/json.h"

#include <string.h>

/* The members every key and subkey share; returns the number of failed sets. */
static int key_fields(json_t *o, const oks_pgp_pubkey *pk)
{
    int bad = 0;
    bad -= json_object_set_new(o, "fingerprint", oks_json_hex(pk->fpr, pk->fpr_len, true));
    bad -= json_object_set_new(o, "keyid", oks_json_hex(pk->keyid, 8, true));
    bad -= json_object_set_new(o, "version", json_integer(pk->version));
    bad -= json_object_set_new(o, "algorithm", json_integer(pk->algo));
    bad -= json_object_set_new(o, "algorithm_name", oks_json_cstr(oks_pgp_algo_name(pk->algo)));
    bad -= json_object_set_new(o, "bits", json_integer(pk->bits));
    bad -= json_object_set_new(o, "curve", oks_json_cstr(pk->curve));
    bad -= json_object_set_new(o, "created", json_integer(pk->created));
    return bad;
}

/* Subkey expiry: the newest good binding signature carrying a key-expiration subpacket. */
static uint32_t subkey_expires(const oks_pgp_subkey *sk)
{
    const oks_pgp_sig *best = NULL;
    for (size_t i = 0; i < sk->sigs.n; i++) {
        const oks_pgp_sig *s = &sk->sigs.v[i];
        if (s->type == 0x18 && s->state == OKS_SIG_GOOD && (!best || s->created >= best->created))
            best = s;
    }
    return best && best->has_key_expires && best->key_expires
               ? sk->key.created + best->key_expires
               : 0;
}

json_t *oksctl_json_key_object(const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                               bool verified, const char *hash, uint32_t now)
{
    uint32_t exp = oks_pgp_key_expires(k);
    size_t uat = 0, third = 0;
    json_t *o = json_object(), *uids = json_array(), *subs = json_array();
    int bad = o ? key_fields(o, &k->primary) : 1;
    bad -= json_object_set_new(o, "expires", json_integer(exp));
    bad -= json_object_set_new(o, "revoked", json_boolean(oks_pgp_key_revoked(k)));
    bad -= json_object_set_new(o, "expired", json_boolean(exp && exp <= now));
    for (size_t i = 0; i < k->n_uids; i++) {
        if (k->uids[i].tag == OKS_PGP_TAG_UAT)
            uat++;
        else
            bad -= json_array_append_new(uids, oks_json_text(k->uids[i].body, k->uids[i].len));
    }
    bad -= json_object_set_new(o, "uids", uids);
    bad -= json_object_set_new(o, "user_attributes", json_integer((json_int_t)uat));
    for (size_t i = 0; i < k->n_subkeys; i++) {
        const oks_pgp_subkey *sk = &k->subkeys[i];
        json_t *so = json_object();
        bad += so ? key_fields(so, &sk->key) : 1;
        bad -= json_object_set_new(so, "expires", json_integer(subkey_expires(sk)));
        bad -= json_object_set_new(so, "revoked", json_boolean(oks_pgp_subkey_revoked(k, sk)));
        bad -= json_array_append_new(subs, so);
    }
    bad -= json_object_set_new(o, "subkeys", subs);
    if (!verified) {
        for (size_t i = 0; i < k->n_uids; i++)
            for (size_t j = 0; j < k->uids[i].sigs.n; j++) {
                const oks_pgp_sig *s = &k->uids[i].sigs.v[j];
                if (!s->has_issuer || memcmp(s->issuer, k->primary.keyid, 8) != 0)
                    third++;
            }
    } else {
        third = st->third_party;
    }
    bad -= json_object_set_new(o, "sks_hash", oks_json_cstr(hash));
    bad -= json_object_set_new(o, "verified", json_boolean(verified));
    bad -= json_object_set_new(o, "self_sigs_verified",
                               json_integer((json_int_t)(st->self_verified + st->self_trusted)));
    bad -= json_object_set_new(o, "self_sigs_dropped", json_integer((json_int_t)st->self_dropped));
    bad -= json_object_set_new(o, "third_party_sigs", json_integer((json_int_t)third));
    bad -= json_object_set_new(o, "uids_dropped", json_integer((json_int_t)st->uids_dropped));
    bad -= json_object_set_new(o, "subkeys_dropped", json_integer((json_int_t)st->subkeys_dropped));
    bad -= json_object_set_new(o, "packets_dropped", json_integer((json_int_t)k->dropped_packets));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int oksctl_json_key(oks_buf *out, const oks_pgp_key *k, const oks_pgp_verify_stats *st,
                    bool verified, const char *hash, uint32_t now)
{
    json_t *o = oksctl_json_key_object(k, st, verified, hash, now);
    int r = oks_json_dump(o, out, true);
    json_decref(o);
    return r;
}
