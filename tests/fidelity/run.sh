#!/bin/bash
# run.sh: plays one differential scenario under ovp-refcore and under the real OpenVPN 2.6
# (server + client in network namespaces, tests/e2e/lib.sh), each host recording with
# record-plugin.so, then compares the two records (compare.py, accepted.txt).
#
#   run.sh SCENARIO.fid        (make check runs each scenarios/*.fid through this)
#
# A scenario is a bash fragment that sets:
#   PLUGINS=("words of plugin 1" "words of plugin 2"...)   record-plugin.so words; the
#            runner adds out=FILE and name=pN. Words are passed through OpenVPN's config
#            parser (a `plugin` line) and to refcore as separate arguments (which it holds
#            to a config line's 256-character and 16-word limits).
#   LONE_ARG='WORDS'   one more plugin whose one argument is 'out=FILE WORDS' (double-quoted
#            and escaped in the config; OpenVPN splits a lone argument again, and so must
#            refcore)
#   OVPN_SERVER="extra server.conf lines"     REF_OPTS=(extra ovp-refcore options)
#   OVPN_CLIENT="extra client.conf lines"     RECORD_INIT=POST_UID_CHANGE... (optional)
#   CLIENT_IV=("IV_SSO=crtext"...)  peer info every client sends (OpenVPN: `setenv`, which
#            a 2.6 client pushes for IV_SSO and IV_GUI_VER; refcore: iv=)
#   STEPS=("connect NAME CN USER PASS ok|fail|any" "bye NAME" "restart NAME" "reneg NAME"
#          "hup" "settle SECONDS"...)   restart: the real client's SIGUSR1 (a new session
#          that keeps its auth-token), refcore's roam; reneg: the real client renegotiates
#          on its own (give it OVPN_CLIENT="reneg-sec N"), refcore's client is told to
#            ('' for an empty USER or PASS; `any`: the client's outcome is not checked,
#            only the records, after ANY_WAIT seconds, default 8)
# and may set ACCEPT="RULE; RULE" (compare.py rules) for differences this scenario shows on
# purpose. Every run ends with the server stopped (SIGTERM), so DOWN and CLOSE are recorded.
#
# Environment: E2E_TAG_PREFIX (default fid) prefixes the namespaces' tags; FID_KEEP=1 keeps
# the records (in FID_OUT, default a temp dir) for reading.
set -u
scenario=$1
sname=$(basename "$scenario" .fid)
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(cd "$here/../.." && pwd)}"
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
export top_builddir top_srcdir
tag_short=$(printf '%s' "$sname" | tr -c 'a-z0-9\n' '-')  # whole: unique per scenario
E2E_TAG="${E2E_TAG_PREFIX:-fid}-$tag_short"
REFCORE=${REFCORE:-$top_builddir/tests/core/ovp-refcore}
REC_SO_BUILT=$top_builddir/tests/plugin/.libs/record-plugin.so

PLUGINS=()
LONE_ARG=""
REF_OPTS=()
OVPN_SERVER=""
OVPN_CLIENT=""
CLIENT_IV=()
RECORD_INIT=""
STEPS=()
ACCEPT=""
# shellcheck disable=SC1090
. "$scenario"

# shellcheck disable=SC1091
. "$top_srcdir/tests/e2e/lib.sh"
command -v python3 >/dev/null || e2e_skip_or_fail "python3 is not installed"
[ -x "$REFCORE" ] || e2e_fail "no ovp-refcore at $REFCORE"
# Why no secret scan here: the recording plugin writes every call's env, passwords
# included, by design (the two hosts' records are compared), and the scenarios' test
# passwords ("secret") are words of OpenVPN's own option dump. No plugin of ours runs.
secret_skip '*' "the differential suite records every call's env, passwords included"
e2e_init
for iv in "${CLIENT_IV[@]}"; do
    OVPN_CLIENT="$OVPN_CLIENT
