#!/usr/bin/env bash
# The sync worker's partners from an SKS-format membership file: comments, a malformed line
# (logged with its line number), a connection from a non-member refused with a log line, the
# file re-read when it changes and on SIGHUP. After a session, the gateway's op=stats (JSON and
# HTML) shows the partner, when it was last synced and what the round moved. `oksctl sync
# rebuild` rebuilds the running worker's tree (and, worker stopped, a tree on disk); both equal
# the cluster's keys. A worker started while its router hangs still starts a member's session.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
SYNC_PID=""
cleanup() {
  [ -f "$D/c/run/router.pid" ] && kill -CONT "$(cat "$D/c/run/router.pid")" 2>/dev/null
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT

K=/usr/share/keyrings
http=$(free_port); rp=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 1 --http-port "$http" \
  --deadline-ms 30000 >/dev/null 2>&1 ||
  { not_ok "cluster started"; finish; }
export OKS_CONFIG=$D/c/oks.conf
"$OKS_BIN/oksctl" import $K/debian-role-keys.gpg >/dev/null
M=$D/membership
printf '%s\n' "# recon partners (SKS format)" "127.0.0.1 9   # the only partner" "" \
  "malformed-line-without-port" >"$M"
# no --state: the worker takes [sync] state from oks.conf, where the gateway reads it too
"$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --membership "$M" --gossip-seconds 0 --timeout 2 --log "$D/sync.log" &
SYNC_PID=$!
wait_for 20 grep -q "oks-sync: tree" "$D/sync.log" || { not_ok "worker started"; finish; }
check "membership read: 1 partner, 1 malformed line" \
  grep -q "membership: 1 partners ($M), 1 malformed lines" "$D/sync.log"
check "the malformed line is logged with its number" \
  grep -q "membership $M line 4: malformed entry skipped" "$D/sync.log"

from() { # connect to the recon port from address $1, send nothing, wait for the close
  python3 - "$rp" "$1" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=(sys.argv[2], 0))
c.settimeout(10)
try:
    c.recv(1)
except OSError:
    pass
PY
}
refusals() { test "$(grep -c "recon connection from 127.0.0.2 refused: not a partner" "$D/sync.log")" = "$1"; }
sessions() { test "$(grep -c "recon with 127.0.0.2:11370:" "$D/sync.log")" = "$1"; }
from 127.0.0.2
check "a connection from 127.0.0.2 (not a member) is refused with a log line" \
  wait_for 10 refusals 1
# the file changes: 127.0.0.2 becomes a member and its connection starts a session
cp "$M" "$M.new"; echo "127.0.0.2 11370" >>"$M.new"; mv "$M.new" "$M"
from 127.0.0.2
check "after the file changed, 127.0.0.2 is accepted (a session starts)" \
  wait_for 10 sessions 1
check "the reload was logged" grep -q "membership: 2 partners" "$D/sync.log"
# rewritten in place, same size and modification time: only SIGHUP makes the worker notice
stamp=$D/stamp; touch -r "$M" "$stamp"
python3 - "$M" <<'PY'
import sys
p = sys.argv[1]; t = open(p).read()
with open(p, "r+") as f: f.write(t.replace("127.0.0.2 11370", "#27.0.0.2 11370"))
PY
touch -r "$stamp" "$M"
kill -HUP "$SYNC_PID"
check "SIGHUP is logged" wait_for 10 grep -q "SIGHUP: reloading the membership" "$D/sync.log"
from 127.0.0.2
check "after SIGHUP, 127.0.0.2 is refused again" wait_for 10 refusals 2
check "worker still running" kill -0 "$SYNC_PID"

# a session with the member 127.0.0.1: the worker learns the one hash it lacks
"$OKS_BIN/oks-sync" once --keyring $K/debian-role-keys.gpg --keyring $K/debian-archive-bookworm-stable.gpg \
  --connect "127.0.0.1:$rp" --timeout 20 >"$D/once.out" 2>&1
