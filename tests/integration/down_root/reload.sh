#!/bin/sh
# reload.sh: OpenVPN's SIGHUP through ovp-refcore (`reload`): ROUTE_PREDOWN and DOWN of
# the reload run with signal=sighup in the first helper, the plugin is closed (its helper
# reaped) and opened again with a new helper, UP runs again, and at stop ROUTE_PREDOWN
# and DOWN run once more with signal=sigterm in the new helper.
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
[ -n "$b" ] && [ "$b" != "$a" ] || fail "no new helper after the reopen (first $a, then '$b')"
[ -n "$b" ] && [ "$(parent_of "$b")" = "$REFPID" ] ||
    fail "the new helper ($b) is not a child of the core ($REFPID)"
gone "$a" || fail "the first helper ($a) outlived the close of its plugin"
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
[ "$(helper_pids "$WORK/out" | wc -l)" -eq 2 ] || fail "two helpers expected, one per open"
gone "$b" || fail "the second helper ($b) outlived the core"
ok "reload: sighup DOWN in the old helper, reopen, sigterm DOWN in the new one"

finish
