#!/bin/sh
# inline.sh: InlineWait. With it on, an answer from a fast service is the auth call's
# own return value (SUCCESS, or ERROR with the service's reason, read by OpenVPN from
# the reason file): no DEFERRED, nothing for OpenVPN to poll. A service slower than the
# wait, and InlineWait off, give DEFERRED as before. A 202's round one may be answered
# inline (TEMP[backoff 1]); round two, which needs its pending file read, always defers.
# Above 10ms the config is refused, saying why.
. "${srcdir:-.}/auth_http/lib.sh"

service main '{"default": {"action": "deny"},
 "users": {
  "alice": {"action": "allow", "client_config": ["push \"route 10.61.0.0 255.255.0.0\""]},
  "carol": {"action": "deny", "status": 403, "reason": "account locked"},
  "slow": {"action": "allow", "delay_ms": 300},
  "sso": {"action": "challenge", "text": "Enter your code", "answer": "246810",
          "final": {"action": "allow"}}
 }}'

# A loaded machine (sanitizers, CI) can make even this service slower than 10ms now and
# then; the inline run is tried again then (the point is that it can answer inline).
inline_ok=0
for attempt in 1 2 3; do
    conf "$WORK/on.conf" "URL $HTTP_URL" "Timeout 3s" "InlineWait 10ms"
    if story on "$WORK/on.conf" <<'EOS'
client a user=alice pass=Inline-Pass-1 cn=a
expect a ok
expect a push "route 10.61.0.0 255.255.0.0"
client c user=carol pass=Inline-Pass-2 cn=c
expect c fail "account locked"
expect calls "AUTH_USER_PASS_VERIFY -> SUCCESS" 1
expect calls "AUTH_USER_PASS_VERIFY -> ERROR" 1
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 0
expect stat deferred 0
EOS
    then
        inline_ok=1
        break
    fi
    FAILED=0
    echo "note: run $attempt was not answered inline (a slow moment?); running it again"
done
[ $inline_ok -eq 1 ] || fail "InlineWait 10ms: a fast service was not answered inline"
out=$WORK/on.out
has "$out" "InlineWait 10000 us" "the setup line does not show InlineWait"
has "$out" "[c@" "the refusal is not logged with the client's name"
has "$out" "account locked" "the refusal's reason is not logged"

# Slower than the wait: DEFERRED, answered through the control file as before.
conf "$WORK/slow.conf" "URL $HTTP_URL" "Timeout 3s" "InlineWait 2ms"
story slow "$WORK/slow.conf" <<'EOS'
client s user=slow pass=Inline-Pass-3 cn=s
expect s ok
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 1
expect stat deferred 1
EOS

# Off (the default): DEFERRED.
conf "$WORK/off.conf" "URL $HTTP_URL" "Timeout 3s"
story off "$WORK/off.conf" <<'EOS'
client a user=alice pass=Inline-Pass-1 cn=a
expect a ok
client c user=carol pass=Inline-Pass-2 cn=c
expect c fail "account locked"
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 2
expect stat deferred 2
EOS
has "$WORK/off.out" "InlineWait 0 us" "the setup line does not show InlineWait off"

# A challenge: round one (TEMP, the 202 kept) inline or not, round two always DEFERRED
# with its pending file read, then the response decides.
conf "$WORK/cr.conf" "URL $HTTP_URL" "Timeout 3s" "InlineWait 10ms" "PendingReconnect 20s"
story cr "$WORK/cr.conf" <<'EOS'
client c user=sso pass=Inline-Pass-4 cn=c iv=IV_SSO=crtext
expect c fail "TEMP[backoff 1]: sign-in required, reconnecting"
mark
client c2 user=sso pass=Inline-Pass-4 cn=c iv=IV_SSO=crtext
expect c2 pending "CR_TEXT:R:Enter your code"
expect calls "AUTH_USER_PASS_VERIFY -> DEFERRED" 1
crresponse c2 MjQ2ODEw
expect c2 ok
EOS

# Above the limit: refused at open, with why.
conf "$WORK/big.conf" "URL $HTTP_URL" "InlineWait 11ms"
"$REFCORE" --plugin "$PLUGIN" "$WORK/big.conf" -- --verb 3 --clients 1 --username alice \
    --password Inline-Pass-1 > "$WORK/big.out" 2>&1 && fail "InlineWait 11ms was accepted"
has "$WORK/big.out" "InlineWait '11ms': expected a duration from 0us to 10ms" \
    "no clear error for InlineWait over 10ms"
has "$WORK/big.out" "stalls" "the error does not say what the wait costs"

no_secrets "$WORK/on.out" Inline-Pass-1 Inline-Pass-2
no_secrets "$WORK/off.out" Inline-Pass-1 Inline-Pass-2
no_secrets "$WORK/slow.out" Inline-Pass-3
no_secrets "$WORK/cr.out" Inline-Pass-4
finish
