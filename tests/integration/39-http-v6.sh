#!/usr/bin/env bash
# v6 keys (the RFC 9580 A.3 certificate) are stored and served only to clients that say they
# parse them; dirmngr 2.2/2.4 (no User-Agent) never gets them. CORS on every answer.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
V6=CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9
check "the v6 certificate is accepted by /pks/add" test "$(curl -s -o /dev/null -w '%{http_code}' \
  --data-urlencode keytext@"$OKS_ROOT/tests/data/rfc9580-a3.asc" "$U/pks/add")" = 200
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "no User-Agent (dirmngr 2.2/2.4): the v6 key is not served" \
  test "$(code -H 'User-Agent:' "$U/pks/lookup?op=get&options=mr&search=0x$V6")" = 404
check "GnuPG 2.4 User-Agent: not served" \
  test "$(code -H 'User-Agent: GnuPG/2.4.4' "$U/pks/lookup?op=get&options=mr&search=0x$V6")" = 404
check "GnuPG 2.5 User-Agent: served" \
  test "$(code -H 'User-Agent: GnuPG/2.5.1' "$U/pks/lookup?op=get&options=mr&search=0x$V6")" = 200
check "Sequoia User-Agent: served" \
  test "$(code -H 'User-Agent: sequoia-openpgp/1.12' "$U/pks/lookup?op=get&options=mr&search=0x$V6")" = 200
check "VKS serves v6 keys" test "$(code "$U/vks/v1/by-fingerprint/$V6")" = 200
check "answers carry Access-Control-Allow-Origin: *" \
  bash -c "curl -s -D - -o /dev/null '$U/pks/lookup?op=stats' | tr -d '\r' | grep -qi '^access-control-allow-origin: \*'"
finish
