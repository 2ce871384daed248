#!/bin/bash
# connect.sh: a real OpenVPN 2.6 server and client (issue 14, item 4): the time from the
# client's start to its "Initialization Sequence Completed", for each auth plugin and the
# synchronous anchors, on the real backends (pam_unix on a throwaway account, slapd).
#
#   connect.sh BUILDDIR REPEATS OUTFILE     (root, /dev/net/tun)
#
# Appends "NAME MILLISECONDS" lines to OUTFILE (or "NAME FAIL reason"). Runs in the
# network namespaces of tests/e2e/lib.sh under its own tag (ovpe2e-bench-connect-*), with
# the account ovpe2e-benchconn and /etc/pam.d/ovpe2e-benchconn, removed at exit.
# With OVP_BENCH_SHIM set to tests/bench/.libs/stall_shim.so, the server runs with it
# preloaded and each case with a plugin also appends "STALL NAME MICROSECONDS" (the auth
# call's time on OpenVPN's thread, one line per call) and "DEFERRED NAME N" (auth calls
# that returned DEFERRED, from the server's verb 4 log).
set -u
top_builddir=$(cd "$1" && pwd)
repeats=$2
out=$3
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
E2E_TAG=bench-connect
E2E_VERB=4 # the figures are of a production server (and its log is read at verb 4)
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"
e2e_init
e2e_pki alice

e2e_account ovpe2e-benchconn Bench-Pass-1
e2e_pam_service ovpe2e-benchconn "auth required pam_unix.so" "account required pam_unix.so"

SLAPD_WRAP="ip netns exec $E2E_SRV"
LDIR="$E2E_DIR/slapd"
slapd_setup "$LDIR" && slapd_start "$LDIR" || e2e_fail "slapd did not start in the server namespace"
trap 'slapd_stop "$LDIR"; e2e_cleanup' EXIT

ldap_conf() { # ldap_conf FILE [extra Authorization lines]
    local f=$1; shift
    {
        printf '<LDAP>\n    URL "%s"\n    BindDN uid=svc,ou=Services,dc=example,dc=org\n' "$SLAPD_URL"
        printf '    Password Svc-Pass-9\n    Timeout 10\n    TLSEnable no\n</LDAP>\n'
        printf '<Authorization>\n    BaseDN "dc=example,dc=org"\n    SearchFilter "(uid=%%u)"\n'
        for l in "$@"; do printf '    %s\n' "$l"; done
        printf '</Authorization>\n'
    } > "$f"
    chmod 600 "$f"
}
ldap_conf "$E2E_DIR/ovp-ldap.conf"
ldap_conf "$E2E_DIR/ovp-ldap-inline.conf"
sed -i 's|^</LDAP>|    InlineWait 10ms\n</LDAP>|' "$E2E_DIR/ovp-ldap-inline.conf"
ldap_conf "$E2E_DIR/ovp-ldap-cache.conf" "CacheTTL 60s"
sed -i 's|^</LDAP>|    InlineWait 300us\n</LDAP>|' "$E2E_DIR/ovp-ldap-cache.conf"
ldap_conf "$E2E_DIR/anchor-ldap.conf" "RequireGroup false"
BUNDLED=/usr/lib/x86_64-linux-gnu/openvpn/plugins/openvpn-plugin-auth-pam.so

# A web service for ovp-auth-http in the server's namespace (plain HTTP on loopback):
# the test fixture, allowing everyone.
. "$top_srcdir/tests/fixtures/http_service.sh"
HTTP_WRAP="ip netns exec $E2E_SRV"
H="$E2E_DIR/http"
if http_start "$H" '{"default": {"action": "allow"}}'; then
    trap 'http_stop "$H"; slapd_stop "$LDIR"; e2e_cleanup' EXIT
    for w in 0 10ms; do
        printf '<HTTP>\n    URL %s\n    Timeout 5s\n    InlineWait %s\n</HTTP>\n' \
            "$HTTP_URL" "$w" > "$E2E_DIR/ovp-http-$w.conf"
    done
else
    H=""
