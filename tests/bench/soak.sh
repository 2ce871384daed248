#!/usr/bin/env bash
# soak.sh: many auth cycles through each auth plugin, hosted by one long-running
# ovp-refcore (serve mode) with a reload (SIGHUP: every plugin closed and opened again in
# the same process) half-way; every cycle counted, RSS sampled after every batch.
#
#   tests/bench/soak.sh [--build DIR] [--cycles N] [--batch B] [--only pam,ldap,http]
#                       [--json FILE] [--max-seconds S]
#
# --build: a built tree (default _build/check: `configure --enable-sanitizers`, as
# `scripts/ovp-dev soak` makes it). Under a sanitized build ASan/UBSan run with
# detect_leaks=1 in every process (the core, each driver, auth-pam's root helper) and
# write their reports to one directory; any report, any leak, any cycle answered other
# than expected fails the run. Under a plain build (_build/bench) the same run measures
# the core's RSS over the cycles (`scripts/ovp-dev soak --rss`).
# --cycles: auth cycles per plugin (default 100000); --batch: clients per batch (1000):
# one batch is B-B/10 clients with the right password (each must be connected) and then
# B/10 with a wrong one (each must be refused), from ovp-refcore's driver (--drive).
# --json: where the figures go (default: printed only). --max-seconds: fewer cycles a
# plugin if N would take longer than S at the rate of the first ten batches (said so).
#
# The backends (real ones, each started here and stopped at exit):
#   pam   ovp-auth-pam under pam_wrapper + pam_matrix, as tests/integration/auth_pam/lib.sh
#         sets it up (the root helper runs PAM; a /tmp of our own, tests/private_tmp.sh)
#   ldap  ovp-auth-ldap against slapd (tests/fixtures/slapd.sh)
#   http  ovp-auth-http against tests/fixtures/http_service.py (its request log off; the
#         requests it saw are counted through its control port)
# Exit 0 when every plugin run met everything; 1 otherwise; 77 when a backend is missing
# for every plugin asked for.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/_build/check
cycles=100000
batch=1000
only=pam,ldap,http
json=""
max_seconds=0
args=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --cycles) cycles=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        --max-seconds) max_seconds=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "soak.sh: no build tree $build" >&2; exit 2; }
case $json in ""|/*) ;; *) json=$(pwd)/$json ;; esac
REFCORE=$build/tests/core/ovp-refcore
[ -x "$REFCORE" ] || { echo "soak.sh: $REFCORE not built" >&2; exit 2; }
[ "$batch" -ge 10 ] && [ "$cycles" -ge "$batch" ] || {
    echo "soak.sh: --batch must be at least 10 and --cycles at least --batch" >&2; exit 2; }

# pam_wrapper's /tmp/pam.X copies race between processes: a /tmp of our own (re-runs
# this script in a mount namespace; without root it runs as it is, with a note).
. "$top/tests/private_tmp.sh"
ovp_private_tmp "$0" "${args[@]}"
# inside, the real /tmp is /tmp/.orig (a --json FILE under /tmp must outlive the namespace)
case $json in /tmp/*) [ -n "${OVP_PRIVATE_TMP:-}" ] && json=/tmp/.orig/${json#/tmp/} ;; esac

say() { printf 'soak: %s\n' "$*" >&2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/ovp-soak.XXXXXX") || exit 1
PIDS=""
SLAPD_DIRS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for d in $SLAPD_DIRS; do slapd_stop "$d" >/dev/null 2>&1; done
    if [ -n "${OVP_KEEP:-}" ]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The sanitizers: the runtime found from the core; reports of every process in $W/san.
ASAN_RT=$(ldd "$REFCORE" | awk '/libasan/ { print $3 }')
SAN=""
if [ -n "$ASAN_RT" ]; then
    SAN=asan+ubsan
    mkdir -p "$W/san"
    # detect_leaks=1: LeakSanitizer at every exit. pam_wrapper's own allocations at load are
    # not ours (tests/core/lsan.supp).
    export ASAN_OPTIONS="detect_leaks=1:log_path=$W/san/asan:${ASAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$top/tests/core/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$W/san/ubsan:${UBSAN_OPTIONS:-}"
fi

vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# The core's children (auth-pam's root helper).
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' | grep .; }

RESULTS=()   # one JSON object per plugin
FAILED=0

# drive N USER PASSWORD ok|fail: one driver; prints how many got the expected answer.
drive() {
    local n=$1 out
    out=$("$REFCORE" --drive "unix:$W/core.sock" --clients "$n" --username "$2" \
        --password "$3" --expect "$4" --timeout 300 2>&1 >/dev/null)
    if [ $? -eq 0 ]; then
        echo "$n"
        return 0
    fi
    printf '%s\n' "$out" | tail -n 3 >&2
    # "load driver: A connected, F failed, G without answer"
    if [ "$4" = ok ]; then
        printf '%s\n' "$out" | sed -n 's/.*load driver: \([0-9]*\) connected.*/\1/p' | tail -n 1
    else
        printf '%s\n' "$out" | sed -n 's/.*connected, \([0-9]*\) failed.*/\1/p' | tail -n 1
    fi
    return 1
}

