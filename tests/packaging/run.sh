#!/bin/bash
# tests/packaging/run.sh: the Debian packages, end to end, on this machine (root; CI).
#
#  1. builds them with `dpkg-buildpackage -us -uc -b` from a copy of the tree in a
#     scratch directory (the tree is not touched; debian/rules skips the test suite)
#     and runs lintian on them: an error fails;
#  2. installs them with apt, as an operator would, and checks the layout (plugins in
#     OpenVPN's plugin directory, helpers in /usr/libexec/ovp, nothing world-writable,
#     /var/lib/ovp belonging to nobody);
#  3. runs one e2e scenario: a real OpenVPN server (user nobody, under the limits of
#     Debian's openvpn-server@.service: LimitNPROC=10, its capability bounding set,
#     ProtectSystem=true and ProtectHome=true) loads ovp-learn-address-db.so and
#     ovp-down-root.so by bare name; a client's session lands in the default database
#     /var/lib/ovp/addresses.sqlite, also after a SIGHUP reload as nobody, and the down
#     command runs as root through the installed helper;
#  4. purges the packages and checks that nothing is left: every file they installed,
#     /usr/libexec/ovp, /var/lib/ovp and its dpkg-statoverride.
#
# Everything is undone on failure too (trap). Packages already installed on this machine
# are never touched: the test refuses to run instead. The namespaces are ovpe2e-pkg-*.
# Usage: tests/packaging/run.sh  (or scripts/ovp-dev package). Exit 77: cannot run here.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export top_srcdir=$top top_builddir=$top
export E2E_TAG=pkg-bare
PKGS="ovp-auth-pam ovp-auth-ldap ovp-auth-http ovp-learn-address-db ovp-down-root ovp-tools"
PLUGINDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/openvpn/plugins
T0=$SECONDS
say() { printf 'packaging [+%ds]: %s\n' $((SECONDS - T0)) "$*"; }

. "$top/tests/e2e/lib.sh"

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^[a-z]i'; }
known() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^[a-z][^n]'; }

[ "$(id -u)" -eq 0 ] || e2e_skip_or_fail "needs root (installs packages)"
for c in dpkg-buildpackage lintian fakeroot dh; do
    command -v "$c" >/dev/null || e2e_skip_or_fail "$c is missing (scripts/ovp-dev deps installs it)"
done
for p in $PKGS; do
    known "$p" && e2e_fail "$p is already installed (or left configured) on this machine: not touching it; purge it first (apt-get purge $p)"
done

SCRATCH=$(mktemp -d /tmp/ovp-pkg-XXXXXX)
OURS=""  # packages this run installed (purged by the cleanup if still there)
pkg_cleanup() {
    local rc=$?
    if [ -n "$OURS" ]; then
        local left=""
        for p in $OURS; do known "$p" && left="$left $p"; done
        if [ -n "$left" ]; then
            say "cleanup: purging$left"
            DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $left >/dev/null 2>&1 \
                || dpkg --purge $left >/dev/null 2>&1 || say "WARNING: could not purge$left"
        fi
    fi
    [ "${E2E_KEEP:-}" = 1 ] || rm -rf "$SCRATCH"
    [ "$(type -t e2e_cleanup)" = function ] && [ -n "${E2E_DIR:-}" ] && e2e_cleanup
    return $rc
}
trap pkg_cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------------ 1. build
SRC="$SCRATCH/ovp-src"
mkdir -p "$SRC"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new files, not what .gitignore names (build trees, generated files)
    (cd "$top" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$SRC" -xf - \
        || e2e_fail "cannot copy the source tree"
else
    tar -C "$top" --exclude=./_build --exclude=./autom4te.cache -cf - . | tar -C "$SRC" -xf - \
        || e2e_fail "cannot copy the source tree"
fi
(cd "$SRC" && dpkg-checkbuilddeps) > "$SCRATCH/builddeps.log" 2>&1 \
    || e2e_fail "build dependencies missing: $(cat "$SCRATCH/builddeps.log") (scripts/ovp-dev deps)"
say "building the packages in $SCRATCH"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc -b -j"${OVP_JOBS:-2}") > "$SCRATCH/build.log" 2>&1; then
    tail -n 60 "$SCRATCH/build.log"
    e2e_fail "dpkg-buildpackage failed (log above)"
