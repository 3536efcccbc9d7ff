#!/usr/bin/python3
"""Soak: mixed valid and garbage traffic at swarmd for a long time; is its memory flat?

    /usr/bin/python3 bench/soak.py --swarmd build/release/swarmd [--minutes 10]

Starts swarmd on loopback (127.0.0.1 and ::1, free ports, tracker.peer_timeout 120 so the
swarm table reaches a steady state within the run) and drives it from one thread per kind
of traffic, over IPv4 and IPv6:
  udp      connect, announce (a pool of 20,000 torrents, 1 in 10 a fresh random one) and
           scrape, with valid connection IDs, at a fixed rate (--udp-rate per family)
  udp-junk random datagrams, truncated packets, wrong protocol ids, unknown connection IDs,
           bad actions (all dropped or answered by a small error)
  http     keep-alive announces and scrapes, some compact=0, some full scrapes, at a fixed
           rate (--http-rate per family)
  http-junk malformed request lines, binary garbage, oversized heads, bad parameters,
           unknown paths, abandoned half-sent heads
The valid traffic is paced so that the swarm table has a steady state to reach (peers live
peer_timeout seconds, so its size follows the request rate; an unpaced generator on a shared
machine would make it, and RSS, follow the machine's load), and fresh random info-hashes
never carry event=completed: a completed torrent is kept a day for its count, so those would
grow the table by design for the whole run. The junk traffic is not paced.
RSS is read every second; every 30 s the script prints the median of those readings (a
full-scrape rebuild holds two copies for a moment: transient, not growth), the store's own size (torrents, peers, store bytes from
/stats.json) and the counts so far; at the end a summary: requests served and errors by kind,
RSS over time, and the verdict. RSS is flat when every sample of the last 5 minutes (of the
samples after warm-up, the first peer_timeout + 60 s, if the run is shorter) lies within
+-3 % of their mean. Exit status 0 only when swarmd lived, exited 0 and RSS was flat.
Not part of make test.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from harness import (Daemon, HAVE_V6, V4, V6, announce_target, http_request,  # noqa: E402
                     scrape_target)

PEER_TIMEOUT = 120
POOL = [os.urandom(20) for _ in range(20000)]
POOL_SET = set(POOL)


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, k, n=1):
        with self.lock:
            self.c[k] = self.c.get(k, 0) + n

    def snapshot(self):
        with self.lock:
            return dict(self.c)


def rss_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def store_figures(d):
    """(torrents, peers, store bytes) from /stats.json, or None."""
    try:
        j = json.loads(http_request(d, "/stats.json").body)
        return j["torrents"], j["peers"], j["store_bytes"]
    except Exception:  # noqa: BLE001 -- a busy daemon may time out; skip the sample
        return None


def pick_hash():
    return os.urandom(20) if random.random() < 0.1 else random.choice(POOL)


class Pacer:
    """Sleeps so that calls to wait() happen at most `rate` times a second on average."""

    def __init__(self, rate):
        self.rate, self.n, self.t0 = rate, 0, time.time()

    def wait(self):
        self.n += 1
        ahead = self.t0 + self.n / self.rate - time.time()
        if ahead > 0:
            time.sleep(ahead)


def udp_valid(d, host, counts, stop, rate):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, d.udp_port))
    s.settimeout(1.0)
    cid, cid_at = None, 0
    tag = "udp6" if fam == socket.AF_INET6 else "udp4"
    pace = Pacer(rate)
    while not stop.is_set():
        pace.wait()
        try:
            if cid is None or time.time() - cid_at > 50:
                tid = random.getrandbits(32)
                s.send(struct.pack(">QII", 0x41727101980, 0, tid))
                r = s.recv(2048)
                if len(r) == 16 and struct.unpack(">II", r[:8]) == (0, tid):
                    cid, cid_at = r[8:16], time.time()
                    counts.add(tag + " connect ok")
                continue
            tid = random.getrandbits(32)
            if random.random() < 0.8:
                ih = pick_hash()
                pkt = (cid + struct.pack(">II", 1, tid) + ih + os.urandom(20) +
                       struct.pack(">QQQIIIiH", 0, random.choice((0, 1000)), 0,
                                   random.choice((0, 1, 2, 3) if ih in POOL_SET else (0, 2)),
                                   0, 0, -1, random.randint(1, 65535)))
                kind = "announce"
            else:
                pkt = cid + struct.pack(">II", 2, tid) + b"".join(
                    random.choice(POOL) for _ in range(random.randint(1, 74)))
                kind = "scrape"
            s.send(pkt)
            r = s.recv(2048)
            action = struct.unpack(">I", r[:4])[0] if len(r) >= 4 else -1
            counts.add("%s %s %s" % (tag, kind, "ok" if action in (1, 2) else "error"))
        except socket.timeout:
            counts.add(tag + " timeout")
        except OSError as e:
            counts.add(tag + " socket error " + type(e).__name__)
            time.sleep(0.1)


def udp_junk(d, host, counts, stop):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, d.udp_port))
    s.setblocking(False)
    tag = "udp6" if fam == socket.AF_INET6 else "udp4"
    while not stop.is_set():
        k = random.randrange(5)
        tid = random.getrandbits(32)
        if k == 0:
            pkt = os.urandom(random.randint(0, 1500))
        elif k == 1:
            pkt = struct.pack(">QII", 0x41727101980, 0, tid)[:random.randint(0, 15)]
        elif k == 2:
            pkt = struct.pack(">QII", random.getrandbits(64), 0, tid)
        elif k == 3:  # unknown connection id: a small error reply
            pkt = (os.urandom(8) + struct.pack(">II", 1, tid) + os.urandom(82))
        else:
            pkt = os.urandom(8) + struct.pack(">II", random.randint(4, 1 << 30), tid)
        try:
            s.send(pkt)
            counts.add(tag + " junk sent")
        except OSError:
            pass
        try:
            while True:
                r = s.recv(2048)
                counts.add(tag + " junk answered (%d bytes)" % len(r) if len(r) > 200 else
                           tag + " junk answered")
        except OSError:
            pass
        time.sleep(0.0005)


def http_read(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.split(b" ")[1].decode(), body


def http_valid(d, host, counts, stop, rate):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    tag = "http6" if fam == socket.AF_INET6 else "http4"
    sock = None
    pace = Pacer(rate)
    while not stop.is_set():
        pace.wait()
        try:
            if sock is None:
                sock = socket.socket(fam, socket.SOCK_STREAM)
                sock.settimeout(5)
                sock.connect((host, d.http_port))
            r = random.random()
            if r < 0.75:
                target = announce_target(pick_hash(), random.randint(1, 65535),
                                         left=random.choice((0, 1000)),
                                         compact=random.choice((1, 1, 1, 0)))
                kind = "announce"
            elif r < 0.99:
                target = scrape_target([random.choice(POOL) for _ in range(random.randint(1, 8))])
                kind = "scrape"
            else:
                target = "/scrape"
                kind = "full scrape"
            sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target).encode("latin-1"))
            status, body = http_read(sock)
            if status is None:
                counts.add(tag + " closed by server")
                sock.close()
                sock = None
                continue
            bad = status != "200" or body.startswith(b"d14:failure reason")
            counts.add("%s %s %s" % (tag, kind, "error " + status if bad else "ok"))
            if random.random() < 0.02:
                sock.close()
                sock = None
        except OSError as e:
            counts.add(tag + " socket error " + type(e).__name__)
            if sock:
                sock.close()
            sock = None
            time.sleep(0.05)


JUNK_HTTP = [
    lambda: os.urandom(random.randint(1, 3000)),
    lambda: b"GET /announce?info_hash=%zz HTTP/1.1\r\n\r\n",
    lambda: b"GET /announce HTTP/1.1\r\n\r\n",
    lambda: b"POST /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    lambda: b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
    lambda: b"GET /nothing-here HTTP/1.1\r\n\r\n",
    lambda: b"GET /announce?info_hash=" + b"%41" * 40 + b"&port=99999 HTTP/1.0\r\n\r\n",
    lambda: b"\r\n\r\n",
    lambda: b"GET /announce?info_hash=",  # abandoned half-sent head
]


def http_junk(d, host, counts, stop):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    tag = "http6" if fam == socket.AF_INET6 else "http4"
    while not stop.is_set():
        k = random.randrange(len(JUNK_HTTP))
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect((host, d.http_port))
            s.sendall(JUNK_HTTP[k]())
            if k == len(JUNK_HTTP) - 1:
                counts.add(tag + " junk abandoned head")
            else:
                try:
                    status, _ = http_read(s)
                    counts.add("%s junk %s" % (tag, "closed" if status is None
                                               else "answered " + status))
                except socket.timeout:
                    counts.add(tag + " junk held open (no answer in 2 s)")
            s.close()
        except OSError as e:
            counts.add(tag + " junk socket error " + type(e).__name__)
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", default=os.path.join(HERE, "..", "build", "release", "swarmd"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=30.0, help="report interval, seconds")
    ap.add_argument("--udp-rate", type=float, default=400.0,
                    help="valid UDP requests per second, per address family")
    ap.add_argument("--http-rate", type=float, default=120.0,
                    help="valid HTTP requests per second, per address family")
    args = ap.parse_args()
    d = Daemon(os.path.abspath(args.swarmd), args=[
        "-o", "tracker.peer_timeout=%d" % PEER_TIMEOUT, "-o", "tracker.interval=60"]).start()
    counts = Counts()
    stop = threading.Event()
    hosts = [V4, V6] if HAVE_V6 else [V4]
    threads = []
    for h in hosts:
        for fn, extra in ((udp_valid, (args.udp_rate,)), (udp_junk, ()),
                          (http_valid, (args.http_rate,)), (http_junk, ())):
            t = threading.Thread(target=fn, args=(d, h, counts, stop) + extra, daemon=True)
            t.start()
            threads.append(t)
    t0 = time.time()
    samples = []
    duration = args.minutes * 60
    try:
        while time.time() - t0 < duration:
            period_end = min(t0 + duration, time.time() + args.every)
            readings = []
            while time.time() < period_end:
                time.sleep(max(0.0, min(1.0, period_end - time.time())))
                readings.append(rss_of(d.proc.pid))
            el = time.time() - t0
            rss = sorted(readings)[len(readings) // 2]
            samples.append((el, rss))
            snap = counts.snapshot()
            total = sum(snap.values())
            fig = store_figures(d)
            print("soak: %5.0fs  RSS %6.1f MiB  events %9d  %s" % (
                el, rss / 1048576.0, total, "store: %d torrents, %d peers, %.1f MiB"
                % (fig[0], fig[1], fig[2] / 1048576.0) if fig else "store: ?"), flush=True)
            if not d.alive():
                print("soak: swarmd died!", flush=True)
                break
    finally:
        stop.set()
        for t in threads:
            t.join(3)
    alive = d.alive()
    rc, _ = d.stop()
    snap = counts.snapshot()
    print("\nsoak summary: %.1f minutes, swarmd %s, exit status %r"
          % ((time.time() - t0) / 60, "alive to the end" if alive else "DIED", rc))
    print("requests and outcomes by kind:")
    for k in sorted(snap):
        print("  %-40s %10d" % (k, snap[k]))
    warm = PEER_TIMEOUT + 60
    end = samples[-1][0] if samples else 0
    window = [(t, r) for t, r in samples if t >= max(warm, end - 300)]
    print("RSS over time: " + ", ".join("%.0fs %.1f MiB" % (t, r / 1048576.0)
                                        for t, r in samples))
    if len(window) >= 2:
        # The store's size follows the request rate (peers live peer_timeout seconds), so
        # a sample swings a little with the load; a leak shows as samples leaving the band.
        rss = [r for _, r in window]
        mean = sum(rss) / len(rss)
        lo, hi = min(rss) / mean - 1, max(rss) / mean - 1
        flat = lo >= -0.03 and hi <= 0.03
        print("RSS from %.0f s to %.0f s (%d samples): mean %.1f MiB, min %.1f MiB (%+.1f %%), "
              "max %.1f MiB (%+.1f %%): %s"
              % (window[0][0], window[-1][0], len(rss), mean / 1048576.0, min(rss) / 1048576.0,
                 lo * 100, max(rss) / 1048576.0, hi * 100,
                 "flat (all within +-3 % of the mean)" if flat else "NOT flat"))
    else:
        flat = True
        print("run shorter than the warm-up (%d s): no flatness verdict" % warm)
    return 0 if alive and rc == 0 and flat else 1


if __name__ == "__main__":
    sys.exit(main())
