#!/usr/bin/env bash
# Mail gateway over TLS with authentication, against real servers: a second dovecot on the
# test mail stack's maildirs with a self-signed certificate (openssl), offering STLS on one
# port and POP3S on another and refusing plain-text logins (ssl = required); and an SMTP server
# (aiosmtpd, tests/harness/smtpd.py) that requires STARTTLS and then AUTH, and
# one with implicit TLS (SMTPS) and AUTH. Replies arrive through STLS + STARTTLS/AUTH and
# through POP3S + SMTPS/AUTH, with passwords read from files
# (--password-file, [mail] smtp_password_file); SMTP without STARTTLS and a wrong SMTP password
# fail the poll and keep the mail.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
M=$D/m
at_exit rm -rf "$D"
POP=$(free_port) SMTP=$(free_port) STLS=$(free_port) POPS=$(free_port) SMTPS=$(free_port)
SMTPSI=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }

# self-signed certificate for 127.0.0.1 / localhost
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
check "self-signed certificate made" test -s "$D/cert.pem"

# TLS dovecot on the same maildirs: STLS on one port, POP3S on another, ssl = required
check "TLS dovecot answers on the STLS port and on the POP3S port (TLS handshake)" \
  mail_ctl pop3 "$M" pop3tls "$STLS" "$POPS" "$D/cert.pem" "$D/key.pem"
TLSLOG=$M/log/pop3tls.log

# SMTP servers requiring STARTTLS, then AUTH; and implicit TLS (SMTPS), then AUTH
echo "smtp-secret-$$" >"$D/smtp.pw"
echo "wrong" >"$D/smtp-wrong.pw"
echo "secret" >"$D/pop.pw"
auth=(--cert "$D/cert.pem" --key "$D/key.pem" --auth-user gwsender --auth-password-file "$D/smtp.pw")
smtp_tls_servers() {
  mail_ctl smtp "$M" smtps "$SMTPS" --tls starttls "${auth[@]}" &&
    mail_ctl smtp "$M" smtpsi "$SMTPSI" --tls implicit "${auth[@]}"
}
check "STARTTLS+AUTH and SMTPS+AUTH SMTP servers start" smtp_tls_servers
SMTPSLOG=$M/log/smtps.log SMTPSILOG=$M/log/smtpsi.log

