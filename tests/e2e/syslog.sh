#!/bin/bash
# syslog.sh: ovp-auth-pam in a server run with `daemon` and no `log`, so that OpenVPN (and
# glibc in its process) logs to syslog, with a real PAM stack that logs too (pam_unix and
# a throwaway account): a wrong password is refused, then the right one connects. The
# messages PAM sends to syslog must never reach the plugin's channel to its root helper.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so")
e2e_sanitized "$PLUGIN"
[ -f /lib/x86_64-linux-gnu/security/pam_unix.so ] || [ -n "$(ls /lib/*/security/pam_unix.so /usr/lib/*/security/pam_unix.so 2>/dev/null)" ] \
    || e2e_skip_or_fail "pam_unix.so is not installed (libpam-modules)"

USER_NAME=ovpe2e-syslog
PASS="Sys-Log-Pass-$$"
e2e_account "$USER_NAME" "$PASS"
SERVICE=ovpe2e-syslog
e2e_pam_service "$SERVICE" "auth required pam_unix.so" "account required pam_unix.so"
e2e_syslog_sink

e2e_server_conf "daemon ovpe2e-syslog
plugin $PLUGIN $SERVICE"
e2e_start_server
grep -q "ovpe2e-syslog\[[0-9]*\]: .*Initialization Sequence Completed" "$E2E_DIR/syslog.log" \
    || e2e_fail "OpenVPN's lines did not reach the syslog sink"
grep -q "PLUGIN ovp-auth-pam" "$E2E_DIR/syslog.log" \
    || e2e_fail "the plugin's lines did not reach the syslog sink"
e2e_log "ok: the daemonized server logs to the test's syslog sink"

# 1. A wrong password: pam_unix logs "authentication failure" to syslog, the client is
#    refused with the generic reason.
e2e_client bad alice "$USER_NAME" "Wrong-$PASS"
e2e_wait_log bad.log "AUTH_FAILED" 20 || e2e_fail "the wrong password got no AUTH_FAILED"
grep -q "AUTH_FAILED,authentication failed" "$E2E_DIR/bad.log" \
    || e2e_soft_fail "the wrong password got: $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/bad.log")"
e2e_stop bad
e2e_log "wrong password: $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/bad.log")"

# 2. The right password connects, and a ping crosses the tunnel.
e2e_client good alice "$USER_NAME" "$PASS"
if e2e_wait_connect good 20; then
    ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null \
        || e2e_soft_fail "no ping across the tunnel"
    e2e_log "ok: the right password connects after a wrong one"
else
    e2e_soft_fail "the right password did not connect: $E2E_WHY"
fi
e2e_stop good

# pam_unix's own lines went to syslog (the sink), not into the plugin.
grep -q "pam_unix($SERVICE:auth): authentication failure" "$E2E_DIR/syslog.log" \
    || e2e_soft_fail "pam_unix's failure line did not reach syslog"
grep "PLUGIN ovp-auth-pam" "$E2E_DIR/syslog.log" | grep -q -i -e "oversize" -e "helper is gone" \
    -e "protocol" && e2e_soft_fail "the plugin lost its helper: $(grep "PLUGIN ovp-auth-pam" \
    "$E2E_DIR/syslog.log" | grep -i -m2 -e oversize -e gone -e protocol)"
grep "PLUGIN ovp-auth-pam" "$E2E_DIR/syslog.log" | grep -q -e "$PASS" \
    && e2e_soft_fail "the password reached the log"
e2e_finish
e2e_log "ok: PAM's syslog lines stay out of the helper's channel"
