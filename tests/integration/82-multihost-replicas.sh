#!/usr/bin/env bash
# Replicas across hosts: [cluster] replicas = 2 over five hosts (network namespaces,
# tests/harness/netns.sh), every ZeroMQ link running CURVE:
#   h1, h2, h3: shards s1, s2, s3, each slot range on two of them (0-1364 on s1+s2, 1365-2729
#               on s2+s3, 2730-4095 on s3+s1)
#   h4: the router and the HTTP gateway          h5: every client
# Minted keys are imported first; then a lookup and an upload client (helpers/http_load.py)
# run on h5 against the gateway for the whole test, and in each scenario an import from h5
# (oksctl import, one file after the other until the scenario ends: a third of
# debian-keyring.gpg and 3000 keys of oks-bench mint) runs while:
#   1. h1 dies: every process of the host killed (kill -9); uploads and lookups go on, the
#      p99 before and while h1 is down are printed (not asserted); s1 is started again and
#      resumes following its peers from its stored cursors;
#   2. h3's cable is cut for 30 s (no RST, no FIN: packets vanish) and plugged back: every
#      lookup and upload is answered 200, and from 3 s after the cut (heartbeats notice a
#      silent shard within ~2 s) no lookup waited for s3, i.e. none took a replica's share of
#      the deadline (deadline_ms / replicas: a lookup asking a shard not known dead waits that
#      share, or up to the whole deadline when it fans out, as HKP lookups by fingerprint do);
#      lookups of the range s3 does not hold are counted apart;
#   3. s2 is stopped, its data directory wiped and s2 started again: it rebuilds itself from
#      s1 and s3 (full comparison), and meanwhile every lookup and upload is answered 200 (an
#      empty replica answers UNAVAILABLE, not NOT_FOUND, until it compared with its peers).
# After each scenario every replica of every slot holds the same SKS hashes (compared key by
# key, helpers/replica_tool.py converged) and every key acknowledged so far (import reports,
# uploads answered 200) is found. At the end nothing of the test network is left.
set -u
source "$(dirname "$0")/lib.sh"
source "$OKS_HARNESS/netns.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
netns_up 5 || { not_ok "five hosts come up"; finish; }
ok "five hosts on $NETNS_NET.0/24"
K=/usr/share/keyrings
PY=/usr/bin/python3
DEADLINE=5000
mkdir -p "$D/log" "$D/data"
cat >"$D/oks.conf" <<EOF
[cluster]
slots = 4096
replicas = 2
routers = tcp://h4:11400
[shard.s1]
endpoint = tcp://h1:11411
bind = tcp://0.0.0.0:11411
data = $D/data/s1
slots = 2730-4095,0-1364
[shard.s2]
endpoint = tcp://h2:11412
bind = tcp://0.0.0.0:11412
data = $D/data/s2
slots = 0-1364,1365-2729
[shard.s3]
endpoint = tcp://h3:11413
bind = tcp://0.0.0.0:11413
data = $D/data/s3
slots = 1365-2729,2730-4095
[router]
bind = tcp://0.0.0.0:11400
deadline_ms = $DEADLINE
[http]
listen = $(netns_ip 4):11371
cache_mb = 0
rate_verify = 0
metrics_allow = $NETNS_NET.0/24
[security]
router_key = $D/keys/router
shard_key = $D/keys/shard
http_key = $D/keys/http
admin_key = $D/keys/admin
audit_log = $D/log/audit.log
EOF
mkdir -m 700 "$D/keys"
for k in router shard http admin; do "$OKS_BIN/oksctl" keygen "$D/keys/$k" >/dev/null; done
export OKS_CONFIG=$D/oks.conf
# start HOST NAME CMD...: a daemon in a host
start() {
  local k=$1 name=$2; shift 2
  netns_bg "$k" "$@" --log "$D/log/$name.log" >>"$D/log/$name.out" 2>&1 </dev/null
  echo "$NETNS_PID" >"$D/$name.pid"
}
shard() { start "$1" "s$1" "$OKS_BIN/oks-shard" -c "$OKS_CONFIG" --name "s$1"; }
on5() { netns_exec 5 "$@"; }
tool() { on5 "$PY" "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
shard 1; shard 2; shard 3
start 4 router "$OKS_BIN/oks-router" -c "$OKS_CONFIG"
start 4 gw "$OKS_BIN/oks-gw-http" -c "$OKS_CONFIG"
U=http://h4:11371
every_shard_up() { on5 "$OKS_BIN/oksctl" stats 2>/dev/null | awk '$2=="NO"{bad=1} /^total keys/{t=1} END{exit !(t && !bad)}'; }
check "the cluster answers h5 through the router on h4" wait_for 60 every_shard_up
check "the gateway on h4 answers h5" wait_for 60 on5 curl -sf -o /dev/null "$U/pks/health"

# ---- the key material ------------------------------------------------------------------------
"$OKS_BIN/oks-bench" mint --count 2000 --seed multihost-base --uids 1-2 --out "$D/base.gpg" >/dev/null &&
  "$OKS_BIN/oks-bench" mint --count 3000 --seed multihost-up --uids 1 --out "$D/up.gpg" >/dev/null ||
  { not_ok "oks-bench mints keys"; finish; }
# debian-keyring.gpg in nine parts and 9000 minted keys in files of 1000: scenario I imports
# parts 3I..3I+2 and minted files 3I..3I+2
for i in $(seq 0 8); do tool part "$K/debian-keyring.gpg" "$D/kr.$i" "$i" 9; done
"$OKS_BIN/oks-bench" mint --count 9000 --seed multihost-import --uids 1-3 --dump-dir "$D/mint" \
  --keys-per-file 1000 >/dev/null || { not_ok "oks-bench mints keys"; finish; }
mapfile -t MINT < <(ls "$D"/mint/*.pgp)
stored() { awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$@" | sort -u; }
failed() { awk '$2=="failed"' "$@" | wc -l; }
on5 "$OKS_BIN/oksctl" import --quiet --report "$D/r.base" "$D/base.gpg" >/dev/null 2>&1
stored "$D/r.base" >"$D/fprs.base"
check "the minted keys are imported from h5 ($(wc -l <"$D/fprs.base") stored)" \
  test "$(wc -l <"$D/fprs.base")" -eq 2000

# ---- the load, on h5 for the whole test -------------------------------------------------------
OUT=$D/load
netns_bg 5 "$PY" "$OKS_ROOT/tests/integration/helpers/http_load.py" "$U" "$D/fprs.base" \
  "$D/up.gpg" "$OUT" "$D/stop" 2>"$D/load.err"
LOAD=$NETNS_PID
at_exit kill "$LOAD"
now() { date +%s.%N; }
count() { grep -c "^$1 " "$OUT" 2>/dev/null || echo 0; }
more() { # N M: waits until N more lookups and M more uploads than now were answered
  local l=$(($(count lookup) + $1)) u=$(($(count upload) + $2))
  wait_for 120 bash -c "[ \$(grep -c '^lookup ' '$OUT') -ge $l ] && [ \$(grep -c '^upload ' '$OUT') -ge $u ]"
}
# phase FROM TO NAME: count and percentiles of the requests sent between two times
phase() {
  awk -v a="$1" -v b="$2" '$5 >= a && $5 < b' "$OUT" | "$PY" -c '
import sys
rows = [l.split() for l in sys.stdin]
for kind in ("lookup", "upload"):
    ms = sorted(float(r[2]) for r in rows if r[0] == kind)
    bad = sum(1 for r in rows if r[0] == kind and r[1] != "200")
    if ms:
        p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
        print("# %s, %s: %d (%d not 200), p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (sys.argv[1], kind, len(ms), bad, p(.5), p(.99), ms[-1]))
' "$3"
}
# not200 FROM TO KIND: requests of KIND sent between two times not answered 200
not200() { awk -v a="$1" -v b="$2" -v k="$3" '$1 == k && $5 >= a && $5 < b && $2 != 200' "$OUT" | wc -l; }
inphase() { awk -v a="$1" -v b="$2" -v k="$3" '$1 == k && $5 >= a && $5 < b' "$OUT" | wc -l; }
# import_bg I: scenario I's import from h5, in the background until $D/istop exists: its keyring
# parts and minted files in turn, one oksctl import each (report $D/r.I.N, exit codes in
# $D/imp.I), starting over (keys answered "unchanged" then) when all were imported
import_bg() {
  local i=$1 f=("$D/kr.$(($1 * 3))" "${MINT[$(($1 * 3))]}" "$D/kr.$(($1 * 3 + 1))"
    "${MINT[$(($1 * 3 + 1))]}" "$D/kr.$(($1 * 3 + 2))" "${MINT[$(($1 * 3 + 2))]}")
  rm -f "$D/istop"
  netns_bg 5 bash -c 'n=0; while :; do for f in "${@:4}"; do [ -e "$3" ] && exit 0
    "$1" import --quiet --report "$2.$n" "$f" >/dev/null 2>&1; echo "$f exit $?"; n=$((n + 1)); done; done' \
    _ "$OKS_BIN/oksctl" "$D/r.$i" "$D/istop" "${f[@]}" >"$D/imp.$i" 2>&1
  IMP=$NETNS_PID
}
# import_end I WHAT: stops scenario I's import and checks it
import_end() {
  touch "$D/istop"
  wait "$IMP"
  local files=$(wc -l <"$D/imp.$1") bad=$(grep -vc ' exit 0$' "$D/imp.$1")
  check "$2: the import acknowledged every key ($files files, $(stored "$D/r.$1".* | wc -l) keys stored, $(failed "$D/r.$1".*) failed, $bad imports not exiting 0)" \
    test "$files" -gt 0 -a "$bad" -eq 0 -a "$(failed "$D/r.$1".*)" -eq 0
}
acked() { # every key acknowledged so far, to $D/acked
  { cat "$D/fprs.base"; stored "$D"/r.[0-9].*; awk '$1=="upload" && $2==200 {print $4}' "$OUT"; } |
    sort -u >"$D/acked"
}
all_found() { # NAME: every acknowledged key is found through the router
  acked
  tool lookup tcp://h4:11400 "$D/acked" >"$D/found.$1" 2>/dev/null
  check "$2: every acknowledged key is found ($(head -1 "$D/found.$1"))" \
    test "$(head -1 "$D/found.$1")" = "found $(wc -l <"$D/acked") missing 0 errors 0"
}
converged() { # WHAT
  check "$1: every replica of every slot holds the same SKS hashes" \
    wait_for 120 tool converged "$OKS_CONFIG"
  tool converged "$OKS_CONFIG" | sed 's/^/# /'
}
check "the load client runs on h5" more 50 10

# ---- 1. h1 dies --------------------------------------------------------------------------------
import_bg 0
sleep 5
T1=$(now)
netns_kill 1
sleep 6
T2=$(now)
T0=$(awk -v t="$T1" 'BEGIN{printf "%.3f", t - 5}')
phase "$T0" "$T1" "before"
phase "$T1" "$T2" "h1 down"
check "with h1 down every lookup was answered 200" test "$(not200 "$T1" "$T2" lookup)" -eq 0
check "with h1 down every upload was answered 200" test "$(not200 "$T1" "$T2" upload)" -eq 0
n=$(wc -l <"$D/log/s1.log")
shard 1
check "s1 is back and resumes from its stored cursors" \
  wait_for 60 bash -c "tail -n +$((n + 1)) '$D/log/s1.log' | grep -q 'replica: following s[23] from change [1-9]'"
import_end 0 "with h1 down and back"
converged "after h1 came back"
all_found h1 "after h1 came back"

# ---- 2. h3's cable cut for 30 s ----------------------------------------------------------------
import_bg 1
more 50 5
T3=$(now)
netns_link_down 3
sleep 30
netns_link_up 3
T4=$(now)
phase "$T3" "$T4" "h3 cut off"
SHARE=$((DEADLINE / 2))
late=$(awk -v a="$T3" -v b="$T4" -v s="$SHARE" '$1 == "lookup" && $5 >= a + 3 && $5 < b && $3 >= s' "$OUT" | wc -l)
early=$(awk -v a="$T3" 'BEGIN{m=0} $1 == "lookup" && $5 >= a && $5 < a + 3 && $3 > m {m=$3} END{print m}' "$OUT")
# the range s3 does not hold: key ID (fingerprint hex 24..31) * 4096 >> 32 < 1365
other=$(awk -v a="$T3" -v b="$T4" '$1 == "lookup" && $5 >= a && $5 < b && $2 == 200 {
  print substr($4, 25, 8) }' "$OUT" | "$PY" -c 'import sys
print(sum(1 for l in sys.stdin if int(l, 16) * 4096 >> 32 < 1365))')
echo "# the slowest lookup of the first 3 s of the cut: $early ms; lookups of $SHARE ms or more after them: $late"
check "with h3 cut off every lookup was answered 200 ($(inphase "$T3" "$T4" lookup), $other of the range s3 does not hold)" \
  test "$(not200 "$T3" "$T4" lookup)" -eq 0 -a "$(inphase "$T3" "$T4" lookup)" -gt 0 -a "$other" -gt 0
check "with h3 cut off every upload was answered 200 ($(inphase "$T3" "$T4" upload))" \
  test "$(not200 "$T3" "$T4" upload)" -eq 0 -a "$(inphase "$T3" "$T4" upload)" -gt 0
check "from 3 s after the cut no lookup waited for s3 ($late of $(inphase "$(awk -v t="$T3" 'BEGIN{printf "%.3f", t + 3}')" "$T4" lookup))" \
  test "$late" -eq 0
check "the router noticed s3 gone through its heartbeats" grep -q "shard s3 disconnected" "$D/log/router.log"
import_end 1 "with h3 cut off and back"
converged "after h3's cable was plugged back"
all_found h3 "after h3's cable was plugged back"

# ---- 3. s2's data directory wiped ---------------------------------------------------------------
import_bg 2
more 50 5
T5=$(now)
netns_kill 2 TERM
check "s2 stopped" wait_for 30 bash -c "! kill -0 $(cat "$D/s2.pid") 2>/dev/null"
rm -rf "$D/data/s2"
n=$(wc -l <"$D/log/s2.log")
shard 2
check "the wiped s2 compared itself with s1 and s3" \
  wait_for 120 bash -c "tail -n +$((n + 1)) '$D/log/s2.log' | grep -q 'repair with s1 done' &&
                        tail -n +$((n + 1)) '$D/log/s2.log' | grep -q 'repair with s3 done'"
tail -n +$((n + 1)) "$D/log/s2.log" | grep -E "repair with" | sed 's/^.*\(repair with\)/# \1/'
import_end 2 "with s2 wiped and rebuilt"
converged "s2 rebuilt"
T6=$(now)
phase "$T5" "$T6" "s2 wiped and rebuilt"
# a rebuilding replica lacks keys its peers hold: it must not answer for them "not found"
check "while s2 was rebuilt every lookup was answered 200 ($(inphase "$T5" "$T6" lookup), $(not200 "$T5" "$T6" lookup) not)" \
  test "$(not200 "$T5" "$T6" lookup)" -eq 0 -a "$(inphase "$T5" "$T6" lookup)" -gt 0
check "while s2 was rebuilt every upload was answered 200 ($(inphase "$T5" "$T6" upload))" \
  test "$(not200 "$T5" "$T6" upload)" -eq 0
touch "$D/stop"
wait_for 60 bash -c "! kill -0 $LOAD 2>/dev/null"
echo "# load answers: $(awk '{print $1, $2}' "$OUT" | sort | uniq -c | tr '\n' ' ')"
all_found end "at the end"
total=$(on5 "$OKS_BIN/oksctl" stats | awk '/^total keys:/{print $3}')
check "op=stats counts every key once (total $total, $(wc -l <"$D/acked") acknowledged)" \
  test "${total:-0}" -eq "$(wc -l <"$D/acked")"
check "no daemon died" bash -c "for n in s1 s2 s3 router gw; do kill -0 \$(cat '$D'/\$n.pid) || exit 1; done"

# ---- the test network leaves nothing behind
netns_down
left=$(netns_leftovers)
check "no namespace, route or hosts file of the test network is left" test -z "$left"
[ -z "$left" ] || echo "# left: $left"
finish
