#!/usr/bin/python3
"""The WebSocket (WebTorrent) part of `make bench`: swarmd against webtorrent's own JavaScript
tracker (npm bittorrent-tracker Server, WebSocket only) in the same run.

    /usr/bin/python3 bench/ws_relay.py [--swarmd build/release/swarmd]

Relay throughput: PEERS (1000) WebTorrent peers in SWARMS (100) swarms on as many WebSocket
connections (the load generator, pinned to GEN_CPU: GEN=c, the default, is build/bench/wsload
from bench/wsload.c, built with `make bench-progs` when missing; GEN=node is bench/ws/load.mjs,
the same load in node, whose one thread cannot saturate swarmd), each keeping one announce with
5 offers (~500-byte SDP each, numwant 5) in flight; the tracker relays every offer to another
peer of the swarm. Measured over DURATION (6) s after WARMUP (2) s: offers delivered per
second, and offers per second of the tracker's CPU time (utime+stime from /proc, all threads),
which is the per-core figure. The trackers alternate (swarmd, js, swarmd, js, ...) for ROUNDS
(3) rounds, each started afresh pinned to SERVER_CPU; medians are printed.

Memory per connected peer: each tracker started afresh, VmRSS read, MEM_PEERS (10000) peers
connected and announced (10 per swarm), VmRSS again; the growth divided by MEM_PEERS.

Environment: ROUNDS, PEERS, SWARMS, WARMUP, DURATION, MEM_PEERS, SERVER_CPU (0), GEN_CPU (1),
GEN (c or node).
Installs the pinned npm package (bench/ws/package-lock.json, npm ci --ignore-scripts) when
missing. Binds 127.0.0.1 only. Prints a table and the ratios swarmd / js.
"""

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WSDIR = os.path.join(ROOT, "bench", "ws")
ENV = {k: int(os.environ.get(k, v)) for k, v in [
    ("ROUNDS", 3), ("PEERS", 1000), ("SWARMS", 100), ("WARMUP", 2), ("DURATION", 6),
    ("MEM_PEERS", 10000), ("SERVER_CPU", 0), ("GEN_CPU", 1)]}
