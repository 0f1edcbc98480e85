#!/usr/bin/env bash
# 1A: the etcd client (lib/etcd.h) against real etcd 3.4 members started by tests/harness/etcd.sh:
# the unary calls and compare-and-swap races on one member, leases expiring, a watch seeing puts
# and deletes in order, a compacted revision, a watch resuming on another member when its member
# is killed (3 members), unreachable endpoints, a broken server (garbage, wrong shapes, huge,
# slow, endless answers), TLS with client-certificate auth (and the clients it refuses), and a
# 3-member cluster whose members each run in a network namespace of tests/harness/netns.sh.
# Driver: tests/integration/helpers/etcd_check.c (built by make into build/tests/helpers/).
set -u
. "$(dirname "$0")/lib.sh"
. "$OKS_HARNESS/etcd.sh"
. "$OKS_HARNESS/netns.sh"

CHECK=${OKS_BUILD:-$OKS_ROOT/build}/tests/helpers/etcd_check
[ -x "$CHECK" ] || { not_ok "etcd_check is built ($CHECK: run make tests)"; finish; }
command -v etcd >/dev/null || { not_ok "etcd is installed (deploy/deps.sh)"; finish; }
D=$(scratch_dir)
at_exit rm -rf "$D"

# suite NAME ARGS...: runs a TAP suite of the driver, prints its lines
suite() {
  local name=$1 out rc; shift
  out=$("$CHECK" "$@" 2>/dev/null); rc=$?
  echo "$out" | sed "s/^\(not ok\|ok\) - /\1 - $name: /"
  [ $rc -eq 0 ] && echo "$out" | grep -q '^ok' || not_ok "$name: the suite ran ($rc)"
  echo "$out" | grep -q '^not ok' && T_FAILED=1
  return 0
}
# expect_err WHAT PATTERN ARGS...: the driver fails with an error matching PATTERN
expect_err() {
  local what=$1 pat=$2 out; shift 2
  out=$(timeout 60 "$CHECK" "$@" 2>"$D/took"); local rc=$?
  if [ $rc -eq 1 ] && echo "$out" | grep -Eq "$pat"; then
    ok "$what ($(cat "$D/took"): $out)"
  else
    not_ok "$what: exit $rc, got: $out"
  fi
}
# events FILE: the watch lines without their revisions; revs FILE: strictly increasing?
events() { awk '{$NF=""; print}' "$1" | sed 's/ $//'; }
revs_increase() { awk '{ if (NR > 1 && $NF <= prev) bad = 1; prev = $NF } END { exit bad }' "$1"; }
lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# ---- one member --------------------------------------------------------------------------
mkdir -p "$D/one"
etcd_start "$D/one" || { not_ok "one etcd member starts"; finish; }
E=$ETCD_ENDPOINTS
suite basic -e "$E" basic /t/
suite lease -e "$E" lease /l/

R=$("$CHECK" -e "$E" rev 2>/dev/null)
"$CHECK" -e "$E" watch /w/ $((R + 1)) 5 >"$D/w1" 2>/dev/null &
W=$!
for c in "put /w/a 1" "put /w/b 2" "delete /w/a" "put /other x" "put /w/c 3" "put /w/b 4"; do
  "$CHECK" -e "$E" $c >/dev/null 2>&1 || not_ok "$c"
done
check "the watch ends after its 5 events" wait_for 30 gone "$W"
check "the watch sees the puts and deletes under its prefix, in order" \
  diff <(events "$D/w1") <(printf 'put /w/a 1\nput /w/b 2\ndelete /w/a\nput /w/c 3\nput /w/b 4\n')
check "the watch's revisions increase" revs_increase "$D/w1"

etcdctl_run compact "$("$CHECK" -e "$E" rev 2>/dev/null)" >/dev/null
expect_err "a watch from a compacted revision is OKS_E_STATE" "wrong state.*compacted" \
  -e "$E" watch /w/ 2 1

P1=$(free_port) P2=$(free_port)
expect_err "no endpoint reachable: OKS_E_UNAVAILABLE naming the endpoint" \
  "ERR unavailable: etcd http://127.0.0.1:$P2: connect: Connection refused \(none of 2" \
  -e "http://127.0.0.1:$P1,http://127.0.0.1:$P2" get /k
expect_err "a watch with no endpoint reachable returns OKS_E_UNAVAILABLE" "ERR unavailable" \
  -e "http://127.0.0.1:$P1,http://127.0.0.1:$P2" watch /w/ 0 1
expect_err "a dead endpoint first, a live one next: the call fails over" "^ERR not found" \
  -e "http://127.0.0.1:$P1,$E" get /nothing/here

