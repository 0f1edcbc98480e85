#!/usr/bin/env bash
# bench/inspect.sh [KEYRING] [RUNS]: parse + verify + hash a whole keyring with `oksctl inspect`
# against `gpg --with-colons --import-options show-only --import` on the same file. Median wall
# time of RUNS runs (default 3) each; prints keys/s and the ratio, and with --write replaces
# the "oksctl inspect vs gpg" section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
if [ "${1:-}" = "--write" ]; then WRITE=1; shift; fi
RING=${1:-/usr/share/keyrings/debian-keyring.gpg}
RUNS=${2:-3}
OKSCTL=${OKS_BIN:-build/bin}/oksctl
[ -x "$OKSCTL" ] || { echo "build first: make" >&2; exit 1; }
H=$(mktemp -d /tmp/oksg.XXXXXX); chmod 700 "$H"
trap 'GNUPGHOME=$H gpgconf --kill all >/dev/null 2>&1; rm -rf "$H"' EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() { # command...
  local i t0 t1
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now)
    echo "$t1 - $t0" | bc -l
  done | median
}

if "$OKSCTL" inspect --json tests/data/rfc9580-a3.asc 2>/dev/null | grep -q '"verified":true'; then
  verified="yes"
else
  verified="NO (oksctl built without the verification unit: parse + hash only)"
fi
keys=$("$OKSCTL" inspect --no-verify "$RING" 2>/dev/null | grep -c '^pub:')
OKS_CMD=("$OKSCTL" inspect "$RING")
GPG_CMD=(env GNUPGHOME="$H" gpg --batch --with-colons --import-options show-only --import "$RING")
t_oks=$(time_runs "${OKS_CMD[@]}")
t_gpg=$(time_runs "${GPG_CMD[@]}")
t_parse=$(time_runs "$OKSCTL" inspect --no-verify "$RING")
kps() { echo "$keys / $1" | bc -l | xargs printf '%.0f'; }
ratio=$(echo "$t_gpg / $t_oks" | bc -l | xargs printf '%.2f')
report=$(cat <<REPORT
## oksctl inspect vs gpg

- machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(gpg --version | head -1), libgcrypt $(dpkg-query -W -f='${Version}' libgcrypt20 2>/dev/null)
- date: $(date -u +%Y-%m-%dT%H:%MZ)
- input: $RING ($(stat -c %s "$RING") bytes, $keys keys)
- command: \`bash bench/inspect.sh $RING $RUNS\` — median wall time of $RUNS runs each of
  \`${OKS_CMD[*]}\` (parse + verify self-signatures + SKS hash + mr output, 2 threads) and
  \`gpg --batch --with-colons --import-options show-only --import $RING\` (fresh GNUPGHOME)

| tool | median s | keys/s |
|---|---|---|
| oksctl inspect (verify) | $(printf '%.3f' "$t_oks") | $(kps "$t_oks") |
| oksctl inspect --no-verify (parse + hash only) | $(printf '%.3f' "$t_parse") | $(kps "$t_parse") |
| gpg show-only import | $(printf '%.3f' "$t_gpg") | $(kps "$t_gpg") |

Self-signature verification active in this run: $verified.
Ratio gpg / oksctl inspect (verify): **${ratio}×** (target ≥ 3×).
REPORT
)
echo "$report"
if [ "$WRITE" = 1 ]; then
  f=bench/RESULTS.md
  [ -f "$f" ] || printf '# Benchmark results\n\nEach section names the machine, date and exact command.\n' >"$f"
  # drop an earlier copy of this section (up to the next "## " heading), then append
  awk 'BEGIN{skip=0} /^## /{skip=($0=="## oksctl inspect vs gpg")} !skip' "$f" >"$f.tmp"
  printf '\n%s\n' "$report" >>"$f.tmp"
  mv "$f.tmp" "$f"
fi
