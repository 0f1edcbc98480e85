#!/usr/bin/env bash
# oksctl inspect on bad input: one stderr line per bad key naming the file and byte offset, the
# good keys still printed, exit status 1; stdin and armor; usage errors exit 2.
set -u
source "$(dirname "$0")/lib.sh"
W=$(scratch_dir)
trap 'rm -rf "$W"' EXIT
O=$OKS_BIN/oksctl
good=/usr/share/keyrings/debian-archive-bookworm-stable.gpg
size=$(stat -c %s "$good")
# a signature before any key, the good key twice, then a truncated copy of it
{ printf '\xc2\x03\x04\x13\x01'; cat "$good" "$good"; head -c $((size - 7)) "$good"; } >"$W/mixed.gpg"
"$O" inspect "$W/mixed.gpg" >"$W/out" 2>"$W/err"; rc=$?
check "exit status 1 when some keys are bad (got $rc)" test "$rc" -eq 1
check "both good keys are printed" test "$(grep -c '^pub:' "$W/out")" -eq 2
check "signature before any key reported at byte 0" grep -q 'mixed.gpg: .*before any public-key packet (at byte 0)' "$W/err"
check "truncated key reported with its offset" grep -qE 'mixed.gpg: .*truncated.*at byte [0-9]+' "$W/err"
"$O" inspect - <"$good" >"$W/stdin.out" 2>/dev/null; rc=$?
"$O" inspect "$good" >"$W/file.out" 2>/dev/null
check "stdin input gives the same output, exit 0" test "$rc" -eq 0 -a -s "$W/stdin.out"
check "stdin and file outputs are identical" cmp -s "$W/stdin.out" "$W/file.out"
printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF==\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n' >"$W/bad.asc"
"$O" inspect "$W/bad.asc" >/dev/null 2>"$W/err2"; rc=$?
check "bad armor: exit 1 and an error line" test "$rc" -eq 1 -a -s "$W/err2"
"$O" inspect --help >/dev/null; rc=$?
check "inspect --help exits 0" test "$rc" -eq 0
"$O" --help | grep -q inspect
check "oksctl --help lists inspect" test $? -eq 0
"$O" frobnicate >/dev/null 2>&1; rc=$?
check "unknown command exits 2" test "$rc" -eq 2
"$O" inspect "$W/nonexistent" >/dev/null 2>&1; rc=$?
check "unreadable file exits 1" test "$rc" -eq 1
finish
