#!/bin/sh
# helper_loss.sh: the root helper (an exec'd program, single-threaded) dies under
# ovp-refcore. Default: every client gets TEMP with a reason, never a plain refusal of a
# right password. on_helper_loss=restart: the plugin makes the host reload (SIGHUP), the
# reopen (as root here) starts a new helper and the next client with a right password
# gets in.
. "${srcdir:-.}/auth_pam/lib.sh"

REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
[ -x "$REFCORE" ] || { echo "FAIL: $REFCORE not built"; exit 1; }
PW=Loss-Secret-7
printf 'alice:%s:lossm\n' "$PW" > "$WORK/passdb"
service lossm "auth required $MATRIX passdb=$WORK/passdb" "account required $MATRIX passdb=$WORK/passdb"

# story OUT MODE: the core runs the story in the background; at "go" the helper is dead.
# (A send may find the helper dead before the receiver does, on a loaded machine; client
# d, 1.5 s later, is a plugin call that brings the receiver's line into the host's log.)
story() {
    out=$1; mode=$2
    rm -f "$WORK/go"
    cat > "$WORK/story" <<STORY
timeout 20s
client a user=alice pass=$PW
expect a ok
expect file $WORK/go go
client b user=alice pass=$PW
STORY
    if [ "$mode" = temp ]; then
        cat >> "$WORK/story" <<STORY
expect b fail-contains TEMP
client c user=alice pass=$PW
expect c fail-contains TEMP
wait 1500ms
client d user=alice pass=$PW
expect d fail-contains TEMP
expect log "every later one until OpenVPN is restarted"
STORY
    else
        cat >> "$WORK/story" <<STORY
expect log "asking OpenVPN to reload (SIGHUP)"
expect log "sighup received"
wait 1s
client c user=alice pass=$PW
expect c ok
STORY
    fi
    LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SERVICES" \
        PAM_WRAPPER_DISABLE_DEEPBIND=1 \
        "$REFCORE" --plugin "$PLUGIN" workers=1 "on_helper_loss=$mode" lossm -- \
        --poll fast --verb 4 --tmp-dir "$WORK" --scenario "$WORK/story" > "$out" 2>&1 &
    core=$!
    i=0
    while ! grep -q 'PAM service "lossm", helper pid' "$out" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i + 1))
    done
    hp=$(sed -n 's/.*PAM service "lossm", helper pid \([0-9]*\).*/\1/p' "$out" | head -n 1)
    [ -n "$hp" ] || fail "$mode: no helper pid in the log"
    # The helper is a program of its own, exec'd: not a copy of the host made by fork
    # (which would carry the host's syslog fd and the locks its other threads held).
    case "$(readlink "/proc/$hp/exe" 2>/dev/null)" in
        */ovp-auth-pam-helper) ;;
        *) fail "$mode: the helper runs $(readlink "/proc/$hp/exe" 2>/dev/null), not ovp-auth-pam-helper" ;;
    esac
    [ "$(ls "/proc/$hp/task" 2>/dev/null | wc -l)" -eq 1 ] ||
        fail "$mode: the helper has more than one thread"
    sleep 0.5
    [ -n "$hp" ] && kill -9 "$hp"
    echo go > "$WORK/go"
    wait $core
    rc=$?
}

story "$WORK/temp.out" temp
[ $rc -eq 0 ] || { fail "default: the story failed (exit $rc)"; tail -n 30 "$WORK/temp.out"; }

story "$WORK/restart.out" restart
[ $rc -eq 0 ] || { fail "on_helper_loss=restart: the story failed (exit $rc)"; tail -n 30 "$WORK/restart.out"; }
n=$(grep -c 'PAM service "lossm", helper pid' "$WORK/restart.out")
[ "$n" -ge 2 ] || fail "on_helper_loss=restart: no second helper after the reload"
# Opened without root and nothing to adopt (the test plugin drops to nobody first, as
# OpenVPN's user/group would for a plugin line added before a reload): no helper is
# started, every client gets TEMP, the log says why once; with on_helper_loss=restart
# the open fails, so that OpenVPN would exit for its supervisor. (umask 000: the core's
# control socket, made before the drop, must stay reachable; OpenVPN has none.)
TESTPLUG="$abs_top_builddir/tests/plugin/.libs/ovp-test-plugin.so"
NT=$(mktemp -d /tmp/ovp-auth-pam-noroot.XXXXXX)
chmod 1777 "$NT"
printf 'timeout 10s\nclient a user=alice pass=%s\nexpect a fail-contains TEMP\n' "$PW" > "$NT/story"
chmod 644 "$NT/story"
(umask 000 && exec "$REFCORE" --plugin "$TESTPLUG" events=CLIENT_DISCONNECT drop_to=nobody \
    --plugin "$PLUGIN" workers=1 lossm -- --poll fast --verb 4 --tmp-dir "$NT" \
    --scenario "$NT/story") > "$WORK/noroot.out" 2>&1
rc=$?
[ $rc -eq 0 ] || { fail "without root: the story failed (exit $rc)"; tail -n 20 "$WORK/noroot.out"; }
[ "$(grep -c 'not started: this process runs without root' "$WORK/noroot.out")" -eq 1 ] ||
    fail "without root: the reason is not logged exactly once"
(umask 000 && exec "$REFCORE" --plugin "$TESTPLUG" events=CLIENT_DISCONNECT drop_to=nobody \
    --plugin "$PLUGIN" workers=1 on_helper_loss=restart lossm -- --poll fast --verb 4 \
    --tmp-dir "$NT" --scenario "$NT/story") > "$WORK/noroot2.out" 2>&1
rc=$?
[ $rc -ne 0 ] || fail "without root and on_helper_loss=restart: the open did not fail"
grep -q 'on_helper_loss=restart: failing the open' "$WORK/noroot2.out" ||
    fail "without root and on_helper_loss=restart: no reason logged"
rm -rf "$NT"

no_secrets "$WORK/temp.out" "$PW"
no_secrets "$WORK/restart.out" "$PW"
finish
