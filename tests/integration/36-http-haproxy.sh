#!/usr/bin/env bash
# Two oks-gw-http processes behind haproxy (deploy/haproxy.cfg.example): lookups keep running
# while one gateway is killed; once haproxy has marked it down, no request fails.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() {
  [ -f "$D/haproxy.pid" ] && kill "$(cat "$D/haproxy.pid")" 2>/dev/null
  [ -n "${GW2:-}" ] && kill "$GW2" 2>/dev/null
  [ -n "${load:-}" ] && kill "$load" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"
}
trap cleanup EXIT
P1=$(free_port); P2=$(free_port); HP=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 --http-port "$P1" >/dev/null ||
  { not_ok "cluster starts"; finish; }
OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-role-keys.gpg >/dev/null
"$OKS_BIN/oks-gw-http" -c "$D/c/oks.conf" --listen "127.0.0.1:$P2" --log "$D/gw2.log" &
GW2=$!
wait_for 60 curl -sf "http://127.0.0.1:$P2/pks/health"
sed -e "s|@DEPLOY@|$OKS_ROOT/deploy|g" -e "s|127.0.0.1:11371|127.0.0.1:$HP|" \
    -e "s|127.0.0.1:11381|127.0.0.1:$P1|" -e "s|127.0.0.1:11382|127.0.0.1:$P2|" \
    -e "s|^global\$|global\n    stats socket $D/haproxy.sock|" \
    "$OKS_ROOT/deploy/haproxy.cfg.example" >"$D/haproxy.cfg"
haproxy -f "$D/haproxy.cfg" -D -p "$D/haproxy.pid" || { not_ok "haproxy starts"; finish; }
check "haproxy serves through both gateways" wait_for 60 curl -sf "http://127.0.0.1:$HP/pks/health"
FPR=$(OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" inspect --json /usr/share/keyrings/debian-role-keys.gpg |
      head -1 | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["fingerprint"])')
# load: sequential lookups until $D/stop exists, each line "phase status", the phase being the
# one the script had set when the request started: before (both gateways up), killed (one was
# killed, haproxy has not yet marked it down), down (haproxy has marked it down)
phase() { echo "$1" >"$D/phase.new" && mv "$D/phase.new" "$D/phase"; }
phase before
/usr/bin/python3 - "$HP" "$FPR" "$D" >"$D/load.txt" <<'PY' &
import os, sys, http.client
port, fpr, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
while not os.path.exists(f"{d}/stop"):
    phase = open(f"{d}/phase").read().strip()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", f"/pks/lookup?op=get&options=mr&search=0x{fpr}")
        st = c.getresponse().status
        c.close()
    except Exception:
        st = 0
    print(f"{phase} {st}", flush=True)
PY
load=$!
at_least() { [ "$(grep -c "^$1 " "$D/load.txt")" -ge "$2" ]; }
# haproxy's view of gw1 through its admin socket (added to the example's config above)
gw1_down() {
  /usr/bin/python3 - "$D/haproxy.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
rows = [l.split(",") for l in out.decode().splitlines() if l.startswith("gateways,gw1,")]
sys.exit(0 if rows and rows[0][17].startswith("DOWN") else 1)
PY
}
# traffic through both gateways before the kill (round robin: 10 requests reach both)
wait_for 120 at_least before 10
phase killed
wait_for 60 at_least killed 1   # every request of phase "before" has been answered
kill -9 "$(cat "$D/c/run/gw-http.pid")"
check "haproxy marks the killed gateway down" wait_for 60 gw1_down
phase down
wait_for 120 at_least down 20
touch "$D/stop"
wait $load
/usr/bin/python3 - "$D/load.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
before = [r for r in rows if r[0] == "before"]
during = [r for r in rows if r[0] == "killed"]
after = [r for r in rows if r[0] == "down"]
print(f"# {len(rows)} requests; {sum(r[1] != '200' for r in during)} of {len(during)} failed while haproxy noticed")
print(("ok" if before and all(r[1] == "200" for r in before) else "not ok") + f" - all {len(before)} requests before the kill succeed")
print(("ok" if len(after) >= 20 and all(r[1] == "200" for r in after) else "not ok") + f" - all {len(after)} requests after haproxy marked the gateway down succeed")
print(("ok" if all(r[1] not in ("502",) for r in rows) else "not ok") + " - no request ever got a 502")
PY
# one shard down: the liveness check keeps the gateway in the pool (readiness would drain it)
kill -9 "$(cat "$D/c/run/shard-s1.pid")"
health_503() { [ "$(http_code "http://127.0.0.1:$P2/pks/health")" = 503 ]; }
live_ok() { curl -s "http://127.0.0.1:$P2/metrics" |
  sed -n 's/^oks_http_requests_total{op="health",status="2xx"} //p'; }
wait_for 60 health_503
n=$(live_ok)
more_live_ok() { [ "$(live_ok)" -ge "$1" ]; }
check "with shard s1 down, haproxy's liveness checks of gw2 still pass" wait_for 60 more_live_ok $((n + 3))
check "... and haproxy still serves through gw2" \
  test "$(http_code "http://127.0.0.1:$HP/pks/health/live")" = 200
finish
