#!/usr/bin/env python3
"""report.py: doc/bench/report.md and its PNG plots from bench.py's results.json.

    report.py DIR      (DIR holds results.json; report.md and *.png are written there)
"""
import json
import os
import shutil
import subprocess
import sys
import time


def f(t, fmt="%.1f"):
    """A (min, median, max) spread as 'median (min–max)'."""
    if t is None:
        return "–"
    if isinstance(t, (int, float)):
        return fmt % t
    lo, med, hi = t
    if lo == hi:
        return fmt % med
    return "%s (%s–%s)" % (fmt % med, fmt % lo, fmt % hi)


def med(t):
    """The median of a spread; NaN when there is none (so comparisons stay false)."""
    if t is None:
        return float("nan")
    return t if isinstance(t, (int, float)) else t[1]


def worst_of(rows, key):
    """The row whose median KEY is largest (rows without the figure last)."""
    return max(rows, key=lambda r: med(r.get(key)) if med(r.get(key)) == med(r.get(key))
               else float("-inf"))


def ratio(a, b):
    if a is None or b is None or not b or a != a or b != b:
        return "–"
    r = a / b
    return ("%.0fx" if r >= 100 else "%.1fx") % r


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def auth_table(rows, n):
    body = []
    for r in rows:
        wall = f(r["wall_s"], "%.3f")
        w1000 = f(r["wall_1000_s"], "%.2f")
        if r.get("extrapolated"):
            w1000 += " (extrapolated from %d)" % r["clients"]
        body.append([r["latency_ms"], r["name"], r["clients"], f(r["auth_p50"]), f(r["auth_p99"]),
                     f(r["auth_max"], "%.0f"), f(r.get("auth_p99_calm")), f(r.get("auth_cpu_p99")),
                     f(r.get("blocked_pct"), "%.0f"), f(r.get("preempted_pct"), "%.0f"),
                     f(r["all_p99"]), wall, w1000, f(r["auths_s"], "%.0f"),
                     f(r["failed"], "%d")])
    return table(["backend ms", "plugin", "clients", "auth stall p50 µs", "auth stall p99 µs",
                  "auth stall max µs", "p99 of calls not preempted µs", "CPU in call p99 µs",
                  "calls that blocked %", "calls preempted %", "all calls p99 µs",
                  "all answered s", "%d answered s" % n, "auths/s", "failed"], body)


def ratio_table(rows, ours, anchors):
    body = []
    for lat in (0, 10, 100):
        o = [r for r in rows if r["name"] == ours and r["latency_ms"] == lat]
        if not o:
            continue
        o = o[0]
        for an in anchors:
            a = [r for r in rows if r["name"] == an and r["latency_ms"] == lat]
            if not a:
                continue
            a = a[0]
            body.append([lat, an, ratio(med(a["auth_p99"]), med(o["auth_p99"])),
                         ratio(med(a["wall_1000_s"]), med(o["wall_1000_s"])),
                         ratio(med(o["auths_s"]), med(a["auths_s"]))])
    return table(["backend ms", "anchor", "p99 stall: anchor / ovp",
                  "time to answer all: anchor / ovp", "auths/s: ovp / anchor"], body)


