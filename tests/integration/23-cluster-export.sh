#!/usr/bin/env bash
# oksctl export: the dump files hold every stored key exactly once, load back into the cluster
# as all-unchanged, and load into a real SKS 1.1.6 (sks build) with the same keys: SKS finds every
# exported key by its SKS hash (op=hget), so it holds byte-identical keys. oksctl import reads
# key files from stdin, armored (also after other text), empty and missing, and stops at armor
# that breaks part-way with an error after taking the keys before the break.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"; }
at_exit cleanup
CTL=$OKS_BIN/oksctl
KR=(/usr/share/keyrings/debian-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 >/dev/null || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
"$CTL" import --quiet "${KR[@]}" >"$D/import.txt" 2>&1
check "import exits 0" test $? -eq 0
have=$("$CTL" stats | awk '/^total keys/{print $3}')

"$CTL" export --keys-per-file 200 "$D/export" >"$D/export.txt" 2>&1
check "export exits 0" test $? -eq 0
nfiles=$(ls "$D/export"/*.pgp 2>/dev/null | wc -l)
check "$have keys in $nfiles dump files of at most 200 keys" test "$nfiles" -eq $(((have + 199) / 200))
"$CTL" inspect --no-verify --json "$D"/export/*.pgp >"$D/export.json" 2>/dev/null
n=$(wc -l <"$D/export.json")
distinct=$(/usr/bin/python3 -c 'import json,sys; print(len({json.loads(l)["fingerprint"] for l in open(sys.argv[1])}))' "$D/export.json")
check "the dump holds every stored key once ($n keys, $distinct distinct, $have stored)" \
  bash -c "[ $n -eq $have ] && [ $distinct -eq $have ]"

"$CTL" import --quiet "$D/export" >"$D/reimport.txt" 2>&1
sed 's/^/# /' "$D/reimport.txt"
check "importing the dump folder back changes nothing ($have unchanged)" \
  grep -q " 0 new, 0 updated, $have unchanged, 0 rejected, 0 failed" "$D/reimport.txt"

# ---- key files in every form: stdin, armored, empty, missing, armor broken part-way ----------
M=/usr/share/keyrings/debian-maintainers.gpg; N=/usr/share/keyrings/debian-nonupload.gpg
nm=$("$CTL" inspect --no-verify --json "$M" 2>/dev/null | wc -l)
nn=$("$CTL" inspect --no-verify --json "$N" 2>/dev/null | wc -l)
"$CTL" import --quiet - <"$M" >"$D/stdin.txt" 2>&1
check "import from stdin exits 0" test $? -eq 0
check "stdin: all $nm keys of debian-maintainers answered" grep -q "^imported $nm keys" "$D/stdin.txt"
"$CTL" import --quiet "$M" >"$D/mapped.txt" 2>&1
check "the same file by name: $nm unchanged" grep -q " 0 new, 0 updated, $nm unchanged," "$D/mapped.txt"
/usr/bin/python3 - "$N" "$D/n.asc" "$D/broken.asc" <<'PY'
import base64, sys
data = open(sys.argv[1], "rb").read()
def crc24(b):
    c = 0xB704CE
    for x in b:
        c ^= x << 16
        for _ in range(8):
            c <<= 1
            if c & 0x1000000: c ^= 0x1864CFB
    return c & 0xFFFFFF
def armor(b):
    t = base64.b64encode(b).decode()
    body = "\n".join(t[i:i + 64] for i in range(0, len(t), 64))
    crc = base64.b64encode(crc24(b).to_bytes(3, "big")).decode()
    return f"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{body}\n={crc}\n-----END PGP PUBLIC KEY BLOCK-----\n"
open(sys.argv[2], "w").write("some text before the block\n" + armor(data))
# the second block's checksum is wrong: its keys must not be taken
bad = armor(b"\x99\x00\x01x").replace("\n=", "\n=AAAA\n#", 1)
open(sys.argv[3], "w").write(armor(data) + bad)
PY
"$CTL" import --quiet "$D/n.asc" >"$D/asc.txt" 2>&1
check "armored file exits 0 with all $nn keys of debian-nonupload" \
  bash -c "[ $? -eq 0 ] && grep -q '^imported $nn keys' '$D/asc.txt'"
"$CTL" import --quiet "$N" >"$D/bin.txt" 2>&1
check "its binary form after it: $nn unchanged (the armor decoded to the same keys)" \
  grep -q " 0 new, 0 updated, $nn unchanged," "$D/bin.txt"
"$CTL" import --quiet "$D/broken.asc" >"$D/broken.txt" 2>&1
rc=$?
sed 's/^/# /' "$D/broken.txt"
check "armor broken in its second block: exit 1, the first block's $nn keys still answered" \
  bash -c "[ $rc -eq 1 ] && grep -q '^imported $nn keys' '$D/broken.txt' && grep -q 'broken.asc' '$D/broken.txt'"
: >"$D/empty.gpg"
"$CTL" import --quiet "$D/empty.gpg" >"$D/empty.txt" 2>&1
check "an empty file: exit 0, no keys" bash -c "[ $? -eq 0 ] && grep -q '^imported 0 keys' '$D/empty.txt'"
"$CTL" import --quiet "$D/missing.gpg" >"$D/missing.txt" 2>&1
rc=$?
check "a missing file: exit 1 naming it" \
  bash -c "[ $rc -eq 1 ] && grep -q 'missing.gpg: No such file' '$D/missing.txt'"
# a mapped key file that shrinks while it is read: a message and exit 1, not a bare SIGBUS
for i in 1 2 3 4 5 6 7 8; do cat /usr/share/keyrings/debian-keyring.gpg; done >"$D/big.gpg"
"$CTL" import --quiet --batch 1 --window 1 "$D/big.gpg" >"$D/shrink.txt" 2>&1 &
pid=$!
# truncated once the import has the file mapped (and before it is through: 7,000 keys one by one)
wait_for 60 grep -q "$D/big.gpg" "/proc/$pid/maps"
: >"$D/big.gpg"
wait $pid
rc=$?
check "a key file truncated during its import: exit 1 with a message (status $rc)" \
  bash -c "[ $rc -eq 1 ] && grep -q 'shrank while it was being read' '$D/shrink.txt'"
check "the cluster still answers after it" "$CTL" stats

hkp=$(free_port); recon=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
sks_start "$D/sks" "$hkp" "$recon" "$D"/export/*.pgp || { not_ok "sks build of the dump files"; finish; }
sks_keys=$SKS_KEYS
check "sks build loads the dump: SKS counts $sks_keys keys, OKS $have" test "$sks_keys" = "$have"
/usr/bin/python3 - "$D/export.json" "$hkp" <<'PY'
import json, sys, urllib.request, urllib.error
keys = [json.loads(l) for l in open(sys.argv[1])]
bad = []
for k in keys[::5]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[2]}/pks/lookup?op=hget&search={k['sks_hash']}", timeout=30) as r:
            st = r.status
    except urllib.error.HTTPError as e:
        st = e.code
    if st != 200:
        bad.append((k["fingerprint"], st))
for b in bad[:5]:
    print(f"# not in SKS by hash: {b}")
print(("ok" if not bad else "not ok") + f" - SKS finds every 5th exported key by its SKS hash ({len(keys[::5]) - len(bad)}/{len(keys[::5])})")
PY
finish
