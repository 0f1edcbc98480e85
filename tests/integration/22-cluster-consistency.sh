#!/usr/bin/env bash
# Consistency of the cluster: concurrent adds of pieces of the same keys never lose an update
# (the stored key is the union, hashing like the whole key); two routers side by side serve the
# same shards; a router with a different slot map is refused by the shards (stale map detected);
# a shard refuses a key of a slot it does not own; a shard that is down fails only its slots and
# comes back by itself.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"
}
trap cleanup EXIT
CTL=$OKS_BIN/oksctl
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 >/dev/null || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf

# ---- pieces of the same keys added concurrently -----------------------------------------------
# The first 3 keys of debian-keyring.gpg with >= 3 user IDs and >= 2 subkeys are cut into one piece
# per user ID and per subkey (primary key + direct signatures + that component + its signatures).
mkdir -p "$D/pieces"
/usr/bin/python3 - /usr/share/keyrings/debian-keyring.gpg "$D/pieces" >"$D/fprs" <<'PY'
import sys, hashlib
data = open(sys.argv[1], 'rb').read()
def packets(b):
    o = 0
    while o < len(b):
        h = b[o]
        if h & 0x40:
            tag, l1 = h & 0x3f, b[o + 1]
            if l1 < 192: hl, n = 2, l1
            elif l1 < 224: hl, n = 3, ((l1 - 192) << 8) + b[o + 2] + 192
            else: hl, n = 6, int.from_bytes(b[o + 2:o + 6], 'big')
        else:
            tag, lt = (h >> 2) & 15, h & 3
            hl = {0: 2, 1: 3, 2: 5}[lt]
            n = int.from_bytes(b[o + 1:o + hl], 'big')
        yield tag, b[o:o + hl + n], b[o + hl:o + hl + n]
        o += hl + n
keys, cur = [], None
for tag, raw, body in packets(data):
    if tag == 6:
        cur = [[raw, body]]; keys.append(cur)
    elif tag in (13, 14, 17):
        cur.append([tag, raw])
    else:
        cur[-1].append(raw) if len(cur) > 1 else cur[0].append(raw)
done = 0
for k in keys:
    head, comps = k[0], k[1:]
    uids = [c for c in comps if c[0] == 13]
    subs = [c for c in comps if c[0] == 14]
    body = head[1]
    if body[0] != 4 or len(uids) < 3 or len(subs) < 2:
        continue
    fpr = hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper()
    primary = head[0] + b''.join(head[2:])
    open(f"{sys.argv[2]}/{fpr}.whole", 'wb').write(primary + b''.join(b''.join(c[1:]) for c in comps))
    for i, c in enumerate(comps):
        open(f"{sys.argv[2]}/{fpr}.{i:03d}", 'wb').write(primary + b''.join(c[1:]))
    print(fpr)
    done += 1
    if done == 3:
        break
