#!/bin/sh
# check_format.sh: every C file of the tree follows the checked-in .clang-format.
set -u
top_srcdir=${top_srcdir:-../..}
cf=$(command -v clang-format || command -v clang-format-14 || true)
[ -n "$cf" ] || { echo "SKIP: clang-format not installed (apt-get install clang-format)"; exit 77; }
cd "$top_srcdir" || exit 1
files=$(find common tests auth-pam auth-ldap auth-http learn-address-db down-root \
             -name '*.[ch]' -not -path '*/.libs/*' 2>/dev/null | sort)
bad=0
for f in $files; do
    if ! "$cf" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i --style=file $f)"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "ok: $(echo "$files" | wc -w) files formatted"
exit $bad
