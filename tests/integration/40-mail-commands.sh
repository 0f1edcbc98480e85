#!/usr/bin/env bash
# Mail gateway against the real mail stack (dovecot POP3 + SMTP delivering to maildirs) and a
# local 2-shard cluster started by local.sh --mail-*: ADD as body and as attachment (then HTTP
# op=get finds the key), GET by fingerprint, key ID and e-mail (gpg imports the reply), INDEX,
# VERBOSE INDEX, MGET, LAST, HELP, an unknown command, no Subject; bounce, Auto-Submitted and
# Precedence: bulk mails get no reply and are deleted.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
G=$(gpg_home)
G2=$(gpg_home)
M=$D/m
cleanup() {
  gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"; rm -rf "$D"
}
at_exit cleanup
POP=$(free_port) SMTP=$(free_port) HTTP=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }
cluster_up "$D/c" --shards 2 --http-port "$HTTP" \
  --mail-pop3 "127.0.0.1:$POP" --mail-user keyserver --mail-password secret \
  --mail-smtp "127.0.0.1:$SMTP" --mail-address keyserver@localhost --mail-poll-seconds 1 \
  --mail-opt "delete_batch=10" \
  || { not_ok "cluster with gw-mail starts"; finish; }
check "cluster with a mail gateway starts" test -s "$D/c/run/gw-mail.pid"
check "local.sh --mail-opt lands in the [mail] section" grep -qx 'delete_batch = 10' "$D/c/oks.conf"

