#!/usr/bin/env bash
# Attacks on stored keys through /pks/add, each followed by gpg importing what is served
# (helpers/make_hostile.py builds the packets):
#  1. certificate flooding: a gpg-made key flooded with 500 junk certifications dated 2030 (just
#     under max_key_bytes), then its owner's revocation: accepted, served revoked, junk cut to
#     the third-party budget;
#  2. forged certifications: 3 real certifications by other gpg keys, then 500 forged ones dated
#     2030: every real one is still served and gpg checks it good;
#  3. poisoning: one certification with a 10,500-byte unhashed area (gpg 2.2 refuses a whole
#     key holding it): the served key imports into gpg;
#  4. costly verification: an RSA key with a 16,384-bit exponent and 20 self-signatures is
#     refused (422) for its exponent, before any signature is checked;
#  5. backdated forgeries and the owner's repair: 300 forged certifications dated at the key's
#     creation outrank (oldest first) and evict the 2 real ones made later; the owner attests
#     the real ones with sq (attested certifications, type 0x16) and uploads: both are served
#     again, and gpg checks them good. The stored key is the same when the same three uploads
#     arrive in the opposite order.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
GO=$(gpg_home); GS=$(gpg_home); GR=$(gpg_home)
cleanup() {
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1
  gpg_home_cleanup "$GO"; gpg_home_cleanup "$GS"; gpg_home_cleanup "$GR"; rm -rf "$D"
}
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 1 --http-port "$P" >/dev/null ||
  { not_ok "cluster with gateway starts"; finish; }
ok "cluster with HTTP gateway starts on port $P"
U=http://127.0.0.1:$P
H=$OKS_ROOT/tests/integration/helpers/make_hostile.py
go() { gpg --homedir "$GO" --batch --no-tty --passphrase '' --pinentry-mode loopback "$@"; }
gs() { gpg --homedir "$GS" --batch --no-tty --passphrase '' --pinentry-mode loopback "$@"; }
gr() { gpg --homedir "$GR" --batch --no-tty "$@"; }
echo "keyserver hkp://127.0.0.1:$P" >"$GR/dirmngr.conf"
# add FILE: POSTs a binary key as armored keytext; prints the HTTP status, body in $D/add.out
add() {
  gpg --enarmor <"$1" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/' >"$D/add.asc"
  curl -s -m 60 -o "$D/add.out" -w '%{http_code}' --data-urlencode "keytext@$D/add.asc" \
    "$U/pks/add"
}
# sq_takes FILE: sq (sequoia 0.27) reads every key of FILE and lists its certifications
sq_takes() { sq inspect --certifications "$1" >/dev/null 2>&1; }
fpr_of() { gpg --homedir "$1" --batch --with-colons --list-keys "$2" | awk -F: '/^fpr/{print $10; exit}'; }
# sigs HELPER FILE: "junk-count max-unhashed-area" of a binary key's signatures (HELPER: a
# file of tests/integration/helpers, where pgp_frames.py is)
sigs() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from pgp_frames import frames
data = open(sys.argv[2], 'rb').read()
n = 0; mx = 0
for tag, o, hl, end in frames(data):
    b = data[o + hl:end]
    if tag == 2 and b[0] == 4:
        h = int.from_bytes(b[4:6], 'big'); u = int.from_bytes(b[6 + h:8 + h], 'big')
        mx = max(mx, u)
        if b'junk' in b: n += 1
print(n, mx)
PY
}

# ---- 1. flooding, then the owner's revocation
go --quick-gen-key 'Flood Victim <victim@example.org>' ed25519 cert never 2>/dev/null
V=$(fpr_of "$GO" victim@example.org)
go --export "$V" >"$D/v.pgp"
check "the victim key is added ($(add "$D/v.pgp"))" grep -q . "$D/add.out"
# 500 (the old per-user-ID cap) of ~2,100 bytes: 40 bytes under max_key_bytes (1 MiB)
/usr/bin/python3 "$H" flood "$D/v.pgp" "$D/flood.pgp" 500 1900000000 $((1048576 - 40))
sz=$(stat -c %s "$D/flood.pgp")
c=$(add "$D/flood.pgp")
check "500 junk certifications ($sz bytes, max_key_bytes 1 MiB) are taken ($c)" test "$c" = 200
cp "$GO/openpgp-revocs.d/$V.rev" "$D/rev.asc"
sed -i 's/^:-----/-----/' "$D/rev.asc"
go --import "$D/rev.asc" 2>/dev/null
go --export "$V" >"$D/revoked.pgp"
c=$(add "$D/revoked.pgp")
check "the owner's revocation is accepted after the flood ($c: $(head -c 200 "$D/add.out"))" test "$c" = 200
check "gpg --recv-keys imports the served key" gr --recv-keys "$V"
check "... and shows it revoked" bash -c "gpg --homedir '$GR' --batch --with-colons --list-keys $V | grep -q '^pub:r:'"
curl -s -m 30 "$U/pks/lookup?op=get&options=mr&search=0x$V" | gpg --dearmor >"$D/served.pgp" 2>/dev/null
read -r junk mx < <(sigs "$H" "$D/served.pgp")
check "the served key holds at most 256 junk certifications ($junk)" test "$junk" -le 256
G2=$(gpg_home)
check "gpg --import takes the served key file" gpg --homedir "$G2" --batch --import "$D/served.pgp"
gpg_home_cleanup "$G2"
check "sq reads the served key" sq_takes "$D/served.pgp"

