#!/usr/bin/env bash
# The cost of CURVE (writes the "CURVE cost" section of bench/RESULTS.md with --write), CURVE on
# (the normal build, build/bin) against CURVE off (a build made for this comparison only,
# build/plainbench, compiled with OKS_ZSEC_PLAIN_FOR_BENCH: its programs run without keys), in
# one run, on the same keys:
#  - lookups by fingerprint through the router (oks-bench router-lookup) at 1, 16 and 64
#    requests in flight, once for keys with small answers (at most 3 KB stored) and once for keys
#    with answers of about 31 KB (28-34 KB stored; sizes from bench/key_sizes.py);
#  - imports (oksctl import of KEYRING into an empty 2-shard cluster: keys/s).
# Each round starts both clusters afresh (imports, curve and plain in alternating order), then
# runs every lookup case on one cluster and at once on the other; the table gives the median
# over the rounds (the box is shared: single runs swing). Besides the rates, the CPU time of the
# cluster (router and shards) plus the client (oks-bench or oksctl) per request (per key for
# imports), from /proc and getrusage: what CURVE adds to the work, whatever else runs on the box;
# "plain / CURVE CPU" is the rate ratio to expect where the cores are the limit (64 in flight).
# "best possible": the same ratio if CURVE added nothing but its cipher (oks-bench seal-cost of
# every frame a lookup seals and opens, libsodium alone): no implementation of CURVE links can
# do better than that on this CPU.
# --profile: afterwards, samples (perf, cpu-clock) of the router, the shards and the client
# during 31 KB lookups at 64 in flight, per mode: microseconds of CPU per lookup by thread kind
# and library (libsodium = CURVE's crypto).
# usage: bench/curve.sh [--write] [--profile] [KEYRING] [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0 PROFILE=0
while [ $# -gt 0 ]; do
  case $1 in
    --write) WRITE=1; shift ;;
    --profile) PROFILE=1; shift ;;
    *) break ;;
  esac
done
KR=${1:-/usr/share/keyrings/debian-keyring.gpg}
SECS=${2:-3}
ROUNDS=${3:-3}
PLAIN=build/plainbench/bin
make -j2 all >/dev/null
make -j2 MODE=plainbench CFLAGS="-O2 -g -DOKS_ZSEC_PLAIN_FOR_BENCH" \
  "$PLAIN/oks-shard" "$PLAIN/oks-router" "$PLAIN/oksctl" "$PLAIN/oks-bench" >/dev/null
D=$(mktemp -d /tmp/oksb.XXXXXX)
trap 'for m in curve plain; do bash deploy/local.sh down --dir "$D/$m" >/dev/null 2>&1; done; rm -rf "$D"' EXIT
TICK=$(getconf CLK_TCK)