setenv ${iv%%=*} ${iv#*=}"
done
OUT=${FID_OUT:-$E2E_DIR/out}
mkdir -p "$OUT"
chmod 1777 "$OUT"
REC_SO=$(e2e_so "$REC_SO_BUILT")
e2e_sanitized "$REC_SO"
names=()
for s in "${STEPS[@]}"; do
    set -- $s
    [ "$1" = connect ] && names+=("$3")
done
# shellcheck disable=SC2046
e2e_pki $(printf '%s\n' "${names[@]}" | sort -u)

# The record files: created here, writable by the run-as user (a reopen as nobody).
mkrec() { install -m 666 /dev/null "$1"; }

# ------------------------------------------------------------- OpenVPN
ovpn_plugin_lines() {
    local i=0 p
    for p in "${PLUGINS[@]}"; do
        printf 'plugin %s out=%s name=p%d %s\n' "$REC_SO" "$OUT/ovpn.rec" "$i" "$p"
        i=$((i + 1))
    done
    if [ -n "$LONE_ARG" ]; then
        # double-quoted, so that the lone argument OpenVPN sees is LONE_ARG exactly
        local esc=${LONE_ARG//\\/\\\\}
        esc=${esc//\"/\\\"}
        printf 'plugin %s "out=%s %s"\n' "$REC_SO" "$OUT/ovpn.rec" "$esc"
    fi
}

# settle FILE: waits until FILE has not grown for 0.6 s (at most 15 s).
settle() {
    local f=$1 last=-1 now same=0 t=150
    while [ $t -gt 0 ]; do
        now=$(stat -c %s "$f" 2>/dev/null || echo 0)
        if [ "$now" = "$last" ]; then
            same=$((same + 1))
            [ $same -ge 6 ] && return 0
        else
            same=0
        fi
        last=$now
        sleep 0.1
        t=$((t - 1))
    done
}

play_ovpn() {
    mkrec "$OUT/ovpn.rec"
    e2e_server_conf "$(ovpn_plugin_lines)
$OVPN_SERVER"
    if [ -n "$RECORD_INIT" ]; then
        E2E_SERVER_WRAP="${E2E_SERVER_WRAP:-env} OVP_RECORD_INIT=$RECORD_INIT"
    fi
    e2e_start_server
    settle "$OUT/ovpn.rec"
    local s
    for s in "${STEPS[@]}"; do
        set -- $s
        case $1 in
        connect) # connect NAME CN USER PASS ok|fail
            local pass=$5
            [ "$pass" = "''" ] && pass=""
            local user=$4
            [ "$user" = "''" ] && user=""
            if [ -n "$user" ] && [ -n "$pass" ]; then
                e2e_client "$2" "$3" "$user" "$pass" "explicit-exit-notify 1
$OVPN_CLIENT"
            else
                # an auth-user-pass file cannot hold an empty username or password:
                # the client asks its management interface, and mgmt_answer.py answers
                e2e_client "$2" "$3" "" "" "explicit-exit-notify 1
auth-user-pass
management $E2E_DIR/$2.mgmt unix
management-query-passwords
$OVPN_CLIENT"
                python3 "$here/mgmt_answer.py" "$E2E_DIR/$2.mgmt" "$user" "$pass" \
                    > "$E2E_DIR/$2.mgmt.log" 2>&1 &
                E2E_PIDS="$E2E_PIDS $!"
            fi
            if [ "$6" = any ]; then
                e2e_wait_connect "$2" "${ANY_WAIT:-8}" || true
            elif e2e_wait_connect "$2" 25; then
                [ "$6" = ok ] || e2e_soft_fail "openvpn: $2 connected, expected $6"
            else
                [ "$6" = fail ] || e2e_soft_fail "openvpn: $2 did not connect: $E2E_WHY"
                e2e_stop "$2"
            fi
            ;;
        bye) # the server closes the instance up to 5 s after the exit notification:
            # wait for its CLIENT_DISCONNECT (when recorded), so that what follows sees
            # the address released, as refcore's does at once
            local d
            d=$(grep -c '"event":"CLIENT_DISCONNECT"' "$OUT/ovpn.rec")
            e2e_stop "$2"
            if grep -q '"event":"CLIENT_CONNECT' "$OUT/ovpn.rec"; then
                local t=100
                while [ "$(grep -c '"event":"CLIENT_DISCONNECT"' "$OUT/ovpn.rec")" -le "$d" ] \
                    && [ $t -gt 0 ]; do
                    sleep 0.1
                    t=$((t - 1))
                done
            fi
            ;;
        restart) # SIGUSR1: the client reconnects as a new session, keeping its auth-token
            local n
            n=$(grep -c "Initialization Sequence Completed" "$E2E_DIR/$2.log")
            kill -USR1 "$(cat "$E2E_DIR/$2.pid")"
            local t=150
            while [ "$(grep -c "Initialization Sequence Completed" "$E2E_DIR/$2.log")" -le "$n" ]; do
                t=$((t - 1))
                [ $t -gt 0 ] || { e2e_soft_fail "openvpn: $2 did not reconnect"; break; }
                sleep 0.1
            done
            ;;
        reneg) # the client renegotiates on its own (OVPN_CLIENT="reneg-sec N"): wait for it
            local n
            n=$(grep -c "Control Channel: TLS" "$E2E_DIR/$2.log")
            local t=200
            while [ "$(grep -c "Control Channel: TLS" "$E2E_DIR/$2.log")" -le "$n" ]; do
                t=$((t - 1))
                [ $t -gt 0 ] || { e2e_soft_fail "openvpn: $2 did not renegotiate"; break; }
                sleep 0.1
            done
            ;;
        hup) e2e_sighup 20 ;;
        settle) sleep "$2" ;;
        *) e2e_fail "unknown step: $s" ;;
        esac
        settle "$OUT/ovpn.rec"
    done
    e2e_stop server
    settle "$OUT/ovpn.rec"
}

