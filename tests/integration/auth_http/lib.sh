# lib.sh: shared setup for ovp-auth-http's integration tests through ovp-refcore (sourced).
# Each test starts its own fixture service (tests/fixtures/http_service.sh) on free
# loopback ports, writes a config for it and runs stories of clients through the
# reference core. OVP_KEEP=1 keeps the work directory for a look afterwards.
# shellcheck disable=SC2034 # the variables set here are read by the tests
set -u

: "${abs_top_builddir:=$(cd "${top_builddir:-../..}" && pwd)}"
: "${srcdir:=.}"
REFCORE="$abs_top_builddir/tests/core/ovp-refcore"
PLUGIN="$abs_top_builddir/auth-http/.libs/ovp-auth-http.so"

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
. "$srcdir/../fixtures/http_service.sh"
. "$srcdir/../secret_scan.sh"
http_available || skip_or_fail "python3 or openssl missing (apt-get install python3 openssl)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovp-auth-http-test.XXXXXX")
# The plugin through a short link in $WORK: a plugin line must stay under 256 characters
# (as in an OpenVPN config), however deep the build tree is (distcheck adds 22).
ln -s "$PLUGIN" "$WORK/ovp-auth-http.so" && PLUGIN="$WORK/ovp-auth-http.so"
SERVICES=""
# The secret scan (tests/secret_scan.sh) at the end of every test: the passwords of the
# stories, the secret files' contents and every no_secrets word must appear in no file
# under $WORK but these, where they are the payload by design:
secret_skip '*.story' "the clients' input: the passwords they type"
secret_skip '*/requests.jsonl' "the fixture's record of each request: the password and the bearer token the plugin sent the service"
secret_skip '*/script.json' "the fixture's script: the credentials it expects"
cleanup() {
    for d in $SERVICES; do http_stop "$d"; done
    secret_story "$WORK"/*.story
    secret_scan "$WORK"
    _scan=$?
    if [ -n "${OVP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    [ $_scan -eq 0 ] || exit 1
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# service NAME SCRIPT [http_service.py options]: a fixture service of its own in
# $WORK/NAME; sets HTTP_URL, HTTP_BASE, HTTP_LOG...
service() {
    _n=$1; shift
    SERVICES="$SERVICES $WORK/$_n"
    http_start "$WORK/$_n" "$@" || die "fixture service $_n did not start"
}

# conf FILE LINE...: a config file with these lines, mode 0600.
conf() {
    f=$1; shift
    : > "$f"
    chmod 600 "$f"
    for l in "$@"; do printf '%s\n' "$l" >> "$f"; done
}

# secret FILE TEXT: a secret file (0600); TEXT is declared a secret, FILE its one home.
secret() {
    secret_add "$2"
    secret_skip "${1#"$WORK"/}" "a secret file the test wrote"
    : > "$1"
    chmod 600 "$1"
    printf '%s\n' "$2" > "$1"
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

# has FILE TEXT WHAT: FILE holds TEXT, else a failure saying WHAT.
has() {
    grep -F -q -- "$2" "$1" || fail "$3 (no \"$2\" in $1)"
}

finish() {
    [ "$FAILED" -ne 0 ] && exit 1
    echo "PASS"
    exit 0
}
