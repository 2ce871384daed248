#!/bin/sh
# options.sh: our key=value options (token_skip), and plugin lines that must not load.
. "${srcdir:-.}/auth_pam/lib.sh"

printf 'alice:Tok-Secret-1:tok\n' > "$WORK/passdb"
service tok "auth required $MATRIX passdb=$WORK/passdb" "account required $MATRIX passdb=$WORK/passdb"

# 1. token_skip=yes: a valid auth-gen-token session is accepted without PAM (the
#    "password" is then the token, which PAM could not check); other states go to PAM,
#    AuthenticatedEmptyUser included (openvpn-plugin.h: treat it as invalid).
{
    tabs name=token-valid username=alice password=token-not-a-password \
        session_state=Authenticated expect=allow max_ms=20
    tabs name=token-valid-empty-user username= password=token-not-a-password \
        session_state=AuthenticatedEmptyUser expect=deny
    tabs name=token-invalid username=alice password=token-not-a-password \
        session_state=Invalid expect=deny
    tabs name=initial username=alice password=Tok-Secret-1 session_state=Initial expect=allow
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 token_skip=yes tok
expect_ok "token_skip=yes"
grep -q 'accepted without PAM' "$LOG" || fail "token skip not logged"

# 2. Without token_skip the token goes to PAM like any password (as the bundled plugin).
tabs name=token-no-skip username=alice password=token-not-a-password \
    session_state=Authenticated expect=deny > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" -- workers=1 tok
expect_ok "no token_skip: PAM decides"
no_secrets "$LOG" Tok-Secret-1

# 3. Plugin lines that must fail at open, each with a message that says why.
: > "$WORK/none"
bad() {
    want=$1; shift
    LOG="$WORK/bad.log"
    : > "$LOG"
    run_driver "$LOG" "$WORK/none" --expect-open-fail -- "$@" > /dev/null
    expect_ok "open must fail: $*"
    grep -q -- "$want" "$LOG" || fail "open failed without \"$want\": $(cat "$LOG")"
}
bad 'no PAM service given'
bad 'no PAM service given' workers=2
bad 'has no value' tok login USERNAME password
bad 'unknown' wrkers=2 tok
bad 'workers' workers=0 tok
bad 'timeout' timeout=soon tok
bad 'bad PAM service name' ../etc/passwd

finish
