"""Graceful shutdown: on SIGTERM/SIGINT swarmd stops accepting, finishes the replies to every
request it had received (pipelined ones, a multi-megabyte full scrape half sent, WebSocket
close frames), refuses new connections at once, and exits 0 within a second, plus the time of
the final snapshot when a state file is configured; a client that stops reading is cut at
the deadline instead of holding the exit.

Most daemons here load a state file of 100k torrents, so a full scrape is ~7 MB: far more
than the kernel's socket buffers hold, so part of it is still in swarmd when the signal
comes (with the client's receive buffer kept small)."""

import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import tempfile
import termios
import time
import zlib

from harness import (V4, Daemon, HttpConn, TestFailure, UdpClient, announce_target, bdecode,
                     check, eq, http_announce, http_get_bytes, http_request, rand_hash,
                     udp_connect_pkt)

NTORRENTS = 100000
DRAIN_BOUND = 1.0  # seconds from the signal to the exit, without the final snapshot
SLACK = 0.35       # Python's own latency on a loaded machine
# An ASan build's leak check at exit scans the whole heap (100k torrents here) after swarmd is
# done: allow for it rather than measure the sanitizer.
ASAN_SLACK = 2.0


def state_file(path, n):
    """A state file (docs/statefile.md) of n torrents with one seeding IPv4 peer each."""
    parts = [b"SWARMDSF" + struct.pack("<IIQ", 1, 0, int(time.time()))]
    for t in range(n):
        parts.append(struct.pack(">I", t) + b"\x6b" * 16 + b"\x01\x03\x01\x00" +
                     struct.pack(">IH", 0x0a000000 + t, 6881) + struct.pack("<H", 4 | 0x8000))
    parts.append(struct.pack("<QQ", n, n))
    data = b"".join(parts)
    with open(path, "wb") as f:
        f.write(data + struct.pack("<I", zlib.crc32(data)))


def saved_seconds(d):
    """Time the final snapshot took, from the daemon's log line."""
    m = re.search(r"state saved to .* in ([0-9.]+) s", d.stderr_text(20000))
    if not m:
        raise TestFailure("no 'state saved' line in the log:\n" + d.stderr_text(2000))
    return float(m.group(1))


