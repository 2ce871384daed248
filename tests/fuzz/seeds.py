#!/usr/bin/env python3
"""seeds.py: writes the seed corpora (corpus/NAME/seed-*) of the fuzz harnesses.

Run it from tests/fuzz after changing a seed; the output is committed. Inputs that
once crashed a harness live beside the seeds as crash-* files and are never
regenerated here.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def s(b):
    """A length-prefixed string as common/privsep packs it (u32 host order)."""
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("=I", len(b)) + b


def frame(ftype, payload, fid=1, flags=0):
    return struct.pack("=IHHI", len(payload), ftype, flags, fid) + payload


def words(*w):
    return b"\0".join(x.encode() if isinstance(x, str) else x for x in w)


SEEDS = {
    "fuzz_config": [
        b"\0URL ldap://127.0.0.1:389\nString \"a quoted value\"\nInt 7\n",
        b"\0<LDAP>\n  Duration 15s\n  Size 16M\n</LDAP>\n# comment\nBool yes\nEnum demand\n",
        b"\0Multi a\nMulti b\nMulti \"c d\"\n<Group>\nString x\n</Group>\n",
        b"\0<LDAP>\n<LDAP>\n</LDAP>\nUnknown 1\nInt 99999999999999999999\n",
        b"\1" + words("String=x", "Int=-5", "Duration=250ms", "Size=64k", "Bool=on", "rest"),
        b"\1" + words("=x", "Enum=never", "Multi=1", "Multi=2"),
    ],
    "fuzz_authpam_args": [
        words("openvpn"),
        words("openvpn", "login", "USERNAME", "password", "PASSWORD"),
        words("openvpn", "workers=4", "queue=64", "timeout=30s", "crtext=Enter code",
              "crtext_echo=yes", "any_username=no", "per_address=32"),
        words("login", "name", "COMMONNAME", "pin", "OTP", "Password:", "PASSWORD"),
    ],
    "fuzz_env": [
        words("username=alice", "password=secret", "common_name=client1",
              "untrusted_ip=192.0.2.10", "untrusted_port=51820",
              "auth_control_file=/tmp/acf", "auth_failed_reason_file=/tmp/arf",
              "auth_pending_file=/tmp/apf", "IV_SSO=openurl,crtext", "verb=4"),
        words("common_name=", "untrusted_ip6=2001:db8::1", "untrusted_port=x", "verb=99"),
        words("trusted_ip=192.0.2.1", "trusted_port=1194", "username=a=b", "=empty"),
    ],
    "fuzz_privsep": [
        frame(2, struct.pack("=I", 4) + b"a log line from the helper"),
        frame(3, b"refused"),
        frame(16, s("one") + s("two") + s("")),
        frame(5, b""),
        struct.pack("=IHHI", 99, 16, 0, 1) + b"short",
    ],
    "fuzz_ccfg": [
        words('push "route 10.1.0.0 255.255.0.0"', "ifconfig-push 10.8.0.9 255.255.255.0",
              "iroute 192.0.2.0 255.255.255.0"),
        words("disable", 'push "dhcp-option DNS 192.0.2.53"', "bad\nline"),
    ],
    "fuzz_pam_wire": [
        b"\0" + struct.pack("=II", 1, 30000) + s("[c1@192.0.2.1:1194]") + s("alice")
        + s("pw") + s("c1") + s("") + s("192.0.2.1"),
        b"\1" + struct.pack("=II", 0, 0),
        b"\2" + struct.pack("=IiI", 0, 7, 2000) + s("wrong password") + s("pam_unix"),
        b"\3" + struct.pack("=I", 0) + s("123456"),
        b"\4" + struct.pack("=II", 4, 1) + s(struct.pack("=I", 2)) + s("openvpn") + s("login"),
    ],
    "fuzz_challenge": [
        words("SCRV1:cGFzcw==:MTIzNDU2", "MTIzNDU2", "openurl,crtext", "Enter code"),
        words("plain password", "bm90IGJhc2U2NA", "crtext", ""),
        words("SCRV1:!!:??", "====", "webauth", "x" * 300),
    ],
    "fuzz_down_root": [
        b"\0" + struct.pack("=IB", 2, 2) + s("tun0") + s("1500")
        + s("dev=tun0") + s("ifconfig_local=10.8.0.1") + s("LD_PRELOAD=/x.so")
        + s("common_name=a b"),
        b"\0" + struct.pack("=IB", 6, 0) + s("route_net_gateway=192.0.2.1") + b"\1\0",
        b"\1" + s("/etc/openvpn") + s(struct.pack("=I", 1)) + s("MY_VAR=1")
        + s(struct.pack("=I", 2)) + s("timeout=5s") + s("/etc/openvpn/down.sh"),
        b"\2dev=tun0",
        b"\2IFS= ",
        b"\2tun_mtu=1500",
    ],
    "fuzz_ldap_filter": [
        words("(uid=%u)", "alice", "member", "1.2.840.113556.1.4.1941", "cn=a,dc=x"),
        words("(&(objectClass=person)(sAMAccountName=%u))", "*)(uid=*", "uniqueMember",
              "", "cn=b\\,c,dc=x"),
        words("(|(memberUid=%u)(member=%u))", "admin)(|(uid=*", "memberUid", "x"),
        words("", "SCRV1:cGFzcw==:MTIz", "", "", "80090308: LdapErr: DSID-0C09044E, "
              "comment: AcceptSecurityContext error, data 773, v4563"),
    ],
    "fuzz_http": [
        b"\0" + b'{"reason": "welcome", "client_config": ["push \\"route 10.1.0.0 255.255.0.0\\""]}',
        b"\0" + b'{"pending": {"url": "https://sso.example/x?s=1", "timeout": 120}, "ticket": "t1"}',
        b"\0" + b'{"challenge": {"text": "Enter your code", "echo": false}, "ticket": "t2"}',
        b"\0" + b'{"reason": "a", "reason": "b"}',
        b"\0" + b'{"client_config": "not a list", "pending": {"timeout": -1}}',
        b"\0" + b'[1, 2, {"x": "\\ud800"}]',
        b"\1" + "Account locked \u2603\r\nsecond line".encode(),
        b"\2" + words("username=o'brien \"q\"", "password=p\\w", "common_name=c1",
                      "untrusted_ip=192.0.2.7", "untrusted_port=1194", "IV_SSO=openurl",
                      "IV_VER=2.6.3", b"username=\xff\xfe"),
        b"\3https://user:pw@auth.example:8443/vpn?x=1",
        b"\3http://[::1]:8080/vpn",
        b"\3username password common_name,untrusted_ip peer_info request_id hook",
    ],
    "fuzz_addr": [
        b"10.8.0.6", b"10.8.0.0/24", b"2001:db8::1", b"2001:db8::/64",
        b"00:11:22:33:44:55", b"::ffff:192.0.2.1", b"300.1.1.1", b"fe80::1%eth0",
    ],
    "fuzz_addrdb_time": [
        b"1715688180", b"1715688180.250", b"@1715688180", b"2024-05-14",
        b"2024-05-14T14:03", b"2024-05-14 14:03:07.5+02:00", b"2024-05-14T14:03Z..2024-05-15",
        b"2024-02-30", b"99999999999999999999",
    ],
}

for name, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for i, data in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as fh:
            fh.write(data)
