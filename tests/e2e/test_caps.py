"""Resource caps and hostile clients: torrent, peer and memory caps, announce-rate
enforcement, per-address HTTP connection cap, slow request heads, pipelining per turn,
UDP buffer sizes, thousands of idle connections. Each cap: the refusal and that service
continues."""

import json
import re
import socket
import struct
import time

from harness import (V4, Daemon, UdpClient, announce_target, check, eq, failure_of,
                     http_announce, http_request, peers_of, pipeline, rand_hash, rand_peer_id,
                     udp_announce_pkt)


def log_count(d, key, counter):
    """The running total in the newest rate-limited "cap: KEY ... (COUNTER N so far)" line."""
    found = re.findall(r"cap: %s .*\(%s (\d+) so far\)" % (re.escape(key), counter),
                       d.stderr_text(100000))
    return int(found[-1]) if found else None


def wait_log(d, pattern, timeout=2.0):
    end = time.time() + timeout
    while time.time() < end:
        m = re.search(pattern, d.stderr_text(100000))
        if m:
            return m
        time.sleep(0.05)
    return None


def udp_error(u, info_hash, port):
    """The message of the UDP error reply to an announce (fails on a normal reply)."""
    tid, pkt, r = u.announce_raw(info_hash, port)
    eq(struct.unpack(">I", r[:4])[0], 3, "UDP reply action (error)")
    eq(struct.unpack(">I", r[4:8])[0], tid, "UDP error transaction id")
    check(len(r) <= len(pkt), "UDP error (%d bytes) larger than the request (%d)"
          % (len(r), len(pkt)))
    return r[8:].decode("latin-1")


def connect_from(src, d, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((V4, d.http_port))
    return s


def closed_soon(s, wait=1.0):
    """True when the server closes s (EOF or reset) within wait seconds."""
    s.settimeout(wait)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def served(s, info_hash=None):
    """One keep-alive announce on s answers with a bencoded 200."""
    target = announce_target(info_hash or rand_hash(), 6881)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target).encode("latin-1"))
    data = b""
    s.settimeout(3)
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return False
        data += chunk
    return data.startswith(b"HTTP/1.1 200")