GEN = os.environ.get("GEN", "c")
WSLOAD = os.path.join(ROOT, "build", "bench", "wsload")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg):
    sys.stderr.write("ws bench: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def more_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 1 << 17) if hard != resource.RLIM_INFINITY else 1 << 17
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


def pinned(cpu, cmd):
    if shutil.which("taskset") and os.cpu_count() and cpu < os.cpu_count():
        return ["taskset", "-c", str(cpu)] + cmd
    return cmd


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, proc, limit=15):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("tracker exited with %r" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("tracker did not listen on %d" % port)


class Tracker:
    def __init__(self, kind, swarmd, tmp):
        self.kind = kind
        self.port = free_port()
        log = open(os.path.join(tmp, "%s-%d.log" % (kind, self.port)), "wb")
        if kind == "swarmd":
            conf = os.path.join(tmp, "swarmd.conf")
            with open(conf, "w") as f:
                f.write("http.max_connections_per_ip 0\nhttp.max_connections 200000\n"
                        "websocket.max_connections 200000\n")
            cmd = [swarmd, "-i", "127.0.0.1", "-p", str(self.port), "-P", str(free_port()),
                   "-f", conf]
        else:
            cmd = ["node", "server.mjs", str(self.port)]
        self.proc = subprocess.Popen(pinned(ENV["SERVER_CPU"], cmd), cwd=WSDIR,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=more_fds)
        wait_port(self.port, self.proc)
        time.sleep(0.3)  # let it settle before reading its memory

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def load(tracker, peers, swarms, relay=True):
    """Run the load generator (GEN); returns (rss_before_kib, rss_joined_kib, offers,
    announces, secs, cpu)."""
    url = "ws://127.0.0.1:%d/announce" % tracker.port
    rss0 = rss_kib(tracker.proc.pid)
    gen = [WSLOAD] if GEN == "c" else ["node", "load.mjs"]
    g = subprocess.Popen(pinned(ENV["GEN_CPU"], gen + [url, str(peers), str(swarms),
                                                       str(ENV["WARMUP"]),
                                                       str(ENV["DURATION"])]),
                         cwd=WSDIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=more_fds)
    try:
        line = g.stdout.readline().decode().split()
        if not line or line[0] != "joined":
            raise RuntimeError("load generator: %r %s" % (line, g.stderr.read(2000).decode()))
        time.sleep(0.5)
        rss1 = rss_kib(tracker.proc.pid)
        if not relay:
            return rss0, rss1, 0, 0, 0.0, 0.0
        g.stdin.write(b"go\n")
        g.stdin.flush()
        line = g.stdout.readline().decode().split()
        c0 = cpu_seconds(tracker.proc.pid)
        if line != ["start"]:
            raise RuntimeError("load generator: %r %s" % (line, g.stderr.read(2000).decode()))
        line = g.stdout.readline().decode().split()
        c1 = cpu_seconds(tracker.proc.pid)
        if not line or line[0] != "end":
            raise RuntimeError("load generator: %r %s" % (line, g.stderr.read(2000).decode()))
        return rss0, rss1, int(line[1]), int(line[2]), float(line[3]), c1 - c0
    finally:
        if g.poll() is None:
            g.kill()
        g.wait()


def npm_ready():
    marker = os.path.join(WSDIR, "node_modules", "bittorrent-tracker", "package.json")
    if os.path.isfile(marker):
        return True
    if not shutil.which("npm"):
        say("node/npm missing: skipped")
        return False
    r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--loglevel=error"], cwd=WSDIR, stdin=subprocess.DEVNULL)
    return r.returncode == 0 and os.path.isfile(marker)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", default=os.path.join(ROOT, "build", "release", "swarmd"))
    args = ap.parse_args()
    if GEN not in ("c", "node"):
        say("GEN must be c or node, not %r" % GEN)
        return 2
    if not npm_ready():
        return 0
    if GEN == "c" and not os.access(WSLOAD, os.X_OK):
        subprocess.run(["make", "-s", "bench-progs"], cwd=ROOT, stdin=subprocess.DEVNULL)
        if not os.access(WSLOAD, os.X_OK):
            say("%s missing and `make bench-progs` did not build it: skipped" % WSLOAD)
            return 0
    more_fds()
    tmp = tempfile.mkdtemp(prefix="swarmd-wsbench-")
    kinds = ["swarmd", "js"]
    runs = {k: [] for k in kinds}
    say("relay: %d peers in %d swarms, 5 offers per announce, %d rounds of %d s, generator %s"
        % (ENV["PEERS"], ENV["SWARMS"], ENV["ROUNDS"], ENV["DURATION"],
           "wsload (C)" if GEN == "c" else "load.mjs (node)"))
    try:
        for r in range(ENV["ROUNDS"]):
            for k in kinds:
                t = Tracker(k, args.swarmd, tmp)
                try:
                    _, _, offers, ann, secs, cpu = load(t, ENV["PEERS"], ENV["SWARMS"])
                finally:
                    t.stop()
                runs[k].append((offers / secs, offers / cpu if cpu > 0 else float("nan"),
                                cpu / secs))
                say("round %d %-6s %8.0f offers/s  %8.0f offers per CPU-s  CPU %.0f %%"
                    % (r + 1, k, *runs[k][-1][:2], 100 * runs[k][-1][2]))
        mem = {}
        for k in kinds:
            t = Tracker(k, args.swarmd, tmp)
            try:
                rss0, rss1, *_ = load(t, ENV["MEM_PEERS"], max(1, ENV["MEM_PEERS"] // 10),
                                      relay=False)
            finally:
                t.stop()
            mem[k] = (rss1 - rss0) * 1024 / ENV["MEM_PEERS"]
            say("memory %-6s RSS %d -> %d KiB for %d peers" % (k, rss0, rss1,
                                                               ENV["MEM_PEERS"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(k, i):
        return statistics.median(x[i] for x in runs[k])
    print()
    print("WebSocket relay (%d peers, %d swarms, 5 offers/announce; medians of %d rounds)"
          % (ENV["PEERS"], ENV["SWARMS"], ENV["ROUNDS"]))
    print("%-34s %14s %14s %8s" % ("", "swarmd", "webtorrent js", "ratio"))
    for label, i in (("offers relayed / s", 0), ("offers relayed / CPU-second", 1)):
        a, b = med("swarmd", i), med("js", i)
        print("%-34s %14.0f %14.0f %7.1fx" % (label, a, b, a / b))
    a, b = mem["swarmd"], mem["js"]
    print("%-34s %14.0f %14.0f %7.2fx" % ("bytes per connected peer (RSS)", a, b, a / b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
