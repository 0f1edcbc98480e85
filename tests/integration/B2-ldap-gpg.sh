#!/usr/bin/env bash
# The LDAP gateway behind a real slapd (back-sock): GnuPG's dirmngr with an ldap:// keyserver
# receives by fingerprint, subkey fingerprint and key ID, searches by e-mail, sends a fresh key
# that another home then receives; ldapsearch finds the same entries (and an address book's
# mail/cn search); malformed and expensive filters get LDAP error codes, a half-sent request
# holds up no other operation, 48 at once are all answered (by 12 slapd threads and gateway
# operations: [ldap] threads), a second gateway
# without allow_upload refuses adds, and the gateway still serves afterwards.
set -u
source "$(dirname "$0")/lib.sh"
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "ok - # SKIP no slapd"; finish; }
D=$(scratch_dir)
G1=$(gpg_home); G2=$(gpg_home); G3=$(gpg_home)
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$G1"
at_exit gpg_home_cleanup "$G2"
at_exit gpg_home_cleanup "$G3"
H=$(free_port); L=$(free_port)
cluster_up "$D" --shards 2 --http-port "$H" --ldap-port "$L" --ldap-opt allow_upload=yes \
  --ldap-opt threads=12 || { not_ok "cluster with slapd and oks-gw-ldap starts"; finish; }
ok "cluster, oks-gw-ldap and slapd start (LDAP on 127.0.0.1:$L)"
check "slapd's pool is [ldap] threads (threads 12 in the slapd.conf slapd-conf wrote)" \
  grep -qx "threads 12" "$D/slapd/slapd.conf"
