#!/bin/sh
# odd_names.sh: certificate names and a username full of quotes, semicolons, SQL
# fragments, percent signs, commas and UTF-8, through ovp-refcore into the database:
# stored byte for byte, found by ovp-addrdb, and shown exactly in --json and --csv.
# shellcheck disable=SC2016,SC2089,SC2090 # the quotes are the data, never evaluated
. "${srcdir:-.}/learn_address_db/lib.sh"

DB="$WORK/addresses.sqlite"
CN1="Robert'); DROP TABLE session;--"
CN2='x" OR "1"="1'
CN3='a'\''b"c\d\\'
CN4='; DELETE FROM address_event; --'
CN5="' UNION SELECT sqlite_version(), 1 --"
CN6='100%25 %41 per cent'
CN7='日本語 ünïcödé'
CN8='/* c */ name */'
CN9='Smith, John "JJ" $(touch pwned) `id`'
OU='O'\''Brien"; DROP TABLE instance;--'
K=9
export CN1 CN2 CN3 CN4 CN5 CN6 CN7 CN8 CN9 OU

# The story takes the names from the environment, so no quoting can change them.
{
    echo "timeout 30"
    i=1
    while [ $i -le $K ]; do
        echo "client c$i \"cn=\${CN$i}\" \"user=\${OU}\" pass=secret addr=198.51.100.$i:$((3000 + i))"
        i=$((i + 1))
    done
    i=1
    while [ $i -le $K ]; do echo "expect c$i ok"; i=$((i + 1)); done
    echo "expect file \${T}/go go"
    i=1
    while [ $i -le $K ]; do echo "bytes c$i $i $((2 * i))"; echo "bye c$i"; i=$((i + 1)); done
    echo "expect stat clients 0"
    echo "expect stat routes 0"
} > "$WORK/odd.story"

start_core odd --plugin "$TPLUG" "user=$OU" mode=defer --plugin "$LADB" "database=$DB" \
    instance=odd -- --poll fast --verb 3 --tmp-dir "$WORK" --scenario "$WORK/odd.story"
wait_sql 30 "$DB" "SELECT (SELECT count(*) FROM session) || ' ' ||
    (SELECT count(*) FROM current_address)" "$K $((2 * K))" ||
    die "the $K clients were not recorded (last: $WAIT_GOT)"
T1=$(now_ms)

# byte_eq JSONFILE PATH NAME: the JSON value at PATH is exactly the bytes of $NAME.
byte_eq() {
    eval "printf '%s' \"\$$3\"" > "$WORK/want"
    sqlite3 -batch :memory: "SELECT json_extract(CAST(readfile('$1') AS TEXT), '$2')
                             = CAST(readfile('$WORK/want') AS TEXT)"
}

# While they are connected: current lists each name exactly once.
"$ADDRDB" --db "$DB" --json current > "$WORK/current.json"
check "current: exit status" $? 0
check "current: rows" "$(jcount "$WORK/current.json")" "$K"
i=1
while [ $i -le $K ]; do
    eval "cn=\$CN$i"
    # shellcheck disable=SC2154 # set by the eval
    printf '%s' "$cn" > "$WORK/want"
    check "current lists name $i exactly once" \
        "$(sqlite3 -batch :memory: "SELECT count(*) FROM json_each(CAST(readfile('$WORK/current.json') AS TEXT))
             WHERE value->>'common_name' = CAST(readfile('$WORK/want') AS TEXT)")" 1
    i=$((i + 1))
done
echo go > "$WORK/go"
wait_core
core_ok odd "the story" || finish

integrity "$DB"
check "tables after the run" \
    "$(sq "$DB" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master
                 WHERE type = 'table' ORDER BY name)")" \
    "address_event,current_address,instance,session"
