#!/bin/sh
# frames.sh: the root helper's own trust boundary. dr_frames opens the plugin as OpenVPN
# does and writes forged requests straight to the helper (what code in a compromised
# OpenVPN process could do, skipping the unprivileged side's filter): hostile variables
# are filtered again by the helper, malformed requests are refused, nothing crashes, and
# the plugin's own DOWN still works. Why a driver and not the core: the core only reaches
# the helper through the plugin's unprivileged side, which filters first.
. "${srcdir:-.}/down_root/lib.sh"

DRIVER="$abs_builddir/down_root/dr_frames"
[ -x "$DRIVER" ] || { echo "FAIL: $DRIVER not built"; exit 1; }

# A recorder that keeps every run's environment, one block per run.
cat > "$WORK/keep.sh" <<EOF
#!/bin/sh
{ echo "== run \$script_type argc=\$# args=\$*"; env; } >> "$WORK/envs"
EOF
chmod 755 "$WORK/keep.sh"

begin
"$DRIVER" "$PLUGIN" "$WORK/keep.sh" > "$WORK/out" 2>&1
rc=$?
grep -E '^(ok|FAIL):' "$WORK/out"
[ $rc -eq 0 ] || { fail "dr_frames exited $rc"; sed 's/^/    | /' "$WORK/out" | cut -c1-200 | tail -n 30; }

# What the commands saw, across every run the forged requests caused.
[ -f "$WORK/envs" ] || fail "no command ran"
for name in LD_PRELOAD LD_AUDIT IFS BASH_ENV BASH_FUNC route_nl route_nul route_big \
    common_name foreign_option_1; do
    grep -q "^$name" "$WORK/envs" && fail "$name reached a command run as root"
done
# (dev, ifconfig_local, route_network_1, tun_mtu, script_context, script_type and
# MY_SETENV of the forged request all carry "evil" in their values)
hasnt "$WORK/envs" "evil" "no hostile value reached a command"
[ "$(grep '^PATH=' "$WORK/envs" | sort -u)" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ] ||
    fail "a command ran with another PATH: $(grep '^PATH=' "$WORK/envs" | sort -u)"
has "$WORK/envs" "dev=tun-forged" "allowed variables of a forged request pass"
many=$(grep -c '^route_many_' "$WORK/envs")
[ "$many" -ge 4000 ] && [ "$many" -lt 4096 ] ||
    fail "$many of 5096 variables reached the command (the helper caps at 4096 with PATH)"
[ "$(grep -c '^== run' "$WORK/envs")" -eq 4 ] ||
    fail "4 runs expected (hostile env, bad arguments, many variables, the plugin's DOWN): $(grep '^== run' "$WORK/envs")"
# the helper's own script_type and the setenv value of the open, never the request's
[ "$(grep -c '^script_type=down$' "$WORK/envs")" -eq 4 ] || fail "script_type=down not in every run"
[ "$(grep -c '^MY_SETENV=fixed-at-open$' "$WORK/envs")" -eq 4 ] ||
    fail "the setenv value of the open not in every run"
has "$WORK/envs" "== run down argc=6 args= 1500  10.8.0.1 255.255.0.0 " \
    "bad standard arguments passed empty by the helper"
has "$WORK/envs" "dev=tun-args" "the good variable of that request"
has "$WORK/envs" "== run down argc=6" "the plugin's own DOWN, with its standard arguments"
ok "forged requests: filtered or refused by the helper itself"

finish
