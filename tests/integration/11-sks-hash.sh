#!/usr/bin/env bash
# The SKS key hash and the mr index lines of oksctl inspect, checked against a real SKS 1.1.6
# built from the same keyrings (debian-keyring, debian-role-keys, debian-maintainers): the hash
# of every key, as received (--no-verify) and as stored after cleaning, must be one SKS holds,
# and both lists must hold as many keys as SKS; mr index lines are compared for every 8th key.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
rings=(/usr/share/keyrings/debian-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg
       /usr/share/keyrings/debian-maintainers.gpg)
hkp=$(free_port); recon=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
sks_start "$D/sks" "$hkp" "$recon" "${rings[@]}" || { not_ok "SKS started"; finish; }
ok "SKS started on 127.0.0.1:$hkp with $SKS_KEYS keys"
"$OKS_BIN/oksctl" inspect --no-verify "${rings[@]}" >"$D/oks.txt" 2>"$D/oks.err"
check "oksctl inspect --no-verify read the keyrings" test -s "$D/oks.txt"
python3 "$OKS_ROOT/tests/integration/helpers/compare_sks.py" "$D/oks.txt" "$hkp" 8 \
  "as received" || T_FAILED=1
# the stored form: self-signatures verified, bad ones dropped, third-party ones kept where
# they are (debian-keyring's 249CB377...364F028D has two before its first user ID); its mr
# lines flag revoked user IDs, which SKS does not verify, so only the hashes are compared
"$OKS_BIN/oksctl" inspect "${rings[@]}" >"$D/oksv.txt" 2>"$D/oksv.err"
check "oksctl inspect found every key good" test ! -s "$D/oksv.err"
python3 "$OKS_ROOT/tests/integration/helpers/compare_sks.py" "$D/oksv.txt" "$hkp" -8 \
  "as stored" || T_FAILED=1
# A v4 key whose key and subkey packets carry bytes after the key material: OKS fingerprints it
# as gpg does, but keeps it as received; SKS stores it as received too, so SKS's /pks/hashquery
# must answer the hash OKS computes with exactly these packets.
T=$OKS_ROOT/tests/data/v4-trailing-bytes.pgp
th=$("$OKS_BIN/oksctl" inspect "$T" 2>/dev/null | sed -n 's/^hash://p')
check "SKS stores the key with trailing bytes under the hash OKS computes ($th)" \
  /usr/bin/python3 - "$hkp" "$T" "$th" <<'PY'
import base64, struct, sys, urllib.parse, urllib.request
port, path, h = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = open(path, 'rb').read()
crc = 0xB704CE
for c in key:
    crc ^= c << 16
    for _ in range(8):
        crc = (crc << 1) ^ (0x1864CFB if crc & 0x800000 else 0)
b64 = base64.b64encode(key).decode()
arm = ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n' +
       ''.join(b64[i:i + 64] + '\n' for i in range(0, len(b64), 64)) + '=' +
       base64.b64encode((crc & 0xFFFFFF).to_bytes(3, 'big')).decode() +
       '\n-----END PGP PUBLIC KEY BLOCK-----\n')
urllib.request.urlopen(f'http://127.0.0.1:{port}/pks/add', timeout=30,
                       data=urllib.parse.urlencode({'keytext': arm}).encode()).read()
q = struct.pack('>II', 1, 16) + bytes.fromhex(h)
r = urllib.request.urlopen(urllib.request.Request(f'http://127.0.0.1:{port}/pks/hashquery',
                                                  data=q, method='POST'), timeout=30).read()
n = struct.unpack('>I', r[:4])[0]
sys.exit(0 if n == 1 and r[8:8 + struct.unpack('>I', r[4:8])[0]] == key else 1)
PY
finish
