#!/usr/bin/env python3
"""compare.py: compares two record-plugin.so records, ovp-refcore's and OpenVPN's.

    compare.py --accepted accepted.txt [--also 'RULE; RULE'] REF.rec OVPN.rec

Exit 0 when they agree up to the rules, 1 (with every difference printed) otherwise.

1. Each record line is one plugin call (JSON). pid, uid and seq are dropped (a run's
   own); per-client context numbers are renumbered by first appearance per plugin.
2. Rules from accepted.txt (and --also) are applied: events one host does not make are
   dropped, values are normalised, runs of unordered events are sorted.
3. The event sequences must then be equal: (plugin, event, context, argv, return).
4. For each pair of events, the env must have the same names (except the names a rule
   lets one side lack) and the same values after normalisation.

Rule lines (one per line, '#' starts a comment; see accepted.txt):
    norm NAME_RE KIND [EVENT_RE]      values of matching env names are normalised by KIND
    only-ovpn NAME_RE [EVENT_RE]      env names OpenVPN sets and refcore does not
    only-ref NAME_RE [EVENT_RE]       env names refcore sets and OpenVPN does not
    event-only-ovpn EVENT_RE [ARGV_RE]  calls OpenVPN makes and refcore does not
    event-only-ref EVENT_RE [ARGV_RE]
    unordered EVENT_RE [ARGV_RE]      consecutive matching calls compare as a set
    float EVENT_RE [ARGV_RE]          matching calls leave the sequence; the sets of them
                                      (plugin, event, argv, return) must be equal
    argv EVENT_RE INDEX KIND          argv[INDEX] normalised by KIND
    sub /REGEX/REPLACEMENT/           applied first to every argv word and env value
KINDs: any (value ignored), tmpfile (directory and random part of OpenVPN's temp names),
    int (any decimal number), sid (a session id), token (an auth-gen-token),
    addupdate (learn-address add and update alike),
    addrport ([AF_INET]ip port -> ip).
Regexes match the whole name (re.fullmatch).
"""
import argparse
import json
import re
import sys

TMP_RE = re.compile(r"^.*/openvpn_([a-z]+)_[0-9a-f]+\.tmp$")


def norm_value(kind, v):
    if kind == "any":
        return "*"
    if kind == "tmpfile":
        return TMP_RE.sub(r"TMP/openvpn_\1_X.tmp", v)
    if kind == "int":
        return re.sub(r"\d+", "N", v)
    if kind == "sid":
        return "SID" if v else ""
    if kind == "token":
        return re.sub(r"^SESS_ID_AT_\S+$", "SESS_ID_AT_TOKEN", v)
    if kind == "addupdate":
        return "add|update" if v in ("add", "update") else v
    if kind == "addrport":
        return re.sub(r"^(\[AF_INET6?\])?(\S+) \d+$", r"\2", v)
    raise SystemExit("unknown normalisation kind %r" % kind)


class Rules:
    def __init__(self):
        self.norm = []  # (name_re, kind, event_re)
        self.only = {"ovpn": [], "ref": []}  # (name_re, event_re)
        self.ev_only = {"ovpn": [], "ref": []}  # (event_re, argv_re)
        self.unordered = []
        self.float = []
        self.argv = []  # (event_re, index, kind)
        self.sub = []  # (regex, replacement) on every argv word and env value

    def add(self, line, where):
        line = line.split("#", 1)[0].strip()
        if not line:
            return
        w = line.split()
        k = w[0]
        if k == "sub":
            m = re.fullmatch(r"sub\s+/((?:[^/\\]|\\.)*)/((?:[^/\\]|\\.)*)/", line)
            if not m:
                raise SystemExit("%s: bad rule: %s" % (where, line))
            self.sub.append((re.compile(m.group(1)), m.group(2)))
            return
        rx = lambda s: re.compile(s)  # noqa: E731
        anyev = re.compile(".*")
        if k == "norm" and len(w) in (3, 4):
            self.norm.append((rx(w[1]), w[2], rx(w[3]) if len(w) == 4 else anyev))
        elif k in ("only-ovpn", "only-ref") and len(w) in (2, 3):
            self.only[k[5:]].append((rx(w[1]), rx(w[2]) if len(w) == 3 else anyev))
        elif k in ("event-only-ovpn", "event-only-ref") and len(w) in (2, 3):
            self.ev_only[k[11:]].append((rx(w[1]), rx(w[2]) if len(w) == 3 else None))
        elif k == "unordered" and len(w) in (2, 3):
            self.unordered.append((rx(w[1]), rx(w[2]) if len(w) == 3 else None))
        elif k == "float" and len(w) in (2, 3):
            self.float.append((rx(w[1]), rx(w[2]) if len(w) == 3 else None))
        elif k == "argv" and len(w) == 4:
            self.argv.append((rx(w[1]), int(w[2]), w[3]))
        else:
            raise SystemExit("%s: bad rule: %s" % (where, line))


