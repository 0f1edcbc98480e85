#!/usr/bin/env bash
# HKP side by side (the "HKP: OKS vs SKS" section of bench/RESULTS.md): the same minted keys
# loaded into OKS (deploy/local.sh, 2 shards + oks-gw-http) and into SKS (tests/harness/sks.sh),
# then each workload run against OKS and SKS in alternation with oks-bench: get by fingerprint
# at several connection counts, index by e-mail (16 and 64 connections), the mixed workload
# (90% get, 8% index, 2% add) and uploads of fresh keys. Lookups are measured twice on OKS: through its gateway with the
# answer cache warm (every key fetched about once before the first row) and through a second
# gateway on the same cluster with the cache off (cache_mb = 0: every request goes to the shards).
# Peak RSS (VmHWM) of every server process at the end.
# Plots (gnuplot): bench/hkp-get.png (req/s and p99 against connections).
# --shards N (default 2): OKS with N shards; for N other than 2 the section is "HKP: OKS vs SKS,
# N shards" and the plot bench/hkp-get-N.png.
# usage: bench/hkp.sh [--write] [--shards N] [KEYS] [SECONDS_PER_RUN] [CONNS...]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0 SHARDS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --write) WRITE=1; shift ;;
    --shards) SHARDS=$2; shift 2 ;;
    *) break ;;
  esac
