# lib.sh: the e2e harness: two network namespaces, a throwaway PKI, a real OpenVPN pair.
#
# Source it from a scenario script. Everything a scenario creates lives under $E2E_DIR
# and in namespaces named ovpe2e-<tag>-srv / -cli, plus, for scenarios under production
# conditions, system accounts and /etc/pam.d files named ovpe2e-* (e2e_account,
# e2e_pam_service); e2e_cleanup (run by the trap) removes all of them, also when the
# scenario fails. Only 192.0.2.0/24 (the veth link) and 198.51.100.0/24 /
# 2001:db8:100::/64 (the tunnel) are used, all inside the namespaces.
#
# A scenario that checks several things may record failures with e2e_soft_fail and end
# with e2e_finish, so that one run shows every symptom.

set -u

# E2E_TAG_PREFIX (e.g. "ldap-") keeps the namespaces of several people's runs on one
# machine apart, also under make -j.
# The tag is the scenario's whole name (namespace names may be long; veth names below are
# derived): cut to 12 characters, learn_address_db and learn_address_db_float collided.
E2E_TAG=${E2E_TAG:-${E2E_TAG_PREFIX:-}$(basename "$0" .sh | tr -c 'a-z0-9\n' '-' | cut -c1-40)}
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
E2E_ACCOUNTS=""   # throwaway system accounts to remove (e2e_account)
E2E_PAMFILES=""   # /etc/pam.d files to remove (e2e_pam_service)
E2E_SOFT=""       # failures recorded by e2e_soft_fail, reported by e2e_finish
# The user OpenVPN drops to (`user`); e2e_start_server gives it the pid file.
E2E_RUNAS=${E2E_RUNAS:-nobody}
# The server's verbosity: OpenVPN's highest, so that every line a plugin may log at any
# verbosity is in the logs the secret scan reads (the benchmarks set 4: it costs time).
E2E_VERB=${E2E_VERB:-11}
# Where the server's log lines land, relative to E2E_DIR (e2e_syslog_sink changes it).
E2E_SERVER_LOG=server.log
# Prefixes of the server's command line, outermost first (see e2e_start_server).
E2E_SERVER_NS_WRAP=""
E2E_SERVER_LIMITS=""

# The secret scan (tests/secret_scan.sh) in e2e_cleanup: the passwords e2e_client gives
# its clients, and whatever a scenario declares with secret_add, must appear in no file
# under $E2E_DIR (server and client logs, status files, databases, fixture logs) but
# these, where they are the payload by design:
. "$top_srcdir/tests/secret_scan.sh"
secret_skip '*.creds' "a client's auth-user-pass file"
secret_skip 'accept*' "pam_ovptest's accepted passwords: the backend's data"
secret_skip '*.secret' "a secret file a scenario wrote (e.g. the LDAP bind password)"
secret_skip '*/requests.jsonl' "the HTTP fixture's record of what the plugin sent it (password, token)"
secret_skip '*/script.json' "the HTTP fixture's script: the credentials it expects"
secret_skip '*/db/*' "slapd's database: the users' passwords are its data"
secret_skip '*.ldif' "slapd's seed entries, passwords included"

