#!/usr/bin/env bash
# A cluster over four hosts (network namespaces, tests/harness/netns.sh), named by host name,
# every ZeroMQ link between the hosts running CURVE:
#   h1: shard s0 (slots 0-2047) and router r1     h2: shard s1 (2048-4095) and router r2
#   h3: the HTTP gateway                          h4: the clients (oksctl, curl)
# Keys are imported from h4 through both routers and looked up through the gateway. Router r1
# hangs (SIGSTOP), then is killed (kill -9), under a lookup loop: no lookup fails. With r1 back, h2's cable is cut (no
# RST: shard s1 and router r2 go silent): keys of s0 are still served, keys of s1 get an answer
# (503), liveness stays 200 while readiness reports s1's slots uncovered. Cable back: s1's keys
# are served again. At the end nothing of the test network is left on the machine.
set -u
source "$(dirname "$0")/lib.sh"
source "$OKS_HARNESS/netns.sh"
D=$(scratch_dir); G=$(gpg_home)
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$G"
netns_up 4 || { not_ok "four hosts come up"; finish; }
ok "four hosts on $NETNS_NET.0/24"
KR=/usr/share/keyrings/debian-maintainers.gpg
mkdir -p "$D/log" "$D/data"
cat >"$D/oks.conf" <<EOF
[cluster]
slots = 4096
routers = tcp://h1:11400, tcp://h2:11400
[shard.s0]
endpoint = tcp://h1:11410
bind = tcp://0.0.0.0:11410
data = $D/data/s0
slots = 0-2047
[shard.s1]
endpoint = tcp://h2:11411
bind = tcp://*:11411
data = $D/data/s1
slots = 2048-4095
[router]
bind = tcp://0.0.0.0:11400
deadline_ms = 10000
[http]
listen = $(netns_ip 3):11371
cache_mb = 0
metrics_allow = $NETNS_NET.0/24
[security]
router_key = $D/keys/router
shard_key = $D/keys/shard
http_key = $D/keys/http
admin_key = $D/keys/admin
audit_log = $D/log/audit.log
EOF
# every link runs CURVE across the hosts
mkdir -m 700 "$D/keys"
for k in router shard http admin; do "$OKS_BIN/oksctl" keygen "$D/keys/$k" >/dev/null; done
export OKS_CONFIG=$D/oks.conf
# start HOST NAME CMD...: a daemon in a host, its pid in $D/NAME.pid
start() {
  local k=$1 name=$2; shift 2
  netns_bg "$k" "$@" --log "$D/log/$name.log" >>"$D/log/$name.out" 2>&1 </dev/null
  echo "$NETNS_PID" >"$D/$name.pid"
}
start 1 s0 "$OKS_BIN/oks-shard" -c "$OKS_CONFIG" --name s0
start 2 s1 "$OKS_BIN/oks-shard" -c "$OKS_CONFIG" --name s1
start 1 r1 "$OKS_BIN/oks-router" -c "$OKS_CONFIG"
start 2 r2 "$OKS_BIN/oks-router" -c "$OKS_CONFIG"
start 3 gw "$OKS_BIN/oks-gw-http" -c "$OKS_CONFIG"
U=http://h3:11371
every_shard_up() { netns_exec 4 "$OKS_BIN/oksctl" stats 2>/dev/null | awk '$2=="NO"{bad=1} /^total keys/{t=1} END{exit !(t && !bad)}'; }
check "the cluster answers from h4 through the routers on h1 and h2" wait_for 60 every_shard_up
check "the gateway on h3 answers h4" wait_for 60 netns_exec 4 curl -sf -o /dev/null "$U/pks/health"
netns_exec 4 "$OKS_BIN/oksctl" import --quiet "$KR" >"$D/import.out" 2>&1
check "oksctl import from h4 through both routers" test "$(netns_exec 4 "$OKS_BIN/oksctl" stats | awk '/^total keys/{print $3}')" -gt 100

# fingerprints by shard: slot = the key ID's top bits, so a key ID starting 0-7 is s0's
mapfile -t FPRS < <(gpg --homedir "$G" --no-default-keyring --keyring "$KR" --with-colons \
  --list-keys 2>/dev/null | awk -F: '$1=="pub"{p=1} $1=="fpr"&&p{print $10; p=0}' | awk 'NR % 7 == 1')
S0=() S1=()
for f in "${FPRS[@]}"; do case ${f:24:1} in [0-7]) S0+=("$f") ;; *) S1+=("$f") ;; esac; done
echo "# ${#S0[@]} keys of s0, ${#S1[@]} keys of s1"
code() { netns_exec 4 curl -s -m 60 -o /dev/null -w '%{http_code}' "$U/pks/lookup?op=get&options=mr&search=0x$1"; }
all_200() { local f; for f in "$@"; do [ "$(code "$f")" = 200 ] || return 1; done; }
check "keys of both shards are served from h4 through the gateway" all_200 "${S0[@]}" "${S1[@]}"

