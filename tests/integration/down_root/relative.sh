#!/bin/sh
# relative.sh: through ovp-refcore, commands given by relative path (DOWN, UP,
# ROUTE_PREDOWN) are resolved at open against OpenVPN's working directory (set by --cd
# in OpenVPN; here the core's), checked there like absolute ones, and run by absolute
# path in the root helper.
. "${srcdir:-.}/down_root/lib.sh"

mkdir -p "$WORK/etc/sub" "$WORK/etc/open"
chmod 755 "$WORK/etc" "$WORK/etc/sub"
chmod 777 "$WORK/etc/open"
cp "$REC" "$WORK/etc/down.sh"
cp "$REC" "$WORK/etc/sub/pd.sh"
cp "$REC" "$WORK/etc/open/x.sh"
chmod 755 "$WORK/etc/down.sh" "$WORK/etc/sub/pd.sh" "$WORK/etc/open/x.sh"
here=$(pwd)

begin
cd "$WORK/etc" || exit 1
core "$WORK/out1" "wait 10ms" "up=./down.sh" "route_predown=sub/pd.sh" down.sh arg1 -- \
    --verb 1 --route 192.0.2.0 255.255.255.0
cd "$here" || exit 1
[ $rc -eq 0 ] || fail "the core exited $rc"
has "$WORK/out1" "ready: down=$WORK/etc/down.sh up=$WORK/etc/down.sh route_predown=$WORK/etc/sub/pd.sh" \
    "absolute paths at open"
has "$WORK/runs" "type=up signal=none uid=$(id -u)" "UP ran"
has "$WORK/runs" "type=route-pre-down signal=sigterm" "ROUTE_PREDOWN ran"
has "$WORK/runs" "type=down signal=sigterm" "DOWN ran"
has "$WORK/runs" "argc=1 args=arg1" "DOWN with its argument"
has "$WORK/out1" "DOWN: $WORK/etc/down.sh succeeded" "the absolute path in the log"
ok "relative commands run from the working directory at open"

begin
# 2. Checked as absolute ones are: missing, or in a directory others can write.
cd "$WORK/etc" || exit 1
core "$WORK/out2" "wait 10ms" missing.sh -- --verb 1
rc2=$rc
core "$WORK/out3" "wait 10ms" open/x.sh -- --verb 1
rc3=$rc
cd "$here" || exit 1
[ $rc2 -eq 1 ] || fail "a missing relative command: the core exited $rc2"
has "$WORK/out2" "down command: $WORK/etc/missing.sh: No such file or directory" \
    "a missing relative command named by its absolute path"
[ $rc3 -eq 1 ] || fail "a relative command in a world-writable directory: the core exited $rc3"
has "$WORK/out3" "down command: $WORK/etc/open/x.sh: its directory" "its directory is refused"
ok "relative commands are checked like absolute ones"

finish