done
SEC="HKP: OKS vs SKS"; TAG=""
[ "$SHARDS" = 2 ] || { SEC="HKP: OKS vs SKS, $SHARDS shards"; TAG="-$SHARDS"; }
N=${1:-5000}; SECS=${2:-5}; shift 2 2>/dev/null || shift $#
CONNS=("$@"); [ ${#CONNS[@]} -gt 0 ] || CONNS=(1 16 64)
B=build/bin
SKS_HARNESS=tests/harness/sks.sh
D=$(mktemp -d /tmp/oksh.XXXXXX)
NC_PID=
cleanup() {
  [ -n "$NC_PID" ] && kill "$NC_PID" 2>/dev/null
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true
  bash "$SKS_HARNESS" stop "$D/s" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

"$B/oks-bench" mint --count "$N" --seed hkp --out "$D/keys.pgp" --list "$D/keys.lst" 2>"$D/mint.txt"
NUP=$(( N / 5 > 20 ? N / 5 : 20 ))
"$B/oks-bench" mint --count "$NUP" --seed hkp-upload --out "$D/up.pgp" 2>/dev/null
"$B/oks-bench" mint --count "$NUP" --seed hkp-mixed-add --out "$D/add.pgp" 2>/dev/null

OP=$(port)
# one load generator is one client: the per-client budgets would measure the policy, not the
# server
bash deploy/local.sh up --dir "$D/oks" --shards "$SHARDS" --http-port "$OP" \
  --http-opt rate_verify=0 >/dev/null
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$D/keys.pgp" >/dev/null
NP=$(port)
sed '/^\[http\]/a cache_mb = 0' "$D/oks/oks.conf" >"$D/nocache.conf"
"$B/oks-gw-http" -c "$D/nocache.conf" --listen "127.0.0.1:$NP" --log "$D/nocache.log" &
NC_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$NP/pks/health" && break; sleep 0.1; done
SP=$(port); RP=$(port)
SKS_START_TIMEOUT=600 bash "$SKS_HARNESS" start "$D/s" "$SP" "$RP" "$D/keys.pgp" >"$D/sks.env" 2>"$D/sks.err" ||
  { cat "$D/sks.err" >&2; exit 1; }
. "$D/sks.env"

# warm the answer cache: every key asked for by fingerprint and by e-mail about once or more
"$B/oks-bench" mixed --list "$D/keys.lst" --get 50 --index 50 --url "http://127.0.0.1:$OP" \
  --conns 16 --max-requests $(( N * 12 )) --duration 120 --grace 10 >"$D/warm.txt"

# run NAME CONNS ARGS... : one line per server into $D/runs: name conns server rps p50 p99
# (servers: oks = cache warm, nc = cache off, sks; NC=0 leaves out nc)
run() {
  local name=$1 c=$2 srv url out srvs=(oks sks); shift 2
  [ "${NC:-1}" = 0 ] || srvs=(oks nc sks)
  for srv in "${srvs[@]}"; do
    case $srv in
      oks) url=http://127.0.0.1:$OP ;;
      nc) url=http://127.0.0.1:$NP ;;
      *) url=http://127.0.0.1:$SP ;;
    esac
    out=$("$B/oks-bench" "$@" --url "$url" --conns "$c" --duration "$SECS" --grace 10)
    echo "$out" >>"$D/raw-$srv.txt"
    echo "$out" | awk -v n="$name" -v c="$c" -v s="$srv" '
      $1 == "mixed" || $1 == "upload" { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      $1 == "summary" { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { printf "%s %s %s %.1f %.3f %.3f %s %s\n", n, c, s, v["rps"], v["p50_ms"], v["p99_ms"], v["errors"], v["4xx"] + v["5xx"] }' >>"$D/runs"
  done
}
: >"$D/runs"
for c in "${CONNS[@]}"; do run get "$c" mixed --list "$D/keys.lst" --get 100 --index 0; done
for c in 16 64; do run index "$c" mixed --list "$D/keys.lst" --get 0 --index 100; done
NC=0 run mixed 16 mixed --list "$D/keys.lst" --keys "$D/add.pgp" --get 90 --index 8
NC=0 run upload 8 upload --keys "$D/up.pgp"

# The ceiling: h2o serving the same keys as static files (armored, one file per key), and the
# same wrk client against OKS op=get, at the largest two connection counts.
"$B/oks-bench" mint --count "$N" --seed hkp --dump-dir "$D/static" --keys-per-file 1 --armor 2>/dev/null
HP=$(port)
cat >"$D/h2o.conf" <<H2O
listen:
  host: 127.0.0.1
  port: $HP
num-threads: 2
hosts:
  "default":
    paths:
      /k:
        file.dir: $D/static
H2O
h2o -c "$D/h2o.conf" >"$D/h2o.log" 2>&1 &
H2O_PID=$!
trap 'kill $H2O_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$HP/k/oks-bench-0000.pgp" && break; sleep 0.1; done
cat >"$D/static.lua" <<LUA
request = function()
  return wrk.format("GET", string.format("/k/oks-bench-%04d.pgp", math.random(0, $N - 1)))
end
LUA
awk '{ printf "%s\n", $1 }' "$D/keys.lst" >"$D/fprs"
cat >"$D/get.lua" <<LUA
local f = {}
for l in io.lines("$D/fprs") do f[#f + 1] = l end
request = function()
  return wrk.format("GET", "/pks/lookup?op=get&options=mr&search=0x" .. f[math.random(1, #f)])
end
LUA
WS=$(printf '%.0f' "$SECS"); [ "$WS" -ge 1 ] || WS=1
: >"$D/ceiling"
n=${#CONNS[@]}
for c in "${CONNS[@]:$(( n > 2 ? n - 2 : 0 ))}"; do
  for t in "static $HP static.lua" "oks $OP get.lua"; do
    set -- $t
    wrk -t$(( c < 2 ? c : 2 )) -c"$c" -d"${WS}s" --latency -s "$D/$3" "http://127.0.0.1:$2" >"$D/wrk.txt" 2>&1 || true
    awk -v n="$1" -v c="$c" '/Requests\/sec/ {r = $2} /^ +99%/ {p = $2} END {print n, c, r, p}' "$D/wrk.txt" >>"$D/ceiling"
  done
done
kill $H2O_PID 2>/dev/null || true

rss() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
oks_rss=""
for f in "$D"/oks/run/*.pid; do
  oks_rss+="$(basename "$f" .pid) $(( $(rss "$(cat "$f")") / 1024 )) MiB, "
done
sks_rss="sks db $(( $(rss "$SKS_DB_PID") / 1024 )) MiB"

section() {
  echo "## $SEC"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the box lowers every number)"
  echo "- command: \`bash bench/hkp.sh --write$([ "$SHARDS" = 2 ] || echo " --shards $SHARDS") $N $SECS ${CONNS[*]}\`; keys: \`oks-bench mint --count $N --seed hkp\`"
  echo "  (v4 Ed25519 + cv25519, 1-3 user IDs, about $(( $(stat -c %s "$D/keys.pgp") / N )) bytes per key), loaded into OKS ($SHARDS shards,"
  echo "  oksctl import) and SKS 1.1.6 (sks build); load from \`oks-bench mixed|upload --conns C --duration $SECS\`"
  echo "  against each server in turn (OKS first). Uploads and mixed adds: $NUP fresh minted keys, the same to both."
  echo "  OKS = its gateway with the answer cache warm (\`oks-bench mixed --get 50 --index 50 --max-requests $(( N * 12 ))\`"
  echo "  before the first row); cache off = a second gateway on the same cluster with \`cache_mb = 0\`."
  echo
  echo "| workload | conns | OKS req/s | OKS cache off req/s | SKS req/s | OKS/SKS | cache off/SKS | OKS p50 / p99 ms | cache off p50 / p99 ms | SKS p50 / p99 ms | errors+non-2xx OKS / off / SKS |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  awk '{ k = $1 " " $2; if (!(k in seen)) { order[++n] = k; seen[k] = 1 }
         rps[k, $3] = $4; p50[k, $3] = $5; p99[k, $3] = $6; bad[k, $3] = $7 + $8; has[k, $3] = 1 }
       function r(k, s) { return has[k, s] ? sprintf("%.0f", rps[k, s]) : "–" }
       function x(k, s) { return has[k, s] && rps[k, "sks"] > 0 ? sprintf("%.2f×", rps[k, s] / rps[k, "sks"]) : "–" }
       function p(k, s) { return has[k, s] ? sprintf("%.2f / %.2f", p50[k, s], p99[k, s]) : "–" }
       function b(k, s) { return has[k, s] ? sprintf("%d", bad[k, s]) : "–" }
       END { for (i = 1; i <= n; i++) { k = order[i]; split(k, a, " ")
         printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n", a[1], a[2],
           r(k, "oks"), r(k, "nc"), r(k, "sks"), x(k, "oks"), x(k, "nc"), p(k, "oks"), p(k, "nc"), p(k, "sks"),
           b(k, "oks"), b(k, "nc"), b(k, "sks") } }' "$D/runs"
  echo
  echo "Peak RSS (VmHWM) at the end: OKS ${oks_rss%, }; SKS: $sks_rss."
  echo "Plot: bench/hkp-get$TAG.png (get by fingerprint: req/s and p99 against connections)."
  echo
  echo "Ceiling: h2o $(h2o --version 2>/dev/null | awk 'NR==1{print $3}') serving the same armored keys as static files (one file per key, 2 threads), and"
  echo "OKS op=get measured with the same client (\`wrk -t2 -cC (one thread at C=1) -d${WS}s --latency\`, random key per request):"
  echo
  echo "| conns | h2o static req/s | OKS get req/s (wrk) | OKS share of the ceiling | p99 static / OKS |"
  echo "|---|---|---|---|---|"
  awk '{ r[$2, $1] = $3; p[$2, $1] = $4; if (!($2 in s)) { o[++n] = $2; s[$2] = 1 } }
       END { for (i = 1; i <= n; i++) { c = o[i]
         printf "| %s | %.0f | %.0f | %.0f%% | %s / %s |\n", c, r[c, "static"], r[c, "oks"],
           (r[c, "static"] > 0 ? 100 * r[c, "oks"] / r[c, "static"] : 0), p[c, "static"], p[c, "oks"] } }' "$D/ceiling"
}
section | tee "$D/section.md"

PNG=$D/hkp-get.png; [ $WRITE -eq 1 ] && PNG=bench/hkp-get$TAG.png
awk '$1 == "get" && $3 == "oks" { print $2, $4, $6 }' "$D/runs" >"$D/get-oks.dat"
awk '$1 == "get" && $3 == "sks" { print $2, $4, $6 }' "$D/runs" >"$D/get-sks.dat"
awk '$1 == "get" && $3 == "nc" { print $2, $4, $6 }' "$D/runs" >"$D/get-nc.dat"
gnuplot <<GP
set terminal png size 1000,420
set output "$PNG"
set multiplot layout 1,2 title "get by fingerprint, $N minted keys, OKS with $SHARDS shards"
set logscale x 2
set xlabel "connections"
set ylabel "requests/s"
set key top left
plot "$D/get-oks.dat" using 1:2 with linespoints title "OKS", "$D/get-nc.dat" using 1:2 with linespoints title "OKS, cache off", "$D/get-sks.dat" using 1:2 with linespoints title "SKS"
set ylabel "p99 latency (ms)"
plot "$D/get-oks.dat" using 1:3 with linespoints title "OKS", "$D/get-nc.dat" using 1:3 with linespoints title "OKS, cache off", "$D/get-sks.dat" using 1:3 with linespoints title "SKS"
unset multiplot
GP
test -s "$PNG"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "$SEC"
fi
