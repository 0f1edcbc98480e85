#!/usr/bin/env bash
# The sync worker's recon port under bad peers: bad lengths, an unknown type, a huge element
# count, a reply type where a request is expected, a peer that stalls, other filters, and a
# connection from an address that is not a partner. Each session ends with a logged error, the
# partner is backed off (1 s here; its connections meanwhile are refused and logged), the worker
# keeps running, and the next well-formed session (oks-sync once) reconciles normally.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
SYNC_PID=""
cleanup() {
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT

K=/usr/share/keyrings
http=$(free_port); rp=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 1 --http-port "$http" >/dev/null 2>&1 ||
  { not_ok "cluster started"; finish; }
OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" import $K/debian-role-keys.gpg >/dev/null
"$OKS_BIN/oks-sync" run -c "$D/c/oks.conf" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --partner 127.0.0.1:9 --gossip-seconds 0 --timeout 2 --backoff-seconds 1 \
  --backoff-max-seconds 1 --log "$D/sync.log" &
SYNC_PID=$!
wait_for 20 grep -q "oks-sync: tree" "$D/sync.log" || { not_ok "worker started"; finish; }

# bad CASE: connect, send a valid Config and verdict, then the bytes of CASE
bad() {
  python3 - "$rp" "$1" <<'PY'
import socket, struct, sys, time
port, case = int(sys.argv[1]), sys.argv[2]
def s(b): return struct.pack(">I", len(b)) + b
def frame(t, body=b""): return struct.pack(">I", 1 + len(body)) + bytes([t]) + body
filters = b"yminsky.dedup,yminsky.merge" if case != "filters" else b"schema:x,yminsky.merge"
cfg = struct.pack(">I", 5) + s(b"bitquantum") + s(struct.pack(">I", 2)) + s(b"filters") + s(filters) \
    + s(b"http port") + s(struct.pack(">I", 11371)) + s(b"mbar") + s(struct.pack(">I", 5)) \
    + s(b"version") + s(b"1.1.6")
payload = {
    "zero-length": struct.pack(">I", 0),
    "huge-length": struct.pack(">I", 0x7FFFFFFF) + b"\x02",
    "unknown-type": frame(42),
    "huge-count": frame(3, struct.pack(">I", 0x7FFFFFFF)),
    "wrong-type": frame(5),
    "stall": b"",
    "filters": b"",
}[case]
c = socket.create_connection(("127.0.0.1", port))
c.sendall(frame(10, cfg) + s(b"passed") + payload)
c.settimeout(10)
try:
    while c.recv(65536):
        pass
except OSError:
    pass
PY
}
for case in zero-length huge-length unknown-type huge-count wrong-type stall filters; do
  before=$(grep -c "recon with" "$D/sync.log")
  # while the partner is backed off after the previous case its connection is refused: again
  for try in $(seq 20); do
    bad "$case"
    wait_for 10 bash -c "[ \$(grep -c 'recon with' '$D/sync.log') -gt $before ] || tail -1 '$D/sync.log' | grep -q 'backed off for'" || break
    [ "$(grep -c 'recon with' "$D/sync.log")" -gt "$before" ] && break
    sleep 0.5
  done
  check "$case: session ended with a logged error ($(grep 'recon with' "$D/sync.log" | tail -1 | cut -d' ' -f5- | cut -c1-70))" \
    test "$(grep -c 'recon with' "$D/sync.log")" -gt "$before"
  check "$case: worker still running" kill -0 "$SYNC_PID"
done
# a connection from an address that is no partner's is closed without a session
python3 - "$rp" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.2", 0))
c.settimeout(10)
try:
    c.recv(1)
except OSError:
    pass
PY
check "a connection from 127.0.0.2 (not a partner) is refused and logged" \
  wait_for 10 grep -q "recon connection from 127.0.0.2 refused: not a partner" "$D/sync.log"
check "worker still running" kill -0 "$SYNC_PID"
check "the worker logged a timeout for the stalled peer" grep -q "silent" "$D/sync.log"
check "the worker refused the other filters" grep -q "filters differ" "$D/sync.log"
check "a failed round backs the partner off (logged)" \
  grep -q "partner 127.0.0.1:9 backed off for 1 s" "$D/sync.log"
sleep 1.5 # the last back-off (1 s) ends
# a well-formed session right after: the worker (requester) finds the key it lacks
"$OKS_BIN/oks-sync" once --keyring $K/debian-role-keys.gpg --keyring $K/debian-archive-bookworm-stable.gpg \
  --connect "127.0.0.1:$rp" --timeout 20 >"$D/once.out" 2>&1
check "a good session after the bad ones works (we tell the worker about 1 key)" grep -qx "sent 1" "$D/once.out"
check "nothing to fetch from the worker" grep -qx "fetch-count 0" "$D/once.out"
# the fetch itself fails (oks-sync once serves no hashquery): the round is logged as such
check "the worker learned the one hash it lacks" \
  wait_for 10 grep -q "round with 127.0.0.1:9: .*; to fetch 1 " "$D/sync.log"
finish
