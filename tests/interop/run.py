#!/usr/bin/python3
"""Interop with real BitTorrent clients: runs every suite of tests/interop/ (run with
/usr/bin/python3: Debian's python3-libtorrent works only with it).

    /usr/bin/python3 tests/interop/run.py --swarmd build/check/swarmd [--suite NAME ...]
                                          [--serial] [--deadline SECONDS]

Suites, one file per client family (each also runs alone: `lt_swarm.py --swarmd ...`):
  lt_swarm      libtorrent seeder + leecher over HTTP, UDP, HTTP and UDP over ::1, then
                libtorrent's scrape_tracker; a BEP 3 compact=0 announce gets a dict list;
                a swarm across a swarmd restart (restart.py, state file)
  aria2         libtorrent seeder + aria2c leecher over HTTP and UDP
  transmission  libtorrent seeder + transmission-cli leecher over HTTP and UDP;
                transmission-cli seeder + aria2c leecher over HTTP (no libtorrent)
  webtorrent    npm bittorrent-tracker clients over HTTP, UDP and HTTP over ::1
  browser       two headless Chromium running WebTorrent (npm webtorrent) over ws:// and
                ws://[::1]: a 1 MiB seed downloaded by magnet over WebRTC, checksum equal
                (as root: in a private network namespace with only lo up)
  qbittorrent   libtorrent seeder + qbittorrent-nox leecher over HTTP and UDP (a bonus)

The suites run concurrently (each starts its own swarmd on free loopback ports; clients are
rate-capped or small, so two cores suffice), or one after another with --serial. Their
"ok - interop: ..." / "not ok - interop: ..." lines are passed through as they come, details
of failures (stderr) after each suite ends. A suite that exits non-zero without a "not ok"
line, or outlives the deadline (it is then killed), is reported as a failure. Exits 1 if
anything failed.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["lt_swarm", "aria2", "transmission", "webtorrent", "browser", "qbittorrent"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", required=True)
    ap.add_argument("--suite", action="append", choices=SUITES)
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--deadline", type=int, default=300,
                    help="seconds before a still-running suite is killed (the whole interop "
                    "part must take under 5 minutes; it takes about 80 s)")
    args = ap.parse_args()
    swarmd = os.path.abspath(args.swarmd)
    names = [s for s in SUITES if not args.suite or s in args.suite]
    out_lock = threading.Lock()
    results = {}
    t0 = time.time()

    def emit(text, stream=sys.stdout):
        with out_lock:
            stream.write(text)
            stream.flush()

    def run_suite(name):
        t1 = time.time()
        p = subprocess.Popen([sys.executable, os.path.join(HERE, name + ".py"), "--swarmd",
                              swarmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        err = []
        te = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
        te.start()
        killer = threading.Timer(max(1, args.deadline - (time.time() - t0)), p.kill)
        killer.daemon = True
        killer.start()
        saw_fail = False
        for raw in p.stdout:
            line = raw.decode("utf-8", "replace")
            saw_fail = saw_fail or line.startswith("not ok - ")
            emit(line)
        rc = p.wait()
        killer.cancel()
        te.join(10)
        text = b"".join(err).decode("utf-8", "replace")
        if text:
            emit("=== interop suite %s (stderr)\n%s" % (name, text), sys.stderr)
        if rc != 0 and not saw_fail:
            why = ("killed after the %d s deadline" % args.deadline if rc == -9
                   else "exited with status %d" % rc)
            emit("not ok - interop: %s suite %s\n" % (name, why))
            saw_fail = True
        results[name] = (not saw_fail, time.time() - t1)

    threads = []
    for name in names:
        if args.serial:
            run_suite(name)
        else:
            t = threading.Thread(target=run_suite, args=(name,))
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    summary = ", ".join("%s %s %.0f s" % (n, "ok" if results[n][0] else "FAILED", results[n][1])
                        for n in names if n in results)
    emit("interop: %s; wall %.0f s\n" % (summary, time.time() - t0), sys.stderr)
    return 0 if all(results.get(n, (False,))[0] for n in names) else 1


if __name__ == "__main__":
    sys.exit(main())
