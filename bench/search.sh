#!/usr/bin/env bash
# Search flood (the "Search flood" section of bench/RESULTS.md): KEYS minted keys in a 2-shard
# cluster; lookups by fingerprint at a fixed rate through a gateway without answer cache (every
# lookup reaches a shard), first alone, then while 4 clients loop over the worst word searches
# (the 16 commonest words of the keyring, and its commonest word 16 times). Also the time of each
# worst search alone. The target: lookups under the flood keep p99 < 50 ms.
# usage: bench/search.sh [--write] [KEYS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-100000}; SECS=${2:-10}
B=build/bin
CACHE=${OKS_BENCH_CACHE:-$HOME/.cache/oks-bench}
D=$(mktemp -d /tmp/okss.XXXXXX)
FLOOD_PIDS=()
cleanup() {
  for p in "${FLOOD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

mkdir -p "$CACHE"
K=$CACHE/search-$N.pgp
[ -s "$K" ] && [ -s "$K.list" ] ||
  "$B/oks-bench" mint --count "$N" --seed search-flood --out "$K" --list "$K.list" 2>/dev/null
HP=$(port)
bash deploy/local.sh up --dir "$D/oks" --shards 2 --http-port "$HP" --http-opt cache_mb=0 >/dev/null
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$K" >/dev/null
U=http://127.0.0.1:$HP

# the worst searches: the 16 commonest words of the user IDs, and the commonest one 16 times
"$B/oksctl" inspect "$K" 2>/dev/null | LC_ALL=C awk -F: '/^uid:/ {
    u = tolower($2); gsub(/[^a-z0-9\300-\377]+/, " ", u); n = split(u, w, " ")
    for (i = 1; i <= n; i++) c[w[i]]++ }
  END { for (x in c) print c[x], x }' | sort -rn | awk 'NR <= 16' >"$D/common"
Q16=$(awk '{ printf "%s%s", (NR > 1 ? "+" : ""), $2 }' "$D/common")
TOP=$(awk 'NR == 1 { print $2 }' "$D/common")
QTOP=$(printf "$TOP+%.0s" $(seq 16)); QTOP=${QTOP%+}
alone() { # query -> "ms status" of the median of 5 tries
  for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{time_total} %{http_code}\n' "$U/pks/lookup?op=index&options=mr&search=$1"
  done | sort -n | sed -n 3p | awk '{ printf "%.0f ms (%s)", $1 * 1000, $2 }'
}
T16=$(alone "$Q16"); TTOP=$(alone "$QTOP")

lookups() { # -> oks-bench summary line of get-by-fingerprint at 200/s over 4 connections
  "$B/oks-bench" mixed --url "$U" --list "$K.list" --get 100 --index 0 --conns 4 --rate 200 \
    --duration "$SECS" 2>&1 | grep '^get '
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
BASE=$(lookups)
flood() {
  while :; do
    for q in "$Q16" "$QTOP"; do
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 "$U/pks/lookup?op=index&options=mr&search=$q"
    done
  done
}
for i in 1 2 3 4; do flood >"$D/flood.$i" & FLOOD_PIDS+=($!); done
sleep 1
UNDER=$(lookups)
for p in "${FLOOD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
FLOODN=$(cat "$D"/flood.* | wc -l)
FLOOD5=$(cat "$D"/flood.* | grep -c '^5' || true)

{
  echo "## Search flood"
  echo
  echo "bench/search.sh $N $SECS, $(date -u +%Y-%m-%d), $(nproc) cores: $N minted keys in 2 shards, a"
  echo "gateway without answer cache. Lookups by fingerprint at 200/s over 4 connections for ${SECS} s,"
  echo "alone and while 4 clients loop over the worst word searches (the 16 commonest words"
  echo "\`${Q16//+/ }\`, and \`$TOP\` 16 times). Target: p99 under the flood < 50 ms."
  echo
  echo "| lookups | answered | 5xx | p50 ms | p99 ms | max ms |"
  echo "|---|---|---|---|---|---|"
  for row in "alone|$BASE" "under the flood|$UNDER"; do
    l=${row#*|}
    echo "| ${row%%|*} | $(field 2xx "$l") | $(field 5xx "$l") | $(field p50_ms "$l") | $(field p99_ms "$l") | $(field max_ms "$l") |"
  done
  echo
  echo "Each worst search alone (median of 5): 16 common words $T16; the commonest word 16 times"
  echo "$TTOP. The flood sent $FLOODN searches, $FLOOD5 of them answered 5xx."
} >"$D/section.md"
cat "$D/section.md"
[ "$WRITE" = 1 ] && /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "Search flood"
exit 0
