#!/usr/bin/env bash
# PKS-style sync by mail: two clusters, each with its own gw-mail and mailbox (keyserver and
# keyserver2), configured as each other's sync site. A key ADDed by mail to the first arrives in
# the second as an "incremental" (X-KeyServer-Sent loop prevention: it is not sent back); an
# incremental from an address that is not a sync site is not added.
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
common=(--shards 1 --mail-pop3 "127.0.0.1:$POP" --mail-password secret
        --mail-smtp "127.0.0.1:$SMTP" --mail-poll-seconds 1)
cluster_up "$D/a" "${common[@]}" --mail-user keyserver \
  --mail-address keyserver@localhost --mail-sync-sites keyserver2@localhost ||
  { not_ok "cluster A starts"; finish; }
cluster_up "$D/b" "${common[@]}" --mail-user keyserver2 \
  --mail-address keyserver2@localhost --mail-sync-sites keyserver@localhost ||
  { not_ok "cluster B starts"; finish; }
ok "two clusters with mail gateways, each the other's sync site"

GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key 'Sync Test <sync@localhost>' ed25519 default never 2>/dev/null
GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key 'Not Synced <nosync@localhost>' ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$G gpg --with-colons --fingerprint "=Sync Test <sync@localhost>" | awk -F: '$1=="fpr"{print $10; exit}')
FPR2=$(GNUPGHOME=$G gpg --with-colons --fingerprint nosync@localhost | awk -F: '$1=="fpr"{print $10; exit}')
GNUPGHOME=$G gpg --armor --export "$FPR" >"$D/k.asc"
GNUPGHOME=$G gpg --armor --export "$FPR2" >"$D/k2.asc"
mail_to() { # TO FROM SUBJECT BODYFILE
  swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from "$2" --to "$1" --silent 2 \
    --header "Subject: $3" --body "@$4" >/dev/null
}
in_b() { OKS_CONFIG=$D/b/oks.conf "$OKS_BIN/oksctl" get "$1" >/dev/null 2>&1; }
in_a() { OKS_CONFIG=$D/a/oks.conf "$OKS_BIN/oksctl" get "$1" >/dev/null 2>&1; }

mail_to keyserver@localhost alice@localhost "ADD" "$D/k.asc"
check "key ADDed to A by mail" wait_for 30 in_a "$FPR"
check "the key arrives in B by an incremental mail" wait_for 30 in_b "$FPR"
check "B took it as an incremental from its sync site" \
  grep -q 'incremental .* from keyserver@localhost: 1 keys new or changed' "$D/b/log/gw-mail.log"

# an incremental from someone who is not a sync site is not added
mail_to keyserver2@localhost alice@localhost "incremental" "$D/k2.asc"
marker() { grep -l -F "Subject: Your command, HELP $1" "$M"/mail/alice/new/* >/dev/null 2>&1; }
mail_to keyserver2@localhost alice@localhost "HELP m1" /dev/null
mail_to keyserver@localhost alice@localhost "HELP m2" /dev/null
check "B answers a marker after the foreign incremental" wait_for 30 marker m1
check "A answers a marker after B's processing" wait_for 30 marker m2
check "incremental from a non-sync-site address is not added" bash -c "! OKS_CONFIG=$D/b/oks.conf $OKS_BIN/oksctl get $FPR2 >/dev/null 2>&1"
check "it is logged as not sync" grep -q 'not a configured sync site' "$D/b/log/gw-mail.log"
# loop prevention: B did not send the key back, A sent exactly one incremental
mail_to keyserver2@localhost alice@localhost "HELP m3" /dev/null
check "B answers a later marker" wait_for 30 marker m3
check "A sent exactly one incremental" test "$(grep -c 'incremental with .* sent to' "$D/a/log/gw-mail.log")" -eq 1
check "B sent no incremental back (X-KeyServer-Sent lists A)" bash -c "! grep -q 'incremental with .* sent to' '$D/b/log/gw-mail.log'"
check "A received no incremental" bash -c "! grep -q 'incremental .* from keyserver2@localhost' '$D/a/log/gw-mail.log'"
finish
