#!/usr/bin/env bash
# The cost of CURVE (writes the "CURVE cost" section of bench/RESULTS.md with --write):
# lookups by fingerprint through the router (oks-bench router-lookup) at 1, 16 and 64 requests
# in flight, with CURVE on (the normal build, build/bin) and off (a build made for this
# comparison only, build/plainbench, compiled with OKS_ZSEC_PLAIN_FOR_BENCH: its programs run
# without keys), on the same keys, one after the other in one run.
# usage: bench/curve.sh [--write] [KEYRING] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0; [ "${1:-}" = --write ] && { WRITE=1; shift; }
KR=${1:-/usr/share/keyrings/debian-keyring.gpg}
SECS=${2:-5}
PLAIN=build/plainbench/bin
make -j2 all >/dev/null
make -j2 MODE=plainbench CFLAGS="-O2 -g -DOKS_ZSEC_PLAIN_FOR_BENCH" \
  "$PLAIN/oks-shard" "$PLAIN/oks-router" "$PLAIN/oksctl" "$PLAIN/oks-bench" >/dev/null
D=$(mktemp -d /tmp/oksb.XXXXXX)
trap 'for m in curve plain; do bash deploy/local.sh down --dir "$D/$m" >/dev/null 2>&1; done; rm -rf "$D"' EXIT

build/bin/oksctl inspect --json "$KR" | /usr/bin/python3 -c '
import json,sys
for l in sys.stdin: print(json.loads(l)["fingerprint"])' >"$D/fprs"
: >"$D/lookups"
for mode in curve plain; do
  bin=build/bin; [ $mode = plain ] && bin=$PLAIN
  OKS_BIN=$PWD/$bin bash deploy/local.sh up --dir "$D/$mode" --shards 2 >/dev/null
  conf=$D/$mode/oks.conf
  "$bin/oksctl" import -c "$conf" --quiet "$KR" >/dev/null
  for w in 1 16 64; do
    "$bin/oks-bench" router-lookup "$conf" "$D/fprs" "$w" "$SECS" | sed "s/^/$mode /" >>"$D/lookups"
  done
  bash deploy/local.sh down --dir "$D/$mode" >/dev/null
done
cat "$D/lookups"

section() {
  echo "## CURVE cost"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- command: \`bash bench/curve.sh$([ $WRITE = 1 ] && echo " --write") $KR $SECS\` (2 shards + router on loopback; lookups by fingerprint through the router)"
  echo
  echo "| in flight | CURVE req/s | plain req/s | CURVE / plain | CURVE p50 / p99 ms | plain p50 / p99 ms |"
  echo "|---|---|---|---|---|---|"
  awk '{ mode = $1; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    w = v["window"]; rps[mode, w] = v["rps"]; p50[mode, w] = v["p50_ms"]; p99[mode, w] = v["p99_ms"]
    if (!(w in seen)) { seen[w] = 1; order[++n] = w } }
    END { for (k = 1; k <= n; k++) { w = order[k]
      printf "| %s | %.0f | %.0f | %.0f%% | %.3f / %.3f | %.3f / %.3f |\n", w, rps["curve", w],
        rps["plain", w], rps["plain", w] ? 100 * rps["curve", w] / rps["plain", w] : 0,
        p50["curve", w], p99["curve", w], p50["plain", w], p99["plain", w] } }' "$D/lookups"
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "CURVE cost"
fi
