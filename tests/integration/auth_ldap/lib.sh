# lib.sh: shared setup for ovp-auth-ldap's integration tests through ovp-refcore (sourced).
# Each test starts its own slapd (tests/fixtures/slapd.sh) on free loopback ports, writes
# an openvpn-auth-ldap style config for it and runs stories of clients through the
# reference core. OVP_KEEP=1 keeps the work directory for a look afterwards.
# shellcheck disable=SC2034 # the variables set here are read by the tests
set -u

: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${srcdir:=.}"
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
PLUGIN="$abs_top_builddir/auth-ldap/.libs/ovp-auth-ldap.so"

skip() { echo "SKIP: $*"; exit 77; }
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
die() { echo "FAIL: $*"; exit 1; }
# skip_or_fail REASON: a test that cannot run here is skipped, but not in CI.
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        die "$1 (CI=true: this test must run in CI)"
    fi
    skip "$1"
}

[ -x "$REFCORE" ] || die "$REFCORE not built"
[ -f "$PLUGIN" ] || die "$PLUGIN not built"
. "$srcdir/../fixtures/slapd.sh"
. "$srcdir/../secret_scan.sh"
slapd_available || skip_or_fail "slapd, ldap-utils, openssl or python3 missing (apt-get install slapd ldap-utils openssl python3)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-auth-ldap-test.XXXXXX")
# The plugin through a short link in $WORK: a plugin line must stay under 256 characters
# (as in an OpenVPN config), however deep the build tree is (distcheck adds 22).
ln -s "$PLUGIN" "$WORK/ovp-auth-ldap.so" && PLUGIN="$WORK/ovp-auth-ldap.so"
SLAPDIRS=""
# The secret scan (tests/secret_scan.sh) at the end of every test: the service bind
# password, the passwords of the stories and every no_secrets word must appear in no
# file under $WORK but these, where they are the payload by design (start_slapd adds
# each directory's database and seed entries):
secret_add Svc-Pass-9
secret_skip '*.story' "the clients' input: the passwords they type"
secret_skip '*.conf' "config files (conf, ad.sh's adconf): the bind password is in them"
secret_skip 'ad/*' "ad.sh's Samba AD DC: its directory, provisioning and logs hold the users' passwords"
cleanup() {
    for d in $SLAPDIRS; do slapd_stop "$d"; done
    secret_story "$WORK"/*.story
    secret_scan "$WORK"
    _scan=$?
    if [ -n "${OVP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    [ $_scan -eq 0 ] || exit 1
}
trap cleanup EXIT

# start_slapd NAME [wrong]: a slapd of its own in $WORK/NAME; sets SLAPD_URL etc.
start_slapd() {
    mkdir -p "$WORK/$1"
    SLAPDIRS="$SLAPDIRS $WORK/$1"
    secret_skip "$1/db/*" "the directory's database: the users' passwords are its data"
    secret_skip "$1/*.ldif" "the directory's seed entries, passwords included"
    slapd_setup "$WORK/$1" ${2:-} && slapd_start "$WORK/$1" || die "slapd $1 did not start"
}

# conf FILE URL [extra <LDAP> lines] [-- extra <Authorization> lines]: a config file
# as openvpn-auth-ldap reads it, service bind as uid=svc, mode 0600.
conf() {
    f=$1; url=$2; shift 2
    {
        printf '<LDAP>\n    URL "%s"\n    BindDN uid=svc,ou=Services,dc=example,dc=org\n' "$url"
        printf '    Password Svc-Pass-9\n    Timeout 2\n'
        while [ $# -gt 0 ] && [ "$1" != "--" ]; do printf '    %s\n' "$1"; shift; done
        [ $# -gt 0 ] && shift
        printf '</LDAP>\n<Authorization>\n    BaseDN "dc=example,dc=org"\n'
        printf '    SearchFilter "(uid=%%u)"\n'
        for l in "$@"; do printf '    %s\n' "$l"; done
        printf '</Authorization>\n'
    } > "$f"
    chmod 600 "$f"
}

# story NAME CONF [refcore options]: runs $WORK/NAME.story (stdin) with the plugin on CONF;
# output in $WORK/NAME.out. Returns refcore's status.
story() {
    name=$1; cf=$2; shift 2
    cat > "$WORK/$name.story"
    "$REFCORE" --plugin "$PLUGIN" "$cf" -- --verb 11 --poll fast "$@" \
        --scenario "$WORK/$name.story" > "$WORK/$name.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "story $name (exit $rc)"
        tail -n 30 "$WORK/$name.out" | sed 's/^/    /'
    fi
    return $rc
}

# no_secrets FILE SECRET...: no line holds any of the secrets (checked now); the secrets
# are also declared for the scan of every file at the end (secret_scan).
no_secrets() {
    f=$1; shift
    secret_add "$@"
    for s in "$@"; do
        if grep -F -q -- "$s" "$f"; then
            fail "a secret appears in $f: $(grep -F -- "$s" "$f" | head -n 1)"
        fi
    done
}

finish() {
    [ "$FAILED" -ne 0 ] && exit 1
    echo "PASS"
    exit 0
}
