#!/usr/bin/env bash
# LDAP gateway against HKP (the "LDAP gateway: searches vs HKP lookups" section of
# bench/RESULTS.md): minted keys loaded into a local cluster (2 shards) with oks-gw-http (answer
# cache off, cache_mb = 0, and no per-client limits: every request reaches the shards, as every
# LDAP search does) and oks-gw-ldap behind slapd (deploy/local.sh --ldap-port). Both load
# generators are oks-bench (C, one request in flight per connection, CONNS connections):
#   hkp get    oks-bench mixed --get 100: op=get by fingerprint
#   ldap fpr   oks-bench ldap-search fpr: dirmngr's receive by fingerprint,
#              (|(gpgFingerprint=F)(gpgSubFingerprint=F)) with pgpKey
#   ldap keyid oks-bench ldap-search keyid: (pgpCertID=K) with pgpKey
#   hkp index  oks-bench mixed --index 100: op=index by e-mail
#   ldap email oks-bench ldap-search email: dirmngr's search by mailbox
# ROUNDS rounds, each running the five for SECONDS one after the other (so a load change on a
# shared machine hits both sides), then the median requests/s of each and the ratios ldap/hkp
# (fingerprint and key ID against get, e-mail against index). Each run also reads the CPU time
# (user + system, /proc/PID/stat) the gateway (oks-gw-http or oks-gw-ldap), slapd, the router and
# the shards spent during it: "cpu_us" is per request, in microseconds, the figure that holds on
# a shared machine (rates move with the load, CPU per request much less); the summary gives
# each one's median and the total. --write replaces the section of RESULTS.md.
# usage: bench/ldap.sh [--write] [KEYS] [SECONDS] [CONNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = --write ] && { WRITE=1; shift; }
N=${1:-2000}; SECS=${2:-10}; CONNS=${3:-16}; ROUNDS=${4:-3}
B=build/bin
D=$(mktemp -d /tmp/oksldap.XXXXXX)
cleanup() { bash deploy/local.sh down --dir "$D/oks" >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT
port() { /usr/bin/python3 deploy/free_port.py; }

"$B/oks-bench" mint --count "$N" --seed ldap --out "$D/keys.pgp" --list "$D/keys.lst" 2>/dev/null
HP=$(port); LP=$(port)
bash deploy/local.sh up --dir "$D/oks" --shards 2 --http-port "$HP" \
  --http-opt rate_verify=0 --http-opt cache_mb=0 --ldap-port "$LP" >/dev/null
OKS_CONFIG=$D/oks/oks.conf "$B/oksctl" import --quiet "$D/keys.pgp" >/dev/null

hkp() { "$B/oks-bench" mixed --list "$D/keys.lst" --get "$1" --index "$2" \
  --url "http://127.0.0.1:$HP" --conns "$CONNS" --duration "$SECS" --grace 10 |
  awk -v k="$3" '$1 == k' | tail -1; }
ldap() { "$B/oks-bench" ldap-search "$LP" "$D/keys.lst" "$SECS" "$1" "$CONNS"; }
val() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
# CPU ticks (user + system) of the daemons: gateway (either), slapd, router, shards
TCK=$(getconf CLK_TCK)
ticks1() { awk '{ print $14 + $15 }' "/proc/$(cat "$D/oks/run/$1.pid")/stat" 2>/dev/null || echo 0; }
ticks() { echo "$(( $(ticks1 gw-http) + $(ticks1 gw-ldap) )) $(ticks1 slapd) $(ticks1 router)" \
  "$(( $(ticks1 shard-s0) + $(ticks1 shard-s1) ))"; }
# cpu_us=GW/SLAPD/ROUTER/SHARDS/TOTAL per request from the ticks before, after, and the rate
cpu_per_req() { awk -v a="$1" -v b="$2" -v rps="$3" -v s="$SECS" -v t="$TCK" 'BEGIN {
  split(a, x, " "); split(b, y, " "); n = rps * s; tot = 0; o = ""
  for (i = 1; i <= 4; i++) { v = (y[i] - x[i]) * 1e6 / t / n; tot += v; o = o sprintf("%.0f/", v) }
  printf "cpu_us=%s%.0f", o, tot }'; }
: >"$D/rounds"
for r in $(seq "$ROUNDS"); do
  for w in "hkp_get:hkp 100 0 get" "ldap_fpr:ldap fpr" "ldap_keyid:ldap keyid" \
           "hkp_index:hkp 0 100 index" "ldap_email:ldap email"; do
    t0=$(ticks)
    out=$(${w#*:})
    t1=$(ticks)
    out="$out $(cpu_per_req "$t0" "$t1" "$(val "$out" rps)")"
    echo "round $r ${w%%:*} $out" | tee -a "$D/rounds" >&2
  done
done
med() { grep " $1 " "$D/rounds" | while read -r l; do val "$l" rps; done | sort -n |
  awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
pc() { echo "scale=1; 100 * $(med "$1") / $(med "$2")" | bc; }
# median CPU per request of one kind: each part's median, gateway/slapd/router/shards/total
medcpu() { local i o=; for i in 1 2 3 4 5; do
    o="$o$(grep " $1 " "$D/rounds" | while read -r l; do val "$l" cpu_us | cut -d/ -f$i; done |
      sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')/"; done; echo "${o%/}"; }
rss() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
{
  echo "keys $N, ${SECS} s per run, $ROUNDS rounds, $CONNS connections, answer cache off"
  cat "$D/rounds"
  echo "median rps: hkp get $(med hkp_get), ldap fpr $(med ldap_fpr), ldap keyid $(med ldap_keyid)," \
       "hkp index $(med hkp_index), ldap email $(med ldap_email)"
  echo "ratio ldap/hkp: fingerprint $(pc ldap_fpr hkp_get) %, key ID $(pc ldap_keyid hkp_get) %," \
       "e-mail $(pc ldap_email hkp_index) %"
  echo "median CPU us per request (gateway/slapd/router/shards/total): hkp get $(medcpu hkp_get)," \
       "ldap fpr $(medcpu ldap_fpr), ldap keyid $(medcpu ldap_keyid), hkp index $(medcpu hkp_index)," \
       "ldap email $(medcpu ldap_email)"
  echo "peak RSS: gw-http $(( $(rss "$(cat "$D/oks/run/gw-http.pid")") / 1024 )) MiB," \
       "gw-ldap $(( $(rss "$(cat "$D/oks/run/gw-ldap.pid")") / 1024 )) MiB," \
       "slapd $(( $(rss "$(cat "$D/oks/run/slapd.pid")") / 1024 )) MiB"
} | tee "$D/summary"
if [ "$WRITE" = 1 ]; then
  { echo "## LDAP gateway: searches vs HKP lookups"; echo
    echo "bench/ldap.sh $N $SECS $CONNS $ROUNDS, $(date -u +%Y-%m-%dT%H:%MZ), load average before:" \
         "$(cut -d' ' -f1-3 /proc/loadavg) (2 cores shared with other work)"; echo
    echo '```'; cat "$D/summary"; echo '```'; } >"$D/section"
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section" "LDAP gateway: searches vs HKP lookups"
fi