def ev_match(pairs, rec):
    for ev_re, argv_re in pairs:
        if ev_re.fullmatch(rec["event"]) and (
            argv_re is None or argv_re.search(" ".join(rec["args"]))
        ):
            return True
    return False


def load(path, side, rules):
    out = []
    ctxmap = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError:
                raise SystemExit("%s:%d: not a record: %s" % (path, n, line[:80]))
            r["args"] = r["argv"][1:]  # what ARGV_RE sees: argv without the .so path
            if ev_match(rules.ev_only[side], r):
                continue
            who = r["who"]
            if r["ctx"]:
                m = ctxmap.setdefault(who, {})
                r["ctx"] = m.setdefault(r["ctx"], len(m) + 1)
            for rx_, rep in rules.sub:
                r["argv"] = [rx_.sub(rep, x) for x in r["argv"]]
                r["env"] = [rx_.sub(rep, x) for x in r["env"]]
            argv = list(r["argv"][1:])  # argv[0] is the .so path, different by design
            for ev_re, idx, kind in rules.argv:
                if ev_re.fullmatch(r["event"]) and idx < len(argv) + 1 and idx >= 1:
                    argv[idx - 1] = norm_value(kind, argv[idx - 1])
            env = {}
            for e in r["env"]:
                name, _, val = e.partition("=")
                env[name] = val
            r["argv"] = argv
            r["env"] = env
            r["src_line"] = n
            out.append(r)
    return out


def key(r):
    return "%s %s ctx=%d argv=%s -> %s" % (
        r["who"], r["event"], r["ctx"], json.dumps(r["argv"]), r["ret"])


def fkey(r):
    return "%s %s argv=%s -> %s" % (r["who"], r["event"], json.dumps(r["argv"]), r["ret"])


def sort_unordered(recs, rules):
    out, i = [], 0
    while i < len(recs):
        if ev_match(rules.unordered, recs[i]):
            j = i
            while j < len(recs) and ev_match(rules.unordered, recs[j]) and \
                    recs[j]["event"] == recs[i]["event"]:
                j += 1
            out.extend(sorted(recs[i:j], key=key))
            i = j
        else:
            out.append(recs[i])
            i += 1
    return out


def env_diff(a, b, rules):
    """Differences between refcore's env A and OpenVPN's env B of event EV."""
    ev = a["event"]
    diffs = []

    def allowed(side, name):
        return any(n.fullmatch(name) and e.fullmatch(ev) for n, e in rules.only[side])

    for name in sorted(set(a["env"]) | set(b["env"])):
        if name not in b["env"]:
            if not allowed("ref", name):
                diffs.append("  only refcore sets %s=%s" % (name, a["env"][name][:120]))
            continue
        if name not in a["env"]:
            if not allowed("ovpn", name):
                diffs.append("  only OpenVPN sets %s=%s" % (name, b["env"][name][:120]))
            continue
        va, vb = a["env"][name], b["env"][name]
        for n, kind, e in rules.norm:
            if n.fullmatch(name) and e.fullmatch(ev):
                va, vb = norm_value(kind, va), norm_value(kind, vb)
        if va != vb:
            diffs.append("  %s: refcore %r, OpenVPN %r" % (name, va[:160], vb[:160]))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accepted", required=True)
    ap.add_argument("--also", default="", help="more rules, separated by ';'")
    ap.add_argument("ref")
    ap.add_argument("ovpn")
    a = ap.parse_args()
    rules = Rules()
    with open(a.accepted) as f:
        for n, line in enumerate(f, 1):
            rules.add(line, "%s:%d" % (a.accepted, n))
    for part in a.also.split(";"):
        rules.add(part, "--also")
    ref = sort_unordered(load(a.ref, "ref", rules), rules)
    ovpn = sort_unordered(load(a.ovpn, "ovpn", rules), rules)
    fa = {fkey(r) for r in ref if ev_match(rules.float, r)}
    fb = {fkey(r) for r in ovpn if ev_match(rules.float, r)}
    ref = [r for r in ref if not ev_match(rules.float, r)]
    ovpn = [r for r in ovpn if not ev_match(rules.float, r)]
    if fa != fb:
        print("FAIL: the floating calls differ:")
        for k in sorted(fa - fb):
            print("  only refcore: " + k)
        for k in sorted(fb - fa):
            print("  only OpenVPN: " + k)
        return 1

    ka, kb = [key(r) for r in ref], [key(r) for r in ovpn]
    if ka != kb:
        import difflib
        print("FAIL: the event sequences differ (- refcore, + OpenVPN):")
        for line in difflib.unified_diff(ka, kb, "refcore", "openvpn", n=2, lineterm=""):
            print("  " + line)
        return 1
    bad = 0
    for x, y in zip(ref, ovpn):
        d = env_diff(x, y, rules)
        if d:
            bad += 1
            print("FAIL: env of %s (refcore line %d, OpenVPN line %d):" % (
                key(x), x["src_line"], y["src_line"]))
            print("\n".join(d))
    if bad:
        return 1
    print("ok: %d calls agree" % len(ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
