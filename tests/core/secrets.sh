#!/bin/sh
# secrets.sh: the rules on secrets, through the core and the test plugin's `token` (a
# secret held to a real plugin's rules): never on the plugin line, a config file
# holding one must be private, secret files may be group-readable (0640 root:nogroup),
# and a reopen after the privilege drop (SIGHUP, as `user nobody` / `group nogroup`)
# keeps a file it can no longer read, saying that changes need a restart.
set -u
: "${REFCORE:?}" "${TEST_PLUGIN:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-secrets.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
failures=0
P=$TEST_PLUGIN

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run NAME EXPECTED-EXIT PLUGIN-ARGS... -- CORE-OPTIONS... <<STORY
run() {
    name=$1 want=$2
    shift 2
    cat > "$T/story"
    # umask: after the drop the core (now nobody) must still connect to its own socket
    (umask ${UMASK:-022} && exec "$REFCORE" "$@" --poll fast --scenario "$T/story") \
        >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne "$want" ] || grep -q Sanitizer "$T/err"; then
        fail "$name (exit $rc, expected $want)"
        tail -n 12 "$T/err"
        return 1
    fi
    echo "ok: $name"
}
# has TEXT / lacks TEXT: in what the core printed
has() { grep -qF -- "$1" "$T/err" || fail "$name: no '$1' in the log"; }
lacks() { ! grep -qF -- "$1" "$T/err" || fail "$name: '$1' shown in the log"; }

good='client a user=alice pass=secretTok-7
expect a ok'

run "a secret on the plugin line is refused and never shown" 1 \
    --plugin "$P" token=Tok-Inline-7 -- <<EOF2
$good
EOF2
has "token is a secret and may not be written on the plugin line"
has "give tokenFile=PATH instead"
lacks "Tok-Inline-7"

printf 'token Tok-7\n' > "$T/pub.conf"
chmod 0644 "$T/pub.conf"
run "a config file holding a secret that others can read is refused" 1 \
    --plugin "$P" "$T/pub.conf" -- <<EOF2
$good
EOF2
has "token is a secret written in $T/pub.conf, but that file is not private"
has "chmod o-r"
lacks "Tok-7"

chmod 0640 "$T/pub.conf"
run "the same file without read for others is accepted" 0 --plugin "$P" "$T/pub.conf" -- <<EOF2
$good
EOF2

printf 'Tok-7\n' > "$T/tok"
chmod 0640 "$T/tok"
run "a secret file readable by the group is accepted" 0 --plugin "$P" "tokenFile=$T/tok" -- <<EOF2
$good
EOF2
chmod 0644 "$T/tok"
run "a secret file readable by others is refused" 1 --plugin "$P" "tokenFile=$T/tok" -- <<EOF2
$good
EOF2
has "$T/tok: others may read it (mode 0644"

if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
    echo "SKIP: the reload after a privilege drop needs root and a user nobody"
else
    # As OpenVPN with user/group: files only root reads, a tmp dir the runtime user owns.
    mkdir "$T/tmp"
    chown nobody "$T/tmp"
    chmod 0711 "$T"
    chmod 0600 "$T/tok"
    UMASK=000
    reload='client a user=alice pass=secretTok-7
expect a ok
reload
expect a closed
expect log "kept the version this process read earlier"
client b user=alice pass=secretTok-7 cn=bob
expect b ok'
    run "reload without root keeps the secret file read before" 0 \
        --plugin "$P" "tokenFile=$T/tok" drop_to=nobody -- --tmp-dir "$T/tmp" <<EOF2
$reload
EOF2
    has "dropped to user nobody"
    has "secret file $T/tok cannot be read any more (Permission denied)"
    has "changes to this file take effect only when OpenVPN is restarted"
    lacks "Tok-7"

    printf 'token Tok-7\ndrop_to nobody\n' > "$T/priv.conf"
    chmod 0600 "$T/priv.conf"
    run "reload without root keeps the config file read before" 0 \
        --plugin "$P" "$T/priv.conf" -- --tmp-dir "$T/tmp" <<EOF2
$reload
EOF2
    has "config file $T/priv.conf cannot be read any more (Permission denied)"
    lacks "Tok-7"

    # Readable by the runtime group: read again at the reload, no warning.
    chgrp nogroup "$T/priv.conf" 2>/dev/null || chgrp 65534 "$T/priv.conf"
    chmod 0640 "$T/priv.conf"
    run "reload without root reads a group-readable config file again" 0 \
        --plugin "$P" "$T/priv.conf" -- --tmp-dir "$T/tmp" <<'EOF2'
client a user=alice pass=secretTok-7
expect a ok
reload
expect a closed
client b user=alice pass=secretTok-7 cn=bob
expect b ok
expect no-log "cannot be read any more"
EOF2
fi

[ $failures -eq 0 ] || exit 1
