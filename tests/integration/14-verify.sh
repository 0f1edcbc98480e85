#!/usr/bin/env bash
# Self-signature verification and the cleaning policy against gpg on edge cases:
# keys signed by OpenSSL for every signing algorithm x hash algorithm (RSA, DSA, ECDSA on six
# curves, EdDSA; MD5 ... SHA3-512; v3 signatures; short EdDSA r); a v3 key, refused;
# an Ed448 v6 key signed by OpenSSL (good, then with a corrupted certification); a gpg key whose
# revoked user ID and revoked subkey are bound only by their revocations (gpg keeps both, so
# must we); a subkey without its binding (gpg skips it, so must we); and the totals over
# debian-keyring.gpg (DSA/Elgamal, RSA, EdDSA, ECDSA keys): every self-signature verifies.
set -u
source "$(dirname "$0")/lib.sh"
H=$(gpg_home)
W=$(scratch_dir)
trap 'gpg_home_cleanup "$H"; rm -rf "$W"' EXIT
HELP=$OKS_ROOT/tests/integration/helpers
g() { GNUPGHOME=$H gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
field() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
compare() { # file label
  GNUPGHOME=$H gpg --batch --with-colons --import-options show-only --import "$1" \
    >"$W/gpg.txt" 2>/dev/null
  "$OKS_BIN/oksctl" inspect --json "$1" >"$W/oks.json" 2>/dev/null
  python3 "$HELP/compare_gpg.py" "$W/oks.json" "$W/gpg.txt" "$2" --require-verified || T_FAILED=1
}

# Every signer x every hash, signed by OpenSSL: each self-signature must verify.
mkdir "$W/matrix"
if /usr/bin/python3 "$HELP/make_sig_matrix.py" "$W/matrix" >"$W/matrix.txt"; then
  while read -r name want; do
    if [ "${name%-v3key}" != "$name" ]; then
      # the acceptance policy (lib: oks_pgp_key_acceptable), the one the shard applies
      for nv in "" --no-verify; do
        "$OKS_BIN/oksctl" inspect $nv --json "$W/matrix/$name.pgp" >"$W/m.json" 2>"$W/m.err"
        check "$name ${nv:-verified}: refused like the shard refuses it" \
          grep -q "v3 keys are not accepted" "$W/m.err"
      done
      continue
    fi
    "$OKS_BIN/oksctl" inspect --json "$W/matrix/$name.pgp" >"$W/m.json" 2>&1
    check "$name: all $want self-signatures (one per hash algorithm) verify" \
      grep -q "\"self_sigs_verified\":$want,\"self_sigs_dropped\":0," "$W/m.json"
  done <"$W/matrix.txt"
else
  not_ok "python3-cryptography made the signature matrix keys"
fi

# Ed448 (RFC 9580 algorithm 28) signed by OpenSSL, verified by libgcrypt.
if /usr/bin/python3 "$HELP/make_v6_ed448.py" "$W/ed448.pgp" >/dev/null &&
   /usr/bin/python3 "$HELP/make_v6_ed448.py" "$W/ed448-bad.pgp" --corrupt >/dev/null; then
  "$OKS_BIN/oksctl" inspect --json "$W/ed448.pgp" >"$W/e.json" 2>&1
  check "Ed448 v6 key: 2 self-signatures verified, none dropped" \
    grep -q '"self_sigs_verified":2,"self_sigs_dropped":0,' "$W/e.json"
  "$OKS_BIN/oksctl" inspect --json "$W/ed448-bad.pgp" >"$W/e.json" 2>&1
  check "Ed448 v6 key, corrupted certification: it and its user ID dropped, key kept" \
    grep -q '"uids":\[\],.*"self_sigs_verified":1,"self_sigs_dropped":1,.*"uids_dropped":1,' \
    "$W/e.json"
else
  not_ok "python3-cryptography made an Ed448 key"
fi

# gpg key: two user IDs, two subkeys; revoke the second user ID and the second subkey.
if g --quick-gen-key "Rev Test <rev@example.org>" ed25519 sign,cert never 2>/dev/null; then
  fpr=$(g --with-colons --list-keys rev@example.org | awk -F: '/^fpr/ {print $10; exit}')
  g --quick-add-uid "$fpr" "Rev Second <rev-2@example.org>" 2>/dev/null
  g --quick-add-key "$fpr" cv25519 encr never 2>/dev/null
  g --quick-add-key "$fpr" ed25519 sign never 2>/dev/null
  g --quick-revoke-uid "$fpr" "Rev Second <rev-2@example.org>" 2>/dev/null
  printf 'key 2\nrevkey\ny\n0\n\ny\nsave\n' |
    g --command-fd 0 --status-fd 2 --edit-key "$fpr" >/dev/null 2>&1
  g --export "$fpr" >"$W/rev.pgp"
  python3 "$HELP/edit_packets.py" "$W/rev.pgp" - list >"$W/list.txt"
  check "gpg key carries a user ID revocation and a subkey revocation" \
    test "$(grep -cE 'type=0x(30|28)$' "$W/list.txt")" = 2
  compare "$W/rev.pgp" "gpg key with a revoked user ID and a revoked subkey"
  check "revoked user ID and subkey: every self-signature kept" \
    test "$(field self_sigs_dropped <"$W/oks.json")" = 0
  check "revoked subkey shown revoked" grep -q '"revoked":true' "$W/oks.json"
  python3 "$HELP/edit_packets.py" "$W/rev.pgp" "$W/only-rev.pgp" only-revocations
  compare "$W/only-rev.pgp" "user ID and subkey bound only by their revocations (kept, as gpg)"
  check "only revocations: 2 user IDs and 2 subkeys kept" /usr/bin/python3 -c '
import json, sys
k = json.load(open(sys.argv[1]))
sys.exit(0 if len(k["uids"]) == 2 and len(k["subkeys"]) == 2 else 1)' "$W/oks.json"
  python3 "$HELP/edit_packets.py" "$W/rev.pgp" "$W/unbound.pgp" unbind-subkey 1
  compare "$W/unbound.pgp" "subkey without a binding (dropped, as gpg)"
  check "unbound subkey counted as dropped" test "$(field subkeys_dropped <"$W/oks.json")" = 1
else
  not_ok "gpg generated an ed25519 key"
fi

# debian-keyring: totals over every key.
"$OKS_BIN/oksctl" inspect --json /usr/share/keyrings/debian-keyring.gpg >"$W/dk.json" 2>/dev/null
read -r verified dropped algos < <(/usr/bin/python3 -c '
import json, sys
v = d = 0; a = set()
for line in open(sys.argv[1]):
    k = json.loads(line)
    v += k["self_sigs_verified"]; d += k["self_sigs_dropped"] + k["uids_dropped"] + k["subkeys_dropped"]
    a.add(k["algorithm"]); a.update(s["algorithm"] for s in k["subkeys"])
print(v, d, ",".join(str(x) for x in sorted(a)))' "$W/dk.json")
echo "# debian-keyring: $verified self-signatures verified, $dropped dropped, algorithms $algos"
check "debian-keyring: >6000 self-signatures verified, none dropped" \
  test "${verified:-0}" -gt 6000 -a "${dropped:-1}" = 0
check "debian-keyring covers RSA, Elgamal, DSA, ECDSA, EdDSA" \
  test "$algos" = "1,16,17,18,19,22"
finish