bin_of() { if [ "$1" = plain ]; then echo "$PLAIN"; else echo build/bin; fi; }
# CPU seconds (user + system) used so far by the cluster of mode $1
cluster_cpu() {
  local f t=0
  for f in "$D/$1"/run/*.pid; do t=$((t + $(awk '{print $14 + $15}' "/proc/$(cat "$f")/stat"))); done
  echo "$t / $TICK" | bc -l
}
# runs "$@" and prints its CPU seconds (user + system) on stderr's last line
timed() { /usr/bin/time -f "cpu %U %S" "$@"; }

/usr/bin/python3 bench/key_sizes.py "$KR" >"$D/sizes"
awk '$2 <= 3000 {print $1}' "$D/sizes" >"$D/small"
awk '$2 >= 28000 && $2 <= 34000 {print $1}' "$D/sizes" >"$D/big"
for s in small big; do
  [ -s "$D/$s" ] || { echo "curve.sh: $KR has no keys of the $s size" >&2; exit 1; }
done
mean_bytes() { awk -v lo="$1" -v hi="$2" '$2 >= lo && $2 <= hi {n++; t += $2} END {printf "%d", t / n}' "$D/sizes"; }
# CURVE's cipher alone per lookup through the router: the request ([id][~100-byte body]) and the
# answer ([id][answer]) each cross two CURVE links, every frame sealed once and opened once per
# link (libzmq: crypto_box_easy_afternm / crypto_box_open_easy_afternm), in µs
cipher_us() {
  local f b tot=0
  for b in 16 100 16 "$1"; do
    f=$(build/bin/oks-bench seal-cost "$b" 0.5)
    tot=$(awk -v t="$tot" -v l="$f" 'BEGIN { n = split(l, w, /[ =]+/); for (i = 1; i < n; i++) v[w[i]] = w[i + 1]
                                           printf "%.3f", t + 2 * (v["seal_us"] + v["open_us"]) }')
  done
  echo "$tot"
}
size_note() { awk -v lo="$1" -v hi="$2" '$2 >= lo && $2 <= hi {n++; t += $2} END {printf "%d keys, mean %.1f KB", n, t / n / 1000}' "$D/sizes"; }

: >"$D/results"
for r in $(seq 1 "$ROUNDS"); do
  order="curve plain"; [ $((r % 2)) -eq 0 ] && order="plain curve"
  for m in $order; do
    bash deploy/local.sh down --dir "$D/$m" >/dev/null 2>&1 || true
    rm -rf "${D:?}/$m"
    OKS_BIN=$PWD/$(bin_of $m) bash deploy/local.sh up --dir "$D/$m" --shards 2 >/dev/null
    c0=$(cluster_cpu $m); t0=$(date +%s.%N)
    timed "$(bin_of $m)/oksctl" import -c "$D/$m/oks.conf" --quiet "$KR" >"$D/imp" 2>"$D/imp.err"
    t1=$(date +%s.%N); c1=$(cluster_cpu $m)
    keys=$(awk '{print $2; exit}' "$D/imp")
    ccpu=$(awk '/^cpu /{print $2 + $3}' "$D/imp.err")
    echo "$m import $r rate=$(echo "$keys / ($t1 - $t0)" | bc -l) cpu_us=$(echo "($c1 - $c0 + $ccpu) * 1000000 / $keys" | bc -l)" >>"$D/results"
  done
  for s in small big; do
    for w in 1 16 64; do
      for m in $order; do
        c0=$(cluster_cpu $m)
        timed "$(bin_of $m)/oks-bench" router-lookup "$D/$m/oks.conf" "$D/$s" "$w" "$SECS" \
          >"$D/out" 2>"$D/err" || { cat "$D/out" "$D/err" >&2; exit 1; }
        c1=$(cluster_cpu $m)
        line=$(grep '^router' "$D/out")
        n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
        ccpu=$(awk '/^cpu /{print $2 + $3}' "$D/err")
        echo "$m $s-$w $r $(sed 's/^router //' <<<"$line") cpu_us=$(echo "($c1 - $c0 + $ccpu) * 1000000 / $n" | bc -l)" >>"$D/results"
      done
    done
  done
done
cat "$D/results"
CIPHER_small=$(cipher_us "$(mean_bytes 0 3000)")
CIPHER_big=$(cipher_us "$(mean_bytes 28000 34000)")
echo "cipher per lookup: small ${CIPHER_small} us, ~31 KB ${CIPHER_big} us"

if [ $PROFILE -eq 1 ]; then
  : >"$D/profile"
  for m in curve plain; do
    perf record -q -e cpu-clock -c 1000000 -p "$(cat "$D/$m/run/router.pid")" -o "$D/perf-$m-router" \
      -- sleep $((SECS + 1)) >/dev/null 2>&1 &
    p1=$!
    perf record -q -e cpu-clock -c 1000000 -p "$(cat "$D/$m"/run/shard-*.pid | paste -sd,)" \
      -o "$D/perf-$m-shards" -- sleep $((SECS + 1)) >/dev/null 2>&1 &
    p2=$!
    sleep 0.3
    perf record -q -e cpu-clock -c 1000000 -o "$D/perf-$m-client" "$(bin_of $m)/oks-bench" \
      router-lookup "$D/$m/oks.conf" "$D/big" 64 "$SECS" >"$D/out" 2>/dev/null
    wait $p1 $p2 || true
    n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' "$D/out")
    for part in router shards client; do
      perf report -i "$D/perf-$m-$part" --no-children -n --sort comm,dso --stdio -g none 2>/dev/null |
        awk -v m=$m -v part=$part -v n="$n" '!/^#/ && NF >= 4 { comm = $3; dso = $4   # 1 sample = 1 ms
          sub(/\.so.*/, "", dso); sub(/^\[kernel.kallsyms\]$/, "kernel", dso)
          th = comm ~ /^ZMQbg\/IO/ ? "ZeroMQ I/O" : comm ~ /^ZMQbg/ ? "ZeroMQ other" : "own threads"
          us[part " (" th ")|" dso] += $2 * 1000 / n }
          END { for (k in us) printf "%s|%s|%.1f\n", m, k, us[k] }' >>"$D/profile"
    done
  done
