# lib.sh: the e2e harness: two network namespaces, a throwaway PKI, a real OpenVPN pair.
#
# Source it from a scenario script. Everything a scenario creates lives under $E2E_DIR
# and in namespaces named ovpe2e-<tag>-srv / -cli; e2e_cleanup (run by the trap) removes
# both, also when the scenario fails. Only 192.0.2.0/24 (the veth link) and
# 198.51.100.0/24 / 2001:db8:100::/64 (the tunnel) are used, all inside the namespaces.

set -u

E2E_TAG=${E2E_TAG:-$(basename "$0" .sh | tr -c 'a-z0-9\n' '-' | cut -c1-12)}
E2E_SRV="ovpe2e-${E2E_TAG}-srv"
E2E_CLI="ovpe2e-${E2E_TAG}-cli"
# veth names live in the root namespace while they are made: unique per scenario, <= 15 chars
E2E_VETH="ov$(printf '%s' "$E2E_TAG" | cksum | cut -d' ' -f1)"
E2E_VETH=${E2E_VETH:0:12}
E2E_SRV_IP=192.0.2.1
E2E_CLI_IP=192.0.2.2
E2E_PORT=1194
top_builddir=${top_builddir:-../..}
top_builddir=$(cd "$top_builddir" && pwd)
top_srcdir=${top_srcdir:-$top_builddir}
top_srcdir=$(cd "$top_srcdir" && pwd)
E2E_PIDS=""

