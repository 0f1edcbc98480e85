#!/usr/bin/env bash
# Slot moves with a three-member etcd on loopback: one member (the first endpoint every client
# tries) is killed (kill -9) while add-shard moves slots; the moves finish on the two members
# left (etcd keeps its quorum, the clients fail over to the next endpoint), no move is left
# half done, every key is found, the replicas of every slot hold the same SKS hashes and no shard
# keeps keys of slots it left. A move whose new replica stops answering during the copy gives up
# after --wait seconds without a slot becoming equal (unit test tests/unit/oksctl/
# test_copy_watch.c: a copy that progresses goes on however long it takes), and --resume
# finishes it.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
K=/usr/share/keyrings
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
L() { bash "$OKS_ROOT/deploy/local.sh" "$1" --dir "$D/c" "${@:2}"; }
[ -x /usr/bin/etcd ] || { not_ok "etcd is installed (deploy/deps.sh)"; finish; }

# ---- three etcd members on 127.0.0.1 ----------------------------------------------------------------
CL=() PE=() PIDS=()
for i in 0 1 2; do CL[i]=http://127.0.0.1:$(free_port); PE[i]=http://127.0.0.1:$(free_port); done
INIT="e0=${PE[0]},e1=${PE[1]},e2=${PE[2]}"
for i in 0 1 2; do
  /usr/bin/etcd --name "e$i" --data-dir "$D/etcd$i" --listen-client-urls "${CL[i]}" \
    --advertise-client-urls "${CL[i]}" --listen-peer-urls "${PE[i]}" \
    --initial-advertise-peer-urls "${PE[i]}" --initial-cluster "$INIT" \
    --initial-cluster-state new --logger zap --log-outputs stderr >"$D/etcd$i.log" 2>&1 &
  PIDS[i]=$!
  at_exit kill -9 "${PIDS[i]}"
done
ENDPOINTS="${CL[0]},${CL[1]},${CL[2]}"
check "the three etcd members are healthy" wait_for 60 bash -c \
  "ETCDCTL_API=3 /usr/bin/etcdctl --endpoints '$ENDPOINTS' endpoint health >/dev/null 2>&1"

cluster_up "$D/c" --shards 2 --replicas 2 --etcd-endpoints "$ENDPOINTS" --deadline-ms 20000 ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
ROUTER=$(sed -n 's/^routers = //p' "$OKS_CONFIG")
"$CTL" import --quiet --report "$D/r0" "$K/debian-maintainers.gpg" >/dev/null 2>&1
awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$D/r0" | sort -u >"$D/fprs"
check "the import stored keys ($(wc -l <"$D/fprs"))" test "$(wc -l <"$D/fprs")" -gt 200

# ---- the first member killed during a move ---------------------------------------------------------
L add-shard >"$D/add" 2>&1 &
ADD=$!
at_exit kill "$ADD"
check "a move started" wait_for 60 grep -q ' copy$' "$D/add"
kill -9 "${PIDS[0]}"
wait "$ADD"
rc=$?
sed 's/^/# /' "$D/add" | tail -4
check "add-shard finished its moves with etcd member e0 killed (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^shard s2 added' '$D/add'"
"$CTL" map show >"$D/map.conf" 2>"$D/map.err"
check "the map reads from the members left, no move under way" \
  bash -c "grep -q '^epoch = ' '$D/map.conf' && ! grep -q 'slot move under way' '$D/map.conf'"
grep -v '^; slot move' "$D/map.conf" >"$D/map2.conf"
tool lookup "$ROUTER" "$D/fprs" >"$D/found" 2>/dev/null
check "every key is found ($(head -1 "$D/found"))" \
  test "$(head -1 "$D/found")" = "found $(wc -l <"$D/fprs") missing 0 errors 0"
check "every replica of every slot holds the same SKS hashes" wait_for 60 tool converged "$D/map2.conf"
check "no shard keeps keys of slots it left (purged)" wait_for 60 tool placed "$D/map2.conf"
total=$("$CTL" stats | awk '/^total keys:/{print $3}')
check "stats count every key once ($total)" test "${total:-0}" -eq "$(wc -l <"$D/fprs")"

# ---- --wait bounds a copy's stall, not its length ----------------------------------------------------
# the longest run of slots s2 does not hold, and the first of their holders
read -r A B FROM < <(tool free_run "$D/map2.conf" s2)
S2=$(cat "$D/c/run/shard-s2.pid")
at_exit kill -CONT "$S2"
"$CTL" slots --wait 2 move "$A-$B" --to s2 --from "$FROM" >"$D/stall" 2>&1 &
MV=$!
wait_for 60 grep -q ' copy$' "$D/stall"
kill -STOP "$S2"
wait "$MV"
rc=$?
kill -CONT "$S2"
sed 's/^/# /' "$D/stall" | tail -2
check "a move to s2 (slots $A-$B from $FROM), s2 stopped during the copy: given up after --wait 2 s without progress (exit $rc)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'no slot became equal in 2 s' '$D/stall'"
t0=$(date +%s%N)
"$CTL" slots --wait 2 move --resume >"$D/resume" 2>&1
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
sed 's/^/# /' "$D/resume" | tail -2
check "  ... move --resume finished it once s2 ran again (exit $rc, $ms ms)" \
  bash -c "[ $rc -eq 0 ] && grep -q 'epoch [0-9]* done' '$D/resume' &&
           ! '$CTL' map show | grep -q 'slot move under way'"
"$CTL" map show | grep -v '^; slot move' >"$D/map3.conf"
tool lookup "$ROUTER" "$D/fprs" >"$D/found3" 2>/dev/null
check "  ... every key is found ($(head -1 "$D/found3"))" \
  test "$(head -1 "$D/found3")" = "found $(wc -l <"$D/fprs") missing 0 errors 0"
check "  ... every replica of every slot holds the same SKS hashes" wait_for 60 tool converged "$D/map3.conf"
finish
