#!/usr/bin/env python3
# crflood.py: one client of ovp-refcore's protocol that authenticates, then sends N
# CLIENT_CRRESPONSE messages nobody asked for (half valid base64, half not) as fast as
# the socket takes them, then a renegotiation: its RENEG_OK says the core has handled
# every message before it. Prints "flood N messages handled in S s".
# Usage: crflood.py SOCKET USER PASSWORD N
import socket
import sys
import time

path, user, password, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rb")
s.sendall(("HELLO cn=flooder user=%s pass=%s\n" % (user, password)).encode())
deadline = time.time() + 20
while True:
    line = f.readline()
    if not line or time.time() > deadline:
        sys.exit("flooder: not connected: %r" % line)
    if line.startswith(b"PUSH_REPLY"):
        break
    if line.startswith(b"AUTH_FAILED"):
        sys.exit("flooder: refused: %r" % line)
t0 = time.time()
lines = []
for i in range(n):
    lines.append(b"CRRESPONSE MTIzNDU2\n" if i % 2 == 0 else b"CRRESPONSE !!!!\n")
s.sendall(b"".join(lines))
s.sendall(("RENEG pass=%s\n" % password).encode())
deadline = time.time() + 60
while True:
    line = f.readline()
    if not line or time.time() > deadline:
        sys.exit("flooder: no RENEG_OK after the flood: %r" % line)
    if line.startswith(b"RENEG_OK"):
        break
print("flood %d messages handled in %.3f s" % (n, time.time() - t0))
s.sendall(b"BYE\n")
s.close()