# ---- router r1 killed under a lookup loop
loop() { # writes one status code per lookup to $D/loop until $D/stop exists
  local i=0
  : >"$D/loop"
  while [ ! -e "$D/stop" ]; do
    code "${FPRS[i % ${#FPRS[@]}]}" >>"$D/loop"; echo >>"$D/loop"
    i=$((i + 1))
  done
}
looked_up() { [ "$(wc -l <"$D/loop")" -ge "$1" ]; }
loop & LOOP=$!
wait_for 60 looked_up 10
# first r1 hangs (SIGSTOP: its connections stay open, its pings go unanswered), so lookups
# the gateways' DEALERs hand to it wait for the heartbeat to give up on it; then it dies
kill -STOP "$(cat "$D/r1.pid")"
wait_for 60 looked_up $(($(wc -l <"$D/loop") + 8))
kill -9 "$(cat "$D/r1.pid")"
n0=$(wc -l <"$D/loop")
wait_for 120 looked_up $((n0 + 40))
touch "$D/stop"; wait "$LOOP"; rm -f "$D/stop"
echo "# lookups: $(sort "$D/loop" | uniq -c | tr '\n' ' ')"
check "no lookup failed while router r1 was killed ($(wc -l <"$D/loop") lookups)" \
  bash -c "! grep -vx 200 '$D/loop'"
check "lookups after the kill were served by r2" test "$(wc -l <"$D/loop")" -ge $((n0 + 40))
health_is() { [ "$(netns_exec 4 curl -s -m 60 -o /dev/null -w '%{http_code}' "$U/pks/health${2:-}")" = "$1" ]; }
check "the gateway still lists every slot covered" health_is 200
resent=$(netns_exec 4 curl -s "$U/metrics" | sed -n 's/^oks_http_router_resent_total //p')
check "lookups handed to the hung router were sent again to r2 ($resent)" test "${resent:-0}" -gt 0

# ---- router r1 back, then h2's cable cut: shard s1 and router r2 fall silent
start 1 r1 "$OKS_BIN/oks-router" -c "$OKS_CONFIG"
r1_only() { sed 's|^routers = .*|routers = tcp://h1:11400|' "$OKS_CONFIG" >"$D/r1.conf"
  OKS_CONFIG=$D/r1.conf netns_exec 4 "$OKS_BIN/oksctl" stats 2>/dev/null | grep -q '^total keys'; }
check "router r1 answers again after its restart" wait_for 60 r1_only
# a lookup by fingerprint asks every shard: one handed to r2 is sent again to r1 once the
# gateway's pings to r2 go unanswered, and r1 fails s1's part once its pings to s1 do (~2 s
# each); the deadline above leaves room for both on a loaded machine
netns_link_down 2
served=0 other=""
for f in "${S0[@]}"; do c=$(code "$f"); [ "$c" = 200 ] && served=$((served + 1)) || other+=" $c"; done
check "with h2 cut off, every key of s0 is served (${#S0[@]}; other:${other:- none})" \
  test "$served" = "${#S0[@]}" -a "${#S0[@]}" -gt 0
answered=0 codes=""
for f in "${S1[@]}"; do c=$(code "$f"); codes+=" $c"; [ "$c" != 000 ] && answered=$((answered + 1)); done
check "with h2 cut off, every lookup of an s1 key gets an answer (${codes# })" \
  test "$answered" = "${#S1[@]}" -a "${#S1[@]}" -gt 0
check "... which is 503 (s1 cannot be reached)" test -z "$(tr ' ' '\n' <<<"$codes" | grep -v '^$' | grep -vx 503)"
check "liveness (/pks/health/live) is 200 with a shard host cut off" health_is 200 /live
H=$(netns_exec 4 curl -s -m 60 "$U/pks/health")
echo "# /pks/health: $H"
check "readiness (/pks/health) reports s1 down and its slots uncovered" \
  python3 -c 'import json,sys; h=json.loads(sys.argv[1]); sys.exit(not (h["live"] and not h["ready"] and h["shards_down"]==["s1"] and h["uncovered_ranges"]=="2048-4095" and h["slots_uncovered"]==2048))' "$H"
M=$(netns_exec 4 curl -s -m 60 "$U/metrics")
check "/metrics has the coverage figures" \
  bash -c 'grep -qx "oks_http_cluster_ready 0" <<<"$1" && grep -qx "oks_http_cluster_slots_uncovered 2048" <<<"$1"' _ "$M"
netns_link_up 2
check "with h2's cable back, keys of s1 are served again" wait_for 120 all_200 "${S1[@]}"
check "and readiness is 200 again" wait_for 60 health_is 200

# ---- the test network leaves nothing behind
netns_down
left=$(netns_leftovers)
check "no namespace, route or hosts file of the test network is left" test -z "$left"
[ -z "$left" ] || echo "# left: $left"
finish
