#!/usr/bin/env bash
# Rebuild of a wiped replica (bench/RESULTS.md "Replica rebuild"): N minted keys imported into a
# 2-shard cluster with [cluster] replicas = 2 (both shards hold every slot); s1 is stopped, its
# data directory removed, and started again: it rebuilds itself from s0 by the full comparison
# (slot digests, slot hash lists, GetByHash, own Add). The figure is the keys copied divided by
# the time the shard's log reports for that comparison; the import of the same keys through the
# router is the named peer.
# usage: bench/rebuild.sh [COUNT]   (BIN=DIR: the programs of another build, default build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
B=$(realpath "${BIN:-build/bin}")
D=$(mktemp -d /tmp/oksr.XXXXXX)
trap 'bash deploy/local.sh down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
now() { date +%s.%N; }
"$B/oks-bench" mint --count "$N" --seed bench --out "$D/v4.pgp" 2>/dev/null
OKS_BIN=$B bash deploy/local.sh up --dir "$D/c" --shards 2 --replicas 2 --shard-opt changelog_keep=1000 ${EXTRA:-} \
  >/dev/null
export OKS_CONFIG=$D/c/oks.conf
# CPU-seconds (user + system) of a process, from /proc/PID/stat
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
s0pid=$(cat "$D/c/run/shard-s0.pid")
i0=$(cpu "$s0pid")
t0=$(now); "$B/oksctl" import --quiet "$D/v4.pgp" >/dev/null; t1=$(now)
icpu=$(echo "$(cpu "$s0pid") - $i0" | bc -l)
imp=$(echo "$N / ($t1 - $t0)" | bc -l)
kill "$(cat "$D/c/run/shard-s1.pid")"
while kill -0 "$(cat "$D/c/run/shard-s1.pid")" 2>/dev/null; do sleep 0.2; done
rm -rf "$D/c/data/s1"
L=$D/c/log/shard-s1.log
skip=$(($(wc -l <"$L") + 1))
s0cpu0=$(cpu "$s0pid")
OKS_BIN=$B bash deploy/local.sh up --dir "$D/c" >/dev/null
# PERF=FILE: a perf profile of the rebuilding shard into FILE (perf report -i FILE)
# (PERF_CG: perf's call-graph option, default -g; --call-graph dwarf sees through LevelDB)
# PERF0=FILE: the same of the serving peer s0
PP= PP0=
[ -n "${PERF:-}" ] && { perf record ${PERF_CG:--g} -o "$PERF" -p "$(cat "$D/c/run/shard-s1.pid")" >/dev/null 2>&1 & PP=$!; }
[ -n "${PERF0:-}" ] && { perf record ${PERF_CG:--g} -o "$PERF0" -p "$s0pid" >/dev/null 2>&1 & PP0=$!; }
for _ in $(seq 1 1200); do tail -n +"$skip" "$L" | grep -q "repair with s0 done" && break; sleep 0.5; done
line=$(tail -n +"$skip" "$L" | grep "repair with s0 done" | head -1)
copied=$(echo "$line" | sed -n 's/.* \([0-9]*\) keys copied.*/\1/p')
ms=$(echo "$line" | sed -n 's/.*, \([0-9]*\) ms (.*/\1/p')
echo "$line" | sed 's/.*INFO //'
s1cpu=$(cpu "$(cat "$D/c/run/shard-s1.pid")")
s0cpu=$(echo "$(cpu "$s0pid") - $s0cpu0" | bc -l)
for p in $PP $PP0; do kill -INT "$p" || true; wait "$p" || true; done
"$B/oksctl" stats
printf 'keys %s import %.0f keys/s rebuild copied %s in %s ms: %.0f keys/s (%.2fx the import)\n' \
  "$N" "$imp" "$copied" "$ms" "$(echo "$copied * 1000 / $ms" | bc -l)" \
  "$(echo "($copied * 1000 / $ms) / $imp" | bc -l)"
# s0's CPU for the import (it verifies and writes every key), the rebuilt shard's from its start (the rebuild is nearly all of it), s0's while serving it
printf 'import cpu s0 %.2f s (%.1f ms per 1000 keys)\n' "$icpu" "$(echo "$icpu * 1000000 / $N" | bc -l)"
printf 'cpu s1 %s s (%.1f ms per 1000 keys) s0 %.2f s (%.1f ms per 1000 keys) load %s\n' \
  "$s1cpu" "$(echo "$s1cpu * 1000000 / $copied" | bc -l)" "$s0cpu" \
  "$(echo "$s0cpu * 1000000 / $copied" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
