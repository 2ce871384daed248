#!/bin/sh
# crtext.sh: a PAM challenge (a second question) answered through OpenVPN's crtext
# pending auth and CLIENT_CRRESPONSE, hosted by ovp-refcore, logs at verb 11.
. "${srcdir:-.}/auth_pam/lib.sh"

REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }

b64() { printf '%s' "$1" | base64 -w0; }
CODE=246810
WRONG=135799
PW=Cr-Secret-1

# story NAME [plugin words...]: runs $WORK/NAME.story (again on pam_wrapper's race,
# see lib.sh); the whole output (core and plugin, verb 11) is in $WORK/NAME.out.
story() {
    name=$1; shift
    out="$WORK/$name.out"
    for attempt in 1 2 3; do
        LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
            PAM_WRAPPER_DISABLE_DEEPBIND=1 \
            "$REFCORE" --plugin "$PLUGIN" "$@" -- --poll fast --verb 11 --tmp-dir "$WORK" \
            --scenario "$WORK/$name.story" > "$out" 2>&1
        rc=$?
        [ $rc -eq 0 ] && return 0
        pamwrap_broke "$out" || break
        echo "note: pam_wrapper race in run $attempt (see lib.sh); running $name again"
    done
    fail "story $name (exit $rc)"
    grep -v 'PWRAP' "$out" | tail -n 40 | sed 's/^/    log: /'
    return 1
}

# in_log NAME TEXT: the run's output has a line with TEXT.
in_log() {
    grep -F -q -- "$2" "$WORK/$1.out" || fail "$1: no log line with \"$2\""
}

printf 'alice\t%s\t%s\n' "$PW" "$CODE" > "$WORK/accept"
OVT=$OVPTEST

# 1. The default rule: no pairs, so "Login:" gets the username, the first echo-off
#    question the password and the second one ("Code:") the challenge response.
service crt "auth required $OVT askon=Login: ask=Password: ask=Code: accept=$WORK/accept" \
    "account required $OVT"
cat > "$WORK/basic.story" <<EOF
# right code: the client was shown the challenge with the pending file's timeout
client a user=alice pass=$PW iv=IV_SSO=openurl,crtext
expect a line "AUTH_PENDING,timeout 130"
expect a pending "CR_TEXT:R:Enter your one-time code"
crresponse a $(b64 $CODE)
expect a ok
# the response of a request that is over is ignored
crresponse a $(b64 $WRONG)
expect log "challenge response ignored: no authentication of this client waits for one"

# wrong code
client b user=alice pass=$PW cn=bob iv=IV_SSO=crtext
expect b pending "Enter your one-time code"
crresponse b $(b64 $WRONG)
expect b fail "authentication failed"

# a response that does not decode fails, and says so in the log
client m user=alice pass=$PW cn=mal iv=IV_SSO=crtext
expect m pending
crresponse m "not*base64"
expect m fail "authentication failed"
expect log "the challenge response does not decode"

# only the first response counts (the second comes while or after PAM checks the first)
client d user=alice pass=$PW cn=dave iv=IV_SSO=crtext
expect d pending
crresponse d $(b64 $CODE)
crresponse d $(b64 $WRONG)
expect d ok

# a client without crtext gets no challenge: PAM's question fails, and it is told why
client c user=alice pass=$PW cn=carol
expect c fail "a challenge response is required: use a client that supports crtext (IV_SSO)"

# close (SIGHUP) while PAM waits for a response: nothing hangs, the reopen works
client w user=alice pass=$PW cn=walt iv=IV_SSO=crtext
expect w pending
wait 300ms
reload
expect w restart
client x user=alice pass=$PW cn=xena iv=IV_SSO=crtext
expect x pending
crresponse x $(b64 $CODE)
expect x ok
EOF
story basic workers=1 "crtext=Enter your one-time code" crt
in_log basic 'PAM asks "Code:" (echo off): answered with the client'"'"'s challenge response'
in_log basic 'challenge sent (crtext): the client has 120 s to answer'
# (lines from PAM's side reach OpenVPN's log at the plugin's next call, so afterwards)
in_log basic 'cannot answer it (no crtext in its IV_SSO)'
n=$(grep -c 'challenge response ignored' "$WORK/basic.out")
[ "$n" -ge 2 ] || fail "basic: the second response of dave was not ignored ($n ignored)"

