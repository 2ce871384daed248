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
{ echo "== run \$script_type argc=\$#"; env; } >> "$WORK/envs"
EOF
chmod 755 "$WORK/keep.sh"

begin
"$DRIVER" "$PLUGIN" "$WORK/keep.sh" > "$WORK/out" 2>&1
rc=$?
grep -E '^(ok|FAIL):' "$WORK/out"
[ $rc -eq 0 ] || { fail "dr_frames exited $rc"; sed 's/^/    | /' "$WORK/out" | cut -c1-200 | tail -n 30; }

# What the commands saw, across every run the forged requests caused.
[ -f "$WORK/envs" ] || fail "no command ran"
for name in LD_PRELOAD LD_AUDIT IFS BASH_ENV BASH_FUNC route_nl route_nul route_big; do
    grep -q "^$name" "$WORK/envs" && fail "$name reached a command run as root"
done
hasnt "$WORK/envs" "evil" "no hostile value reached a command"
[ "$(grep '^PATH=' "$WORK/envs" | sort -u)" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ] ||
    fail "a command ran with another PATH: $(grep '^PATH=' "$WORK/envs" | sort -u)"
has "$WORK/envs" "dev=tun-forged" "allowed variables of a forged request pass"
many=$(grep -c '^route_many_' "$WORK/envs")
[ "$many" -ge 4000 ] && [ "$many" -lt 4096 ] ||
    fail "$many of 5096 variables reached the command (the helper caps at 4096 with PATH)"
[ "$(grep -c '^== run' "$WORK/envs")" -eq 3 ] ||
    fail "3 runs expected (hostile env, many variables, the plugin's DOWN): $(grep '^== run' "$WORK/envs")"
has "$WORK/envs" "== run down argc=6" "the plugin's own DOWN, with its standard arguments"
ok "forged requests: filtered or refused by the helper itself"

finish
