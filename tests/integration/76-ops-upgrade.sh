#!/usr/bin/env bash
# A rolling upgrade (docs/operations.md "Upgrades"): the router of an older commit of this
# repository runs with the shards, gateway and oksctl of this tree. What the protocol rules
# (proto/oks.proto header) say works, works: imports, lookups through the HTTP gateway,
# stats. What they say does not work is refused cleanly, by the old router and by a new one:
# a request of another protocol version gets STATUS_BAD_VERSION with the receiver's version; an
# operation the old router does not know (Backup, added later) gets STATUS_BAD_REQUEST, and
# the same backup straight to the new shard works.
# The old router gets a copy of the config without the settings added after it (it refuses
# keys it does not know, naming the line). Only the router binary of the old commit is built. The old commit must be in the clone's
# history; a shallow clone that lacks it skips this test with a message.
set -u
source "$(dirname "$0")/lib.sh"
# CURVE on every link, the config format of today: the merge that brought CURVE in
OLD=6e21e3444d92c8092b0611a8063a93014a963fd1
if ! git -C "$OKS_ROOT" cat-file -e "$OLD^{commit}" 2>/dev/null; then
  echo "ok - # SKIP commit $OLD is not in this clone (shallow?): no old router to run"
  finish
fi
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
mkdir -p "$D/old"
git -C "$OKS_ROOT" archive "$OLD" | tar -x -C "$D/old"
check "the router of $OLD builds" \
  timeout 1800 make -s -C "$D/old" -j2 build/bin/oks-router >"$D/old-build.log" 2>&1
OLD_ROUTER=$D/old/build/bin/oks-router
[ -x "$OLD_ROUTER" ] || { sed 's/^/# /' "$D/old-build.log" | tail -20; finish; }

C=$D/c
HP=$(free_port)
cluster_up "$C" --shards 2 --http-port "$HP" || { not_ok "cluster starts"; finish; }
ok "cluster of this tree starts"
CONF=$C/oks.conf
export OKS_CONFIG=$CONF
U=http://127.0.0.1:$HP

# restart the router as the old one (one router: the upgrade order runs the other way, but
# the rules are the same both ways)
kill "$(cat "$C/run/router.pid")"
wait_for 60 bash -c "! kill -0 $(cat "$C/run/router.pid") 2>/dev/null"
# The old router refuses settings added after it (file:line: unknown key); as on a real host
# being upgraded, its own copy of the config leaves them out: each refused line is removed
# until the old router starts (at most 40 tries, each bounded).
OLDCONF=$D/old-router.conf
cp "$CONF" "$OLDCONF"
for _ in $(seq 40); do
  timeout 3 "$OLD_ROUTER" -c "$OLDCONF" -b tcp://127.0.0.1:$(free_port) >"$D/old-try.log" 2>&1
  line=$(sed -n 's/.*old-router\.conf:\([0-9]*\): .*unknown key.*/\1/p' "$D/old-try.log" | head -1)
  [ -n "$line" ] || break
  echo "# the old router does not know: $(sed -n "${line}p" "$OLDCONF")"
  sed -i "${line}d" "$OLDCONF"
done
check "the old router accepts its copy of the config" \
  bash -c "! grep -q 'config:' '$D/old-try.log'"
"$OLD_ROUTER" -c "$OLDCONF" --log "$C/log/router.log" >>"$C/log/router.out" 2>&1 &
echo $! >"$C/run/router.pid"
check "the old router answers with the new shards" wait_for 60 "$CTL" stats

# ---- what works: imports, lookups through the new gateway, stats
"$CTL" import --quiet "$OKS_ROOT"/tests/data/matrix-*.pgp /usr/share/keyrings/debian-role-keys.gpg \
  >"$D/import.txt" 2>&1
check "oksctl import through the old router exits 0" test $? -eq 0
F=$("$CTL" export "$D/e" >/dev/null && "$CTL" inspect "$D"/e/*.pgp 2>/dev/null | awk -F: '$1=="pub"{print $2; exit}')
check "the keys are listed through the old router" test -n "$F"
check "a lookup through the new gateway and the old router: 200" \
  wait_for 60 test "$(http_code "$U/pks/lookup?op=get&search=0x$F")" = 200
check "an upload through the new gateway and the old router: 200" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode keytext@<("$CTL" get "$F") \
    "$U/pks/add")" = 200
total=$("$CTL" stats | sed -n 's/^total keys: //p')
check "stats through the old router count the keys ($total)" test "${total:-0}" -gt 5

# ---- what does not: raw requests (the rules, not a client, are under test)
ask() { # ENDPOINT SERVER_ROLE HEX_REQUEST -> "status version error"
  /usr/bin/python3 - "$1" "$2" "$3" "$CONF" <<'PY'
import os, sys, zmq
sys.path.insert(0, os.path.join(os.environ["OKS_ROOT"], "tests/integration/helpers"))
import oks_curve
ep, role, req, conf = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
oks_curve.client(s, conf, role)
s.connect(ep)
s.send_multipart([b"\0" * 7 + b"\1", req])
if not s.poll(30000):
    print("noanswer 0 -"); sys.exit(0)
body = s.recv_multipart()[-1]
f, i = {}, 0
def varint():
    global i
    v = sh = 0
    while True:
        b = body[i]; i += 1; v |= (b & 0x7f) << sh; sh += 7
        if b < 0x80: return v
while i < len(body):
    k = varint(); no, wt = k >> 3, k & 7
    if wt == 0: f[no] = varint()
    elif wt == 2:
        n = varint(); f.setdefault(no, body[i:i + n]); i += n
    else: break
print(f.get(2, 0), f.get(1, 0), (f.get(3) or b"-").decode(errors="replace").replace(" ", "_"))
PY
}
ROUTER_EP=$(sed -n 's/^routers = //p' "$CONF" | cut -d, -f1 | tr -d ' ')
S0_EP=$(sed -n '/^\[shard.s0\]/,/^\[/s/^endpoint = //p' "$CONF")
# Request{version=1, health={}}: 08 01 | field 18 (0x92 0x01) length 0
read -r st ver err < <(ask "$ROUTER_EP" router 0801920100)
check "a version 1 request to the old router: STATUS_OK ($st)" test "$st" = 0
read -r st ver err < <(ask "$ROUTER_EP" router 0802920100)
check "a version 2 request to the old router: STATUS_BAD_VERSION (3) with its version 1 ($st $ver $err)" \
  test "$st" = 3 -a "$ver" = 1
read -r st ver err < <(ask "$S0_EP" shard 0802920100)
check "a version 2 request to a new shard: STATUS_BAD_VERSION (3) with version 1 ($st $ver)" \
  test "$st" = 3 -a "$ver" = 1
# Request{version=1, backup={}}: field 25 (0xca 0x01) length 0, unknown to the old router
read -r st ver err < <(ask "$ROUTER_EP" router 0801ca0100)
check "a Backup (an op newer than the old router) is refused: STATUS_BAD_REQUEST ($st $err)" \
  test "$st" = 2
check "  ... the old router still serves" "$CTL" get "$F"
"$CTL" backup --shard s0 --out "$D/bk" 2>"$D/bk.err"
rc=$?
check "the backup straight to the new shard works under the old router ($(cat "$D/bk.err"))" \
  test "$rc" -eq 0
finish