# 2. No response: a clear failure at crtext_timeout, not a hang. timeout=1s is the
#    deadline of ordinary requests; a challenged one has crtext_timeout (per request).
cat > "$WORK/timeout.story" <<EOF
timeout 8
client late user=alice pass=$PW iv=IV_SSO=crtext
expect late line "AUTH_PENDING,timeout 13"
client slow user=alice pass=$PW cn=slow iv=IV_SSO=crtext
expect slow pending
wait 1500ms
crresponse slow $(b64 $CODE)
expect slow ok
expect late fail "no response to the challenge within 3 s"
EOF
start=$(date +%s)
story timeout workers=2 timeout=1s crtext_timeout=3s "crtext=Code?" crt
took=$(( $(date +%s) - start ))
[ "$took" -le 8 ] || fail "timeout: the unanswered challenge took ${took} s to fail"
in_log timeout "no challenge response from the client in time"

# 3. crtext_prompt with a stack where some users have no second factor: carol
#    passes the first module alone; alice needs the second. A client waiting for a
#    person does not hold the only worker: carol is served meanwhile. "slow" keeps
#    the worker busy while alice's response arrives before her request reached PAM.
printf 'carol\tCarol-Secret-3\nslow\tSlow-Secret-4\n' > "$WORK/accept1"
service crt2 \
    "auth [success=done default=ignore] $OVT askon=Login: ask=Password: accept=$WORK/accept1 sleep=1500 sleepfor=slow" \
    "auth required $OVT askon=Login: ask=Password: ask=Code: accept=$WORK/accept" \
    "account required $OVT"
cat > "$WORK/prompt.story" <<EOF
# early response: the only worker is busy with slow for 1.5 s
client s user=slow pass=Slow-Secret-4 cn=slow
wait 200ms
client a user=alice pass=$PW iv=IV_SSO=crtext
expect a pending "CR_TEXT:E,R:Your code"
crresponse a $(b64 $CODE)
expect s ok
expect a ok

# two clients wait for their users; carol (no second factor, no crtext) gets through
client b user=alice pass=$PW cn=bob iv=IV_SSO=crtext
client c user=alice pass=$PW cn=cid iv=IV_SSO=crtext
expect b pending
expect c pending
wait 500ms
client k user=carol pass=Carol-Secret-3 cn=carol
timeout 4
expect k ok
timeout 10
crresponse b $(b64 $CODE)
crresponse c $(b64 $WRONG)
expect b ok
expect c fail "authentication failed"
EOF
story prompt workers=1 crtext_prompt=code crtext_echo=yes "crtext=Your code" crt2
in_log prompt 'PAM asks "Password:" (echo off): answered with PASSWORD'

# 4. Prompt pairs, an echo-on token question that no pair answers (the default rule
#    with pairs), and PAM asking only after a while (the response waits in the pipe).
service crt3 "auth required $OVT delay=800 askon=User: ask=Password: askon=Token: accept=$WORK/accept" \
    "account required $OVT"
cat > "$WORK/pairs.story" <<EOF
client a user=alice pass=$PW iv=IV_SSO=crtext
expect a pending "CR_TEXT:R:Token"
crresponse a $(b64 $CODE)
expect a ok
EOF
story pairs workers=1 crtext=Token crt3 user USERNAME password PASSWORD
in_log pairs 'PAM asks "Token:" (echo on): answered with the client'"'"'s challenge response'

# 5. Without crtext the question stays unanswered, as before; options need crtext.
service crt4 "auth required $OVT askon=Login: ask=Password: ask=Code: accept=$WORK/accept" \
    "account required $OVT"
