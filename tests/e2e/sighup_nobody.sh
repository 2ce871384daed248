#!/bin/bash
# sighup_nobody.sh: a SIGHUP reload of a server with `user nobody` (persist-key,
# persist-tun) keeps what needs root working: ovp-auth-pam with pam_unix (reading
# /etc/shadow needs root) still authenticates after the reload, and ovp-down-root still
# runs its DOWN command as root when the server stops afterwards.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
B="$top_builddir"
PAM_SO=$(e2e_so "$B/auth-pam/.libs/ovp-auth-pam.so")
DOWN_SO=$(e2e_so "$B/down-root/.libs/ovp-down-root.so")
e2e_sanitized "$PAM_SO"
[ -n "$(ls /lib/*/security/pam_unix.so /usr/lib/*/security/pam_unix.so 2>/dev/null)" ] \
    || e2e_skip_or_fail "pam_unix.so is not installed (libpam-modules)"

USER_NAME=ovpe2e-hup
PASS="Hup-Pass-$$"
e2e_account "$USER_NAME" "$PASS"
SERVICE=ovpe2e-hup
e2e_pam_service "$SERVICE" "auth required pam_unix.so" "account required pam_unix.so"

# The DOWN command records who ran it and what it was told, one line per run (in a file
# anyone may write, so that a run as nobody shows up too).
mkdir -m 777 "$E2E_DIR/out"
install -m 666 /dev/null "$E2E_DIR/out/down.out"
cat > "$E2E_DIR/down.sh" <<SH
#!/bin/sh
echo "uid=\$(id -u) signal=\$signal script_type=\$script_type" >> "$E2E_DIR/out/down.out"
SH
chmod 755 "$E2E_DIR/down.sh"

e2e_server_conf "plugin $PAM_SO $SERVICE
plugin $DOWN_SO $E2E_DIR/down.sh"
e2e_start_server

# 1. Before the reload: the right password connects (pam_unix in the root helper).
e2e_client c1 alice "$USER_NAME" "$PASS"
e2e_wait_connect c1 20 || e2e_fail "before any SIGHUP the right password did not connect: $E2E_WHY"
e2e_stop c1
e2e_log "ok: pam_unix authenticates before the SIGHUP"

# 2. SIGHUP: OpenVPN runs DOWN (signal sighup), closes the plugins and reopens them as
#    nobody, re-reading key, cert and the pid file as nobody.
e2e_sighup 20
grep -q "uid=0 signal=sighup script_type=down" "$E2E_DIR/out/down.out" 2>/dev/null \
    || e2e_soft_fail "the SIGHUP's DOWN did not run as root: $(cat "$E2E_DIR/out/down.out" 2>&1)"
e2e_log "reloaded; the server says: $(grep -h -m3 -e "PLUGIN ovp-auth-pam.*\(root\|privilege\|nobody\)" \
    -e "PLUGIN ovp-down-root.*\(root\|privilege\|nobody\)" "$E2E_DIR/server.log" | tail -n 2 | tr '\n' '|')"

# 3. After the reload the right password still connects, a wrong one is still refused.
e2e_client c2 alice "$USER_NAME" "$PASS"
if e2e_wait_connect c2 20; then
    ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null \
        || e2e_soft_fail "after the SIGHUP: no ping across the tunnel"
    e2e_log "ok: pam_unix authenticates after the SIGHUP"
else
    e2e_soft_fail "after the SIGHUP the right password did not connect: $E2E_WHY"
fi
e2e_stop c2
e2e_client c3 alice "$USER_NAME" "Wrong-$PASS"
e2e_wait_connect c3 20 && e2e_soft_fail "after the SIGHUP a wrong password connected"
case $E2E_WHY in
    "AUTH_FAILED,authentication failed"*) e2e_log "ok: a wrong password is refused after the SIGHUP" ;;
    *) e2e_soft_fail "after the SIGHUP a wrong password got: $E2E_WHY" ;;
esac
e2e_stop c3

# 4. Stopping the server: DOWN (signal sigterm) runs as root again.
e2e_stop server
e2e_wait_log server.log "ovp-down-root.*DOWN" 10 || true
last=$(tail -n 1 "$E2E_DIR/out/down.out" 2>/dev/null)
case $last in
    "uid=0 signal=sigterm script_type=down") e2e_log "ok: DOWN at the stop ran as root" ;;
    *) e2e_soft_fail "DOWN at the stop after the SIGHUP did not run as root: ${last:-(it did not run)}" ;;
esac
[ "$(grep -c . "$E2E_DIR/out/down.out" 2>/dev/null)" = 2 ] \
    || e2e_soft_fail "expected 2 DOWN runs (sighup, sigterm): $(cat "$E2E_DIR/out/down.out" 2>&1 | tr '\n' '|')"
e2e_finish
e2e_log "ok: after a SIGHUP as nobody, PAM and down-root keep their root helper"
