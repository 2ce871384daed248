#!/bin/bash
# auth_pam.sh: ovp-auth-pam in a real OpenVPN server (user nobody) with real libpam through
# pam_wrapper: right / wrong password, and a 5-second PAM stack for one user that does not
# hold up a second client.
. "$(dirname "$0")/lib.sh"
e2e_private_tmp "$@"
e2e_init
e2e_pki alice slow
PLUGIN=$(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so")
OVPTEST="$top_builddir/tests/integration/auth_pam/.libs/pam_ovptest.so"
[ -f "$PLUGIN" ] || e2e_fail "plugin not built: $PLUGIN"
[ -f "$OVPTEST" ] || e2e_fail "test PAM module not built: $OVPTEST (make check builds it)"
e2e_pamwrap_env || e2e_fail "libpam-wrapper is not installed"

# One service: answers from a file; the user "slow" takes 5 s.
mkdir -p "$E2E_DIR/pam.d"
printf 'alice\tRight-Pass-1\nslow\tSlow-Pass-2\n' > "$E2E_DIR/accept"
cat > "$E2E_DIR/pam.d/ovpe2e" <<PAM
auth required $OVPTEST sleep=5000 sleepfor=slow accept=$E2E_DIR/accept
account required $OVPTEST
PAM

e2e_server_conf "plugin $PLUGIN ovpe2e"
e2e_start_server

# 1. right password
e2e_client good alice alice Right-Pass-1
e2e_wait_log good.log "Initialization Sequence Completed" 20 || e2e_fail "alice did not connect"
e2e_stop good
e2e_log "ok: right password connects"

# 2. wrong password: AUTH_FAILED with the reason, and the client stops
e2e_client bad alice alice Wrong-Pass
e2e_wait_log bad.log "AUTH_FAILED,authentication failed" 20 \
    || e2e_fail "wrong password did not see AUTH_FAILED with a reason"
e2e_log "ok: wrong password gets AUTH_FAILED,authentication failed"

# 3. a 5-second PAM stack for "slow" does not hold up alice
e2e_client slow slow slow Slow-Pass-2
sleep 0.5
start=$(date +%s%N)
e2e_client fast alice alice Right-Pass-1
e2e_wait_log fast.log "Initialization Sequence Completed" 20 || e2e_fail "alice did not connect"
fast_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "Initialization Sequence Completed" "$E2E_DIR/slow.log" \
    && e2e_fail "the slow client finished before the fast one: PAM was not slow?"
[ "$fast_ms" -lt 4000 ] || e2e_fail "alice waited ${fast_ms} ms behind the slow PAM stack"
e2e_wait_log slow.log "Initialization Sequence Completed" 20 || e2e_fail "the slow client never connected"
grep "PLUGIN ovp-auth-pam" "$E2E_DIR/server.log" | grep -q -e Right-Pass-1 -e Slow-Pass-2 -e Wrong-Pass \
    && e2e_fail "a password reached the log"
e2e_log "ok: alice connected in ${fast_ms} ms while slow's PAM took 5 s"