SOCK=$D/run/gw-ldap.sock
RAW="python3 $OKS_ROOT/tests/integration/helpers/ldap_raw.py"
KS="ou=GnuPG Keys,o=OpenKeyServer"
ls_() { ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$L/" "$@"; }
# ldapsearch's exit status is the LDAP result code
ls_code() { ls_ "$@" >/dev/null 2>&1; echo $?; }

echo "keyserver hkp://127.0.0.1:$H" >"$G1/dirmngr.conf"
for h in "$G2" "$G3"; do echo "keyserver ldap://127.0.0.1:$L" >"$h/dirmngr.conf"; done
g() { local h=$1; shift; gpg --homedir "$h" --batch --no-tty "$@"; }
fpr_of() { g "$1" --with-colons --list-keys "$2" | awk -F: '$1=="fpr"{print $10; exit}'; }
sub_fpr_of() { g "$1" --with-colons --list-keys "$2" | awk -F: '$1=="sub"{s=1} s&&$1=="fpr"{print $10; exit}'; }

# a key with an encryption subkey, uploaded over HKP: the LDAP side reads what the cluster has
g "$G1" --passphrase '' --pinentry-mode loopback --quick-gen-key "Ldap Reader <reader@example.org>" future-default default never 2>/dev/null
FPR=$(fpr_of "$G1" reader@example.org); SUB=$(sub_fpr_of "$G1" reader@example.org)
KID=${FPR:24}
check "a fresh key goes in over HKP" g "$G1" --send-keys "$FPR"

check "gpg --recv-keys over LDAP by fingerprint" g "$G2" --recv-keys "$FPR"
check "the key is in the keyring" bash -c "gpg --homedir '$G2' --batch --list-keys $FPR >/dev/null 2>&1"
g "$G2" --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys over LDAP by long key ID" g "$G2" --recv-keys "0x$KID"
g "$G2" --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys over LDAP by short key ID" g "$G2" --recv-keys "0x${FPR:32}"
g "$G2" --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys over LDAP by subkey fingerprint" g "$G2" --recv-keys "$SUB"
g "$G2" --yes --delete-keys "$FPR" 2>/dev/null
out=$(g "$G2" --with-colons --search-keys reader@example.org 2>/dev/null </dev/null)
check "gpg --search-keys over LDAP by e-mail lists the key" grep -qi "$KID" <<<"$out"
check "... with its user ID" grep -q "Ldap Reader" <<<"$out"
out=$(g "$G2" --with-colons --search-keys "Ldap Reader" 2>/dev/null </dev/null)
check "gpg --search-keys over LDAP by name lists the key" grep -qi "$KID" <<<"$out"

# a fresh key sent over LDAP (dirmngr: modify, then add), received in another home
g "$G2" --passphrase '' --pinentry-mode loopback --quick-gen-key "Ldap Sender <sender@example.org>" ed25519 sign never 2>/dev/null
NEW=$(fpr_of "$G2" sender@example.org)
check "gpg --send-keys over LDAP" g "$G2" --send-keys "$NEW"
check "another home receives it over LDAP" g "$G3" --recv-keys "$NEW"
check "the received copy has the user ID" bash -c "gpg --homedir '$G3' --batch --list-keys sender@example.org >/dev/null 2>&1"
check "and over HKP too: it went through the cluster's add" \
  test "$(http_code "http://127.0.0.1:$H/pks/lookup?op=get&search=0x$NEW")" = 200
# sending again (a new user ID) updates the cluster's copy
g "$G2" --passphrase '' --pinentry-mode loopback --quick-add-uid "$NEW" "Ldap Sender <second@example.org>" 2>/dev/null
check "gpg --send-keys over LDAP of an updated key" g "$G2" --send-keys "$NEW"
check "the cluster's copy gained the user ID" \
  bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b '$KS' '(gpgMailbox=second@example.org)' dn | grep -q ${NEW:24}"

# ldapsearch
out=$(ls_ -b "$KS" "(gpgFingerprint=$FPR)" pgpCertID pgpUserID gpgMailbox pgpKey)
check "ldapsearch by gpgFingerprint finds the entry" grep -q "^dn: pgpCertID=$KID,$KS" <<<"$out"
check "... with its user ID and mailbox" bash -c 'grep -q "^pgpUserID: Ldap Reader <reader@example.org>" <<<"$1" && grep -q "^gpgMailbox: reader@example.org" <<<"$1"' _ "$out"
python3 -c '
import base64, sys
for line in sys.stdin:
    if line.startswith("pgpKey:: "):
        sys.stdout.write(base64.b64decode(line[9:]).decode())
' <<<"$out" >"$D/key.asc"
check "the pgpKey value is an armored key gpg imports" g "$G3" --import "$D/key.asc"
check "... the right one" bash -c "gpg --homedir '$G3' --batch --list-keys $FPR >/dev/null 2>&1"
check "ldapsearch by pgpCertID" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b '$KS' '(pgpCertID=$KID)' dn | grep -q $KID"
check "ldapsearch by pgpKeyID (lowercase)" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b '$KS' '(pgpKeyID=$(tr A-F a-f <<<"${FPR:32}"))' dn | grep -q $KID"
check "ldapsearch by gpgSubFingerprint" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b '$KS' '(gpgSubFingerprint=$SUB)' dn | grep -q $KID"
check "ldapsearch for the entry's own DN (scope base)" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b 'pgpCertID=$KID,$KS' -s base '(objectClass=*)' pgpCertID | grep -q '^pgpCertID: $KID'"
check "an address book's search from the suffix: (|(cn=*reader*)(mail=*reader*)(sn=*reader*))" \
  bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b o=OpenKeyServer '(|(cn=*reader*)(mail=*reader*)(sn=*reader*))' mail | grep -q '^mail: reader@example.org'"
check "pgpServerInfo names the key space" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b 'cn=pgpServerInfo,o=OpenKeyServer' -s base '(objectClass=*)' | grep -q '^pgpBaseKeySpaceDN: $KS'"
check "an unknown key: success, no entry" bash -c "[ -z \"\$(ldapsearch -x -LLL -H ldap://127.0.0.1:$L/ -b '$KS' '(pgpCertID=0000000000000001)' dn)\" ]"
check "a DN outside the tree: noSuchObject (32)" test "$(ls_code -b "cn=nobody,o=OpenKeyServer" -s base '(objectClass=*)')" = 32

# expensive and malformed filters: LDAP errors, never a listing of the key space
check "(objectClass=*) under the key space: unwillingToPerform (53)" test "$(ls_code -b "$KS" '(objectClass=*)')" = 53
check "(pgpUserID=*a*): unwillingToPerform (53)" test "$(ls_code -b "$KS" '(pgpUserID=*a*)')" = 53
check "a negation alone: unwillingToPerform (53)" test "$(ls_code -b "$KS" '(!(pgpRevoked=1))')" = 53
check "(pgpKeyType=RSA): unwillingToPerform (53)" test "$(ls_code -b "$KS" '(pgpKeyType=RSA)')" = 53
or5="(|(pgpUserID=*alpha*)(pgpUserID=*bravo*)(pgpUserID=*charlie*)(pgpUserID=*delta*)(pgpUserID=*echo*))"
check "an OR of 5 user ID searches: adminLimitExceeded (11)" test "$(ls_code -b "$KS" "$or5")" = 11
deep=$(python3 -c "print('(&' * 40 + '(pgpCertID=$KID)' + ')' * 40)")
check "a filter nested 40 deep: adminLimitExceeded (11)" test "$(ls_code -b "$KS" "$deep")" = 11
check "a malformed filter sent to slapd: protocolError (2)" test "$($RAW badfilter 127.0.0.1 "$L")" = 2
req() { printf 'SEARCH\nmsgid: 1\nsuffix: o=OpenKeyServer\nbase: %s\nscope: 2\nderef: 0\nsizelimit: 10\ntimelimit: 10\nfilter: %s\nattrsonly: 0\nattrs: all\n\n' "$KS" "$1"; }
check "a malformed filter on the back-sock socket: protocolError (2)" \
  bash -c "$(declare -f req); req '(pgpCertID=' | $RAW sock '$SOCK' | grep -q '^code: 2$'"
check "an unbalanced filter on the socket: protocolError (2)" \
  bash -c "$(declare -f req); req '(&(pgpCertID=$KID)' | $RAW sock '$SOCK' | grep -q '^code: 2$'"
check "random bytes on the socket: protocolError (2)" \
  bash -c "head -c 4096 /dev/urandom | $RAW sock '$SOCK' | grep -q '^code: 2$'"
big=$(python3 -c "print('(|' + '(pgpCertID=$KID)' * 300 + ')')")
check "300 terms on the socket: adminLimitExceeded (11)" \
  bash -c "$(declare -f req); req '$big' | $RAW sock '$SOCK' | grep -q '^code: 11$'"
check "sizelimit 1 on a search that matches two keys: sizeLimitExceeded (4)" \
  test "$(ls_code -z 1 -b "$KS" "(|(pgpCertID=$KID)(pgpCertID=${NEW:24}))")" = 4
check "delete: unwillingToPerform (53)" test "$(ldapdelete -x -H "ldap://127.0.0.1:$L/" "pgpCertID=$KID,$KS" >/dev/null 2>&1; echo $?)" = 53

# one event loop serves every connection: one that sent half a request holds up no other, and
# many operations at once are each answered with their own key
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"SEARCH\nmsgid: 9\n")
open(sys.argv[2], "w").close(); time.sleep(20)' "$SOCK" "$D/half-sent" &
HALF=$!
at_exit bash -c "kill $HALF 2>/dev/null; true"
wait_for 10 test -e "$D/half-sent"
check "a search while another connection has sent half its request" \
  bash -c "timeout 5 ldapsearch -x -LLL -H 'ldap://127.0.0.1:$L/' -b '$KS' '(pgpCertID=$KID)' pgpCertID | grep -qx 'pgpCertID: $KID'"
