#!/usr/bin/env bash
# Keys made at test time by gpg (rsa3072, ed25519 + cv25519, nistp256, brainpoolP256r1) and by
# sq (default cv25519 suite and rsa3k): oksctl inspect must print the same fingerprints, key IDs,
# creation times, algorithms, sizes, curves, user IDs and subkeys as gpg, and when verification
# is active, keep every self-signature (none dropped).
set -u
source "$(dirname "$0")/lib.sh"
H=$(gpg_home)
W=$(scratch_dir)
trap 'gpg_home_cleanup "$H"; rm -rf "$W"' EXIT
g() { GNUPGHOME=$H gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }

gen_gpg() { # name primary-algo [subkey-algo]
  local name=$1 algo=$2 sub=${3:-} fpr
  g --quick-gen-key "$name Test <$name@example.org>" "$algo" sign,cert never 2>/dev/null || return 1
  fpr=$(g --with-colons --list-keys "$name@example.org" | awk -F: '/^fpr/ {print $10; exit}')
  [ -n "$sub" ] && { g --quick-add-key "$fpr" "$sub" encr never 2>/dev/null || return 1; }
  g --quick-add-uid "$fpr" "$name Second <$name-2@example.org>" 2>/dev/null || return 1
  g --export "$fpr" >"$W/$name.pgp"
}

made=()
for spec in "rsa rsa3072 rsa3072" "ed ed25519 cv25519" "p256 nistp256 nistp256" \
            "bp brainpoolP256r1 brainpoolP256r1"; do
  set -- $spec
  if gen_gpg "$@"; then made+=("$1"); else not_ok "gpg generated a $2 key"; fi
done
for suite in cv25519 rsa3k; do
  if sq key generate --cipher-suite "$suite" --userid "sq $suite <sq-$suite@example.org>" \
       --export "$W/sq-$suite.key" 2>/dev/null &&
     sq key extract-cert --output "$W/sq-$suite.pgp" "$W/sq-$suite.key" 2>/dev/null; then
    made+=("sq-$suite")
  else
    not_ok "sq generated a $suite key"
  fi
done

for name in "${made[@]}"; do
  f=$W/$name.pgp
  GNUPGHOME=$H gpg --batch --with-colons --import-options show-only --import "$f" \
    >"$W/gpg.txt" 2>/dev/null
  "$OKS_BIN/oksctl" inspect --json "$f" >"$W/oks.json" 2>"$W/oks.err"
  check "oksctl inspect exits 0 on the $name key" test -s "$W/oks.json" -a ! -s "$W/oks.err"
  python3 "$OKS_ROOT/tests/integration/helpers/compare_gpg.py" "$W/oks.json" "$W/gpg.txt" \
    "$name key" --require-verified || T_FAILED=1
  check "$name key: no self-signature dropped" grep -q '"self_sigs_dropped":0,' "$W/oks.json"
  # armored input gives the same key
  sq armor "$f" >"$W/$name.asc" 2>/dev/null
  "$OKS_BIN/oksctl" inspect --json "$W/$name.asc" >"$W/oks-armor.json" 2>/dev/null
  check "$name key: armored input gives the same result" cmp -s "$W/oks.json" "$W/oks-armor.json"
done

# The RFC 9580 A.3 v6 sample certificate: fingerprint, and both self-signatures verified.
"$OKS_BIN/oksctl" inspect --json "$OKS_ROOT/tests/data/rfc9580-a3.asc" >"$W/a3.json" 2>&1
check "RFC 9580 A.3: v6 fingerprint cb186c4f...acc9" \
  grep -qi '"fingerprint":"cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9"' "$W/a3.json"
check "RFC 9580 A.3: 2 self-signatures verified, none dropped" \
  grep -q '"self_sigs_verified":2,"self_sigs_dropped":0,' "$W/a3.json"

# A corrupted self-signature (the first user ID's certification of the rsa key) is dropped, the
# user ID it bound goes with it, everything else stays; gpg agrees.
if [ -f "$W/rsa.pgp" ]; then
  python3 "$OKS_ROOT/tests/integration/helpers/corrupt_sig.py" "$W/rsa.pgp" "$W/bad.pgp" 1
  "$OKS_BIN/oksctl" inspect --json "$W/bad.pgp" >"$W/bad.json" 2>"$W/bad.err"
  check "corrupted self-signature: exactly one dropped" grep -q '"self_sigs_dropped":1,' "$W/bad.json"
  check "corrupted self-signature: the rest kept (1 user ID, 1 subkey left)" python3 -c '
import json, sys
k = json.load(open(sys.argv[1]))
sys.exit(0 if len(k["uids"]) == 1 and len(k["subkeys"]) == 1 and k["uids_dropped"] == 1 else 1)' "$W/bad.json"
  GNUPGHOME=$H gpg --batch --with-colons --import-options show-only --import "$W/bad.pgp" \
    >"$W/gpg-bad.txt" 2>/dev/null
  python3 "$OKS_ROOT/tests/integration/helpers/compare_gpg.py" "$W/bad.json" "$W/gpg-bad.txt" \
    "rsa key with a corrupted self-signature" --require-verified || T_FAILED=1
fi
finish
