#!/usr/bin/env bash
# The web interface as people use it: keys with every status (a user ID revoked, a subkey
# expired, an expired key, a revoked key, a key whose user IDs are hostile: <script>, quotes,
# a right-to-left override, 1,500 characters) are uploaded; the key page shows the fingerprint
# in blocks, the status of each user ID and subkey, the usages, the download link and the gpg
# commands; search results link to key pages; the upload result names each key's outcome (a key
# with a broken self-signature: rejected, with the reason); hostile values (user IDs, the search text, the
# Host header) are escaped on every page and a NUL is refused before any page; the hard caps
# say so on the page; then the Debian chromium (tests/web/check.js, playwright-core) takes a
# screenshot of every page (home, search, vindex, key, upload form, upload result, stats, error)
# at 390 and 1280 px in the light and the dark theme into build/test-logs/web/, and axe-core
# finds no serious or critical violation on any of them. Last, a template with an unlabelled
# input makes the same check fail (it can fail).
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
SHOTS=$OKS_ROOT/build/test-logs/web
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$G"
at_exit bash "$OKS_ROOT/deploy/local.sh" down --dir "$D"
bash "$OKS_ROOT/tests/web/setup.sh" || { not_ok "npm packages of tests/web install"; finish; }
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" --recon-port "$(free_port)" >/dev/null ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
go() { gpg --homedir "$G" --batch --no-tty --passphrase '' --pinentry-mode loopback "$@" 2>/dev/null; }
fpr_of() { gpg --homedir "$G" --with-colons --list-keys "$1" 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}'; }
# Alice (made in 2020): a signing primary, a subkey that expired in 2021, an encryption subkey, an
# auth subkey,
# a second user ID and a revoked one
go --faked-system-time 20200101T000000! --quick-gen-key "Alice Example <alice@example.org>" ed25519 sign,cert never
A=$(fpr_of alice@example.org)
go --faked-system-time 20200102T000000! --quick-add-key "$A" cv25519 encr 1y
go --quick-add-key "$A" cv25519 encr 2y
go --quick-add-key "$A" ed25519 auth never
go --quick-add-uid "$A" "Alice at work <alice@work.example.org>"
go --quick-add-uid "$A" "Alice (old) <alice@old.example.org>"
go --quick-revoke-uid "$A" "Alice (old) <alice@old.example.org>"
# Bob: expired in 2021; Carol: revoked
go --faked-system-time 20200101T000000! --quick-gen-key "Bob Expired <bob@example.org>" ed25519 sign,cert 1y
B=$(fpr_of bob@example.org)
go --quick-gen-key "Carol Revoked <carol@example.org>" ed25519 sign,cert never
C=$(fpr_of carol@example.org)
sed 's/^:-----/-----/' "$G/openpgp-revocs.d/$C.rev" | go --import
# Mallory: hostile user IDs
RLO=$(printf '\xe2\x80\xae') PDF=$(printf '\xe2\x80\xac')
LONG="Mallory $(head -c 1500 /dev/zero | tr '\0' 'W') <long@example.org>"
go --quick-gen-key "Mallory <script>alert(1)</script> \"'& ${RLO}gro.elpmaxe@live${PDF} <xss@example.org>" ed25519 sign,cert never
M=$(fpr_of xss@example.org)
go --quick-add-uid "$M" "$LONG"
go --armor --export >"$D/all.asc"
go --armor --export alice@example.org >"$D/alice.asc"
check "the four keys are made (A=$A B=$B C=$C M=$M)" \
  bash -c "[ ${#A} = 40 ] && [ ${#B} = 40 ] && [ ${#C} = 40 ] && [ ${#M} = 40 ]"
check "the keys are accepted by /pks/add" \
  test "$(curl -s -o "$D/add.txt" -w '%{http_code}' --data-urlencode keytext@"$D/all.asc" "$U/pks/add")" = 200
get() { curl -s -H 'Accept: text/html' "$U$1" >"$D/$2.html"; }
has() { grep -qF -- "$2" "$D/$1.html"; }

# ---- the key page
get "/pks/lookup?op=get&search=0x$A" alice
FG=$(echo "$A" | sed -E 's/(.{4})/\1 /g; s/ $//; s/^((.{4} ){4}.{4}) /\1  /')
check "key page: the fingerprint in blocks of four ($FG)" has alice "$FG"
check "key page: gpg --recv-keys FPR" has alice "gpg --recv-keys $A"
check "key page: the --keyserver hkp://HOST:PORT form" has alice "gpg --keyserver hkp://127.0.0.1:$P --recv-keys $A"
check "key page: a download link to the armored key" \
  has alice "href=\"/pks/lookup?op=get&amp;options=mr&amp;search=0x$A\""
