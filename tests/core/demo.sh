#!/bin/sh
# demo.sh: `make demo`: the reference core hosting plugins exactly as OpenVPN 2.6 would.
set -u
: "${REFCORE:?}" "${TEST_PLUGIN:?}"
: "${OPENVPN_PLUGINDIR:=/usr/lib/x86_64-linux-gnu/openvpn/plugins}"
# OpenVPN's auth-pam under pam_wrapper: a /tmp of our own (see tests/private_tmp.sh).
. "$(dirname "$0")/../private_tmp.sh"
ovp_private_tmp "$0" "$@"
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-demo.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

say() { printf '\n=== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

say "1. A plugin that decides on a worker thread (ovp-test-plugin, mode=defer)"
echo "The core calls AUTH_USER_PASS_VERIFY; the plugin returns DEFERRED at once and a worker"
echo "writes the auth control file; the core polls it, as OpenVPN does."
args="user=alice password=secret mode=defer delay_ms=20 reason=wrong_password"
args="$args events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2,LEARN_ADDRESS,CLIENT_DISCONNECT"
show "printf 'alice\\nsecret\\n' | ovp-refcore --plugin ovp-test-plugin.so $args -- --try --poll fast"
# shellcheck disable=SC2086
printf 'alice\nsecret\n' | "$REFCORE" --plugin "$TEST_PLUGIN" $args -- --try --poll fast
say "   ... and a wrong password"
# shellcheck disable=SC2086
printf 'alice\nguess\n' | "$REFCORE" --plugin "$TEST_PLUGIN" $args -- --try --poll fast |
    sed -n '1,3p'

say "2. OpenVPN's own auth-pam plugin, PAM answered by pam_wrapper + pam_matrix"
wrapper=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n1)
matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n1)
if [ -z "$wrapper" ] || [ -z "$matrix" ] || [ ! -f "$OPENVPN_PLUGINDIR/openvpn-plugin-auth-pam.so" ]; then
    echo "(skipped: needs Debian's libpam-wrapper and openvpn packages)"
else
    mkdir -p "$T/pam.d"
    printf 'alice:secret:ovpdemo\n' > "$T/passdb"
    printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' \
        "$matrix" "$T/passdb" "$matrix" "$T/passdb" > "$T/pam.d/ovpdemo"
    asan=$(ldd "$REFCORE" | awk '/libasan/ {print $3}')
    echo "PAM service 'ovpdemo' accepts alice/secret (no system account is touched)."
    for pass in secret wrong; do
        show "printf 'alice\\n$pass\\n' | ovp-refcore --plugin openvpn-plugin-auth-pam.so ovpdemo -- --try"
        printf 'alice\n%s\n' "$pass" |
            LD_PRELOAD="${asan:+$asan }$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d" \
            "$REFCORE" --plugin openvpn-plugin-auth-pam.so ovpdemo -- --try 2>&1 |
            grep -v 'PWRAP_ERROR'
    done
fi

say "3. A thousand clients at once: the stall is the time spent inside plugin calls"
show "ovp-refcore --plugin ovp-test-plugin.so mode=defer ... -- --clients 1000 --username alice --password secret --poll fast"
"$REFCORE" --plugin "$TEST_PLUGIN" mode=defer workers=4 -- --clients 1000 \
    --username alice --password secret --poll fast --verb 0
show "ovp-refcore --plugin ovp-test-plugin.so mode=sync delay_ms=2 ... -- --clients 200 ..."
echo "(a plugin that answers in the call blocks every other client while it works)"
"$REFCORE" --plugin "$TEST_PLUGIN" mode=sync delay_ms=2 -- --clients 200 \
    --username alice --password secret --poll fast --verb 0

# ---------------------------------------------------------------- ovp's own plugins
B=${OVP_BUILDDIR:-}
PAM_SO="$B/auth-pam/.libs/ovp-auth-pam.so"
LAD_SO="$B/learn-address-db/.libs/ovp-learn-address-db.so"
DR_SO="$B/down-root/.libs/ovp-down-root.so"
if [ -n "$B" ] && [ -f "$PAM_SO" ] && [ -f "$LAD_SO" ] && [ -f "$DR_SO" ] \
    && [ -n "$wrapper" ] && [ -n "$matrix" ]; then
    say "4. ovp-auth-pam: the same PAM service, never blocking the core"
    mkdir -p "$T/pam.d"
    printf 'alice:secret:ovpdemo\n' > "$T/passdb"
    printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' \
        "$matrix" "$T/passdb" "$matrix" "$T/passdb" > "$T/pam.d/ovpdemo"
    asan=$(ldd "$REFCORE" | awk '/libasan/ {print $3}')
    pamenv() {
        LD_PRELOAD="${asan:+$asan }$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d" \
            PAM_WRAPPER_DISABLE_DEEPBIND=1 "$@" 2>&1 | grep -v 'PWRAP_ERROR\|no default config'
    }
    for pass in secret wrong; do
        show "printf 'alice\\n$pass\\n' | ovp-refcore --plugin ovp-auth-pam.so ovpdemo -- --try"
        printf 'alice\n%s\n' "$pass" | pamenv "$REFCORE" --plugin "$PAM_SO" ovpdemo -- --try |
            sed -n '1,3p'
    done

    say "5. All of ovp at once: auth-pam + learn-address-db + down-root, 50 clients"
    cat > "$T/down.sh" <<SH
#!/bin/sh
echo "down command ran as uid \$(id -u): signal=\$signal script_type=\$script_type dev=\$dev"
SH
    chmod 755 "$T/down.sh"
    show "ovp-refcore --plugin ovp-auth-pam.so ovpdemo --plugin ovp-learn-address-db.so database=addr.sqlite --plugin ovp-down-root.so down.sh -- --clients 50 ..."
    pamenv "$REFCORE" --plugin "$PAM_SO" ovpdemo \
        --plugin "$LAD_SO" database="$T/addr.sqlite" instance=demo \
        --plugin "$DR_SO" "$T/down.sh" \
        -- --clients 50 --username alice --password secret --common-name alice --poll fast \
        --bytes 1000 2000 --verb 1 > "$T/all.out"
    grep -E '^\{|recording to|down command' "$T/all.out"
    echo "($(grep -c 'authentication succeeded' "$T/all.out") lines 'authentication succeeded' from ovp-auth-pam)"
    say "   ... and what ovp-addrdb says about it afterwards"
    show "ovp-addrdb --db addr.sqlite history --cn alice   (first 5 of 50 sessions)"
    "$B/learn-address-db/ovp-addrdb" --db "$T/addr.sqlite" history --cn alice | head -n 6
fi
