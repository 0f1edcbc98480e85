#!/usr/bin/env bash
# oksctl inspect against gpg on every keyring of /usr/share/keyrings: fingerprints, key IDs,
# creation times, algorithm, size, curve, user IDs and subkeys must equal what
# `gpg --with-colons --import-options show-only --import` prints for the same file.
set -u
source "$(dirname "$0")/lib.sh"
H=$(gpg_home)
W=$(scratch_dir)
trap 'gpg_home_cleanup "$H"; rm -rf "$W"' EXIT
shopt -s nullglob
files=(/usr/share/keyrings/*.gpg)
[ ${#files[@]} -gt 0 ] || { not_ok "no keyrings in /usr/share/keyrings"; finish; }
for f in "${files[@]}"; do
  name=${f##*/}
  GNUPGHOME=$H gpg --batch --with-colons --import-options show-only --import "$f" \
    >"$W/gpg.txt" 2>/dev/null
  "$OKS_BIN/oksctl" inspect --json "$f" >"$W/oks.json" 2>"$W/oks.err"
  python3 "$OKS_ROOT/tests/integration/helpers/compare_gpg.py" "$W/oks.json" "$W/gpg.txt" \
    "$name" --require-verified || T_FAILED=1
done
# The mr output of the biggest keyring has one pub line per key and a hash line after each.
"$OKS_BIN/oksctl" inspect /usr/share/keyrings/debian-keyring.gpg >"$W/mr.txt" 2>/dev/null
pubs=$(grep -c '^pub:' "$W/mr.txt"); hashes=$(grep -cE '^hash:[0-9a-f]{32}$' "$W/mr.txt")
check "debian-keyring mr output: $pubs pub lines, $hashes hash lines" \
  test "$pubs" -gt 800 -a "$pubs" -eq "$hashes"
finish