def plots(d, data):
    if not shutil.which("gnuplot"):
        return ["(gnuplot missing: no plots)"]
    made = []
    samples = data.get("samples", {})
    res = data["results"]
    for group, names in (("pam", [n for n in samples if "pam" in n]),
                         ("ldap", [n for n in samples if "ldap" in n])):
        names = [n for n in names if samples[n]]
        if not names:
            continue
        files = []
        for i, n in enumerate(names):
            fn = os.path.join(d, ".cdf-%s-%d.dat" % (group, i))
            v = sorted(samples[n])
            with open(fn, "w") as fh:
                for k, x in enumerate(v):
                    fh.write("%g %g\n" % (max(x, 0.01), (k + 1) / len(v)))
            files.append((fn, n))
        png = "stall-%s.png" % group
        gp = ["set terminal pngcairo noenhanced size 900,500", "set output '%s'" % os.path.join(d, png),
              "set logscale x", "set xlabel 'main-thread stall per auth call (µs, log)'",
              "set ylabel 'fraction of calls'", "set yrange [0:1]", "set key bottom right", "set grid",
              "set title 'auth-%s: stall per auth call, backend 10 ms away'" % group,
              "plot " + ", ".join("'%s' using 1:2 with steps lw 2 title '%s'" % (fn, n)
                                   for fn, n in files)]
        if subprocess.run(["gnuplot"], input="\n".join(gp), text=True).returncode == 0:
            made.append(png)
        for fn, _ in files:
            os.unlink(fn)
    curve = res.get("curve") or []
    if curve:
        names = sorted(set(r[0] for r in curve))
        files = []
        for i, n in enumerate(names):
            fn = os.path.join(d, ".curve-%d.dat" % i)
            with open(fn, "w") as fh:
                for r in sorted((r for r in curve if r[0] == n), key=lambda r: r[1]):
                    fh.write("%d %g\n" % (r[1], r[2]))
            files.append((fn, n))
        # a synchronous plugin answers one client per backend round trip or more
        gp = ["set terminal pngcairo noenhanced size 900,500",
              "set output '%s'" % os.path.join(d, "answer-vs-clients.png"),
              "set logscale xy", "set autoscale xfix", "set xlabel 'clients arriving at once'",
              "set ylabel 'time until all are answered (s, log)'", "set key top left",
              "set grid", "set title 'time to answer everyone, backend 100 ms away'",
              "plot " + ", ".join("'%s' using 1:2 with linespoints lw 2 title '%s'" % (fn, n)
                                   for fn, n in files)
              + ", x*0.1 with lines dt 2 title 'any synchronous plugin (>= 100 ms per client)'"
              + ", 1.5 with lines dt 3 title 'target 1.5 s'"]
        if subprocess.run(["gnuplot"], input="\n".join(gp), text=True).returncode == 0:
            made.append("answer-vs-clients.png")
        for fn, _ in files:
            os.unlink(fn)
    return made