check "sessions" "$(sq "$DB" 'SELECT count(*) FROM session')" "$K"
check "address events" "$(sq "$DB" "SELECT group_concat(op || '=' || n, ' ') FROM
    (SELECT op, count(*) n FROM address_event GROUP BY op ORDER BY op)")" "add=$((2 * K)) delete=$((2 * K))"

i=1
while [ $i -le $K ]; do
    eval "cn=\$CN$i"
    "$ADDRDB" --db "$DB" --json history --cn "$cn" > "$WORK/h.json"
    check "history --cn name $i: exit status" $? 0
    check "history --cn name $i: rows" "$(jcount "$WORK/h.json")" 1
    check "history --cn name $i: common_name byte for byte" "$(byte_eq "$WORK/h.json" '$[0].common_name' cn)" 1
    check "history --cn name $i: username byte for byte" "$(byte_eq "$WORK/h.json" '$[0].username' OU)" 1
    check "history --cn name $i: real address and bytes" \
        "$(js "$WORK/h.json" '$[0].real_ip'):$(js "$WORK/h.json" '$[0].real_port') $(js "$WORK/h.json" '$[0].bytes_received') $(js "$WORK/h.json" '$[0].bytes_sent')" \
        "198.51.100.$i:$((3000 + i)) $i $((2 * i))"
    v4=$(js "$WORK/h.json" '$[0].vaddr4')
    v6=$(js "$WORK/h.json" '$[0].vaddr6')

    # who, for both addresses, at a time the client was connected
    for a in "$v4" "$v6"; do
        "$ADDRDB" --db "$DB" --json who "$a" --at "$(at "$T1")" > "$WORK/w.json"
        check "who $a (name $i): rows" "$(jcount "$WORK/w.json")" 1
        check "who $a (name $i): common_name byte for byte" "$(byte_eq "$WORK/w.json" '$[0].common_name' cn)" 1
    done
    # the address events carry the name too, the delete (which has no env) included
    printf '%s' "$cn" > "$WORK/want"
    check "address events of name $i" \
        "$(sq "$DB" "SELECT count(*) FROM address_event
                     WHERE common_name = CAST(readfile('$WORK/want') AS TEXT)")" 4

    # CSV, read back by a CSV parser
    "$ADDRDB" --db "$DB" --csv history --cn "$cn" > "$WORK/h.csv"
    check "history --csv name $i: common_name after CSV parsing" \
        "$(printf '%s\n' ".import --csv $WORK/h.csv h" \
            "SELECT count(*) FROM h WHERE common_name = CAST(readfile('$WORK/want') AS TEXT)
             AND real_port = '$((3000 + i))';" | sqlite3 -batch :memory:)" 1
    i=$((i + 1))
done
[ -e pwned ] && fail "a name was run by a shell"
"$ADDRDB" --db "$DB" --json history --user "$OU" > "$WORK/u.json"
check "history --user (the odd username): rows" "$(jcount "$WORK/u.json")" "$K"

# Hostile names in a copy: terminal escapes (C0, raw C1 and UTF-8 encoded C1 CSI) never
# reach the text table, and no CSV cell starts a spreadsheet formula (ovp-addrdb(1)).
H="$WORK/hostile.sqlite"
sqlite3 "$DB" ".backup '$H'"
sq "$H" "UPDATE session SET common_name = CASE id % 6
    WHEN 0 THEN char(27) || '[2J' || char(27) || ']0;owned' || char(7)
    WHEN 1 THEN CAST(X'9B33316D726564' AS TEXT)
    WHEN 2 THEN char(155) || '31mred'
    WHEN 3 THEN '=HYPERLINK(\"http://203.0.113.1/\")'
    WHEN 4 THEN '+1+cmd|/C calc!A0'
    ELSE '@SUM(1+1)' END" > /dev/null
