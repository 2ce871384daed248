#!/bin/bash
# systemd_limits.sh: every ovp plugin in one server run under the limits of Debian 12's
# openvpn-server@.service (LimitNPROC=10, its CapabilityBoundingSet) with a client-connect
# script: two clients pass PAM (pam_unix), the script runs for both, their addresses are
# recorded; then a SIGHUP reopens the plugins under the same limit (no more tasks than
# before) and a client connects and is recorded again, and DOWN runs as root at the stop. RLIMIT_NPROC counts every task of the user OpenVPN runs as (threads, forked
# scripts), system-wide: this scenario runs OpenVPN as a throwaway user of its own rather
# than nobody, so that OpenVPN servers of other scenarios running in parallel (as nobody)
# cannot eat into its budget of 10.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice bob carol
B="$top_builddir"
for so in auth-pam/.libs/ovp-auth-pam.so learn-address-db/.libs/ovp-learn-address-db.so \
          down-root/.libs/ovp-down-root.so; do
    [ -f "$B/$so" ] || e2e_fail "plugin not built: $B/$so"
done
e2e_sanitized "$B/auth-pam/.libs/ovp-auth-pam.so"
[ -n "$(ls /lib/*/security/pam_unix.so /usr/lib/*/security/pam_unix.so 2>/dev/null)" ] \
    || e2e_skip_or_fail "pam_unix.so is not installed (libpam-modules)"
e2e_systemd_limits

# The user OpenVPN runs as (no password), and the account clients log in with.
E2E_RUNAS=ovpe2e-lim-run
e2e_account "$E2E_RUNAS"
USER_NAME=ovpe2e-lim
PASS="Lim-Pass-$$"
e2e_account "$USER_NAME" "$PASS"
SERVICE=ovpe2e-lim
e2e_pam_service "$SERVICE" "auth required pam_unix.so" "account required pam_unix.so"

install -d -o "$E2E_RUNAS" -g nogroup -m 0750 "$E2E_DIR/db"
mkdir -m 777 "$E2E_DIR/out"
install -m 666 /dev/null "$E2E_DIR/out/cc.out"
install -m 666 /dev/null "$E2E_DIR/out/down.out"
cat > "$E2E_DIR/down.sh" <<SH
#!/bin/sh
echo "uid=\$(id -u) signal=\$signal script_type=\$script_type" >> "$E2E_DIR/out/down.out"
SH
cat > "$E2E_DIR/cc.sh" <<SH
#!/bin/sh
echo "\$common_name \$username" >> "$E2E_DIR/out/cc.out"
SH
chmod 755 "$E2E_DIR/down.sh" "$E2E_DIR/cc.sh"

e2e_server_conf "script-security 2
client-connect $E2E_DIR/cc.sh
plugin $(e2e_so "$B/auth-pam/.libs/ovp-auth-pam.so") $SERVICE
plugin $(e2e_so "$B/learn-address-db/.libs/ovp-learn-address-db.so") database=$E2E_DIR/db/a.sqlite instance=lim runasuser=$E2E_RUNAS
plugin $(e2e_so "$B/down-root/.libs/ovp-down-root.so") $E2E_DIR/down.sh"
e2e_start_server
spid=$(cat "$E2E_DIR/server.pid")
tasks() { ps -L -u "$E2E_RUNAS" -o lwp= 2>/dev/null | grep -c .; }
e2e_log "server up under the unit's limits: $(grep -E '^Max processes' "/proc/$spid/limits" | tr -s ' '), CapBnd $(grep CapBnd "/proc/$spid/status" | cut -f2); $(tasks) task(s) of $E2E_RUNAS"
grep -q '^Max processes *10 *10 ' "/proc/$spid/limits" || e2e_fail "the server does not run with LimitNPROC=10"

# limit_errors: lines where a fork or a thread failed (EAGAIN under RLIMIT_NPROC).
limit_errors() {
    grep -i -E "Resource temporarily unavailable|pthread_create|cannot fork|unable to fork|fork failed|EAGAIN" \
        "$E2E_DIR/server.log" | head -n 3
}

