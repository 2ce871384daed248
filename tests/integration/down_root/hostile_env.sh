#!/bin/sh
# hostile_env.sh: through ovp-refcore, hostile values in OpenVPN's environment (LD_*,
# IFS, BASH_ENV, PATH, a shell function, a newline, a 1 MiB value, more than one
# request can carry) never reach the commands run as root, even when listed with env=,
# are reported by name and reason (never by value), and do not break the helper: UP and
# DOWN both run, in the same helper, with the safe PATH.
. "${srcdir:-.}/down_root/lib.sh"

begin
# A 1 MiB value cannot travel in an exec argument (128 KiB at most): it comes from a
# file through the core's --setenv-file, as the plugin would get it from OpenVPN.
head -c 1048576 /dev/zero | tr '\0' 'x' > "$WORK/big"
[ "$(wc -c < "$WORK/big")" -eq 1048576 ] || fail "could not make the 1 MiB value"
# exactly at the limit (4096 bytes) passes; one more does not
max=$(head -c 4096 /dev/zero | tr '\0' 'm')
over=$(head -c 4097 /dev/zero | tr '\0' 'o')
nl=$(printf 'ok\nLD_PRELOAD=/nonexistent/evil-nl.so')

OVP_PROCESS_ENV=leaked core "$WORK/out" "wait 10ms" env=LD_PRELOAD env=IFS env=PATH \
    env=MY_BIG env=MY_SITE "up=$REC" "$REC" -- --verb 1 \
    --setenv LD_PRELOAD /nonexistent/evil.so \
    --setenv LD_LIBRARY_PATH /nonexistent/evil-lib \
    --setenv IFS / \
    --setenv BASH_ENV /nonexistent/evil-bash-env \
    --setenv PATH /nonexistent/evil-bin \
    --setenv 'BASH_FUNC_id%%' '() { echo evil-function; }' \
    --setenv route_nl "$nl" \
    --setenv route_cr "$(printf 'a\rb')" \
    --setenv peer_max "$max" \
    --setenv peer_over "$over" \
    --setenv MY_SITE site-ok \
    --setenv-file peer_big "$WORK/big" \
    --setenv-file MY_BIG "$WORK/big" \
    --setenv not_listed value
[ $rc -eq 0 ] || fail "the core exited $rc"

for t in up down; do
    e="$WORK/env.$t"
    [ -f "$e" ] || { fail "the $t command did not run"; continue; }
    for name in LD_PRELOAD LD_LIBRARY_PATH IFS BASH_ENV BASH_FUNC_id route_nl route_cr \
        peer_over peer_big MY_BIG OVP_PROCESS_ENV; do
        grep -q "^$name" "$e" && fail "$name reached the $t command"
    done
    hasnt "$e" "evil" "$t: nothing hostile in the environment"
    [ "$(grep '^PATH=' "$e")" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ] ||
        fail "$t: PATH is not the safe one: $(grep '^PATH=' "$e")"
    [ "$(sed -n 's/^peer_max=//p' "$e" | wc -c)" -eq 4097 ] ||
        fail "$t: the 4096-byte value did not arrive whole"
    has "$e" "MY_SITE=site-ok" "$t: a name listed with env= passes"
    # a setenv variable of the configuration passes as the bundled plugin passes it
    has "$e" "not_listed=value" "$t: a setenv variable passes"
    has "$e" "dev=tun0" "$t: ordinary variables pass"
done
has "$WORK/env.down" "signal=sigterm" "DOWN still has its signal"
h=$(helper_pids "$WORK/out")
[ "$(printf '%s\n' "$h" | wc -l)" -eq 1 ] || fail "one helper expected, saw: $h"
[ "$(grep -c "helper=$h " "$WORK/runs")" -eq 2 ] || fail "UP and DOWN not both run by helper $h"

