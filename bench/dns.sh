#!/usr/bin/env bash
# DNS gateway against HKP (the "DNS gateway: OPENPGPKEY vs HKP by e-mail" section of
# bench/RESULTS.md): minted keys loaded into a local cluster (2 shards) with oks-gw-http and
# oks-gw-dns, both with their answer caches off (http cache_mb = 0, dns cache_entries = 0:
# every request is one e-mail index search on the shards) and no per-client limits (one load
# generator is one client). Then, one after the other, for SECONDS each:
#   hkp  oks-bench mixed --get 0 --index 100 (op=index by e-mail), CONNS connections
#   dns  bench/dns_load.py: OPENPGPKEY over UDP with EDNS 4096, WINDOW queries in flight,
#        random addresses of the same keys
# and the ratio dns/hkp of requests per second. --write replaces the section of RESULTS.md.
# usage: bench/dns.sh [--write] [KEYS] [SECONDS] [CONNS] [WINDOW]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-2000}; SECS=${2:-10}; CONNS=${3:-16}; WINDOW=${4:-64}
B=build/bin
D=$(mktemp -d /tmp/oksdns.XXXXXX)
cleanup() { bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

"$B/oks-bench" mint --count "$N" --seed dns --out "$D/keys.pgp" --list "$D/keys.lst" 2>/dev/null
DOMS=$(awk '{ split($2, a, "@"); print tolower(a[2]) }' "$D/keys.lst" | sort -u | head -32 | tr '\n' ' ')
HP=$(port); DP=$(port)
bash deploy/local.sh up --dir "$D/oks" --shards 2 --http-port "$HP" \
  --http-opt rate_verify=0 --http-opt cache_mb=0 \
  --dns-port "$DP" --dns-domains "$DOMS" \
  --dns-opt cache_entries=0 --dns-opt rrl_rate=0 >/dev/null
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$D/keys.pgp" >/dev/null
for _ in $(seq 100); do
  kdig @127.0.0.1 -p "$DP" +retry=0 +timeout=1 "_openpgpkey.${DOMS%% *}" SOA 2>/dev/null | grep -q NOERROR && break
  sleep 0.1
done

hkp=$("$B/oks-bench" mixed --list "$D/keys.lst" --get 0 --index 100 --url "http://127.0.0.1:$HP" \
  --conns "$CONNS" --duration "$SECS" --grace 10 | awk '$1 == "index"' | tail -1)
dns=$(/usr/bin/python3 bench/dns_load.py "$DP" "$D/keys.lst" "$SECS" "$WINDOW")
val() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
hr=$(val "$hkp" rps); dr=$(val "$dns" rps)
ratio=$(echo "scale=1; 100 * $dr / $hr" | bc)
rss() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
{
  echo "keys $N, ${SECS} s per run, hkp $CONNS connections, dns $WINDOW queries in flight, caches off"
  echo "hkp index by e-mail: $hkp"
  echo "dns OPENPGPKEY/UDP:  $dns"
  echo "ratio dns/hkp: ${ratio} %"
  echo "peak RSS: gw-http $(( $(rss "$(cat "$D/oks/run/gw-http.pid")") / 1024 )) MiB, gw-dns $(( $(rss "$(cat "$D/oks/run/gw-dns.pid")") / 1024 )) MiB"
} | tee "$D/summary"
if [ "$WRITE" = 1 ]; then
  { echo "## DNS gateway: OPENPGPKEY vs HKP by e-mail"; echo
    echo "bench/dns.sh $N $SECS $CONNS $WINDOW, $(date -u +%Y-%m-%dT%H:%MZ)"; echo
    echo '```'; cat "$D/summary"; echo '```'; } >"$D/section"
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section" "DNS gateway: OPENPGPKEY vs HKP by e-mail"
fi