cat > "$WORK/off.story" <<EOF
client a user=alice pass=$PW iv=IV_SSO=crtext
expect a fail "authentication failed"
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
EOF
story off workers=1 crt4 login USERNAME password PASSWORD
in_log off 'PAM asked "Code:", which no prompt mapping on the plugin line answers'
grep -q 'AUTH_PENDING' "$WORK/off.out" && fail "off: a challenge was sent without crtext"
# CLIENT_CRRESPONSE is registered only with crtext=
grep -q 'intercepted=.*PLUGIN_CLIENT_CRRESPONSE' "$WORK/off.out" &&
    fail "off: CLIENT_CRRESPONSE registered without crtext"
in_log basic 'intercepted=PLUGIN_AUTH_USER_PASS_VERIFY|PLUGIN_CLIENT_CRRESPONSE'

# 6. The helper killed, and the plugin closed, while PAM waits for a response:
#    TEMP at once, nothing waits for the challenge's two minutes.
tabs name=killed username=alice password=$PW IV_SSO=crtext expect=temp max_ms=1500 \
    "reason=PAM helper is gone" > "$WORK/c-kill"
LOG="$WORK/kill.log"
run_driver "$LOG" "$WORK/c-kill" --kill-helper-at 400 -- workers=1 crtext=Code crt
expect_ok "helper killed while PAM waits for the challenge response"
cp "$LOG" "$WORK/kill.out"
{
    tabs name=closed1 username=alice password=$PW IV_SSO=crtext expect=temp \
        "reason=server is reloading"
    tabs name=closed2 username=alice password=$PW IV_SSO=crtext expect=temp \
        "reason=server is reloading"
} > "$WORK/c-close"
LOG="$WORK/close.log"
run_driver "$LOG" "$WORK/c-close" --close-at 400 -- workers=1 crtext=Code crt
expect_ok "close while PAM waits for challenge responses"
ms=$(sed -n 's/^close_ms=//p' "$WORK/out")
[ "${ms:-99999}" -lt 2500 ] || fail "close took ${ms} ms"
helper_parked_then_gone
cp "$LOG" "$WORK/close.out"

# 5. The user PAM authenticated must be the one who asked: with a pair for the
#    password only, the login question is the one nothing else answers, so the
#    challenge response answers it. Mallory, sending alice's name with his own
#    password and "mallory" as the response, must not become alice.
printf 'mallory\tMallory-Secret-5\n' > "$WORK/accept5"
service crt5 "auth required $OVT askon=Login: ask=Password: accept=$WORK/accept5" \
    "account required $OVT"
cat > "$WORK/impersonate.story" <<EOF
client i user=alice pass=Mallory-Secret-5 iv=IV_SSO=crtext
expect i pending
crresponse i $(b64 mallory)
expect i fail "authentication failed"
EOF
story impersonate workers=1 crtext=Name crt5 password PASSWORD
# (PAM's user is the challenge response, a secret: named only as hidden.)
in_log impersonate "PAM's user is \"(not shown: it holds a secret"

: > "$WORK/none"
bad() {
    want=$1; shift
    LOG="$WORK/bad.log"
    : > "$LOG"
    run_driver "$LOG" "$WORK/none" --expect-open-fail -- "$@" > /dev/null
    expect_ok "open must fail: $*"
    grep -q -- "$want" "$LOG" || fail "open failed without \"$want\": $(cat "$LOG")"
}
bad 'crtext_prompt has no effect without crtext' crtext_prompt=code crt
bad 'bad crtext' crtext= crt
bad 'crtext_timeout' crtext=x crtext_timeout=2h crt

# The responses, passwords and their base64 never reach a log line, at verb 11.
for f in "$WORK"/*.out; do
    no_secrets "$f" "$PW" "$CODE" "$WRONG" "$(b64 $CODE)" "$(b64 $WRONG)" \
        "$(b64 $PW)" Carol-Secret-3 Slow-Secret-4 Mallory-Secret-5
done

finish
