#!/usr/bin/env python3
# admit_flood.py: the client side of an admission-cap flood against an ovp-refcore
# serving on a UNIX socket (refcore's wire protocol: HELLO with a claimed address).
# Runs M "other" clients (users user1..userM, each from its own address 198.51.100.i)
# once alone, then again while N flood clients from one address are in progress: the
# flood is for one username (--flood-user U) or, with --distinct, for U1..UN (so only
# the address cap applies). Prints one line of figures:
#   base_ms B during_ms D flood N flood_ms F ok A temp_addr X temp_user Y temp_other Z denied W
# and exits 1 when another client was not connected (both rounds).
# Usage: admit_flood.py SOCKET OTHER_PASS M FLOOD_USER FLOOD_PASS N [--distinct]
import asyncio
import sys
import time

sock, other_pw, m, flood_user, flood_pw, n = sys.argv[1:7]
m, n = int(m), int(n)
distinct = "--distinct" in sys.argv[7:]
FLOOD_ADDR = "203.0.113.9"


async def client(cn, user, pw, addr):
    """One session: 'ok', or the AUTH_FAILED reason, or what else ended it."""
    try:
        r, w = await asyncio.open_unix_connection(sock)
    except OSError as e:
        return "connect: %s" % e
    w.write(("HELLO cn=%s user=%s pass=%s addr=%s\n" % (cn, user, pw, addr)).encode())
    await w.drain()
    out = "closed"
    try:
        while True:
            line = await asyncio.wait_for(r.readline(), 90)
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if text.startswith("PUSH_REPLY"):
                out = "ok"
                w.write(b"BYE\n")
                await w.drain()
                break
            if text.startswith(("AUTH_FAILED", "TLS_ERROR", "RESTART", "ERR")):
                out = text
                break
    except asyncio.TimeoutError:
        out = "timeout"
    w.close()
    return out


async def others(tag):
    t0 = time.monotonic()
    res = await asyncio.gather(*[
        client("%s%d" % (tag, i), "user%d" % i, other_pw, "198.51.100.%d:%d" % (i, 1000 + i))
        for i in range(1, m + 1)])
    ms = int((time.monotonic() - t0) * 1000)
    bad = [(i + 1, x) for i, x in enumerate(res) if x != "ok"]
    return ms, bad


async def main():
    base_ms, bad = await others("base")
    if bad:
        print("others before the flood not connected: %s" % bad[:5])
        return 1
    t0 = time.monotonic()
    flood = asyncio.gather(*[
        client("flood%d" % i, "%s%d" % (flood_user, i) if distinct else flood_user, flood_pw,
               "%s:%d" % (FLOOD_ADDR, 2000 + i)) for i in range(n)])
    await asyncio.sleep(0.3)
    during_ms, bad = await others("during")
    res = await flood
    flood_ms = int((time.monotonic() - t0) * 1000)
    count = {"ok": 0, "addr": 0, "user": 0, "other": 0, "denied": 0}
    for x in res:
        if x == "ok":
            count["ok"] += 1
        elif "in progress from this address" in x:
            count["addr"] += 1
        elif "in progress for this user" in x:
            count["user"] += 1
        elif x.startswith("AUTH_FAILED") and "TEMP" not in x:
            count["denied"] += 1
        else:
            count["other"] += 1
    print("base_ms %d during_ms %d flood %d flood_ms %d ok %d temp_addr %d temp_user %d "
          "temp_other %d denied %d" % (base_ms, during_ms, n, flood_ms, count["ok"],
                                       count["addr"], count["user"], count["other"],
                                       count["denied"]))
    if bad:
        print("others during the flood not connected: %s" % bad[:5])
        return 1
    return 0


sys.exit(asyncio.run(main()))
