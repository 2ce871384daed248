#!/bin/sh
# run-story.sh: runs one story under ovp-refcore --scenario (the test driver of make check).
#
# A story's header says how: "# args:" lines give the command line (plugin lines and
# options; ${TEST_PLUGIN}, ${T} (a fresh temp dir) and other variables expand), and
# "# needs: pam" sets up PAM through pam_wrapper + pam_matrix (users alice/secret and
# bob/hunter2 for the service "ovptest"). Exit 77 = skipped, with the reason printed.
set -u
story=$1
name=$(basename "$story" .story)

: "${REFCORE:?REFCORE must point at ovp-refcore}"
: "${TEST_PLUGIN:?TEST_PLUGIN must point at ovp-test-plugin.so}"
: "${OPENVPN_PLUGINDIR:=/usr/lib/x86_64-linux-gnu/openvpn/plugins}"

skip() { echo "SKIP: $name: $*"; exit 77; }

[ -x "$REFCORE" ] || skip "no ovp-refcore at $REFCORE"
[ -f "$TEST_PLUGIN" ] || skip "no test plugin at $TEST_PLUGIN (make -C tests/plugin ovp-test-plugin.la)"

# A story under pam_wrapper gets a /tmp of its own (see tests/private_tmp.sh).
if grep -q '^# needs: .*pam' "$story"; then
    . "$(dirname "$0")/../private_tmp.sh"
    ovp_private_tmp "$0" "$@"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-story.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
export T OPENVPN_PLUGINDIR
# Short paths to the plugins: an OpenVPN config line (and so a plugin's words, which the
# core holds to it) has at most 255 characters, and build trees can live deep.
ln -s "$TEST_PLUGIN" "$T/tp.so" && TEST_PLUGIN=$T/tp.so
if [ -n "${RECORD_PLUGIN:-}" ]; then
    ln -s "$RECORD_PLUGIN" "$T/rp.so" && RECORD_PLUGIN=$T/rp.so
fi
export TEST_PLUGIN RECORD_PLUGIN

args=$(sed -n 's/^# args: //p' "$story" | tr '\n' ' ')
needs=$(sed -n 's/^# needs: //p' "$story" | tr '\n' ' ')

for need in $needs; do
    case $need in
    pam)
        wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
        matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n1)
        [ -n "$wrapper" ] || skip "libpam_wrapper.so not found (Debian: apt-get install libpam-wrapper)"
        [ -n "$matrix" ] || skip "pam_matrix.so not found (Debian: apt-get install libpam-wrapper)"
        [ -f "$OPENVPN_PLUGINDIR/openvpn-plugin-auth-pam.so" ] ||
            skip "OpenVPN's auth-pam plugin not found in $OPENVPN_PLUGINDIR (apt-get install openvpn)"
        mkdir -p "$T/pam.d"
        # one passdb per service: pam_matrix refuses a user listed for two services
        printf 'alice:secret:ovptest\nbob:hunter2:ovptest\n' > "$T/passdb"
        printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' \
            "$matrix" "$T/passdb" "$matrix" "$T/passdb" > "$T/pam.d/ovptest"
        # an ASan build wants its runtime first in the preload list
        asan=$(ldd "$REFCORE" | awk '/libasan/ {print $3}')
        LD_PRELOAD="${asan:+$asan }$wrapper"
        PAM_WRAPPER=1
        PAM_WRAPPER_SERVICE_DIR="$T/pam.d"
        export LD_PRELOAD PAM_WRAPPER PAM_WRAPPER_SERVICE_DIR
        ;;
    *) skip "unknown need '$need'" ;;
    esac
done

eval "set -- $args"
# pam_wrapper's "no default config other" noise is filtered; everything else shows
"$REFCORE" "$@" --scenario "$story" 2>"$T/stderr"
rc=$?
grep -v 'PWRAP_ERROR.*no default config other' "$T/stderr" >&2
if [ $rc -ne 0 ]; then
    echo "FAIL: $name (exit $rc); the core's log is above"
fi
exit $rc
