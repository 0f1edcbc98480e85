#!/usr/bin/env bash
# Slot moves (the "Slot moves" section of bench/RESULTS.md): KEYS minted keys uploaded through
# the HTTP gateway into a 2-shard cluster with [cluster] replicas = 2 and the topology in a local
# etcd (deploy/local.sh up --etcd); then lookups by fingerprint through the gateway (answer cache
# off) at a steady RATE requests/s on 8 connections for SECONDS, uniform over the keys: once
# with nothing else running, once while `deploy/local.sh add-shard` moves a third of the slot
# copies onto a new shard s2 (two moves: slots 0-1364 from s0, 1365-2729 from s1, about KEYS/3
# keys each). Reports the time add-shard took, each move's time, and the lookups' p50/p99 with
# and without the moves. Target: lookup p99 during the moves < 2x the p99 without.
# usage: bench/moves.sh [--write] [KEYS] [SECONDS] [RATE]   (defaults 20000, 20 and 300)
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-20000}; SECS=${2:-20}; RATE=${3:-300}
B=build/bin
CACHE=${OKS_BENCH_CACHE:-$HOME/.cache/oks-bench}
D=$(mktemp -d /tmp/oksm.XXXXXX)
cleanup() {
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

mkdir -p "$CACHE"
K=$CACHE/moves-$N.pgp
[ -s "$K" ] && [ -s "$K.list" ] ||
  "$B/oks-bench" mint --count "$N" --seed moves --out "$K" --list "$K.list" 2>/dev/null

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
HP=$(port)
bash deploy/local.sh up --dir "$D/oks" --shards 2 --replicas 2 --etcd --http-port "$HP" \
  --http-opt cache_mb=0 --http-opt rate_verify=0 >/dev/null
U=http://127.0.0.1:$HP
up=$("$B/oks-bench" upload --url "$U" --keys "$K" --conns 16 --max --duration 900 2>&1 | grep '^upload ')
echo "$up"
lookups() { "$B/oks-bench" mixed --url "$U" --list "$K.list" --get 100 --index 0 --conns 8 \
  --rate "$RATE" --duration "$SECS" 2>&1 | grep '^get '; }
base=$(lookups)
echo "without moves: $base"
lookups >"$D/during" &
LP=$!
sleep 2
t0=$(date +%s.%N)
bash deploy/local.sh add-shard --dir "$D/oks" | while read -r line; do
  printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$D/add"
t1=$(date +%s.%N)
wait "$LP"
during=$(cat "$D/during")
echo "during the moves: $during"
add_s=$(echo "$t1 - $t0" | bc)
moves=$(awk '/ copy$/{c[$3]=$1} / done$/{printf "%s %.1f s; ", $3, $1 - c[$3]}' "$D/add")
echo "add-shard: $add_s s ($moves)"
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" stats
p99b=$(field p99_ms "$base"); p99d=$(field p99_ms "$during")
ratio=$(echo "scale=2; $p99d / $p99b" | bc)
echo "p99 ratio (during / without): $ratio (target < 2)"
if [ "$WRITE" = 1 ]; then
  {
    echo "## Slot moves"
    echo
    echo "Run: \`bench/moves.sh --write $N $SECS $RATE\` ($(date -u +%Y-%m-%d), $(nproc) cores, shared machine)."
    echo
    echo "| phase | requests | 5xx | req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|---|"
    for p in "without moves|$base" "during add-shard|$during"; do
      l=${p#*|}
      echo "| ${p%%|*} | $(field requests "$l") | $(field 5xx "$l") | $(field rps "$l") | $(field p50_ms "$l") | $(field p99_ms "$l") |"
    done
    echo
    echo "add-shard (2 moves of about $((N / 3)) keys each, wait for every member included): ${add_s%.*} s; per move: $moves"
    echo "p99 during / without: $ratio (target < 2)."
  } >"$D/section"
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section" "Slot moves"
fi