# Each refusal is logged by name with its reason, never with the value.
for pair in "LD_PRELOAD:changes how programs load or parse" \
    "LD_LIBRARY_PATH:changes how programs load or parse" "IFS:changes how programs load" \
    "BASH_ENV:changes how programs load" "PATH:changes how programs load" \
    "BASH_FUNC_id%%:not a NAME=value entry" "route_nl:value holds control characters" \
    "route_cr:value holds control characters" "peer_over:value too long" \
    "peer_big:value too long" "MY_BIG:value too long"; do
    has "$WORK/out" "DOWN: not passing ${pair%%:*} to the command: ${pair#*:}" "refusal of ${pair%%:*}"
done
hasnt "$WORK/out" "not passing not_listed" "a setenv variable is not refused"
# setenv variables that are refused are named when the plugin opens
has "$WORK/out" "setenv LD_PRELOAD: not passed to the commands: changes how programs load" \
    "a dangerous setenv named at open"
has "$WORK/out" "setenv MY_BIG: not passed to the commands: value too long" \
    "an oversized setenv named at open"
hasnt "$WORK/out" "evil" "no hostile value in the log"
hasnt "$WORK/out" "xxxxxxxxxxxxxxxx" "no part of the 1 MiB value in the log"
has "$WORK/out" "DOWN: $REC succeeded" "DOWN ran"
hasnt "$WORK/out" "environment too large" "everything fitted"
ok "hostile values stay out of the root command's environment; the helper carries on"

begin
# 2. A large routing table: 1000 server routes are 3000 route_* variables, all passed.
routes=""
i=1
while [ $i -le 1000 ]; do
    routes="$routes --route 10.$((i / 250)).$((i % 250)).0 255.255.255.0"
    i=$((i + 1))
done
rm -f "$WORK"/env.*
# shellcheck disable=SC2086
core "$WORK/out2" "wait 10ms" "$REC" -- --verb 1 $routes
[ $rc -eq 0 ] || fail "1000 routes: the core exited $rc"
[ "$(grep -c '^route_network_' "$WORK/env.down")" -eq 1000 ] ||
    fail "1000 routes: the DOWN command saw $(grep -c '^route_network_' "$WORK/env.down") route_network_*"
has "$WORK/env.down" "route_network_1000=10.4.0.0" "the last route"
has "$WORK/env.down" "route_netmask_1000=255.255.255.0" "the last route's mask"
has "$WORK/env.down" "signal=sigterm" "signal with 1000 routes"
hasnt "$WORK/out2" "not passed" "nothing dropped"
ok "1000 routes: every route_* variable reaches the command"

begin
# 3. More than one request can carry (80 values of 4000 bytes, over 256 KiB): the
#    overflow is counted and named, refusals are still reported, the command runs.
bulk=""
i=1
v=$(head -c 4000 /dev/zero | tr '\0' 'b')
while [ $i -le 80 ]; do bulk="$bulk --setenv route_bulk_$i $v"; i=$((i + 1)); done
rm -f "$WORK"/env.*
# shellcheck disable=SC2086
core "$WORK/out3" "wait 10ms" "$REC" -- --verb 1 --setenv LD_PRELOAD /nonexistent/evil.so $bulk
[ $rc -eq 0 ] || fail "an oversized environment: the core exited $rc"
has "$WORK/out3" "DOWN: not passing LD_PRELOAD to the command" "refusals after an overflow"
grep -q "DOWN: environment too large for the command ([0-9]* variables passed): [0-9]* more not passed, the first route_bulk_" "$WORK/out3" ||
    fail "no count of the variables not passed: $(grep 'too large' "$WORK/out3")"
has "$WORK/env.down" "signal=sigterm" "signal despite the overflow"
hasnt "$WORK/env.down" "LD_PRELOAD" "LD_PRELOAD after an overflow"
has "$WORK/out3" "DOWN: $REC succeeded" "DOWN ran despite the overflow"
ok "an environment over 256 KiB: the overflow is reported, the command runs"

finish
