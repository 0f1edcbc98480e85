#!/usr/bin/env bash
# Replicas (the "Replicas: uploads and lookups by R" section of bench/RESULTS.md): KEYS minted
# keys uploaded through the HTTP gateway (oks-bench upload, each key once, 16 connections, as
# fast as answered) into fresh 3-shard clusters with [cluster] replicas R = 1, 2 and 3
# (write_quorum at its default: 1 for R <= 2, 2 for R = 3), then lookups by fingerprint through
# the gateway with its answer cache off (oks-bench mixed --get 100, 16 connections, SECONDS),
# uniform over the keys; with R >= 2 the same lookups again while shard s1 is killed (kill -9),
# and the uploads of KEYS/10 fresh keys then. Targets: R=2 uploads >= 70 % of R=1; lookups with
# R=2 no slower than R=1.
# usage: bench/replicas.sh [--write] [KEYS] [SECONDS]     (defaults 20000 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-20000}; SECS=${2:-10}
B=build/bin
CACHE=${OKS_BENCH_CACHE:-$HOME/.cache/oks-bench}
D=$(mktemp -d /tmp/oksr.XXXXXX)
cleanup() {
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

mkdir -p "$CACHE"
K=$CACHE/replicas-$N.pgp
[ -s "$K" ] && [ -s "$K.list" ] ||
  "$B/oks-bench" mint --count "$N" --seed replicas --out "$K" --list "$K.list" 2>/dev/null
K2=$CACHE/replicas-more-$((N / 10)).pgp
[ -s "$K2" ] || "$B/oks-bench" mint --count $((N / 10)) --seed replicas-more --out "$K2" 2>/dev/null

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
row() { # label line -> markdown row
  echo "| $1 | $(field requests "$2") | $(field 5xx "$2") | $(field rps "$2") | $(field p50_ms "$2") | $(field p99_ms "$2") |"
}
declare -A UP GET
{
  echo "| R | phase | requests | 5xx | req/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|"
} >"$D/rows"
for R in 1 2 3; do
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  rm -rf "$D/oks"
  HP=$(port)
  bash deploy/local.sh up --dir "$D/oks" --shards 3 --replicas "$R" --http-port "$HP" \
    --http-opt cache_mb=0 --http-opt rate_verify=0 >/dev/null
  U=http://127.0.0.1:$HP
  up=$("$B/oks-bench" upload --url "$U" --keys "$K" --conns 16 --max --duration 600 2>&1 | grep '^upload ')
  get=$("$B/oks-bench" mixed --url "$U" --list "$K.list" --get 100 --index 0 --conns 16 --max \
    --duration "$SECS" 2>&1 | grep '^get ')
  UP[$R]=$(field rps "$up"); GET[$R]=$(field rps "$get")
  row "$R | uploads" "$up" >>"$D/rows"
  row "$R | lookups" "$get" >>"$D/rows"
  if [ "$R" -ge 2 ]; then
    bash deploy/local.sh kill-shard --dir "$D/oks" s1 >/dev/null
    get=$("$B/oks-bench" mixed --url "$U" --list "$K.list" --get 100 --index 0 --conns 16 --max \
      --duration "$SECS" 2>&1 | grep '^get ')
    up=$("$B/oks-bench" upload --url "$U" --keys "$K2" --conns 16 --max --duration 600 2>&1 | grep '^upload ')
    row "$R | lookups, s1 killed" "$get" >>"$D/rows"
    row "$R | uploads (fresh keys), s1 killed" "$up" >>"$D/rows"
  fi
done
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
{
  echo "## Replicas: uploads and lookups by R"
  echo
  echo "bench/replicas.sh $N $SECS, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average"
  echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end: $N minted keys uploaded through the HTTP gateway"
  echo "(each once, 16 connections) into fresh 3-shard clusters with R = 1, 2, 3 replicas, then"
  echo "lookups by fingerprint through the gateway without answer cache (16 connections, ${SECS} s);"
  echo "with R >= 2 the lookups again and $((N / 10)) fresh uploads while shard s1 is killed."
  echo
  cat "$D/rows"
  echo
  echo "Uploads R=2 / R=1: $(pct "${UP[2]}" "${UP[1]}") (target >= 70 %); R=3 / R=1: $(pct "${UP[3]}" "${UP[1]}")."
  echo "Lookups R=2 / R=1: $(pct "${GET[2]}" "${GET[1]}") (target: no slower, >= 100 % within noise); R=3 / R=1: $(pct "${GET[3]}" "${GET[1]}")."
} >"$D/section.md"
cat "$D/section.md"
[ "$WRITE" = 1 ] && /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "Replicas: uploads and lookups by R"
exit 0
