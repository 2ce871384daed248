#!/bin/sh
# admission.sh: caps on requests in flight per source address, per username, and
# on clients waiting to answer a challenge. Over a cap: TEMP at once, no PAM run.
. "${srcdir:-.}/auth_pam/lib.sh"

printf 'slow\tSlow-Secret-1\nslow2\tSlow-Secret-1\nslow3\tSlow-Secret-1\nslow4\tSlow-Secret-1\n' \
    > "$WORK/accept"
service adm "auth required $OVPTEST sleep=1000 sleepfor=slow accept=$WORK/accept" \
    "account required $OVPTEST"

# 1. per_user=2: a third request for the same user (any address, any letter case)
#    fails at once; another user is served.
{
    tabs name=u1 username=slow password=Slow-Secret-1 expect=allow
    tabs name=u2 username=slow password=Slow-Secret-1 expect=allow
    tabs name=u3 username=SLOW password=Slow-Secret-1 expect=temp max_ms=50 \
        "reason=too many authentications in progress for this user"
    tabs name=other username=slow2 password=Slow-Secret-1 expect=allow
    tabs name=u4 at=1500 username=slow password=Slow-Secret-1 expect=allow
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" -- workers=4 per_user=2 adm
expect_ok "per_user caps one user's requests in flight"
grep -q 'in progress for user "SLOW" (per_user=2)' "$LOG" || fail "the per_user refusal is not logged"
no_secrets "$LOG" Slow-Secret-1

# 2. per_address=2: a third request from one address fails at once; another address
#    is served. IPv6 clients of one /64 count as one address.
{
    tabs name=a1 untrusted_ip=192.0.2.7 username=slow password=Slow-Secret-1 expect=allow
    tabs name=a2 untrusted_ip=192.0.2.7 username=slow2 password=Slow-Secret-1 expect=allow
    tabs name=a3 untrusted_ip=192.0.2.7 username=slow3 password=Slow-Secret-1 expect=temp \
        max_ms=50 "reason=too many authentications in progress from this address"
    tabs name=b1 untrusted_ip=192.0.2.8 username=slow4 password=Slow-Secret-1 expect=allow
    tabs name=v1 untrusted_ip6=2001:db8:1:2::10 username=slow password=Slow-Secret-1 expect=allow
    tabs name=v2 untrusted_ip6=2001:db8:1:2::20 username=slow2 password=Slow-Secret-1 expect=allow
    tabs name=v3 untrusted_ip6=2001:db8:1:2:ffff::1 username=slow3 password=Slow-Secret-1 \
        expect=temp max_ms=50 "reason=from this address"
} > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" -- workers=8 per_address=2 adm
expect_ok "per_address caps one address's requests in flight"
grep -q 'from 192.0.2.7 (per_address=2)' "$LOG" || fail "the per_address refusal is not logged"

# 3. Bad values are refused at open.
for bad in per_user=0 per_address=0 crtext_max=4; do
    LOG="$WORK/bad.log"
    tabs name=none username=slow password=x > "$WORK/none"
    run_driver "$LOG" "$WORK/none" --expect-open-fail -- "$bad" adm > /dev/null ||
        fail "$bad was accepted"
done

# 4. crtext_max=1: while one client is shown the challenge, a second one is refused
#    at once (TEMP); once the first has answered, the next is challenged again.
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }
b64() { printf '%s' "$1" | base64 -w0; }
printf 'alice\tCr-Secret-5\t246810\n' > "$WORK/accept4"
service crt "auth required $OVPTEST askon=Login: ask=Password: ask=Code: accept=$WORK/accept4" \
    "account required $OVPTEST"
cat > "$WORK/cr.story" <<EOF2
client a user=alice pass=Cr-Secret-5 iv=IV_SSO=crtext
expect a pending
client b user=alice pass=Cr-Secret-5 cn=bob iv=IV_SSO=crtext
expect b fail-contains "TEMP: too many clients are answering a challenge"
crresponse a $(b64 246810)
expect a ok
client c user=alice pass=Cr-Secret-5 cn=carol iv=IV_SSO=crtext
expect c pending
crresponse c $(b64 246810)
expect c ok
EOF2
out="$WORK/cr.out"
for attempt in 1 2 3; do
    LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
        PAM_WRAPPER_DISABLE_DEEPBIND=1 \
        "$REFCORE" --plugin "$PLUGIN" workers=2 crtext_max=1 crtext=Code crt -- --poll fast \
        --verb 11 --tmp-dir "$WORK" --scenario "$WORK/cr.story" > "$out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && break
    pamwrap_broke "$out" || break
done
if [ $rc -ne 0 ]; then
    fail "crtext_max caps the clients waiting for a challenge (exit $rc)"
    grep -v PWRAP "$out" | tail -n 30 | sed 's/^/    log: /'
fi
grep -q 'waiting for a challenge response (crtext_max=1)' "$out" ||
    fail "the crtext_max refusal is not logged"

finish
