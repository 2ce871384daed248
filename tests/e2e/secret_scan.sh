#!/bin/bash
# secret_scan.sh: the secret scan of e2e_cleanup (tests/secret_scan.sh) on a real OpenVPN
# server at verb 11 with ovp-auth-pam: a right and a wrong password; no file under
# $E2E_DIR but the inputs (client credentials, the PAM module's accept file) may hold
# either password.
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
printf 'alice\tScan-Pass-1\n' > "$E2E_DIR/accept"
cat > "$E2E_DIR/pam.d/ovpe2e" <<PAM
auth required $OVPTEST accept=$E2E_DIR/accept
account required $OVPTEST
PAM
secret_skip 'pam.d/*' "PAM service files"

e2e_server_conf "plugin $PLUGIN ovpe2e
verb 11"
e2e_start_server

e2e_client good alice alice Scan-Pass-1
e2e_wait_log good.log "Initialization Sequence Completed" 20 || e2e_fail "alice did not connect"
e2e_stop good
e2e_client bad alice alice Scan-Wrong-2
e2e_wait_log bad.log "AUTH_FAILED" 20 || e2e_fail "the wrong password did not fail"
e2e_stop bad
grep -q 'PLUGIN ovp-auth-pam' "$E2E_DIR/server.log" || e2e_fail "no plugin line in the server log"
e2e_log "ok: right and wrong password at verb 11; the scan of every file follows (cleanup)"
e2e_finish