E2E_T0=${EPOCHREALTIME/[.,]/}
# e2e_log MSG: a line on the scenario's output, with the seconds since it started.
e2e_log() {
    local us=$(( ${EPOCHREALTIME/[.,]/} - E2E_T0 ))
    printf 'e2e[%s +%d.%ds]: %s\n' "$E2E_TAG" $((us / 1000000)) $((us % 1000000 / 100000)) "$*"
}
e2e_skip() { e2e_log "SKIP: $*"; exit 77; }
e2e_fail() {
    e2e_log "FAIL: $*"
    for f in "${E2E_DIR:-/nonexistent}"/*.log; do
        [ -f "$f" ] || continue
        printf -- '----- %s (last 40 lines) -----\n' "$f"
        tail -n 40 "$f" | grep -v 'no default config' || true
    done
    exit 1
}

# e2e_skip_or_fail WHY: a scenario that cannot run here skips; in CI (CI=true) it fails.
e2e_skip_or_fail() {
    [ "${CI:-}" = true ] && e2e_fail "cannot run in CI: $1"
    e2e_skip "$1"
}

# e2e_soft_fail MSG: records a failure and goes on, so that one run shows every symptom;
# e2e_finish (last line of a scenario) fails with all of them.
e2e_soft_fail() {
    e2e_log "FAILED CHECK: $*"
    E2E_SOFT="${E2E_SOFT}  - $*
"
}
e2e_finish() {
    [ -z "$E2E_SOFT" ] || e2e_fail "$(printf '%s' "$E2E_SOFT" | grep -c .) check(s) failed:
${E2E_SOFT}"
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
    [ -z "$why" ] || e2e_skip_or_fail "$why"
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
    local f a
    for f in $E2E_PAMFILES; do rm -f "$f"; done
    for a in $E2E_ACCOUNTS; do e2e_userdel "$a" || e2e_log "WARNING: could not remove account $a"; done
    local scan=0
    [ -n "${E2E_DIR:-}" ] && { secret_scan "$E2E_DIR" || scan=1; }
    if [ "${E2E_KEEP:-}" != 1 ] && [ -n "${E2E_DIR:-}" ]; then rm -rf "$E2E_DIR"; fi
    [ $scan -eq 0 ] || exit 1
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

# e2e_private_tmp "$@": a scenario whose server runs PAM under pam_wrapper calls this
# first, before e2e_init: it runs again with a /tmp of its own (tests/private_tmp.sh).
e2e_private_tmp() {
    . "$top_srcdir/tests/private_tmp.sh"
    ovp_private_tmp "$0" "$@"
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

# --- Production conditions: system accounts, real PAM services, syslog, unit limits ---

# e2e_need_cmd CMD PACKAGE: skips (fails in CI) unless CMD is installed.
e2e_need_cmd() {
    command -v "$1" >/dev/null || e2e_skip_or_fail "$1 is not installed (Debian package $2)"
}

# e2e_shadow_retry [--input TEXT] CMD...: runs a shadow-utils command (TEXT on its stdin),
# retrying for a few seconds while another process (a parallel scenario) holds the lock on
# /etc/passwd or /etc/shadow, or a process of the user being removed is still exiting.
e2e_shadow_retry() {
    local t=50 out input=""
    if [ "$1" = --input ]; then input=$2; shift 2; fi
    while :; do
        out=$(printf '%s' "$input" | "$@" 2>&1) && return 0
        t=$((t - 1))
        if [ $t -le 0 ] || ! printf '%s' "$out" | grep -qi -e lock -e "currently used" -e busy; then
            printf '%s\n' "$out" >&2
            return 1
        fi
        sleep 0.1
    done
}

# e2e_userdel NAME: removes a throwaway account made by e2e_account (only such accounts:
# its GECOS field must be ours).
e2e_userdel() {
    case $1 in ovpe2e-*) ;; *) return 1 ;; esac
    getent passwd "$1" >/dev/null || return 0
    getent passwd "$1" | cut -d: -f5 | grep -qx "ovp e2e throwaway" || return 1
    e2e_shadow_retry userdel "$1"
}

# e2e_account NAME [PASSWORD]: creates a throwaway system account NAME (must start with
# "ovpe2e-"; at most 32 characters): no home, shell nologin, group nogroup, GECOS "ovp e2e
# throwaway", and with PASSWORD a cheap SHA-512 hash (1000 rounds) in /etc/shadow. The
# cleanup removes it, also when the scenario fails; a stale one from a killed run is
# replaced (so give each scenario fixed names, like its namespaces). Skips (fails in CI)
# without useradd/chpasswd (package passwd).
e2e_account() {
    local name=$1 pass=${2:-}
    case $name in ovpe2e-*) ;; *) e2e_fail "e2e_account: $name does not start with ovpe2e-" ;; esac
    [ ${#name} -le 32 ] || e2e_fail "e2e_account: $name is longer than 32 characters"
    e2e_need_cmd useradd passwd
    e2e_need_cmd chpasswd passwd
    e2e_need_cmd userdel passwd
    e2e_userdel "$name" || e2e_fail "account $name exists and is not a throwaway of ours"
    E2E_ACCOUNTS="$E2E_ACCOUNTS $name"
    e2e_shadow_retry useradd --system -M -N -g nogroup -d /nonexistent -s /usr/sbin/nologin \
        -c "ovp e2e throwaway" "$name" || e2e_fail "useradd $name failed"
    if [ -n "$pass" ]; then
        e2e_shadow_retry --input "$name:$pass
" chpasswd -c SHA512 -s 1000 \
            || e2e_fail "chpasswd for $name failed"
    fi
}

# e2e_pam_service NAME LINE...: writes the real PAM service /etc/pam.d/NAME (NAME must
# start with "ovpe2e-"); the cleanup removes it, also when the scenario fails.
e2e_pam_service() {
    local name=$1 f=/etc/pam.d/$1
    shift
    case $name in ovpe2e-*) ;; *) e2e_fail "e2e_pam_service: $name does not start with ovpe2e-" ;; esac
    E2E_PAMFILES="$E2E_PAMFILES $f"
    printf '%s\n' "$@" > "$f" || e2e_fail "cannot write $f"
    chmod 644 "$f"
}

# e2e_syslog_sink: a syslog sink for a server run with `daemon` and no `log`. A python3
# unix-datagram socket (E2E_DIR/syslog.sock) writes each message as a line to
# E2E_DIR/syslog.log, and the server runs in a private mount namespace whose /dev is a
# tmpfs of links to the real /dev entries, with /dev/log linked to the sink; the real
# /dev/log (present or not) is never touched. Sets E2E_SERVER_NS_WRAP and E2E_SERVER_LOG
# (so e2e_start_server waits on syslog.log). Skips (fails in CI) without python3/unshare.
e2e_syslog_sink() {
    e2e_need_cmd python3 python3
    e2e_need_cmd unshare util-linux
    local sock="$E2E_DIR/syslog.sock" out="$E2E_DIR/syslog.log"
    : > "$out"
    ip netns exec "$E2E_SRV" python3 -c '
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)  # OpenVPN and its plugins log as nobody too
with open(out, "ab", buffering=0) as f:
    while True:
        msg = s.recv(65536)
        f.write(msg.rstrip(b"\0\n").replace(b"\n", b" ") + b"\n")
' "$sock" "$out" 2> "$E2E_DIR/syslog-sink.err" &
    E2E_PIDS="$E2E_PIDS $!"
    local t=50
    while [ ! -S "$sock" ]; do
        t=$((t - 1))
        [ $t -gt 0 ] || e2e_fail "the syslog sink did not start: $(cat "$E2E_DIR/syslog-sink.err")"
        sleep 0.1
    done
    # Runs as the first command inside `unshare -m`: refuses to touch /dev unless it
    # really is in a mount namespace of its own.
    cat > "$E2E_DIR/privdev.sh" <<SH
#!/bin/sh
set -e
[ "\$(readlink /proc/self/ns/mnt)" != "\$(readlink /proc/1/ns/mnt)" ] || { echo "privdev: not in a private mount namespace" >&2; exit 1; }
mount --make-rprivate /
mkdir -p "$E2E_DIR/realdev"
mount --rbind /dev "$E2E_DIR/realdev"
mount -t tmpfs -o mode=0755,size=64k ovpe2e-dev /dev
for e in "$E2E_DIR"/realdev/*; do
    n=\${e##*/}
    [ "\$n" = log ] || ln -s "\$e" "/dev/\$n"
