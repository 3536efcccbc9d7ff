#!/usr/bin/python3
"""Cluster-mode overhead (issue 9, item 12), run by `make bench` (as root; not a timed test).

    /usr/bin/python3 bench/cluster_overhead.py [--swarmd build/release/swarmd] [--rounds 3]

Inside a private network namespace (tests/cluster/lib.py), with Redis on 127.0.0.10:
1. throughput: node 1 (127.0.0.1:6969) under build/bench/udpload, standalone (no cluster
   keys) and in cluster mode while an injector appends valid node-2 batches to node 2's
   stream at twice the deltas/s node 1 answered standalone; alternating rounds, medians;
   the ratio cluster/standalone is the overhead figure (goal >= 0.85);
2. apply cost: node 1 idle except for the injected deltas: its CPU time (utime + stime) over
   the deltas it applied (swarmd_cluster_applied_total) = ns per applied delta;
3. lag: three nodes at 20k announces/s each (tests/cluster/load.py, open loop, new peers so
   every announce is published) while marker peers announced to node 1 every 100 ms are
   looked for on nodes 2 and 3; p50/p99/max of the time until both return them, and the
   drops counted meanwhile (goal: p99 <= 1 s, no drops).
Prints the figures and one summary line; exits 1 only if it could not run.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))

import lib  # noqa: E402
from lib import Redis, Resp, Udp, v4  # noqa: E402

CLUSTER = lib.CLUSTER


def say(msg):
    sys.stderr.write("cluster-bench: %s\n" % msg)
    sys.stderr.flush()


def flush(redis):
    """Empty Redis: a fresh node reads every retained entry, so old rounds' batches must go."""
    r = redis.admin()
    r.cmd("FLUSHALL")
    r.close()


def write_conf(tmp, k, cluster, secret, extra=""):
    path = os.path.join(tmp, "bench%d%s.conf" % (k, "c" if cluster else "s"))
    text = ("listen.tcp_udp %s:%d\ntracker.workers 1\ntracker.interval 1800\n"
            "tracker.peer_timeout 120\n" % (v4(k), lib.PORT))
    if cluster:
        auth = os.path.join(tmp, "auth.%d" % k)
        with open(auth, "w") as f:
            f.write("swarmd-%d %s\n" % (k, lib.node_password(k)))
        os.chmod(auth, 0o600)
        text += ("tracker.udp_secret_file %s\ncluster.engine redis://%s:%d\ncluster.name %s\n"
                 "cluster.node_id %d\ncluster.nodes 1,2,3\ncluster.bind %s\n"
                 "cluster.auth_file %s\ncluster.flush_ms 50\n"
                 % (secret, lib.REDIS_ADDR, lib.REDIS_PORT, CLUSTER, k, v4(k), auth))
    with open(path, "w") as f:
        f.write(text + extra)
    return path


