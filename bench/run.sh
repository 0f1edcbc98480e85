#!/usr/bin/env bash
# make bench: runs every benchmark of bench/ in turn and writes their sections of
# bench/RESULTS.md. usage: bench/run.sh [--quick | --smoke]
#   --quick  shorter runs and fewer keys
#   --smoke  tiny sizes, seconds, writes nothing (checks that the benchmarks still run)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  --smoke)
    bash bench/mint.sh 50
    bash bench/hkp.sh 40 0.3 1 2
    echo "smoke run done"
    exit 0 ;;
  --quick) SECS=3; KEYS=2000; HKEYS=5000 ;;
  "") SECS=10; KEYS=20000; HKEYS=20000 ;;
  *) echo "usage: bench/run.sh [--quick | --smoke]" >&2; exit 2 ;;
esac
bash bench/inspect.sh --write /usr/share/keyrings/debian-keyring.gpg 3
bash bench/verify.sh --write 3
bash bench/spine.sh --write /usr/share/keyrings/debian-keyring.gpg "$SECS"
bash bench/http.sh --write /usr/share/keyrings/debian-keyring.gpg "$SECS"
bash bench/mint.sh --write "$KEYS"
bash bench/hkp.sh --write "$HKEYS" "$SECS" 1 4 16 64
if [ "$KEYS" -le 2000 ]; then bash bench/recon.sh 1000; else bash bench/recon.sh 1000 10000; fi
bash bench/mail.sh --write /usr/share/keyrings/debian-keyring.gpg 1000
echo "results: bench/RESULTS.md"
