#!/usr/bin/env bash
# Three replicas of every slot ([cluster] replicas = 3, so write_quorum is a majority: 2) and two
# routers (deploy/local.sh up --routers 2). Under a lookup client and an upload client on the
# HTTP gateway (helpers/http_load.py, bounded), with deploy/local.sh's fault commands:
#   1. router 0 killed (kill -9): no request fails, the gateway sends what router 0 had to
#      router 1;
#   2. shard s1 killed too (kill -9): lookups and uploads go on (two replicas of every slot
#      left, a write quorum of 2);
#   3. s1 started again, router 0 started again, router 1 killed: still no request fails.
# Afterwards every key whose upload was answered 200 is found, s1 caught up with the writes it
# missed (every replica of every slot holds the same SKS hashes), and op=stats counts every key
# once. Latency percentiles of each phase are printed, not asserted.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
K=/usr/share/keyrings
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
L() { bash "$OKS_ROOT/deploy/local.sh" "$1" --dir "$D/c" "${@:2}"; }
HTTP=$(free_port)
# a 10 s deadline: a request that waited for a dead peer until its deadline gets a 503 and
# counts as failed; one the gateway had handed to the killed router is sent to the other 100 ms
# after the gateway saw that router's connection drop (checked below by its drops counter), or
# at the latest when its try time (half the deadline) ends
cluster_up "$D/c" --shards 3 --replicas 3 --routers 2 --deadline-ms 10000 --http-port "$HTTP" \
  --http-opt cache_mb=0 --http-opt rate_verify=0 || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
read -r -a ROUTERS <<<"$(sed -n 's/^routers = //p' "$OKS_CONFIG" | tr ',' ' ')"
check "the config lists two routers (${ROUTERS[*]})" test "${#ROUTERS[@]}" -eq 2
check "both routers run" test -s "$D/c/run/router.pid" -a -s "$D/c/run/router-1.pid"

"$CTL" import --quiet --report "$D/r0" "$K/debian-maintainers.gpg" >/dev/null 2>&1
awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$D/r0" | sort -u >"$D/fprs"
check "the import stored keys ($(wc -l <"$D/fprs"))" test "$(wc -l <"$D/fprs")" -gt 200
check "the three replicas hold the same keys" wait_for 60 tool converged "$OKS_CONFIG"

# ---- the load --------------------------------------------------------------------------------
OUT=$D/load
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/http_load.py" "http://127.0.0.1:$HTTP" \
  "$D/fprs" "$K/debian-nonupload.gpg" "$OUT" "$D/stop" &
LOAD=$!
at_exit kill "$LOAD"
count() { grep -c "^$1 " "$OUT" 2>/dev/null || echo 0; }
more() { # waits until N more lookups and M more uploads than now were answered (or failed)
  local l=$(($(count lookup) + $1)) u=$(($(count upload) + $2))
  wait_for 120 bash -c "[ \$(grep -c '^lookup ' '$OUT') -ge $l ] && [ \$(grep -c '^upload ' '$OUT') -ge $u ]"
}
mark() { wc -l <"$OUT" >"$D/mark.$1"; }
more 100 20
mark 0
L kill-router 0 >/dev/null
check "router 0 killed" bash -c "! test -e '$D/c/run/router.pid'"
more 150 30
mark 1
L kill-shard s1 >/dev/null
more 150 30
mark 2
check "s1 starts again and the routers see it" L start-shard s1
check "router 0 starts again" L start-router 0
more 50 10
L kill-router 1 >/dev/null
more 150 30
mark 3
touch "$D/stop"
wait "$LOAD"

phase() { # FROM TO NAME: latency summary of the lines between two marks
  sed -n "$(($1 + 1)),$2p" "$OUT" | /usr/bin/python3 -c '
import sys
rows = [l.split() for l in sys.stdin]
for kind in ("lookup", "upload"):
    ms = sorted(float(r[2]) for r in rows if r[0] == kind)
    if ms:
        p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
        print("# %s %s: %d, p50 %.1f ms, p99 %.1f ms" % (sys.argv[1], kind, len(ms), p(.5), p(.99)))
' "$3"
}
phase 0 "$(cat "$D/mark.0")" "before"
phase "$(cat "$D/mark.0")" "$(cat "$D/mark.1")" "router 0 killed"
phase "$(cat "$D/mark.1")" "$(cat "$D/mark.2")" "router 0 and s1 killed"
phase "$(cat "$D/mark.2")" "$(cat "$D/mark.3")" "s1 back, router 1 killed"
echo "# answers: $(awk '{print $1, $2}' "$OUT" | sort | uniq -c | tr '\n' ' ')"
check "no lookup failed ($(count lookup) lookups)" bash -c "! grep '^lookup ' '$OUT' | grep -qv '^lookup 200 '"
check "no upload failed ($(count upload) uploads)" bash -c "! grep '^upload ' '$OUT' | grep -qv '^upload 200 '"
curl -s "http://127.0.0.1:$HTTP/metrics" >"$D/metrics"
resent=$(sed -n 's/^oks_http_router_resent_total //p' "$D/metrics")
drops=$(sed -n 's/^oks_http_router_drops_total //p' "$D/metrics")
echo "# requests the gateway sent again to the other router: ${resent:-none}"
# every gateway thread has a connection to each router: two kills, at least two drops seen
check "the gateway saw the killed routers' connections drop (${drops:-none})" test "${drops:-0}" -ge 2

awk '$1=="upload" && $2==200 {print $4}' "$OUT" | sort -u >"$D/acked"
check "uploads were acknowledged while s1 was down ($(wc -l <"$D/acked") keys)" \
  test "$(wc -l <"$D/acked")" -gt 20
sort -u "$D/fprs" "$D/acked" >"$D/all"
tool lookup "${ROUTERS[0]}" "$D/all" >"$D/found" 2>/dev/null
check "every acknowledged key is found ($(head -1 "$D/found"))" \
  test "$(head -1 "$D/found")" = "found $(wc -l <"$D/all") missing 0 errors 0"
check "s1 caught up: every replica of every slot holds the same SKS hashes" \
  wait_for 120 tool converged "$OKS_CONFIG"
total=$("$CTL" stats | awk '/^total keys:/{print $3}')
check "op=stats counts every key once (total $total, $(wc -l <"$D/all") keys)" \
  test "${total:-0}" -eq "$(wc -l <"$D/all")"
finish
