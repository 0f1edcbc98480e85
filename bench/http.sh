#!/usr/bin/env bash
# HTTP benchmark (writes the "HTTP gateway" section of bench/RESULTS.md, or "HTTP gateway, N
# shards" with --shards N other than 2): wrk with a Lua script rotating over real fingerprints
# and e-mail addresses, op=get by fingerprint and op=index by e-mail, against OKS (gw-http ->
# router -> N shards), SKS with the same keys, and h2o serving the same armored bytes as static
# files (the ceiling of this box); 16 and 64 connections. The get workload is run on all keys and
# on the large keys only (50 KB or more as served, binary). Peak RSS of every server at the end.
# usage: bench/http.sh [--write] [--shards N] [KEYRING] [SECONDS]
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
KR=${1:-/usr/share/keyrings/debian-keyring.gpg}
SECS=${2:-5}
B=build/bin
D=$(mktemp -d /tmp/oksh.XXXXXX)
H2O_PID= NC_PID=
cleanup() {
  [ -n "$H2O_PID" ] && kill "$H2O_PID" 2>/dev/null
  [ -n "$NC_PID" ] && kill "$NC_PID" 2>/dev/null
  bash tests/harness/sks.sh stop "$D/sks" >/dev/null 2>&1 || true
  bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1; rm -rf "$D"
}
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }
OP=$(port); SP=$(port); RP=$(port); HP=$(port); NP=$(port)
# one load generator is one client: the per-client budgets would measure the policy, not the
# server
bash deploy/local.sh up --dir "$D/oks" --shards "$SHARDS" --http-port "$OP" \
  --http-opt rate_verify=0 >/dev/null
# a second gateway on the same cluster with the answer cache off: the cost of the spine itself
sed '/^\[http\]/a cache_mb = 0' "$D/oks/oks.conf" >"$D/nocache.conf"
"$B/oks-gw-http" -c "$D/nocache.conf" --listen "127.0.0.1:$NP" --log "$D/nocache.log" &
NC_PID=$!
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$KR" >/dev/null
mkdir -p "$D/sks" "$D/static"
bash tests/harness/sks.sh start "$D/sks" "$SP" "$RP" "$KR" >"$D/sks.env"
. <(grep '^SKS_' "$D/sks.env")
"$B/oksctl" inspect --json "$KR" >"$D/keys.json"
/usr/bin/python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
keys = [json.loads(l) for l in open(f"{d}/keys.json")]
with open(f"{d}/get.paths", "w") as g, open(f"{d}/static.paths", "w") as s, open(f"{d}/index.paths", "w") as x:
    for k in keys:
        g.write(f"/pks/lookup?op=get&options=mr&search=0x{k['fingerprint']}\n")
        s.write(f"/{k['fingerprint']}.asc\n")
        for u in k["uids"]:
            if "<" in u and u.endswith(">"):
                x.write(f"/pks/lookup?op=index&options=mr&search={u[u.rindex('<')+1:-1]}\n")
                break
