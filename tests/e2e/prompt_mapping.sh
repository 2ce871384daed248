#!/bin/bash
# prompt_mapping.sh: ovp-auth-pam with a prompt mapping that answers PAM's login question
# with a fixed name (`login someuser password PASSWORD`, here someuser is a throwaway
# account checked by pam_unix): PAM then authenticates someuser whatever username the
# client sent, while OpenVPN goes on with the client's username (client-connect, CCD
# files, auth-gen-token, logs). A client calling itself mallory with someuser's password
# must be refused; someuser itself is accepted.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so")
e2e_sanitized "$PLUGIN"
[ -n "$(ls /lib/*/security/pam_unix.so /usr/lib/*/security/pam_unix.so 2>/dev/null)" ] \
    || e2e_skip_or_fail "pam_unix.so is not installed (libpam-modules)"

# Real pam_unix (no pam_wrapper: its per-process service copies race under make -j):
# with a prompt mapping the plugin gives pam_start no user, so pam_unix asks "login: "
# (answered with the fixed name), then "Password: ".
SOMEUSER=ovpe2e-map
PASS="Some-Pass-$$"
e2e_account "$SOMEUSER" "$PASS"
e2e_pam_service ovpe2e-map "auth required pam_unix.so" "account required pam_unix.so"
e2e_server_conf "plugin $PLUGIN ovpe2e-map login $SOMEUSER password PASSWORD"
e2e_start_server

# 1. Control: the user the mapping names, with the right password, connects.
e2e_client good alice "$SOMEUSER" "$PASS"
e2e_wait_connect good 20 || e2e_fail "$SOMEUSER with the right password did not connect: $E2E_WHY"
e2e_stop good
e2e_log "ok: $SOMEUSER connects through the fixed login mapping"

# 2. mallory with the mapped user's password: PAM authenticates that user, so the plugin
#    must refuse the client's name.
e2e_client mallory alice mallory "$PASS"
if e2e_wait_connect mallory 20; then
    e2e_soft_fail "mallory connected with $SOMEUSER's password (PAM authenticated $SOMEUSER, OpenVPN goes on as mallory)"
else
    case $E2E_WHY in
        "AUTH_FAILED,authentication failed"*) e2e_log "ok: mallory is refused: $E2E_WHY" ;;
        *) e2e_soft_fail "mallory was not refused with AUTH_FAILED: $E2E_WHY" ;;
    esac
fi
e2e_stop mallory

# 3. A wrong password is refused as usual.
e2e_client bad alice "$SOMEUSER" "Wrong-$PASS"
e2e_wait_connect bad 20 && e2e_soft_fail "a wrong password connected"
case $E2E_WHY in
    "AUTH_FAILED,authentication failed"*) e2e_log "ok: a wrong password is refused" ;;
    *) e2e_soft_fail "a wrong password got: $E2E_WHY" ;;
esac
e2e_finish
