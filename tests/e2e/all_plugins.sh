#!/bin/bash
# all_plugins.sh: every ovp plugin in one server config, as a real deployment loads them
# (user nobody): a client authenticates through PAM, its address lands in SQLite, the
# down command runs as root; after a SIGHUP (plugins reopened without root) clients still
# authenticate and both root helpers are adopted by the reopened plugins.
. "$(dirname "$0")/lib.sh"
e2e_private_tmp "$@"
e2e_init
e2e_pki alice
B="$top_builddir"
for so in auth-pam/.libs/ovp-auth-pam.so learn-address-db/.libs/ovp-learn-address-db.so \
          down-root/.libs/ovp-down-root.so; do
    [ -f "$B/$so" ] || e2e_fail "plugin not built: $B/$so"
done
OVPTEST="$B/tests/integration/auth_pam/.libs/pam_ovptest.so"
[ -f "$OVPTEST" ] || e2e_fail "test PAM module not built: $OVPTEST"
e2e_pamwrap_env || e2e_fail "libpam-wrapper is not installed"

mkdir -p "$E2E_DIR/pam.d"
printf 'alice\tRight-Pass-1\n' > "$E2E_DIR/accept"
printf 'auth required %s accept=%s\naccount required %s\n' "$OVPTEST" "$E2E_DIR/accept" \
    "$OVPTEST" > "$E2E_DIR/pam.d/ovpe2e"
install -d -o nobody -g nogroup -m 0750 "$E2E_DIR/db"
mkdir -m 777 "$E2E_DIR/out"
cat > "$E2E_DIR/down.sh" <<SH
#!/bin/sh
echo "uid=\$(id -u) signal=\$signal script_type=\$script_type" >> "$E2E_DIR/out/down.out"
SH
chmod 755 "$E2E_DIR/down.sh"

e2e_server_conf "plugin $(e2e_so "$B/auth-pam/.libs/ovp-auth-pam.so") ovpe2e
plugin $(e2e_so "$B/learn-address-db/.libs/ovp-learn-address-db.so") database=$E2E_DIR/db/a.sqlite instance=all runasuser=nobody
plugin $(e2e_so "$B/down-root/.libs/ovp-down-root.so") $E2E_DIR/down.sh"
e2e_start_server

e2e_client c1 alice alice Right-Pass-1
e2e_wait_log c1.log "Initialization Sequence Completed" 20 || e2e_fail "alice did not connect"
ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping"
sleep 0.3
"$B/learn-address-db/ovp-addrdb" --db "$E2E_DIR/db/a.sqlite" who 198.51.100.2 | grep -q alice \
    || e2e_fail "the address was not recorded"
e2e_stop c1
e2e_log "ok: PAM auth, address recorded, with all plugins loaded"

kill -HUP "$(cat "$E2E_DIR/server.pid")"
e2e_wait_log server.log "root helper pid [0-9]* kept from the first open" 20 \
    || e2e_fail "down-root did not adopt its helper at the reopen"
grep -q "kept the PAM helper" "$E2E_DIR/server.log" \
    || e2e_fail "auth-pam did not adopt its helper at the reopen"
grep -q "uid=0 signal=sighup script_type=down" "$E2E_DIR/out/down.out" \
    || e2e_fail "the SIGHUP's DOWN did not run as root: $(cat "$E2E_DIR/out/down.out" 2>&1)"
sleep 1
e2e_client c2 alice alice Right-Pass-1
e2e_wait_log c2.log "Initialization Sequence Completed" 20 || e2e_fail "no PAM auth after SIGHUP"
sleep 0.3
"$B/learn-address-db/ovp-addrdb" --db "$E2E_DIR/db/a.sqlite" --csv history --cn alice > "$E2E_DIR/h.csv"
[ "$(grep -c alice "$E2E_DIR/h.csv")" -ge 2 ] || e2e_fail "second session not recorded: $(cat "$E2E_DIR/h.csv")"
e2e_log "ok: after SIGHUP clients authenticate, sessions recorded, root helpers adopted"