# soak NAME USER GOOD-PASSWORD BAD-USER BAD-PASSWORD PLUGIN [WORDS...]: one core, the
# cycles, a reload half-way, the figures. The backend runs already.
soak() {
    local name=$1 user=$2 good=$3 buser=$4 bad=$5
    shift 5
    local nbad=$((batch / 10)) ngood=$((batch - batch / 10))
    local batches=$((cycles / batch)) b ok=0 refused=0 unexpected=0 got rss=() t0 t1 pid
    local reloaded=0 hrss=() core_rc missed=0 redriven=0 again m done_b=0
    rm -f "$W/core.sock"
    mkdir -p "$W/core-$name"
    RUN_LINE="{\"plugin\":\"$name\",\"started\":false"
    # --verb 1: the plugins' lines (one per answer, counted below) without the core's per
    # client ones; the core's "peer info" lines (7 a client) are dropped on the way
    rm -f "$W/$name.fifo"
    mkfifo "$W/$name.fifo"
    grep --line-buffered -v '^peer info' < "$W/$name.fifo" > "$W/$name.err" &
    local gpid=$!
    env ${PRELOAD:+LD_PRELOAD=$PRELOAD} ${PAMENV:-} "$REFCORE" --plugin "$@" -- --serve \
        --poll fast --verb 1 --listen "unix:$W/core.sock" --tmp-dir "$W/core-$name" \
        > "$W/$name.out" 2> "$W/$name.fifo" &
    pid=$!
    PIDS="$PIDS $pid"
    for _ in $(seq 100); do
        grep -q '^listening on' "$W/$name.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^listening on' "$W/$name.out"; then
        say "$name: the core did not start"; tail -n 20 "$W/$name.err" >&2
        FAILED=1
        return 1
    fi
    local rss0 hp
    rss0=$(vm "$pid" VmRSS)
    say "$name: $batches batches of $ngood right + $nbad wrong passwords (core pid $pid, RSS $rss0 kB)"
    t0=$(date +%s.%N)
    for ((b = 1; b <= batches; b++)); do
        if got=$(drive "$ngood" "$user" "$good" ok); then
            ok=$((ok + got))
        elif [ -n "${RACY:-}" ]; then
            # pam_wrapper's own race (the test tool's, see tests/private_tmp.sh): those
            # clients are driven again, one by one; that each missing one is explained by
            # a logged race is checked at the end
            ok=$((ok + ${got:-0}))
            for ((m = ${got:-0}; m < ngood; m++)); do
                missed=$((missed + 1))
                if again=$(drive 1 "$user" "$good" ok); then
                    redriven=$((redriven + again))
                else
                    unexpected=$((unexpected + 1))
                fi
            done
        else
            ok=$((ok + ${got:-0}))
            unexpected=$((unexpected + ngood - ${got:-0}))
        fi
        got=$(drive "$nbad" "$buser" "$bad" fail) || unexpected=$((unexpected + nbad - ${got:-0}))
        refused=$((refused + ${got:-0}))
        if [ -n "${RACY:-}" ] && [ -n "${OVP_PRIVATE_TMP:-}" ]; then
            # pam_wrapper (the test tool) copies the services of each process into one
            # of 62 names, /tmp/pam.0 ... pam.z, and a transaction that its race broke
            # leaves its name behind: after about 60 races every name is taken and every
            # PAM transaction fails at once. Between batches (nothing in flight, this /tmp
            # is ours) the names left by transactions that ended are freed.
            find /tmp -maxdepth 1 -type d -name 'pam.?' ! -newermt "@$(($(date +%s) - 2))" \
                -exec rm -rf {} + 2>/dev/null
        fi
        rss+=("$(vm "$pid" VmRSS)")
        hp=$(children "$pid" | head -n 1)
        [ -n "$hp" ] && hrss+=("$(vm "$hp" VmRSS)")
        if [ $b -eq $((batches / 2)) ] || [ $batches -eq 1 ]; then
            # the reload: plugins closed and opened again (OpenVPN's SIGHUP)
            kill -HUP "$pid"
            reloaded=$((reloaded + 1))
            sleep 1
            kill -0 "$pid" 2>/dev/null || { say "$name: the core died at the reload"; break; }
        fi
        if [ "$max_seconds" -gt 0 ] && [ $b -eq 10 ] && [ $batches -gt 20 ]; then
            # as many batches as fit in --max-seconds at the rate of the first ten (the
            # reload stays half-way)
            local fit
            fit=$(awk -v b="$b" -v s="$(date +%s.%N)" -v t0="$t0" -v m="$max_seconds" \
                'BEGIN { printf "%d", b * m / (s - t0) }')
            # (at least enough that the reload still comes after this batch)
            [ "$fit" -lt $((2 * b + 2)) ] && fit=$((2 * b + 2))
            if [ "$fit" -lt "$batches" ]; then
                say "$name: $batches batches would take longer than $max_seconds s; running $fit"
                batches=$fit
            fi
        fi
        done_b=$b
        if [ $((b % 10)) -eq 0 ] || [ $b -eq $batches ]; then
            say "$name: batch $b/$batches: $ok connected, $refused refused, $unexpected unexpected, RSS ${rss[-1]} kB"
        fi
    done
    t1=$(date +%s.%N)
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    core_rc=$?
    wait "$gpid"
    # what the plugin said: one line per answer, one configuration line per open
    local said_ok said_fail opens
    said_ok=$(grep -c '^PLUGIN ovp-auth-[a-z]*: \[.*\] authentication succeeded' "$W/$name.err")
    said_fail=$(grep -c '^PLUGIN ovp-auth-[a-z]*: \[.*\] authentication failed' "$W/$name.err")
    opens=$(grep -c '^Initialization Sequence Completed' "$W/$name.err")
    # pam_wrapper's race: PAM refused at once ("Permission denied": the service files
    # gone) or the transaction's process exited (TEMP), with the right password
    local races=0 race_refusals=0
    if [ -n "${RACY:-}" ]; then
        race_refusals=$(grep -c 'pam_authenticate: Permission denied' "$W/$name.err")
        races=$((race_refusals + $(grep -c -E 'PAM transaction ended without an answer \(exit status 1\)|pam_start\(.*\) failed' "$W/$name.err")))
        if [ "$missed" -gt "$races" ]; then
            say "$name: $missed clients with the right password were not connected, only $races pam_wrapper races logged"
            unexpected=$((unexpected + missed - races))
        fi
    fi
    # (a wrong password that met the race's TEMP is refused without a "failed" line)
    if [ "$said_ok" -ne $((ok + redriven)) ] || [ $((said_fail + races - race_refusals)) -lt "$refused" ] \
        || [ "$said_fail" -gt $((refused + race_refusals)) ] || [ "$opens" -ne $((reloaded + 1)) ]; then
        say "$name: the plugin logged $said_ok successes and $said_fail refusals, the core $opens starts"
        FAILED=1
    fi
    grep -v -E '^PLUGIN ovp-auth-[a-z]*: \[.*\] (authentication (succeeded|failed)|(allow|deny) by .*: HTTP [0-9]* in [0-9]* ms: .*|PAM: user "soak": pam_authenticate: (Authentication failure|Permission denied)|PAM: the PAM transaction ended without an answer \(exit status 1\)|PAM: pam_start\(.*\) failed: .*|temporary failure: PAM is unavailable, try again \([0-9]* ms\)|bind as .* refused: Invalid credentials)' "$W/$name.err" \
        | grep -v -E '^(Initialization Sequence Completed|sighup received|sigterm received)' > "$W/$name.other"
    say "$name: other lines of the core and the plugin ($(wc -l < "$W/$name.other")):"
    head -n 20 "$W/$name.other" >&2
    PIDS=${PIDS/ $pid/}
    # a served core that ends at SIGTERM exits 0; LeakSanitizer's finding makes it 23
    [ "$core_rc" -eq 0 ] || say "$name: the core exited $core_rc"
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local line
    line=$(printf '{"plugin":"%s","cycles_asked":%d,"cycles":%d,"connected":%d,"refused":%d,"unexpected":%d,"reloads":%d,"plugin_opens":%d,"plugin_said_succeeded":%d,"plugin_said_failed":%d,"core_exit":%d,"pamwrap_races":%d,"driven_again":%d,"seconds":%s,"cycles_per_s":%s,"rss_idle_kb":%s,"rss_kb":[%s],"helper_rss_kb":[%s]' \
        "$name" "$cycles" $((done_b * batch)) "$ok" "$refused" "$unexpected" "$reloaded" "$opens" "$said_ok" "$said_fail" "$core_rc" "$races" "$redriven" \
        "$secs" "$(awk -v n=$((done_b * batch)) -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
        "${rss0:-0}" "$(IFS=,; echo "${rss[*]}")" "$(IFS=,; echo "${hrss[*]}")")
    RUN_LINE=$line
    [ "$unexpected" -eq 0 ] && [ "$core_rc" -eq 0 ] || FAILED=1
    [ "$missed" -gt 0 ] && say "$name: $missed clients refused by pam_wrapper's race ($races races logged), driven again: $redriven connected"
    say "$name: $((ok + refused + redriven)) of $((done_b * batch)) cycles answered as expected ($ok + $redriven connected, $refused refused), $unexpected unexpected, ${secs} s, RSS $rss0 -> ${rss[-1]} kB"
}