# send FROM SUBJECT [swaks options...]: a mail to the keyserver
send() {
  local from=$1 subj=$2; shift 2
  swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from "$from" --to keyserver@localhost \
    --header "Subject: $subj" --silent 2 --timeout 20 "$@" >/dev/null
}
# reply_file SUBJECT-TEXT: the reply in alice's maildir whose Subject has that text
reply_file() { grep -l -F "Subject: Your command, $1" "$M"/mail/alice/new/* 2>/dev/null | head -1; }
has_reply() { [ -n "$(reply_file "$1")" ]; }
replies_for() { grep -l -F "Subject: Your command, $1" "$M"/mail/alice/new/* 2>/dev/null | wc -l; }
# text_of FILE: the decoded text/plain parts of a mail
text_of() {
  /usr/bin/python3 -c 'import email,sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_content_type() == "text/plain":
        sys.stdout.write(p.get_payload(decode=True).decode("utf-8", "replace"))' "$1"
}
# reply_says SUBJECT-TEXT REGEX: the reply with that subject has a text line matching REGEX
reply_says() { local f; f=$(reply_file "$1") && [ -n "$f" ] && text_of "$f" | grep -q -- "$2"; }
armor_of() { sed -n '/^-----BEGIN PGP PUBLIC KEY BLOCK-----/,/^-----END PGP PUBLIC KEY BLOCK-----/p' "$1" | tr -d '\r'; }

GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key 'Alice Mailtest <alice@localhost>' ed25519 default never 2>/dev/null
GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key 'Bob Attached <bob@localhost>' ed25519 default never 2>/dev/null
FPR_A=$(GNUPGHOME=$G gpg --with-colons --fingerprint alice@localhost | awk -F: '$1=="fpr"{print $10; exit}')
FPR_B=$(GNUPGHOME=$G gpg --with-colons --fingerprint bob@localhost | awk -F: '$1=="fpr"{print $10; exit}')
GNUPGHOME=$G gpg --armor --export alice@localhost >"$D/alice.asc"
GNUPGHOME=$G gpg --armor --export bob@localhost >"$D/bob.asc"

# ADD in the body, ADD as an application/pgp-keys attachment
send alice@localhost "ADD" --body "@$D/alice.asc"
send alice@localhost "add" --body "key attached" --attach-type application/pgp-keys --attach "@$D/bob.asc"
check "ADD replies arrive" wait_for 30 bash -c "[ \$(grep -l -i -F 'Subject: Your command, ADD' '$M'/mail/alice/new/* 2>/dev/null | wc -l) -ge 2 ]"
adds=$(for f in $(grep -l -i -F 'Subject: Your command, ADD' "$M"/mail/alice/new/*); do text_of "$f"; done)
check "ADD reply (body) reports the key as new" grep -q "^$FPR_A new" <<<"$adds"
check "ADD reply (attachment) reports the key as new" grep -q "^$FPR_B new" <<<"$adds"
code=$(curl -s -o "$D/http.asc" -w '%{http_code}' "http://127.0.0.1:$HTTP/pks/lookup?op=get&search=0x$FPR_A")
check "HTTP op=get finds the key added by mail (body)" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/pks/lookup?op=get&search=0x$FPR_B")
check "HTTP op=get finds the key added by mail (attachment)" test "$code" = 200

# GET by fingerprint, 64-bit key ID, e-mail: the reply's key imports into a fresh gpg
KID=${FPR_A: -16}
for q in "0x$FPR_A" "0x$KID" "alice@localhost"; do
  send alice@localhost "GET $q"
  if wait_for 30 has_reply "GET $q"; then
    f=$(reply_file "GET $q")
    armor_of "$f" >"$D/got.asc"
    GNUPGHOME=$G2 gpg --batch --import "$D/got.asc" 2>/dev/null
    check "GET $q: gpg imports the key from the reply" bash -c "GNUPGHOME=$G2 gpg --with-colons --list-keys $FPR_A >/dev/null 2>&1"
    check "GET $q: reply threads (In-Reply-To) and is marked Auto-Submitted" \
      bash -c "grep -qi '^In-Reply-To: <' '$f' && grep -qi '^Auto-Submitted: auto-replied' '$f'"
    GNUPGHOME=$G2 gpg --batch --yes --delete-keys "$FPR_A" 2>/dev/null
  else
    not_ok "GET $q: reply arrives"
  fi
done

send alice@localhost "INDEX mailtest"
send alice@localhost "VERBOSE INDEX mailtest"
send alice@localhost "MGET ^bob.*attached"
send alice@localhost "LAST 1"
send alice@localhost "HELP"
send alice@localhost "FROBNICATE now"
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost --to keyserver@localhost \
  --silent 2 --header "Subject:" --body "no subject here" >/dev/null
check "INDEX reply arrives" wait_for 30 has_reply "INDEX mailtest"
check "INDEX reply lists the key" reply_says "INDEX mailtest" "Fingerprint=$FPR_A"
check "INDEX reply lists its user ID" reply_says "INDEX mailtest" "^uid  Alice Mailtest <alice@localhost>"
check "VERBOSE INDEX reply lists signatures" wait_for 30 bash -c "f=\$(grep -l -F 'Subject: Your command, VERBOSE INDEX mailtest' '$M'/mail/alice/new/*) && grep -q '^sig  0x' \$f"
check "MGET reply carries the matching key only" wait_for 30 bash -c "f=\$(grep -l -F 'Subject: Your command, MGET' '$M'/mail/alice/new/*) && grep -q '^1 key with a user ID matching' \$f"
check "LAST 1 reply carries both new keys" wait_for 30 bash -c "f=\$(grep -l -F 'Subject: Your command, LAST 1' '$M'/mail/alice/new/*) && grep -q '^2 keys added or changed' \$f"
check "HELP reply carries the help text" wait_for 30 bash -c "f=\$(grep -l -F 'Subject: Your command, HELP' '$M'/mail/alice/new/*) && grep -q 'VERBOSE INDEX' \$f"
check "unknown command: 'was invalid' with the help text" wait_for 30 bash -c "f=\$(grep -l -F 'Subject: Your command, FROBNICATE now, was invalid' '$M'/mail/alice/new/*) && grep -q 'MGET <regex>' \$f"
check "mail without Subject: error reply with the help text" wait_for 30 bash -c "grep -l 'no command in its Subject' '$M'/mail/alice/new/* | xargs grep -q 'LAST <days>'"

# no reply: bounce (null sender), Auto-Submitted, Precedence: bulk; then a marker mail
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from '<>' --to keyserver@localhost \
  --silent 2 --header "Subject: GET bounce-test" --header "From: MAILER-DAEMON@localhost" \
  --header "Reply-To: alice@localhost" >/dev/null
send alice@localhost "GET auto-test" --header "Auto-Submitted: auto-replied"
send alice@localhost "GET bulk-test" --header "Precedence: bulk"
send alice@localhost "HELP marker"
check "marker reply arrives after the ignored mails" wait_for 30 has_reply "HELP marker"
check "no reply to a bounce" test "$(replies_for 'GET bounce-test')" -eq 0
check "no reply to an Auto-Submitted mail" test "$(replies_for 'GET auto-test')" -eq 0
check "no reply to a Precedence: bulk mail" test "$(replies_for 'GET bulk-test')" -eq 0
mailbox_empty() { [ -z "$(ls "$M"/mail/keyserver/new "$M"/mail/keyserver/cur 2>/dev/null | grep -v ':$' | grep .)" ]; }
check "every mail was deleted from the mailbox" wait_for 30 mailbox_empty
check "exactly one reply per GET" test "$(replies_for "GET 0x$FPR_A")" -eq 1
check "gateway still running" kill -0 "$(cat "$D/c/run/gw-mail.pid")"
finish
