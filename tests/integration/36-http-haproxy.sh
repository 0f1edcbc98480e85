#!/usr/bin/env bash
# Two oks-gw-http processes behind haproxy (deploy/haproxy.cfg.example): lookups keep running
# while one gateway is killed; once haproxy has marked it down, no request fails.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() {
  [ -f "$D/haproxy.pid" ] && kill "$(cat "$D/haproxy.pid")" 2>/dev/null
  [ -n "${GW2:-}" ] && kill "$GW2" 2>/dev/null
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"
}
trap cleanup EXIT
P1=$(free_port); P2=$(free_port); HP=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 --http-port "$P1" >/dev/null ||
  { not_ok "cluster starts"; finish; }
OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-role-keys.gpg >/dev/null
"$OKS_BIN/oks-gw-http" -c "$D/c/oks.conf" --listen "127.0.0.1:$P2" --log "$D/gw2.log" &
GW2=$!
wait_for 10 curl -sf "http://127.0.0.1:$P2/pks/health"
sed -e "s|@DEPLOY@|$OKS_ROOT/deploy|g" -e "s|127.0.0.1:11371|127.0.0.1:$HP|" \
    -e "s|127.0.0.1:11381|127.0.0.1:$P1|" -e "s|127.0.0.1:11382|127.0.0.1:$P2|" \
    "$OKS_ROOT/deploy/haproxy.cfg.example" >"$D/haproxy.cfg"
haproxy -f "$D/haproxy.cfg" -D -p "$D/haproxy.pid" || { not_ok "haproxy starts"; finish; }
check "haproxy serves through both gateways" wait_for 10 curl -sf "http://127.0.0.1:$HP/pks/health"
FPR=$(OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" inspect --json /usr/share/keyrings/debian-role-keys.gpg |
      head -1 | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["fingerprint"])')
# load: sequential lookups for 6 s, each line "seconds status"
/usr/bin/python3 - "$HP" "$FPR" >"$D/load.txt" <<'PY' &
import sys, time, http.client
port, fpr = int(sys.argv[1]), sys.argv[2]
t0 = time.time()
while time.time() - t0 < 6:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", f"/pks/lookup?op=get&options=mr&search=0x{fpr}")
        st = c.getresponse().status
        c.close()
    except Exception:
        st = 0
    print(f"{time.time() - t0:.3f} {st}", flush=True)
PY
load=$!
wait_for 10 grep -q ' 200' "$D/load.txt"
sleep 1.5   # traffic through both gateways before the kill: the point of the test
kill -9 "$(cat "$D/c/run/gw-http.pid")"
killed_at=$(tail -1 "$D/load.txt" | cut -d' ' -f1)
wait $load
/usr/bin/python3 - "$D/load.txt" "$killed_at" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
k = float(sys.argv[2])
before = [r for r in rows if float(r[0]) < k]
after = [r for r in rows if float(r[0]) > k + 1.0]  # haproxy: 2 failed checks 200 ms apart
during = [r for r in rows if k <= float(r[0]) <= k + 1.0]
print(f"# {len(rows)} requests; gateway killed at {k:.2f}s; {sum(r[1] != '200' for r in during)} failed while haproxy noticed")
print(("ok" if before and all(r[1] == "200" for r in before) else "not ok") + f" - all {len(before)} requests before the kill succeed")
print(("ok" if after and all(r[1] == "200" for r in after) else "not ok") + f" - all {len(after)} requests after haproxy marked the gateway down succeed")
print(("ok" if all(r[1] not in ("502",) for r in rows) else "not ok") + " - no request ever got a 502")
PY
finish
