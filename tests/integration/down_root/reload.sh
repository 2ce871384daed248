#!/bin/sh
# reload.sh: OpenVPN's SIGHUP through ovp-refcore (`reload`): ROUTE_PREDOWN and DOWN of
# the reload run with signal=sighup, the plugin is closed and opened again and adopts the
# same root helper (after `user nobody` no new one could start), UP runs again, and at
# stop ROUTE_PREDOWN and DOWN run once more with signal=sigterm in that helper, which
# ends when the core does.
. "${srcdir:-.}/down_root/lib.sh"

# The story holds the core at two points until this script has looked at the helpers.
core_bg "$WORK/out" "timeout 15s
expect file $WORK/go1 go
reload
expect file $WORK/go2 go" script_args=yes "up=$REC" "route_predown=$REC" "$REC" -- \
    --route 192.0.2.0 255.255.255.0 --verb 3

wait_count "$WORK/out" "Initialization Sequence Completed" 1 || fail "the core did not start"
a=$(helper_pids "$WORK/out" | sed -n 1p)
[ -n "$a" ] && [ "$(parent_of "$a")" = "$REFPID" ] ||
    fail "the first helper ($a) is not a child of the core ($REFPID)"
echo go > "$WORK/go1"

wait_count "$WORK/out" "Initialization Sequence Completed" 2 || fail "no restart after reload"
b=$(helper_pids "$WORK/out" | sed -n 2p)
[ -n "$b" ] && [ "$b" = "$a" ] || fail "the reopen did not adopt the helper (first $a, then '$b')"
has "$WORK/out" "root helper pid $a kept from the first open" "the adoption"
kill -0 "$a" 2>/dev/null || fail "the helper ($a) did not survive the reload"
echo go > "$WORK/go2"
core_wait
[ $rc -eq 0 ] || fail "the core exited $rc"

# What ran, in order, in which helper, with which signal (as root when we are root:
# the core, unlike OpenVPN with `user nobody`, keeps its privileges over a reload).
u=$(id -u)
expected="type=up signal=none uid=$u helper=$a
type=route-pre-down signal=sighup uid=$u helper=$a
type=down signal=sighup uid=$u helper=$a
type=up signal=none uid=$u helper=$b
type=route-pre-down signal=sigterm uid=$u helper=$b
type=down signal=sigterm uid=$u helper=$b"
seen=$(sed 's/ argc=.*//' "$WORK/runs")
[ "$seen" = "$expected" ] || fail "runs: expected
$expected
seen
$seen"
has "$WORK/out" "sighup received, process restarting" "the reload"
[ "$(grep -c "PLUGIN_CLOSE: $PLUGIN" "$WORK/out")" -eq 2 ] ||
    fail "the plugin should close twice (reload, stop)"
[ "$(helper_pids "$WORK/out" | sort -u | wc -l)" -eq 1 ] || fail "one helper expected for both opens"
for _ in $(seq 30); do gone "$a" && break; sleep 0.1; done
gone "$a" || fail "the helper ($a) outlived the core"
ok "reload: sighup DOWN, reopen adopts the helper, sigterm DOWN in the same helper"

# 2. OpenVPN's `user nobody`: the reopen at a reload runs without root. A command only
#    root may see (mode 0700 in a directory only root may enter, as root's scripts often
#    are) cannot be checked from there, and need not be: the helper the reopen adopts
#    checked it as root at the first open and runs it. The reopen must not fail (a
#    failed reopen ends OpenVPN). The test plugin drops the core's root after the first
#    open, as OpenVPN does. (umask 000: the core's files, made before the drop.)
begin
need_root "the privilege drop of OpenVPN's user/group"
TESTPLUG="$abs_top_builddir/tests/plugin/.libs/ovp-test-plugin.so"
NT=$(mktemp -d /tmp/ovp-down-root-nobody.XXXXXX)
chmod 1777 "$NT"
mkdir -m 700 "$NT/private"
cp "$REC" "$NT/private/down.sh"
chmod 700 "$NT/private/down.sh"
: > "$WORK/runs"
printf 'timeout 15s\nreload\nwait 100ms\n' > "$NT/story"
chmod 644 "$NT/story"
(umask 000 && exec "$REFCORE" --plugin "$PLUGIN" "$NT/private/down.sh" \
    --plugin "$TESTPLUG" events=CLIENT_DISCONNECT drop_to=nobody -- --verb 3 \
    --tmp-dir "$NT" --scenario "$NT/story") > "$WORK/nobody.out" 2>&1
rc=$?
[ $rc -eq 0 ] || { fail "after the drop to nobody the reload failed (exit $rc)"; tail -n 15 "$WORK/nobody.out"; }
has "$WORK/nobody.out" "dropped to user nobody" "the privilege drop"
has "$WORK/nobody.out" "kept from the first open" "the adoption without root"
[ "$(grep -c "type=down signal=sigterm uid=0" "$WORK/runs")" -eq 1 ] ||
    fail "DOWN at the stop after the reload did not run as root: $(cat "$WORK/runs")"
rm -rf "$NT"
ok "reload without root: a command only root can see is still run by the adopted helper"

finish
