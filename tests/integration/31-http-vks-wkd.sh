#!/usr/bin/env bash
# VKS (keys.openpgp.org API) and WKD on the HTTP gateway: lookups by fingerprint, key ID and
# e-mail, JSON upload, error codes; WKD hashes as GnuPG computes them, only the asked address's
# user ID served, policy file, unknown domains refused. JSON answers stay valid JSON for user IDs
# with quotes, backslashes, non-ASCII and invalid UTF-8 (U+FFFD), checked with jq and a strict
# UTF-8 decoder.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home); G2=$(gpg_home); G3=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"; gpg_home_cleanup "$G3"; rm -rf "$D"; }
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

# strict: the body must decode as UTF-8 and parse as one JSON document
strict_json() { /usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))'; }
Q='Qu"o\te <A"b\c@Exämple.org>'   # the address: a"b\c@exämple.org (ASCII lowercased)
gpg3() { gpg --homedir "$G3" --batch --passphrase '' --pinentry-mode loopback --allow-freeform-uid --utf8-strings "$@"; }
gpg3 --quick-gen-key "$Q" ed25519 sign never 2>/dev/null
QFPR=$(gpg3 --with-colons --list-keys 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
gpg3 --quick-add-uid "$QFPR" "$(printf 'Bad bytes <b\xffx@example.org>')" 2>/dev/null
gpg3 --quick-add-uid "$QFPR" 'Zoë <zoë@example.org>' 2>/dev/null
gpg3 --armor --export "$QFPR" |
  /usr/bin/python3 -c 'import json,sys;print(json.dumps({"keytext":sys.stdin.read()}))' >"$D/upq.json"
curl -s -H 'Content-Type: application/json' --data @"$D/upq.json" "$U/vks/v1/upload" >"$D/upq.out"
check "VKS upload of hostile user IDs: valid JSON (strict UTF-8)" strict_json <"$D/upq.out"
check "VKS upload: the address with a quote and a backslash is listed, escaped" \
  jq -e --arg a 'a"b\c@exämple.org' '.status[$a] == "published"' "$D/upq.out"
check "VKS upload: the non-ASCII address is listed as UTF-8" \
  jq -e '.status["zoë@example.org"] == "published"' "$D/upq.out"
check "VKS upload: the invalid UTF-8 byte is U+FFFD" \
  jq -e '.status["b\ufffdx@example.org"] == "published"' "$D/upq.out"
check "VKS upload: the quote and the backslash are escaped on the wire" grep -qF '"a\"b\\c@' "$D/upq.out"
check "VKS upload: key_fpr of the hostile key" jq -e --arg f "$QFPR" '.key_fpr == $f' "$D/upq.out"
check "VKS by-email finds the address with a quote and a backslash" \
  test "$(code "$U/vks/v1/by-email/a%22b%5Cc%40ex%C3%A4mple.org")" = 200
curl -s --data '{"keytext":"x","keytext":"y"}' "$U/vks/v1/upload" >"$D/dup.out"
check "VKS upload with a duplicate member: a JSON error" jq -e '.error | test("duplicate")' "$D/dup.out"
curl -s "$U/pks/lookup?op=stats&options=mr" >"$D/stats.json"
check "op=stats&options=mr is JSON with the total and the shards" \
  jq -e '(.total_keys > 0) and (.shards | length == 2)' "$D/stats.json"

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