def outq(sock):
    """Bytes in sock's send queue not yet acknowledged by the peer's kernel."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


def small_client(d, rcvbuf):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect, so the window the server sees stays small.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5.0)
    s.connect((V4, d.http_port))
    return s


def read_to_eof(s, limit, pause=0.0):
    """Everything until the server closes; raises on a reset or when limit seconds pass."""
    data = bytearray()
    end = time.time() + limit
    while True:
        if time.time() > end:
            raise TestFailure("no EOF within %.1f s (%d bytes read)" % (limit, len(data)))
        try:
            b = s.recv(262144)
        except ConnectionResetError:
            raise TestFailure("connection reset after %d bytes" % len(data))
        except socket.timeout:
            raise TestFailure("read timed out after %d bytes" % len(data))
        if not b:
            return bytes(data)
        data += b
        if pause:
            time.sleep(pause)


def split_replies(data):
    """[(status, body)] of consecutive Content-Length HTTP replies; the rest must be empty."""
    out = []
    while data:
        i = data.find(b"\r\n\r\n")
        check(i > 0, "truncated reply head after %d replies: %r" % (len(out), data[:100]))
        head = data[:i].decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        check(m, "reply without Content-Length: %r" % head[:200])
        n = int(m.group(1))
        body = data[i + 4:i + 4 + n]
        check(len(body) == n, "reply %d truncated: %d of %d body bytes"
              % (len(out) + 1, len(body), n))
        out.append((int(head.split(" ", 2)[1]), body))
        data = data[i + 4 + n:]
    return out


def run(runner, swarmd):
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-shutdown-")
    master = os.path.join(tmp, "master.state")

    def T(name, fn, timeout=30):
        runner.run("shutdown: " + name, fn, timeout)

    try:
        state_file(master, NTORRENTS)
        _run(T, runner, swarmd, tmp, master)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(T, runner, swarmd, tmp, master):
    slack = SLACK + (ASAN_SLACK if "/asan/" in swarmd else 0.0)
    counter = [0]
    full = {}

    def big_daemon(extra=()):
        """A daemon serving the 100k-torrent store (its own copy of the state file), with the
        full scrape built and cached."""
        counter[0] += 1
        path = os.path.join(tmp, "state.%d" % counter[0])
        shutil.copyfile(master, path)
        d = Daemon(swarmd, ["--tracker.statefile=" + path, "-o", "tracker.fullscrape_cache=60"]
                   + list(extra)).start()
        runner.context = d.context
        r = http_request(d, "/scrape")
        eq(r.status, 200, "full scrape status")
        check(len(r.body) > 6000000, "full scrape of %d torrents is only %d bytes"
              % (NTORRENTS, len(r.body)))
        full["body"] = r.body
        return d

    def stop_within(d, sig=signal.SIGTERM, snapshot=True, t0=None):
        rc, elapsed = d.stop(sig, 5.0)
        if t0 is not None:
            elapsed = time.time() - t0
        if rc is None:
            raise TestFailure("no exit within 5 s of %s" % sig.name)
        eq(rc, 0, "exit status after %s" % sig.name)
        bound = DRAIN_BOUND + slack + (saved_seconds(d) if snapshot else 0.0)
        check(elapsed <= bound, "exit %.2f s after %s (bound %.2f s)"
              % (elapsed, sig.name, bound))
        return elapsed

    # ---- (a) a pipelined batch sent, not yet read -------------------------------------------
    def pipelined_batch():
        d = big_daemon()
        s = small_client(d, 16384)
        try:
            h = rand_hash()
            targets = ([announce_target(h, 20000 + i) for i in range(40)] + ["/scrape"] +
                       [announce_target(h, 20100 + i) for i in range(40)])
            batch = b"".join(http_get_bytes(t) for t in targets)
            check(len(batch) > 8192, "batch of %d bytes fits one read (8 KiB)" % len(batch))
            s.sendall(batch)
            end = time.time() + 3
            while outq(s) and time.time() < end:  # the whole batch is in swarmd's kernel
                time.sleep(0.01)
            eq(outq(s), 0, "bytes of the batch not yet received by the server")
            time.sleep(0.3)  # swarmd fills the socket and waits for the reader
            d.proc.send_signal(signal.SIGTERM)
            t0 = time.time()
            time.sleep(0.05)
            replies = split_replies(read_to_eof(s, 3.0))
            eq(len(replies), len(targets), "replies to %d pipelined requests" % len(targets))
            for i, (status, body) in enumerate(replies):
                eq(status, 200, "status of reply %d" % i)
                if targets[i] == "/scrape":
                    check(body == full["body"], "full scrape reply differs from the cached "
                          "body (%d vs %d bytes)" % (len(body), len(full["body"])))
                else:
                    r = bdecode(body)
                    check(b"interval" in r, "announce reply %d: %r" % (i, body[:100]))
            stop_within(d, t0=t0)
        finally:
            s.close()
            d.kill()
    T("(a) SIGTERM with an unread pipelined batch (40 announces, a 7 MB full scrape, 40 "
      "more): every reply arrives whole, then EOF, exit 0", pipelined_batch)

    # ---- (b) a large reply in flight, read slowly -------------------------------------------
    def slow_reader():
        d = big_daemon()
        s = small_client(d, 262144)
        try:
            s.sendall(http_get_bytes("/scrape", headers=["Connection: close"]))
            first = s.recv(65536)
            check(first.startswith(b"HTTP/1.1 200"), "reply head %r" % first[:40])
            time.sleep(0.2)
            d.proc.send_signal(signal.SIGTERM)
            t0 = time.time()
            rest = read_to_eof(s, 3.0, pause=0.01)  # ~10 ms between reads of <= 256 KiB
            replies = split_replies(first + rest)
            eq(len(replies), 1, "replies")
            check(replies[0][1] == full["body"], "full scrape body: %d of %d bytes, or different"
                  % (len(replies[0][1]), len(full["body"])))
            stop_within(d, t0=t0)
        finally:
            s.close()
            d.kill()
    T("(b) a 7 MB full scrape read slowly after SIGTERM completes", slow_reader)

    # ---- (c) refusing new work at once ------------------------------------------------------
    def refuses_new():
        d = big_daemon()
        stuck = small_client(d, 16384)
        try:
            stuck.sendall(http_get_bytes("/scrape"))  # never read: keeps swarmd draining
            time.sleep(0.2)
            d.proc.send_signal(signal.SIGTERM)
            t0 = time.time()
            refused_at = None
            while time.time() - t0 < 0.7 and d.alive():
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.settimeout(1.0)
                try:
                    c.connect((V4, d.http_port))
                except ConnectionRefusedError:
                    refused_at = time.time() - t0
                    break
                finally:
                    c.close()
                time.sleep(0.01)
            check(refused_at is not None, "new connections still accepted %.2f s after SIGTERM"
                  % (time.time() - t0))
            check(refused_at < 0.3, "first refusal only %.2f s after SIGTERM" % refused_at)
            check(d.alive(), "daemon gone before the stuck reader's deadline")
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.connect((V4, d.udp_port))
                u.settimeout(0.3)
                u.send(udp_connect_pkt(7))
                try:
                    got = u.recv(2048)
                    raise TestFailure("UDP still answered after SIGTERM: %r" % got[:16])
                except (ConnectionRefusedError, socket.timeout):
                    pass
            finally:
                u.close()
            stop_within(d, t0=t0)
        finally:
            stuck.close()
            d.kill()
    T("(c) after SIGTERM new TCP connections are refused within 0.3 s and UDP is no longer "
      "answered, while a reply still drains", refuses_new)

    # ---- (d) a reader that never reads -----------------------------------------------------
    def never_reads():
        d = big_daemon()
        stuck = small_client(d, 16384)
        idle = HttpConn(d)
        mid = HttpConn(d)
        try:
            stuck.sendall(http_get_bytes("/scrape"))
            idle.send(http_get_bytes("/scrape?info_hash=" + "a" * 20))
            idle.read_response()
            mid.send(b"GET /announce?info")
            time.sleep(0.2)
            elapsed = stop_within(d)
            check(elapsed >= 0.5, "exit after %.2f s: the stuck reply was not drained at all"
                  % elapsed)
            check(re.search(r"cutting 1 connection\b", d.stderr_text(20000)),
                  "no log line about the connection cut at the deadline:\n"
                  + d.stderr_text(2000))
            check(idle.wait_closed(0.5), "idle connection not closed")
            check(mid.wait_closed(0.5), "mid-head connection not closed")
        finally:
            for c in (idle, mid):
                c.close()
            stuck.close()
            d.kill()
    T("(d) a client that never reads its 7 MB reply is cut at ~1 s; exit 0 within 1 s + "
      "the snapshot", never_reads)

    # ---- (c) without a state file: exit 0 within a second ----------------------------------
    def plain_exit(sig):
        def t():
            d = Daemon(swarmd).start()
            runner.context = d.context
            conns = []
            try:
                h = rand_hash()
                http_announce(d, h, 7001)
                u = UdpClient(d, V4)
                u.announce(h, 7002)
                u.close()
                c1 = HttpConn(d)
                c1.send(http_get_bytes("/scrape?info_hash=" + "a" * 20))
                c1.read_response()
                c2 = HttpConn(d)
                c2.send(b"GET /announce?info")
                conns = [c1, c2]
                time.sleep(0.1)
                elapsed = stop_within(d, sig, snapshot=False)
                check(elapsed < DRAIN_BOUND, "exit %.2f s after %s" % (elapsed, sig.name))
            finally:
                for c in conns:
                    c.close()
                d.kill()
        return t
    for sig in (signal.SIGTERM, signal.SIGINT):
        T("(c) %s without a state file, idle and mid-head connections open: exit 0 within "
          "1 s" % sig.name, plain_exit(sig))

    # ---- WebSocket peers get a close frame -------------------------------------------------
    def websocket_close():
        from test_websocket import Ws, announce
        d = Daemon(swarmd).start()
        runner.context = d.context
        w = None
        try:
            w = Ws(d)
            announce(w, rand_hash(), os.urandom(20))
            r = w.recv_json()
            eq(r.get("action"), "announce", "WebSocket announce reply")
            d.proc.send_signal(signal.SIGTERM)
            t0 = time.time()
            w.expect_close(1001, timeout=2.0)
            check(time.time() - t0 < DRAIN_BOUND, "close frame %.2f s after SIGTERM"
                  % (time.time() - t0))
            stop_within(d, snapshot=False, t0=t0)
        finally:
            if w:
                w.close()
            d.kill()
    T("a WebSocket peer gets close 1001 (going away) on SIGTERM, exit 0", websocket_close)
    runner.context = None
