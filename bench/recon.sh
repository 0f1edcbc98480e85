#!/usr/bin/env bash
# bench/recon.sh [--big M] [N...]: reconciliation benchmarks on loopback, for each N (default
# 1000 10000) differing keys (synthetic keys from `oks-bench mint`, cached under
# build/bench-recon/), then OKS↔OKS alone with M (default 100000; 0 skips it) differing keys:
#  1. recon session only: `oks-sync once` trees built from keyrings (C ∪ D vs C, C = 905 keys of
#     debian-keyring), time of the session in each role;
#  2. convergence OKS↔OKS: two clusters (deploy/local.sh, sync worker gossiping every second),
#     time from starting the workers until the side that lacked D serves every key of D (for M:
#     until its shards hold every key, then every key of D is checked once over HKP, untimed);
#  3. convergence OKS↔SKS against SKS↔SKS on the same sets: SKS (C ∪ D) with an OKS cluster (C)
#     or with a second SKS (C), time until the C side serves every key of D over HKP (checked
#     in list order, each check resuming where the previous one found a key missing).
# Prints a markdown table. Needs the sks package for part 3 (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/bin
SKS_HARNESS=tests/harness/sks.sh
K=/usr/share/keyrings/debian-keyring.gpg
W=build/bench-recon
mkdir -p "$W"
BIG=100000
if [ "${1:-}" = --big ]; then BIG=$2; shift 2; fi
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
fp() { /usr/bin/python3 deploy/free_port.py; }
now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
T=$(mktemp -d /tmp/oksrb.XXXXXX)
cleanup() {
  for d in "$T"/c*; do [ -d "$d" ] && bash deploy/local.sh down --dir "$d" >/dev/null 2>&1; done
  for d in "$T"/s*; do [ -d "$d" ] && bash "$SKS_HARNESS" stop "$d" >/dev/null 2>&1; done
  rm -rf "$T"
}
trap cleanup EXIT

served_all() { # PORT LIST: every fingerprint of LIST served. A key once served stays served, so
  # each call resumes at the first key the previous call missed (LIST.PORT.pos): the final,
  # successful call checks only the keys that came last, for OKS and SKS alike.
  python3 - "$1" "$2" "$T/pos.$1" <<'PY'
import sys, urllib.request, urllib.error
port, lst, posf = sys.argv[1:]
try: pos = int(open(posf).read())
except (OSError, ValueError): pos = 0
fprs = [l.split()[0] for l in open(lst)]
for i in range(pos, len(fprs)):
    try: urllib.request.urlopen(f"http://127.0.0.1:{port}/pks/lookup?op=get&search=0x{fprs[i]}", timeout=10).read()
    except urllib.error.HTTPError:
        open(posf, "w").write(str(i)); sys.exit(1)
open(posf, "w").write(str(len(fprs)))
PY
}
wait_until() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done; }

total_keys() { OKS_CONFIG=$1/oks.conf $B/oksctl stats 2>/dev/null | awk '/^total keys/{print $3}'; }
has_keys() { [ "$(total_keys "$1")" -ge "$2" ]; }
mint() { # N: D = N synthetic keys
  D=$W/d$1.gpg
  [ -s "$D" ] || $B/oks-bench mint --count "$1" --seed "recon-bench-$1" --uids 1 --out "$D" --list "$W/d$1.list" >/dev/null
}
oks_oks() { # N CHECK: CHECK = served (HKP check of every key, timed) or count (shard totals)
  local N=$1 ha hb ra rb t0 t1 r ok=""
  ha=$(fp); hb=$(fp); ra=$(fp); rb=$(fp)
  bash deploy/local.sh up --dir "$T/ca$N" --shards 2 --http-port "$ha" >/dev/null
  bash deploy/local.sh up --dir "$T/cb$N" --shards 2 --http-port "$hb" >/dev/null
  OKS_CONFIG=$T/ca$N/oks.conf $B/oksctl import "$K" "$W/d$N.gpg" >/dev/null
  OKS_CONFIG=$T/cb$N/oks.conf $B/oksctl import "$K" >/dev/null
  local want; want=$(total_keys "$T/ca$N")
  rm -f "$T"/pos.*; t0=$(now)
  bash deploy/local.sh up --dir "$T/ca$N" --http-port "$ha" --recon-port "$ra" --partner "127.0.0.1:$rb" --gossip-seconds 1 >/dev/null
  bash deploy/local.sh up --dir "$T/cb$N" --http-port "$hb" --recon-port "$rb" --partner "127.0.0.1:$ra" --gossip-seconds 1 >/dev/null
  if [ "$2" = served ]; then
    if wait_until 600 served_all "$hb" "$W/d$N.list"; then t1=$(now); r=$(el "$t0" "$t1"); else r="timeout"; fi
  else
    if wait_until 900 has_keys "$T/cb$N" "$want"; then
      t1=$(now); r=$(el "$t0" "$t1")
      if served_all "$hb" "$W/d$N.list"; then ok=", every key then checked over HKP"; else ok=", HKP check FAILED"; fi
    else r="timeout"; fi
  fi
  echo "| $N | convergence OKS↔OKS (gossip 1 s$ok) | $r |"
  grep -h 'round with.*fetch+add' "$T/cb$N/log/sync.log" | sed 's/^\([^ ]*\) .*round with [^ ]* /  phases (\1): /' >&2 || true
  bash deploy/local.sh down --dir "$T/ca$N" >/dev/null; bash deploy/local.sh down --dir "$T/cb$N" >/dev/null
}

