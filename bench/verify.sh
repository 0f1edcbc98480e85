#!/usr/bin/env bash
# bench/verify.sh [--write] [RUNS]: self-signature verification rate (signatures/s) of
# `oksctl inspect` on 1 and 2 threads, for debian-keyring.gpg (mostly RSA) and for keyrings of
# one signing algorithm (Ed25519, ECDSA P-256, RSA-2048; OpenSSL-signed keys from
# tests/integration/helpers/make_sig_matrix.py, repeated 200 times). Rate = self-signatures
# verified / (median time with verification - median time with --no-verify), so parsing,
# hashing and output are not counted. With --write replaces its section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
if [ "${1:-}" = "--write" ]; then WRITE=1; shift; fi
RUNS=${1:-3}
OKSCTL=${OKS_BIN:-build/bin}/oksctl
[ -x "$OKSCTL" ] || { echo "build first: make" >&2; exit 1; }
W=$(mktemp -d /tmp/oksv.XXXXXX)
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() { # command...
  local i t0 t1
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now)
    echo "$t1 - $t0" | bc -l
  done | median
}

mkdir "$W/m"
/usr/bin/python3 tests/integration/helpers/make_sig_matrix.py "$W/m" >/dev/null
for n in ed25519 p256 rsa; do
  for ((i = 0; i < 200; i++)); do cat "$W/m/$n.pgp"; done >"$W/$n.pgp"
done
load0=$(cut -d' ' -f1 /proc/loadavg)
rows=""
for spec in "debian-keyring.gpg:/usr/share/keyrings/debian-keyring.gpg" \
            "Ed25519 (EdDSA legacy), 200 keys:$W/ed25519.pgp" \
            "ECDSA NIST P-256, 200 keys:$W/p256.pgp" "RSA-2048, 200 keys:$W/rsa.pgp"; do
  label=${spec%%:*}; ring=${spec#*:}
  sigs=$("$OKSCTL" inspect --json "$ring" 2>/dev/null |
         awk -F'"self_sigs_verified":' '{split($2, a, ","); s += a[1]} END {print s}')
  row="| $label | $sigs |"
  for t in 1 2; do
    tv=$(time_runs "$OKSCTL" inspect --threads "$t" "$ring")
    tn=$(time_runs "$OKSCTL" inspect --threads "$t" --no-verify "$ring")
    row="$row $(echo "$sigs / ($tv - $tn)" | bc -l | xargs printf '%.0f') |"
  done
  rows="$rows$row"$'\n'
done
report=$(cat <<REPORT
## Self-signature verification rate

- machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), libgcrypt $(dpkg-query -W -f='${Version}' libgcrypt20 2>/dev/null); load average $load0 at start, $(cut -d' ' -f1 /proc/loadavg) at end (other work on the machine lowers the rates, above all with 2 threads)
- date: $(date -u +%Y-%m-%dT%H:%MZ)
- command: \`bash bench/verify.sh $RUNS\` — signatures verified / (median of $RUNS
  \`oksctl inspect --threads T\` − median of $RUNS \`oksctl inspect --threads T --no-verify\`)

| keyring | self-signatures | sigs/s, 1 thread | sigs/s, 2 threads |
|---|---|---|---|
${rows%$'\n'}
REPORT
)
echo "$report"
if [ "$WRITE" = 1 ]; then
  f=bench/RESULTS.md
  [ -f "$f" ] || printf '# Benchmark results\n\nEach section names the machine, date and exact command.\n' >"$f"
  awk 'BEGIN{skip=0} /^## /{skip=($0=="## Self-signature verification rate")} !skip' "$f" >"$f.tmp"
  printf '\n%s\n' "$report" >>"$f.tmp"
  mv "$f.tmp" "$f"
fi