fi

med() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# median of field $3 (rate, rps, p50_ms, p99_ms, cpu_us) for mode $1, case $2
val() { awk -v m="$1" -v c="$2" -v f="$3" '$1 == m && $2 == c { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$D/results" | med; }
section() {
  echo "## CURVE cost"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo); shared with"
  echo "  other work while it ran (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)): rates swing from run"
  echo "  to run, so each row is the median of $ROUNDS rounds, and the CPU time per request (cluster +"
  echo "  client, what CURVE adds to the work whatever else runs) is given beside the rates"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- command: \`bash bench/curve.sh$([ $WRITE = 1 ] && echo " --write")$([ $PROFILE = 1 ] && echo " --profile") $KR $SECS $ROUNDS\` (2 shards + router on"
  echo "  loopback, all on this box; CURVE off = the \`OKS_ZSEC_PLAIN_FOR_BENCH\` build; lookups by"
  echo "  fingerprint through the router, $SECS s a run; small answers: $(size_note 0 3000); ~31 KB"
  echo "  answers: $(size_note 28000 34000) (stored sizes))"
  echo
  echo "| lookups | in flight | CURVE req/s | plain req/s | CURVE / plain | CURVE p50 / p99 ms | plain p50 / p99 ms | CPU µs/req CURVE / plain | plain / CURVE CPU | cipher µs/req | best possible |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for s in small big; do
    local cipher
    cipher=$([ $s = small ] && echo "$CIPHER_small" || echo "$CIPHER_big")
    for w in 1 16 64; do
      c=$s-$w
      awk -v s="$([ $s = small ] && echo "small" || echo "~31 KB")" -v w=$w -v cr="$(val curve $c rps)" -v pr="$(val plain $c rps)" \
        -v c50="$(val curve $c p50_ms)" -v c99="$(val curve $c p99_ms)" -v p50="$(val plain $c p50_ms)" \
        -v p99="$(val plain $c p99_ms)" -v cc="$(val curve $c cpu_us)" -v pc="$(val plain $c cpu_us)" -v ci="$cipher" \
        'BEGIN { printf "| %s | %s | %.0f | %.0f | %.0f%% | %.2f / %.2f | %.2f / %.2f | %.0f / %.0f | %.0f%% | %.0f | %.0f%% |\n", s, w, cr, pr, 100 * cr / pr, c50, c99, p50, p99, cc, pc, 100 * pc / cc, ci, 100 * pc / (pc + ci) }'
    done
  done
  echo
  echo "\"cipher µs/req\": \`oks-bench seal-cost\` of the frames one lookup seals and opens (request and answer,"
  echo "each crossing two CURVE links: client-router and router-shard), libsodium alone with its data in cache;"
  echo "\"best possible\": plain CPU / (plain CPU + cipher), the CURVE / plain CPU ratio if CURVE cost nothing"
  echo "but its cipher: where the cores are the limit (64 in flight) the rate ratio cannot exceed it."
  echo
  echo "| import | CURVE keys/s | plain keys/s | CURVE / plain | CPU µs/key CURVE / plain | plain / CURVE CPU |"
  echo "|---|---|---|---|---|---|"
  awk -v k="$(basename "$KR")" -v cr="$(val curve import rate)" -v pr="$(val plain import rate)" \
    -v cc="$(val curve import cpu_us)" -v pc="$(val plain import cpu_us)" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.0f%% | %.0f / %.0f | %.0f%% |\n", k, cr, pr, 100 * cr / pr, cc, pc, 100 * pc / cc }'
  if [ $PROFILE -eq 1 ]; then
    echo
    echo "Profile, ~31 KB lookups at 64 in flight (perf cpu-clock samples, µs of CPU per lookup; rows"
    echo "under 5 µs in both modes left out, \"all\" counts them):"
    echo
    echo "| process (threads) | library | CURVE | plain |"
    echo "|---|---|---|---|"
    awk -F'|' '{ v[$2 "|" $3, $1] += $4; k[$2 "|" $3] = 1; t[$1] += $4 }
      END { for (x in k) if (v[x, "curve"] + v[x, "plain"] >= 5) { split(x, p, "|")
              printf "| %s | %s | %.0f | %.0f |\n", p[1], p[2], v[x, "curve"], v[x, "plain"] }
            printf "| all | all | %.0f | %.0f |\n", t["curve"], t["plain"] }' "$D/profile" | sort -t'|' -k4 -gr
  fi
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "CURVE cost"
fi