many=$(for i in $(seq 24); do echo "$KID"; echo "${NEW:24}"; done |
  xargs -P 48 -I{} sh -c "ldapsearch -x -LLL -H 'ldap://127.0.0.1:$L/' -b '$KS' '(pgpCertID={})' pgpCertID 2>/dev/null | grep -qx 'pgpCertID: {}' && echo ok" |
  grep -c '^ok$')
check "48 searches at once: each answered with the key it asked for ($many)" test "$many" = 48
kill "$HALF" 2>/dev/null

# the gateway still serves
check "oks-gw-ldap is still running" kill -0 "$(cat "$D/run/gw-ldap.pid")"
check "slapd is still running" kill -0 "$(cat "$D/run/slapd.pid")"
g "$G2" --yes --delete-keys "$FPR" 2>/dev/null
check "gpg --recv-keys over LDAP still works" g "$G2" --recv-keys "$FPR"

# a second gateway of the same cluster with uploads off refuses an add
# (and no /metrics: the first gateway holds [ldap] metrics_listen)
sed -e 's/^allow_upload = yes$/allow_upload = no/' -e '/^\[ldap\]$/,/^\[/{/^metrics_listen/d}' \
  "$D/oks.conf" >"$D/ro.conf"
"$OKS_BIN/oks-gw-ldap" -c "$D/ro.conf" --socket "$D/ro.sock" --log "$D/log/gw-ldap-ro.log" &
RO=$!
at_exit kill "$RO"
wait_for 30 test -S "$D/ro.sock"
add=$(printf 'ADD\nmsgid: 2\nsuffix: o=OpenKeyServer\ndn: pgpCertID=%s,%s\nobjectClass: pgpKeyInfo\npgpCertID: %s\npgpKey:: %s\n\n' \
  "$KID" "$KS" "$KID" "$(base64 -w0 "$D/key.asc")")
check "ADD with [ldap] allow_upload = no: insufficientAccessRights (50)" \
  bash -c "printf '%s\n\n' \"\$1\" | $RAW sock '$D/ro.sock' | grep -q '^code: 50$'" _ "$add"
check "the same ADD with uploads on: success" \
  bash -c "printf '%s\n\n' \"\$1\" | $RAW sock '$SOCK' | grep -q '^code: 0$'" _ "$add"
finish
