#!/usr/bin/env bash
# The SKS key hash and the mr index lines of oksctl inspect, checked against a real SKS 1.1.6
# built from the same keyrings (debian-keyring, debian-role-keys, debian-maintainers): the hash
# of every key, as received (--no-verify) and as stored after cleaning, must be one SKS holds,
# and both lists must hold as many keys as SKS; mr index lines are compared for every 8th key.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { sh "$OKS_SHARED/peers/sks/stop.sh" "$D/sks" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
rings=(/usr/share/keyrings/debian-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg
       /usr/share/keyrings/debian-maintainers.gpg)
hkp=$(free_port); recon=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
mkdir -p "$D/sks"
if ! sh "$OKS_SHARED/peers/sks/start.sh" "$D/sks" "$hkp" "$recon" "${rings[@]}" \
     >"$D/start.out" 2>"$D/start.err"; then
  not_ok "SKS started"; tail -20 "$D/start.err"; finish
fi
ok "SKS started on 127.0.0.1:$hkp with $(sed -n 's/^SKS_KEYS=//p' "$D/start.out") keys"
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
finish
