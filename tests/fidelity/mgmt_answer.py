#!/usr/bin/env python3
"""mgmt_answer.py SOCKET USER PASS: answers an OpenVPN client's username/password query on
its management socket (management-query-passwords), so that a real client can send what an
auth-user-pass file cannot hold: an empty username or an empty password."""
import os
import socket
import sys
import time

path, user, pw = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(100):
    if os.path.exists(path):
        break
    time.sleep(0.1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.settimeout(20)
buf = b""
q = lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
while True:
    data = s.recv(4096)
    if not data:
        break
    buf += data
    if b">PASSWORD:Need 'Auth' username/password" in buf:
        s.sendall(("username \"Auth\" %s\npassword \"Auth\" %s\n" % (q(user), q(pw))).encode())
        time.sleep(0.5)
        print(buf.decode(errors="replace") + s.recv(4096).decode(errors="replace"))
        break