# ------------------------------------------------------------- refcore
play_ref() {
    mkrec "$OUT/ref.rec"
    local story="$OUT/ref.story" i=0 p port=40000
    : > "$story"
    local args=()
    for p in "${PLUGINS[@]}"; do
        # the words of the config line as separate arguments (refcore holds them to a
        # config line's limits)
        local words=()
        read -r -a words <<< "$p"
        args+=(--plugin "$REC_SO" "out=$OUT/ref.rec" "name=p$i" "${words[@]}")
        i=$((i + 1))
    done
    if [ -n "$LONE_ARG" ]; then
        args+=(--plugin "$REC_SO" "out=$OUT/ref.rec $LONE_ARG")
    fi
    local s
    for s in "${STEPS[@]}"; do
        set -- $s
        case $1 in
        connect)
            local pass=$5 user=$4
            [ "$pass" = "''" ] && pass=""
            [ "$user" = "''" ] && user=""
            port=$((port + 1))
            printf 'client %s cn=%s user="%s" pass="%s" addr=%s:%d' "$2" "$3" "$user" "$pass" \
                "$E2E_CLI_IP" "$port" >> "$story"
            for iv in "${CLIENT_IV[@]}"; do printf ' "iv=%s"' "$iv" >> "$story"; done
            printf '\n' >> "$story"
            if [ "$6" = any ]; then
                printf 'wait %ss\n' "${ANY_WAIT:-8}" >> "$story"
            else
                printf 'expect %s %s\nwait 600ms\n' "$2" "$6" >> "$story"
            fi
            ;;
        bye) printf 'bye %s\nwait 600ms\n' "$2" >> "$story" ;;
        restart)
            port=$((port + 1))
            printf 'roam %s addr=%s:%d\nexpect %s ok\nwait 600ms\n' "$2" "$E2E_CLI_IP" "$port" "$2" >> "$story"
            ;;
        reneg) printf 'reneg %s\nexpect %s reneg-ok\nwait 600ms\n' "$2" "$2" >> "$story" ;;
        hup) printf 'reload\nwait 600ms\n' >> "$story" ;;
        settle) printf 'wait %ss\n' "$2" >> "$story" ;;
        esac
    done
    local env=()
    [ -n "$RECORD_INIT" ] && env+=("OVP_RECORD_INIT=$RECORD_INIT")
    env "${env[@]}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$REFCORE" "${args[@]}" -- --verb 3 \
        --server 198.51.100.0 255.255.255.0 --server-ipv6 2001:db8:100::/64 \
        --hand-window 20 --local "$E2E_SRV_IP" "${REF_OPTS[@]}" --scenario "$story" > "$OUT/ref.log" 2>&1 \
        || e2e_soft_fail "refcore: the story failed: $(tail -n 5 "$OUT/ref.log" | tr '\n' '|')"
}

