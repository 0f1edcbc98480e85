#!/usr/bin/env bash
# GnuPG (dirmngr) and Sequoia against the HTTP gateway of a local cluster: receive by
# fingerprint, long and short key ID, search by e-mail, send a fresh key and receive it in
# another home, refresh; plus status codes of malformed requests.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
G1=$(gpg_home); G2=$(gpg_home)
cleanup() {
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1
  gpg_home_cleanup "$G1"; gpg_home_cleanup "$G2"; rm -rf "$D"
}
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster with gateway starts"; finish; }
ok "cluster with HTTP gateway starts on port $P"
export OKS_CONFIG=$D/oks.conf
"$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-maintainers.gpg >/dev/null
URL=http://127.0.0.1:$P
for h in "$G1" "$G2"; do
  echo "keyserver hkp://127.0.0.1:$P" >"$h/dirmngr.conf"
done
g1() { gpg --homedir "$G1" --batch --no-tty "$@"; }
g2() { gpg --homedir "$G2" --batch --no-tty "$@"; }

FPR=740D7FE2AB3143E86C8FD12300186602339240CB
check "gpg --recv-keys by fingerprint" g1 --recv-keys "$FPR"
check "the received key is in the keyring" bash -c "gpg --homedir '$G1' --batch --list-keys $FPR >/dev/null 2>&1"
g1 --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys by long key ID" g1 --recv-keys 0x00186602339240CB
g1 --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys by short key ID" g1 --recv-keys 0x339240CB
g1 --yes --delete-keys "$FPR" 2>/dev/null
out=$(g1 --with-colons --search-keys atzlinux@sina.com 2>/dev/null </dev/null)
check "gpg --search-keys by e-mail lists the key" grep -q "$FPR" <<<"$out"

# a fresh key, sent by one user, received by another
g1 --passphrase '' --pinentry-mode loopback --quick-gen-key "Fresh Tester <fresh@example.org>" ed25519 sign never 2>/dev/null
NEW=$(g1 --with-colons --list-keys fresh@example.org | awk -F: '$1=="fpr"{print $10; exit}')
check "gpg --send-keys of a fresh key" g1 --send-keys "$NEW"
check "another gpg --recv-keys the sent key" g2 --recv-keys "$NEW"
check "the received copy has the user ID" bash -c "gpg --homedir '$G2' --batch --list-keys fresh@example.org >/dev/null 2>&1"
# add a user ID, send again, refresh the other copy
g1 --passphrase '' --pinentry-mode loopback --quick-add-uid "$NEW" "Fresh Tester <second@example.org>" 2>/dev/null
g1 --send-keys "$NEW" 2>/dev/null
check "gpg --refresh-keys picks up the new user ID" g2 --refresh-keys
check "the refreshed copy has the second user ID" bash -c "gpg --homedir '$G2' --batch --list-keys second@example.org >/dev/null 2>&1"

if command -v sq >/dev/null; then
  check "sq fetches a key by fingerprint" sq keyserver --policy insecure --server "hkp://127.0.0.1:$P" get "$FPR" -o "$D/sq1.pgp"
  check "sq fetches a key by e-mail" sq keyserver --policy insecure --server "hkp://127.0.0.1:$P" get atzlinux@sina.com -o "$D/sq2.pgp"
fi

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "unknown key: 404" test "$(code "$URL/pks/lookup?op=get&search=0x0000000000000001")" = 404
check "missing search: 400" test "$(code "$URL/pks/lookup?op=get")" = 400
check "bad percent-encoding: 400" test "$(code "$URL/pks/lookup?op=get&search=%zz")" = 400
check "malformed key ID: 400" test "$(code "$URL/pks/lookup?op=get&search=0x12345")" = 400
check "unknown op: 501" test "$(code "$URL/pks/lookup?op=frobnicate&search=x")" = 501
check "huge query: 414" test "$(code "$URL/pks/lookup?op=get&search=$(head -c 9000 /dev/zero | tr '\0' a)")" = 414
check "wrong method on lookup: 405" test "$(code -X POST "$URL/pks/lookup?op=get&search=x")" = 405
check "add without keytext: 400" test "$(code --data 'foo=bar' "$URL/pks/add")" = 400
check "add with garbage armor: 400" test "$(code --data-urlencode 'keytext=-----BEGIN PGP PUBLIC KEY BLOCK-----

!!!!
-----END PGP PUBLIC KEY BLOCK-----' "$URL/pks/add")" = 400
head -c 6000000 /dev/zero | tr '\0' a >"$D/big"
check "body over the limit: 413" test "$(code --data-binary @"$D/big" "$URL/pks/add")" = 413
check "the gateway still serves after all that" test "$(code "$URL/pks/health")" = 200
ETAG=$(curl -s -D - -o /dev/null "$URL/pks/lookup?op=get&options=mr&search=0x$FPR" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
check "ETag on key answers, 304 for If-None-Match" test "$(code -H "If-None-Match: $ETAG" "$URL/pks/lookup?op=get&options=mr&search=0x$FPR")" = 304
finish
