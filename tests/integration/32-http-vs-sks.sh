#!/usr/bin/env bash
# The same debian-keyring keys in a real SKS and in OKS: op=index&options=mr answers name the
# same keys with the same fields for searches by fingerprint, long key ID, e-mail and words, and
# op=get answers import into gpg with the same result.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
KR=/usr/share/keyrings/debian-keyring.gpg
hkp=$(free_port); recon=$(free_port); P=$(free_port)
sks_start "$D/sks" "$hkp" "$recon" "$KR" || { not_ok "SKS starts"; finish; }
cluster_up "$D/oks" --shards 2 --http-port "$P" ||
  { not_ok "OKS starts"; finish; }
OKS_CONFIG=$D/oks/oks.conf "$OKS_BIN/oksctl" import --quiet "$KR" >/dev/null
ok "SKS on $hkp and OKS on $P hold $KR"
"$OKS_BIN/oksctl" inspect --json "$KR" >"$D/keys.json"
/usr/bin/python3 - "$D/keys.json" "$hkp" "$P" "$D" <<'PY'
import json, re, sys, urllib.request, urllib.error, urllib.parse
keys = [json.loads(l) for l in open(sys.argv[1])]
sks, oks, d = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def index(port, search):
    q = urllib.parse.urlencode({"op": "index", "options": "mr", "search": search})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/pks/lookup?{q}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
def parse(body, sks_side):
    out, cur = {}, None
    for line in body.split(b"\n"):
        line = line.rstrip(b"\r")
        if sks_side:  # SKS escapes '%' as '%%' and leaves control bytes raw; OKS fixes both
            line = line.replace(b"%%", b"%25")
            line = re.sub(rb"[\x00-\x1f\x7f]", lambda m: b"%%%02X" % m.group(0)[0], line)
        if line.startswith(b"pub:"):
            cur = line.split(b":")[1]; out[cur] = [line]
        elif line.startswith((b"uid:", b"uat:")) and cur:
            # uid flags: SKS never sets them; OKS marks a user ID revoked by a verified
            # self-revocation ("r"), which gpg ignores anyway -- compare without that field
            f = line.split(b":")
            out[cur].append(b":".join(f[:4]))
    return out
sample = keys[::9]
plans = []
for k in sample:
    plans.append(("fingerprint", "0x" + k["fingerprint"], "equal"))
    plans.append(("long key ID", "0x" + k["keyid"], "equal"))
    mails = [u[u.rindex("<") + 1:-1] for u in k["uids"] if "<" in u and u.endswith(">")]
    if mails:
        plans.append(("e-mail", mails[0], "subset"))
    words = [w for w in re.split(r"[^A-Za-z]+", k["uids"][0].split("<")[0]) if len(w) > 2][:2] if k["uids"] else []
    if len(words) == 2:
        plans.append(("words", " ".join(words), "equal"))
bad = {}
counts = {}
for kind, search, rule in plans:
    counts[kind] = counts.get(kind, 0) + 1
    s_st, s_body = index(sks, search)
    o_st, o_body = index(oks, search)
    if s_st != 200:
        continue  # SKS refuses over-broad word searches with 500; nothing to compare
    s, o = parse(s_body, True), parse(o_body, False)
    same_keys = set(o) == set(s) if rule == "equal" else (o and set(o) <= set(s))
    same_fields = all(o[f] == s[f] for f in set(o) & set(s))
    if not (o_st == 200 and same_keys and same_fields):
        bad.setdefault(kind, []).append(search)
for kind in counts:
    b = bad.get(kind, [])
    print(("ok" if not b else "not ok") + f" - index by {kind}: same keys and fields from SKS and OKS ({counts[kind] - len(b)}/{counts[kind]})")
    for s in b[:3]:
        print(f"# differs: {s}")
open(f"{d}/get-sample", "w").write("\n".join(k["fingerprint"] for k in sample[:25]) + "\n")
PY
same=0; n=0
while read -r fpr; do
  n=$((n + 1))
  for side in sks oks; do
    port=$hkp; [ $side = oks ] && port=$P
    curl -s "http://127.0.0.1:$port/pks/lookup?op=get&options=mr&search=0x$fpr" -o "$D/$side.asc"
    h=$(gpg_home)
    gpg --homedir "$h" --batch --with-colons --import-options show-only --import "$D/$side.asc" 2>/dev/null |
      grep -E '^(pub|fpr|uid|sub):' | cut -d: -f1-10 | sort >"$D/$side.cols"
    gpg_home_cleanup "$h"
  done
  cmp -s "$D/sks.cols" "$D/oks.cols" && [ -s "$D/oks.cols" ] && same=$((same + 1))
done <"$D/get-sample"
check "op=get: gpg imports the same keys, user IDs and subkeys from both ($same/$n)" test "$same" -eq "$n"
finish
