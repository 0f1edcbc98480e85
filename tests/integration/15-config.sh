#!/usr/bin/env bash
# oks.conf is checked by every program at start (lib/conf.c): an unknown key or a bad value
# stops each daemon with FILE:LINE: [section] key: reason and exit status 1, before it binds or
# connects anything; sizes take K/M/G suffixes (max_body = 5M is 5 MiB), end to end.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
B=$OKS_BIN

P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 1 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null
GOOD=$D/c/oks.conf
check "deploy/local.sh writes a config that passes oksctl config check" \
  "$B/oksctl" config check -c "$GOOD"
check "deploy/oks.conf.example passes oksctl config check" \
  "$B/oksctl" config check -c "$OKS_ROOT/deploy/oks.conf.example"

# FILE NAME LINES...: the good config with LINES appended to its [http] section (the last one)
variant() {
  local f=$D/$1.conf; shift
  { cat "$GOOD"; printf '%s\n' "$@"; } >"$f"
  echo "$f"
}
UNKNOWN=$(variant unknown "max_bodyy = 5M")
BADSIZE=$(variant badsize "max_body = 5X")
LINE=$(wc -l <"$UNKNOWN")

# refuses PROG-LABEL CONFIG EXPECTED CMD...: CMD exits 1 (not by the timeout, which only bounds
# a daemon that wrongly starts) and prints EXPECTED
refuses() {
  local label=$1 conf=$2 want=$3 out rc; shift 3
  out=$(OKS_CONFIG=$conf timeout 20 "$@" 2>&1); rc=$?
  if [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok "$label"
  else not_ok "$label (exit $rc: $(head -c 300 <<<"$out"))"; fi
}
for c in unknown badsize; do
  conf=$D/$c.conf
  if [ "$c" = unknown ]; then want="$conf:$LINE: [http] max_bodyy: unknown key"
  else want="$conf:$LINE: [http] max_body: '5X' is not a size"; fi
  refuses "oks-shard refuses a config with $c" "$conf" "$want" "$B/oks-shard" -c "$conf" --name s0
  refuses "oks-router refuses a config with $c" "$conf" "$want" "$B/oks-router" -c "$conf"
  refuses "oks-gw-http refuses a config with $c" "$conf" "$want" "$B/oks-gw-http" -c "$conf"
  refuses "oks-gw-mail refuses a config with $c" "$conf" "$want" "$B/oks-gw-mail" -c "$conf" --once
  refuses "oks-sync refuses a config with $c" "$conf" "$want" "$B/oks-sync" run -c "$conf"
  refuses "oks-sync (--tree given) refuses a config with $c" "$conf" "$want" \
    "$B/oks-sync" run -c "$conf" --tree "$D/tree"
  refuses "oksctl refuses a config with $c" "$conf" "$want" "$B/oksctl" stats
  refuses "oksctl config check refuses a config with $c" "$conf" "$want" \
    "$B/oksctl" config check -c "$conf"
done
check "nothing was left listening on the HTTP port" \
  bash -c "! curl -s -o /dev/null --max-time 2 http://127.0.0.1:$P/pks/health"

# the same cluster with sizes written with units: every daemon starts, and the gateway's body
# limit is 4 KiB (a 6 KiB body: 413), then 5 MiB (the same body goes through to the key parser)
with_sizes() { # MAX_BODY
  sed -e "s/^\[cluster\]$/[cluster]\nmax_message_bytes = 64M/" \
    -e "s/^\[router\]$/[limits]\nmax_key_bytes = 1M\n\n[router]/" "$GOOD" >"$D/sized.conf"
  echo "max_body = $1" >>"$D/sized.conf"
  cp "$D/sized.conf" "$GOOD"
}
cp "$GOOD" "$D/orig.conf"
status() { # body size in bytes -> HTTP status of a /pks/add with that body
  head -c "$1" /dev/zero | tr '\0' a | sed 's/^/keytext=/' |
    curl -s -o /dev/null -w '%{http_code}' --data-binary @- "http://127.0.0.1:$P/pks/add"
}
for size in 4K 5M; do
  cp "$D/orig.conf" "$GOOD"
  with_sizes "$size"
  if bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null; then
    ok "shard, router and gateway start with max_message_bytes = 64M, max_key_bytes = 1M, max_body = $size"
    wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$P/pks/health" >/dev/null
    got=$(status 6144)
    if [ "$size" = 4K ]; then check "max_body = 4K: a 6 KiB upload is refused (413, got $got)" test "$got" = 413
    else check "max_body = 5M: a 6 KiB upload reaches the key parser (not 413, got $got)" \
      bash -c "[ '$got' != 413 ] && [ '$got' != 000 ]"; fi
  else
    not_ok "the cluster starts with sizes written with units ($size)"
  fi
  bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c" >/dev/null
done
finish
