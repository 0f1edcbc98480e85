#!/usr/bin/env bash
# A real browser (headless Debian chromium) against the HTML pages: the home page shows the
# search form; submitting it (the URL the form produces) lists the key with its escaped user
# ID and a link to the key page; following that link shows the armored key. The rendered DOM
# is checked and each page is saved as a screenshot in build/test-logs/screenshots/.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; rm -rf "$D"; }
trap cleanup EXIT
ART=$OKS_ROOT/build/test-logs/screenshots
mkdir -p "$ART"
command -v chromium >/dev/null || { not_ok "chromium is installed (deploy/deps.sh)"; finish; }
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
gpg --homedir "$G" --batch --passphrase '' --pinentry-mode loopback \
  --quick-gen-key "Browser Test <b>&amp; <browser@example.org>" ed25519 sign never 2>/dev/null
gpg --homedir "$G" --armor --export browser@example.org >"$D/k.asc"
FPR=$(gpg --homedir "$G" --with-colons --list-keys browser@example.org | awk -F: '$1=="fpr"{print $10; exit}')
check "the key is accepted by /pks/add" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode keytext@"$D/k.asc" "$U/pks/add")" = 200

# browser NAME URL: loads URL headless, writes the rendered DOM to $D/NAME.html and the
# screenshot to $ART/NAME.png (a fresh profile each time; bounded by timeout)
browser() {
  local flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions
               --user-data-dir="$D/profile" --window-size=1024,768)
  timeout 60 chromium "${flags[@]}" --dump-dom "$2" >"$D/$1.html" 2>/dev/null &&
    timeout 60 chromium "${flags[@]}" --screenshot="$ART/$1.png" "$2" >/dev/null 2>&1
}
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$1")" -gt 2000 ]; }

check "chromium loads the home page" browser home "$U/"
check "home page: search form with a search field" \
  grep -q '<form action="/pks/lookup" method="get" id="search">.*' "$D/home.html"
check "home page: text input named search" grep -q '<input type="text" name="search"' "$D/home.html"
check "home page screenshot saved ($ART/home.png)" is_png "$ART/home.png"

# what submitting the form sends: its fields, form-urlencoded, in document order
Q=$(/usr/bin/python3 - "$D/home.html" <<'PY'
import html.parser, sys, urllib.parse
class F(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.inform = False; s.fields = []; s.action = None
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "form" and a.get("id") == "search": s.inform = True; s.action = a["action"]
        elif tag == "input" and s.inform and a.get("name"):
            s.fields.append((a["name"], a.get("value") or "browser@example.org"))
    def handle_endtag(s, tag):
        if tag == "form": s.inform = False
f = F(); f.feed(open(sys.argv[1]).read())
print(f.action + "?" + urllib.parse.urlencode(f.fields))
PY
)
check "the search form submits to /pks/lookup with op=index and the search text" \
  test "$Q" = "/pks/lookup?op=index&search=browser%40example.org"
check "chromium loads the search result" browser search "$U$Q"
check "search result: the key's fingerprint is listed" grep -q "$FPR" "$D/search.html"
check "search result: the user ID is shown as text, escaped" \
  grep -q 'Browser Test &lt;b&gt;&amp;amp; &lt;browser@example.org&gt;' "$D/search.html"
check "search result: no <b> element came from the user ID" bash -c "! grep -q '<b>' '$D/search.html'"
check "search result screenshot saved ($ART/search.png)" is_png "$ART/search.png"

LINK=$(grep -o 'href="/pks/lookup?op=get[^"]*"' "$D/search.html" | head -1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g')
check "search result links to the key page" test "$LINK" = "/pks/lookup?op=get&search=0x$FPR"
check "chromium opens the key page" browser key "$U$LINK"
check "key page: armored key shown" grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$D/key.html"
check "key page: fingerprint shown" grep -q "$FPR" "$D/key.html"
check "key page screenshot saved ($ART/key.png)" is_png "$ART/key.png"
finish