done
ln -s "$sock" /dev/log
exec "\$@"
SH
    chmod 755 "$E2E_DIR/privdev.sh"
    E2E_SERVER_NS_WRAP="unshare -m $E2E_DIR/privdev.sh"
    E2E_SERVER_LOG=syslog.log
}

# e2e_systemd_limits: the server runs under the limits of Debian 12's
# openvpn-server@.service: LimitNPROC=10 (every task of the run-as user counts, threads
# and forked scripts included; root is exempt) and its CapabilityBoundingSet. Sets
# E2E_SERVER_LIMITS. Skips (fails in CI) without prlimit/setpriv (util-linux).
e2e_systemd_limits() {
    e2e_need_cmd prlimit util-linux
    e2e_need_cmd setpriv util-linux
    E2E_SERVER_LIMITS="prlimit --nproc=10:10 setpriv --bounding-set=-all,+ipc_lock,+net_admin,+net_bind_service,+net_raw,+setgid,+setuid,+setpcap,+sys_chroot,+dac_override,+audit_write --"
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
user $E2E_RUNAS
group nogroup
persist-key
persist-tun
tmp-dir $E2E_DIR/tmp
verb $E2E_VERB
keepalive 2 10
hand-window 20
$1
CONF
}

# e2e_start_server: runs openvpn in the server namespace and waits until it has started
# (its "Initialization Sequence Completed" in E2E_DIR/$E2E_SERVER_LOG). The command line is
#   ip netns exec SRV $E2E_SERVER_NS_WRAP $E2E_SERVER_LIMITS $E2E_SERVER_WRAP openvpn ...
# (mount namespace, then limits, then env/preloads). With `daemon` in server.conf the
# launching process returns at once; the daemon's pid is taken from the pid file.
e2e_server_cmd() {
    # shellcheck disable=SC2086
    ip netns exec "$E2E_SRV" $E2E_SERVER_NS_WRAP $E2E_SERVER_LIMITS ${E2E_SERVER_WRAP:-} \
        openvpn --config "$E2E_DIR/server.conf" --writepid "$E2E_DIR/run/server.pid"
}
e2e_start_server() {
    # The pid file is rewritten as nobody at SIGHUP: keep it where nobody may write.
    mkdir -p "$E2E_DIR/run"
    : > "$E2E_DIR/run/server.pid"
    chown "$E2E_RUNAS" "$E2E_DIR/run" "$E2E_DIR/run/server.pid"
    ln -sf run/server.pid "$E2E_DIR/server.pid"
    local pid
    if grep -q '^daemon' "$E2E_DIR/server.conf"; then
        e2e_server_cmd > "$E2E_DIR/server.log" 2>&1 || e2e_fail "the server did not daemonize"
        local t=50
        pid=""
        while [ -z "$pid" ]; do
            pid=$(cat "$E2E_DIR/run/server.pid" 2>/dev/null)
            t=$((t - 1))
            [ $t -gt 0 ] || e2e_fail "the daemon wrote no pid file"
            [ -n "$pid" ] || sleep 0.1
        done
    else
        e2e_server_cmd > "$E2E_DIR/server.log" 2>&1 &
        pid=$!
    fi
    E2E_PIDS="$E2E_PIDS $pid"

    local t=200
    while ! grep -q "Initialization Sequence Completed" "$E2E_DIR/$E2E_SERVER_LOG" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || e2e_fail "server exited at start"
        t=$((t - 1))
        [ $t -gt 0 ] || e2e_fail "server did not start in 20 s"
        sleep 0.1
    done
    # Why wait for the pid file too: scenarios signal the pid in it, and OpenVPN may write
    # it a moment after its log says it started (seen on a loaded machine: an empty file).
    t=50
    while [ ! -s "$E2E_DIR/run/server.pid" ]; do
        t=$((t - 1))
        [ $t -gt 0 ] || e2e_fail "the server wrote no pid file"
        sleep 0.1
    done
}