def run(runner, swarmd):
    def T(name, fn, timeout=15):
        runner.run("caps: " + name, fn, timeout)

    # ---- store caps ---------------------------------------------------------------------------
    # Eviction off: these check the refusals themselves (eviction has its own daemon below).
    d = Daemon(swarmd, config_text="tracker.max_torrents 3\ntracker.max_peers_per_torrent 2\n"
               "tracker.workers 2\ntracker.evict off\n").start()
    runner.context = d.context
    hashes = [rand_hash() for _ in range(3)]
    extra = rand_hash()

    def torrent_cap():
        for h in hashes:
            http_announce(d, h, 7001)
        text = failure_of(http_request(d, announce_target(extra, 7001)), "4th torrent")
        eq(text, "tracker full: too many torrents", "failure reason")
        u = UdpClient(d)
        try:
            eq(udp_error(u, rand_hash(), 7001), "tracker full: too many torrents",
               "UDP error message")
            # Existing swarms keep working, over both protocols.
            r = u.announce(hashes[0], 7002)
            eq(r["leechers"], 2, "leechers of an existing torrent after refusals")
        finally:
            u.close()
        r = http_announce(d, hashes[1], 7002)
        check((V4, 7001) in peers_of(r), "existing swarm lost its peer: %r" % r)
        check(wait_log(d, r"cap: tracker\.max_torrents \(3\) reached"),
              "no log line for the torrent cap")
        n = log_count(d, "tracker.max_torrents", "refused_torrents")
        check(n is not None and n >= 1, "refusal counter in the log: %r" % n)
        # A stopped announce frees a slot; a new torrent then fits.
        http_announce(d, hashes[2], 7001, event="stopped")
        http_announce(d, extra, 7001)
    T("tracker.max_torrents refuses new torrents, existing swarms work", torrent_cap)

    def peer_cap():
        h = hashes[0]  # holds 7001 and 7002 now
        text = failure_of(http_request(d, announce_target(h, 7003)), "3rd peer")
        eq(text, "torrent full: too many peers", "failure reason")
        u = UdpClient(d)
        try:
            eq(udp_error(u, h, 7004), "torrent full: too many peers", "UDP error message")
            # A known peer announcing over UDP is still served.
            eq(u.announce(h, 7002)["leechers"], 2, "UDP announce of a known peer")
        finally:
            u.close()
        # Known peers still announce and get each other; other torrents take new peers.
        r = http_announce(d, h, 7001)
        eq(peers_of(r), [(V4, 7002)], "peers of a known peer in a full torrent")
        http_announce(d, extra, 7003)
        # A peer leaving makes room.
        http_announce(d, h, 7002, event="stopped")
        http_announce(d, h, 7003)
        check(wait_log(d, r"cap: tracker\.max_peers_per_torrent \(2\) reached"),
              "no log line for the peer cap")
    T("tracker.max_peers_per_torrent refuses new peers, known peers work", peer_cap)

    def log_rate_limited():
        for _ in range(20):
            http_request(d, announce_target(rand_hash(), 7001))
        lines = re.findall(r"cap: tracker\.max_torrents", d.stderr_text(100000))
        eq(len(lines), 1, "log lines for 20+ refusals within 10 s")
    T("refusal log lines are rate-limited", log_rate_limited)
    d.stop_and_check(runner, "caps: daemon exits 0 on SIGTERM")
    runner.context = None

    # ---- memory budget: a UDP flood of new torrents until the budget refuses them -------------
    d = Daemon(swarmd, config_text="tracker.max_memory 1\ntracker.workers 1\n"
               "tracker.evict off\n").start()
    runner.context = d.context

    def memory_cap():
        keep = rand_hash()
        http_announce(d, keep, 7001)
        u = UdpClient(d)
        try:
            u.connect()
            sent = 0
            while sent < 60000:
                for _ in range(500):
                    u.send(udp_announce_pkt(u.conn_id, sent, rand_hash(), rand_peer_id(), 7001,
                                            num_want=0))
                    sent += 1
                time.sleep(0.01)
                u.drain()
                if sent % 5000 == 0 and log_count(d, "tracker.max_memory",
                                                  "refused_memory"):
                    break
            u.drain()
            check(wait_log(d, r"cap: tracker\.max_memory \(1 MiB\) reached", 3),
                  "no memory cap log line after %d new torrents" % sent)
            eq(udp_error(u, rand_hash(), 7001), "tracker full: out of memory budget",
               "UDP error past the budget")
        finally:
            u.close()
        text = failure_of(http_request(d, announce_target(rand_hash(), 7001)), "over budget")
        eq(text, "tracker full: out of memory budget", "HTTP failure reason")
        # New torrents stop at 15/16 of the budget, so existing swarms can still grow.
        r = http_announce(d, keep, 7002)
        eq(peers_of(r), [(V4, 7001)], "new peer of an existing swarm under the memory cap")
        r = http_announce(d, keep, 7001)
        eq(peers_of(r), [(V4, 7002)], "known peer of an existing swarm under the memory cap")
    T("tracker.max_memory refuses new torrents, existing swarms work", memory_cap, 40)
    d.stop_and_check(runner, "caps: memory-capped daemon exits 0")
    runner.context = None

    # ---- eviction (tracker.evict, on by default): junk makes room for newcomers -------------
    d = Daemon(swarmd, config_text="tracker.max_torrents 400\ntracker.workers 2\n").start()
    runner.context = d.context

    def metric(name):
        text = http_request(d, "/metrics").body.decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
        return int(m.group(1)) if m else None

    def eviction():
        real = rand_hash()
        http_announce(d, real, 7001, left=0)
        http_announce(d, real, 7002)
        eq(metric("swarmd_evicted_total"), 0, "swarmd_evicted_total before the flood")
        # 1000 random info-hashes of one leecher each: the cap (400) fills, then every
        # newcomer evicts a junk swarm; none is refused.
        u = UdpClient(d)
        errors = 0
        try:
            u.connect()
            for i in range(1000):
                r = u.announce_raw(rand_hash(), 7003, num_want=0)[2]
                errors += struct.unpack(">I", r[:4])[0] == 3
        finally:
            u.close()
        eq(errors, 0, "UDP error replies to flood announces with eviction on")
        eq(metric("swarmd_torrents"), 400, "torrents after the flood")
        evicted = metric("swarmd_evicted_total")
        check(evicted is not None and evicted >= 1000 + 1 - 400,
              "swarmd_evicted_total %r after 1000 new torrents at a cap of 400" % evicted)
        # The real swarm (two peers) was never evicted: both peers still there.
        r = http_announce(d, real, 7001, left=0)
        eq(peers_of(r), [(V4, 7002)], "the two-peer swarm after the flood")
        # A real newcomer after the flood gets in, over HTTP too.
        newcomer = rand_hash()
        r = http_announce(d, newcomer, 7004, left=0)
        eq(r[b"complete"], 1, "seeders of a new torrent at the cap")
        r = http_announce(d, newcomer, 7005)
        eq(peers_of(r), [(V4, 7004)], "second peer of the new torrent gets the first")
        check(wait_log(d, r"cap: tracker\.max_torrents \(400\) reached, evicting"),
              "no eviction log line")
        lines = re.findall(r"evicting torrents", d.stderr_text(100000))
        eq(len(lines), 1, "eviction log lines (rate-limited) for 600+ evictions within 10 s")
        j = json.loads(http_request(d, "/stats.json").body)
        eq(j["counters"]["evicted"], metric("swarmd_evicted_total"), "stats.json evicted")
        eq(j["counters"]["refused_torrents"], 0, "refused_torrents with eviction on")
    T("tracker.evict: a flood fills the cap, newcomers evict junk, real swarms stay",
      eviction, 40)
    d.stop_and_check(runner, "caps: evicting daemon exits 0")
    runner.context = None

    # ---- announce-rate enforcement ------------------------------------------------------------
    def rate(enforce):
        d = Daemon(swarmd, config_text="tracker.min_interval 60\ntracker.interval 120\n"
                   "tracker.enforce_min_interval %s\n" % ("on" if enforce else "off")).start()
        runner.context = d.context
        try:
            h = rand_hash()
            http_announce(d, h, 7001)
            r = http_announce(d, h, 7002, event="started")
            eq(peers_of(r), [(V4, 7001)], "first announce of the second peer")
            r = http_announce(d, h, 7002)  # again at once: far inside min interval
            eq(r[b"incomplete"], 2, "counts in a too-early reply")
            if enforce:
                eq(peers_of(r), [], "peers for a re-announce within min_interval/2")
                # Events are never throttled: stopping works at once.
                r = http_announce(d, h, 7002, event="stopped")
                eq(r[b"incomplete"], 1, "leechers after stop")
            else:
                eq(peers_of(r), [(V4, 7001)], "peers with enforcement off")
        finally:
            d.stop()
            runner.context = None
    T("tracker.enforce_min_interval on: early re-announce gets no peers", lambda: rate(True))
    T("tracker.enforce_min_interval off (default): early re-announce gets peers",
      lambda: rate(False))

    # ---- HTTP: per-address cap, head timeout, pipelining ---------------------------------------
    d = Daemon(swarmd, config_text="http.max_connections_per_ip 3\nhttp.header_timeout 1\n"
               "http.idle_timeout 30\nhttp.max_pipeline 4\n").start()
    runner.context = d.context

    def per_ip():
        a = [connect_from("127.0.0.2", d) for _ in range(3)]
        try:
            time.sleep(0.1)
            over = connect_from("127.0.0.2", d)
            check(closed_soon(over), "4th connection from 127.0.0.2 was not closed")
            over.close()
            check(all(served(s) for s in a), "the 3 allowed connections are served")
            other = connect_from("127.0.0.3", d)
            check(served(other), "another address is served")
            other.close()
            a.pop().close()
            time.sleep(0.2)
            again = connect_from("127.0.0.2", d)
            check(served(again), "a slot freed by a close is usable")
            a.append(again)
        finally:
            for s in a:
                s.close()
    T("http.max_connections_per_ip closes the excess, others served", per_ip)

    def slow_head():
        slow = connect_from("127.0.0.4", d)
        silent = connect_from("127.0.0.4", d)
        try:
            t0 = time.time()
            slow.sendall(b"GET /announce?info_hash=")
            closed = False
            while time.time() - t0 < 4:
                try:
                    slow.sendall(b"a")  # a byte every 0.2 s: never idle, never finished
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if closed_soon(slow, 0.2):
                    closed = True
                    break
            took = time.time() - t0
            check(closed, "slow head still open after %.1fs with header_timeout 1" % took)
            check(took < 2.5, "slow head closed only after %.1fs" % took)
            # The idle timeout (30 s) is distinct: a silent connection stays open.
            check(not closed_soon(silent, 0.1), "silent connection closed with the slow one")
            check(served(silent), "silent connection then served")
            http_announce(d, rand_hash(), 7001)
        finally:
            slow.close()
            silent.close()
    T("http.header_timeout closes a trickling head, not an idle connection", slow_head)

    def pipelined():
        h = rand_hash()
        targets = [announce_target(h, 8000 + i) for i in range(20)]
        resps = pipeline(d, targets)
        eq(len(resps), 20, "replies to 20 pipelined announces with max_pipeline 4")
        for i, r in enumerate(resps):
            eq(r.status, 200, "reply %d status" % i)
        http_announce(d, rand_hash(), 7001)
    T("http.max_pipeline: 20 pipelined requests answered 4 per turn, in order", pipelined)
    d.stop_and_check(runner, "caps: HTTP-capped daemon exits 0")
    runner.context = None

    # ---- UDP buffer sizes --------------------------------------------------------------------
    def udp_buffers():
        d = Daemon(swarmd, config_text="udp.rcvbuf 65536\nudp.sndbuf 32768\n").start()
        try:
            m = wait_log(d, r"receive buffer (\d+) bytes, send buffer (\d+) bytes")
            check(m, "no UDP buffer log line")
            rb, sb = int(m.group(1)), int(m.group(2))
            # Linux doubles the request for bookkeeping.
            check(65536 <= rb <= 2 * 65536, "receive buffer %d for udp.rcvbuf 65536" % rb)
            check(32768 <= sb <= 2 * 32768, "send buffer %d for udp.sndbuf 32768" % sb)
            u = UdpClient(d)
            try:
                u.announce(rand_hash(), 7001)
            finally:
                u.close()
        finally:
            d.stop()
    T("udp.rcvbuf / udp.sndbuf set the socket buffers", udp_buffers)

    # ---- thousands of idle and slow connections ----------------------------------------------
    d = Daemon(swarmd, args=["-o", "http.max_connections=20000"]).start()
    runner.context = d.context

    def idle_thousands():
        socks = []
        try:
            for i in range(3000):
                # 256 per address is the default cap: spread over 127.0.1.x sources.
                s = connect_from("127.0.1.%d" % (1 + i // 200), d)
                if i % 3 == 0:
                    s.sendall(b"GET /announce?info_hash=%41")  # stuck mid-head
                socks.append(s)
            for _ in range(5):
                t0 = time.time()
                http_announce(d, rand_hash(), 7001)
                took = time.time() - t0
                check(took < 1.0, "announce took %.2fs beside 3000 idle connections" % took)
            check(closed_soon(socks[-1], 0.05) is False, "idle connections were dropped early")
        finally:
            for s in socks:
                s.close()
        http_announce(d, rand_hash(), 7001)
    T("3000 idle/slow connections: a new client is served within 1 s", idle_thousands, 60)
    d.stop_and_check(runner, "caps: daemon with 3000 connections exits 0")
    runner.context = None