# sanitizer_reports NAME: counts (and shows) what the sanitizers wrote during NAME's run,
# then moves the files aside; completes RUN_LINE.
sanitizer_reports() {
    local name=$1 files errors=0 leaks=0
    if [ -n "$SAN" ]; then
        mkdir -p "$W/san-$name"
        files=$(find "$W/san" -type f -size +0 2>/dev/null)
        if [ -n "$files" ]; then
            leaks=$(cat $files | grep -c 'ERROR: LeakSanitizer')
            errors=$(cat $files | grep -c -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer has encountered')
            say "$name: sanitizer reports:"
            cat $files | head -n 80 >&2
            FAILED=1
            mv $files "$W/san-$name/"
        fi
        # a core that died of a signal writes no log_path file: counted by its exit status
    fi
    RESULTS+=("$RUN_LINE,\"sanitizers\":\"${SAN:-none}\",\"leak_reports\":$leaks,\"sanitizer_errors\":$errors}")
    say "$name: sanitizers ${SAN:-none}: $leaks leak reports, $errors other reports"
}

built() {
    [ -f "$build/$1/.libs/ovp-$1.so" ] && return 0
    say "${1#auth-}: SKIP: $1 is not built in $build"
    return 1
}

plugin_so() {
    # a short link: a plugin line must stay under 256 characters
    ln -sf "$build/$1/.libs/ovp-$1.so" "$W/ovp-$1.so"
    echo "$W/ovp-$1.so"
}

run_pam() {
    local wrapper matrix
    built auth-pam || return 77
    wrapper=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n 1)
    matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n 1)
    if [ -z "$wrapper" ] || [ -z "$matrix" ]; then
        say "pam: SKIP: libpam-wrapper missing"
        return 77
    fi
    mkdir -p "$W/pam.d"
    printf 'soak:Soak-Pass-1:ovpsoak\n' > "$W/passdb"
    printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' \
        "$matrix" "$W/passdb" "$matrix" "$W/passdb" > "$W/pam.d/ovpsoak"
    PRELOAD="${ASAN_RT:+$ASAN_RT:}$wrapper"
    PAMENV="PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$W/pam.d PAM_WRAPPER_DISABLE_DEEPBIND=1"
    RACY=1
    # every driven client is one user from one address: the admission caps out of the way
    soak pam soak Soak-Pass-1 soak Wrong-Pass-2 "$(plugin_so auth-pam)" \
        per_user=1000000 per_address=1000000 ovpsoak
    PRELOAD="" PAMENV="" RACY=""
    sanitizer_reports pam
}

