#!/usr/bin/python3
"""Interop: two real browsers. Headless Chromium (Debian's chromium) runs WebTorrent's browser
bundle (npm webtorrent, dist/webtorrent.min.js) in browser/page.html; one seeds a 1 MiB file it
generates, with swarmd's ws:// URL as its only tracker and no ICE servers, the other downloads
it by magnet over WebRTC. The pages POST what they see to a small HTTP server of this test on
127.0.0.1, which also serves them.

    /usr/bin/python3 tests/interop/browser.py --swarmd build/release/swarmd [--only ws|ws6]

Checks, for ws://127.0.0.1 and ws://[::1]: the magnet names only swarmd's URL; the download
completes within the time limit; its SHA-256 (computed in the leecher's page) equals the
seeder's; swarmd's HTTP scrape then counts the two browser peers. Runs offline: as root the
suite re-executes itself in a private network namespace with only `lo` up (unshare --net),
so nothing leaks out and nothing from outside interferes; otherwise it runs on the host's
loopback. Chromium needs --allow-loopback-in-peer-connection to gather loopback candidates,
and the page's microphone permission (granted by --use-fake-ui-for-media-stream when the
page calls getUserMedia) so that host candidates are not hidden behind mDNS names. The
package is pinned by browser/package-lock.json and installed with `npm ci --ignore-scripts`
(only the prebuilt bundle is used) when node_modules/ is missing.
"""

import os
import shutil
import subprocess
import sys

NETNS_ENV = "SWARMD_INTEROP_NETNS"


def enter_netns():
    """As root, re-execute this script in a new network namespace (same pid: exec)."""
    if os.environ.get(NETNS_ENV) or os.geteuid() != 0:
        return
    if not shutil.which("unshare") or not shutil.which("ip"):
        return
    probe = subprocess.run(["unshare", "--net", "true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return  # e.g. a container without CAP_SYS_ADMIN: run on the host's loopback
    env = dict(os.environ)
    env[NETNS_ENV] = "1"
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)]
               + sys.argv[1:], env)


if __name__ == "__main__" and os.environ.get(NETNS_ENV) == "1":
    # A new namespace has lo down; the harness probes ::1 when imported, so first this.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.environ[NETNS_ENV] = "inside"

import json  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import common  # noqa: E402
from common import V4, V6, Procs  # noqa: E402
from harness import (Daemon, TestFailure, check, eq, http_scrape,  # noqa: E402
                     scrape_counts)

DIR = os.path.join(common.HERE, "browser")
BUNDLE = os.path.join(DIR, "node_modules", "webtorrent", "dist", "webtorrent.min.js")
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--remote-debugging-port=0", "about:blank"]
SIZE = 1 << 20
SEED_LIMIT = 20    # seconds for the seeder page to load, hash and start seeding
LEECH_LIMIT = 40   # seconds from starting the leecher to the checked download


class Reports:
    """What the pages POSTed to /report, in order; wait() blocks until one matches."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def add(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, role, kind, limit):
        end = time.time() + limit
        with self.cond:
            while True:
                for it in self.items:
                    if it.get("role") == role and it.get("kind") == kind:
                        return it
                left = end - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def text(self, n=60):
        with self.cond:
            return "\n".join("    " + json.dumps(it)[:400] for it in self.items[-n:])


def page_server(reports):
    """HTTP server on 127.0.0.1: the page, the bundle, and POST /report."""
    files = {"/page.html": (os.path.join(DIR, "page.html"), "text/html; charset=utf-8"),
             "/webtorrent.min.js": (BUNDLE, "text/javascript")}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path not in files:
                self.send_error(404)
                return
            fname, ctype = files[path]
            with open(fname, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n)
            try:
                item = json.loads(data)
            except ValueError:
                item = {"kind": "unparsed", "body": data[:200].decode("utf-8", "replace")}
            reports.add(item)
            self.send_response(204)
            self.end_headers()

    srv = ThreadingHTTPServer((V4, 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def scrape_until(d, h, ok, limit=10):
    """swarmd's HTTP scrape counts of h, polled until ok(counts) or the time limit."""
    end = time.time() + limit
    while True:
        got = scrape_counts(http_scrape(d, [h]), h)
        if ok(got) or time.time() > end:
            return got
        time.sleep(0.2)


def chromium(procs, url, tag, tmp):
    profile = tempfile.mkdtemp(prefix="profile-%s-" % tag, dir=tmp)
    log = open(os.path.join(tmp, tag + ".log"), "wb")
    cmd = [CHROMIUM] + FLAGS[:-1] + ["--user-data-dir=" + profile, url]
    return procs.start(cmd, stdout=log, stderr=subprocess.STDOUT)