PY
npieces=$(ls "$D/pieces" | grep -vc whole)
check "3 keys cut into $npieces pieces" test "$(wc -l <"$D/fprs")" -eq 3
# A piece is a key on its own only if its component carries a valid self-signature (a user ID or
# subkey bound only by a revocation is not); those go in afterwards, onto the stored key.
later=()
for f in "$D"/pieces/*.[0-9]*; do
  "$CTL" inspect "$f" >/dev/null 2>&1 || later+=("$f")
done
# every standalone piece in its own oksctl process, all at once
for f in "$D"/pieces/*.[0-9]*; do
  case " ${later[*]} " in *" $f "*) continue ;; esac
  "$CTL" import --quiet "$f" >"$f.out" 2>&1 &
done
wait
bad=$(grep -L " 0 rejected, 0 failed" "$D"/pieces/*.out | wc -l)
for f in $(grep -L " 0 rejected, 0 failed" "$D"/pieces/*.out); do sed "s/^/# ${f##*/}: /" "$f"; done
check "all $((npieces - ${#later[@]})) concurrent imports got an answer, nothing rejected ($bad not)" test "$bad" -eq 0
if [ ${#later[@]} -gt 0 ]; then
  "$CTL" import --quiet "${later[@]}" >"$D/later.out" 2>&1
  sed 's/^/# later pieces: /' "$D/later.out"
  check "the ${#later[@]} pieces that are not keys on their own merge into the stored keys" \
    grep -q " 0 rejected, 0 failed" "$D/later.out"
fi
while read -r fpr; do
  "$CTL" get --binary "$fpr" >"$D/$fpr.stored" 2>/dev/null
  "$CTL" inspect --json "$D/$fpr.stored" >"$D/$fpr.stored.json" 2>/dev/null
  "$CTL" inspect --json "$D/pieces/$fpr.whole" >"$D/$fpr.whole.json" 2>/dev/null
  /usr/bin/python3 - "$D/$fpr.stored.json" "$D/$fpr.whole.json" "$fpr" <<'PY'
import json, sys
try:
    s = json.loads(open(sys.argv[1]).readline()); w = json.loads(open(sys.argv[2]).readline())
except Exception:
    print(f"not ok - {sys.argv[3]}: stored key missing or unreadable"); sys.exit()
same = set(s["uids"]) == set(w["uids"]) and \
    {k["fingerprint"] for k in s["subkeys"]} == {k["fingerprint"] for k in w["subkeys"]}
print(("ok" if same else "not ok") + f" - {sys.argv[3][:16]}: the stored key holds every user ID and subkey of all pieces ({len(s['uids'])}/{len(w['uids'])} user IDs, {len(s['subkeys'])}/{len(w['subkeys'])} subkeys)")
print(("ok" if s["sks_hash"] == w["sks_hash"] else "not ok") + f" - {sys.argv[3][:16]}: the merged pieces hash like the whole key")
PY
done <"$D/fprs"

# ---- a second router side by side ---------------------------------------------------------------
FPR=$(head -1 "$D/fprs")
P2=$(free_port)
sed "s|^routers = .*|routers = tcp://127.0.0.1:$P2|" "$OKS_CONFIG" >"$D/oks2.conf"
"$OKS_BIN/oks-router" -c "$D/oks2.conf" --metrics-listen off --log "$D/router2.log" &
PIDS+=($!)
check "the second router serves the same keys" wait_for 10 "$CTL" get -c "$D/oks2.conf" --mr "$FPR" 2>/dev/null
"$CTL" get -c "$D/oks2.conf" --mr "$FPR" >"$D/r2.txt" 2>/dev/null
"$CTL" get --mr "$FPR" >"$D/r1.txt" 2>/dev/null
check "both routers give the same answer" cmp -s "$D/r1.txt" "$D/r2.txt"
check "answers are not empty" grep -q "^pub:$FPR:" "$D/r1.txt"

# ---- a router with a different slot map -----------------------------------------------------
P3=$(free_port)
sed -e "s|^routers = .*|routers = tcp://127.0.0.1:$P3|" \
    -e '/^\[shard.s0\]/,/^\[/s/^slots = .*/slots = 0-1023/' \
    -e '/^\[shard.s1\]/,/^\[/s/^slots = .*/slots = 1024-4095/' "$OKS_CONFIG" >"$D/stale.conf"
"$OKS_BIN/oks-router" -c "$D/stale.conf" --metrics-listen off --log "$D/router3.log" &
PIDS+=($!)
wait_for 10 bash -c "'$CTL' get -c '$D/stale.conf' --mr '$FPR' 2>&1 | grep -qi 'slot map\|WRONG_SHARD'"
"$CTL" get -c "$D/stale.conf" --mr "$FPR" >"$D/stale.out" 2>&1
rc=$?
sed 's/^/# /' "$D/stale.out" | head -3
check "a router with another slot map gets an error, not a key (exit $rc)" \
  bash -c "[ $rc -ne 0 ] && ! grep -q '^pub:' '$D/stale.out'"
check "the error says the slot maps differ" grep -qi 'slot map' "$D/stale.out"

# ---- a shard refuses a key of a slot it does not own --------------------------------------------
# the first test key goes straight to the shard that does NOT own its slot
/usr/bin/python3 - "$OKS_CONFIG" "$D/pieces" "$FPR" <<'PY'
import os, sys, zmq, struct, re
sys.path.insert(0, os.path.join(os.environ["OKS_ROOT"], "tests/integration/helpers"))
import oks_curve  # every link runs CURVE: the admin's key, which shards answer directly
conf, d, fpr = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
shards = re.findall(r"\[shard\.(\w+)\]\nendpoint = (\S+)\ndata = \S+\nslots = (\d+)-(\d+)", conf)
slot = (int(fpr[-16:][:8], 16) * 4096) >> 32
other = [(n, ep) for n, ep, lo, hi in shards if not (int(lo) <= slot <= int(hi))]
if len(shards) != 2 or len(other) != 1:
    print(f"not ok - config has 2 shards, one not owning slot {slot}"); sys.exit()
def varint(n):
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
key = open(f"{d}/{fpr}.whole", 'rb').read()
add = b"\x0a" + varint(len(key)) + key
# slot = -1 (field 4, int32 varint): not a single-slot request, so the per-key check decides
req = b"\x08\x01" + b"\x20" + b"\xff" * 9 + b"\x01" + b"\x6a" + varint(len(add)) + add
s = zmq.Context().socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0)
oks_curve.client(s, sys.argv[1], "shard"); s.connect(other[0][1])
s.send_multipart([struct.pack("<Q", 1), req])
r = s.recv_multipart() if s.poll(10000) else None
ok = r is not None and b"is not owned by shard" in r[-1]
ok or print(f"# {fpr}: reply {r[-1][:200] if r else None}"); # a direct request that names no slot (health) is not mistaken for one of slot 0
no0 = [(n, ep) for n, ep, lo, hi in shards if int(lo) > 0][0]
t = zmq.Context().socket(zmq.DEALER); t.setsockopt(zmq.LINGER, 0)
oks_curve.client(t, sys.argv[1], "shard"); t.connect(no0[1])
t.send_multipart([struct.pack("<Q", 2), b"\x08\x01\x92\x01\x00"])
h = t.recv_multipart() if t.poll(10000) else None
print(("ok" if h is not None and b"\x10" not in h[-1][:4] else "not ok") + f" - shard {no0[0]} (not owning slot 0) answers a direct health request naming no slot")
print(("ok" if ok else "not ok") + f" - shard {other[0][0]} refuses a key of slot {slot} (not its own) with a reason")
PY
# ---- a shard that is down fails only its slots, and comes back without touching the router ----
"$CTL" import --quiet /usr/share/keyrings/debian-archive-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg >/dev/null 2>&1
"$CTL" inspect --no-verify --json /usr/share/keyrings/debian-archive-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg 2>/dev/null |
  /usr/bin/python3 -c '
import json, re, sys
conf = open(sys.argv[1]).read()
lo1 = int(re.search(r"\[shard\.s1\][^[]*?slots = (\d+)-", conf).group(1))
best = {}
for l in sys.stdin:
    f = json.loads(l)["fingerprint"]
    if len(f) != 40: continue
    s = "s1" if ((int(f[-16:][:8], 16) * 4096) >> 32) >= lo1 else "s0"
    best.setdefault(s, f)
print(best.get("s0", ""), best.get("s1", ""))' "$OKS_CONFIG" >"$D/pair"
read -r K0 K1 <"$D/pair"
if [ -z "$K0" ] || [ -z "$K1" ]; then
  not_ok "found a key on each shard for the outage check"
else
  router_pid=$(cat "$D/run/router.pid")
  kill -9 "$(cat "$D/run/shard-s1.pid")"
  wait_for 10 bash -c "! '$CTL' get --mr '$K1' >/dev/null 2>&1"
  check "with s1 down, a key of s0 is still served" "$CTL" get --mr "$K0"
  "$CTL" get --mr "$K1" >"$D/down.out" 2>&1; rc=$?
  sed 's/^/# /' "$D/down.out"
  check "with s1 down, a key of s1 fails (exit $rc) with an error naming s1" \
    bash -c "[ $rc -ne 0 ] && grep -q 's1' '$D/down.out' && grep -qi 'unavailable' '$D/down.out'"
  "$CTL" search debian >"$D/partial.out" 2>"$D/partial.err"
  sed 's/^/# /' "$D/partial.err"
  check "with s1 down, a search answers from s0 and says the result is partial" \
    bash -c "grep -q '^pub:' '$D/partial.out' && grep -q 'PARTIAL' '$D/partial.err' && grep -q 's1' '$D/partial.err'"
  bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" >/dev/null
  check "after s1 restarts, its key is served again through the same router" \
    wait_for 15 "$CTL" get --mr "$K1"
  check "the router was not restarted" test "$(cat "$D/run/router.pid")" = "$router_pid"
fi
check "no process of the cluster died" bash "$OKS_ROOT/deploy/local.sh" status --dir "$D"
finish
