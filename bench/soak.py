#!/usr/bin/python3
"""Soak: mixed valid and garbage traffic at swarmd for a long time; is its memory flat?

    /usr/bin/python3 bench/soak.py --swarmd build/release/swarmd [--minutes 10]

Starts swarmd on loopback (127.0.0.1 and ::1, free ports, tracker.peer_timeout 120 so the
swarm table reaches a steady state within the run) and drives it from one thread per kind
of traffic, over IPv4 and IPv6:
  udp      connect, announce (a pool of 20,000 torrents, 1 in 10 a fresh random one) and
           scrape, with valid connection IDs
  udp-junk random datagrams, truncated packets, wrong protocol ids, unknown connection IDs,
           bad actions (all dropped or answered by a small error)
  http     keep-alive announces and scrapes, some compact=0, some full scrapes
  http-junk malformed request lines, binary garbage, oversized heads, bad parameters,
           unknown paths, abandoned half-sent heads
Every 30 s it prints swarmd's RSS and the counts so far; at the end a summary: requests
served and errors by kind, RSS over time, and whether RSS after warm-up (the first
peer_timeout + 60 s) is flat: the mean of the later half of the samples no more than 10 %
above the earlier half's. Not part of make test.
"""

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from harness import Daemon, HAVE_V6, V4, V6, announce_target, scrape_target  # noqa: E402

PEER_TIMEOUT = 120
POOL = [os.urandom(20) for _ in range(20000)]


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


def pick_hash():
    return os.urandom(20) if random.random() < 0.1 else random.choice(POOL)


def udp_valid(d, host, counts, stop):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, d.udp_port))
    s.settimeout(1.0)
    cid, cid_at = None, 0
    tag = "udp6" if fam == socket.AF_INET6 else "udp4"
    while not stop.is_set():
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
                pkt = (cid + struct.pack(">II", 1, tid) + pick_hash() + os.urandom(20) +
                       struct.pack(">QQQIIIiH", 0, random.choice((0, 1000)), 0,
                                   random.choice((0, 1, 2, 3)), 0, 0, -1,
                                   random.randint(1, 65535)))
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


def http_valid(d, host, counts, stop):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    tag = "http6" if fam == socket.AF_INET6 else "http4"
    sock = None
    while not stop.is_set():
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
    args = ap.parse_args()
    d = Daemon(os.path.abspath(args.swarmd), args=[
        "-o", "tracker.peer_timeout=%d" % PEER_TIMEOUT, "-o", "tracker.interval=60"]).start()
    counts = Counts()
    stop = threading.Event()
    hosts = [V4, V6] if HAVE_V6 else [V4]
    threads = []
    for h in hosts:
        for fn in (udp_valid, udp_junk, http_valid, http_junk):
            t = threading.Thread(target=fn, args=(d, h, counts, stop), daemon=True)
            t.start()
            threads.append(t)
    t0 = time.time()
    samples = []
    duration = args.minutes * 60
    try:
        while time.time() - t0 < duration:
            time.sleep(min(args.every, max(0.1, duration - (time.time() - t0))))
            el = time.time() - t0
            rss = rss_of(d.proc.pid)
            samples.append((el, rss))
            snap = counts.snapshot()
            total = sum(snap.values())
            print("soak: %5.0fs  RSS %6.1f MiB  events %d" % (el, rss / 1048576.0, total),
                  flush=True)
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
    after = [r for t, r in samples if t >= warm]
    print("RSS over time: " + ", ".join("%.0fs %.1f MiB" % (t, r / 1048576.0)
                                        for t, r in samples))
    if len(after) >= 2:
        # RSS swings with full-scrape buffers and table resizes; a leak shows as a trend,
        # so compare the means of the two halves of the post-warm-up samples.
        half = len(after) // 2
        first = sum(after[:half]) / half
        second = sum(after[half:]) / (len(after) - half)
        flat = second <= first * 1.10
        print("RSS after warm-up (%d s): min %.1f MiB, max %.1f MiB, mean of first half "
              "%.1f MiB, second half %.1f MiB: %s"
              % (warm, min(after) / 1048576.0, max(after) / 1048576.0, first / 1048576.0,
                 second / 1048576.0, "flat (no growth over 10 %)" if flat else "NOT flat"))
    else:
        flat = True
        print("run shorter than the warm-up (%d s): no flatness verdict" % warm)
    return 0 if alive and rc == 0 and flat else 1


if __name__ == "__main__":
    sys.exit(main())