echo "| differing keys | measure | seconds |"
echo "|---|---|---|"
for N in "${SIZES[@]}"; do
  mint "$N"
  # 1. session only, both roles
  p=$(fp)
  $B/oks-sync once --keyring "$K" --listen "$p" --timeout 60 >"$T/l.out" &
  L=$!
  sleep 0.3
  t0=$(now); $B/oks-sync once --keyring "$K" --keyring "$D" --connect "127.0.0.1:$p" --timeout 60 >/dev/null; t1=$(now)
  wait $L
  echo "| $N | recon session only, OKS↔OKS, bigger side connects (found $(grep '^fetch-count' "$T/l.out" | cut -d' ' -f2)) | $(el "$t0" "$t1") |"
  oks_oks "$N" served
  # 3. OKS <-> SKS and SKS <-> SKS
  command -v sks >/dev/null 2>&1 || [ -x /usr/sbin/sks ] || continue
  h1=$(fp); r1=$(fp); h2=$(fp); r2=$(fp); hc=$(fp); rc=$(fp)
  SKS_PARTNERS=$rc SKS_GOSSIP_SECONDS=1 bash "$SKS_HARNESS" start "$T/s1$N" "$h1" "$r1" "$K" "$D" >/dev/null
  bash deploy/local.sh up --dir "$T/cc$N" --shards 2 --http-port "$hc" >/dev/null
  OKS_CONFIG=$T/cc$N/oks.conf $B/oksctl import "$K" >/dev/null
  rm -f "$T"/pos.*; t0=$(now)
  bash deploy/local.sh up --dir "$T/cc$N" --http-port "$hc" --recon-port "$rc" --partner "127.0.0.1:$r1" --gossip-seconds 1 >/dev/null
  if wait_until 900 served_all "$hc" "$W/d$N.list"; then t1=$(now); r=$(el "$t0" "$t1"); else r="timeout"; fi
  echo "| $N | convergence OKS↔SKS (OKS lacks D) | $r |"
  grep -h 'round with.*fetch+add' "$T/cc$N/log/sync.log" | sed 's/^\([^ ]*\) .*round with [^ ]* /  phases (\1): /' >&2 || true
  bash deploy/local.sh down --dir "$T/cc$N" >/dev/null
  bash "$SKS_HARNESS" stop "$T/s1$N"
  SKS_PARTNERS=$r2 SKS_GOSSIP_SECONDS=1 bash "$SKS_HARNESS" start "$T/s1$N" "$h1" "$r1" "$K" "$D" >/dev/null
  rm -f "$T"/pos.*; t0=$(now)
  SKS_PARTNERS=$r1 SKS_GOSSIP_SECONDS=1 bash "$SKS_HARNESS" start "$T/s2$N" "$h2" "$r2" "$K" >/dev/null
  if wait_until 900 served_all "$h2" "$W/d$N.list"; then t1=$(now); r=$(el "$t0" "$t1"); else r="timeout"; fi
  echo "| $N | convergence SKS↔SKS (second SKS lacks D; includes its start) | $r |"
  bash "$SKS_HARNESS" stop "$T/s1$N"; bash "$SKS_HARNESS" stop "$T/s2$N"
done
if [ "$BIG" -gt 0 ]; then
  mint "$BIG"
  oks_oks "$BIG" count
fi