run_ldap() {
    built auth-ldap || return 77
    . "$top/tests/fixtures/slapd.sh"
    if ! slapd_available; then
        say "ldap: SKIP: slapd or the LDAP tools missing"
        return 77
    fi
    local d=$W/slapd
    if ! { slapd_setup "$d" && slapd_start "$d"; } > "$W/slapd.log" 2>&1; then
        say "ldap: slapd did not start"; tail -n 20 "$W/slapd.log" >&2
        FAILED=1
        return 1
    fi
    SLAPD_DIRS="$SLAPD_DIRS $d"
    cat > "$W/ldap.conf" <<EOF
<LDAP>
    URL "$SLAPD_URL"
    BindDN uid=svc,ou=Services,dc=example,dc=org
    Password Svc-Pass-9
    Timeout 30
    # every driven client is one user from one address: the admission caps out of the way
    MaxPerAddress 1000000
    MaxPerUser 1000000
</LDAP>
<Authorization>
    BaseDN "dc=example,dc=org"
    SearchFilter "(uid=%u)"
</Authorization>
EOF
    chmod 600 "$W/ldap.conf"
    soak ldap alice Alice-Pass-1 alice Wrong-Pass-2 "$(plugin_so auth-ldap)" "$W/ldap.conf"
    sanitizer_reports ldap
    slapd_stop "$d" >/dev/null 2>&1
    SLAPD_DIRS=${SLAPD_DIRS/ $d/}
}

