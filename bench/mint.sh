#!/usr/bin/env bash
# Minted-key benchmark (the "Minted keys" section of bench/RESULTS.md): oks-bench mint rate
# (v4 and v6 keys), verification ceiling on the minted keys (oksctl inspect, 2 threads), OKS
# import of the same keys into a 2-shard cluster (fresh and again), and `sks build` of the same
# file for reference.
# usage: bench/mint.sh [--write] [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0; [ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-10000}
B=build/bin
D=$(mktemp -d /tmp/oksm.XXXXXX)
trap 'bash deploy/local.sh down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
now() { date +%s.%N; }
rate() { echo "$1 / ($3 - $2)" | bc -l; }

t0=$(now); "$B/oks-bench" mint --count "$N" --seed bench --certs 1 --out "$D/v4.pgp" 2>/dev/null; t1=$(now)
"$B/oks-bench" mint --count "$N" --seed bench --v6-ratio 1 --out "$D/v6.pgp" 2>/dev/null; t2=$(now)
mint4=$(rate "$N" "$t0" "$t1"); mint6=$(rate "$N" "$t1" "$t2")
t3=$(now); "$B/oksctl" inspect --threads 2 "$D/v4.pgp" >/dev/null; t4=$(now)
ceil=$(rate "$N" "$t3" "$t4")
bash deploy/local.sh up --dir "$D/c" --shards 2 >/dev/null
export OKS_CONFIG=$D/c/oks.conf
t5=$(now); "$B/oksctl" import --quiet "$D/v4.pgp" >/dev/null; t6=$(now)
"$B/oksctl" import --quiet "$D/v4.pgp" >/dev/null; t7=$(now)
imp=$(rate "$N" "$t5" "$t6"); reimp=$(rate "$N" "$t6" "$t7")
stored=$("$B/oksctl" stats 2>/dev/null | awk '/^total keys:/{print $3}')
bash deploy/local.sh down --dir "$D/c" >/dev/null
S=$D/sks; mkdir -p "$S/dump" "$S/var/lib/sks" "$S/etc/sks" "$S/var/log/sks"; touch "$S/etc/sks/sksconf"
cp "$D/v4.pgp" "$S/dump/k.pgp"
t8=$(now)
if (cd "$S" && sks build -basedir "$S" "$S/dump/k.pgp" -n 10 -cache 100 >"$D/sks.log" 2>&1); then
  t9=$(now); sks=$(rate "$N" "$t8" "$t9")
else
  sks=0; echo "sks build failed:" >&2; tail -5 "$D/sks.log" >&2
fi

section() {
  echo "## Minted keys"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the box lowers every number)"
  echo "- command: \`bash bench/mint.sh --write $N\`; keys: \`oks-bench mint --count $N --seed bench --certs 1\`"
  echo "  (v4 Ed25519 + cv25519, 1-3 user IDs, one third-party certification) and the same with \`--v6-ratio 1\`"
  echo
  echo "| step ($N keys) | keys/s |"
  echo "|---|---|"
  printf '| oks-bench mint, v4 with one certification each (2 threads) | %.0f |\n' "$mint4"
  printf '| oks-bench mint, v6 (2 threads) | %.0f |\n' "$mint6"
  printf '| verification ceiling: oksctl inspect, 2 threads | %.0f |\n' "$ceil"
  printf '| OKS import, fresh (2 shards, verification on) | %.0f |\n' "$imp"
  printf '| OKS re-import of the same keys | %.0f |\n' "$reimp"
  printf '| sks build (reference; verifies nothing) | %.0f |\n' "$sks"
  echo
  echo "Keys stored by OKS after import: ${stored:-?}."
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "Minted keys"
fi
