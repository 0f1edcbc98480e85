#!/usr/bin/env bash
# The sync worker when the cluster cannot take the keys it fetches: one of B's two shards is
# stopped (SIGSTOP) while B fetches 300 keys from A, so the router answers its Adds with
# "unavailable". The worker logs each failed Add, sends it again with fewer Adds in flight, keeps
# running, and once the shard runs again (SIGCONT) B ends with every key of A.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
SYNC_PID=""; STOPPED=""
cleanup() {
  [ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/a" >/dev/null 2>&1
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/b" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
"$OKS_BIN/oks-bench" mint --count 300 --seed slow-shard --uids 1 --out "$D/a.gpg" >/dev/null ||
  { not_ok "keys minted"; finish; }
ha=$(free_port); hb=$(free_port); ra=$(free_port); rb=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/a" --shards 2 --http-port "$ha" >/dev/null 2>&1 &&
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/b" --shards 2 --http-port "$hb" \
  --deadline-ms 1000 >/dev/null 2>&1 || { not_ok "clusters started"; finish; }
OKS_CONFIG=$D/a/oks.conf "$OKS_BIN/oksctl" import "$D/a.gpg" >/dev/null
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/a" --http-port "$ha" --recon-port "$ra" \
  --partner "127.0.0.1:$rb" --gossip-seconds 1 >/dev/null 2>&1 || { not_ok "worker A started"; finish; }
STOPPED=$(cat "$D/b/run/shard-s0.pid")
kill -STOP "$STOPPED"
"$OKS_BIN/oks-sync" run -c "$D/b/oks.conf" --tree "$D/b/tree" --recon-port "$rb" --http-port "$hb" \
  --partner "127.0.0.1:$ra" --gossip-seconds 1 --log "$D/b/sync.log" &
SYNC_PID=$!
check "an Add refused by the router is logged and sent again" \
  wait_for 60 grep -q "add of [0-9]* fetched keys failed (.*); trying again" "$D/b/sync.log"
check "the worker keeps running" kill -0 "$SYNC_PID"
kill -CONT "$STOPPED"; STOPPED=""
total() { OKS_CONFIG=$D/b/oks.conf "$OKS_BIN/oksctl" stats 2>/dev/null | awk '/^total keys/{print $3}'; }
has_all() { test "$(total)" = 300; }
check "with the shard back, B holds all 300 keys of A" wait_for 90 has_all
check "the worker is still running" kill -0 "$SYNC_PID"
finish
