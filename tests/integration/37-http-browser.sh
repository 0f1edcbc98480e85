#!/usr/bin/env bash
# Headless Chromium against the gateway: the home page with its search form, a search as the
# form submits it, and the key page reached through the first result's link. Screenshots are
# kept in build/test-logs/screenshots/.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
SHOTS=$OKS_ROOT/build/test-logs/screenshots
mkdir -p "$SHOTS"
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
OKS_CONFIG=$D/oks.conf "$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-role-keys.gpg >/dev/null
U=http://127.0.0.1:$P
browse() { # name url: screenshot + DOM
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$D/profile" \
    --window-size=1024,768 --screenshot="$SHOTS/$1.png" "$2" >/dev/null 2>&1
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$D/profile" \
    --dump-dom "$2" 2>/dev/null >"$D/$1.html"
}
browse home "$U/"
check "home page renders with a search form (screenshot home.png)" \
  bash -c "test -s '$SHOTS/home.png' && grep -q 'name=\"search\"' '$D/home.html'"
# the form is GET /pks/lookup with op=index and the typed text
browse search "$U/pks/lookup?op=index&search=Debian+Security"
check "search results list keys with links (screenshot search.png)" \
  bash -c "test -s '$SHOTS/search.png' && grep -q 'op=get&amp;search=0x' '$D/search.html'"
href=$(grep -o 'href="/pks/lookup?op=get&amp;search=0x[0-9A-F]*"' "$D/search.html" | head -1 |
       sed 's/^href="//; s/"$//; s/&amp;/\&/')
browse key "$U$href"
check "the first result's key page shows the armored key (screenshot key.png)" \
  bash -c "test -s '$SHOTS/key.png' && grep -q 'BEGIN PGP PUBLIC KEY BLOCK' '$D/key.html'"
finish