# e2e_sighup [SECONDS]: sends SIGHUP to the server and waits (default 20 s) until it has
# restarted: one more "Initialization Sequence Completed" in its log than before.
e2e_sighup() {
    local f="$E2E_DIR/$E2E_SERVER_LOG" n t=$(( ${1:-20} * 10 )) pid
    n=$(grep -c "Initialization Sequence Completed" "$f")
    pid=$(cat "$E2E_DIR/server.pid") || e2e_fail "no server pid file"
    kill -HUP "$pid" || e2e_fail "the server is gone (SIGHUP)"
    while [ "$(grep -c "Initialization Sequence Completed" "$f")" -le "$n" ]; do
        kill -0 "$pid" 2>/dev/null || e2e_fail "the server exited at the SIGHUP"
        t=$((t - 1))
        [ $t -gt 0 ] || e2e_fail "the server did not restart within ${1:-20} s of the SIGHUP"
        sleep 0.1
    done
}

# e2e_client NAME CN USER PASS [EXTRA]: starts a client (cert CN) with credentials.
e2e_client() {
    local name=$1 cn=$2 user=$3 pass=$4 extra=${5:-}
    local auth=""
    [ ${#pass} -ge 6 ] && secret_add "$pass"
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

# e2e_wait_up NAME SECONDS: 0 once client NAME is connected; 1 at an AUTH_FAILED that is
# not TEMP (a TEMP makes the client retry by itself), at its exit, or when time is up;
# E2E_WHY says which. A client that exits right after its AUTH_FAILED line is reported
# with that line: the log is read again once the exit is seen.
e2e_wait_up() {
    local f="$E2E_DIR/$1.log" t=$(( $2 * 10 )) exited
    E2E_WHY=""
    while [ $t -gt 0 ]; do
        exited=0
        [ -s "$E2E_DIR/$1.pid" ] && ! kill -0 "$(cat "$E2E_DIR/$1.pid")" 2>/dev/null && exited=1
        grep -q "Initialization Sequence Completed" "$f" 2>/dev/null && return 0
        if grep "AUTH_FAILED" "$f" 2>/dev/null | grep -qv "AUTH_FAILED,TEMP"; then
            E2E_WHY=$(grep "AUTH_FAILED" "$f" | grep -v "AUTH_FAILED,TEMP" | grep -m1 -o "AUTH_FAILED.*")
            return 1
        fi
        if [ $exited = 1 ]; then
            E2E_WHY="the client exited: $(tail -n 2 "$f" | tr '\n' '|')"
            return 1
        fi
        sleep 0.1
        t=$((t - 1))
    done
    E2E_WHY="no connection within $2 s: $(tail -n 3 "$f" 2>/dev/null | tr '\n' '|')"
    return 1
}

# e2e_stop NAME: stops the process whose pid file is E2E_DIR/NAME.pid (SIGTERM).
e2e_stop() {
    local pid
    pid=$(cat "$E2E_DIR/$1.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    # Up to 15 s: a server running its DOWN command (a timeout, a kill grace) on a loaded
    # machine takes seconds, and what the caller checks next is written at the very end.
    local t=150
    while kill -0 "$pid" 2>/dev/null && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
}

# e2e_wait_connect NAME SECONDS: 0 when client NAME completes its connection in time;
# otherwise 1 as soon as it is refused (AUTH_FAILED), gives up, or time is up, with
# E2E_WHY set to what its log says (the AUTH_FAILED line, or the last lines).
e2e_wait_connect() {
    local f="$E2E_DIR/$1.log" t=$(( $2 * 10 ))
    E2E_WHY=""
    while [ $t -gt 0 ]; do
        grep -q "Initialization Sequence Completed" "$f" 2>/dev/null && return 0
        if grep -q "AUTH_FAILED" "$f" 2>/dev/null; then
            E2E_WHY=$(grep -m1 -o "AUTH_FAILED.*" "$f")
            return 1
        fi
        sleep 0.1
        t=$((t - 1))
    done
    E2E_WHY="no connection within $2 s: $(tail -n 3 "$f" 2>/dev/null | tr '\n' '|')"
    return 1
}
