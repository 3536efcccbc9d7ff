"""The live dashboard in a real browser: Debian's chromium, headless, loads /dashboard from a
swarmd that has had traffic, lets the page poll /stats.json (virtual time), and the numbers
in the dumped DOM must equal /stats.json's."""

import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import (V4, Daemon, TestFailure, check, eq, http_announce, http_request,
                     rand_hash, udp_bulk_announce)

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic"]
IDS = ["torrents", "peers", "seeders", "leechers", "peers_ipv4", "peers_ipv6", "completed",
       "errors", "requests_http", "requests_udp"]


def dump_dom(url, budget_ms=5000):
    profile = tempfile.mkdtemp(prefix="swarmd-chromium-")
    try:
        p = subprocess.run([CHROMIUM] + FLAGS + ["--user-data-dir=" + profile,
                                                 "--virtual-time-budget=%d" % budget_ms,
                                                 "--dump-dom", url],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=25)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if p.returncode != 0:
        raise TestFailure("chromium exited %d: %s" % (p.returncode,
                                                     p.stderr.decode(errors="replace")[-800:]))
    return p.stdout.decode("utf-8", "replace")


def values(dom):
    """id -> data-v of the dashboard's number elements."""
    return dict(re.findall(r'<b id="([a-z0-9_]+)" data-v="([0-9.]+)"', dom))


def run(runner, swarmd):
    if not os.access(CHROMIUM, os.X_OK):
        def missing():
            raise TestFailure("%s not installed (Debian package chromium; tests/deps.sh "
                              "installs it)" % CHROMIUM)
        runner.run("dashboard: chromium is installed", missing)
        return
    d = Daemon(swarmd).start()
    runner.context = d.context

    def T(name, fn, timeout=40):
        runner.run("dashboard: " + name, fn, timeout)

    big, small = rand_hash(), rand_hash()

    def traffic():
        for port in range(7000, 7012):
            http_announce(d, big, port, left=0 if port % 3 == 0 else 100)
        http_announce(d, small, 7000, left=100, event="started")
        http_announce(d, small, 7000, left=0, event="completed")
        udp_bulk_announce(d, big, range(8000, 8005), host=V4)
        http_request(d, "/nosuch")  # one error to show
    T("traffic, then stopped", traffic)

    def page_matches_json():
        want = json.loads(http_request(d, "/stats.json").body)
        dom = dump_dom("http://%s:%d/dashboard" % (V4, d.http_port))
        got = values(dom)
        check(got, "no numbers on the page:\n" + dom[:1500])
        for k in IDS:
            eq(got.get(k), str(want[k]), "page's %s vs /stats.json" % k)
        eq(want["peers"], 12 + 1 + 5, "peers in /stats.json")
        # The rates come from two polls of the page; the traffic had stopped.
        eq(float(got.get("rate_http", "-1")), 0.0, "HTTP requests/s with traffic stopped")
        eq(float(got.get("rate_udp", "-1")), 0.0, "UDP requests/s with traffic stopped")
        check(abs(int(got.get("uptime", "-100")) - want["uptime"]) <= 5, "uptime")
        top = re.findall(r"<tr><td>([0-9a-f]{40})</td><td>(\d+)</td><td>(\d+)</td>", dom)
        eq([t[0] for t in top], [t["hash"] for t in want["top"]], "top swarms on the page")
        eq(top[0][0], big.hex(), "largest swarm first")
        check('id="status"></div>' in dom, "the page shows an error: " +
              dom[dom.find('id="status"'):][:200])
    T("the page's numbers equal /stats.json", page_matches_json)

    def self_contained():
        body = http_request(d, "/dashboard").body.decode()
        check(not re.search(r"(src|href)=\"?(https?:)?//", body), "external asset in the page")
        check("<meta name=\"viewport\"" in body, "no viewport meta (phones)")
        check(len(body) < 16384, "page is %d bytes" % len(body))
    T("the page is self-contained and small", self_contained)

    d.stop_and_check(runner, "dashboard: daemon exits 0 on SIGTERM")
    runner.context = None
