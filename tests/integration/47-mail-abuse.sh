#!/usr/bin/env bash
# Mail gateway against abusive mail, one poll at a time (oks-gw-mail --once over mails put
# straight into the maildir, so each step is deterministic and no assertion depends on time):
#  A  14,000 nested multiparts (1 MiB) get an error reply naming the MIME limit; the same mail
#     marked Auto-Submitted is ignored from its headers without its body being parsed; a From
#     of 200,000 nested "(" (which overflowed libetpan's stack) is deleted; the poll survives.
#  B  the per-mailbox limit counts bob+1@, bob+2@ ... as bob@ and refuses before running;
#     the per-domain limit stops mails whose Reply-To varies the mailbox; an MGET over the
#     scan budget is refused before it runs.
#  C  a GET whose reply is over unauth_reply_bytes: a short notice to an unauthenticated
#     address (no Authentication-Results, another authserv-id, a sender-written header below
#     the MTA's, a passing domain that is not the Reply-To's); the keys to an authenticated one;
#     the reply bytes per mailbox per hour.
#  D  with the shard down, a GET that keeps failing no longer blocks the HELP mail behind it,
#     and after max_tries polls it is answered with an error and deleted.
# Dovecot lists the mails of one delivery batch in no fixed order; where order matters (D) the
# later mail is put after a poll.
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
cluster_up "$D/c" --shards 1 || { not_ok "cluster starts"; finish; }
OWNER=$(mail_owner "$M")
"$OKS_BIN/oksctl" import -c "$D/c/oks.conf" --quiet "$OKS_ROOT/tests/data/matrix-rsa.pgp" >/dev/null 2>&1
FPR=290700A40893803CC6F53F481F16E1887CEC5F52
C=$D/gw.conf
{ cat "$D/c/oks.conf"; cat <<EOC

[mail]
pop3 = 127.0.0.1:$POP
user = keyserver2
password = secret
smtp = 127.0.0.1:$SMTP
address = keyserver2@localhost
state_dir = $D/state
io_timeout_seconds = 20
rate_per_sender_hour = 3
rate_per_domain_hour = 6
scan_per_sender_hour = 1
reply_bytes_per_sender_hour = 10K
auth_serv_id = mx.oks.test
unauth_reply_bytes = 3K
max_tries = 2
EOC
} >"$C"
LOG=$D/gw.log
poll() { "$OKS_BIN/oks-gw-mail" -c "$C" --once --log "$LOG"; }
N=1000
# put NAME: the mail on stdin into keyserver2's maildir (names sort in the order put)
put() {
  N=$((N + 1))
  local f=$M/mail/keyserver2/new/$N.M1P1Q$N.$1
  cat >"$f.tmp"
  chown "$OWNER" "$f.tmp"
  mv "$f.tmp" "$f"
}
# mail FROM ID SUBJECT [HEADER-LINES]: a small request
mail() {
  printf 'Return-Path: <%s>\r\n%bFrom: %s\r\nTo: keyserver2@localhost\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n\r\nx\r\n' \
    "$1" "${4:-}" "$1" "$3" "$2" | put "$2"
}
in_box() { ls "$M"/mail/keyserver2/new "$M"/mail/keyserver2/cur 2>/dev/null | grep -c '^[0-9]'; }
reply_to() { grep -l -F "In-Reply-To: <$2@t>" "$M"/mail/"$1"/new/* 2>/dev/null | head -1; }
replies() { grep -l -F "Subject: Your command, $2" "$M"/mail/"$1"/new/* 2>/dev/null | wc -l; }
text_of() {
  /usr/bin/python3 -c 'import email,sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_content_type() == "text/plain":
        sys.stdout.write(p.get_payload(decode=True).decode("utf-8", "replace"))' "$1"
}
says() { local f; f=$(reply_to "$1" "$2") && [ -n "$f" ] && text_of "$f" | tr '\n' ' ' | grep -q -- "$3"; }
has_keys() { local f; f=$(reply_to "$1" "$2") && [ -n "$f" ] && grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$f"; }
notice_only() { says "$1" "$2" "$3" && ! has_keys "$1" "$2"; }
nested() { # nested N [HEADER-LINES]
  /usr/bin/python3 - "$1" "${2:-}" <<'EOF'
import sys
n, extra = int(sys.argv[1]), sys.argv[2].replace("\\r\\n", "\r\n")
out = ["Return-Path: <alice@localhost>", "From: alice@localhost", "To: keyserver2@localhost",
       "Subject: ADD nested", "Message-ID: <nested%s@t>" % ("-auto" if extra else ""),
       "MIME-Version: 1.0"]
s = "\r\n".join(out) + "\r\n" + extra + 'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
parts = []
for i in range(1, n):
    parts.append('--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i - 1, i))
parts.append("--b%d\r\n\r\nx\r\n" % (n - 1))
parts += ["--b%d--\r\n" % i for i in range(n - 1, -1, -1)]
sys.stdout.write(s + "".join(parts))
EOF
}

# ---- A: MIME structure and header bounds
nested 14000 | put nested
nested 14000 'Auto-Submitted: auto-generated\r\n' | put nested-auto
{ printf 'Return-Path: <alice@localhost>\r\nFrom: '; head -c 200000 /dev/zero | tr '\0' '('
  printf 'alice@localhost\r\nSubject: GET x\r\nMessage-ID: <paren@t>\r\n\r\nx\r\n'; } | put paren
mail alice@localhost help-a "HELP after the bad mails"
check "A: the poll survives the bad mails" poll
check "A: nested multiparts: error reply naming the limit" says alice nested "more than 16 multipart"
check "A: the Auto-Submitted nested mail is ignored from its headers" \
  grep -q 'nested-auto@t from alice@localhost ignored: Auto-Submitted' "$LOG"
check "A: ... and neither answered nor its body parsed" \
  bash -c "[ -z \"\$(grep -l 'nested-auto@t' '$M'/mail/alice/new/* 2>/dev/null)\" ] && ! grep 'nested-auto@t' '$LOG' | grep -q 'body'"
check "A: nested parentheses: deleted as not parsable" grep -q 'header not parsable.*parentheses nested deeper' "$LOG"
check "A: the HELP mail put with them is answered" test -n "$(reply_to alice help-a)"
check "A: every mail left the mailbox" test "$(in_box)" -eq 0

# ---- B: limits charged before running, per normalized mailbox and per domain
for i in 1 2 3 4 5; do mail "bob+$i@localhost" "tag$i" "GET nobody-$i"; done
for i in 1 2 3 4 5 6 7 8; do
  mail alice@localhost "dom$i" "GET nobody-d$i" "Reply-To: v$i@victim.example\r\n"
done
mail alice@localhost mget1 "MGET ^rsa" && mail alice+x@localhost mget2 "MGET ^rsa"
L0=$(wc -l <"$LOG")
check "B: poll" poll
since() { tail -n +"$((L0 + 1))" "$LOG" | grep -c -- "$1"; }
check "B: bob+1..bob+5 count as one mailbox: 3 replies" test "$(replies bob 'GET nobody-')" -eq 3
check "B: ... the other 2 refused before running" test "$(since 'over the rate limit of its reply address, deleted without running it')" -eq 2
check "B: Reply-To v1..v8@victim.example: 2 refused by the domain limit" test "$(since 'over the rate limit of its reply domain')" -eq 2
check "B: the second MGET is refused before it runs: scan budget spent" test "$(since 'over the scan budget')" -eq 1
check "B: the first MGET is answered" test -n "$(reply_to alice mget1)$(reply_to alice mget2)"
check "B: every mail left the mailbox" test "$(in_box)" -eq 0

# ---- C: reply size to unauthenticated addresses
AR_OK='Authentication-Results: mx.oks.test; dmarc=pass header.from=localhost\r\n'
mail alice@localhost noauth "GET 0x$FPR"
mail alice@localhost auth1 "GET 0x$FPR" "$AR_OK"
mail alice@localhost auth2 "GET 0x$FPR" "$AR_OK"
mail bob@localhost forged "GET 0x$FPR" "Authentication-Results: mx.oks.test; none\r\nReceived: from x\r\n$AR_OK"
mail bob@localhost otherid "GET 0x$FPR" 'Authentication-Results: other.test; dmarc=pass header.from=localhost\r\n'
printf 'Return-Path: <a@attacker.example>\r\nAuthentication-Results: mx.oks.test; dmarc=pass header.from=attacker.example; spf=pass smtp.mailfrom=a@attacker.example\r\nFrom: a@attacker.example\r\nReply-To: bob@localhost\r\nTo: keyserver2@localhost\r\nSubject: GET 0x%s\r\nMessage-ID: <replyto@t>\r\n\r\nx\r\n' "$FPR" | put replyto
check "C: poll" poll
check "C: no Authentication-Results: a short notice, no keys" \
  notice_only alice noauth 'at most 3072 bytes'
n_keys=0; n_budget=0
for id in auth1 auth2; do
  has_keys alice $id && n_keys=$((n_keys + 1))
  says alice $id 'more than this server still sends' && n_budget=$((n_budget + 1))
done
check "C: authenticated (dmarc=pass, aligned): the keys are sent" test "$n_keys" -eq 1
check "C: ... a second one is over the mailbox's reply bytes per hour: notice" test "$n_budget" -eq 1
check "C: header of our authserv-id written by the sender (below the MTA's): notice" \
  notice_only bob forged 'did not authenticate'
check "C: another authserv-id: notice" \
  notice_only bob otherid 'did not authenticate'
check "C: passing domain is not the Reply-To's (forged Reply-To): notice to the victim" \
  notice_only bob replyto 'did not authenticate'
check "C: every mail left the mailbox" test "$(in_box)" -eq 0

# ---- D: a mail that keeps failing is tried max_tries times, the mail behind it goes on
for f in "$D"/c/run/shard-*.pid; do kill "$(cat "$f")"; done
shard_gone() { ! pgrep -f "oks-shard -c $D/c/oks.conf" >/dev/null; }
check "D: the shard is stopped" wait_for 30 shard_gone
mail alice@localhost stuck "GET 0x$FPR"
check "D: first poll" poll
check "D: the failing mail is kept" test "$(in_box)" -eq 1
check "D: ... try 1 of 2" grep -q 'stuck@t kept for a later try (1 of 2)' "$LOG"
# put after the first poll, so the mailbox lists it behind the failing one
mail alice@localhost help-d "HELP behind the stuck mail"
check "D: second poll" poll
check "D: second poll: try 2 of 2" grep -q 'stuck@t kept for a later try (2 of 2)' "$LOG"
check "D: the HELP mail behind the failing one is answered in the same poll" test -n "$(reply_to alice help-d)"
check "D: ... after the failing mail's try" bash -c "grep -n -e 'stuck@t kept for a later try (2' -e 'help-d@t from' '$LOG' | head -1 | grep -q stuck"
check "D: third poll" poll
check "D: then it is answered with an error" says alice stuck 'tried 2 times'
check "D: and deleted" test "$(in_box)" -eq 0
check "D: each mail was answered once" bash -c "[ -z \"\$(grep -h '^In-Reply-To:' '$M'/mail/alice/new/* '$M'/mail/bob/new/* | sort | uniq -d)\" ]"
finish