cluster_up "$D/c" --shards 1 || { not_ok "cluster starts"; finish; }
conf() { # NAME key=value...: the cluster config plus a [mail] section
  local f=$D/$1.conf; shift
  { cat "$D/c/oks.conf"; echo; echo "[mail]"
    echo "user = keyserver2"; echo "address = keyserver2@localhost"; echo "state_dir = $D/state"
    echo "io_timeout_seconds = ${IO:-10}"
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } >"$f"
  echo "$f"
}
GOOD_SMTP=("smtp=127.0.0.1:$SMTPS" smtp_tls=starttls smtp_user=gwsender "smtp_password_file=$D/smtp.pw")
in_box() { ls "$M"/mail/keyserver2/new "$M"/mail/keyserver2/cur 2>/dev/null | grep -c '^[0-9]'; }
replies() { grep -l -F "Subject: Your command, HELP $1" "$M"/mail/alice/new/* 2>/dev/null | wc -l; }
send() { swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost \
  --to keyserver2@localhost --silent 2 --header "Subject: HELP $1" >/dev/null; }

# dovecot counts loopback connections as secured and lets them log in in plain text even with
# ssl = required, so the TLS checks below rely on its login log line ("TLS" or not)
send plain
C=$(conf plain "pop3=127.0.0.1:$STLS" pop3_tls=none "password_file=$D/pop.pw" "${GOOD_SMTP[@]}")
"$OKS_BIN/oks-gw-mail" -c "$C" --once --log "$D/plain.log"
check "plain POP3 (control): the poll succeeds" test $? -eq 0
check "plain POP3 (control): dovecot logs the login without TLS" bash -c "grep 'Login: user=<keyserver2>' '$TLSLOG' | grep -v -q TLS"
check "plain POP3 (control): the request was answered and deleted" bash -c "[ $(replies plain) -eq 1 ] && [ $(in_box) -eq 0 ]"

send stls
C=$(conf nostarttls "pop3=127.0.0.1:$STLS" pop3_tls=starttls "password_file=$D/pop.pw" "smtp=127.0.0.1:$SMTPS" smtp_user=gwsender "smtp_password_file=$D/smtp.pw")
"$OKS_BIN/oks-gw-mail" -c "$C" --once --log "$D/nostarttls.log"
check "SMTP without STARTTLS is refused by the server (poll fails)" test $? -ne 0
check "the failure is logged with the SMTP step" grep -q 'SMTP 127.0.0.1:[0-9]* AUTH' "$D/nostarttls.log"
check "no reply, the mail stays" bash -c "[ $(replies stls) -eq 0 ] && [ $(in_box) -eq 1 ]"

C=$(IO=2 conf wrongpw "pop3=127.0.0.1:$STLS" pop3_tls=starttls "password_file=$D/pop.pw" "smtp=127.0.0.1:$SMTPS" smtp_tls=starttls smtp_user=gwsender "smtp_password_file=$D/smtp-wrong.pw")
"$OKS_BIN/oks-gw-mail" -c "$C" --once --log "$D/wrongpw.log"
# (libetpan waits for the I/O timeout after the refused AUTH, hence IO=2 above)
check "a wrong SMTP password fails the poll" test $? -ne 0
check "the server saw the AUTH over TLS and refused it" grep -q "AUTH .* as 'gwsender' over TLS: refused" "$SMTPSLOG"
check "no reply, the mail stays after the refused AUTH" bash -c "[ $(replies stls) -eq 0 ] && [ $(in_box) -eq 1 ]"

C=$(conf stls "pop3=127.0.0.1:$STLS" pop3_tls=starttls "password_file=$D/pop.pw" "${GOOD_SMTP[@]}")
"$OKS_BIN/oks-gw-mail" -c "$C" --once --log "$D/stls.log"
check "STLS + STARTTLS/AUTH: the poll succeeds" test $? -eq 0
check "STLS + STARTTLS/AUTH: one reply delivered" wait_for 20 bash -c "[ \$(grep -l -F 'Subject: Your command, HELP stls' '$M'/mail/alice/new/* 2>/dev/null | wc -l) -eq 1 ]"
check "STLS + STARTTLS/AUTH: the request was deleted" test "$(in_box)" -eq 0
check "dovecot logged TLS logins for keyserver2" grep -q 'Login: user=<keyserver2>.*TLS' "$TLSLOG"
check "the SMTP server accepted AUTH over TLS" grep -q "AUTH .* as 'gwsender' over TLS: ok" "$SMTPSLOG"

send pop3s
C=$(conf pop3s "pop3=127.0.0.1:$POPS" pop3_tls=implicit password=not-this-one "smtp=127.0.0.1:$SMTPSI" smtp_tls=implicit smtp_user=gwsender "smtp_password_file=$D/smtp.pw")
"$OKS_BIN/oks-gw-mail" -c "$C" --once --password-file "$D/pop.pw" --log "$D/pop3s.log"
check "POP3S (--password-file) + SMTPS/AUTH: the poll succeeds" test $? -eq 0
check "POP3S + SMTPS/AUTH: one reply delivered" wait_for 20 bash -c "[ \$(grep -l -F 'Subject: Your command, HELP pop3s' '$M'/mail/alice/new/* 2>/dev/null | wc -l) -eq 1 ]"
check "POP3S + SMTPS/AUTH: the request was deleted" test "$(in_box)" -eq 0
check "the SMTPS server accepted the AUTH" grep -q "AUTH .* as 'gwsender' over TLS: ok" "$SMTPSILOG"
finish