"$ADDRDB" --db "$H" history --user "$OU" > "$WORK/h.txt"
check "hostile names: text table exit status" $? 0
check "hostile names: no ESC, BEL or C1 byte in the text table" \
    "$(sqlite3 -batch :memory: "SELECT instr(readfile('$WORK/h.txt'), X'1B')
        + instr(readfile('$WORK/h.txt'), X'07') + instr(readfile('$WORK/h.txt'), X'9B')")" 0
"$ADDRDB" --db "$H" --csv history --user "$OU" > "$WORK/h.csv"
check "hostile names: no CSV cell starts a formula" \
    "$(printf '%s\n' ".import --csv $WORK/h.csv h" \
        "SELECT count(*) FROM h WHERE substr(common_name, 1, 1) IN ('=', '+', '-', '@');" |
        sqlite3 -batch :memory:)" 0
check "hostile names: neutralised with an apostrophe, the rest kept" \
    "$(printf '%s\n' ".import --csv $WORK/h.csv h" \
        "SELECT count(*) FROM h WHERE common_name IN ('''@SUM(1+1)', '''+1+cmd|/C calc!A0',
            '''=HYPERLINK(\"http://203.0.113.1/\")');" | sqlite3 -batch :memory:)" \
    "$(sq "$H" "SELECT count(*) FROM session WHERE id % 6 IN (3, 4, 5)")"
"$ADDRDB" --db "$H" --json history --user "$OU" > "$WORK/h.json"
check "hostile names: --json keeps them exactly" \
    "$(sqlite3 -batch :memory: "SELECT count(*) FROM json_each(CAST(readfile('$WORK/h.json') AS TEXT))
        WHERE value->>'common_name' = '@SUM(1+1)'")" \
    "$(sq "$H" "SELECT count(*) FROM session WHERE common_name = '@SUM(1+1)'")"
iconv -f UTF-8 -t UTF-8 "$WORK/h.json" > /dev/null 2>&1
check "hostile names: --json stays valid UTF-8 (a raw 0x9B byte becomes U+FFFD)" $? 0
check "hostile names: --json marks the bytes that were not UTF-8" \
    "$(grep -c 'ufffd31mred' "$WORK/h.json" | awk '{ print ($1 > 0) }')" 1

# who --at a whole second: stored times have milliseconds, so the second of a connect
# (the add at .350) and the second of a disconnect (the delete at .250) both answer.
S=1715688187
sq "$H" "INSERT INTO address_event(time_ms, instance, op, address, kind, common_name)
    VALUES (${S}350, 'odd', 'add', '10.200.0.1', 'ipv4', 'erin'),
           ($((S + 5))250, 'odd', 'delete', '10.200.0.1', 'ipv4', 'erin')" > /dev/null
for spec in "@$S=0" "@$S.000=1" "2024-05-14T12:03:07Z=0" "2024-05-14T14:03:12+02:00=0" \
    "2024-05-14T12:03:12.250Z=1" "@$((S + 6))=1" "2024-05-14T12:03Z=0" "garbage=2"; do
    at=${spec%=*}
    "$ADDRDB" --db "$H" --csv who 10.200.0.1 --at "$at" > "$WORK/w.csv" 2> /dev/null
    check "who --at $at: exit status" $? "${spec##*=}"
done

# history --until DATE includes that whole day (the unit named), --since its start.
sq "$H" "INSERT INTO session(instance, common_name, connect_ms, disconnect_ms, end_reason)
    VALUES ('odd', 'frank', ${S}350, $((S + 60))000, 'disconnect')" > /dev/null
for spec in "--until 2024-05-14=0" "--until 2024-05-13=1" "--since 2024-05-14=0" \
    "--since 2024-05-15=1" "--until 2024-05-14T12:03Z=0" "--until 2024-05-14T12:02Z=1"; do
    opt=${spec%=*}
    # shellcheck disable=SC2086
    TZ=UTC "$ADDRDB" --db "$H" --csv history --cn frank $opt > /dev/null 2>&1
    check "history $opt: exit status" $? "${spec##*=}"
done
finish