# ---- 2. forged certifications do not evict real ones
go --quick-gen-key 'Well Known <known@example.org>' ed25519 cert never 2>/dev/null
K=$(fpr_of "$GO" known@example.org)
go --export "$K" >"$D/k.pgp"
for i in 1 2 3; do
  gs --quick-gen-key "Signer $i <signer$i@example.org>" ed25519 cert never 2>/dev/null
done
gs --import "$D/k.pgp" 2>/dev/null
for i in 1 2 3; do
  gs -u "signer$i@example.org" --quick-sign-key "$K" 2>/dev/null
done
gs --export "$K" >"$D/k3.pgp"
gs --export signer1@example.org signer2@example.org signer3@example.org >"$D/signers.pgp"
c=$(add "$D/k3.pgp")
check "the key with 3 real certifications is added ($c)" test "$c" = 200
/usr/bin/python3 "$H" flood "$D/k.pgp" "$D/forged.pgp" 500
c=$(add "$D/forged.pgp")
check "500 forged certifications dated 2030 are taken ($c)" test "$c" = 200
gr --import "$D/signers.pgp" 2>/dev/null
# gpg's --recv-keys keeps self-signatures only (since 2.2.17): the served key is imported as a
# file to see its certifications
curl -s -m 30 "$U/pks/lookup?op=get&options=mr&search=0x$K" >"$D/served-k.asc"
check "gpg --import takes the served key" gr --import "$D/served-k.asc"
check "sq reads the served key" sq_takes "$D/served-k.asc"
gr --with-colons --check-sigs "$K" >"$D/check.txt" 2>/dev/null
good=$(awk -F: '$1=="sig" && $2=="!" && $10 ~ /^Signer/' "$D/check.txt" | wc -l)
check "all 3 real certifications are still served and check good in gpg ($good)" test "$good" = 3

# ---- 3. poisoning
go --quick-gen-key 'Poison Target <poison@example.org>' ed25519 cert never 2>/dev/null
T=$(fpr_of "$GO" poison@example.org)
go --export "$T" >"$D/t.pgp"
add "$D/t.pgp" >/dev/null
/usr/bin/python3 "$H" poison "$D/t.pgp" "$D/poison.pgp"
G2=$(gpg_home)
gpg --homedir "$G2" --batch --import "$D/poison.pgp" >"$D/gpg-poison.out" 2>&1
check "gpg itself refuses the poisoned upload" grep -q 'unhashed data too long' "$D/gpg-poison.out"
gpg_home_cleanup "$G2"
c=$(add "$D/poison.pgp")
echo "# poisoned upload answered $c: $(head -c 120 "$D/add.out")"
curl -s -m 30 "$U/pks/lookup?op=get&options=mr&search=0x$T" | gpg --dearmor >"$D/served-t.pgp" 2>/dev/null
read -r junk mx < <(sigs "$H" "$D/served-t.pgp")
check "the served key carries no unhashed area over 10,000 bytes ($mx)" test "$mx" -le 10000
check "gpg --recv-keys imports the served key" gr --recv-keys "$T"
G2=$(gpg_home)
check "gpg --import takes the served key file" gpg --homedir "$G2" --batch --import "$D/served-t.pgp"
gpg_home_cleanup "$G2"
check "sq reads the served key" sq_takes "$D/served-t.pgp"

# ---- 4. costly verification
/usr/bin/python3 "$H" costly "$D/costly.pgp"
c=$(add "$D/costly.pgp")
check "the RSA key with a 16,384-bit exponent is refused ($c)" test "$c" = 422
check "... for its exponent" grep -q 'exponent' "$D/add.out"

