#!/bin/sh
# inline.sh: inline_wait, hosted by ovp-refcore. With it on, a verdict PAM gives within
# the wait is the auth call's own return value: SUCCESS, or ERROR with the reason (read
# by OpenVPN from the reason file after a synchronous ERROR); no DEFERRED. Deferred as
# before: inline_wait off, a PAM stack slower than the wait, a refusal held for PAM's
# fail delay, and a crtext challenge (its pending file is read only after DEFERRED).
# Above 10ms the plugin line is refused, saying why.
. "${srcdir:-.}/auth_pam/lib.sh"

REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }

b64() { printf '%s' "$1" | base64 -w0; }
PW=In-Secret-1
WRONG=In-Wrong-2
CODE=246810

# story NAME [plugin words...]: runs $WORK/NAME.story (again on pam_wrapper's race, see
# lib.sh); the whole output (core and plugin, verb 11) is in $WORK/NAME.out. Returns 1
# (without failing the test) when the story did not hold.
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
    return 1
}
must() { # must NAME [words...]: story, and a failure when it did not hold
    story "$@" && return 0
    fail "story $1 (exit $rc)"
    grep -v 'PWRAP' "$WORK/$1.out" | tail -n 40 | sed 's/^/    log: /'
}

printf 'alice:%s:inm\n' "$PW" > "$WORK/passdb"
service inm "auth required $MATRIX passdb=$WORK/passdb" \
    "account required $MATRIX passdb=$WORK/passdb"

# 1. On: right and wrong password answered inline. A PAM transaction is a process of the
#    root helper (fork, PAM, reply): a loaded machine (sanitizers, CI) can make it slower
#    than 10ms now and then, so the run is tried again then.
cat > "$WORK/on.story" <<EOS
client a user=alice pass=$PW cn=a
expect a ok
client w user=alice pass=$WRONG cn=w
expect w fail "authentication failed"
expect calls "AUTH_USER_PASS_VERIFY -> SUCCESS" 1
expect calls "AUTH_USER_PASS_VERIFY -> ERROR" 1
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 0
expect stat deferred 0
EOS
inline_ok=0
for attempt in 1 2 3; do
    if story on workers=2 inline_wait=10ms inm; then inline_ok=1; break; fi
    echo "note: run $attempt was not answered inline (a slow moment?); running it again"
done
if [ $inline_ok -ne 1 ]; then
    fail "inline_wait=10ms: pam_matrix was not answered inline"
    grep -v 'PWRAP' "$WORK/on.out" | tail -n 40 | sed 's/^/    log: /'
fi
grep -q 'inline_wait=10000 us' "$WORK/on.out" || fail "the setup line does not show inline_wait"
grep -q '\[w@.*authentication failed' "$WORK/on.out" \
    || fail "the inline refusal is not logged with the client's name"

# 2. Off (the default): DEFERRED.
cat > "$WORK/off.story" <<EOS
client a user=alice pass=$PW cn=a
expect a ok
client w user=alice pass=$WRONG cn=w
expect w fail "authentication failed"
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 2
expect stat deferred 2
EOS
must off workers=2 inm
grep -q 'inline_wait=0 us' "$WORK/off.out" || fail "the setup line does not show inline_wait=0"

# 3. Slower than the wait (a 100 ms module), and a refusal held for PAM's fail delay
#    (500 ms): DEFERRED, answered through the control file as before.
printf 'alice\t%s\n' "$PW" > "$WORK/accept"
service slow "auth required $OVPTEST delay=100 accept=$WORK/accept" "account required $OVPTEST"
service fdelay "auth required $OVPTEST faildelay=500 accept=$WORK/accept" \
    "account required $OVPTEST"
cat > "$WORK/slow.story" <<EOS
client a user=alice pass=$PW cn=a
expect a ok
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 1
EOS
must slow workers=2 inline_wait=2ms slow
cat > "$WORK/fdelay.story" <<EOS
client w user=alice pass=$WRONG cn=w
expect w fail "authentication failed"
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 1
EOS
must fdelay workers=2 inline_wait=10ms fdelay
grep -q 'refusal held for [0-9]* ms (PAM fail delay)' "$WORK/fdelay.out" \
    || fail "the fail delay was not held"

# 4. A crtext challenge: DEFERRED with its pending file, whatever inline_wait says.
printf 'alice\t%s\t%s\n' "$PW" "$CODE" > "$WORK/accept2"
service crt "auth required $OVPTEST askon=Login: ask=Password: ask=Code: accept=$WORK/accept2" \
    "account required $OVPTEST"
cat > "$WORK/cr.story" <<EOS
client c user=alice pass=$PW cn=c iv=IV_SSO=crtext
expect c pending "CR_TEXT:R:Code?"
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 1
crresponse c $(b64 $CODE)
expect c ok
EOS
must cr workers=2 inline_wait=10ms "crtext=Code?" crt

# 5. Above the limit: the open fails, with why.
LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
    PAM_WRAPPER_DISABLE_DEEPBIND=1 \
    "$REFCORE" --plugin "$PLUGIN" inline_wait=11ms inm -- --verb 3 --tmp-dir "$WORK" \
    --clients 1 --username alice --password "$PW" > "$WORK/big.out" 2>&1 \
    && fail "inline_wait=11ms was accepted"
grep -q "inline_wait '11ms': expected a duration from 0us to 10ms.*stalls" "$WORK/big.out" \
    || fail "no clear error for inline_wait over 10ms"

for f in "$WORK"/*.out; do no_secrets "$f" "$PW" "$WRONG"; done
finish
