#!/bin/sh
# check_configure.sh: configure's summary names each plugin it cannot build and why, and
# --enable-X=yes turns a missing dependency into an error. Missing -dev packages are
# simulated (a header check forced to fail, a pkg-config dir without one .pc file).
set -u
top_srcdir=$(cd "${top_srcdir:-../..}" && pwd)
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-configure.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
rc=0
fail() { echo "FAIL: $*"; rc=1; }

# configure refuses a build directory of its own ("source directory already configured")
# when the sources were configured in place, as ./configure && make check does. So the
# runs below use $T/src: a link to every top-level entry of the sources but what an
# in-place configure made there. It is the same configure script reading the same files.
mkdir "$T/src"
for f in "$top_srcdir"/* "$top_srcdir"/.[!.]*; do
    [ -e "$f" ] || continue
    case ${f##*/} in
        config.status | config.log | config.cache | Makefile | libtool | ovpbuild.h | stamp-h1) ;;
        *) ln -s "$f" "$T/src/${f##*/}" ;;
    esac
done
[ -x "$T/src/configure" ] || { echo "FAIL: no configure script in $top_srcdir"; exit 1; }

# A pkg-config directory holding every .pc file the machine has but sqlite3's and ldap's.
mkdir "$T/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    [ -d "$d" ] && cp "$d"/*.pc "$T/pc/" 2>/dev/null
done
rm -f "$T/pc/sqlite3.pc" "$T/pc/ldap.pc"

mkdir "$T/b1"
(cd "$T/b1" && PKG_CONFIG_LIBDIR="$T/pc" ac_cv_header_security_pam_appl_h=no ac_cv_header_ldap_h=no \
    "$T/src/configure" -q > out 2>&1)
[ $? -eq 0 ] || fail "configure under auto failed although plugins could be skipped: $(tail -5 "$T/b1/out")"
grep -E '^  auth-pam +no +security/pam_appl.h not found \(install libpam0g-dev\)' "$T/b1/out" >/dev/null \
    || fail "summary does not say why auth-pam is off: $(grep auth-pam "$T/b1/out")"
grep -E '^  learn-address-db +no +sqlite3 >= [0-9.]+ not found \(install libsqlite3-dev\)' "$T/b1/out" >/dev/null \
    || fail "summary does not say why learn-address-db is off: $(grep learn-address "$T/b1/out")"
grep -E '^  auth-ldap +no +ldap.h not found \(install libldap2-dev\)' "$T/b1/out" >/dev/null \
    || fail "summary does not say why auth-ldap is off: $(grep auth-ldap "$T/b1/out")"
grep -E '^  down-root +yes' "$T/b1/out" >/dev/null || fail "down-root should still be built"

mkdir "$T/b2"
(cd "$T/b2" && ac_cv_header_security_pam_appl_h=no \
    "$T/src/configure" -q --enable-auth-pam=yes > out 2>&1)
[ $? -ne 0 ] || fail "--enable-auth-pam=yes succeeded without PAM headers"
grep -q "enable-auth-pam=yes but it cannot be built: security/pam_appl.h not found" "$T/b2/out" \
    || fail "no clear error for --enable-auth-pam=yes: $(tail -3 "$T/b2/out")"

mkdir "$T/b3"
# (and libldap without its .pc file: found as -lldap)
(cd "$T/b3" && PKG_CONFIG_LIBDIR="$T/pc" "$T/src/configure" -q --disable-down-root > out 2>&1)
grep -E '^  auth-ldap +yes' "$T/b3/out" >/dev/null \
    || fail "auth-ldap not found without ldap.pc: $(grep auth-ldap "$T/b3/out")"
grep -E '^  down-root +no +disabled with --disable-down-root' "$T/b3/out" >/dev/null \
    || fail "summary does not say down-root was disabled"

[ $rc -eq 0 ] && echo "ok: configure explains missing dependencies and honours =yes / --disable"
exit $rc