run_http() {
    built auth-http || return 77
    if ! command -v python3 >/dev/null; then
        say "http: SKIP: python3 missing"
        return 77
    fi
    local d=$W/http
    mkdir -p "$d"
    printf '%s\n' '{"default": {"action": "allow204"}, "users": {"soakbad": {"action": "deny", "reason": "no"}}}' > "$d/script.json"
    python3 "$top/tests/fixtures/http_service.py" --port 0 --port-file "$d/http.port" \
        --control-port-file "$d/control.port" --script "$d/script.json" \
        > "$d/http.out" 2> "$d/http.err" &
    local hpid=$!
    PIDS="$PIDS $hpid"
    for _ in $(seq 100); do [ -s "$d/http.port" ] && break; sleep 0.1; done
    [ -s "$d/http.port" ] || { say "http: the service did not start"; cat "$d/http.err" >&2; FAILED=1; return 1; }
    soak http soak Soak-Pass-1 soakbad Wrong-Pass-2 "$(plugin_so auth-http)" \
        "url=http://127.0.0.1:$(cat "$d/http.port")/vpn" "maxinflight=$((2 * batch))" \
        maxperaddress=1000000 maxperuser=1000000 timeout=30s
    local seen
    seen=$(python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/" % open(sys.argv[1]).read().strip(), timeout=10))["requests"])' "$d/control.port" 2>/dev/null)
    say "http: the service answered ${seen:-?} requests"
    sanitizer_reports http
    RESULTS[-1]="${RESULTS[-1]%\}},\"service_requests\":${seen:-null}}"
    kill "$hpid" 2>/dev/null
    PIDS=${PIDS/ $hpid/}
}

ran=0
for p in ${only//,/ }; do
    case $p in
        pam|ldap|http) "run_$p"; rc=$? ;;
        *) say "unknown plugin $p (pam, ldap, http)"; exit 2 ;;
    esac
    [ $rc -eq 77 ] || ran=$((ran + 1))
    [ $rc -eq 77 ] && [ "${CI:-}" = true ] && { say "$p skipped, but CI=true"; FAILED=1; }
done

machine=$(printf '%s, %s CPUs, kernel %s' \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)" "$(uname -r)")
out=$(printf '{"command":"tests/bench/soak.sh %s","date":"%s","build":"%s","sanitizers":"%s","batch":%d,"machine":"%s","load_after":"%s","runs":[%s]}' \
    "${args[*]//$top\//}" "$(date -u '+%Y-%m-%d %H:%M UTC')" "${build#"$top"/}" "${SAN:-none}" "$batch" "$machine" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(IFS=,; echo "${RESULTS[*]}")")
printf '%s\n' "$out"
[ -n "$json" ] && printf '%s\n' "$out" | python3 -m json.tool > "$json"
[ $ran -gt 0 ] || exit 77
[ $FAILED -eq 0 ] && say "all runs met everything" || say "FAILED"
[ $FAILED -eq 0 ]
