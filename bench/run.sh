#!/usr/bin/env bash
# make bench: runs every benchmark of bench/ in turn and writes their sections of
# bench/RESULTS.md. usage: bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=10; [ "${1:-}" = --quick ] && SECS=3
bash bench/inspect.sh --write /usr/share/keyrings/debian-keyring.gpg 3
bash bench/verify.sh --write 3
bash bench/spine.sh --write /usr/share/keyrings/debian-keyring.gpg "$SECS"
echo "results: bench/RESULTS.md"