fi
SHIM=${OVP_BENCH_SHIM:-}

# measure NAME USER PASS PLUGIN-LINE: one server, REPEATS clients one after the other.
measure() {
    local name=$1 user=$2 pass=$3 line=$4 i t0 ms t
    local stf="$E2E_DIR/run/stall.txt"
    e2e_server_conf "$line"
    E2E_SERVER_WRAP=""
    rm -f "$stf"
    if [ -n "$SHIM" ] && [ -n "$line" ]; then
        # written at the server's exit, as nobody: in run/, which nobody owns
        E2E_SERVER_WRAP="env LD_PRELOAD=$SHIM OVP_BENCH_STALL_FILE=$stf"
    fi
    e2e_start_server
    n_case=$((n_case + 1))
    for i in $(seq "$repeats"); do
        # a fresh name and log for every client: never a line of an earlier one
        c="k${n_case}c$i"
        rm -f "$E2E_DIR/$c.log"
        t0=$(date +%s%N)
        e2e_client "$c" alice "$user" "$pass"
        t=2000
        while ! grep -q "Initialization Sequence Completed" "$E2E_DIR/$c.log" 2>/dev/null; do
            if grep -q "AUTH_FAILED" "$E2E_DIR/$c.log" 2>/dev/null || [ $t -le 0 ]; then
                echo "$name FAIL $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/$c.log" || echo "no connection in 20 s")" >> "$out"
                break
            fi
            sleep 0.01
            t=$((t - 1))
        done
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ $t -gt 0 ] && ! grep -q "AUTH_FAILED" "$E2E_DIR/$c.log" && echo "$name $ms" >> "$out"
        e2e_stop "$c"
    done
    e2e_stop server
    if [ -n "$E2E_SERVER_WRAP" ]; then
        # the shim's lines: TYPE WALL_NS ...; 5 is AUTH_USER_PASS_VERIFY
        [ -f "$stf" ] && awk -v n="$name" '$1 == 5 { printf "STALL %s %.1f\n", n, $2 / 1000 }' \
            "$stf" >> "$out"
        echo "DEFERRED $name $(grep -c 'authentication deferred' "$E2E_DIR/server.log")" >> "$out"
    fi
}

n_case=0
measure "no auth plugin" alice x ""
measure "openvpn-plugin-auth-pam (sync)" ovpe2e-benchconn Bench-Pass-1 \
    "plugin $BUNDLED ovpe2e-benchconn"
measure "ovp-auth-pam" ovpe2e-benchconn Bench-Pass-1 \
    "plugin $(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so") ovpe2e-benchconn"
measure "ovp-auth-pam inline_wait=10ms" ovpe2e-benchconn Bench-Pass-1 \
    "plugin $(e2e_so "$top_builddir/auth-pam/.libs/ovp-auth-pam.so") inline_wait=10ms ovpe2e-benchconn"
measure "openvpn-auth-ldap" alice Alice-Pass-1 \
    "plugin /usr/lib/openvpn/openvpn-auth-ldap.so $E2E_DIR/anchor-ldap.conf"
measure "ovp-auth-ldap" alice Alice-Pass-1 \
    "plugin $(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so") $E2E_DIR/ovp-ldap.conf"
measure "ovp-auth-ldap InlineWait 10ms" alice Alice-Pass-1 \
    "plugin $(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so") $E2E_DIR/ovp-ldap-inline.conf"
measure "ovp-auth-ldap InlineWait 300us, CacheTTL 60s" alice Alice-Pass-1 \
    "plugin $(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so") $E2E_DIR/ovp-ldap-cache.conf"
if [ -n "$H" ]; then
    measure "ovp-auth-http" alice Alice-Pass-1 \
        "plugin $(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so") $E2E_DIR/ovp-http-0.conf"
    measure "ovp-auth-http InlineWait 10ms" alice Alice-Pass-1 \
        "plugin $(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so") $E2E_DIR/ovp-http-10ms.conf"
else
    echo "ovp-auth-http FAIL the fixture service did not start in the server namespace" >> "$out"
fi
