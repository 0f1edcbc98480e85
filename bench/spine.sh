#!/usr/bin/env bash
# Cluster spine benchmark (writes the "Cluster spine" section of bench/RESULTS.md):
#  (a) get-by-fingerprint through the router with 1, 16 and 64 requests in flight, against the
#      same lookups made directly on the shards' LevelDB in one process, and over bare ZeroMQ
#      (oks-bench transport-floor: the same two hops between processes, answers of the same
#      sizes, no work: the floor of any ZeroMQ router on this box);
#  (b) import of a keyring (default debian-keyring.gpg) with verification, a re-import of the
#      same keys, the verification ceiling of the box (oksctl inspect on both cores), and
#      `sks build` on the same file as the reference row.
# usage: bench/spine.sh [--write] [KEYRING] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0; [ "${1:-}" = --write ] && { WRITE=1; shift; }
KR=${1:-/usr/share/keyrings/debian-keyring.gpg}
SECS=${2:-5}
B=build/bin
D=$(mktemp -d /tmp/oksb.XXXXXX)
trap 'bash deploy/local.sh down --dir "$D" >/dev/null 2>&1; rm -rf "$D"' EXIT
now() { date +%s.%N; }

bash deploy/local.sh up --dir "$D" --shards 2 >/dev/null
export OKS_CONFIG=$D/oks.conf
t0=$(now); "$B/oksctl" import --quiet "$KR" >"$D/imp1"; t1=$(now)
"$B/oksctl" import --quiet "$KR" >"$D/imp2"; t2=$(now)
keys=$(awk '{print $2; exit}' "$D/imp1")
imp=$(echo "$keys / ($t1 - $t0)" | bc -l)
reimp=$(echo "$keys / ($t2 - $t1)" | bc -l)
t3=$(now); "$B/oksctl" inspect --threads 2 "$KR" >/dev/null; t4=$(now)
ceil=$(echo "$keys / ($t4 - $t3)" | bc -l)
S=$D/sks; mkdir -p "$S/dump" "$S/var/lib/sks" "$S/etc/sks" "$S/var/log/sks"; touch "$S/etc/sks/sksconf"
cp "$KR" "$S/dump/k.pgp"
t5=$(now); (cd "$S" && sks build -basedir "$S" "$S/dump/k.pgp" -n 10 -cache 100 >/dev/null 2>&1); t6=$(now)
sks_rate=$(echo "$keys / ($t6 - $t5)" | bc -l)

"$B/oksctl" inspect --json "$KR" | /usr/bin/python3 -c '
import json,sys
for l in sys.stdin: print(json.loads(l)["fingerprint"])' >"$D/fprs"
: >"$D/lookups"
for w in 1 16 64; do
  "$B/oks-bench" router-lookup "$OKS_CONFIG" "$D/fprs" "$w" "$SECS" >>"$D/lookups"
  "$B/oks-bench" transport-floor "$OKS_CONFIG" "$D/fprs" "$w" "$SECS" >>"$D/lookups"
done
bash deploy/local.sh down --dir "$D" >/dev/null
"$B/oks-bench" direct-lookup "$OKS_CONFIG" "$D/fprs" "$SECS" >>"$D/lookups"
cat "$D/lookups"
direct=$(awk '/^direct/{for(i=1;i<=NF;i++) if($i~/^rps=/){sub("rps=","",$i); print $i}}' "$D/lookups")

section() {
  echo "## Cluster spine"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- command: \`bash bench/spine.sh$([ $WRITE = 1 ] && echo " --write") $KR $SECS\` (2 shards + router on loopback)"
  echo
  echo "| lookup by fingerprint | in flight | req/s | p50 ms | p99 ms | share of direct LevelDB | share of the bare ZeroMQ floor |"
  echo "|---|---|---|---|---|---|---|"
  awk -v direct="$direct" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if ($1 == "floor") floor[v["window"]] = v["rps"]
    name = $1 == "router" ? "through the router" : $1 == "floor" ? "bare ZeroMQ, same hops, no work" : "direct LevelDB, one process"
    line[NR] = sprintf("| %s | %s | %.0f | %.3f | %.3f | %.0f%% | ", name, v["window"], v["rps"], v["p50_ms"], v["p99_ms"], 100 * v["rps"] / direct)
    kind[NR] = $1; win[NR] = v["window"]; rps[NR] = v["rps"]
  } END {
    for (i = 1; i <= NR; i++)
      print line[i] (kind[i] == "router" && floor[win[i]] ? sprintf("%.0f%%", 100 * rps[i] / floor[win[i]]) : "–") " |"
  }' "$D/lookups"
  echo
  awk -v direct="$direct" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["window"] == 64) r[$1] = v["rps"] }
    END { if (r["floor"] && r["router"]) printf "At 64 in flight the spine keeps %.0f%% of direct LevelDB (target 30%%); bare ZeroMQ with the same hops, answer sizes and no work at all keeps %.0f%%, and the spine %.0f%% of that floor.\n", 100 * r["router"] / direct, 100 * r["floor"] / direct, 100 * r["router"] / r["floor"] }' "$D/lookups"
  echo
  echo "| import of $(basename "$KR") ($keys keys) | keys/s |"
  echo "|---|---|"
  printf '| OKS import, fresh (verification on) | %.0f |\n' "$imp"
  printf '| OKS re-import of the same keys | %.0f |\n' "$reimp"
  printf '| verification ceiling: oksctl inspect, 2 threads | %.0f |\n' "$ceil"
  printf '| sks build (reference; verifies nothing) | %.0f |\n' "$sks_rate"
  echo
  printf 'Fresh import runs at %.0f%% of the verification ceiling (target 90%%); re-import at %.0f keys/s (target 50,000).\n' \
    "$(echo "100 * $imp / $ceil" | bc -l)" "$reimp"
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "Cluster spine"
fi