def targets(res):
    """(target, figure, met) rows; the figures are medians over the repeats."""
    out = []
    for sec, plugin in (("pam", "ovp-auth-pam"), ("ldap", "ovp-auth-ldap"),
                        ("http", "ovp-auth-http")):
        rows = [r for r in res["sections"].get(sec, []) if r["name"].startswith(plugin)]
        if not rows:
            continue
        worst = worst_of(rows, "auth_p99")
        out.append(("%s: auth-call p99 ≤ 100 µs at 0/10/100 ms" % plugin,
                    "worst %.1f µs (%s, %d ms)" % (med(worst["auth_p99"]), worst["name"],
                                                   worst["latency_ms"]),
                    med(worst["auth_p99"]) <= 100))
        worst = worst_of(rows, "auth_p99_calm")
        out.append(("%s: the same, calls the machine did not preempt" % plugin,
                    "worst %.1f µs (%s, %d ms)" % (med(worst.get("auth_p99_calm")), worst["name"],
                                                   worst["latency_ms"]),
                    med(worst.get("auth_p99_calm")) <= 100))
        worst = worst_of(rows, "all_p99")
        out.append(("%s: every call's p99 ≤ 100 µs" % plugin,
                    "worst %.1f µs (%s, %d ms)" % (med(worst["all_p99"]), worst["name"],
                                                   worst["latency_ms"]),
                    med(worst["all_p99"]) <= 100))
        if sec == "http":
            worst = worst_of(rows, "auth_p50")
            out.append(("ovp-auth-http: auth-call p50 ≤ 20 µs",
                        "worst %.1f µs (%s, %d ms)" % (med(worst["auth_p50"]), worst["name"],
                                                       worst["latency_ms"]),
                        med(worst["auth_p50"]) <= 20))
            o = [r for r in rows if r["latency_ms"] == 0]
            if o:
                x = med(o[0]["auths_s"])
                out.append(("ovp-auth-http: ≥ 5,000 auths/s against a local service",
                            "%.0f auths/s (%d clients at once)" % (x, o[0]["clients"]),
                            x >= 5000))
        if sec == "ldap":
            worst = worst_of(rows, "auth_p50")
            out.append(("ovp-auth-ldap: auth-call p50 ≤ 20 µs",
                        "worst %.1f µs (%s, %d ms)" % (med(worst["auth_p50"]), worst["name"],
                                                       worst["latency_ms"]),
                        med(worst["auth_p50"]) <= 20))
        for r in rows:
            if r["latency_ms"] == 100 and r["clients"] >= 1000:
                out.append(("%s: 1,000 clients answered ≤ 1.5 s at 100 ms" % r["name"],
                            "%.2f s" % med(r["wall_s"]), med(r["wall_s"]) <= 1.5))
        if sec == "ldap":
            o = [r for r in rows if r["name"] == "ovp-auth-ldap" and r["latency_ms"] == 0]
            a = [r for r in res["sections"]["ldap"] if r["name"] == "openvpn-auth-ldap"
                 and r["latency_ms"] == 0]
            if o and a:
                x = med(o[0]["auths_s"]) / med(a[0]["auths_s"])
                out.append(("ovp-auth-ldap ≥ 2x openvpn-auth-ldap auths/s (backend 0 ms)",
                            "%.0f vs %.0f auths/s: %.1fx" % (med(o[0]["auths_s"]),
                                                            med(a[0]["auths_s"]), x), x >= 2))
    la = res.get("ladb")
    if la and la["ovp"]:
        p50 = sorted(r["p50"] for r in la["ovp"])[len(la["ovp"]) // 2]
        out.append(("ovp-learn-address-db: p50 ≤ 10 µs", "%.1f µs" % p50, p50 <= 10))
        if la.get("burst"):
            eps = sorted(r["events_s"] for r in la["burst"])[len(la["burst"]) // 2]
            out.append(("ovp-learn-address-db: ≥ 50,000 events/s",
                        "%.0f events/s into SQLite (la_burst, final flush included)" % eps,
                        eps >= 50000))
    return out


def soak_section(d):
    """The soak (tests/bench/soak.sh): RSS over many cycles on the optimised build
    (soak-rss.json) and the sanitizer soak (soak-asan.json), when DIR holds them."""
    rss_f, asan_f = os.path.join(d, "soak-rss.json"), os.path.join(d, "soak-asan.json")
    if not (os.path.exists(rss_f) or os.path.exists(asan_f)):
        return []
    L = ["\n## Memory over many auth cycles, and the sanitizer soak\n"]
    L.append("tests/bench/soak.sh: one core in serve mode hosts the plugin for the whole run; "
             "ovp-refcore's driver (`--drive`) brings the clients in batches (of each batch "
             "a tenth with a wrong password, each of those must be refused; every other "
             "client must be connected); the core is reloaded (SIGHUP: the plugin closed "
             "and opened again in the same process) after half the batches. Every answer is "
             "counted twice: by the drivers and by the plugin's own log line per answer. "
             "RSS (VmRSS) of the core after every batch. Backends on the same machine: "
             "tests/fixtures/http_service.py (request log off), slapd "
             "(tests/fixtures/slapd.sh), PAM under pam_wrapper + pam_matrix.\n")
    if os.path.exists(rss_f):
        s = json.load(open(rss_f))
        for r in s["runs"]:
            rss = r["rss_kb"]
            n = len(rss)
            per = s["batch"]
            half = n // 2
            L.append("\n### RSS over %s auth cycles: ovp-auth-%s, optimised build\n"
                     % ("{:,}".format(r["cycles"]), r["plugin"]))
            if r.get("cycles_asked", r["cycles"]) > r["cycles"]:
                L.append("%s cycles were asked for; at the rate of the first batches they "
                         "would have taken longer than the run's time limit, so it ran as "
                         "many as fit.\n" % "{:,}".format(r["cycles_asked"]))
            L.append("`%s` (%s, `%s`), %s; load average after: %s. %s cycles in %.0f s "
                     "(%d cycles/s, the reload's pause included); %d connected, %d refused, "
                     "%d answered otherwise; the plugin logged %d successes and %d "
                     "refusals; opened %d times.\n"
                     % (s.get("command", "tests/bench/soak.sh"), s["build"],
                        "CFLAGS=-O2 -g", s["machine"], s["load_after"],
                        "{:,}".format(r["cycles"]), r["seconds"], r["cycles_per_s"],
                        r["connected"] + r.get("driven_again", 0), r["refused"],
                        r["unexpected"], r["plugin_said_succeeded"],
                        r["plugin_said_failed"], r["plugin_opens"]))
            L.append("RSS of the core: idle (plugin open, no client yet) %d kB; after the "
                     "first batch %d kB; after the last %d kB. Over the second half (after "
                     "the reload, %s cycles): %d -> %d kB, %+.1f kB per 100,000 cycles; "
                     "highest sample %d kB.\n"
                     % (r["rss_idle_kb"], rss[0], rss[-1], "{:,}".format((n - half) * per),
                        rss[half], rss[-1],
                        (rss[-1] - rss[half]) * 100000.0 / max(1, (n - 1 - half) * per),
                        max(rss)))
            step = max(1, n // 20)
            idx = sorted(set(list(range(step - 1, n, step)) + [0, half - 1, half, n - 1]))
            L.append(table(["after cycles", "core RSS kB"],
                           [["{:,}".format((i + 1) * per), rss[i]] for i in idx if 0 <= i < n]))
    if os.path.exists(asan_f):
        s = json.load(open(asan_f))
        L.append("\n### Under AddressSanitizer and UndefinedBehaviorSanitizer\n")
        L.append("`%s` (%s: `configure --enable-sanitizers`), %s, %s; load average after: "
                 "%s. `detect_leaks=1` in every process (the core, every driver, auth-pam's "
                 "root helper), reports written to files and counted: a leak is "
                 "LeakSanitizer's report at an exit (the core's at SIGTERM after the "
                 "run); any report fails the run. pam_wrapper's own allocations at load "
                 "are suppressed (tests/core/lsan.supp). *pam_wrapper races*: a client "
                 "refused because pam_wrapper's copy of the PAM services raced (the test "
                 "tool's, tests/private_tmp.sh) is driven again and counted; each must "
                 "match a logged race (such a transaction also leaves one of pam_wrapper's "
                 "62 /tmp/pam.X names taken, so soak.sh frees those between batches).\n"
                 % (s.get("command", "tests/bench/soak.sh"), s["build"], s["date"],
                    s["machine"], s["load_after"]))
        L.append(table(["plugin", "cycles", "connected", "refused", "answered otherwise",
                        "pam_wrapper races (driven again)", "reloads", "leak reports",
                        "other sanitizer reports", "core exit", "s", "cycles/s"],
                       [["ovp-auth-" + r["plugin"], "{:,}".format(r["cycles"]),
                         r["connected"] + r.get("driven_again", 0), r["refused"],
                         r["unexpected"],
                         "%d (%d)" % (r.get("pamwrap_races", 0), r.get("driven_again", 0)),
                         r["reloads"], r["leak_reports"], r["sanitizer_errors"],
                         r["core_exit"], "%.0f" % r["seconds"], r["cycles_per_s"]]
                        for r in s["runs"]]))
    return L


def write(d):
    data = json.load(open(os.path.join(d, "results.json")))
    res = data["results"]
    m = res.get("machine", {})
    pngs = plots(d, data)
    L = []
    L.append("# ovp benchmarks: side by side with what operators run today\n")
    L.append("Drawn on %s UTC from the results of `scripts/ovp-dev bench%s` (tests/bench/bench.py; "
             "sections rerun with `--only ... --merge` are from later runs than the rest), "
             "%s mode, each figure run %d times: a cell reads *median (min–max)* over the repeats. "
             "The whole first run took %.0f s.\n"
             % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                " --quick" if res.get("mode") == "quick" else "", res.get("mode"),
                res.get("repeats", 1), res.get("total_s", 0)))
    L.append("**Machine**: %s, %s CPUs, %s RAM, %s, kernel %s; OpenVPN %s, openvpn-auth-ldap %s, "
             "slapd %s, valgrind %s. Load average (1, 5, 15 min) before the run: %s; at its "
             "end: %s (the benchmark's own processes included).\n"
             % (m.get("cpu"), m.get("cpus"), m.get("mem"), m.get("os"), m.get("kernel"),
                m.get("pkg_openvpn"), m.get("pkg_openvpn-auth-ldap"), m.get("pkg_slapd"),
                m.get("pkg_valgrind"), " ".join(m.get("load_before", ["not recorded"])),
                " ".join(m.get("load_after", ["not recorded"]))))
    try:
        load = float((m.get("load_before") or m.get("load_after") or ["0"])[0])
    except ValueError:
        load = 0.0
    if load > 0.5:
        L.append("> **This run was taken on a loaded machine** (load average %.1f on %s CPUs: "
                 "other builds and test suites were running). Timings "
                 "(stalls, answer times, throughput) are noisy and pessimistic; the spreads "
                 "show how much. Instruction counts (callgrind), CPU time inside a call and "
                 "whether a call blocked do not depend on the load. Rerun on a quiet machine "
                 "with `scripts/ovp-dev bench`.\n" % (load, m.get("cpus")))
    L.append("## How it is measured\n")
    L.append("- Every figure comes from the reference core (tests/core/ovp-refcore) in its load "
             "mode with `--poll fast`: N clients arrive at once and go through OpenVPN 2.6's "
             "whole control path. The *stall* is the time spent inside a plugin call on the "
             "core's one thread (while it runs, every other client of a real server waits); "
             "tests/bench/stall_shim.so (preloaded) records every call by event type, so the "
             "auth call is told from the plugin's other calls. *All answered* is first HELLO "
             "to the last answer. *auths/s* = clients authenticated / all answered.\n"
             "- Backends on this machine: slapd (tests/fixtures/slapd.sh) behind "
             "tests/fixtures/delay_proxy.py, which adds the latency to every round trip "
             "(half each way; the kernel here has no netem); real PAM: pam_unix on a "
             "throwaway account (SHA-512, 1000 rounds) with tests/bench/pam_wait.so "
             "(sleeps N ms) in front; pam_wrapper's pam_matrix for comparison.\n"
             "- The synchronous anchors answer one client per backend round trip, so at 10 "
             "and 100 ms they are run with fewer clients, and their time for 1,000 is "
             "extrapolated (linear: they serve one client at a time; marked).\n"
             "- Anchors: OpenVPN's bundled openvpn-plugin-auth-pam, synchronous and with "
             "`setenv deferred_auth_pam 1` (the core's `--setenv`, passed in every call's "
             "env as OpenVPN does); Debian's openvpn-auth-ldap (v1 API, synchronous); a "
             "learn-address script running sqlite3(1) per event; an auth-user-pass-verify "
             "script running curl.\n")
    L.append("Scale: %s.\n" % json.dumps(res.get("scale")))

    L.append("## Targets\n")
    rows = [[t, fig, "met" if ok else "**MISSED**"] for t, fig, ok in targets(res)]
    L.append(table(["target", "measured (median)", ""], rows))

    sec = res["sections"]
    if sec.get("pam"):
        L.append("## auth-pam, real PAM stack (pam_unix + pam_wait)\n")
        L.append(auth_table(sec["pam"], res["scale"]["n"]))
        L.append("\nRatios (medians):\n\n")
        L.append(ratio_table(sec["pam"], "ovp-auth-pam", ["openvpn-plugin-auth-pam (sync)",
                             "openvpn-plugin-auth-pam (deferred_auth_pam)"]))
        L.append(ratio_table(sec["pam"], "ovp-auth-pam workers=128",
                             ["openvpn-plugin-auth-pam (sync)",
                              "openvpn-plugin-auth-pam (deferred_auth_pam)"]).replace(
                                  "| backend ms |", "| backend ms (ovp workers=128) |", 1))
    if sec.get("pamwrap"):
        L.append("\n## auth-pam under pam_wrapper (pam_matrix), backend 0 ms\n")
        L.append("The *failed* column counts pam_matrix's refusals of right passwords under "
                 "concurrency (a real stack has none), for each plugin. A transaction "
                 "pam_wrapper loses under `deferred_auth_pam` is never answered: that client "
                 "waits for the hand-window (60 s in runs before it was set to 10 s here), "
                 "which is what *all answered* then shows.\n\n")
        L.append(auth_table(sec["pamwrap"], res["scale"]["n"]))
    if sec.get("ldap"):
        L.append("\n## auth-ldap against slapd\n")
        L.append(auth_table(sec["ldap"], res["scale"]["n"]))
        L.append("\nRatios (medians):\n\n")
        L.append(ratio_table(sec["ldap"], "ovp-auth-ldap", ["openvpn-auth-ldap"]))
        L.append(ratio_table(sec["ldap"], "ovp-auth-ldap BindConnections 64",
                             ["openvpn-auth-ldap"]).replace(
                                 "| backend ms |", "| backend ms (ovp BindConnections 64) |", 1))
    for p in pngs:
        if p.startswith("stall-"):
            L.append("\n![%s](%s)\n" % (p, p))
    if res.get("curve"):
        L.append("\n## Time to answer versus client count (backend 100 ms away, one run each)\n")
        L.append(table(["plugin", "clients", "all answered s", "authenticated"],
                       [[r[0], r[1], "%.3f" % r[2], r[3]] for r in res["curve"]]))
        if "answer-vs-clients.png" in pngs:
            L.append("\n![time to answer](answer-vs-clients.png)\n")

    L.append("\n## auth-http against a trivial HTTP service\n")
    L.append("The service (Python's ThreadingHTTPServer, HTTP/1.1) answers every POST with "
             "204 (allow, no body), behind delay_proxy. The anchor cannot be hosted by the core (it runs no "
             "scripts, tests/core/README.md), so the script is run per auth the same way "
             "OpenVPN runs a synchronous auth-user-pass-verify script (fork, exec, wait): its "
             "run time is the main-thread stall, and one auth at a time is all a synchronous "
             "script allows.\n\n")
    if sec.get("http"):
        L.append(auth_table(sec["http"], res["scale"]["n"]))
        L.append("\n")
    if res.get("http_anchor"):
        L.append(table(["backend ms", "anchor", "auths", "stall per auth p50 µs", "p99 µs",
                        "max µs", "auths/s (one at a time)"],
                       [[r["latency_ms"], "auth-user-pass-verify script + curl", r["n"],
                         f(r["p50"], "%.0f"), f(r["p99"], "%.0f"), f(r["max"], "%.0f"),
                         f(r["auths_s"], "%.0f")] for r in res["http_anchor"]]))

    if sec.get("inline"):
        L.append("\n## The inline wait under a burst (backends 0 ms away)\n")
        L.append("The cost side of `inline_wait` / `InlineWait` (off, and at its maximum of "
                 "10 ms): N clients arrive at once at the reference core, as in the sections "
                 "above (pam_unix on the throwaway account; slapd without delay_proxy; the "
                 "trivial HTTP service). While the auth call waits, the core's one thread "
                 "waits, so under a burst the backend is busy and many calls spend the whole "
                 "wait: this is the worst case of the stall, and what it does to the time to "
                 "answer everyone. *inline* counts the auth calls answered within the wait "
                 "(the rest returned DEFERRED).\n\n")
        body = []
        for r in sec["inline"]:
            dfr = r.get("deferred")
            inl = (f(tuple(r["clients"] - x for x in reversed(dfr)), "%.0f")
                   if isinstance(dfr, (list, tuple)) and None not in dfr else "–")
            body.append([r["name"], r["clients"], inl, f(r["auth_p50"]), f(r["auth_p99"]),
                         f(r["auth_max"], "%.0f"), f(r["wall_s"], "%.3f"),
                         f(r["auths_s"], "%.0f"), f(r["failed"], "%d")])
        L.append(table(["plugin", "clients", "inline", "auth stall p50 µs", "auth stall p99 µs",
                        "auth stall max µs", "all answered s", "auths/s", "failed"], body))

    la = res.get("ladb")
    if la:
        L.append("\n## learn-address-db\n")
        L.append("%d clients through the core: each brings 2 learn-address adds (IPv4, IPv6) "
                 "and 2 deletes. *events/s* for ovp is learn-address calls / the core's whole "
                 "run (handshakes, close and the final flush included): a lower bound set by "
                 "how fast the core makes events, not by the plugin's writer. The anchor "
                 "script is run as many times, one after the other, as OpenVPN runs it "
                 "(synchronously); its run time is the main-thread stall.\n\n" % la["clients"])

        def sp(runs, k, fmt="%.1f"):
            return f(tuple(sorted(r[k] for r in runs)[i] for i in (0, len(runs) // 2, -1)),
                     fmt) if runs and runs[0].get(k) is not None else "–"
        L.append(table(["", "events", "stall p50 µs", "p99 µs", "max µs", "events/s", "rows in DB"],
                       [["ovp-learn-address-db", sp(la["ovp"], "events", "%d"),
                         sp(la["ovp"], "p50"), sp(la["ovp"], "p99"), sp(la["ovp"], "max", "%.0f"),
                         sp(la["ovp"], "events_s", "%.0f"), sp(la["ovp"], "db_rows", "%d")],
                        ["script + sqlite3", sp(la["anchor"], "events", "%d"),
                         sp(la["anchor"], "p50", "%.0f"), sp(la["anchor"], "p99", "%.0f"),
                         sp(la["anchor"], "max", "%.0f"), sp(la["anchor"], "events_s", "%.0f"),
                         sp(la["anchor"], "db_rows", "%d")]]))
        if la.get("burst"):
            b = la["burst"]
            L.append("\nEvents/s into SQLite: tests/bench/la_burst hosts the plugin as OpenVPN "
                     "does and calls learn-address add for N addresses, then delete for them, "
                     "back to back on one thread, then closes the plugin (its final flush): "
                     "events/s = 2N / (calls + close); the database is then counted.\n\n")

            def sb(k, fmt):
                v = sorted(r[k] for r in b)
                return f((v[0], v[len(v) // 2], v[-1]), fmt)
            L.append(table(["events", "stall p50 µs", "p99 µs", "max µs", "calls s", "close s",
                            "events/s", "rows in DB"],
                           [[sb("events", "%d"), sb("stall_us_p50", "%.2f"),
                             sb("stall_us_p99", "%.2f"), sb("stall_us_max", "%.0f"),
                             sb("calls_s", "%.3f"), sb("close_s", "%.3f"),
                             sb("events_s", "%.0f"), sb("db_rows", "%d")]]))
        if la["ovp"] and la["anchor"]:
            o = sorted(r["p50"] for r in la["ovp"])[len(la["ovp"]) // 2]
            a = sorted(r["p50"] for r in la["anchor"])[len(la["anchor"]) // 2]
            L.append("\nRatio of p50 stall, script / ovp: %s.\n" % ratio(a, o))

    mem = res.get("memory")
    if mem:
        L.append("\n## Memory\n")
        L.append("Peak RSS (VmHWM) of one core (serve mode) with ovp-auth-ldap, fed %d "
                 "clients by %d drivers started together (one driver keeps at most 1,024 "
                 "handshakes open), the directory 100 ms away (`BindConnections 64`, `Queue` "
                 "raised to hold them all). *Pending at most*: the most auth control files "
                 "seen at once in the core's tmp dir, i.e. authentications deferred and not "
                 "yet answered. The synchronous anchors never have more than one auth in "
                 "flight, so there is nothing to compare.\n\n" % (mem["clients"], mem["drivers"]))
        L.append(table(["run", "idle RSS kB", "peak RSS kB", "pending at most", "authenticated",
                        "all answered s"],
                       [[i + 1, r["base_rss_kb"], r["peak_rss_kb"], r["max_pending"], r["ok"],
                         "%.2f" % r["wall_s"]] for i, r in enumerate(mem["runs"])]))
    cyc = res.get("cycles")
    if cyc and cyc["rss_kb"]:
        r = cyc["rss_kb"]
        L.append("\nOne core in serve mode with ovp-auth-ldap (directory 0 ms), driven with %d "
                 "batches of %d clients (%d auth cycles; the issue asks for 1,000,000, scaled "
                 "to the time of one run): RSS after the first batch %d kB, after the last %d "
                 "kB (%+d kB). After each batch: %s.\n"
                 % (cyc["batches"], cyc["per_batch"], cyc["batches"] * cyc["per_batch"], r[0],
                    r[-1], r[-1] - r[0], ", ".join(str(x) for x in r)))
    L.extend(soak_section(d))
    cg = res.get("callgrind")
    if cg:
        L.append("\n## Instruction counts (callgrind)\n")
        L.append("`valgrind --tool=callgrind --toggle-collect='openvpn_plugin_func_v*'`: "
                 "instructions executed inside the plugin's entry point on the core's thread "
                 "(worker and helper threads not counted), for %d clients, divided by the "
                 "clients: every main-thread call one client costs (auth, connect, "
                 "disconnect, learn-address...: *calls per client*). Backends 0 ms away. "
                 "These do not move with machine load.\n\n" % cg[0]["clients"])
        L.append(table(["plugin", "calls per client", "instructions per client"],
                       [[r["name"], "%.1f" % r["calls_per_client"],
                         f(r["ir_per_client"], "%.0f")] for r in cg]))
        byname = {r["name"]: med(r["ir_per_client"]) for r in cg}
        pairs = [("ovp-auth-ldap", "openvpn-auth-ldap"),
                 ("ovp-auth-pam", "openvpn-plugin-auth-pam (sync)")]
        for o, a in pairs:
            if o in byname and a in byname:
                L.append("\n%s / %s: %s fewer main-thread instructions.\n"
                         % (a, o, ratio(byname[a], byname[o])))
    con = res.get("connect")
    if con:
        L.append("\n## Time to connect with a real client\n")
        L.append("The real OpenVPN %s server and client in two network namespaces "
                 "(tests/bench/connect.sh, on tests/e2e/lib.sh), UDP, a throwaway EC PKI, `user "
                 "nobody`; each client started alone, timed from its start to its "
                 "\"Initialization Sequence Completed\" (polled every 10 ms). Backends 0 ms "
                 "away: pam_unix on a throwaway account, slapd in the server's namespace. "
                 "Debian builds OpenVPN without async push, so a deferred answer reaches the "
                 "client at OpenVPN's next check of the auth control file, up to about a "
                 "second later; a synchronous answer goes out at once. The rows with "
                 "`inline_wait` / `InlineWait` have the auth call wait up to that long for "
                 "the answer and return it itself when it comes in time. *Auth call stall* is "
                 "the time that call spent on OpenVPN's one thread, measured in the real "
                 "server by tests/bench/stall_shim.so (preloaded): p50 / p99 / max over the "
                 "connections of the row (with this few, p99 is close to the max); "
                 "*deferred* counts the auth calls that returned DEFERRED (the server's "
                 "log). ovp-auth-http asks the test fixture service (tests/fixtures/"
                 "http_service.py, allow) on loopback in the server's namespace.\n\n"
                 % m.get("pkg_openvpn", ""))
        base = [r for r in con if r["name"] == "no auth plugin"]

        def stall(r):
            st = r.get("stall_us")
            return "–" if not st else "%.0f / %.0f / %.0f" % tuple(st)

        L.append(table(["plugin", "connections", "time to connect ms", "over no plugin ms",
                        "auth call stall µs p50 / p99 / max", "deferred", "failed"],
                       [[r["name"], r["n"], f(r["ms"], "%.0f"),
                         "%+.0f" % (med(r["ms"]) - med(base[0]["ms"])) if base else "–",
                         stall(r), "–" if r.get("deferred") is None else r["deferred"],
                         r["fail"]] for r in con]))
    if res.get("skipped"):
        L.append("\n## Not measured in this run\n")
        L.extend("- %s\n" % s for s in res["skipped"])
    L.append("\n## Section times\n")
    L.append(", ".join("%s %.0f s" % kv for kv in res.get("section_s", {}).items()) + "\n")
    for n in res.get("notes", []):
        L.append("- %s\n" % n)
    notes = os.path.join(d, "notes.md")
    if os.path.exists(notes):
        L.append("\n" + open(notes).read())
    with open(os.path.join(d, "report.md"), "w") as fh:
        fh.write("\n".join(x.rstrip("\n") + "\n" for x in L))


if __name__ == "__main__":
    write(sys.argv[1])
