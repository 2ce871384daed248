#!/bin/bash
# down_root.sh: ovp-down-root in a real OpenVPN server with `user nobody`: commands run as
# root with the real DOWN environment, a hang is killed, a missing command fails at start,
# hostile env does not pass, and a killed helper is reported.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki
PLUGIN=$(e2e_so "$top_builddir/down-root/.libs/ovp-down-root.so")
[ -f "$PLUGIN" ] || e2e_fail "plugin not built: $PLUGIN"
e2e_sanitized "$PLUGIN"

# A script that records who ran it and what it saw (in a dir anyone may write: after a
# SIGHUP reopen the command runs as nobody).
mkdir -m 777 "$E2E_DIR/out"
mkscript() { # mkscript NAME [extra shell]
    cat > "$E2E_DIR/$1.sh" <<SH
#!/bin/sh
rm -f "$E2E_DIR/out/$1.out"
{ echo "uid=\$(id -u) signal=\$signal script_type=\$script_type dev=\$dev args=\$*"
  echo "ld_preload=\${LD_PRELOAD:-unset} path=\$PATH"; } > "$E2E_DIR/out/$1.out"
echo "hello from $1 on stderr" >&2
${2:-}
SH
    chmod 755 "$E2E_DIR/$1.sh"
}

server_run() { # server_run PLUGIN-ARGS: start, then stop with SIGTERM
    rm -f "$E2E_DIR"/out/*.out
    e2e_server_conf "route 203.0.113.0 255.255.255.0
setenv LD_PRELOAD /nonexistent/evil.so
setenv ovp_hostile 'x'
plugin $PLUGIN $1"
    e2e_start_server
}

# 1. UP, ROUTE_PREDOWN and DOWN run as root, with the event's own environment.
mkscript up; mkscript predown; mkscript down
server_run "up=$E2E_DIR/up.sh route_predown=$E2E_DIR/predown.sh script_args=yes $E2E_DIR/down.sh"
grep -q "uid=0 .*script_type=up" "$E2E_DIR/out/up.out" || e2e_fail "UP did not run as root: $(cat "$E2E_DIR/out/up.out" 2>&1)"
e2e_stop server
grep -q "uid=0 signal=sigterm script_type=down dev=tun" "$E2E_DIR/out/down.out" \
    || e2e_fail "DOWN did not run as root with signal and script_type: $(cat "$E2E_DIR/out/down.out" 2>&1)"
grep -q "args=tun[0-9]* 1500 0 198.51.100.1 255.255.255.0 init" "$E2E_DIR/out/down.out" \
    || e2e_fail "script_args missing: $(cat "$E2E_DIR/out/down.out")"
grep -q "uid=0 signal=sigterm script_type=route-pre-down" "$E2E_DIR/out/predown.out" \
    || e2e_fail "ROUTE_PREDOWN did not run as root: $(cat "$E2E_DIR/out/predown.out" 2>&1)"
grep -q "ld_preload=unset path=/usr/local/sbin:" "$E2E_DIR/out/down.out" \
    || e2e_fail "hostile LD_PRELOAD or PATH reached the command: $(cat "$E2E_DIR/out/down.out")"
grep -q "not passing LD_PRELOAD to the command" "$E2E_DIR/server.log" \
    || e2e_fail "the dropped LD_PRELOAD was not reported"
grep -q "hello from down on stderr" "$E2E_DIR/server.log" || e2e_fail "command stderr not logged"
grep -q "DOWN: $E2E_DIR/down.sh succeeded" "$E2E_DIR/server.log" || e2e_fail "no success line"
e2e_log "ok: up/route-predown/down as root with the real environment"

# 2. A command that hangs is killed at the timeout, and OpenVPN is told.
mkscript down "sleep 60"
server_run "timeout=1s $E2E_DIR/down.sh"
e2e_stop server
grep -q "did not finish within 1000 ms and was killed" "$E2E_DIR/server.log" \
    || e2e_fail "hang not killed at the timeout"
pgrep -f "$E2E_DIR/down.sh" >/dev/null && e2e_fail "the hung command survived"
e2e_log "ok: a hanging command is killed at the timeout"

# 3. A missing command stops OpenVPN at start with a clear message.
e2e_server_conf "plugin $PLUGIN $E2E_DIR/missing.sh"
ip netns exec "$E2E_SRV" ${E2E_SERVER_WRAP:-} openvpn --config "$E2E_DIR/server.conf" > "$E2E_DIR/server.log" 2>&1 \
    && e2e_fail "OpenVPN started with a missing down command"
grep -q "down command: $E2E_DIR/missing.sh: No such file or directory" "$E2E_DIR/server.log" \
    || e2e_fail "no clear message for a missing command"
e2e_log "ok: a missing command fails at open"

# 4. The helper killed before DOWN: the plugin says so.
mkscript down
server_run "$E2E_DIR/down.sh"
spid=$(cat "$E2E_DIR/server.pid")
hpid=$(pgrep -P "$spid" | head -n 1)
[ -n "$hpid" ] || e2e_fail "no helper process under the server"
kill -9 "$hpid"
e2e_stop server
[ -f "$E2E_DIR/out/down.out" ] && e2e_fail "DOWN ran although its helper was killed"
grep -q "the root helper is gone" "$E2E_DIR/server.log" || e2e_fail "helper death not reported"
e2e_log "ok: a killed helper is reported at DOWN"

# 5. SIGHUP: OpenVPN reopens plugins as nobody; the DOWN of the SIGHUP runs as root, the
#    reopened plugin adopts the root helper, and the DOWN at stop still runs as root.
mkscript down
server_run "$E2E_DIR/down.sh"
kill -HUP "$(cat "$E2E_DIR/server.pid")"
e2e_wait_log server.log "kept from the first open" 15 \
    || e2e_fail "the reopened plugin did not adopt its root helper"
grep -q "uid=0 signal=sighup script_type=down" "$E2E_DIR/out/down.out" \
    || e2e_fail "the DOWN of the SIGHUP did not run as root: $(cat "$E2E_DIR/out/down.out" 2>&1)"
e2e_wait_log server.log "Initialization Sequence Completed" 15 || e2e_fail "no restart after SIGHUP"
e2e_stop server
grep -q "uid=0 signal=sigterm script_type=down" "$E2E_DIR/out/down.out" \
    || e2e_fail "after the reopen DOWN did not run as root: $(cat "$E2E_DIR/out/down.out" 2>&1)"
e2e_log "ok: SIGHUP as nobody: DOWN runs as root before and after the reopen"

# 6. With `daemon` (OpenVPN 2.6 forks before it opens plugins, so the helper is the
#    daemon's child): the helper is found alive and runs DOWN as root.
mkscript down
rm -f "$E2E_DIR"/out/*.out
e2e_server_conf "daemon ovp-e2e
log $E2E_DIR/daemon.log
plugin $PLUGIN $E2E_DIR/down.sh"
ip netns exec "$E2E_SRV" ${E2E_SERVER_WRAP:-} openvpn --config "$E2E_DIR/server.conf" \
    --writepid "$E2E_DIR/run/server.pid" || e2e_fail "daemon start failed"
e2e_wait_log daemon.log "Initialization Sequence Completed" 20 \
    || e2e_fail "the daemonized server did not start"
e2e_stop server
e2e_wait_log daemon.log "DOWN: .*down.sh succeeded" 10 \
    || e2e_fail "after daemonizing DOWN did not run: $(grep ovp-down-root "$E2E_DIR/daemon.log" | tail -3)"
grep -q "uid=0 signal=sigterm script_type=down" "$E2E_DIR/out/down.out" \
    || e2e_fail "the daemonized DOWN did not run as root"
e2e_log "ok: with daemon the helper still runs DOWN as root"