def run(runner, swarmd, host):
    name = "ws6" if host == V6 else "ws"
    pre = "browser %s: " % name
    if common.v6_missing(runner, host, pre + "two Chromium WebTorrent peers over ::1"):
        return
    if not os.access(CHROMIUM, os.X_OK):
        runner.fail(pre + "chromium installed", "no %s (Debian package chromium; "
                    "tests/deps.sh installs it)" % CHROMIUM)
        return
    err = common.npm_ci(DIR, BUNDLE)
    if err:
        runner.fail(pre + "npm package webtorrent installed", err)
        return
    d = Daemon(swarmd).start()
    url = "ws://%s:%d/announce" % (common.url_host(host), d.http_port)
    reports = Reports()
    srv = page_server(reports)
    base = "http://%s:%d/page.html?" % (V4, srv.server_address[1])
    procs = Procs()
    tmp = common.tmpdir("browser")
    where = ("a private network namespace (lo only)"
             if os.environ.get(NETNS_ENV) == "inside" else "the host's loopback")

    def logs():
        out = []
        for tag in ("seed", "leech"):
            out.append("  chromium %s output (tail):\n%s"
                       % (tag, common.tail_file(os.path.join(tmp, tag + ".log"), 15)))
        return "\n".join(out)
    runner.context = lambda: ("%s\n  page reports:\n%s\n%s"
                              % (d.context(), reports.text(), logs()))
    facts = {}

    def seed_and_leech():
        t0 = time.time()
        chromium(procs, base + urllib.parse.urlencode({"role": "seed", "tracker": url}),
                 "seed", tmp)
        seeding = reports.wait("seed", "seeding", SEED_LIMIT)
        if seeding is None:
            raise TestFailure("the seeder page did not start seeding within %d s" % SEED_LIMIT)
        eq(seeding.get("length"), SIZE, "seeded length")
        eq(seeding.get("announce"), [url], "seeder's trackers")
        magnet = seeding["magnet"]
        tr = urllib.parse.parse_qs(urllib.parse.urlparse(magnet).query).get("tr")
        eq(tr, [url], "trackers in the magnet")
        # The seeder as swarmd counts it: one seeder. Whether it also counted a completion
        # depends on whether the page announced before or after checking its own data
        # (left = size, then event=completed), so only the leecher's is asserted exactly.
        h = bytes.fromhex(seeding["infoHash"])
        before = scrape_until(d, h, lambda c: c[0] == 1 and c[2] == 0)
        check(before[0] == 1 and before[2] == 0, "HTTP scrape with only the seeder: "
              "want 1 seeder, 0 leechers, got (complete, downloaded, incomplete) %r"
              % (before,))
        facts["before"] = before
        t1 = time.time()
        chromium(procs, base + urllib.parse.urlencode({"role": "leech", "tracker": url,
                                                       "magnet": magnet}), "leech", tmp)
        done = reports.wait("leech", "done", LEECH_LIMIT)
        if done is None:
            raise TestFailure("the leecher page did not finish within %d s" % LEECH_LIMIT)
        eq(done.get("length"), SIZE, "downloaded length")
        eq(done.get("infoHash"), seeding.get("infoHash"), "leecher's info hash")
        eq(done.get("sha256"), seeding.get("sha256"), "SHA-256 of the download (page JS)")
        check(len(done["sha256"]) == 64, "a SHA-256 was reported")
        facts.update(hash=h, seed_s=t1 - t0,
                     leech_s=time.time() - t1)
        sys.stderr.write("interop: %sseeding after %.1f s, download checked %.1f s later (%s)\n"
                         % (pre, facts["seed_s"], facts["leech_s"], where))

    runner.run(pre + "Chromium seeds 1 MiB, a second Chromium downloads it by magnet over "
               "WebRTC, SHA-256 equal (%s, in %s)" % (url, where), seed_and_leech,
               timeout=SEED_LIMIT + LEECH_LIMIT + 10)

    if "hash" in facts:
        def scrape():
            # The leecher announces event=completed when done; give it a moment.
            want = (2, facts["before"][1] + 1, 0)  # complete, downloaded, incomplete
            got = scrape_until(d, facts["hash"], lambda c: c == want)
            eq(got, want, "HTTP scrape of the browsers' torrent (complete, downloaded, "
               "incomplete)")
        runner.run(pre + "swarmd's HTTP scrape counts both browser peers and the completion",
                   scrape, timeout=20)
    procs.stop_all()
    srv.shutdown()
    srv.server_close()
    runner.context = None
    common.rmtree(tmp)
    d.stop_and_check(runner, pre + "swarmd exits 0 on SIGTERM")


CHECKS = [("ws", lambda r, s: run(r, s, V4)), ("ws6", lambda r, s: run(r, s, V6))]

if __name__ == "__main__":
    # npm needs the network: install before leaving it (on failure, stay and report it).
    if os.environ.get(NETNS_ENV) is None and common.npm_ci(DIR, BUNDLE) is None:
        enter_netns()
    sys.exit(common.main_for("browser", CHECKS, 200))
