# private_tmp.sh: runs a test script again in a mount namespace where /tmp is a directory
# of its own (sourced, not run).
#
# Why: pam_wrapper (the test tool, not ovp) copies the PAM services of each process that
# loads it into a directory whose name it picks from 62 fixed ones, /tmp/pam.0 ... pam.z,
# and removes it when that process exits. Two processes that start at the same moment may
# pick the same name (the first to exit removes the other's services), and one that finds
# a directory left by a killed process removes it while a third may be taking the name
# again. A PAM transaction whose services vanished fails with "Permission denied" before
# any question is asked. Under make -j, other tests' processes are the ones that collide;
# with /tmp private to each test they cannot.
#
# Usage, before the test creates anything:  ovp_private_tmp "$0" "$@"
# (the script runs again under the same shell, with the same arguments and environment).
# Inside the namespace /tmp shows a fresh directory (outside: /tmp/ovp-privtmp.XXXXXX,
# removed afterwards unless OVP_KEEP or E2E_KEEP is set). Build or source trees that live
# under /tmp stay reachable through links to the real /tmp (kept at /tmp/.orig).
# Without root or unshare(1) the test runs as it is, with a note.

ovp_private_tmp() {
    [ -z "${OVP_PRIVATE_TMP:-}" ] || return 0 # already inside
    _pt_shell=$(readlink /proc/$$/exe) || _pt_shell=/bin/sh
    if [ "$(id -u)" != 0 ] || ! command -v unshare > /dev/null 2>&1; then
        echo "note: /tmp is shared (a private one needs root and unshare): pam_wrapper may race"
        return 0
    fi
    _pt_dir=$(mktemp -d /tmp/ovp-privtmp.XXXXXX) || return 0
    chmod 1777 "$_pt_dir"
    # The top-level names under /tmp that the test reaches by path: its trees, TMPDIR.
    _pt_links=""
    _pt_src=""
    [ -n "${srcdir:-}" ] && _pt_src=$(cd "$srcdir" 2> /dev/null && pwd)
    for _pt_p in "$(pwd)" "$_pt_src" "$(cd "$(dirname "$1")" && pwd)" \
        "${abs_top_builddir:-}" "${abs_builddir:-}" "${top_builddir:-}" "${top_srcdir:-}" \
        "${TMPDIR:-}"; do
        case "$_pt_p" in
        /tmp/?*)
            _pt_p=${_pt_p#/tmp/}
            _pt_links="$_pt_links ${_pt_p%%/*}"
            ;;
        esac
    done
    # shellcheck disable=SC2016 # expanded by the inner shell
    OVP_PRIVATE_TMP=$_pt_dir OVP_PRIVATE_TMP_LINKS=$_pt_links \
        unshare --mount --propagation private sh -c '
        set -e
        p=$OVP_PRIVATE_TMP
        mkdir "$p/.orig"
        mount --bind /tmp "$p/.orig"
        for n in $OVP_PRIVATE_TMP_LINKS; do ln -sfn "/tmp/.orig/$n" "$p/$n"; done
        mount --rbind "$p" /tmp
        cd "$PWD"
        exec "$@"' ovp-private-tmp "$_pt_shell" "$@"
    _pt_rc=$?
    # Outside the namespace $_pt_dir/.orig is an empty directory, not the real /tmp.
    if [ -n "${OVP_KEEP:-}${E2E_KEEP:-}" ]; then
        echo "private /tmp kept: $_pt_dir"
    else
        rm -rf "$_pt_dir"
    fi
    exit $_pt_rc
}
