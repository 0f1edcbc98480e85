#!/usr/bin/env bash
# Mail gateway outages, one after the other, with a running oks-gw-mail (poll every second,
# backoff capped at 2 s): the router, the SMTP server and the POP3 server are stopped, then
# request mails (GET, which needs the cluster) are put in the mailbox. Each outage is logged and
# retried with backoff; while it lasts no mail is answered or deleted; once the server is back
# every mail gets exactly one reply and leaves the mailbox.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
M=$D/m
GWPID=
cleanup() {
  [ -n "$GWPID" ] && kill "$GWPID" 2>/dev/null && wait "$GWPID" 2>/dev/null
  rm -rf "$D"
}
at_exit cleanup
POP=$(free_port) SMTP=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }
cluster_up "$D/c" --shards 1 || { not_ok "cluster starts"; finish; }
OWNER=$(mail_owner "$M")
C=$D/gw.conf
{ sed '/^\[router\]/,/^\[/s/^deadline_ms = .*/deadline_ms = 1000/' "$D/c/oks.conf"; cat <<EOC

[mail]
pop3 = 127.0.0.1:$POP
user = keyserver2
password = secret
smtp = 127.0.0.1:$SMTP
address = keyserver2@localhost
state_dir = $D/state
poll_seconds = 1
backoff_max_seconds = 2
io_timeout_seconds = 3
# outages here must not use up the tries of a failing mail (47 tests that bound), nor the
# rate limits that count the mails retried during a cluster outage
max_tries = 1000
rate_per_sender_hour = 0
EOC
} >"$C"
"$OKS_BIN/oks-gw-mail" -c "$C" --log "$D/gw.log" &
GWPID=$!
check "gateway polls" wait_for 20 grep -q 'polling keyserver2' "$D/gw.log"

# put_mails TAG N: N request mails straight into the maildir (as the SMTP server would)
put_mails() {
  local i f
  for i in $(seq 1 "$2"); do
    f=$M/mail/keyserver2/new/$(date +%s).M$RANDOM$i.$1
    printf 'Return-Path: <alice@localhost>\r\nFrom: alice@localhost\r\nTo: keyserver2@localhost\r\nSubject: GET %s-%s\r\nMessage-ID: <%s.%s@localhost>\r\n\r\nhelp\r\n' \
      "$1" "$i" "$1" "$i" >"$f.tmp"
    chown "$OWNER" "$f.tmp"
    mv "$f.tmp" "$f"
  done
}
in_box() { ls "$M"/mail/keyserver2/new "$M"/mail/keyserver2/cur 2>/dev/null | grep -c '^[0-9]'; }
replies_to() { grep -l -F "In-Reply-To: <$1@localhost>" "$M"/mail/alice/new/* 2>/dev/null | wc -l; }
any_reply() { local i; for i in 1 2 3; do [ "$(replies_to "$1.$i")" -eq 0 ] || return 0; done; return 1; }
one_reply_each() { local i; for i in 1 2 3; do [ "$(replies_to "$1.$i")" -eq 1 ] || return 1; done; }
since() { tail -n +"$(($1 + 1))" "$D/gw.log"; }
logged() { since "$1" | grep -q -- "$2"; }
lines() { wc -l <"$D/gw.log"; }
port_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- router outage
L=$(lines)
kill "$(cat "$D/c/run/router.pid")"
check "router stopped" wait_for 10 port_closed "$(awk -F'[:/]' '/^routers/{print $NF; exit}' "$D/c/oks.conf" | tr -dc 0-9)"
put_mails router 3
check "router outage: the kept mail is logged" wait_for 30 logged "$L" 'kept for a later try (1 of 1000): cluster unavailable'
check "router outage: the failed poll is logged with its retry" wait_for 30 logged "$L" 'poll failed, retry in [12] s'
check "router outage: retried with backoff (a second failed poll)" wait_for 30 bash -c "[ \$(tail -n +$((L + 1)) '$D/gw.log' | grep -c 'poll failed, retry in') -ge 2 ]"
any_reply router && not_ok "router outage: no reply while the router is down" || ok "router outage: no reply while the router is down"
check "router outage: no mail deleted" test "$(in_box)" -eq 3
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "router back: every mail gets one reply" wait_for 30 one_reply_each router
check "router back: the mailbox is empty" wait_for 20 bash -c "[ \$(ls '$M'/mail/keyserver2/new '$M'/mail/keyserver2/cur | grep -c '^[0-9]') -eq 0 ]"

# ---- SMTP outage
L=$(lines)
mail_ctl down "$M" smtp
check "SMTP server stopped" port_closed "$SMTP"
put_mails smtp 3
check "SMTP outage: the kept mail is logged" wait_for 30 logged "$L" 'reply not sent, kept for the next poll: SMTP 127.0.0.1'
check "SMTP outage: retried with backoff (a second failed poll)" wait_for 30 bash -c "[ \$(tail -n +$((L + 1)) '$D/gw.log' | grep -c 'poll failed, retry in') -ge 2 ]"
any_reply smtp && not_ok "SMTP outage: no reply while the SMTP server is down" || ok "SMTP outage: no reply while the SMTP server is down"
check "SMTP outage: no mail deleted" test "$(in_box)" -eq 3
mail_ctl up "$M" smtp
check "SMTP back: every mail gets one reply" wait_for 30 one_reply_each smtp
check "SMTP back: the mailbox is empty" wait_for 20 bash -c "[ \$(ls '$M'/mail/keyserver2/new '$M'/mail/keyserver2/cur | grep -c '^[0-9]') -eq 0 ]"

# ---- POP3 outage
L=$(lines)
mail_ctl down "$M" pop3
check "POP3 server stopped" port_closed "$POP"
put_mails pop 3
check "POP3 outage: the failed poll is logged" wait_for 30 logged "$L" "poll failed, retry in [12] s: POP3 127.0.0.1:$POP"
check "POP3 outage: retried with backoff (a second failed poll)" wait_for 30 bash -c "[ \$(tail -n +$((L + 1)) '$D/gw.log' | grep -c 'poll failed, retry in') -ge 2 ]"
any_reply pop && not_ok "POP3 outage: no reply while the POP3 server is down" || ok "POP3 outage: no reply while the POP3 server is down"
check "POP3 outage: every mail still in the mailbox" test "$(in_box)" -eq 3
mail_ctl up "$M" pop3
check "POP3 back: every mail gets one reply" wait_for 30 one_reply_each pop
check "POP3 back: the mailbox is empty" wait_for 20 bash -c "[ \$(ls '$M'/mail/keyserver2/new '$M'/mail/keyserver2/cur | grep -c '^[0-9]') -eq 0 ]"
check "gateway still running" kill -0 "$GWPID"
check "no mail was answered twice" bash -c "[ -z \"\$(grep -h '^In-Reply-To:' '$M'/mail/alice/new/* | sort | uniq -d)\" ]"
finish