# ---- a broken server -----------------------------------------------------------------------
FP=$(free_port)
python3 "$OKS_ROOT/tests/integration/helpers/etcd_fake.py" "$FP" &
FAKE=$!
at_exit kill "$FAKE"
F=http://127.0.0.1:$FP
wait_for 30 curl -s -o /dev/null "$F/"
expect_err "garbage answer: OKS_E_PROTO" "ERR protocol error: etcd $F/garbage: answer: not JSON" \
  -e "$F/garbage" get /k
expect_err "wrong JSON shape: OKS_E_PROTO naming the field" "ERR protocol error: etcd $F/wrong: answer: revision is not a decimal integer" \
  -e "$F/wrong" get /k
expect_err "huge answer: OKS_E_LIMIT" "ERR limit exceeded: etcd $F/huge: answer larger than 1048576 bytes" \
  -m 1048576 -e "$F/huge" list /
expect_err "no answer: bounded by the timeout" "ERR unavailable: etcd $F/slow: timeout" \
  -t 1500 -e "$F/slow" get /k
expect_err "an answer that never ends: bounded by the timeout" "ERR unavailable: .*timeout" \
  -t 1500 -e "$F/dribble" get /k
expect_err "truncated answer: an error" "ERR (protocol error|unavailable)" -e "$F/nolength" get /k
expect_err "a watch stream turning to garbage: an error" "ERR protocol error: etcd $F/watchbad: watch: answer: key is not base64" \
  -e "$F/watchbad" watch / 0 5
expect_err "a broken endpoint does not hide behind a good one: the error is returned" \
  "ERR protocol error" -e "$F/garbage,$E" get /k
etcd_stop_all

# ---- TLS with client-certificate auth ------------------------------------------------------
mkdir -p "$D/tls"
etcd_start "$D/tls" --tls || { not_ok "etcd with TLS starts"; finish; }
T=$ETCD_TLS_DIR
suite tls -e "$ETCD_ENDPOINTS" -c "$T/ca.pem" -C "$T/client.pem" -K "$T/client.key" basic /t/
out=$(timeout 60 "$CHECK" -e "$ETCD_ENDPOINTS" -c "$T/ca.pem" -C "$T/client.pem" -K "$T/client.key" \
  watch /t/ 1 2 2>/dev/null)
check "tls: a watch streams events ($(echo $out))" test "$(echo "$out" | grep -c '^put /t/')" = 2
expect_err "TLS without a client certificate is refused" "ERR unavailable: etcd https://127.0.0.1:[0-9]+: TLS: .*no client certificate given" \
  -e "$ETCD_ENDPOINTS" -c "$T/ca.pem" get /k
expect_err "TLS with the wrong CA is refused" "ERR unavailable: etcd https://127.0.0.1:[0-9]+: TLS: server certificate verification failed" \
  -e "$ETCD_ENDPOINTS" -c "$T/other-ca.pem" -C "$T/client.pem" -K "$T/client.key" get /k
expect_err "plain HTTP to a TLS member is refused" "ERR (unavailable|protocol error)" \
  -e "${ETCD_ENDPOINTS/https/http}" get /k
cp "$T/client.key" "$D/loose.key"
chmod 644 "$D/loose.key"
expect_err "a client key readable by others is refused before any connection" \
  "ERR invalid argument: .*chmod 600" \
  -e "$ETCD_ENDPOINTS" -c "$T/ca.pem" -C "$T/client.pem" -K "$D/loose.key" get /k