# 1. Two clients at once: both pass PAM, the script runs for both, both are recorded.
e2e_client c1 alice "$USER_NAME" "$PASS"
e2e_client c2 bob "$USER_NAME" "$PASS"
for c in c1 c2; do
    e2e_wait_connect $c 20 || e2e_soft_fail "client $c did not connect: $E2E_WHY"
done
for cn in alice bob; do
    grep -q "^$cn $USER_NAME\$" "$E2E_DIR/out/cc.out" \
        || e2e_soft_fail "the client-connect script did not run for $cn: $(tr '\n' '|' < "$E2E_DIR/out/cc.out")"
done
sleep 0.3
for cn in alice bob; do
    "$B/learn-address-db/ovp-addrdb" --db "$E2E_DIR/db/a.sqlite" current 2>&1 | grep -q "$cn" \
        || e2e_soft_fail "$cn's address was not recorded"
done
errs=$(limit_errors)
[ -z "$errs" ] || e2e_soft_fail "a fork or thread failed under LimitNPROC=10: $errs"
e2e_log "two clients done; $(tasks) task(s) of $E2E_RUNAS with both connected"
e2e_stop c1
e2e_stop c2
sleep 0.3
before=$(tasks)

# 2. SIGHUP: the plugins are closed and reopened as the run-as user, under the limit.
e2e_sighup 20
sleep 0.3
after=$(tasks)
e2e_log "reloaded; $after task(s) of $E2E_RUNAS (before: $before)"
# The reopened plugins must not spend more of the budget of 10 than the first open did
# (e.g. helpers forked anew as the run-as user, which count, where root's did not).
[ "$after" -le "$before" ] || e2e_soft_fail "the reload raised the tasks of $E2E_RUNAS from $before to $after: $(ps -L -u "$E2E_RUNAS" -o pid=,lwp=,ppid=,comm= | tr -s ' ' | tr '\n' '|')"
e2e_client c3 carol "$USER_NAME" "$PASS"
if e2e_wait_connect c3 20; then
    grep -q "^carol $USER_NAME\$" "$E2E_DIR/out/cc.out" \
        || e2e_soft_fail "after the SIGHUP the client-connect script did not run for carol"
    sleep 0.3
    "$B/learn-address-db/ovp-addrdb" --db "$E2E_DIR/db/a.sqlite" current 2>&1 | grep -q carol \
        || e2e_soft_fail "after the SIGHUP carol's address was not recorded"
    e2e_log "ok: a client connects after the SIGHUP"
else
    e2e_soft_fail "after the SIGHUP carol did not connect: $E2E_WHY"
fi
errs=$(limit_errors)
[ -z "$errs" ] || e2e_soft_fail "after the SIGHUP a fork or thread failed under LimitNPROC=10: $errs"
e2e_stop c3
# The unit's bounding set has no CAP_CHOWN: the database learn-address-db creates as root
# must still end up writable by the run-as user, or nothing is recorded after a reload.
dberr=$(grep -m2 -o -E "ovp-learn-address-db: (cannot give .*|.* is read-only for uid .*|RunAsUser .* cannot write .*)" \
    "$E2E_DIR/server.log" | cut -c1-200)
[ -z "$dberr" ] || e2e_soft_fail "learn-address-db's database is not writable by $E2E_RUNAS under the unit's bounding set: $(printf '%s' "$dberr" | tr '\n' '|')"
e2e_stop server
grep -q "uid=0 signal=sigterm script_type=down" "$E2E_DIR/out/down.out" \
    || e2e_soft_fail "DOWN at the stop did not run as root: $(tr '\n' '|' < "$E2E_DIR/out/down.out")"
e2e_finish
e2e_log "ok: all plugins and a client-connect script fit Debian's unit limits, also after a SIGHUP"