e2e_log() { printf 'e2e[%s]: %s\n' "$E2E_TAG" "$*"; }
e2e_skip() { e2e_log "SKIP: $*"; exit 77; }
e2e_fail() {
    e2e_log "FAIL: $*"
    for f in "$E2E_DIR"/*.log; do
        [ -f "$f" ] || continue
        printf -- '----- %s (last 40 lines) -----\n' "$f"
        tail -n 40 "$f" | grep -v 'no default config' || true
    done
    exit 1
}

# Skips unless this machine can run real tunnels; in CI (CI=true) a skip is a failure.
e2e_require() {
    local why=""
    if [ "$(id -u)" -ne 0 ]; then why="needs root (network namespaces, tun devices)"
    elif [ ! -c /dev/net/tun ]; then why="/dev/net/tun is missing"
    elif ! command -v openvpn >/dev/null; then why="openvpn is not installed"
    elif ! command -v ip >/dev/null; then why="iproute2 is not installed"
    elif ! command -v openssl >/dev/null; then why="openssl is not installed"
    fi
    if [ -n "$why" ]; then
        [ "${CI:-}" = true ] && e2e_fail "cannot run in CI: $why"
        e2e_skip "$why"
    fi
    # OpenVPN 2.6 keeps CAP_NET_ADMIN after `user nobody`, so a SIGHUP can reopen the tun
    # device, but only when /dev/net/tun has its usual mode 0666 (udev's default; some
    # containers create it 0600).
    [ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 666 /dev/net/tun
}

e2e_cleanup() {
    local pid
    for pid in $E2E_PIDS; do kill "$pid" 2>/dev/null || true; done
    sleep 0.2
    for pid in $E2E_PIDS; do kill -9 "$pid" 2>/dev/null || true; done
    ip netns pids "$E2E_SRV" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns pids "$E2E_CLI" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$E2E_SRV" 2>/dev/null || true
    ip netns del "$E2E_CLI" 2>/dev/null || true
    if [ "${E2E_KEEP:-}" != 1 ] && [ -n "${E2E_DIR:-}" ]; then rm -rf "$E2E_DIR"; fi
}

# Creates the namespaces (after removing stale ones from a killed run) and the veth link.
e2e_netns() {
    ip netns del "$E2E_SRV" 2>/dev/null || true
    ip netns del "$E2E_CLI" 2>/dev/null || true
    ip netns add "$E2E_SRV" || e2e_fail "ip netns add $E2E_SRV"
    ip netns add "$E2E_CLI" || e2e_fail "ip netns add $E2E_CLI"
    ip link add "${E2E_VETH}s" type veth peer name "${E2E_VETH}c" \
        || e2e_fail "cannot create a veth pair"
    ip link set "${E2E_VETH}s" netns "$E2E_SRV"
    ip link set "${E2E_VETH}c" netns "$E2E_CLI"
    ip -n "$E2E_SRV" addr add "$E2E_SRV_IP/24" dev "${E2E_VETH}s"
    ip -n "$E2E_CLI" addr add "$E2E_CLI_IP/24" dev "${E2E_VETH}c"
    for ns in "$E2E_SRV" "$E2E_CLI"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$E2E_SRV" link set "${E2E_VETH}s" up
    ip -n "$E2E_CLI" link set "${E2E_VETH}c" up
}

# A throwaway PKI: EC P-256 CA, a server and the named clients. Fast (< 1 s).
e2e_pki() {
    local d="$E2E_DIR/pki" cn
    mkdir -p "$d"
    (
        cd "$d" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=ovp e2e CA" -keyout ca.key -out ca.crt 2>/dev/null || exit 1
        mk() { # mk NAME EKU
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null || exit 1
            printf 'extendedKeyUsage=%s\nkeyUsage=digitalSignature\n' "$2" > "$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
                -days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null || exit 1
        }
        mk server serverAuth
        for cn in "$@"; do mk "$cn" clientAuth; done
    ) || e2e_fail "PKI generation with openssl failed"
    # Throwaway keys, readable by nobody: OpenVPN re-reads its config as nobody at SIGHUP.
    chmod 644 "$d"/*.crt "$d"/*.key
}

# Starts E2E_DIR so that it is reachable by nobody (SIGHUP reopens as nobody).
e2e_init() {
    e2e_require
    E2E_DIR=$(mktemp -d /tmp/ovp-e2e-XXXXXX)
    chmod 755 "$E2E_DIR"
    mkdir -m 1777 "$E2E_DIR/tmp"
    trap e2e_cleanup EXIT
    trap 'exit 1' INT TERM
    e2e_netns
}

# e2e_so SO: a short path to SO (a link in E2E_DIR). An OpenVPN config line holds at most
# 256 characters, and build trees can live deep.
e2e_so() {
    [ -f "$1" ] || e2e_fail "not built: $1"
    local l="$E2E_DIR/$(basename "$1")"
    ln -sf "$1" "$l"
    printf '%s\n' "$l"
}

# e2e_sanitized SO: when SO was built with ASan, the plain openvpn binary needs the ASan
# runtime preloaded (it must come first); leaks of openvpn itself are not ours to judge.
e2e_sanitized() {
    local asan
    asan=$(ldd "$1" 2>/dev/null | awk '/libasan/ { print $3; exit }')
    if [ -n "$asan" ]; then
        E2E_SERVER_WRAP="env LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
    fi
}

# e2e_pamwrap_env: the server runs PAM through pam_wrapper with services from
# E2E_DIR/pam.d (no system account or /etc/pam.d file is touched). Returns 1 if missing.
e2e_pamwrap_env() {
    local w
    w=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n 1)
    [ -n "$w" ] || return 1
    local pre=$w asan
    asan=$(ldd "$top_builddir/auth-pam/.libs/ovp-auth-pam.so" 2>/dev/null | awk '/libasan/ { print $3; exit }')
    [ -n "$asan" ] && pre="$asan:$w"
    E2E_SERVER_WRAP="env LD_PRELOAD=$pre PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$E2E_DIR/pam.d PAM_WRAPPER_DISABLE_DEEPBIND=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
}

# e2e_server_conf EXTRA-LINES: writes server.conf with the production settings.
e2e_server_conf() {
    cat > "$E2E_DIR/server.conf" <<CONF
dev tun
proto udp
local $E2E_SRV_IP
port $E2E_PORT
topology subnet
server 198.51.100.0 255.255.255.0
server-ipv6 2001:db8:100::/64
ca $E2E_DIR/pki/ca.crt
cert $E2E_DIR/pki/server.crt
key $E2E_DIR/pki/server.key
dh none
user nobody
group nogroup
persist-key
persist-tun
tmp-dir $E2E_DIR/tmp
verb 4
keepalive 2 10
hand-window 20
$1
CONF
}

# e2e_start_server: runs openvpn in the server namespace, waits for it to listen.
e2e_start_server() {
    # The pid file is rewritten as nobody at SIGHUP: keep it where nobody may write.
    mkdir -p "$E2E_DIR/run"
    : > "$E2E_DIR/run/server.pid"
    chown nobody "$E2E_DIR/run" "$E2E_DIR/run/server.pid"
    ln -sf run/server.pid "$E2E_DIR/server.pid"
    ip netns exec "$E2E_SRV" ${E2E_SERVER_WRAP:-} openvpn --config "$E2E_DIR/server.conf" \
        --writepid "$E2E_DIR/run/server.pid" > "$E2E_DIR/server.log" 2>&1 &
    local pid=$!
    E2E_PIDS="$E2E_PIDS $pid"

    local t=200
    while ! grep -q "Initialization Sequence Completed" "$E2E_DIR/server.log" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || e2e_fail "server exited at start"
        t=$((t - 1))
        [ $t -gt 0 ] || e2e_fail "server did not start in 20 s"
        sleep 0.1
    done
}

# e2e_client NAME CN USER PASS [EXTRA]: starts a client (cert CN) with credentials.
e2e_client() {
    local name=$1 cn=$2 user=$3 pass=$4 extra=${5:-}
    local auth=""
    if [ -n "$user" ]; then
        printf '%s\n%s\n' "$user" "$pass" > "$E2E_DIR/$name.creds"
        chmod 600 "$E2E_DIR/$name.creds"
        auth="auth-user-pass $E2E_DIR/$name.creds"
    fi
    cat > "$E2E_DIR/$name.conf" <<CONF
client
dev tun
proto udp
remote $E2E_SRV_IP $E2E_PORT
nobind
ca $E2E_DIR/pki/ca.crt
cert $E2E_DIR/pki/$cn.crt
key $E2E_DIR/pki/$cn.key
remote-cert-tls server
$auth
auth-retry none
connect-retry-max 3
verb 4
$extra
CONF
    ip netns exec "$E2E_CLI" openvpn --config "$E2E_DIR/$name.conf" \
        --writepid "$E2E_DIR/$name.pid" > "$E2E_DIR/$name.log" 2>&1 &
    E2E_PIDS="$E2E_PIDS $!"
}

# e2e_wait_log FILE PATTERN SECONDS: 0 when a line matching PATTERN appears in time.
e2e_wait_log() {
    local f="$E2E_DIR/$1" pat=$2 t=$(( $3 * 10 ))
    while [ $t -gt 0 ]; do
        grep -qE -- "$pat" "$f" 2>/dev/null && return 0
        sleep 0.1
        t=$((t - 1))
    done
    return 1
}

# e2e_stop NAME: stops the process whose pid file is E2E_DIR/NAME.pid (SIGTERM).
e2e_stop() {
    local pid
    pid=$(cat "$E2E_DIR/$1.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    local t=50
    while kill -0 "$pid" 2>/dev/null && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
}
