#!/usr/bin/env bash
# The sync worker paired with a real SKS, each the other's partner, gossiping every 2-3 s:
# OKS holds set B (role keys + non-uploading keys), SKS set A (maintainers + role keys). After a
# few rounds both serve every key of A ∪ B over HKP (checked fingerprint by fingerprint on both
# sides), the worker's tree equals a rebuild from the shards, and a worker killed while keys are
# being added rebuilds to the same tree after a restart.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
SYNC_PID=""
cleanup() {
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1
  rm -rf "$D"
}
at_exit cleanup
K=/usr/share/keyrings
http=$(free_port); hkp=$(free_port); recon=$(free_port); mine=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 --http-port "$http" >/dev/null 2>&1 ||
  { not_ok "cluster started"; finish; }
export OKS_CONFIG=$D/c/oks.conf
"$OKS_BIN/oksctl" import $K/debian-role-keys.gpg $K/debian-nonupload.gpg >/dev/null ||
  not_ok "set B imported"
SKS_PARTNERS=$mine SKS_GOSSIP_SECONDS=3 sks_start "$D/sks" "$hkp" "$recon" \
  $K/debian-maintainers.gpg $K/debian-role-keys.gpg >/dev/null || { not_ok "SKS started"; finish; }
ok "cluster (set B) and SKS (set A) started"

# fingerprints of A ∪ B
for r in debian-maintainers debian-role-keys debian-nonupload; do
  gpg --batch --with-colons --show-keys "$K/$r.gpg" 2>/dev/null | awk -F: '$1 == "pub" { p = 1; next }
    p && $1 == "fpr" { print $10; p = 0 }'
done | sort -u >"$D/fprs"

# missing PORT: fingerprints of A ∪ B the HKP server on PORT does not serve
missing() {
  python3 - "$1" "$D/fprs" <<'PY'
import sys, urllib.request, urllib.error
port, path = sys.argv[1], sys.argv[2]
miss = 0
for f in open(path).read().split():
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/pks/lookup?op=get&search=0x{f}", timeout=10).read()
    except urllib.error.HTTPError:
        miss += 1
print(miss)
PY
}
both_complete() { [ "$(missing "$http")" = 0 ] && [ "$(missing "$hkp")" = 0 ]; }

"$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --recon-port "$mine" --http-port "$http" \
  --partner "127.0.0.1:$recon" --gossip-seconds 2 --stats "$D/stats" --log "$D/sync.log" &
SYNC_PID=$!
if wait_for 120 both_complete; then
  ok "OKS and SKS both serve all $(wc -l <"$D/fprs") keys of A ∪ B"
else
  not_ok "both sides complete (OKS misses $(missing "$http"), SKS misses $(missing "$hkp"))"
  tail -5 "$D/sync.log"
fi
check "rounds recorded in the stats file" grep -q " ok fetch=" "$D/stats"
check "keys were fetched from SKS and added" grep -Eq "fetched=[1-9][0-9]* added=[1-9]" "$D/stats"
kill "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""

# the tree equals a rebuild from the shards
tree_hashes() { "$OKS_BIN/oks-sync" dump --tree "$1" | sort; }
tree_hashes "$D/tree" >"$D/t1"
"$OKS_BIN/oks-sync" rebuild -c "$OKS_CONFIG" --tree "$D/rebuilt" 2>/dev/null
tree_hashes "$D/rebuilt" >"$D/t2"
check "worker tree = rebuild from the shards ($(wc -l <"$D/t1") hashes)" cmp -s "$D/t1" "$D/t2"

# killed while keys are being added: after a restart the tree catches up to the shards
"$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --gossip-seconds 0 --log "$D/sync2.log" &
SYNC_PID=$!
"$OKS_BIN/oksctl" import $K/debian-keyring.gpg >/dev/null &
IMP=$!
wait_for 30 grep -q "changes applied" "$D/sync2.log"
kill -9 "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""
wait "$IMP"
"$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --gossip-seconds 0 --log "$D/sync3.log" &
SYNC_PID=$!
wait_for 30 grep -q "oks-sync: tree" "$D/sync3.log"
kill "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""
tree_hashes "$D/tree" >"$D/t1"
rm -rf "$D/rebuilt"
"$OKS_BIN/oks-sync" rebuild -c "$OKS_CONFIG" --tree "$D/rebuilt" 2>/dev/null
tree_hashes "$D/rebuilt" >"$D/t2"
check "after kill -9 during import and restart: tree = rebuild ($(wc -l <"$D/t2") hashes)" \
  cmp -s "$D/t1" "$D/t2"
finish
