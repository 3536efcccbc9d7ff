#!/usr/bin/python3
"""Interop: WebTorrent's tracker client (npm bittorrent-tracker), driven by webtorrent/driver.mjs.

    /usr/bin/python3 tests/interop/webtorrent.py --swarmd build/check/swarmd [--only ...]

Checks http, udp, http6 (tracker on ::1), ws and ws6. Two clients of one random info hash
announce to swarmd: over HTTP/UDP they must be given each other (and not themselves); over ws://
one's WebRTC offer must reach the other and the answer come back to the connection that made
the offer (fake-webrtc.mjs stands in for WebRTC); Client.scrape must report exact counts after
each step (see driver.mjs). The package is pinned by webtorrent/package-lock.json
and installed with `npm ci --ignore-scripts` when node_modules/ is missing: its WebRTC
dependency's install script would download a native build, so register.mjs replaces that
import with fake-webrtc.mjs (enough for the tracker protocol; it never connects). (UDP over
::1 is not checked: the client hands the bracketed host "[::1]" to getaddrinfo, which fails
with ENOTFOUND.)
"""

import json
import os
import subprocess
import sys

import common
from common import V4, V6, Procs
from harness import Daemon, TestFailure

DIR = os.path.join(common.HERE, "webtorrent")
MARKER = os.path.join(DIR, "node_modules", "bittorrent-tracker", "package.json")


def run(runner, swarmd, proto, host):
    name = proto + ("6" if host == V6 else "")
    pre = "webtorrent bittorrent-tracker %s: " % name
    if common.v6_missing(runner, host, pre + "two clients over ::1"):
        return
    err = common.npm_ci(DIR, MARKER)
    if err:
        runner.fail(pre + "npm package installed", err)
        return
    d = Daemon(swarmd).start()
    url = common.tracker_url(d, proto, host)
    procs = Procs()
    out = {}
    runner.context = lambda: d.context() + "\n  driver stderr:\n" + out.get("err", "")

    def drive():
        pa, pb = common.free_tcp_ports(2, host)
        p = procs.start(["node", "--import", "./register.mjs", "driver.mjs", url, str(pa),
                         str(pb)], cwd=DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            so, se = p.communicate(timeout=75)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
            out["err"] = se.decode("utf-8", "replace")
            raise TestFailure("driver.mjs still running after 75 s; output:\n" +
                              so.decode("utf-8", "replace"))
        out["err"] = se.decode("utf-8", "replace")
        steps = []
        for line in so.decode("utf-8", "replace").splitlines():
            try:
                steps.append(json.loads(line))
            except ValueError:
                steps.append({"step": "unparsed output: " + line, "ok": False})
        bad = [s for s in steps if not s.get("ok")]
        if bad or p.returncode != 0 or not steps:
            raise TestFailure("driver exited %r; failed steps:\n    %s\n  all steps:\n    %s" % (
                p.returncode, "\n    ".join(json.dumps(s) for s in bad),
                "\n    ".join(json.dumps(s) for s in steps)))
        sys.stderr.write("interop: %s%d driver steps passed\n" % (pre, len(steps)))
    what = ("offers and answers relayed between the two" if proto == "ws"
            else "two clients find each other")
    runner.run(pre + "%s; scrape counts exact at every step (%s)" % (what, url), drive,
               timeout=90)
    procs.stop_all()
    runner.context = None
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")


CHECKS = [("http", lambda r, s: run(r, s, "http", V4)), ("udp", lambda r, s: run(r, s, "udp", V4)),
          ("http6", lambda r, s: run(r, s, "http", V6)), ("ws", lambda r, s: run(r, s, "ws", V4)),
          ("ws6", lambda r, s: run(r, s, "ws", V6))]

if __name__ == "__main__":
    sys.exit(common.main_for("webtorrent", CHECKS, 400))
