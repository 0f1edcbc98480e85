#!/usr/bin/env bash
# Keys in forms gpg accepts and OKS must accept too:
# - a v4 key whose public-key and public-subkey packets carry bytes after the key material:
#   gpg 2.2 imports it under the fingerprint of the material as parsed (and exports it without
#   the bytes); oksctl inspect shows the same fingerprints; a cluster takes it by /pks/add,
#   answers a lookup by gpg's fingerprint with the key without those bytes (the form gpg
#   exports, which gpg imports under that fingerprint and sq reads), keeps it as received (SKS
#   hash, op=hget serves the stored form), and merges the gpg-exported copy into it;
# - armored text after other text (a mail): oksctl inspect, oksctl import, /pks/add and
#   /vks/v1/upload all take it (one armor detector).
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home); G2=$(gpg_home); G3=$(gpg_home)
cleanup() {
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1
  for h in "$G" "$G2" "$G3"; do gpg_home_cleanup "$h"; done
  rm -rf "$D"
}
trap cleanup EXIT
HELP=$OKS_ROOT/tests/integration/helpers
g() { gpg --homedir "$G" --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
fprs() { gpg --homedir "$1" --with-colons --fingerprint --fingerprint 2>/dev/null |
  awk -F: '$1=="fpr"{printf "%s ", $10}'; }
oks_fprs() { /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    k = json.loads(line)
    print(" ".join([k["fingerprint"]] + [s["fingerprint"] for s in k["subkeys"]]), end=" ")' "$1"; }
armor() { # binary key file -> PUBLIC KEY BLOCK armor on stdout
  gpg --batch --enarmor <"$1" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/'; }
mail_text() { printf 'From: Trail Test <trail@example.org>\nSubject: my key\n\nHello,\nhere it is:\n\n'; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

if ! g --quick-gen-key "Trail Test <trail@example.org>" ed25519 sign,cert never 2>/dev/null; then
  not_ok "gpg generated an ed25519 key"; finish
fi
FPR=$(g --with-colons --list-keys trail@example.org | awk -F: '$1=="fpr"{print $10; exit}')
g --quick-add-key "$FPR" cv25519 encr never 2>/dev/null
g --export "$FPR" >"$D/orig.pgp"
WANT=$(fprs "$G")
python3 "$HELP/edit_packets.py" "$D/orig.pgp" "$D/trail.pgp" append-to-keys 0102030405
check "trailing bytes: key and subkey packets are 5 bytes longer" \
  test "$(($(stat -c %s "$D/trail.pgp") - $(stat -c %s "$D/orig.pgp")))" = 10

# what gpg does with it
gpg --homedir "$G2" --batch --import "$D/trail.pgp" >"$D/imp.out" 2>&1
check "gpg imports the key with trailing bytes" grep -q "imported: 1" "$D/imp.out"
check "gpg shows the fingerprints of the key material as parsed" test "$(fprs "$G2")" = "$WANT"
gpg --homedir "$G2" --batch --export "$FPR" >"$D/gpg-export.pgp" 2>/dev/null
check "gpg exports the key without the trailing bytes" cmp -s "$D/gpg-export.pgp" "$D/orig.pgp"

# oksctl inspect: the same fingerprints, every self-signature good
"$OKS_BIN/oksctl" inspect --json "$D/trail.pgp" >"$D/t.json" 2>"$D/t.err"
check "oksctl inspect: the fingerprints gpg shows" test "$(oks_fprs "$D/t.json")" = "$WANT"
check "oksctl inspect: no self-signature dropped" grep -q '"self_sigs_dropped":0,' "$D/t.json"
HT=$("$OKS_BIN/oksctl" inspect "$D/trail.pgp" | sed -n 's/^hash://p')
HO=$("$OKS_BIN/oksctl" inspect "$D/orig.pgp" | sed -n 's/^hash://p')
check "oksctl inspect: the SKS hash is of the packets as received" test -n "$HT" -a "$HT" != "$HO"

# armor after other text: oksctl inspect
{ mail_text; armor "$D/trail.pgp"; printf -- '-- \nTrail\n'; } >"$D/mail.txt"
"$OKS_BIN/oksctl" inspect --json "$D/mail.txt" >"$D/m.json" 2>"$D/m.err"
check "oksctl inspect reads armor after mail text" test "$(oks_fprs "$D/m.json")" = "$WANT"
printf 'just text, no key\n' >"$D/nokey.txt"
"$OKS_BIN/oksctl" inspect "$D/nokey.txt" >/dev/null 2>"$D/n.err"
check "oksctl inspect: text without armor is an error" test -s "$D/n.err"

# a cluster
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
U=http://127.0.0.1:$P
check "/pks/add: armor after mail text, key with trailing bytes: 200" \
  test "$(code --data-urlencode keytext@"$D/mail.txt" "$U/pks/add")" = 200
check "/pks/add: text without armor: 400" \
  test "$(code --data-urlencode keytext@"$D/nokey.txt" "$U/pks/add")" = 400
curl -s -o "$D/served.asc" -w '%{http_code}' "$U/pks/lookup?op=get&search=0x$FPR" >"$D/st"
check "lookup by gpg's fingerprint: 200" test "$(cat "$D/st")" = 200
gpg --homedir "$G3" --batch --import "$D/served.asc" >"$D/imp3.out" 2>&1
check "the served key imports into gpg under the same fingerprints" \
  test "$(fprs "$G3")" = "$WANT"
HO=$("$OKS_BIN/oksctl" inspect "$D/orig.pgp" | sed -n 's/^hash://p')
check "served to clients without the trailing bytes (the form gpg exports)" \
  test "$("$OKS_BIN/oksctl" inspect "$D/served.asc" | sed -n 's/^hash://p')" = "$HO"
check "sq reads the served key" sq inspect "$D/served.asc"
curl -s -o "$D/hget.asc" "$U/pks/lookup?op=hget&search=$HT"
check "op=hget by the SKS hash of the key as received serves it as stored (for recon)" \
  test "$("$OKS_BIN/oksctl" inspect "$D/hget.asc" | sed -n 's/^hash://p')" = "$HT"

# the gpg-exported copy, through /vks/v1/upload with text before the armor
{ mail_text; armor "$D/gpg-export.pgp"; } |
  /usr/bin/python3 -c 'import json,sys;print(json.dumps({"keytext":sys.stdin.read()}))' >"$D/up.json"
curl -s -H 'Content-Type: application/json' --data @"$D/up.json" "$U/vks/v1/upload" >"$D/up.out"
check "/vks/v1/upload: armor after mail text accepted (key_fpr as gpg)" \
  grep -q "\"key_fpr\":\"$FPR\"" "$D/up.out"
check "the gpg-exported copy merged into the stored key, still stored as received" \
  test "$(code "$U/pks/lookup?op=hget&search=$HT")" = 200
check "/vks/v1/upload: text without armor or base64 key: 400" \
  test "$(code -H 'Content-Type: application/json' --data '{"keytext":"hello, no key here"}' \
    "$U/vks/v1/upload")" = 400

# oksctl import of the mail text
"$OKS_BIN/oksctl" import "$D/mail.txt" >"$D/import.out" 2>&1
check "oksctl import reads armor after mail text" test $? = 0
finish
