#!/usr/bin/env bash
# HTML pages: a key whose user ID carries <script> and "'& is escaped on every page that shows
# it (index, vindex, get, stats, home); pages are well-formed enough for a browser.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; rm -rf "$D"; }
trap cleanup EXIT
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
gpg --homedir "$G" --batch --passphrase '' --pinentry-mode loopback \
  --quick-gen-key "Mallory <script>alert(1)</script> \"'& <xss@example.org>" ed25519 sign never 2>/dev/null
gpg --homedir "$G" --armor --export xss@example.org >"$D/xss.asc"
check "the key is accepted by /pks/add" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode keytext@"$D/xss.asc" "$U/pks/add")" = 200
FPR=$(gpg --homedir "$G" --with-colons --list-keys xss@example.org | awk -F: '$1=="fpr"{print $10; exit}')
for page in "op=index&search=xss@example.org" "op=vindex&search=xss@example.org" \
            "op=index&search=mallory" "op=get&search=0x$FPR"; do
  curl -s "$U/pks/lookup?$page" >"$D/page.html"
  if grep -q '<script>' "$D/page.html" || grep -q "\"'&[^a#]" "$D/page.html"; then
    not_ok "$page: the user ID is not escaped"
  elif [ "${page#op=get}" = "$page" ] && ! grep -q '&lt;script&gt;alert(1)&lt;/script&gt; &quot;&#39;&amp;' "$D/page.html"; then
    not_ok "$page: the escaped user ID is missing"
  else
    ok "$page: user ID shown escaped"
  fi
done
check "the mr index keeps the user ID (percent-encoded only where the format requires)" \
  bash -c "curl -s '$U/pks/lookup?op=index&options=mr&search=xss@example.org' | grep -q 'uid:Mallory <script>alert(1)</script> \"'\"'\"'& <xss@example.org>'"
for page in "/" "/pks/lookup?op=stats"; do
  curl -s "$U$page" >"$D/p.html"
  check "$page is an HTML page" grep -q '</html>' "$D/p.html"
done
check "a browser (Accept: text/html) gets an HTML error page" \
  bash -c "curl -s -H 'Accept: text/html' '$U/pks/lookup?op=get&search=0x0000000000000001' | grep -q '<h1>404 Not Found</h1>'"

# customised templates: dump the defaults, change two, point [http] templates at them
"$OKS_BIN/oks-gw-http" dump-templates "$D/tpl" >/dev/null
check "dump-templates writes the seven page templates and the style sheet" test "$(ls "$D/tpl" | wc -l)" = 8
sed -i 's|<h1>OKS keyserver</h1>|<h1>Keyserver of Example Org</h1>|' "$D/tpl/home.html"
sed -i 's|{{uid}}|[{{uid}}]|' "$D/tpl/index.html"
P2=$(free_port)
sed -e "s|^listen = .*|listen = 127.0.0.1:$P2|" "$D/oks.conf" >"$D/custom.conf"
echo "templates = $D/tpl" >>"$D/custom.conf"
"$OKS_BIN/oks-gw-http" -c "$D/custom.conf" --log "$D/gw2.log" &
GW2=$!
wait_for 10 curl -sf "http://127.0.0.1:$P2/pks/health"
check "the home page comes from the custom template" \
  bash -c "curl -s 'http://127.0.0.1:$P2/' | grep -q 'Keyserver of Example Org'"
check "custom index template still escapes user IDs" \
  bash -c "curl -s 'http://127.0.0.1:$P2/pks/lookup?op=index&search=xss@example.org' | grep -q '\[Mallory &lt;script&gt;'"
kill $GW2 2>/dev/null
wait $GW2 2>/dev/null

# a broken custom template stops the gateway at start, naming the file and the byte
printf '<p>{{#keys}}unclosed</p>\n' >"$D/tpl/index.html"
timeout 20 "$OKS_BIN/oks-gw-http" -c "$D/custom.conf" >/dev/null 2>"$D/gw3.err"; rc=$?
check "a broken template makes the gateway exit with an error at start (rc=$rc)" test "$rc" = 1
check "the error names the template file and the byte" \
  grep -q "tpl/index.html: section 'keys' is not closed (at byte 3)" "$D/gw3.err"
finish
