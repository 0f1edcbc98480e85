#!/usr/bin/env bash
# The SKS key hash and the mr index lines of oksctl inspect, checked against a real SKS 1.1.6
# built from the same keyrings: every 8th key of debian-keyring + debian-role-keys.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
rings=(/usr/share/keyrings/debian-keyring.gpg /usr/share/keyrings/debian-role-keys.gpg)
hkp=$(free_port); recon=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
sks_start "$D/sks" "$hkp" "$recon" "${rings[@]}" || { not_ok "SKS started"; finish; }
ok "SKS started on 127.0.0.1:$hkp with $SKS_KEYS keys"
"$OKS_BIN/oksctl" inspect --no-verify "${rings[@]}" >"$D/oks.txt" 2>"$D/oks.err"
check "oksctl inspect --no-verify read both keyrings" test -s "$D/oks.txt"
python3 "$OKS_ROOT/tests/integration/helpers/compare_sks.py" "$D/oks.txt" "$hkp" 8 || T_FAILED=1
finish
