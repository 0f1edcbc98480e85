#!/usr/bin/env bash
# Mail gateway with bad input: the libetpan boundary crash mail, malformed MIME, a mail over
# max_message_bytes, garbage and binary-noise key attachments, a secret key. Each gets an error
# reply or silence, is deleted, and the poller keeps running.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
M=$D/m
cleanup() {
  rm -rf "$D"
}
at_exit cleanup
POP=$(free_port) SMTP=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }
cluster_up "$D/c" --shards 1 \
  --mail-pop3 "127.0.0.1:$POP" --mail-user keyserver --mail-password secret \
  --mail-smtp "127.0.0.1:$SMTP" --mail-address keyserver@localhost --mail-poll-seconds 1 \
  || { not_ok "cluster with gw-mail starts"; finish; }
raw() { # raw FILE: sends a prepared message as is
  swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost \
    --to keyserver@localhost --silent 2 --data "@$1" >/dev/null
}
text_of() {
  /usr/bin/python3 -c 'import email,sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_content_type() == "text/plain":
        sys.stdout.write(p.get_payload(decode=True).decode("utf-8", "replace"))' "$1"
}
reply_file() { grep -l -F "Subject: Your command, $1" "$M"/mail/alice/new/* 2>/dev/null | head -1; }
has_reply() { [ -n "$(reply_file "$1")" ]; }
reply_says() { local f; f=$(reply_file "$1") && [ -n "$f" ] && text_of "$f" | grep -q -- "$2"; }

cp "$OKS_ROOT/tests/fuzz/corpus/mail/boundary-quote" "$D/crash.eml"
sed -i 's/^From: a@b.c/From: alice@localhost/' "$D/crash.eml"
raw "$D/crash.eml"
printf 'From: alice@localhost\r\nSubject: GET malformed-mime\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%%not base64\r\n--zz\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n' >"$D/mime.eml"
raw "$D/mime.eml"
{ printf 'From: alice@localhost\r\nSubject: GET huge-mail\r\n\r\n'
  head -c 1600000 /dev/urandom | base64 -w 76; } >"$D/huge.eml"
raw "$D/huge.eml"
head -c 3000 /dev/urandom >"$D/noise.bin"
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost --to keyserver@localhost \
  --silent 2 --header "Subject: ADD garbage" --body "see attachment" \
  --attach-type application/pgp-keys --attach "@$D/noise.bin" >/dev/null
printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5IGF0IGFsbA==\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n' >"$D/badarmor.txt"
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost --to keyserver@localhost \
  --silent 2 --header "Subject: ADD badarmor" --body "@$D/badarmor.txt" >/dev/null
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost --to keyserver@localhost \
  --silent 2 --header "Subject: HELP marker" >/dev/null

check "marker reply arrives after the bad mails" wait_for 60 has_reply "HELP marker"
check "huge mail: error reply naming the size limit" reply_says "GET huge-mail, failed" "over this server's limit"
check "malformed MIME: still answered" has_reply "GET malformed-mime"
check "garbage key attachment: reply says no keys were found" reply_says "ADD garbage, failed" "No public keys"
check "armor with a bad checksum: reply says no keys were found" reply_says "ADD badarmor, failed" "No public keys"
check "boundary crash mail: gateway survived it" kill -0 "$(cat "$D/c/run/gw-mail.pid")"
mailbox_empty() { [ -z "$(ls "$M"/mail/keyserver/new "$M"/mail/keyserver/cur 2>/dev/null | grep '^[0-9]')" ]; }
check "every bad mail was deleted" wait_for 30 mailbox_empty
check "no crash or error-level line in the gateway log" bash -c "! grep -q ' ERROR ' '$D/c/log/gw-mail.log'"
finish
