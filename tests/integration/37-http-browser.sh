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
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
check "home.png is a PNG image" is_png "$SHOTS/home.png"
# what submitting the rendered form sends: its fields, form-urlencoded, in document order
Q=$(/usr/bin/python3 - "$D/home.html" <<'PY'
import html.parser, sys, urllib.parse
class F(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.inform = False; s.fields = []; s.action = None
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "form" and a.get("id") == "search": s.inform = True; s.action = a["action"]
        elif tag == "input" and s.inform and a.get("name"):
            s.fields.append((a["name"], a.get("value") or "Debian Security"))
    def handle_endtag(s, tag):
        if tag == "form": s.inform = False
f = F(); f.feed(open(sys.argv[1]).read())
print(f"{f.action}?{urllib.parse.urlencode(f.fields)}")
PY
)
check "the rendered search form submits GET /pks/lookup with op=index and the typed text" \
  test "$Q" = "/pks/lookup?op=index&search=Debian+Security"
browse search "$U$Q"
check "search results list keys with links (screenshot search.png)" \
  bash -c "test -s '$SHOTS/search.png' && grep -q 'op=get&amp;search=0x' '$D/search.html'"
href=$(grep -o 'href="/pks/lookup?op=get&amp;search=0x[0-9A-F]*"' "$D/search.html" | head -1 |
       sed 's/^href="//; s/"$//; s/&amp;/\&/')
browse key "$U$href"
check "the first result's key page shows the armored key (screenshot key.png)" \
  bash -c "test -s '$SHOTS/key.png' && grep -q 'BEGIN PGP PUBLIC KEY BLOCK' '$D/key.html'"
FPR=${href##*search=0x}
check "the key page shows the fingerprint of the linked key ($FPR)" \
  bash -c "[ \${#1} -ge 40 ] && grep -q \"\$1\" '$D/key.html'" _ "$FPR"
check "search.png and key.png are PNG images" bash -c "$(declare -f is_png); is_png '$SHOTS/search.png' && is_png '$SHOTS/key.png'"
finish
