#!/bin/sh
# timeout.sh: through ovp-refcore, a command that hangs is killed at the timeout with its
# whole process group (children that ignore SIGTERM too), the plugin says so, and the
# event fails as OpenVPN expects (a failing DOWN or UP is fatal).
. "${srcdir:-.}/down_root/lib.sh"

ms_now() { date +%s%3N; }

# all_gone PIDFILE...: every recorded process has gone.
all_gone() {
    for f in "$@"; do
        [ -s "$f" ] || { fail "no pid recorded in $(basename "$f")"; continue; }
        p=$(cat "$f")
        i=0
        while ! gone "$p" && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
        gone "$p" || fail "$(basename "$f" .pid) ($p) survived the timeout"
    done
}

begin
# 1. The command obeys SIGTERM; one child ignores it, one does not. Everything is gone
#    right after the timeout, without waiting out the 2 s grace.
cat > "$WORK/hang1.sh" <<EOF
#!/bin/sh
echo \$\$ > "$WORK/h1-leader.pid"
sh -c 'trap "" TERM; exec sleep $NAP' &
echo \$! > "$WORK/h1-stubborn.pid"
sleep $NAP &
echo \$! > "$WORK/h1-child.pid"
echo "hanging now" >&2
wait
EOF
chmod 755 "$WORK/hang1.sh"
t0=$(ms_now)
core "$WORK/out1" "wait 10ms" timeout=500ms "$WORK/hang1.sh" -- --verb 1
t1=$(ms_now)
[ $rc -eq 1 ] || fail "a DOWN killed at the timeout: the core exited $rc, expected 1"
has "$WORK/out1" "DOWN: $WORK/hang1.sh did not finish within 500 ms and was killed" "timeout line"
has "$WORK/out1" "down-root helper: $WORK/hang1.sh: hanging now" "output before the kill"
has "$WORK/out1" "FATAL: ERROR: up/down plugin call failed" "OpenVPN's message"
all_gone "$WORK/h1-leader.pid" "$WORK/h1-stubborn.pid" "$WORK/h1-child.pid"
[ $((t1 - t0)) -ge 500 ] || fail "the core finished in $((t1 - t0)) ms, before the timeout"
[ $((t1 - t0)) -lt 2400 ] || fail "took $((t1 - t0)) ms: the group should die with the command, not after the 2 s grace"
ok "a hanging DOWN and its children are killed at the timeout ($((t1 - t0)) ms)"

begin
# 2. The command and its children all ignore SIGTERM: SIGKILL after the grace.
cat > "$WORK/hang2.sh" <<EOF
#!/bin/sh
trap '' TERM
echo \$\$ > "$WORK/h2-leader.pid"
sleep $NAP &
echo \$! > "$WORK/h2-child.pid"
sleep $NAP
EOF
chmod 755 "$WORK/hang2.sh"
t0=$(ms_now)
core "$WORK/out2" "wait 10ms" timeout=300ms "$WORK/hang2.sh" -- --verb 1
t1=$(ms_now)
[ $rc -eq 1 ] || fail "a DOWN ignoring SIGTERM: the core exited $rc, expected 1"
has "$WORK/out2" "DOWN: $WORK/hang2.sh did not finish within 300 ms and was killed" "timeout line"
all_gone "$WORK/h2-leader.pid" "$WORK/h2-child.pid"
[ $((t1 - t0)) -lt 8000 ] || fail "took $((t1 - t0)) ms for a 300 ms timeout and a 2 s grace"
ok "a command ignoring SIGTERM is killed after the grace ($((t1 - t0)) ms)"

begin
# 3. A hanging UP command: the core refuses to start, as OpenVPN with a failing --up.
cat > "$WORK/hang3.sh" <<EOF
#!/bin/sh
echo \$\$ > "$WORK/h3-leader.pid"
exec sleep $NAP
EOF
chmod 755 "$WORK/hang3.sh"
core "$WORK/out3" "wait 10ms" timeout=300ms "up=$WORK/hang3.sh" "$REC" -- --verb 1
[ $rc -eq 1 ] || fail "a hanging UP: the core exited $rc, expected 1"
has "$WORK/out3" "UP: $WORK/hang3.sh did not finish within 300 ms and was killed" "UP timeout line"
hasnt "$WORK/out3" "Initialization Sequence Completed" "no start after a failed UP"
all_gone "$WORK/h3-leader.pid"
ok "a hanging UP is killed and the start fails"

finish