# ---- 5. backdated forgeries evict unattested certifications; the owner's attestation repairs
S5=$D/sq
mkdir -p "$S5"
sqk() { sq key generate --creation-time 20200101 --expires never --userid "$1" --export "$S5/$2.key" 2>/dev/null; }
sqk 'Attest Owner <attest@example.org>' owner && sqk 'Carol <carol@example.org>' carol &&
  sqk 'Dave <dave@example.org>' dave
sq key extract-cert "$S5/owner.key" >"$S5/owner.cert" 2>/dev/null
sq certify "$S5/carol.key" "$S5/owner.cert" 'Attest Owner <attest@example.org>' >"$S5/c1" 2>/dev/null
sq certify "$S5/dave.key" "$S5/c1" 'Attest Owner <attest@example.org>' >"$S5/c2" 2>/dev/null
sq dearmor "$S5/c2" >"$S5/certified.pgp" 2>/dev/null
sq keyring merge "$S5/owner.key" "$S5/c2" 2>/dev/null | sq key attest-certifications 2>/dev/null |
  sq key extract-cert 2>/dev/null | sq dearmor >"$S5/attested.pgp" 2>/dev/null
A=$(sq inspect "$S5/owner.cert" 2>/dev/null | awk '/Fingerprint:/{print $2; exit}')
check "sq made a key certified by two others, and its attestation ($A)" \
  test -s "$S5/certified.pgp" -a -s "$S5/attested.pgp" -a -n "$A"
# forged certifications dated 2020-01-01, the key's creation: older than the real ones
/usr/bin/python3 "$H" flood "$S5/certified.pgp" "$S5/forged.pgp" 300 1577836800
gpg --homedir "$GR" --batch --import "$S5/carol.key" "$S5/dave.key" 2>/dev/null
# real FILE: certifications by Carol and Dave that gpg checks good in a served copy FILE
real() {
  local g; g=$(gpg_home)
  gpg --homedir "$g" --batch --import "$S5/carol.key" "$S5/dave.key" "$1" 2>/dev/null
  gpg --homedir "$g" --batch --with-colons --check-sigs "$A" 2>/dev/null |
    awk -F: '$1=="sig" && $2=="!" && $10 ~ /^(Carol|Dave)/' | wc -l
  gpg_home_cleanup "$g"
}
served() { curl -s -m 30 "$U/pks/lookup?op=get&options=mr&search=0x$A" | gpg --dearmor >"$1" 2>/dev/null; }
c1=$(add "$S5/certified.pgp"); c2=$(add "$S5/forged.pgp")
check "the certified key and 300 backdated forgeries are taken ($c1 $c2)" test "$c1$c2" = 200200
served "$S5/served1.pgp"
read -r junk mx < <(sigs "$H" "$S5/served1.pgp")
n=$(real "$S5/served1.pgp")
check "the attack works: forgeries fill the budget ($junk), no real certification served ($n)" \
  test "$junk" -ge 250 -a "$n" = 0
c3=$(add "$S5/attested.pgp")
check "the owner's attestation is taken ($c3)" test "$c3" = 200
served "$S5/served2.pgp"
n=$(real "$S5/served2.pgp")
check "after the attestation both real certifications are served and check good ($n)" test "$n" = 2
check "... and the attestation itself is served" \
  bash -c "sq packet dump '$S5/served2.pgp' 2>/dev/null | grep -q 'Type: AttestationKey'"
G2=$(gpg_home)
check "gpg --import takes the served key with the attestation" \
  gpg --homedir "$G2" --batch --import "$S5/served2.pgp"
gpg_home_cleanup "$G2"
check "sq reads the served key with the attestation" sq_takes "$S5/served2.pgp"
# a delete leaves a tombstone that refuses the key back: lifted before the uploads again
"$OKS_BIN/oksctl" delete -c "$D/oks.conf" --reason "test: uploads again in another order" "$A" >/dev/null &&
  "$OKS_BIN/oksctl" undelete -c "$D/oks.conf" --reason "test: uploads again in another order" "$A" >/dev/null
check "the key is gone before the uploads in the other order" wait_for 10 \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$U/pks/lookup?op=get&options=mr&search=0x$A')\" = 404 ]"
c=$(add "$S5/attested.pgp")$(add "$S5/forged.pgp")$(add "$S5/certified.pgp")
served "$S5/served3.pgp"
check "the same uploads in the opposite order store the same key ($c)" \
  cmp -s "$S5/served2.pgp" "$S5/served3.pgp"
finish
