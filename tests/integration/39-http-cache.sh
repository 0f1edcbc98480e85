#!/usr/bin/env bash
# The gateway's answer cache: repeated machine-readable lookups are served from memory, and
# whatever changes a key behind the gateway's back (an import through the router, a delete, a
# new key matching a search) shows in its answers once the change logs are read again; an
# upload through the gateway itself shows at once; with the router gone, cached answers stop
# being served.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
cleanup() { gpg_home_cleanup "$G"; rm -rf "$D"; }
at_exit cleanup
P=$(free_port)
cluster_up "$D" --shards 2 --http-port "$P" \
  --http-opt cache_check_ms=100 --http-opt cache_max_stale_ms=1000 ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
export OKS_CONFIG=$D/oks.conf
g() { gpg --homedir "$G" --batch --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
g --quick-gen-key 'Cache One <cache@example.org>' ed25519 sign never
FPR=$(g --with-colons --list-keys cache@example.org | awk -F: '$1=="fpr"{print $10; exit}')
g --export "$FPR" >"$D/k1.gpg"
"$OKS_BIN/oksctl" import --quiet "$D/k1.gpg" >/dev/null
GET="$U/pks/lookup?op=get&options=mr&search=0x$FPR"
IDX="$U/pks/lookup?op=index&options=mr&search=cache@example.org"
hits() { curl -s "$U/metrics" | awk '/^oks_http_cache_lookups_total\{result="hit"\}/{print $2}'; }
uids_of() { curl -s "$GET" | gpg --show-keys --with-colons 2>/dev/null | grep -c '^uid:'; }
has_uids() { [ "$(uids_of)" = "$1" ]; }

# served from the cache: the hit counter moves (answers computed while the import was still
# being read from the change logs are rightly not kept, hence the retry)
from_cache() { local h; h=$(hits); curl -s "$1" -o "$2"; [ "$(hits)" -gt "$h" ]; }
curl -s "$GET" -o "$D/a1"; curl -s "$IDX" -o "$D/i1"
check "a repeated get is served from the cache" wait_for 10 from_cache "$GET" "$D/a2"
check "a repeated index is served from the cache" wait_for 10 from_cache "$IDX" "$D/i2"
check "... with the same bytes" cmp -s "$D/a1" "$D/a2"
check "... and the same index" cmp -s "$D/i1" "$D/i2"
check "... and the same ETag (304 on If-None-Match)" test "$(curl -s -o /dev/null -w '%{http_code}' \
  -H "If-None-Match: $(curl -s -D - -o /dev/null "$GET" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')" "$GET")" = 304

# changed behind the gateway's back (import through the router)
g --quick-add-uid "$FPR" 'Cache Two <cache2@example.org>'
g --export "$FPR" >"$D/k2.gpg"
"$OKS_BIN/oksctl" import --quiet "$D/k2.gpg" >/dev/null
check "a key updated through the router is served updated within seconds" wait_for 10 has_uids 2

# a new key matching a cached search
g --quick-gen-key 'Cache Other <cache@example.org>' ed25519 sign never
FPR2=$(g --with-colons --list-keys 'Cache Other' | awk -F: '$1=="fpr"{print $10; exit}')
g --export "$FPR2" >"$D/k3.gpg"
curl -s "$IDX" >/dev/null; curl -s "$IDX" >/dev/null
"$OKS_BIN/oksctl" import --quiet "$D/k3.gpg" >/dev/null
check "a cached search shows a new matching key within seconds" \
  wait_for 10 bash -c "curl -s '$IDX' | grep -q '^info:1:2'"

# an upload through the gateway shows at once (read your writes on one gateway)
g --quick-add-uid "$FPR" 'Cache Three <cache3@example.org>'
curl -s "$GET" >/dev/null
code_add=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "keytext=$(g --armor --export "$FPR")" "$U/pks/add")
check "upload through the gateway accepted ($code_add)" test "$code_add" = 200
check "... and the next get shows it without waiting" has_uids 3

# deleted
"$OKS_BIN/oksctl" delete --reason "test: the cache must forget it" "$FPR2" >/dev/null
gone() { [ "$(http_code "$U/pks/lookup?op=get&options=mr&search=0x$FPR2")" = 404 ]; }
check "a deleted key turns 404" wait_for 10 gone

# no router: cached answers are not served forever
curl -s "$GET" >/dev/null; curl -s "$GET" >/dev/null
kill -9 "$(cat "$D/run/router.pid")"
check "with the router gone a cached key turns 503 once the change logs are unread" \
  wait_for 15 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$GET')\" = 503 ]"
check "the gateway logged that the change logs are unreadable" \
  wait_for 15 grep -q 'answer cache: change logs unreadable' "$D"/log/gw-http.log
finish
