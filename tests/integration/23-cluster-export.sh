#!/usr/bin/env bash
# oksctl export: the dump files hold every stored key exactly once, load back into the cluster
# as all-unchanged, and load into a real SKS 1.1.6 (sks build) with the same keys: SKS finds every
# exported key by its SKS hash (op=hget), so it holds byte-identical keys.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() {
  sh "$OKS_SHARED/peers/sks/stop.sh" "$D/sks" >/dev/null 2>&1
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"
}
trap cleanup EXIT
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

hkp=$(free_port); recon=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
mkdir -p "$D/sks"
if ! sh "$OKS_SHARED/peers/sks/start.sh" "$D/sks" "$hkp" "$recon" "$D"/export/*.pgp \
     >"$D/sks.out" 2>"$D/sks.err"; then
  not_ok "sks build of the dump files"; tail -20 "$D/sks.err"; finish
fi
sks_keys=$(sed -n 's/^SKS_KEYS=//p' "$D/sks.out")
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
