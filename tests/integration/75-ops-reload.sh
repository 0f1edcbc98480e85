#!/usr/bin/env bash
# SIGHUP (docs/operations.md "Reload"): the HTTP gateway re-reads its templates and rate limits
# without a restart, while a lookup loop runs (no request of it fails, the process is the same);
# a broken config or template on SIGHUP is logged with its file and line (or byte) and the
# running settings stay; every daemon reopens its log file after logrotate moved it away; the
# mail gateway takes a new reply template and rate limit on SIGHUP between polls and keeps the
# running ones when a template is broken.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
C=$D/c
T=$D/tmpl
"$OKS_BIN/oks-gw-http" dump-templates "$T" >/dev/null || { not_ok "dump-templates"; finish; }
HP=$(free_port)
cluster_up "$C" --shards 2 --http-port "$HP" --http-opt "templates=$T" || { not_ok "cluster starts"; finish; }
ok "cluster with the HTTP gateway on its own templates starts"
CONF=$C/oks.conf
export OKS_CONFIG=$CONF
U=http://127.0.0.1:$HP
GW_PID=$(cat "$C/run/gw-http.pid")
"$CTL" import --quiet "$OKS_ROOT"/tests/data/matrix-*.pgp >/dev/null 2>&1
F=$("$CTL" export "$D/e" >/dev/null && "$CTL" inspect "$D"/e/*.pgp 2>/dev/null | awk -F: '$1=="pub"{print $2; exit}')
check "a key to look up ($F)" test -n "$F"
hups() { grep -c "SIGHUP: templates, rate limits and metrics_allow reloaded" "$C/log/gw-http.log"; }

# a lookup loop for the whole test (bounded: at most 20000 lookups, stopped by a file)
(
  for _ in $(seq 20000); do
    [ -e "$D/stop-loop" ] && break
    curl -s -o /dev/null -w '%{http_code}\n' "$U/pks/lookup?op=get&search=0x$F"
  done >"$D/loop-codes"
) &
LOOP=$!
at_exit kill "$LOOP"

# ---- a template and a rate limit changed, SIGHUP
check "the home page is the dumped template" bash -c "! curl -s '$U/' | grep -q RELOADED-HOME"
uploads() { for _ in 1 2 3 4; do http_code --data 'foo=bar' "$U/pks/add"; echo; done | sort | uniq -c | tr -s ' \n' ' '; }
before=$(uploads)
check "no upload limit yet: 4 uploads answered 400 ($before)" grep -q "4 400" <<<"$before"
sed -i 's|<h1>OKS keyserver</h1>|<h1>OKS keyserver RELOADED-HOME</h1>|' "$T/home.html"
sed -i '/^\[http\]/a rate_upload = 0.001\nburst_upload = 2' "$CONF"
kill -HUP "$GW_PID"
check "the reload is logged" wait_for 30 bash -c "[ \$(grep -c 'SIGHUP: templates, rate limits' '$C/log/gw-http.log') -ge 1 ]"
check "the new home page is served" wait_for 30 bash -c "curl -s '$U/' | grep -q RELOADED-HOME"
after=$(uploads)
check "the new upload limit applies: 2 answered, 2 refused with 429 ($after)" \
  grep -q "2 400 2 429" <<<"$after"
check "same gateway process (no restart)" kill -0 "$GW_PID"

# ---- a broken config on SIGHUP: logged with file:line, the running settings stay
cp "$CONF" "$D/good.conf"
sed -i '/^\[http\]/a no_such_setting = 1' "$CONF"
LINE=$(grep -n '^no_such_setting' "$CONF" | cut -d: -f1)
n=$(grep -c "not reloaded" "$C/log/gw-http.log")
kill -HUP "$GW_PID"
check "a broken config on SIGHUP is logged" \
  wait_for 30 bash -c "[ \$(grep -c 'not reloaded' '$C/log/gw-http.log') -gt $n ]"
msg=$(grep "not reloaded" "$C/log/gw-http.log" | tail -1)
check "  ... naming the file and line $LINE ($msg)" grep -q "oks.conf:$LINE\|line $LINE" <<<"$msg"
check "  ... the gateway still runs" kill -0 "$GW_PID"
check "  ... with the running templates" bash -c "curl -s '$U/' | grep -q RELOADED-HOME"
check "  ... and the running limit" test "$(http_code --data 'foo=bar' "$U/pks/add")" = 429
cp "$D/good.conf" "$CONF"

# ---- a broken template on SIGHUP: logged with file and byte, the running page stays
cp "$T/home.html" "$D/home.good"
echo '{{#unclosed}}' >>"$T/home.html"
n=$(grep -c "not reloaded" "$C/log/gw-http.log")
kill -HUP "$GW_PID"
check "a broken template on SIGHUP is logged" \
  wait_for 30 bash -c "[ \$(grep -c 'not reloaded' '$C/log/gw-http.log') -gt $n ]"
check "  ... naming the template" grep -q "template $T/home.html" "$C/log/gw-http.log"
check "  ... the running page stays" bash -c "curl -s '$U/' | grep -q RELOADED-HOME"
cp "$D/home.good" "$T/home.html"

# ---- logrotate: mv the log, SIGHUP, a new file at the same path
n=$(hups)
mv "$C/log/gw-http.log" "$C/log/gw-http.log.1"
kill -HUP "$GW_PID"
check "gw-http writes a new log file after mv + SIGHUP" \
  wait_for 30 grep -q "SIGHUP: templates, rate limits" "$C/log/gw-http.log"
check "  ... and nothing more into the moved one" \
  test "$(grep -c "SIGHUP: templates" "$C/log/gw-http.log.1")" -eq "$n"
for d in router shard-s0; do
  mv "$C/log/$d.log" "$C/log/$d.log.1"
  kill -HUP "$(cat "$C/run/$d.pid")"
  check "$d reopens its log after mv + SIGHUP" wait_for 30 test -e "$C/log/$d.log"
  check "  ... and logs there (its keys reloaded)" \
    wait_for 30 grep -q "SIGHUP: .* accepted public keys reloaded" "$C/log/$d.log"
  check "  ... still running" kill -0 "$(cat "$C/run/$d.pid")"
done
check "the cluster still answers" "$CTL" get "$F"

# ---- the mail gateway: templates and rate limits on SIGHUP, between polls
POP=$(free_port) SMTP=$(free_port)
if mail_start "$D/m" "$POP" "$SMTP"; then
  "$OKS_BIN/oks-gw-mail" dump-templates "$D/mt" >/dev/null
  echo 'Help text HELP-V1 of {{server_name}}.' >"$D/mt/help.txt"
  sed -i "/^\[http\]/i [mail]\ntemplates = $D/mt\n" "$CONF"
  "$OKS_BIN/oks-gw-mail" -c "$CONF" --pop3 "127.0.0.1:$POP" --smtp "127.0.0.1:$SMTP" \
    --user keyserver2 --password secret --address keyserver2@localhost --state-dir "$D/mstate" \
    --poll-seconds 1 --log "$D/gw-mail.log" >/dev/null 2>&1 &
  MAIL_PID=$!
  at_exit kill "$MAIL_PID"
  send() { # MESSAGE-ID
    swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from bob@localhost \
      --to keyserver2@localhost --silent 2 --timeout 20 --header "Subject: HELP" \
      --header "Message-Id: <$1@localhost>" >/dev/null
  }
  body_of() { # MESSAGE-ID: the decoded text of the reply to it
    local f
    f=$(grep -l -F "In-Reply-To: <$1@localhost>" "$D"/m/mail/bob/new/* 2>/dev/null | head -1)
    [ -n "$f" ] && /usr/bin/python3 -c 'import email,sys
m=email.message_from_binary_file(open(sys.argv[1],"rb"))
print("".join(p.get_payload(decode=True).decode(errors="replace") for p in m.walk() if p.get_content_type()=="text/plain"))' "$f"
  }
  send h1
  check "gw-mail answers HELP with its template" wait_for 60 bash -c "$(declare -f body_of); D='$D'; body_of h1 | grep -q HELP-V1"
  echo 'Help text HELP-V2 of {{server_name}}.' >"$D/mt/help.txt"
  sed -i '/^\[mail\]/a rate_per_sender_hour = 7' "$CONF"
  kill -HUP "$MAIL_PID"
  check "gw-mail logs the reload with the new limit" \
    wait_for 60 grep -q "SIGHUP: templates and rate limits reloaded from $CONF (per sender 7" "$D/gw-mail.log"
  send h2
  check "  ... and answers with the new template" wait_for 60 bash -c "$(declare -f body_of); D='$D'; body_of h2 | grep -q HELP-V2"
  echo '{{#broken}}' >"$D/mt/help.txt"
  kill -HUP "$MAIL_PID"
  check "a broken mail template on SIGHUP is logged, the running ones stay" \
    wait_for 60 grep -q "SIGHUP: $CONF not reloaded, the running settings stay: .*help.txt" "$D/gw-mail.log"
  send h3
  check "  ... the reply still uses the running template" wait_for 60 bash -c "$(declare -f body_of); D='$D'; body_of h3 | grep -q HELP-V2"
  check "  ... same gw-mail process" kill -0 "$MAIL_PID"
else
  not_ok "mail stack starts"
fi

# ---- the lookup loop: not one failed request
touch "$D/stop-loop"
wait "$LOOP"
total=$(wc -l <"$D/loop-codes")
bad=$(grep -vc '^200$' "$D/loop-codes")
check "the lookup loop ran ($total lookups) without a failed request ($bad not 200)" \
  test "$total" -gt 0 -a "$bad" -eq 0
finish