class Proc:
    """One swarmd from a config file, answering on 127.0.0.k:6969."""

    def __init__(self, binary, k, conf, tmp):
        self.k = k
        self.addr = v4(k)
        self.addr6 = lib.v6(k)
        self.log = open(os.path.join(tmp, "node%d.log" % k), "ab")
        self.proc = lib.spawn([binary, "-f", conf], stdout=self.log, stderr=self.log)
        end = time.time() + 10
        while time.time() < end:
            try:
                u = Udp(self, self.addr)
                u.connect(0.3)
                u.close()
                return
            except Exception:  # noqa: BLE001
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("node %d did not start" % k)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metric(self, name):
        status, body = lib.http_get(self.addr, self.addr, "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def udpload(node, seconds, warmup=1):
    """build/bench/udpload against 127.0.0.1:6969: (responses per second, the server's CPU
    seconds per response, read by udpload at the window's edges). The second is what a shared
    2-core machine measures reliably: when the load generator or the injector is starved, the
    rate drops but not the server's cost per response, and a CPU-bound server's throughput
    is its inverse."""
    out = subprocess.run([os.path.join(ROOT, "build", "bench", "udpload"), "-p", str(lib.PORT),
                          "-T", "1", "-s", "4", "-f", "32", "-d", str(seconds), "-w",
                          str(warmup), "--peers", "100000", "--torrents", "10000",
                          "--server-pid", str(node.proc.pid), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=seconds + 30)
    text = out.stdout.decode()
    m = re.search(r"rps=(\d+)", text)
    c = re.search(r"cpu_us_per_req=([\d.]+)", text)
    if not m or not c:
        raise RuntimeError("udpload: %s %s" % (text, out.stderr.decode()[-300:]))
    return float(m.group(1)), float(c.group(1)) / 1e6


class Injector(threading.Thread):
    """Appends valid node-2 batches (600 IPv4 records, a fixed population of 300k peers over
    10k torrents, so memory stays flat) to node 2's stream at `rate` deltas/s, pipelined."""

    PER_BATCH = 600

    def __init__(self, rate):
        super().__init__(daemon=True)
        self.rate = rate
        self.stop_flag = threading.Event()
        self.sent = 0
        rnd = random.Random(12)
        hashes = [bytes(rnd.getrandbits(8) for _ in range(20)) for _ in range(10000)]
        self.bodies = []
        for b in range(500):
            recs = []
            for i in range(self.PER_BATCH):
                n = b * self.PER_BATCH + i
                ip = "10.%d.%d.%d" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)
                recs.append(lib.record(hashes[n % 10000], ip, 1024 + n % 60000,
                                       lib.OP_SEED if n % 3 == 0 else 0))
            self.bodies.append(b"".join(recs))

    def run(self):
        r = Resp(timeout=10)
        key = "swarmd:{%s}:d:2" % CLUSTER
        inc = random.getrandbits(64)
        seq = 0
        t0 = time.time()
        pending = 0
        while not self.stop_flag.is_set():
            due = int((time.time() - t0) * self.rate)
            chunk = []
            while self.sent < due and len(chunk) < 16:
                seq += 1
                hdr = lib.batch(2, [], seq=seq, incarnation=inc, count=self.PER_BATCH)
                chunk.append(Resp.encode(["XADD", key, "MAXLEN", "~", "10000", "*", "b",
                                          hdr + self.bodies[seq % len(self.bodies)]]))
                self.sent += self.PER_BATCH
            if chunk:
                r.sock.sendall(b"".join(chunk))
                pending += len(chunk)
            while pending:
                r._reply()
                pending -= 1
            if not chunk:
                time.sleep(0.002)
        r.close()


def lag_run(binary, tmp, secret, redis, seconds=10):
    flush(redis)
    nodes = [Proc(binary, k, write_conf(tmp, k, True, secret), tmp) for k in (1, 2, 3)]
    try:
        time.sleep(1)
        drops0 = [n.metric("swarmd_cluster_dropped_total") for n in nodes]
        loads = [lib.spawn([sys.executable, os.path.join(ROOT, "tests", "cluster", "load.py"),
                            json.dumps({"seconds": seconds + 1, "targets": [
                                dict(dst=n.addr, src=v4(0x80 + n.k), rate=20000,
                                     hashes="pool")]})],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in nodes]
        time.sleep(1)
        lags = []
        t_end = time.time() + seconds - 1
        while time.time() < t_end:
            ih = os.urandom(20)
            Udp(nodes[0], v4(0x5f)).announce(ih, 5000)
            t0 = time.time()
            pending = [nodes[1], nodes[2]]
            while pending and time.time() - t0 < 5:
                for n in list(pending):
                    u = Udp(n, n.addr)
                    try:
                        if u.scrape([ih])[0][2] == 1:
                            pending.remove(n)
                    except Exception:  # noqa: BLE001
                        pass
                    finally:
                        u.close()
                time.sleep(0.005)
            lags.append(time.time() - t0 if not pending else 5.0)
            time.sleep(max(0.0, 0.1 - (time.time() - t0)))
        targets = []
        for load in loads:
            out, _ = load.communicate(timeout=30)
            targets += json.loads(out.decode().strip().splitlines()[-1])["targets"]
        offered = sum(t["sent"] for t in targets) / float(seconds + 1)
        answered = sum(t["replies"].get("1", 0) for t in targets) / float(seconds + 1)
        drops = [n.metric("swarmd_cluster_dropped_total") - d for n, d in zip(nodes, drops0)]
        return lags, offered, answered, drops
    finally:
        for n in nodes:
            n.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", default=os.path.join(ROOT, "build", "release", "swarmd"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    binary = os.path.abspath(args.swarmd)
    why = lib.enter_namespace([os.path.abspath(__file__)] + sys.argv[1:])
    if why:
        say("cannot run: %s" % why)
        return 1
    tmp = lib.mkdtemp()
    secret = os.path.join(tmp, "udp_secret")
    lib.write_secret(secret, [os.urandom(16)])
    redis = Redis(tmp).start()
    try:
        alone, together, applied_rate = [], [], []
        for rnd in range(args.rounds):
            n = Proc(binary, 1, write_conf(tmp, 1, False, secret), tmp)
            try:
                alone.append(udpload(n, args.seconds))
            finally:
                n.stop()
            flush(redis)
            n = Proc(binary, 1, write_conf(tmp, 1, True, secret), tmp)
            inj = Injector(2 * alone[-1][0])
            try:
                a0 = n.metric("swarmd_cluster_applied_total")
                t0 = time.time()
                inj.start()
                together.append(udpload(n, args.seconds))
                applied_rate.append((n.metric("swarmd_cluster_applied_total") - a0)
                                    / (time.time() - t0))
            finally:
                inj.stop_flag.set()
                inj.join(10)
                n.stop()
            say("round %d: standalone %.0f/s (%.2f us CPU each), cluster %.0f/s (%.2f us CPU "
                "each, applying included) applying %.0f deltas/s"
                % (rnd + 1, alone[-1][0], alone[-1][1] * 1e6, together[-1][0],
                   together[-1][1] * 1e6, applied_rate[-1]))
        med = sorted(a[0] for a in alone)[len(alone) // 2]
        medc = sorted(t[0] for t in together)[len(together) // 2]
        cpu_a = sorted(a[1] for a in alone)[len(alone) // 2]
        cpu_c = sorted(t[1] for t in together)[len(together) // 2]
        # Apply cost: the injected deltas alone.
        flush(redis)
        n = Proc(binary, 1, write_conf(tmp, 1, True, secret), tmp)
        try:
            time.sleep(0.5)
            a0, c0 = n.metric("swarmd_cluster_applied_total"), n.cpu_seconds()
            inj = Injector(2 * med)
            inj.start()
            time.sleep(args.seconds)
            inj.stop_flag.set()
            inj.join(10)
            time.sleep(0.5)
            applied = n.metric("swarmd_cluster_applied_total") - a0
            ns = (n.cpu_seconds() - c0) * 1e9 / max(1.0, applied)
        finally:
            n.stop()
        lags, offered, answered, drops = lag_run(binary, tmp, secret, redis)
        lags.sort()
        p = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
        say("lag at %.0f announces/s offered (%.0f answered) on 3 nodes: %d markers, p50 "
            "%.3f s, p99 %.3f s, max %.3f s; drops %r" % (offered, answered, len(lags),
                                                         p(0.5), p(0.99), lags[-1], drops))
        print("cluster overhead: standalone %.0f/s, cluster %.0f/s applying 2x (rate x%.2f, "
              "per server CPU x%.2f, goal >= 0.85); %.0f ns per applied delta; lag p99 %.3f s "
              "at %.0f/s (goal <= 1 s), drops %d" % (med, medc, medc / med, cpu_a / cpu_c, ns,
                                                     p(0.99), offered, sum(drops)))
    finally:
        redis.kill9()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