check "key page: the revoked user ID is marked revoked" \
  grep -qE 'alice@old.example.org&gt;</bdi></span> <span class="badge status-revoked">revoked' "$D/alice.html"
check "key page: the other user IDs are valid" \
  bash -c "grep -c 'example.org&gt;</bdi></span> <span class=\"badge status-valid\">valid' '$D/alice.html' | grep -qx 2"
check "key page: the subkey that expired in 2021 is marked expired" \
  grep -qE 'expires 2021-[0-9-]+ <span class="tag">encrypt</span><span class="badge status-expired">expired' "$D/alice.html"
check "key page: the usages (certify, sign, encrypt, auth)" \
  bash -c "grep -q '<span class=\"tag\">certify</span><span class=\"tag\">sign</span>' '$D/alice.html' && grep -q '<span class=\"tag\">auth</span>' '$D/alice.html'"
check "key page: the armored key" has alice "BEGIN PGP PUBLIC KEY BLOCK"
check "key page: lang, viewport, landmarks, both themes" \
  bash -c "grep -q '<html lang=\"en\">' '$D/alice.html' && grep -q 'name=\"viewport\"' '$D/alice.html' && grep -q '<main id=\"main\">' '$D/alice.html' && grep -q 'prefers-color-scheme:dark' '$D/alice.html'"
check "no page carries a script" bash -c "! grep -qi '<script' '$D/alice.html'"
get "/pks/lookup?op=get&search=0x$B" bob
check "the expired key's page says expired" has bob 'status-expired">expired</span> user IDs'
get "/pks/lookup?op=get&search=0x$C" carol
check "the revoked key's page says revoked" has carol 'status-revoked">revoked</span> user IDs'

# ---- search results
get "/pks/lookup?op=index&search=example.org" search
check "search results: 4 keys, each linking to its key page" \
  bash -c "has() { grep -qF -- \"\$2\" '$D/search.html'; }; has x '4 keys for'; for f in $A $B $C $M; do has x \"<a href=\\\"/pks/lookup?op=get&amp;search=0x\$f\\\">\" || exit 1; done"
check "the machine-readable index is the SKS format, untouched" \
  bash -c "curl -s '$U/pks/lookup?op=index&options=mr&search=0x$A' | head -2 | tr '\n' ' ' | grep -Eq '^info:1:1 pub:$A:22:[0-9]+:[0-9]+::'"

# ---- hostile values
for page in "op=index&search=xss@example.org" "op=vindex&search=xss@example.org" "op=get&search=0x$M"; do
  get "/pks/lookup?$page" hostile
  if grep -qi '<script' "$D/hostile.html" || grep -q "\"'&[^a#]" "$D/hostile.html"; then
    not_ok "$page: a user ID is not escaped"
  elif ! has hostile '&lt;script&gt;alert(1)&lt;/script&gt; &quot;&#39;&amp; '; then
    not_ok "$page: the escaped user ID is missing"
  elif ! grep -q "<bdi>[^<]*${RLO}gro.elpmaxe@live${PDF}" "$D/hostile.html"; then
    not_ok "$page: the right-to-left override is not isolated in a <bdi>"
  elif ! has hostile "${LONG:0:200}"; then
    not_ok "$page: the 1,500-character user ID is missing"
  else
    ok "$page: hostile user IDs escaped and isolated"
  fi
done
# Dave: his only self-signature is broken, so the cluster rejects his key
go --quick-gen-key "Dave Broken <dave@example.org>" ed25519 sign,cert never
go --export dave@example.org >"$D/dave.pgp"
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/corrupt_sig.py" "$D/dave.pgp" "$D/dave-bad.pgp" 1
gpg --enarmor <"$D/dave-bad.pgp" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/' >"$D/dave-bad.asc"
cat "$D/all.asc" "$D/dave-bad.asc" >"$D/mixed.asc"
cat "$D/alice.asc" "$D/dave-bad.asc" >"$D/alice-dave.asc"
curl -s -H 'Accept: text/html' --data-urlencode keytext@"$D/mixed.asc" "$U/pks/add" >"$D/upload.html"
check "upload result page: a line per key, escaped, with links to the key pages" \
  bash -c "grep -c 'class=\"badge outcome-unchanged\">unchanged' '$D/upload.html' | grep -qx 4 && grep -q '5 keys: 4 unchanged, 1 rejected' '$D/upload.html' && grep -c 'href=\"/pks/lookup?op=get&amp;search=0x' '$D/upload.html' | grep -qx 4 && ! grep -qi '<script' '$D/upload.html'"
