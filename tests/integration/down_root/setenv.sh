#!/bin/sh
# setenv.sh: through ovp-refcore, variables set with `setenv` in OpenVPN's configuration
# (they arrive in the open call's envp) reach the root commands with the value they had
# at open, as the bundled plugin passes them: an operator's value may hold any printable
# text. OpenVPN's own variables are not taken from there, and dangerous or oversized
# setenv variables are refused and named once, when the plugin opens.
. "${srcdir:-.}/down_root/lib.sh"

begin
core "$WORK/out" "wait 10ms" "up=$REC" "route_predown=$REC" "$REC" -- --verb 1 \
    --route 192.0.2.0 255.255.255.0 \
    --setenv SITE_NAME 'rack 4; row "b" $HOME' \
    --setenv OPENVPN_zone dmz \
    --setenv EMPTY_ONE '' \
    --setenv LD_PRELOAD /nonexistent/evil.so \
    --setenv GCONV_PATH /nonexistent/evil
[ $rc -eq 0 ] || fail "the core exited $rc"
for t in up route-pre-down down; do
    e="$WORK/env.$t"
    [ -f "$e" ] || { fail "the $t command did not run"; continue; }
    has "$e" 'SITE_NAME=rack 4; row "b" $HOME' "$t: a setenv value, as written"
    [ "$(grep -c '^SITE_NAME=' "$e")" -eq 1 ] || fail "$t: SITE_NAME not exactly once"
    has "$e" "OPENVPN_zone=dmz" "$t: a setenv-safe style name"
    grep -qx "EMPTY_ONE=" "$e" || fail "$t: an empty setenv value did not pass"
    hasnt "$e" "evil" "$t: no dangerous setenv"
    [ "$(grep -c '^verb=' "$e")" -eq 1 ] || fail "$t: verb (OpenVPN's own) not exactly once"
done
has "$WORK/env.down" "signal=sigterm" "DOWN's own variables still there"
[ "$(grep -c "setenv LD_PRELOAD: not passed to the commands: changes how programs load" "$WORK/out")" -eq 1 ] ||
    fail "LD_PRELOAD should be named once, at open: $(grep -c 'setenv LD_PRELOAD' "$WORK/out")"
has "$WORK/out" "setenv GCONV_PATH: not passed to the commands" "GCONV_PATH named at open"
hasnt "$WORK/out" "SITE_NAME" "an accepted setenv is not logged"
hasnt "$WORK/out" "/nonexistent/evil" "no refused value in the log"
ok "setenv variables of the configuration reach every command"

finish
