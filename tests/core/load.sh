#!/bin/sh
# load.sh: the load mode: 10,000 concurrent sessions with a deferring plugin, refusals,
# and OpenVPN's own auth-pam; every run must print the JSON line and exit as expected.
set -u
: "${REFCORE:?}" "${TEST_PLUGIN:?}"
# OpenVPN's auth-pam under pam_wrapper: a /tmp of our own (see tests/private_tmp.sh).
. "$(dirname "$0")/../private_tmp.sh"
ovp_private_tmp "$0" "$@"
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-load.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
failures=0

# field JSON KEY: a number from the one-line JSON
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\\([0-9.]*\\).*/\\1/p"; }

# run NAME WANT-EXIT CHECKS -- ARGS...: CHECKS are KEY=VALUE pairs the JSON must show
run() {
    name=$1 want=$2 checks=$3
    shift 3
    "$REFCORE" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    json=$(tail -n1 "$T/out")
    bad=""
    [ $rc -eq "$want" ] || bad="exit $rc, expected $want"
    for key in clients authenticated failed timed_out stall_us_p50 stall_us_p99 stall_us_max wall_s; do
        [ -n "$(field "$json" $key)" ] || bad="$bad; no $key in the JSON"
    done
    for c in $checks; do
        k=${c%%=*} v=${c#*=}
        [ "$(field "$json" "$k")" = "$v" ] || bad="$bad; $k is $(field "$json" "$k"), expected $v"
    done
    grep -q "Sanitizer" "$T/err" && bad="$bad; sanitizer report"
    if [ -n "$bad" ]; then
        echo "FAIL: $name: $bad"; echo "    $json"; grep -v "peer info" "$T/err" | tail -n 20
        failures=$((failures + 1))
    else
        echo "ok: $name: $json"
    fi
}

run "10000 concurrent sessions, deferred auth, polled every ms" 0 \
    "clients=10000 authenticated=10000 failed=0 deferred=10000" \
    --plugin "$TEST_PLUGIN" mode=defer workers=4 \
    events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2,LEARN_ADDRESS,CLIENT_DISCONNECT \
    -- --clients 10000 --username alice --password secret --poll fast --verb 0

run "wrong passwords are refused" 0 "clients=50 authenticated=0 failed=50" \
    --plugin "$TEST_PLUGIN" mode=defer -- --clients 50 --username alice --password nope \
    --poll fast --expect fail --verb 0

run "an unmet expectation exits 1" 1 "clients=5 failed=5" \
    --plugin "$TEST_PLUGIN" -- --clients 5 --username alice --password nope --verb 0

run "one certificate for all (duplicate-cn implied)" 0 "clients=20 authenticated=20" \
    --plugin "$TEST_PLUGIN" -- --clients 20 --username alice --password secret \
    --common-name shared --verb 0

# OpenVPN's own auth-pam, if pam_wrapper is here
wrapper=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n1)
matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n1)
if [ -n "$wrapper" ] && [ -n "$matrix" ] && \
    [ -f "${OPENVPN_PLUGINDIR:-/nonexistent}/openvpn-plugin-auth-pam.so" ]; then
    mkdir -p "$T/pam.d"
    printf 'alice:secret:ovptest\n' > "$T/passdb"
    printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' \
        "$matrix" "$T/passdb" "$matrix" "$T/passdb" > "$T/pam.d/ovptest"
    asan=$(ldd "$REFCORE" | awk '/libasan/ {print $3}')
    export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d"
    LD_PRELOAD="${asan:+$asan }$wrapper" run "OpenVPN's auth-pam, 20 clients" 0 \
        "clients=20 authenticated=20" \
        --plugin openvpn-plugin-auth-pam.so ovptest -- --clients 20 --username alice \
        --password secret --verb 0
    unset PAM_WRAPPER PAM_WRAPPER_SERVICE_DIR
else
    echo "SKIP (part): auth-pam load: libpam-wrapper or OpenVPN's auth-pam plugin missing"
fi

[ $failures -eq 0 ]
