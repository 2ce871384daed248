#!/bin/sh
# events.sh: through ovp-refcore, the UP, ROUTE_PREDOWN and DOWN commands run as uid 0 in
# the root helper, each with its event's signal and script_type, the standard script
# arguments with script_args=yes, a safe PATH, and their output in OpenVPN's log.
. "${srcdir:-.}/down_root/lib.sh"
need_root "the commands must be seen to run as uid 0"

begin
# 1. All three hooks, a server route (so ROUTE_PREDOWN happens), stop as on SIGTERM.
core "$WORK/out1" "wait 10ms" timeout=5s script_args=yes "up=$REC u1" \
    "route_predown=$REC p1 p2" "$REC" d1 -- --route 192.0.2.0 255.255.255.0 \
    --dev tun7 --verb 3
[ $rc -eq 0 ] || fail "the core exited $rc"
helper=$(helper_pids "$WORK/out1" | head -n 1)
[ -n "$helper" ] || fail "no 'root helper pid N ready' line"
args="tun7 1500 0 10.8.0.1 255.255.0.0 init"
has "$WORK/runs" "type=up signal=none uid=0 helper=$helper argc=7 args=u1 $args" "UP as root"
has "$WORK/runs" "type=route-pre-down signal=sigterm uid=0 helper=$helper argc=8 args=p1 p2 $args" \
    "ROUTE_PREDOWN as root with signal"
has "$WORK/runs" "type=down signal=sigterm uid=0 helper=$helper argc=7 args=d1 $args" \
    "DOWN as root with signal and the standard arguments"
[ "$(sed -n 's/ .*//p' "$WORK/runs" | tr '\n' ' ')" = "type=up type=route-pre-down type=down " ] ||
    fail "runs out of order: $(cat "$WORK/runs")"
# the DOWN environment is the one of DOWN: current route and tun values, safe PATH
has "$WORK/env.down" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "safe PATH"
has "$WORK/env.down" "route_network_1=192.0.2.0" "route_* in the DOWN env"
has "$WORK/env.down" "ifconfig_local=10.8.0.1" "ifconfig_* in the DOWN env"
has "$WORK/env.down" "dev=tun7" "dev in the DOWN env"
has "$WORK/env.down" "script_context=init" "script_context in the DOWN env"
hasnt "$WORK/env.up" "signal=" "UP has no signal"
# output, status and timing in the log, in OpenVPN's "PLUGIN name:" form
has "$WORK/out1" "PLUGIN ovp-down-root: down-root helper: $REC: recorder ran for down on stderr" \
    "command stderr in the log"
has "$WORK/out1" "PLUGIN ovp-down-root: UP: $REC succeeded" "UP success line"
has "$WORK/out1" "PLUGIN ovp-down-root: ROUTE_PREDOWN: $REC succeeded" "ROUTE_PREDOWN success line"
has "$WORK/out1" "PLUGIN ovp-down-root: DOWN: $REC succeeded" "DOWN success line"
hasnt "$WORK/out1" "opened without root" "root open"
gone "$helper" || fail "helper $helper still there after the core exited"
ok "up, route-predown and down as root with their own env and arguments"

begin
# 2. Without script_args the command gets only its configured words (the bundled
#    plugin's behaviour); ROUTE_PREDOWN runs at the stop even without --route (OpenVPN
#    always has a route list once the tun device is open).
rm -f "$WORK/runs"
core "$WORK/out2" "wait 10ms" "route_predown=$REC p" "$REC" a "b c" -- --verb 1
[ $rc -eq 0 ] || fail "the core exited $rc"
has "$WORK/runs" "type=down signal=sigterm uid=0" "DOWN without script_args"
has "$WORK/runs" "argc=2 args=a b c" "configured words only, kept as given"
has "$WORK/runs" "type=route-pre-down signal=sigterm uid=0" "ROUTE_PREDOWN without a route"
ok "no script_args: the configured words only"

begin
# 3. The quoted form after options: OpenVPN passes "cmd a b" as one word when other
#    words precede it; it runs as cmd with arguments a and b.
rm -f "$WORK/runs"
core "$WORK/out3" "wait 10ms" timeout=5s "$REC q1 q2" -- --verb 1
[ $rc -eq 0 ] || { fail "the core exited $rc"; sed 's/^/    | /' "$WORK/out3"; }
has "$WORK/runs" "type=down signal=sigterm uid=0 helper=" "quoted command after options"
has "$WORK/runs" "argc=2 args=q1 q2" "quoted command words split"
ok "a quoted command after options"

begin
# 4. A failing command: its exit status in the log, and DOWN fails as in OpenVPN.
cat > "$WORK/fails.sh" <<EOF
#!/bin/sh
echo "cannot remove the route" >&2
exit 3
EOF
chmod 755 "$WORK/fails.sh"
core "$WORK/out4" "wait 10ms" "$WORK/fails.sh" -- --verb 1
[ $rc -eq 1 ] || fail "a failing DOWN: the core exited $rc, expected 1"
has "$WORK/out4" "down-root helper: $WORK/fails.sh: cannot remove the route" "stderr of a failing command"
has "$WORK/out4" "DOWN: $WORK/fails.sh failed with exit status 3" "exit status in the log"
has "$WORK/out4" "FATAL: ERROR: up/down plugin call failed" "OpenVPN's message for a failed DOWN"
ok "a failing command: status logged, DOWN fails"

finish
