#!/usr/bin/env bash
# Replicas (the "Replicas: uploads and lookups by R" section of bench/RESULTS.md): KEYS minted
# keys uploaded through the HTTP gateway (oks-bench upload, each key once, 16 connections, as
# fast as answered) into fresh 3-shard clusters with [cluster] replicas R = 1, 2 and 3
# (write_quorum at its default: 1 for R <= 2, 2 for R = 3), then lookups by fingerprint through
# the gateway with its answer cache off (oks-bench mixed --get 100, 16 connections, SECONDS),
# uniform over the keys, then the same with a Zipf law (exponent ZIPF, default 1.0: a few keys
# asked for far more often than the rest); with R >= 2 the uniform lookups again while shard s1
# is killed (kill -9), and the uploads of KEYS/10 fresh keys then. With --preload P, each
# cluster first gets P more minted keys by `oksctl import` (an SKS-style dump; its rate is
# reported too), so that uploads and lookups run against a keyring of P + KEYS keys (lookups
# pick among all of them). Targets: R=2 uploads >= 70 % of R=1; lookups with R=2 no slower
# than R=1. --replicas "1 2" measures only those R (1 must be among them: the ratios are to it).
# usage: bench/replicas.sh [--write] [--preload P] [--zipf S] [--replicas "R..."] [KEYS] [SECONDS]
#        (defaults: no preload, Zipf 1.0, R = 1 2 3, 20000 keys, 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0 PRE=0 ZIPF=1.0 RS="1 2 3"
while [ $# -gt 0 ]; do
  case "$1" in
    --write) WRITE=1; shift ;;
    --preload) PRE=$2; shift 2 ;;
    --zipf) ZIPF=$2; shift 2 ;;
    --replicas) RS=$2; shift 2 ;;
    *) break ;;
  esac
done
N=${1:-20000}; SECS=${2:-10}
[[ " $RS " == *" 1 "* ]] || { echo "bench/replicas.sh: --replicas must include 1 (the ratios are to R=1)" >&2; exit 2; }
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
LIST=$K.list
if [ "$PRE" -gt 0 ]; then
  P=$CACHE/replicas-pre-$PRE
  [ -s "$P.list" ] || { rm -rf "$P"; "$B/oks-bench" mint --count "$PRE" --seed replicas-pre \
    --dump-dir "$P" --keys-per-file 10000 --list "$P.list.tmp" 2>/dev/null && mv "$P.list.tmp" "$P.list"; }
  LIST=$D/all.list
  cat "$P.list" "$K.list" >"$LIST"
fi

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
row() { # label line -> markdown row
  echo "| $1 | $(field requests "$2") | $(field 5xx "$2") | $(field rps "$2") | $(field p50_ms "$2") | $(field p99_ms "$2") |"
}
declare -A UP GET ZGET
{
  echo "| R | phase | requests | 5xx | req/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|"
} >"$D/rows"
for R in $RS; do
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  rm -rf "$D/oks"
  HP=$(port)
  bash deploy/local.sh up --dir "$D/oks" --shards 3 --replicas "$R" --http-port "$HP" \
    --http-opt cache_mb=0 --http-opt rate_verify=0 >/dev/null
  U=http://127.0.0.1:$HP
  if [ "$PRE" -gt 0 ]; then
    t0=$(date +%s.%N)
    OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$P" >"$D/import-$R" 2>&1 ||
      { echo "oksctl import failed:" >&2; cat "$D/import-$R" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "| $R | preload (oksctl import) | $PRE | - | $(awk -v n="$PRE" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }') | - | - |" >>"$D/rows"
  fi
  up=$("$B/oks-bench" upload --url "$U" --keys "$K" --conns 16 --max --duration 600 2>&1 | grep '^upload ')
  get=$("$B/oks-bench" mixed --url "$U" --list "$LIST" --get 100 --index 0 --conns 16 --max \
    --duration "$SECS" 2>&1 | grep '^get ')
  zout=$("$B/oks-bench" mixed --url "$U" --list "$LIST" --get 100 --index 0 --conns 16 --max \
    --duration "$SECS" --zipf "$ZIPF" 2>&1)
  zget=$(grep '^get ' <<<"$zout")
  ZSHARE=$(field top1pct_share "$(grep '^keys ' <<<"$zout")")
  UP[$R]=$(field rps "$up"); GET[$R]=$(field rps "$get"); ZGET[$R]=$(field rps "$zget")
  row "$R | uploads" "$up" >>"$D/rows"
  row "$R | lookups, uniform" "$get" >>"$D/rows"
  row "$R | lookups, Zipf $ZIPF" "$zget" >>"$D/rows"
  if [ "$R" -ge 2 ]; then
    bash deploy/local.sh kill-shard --dir "$D/oks" s1 >/dev/null
    get=$("$B/oks-bench" mixed --url "$U" --list "$LIST" --get 100 --index 0 --conns 16 --max \
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
  echo "bench/replicas.sh$([ "$PRE" -gt 0 ] && echo " --preload $PRE") --zipf $ZIPF $N $SECS, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average"
  echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end:$([ "$PRE" -gt 0 ] && echo " $PRE minted keys imported with oksctl import, then")"
  echo "$N minted keys uploaded through the HTTP gateway"
  echo "(each once, 16 connections) into fresh 3-shard clusters with R = ${RS// /, } replicas, then"
  echo "lookups by fingerprint through the gateway without answer cache (16 connections, ${SECS} s),"
  echo "uniform over the $((PRE + N)) keys, then by a Zipf law of exponent $ZIPF (top 1 % of the keys got"
  echo "$(awk -v s="$ZSHARE" 'BEGIN { printf "%.0f", 100 * s }') % of the lookups);"
  echo "with R >= 2 the uniform lookups again and $((N / 10)) fresh uploads while shard s1 is killed."
  echo
  cat "$D/rows"
  echo
  for R in $RS; do
    [ "$R" = 1 ] && continue
    echo "R=$R / R=1: uploads $(pct "${UP[$R]}" "${UP[1]}")$([ "$R" = 2 ] && echo " (target >= 70 %)"), lookups $(pct "${GET[$R]}" "${GET[1]}") uniform and $(pct "${ZGET[$R]}" "${ZGET[1]}") Zipf$([ "$R" = 2 ] && echo " (target: no slower, >= 100 % within noise)")."
  done
} >"$D/section.md"
cat "$D/section.md"
[ "$WRITE" = 1 ] && /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "Replicas: uploads and lookups by R"
exit 0