PY
# static copies of exactly what OKS serves
while read -r p; do
  f=${p#*search=0x}
  curl -s "http://127.0.0.1:$OP$p" -o "$D/static/$f.asc"
done <"$D/get.paths"
# large keys: 50 KB or more once the armor is taken off
read -r LARGE LARGE_KB LARGE_MAX < <(/usr/bin/python3 - "$D" <<'PY'
import base64, sys
d = sys.argv[1]
big = []
with open(f"{d}/get.paths") as g, open(f"{d}/large.paths", "w") as lg, open(f"{d}/large-static.paths", "w") as ls:
    for p in g:
        f = p.strip().split("search=0x")[1]
        lines = open(f"{d}/static/{f}.asc").read().split("\n")
        body = "".join(l for l in lines[lines.index(""):] if l and not l.startswith(("=", "-----")))
        n = len(base64.b64decode(body))
        if n >= 50 * 1024:
            lg.write(p); ls.write(f"/{f}.asc\n"); big.append(n)
print(len(big), round(sum(big) / len(big) / 1024) if big else 0, round(max(big) / 1024) if big else 0)
PY
)
chmod 755 "$D"; chmod -R a+rX "$D/static"  # h2o drops root privileges to nobody
printf 'listen:\n  port: %s\n  host: 127.0.0.1\nnum-threads: 2\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s\n' \
  "$HP" "$D/static" >"$D/h2o.conf"
h2o -c "$D/h2o.conf" >"$D/h2o.log" 2>&1 &
H2O_PID=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$HP/" && break; sleep 0.1; done
cat >"$D/rotate.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
run() { # name port paths conns
  local out
  out=$(PATHS=$3 wrk -t2 -c"$4" -d"${SECS}s" --latency -s "$D/rotate.lua" "http://127.0.0.1:$2" 2>&1)
  local rps p50 p99 non2
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  non2=$(awk '/Non-2xx/{print $NF}' <<<"$out"); non2=${non2:-0}
  echo "$1 $4 $rps $p50 $p99 $non2"
}
: >"$D/results"
for c in 16 64; do
  run "OKS-get" "$OP" "$D/get.paths" $c >>"$D/results"
  run "OKS-get-nocache" "$NP" "$D/get.paths" $c >>"$D/results"
  run "SKS-get" "$SP" "$D/get.paths" $c >>"$D/results"
  run "h2o-static" "$HP" "$D/static.paths" $c >>"$D/results"
  run "OKS-index" "$OP" "$D/index.paths" $c >>"$D/results"
  run "OKS-index-nocache" "$NP" "$D/index.paths" $c >>"$D/results"
  run "SKS-index" "$SP" "$D/index.paths" $c >>"$D/results"
  if [ "$LARGE" -gt 0 ]; then
    run "OKS-get-large" "$OP" "$D/large.paths" $c >>"$D/results"
    run "OKS-get-large-nocache" "$NP" "$D/large.paths" $c >>"$D/results"
    run "SKS-get-large" "$SP" "$D/large.paths" $c >>"$D/results"
    run "h2o-large" "$HP" "$D/large-static.paths" $c >>"$D/results"
  fi
done
hwm() { awk '/VmHWM/{printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
RSS=""
for f in "$D"/oks/run/*.pid; do RSS+="$(basename "$f" .pid) $(hwm "$(cat "$f")") MiB, "; done
RSS="OKS ${RSS%, }; SKS db $(hwm "${SKS_DB_PID:-0}") MiB"
cat "$D/results"
SEC="HTTP gateway"; [ "$SHARDS" = 2 ] || SEC="HTTP gateway, $SHARDS shards"
section() {
  echo "## $SEC"
  echo
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo); wrk on the same cores"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- command: \`bash bench/http.sh --write$([ "$SHARDS" = 2 ] || echo " --shards $SHARDS") $KR $SECS\` — wrk -t2 -d${SECS}s --latency, Lua script"
  echo "  rotating over the $(wc -l <"$D/get.paths") keys' fingerprints / e-mail addresses; OKS = gw-http (2 threads)"
  echo "  + router + $SHARDS shards, its answer cache warm (every key fetched once before); -nocache = a"
  echo "  second gateway on the same cluster with \`cache_mb = 0\` (every request goes to the shards);"
  echo "  SKS = tests/harness/sks.sh with the same keyring; h2o = the same armored bytes as static files."
  echo "  \`-large\` rows: only the $LARGE keys of 50 KB or more as OKS serves them (binary; mean $LARGE_KB KB,"
  echo "  largest $LARGE_MAX KB)"
  echo
  echo "| workload | connections | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$D/results"
  echo
  /usr/bin/python3 - "$D/results" <<'PY'
import sys
r = {}
for l in open(sys.argv[1]):
    n, c, rps, *_ = l.split(); r[(n, c)] = float(rps or 0)
for c in ("16", "64"):
    g, s, h, i, si, gn, inc = (r.get((k, c), 0) for k in ("OKS-get", "SKS-get", "h2o-static", "OKS-index", "SKS-index", "OKS-get-nocache", "OKS-index-nocache"))
    q = lambda a, b: a / b if b else 0
    print(f"At {c} connections: get (all keys) = {q(g, s):.1f}× SKS, {100*q(g, h):.0f}% of the static ceiling (target 50%); index = {q(i, si):.1f}× SKS (target 10×). "
          f"Cache off: get = {q(gn, s):.1f}× SKS, {100*q(gn, h):.0f}% of the ceiling; index = {q(inc, si):.1f}× SKS.  ")
    g, s, h, gn = (r.get((k, c), 0) for k in ("OKS-get-large", "SKS-get-large", "h2o-large", "OKS-get-large-nocache"))
    if g:
        print(f"At {c} connections, large keys: get = {q(g, s):.1f}× SKS (target 20×), {100*q(g, h):.0f}% of the static ceiling (target 50%); "
              f"cache off: {q(gn, s):.1f}× SKS.  ")
PY
  echo
  echo "Peak RSS (VmHWM) at the end: $RSS."
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "$SEC"
fi
