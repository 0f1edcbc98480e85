/*
 * The JSON bodies of the gateway's answers, built as jansson trees (lib/json.h): op=stats with
 * options=mr, the VKS upload answer and VKS errors. Each builder returns a new object (the
 * caller owns one reference) or NULL when memory ran out.
 */
#ifndef OKS_GW_JSON_H
#define OKS_GW_JSON_H

#include "lib/json.h"
#include "lib/pgp.h"
#include "lib/proto.h"

/* op=stats&options=mr: {"total_keys":N,"shards":[{"name","up","keys","bytes","slots",
 * "last_seq"}...]} plus "sync" (see gw_sync_stats_json) when sync_state names a readable
 * sync state file. */
json_t *gw_json_stats(const Oks__Response *r, const char *sync_state);
/* POST /vks/v1/upload: {"key_fpr":FPR,"status":{ADDRESS:"published"...},"token":TOKEN}. The
 * addresses are those of key's user IDs (lowercased as the index stores them); key may be
 * NULL (no addresses). */
json_t *gw_json_vks_upload(const char *fpr, const char *token, const oks_pgp_key *key);
/* VKS errors: {"error":MSG}. */
json_t *gw_json_error(const char *msg);

/* syncstats.c: sets stats["sync"] from the sync worker's state file at path: its `sync` record's
 * fields and the lists "partners" and "rounds" (numbers as JSON numbers, other values as
 * strings). Nothing is set when there is no readable state file. Returns 0, or -1 when memory
 * ran out. */
int gw_sync_stats_json(const char *path, json_t *stats);

#endif
