#!/bin/sh
# open_errors.sh: through ovp-refcore, a command that is missing, not executable, not a
# file or not an absolute path (for DOWN, UP and ROUTE_PREDOWN), a bad option or no
# command at all fails the open with a clear message: the core exits 1 with it, before
# anything ran and without leaving a helper behind.
. "${srcdir:-.}/down_root/lib.sh"

printf '#!/bin/sh\nexit 0\n' > "$WORK/noexec.sh"
chmod 644 "$WORK/noexec.sh"
mkdir "$WORK/adir"

n=0
# refused WHAT MESSAGE PLUGIN-WORDS...: the open fails with MESSAGE.
refused() {
    what=$1 msg=$2
    shift 2
    begin
    n=$((n + 1))
    core "$WORK/out$n" "wait 10ms" "$@" -- --verb 1
    [ $rc -eq 1 ] || fail "$what: the core exited $rc, expected 1"
    has "$WORK/out$n" "PLUGIN ovp-down-root: $msg" "$what"
    has "$WORK/out$n" "FATAL: PLUGIN_INIT: plugin initialization function failed: $PLUGIN" \
        "$what: OpenVPN's message"
    hasnt "$WORK/out$n" "root helper pid" "$what: no helper started"
    hasnt "$WORK/out$n" "Initialization Sequence Completed" "$what: no start"
    [ -f "$WORK/runs" ] && fail "$what: a command ran: $(cat "$WORK/runs")"
    ok "$what"
}

refused "a missing DOWN command" \
    "down command: $WORK/missing.sh: No such file or directory" "$WORK/missing.sh"
refused "a missing DOWN command after options" \
    "down command: $WORK/missing.sh: No such file or directory" timeout=5s "$WORK/missing.sh arg"
refused "a DOWN command that is not executable" \
    "down command: $WORK/noexec.sh: not executable" "$WORK/noexec.sh"
refused "a directory" "down command: $WORK/adir: not a regular file" "$WORK/adir"
# a relative command is looked for in the working directory (the core's, as OpenVPN's)
refused "a relative path missing from the working directory" \
    "down command: $(pwd)/rec.sh: No such file or directory" rec.sh
refused "a missing UP command" "up command: $WORK/missing-up: No such file or directory" \
    "up=$WORK/missing-up" "$REC"
refused "a missing ROUTE_PREDOWN command" \
    "route_predown command: $WORK/missing-pd: No such file or directory" \
    "route_predown=$WORK/missing-pd arg" "$REC"
refused "no command" "no command given: use plugin ovp-down-root.so" timeout=5s
refused "a misspelt option" "plugin line: unknown key 'timeot' at the top level (did you mean 'timeout'?)" \
    timeot=5s "$REC"
refused "a timeout out of range" "plugin line: timeout '50ms': expected a duration from 100ms to 1h" \
    timeout=50ms "$REC"
# 65 words that still fit in an OpenVPN config line (under 256 characters, which the core
# enforces as OpenVPN does): a one-letter command and 64 one-letter arguments
words=$(i=0; while [ $i -lt 64 ]; do printf ' a'; i=$((i + 1)); done)
refused "an UP command of 65 words" "up command: more than 63 words" "up=x$words" "$REC"

finish
