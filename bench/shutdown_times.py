#!/usr/bin/python3
"""Shutdown drain timings: seconds from SIGTERM to the exit of swarmd, per scenario.

    /usr/bin/python3 bench/shutdown_times.py build/check/swarmd [REPEATS]

Scenarios (tests/e2e/test_shutdown.py asserts the bounds; this prints the figures the README
quotes): a daemon without state file with an idle and a mid-head connection; a daemon with a
100k-torrent state file and a 7 MB full scrape in flight to a client that reads it; the same
with a client that never reads (cut at the 0.85 s deadline). The final snapshot's own time
(from swarmd's log) is shown apart."""

import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "e2e"))
from harness import Daemon, HttpConn, http_get_bytes, http_request  # noqa: E402
import test_shutdown as ts  # noqa: E402


def main():
    swarmd = os.path.abspath(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    tmp = tempfile.mkdtemp(prefix="swarmd-shutdown-times-")
    master = os.path.join(tmp, "master")
    ts.state_file(master, ts.NTORRENTS)
    res = {}

    def rec(k, v):
        res.setdefault(k, []).append(v)

    try:
        for _ in range(repeats):
            d = Daemon(swarmd).start()
            c1 = HttpConn(d)
            c1.send(http_get_bytes("/scrape?info_hash=" + "a" * 20))
            c1.read_response()
            c2 = HttpConn(d)
            c2.send(b"GET /announce?info")
            time.sleep(0.1)
            rc, el = d.stop(signal.SIGTERM, 5)
            assert rc == 0, rc
            rec("no state file, idle + mid-head connection: exit", el)
            c1.close()
            c2.close()
            for name, rcvbuf in (("7 MB in flight, client reads", 262144),
                                 ("7 MB in flight, client never reads", 16384)):
                shutil.copyfile(master, os.path.join(tmp, "s"))
                d = Daemon(swarmd, ["--tracker.statefile=" + os.path.join(tmp, "s")]).start()
                http_request(d, "/scrape")
                s = ts.small_client(d, rcvbuf)
                s.sendall(http_get_bytes("/scrape", headers=["Connection: close"]))
                time.sleep(0.3)
                t0 = time.time()
                d.proc.send_signal(signal.SIGTERM)
                if rcvbuf > 16384:
                    n = len(ts.read_to_eof(s, 3))
                    assert n > 7000000, n
                    rec(name + ": last byte read", time.time() - t0)
                rc = d.proc.wait(5)
                el = time.time() - t0
                assert rc == 0, rc
                snap = ts.saved_seconds(d)
                rec(name + ": exit", el)
                rec(name + ": exit minus snapshot", el - snap)
                rec("final snapshot of 100k torrents", snap)
                s.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for k, v in res.items():
        print("%-56s median %.3f s  min %.3f  max %.3f  (n=%d)"
              % (k, statistics.median(v), min(v), max(v), len(v)))


if __name__ == "__main__":
    main()
