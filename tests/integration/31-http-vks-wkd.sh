#!/usr/bin/env bash
# VKS (keys.openpgp.org API) and WKD on the HTTP gateway: lookups by fingerprint, key ID and
# e-mail, JSON upload, error codes; WKD hashes as GnuPG computes them, only the asked address's
# user ID served, policy file, unknown domains refused.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home); G2=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"; rm -rf "$D"; }
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" --wkd-domains "example.org" >/dev/null ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
"$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-maintainers.gpg >/dev/null
U=http://127.0.0.1:$P
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
FPR=740D7FE2AB3143E86C8FD12300186602339240CB

curl -s -D "$D/h" -o "$D/k.asc" "$U/vks/v1/by-fingerprint/$FPR"
check "VKS by-fingerprint: 200 with an attachment named after the fingerprint" \
  grep -qi "filename=\"$FPR.asc\"" "$D/h"
check "VKS by-fingerprint: the key imports into gpg" gpg --homedir "$G" --batch --import "$D/k.asc"
check "VKS by-keyid: 200" test "$(code "$U/vks/v1/by-keyid/00186602339240CB")" = 200
check "VKS by-email (url-encoded @): 200" test "$(code "$U/vks/v1/by-email/atzlinux%40sina.com")" = 200
check "VKS unknown fingerprint: 404" test "$(code "$U/vks/v1/by-fingerprint/0000000000000000000000000000000000000001")" = 404
check "VKS malformed fingerprint: 400" test "$(code "$U/vks/v1/by-fingerprint/XYZ")" = 400
check "VKS malformed e-mail: 400" test "$(code "$U/vks/v1/by-email/nobody")" = 400

gpg --homedir "$G" --batch --passphrase '' --pinentry-mode loopback \
  --quick-gen-key "Joe Doe <Joe.Doe@Example.ORG>" ed25519 sign never 2>/dev/null
gpg --homedir "$G" --batch --passphrase '' --pinentry-mode loopback \
  --quick-add-uid Joe.Doe@Example.ORG "Joe at work <joe@work.test>" 2>/dev/null
JFPR=$(gpg --homedir "$G" --with-colons --list-keys Joe.Doe@Example.ORG | awk -F: '$1=="fpr"{print $10; exit}')
gpg --homedir "$G" --armor --export "$JFPR" |
  /usr/bin/python3 -c 'import json,sys;print(json.dumps({"keytext":sys.stdin.read()}))' >"$D/up.json"
curl -s -H 'Content-Type: application/json' --data @"$D/up.json" "$U/vks/v1/upload" >"$D/up.out"
check "VKS upload answers key_fpr and the addresses" \
  /usr/bin/python3 -c "import json,sys; j=json.load(open('$D/up.out')); sys.exit(not (j['key_fpr']=='$JFPR' and 'joe@work.test' in j['status']))"
check "VKS upload of non-JSON: 400 with a JSON error" \
  bash -c "curl -s -w '%{http_code}' --data garbage '$U/vks/v1/upload' | tr -d '\\n' | grep -q 'error.*400$'"

H=$(/usr/lib/gnupg/gpg-wks-client --print-wkd-hash Joe.Doe@Example.ORG | awk '{print $1}')
check "GnuPG's WKD hash of Joe.Doe is the draft's vector" test "$H" = iy9q119eutrkn8s1mk4r39qejnbu3n5q
curl -s -o "$D/wkd.bin" -w '%{http_code}' -H 'Host: example.org' "$U/.well-known/openpgpkey/hu/$H?l=Joe.Doe" >"$D/wkd.code"
check "WKD direct method: 200" test "$(cat "$D/wkd.code")" = 200
gpg --homedir "$G2" --batch --import "$D/wkd.bin" 2>/dev/null
uids=$(gpg --homedir "$G2" --with-colons --list-keys "$JFPR" 2>/dev/null | grep -c '^uid')
check "WKD serves the key with only the asked address's user ID ($uids)" test "$uids" = 1
check "WKD advanced method: 200" \
  test "$(code "$U/.well-known/openpgpkey/example.org/hu/$H?l=joe.doe")" = 200
check "WKD policy file: 200" test "$(code -H 'Host: example.org' "$U/.well-known/openpgpkey/policy")" = 200
check "WKD for a domain not served: 404" \
  test "$(code -H 'Host: other.test' "$U/.well-known/openpgpkey/hu/$H?l=joe.doe")" = 404
check "WKD with a hash that does not match l=: 404" \
  test "$(code -H 'Host: example.org' "$U/.well-known/openpgpkey/hu/ybndrfg8ejkmcpqxot1uwisza345h769?l=joe.doe")" = 404
finish
