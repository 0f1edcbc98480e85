#!/usr/bin/env bash
# Mail gateway crash between reply and delete: oks-gw-mail exits right after its first reply
# was accepted by SMTP (before DELE); the next run finds the mail in its answered store and
# deletes it without a second reply. Also: a mailbox outage (wrong password) is reported and
# leaves the mail in place.
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
GW=("$OKS_BIN/oks-gw-mail" -c "$D/c/oks.conf" --pop3 "127.0.0.1:$POP" --smtp "127.0.0.1:$SMTP"
    --user keyserver2 --password secret --address keyserver2@localhost --state-dir "$D/state" --once)
in_box() { ls "$M"/mail/keyserver2/new "$M"/mail/keyserver2/cur 2>/dev/null | grep -c '^[0-9]'; }
replies() { grep -l -F "Subject: Your command, HELP crashtest" "$M"/mail/bob/new/* 2>/dev/null | wc -l; }
one_reply() { [ "$(replies)" -eq 1 ]; }

swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from bob@localhost --to keyserver2@localhost \
  --silent 2 --header "Subject: HELP crashtest" --header "Message-ID: <crash.1@localhost>" >/dev/null
check "request is in the mailbox" test "$(in_box)" -eq 1

"${GW[@]}" --password wrong --log "$D/bad.log"
check "a wrong mailbox password fails the poll" test $? -ne 0
check "the failure is logged" grep -q 'POP3 127.0.0.1' "$D/bad.log"
check "the mail stays in the mailbox after the failed poll" test "$(in_box)" -eq 1

"${GW[@]}" --crash-after-replies 1 --log "$D/run1.log"
check "gateway exits right after the reply (test hook, exit 3)" test $? -eq 3
check "one reply was delivered" wait_for 20 one_reply
check "the request is still in the mailbox (not deleted)" test "$(in_box)" -eq 1

"${GW[@]}" --log "$D/run2.log"
check "restarted gateway polls successfully" test $? -eq 0
check "restart recognises the answered mail" grep -q 'answered before' "$D/run2.log"
check "the mailbox is empty after the restart" test "$(in_box)" -eq 0
check "still exactly one reply" test "$(replies)" -eq 1
finish
