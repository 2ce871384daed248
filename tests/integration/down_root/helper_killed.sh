#!/bin/sh
# helper_killed.sh: through ovp-refcore, the root helper (the core's child process)
# killed with SIGKILL before DOWN: the plugin says clearly that the helper is gone, the
# command does not run, and the event fails (OpenVPN's "up/down plugin call failed").
. "${srcdir:-.}/down_root/lib.sh"

# kill_helper_then OUT STORY-REST ARGS...: starts the core, kills its helper once UP
# is done, then lets the story go on with STORY-REST.
kill_helper_then() {
    out=$1 rest=$2
    shift 2
    rm -f "$WORK/go" "$WORK/runs"
    core_bg "$out" "timeout 15s
expect file $WORK/go go
$rest" "$@"
    wait_for "$out" "Initialization Sequence Completed" || fail "the core did not start"
    # the man page's thread count: the plugin runs no thread in the host's process
    [ "$(ls "/proc/$REFPID/task" | wc -l)" -eq 1 ] ||
        fail "the core has $(ls "/proc/$REFPID/task" | wc -l) threads with the plugin loaded, expected 1"
    helper=$(helper_pids "$out" | head -n 1)
    child=$(pgrep -P "$REFPID" | head -n 1)
    [ -n "$helper" ] && [ "$helper" = "$child" ] ||
        fail "the helper ($helper) should be the core's child ($child)"
    [ -n "$child" ] && kill -9 "$child"
    # "before DOWN": the helper has died (a zombie of the core) when the story goes on
    i=0
    while [ -n "$child" ] && ! gone "$child" && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
    echo go > "$WORK/go"
    core_wait
}

begin
# 1. Killed between UP and DOWN.
kill_helper_then "$WORK/out1" "" "up=$REC" "$REC" -- --verb 1
[ $rc -eq 1 ] || fail "a DOWN without its helper: the core exited $rc, expected 1"
has "$WORK/out1" "PLUGIN ovp-down-root: DOWN: the root helper is gone (killed or crashed), so $REC cannot run as root; failing the event" \
    "a clear word about the helper"
has "$WORK/out1" "FATAL: ERROR: up/down plugin call failed" "OpenVPN's message"
has "$WORK/runs" "type=up" "UP ran before the kill"
hasnt "$WORK/runs" "type=down" "DOWN must not run without its helper"
ok "the helper killed before DOWN: reported, DOWN fails"

begin
# 2. Killed before a reload: the ROUTE_PREDOWN of the SIGHUP is the first to notice
#    (and the core, like OpenVPN, stops there).
kill_helper_then "$WORK/out2" "reload" "route_predown=$REC" "$REC" -- --verb 1 \
    --route 192.0.2.0 255.255.255.0
[ $rc -eq 1 ] || fail "a reload without the helper: the core exited $rc, expected 1"
has "$WORK/out2" "ROUTE_PREDOWN: the root helper is gone (killed or crashed)" \
    "ROUTE_PREDOWN notices the helper is gone"
[ -f "$WORK/runs" ] && fail "a command ran without its helper: $(cat "$WORK/runs")"
ok "the helper killed before a reload: ROUTE_PREDOWN fails clearly"

finish
