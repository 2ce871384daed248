#!/bin/sh
# concurrency.sh: a slow PAM stack never holds up OpenVPN or other clients;
# workers, queue and timeout bound the work.
. "${srcdir:-.}/auth_pam/lib.sh"

printf 'slow\tSlow-Secret-1\nfast\tFast-Secret-2\nslow2\tSlow-Secret-1\nslow3\tSlow-Secret-1\nslow4\tSlow-Secret-1\n' \
    > "$WORK/accept"
service slow2s "auth required $OVPTEST sleep=2000 sleepfor=slow accept=$WORK/accept" \
    "account required $OVPTEST"
service slow1s "auth required $OVPTEST sleep=1000 sleepfor=slow accept=$WORK/accept" \
    "account required $OVPTEST"
service slow3s "auth required $OVPTEST sleep=3000 sleepfor=slow accept=$WORK/accept" \
    "account required $OVPTEST"

# 1. One client's PAM stack takes 2 s; five others arrive 100 ms later and are
#    answered at once. Every call into the plugin returns in microseconds.
{
    tabs name=slow username=slow password=Slow-Secret-1 expect=allow min_ms=1900 max_ms=4000
    for i in 1 2 3 4 5; do
        tabs name=fast$i at=100 username=fast password=Fast-Secret-2 expect=allow max_ms=1000
    done
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" --max-stall-us 20000 -- slow2s
expect_ok "fast clients do not wait for a slow one"
no_secrets "$LOG" Slow-Secret-1 Fast-Secret-2

# 2. workers=4: four 1-second transactions run side by side (about 1 s, not 4).
{
    for u in slow slow2 slow3 slow4; do
        tabs name=$u username=$u password=Slow-Secret-1 expect=allow max_ms=2500
    done
} > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" -- workers=4 slow1s
expect_ok "workers=4 runs four transactions in parallel"

# 3. workers=1: the second waits for the first (the bound is kept).
{
    tabs name=first username=slow password=Slow-Secret-1 expect=allow max_ms=1900
    tabs name=second username=slow2 password=Slow-Secret-1 expect=allow min_ms=1900
} > "$WORK/c3"
LOG="$WORK/c3.log"
run_driver "$LOG" "$WORK/c3" -- workers=1 slow1s
expect_ok "workers=1 runs one transaction at a time"

# 4. queue=2: the third and fourth arrivals fail at once with TEMP.
{
    tabs name=q1 username=slow password=Slow-Secret-1 expect=allow
    tabs name=q2 username=slow2 password=Slow-Secret-1 expect=allow
    tabs name=q3 username=slow3 password=Slow-Secret-1 expect=temp max_ms=50 "reason=too many"
    tabs name=q4 username=slow4 password=Slow-Secret-1 expect=temp max_ms=50 "reason=too many"
} > "$WORK/c4"
LOG="$WORK/c4.log"
run_driver "$LOG" "$WORK/c4" -- workers=1 queue=2 slow1s
expect_ok "a full queue fails fast with TEMP"

# 5. timeout=1s: a 3-second transaction is answered TEMP after 1 s and killed;
#    its slot comes back (workers=1), so the next client is served.
{
    tabs name=too-slow username=slow password=Slow-Secret-1 expect=temp min_ms=900 max_ms=1800 \
        "reason=did not answer in 1 s"
    tabs name=next at=1200 username=fast password=Fast-Secret-2 expect=allow max_ms=1500
} > "$WORK/c5"
LOG="$WORK/c5.log"
run_driver "$LOG" "$WORK/c5" -- workers=1 timeout=1s slow3s
expect_ok "timeout answers TEMP and frees the worker"
grep -q 'did not finish within 1000 ms and was killed' "$LOG" || fail "the slow transaction was not killed"

finish