check "a session with the member works" grep -qx "sent 1" "$D/once.out"
wait_for 10 grep -q "round with 127.0.0.1:9: .*; to fetch 1 " "$D/sync.log"
curl -s "http://127.0.0.1:$http/pks/lookup?op=stats&options=mr" >"$D/stats.json"
check "op=stats (JSON) lists the partner with its last round (1 hash to fetch)" python3 - "$D/stats.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["sync"]
p = {x["name"]: x for x in j["partners"]}
a = p["127.0.0.1:9"]
assert a["rounds"] >= 1 and a["fetch"] == 1 and a["last_result"] == "failed", a  # no hashquery on the peer
assert "127.0.0.2:11370" not in p
assert j["rounds"][0]["partner"] == "127.0.0.1:9" and j["rounds"][0]["fetch"] == 1
assert j["tree"] >= 1 and j["members"] == 1
PY
curl -s "http://127.0.0.1:$http/pks/lookup?op=stats" >"$D/stats.html"
check "op=stats (HTML) shows the partners table" grep -q "<td>127.0.0.1:9</td>" "$D/stats.html"
check "op=stats (HTML) shows the recent rounds" grep -q ">Recent rounds</caption>" "$D/stats.html"

keys=$("$OKS_BIN/oksctl" stats | awk '/^total keys/{print $3}')
"$OKS_BIN/oksctl" sync rebuild >"$D/rebuild.out" 2>&1
check "oksctl sync rebuild: the running worker rebuilt its tree ($keys keys)" \
  grep -q "tree rebuilt by the running sync worker (pid $SYNC_PID): $keys hashes" "$D/rebuild.out"
check "oksctl sync status shows the rebuild" bash -c "'$OKS_BIN/oksctl' sync status | grep -q ' rebuilds=1$'"
kill "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""
"$OKS_BIN/oksctl" sync rebuild --tree "$D/tree" >"$D/rebuild2.out" 2>&1
check "oksctl sync rebuild, worker stopped, rebuilds the tree on disk" \
  grep -q "rebuilt (sync worker not running)" "$D/rebuild2.out"
check "the rebuilt tree holds one hash per key ($keys)" \
  test "$("$OKS_BIN/oks-sync" dump --tree "$D/tree" | wc -l)" = "$keys"
"$OKS_BIN/oksctl" sync rebuild >"$D/rebuild3.out" 2>&1
check "oksctl sync rebuild without --tree, worker stopped, rebuilds [sync] tree of oks.conf" \
  grep -q "tree $D/c/data/sync rebuilt (sync worker not running)" "$D/rebuild3.out"
check "that tree holds one hash per key too" \
  test "$("$OKS_BIN/oks-sync" dump --tree "$D/c/data/sync" | wc -l)" = "$keys"
# A worker started while its router hangs (SIGSTOP: the TCP connection is accepted by the kernel,
# the ZeroMQ handshake never answered, so a blocking change-log request waits the whole 30 s
# deadline, were it sent): its loop still serves a member's session at once, without first
# catching up with the change log. (A wait on a router hung after the connection was made is cut
# to about 2 s by the client's heartbeats, and an unconnected router fails a send at once, so this
# checks the start, not every turn of the loop.)
cp "$M" "$M.new"; echo "127.0.0.3 11370" >>"$M.new"; mv "$M.new" "$M"
router=$(cat "$D/c/run/router.pid")
kill -STOP "$router"
"$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --membership "$M" --gossip-seconds 0 --timeout 2 --log "$D/sync2.log" &
SYNC_PID=$!
wait_for 20 grep -q "oks-sync: tree" "$D/sync2.log" || not_ok "worker started with the router stopped"
from 127.0.0.3 & FROM_PID=$!
check "router stopped: a member's session starts anyway (the loop does not wait for the router)" \
  wait_for 10 grep -q "recon with 127.0.0.3:11370:" "$D/sync2.log"
kill -CONT "$router"
wait "$FROM_PID"
kill "$SYNC_PID" 2>/dev/null; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""
finish
