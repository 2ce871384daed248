#!/bin/bash
# auth_pam_crtext.sh: ovp-auth-pam's crtext challenge with a real OpenVPN 2.6 pair: the
# client sees the challenge, answers it (through its management interface, as a GUI
# would), and the answer reaches the PAM stack's second question; a wrong code and a
# client without crtext are refused with a reason.
. "$(dirname "$0")/lib.sh"
e2e_private_tmp "$@"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so")
OVPTEST="$top_builddir/tests/integration/auth_pam/.libs/pam_ovptest.so"
[ -f "$PLUGIN" ] || e2e_fail "plugin not built: $PLUGIN"
[ -f "$OVPTEST" ] || e2e_fail "test PAM module not built: $OVPTEST (make check builds it)"
e2e_pamwrap_env || e2e_fail "libpam-wrapper is not installed"

mkdir -p "$E2E_DIR/pam.d"
printf 'alice\tRight-Pass-1\t246810\n' > "$E2E_DIR/accept"
cat > "$E2E_DIR/pam.d/ovpe2e" <<PAM
auth required $OVPTEST askon=Login: ask=Password: ask=Code: accept=$E2E_DIR/accept
account required $OVPTEST
PAM
e2e_server_conf "plugin $PLUGIN \"crtext=Enter your code\" ovpe2e"
e2e_start_server

# mgmt PORT COMMAND: one command to a client's management interface (its own loopback)
mgmt() {
    ip netns exec "$E2E_CLI" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
        sleep 0.3; printf '%s\n' '$2' >&3; sleep 0.5; timeout 1 cat <&3"
}

# 1. the right code
e2e_client good alice alice Right-Pass-1 "setenv IV_SSO crtext
management 127.0.0.1 7505"
e2e_wait_log good.log "CR_TEXT:R:Enter your code" 20 || e2e_fail "no challenge reached the client"
mgmt 7505 "cr-response $(printf 246810 | base64)" > "$E2E_DIR/mgmt1.out"
e2e_wait_log good.log "Initialization Sequence Completed" 20 || e2e_fail "the right code did not connect"
e2e_stop good
e2e_log "ok: challenge shown, right code connects"

# 2. a wrong code
e2e_client bad alice alice Right-Pass-1 "setenv IV_SSO crtext
management 127.0.0.1 7506"
e2e_wait_log bad.log "CR_TEXT" 20 || e2e_fail "no challenge for the second client"
mgmt 7506 "cr-response $(printf 111111 | base64)" > "$E2E_DIR/mgmt2.out"
e2e_wait_log bad.log "AUTH_FAILED,authentication failed" 20 || e2e_fail "a wrong code was not refused"
e2e_log "ok: a wrong code gets AUTH_FAILED"

# 3. a client that cannot show a challenge is told why
e2e_client nocr alice alice Right-Pass-1 ""
e2e_wait_log nocr.log "AUTH_FAILED,a challenge response is required" 20 \
    || e2e_fail "a client without crtext was not told why"
grep "PLUGIN ovp-auth-pam" "$E2E_DIR/server.log" | grep -q -e 246810 -e MjQ2ODEw -e Right-Pass-1 \
    && e2e_fail "a code or password reached the plugin's log lines"
e2e_log "ok: a client without crtext is refused with the reason"
