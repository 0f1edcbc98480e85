#!/usr/bin/env bash
# Mail reply templates against the real mail stack: `oks-gw-mail dump-templates` writes the
# defaults; a template directory with a changed help.txt and index.txt changes those replies
# (plain text: a user ID with < > & arrives as is), other replies keep the built-in text; the
# headers stay right (To = the request's Reply-To, In-Reply-To, References, Auto-Submitted,
# MIME); a broken template stops the gateway at start with the file named.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
G=$(gpg_home)
M=$D/m
cleanup() {
  gpg_home_cleanup "$G"; rm -rf "$D"
}
at_exit cleanup
POP=$(free_port) SMTP=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }
cluster_up "$D/c" --shards 1 || { not_ok "cluster starts"; finish; }
GW=("$OKS_BIN/oks-gw-mail" -c "$D/c/oks.conf" --pop3 "127.0.0.1:$POP" --smtp "127.0.0.1:$SMTP"
    --user keyserver2 --password secret --address keyserver2@localhost --state-dir "$D/state" --once)

GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key 'Tmpl & Co <tmpl@localhost>' ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$G gpg --with-colons --fingerprint tmpl@localhost | awk -F: '$1=="fpr"{print $10; exit}')
GNUPGHOME=$G gpg --export tmpl@localhost >"$D/k.pgp"
OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" import --quiet "$D/k.pgp" >/dev/null 2>&1
check "test key imported" test -n "$FPR"

"$OKS_BIN/oks-gw-mail" dump-templates "$D/tpl" >"$D/dump.out"
check "dump-templates writes the defaults" bash -c "[ \$(wc -l <'$D/dump.out') -eq 10 ] && grep -q '{{help}}' '$D/tpl/help.txt' && grep -q 'Fingerprint={{fpr}}' '$D/tpl/index.txt'"
printf 'Custom help of {{server_name}} <{{server_address}}>, for "{{subject}}".\n' >"$D/tpl/help.txt"
printf '{{count}} result(s) for {{search}}\n{{#keys}}* {{fpr}}\n{{#uids}}  - {{uid}}\n{{/uids}}{{/keys}}' >"$D/tpl/index.txt"
rm "$D/tpl/get.txt"   # missing: built-in

send() { # SUBJECT MESSAGE-ID: from alice, Reply-To bob, with References
  swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost \
    --to keyserver2@localhost --silent 2 --timeout 20 --header "Subject: $1" \
    --header "Message-Id: <$2@localhost>" --header "Reply-To: Bob <bob@localhost>" \
    --header "References: <earlier.$2@localhost>" >/dev/null
}
send "HELP" t1
send "INDEX tmpl" t2
send "GET 0x$FPR" t3
"${GW[@]}" --templates "$D/tpl" --log "$D/run.log"
check "gateway with the template directory polls" test $? -eq 0
check "it logs where the templates come from" grep -q "mail templates: 9 from $D/tpl, 1 built-in" "$D/run.log"
reply_to() { grep -l -F "In-Reply-To: <$1@localhost>" "$M"/mail/bob/new/* 2>/dev/null | head -1; }
check "three replies went to the Reply-To address (bob)" wait_for 20 bash -c "[ \$(ls '$M'/mail/bob/new | wc -l) -eq 3 ]"
check "no reply went to the From address (alice)" test -z "$(ls "$M"/mail/alice/new)"
# parts FILE: a JSON-ish summary of the reply: headers and the decoded text part
summary() {
  /usr/bin/python3 - "$1" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print("To:", m["To"]); print("From:", m["From"]); print("References:", " ".join(m["References"].split()))
print("Auto-Submitted:", m["Auto-Submitted"]); print("MIME-Version:", m["MIME-Version"])
print("Type:", m.get_content_type())
for p in m.walk():
    if not p.is_multipart():
        print("Part:", p.get_content_type(), p.get_content_charset())
for p in m.walk():
    if p.get_content_type() == "text/plain":
        sys.stdout.write(p.get_payload(decode=True).decode("utf-8"))
PY
}
H=$(reply_to t1); summary "$H" >"$D/help.txt" 2>&1
check "HELP reply is the custom template" grep -qx 'Custom help of OpenPGP keyserver <keyserver2@localhost>, for "HELP".' "$D/help.txt"
check "HELP reply headers: To bob, References both ids, Auto-Submitted" \
  bash -c "grep -qx 'To: bob@localhost' '$D/help.txt' && grep -qx 'References: <earlier.t1@localhost> <t1@localhost>' '$D/help.txt' && grep -qx 'Auto-Submitted: auto-replied' '$D/help.txt'"
check "HELP reply is one text/plain utf-8 part" bash -c "grep -qx 'MIME-Version: 1.0' '$D/help.txt' && [ \$(grep -c '^Part:' '$D/help.txt') -eq 1 ] && grep -qx 'Part: text/plain utf-8' '$D/help.txt'"
I=$(reply_to t2); summary "$I" >"$D/index.txt" 2>&1
check "INDEX reply is the custom template" bash -c "grep -qx '1 result(s) for tmpl' '$D/index.txt' && grep -qx '\* $FPR' '$D/index.txt'"
check "INDEX reply text is not HTML-escaped" grep -qxF '  - Tmpl & Co <tmpl@localhost>' "$D/index.txt"
R=$(reply_to t3); summary "$R" >"$D/get.txt" 2>&1
check "GET reply keeps the built-in text (no get.txt)" grep -qx '1 key matching "0x'"$FPR"'" is attached.' "$D/get.txt"
check "GET reply is multipart/mixed: text + application/pgp-keys" \
  bash -c "grep -qx 'Type: multipart/mixed' '$D/get.txt' && grep -qx 'Part: text/plain utf-8' '$D/get.txt' && grep -q '^Part: application/pgp-keys' '$D/get.txt'"

printf 'broken {{#found}} section\n' >"$D/tpl/add.txt"
send "HELP" t4
"${GW[@]}" --templates "$D/tpl" --log "$D/broken.log"
check "a broken template stops the gateway at start" test $? -ne 0
check "the error names the template file" grep -q "add.txt" "$D/broken.log"
check "the mail waits in the mailbox" test "$(ls "$M"/mail/keyserver2/new "$M"/mail/keyserver2/cur | grep -c '^[0-9]')" -eq 1
"${GW[@]}" --templates "$D/nonexistent" --log "$D/missing.log"
check "a missing template directory is an error" bash -c "[ $? -ne 0 ] && grep -q 'template directory' '$D/missing.log'"
finish
