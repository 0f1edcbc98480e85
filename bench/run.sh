#!/usr/bin/env bash
# make bench: runs every benchmark of bench/ in turn and writes their sections of
# bench/RESULTS.md. usage: bench/run.sh [--quick | --smoke]
#   --quick  shorter runs and fewer keys, http.sh with 2 shards only (under 10 minutes on 2 cores)
#   --smoke  tiny sizes, seconds, writes nothing (checks that the benchmarks still run)
# The wall time of every step and the total go to bench/run-times.txt.
# The full run imports 100,000 and 1,000,000 minted keys into 2- and 4-shard clusters and SKS,
# and 1,000,000 keys into one shard (the memory of a single shard holding them). Minted keys are
# cached in $OKS_BENCH_CACHE (default ~/.cache/oks-bench), so only the first run mints them
# (1,000,000 keys take about 5 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
KR=/usr/share/keyrings/debian-keyring.gpg
case "${1:-}" in
  --smoke)
    C=$(mktemp -d /tmp/oksc.XXXXXX)
    trap 'rm -rf "$C"' EXIT
    bash bench/mint.sh 50
    bash bench/spine.sh /usr/share/keyrings/debian-maintainers.gpg 0.3
    bash bench/hkp.sh 40 0.3 1 2
    OKS_BENCH_CACHE=$C bash bench/bulk.sh --no-sks 200 2
    echo "smoke run done"
    exit 0 ;;
  --quick) SECS=3; KEYS=2000; HKEYS=5000; BULK=10000; HTTP_SHARDS="2"; SKEYS=20000 ;;
  "") SECS=5; KEYS=20000; HKEYS=20000; BULK=100000; HTTP_SHARDS="2 4"; SKEYS=100000 ;;
  *) echo "usage: bench/run.sh [--quick | --smoke]" >&2; exit 2 ;;
esac
T0=$(date +%s)
LOG=bench/run-times.txt
echo "bench/run.sh ${1:-(full)} started $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores" >"$LOG"
step() { # step CMD...: runs it and logs its wall time
  local t=$(date +%s)
  "$@"
  echo "$(( $(date +%s) - t )) s  $*" >>"$LOG"
}
step bash bench/inspect.sh --write "$KR" 3
step bash bench/verify.sh --write 3
step bash bench/spine.sh --write "$KR" "$SECS"
for s in $HTTP_SHARDS; do step bash bench/http.sh --write --shards $s "$KR" "$SECS"; done
step bash bench/mint.sh --write "$KEYS"
step bash bench/search.sh --write "$SKEYS" "$((SECS * 2))"
step bash bench/replicas.sh --write "$KEYS" "$((SECS * 2))"
for s in 2 4; do step bash bench/hkp.sh --write --shards $s "$HKEYS" "$SECS" 1 4 16 64; done
step bash bench/bulk.sh --write "$BULK" 2 4
if [ "$BULK" = 100000 ]; then
  step bash bench/bulk.sh --write 1000000 2 4
  step bash bench/bulk.sh --write --no-sks 1000000 1
fi
if [ "$KEYS" -le 2000 ]; then step bash bench/recon.sh --big 0 1000; else step bash bench/recon.sh 1000 10000; fi
step bash bench/mail.sh --write "$KR" 1000
echo "total: $(( $(date +%s) - T0 )) s" >>"$LOG"
cat "$LOG"
echo "results: bench/RESULTS.md"
