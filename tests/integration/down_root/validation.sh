#!/bin/sh
# validation.sh: through ovp-refcore, values of the wrong shape for their variable (an
# interface name with shell syntax, an address with a command after it, a peer string
# with $(...)) are not passed to the root command, standard arguments of the wrong shape
# are passed empty, each refusal is logged by name (typed values with a short escaped
# excerpt, peer strings never), and the command still runs. Real names pass.
. "${srcdir:-.}/down_root/lib.sh"

begin
# 1. A hostile device name and hostile values among OpenVPN's own variables.
core "$WORK/out1" "wait 10ms" script_args=yes "up=$REC" "$REC" -- --verb 1 \
    --dev 'tun0;id>x' \
    --setenv route_network_9 '192.0.2.0;reboot now' \
    --setenv route_netmask_9 255.255.255.0 \
    --setenv route_gateway_9 '$(reboot)' \
    --setenv common_name 'alice$(reboot)' \
    --setenv untrusted_ip '198.51.100.7 -x' \
    --setenv foreign_option_1 'dhcp-option DNS 10.8.0.1' \
    --setenv foreign_option_2 'dhcp-option DOMAIN `reboot`' \
    --setenv time_ascii 'Thu Dec  3 10:58:57 2026'
[ $rc -eq 0 ] || fail "the core exited $rc"
for t in up down; do
    e="$WORK/env.$t"
    [ -f "$e" ] || { fail "the $t command did not run"; continue; }
    for name in dev route_network_9 route_gateway_9 common_name untrusted_ip foreign_option_2; do
        grep -q "^$name=" "$e" && fail "$t: $name reached the command: $(grep "^$name=" "$e")"
    done
    hasnt "$e" "reboot" "$t: nothing hostile in the environment"
    has "$e" "route_netmask_9=255.255.255.0" "$t: a good value next to bad ones passes"
    has "$e" "foreign_option_1=dhcp-option DNS 10.8.0.1" "$t: a plain peer string passes"
    has "$e" "time_ascii=Thu Dec  3 10:58:57 2026" "$t: a date passes"
    has "$e" "tun_mtu=1500" "$t: numbers pass"
done
# the device name as first standard argument is passed empty, the others as they are
has "$WORK/runs" "type=down signal=sigterm uid=$(id -u) helper=" "DOWN ran"
has "$WORK/runs" "argc=6 args= 1500 0 10.8.0.1 255.255.0.0 init" "a bad dev argument passed empty"
hasnt "$WORK/runs" "tun0;id" "the hostile device name in no argument"
has "$WORK/out1" 'DOWN: not passing dev to the command: not an interface name (1-15 of A-Z a-z 0-9 . _ -, not starting with -) ("tun0;id>x")' \
    "dev refused by name, with an excerpt"
has "$WORK/out1" 'DOWN: not passing route_network_9 to the command: not an IPv4 address or netmask ("192.0.2.0;reboot...")' \
    "an address refused with a cut excerpt"
has "$WORK/out1" "DOWN: not passing common_name to the command: not printable ASCII without shell metacharacters" \
    "a peer string refused by name"
hasnt "$WORK/out1" 'alice$(reboot)' "a peer string is never quoted in the log"
has "$WORK/out1" "DOWN: argument 1 (\"tun0;id>x\") is not valid there; passing it empty" \
    "the bad argument named"
has "$WORK/out1" "UP: $REC succeeded" "UP ran"
has "$WORK/out1" "DOWN: $REC succeeded" "DOWN ran despite the refusals"
ok "values of the wrong shape stay out of the root command; it runs"

begin
# 2. Real interface names pass, in the environment and as the first argument.
for dev in tap-vpn wg.1 tun0; do
    rm -f "$WORK/runs" "$WORK"/env.*
    core "$WORK/out2" "wait 10ms" script_args=yes "$REC" -- --verb 1 --dev "$dev"
    [ $rc -eq 0 ] || fail "--dev $dev: the core exited $rc"
    has "$WORK/env.down" "dev=$dev" "dev=$dev passes"
    has "$WORK/runs" "args=$dev 1500" "$dev as the first argument"
    hasnt "$WORK/out2" "not passing" "nothing refused with --dev $dev"
done
ok "tun0, tap-vpn and wg.1 pass"

finish
