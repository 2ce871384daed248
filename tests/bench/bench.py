#!/usr/bin/env python3
"""bench.py: ovp's plugins side by side with what operators run today (issue 14).

    bench.py --build DIR --out DIR [--quick | --smoke] [--repeats N] [--only NAME,...]

DIR is a plain (optimised, no sanitizer) build tree with tests/bench built (pam_wait.la,
stall_shim.la). Every figure comes from the reference core's load mode (--poll fast) on
this machine, against real backends started here: slapd (tests/fixtures/slapd.sh) behind
tests/fixtures/delay_proxy.py, a real PAM stack (pam_unix on a throwaway account, with
pam_wait.so in front for latency) and pam_wrapper's pam_matrix. Writes DIR/report.md,
DIR/results.json and PNG plots (gnuplot). Root is needed for the real PAM stack (an
account and /etc/pam.d files named ovpbench-*, removed at exit); without root those
sections are skipped and the report says so. Standard library only.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
AUTH = 5          # OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY
LEARN = 8         # OPENVPN_PLUGIN_LEARN_ADDRESS
TYPE_NAMES = {5: "AUTH_USER_PASS_VERIFY", 6: "CLIENT_CONNECT", 7: "CLIENT_DISCONNECT",
              8: "LEARN_ADDRESS", 9: "CLIENT_CONNECT_V2", 14: "CLIENT_CONNECT_DEFER_V2"}
BUNDLED_PAM = "/usr/lib/openvpn/openvpn-plugin-auth-pam.so"
AUTH_LDAP_ANCHOR = "/usr/lib/openvpn/openvpn-auth-ldap.so"
PAM_WRAPPER_LIB = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so"
PAM_MATRIX = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so"
PW_PAM = "Bench-Pass-1"
LDAP_USER, LDAP_PW = "alice", "Alice-Pass-1"


def log(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile (as the core computes its own)."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def spread(values):
    """(min, median, max) of the repeats, NaN-free."""
    v = [x for x in values if x is not None and x == x]
    if not v:
        return None
    return (min(v), statistics.median(v), max(v))


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.out = os.path.abspath(a.out)
        os.makedirs(self.out, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="ovp-bench.")
        self.refcore = os.path.join(self.build, "tests/core/ovp-refcore")
        self.shim = os.path.join(self.build, "tests/bench/.libs/stall_shim.so")
        self.pam_wait = os.path.join(self.build, "tests/bench/.libs/pam_wait.so")
        self.plug = {
            "pam": self._link("auth-pam/.libs/ovp-auth-pam.so"),
            "ldap": self._link("auth-ldap/.libs/ovp-auth-ldap.so"),
            "ladb": self._link("learn-address-db/.libs/ovp-learn-address-db.so"),
            "http": self._link("auth-http/.libs/ovp-auth-http.so"),
        }
        self.procs = []
        self.slapd_dir = None
        self.accounts = []
        self.pamfiles = []
        self.results = {"sections": {}, "skipped": [], "notes": []}
        self.samples = {}        # plot data: name -> list of auth stalls (us)
        self.tag = "ovpbench-%d" % os.getpid()
        # a sanitized core (make check's build) needs its ASan runtime first in LD_PRELOAD,
        # and cannot run under valgrind
        ldd = subprocess.run(["ldd", self.refcore], capture_output=True, text=True).stdout
        m = re.search(r"(\S*libasan\S*) => (\S+)", ldd)
        self.asan = m.group(2) if m else None
        if a.smoke:
            self.scale = dict(n=5, n_sync=(5, 3, 2), curve=[2, 5], ladb=5, mem=1000, cycles=(2, 5),
                              cg=2, http=3, burst=100)
        elif a.quick:
            self.scale = dict(n=100, n_sync=(100, 20, 3), curve=[20, 50, 100], ladb=100,
                              mem=1000, cycles=(3, 100), cg=5, http=20, burst=5000)
        else:
            self.scale = dict(n=1000, n_sync=(1000, 150, 15), curve=[100, 300, 1000, 3000],
                              ladb=1000, mem=10000, cycles=(20, 1000), cg=10, http=100, burst=25000)
        self.repeats = a.repeats or (1 if a.smoke else (2 if a.quick else 3))

    # ------------------------------------------------------------------ fixtures
    def _link(self, rel):
        """The plugin through a short link: a plugin line must stay under 256 characters."""
        src = os.path.join(self.build, rel)
        if not os.path.exists(src):
            return None
        dst = os.path.join(self.work, os.path.basename(rel))
        os.symlink(src, dst)
        return dst

    def sh(self, script):
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True)

    def start_slapd(self):
        d = os.path.join(self.work, "slapd")
        r = self.sh(". '%s/tests/fixtures/slapd.sh'; slapd_setup '%s' && slapd_start '%s' "
                    "&& echo \"URL=$SLAPD_URL\"" % (SRC, d, d))
        m = re.search(r"URL=ldap://127.0.0.1:(\d+)", r.stdout)
        if not m:
            raise RuntimeError("slapd did not start: %s %s" % (r.stdout[-500:], r.stderr[-500:]))
        self.slapd_dir = d
        self.slapd_port = int(m.group(1))

    def proxy(self, target_port, delay_ms):
        pf = os.path.join(self.work, "proxy-%d-%s.port" % (target_port, delay_ms))
        p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/fixtures/delay_proxy.py"),
                              "--target", "127.0.0.1:%d" % target_port, "--delay-ms",
                              str(delay_ms), "--port-file", pf], stdout=subprocess.DEVNULL)
        self.procs.append(p)
        for _ in range(100):
            if os.path.exists(pf):
                return int(open(pf).read())
            time.sleep(0.05)
        raise RuntimeError("delay_proxy did not start")

    def account(self):
        """A throwaway system account with a cheap hash (as tests/e2e/lib.sh e2e_account)."""
        name = self.tag
        subprocess.run(["useradd", "--system", "-M", "-N", "-g", "nogroup", "-d", "/nonexistent",
                        "-s", "/usr/sbin/nologin", "-c", "ovp bench throwaway", name], check=True)
        self.accounts.append(name)
        subprocess.run(["chpasswd", "-c", "SHA512", "-s", "1000"], input="%s:%s\n" % (name, PW_PAM),
                       text=True, check=True)
        return name

    def pam_service(self, suffix, lines):
        name = "%s-%s" % (self.tag, suffix)
        path = "/etc/pam.d/" + name
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.pamfiles.append(path)
        return name

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.slapd_dir:
            self.sh(". '%s/tests/fixtures/slapd.sh'; slapd_stop '%s'" % (SRC, self.slapd_dir))
        for f in self.pamfiles:
            try:
                os.unlink(f)
            except OSError:
                pass
        for n in self.accounts:
            for _ in range(50):
                if subprocess.run(["userdel", n], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
        if not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("kept %s" % self.work)

    # ------------------------------------------------------------------ one core run
    def core(self, plugin, clients, user, password, env=None, opts=(), timeout=300,
             rss=False):
        """One load run; returns the core's JSON plus per-type stall samples (us)."""
        stf = os.path.join(self.work, "stall.txt")
        if os.path.exists(stf):
            os.unlink(stf)
        e = dict(os.environ)
        e.update(env or {})
        # the shim's dlsym cannot sit next to ASan's (it crashes at start): a sanitized
        # core (make check's smoke run) gives only its own JSON figures
        pre = ([self.asan] if self.asan else [self.shim]) + (
            [e["LD_PRELOAD"]] if e.get("LD_PRELOAD") else [])
        e["LD_PRELOAD"] = ":".join(pre)
        e["OVP_BENCH_STALL_FILE"] = stf
        cmd = [self.refcore, "--plugin"] + list(plugin) + ["--", "--clients", str(clients),
               "--username", user, "--password", password, "--poll", "fast", "--verb", "1",
               "--tmp-dir", self.tmpdir()] + list(opts)
        errf = open(os.path.join(self.work, "core.err"), "w")
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, env=e, text=True)
        hwm = 0
        if rss:
            while p.poll() is None:
                hwm = max(hwm, self.vm(p.pid, "VmHWM"))
                time.sleep(0.05)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        elapsed = time.monotonic() - t0
        errf.close()
        js = None
        for line in out.splitlines():
            if line.startswith("{"):
                js = json.loads(line)
        if js is None:
            tail = open(os.path.join(self.work, "core.err")).read()[-1500:]
            raise RuntimeError("no JSON from the core (exit %s): %s" % (p.returncode, tail))
        js["exit"] = p.returncode
        js["process_s"] = elapsed
        js["peak_rss_kb"] = hwm
        by_type, full = {}, {}
        js["close_ms"] = None
        if os.path.exists(stf):
            for line in open(stf):
                w = line.split()
                if w[0] == "CLOSE":
                    js["close_ms"] = int(w[1]) / 1e6
                    continue
                t = int(w[0])
                by_type.setdefault(t, []).append(int(w[1]) / 1000.0)
                # wall us, cpu us, voluntary, involuntary switches, start s
                full.setdefault(t, []).append((int(w[1]) / 1000.0, int(w[2]) / 1000.0,
                                               int(w[3]), int(w[4]), int(w[5]) / 1e9))
        js["by_type"] = by_type
        js["full"] = full
        return js

    def tmpdir(self):
        d = os.path.join(self.work, "tmp-%d" % time.monotonic_ns())
        os.mkdir(d)
        return d

    @staticmethod
    def vm(pid, key):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    # ------------------------------------------------------------------ auth runs
    def auth_case(self, section, name, plugin, clients, user, password, latency, env=None,
                  opts=(), extrapolate_to=None, keep_samples=False):
        """Repeats one auth configuration; records the spread of every figure."""
        runs = []
        for i in range(self.repeats):
            js = self.core(plugin, clients, user, password, env=env, opts=opts)
            auth = js["by_type"].get(AUTH, [])
            every = [x for v in js["by_type"].values() for x in v]
            fa = js["full"].get(AUTH, [])
            calm = [x[0] for x in fa if x[3] == 0]
            if not js["full"]:
                # no shim (a sanitized core): the core's own figures, all calls together
                auth = every = []
                js["by_type"] = {}
            runs.append({
                "auth_p50": pct(auth, 50) if auth else js["stall_us_p50"],
                "auth_p99": pct(auth, 99) if auth else js["stall_us_p99"],
                "auth_max": max(auth) if auth else js["stall_us_max"],
                "auth_p99_calm": pct(calm, 99), "auth_cpu_p99": pct([x[1] for x in fa], 99),
                "blocked_pct": 100.0 * sum(1 for x in fa if x[2]) / len(fa) if fa else None,
                "preempted_pct": 100.0 * sum(1 for x in fa if x[3]) / len(fa) if fa else None,
                "all_p99": pct(every, 99) if every else js["stall_us_p99"],
                "all_max": max(every) if every else js["stall_us_max"],
                "wall_s": js["wall_s"], "ok": js["authenticated"], "failed": js["failed"],
                "auths_s": js["authenticated"] / js["wall_s"] if js["wall_s"] else None,
                "resolve_p99_ms": js["resolve_ms_p99"], "exit": js["exit"],
                "deferred": js.get("deferred"),
            })
            if keep_samples and i == 0:
                self.samples[name] = auth
            log("%s %s: %d clients, %d ok, auth stall p50 %.1f us p99 %.1f us, wall %.3f s"
                % (section, name, clients, js["authenticated"], runs[-1]["auth_p50"],
                   runs[-1]["auth_p99"], js["wall_s"]))
        row = {"name": name, "clients": clients, "latency_ms": latency, "runs": runs}
        for k in runs[0]:
            row[k] = spread([r[k] for r in runs])
        if extrapolate_to and clients < extrapolate_to:
            w = row["wall_s"]
            row["wall_1000_s"] = tuple(x * extrapolate_to / clients for x in w) if w else None
            row["extrapolated"] = True
        else:
            row["wall_1000_s"] = row["wall_s"]
            row["extrapolated"] = False
        self.results["sections"].setdefault(section, []).append(row)
        return row

    # ------------------------------------------------------------------ sections
    def sec_pam(self):
        if os.geteuid() != 0:
            self.results["skipped"].append("real PAM stack (pam_unix): needs root for the "
                                           "throwaway account and /etc/pam.d")
            return
        if not self.plug["pam"]:
            self.results["skipped"].append("ovp-auth-pam: not built")
            return
        user = self.account()
        n = self.scale["n"]
        for i, lat in enumerate((0, 10, 100)):
            svc = self.pam_service("d%d" % lat, [
                "auth optional %s ms=%d" % (self.pam_wait, lat),
                "auth required pam_unix.so",
                "account required pam_unix.so"])
            keep = lat == 10
            self.auth_case("pam", "ovp-auth-pam", [self.plug["pam"], "per_user=1000000",
                           "per_address=1000000", "queue=100000", svc], n, user, PW_PAM, lat,
                           keep_samples=keep)
            self.auth_case("pam", "ovp-auth-pam workers=128", [self.plug["pam"], "workers=128",
                           "per_user=1000000", "per_address=1000000", "queue=100000", svc],
                           n, user, PW_PAM, lat)
            if os.path.exists(BUNDLED_PAM):
                ns = self.scale["n_sync"][i]
                self.auth_case("pam", "openvpn-plugin-auth-pam (sync)", [BUNDLED_PAM, svc], ns,
                               user, PW_PAM, lat, extrapolate_to=n, keep_samples=keep)
                self.auth_case("pam", "openvpn-plugin-auth-pam (deferred_auth_pam)",
                               [BUNDLED_PAM, svc], n, user, PW_PAM, lat,
                               opts=["--setenv", "deferred_auth_pam", "1"], keep_samples=keep)
        if not os.path.exists(BUNDLED_PAM):
            self.results["skipped"].append("anchor %s missing (apt-get install openvpn)"
                                           % BUNDLED_PAM)
        self.curve_pam = [user]

    def sec_pamwrap(self):
        if not (os.path.exists(PAM_WRAPPER_LIB) and os.path.exists(PAM_MATRIX)):
            self.results["skipped"].append("pam_wrapper: libpam-wrapper missing")
            return
        if not self.plug["pam"]:
            return
        d = os.path.join(self.work, "pamwrap.d")
        os.makedirs(d, exist_ok=True)
        passdb = os.path.join(self.work, "passdb")
        with open(passdb, "w") as f:
            f.write("benchuser:%s:benchsvc\n" % PW_PAM)
        with open(os.path.join(d, "benchsvc"), "w") as f:
            f.write("auth required %s passdb=%s\naccount required %s passdb=%s\n"
                    % (PAM_MATRIX, passdb, PAM_MATRIX, passdb))
        env = {"LD_PRELOAD": PAM_WRAPPER_LIB, "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": d,
               "PAM_WRAPPER_DISABLE_DEEPBIND": "1"}
        # pam_matrix loses a few transactions under load; with deferred_auth_pam those
        # clients wait for the whole hand-window: 10 s instead of 60 bounds the run
        hw = ["--hand-window", "10"]
        n = self.scale["n"]
        self.auth_case("pamwrap", "ovp-auth-pam", [self.plug["pam"], "per_user=1000000",
                       "per_address=1000000", "queue=100000", "benchsvc"], n, "benchuser",
                       PW_PAM, 0, env=env, opts=hw)
        if os.path.exists(BUNDLED_PAM):
            self.auth_case("pamwrap", "openvpn-plugin-auth-pam (sync)", [BUNDLED_PAM, "benchsvc"],
                           n, "benchuser", PW_PAM, 0, env=env, opts=hw)
            self.auth_case("pamwrap", "openvpn-plugin-auth-pam (deferred_auth_pam)",
                           [BUNDLED_PAM, "benchsvc"], n, "benchuser", PW_PAM, 0, env=env,
                           opts=["--setenv", "deferred_auth_pam", "1"] + hw)

    def ldap_conf(self, port, name, extra=(), anchor=False):
        f = os.path.join(self.work, name)
        lines = ["<LDAP>", '    URL "ldap://127.0.0.1:%d"' % port,
                 "    BindDN uid=svc,ou=Services,dc=example,dc=org", "    Password Svc-Pass-9",
                 "    Timeout 30"] + ["    " + x for x in extra]
        if anchor:
            lines.append("    TLSEnable no")
        else:
            # every bench client is one user from one address: the admission caps aside
            lines += ["    MaxPerAddress 1000000", "    MaxPerUser 1000000"]
        lines += ["</LDAP>", "<Authorization>", '    BaseDN "dc=example,dc=org"',
                  '    SearchFilter "(uid=%u)"']
        if anchor:
            lines.append("    RequireGroup false")
        lines.append("</Authorization>")
        with open(f, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(f, 0o600)
        return f

    def sec_ldap(self):
        if not self.plug["ldap"]:
            self.results["skipped"].append("ovp-auth-ldap: not built")
            return
        self.start_slapd()
        self.ldap_ports = {}
        n = self.scale["n"]
        for i, lat in enumerate((0, 10, 100)):
            port = self.proxy(self.slapd_port, lat)
            self.ldap_ports[lat] = port
            keep = lat == 10
            self.auth_case("ldap", "ovp-auth-ldap", [self.plug["ldap"],
                           self.ldap_conf(port, "ovp-%d.conf" % lat)], n, LDAP_USER, LDAP_PW,
                           lat, keep_samples=keep)
            self.auth_case("ldap", "ovp-auth-ldap BindConnections 64", [self.plug["ldap"],
                           self.ldap_conf(port, "ovp64-%d.conf" % lat, ["BindConnections 64"])],
                           n, LDAP_USER, LDAP_PW, lat)
            if os.path.exists(AUTH_LDAP_ANCHOR):
                ns = self.scale["n_sync"][i]
                self.auth_case("ldap", "openvpn-auth-ldap", [AUTH_LDAP_ANCHOR,
                               self.ldap_conf(port, "anchor-%d.conf" % lat, anchor=True)], ns,
                               LDAP_USER, LDAP_PW, lat, extrapolate_to=n, keep_samples=keep)
        if not os.path.exists(AUTH_LDAP_ANCHOR):
            self.results["skipped"].append("anchor openvpn-auth-ldap missing "
                                           "(apt-get install openvpn-auth-ldap)")

    def sec_curve(self):
        """Time until all clients are answered versus client count, backend 100 ms away."""
        rows = []
        for n in self.scale["curve"]:
            if self.plug["ldap"] and getattr(self, "ldap_ports", None):
                js = self.core([self.plug["ldap"], self.ldap_conf(
                    self.ldap_ports[100], "curve.conf", ["BindConnections 64"])], n, LDAP_USER,
                    LDAP_PW)
                rows.append(("ovp-auth-ldap BindConnections 64", n, js["wall_s"],
                             js["authenticated"]))
            if getattr(self, "curve_pam", None):
                svc = "%s-d100" % self.tag
                js = self.core([self.plug["pam"], "workers=128", "per_user=1000000",
                                "per_address=1000000", "queue=100000", svc], n,
                               self.curve_pam[0], PW_PAM)
                rows.append(("ovp-auth-pam workers=128", n, js["wall_s"], js["authenticated"]))
            log("curve: %d clients done" % n)
        self.results["curve"] = rows

    def sec_ladb(self):
        if not self.plug["ladb"]:
            self.results["skipped"].append("ovp-learn-address-db: not built")
            return
        n = self.scale["ladb"]
        runs, anchor = [], []
        for i in range(self.repeats):
            db = os.path.join(self.work, "ladb-%d.sqlite" % i)
            conf = os.path.join(self.work, "ladb-%d.conf" % i)
            with open(conf, "w") as f:
                f.write("Database %s\nInstance bench%d\nFlushInterval 100ms\n" % (db, i))
            js = self.core([self.plug["ladb"], conf], n, "u", "p")
            la = js["by_type"].get(LEARN, [])
            rows = self.sql(db, "SELECT count(*) FROM address_event") \
                if self.has_table(db, "address_event") else None
            runs.append({"p50": pct(la, 50), "p99": pct(la, 99), "max": max(la or [0]),
                         "events": len(la), "process_s": js["process_s"],
                         "events_s": len(la) / js["process_s"], "db_rows": rows,
                         "ok": js["authenticated"]})
            log("ladb ovp: %d learn-address calls, p50 %.1f us, %.0f events/s (lower bound)"
                % (len(la), runs[-1]["p50"], runs[-1]["events_s"]))
            anchor.append(self.ladb_script(len(la), i))
        burst = []
        k = self.scale["burst"]
        for i in range(self.repeats):
            db = os.path.join(self.work, "burst-%d.sqlite" % i)
            conf = os.path.join(self.work, "burst-%d.conf" % i)
            with open(conf, "w") as f:
                f.write("Database %s\nInstance burst%d\n" % (db, i))
            r = subprocess.run([os.path.join(self.build, "tests/bench/la_burst"), self.plug["ladb"],
                                conf, str(k)], capture_output=True, text=True)
            js = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
            if not js:
                raise RuntimeError("la_burst: %s" % r.stderr[-500:])
            js = js[0]
            js["db_rows"] = self.sql(db, "SELECT count(*) FROM address_event")
            burst.append(js)
            log("ladb burst: %d events, %.0f events/s into SQLite, %s rows"
                % (js["events"], js["events_s"], js["db_rows"]))
        self.results["ladb"] = {"clients": n, "ovp": runs, "anchor": anchor, "burst": burst}

    def ladb_script(self, events, i):
        """The anchor: a learn-address script running sqlite3(1) once per event."""
        db = os.path.join(self.work, "script-%d.sqlite" % i)
        subprocess.run(["sqlite3", db, "CREATE TABLE IF NOT EXISTS ev(t TEXT, op TEXT, addr TEXT,"
                        " cn TEXT); PRAGMA journal_mode=WAL;"], check=True, capture_output=True)
        script = os.path.join(self.work, "learn-address.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\n# learn-address OP ADDR [CN]: one row per event, as people do\n'
                    'exec sqlite3 "%s" "INSERT INTO ev VALUES(strftime(\'%%Y-%%m-%%d %%H:%%M:%%f\','
                    '\'now\'),\'$1\',\'$2\',\'$3\');"\n' % db)
        os.chmod(script, 0o755)
        times = []
        t0 = time.monotonic()
        for k in range(events):
            op = "add" if k < events // 2 else "delete"
            addr = "10.8.%d.%d" % ((k // 250) % 250, k % 250 + 2)
            s = time.monotonic()
            subprocess.run([script, op, addr, "client-%d" % k], check=True)
            times.append((time.monotonic() - s) * 1e6)
        total = time.monotonic() - t0
        return {"p50": pct(times, 50), "p99": pct(times, 99), "max": max(times or [0]),
                "events": events, "events_s": events / total if total else None,
                "db_rows": self.sql(db, "SELECT count(*) FROM ev")}

    def sql(self, db, q):
        r = subprocess.run(["sqlite3", db, q], capture_output=True, text=True)
        try:
            return int(r.stdout.strip())
        except ValueError:
            return None

    def has_table(self, db, t):
        r = subprocess.run(["sqlite3", db, ".tables"], capture_output=True, text=True)
        return t in r.stdout.split()

    def sec_memory(self):
        """Peak RSS with N auths in flight: a serve-mode core fed by N/1000 drivers at once
        (one driver keeps at most 1,024 handshakes open), the directory 100 ms away."""
        if not (self.plug["ldap"] and getattr(self, "ldap_ports", None)):
            return
        n = self.scale["mem"]
        conf = self.ldap_conf(self.ldap_ports[100], "mem.conf",
                              ["BindConnections 64", "Queue %d" % max(n + 1000, 4096)])
        drivers = max(1, n // 1000)
        peaks = []
        for _ in range(self.repeats):
            tmp = self.tmpdir()
            sock = os.path.join(tmp, "ctl.sock")
            p = subprocess.Popen([self.refcore, "--plugin", self.plug["ldap"], conf, "--",
                                  "--serve", "--poll", "fast", "--verb", "0", "--duplicate-cn",
                                  "--tmp-dir", tmp, "--listen", "unix:" + sock],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            p.stdout.readline()
            base = self.vm(p.pid, "VmRSS")
            t0 = time.monotonic()
            ds = [subprocess.Popen([self.refcore, "--drive", "unix:" + sock, "--clients",
                                    str(n // drivers), "--username", LDAP_USER, "--password",
                                    LDAP_PW, "--common-name", "m%d" % i],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                  for i in range(drivers)]
            hwm = pending = 0
            while any(d.poll() is None for d in ds):
                hwm = max(hwm, self.vm(p.pid, "VmHWM"))
                try:
                    pending = max(pending, sum(1 for x in os.listdir(tmp)
                                               if x.startswith("openvpn_acf_")))
                except OSError:
                    pass
                time.sleep(0.02)
            wall = time.monotonic() - t0
            ok = 0
            for d in ds:
                # a driver says nothing when every client connected, else how many did
                err = d.stderr.read()
                m = re.search(r"load driver: (\d+) connected", err)
                ok += (n // drivers) if d.returncode == 0 else (int(m.group(1)) if m else 0)
            hwm = max(hwm, self.vm(p.pid, "VmHWM"))
            p.send_signal(signal.SIGTERM)
            p.wait(60)
            peaks.append({"peak_rss_kb": hwm, "base_rss_kb": base, "ok": ok, "wall_s": wall,
                          "max_pending": pending})
            log("memory: %d clients, at most %d auths pending, peak RSS %d kB (idle %d kB)"
                % (n, pending, hwm, base))
        self.results["memory"] = {"clients": n, "drivers": drivers, "runs": peaks}
        self.results["cycles"] = self.rss_cycles()

    def rss_cycles(self):
        """RSS of one long-running core (serve mode) before and after many auth cycles."""
        batches, per = self.scale["cycles"]
        conf = self.ldap_conf(self.ldap_ports[0], "cycles.conf")
        tmp = self.tmpdir()
        sock = os.path.join(tmp, "ctl.sock")
        p = subprocess.Popen([self.refcore, "--plugin", self.plug["ldap"], conf, "--", "--serve",
                              "--poll", "fast", "--verb", "0", "--tmp-dir", tmp, "--listen",
                              "unix:" + sock], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        p.stdout.readline()
        rss = []
        try:
            for b in range(batches):
                r = subprocess.run([self.refcore, "--drive", "unix:" + sock, "--clients", str(per),
                                    "--username", LDAP_USER, "--password", LDAP_PW],
                                   capture_output=True, text=True)
                rss.append(self.vm(p.pid, "VmRSS"))
                if r.returncode != 0:
                    log("cycles: batch %d: drive exit %d" % (b, r.returncode))
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        log("cycles: %d x %d auths, RSS %s kB" % (batches, per, rss))
        return {"batches": batches, "per_batch": per, "rss_kb": rss}

    def sec_callgrind(self):
        if not shutil.which("valgrind"):
            self.results["skipped"].append("callgrind: valgrind missing")
            return
        if self.asan:
            self.results["skipped"].append("callgrind: the core is built with sanitizers")
            return
        n = self.scale["cg"]
        cases = []
        if getattr(self, "ldap_ports", None):
            cases.append(("ovp-auth-ldap", [self.plug["ldap"], self.ldap_conf(
                self.ldap_ports[0], "cg.conf")], LDAP_USER, LDAP_PW))
            if os.path.exists(AUTH_LDAP_ANCHOR):
                cases.append(("openvpn-auth-ldap", [AUTH_LDAP_ANCHOR, self.ldap_conf(
                    self.ldap_ports[0], "cga.conf", anchor=True)], LDAP_USER, LDAP_PW))
        if getattr(self, "curve_pam", None):
            svc = "%s-d0" % self.tag
            cases.append(("ovp-auth-pam", [self.plug["pam"], "per_user=1000000",
                          "per_address=1000000", svc], self.curve_pam[0], PW_PAM))
            if os.path.exists(BUNDLED_PAM):
                cases.append(("openvpn-plugin-auth-pam (sync)", [BUNDLED_PAM, svc],
                              self.curve_pam[0], PW_PAM))
        if self.plug["ladb"]:
            conf = os.path.join(self.work, "cg-ladb.conf")
            with open(conf, "w") as f:
                f.write("Database %s/cg.sqlite\nInstance cg\n" % self.work)
            cases.append(("ovp-learn-address-db", [self.plug["ladb"], conf], "u", "p"))
        rows = []
        for name, plugin, user, pw in cases:
            irs = []
            for i in range(self.repeats):
                d = self.tmpdir()
                cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=openvpn_plugin_func_v*",
                       "--callgrind-out-file=%s/cg.%%p" % d, self.refcore, "--plugin"] + plugin + [
                       "--", "--clients", str(n), "--username", user, "--password", pw,
                       "--poll", "fast", "--verb", "0", "--tmp-dir", self.tmpdir()]
                r = subprocess.run(cmd, capture_output=True, text=True)
                js = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
                total = 0
                for fn in os.listdir(d):
                    for line in open(os.path.join(d, fn)):
                        if line.startswith("totals:") or line.startswith("summary:"):
                            total = max(total, int(line.split()[1]))
                calls = js[0]["plugin_calls"] if js else 0
                irs.append((total / n, calls / n if n else 0))
            row = {"name": name, "clients": n, "ir_per_client": spread([x[0] for x in irs]),
                   "calls_per_client": irs[0][1]}
            rows.append(row)
            log("callgrind %s: %s Ir per client" % (name, row["ir_per_client"]))
        self.results["callgrind"] = rows

    def http_ok_port(self):
        """A trivial HTTP service on loopback that answers every POST with 204 (started once)."""
        if getattr(self, "_http_port", None):
            return self._http_port
        srv = os.path.join(self.work, "http_ok.py")
        with open(srv, "w") as f:
            f.write("import http.server, socketserver, sys\n"
                    "class H(http.server.BaseHTTPRequestHandler):\n"
                    "    protocol_version = 'HTTP/1.1'\n"
                    "    def do_POST(self):\n"
                    "        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
                    "        self.send_response(204); self.end_headers()\n"
                    "    def log_message(self, *a): pass\n"
                    "class S(http.server.ThreadingHTTPServer):\n"
                    "    request_queue_size = 4096\n"
                    "s = S(('127.0.0.1', 0), H)\n"
                    "print(s.server_address[1], flush=True)\n"
                    "s.serve_forever()\n")
        p = subprocess.Popen([sys.executable, srv], stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        self._http_port = int(p.stdout.readline())
        return self._http_port

    def sec_http(self):
        """ovp-auth-http against the trivial service, 0/10/100 ms away (delay_proxy)."""
        if not self.plug["http"]:
            self.results["skipped"].append("ovp-auth-http: not built")
            return
        port = self.http_ok_port()
        n = self.scale["n"]
        for lat in (0, 10, 100):
            pport = self.proxy(port, lat)
            # inline words (no secrets): the URL on loopback, room for every client at once
            self.auth_case("http", "ovp-auth-http", [
                self.plug["http"], "url=http://127.0.0.1:%d/auth" % pport,
                "maxinflight=%d" % max(256, 2 * n), "maxperaddress=1000000",
                "maxperuser=1000000", "timeout=30s"], n, "alice", "secret", lat,
                keep_samples=lat == 10)

    def sec_http_anchor(self):
        """The auth-http anchor: an auth-user-pass-verify script calling curl, per auth."""
        if not shutil.which("curl"):
            self.results["skipped"].append("auth-http anchor: curl missing")
            return
        port = self.http_ok_port()
        script = os.path.join(self.work, "auth-curl.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\n# auth-user-pass-verify via-file: $1 holds username and password\n'
                    '{ read -r u; read -r pw; } < "$1"\n'
                    'exec curl -fsS -o /dev/null --max-time 30 --data-urlencode "username=$u" '
                    '--data-urlencode "password=$pw" "http://127.0.0.1:$PORT/auth"\n')
        os.chmod(script, 0o755)
        cred = os.path.join(self.work, "cred")
        with open(cred, "w") as f:
            f.write("alice\nsecret\n")
        rows = []
        for lat in (0, 10, 100):
            pport = self.proxy(port, lat)
            n = max(2, self.scale["http"] // (1 if lat == 0 else (3 if lat == 10 else 10)))
            runs = []
            for _ in range(self.repeats):
                times = []
                for _ in range(n):
                    s = time.monotonic()
                    subprocess.run([script, cred], env=dict(os.environ, PORT=str(pport)),
                                   check=True)
                    times.append((time.monotonic() - s) * 1e6)
                runs.append({"p50": pct(times, 50), "p99": pct(times, 99), "max": max(times),
                             "auths_s": 1e6 / statistics.mean(times)})
            rows.append({"latency_ms": lat, "n": n,
                         **{k: spread([r[k] for r in runs]) for k in runs[0]}})
            log("http anchor %d ms: p50 %s us" % (lat, rows[-1]["p50"]))
        self.results["http_anchor"] = rows

    def sec_inline(self):
        """Item 4's cost: the auth call's stall with the inline wait off and at its maximum
        (10 ms), backends 0 ms away, N clients arriving at once: the worst case, where the
        wait is spent in full whenever the backend is busier than the wait."""
        n = self.scale["n"]
        waits = ("0", "10ms")
        if os.geteuid() == 0 and self.plug["pam"]:
            user = self.curve_pam[0] if getattr(self, "curve_pam", None) else self.account()
            svc = self.pam_service("inline", ["auth required pam_unix.so",
                                              "account required pam_unix.so"])
            for w in waits:
                self.auth_case("inline", "ovp-auth-pam inline_wait=%s" % w, [
                    self.plug["pam"], "inline_wait=%s" % w, "per_user=1000000",
                    "per_address=1000000", "queue=100000", svc], n, user, PW_PAM, 0)
        else:
            self.results["skipped"].append("inline wait, ovp-auth-pam: needs root (pam_unix) "
                                           "and the plugin")
        if self.plug["ldap"]:
            if not self.slapd_dir:
                self.start_slapd()
            for w in waits:
                self.auth_case("inline", "ovp-auth-ldap InlineWait %s" % w, [
                    self.plug["ldap"], self.ldap_conf(self.slapd_port, "inline-%s.conf" % w,
                                                      ["InlineWait %s" % w])],
                    n, LDAP_USER, LDAP_PW, 0)
        if self.plug["http"]:
            port = self.http_ok_port()
            for w in waits:
                self.auth_case("inline", "ovp-auth-http InlineWait %s" % w, [
                    self.plug["http"], "url=http://127.0.0.1:%d/auth" % port,
                    "maxinflight=%d" % max(256, 2 * n), "timeout=30s", "inlinewait=%s" % w],
                    n, "alice", "secret", 0)

    def sec_connect(self):
        """Item 4: a real OpenVPN server and client, time to Initialization Sequence
        Completed, per plugin (connect.sh, in network namespaces); with the stall shim
        preloaded into the server, the auth call's stall on OpenVPN's thread too."""
        if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("openvpn"):
            self.results["skipped"].append("real client connect time: needs root, /dev/net/tun "
                                           "and openvpn")
            return
        n = 1 if self.a.smoke else (3 if self.a.quick else 10)
        outf = os.path.join(self.work, "connect.txt")
        env = dict(os.environ)
        if not self.asan and os.path.exists(self.shim):
            env["OVP_BENCH_SHIM"] = self.shim
        r = subprocess.run(["bash", os.path.join(HERE, "connect.sh"), self.build, str(n), outf],
                           capture_output=True, text=True, timeout=1800, env=env)
        rows = {}
        fails = {}
        stalls = {}
        deferred = {}
        for line in open(outf) if os.path.exists(outf) else []:
            if line.startswith("STALL "):
                name, _, v = line[6:].strip().rpartition(" ")
                stalls.setdefault(name, []).append(float(v))
                continue
            if line.startswith("DEFERRED "):
                name, _, v = line[9:].strip().rpartition(" ")
                deferred[name] = int(v)
                continue
            name, _, v = line.strip().rpartition(" ")
            if " FAIL" in line:
                name = line.split(" FAIL")[0]
                fails[name] = fails.get(name, 0) + 1
                log("connect %s failed:%s" % (name, line.split(" FAIL", 1)[1].rstrip()))
                continue
            rows.setdefault(name, []).append(int(v))
        if r.returncode != 0:
            log("connect.sh exited %d: %s" % (r.returncode, r.stdout[-300:] + r.stderr[-300:]))
        self.results["connect"] = [
            {"name": k, "n": len(v), "ms": spread(v), "fail": fails.get(k, 0),
             "stall_us": ((pct(stalls[k], 50), pct(stalls[k], 99), max(stalls[k]))
                          if stalls.get(k) else None),
             "stall_n": len(stalls.get(k, [])), "deferred": deferred.get(k)}
            for k, v in rows.items()]
        for k, v in rows.items():
            log("connect %s: %s ms, auth stall %s us, deferred %s" % (
                k, spread(v), spread(stalls[k]) if stalls.get(k) else "-", deferred.get(k)))

    # ------------------------------------------------------------------ run
    def run(self):
        only = set(self.a.only.split(",")) if self.a.only else None
        self.results["machine"] = machine()
        t0 = time.monotonic()
        for name in ("pam", "pamwrap", "ldap", "curve", "ladb", "memory", "callgrind",
                     "http", "http_anchor", "inline", "connect"):
            if only and name not in only:
                continue
            s = time.monotonic()
            try:
                getattr(self, "sec_" + name)()
            except Exception as e:     # a broken section is reported, the others still run
                log("section %s failed: %s" % (name, e))
                self.results["skipped"].append("%s: failed: %s" % (name, e))
            self.results.setdefault("section_s", {})[name] = time.monotonic() - s
            log("section %s: %.1f s" % (name, time.monotonic() - s))
        self.results["total_s"] = time.monotonic() - t0
        self.results["machine"]["load_after"] = open("/proc/loadavg").read().split()[:3]
        self.results["scale"] = self.scale
        self.results["repeats"] = self.repeats
        self.results["mode"] = "smoke" if self.a.smoke else ("quick" if self.a.quick else "full")
        old = os.path.join(self.out, "results.json")
        if self.a.merge and os.path.exists(old):
            # --only S --merge: the sections run now replace theirs in the earlier results
            prev = json.load(open(old))
            res, samples = prev["results"], prev.get("samples", {})
            res["sections"].update(self.results["sections"])
            for k in ("http_anchor", "curve", "ladb", "memory", "callgrind", "connect"):
                if k in self.results:
                    res[k] = self.results[k]
            res["skipped"] = sorted(set(res.get("skipped", []) + self.results["skipped"]))
            res.setdefault("section_s", {}).update(self.results.get("section_s", {}))
            res.setdefault("notes", []).append(
                "sections %s rerun on %s (load after: %s)" % (
                    ",".join(sorted(only or [])), time.strftime("%Y-%m-%d %H:%M UTC",
                                                                time.gmtime()),
                    " ".join(self.results["machine"]["load_after"])))
            samples.update(self.samples)
            self.results, self.samples = res, samples
        with open(old, "w") as f:
            json.dump({"results": self.results, "samples": self.samples}, f, indent=1,
                      default=list)


def machine():
    m = {"kernel": platform.release(), "python": platform.python_version()}
    try:
        cpu = [l for l in open("/proc/cpuinfo") if l.startswith("model name")]
        m["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else "?"
        m["cpus"] = os.cpu_count()
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")]
        m["mem"] = mem[0].split(":", 1)[1].strip()
        m["load_before"] = open("/proc/loadavg").read().split()[:3]
        m["os"] = [l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release")
                   if l.startswith("PRETTY_NAME=")][0]
    except (OSError, IndexError):
        pass
    for pkg in ("openvpn", "openvpn-auth-ldap", "slapd", "libpam-wrapper", "valgrind"):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True)
        m["pkg_" + pkg] = r.stdout.strip() or "absent"
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--only")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--merge", action="store_true",
                    help="with --only: keep the other sections of OUT/results.json")
    a = ap.parse_args()
    b = Bench(a)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        b.run()
    finally:
        b.cleanup()
    import report
    report.write(a.out)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
