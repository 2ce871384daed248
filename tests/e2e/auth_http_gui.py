#!/usr/bin/env python3
# auth_http_gui.py: what a user's VPN GUI does on an OpenVPN client's management interface,
# for the e2e scenarios (run in the client's namespace):
#   auth_http_gui.py PORT LOG [--user U --password P] [--cr-answer X] [--urls FILE]
# Connects to 127.0.0.1:PORT (retrying for 20 s while the client starts), turns on state
# and log notifications, releases every hold (>HOLD), answers >PASSWORD:Need 'Auth' with
# U/P, answers a >INFOMSG:CR_TEXT: challenge with "cr-response base64(X)", and appends the
# URL of each >INFOMSG:OPEN_URL:<url> or >INFOMSG:WEB_AUTH:<flags>:<url> to FILE (the
# test then "signs in" there, as the user's browser would). Every line received is
# written to LOG as ">>> line", every command sent as "<<< command" (password masked).
# Runs until the client closes the management connection.
import argparse
import base64
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("log")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--cr-answer")
    p.add_argument("--urls")
    a = p.parse_args()
    log = open(a.log, "a", buffering=1, encoding="utf-8")
    sock = None
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    if sock is None:
        log.write("!!! no management connection\n")
        return 1
    sock.settimeout(None)
    f = sock.makefile("rwb", buffering=0)

    def send(cmd, shown=None):
        log.write("<<< %s\n" % (shown or cmd))
        f.write((cmd + "\n").encode("utf-8"))

    send("state on")
    send("log on")
    send("hold release")
    for raw in f:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        log.write(">>> %s\n" % line)
        if line.startswith(">PASSWORD:Need 'Auth' username/password") and a.user is not None:
            send("username 'Auth' %s" % a.user)
            send("password 'Auth' %s" % a.password, "password 'Auth' ***")
        elif line.startswith(">HOLD:"):
            send("hold release")
        elif line.startswith(">INFOMSG:CR_TEXT:") and a.cr_answer is not None:
            send("cr-response %s" % base64.b64encode(a.cr_answer.encode("utf-8")).decode())
        elif line.startswith(">INFOMSG:OPEN_URL:") and a.urls:
            with open(a.urls, "a") as o:
                o.write(line[len(">INFOMSG:OPEN_URL:"):] + "\n")
        elif line.startswith(">INFOMSG:WEB_AUTH:") and a.urls:
            flags_url = line[len(">INFOMSG:WEB_AUTH:"):]
            with open(a.urls, "a") as o:
                o.write(flags_url.split(":", 1)[1] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