# the OKS role (docs/etcd.md "Access control"): auth on, user oks may read and write under /oks/
# only; a client with the CA's certificate but no user, or a wrong password, gets nothing
if etcd_auth_oks /oks/; then
  ok "auth enabled: role oks on /oks/, users root and oks"
  O=(-e "$ETCD_ENDPOINTS" -c "$T/ca.pem" -C "$T/client.pem" -K "$T/client.key")
  U=("${O[@]}" -u oks -p "$T/oks.password")
  check "user oks: a put under /oks/ is accepted and read back" \
    bash -c "'$CHECK' ${U[*]} put /oks/map x >/dev/null && '$CHECK' ${U[*]} get /oks/map | grep -q x"
  expect_err "user oks: a put outside /oks/ is refused" "ERR .*permission denied" \
    "${U[@]}" put /t/x y
  expect_err "no user (the CA's certificate only): refused" "ERR .*user name is empty" \
    "${O[@]}" get /oks/map
  echo wrong >"$D/wrong.password"; chmod 600 "$D/wrong.password"
  expect_err "a wrong password: refused" "ERR .*authentication failed" \
    "${O[@]}" -u oks -p "$D/wrong.password" put /oks/map evil
  chmod 644 "$D/wrong.password"
  expect_err "a password file readable by others is refused before any connection" \
    "ERR invalid argument: .*password file.*chmod 600" "${O[@]}" -u oks -p "$D/wrong.password" get /k
  check "the map is unchanged" bash -c "'$CHECK' ${U[*]} get /oks/map | grep -q x"
  # etcd keeps its simple tokens in memory: after a restart the client's token is refused
  # ("invalid auth token") and the client logs in again by itself
  "$CHECK" "${U[@]}" put-wait /oks/tok z "$D/restarted" >"$D/putwait" 2>&1 &
  PW=$!
  wait_for 30 grep -q '^rev=' "$D/putwait"
  etcd_restart 1 && touch "$D/restarted"
  wait "$PW"; pw=$?
  check "user oks: after an etcd restart the client gets a new token (two puts: $(grep -c '^rev=' "$D/putwait"))" \
    test "$pw" = 0 -a "$(grep -c '^rev=' "$D/putwait")" = 2
  out=$(timeout 60 "$CHECK" "${U[@]}" watch /oks/ 0 1 2>&1 & sleep 2; etcdctl_run put /oks/map y >/dev/null; wait)
  check "user oks: a watch under /oks/ streams events ($(echo $out))" bash -c "echo '$out' | grep -q '^put /oks/map'"
else
  not_ok "auth enabled: role oks on /oks/, users root and oks"
fi
etcd_stop_all

# ---- three members: a watch survives its member's death ------------------------------------
mkdir -p "$D/three"
etcd_cluster_start "$D/three" 3 || { not_ok "3 etcd members start"; finish; }
E=$ETCD_ENDPOINTS E23=${ETCD_URL[2]},${ETCD_URL[3]}
suite cluster -e "$E" basic /t/
R=$("$CHECK" -e "$E" rev 2>/dev/null)
"$CHECK" -e "$E" watch /m/ $((R + 1)) 6 >"$D/w3" 2>/dev/null &   # member 1 first: it watches there
W=$!
for i in 1 2 3; do "$CHECK" -e "$E23" put /m/k$i v$i >/dev/null 2>&1; done
check "the watch on member 1 sees the first 3 events" wait_for 30 lines "$D/w3" 3
etcd_kill 1
# member 1 may have been the leader: the others elect one (health = a quorum read) first
check "members 2 and 3 are healthy without member 1" etcd_wait_healthy
for c in "put /m/k4 v4" "put /m/k5 v5" "delete /m/k1"; do
  out=$("$CHECK" -t 20000 -e "$E23" $c 2>&1) || not_ok "$c after the kill: $out"
done
check "the watch ends after its 6 events, member 1 dead" wait_for 60 gone "$W"
check "it resumed on another member: every event once, in order" \
  diff <(events "$D/w3") <(printf 'put /m/k1 v1\nput /m/k2 v2\nput /m/k3 v3\nput /m/k4 v4\nput /m/k5 v5\ndelete /m/k1\n')
check "revisions increase across the resume" revs_increase "$D/w3"
out=$("$CHECK" -e "$E" get /m/k5 2>/dev/null)
check "a call with member 1 dead fails over ($out)" test "${out%% *}" = v5
check "member 1 restarts and rejoins" etcd_restart 1
out=$("$CHECK" -e "${ETCD_URL[1]}" get /m/k4 2>/dev/null)
check "member 1 serves what was written while it was down ($out)" test "${out%% *}" = v4
etcd_stop_all

# ---- three members, each in its own network namespace, TLS ---------------------------------
if netns_up 4; then
  mkdir -p "$D/ns"
  if etcd_cluster_start_netns "$D/ns" 3 --tls; then
    T=$ETCD_TLS_DIR
    run4() { netns_exec 4 "$CHECK" -t 20000 -e "$ETCD_ENDPOINTS" -c "$T/ca.pem" -C "$T/client.pem" -K "$T/client.key" "$@"; }
    out=$(run4 basic /t/ 2>/dev/null); rc=$?
    echo "$out" | sed 's/^\(not ok\|ok\) - /\1 - netns: /'
    [ $rc -eq 0 ] || not_ok "netns: the suite passes from host 4 ($rc)"
    netns_link_down 1
    out=$(run4 put /ns/k v 2>&1); rc=$?
    check "netns: member 1 cut off (no RST): a write fails over to another member" test $rc -eq 0
    netns_link_up 1
  else
    not_ok "netns: 3 members in namespaces start"
  fi
else
  not_ok "netns: 4 hosts are set up"
fi
finish