e2e_log "refcore"
play_ref
e2e_log "openvpn"
play_ovpn
e2e_log "compare"
python3 "$here/compare.py" --accepted "$here/accepted.txt" --also "$ACCEPT" \
    "$OUT/ref.rec" "$OUT/ovpn.rec" > "$OUT/compare.txt" 2>&1
rc=$?
cat "$OUT/compare.txt"
[ $rc -eq 0 ] || e2e_soft_fail "the hosts differ (above)"

# What the clients were told when refused: the AUTH_FAILED texts, in order (OpenVPN's
# client logs what it received; refcore logs what it sent, at verb 3).
sed -n "s/.*SENT CONTROL \[[^]]*\]: '\(AUTH_FAILED.*\)'\$/\1/p" "$OUT/ref.log" > "$OUT/ref.failed"
cat "$E2E_DIR"/*.log 2>/dev/null | sed -n 's/.*AUTH: Received control message: \(AUTH_FAILED.*\)$/\1/p' \
    > "$OUT/ovpn.failed"
# The pending-auth messages the servers sent (AUTH_PENDING, INFO_PRE), in order; OpenVPN
# logs each once per TLS session it goes to, so repeats in a row count once. A timeout of
# 100 s or more compares as LONG: OpenVPN subtracts the time waited with its `now`, which
# follows the wall clock (with backtrack protection), and on a machine whose clock is
# stepped that was off by minutes (refcore uses the monotonic clock).
pending_msgs() {
    sed -n "s/.*SENT CONTROL \[[^]]*\]: '\(\(AUTH_PENDING\|INFO_PRE\)[^']*\)'.*/\1/p" "$1" |
        sed 's/^\(AUTH_PENDING,timeout \)[0-9]\{3,\}$/\1LONG/' | uniq
}
pending_msgs "$OUT/ref.log" > "$OUT/ref.pending"
pending_msgs "$E2E_DIR/server.log" > "$OUT/ovpn.pending"
if ! cmp -s "$OUT/ref.pending" "$OUT/ovpn.pending"; then
    e2e_soft_fail "the servers sent different pending-auth messages (refcore: $(awk \
        '{ printf "%.40s.. %d bytes; ", $0, length($0) }' "$OUT/ref.pending"), OpenVPN: $(awk \
        '{ printf "%.40s.. %d bytes; ", $0, length($0) }' "$OUT/ovpn.pending"))"
elif [ -s "$OUT/ref.pending" ]; then
    echo "ok: $(grep -c . "$OUT/ref.pending") pending-auth message(s) agree"
fi
if ! cmp -s "$OUT/ref.failed" "$OUT/ovpn.failed"; then
    e2e_soft_fail "the clients were told different AUTH_FAILED texts (refcore: $(awk \
        '{ printf "%d bytes; ", length($0) }' "$OUT/ref.failed"), OpenVPN: $(awk \
        '{ printf "%d bytes; ", length($0) }' "$OUT/ovpn.failed")); diff $OUT/ref.failed $OUT/ovpn.failed"
    diff "$OUT/ref.failed" "$OUT/ovpn.failed" | cut -c1-160 | head -n 10
else
    [ -s "$OUT/ref.failed" ] && echo "ok: $(grep -c . "$OUT/ref.failed") AUTH_FAILED text(s) agree"
fi
if [ "${FID_KEEP:-}" = 1 ]; then
    E2E_KEEP=1
    e2e_log "records kept in $OUT"
fi
e2e_finish
e2e_log "ok: $sname: refcore and openvpn agree"
