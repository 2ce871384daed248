#!/bin/sh
# read_only.sh: the database cannot be written when ovp-refcore starts (as root: its
# file system is mounted read-only, in a private mount namespace; otherwise the file is
# chmod 0444): the plugin says which files it cannot write, the VPN keeps working, and
# the kept rows land once the database is writable again, without a restart.
LADB_MNTNS=1
. "${srcdir:-.}/learn_address_db/lib.sh"

DISK="$WORK/db"
DB="$DISK/addresses.sqlite"
mkdir -p "$DISK"
if [ -n "$IN_MNTNS" ]; then
    mount -t tmpfs -o size=8m,mode=0755 ovp-ladb-test "$DISK" || die "cannot mount a tmpfs"
    # shellcheck disable=SC2317 # called through CLEANUP_HOOK
    umount_disk() { umount "$DISK" 2>/dev/null; }
    CLEANUP_HOOK=umount_disk
    how="a read-only mount"
    ro_on() { mount -o remount,ro "$DISK"; }
    ro_off() { mount -o remount,rw "$DISK"; }
    # a reader that needs no -shm (none can be made on a read-only file system)
    RO_DB="file:$DB?immutable=1"
elif [ "$(id -u)" -eq 0 ]; then
    skip_or_fail "$MNTNS_WHY (root writes a chmod 0444 file anyway)"
else
    how="chmod 0444"
    ro_on() { chmod 0444 "$DB"; }
    # SQLite gives -wal and -shm the database's mode when it makes them (never remove
    # them while a connection may be open: that can lose committed rows)
    ro_off() {
        chmod 0644 "$DB" || return 1
        for f in "$DB-wal" "$DB-shm"; do
            [ ! -e "$f" ] || chmod 0644 "$f" || return 1
        done
    }
    RO_DB=$DB
fi
PLUGINS="--plugin $TPLUG mode=defer --plugin $LADB database=$DB instance=ro busytimeout=200ms"

# A database with one finished session, then made read-only.
printf '%s\n' "client a cn=first user=alice pass=secret" "expect a ok" "bye a" \
    "expect stat routes 0" > "$WORK/first.story"
# shellcheck disable=SC2086
start_core first $PLUGINS -- --poll fast --quiet --tmp-dir "$WORK" --scenario "$WORK/first.story"
wait_core
core_ok first "the run that made the database" || finish
ro_on || die "cannot make the database read-only ($how)"
note "the database is read-only now ($how)"

cat > "$WORK/ro.story" <<'STORY'
timeout 30
expect log "nothing can be recorded until"
client b1 cn=ro-1 user=alice pass=secret addr=198.51.100.2:2001
client b2 cn=ro-2 user=alice pass=secret addr=198.51.100.2:2002
client b3 cn=ro-3 user=alice pass=secret addr=198.51.100.2:2003
expect b1 ok
expect b2 ok
expect b3 ok
bye b3
expect b3 closed
wait 1s
client p1 cn=poke-1 user=alice pass=secret
expect p1 ok
wait 1s
client p2 cn=poke-2 user=alice pass=secret
expect p2 ok
wait 1s
client p3 cn=poke-3 user=alice pass=secret
expect p3 ok
expect log "not writable by uid"
expect file ${T}/fixed go
client c1 cn=after-1 user=alice pass=secret addr=198.51.100.3:3001
expect c1 ok
expect log "is writable again"
bye b1
bye b2
bye p1
bye p2
bye p3
bye c1
expect stat clients 0
expect stat routes 0
STORY
# shellcheck disable=SC2086
start_core ro $PLUGINS -- --poll fast --tmp-dir "$WORK" --scenario "$WORK/ro.story"

wait_log 30 "$WORK/ro.err" "not writable by uid" || die "no log line naming what is not writable"
grep -h "nothing can be recorded until\|not writable by uid" "$WORK/ro.err" | sed 's/^/logged: /'
# The line logged at open already says why (the writer's lines come later).
grep "nothing can be recorded until" "$WORK/ro.err" | grep -q -F "uid $(id -u)" ||
    fail "the line at open does not say which user cannot write"
grep -q -F "not writable by uid $(id -u): $DB" "$WORK/ro.err" ||
    fail "the log does not name $DB as not writable"
check "sessions while read-only" "$(sq "$RO_DB" 'SELECT count(*) FROM session')" 1

ro_off || die "cannot make the database writable again"
# Everything kept in memory lands: 1 + 3 + 3 sessions, b3 already ended.
wait_sql 30 "$DB" "SELECT count(*) || ' ' || count(disconnect_ms) FROM session" "7 2" ||
    fail "the kept events did not land once the database was writable (last: $WAIT_GOT)"
echo go > "$WORK/fixed"
wait_core
core_ok ro "the story" || finish

integrity "$DB"
check "sessions, all ended by a disconnect" \
    "$(sq "$DB" "SELECT count(*) || ' ' || sum(end_reason = 'disconnect') FROM session")" "8 8"
check "address events" "$(sq "$DB" "SELECT group_concat(op || '=' || n, ' ') FROM
    (SELECT op, count(*) n FROM address_event GROUP BY op ORDER BY op)")" "add=16 delete=16"
grep -q "are lost" "$WORK/ro.err" && fail "the plugin lost events: $(grep 'are lost' "$WORK/ro.err")"
grep -q "closed: 42 event(s) queued, 0 dropped" "$WORK/ro.err" ||
    fail "closing line: $(grep 'closed:' "$WORK/ro.err")"
"$ADDRDB" --db "$DB" --json history --cn ro-3 > "$WORK/h.json"
check "history --cn ro-3 (came and went while read-only)" \
    "$(jcount "$WORK/h.json") $(js "$WORK/h.json" '$[0].real_port') $(js "$WORK/h.json" '$[0].end_reason')" \
    "1 2003 disconnect"
finish