fi
# debian/rules overrides dh_auto_test: the suite runs in CI's test step, not here.
grep -qE '^\s*make\b.*\bcheck\b' "$SCRATCH/build.log" && e2e_fail "the package build ran the test suite"
DEBS=$(ls "$SCRATCH"/*.deb | grep -v -- '-dbgsym_')
say "built: $(cd "$SCRATCH" && ls *.deb | grep -v -- -dbgsym_ | tr '\n' ' ')"

lintian --fail-on error --display-info --pedantic "$SCRATCH"/*.changes > "$SCRATCH/lintian.log" 2>&1
lrc=$?
grep -v 'running with root privileges' "$SCRATCH/lintian.log" | sed 's/^/  lintian: /'
[ $lrc -eq 0 ] || e2e_fail "lintian reports errors (above)"
say "lintian: $(grep -c '^E:' "$SCRATCH/lintian.log") errors, $(grep -c '^W:' "$SCRATCH/lintian.log") warnings"

# ---------------------------------------------------------------- 2. install
NAMES=""
for d in $DEBS; do NAMES="$NAMES $(dpkg-deb -f "$d" Package)"; done
OURS=$NAMES
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $DEBS \
    > "$SCRATCH/install.log" 2>&1 || { tail -n 30 "$SCRATCH/install.log"; e2e_fail "apt-get install failed"; }
for p in $NAMES; do installed "$p" || e2e_fail "$p is not installed after apt-get install"; done
say "installed:$NAMES"

# Every path the packages installed, for the purge check; nothing world-writable.
dpkg -L $NAMES | grep "^/" | sort -u > "$SCRATCH/files.txt"
ww="" n=0
while read -r f; do
    [ -L "$f" ] && continue
    [ -e "$f" ] || e2e_fail "dpkg -L lists $f, which is not there"
    n=$((n + 1))
    [ $(( 0$(stat -c %a "$f") & 2 )) -eq 0 ] || ww="$ww $f"
done < "$SCRATCH/files.txt"
[ -z "$ww" ] || e2e_fail "world-writable after install:$ww"
[ "$n" -gt 20 ] || e2e_fail "only $n paths installed"
for f in "$PLUGINDIR/ovp-learn-address-db.so" "$PLUGINDIR/ovp-down-root.so" "$PLUGINDIR/ovp-auth-pam.so" \
    /usr/libexec/ovp/ovp-down-root-helper /usr/libexec/ovp/ovp-auth-pam-helper \
    /usr/bin/ovp-addrdb /usr/bin/ovp-refcore; do
    [ -e "$f" ] || e2e_fail "not installed: $f"
done
[ "$(stat -c '%U:%G %a' /var/lib/ovp)" = "nobody:nogroup 750" ] \
    || e2e_fail "/var/lib/ovp is $(stat -c '%U:%G %a' /var/lib/ovp), want nobody:nogroup 750"
# Bare names resolve in OpenVPN's plugin directory for ovp-refcore too.
printf 'x\nx\n' | ovp-refcore --plugin ovp-down-root.so /bin/true -- --try --quiet > "$SCRATCH/try.log" 2>&1
grep -q 'decision: ACCEPTED' "$SCRATCH/try.log" || e2e_fail "ovp-refcore --try with a bare name: $(cat "$SCRATCH/try.log")"
say "ok: layout, nothing world-writable ($n paths), /var/lib/ovp nobody:nogroup 0750, ovp-refcore resolves bare names"

# -------------------------------------------------------------- 3. e2e scenario
e2e_init
trap pkg_cleanup EXIT  # e2e_init's trap cleans the namespaces only; ours does both
e2e_pki alice bob
e2e_systemd_limits
# ProtectSystem=true (/usr and /boot read-only) and ProtectHome=true (/home, /root and
# /run/user inaccessible), as the unit sets them, in a private mount namespace.
cat > "$E2E_DIR/protect.sh" <<'SH'
#!/bin/sh
set -e
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "protect: not in a private mount namespace" >&2; exit 1; }
mount --make-rprivate /
for d in /usr /boot; do [ -d "$d" ] && mount --bind "$d" "$d" && mount -o remount,bind,ro "$d"; done
for d in /home /root /run/user; do [ -d "$d" ] && mount -t tmpfs -o mode=000,size=4k ovp-protecthome "$d"; done
exec "$@"
SH
chmod 755 "$E2E_DIR/protect.sh"
E2E_SERVER_NS_WRAP="unshare -m $E2E_DIR/protect.sh"

cat > "$E2E_DIR/learn-address-db.conf" <<CONF
Database /var/lib/ovp/addresses.sqlite
RunAsUser nobody
Instance ovp-pkg-e2e
FlushInterval 100ms
CONF
mkdir -m 777 "$E2E_DIR/out"
cat > "$E2E_DIR/down.sh" <<SH
#!/bin/sh
echo "uid=\$(id -u) script_type=\$script_type signal=\$signal" > "$E2E_DIR/out/down.out"
SH
chmod 755 "$E2E_DIR/down.sh"
e2e_server_conf "plugin ovp-learn-address-db.so $E2E_DIR/learn-address-db.conf
plugin ovp-down-root.so $E2E_DIR/down.sh"
e2e_start_server
spid=$(cat "$E2E_DIR/server.pid")
grep -q "$PLUGINDIR/ovp-learn-address-db.so" "/proc/$spid/maps" \
    || e2e_fail "the server did not map $PLUGINDIR/ovp-learn-address-db.so"
grep -q "$PLUGINDIR/ovp-down-root.so" "/proc/$spid/maps" \
    || e2e_fail "the server did not map $PLUGINDIR/ovp-down-root.so"
pgrep -a -P "$spid" | grep -q /usr/libexec/ovp/ovp-down-root-helper \
    || e2e_fail "no installed down-root helper under the server: $(pgrep -a -P "$spid")"
e2e_log "ok: both plugins loaded by bare name from $PLUGINDIR"

e2e_client c1 alice "" ""
e2e_wait_connect c1 20 || e2e_fail "alice did not connect: $E2E_WHY"
ip netns exec "$E2E_CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping through the tunnel"
sleep 0.5
ovp-addrdb --db /var/lib/ovp/addresses.sqlite current > "$E2E_DIR/current.txt" 2>&1 \
    || e2e_fail "ovp-addrdb current: $(cat "$E2E_DIR/current.txt")"
grep -q alice "$E2E_DIR/current.txt" || e2e_fail "alice not in the database: $(cat "$E2E_DIR/current.txt")"
[ "$(stat -c %U /var/lib/ovp/addresses.sqlite)" = nobody ] \
    || e2e_fail "the database belongs to $(stat -c %U /var/lib/ovp/addresses.sqlite), not nobody"
e2e_stop c1
e2e_log "ok: alice recorded in /var/lib/ovp/addresses.sqlite (owned by nobody)"

# A reload reopens the plugins as nobody: the database must still be writable.
e2e_sighup
e2e_client c2 bob "" ""
e2e_wait_connect c2 20 || e2e_fail "bob did not connect after the reload: $E2E_WHY"
sleep 0.5
ovp-addrdb --db /var/lib/ovp/addresses.sqlite current > "$E2E_DIR/current2.txt" 2>&1
grep -q bob "$E2E_DIR/current2.txt" || e2e_fail "bob (after the SIGHUP, as nobody) not recorded: $(cat "$E2E_DIR/current2.txt")"
grep -qiE 'cannot be written|not recorded|readonly|read-only' "$E2E_DIR/server.log" \
    && e2e_fail "database errors in the server log: $(grep -iE 'cannot be written|not recorded|readonly|read-only' "$E2E_DIR/server.log" | head -3)"
e2e_stop c2
e2e_stop server
grep -q "uid=0 script_type=down signal=sigterm" "$E2E_DIR/out/down.out" 2>/dev/null \
    || e2e_fail "the down command did not run as root at the stop: $(cat "$E2E_DIR/out/down.out" 2>&1)"
ovp-addrdb --db /var/lib/ovp/addresses.sqlite --csv history --cn bob > "$E2E_DIR/hist.csv" 2>&1
grep -q bob "$E2E_DIR/hist.csv" || e2e_fail "bob's session missing from history"
e2e_log "ok: recorded after a SIGHUP as nobody; DOWN ran as root through /usr/libexec/ovp"
e2e_cleanup
E2E_DIR=""

# ----------------------------------------------------------------- 4. purge
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $NAMES > "$SCRATCH/purge.log" 2>&1 \
    || { tail -n 30 "$SCRATCH/purge.log"; e2e_fail "apt-get purge failed"; }
for p in $NAMES; do known "$p" && e2e_fail "$p is still known to dpkg after the purge"; done
OURS=""
left=""
while read -r f; do
    case $f in
        /usr/libexec/ovp*|/var/lib/ovp*|*/ovp-*|/usr/share/doc/ovp*) [ -e "$f" ] || [ -L "$f" ] && left="$left $f" ;;
    esac
done < "$SCRATCH/files.txt"
[ -z "$left" ] || e2e_fail "left after the purge:$left"
for d in /var/lib/ovp /usr/libexec/ovp; do [ -e "$d" ] && e2e_fail "left after the purge: $d"; done
dpkg-statoverride --list /var/lib/ovp >/dev/null 2>&1 && e2e_fail "the dpkg-statoverride of /var/lib/ovp is left"
say "ok: purge left nothing ($(wc -l < "$SCRATCH/files.txt") paths checked, /var/lib/ovp and its statoverride gone)"
say "PASS"
