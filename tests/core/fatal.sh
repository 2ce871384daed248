#!/bin/sh
# fatal.sh: what must stop the core with a clear message and exit 1, never a crash:
# files that are not plugins, broken plugins, a failing open, two deferring auth plugins.
set -u
: "${REFCORE:?}" "${TEST_PLUGIN:?}" "${BADPLUG_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-fatal.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
failures=0

# check NAME EXPECTED-TEXT ARGS...: the core exits 1 and stderr has the text
check() {
    name=$1 text=$2
    shift 2
    # Appending: the core's forked client driver writes to the same stderr.
    : > "$T/err"
    "$REFCORE" "$@" -- --clients 1 --username alice --password secret --timeout 20 \
        --poll fast >"$T/out" 2>>"$T/err"
    rc=$?
    if [ $rc -ne 1 ]; then
        echo "FAIL: $name: exit $rc, expected 1"; failures=$((failures + 1))
    elif ! grep -qF -- "$text" "$T/err"; then
        echo "FAIL: $name: no \"$text\" in:"; sed 's/^/    /' "$T/err"; failures=$((failures + 1))
    elif grep -q "Sanitizer" "$T/err"; then
        echo "FAIL: $name: sanitizer report:"; cat "$T/err"; failures=$((failures + 1))
    else
        echo "ok: $name"
    fi
}

# OpenVPN refuses a config line of 256 characters or more (options.c read_config_file)
long=$(printf '%0240d' 0)
check "a plugin line of 256+ characters" "Maximum option line length (256) exceeded" \
    --plugin "$TEST_PLUGIN" "pad=$long"

# two cores on one --tmp-dir would take each other's control socket: the second refuses
mkdir "$T/shared"
"$REFCORE" --plugin "$TEST_PLUGIN" -- --tmp-dir "$T/shared" --serve >"$T/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$T/serve.out" && break; sleep 0.1; done
check "a second core on the same --tmp-dir" "is in use by another ovp-refcore" \
    --plugin "$TEST_PLUGIN" -- --tmp-dir "$T/shared"
kill "$serve_pid"
wait "$serve_pid" || { echo "FAIL: the first core did not stop cleanly"; failures=$((failures + 1)); }

printf 'this is not a plugin\n' > "$T/text.so"
check "a text file" "PLUGIN_INIT: could not load plugin shared object $T/text.so" \
    --plugin "$T/text.so"
check "a missing file" "could not load plugin shared object $T/none.so" --plugin "$T/none.so"
check "a bare name resolves in OpenVPN's plugin dir" \
    "could not load plugin shared object no-such-plugin.so: ${OPENVPN_PLUGINDIR:-/usr/lib}" \
    --plugin no-such-plugin.so
libc=$(ldd "$REFCORE" | awk '/libc\.so/ {print $3}')
check "a library that is not a plugin" \
    "could not find required symbol 'openvpn_plugin_close_v1'" --plugin "$libc"
check "no close_v1" "could not find required symbol 'openvpn_plugin_close_v1'" \
    --plugin "$BADPLUG_DIR/badplug-noclose.so"
check "no func" "symbol openvpn_plugin_func_vX is undefined in plugin" \
    --plugin "$BADPLUG_DIR/badplug-nofunc.so"
check "a mask the host lacks" \
    "expressed interest in unsupported plugin types: [want=0x00010020, have=0x0000ffff]" \
    --plugin "$BADPLUG_DIR/badplug-bigmask.so"
check "success without a handle" "PLUGIN_INIT: plugin initialization function failed" \
    --plugin "$BADPLUG_DIR/badplug-nullhandle.so"
check "a newer interface" \
    "plugin needs interface version 4, but this version of OpenVPN only supports version 3" \
    --plugin "$BADPLUG_DIR/badplug-newer.so"
check "open fails" "PLUGIN_INIT: plugin initialization function failed: $TEST_PLUGIN" \
    --plugin "$TEST_PLUGIN" fail_open=yes
check "open fails: the plugin says why" "refusing to open (fail_open=yes)" \
    --plugin "$TEST_PLUGIN" fail_open=yes
check "a bad plugin argument" "PLUGIN_INIT: plugin initialization function failed" \
    --plugin "$TEST_PLUGIN" colour=blue
check "UP fails" "ERROR: up/down plugin call failed" \
    --plugin "$TEST_PLUGIN" events=UP fail_on=UP
check "two plugins defer one auth" \
    "Exiting due to multiple authentication plug-ins performing deferred authentication" \
    --plugin "$TEST_PLUGIN" mode=defer --plugin "$TEST_PLUGIN" mode=defer

# more than 16 plugins is a usage error (exit 2)
set --
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do set -- "$@" --plugin "$TEST_PLUGIN"; done
"$REFCORE" "$@" -- --clients 1 --username a --password b >/dev/null 2>>"$T/err"
if [ $? -eq 2 ] && grep -q "at most 16 plugins" "$T/err"; then
    echo "ok: 17 plugins refused"
else
    echo "FAIL: 17 plugins"; cat "$T/err"; failures=$((failures + 1))
fi

[ $failures -eq 0 ]