check "upload result page: the rejected key with its reason, not linked" \
  bash -c "grep -A1 'outcome-rejected\">rejected' '$D/upload.html' | grep -q '^<p>[^<]\+</p>$'"
get "/pks/lookup?op=index&search=%22%3E%3Cscript%3Ealert%20mallory" hsearch
check "a hostile search text is escaped on the results page, in text and in the search box's value" \
  bash -c "grep -qF '<bdi>&quot;&gt;&lt;script&gt;alert mallory</bdi>' '$D/hsearch.html' && grep -qF 'value=\"&quot;&gt;&lt;script&gt;alert mallory\"' '$D/hsearch.html' && ! grep -qi '<script' '$D/hsearch.html'"
get "/pks/lookup?op=index&search=mallory%27%20%27script%22" hquote
check "quotes in the search text cannot close an attribute" \
  bash -c "grep -qF 'value=\"mallory&#39; &#39;script&quot;\"' '$D/hquote.html' && ! grep -q \"mallory' \" '$D/hquote.html'"
curl -s -H 'Accept: text/html' -H 'Host: "><script>x</script>' "$U/" >"$D/hhost.html"
check "a hostile Host header is neither echoed nor offered as a keyserver" \
  bash -c "grep -q '</html>' '$D/hhost.html' && ! grep -qi 'script' '$D/hhost.html'"
check "a NUL in the search is refused (400) before any page" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: text/html' "$U/pks/lookup?op=index&search=a%00b")" = 400
check "GET /pks/add: browsers get the upload form, other clients still 405" \
  bash -c "curl -s -H 'Accept: text/html' '$U/pks/add' | grep -q '<label for=\"keytext\">' && test \$(curl -s -o /dev/null -w '%{http_code}' '$U/pks/add') = 405"
get "/pks/lookup?op=stats" stats
check "stats page: the shards table and the sync section" \
  bash -c "grep -q '<caption id=\"t-shards\">Shards</caption>' '$D/stats.html' && grep -q '2 / 2</strong> shards up' '$D/stats.html' && grep -q 'Recon partners' '$D/stats.html'"

# ---- a second gateway: the hard cap on results says so; an unlabelled input fails axe
"$OKS_BIN/oks-gw-http" dump-templates "$D/tpl" >/dev/null
sed -i 's|<label for="keytext">Public key block</label>||' "$D/tpl/submit.html"
P2=$(free_port)
sed -e "/^\[http\]/,/^\[/ s/^listen *=.*/listen = 127.0.0.1:$P2/" "$D/oks.conf" >"$D/second.conf"
sed -i "/^\[http\]/a max_results = 2\ntemplates = $D/tpl" "$D/second.conf"
"$OKS_BIN/oks-gw-http" -c "$D/second.conf" --log "$D/gw2.log" >/dev/null 2>&1 &
GW2=$!
at_exit kill "$GW2"
wait_for 20 curl -sf "http://127.0.0.1:$P2/pks/health" >/dev/null
curl -s -H 'Accept: text/html' "http://127.0.0.1:$P2/pks/lookup?op=index&search=example.org" >"$D/capped.html"
check "a search over the max_results cap says the list is cut" \
  grep -q 'At most 2 keys are listed' "$D/capped.html"

# ---- the browser: screenshots and axe-core, every page, both widths, both themes
( cd "$OKS_ROOT/tests/web" && timeout 300 node check.js "$U" "$SHOTS" "$D/alice-dave.asc" "$A" ) >"$D/axe.out" 2>&1
rc=$?
sed 's/^/# /' "$D/axe.out"
check "chromium + axe-core: no serious or critical violation on 8 pages x 2 widths x 2 themes (rc=$rc)" \
  bash -c "[ $rc = 0 ] && [ \$(grep -c '^ok ' '$D/axe.out') = 32 ]"
check "32 screenshots, PNG" \
  bash -c "[ \$(ls '$SHOTS'/*.png | wc -l) = 32 ] && for f in '$SHOTS'/*.png; do [ \"\$(head -c 4 \"\$f\" | od -An -tx1 | tr -d ' \n')\" = 89504e47 ] || exit 1; done"
mkdir -p "$D/neg"
( cd "$OKS_ROOT/tests/web" && PAGES=upload WIDTHS=390 SCHEMES=light timeout 120 \
    node check.js "http://127.0.0.1:$P2" "$D/neg" "$D/alice.asc" "$A" ) >"$D/neg.out" 2>&1
rc=$?
sed 's/^/# /' "$D/neg.out"
check "the check fails on an input without a label (rc=$rc)" \
  bash -c "[ $rc = 1 ] && grep -Eq '^not ok upload-390-light: (serious|critical) label' '$D/neg.out'"
finish
