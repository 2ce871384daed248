#!/bin/bash
# prompt_mapping.sh: ovp-auth-pam with a prompt mapping that answers PAM's login question
# with a fixed name (`login someuser password PASSWORD`): PAM then authenticates someuser
# whatever username the client sent, while OpenVPN goes on with the client's username
# (client-connect, CCD files, auth-gen-token, logs). A client calling itself mallory with
# someuser's password must be refused; someuser itself is accepted.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so")
OVPTEST="$top_builddir/tests/integration/auth_pam/.libs/pam_ovptest.so"
[ -f "$OVPTEST" ] || e2e_fail "test PAM module not built: $OVPTEST (make check builds it)"
e2e_pamwrap_env || e2e_skip_or_fail "libpam-wrapper is not installed"

# Without ask= the module asks like pam_unix: pam_get_user ("login:"), then "Password: ".
mkdir -p "$E2E_DIR/pam.d"
printf 'someuser\tSome-Pass-1\n' > "$E2E_DIR/accept"
cat > "$E2E_DIR/pam.d/ovpe2e" <<PAM
auth required $OVPTEST accept=$E2E_DIR/accept
account required $OVPTEST
PAM
e2e_server_conf "plugin $PLUGIN ovpe2e login someuser password PASSWORD"
e2e_start_server

# 1. Control: the user the mapping names, with the right password, connects.
e2e_client good alice someuser Some-Pass-1
e2e_wait_connect good 20 || e2e_fail "someuser with the right password did not connect: $E2E_WHY"
e2e_stop good
e2e_log "ok: someuser connects through the fixed login mapping"

# 2. mallory with someuser's password: PAM authenticates someuser, so the plugin must
#    refuse the client's name.
e2e_client mallory alice mallory Some-Pass-1
if e2e_wait_connect mallory 20; then
    e2e_soft_fail "mallory connected with someuser's password (PAM authenticated someuser, OpenVPN goes on as mallory)"
else
    case $E2E_WHY in
        "AUTH_FAILED,authentication failed"*) e2e_log "ok: mallory is refused: $E2E_WHY" ;;
        *) e2e_soft_fail "mallory was not refused with AUTH_FAILED: $E2E_WHY" ;;
    esac
fi
e2e_stop mallory

# 3. A wrong password is refused as usual.
e2e_client bad alice someuser Wrong-Pass
e2e_wait_connect bad 20 && e2e_soft_fail "a wrong password connected"
case $E2E_WHY in
    "AUTH_FAILED,authentication failed"*) e2e_log "ok: a wrong password is refused" ;;
    *) e2e_soft_fail "a wrong password got: $E2E_WHY" ;;
esac
e2e_finish
