#!/bin/sh
# disk_full.sh: the database on a small tmpfs (in a private mount namespace) that a
# filler file fills up while clients come through ovp-refcore: the plugin logs a clear
# line, does not crash, keeps the VPN working (OnDatabaseError open) and writes every
# kept row once the filler is deleted. Needs root (CI runs it as root).
LADB_MNTNS=1
. "${srcdir:-.}/learn_address_db/lib.sh"
[ -n "$IN_MNTNS" ] || skip_or_fail "$MNTNS_WHY"

DISK="$WORK/disk"
DB="$DISK/addresses.sqlite"
mkdir -p "$DISK"
mount -t tmpfs -o size=8m,mode=0755 ovp-ladb-test "$DISK" || skip_or_fail "cannot mount a tmpfs"
# shellcheck disable=SC2317 # called through CLEANUP_HOOK
umount_disk() { umount "$DISK" 2>/dev/null; }
CLEANUP_HOOK=umount_disk

cat > "$WORK/full.story" <<'STORY'
timeout 30
client a1 cn=before-1 user=alice pass=secret addr=198.51.100.1:1001
client a2 cn=before-2 user=alice pass=secret addr=198.51.100.1:1002
expect a1 ok
expect a2 ok
expect file ${T}/filled go
client b1 cn=full-1 user=alice pass=secret addr=198.51.100.2:2001
client b2 cn=full-2 user=alice pass=secret addr=198.51.100.2:2002
client b3 cn=full-3 user=alice pass=secret addr=198.51.100.2:2003
client b4 cn=full-4 user=alice pass=secret addr=198.51.100.2:2004
expect b1 ok
expect b2 ok
expect b3 ok
expect b4 ok
bytes b4 400 800
bye b4
expect b4 closed
# pokes: the writer's lines reach the host's log at the plugin's next call
wait 1s
client p1 cn=poke-1 user=alice pass=secret
expect p1 ok
wait 1s
client p2 cn=poke-2 user=alice pass=secret
expect p2 ok
wait 1s
client p3 cn=poke-3 user=alice pass=secret
expect p3 ok
expect log "the disk is full"
expect file ${T}/freed go
client c1 cn=after-1 user=alice pass=secret addr=198.51.100.3:3001
expect c1 ok
expect log "is writable again"
bye a1
bye a2
bye b1
bye b2
bye b3
bye p1
bye p2
bye p3
bye c1
expect stat clients 0
expect stat routes 0
STORY

start_core full --plugin "$TPLUG" mode=defer --plugin "$LADB" "database=$DB" \
    instance=full -- --poll fast --tmp-dir "$WORK" --scenario "$WORK/full.story"
wait_sql 30 "$DB" "SELECT count(*) FROM session" 2 || die "the first clients were not recorded"

# Fill the file system to the last block.
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null
dd if=/dev/zero of="$DISK/filler2" bs=4k 2>/dev/null
check "free space on the full tmpfs" "$(df -P "$DISK" | awk 'NR == 2 { print $4 }')" 0
echo go > "$WORK/filled"

wait_log 30 "$WORK/full.err" "the disk is full" || die "no log line about the full disk"
grep -h "the disk is full" "$WORK/full.err" | head -n 1 | sed 's/^/logged: /'
check "the core is still running" "$(kill -0 "$CORE_PID" 2>/dev/null && echo yes)" yes
check "sessions while the disk is full" "$(sq "$DB" 'SELECT count(*) FROM session')" 2

rm -f "$DISK/filler" "$DISK/filler2"
# Everything kept in memory lands: 2 + 4 + 3 sessions, b4 already ended.
wait_sql 30 "$DB" "SELECT count(*) || ' ' || count(disconnect_ms) FROM session" "9 1" ||
    fail "the kept events did not land after space was freed (last: $WAIT_GOT)"
echo go > "$WORK/freed"
wait_core
core_ok full "the story" || finish

integrity "$DB"
check "sessions, all ended by a disconnect" \
    "$(sq "$DB" "SELECT count(*) || ' ' || sum(end_reason = 'disconnect') FROM session")" "10 10"
check "address events" "$(sq "$DB" "SELECT group_concat(op || '=' || n, ' ') FROM
    (SELECT op, count(*) n FROM address_event GROUP BY op ORDER BY op)")" "add=20 delete=20"
check "bytes of the client that left while the disk was full" \
    "$(sq "$DB" "SELECT bytes_received || ' ' || bytes_sent FROM session WHERE common_name = 'full-4'")" \
    "400 800"
grep -q "are lost" "$WORK/full.err" && fail "the plugin lost events: $(grep 'are lost' "$WORK/full.err")"
grep -q "closed: 60 event(s) queued, 0 dropped" "$WORK/full.err" ||
    fail "closing line: $(grep 'closed:' "$WORK/full.err")"
"$ADDRDB" --db "$DB" --json history --cn full-2 > "$WORK/h.json"
check "history --cn full-2 (connected while the disk was full)" \
    "$(jcount "$WORK/h.json") $(js "$WORK/h.json" '$[0].real_port') $(js "$WORK/h.json" '$[0].end_reason')" \
    "1 2002 disconnect"
finish
