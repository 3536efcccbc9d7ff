"""WebSocket tracker (WebTorrent): RFC 6455 handshake and frames, announce replies, offers
relayed to other peers of the swarm, answers to the right peer, stopped/close, scrape shared
with HTTP, errors. The client below is a small RFC 6455 client written for these tests."""

import base64
import hashlib
import json
import os
import socket
import struct
import time

from harness import (HAVE_V6, V4, V6, Daemon, Skip, check, eq, http_announce, http_request,
                     http_scrape, peers_of, rand_hash, rand_peer_id, scrape_counts,
                     worker_events)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def s20(b):
    """20 binary bytes as the one-code-point-per-byte string WebTorrent uses."""
    return b.decode("latin-1")


class WsClosed(Exception):
    pass


class Ws:
    def __init__(self, d, host=V4, path="/announce", timeout=5.0, src=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src:
            self.sock.bind((src, 0))
        self.sock.connect((host, d.http_port))
        self.buf = b""
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: tracker\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        check(lines[0].startswith(b"HTTP/1.1 101"), "handshake status line %r" % lines[0])
        hdrs = dict((k.strip().lower(), v.strip())
                    for k, v in (ln.split(b":", 1) for ln in lines[1:]))
        want = base64.b64encode(hashlib.sha1(key + GUID).digest())
        eq(hdrs.get(b"sec-websocket-accept"), want, "Sec-WebSocket-Accept")
        eq(hdrs.get(b"upgrade", b"").lower(), b"websocket", "Upgrade header")

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise WsClosed("connection closed")
        self.buf += data

    def send_frame(self, op, payload, fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | rsv | op
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack(">BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack(">BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def send_json(self, obj, utf8=True):
        # utf8: bytes >= 0x80 of binary strings travel as 2-byte UTF-8, as browsers send them
        text = json.dumps(obj, ensure_ascii=not utf8)
        self.send_frame(1, text.encode("utf-8"))

    def recv_frame(self, timeout=3.0):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                check(not (b1 & 0x80), "server frame is masked")
                n = b1 & 0x7F
                off = 2
                if n == 126:
                    if len(self.buf) >= 4:
                        n = struct.unpack(">H", self.buf[2:4])[0]
                    off = 4
                elif n == 127:
                    if len(self.buf) >= 10:
                        n = struct.unpack(">Q", self.buf[2:10])[0]
                    off = 10
                if len(self.buf) >= off + n:
                    payload = self.buf[off:off + n]
                    self.buf = self.buf[off + n:]
                    check(b0 & 0x80, "server frame without FIN")
                    return b0 & 0x0F, payload
            self._fill()

    def recv_json(self, timeout=3.0):
        op, payload = self.recv_frame(timeout)
        eq(op, 1, "opcode of a tracker message")
        check(all(c < 0x80 for c in payload),
              "raw byte >= 0x80 in a server message: %r" % payload[:200])
        return json.loads(payload.decode("ascii"))

    def nothing(self, wait=0.3):
        try:
            op, payload = self.recv_frame(wait)
        except socket.timeout:
            return
        raise AssertionError("unexpected frame %d: %r" % (op, payload[:200]))

    def expect_close(self, code, timeout=3.0):
        op, payload = self.recv_frame(timeout)
        eq(op, 8, "close frame opcode (payload %r)" % payload)
        eq(struct.unpack(">H", payload[:2])[0], code, "close code")
        # then the server closes the TCP connection
        end = time.time() + timeout
        while time.time() < end:
            try:
                self._fill()
            except WsClosed:
                return
            except (ConnectionResetError, socket.timeout):
                return
        raise AssertionError("server did not close after its close frame")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def announce(ws, h, pid, offers=(), numwant=None, left=1000, event=None, utf8=True):
    msg = {"action": "announce", "info_hash": s20(h), "peer_id": s20(pid), "uploaded": 0,
           "downloaded": 0, "left": left, "offers": list(offers)}
    if numwant is not None:
        msg["numwant"] = numwant
    if event is not None:
        msg["event"] = event
    ws.send_json(msg, utf8)


def mk_offers(n, tag):
    return [{"offer": {"type": "offer", "sdp": "v=0 %s-%d\r\n" % (tag, i)},
             "offer_id": "%s%02d" % (tag, i) + "x" * 14} for i in range(n)]


class WsScope:
    """Runs tests named prefix + name and closes every WebSocket a test opened when it ends."""

    def __init__(self, runner, prefix):
        self.runner, self.prefix, self.socks = runner, prefix, []

    def test(self, name, fn, timeout=20):
        def wrapped():
            try:
                fn()
            finally:
                while self.socks:
                    self.socks.pop().close()
        self.runner.run(self.prefix + name, wrapped, timeout)

    def track(self, *socks):
        """Closes these (any object with close()) when the running test ends."""
        self.socks.extend(socks)

    def ws(self, d, **kw):
        w = Ws(d, **kw)
        self.track(w)
        return w


def wait_counts(d, h, want, what, limit=3.0):
    """Polls d's HTTP scrape of h until it equals want; fails with the last counts."""
    end = time.time() + limit
    while True:
        got = scrape_counts(http_scrape(d, [h]), h)
        if got == want or time.time() > end:
            eq(got, want, what)
            return
        time.sleep(0.05)


def run(runner, swarmd):
    d = Daemon(swarmd).start()
    runner.context = d.context
    scope = WsScope(runner, "websocket: ")
    T = scope.test

    def ws(host=V4, path="/announce"):
        return scope.ws(d, host=host, path=path)

    def joined(h, left=1000, n=1):
        out = []
        for _ in range(n):
            w = ws()
            pid = rand_peer_id()
            announce(w, h, pid, left=left)
            r = w.recv_json()
            eq(r["action"], "announce", "reply action")
            out.append((w, pid))
        return out

    # ---- handshake ------------------------------------------------------------------------
    def handshake():
        for path in ("/", "/announce", "/some/passkey/announce"):
            w = ws(path=path)
            w.send_frame(9, b"hi")
            eq(w.recv_frame(), (10, b"hi"), "pong echoes the ping payload on " + path)
        if HAVE_V6:
            w = ws(V6)
            w.send_frame(9, b"")
            eq(w.recv_frame(), (10, b""), "pong over IPv6")
    T("handshake on any path (v4 and v6), ping answered with pong", handshake)

    def bad_handshakes():
        base = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13")]

        def req(hdrs, version="1.1"):
            return http_request(d, "/announce", version=version,
                                headers=["%s: %s" % kv for kv in hdrs])

        def without(name):
            return [(k, v) for k, v in base if k != name]

        def repl(name, value):
            return [(k, value if k == name else v) for k, v in base]
        for hdrs, status, what in [
                (without("Sec-WebSocket-Key"), 400, "no key"),
                (repl("Sec-WebSocket-Key", "short"), 400, "key not 16 bytes"),
                (repl("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ="), 400, "key 23 chars"),
                (without("Connection"), 400, "no Connection: upgrade"),
                (without("Sec-WebSocket-Version"), 400, "no version"),
                (repl("Sec-WebSocket-Version", "8"), 426, "version 8")]:
            r = req(hdrs)
            eq(r.status, status, what)
            if status == 426:
                eq(r.header("sec-websocket-version"), "13", "426 names version 13")
        r = req(base, "1.0")
        eq(r.status, 400, "HTTP/1.0 upgrade")
        # the RFC's own example key
        s = socket.create_connection((V4, d.http_port), timeout=3)
        try:
            s.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: keep-alive, Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                check(chunk, "closed during handshake")
                got += chunk
            check(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in got,
                  "RFC 6455 example accept value: %r" % got)
        finally:
            s.close()
        # plain HTTP still works
        eq(peers_of(http_announce(d, rand_hash(), 6881)), [], "HTTP announce after bad upgrades")
    T("bad handshakes refused with 400/426, plain HTTP unaffected", bad_handshakes)

    # ---- announce and relay -----------------------------------------------------------------
    def announce_reply():
        # info_hash with control bytes, quotes, backslash and bytes >= 0x80
        h = bytes([0, 1, 0x1F, 0x22, 0x5C, 0x7F, 0x80, 0xFF, 0xC3, 0xA9]) + rand_hash()[:10]
        w = ws()
        pid = rand_peer_id()
        w.send_json({"action": "announce", "info_hash": s20(h), "peer_id": s20(pid),
                     "left": None, "offers": []})
        r = w.recv_json()
        eq(r["action"], "announce", "action")
        eq(r["info_hash"], s20(h), "info_hash round trip (escaped as \\u00xx)")
        eq((r["complete"], r["incomplete"]), (0, 1), "left null counts as a leecher")
        check(isinstance(r["interval"], int) and r["interval"] > 0, "interval %r" % r)
        check("failure reason" not in r, "no failure")
        w2 = ws()
        announce(w2, h, rand_peer_id(), left=0, utf8=False)
        r = w2.recv_json()
        eq((r["complete"], r["incomplete"]), (1, 1), "a seeder joins (ASCII-escaped request)")
        w.nothing()
    T("announce reply: action, info_hash, interval, complete, incomplete", announce_reply)

    def offers_relayed():
        h = rand_hash()
        others = joined(h, n=3)
        w = ws()
        pid = rand_peer_id()
        offers = mk_offers(5, "of")
        announce(w, h, pid, offers=offers, numwant=2)
        r = w.recv_json()
        eq((r["complete"], r["incomplete"]), (0, 4), "counts")
        got = []
        for o, _ in others:
            try:
                m = o.recv_json(0.5)
            except socket.timeout:
                continue
            eq(m["action"], "announce", "relayed action")
            eq(m["info_hash"], s20(h), "relayed info_hash")
            eq(m["peer_id"], s20(pid), "relayed peer_id is the offerer's")
            check(m["offer"]["type"] == "offer", "offer relayed verbatim: %r" % m)
            got.append(m["offer_id"])
            o.nothing(0.1)
        eq(len(got), 2, "min(numwant, offers) = 2 peers got an offer")
        eq(len(set(got)), 2, "each got a different offer")
        check(all(g in [o["offer_id"] for o in offers] for g in got), "offer ids %r" % got)
        w.nothing()  # never its own offer

        # More offers than peers: every other peer gets exactly one.
        w2 = ws()
        pid2 = rand_peer_id()
        announce(w2, h, pid2, offers=mk_offers(10, "zz"), numwant=10)
        w2.recv_json()
        for o, _ in others + [(w, pid)]:
            m = o.recv_json()
            eq(m["peer_id"], s20(pid2), "offerer")
            o.nothing(0.1)
        w2.nothing()
    T("offers relayed to min(numwant, offers) other peers, never the announcer",
      offers_relayed)

    def answers():
        h = rand_hash()
        (a, apid), (b, bpid), (c, cpid) = joined(h, n=3)
        announce(a, h, apid, offers=mk_offers(2, "an"), numwant=2)
        a.recv_json()
        offer = b.recv_json()
        c.recv_json()
        b.send_json({"action": "announce", "info_hash": s20(h), "peer_id": s20(bpid),
                     "to_peer_id": offer["peer_id"], "offer_id": offer["offer_id"],
                     "answer": {"type": "answer", "sdp": "v=0 answer\r\n"}})
        m = a.recv_json()
        eq(m["action"], "announce", "answer action")
        eq(m["peer_id"], s20(bpid), "answer comes from the answerer")
        eq(m["offer_id"], offer["offer_id"], "offer_id")
        eq(m["answer"], {"type": "answer", "sdp": "v=0 answer\r\n"}, "answer verbatim")
        eq(m["info_hash"], s20(h), "info_hash")
        b.nothing()  # no reply to an answer
        c.nothing()
        relayed = worker_events(d, "ws_answer_relayed")
        dropped = worker_events(d, "ws_answer_dropped")
        check(relayed >= 1, "ws_answer_relayed %d after a forwarded answer" % relayed)
        # unknown target: dropped, and counted
        b.send_json({"action": "announce", "info_hash": s20(h), "peer_id": s20(bpid),
                     "to_peer_id": s20(rand_peer_id()), "offer_id": "x" * 20,
                     "answer": {"type": "answer", "sdp": ""}})
        for s in (a, b, c):
            s.nothing()
        eq(worker_events(d, "ws_answer_dropped"), dropped + 1, "ws_answer_dropped after one")
        eq(worker_events(d, "ws_answer_relayed"), relayed, "ws_answer_relayed unchanged")
    T("answers forwarded to to_peer_id only; unknown targets dropped and counted", answers)

    # ---- stopped, close, scrape ---------------------------------------------------------------
    def stopped_and_close():
        h = rand_hash()
        peers = joined(h, n=3)
        wait_counts(d, h, (0, 0, 3), "three WebSocket leechers in the HTTP scrape")
        w, pid = peers[0]
        announce(w, h, pid, event="stopped", left=None)
        r = w.recv_json()
        eq((r["complete"], r["incomplete"]), (0, 2), "counts after stopped")
        peers[1][0].close()
        wait_counts(d, h, (0, 0, 1), "closing a socket stops its peer")
        # a stopped peer gets no offers any more
        x = ws()
        announce(x, h, rand_peer_id(), offers=mk_offers(3, "st"), numwant=3)
        x.recv_json()
        peers[2][0].recv_json()
        w.nothing()
    T("stopped and socket close remove the peer", stopped_and_close)

    def one_socket_many_swarms():
        hs = [rand_hash() for _ in range(4)]
        w = ws()
        for h in hs:
            announce(w, h, rand_peer_id())
            w.recv_json()
        for h in hs:
            wait_counts(d, h, (0, 0, 1), "joined")
        w.close()
        for h in hs:
            wait_counts(d, h, (0, 0, 0), "close stops every swarm of the socket")
    T("close is stopped for every swarm of the socket", one_socket_many_swarms)

    def scrape():
        h1, h2, h3 = rand_hash(), rand_hash(), rand_hash()
        joined(h1, n=2)
        joined(h1, left=0)
        http_announce(d, h1, 6881, left=0)
        http_announce(d, h2, 6882)
        w = ws()
        w.send_json({"action": "scrape", "info_hash": s20(h1)})
        r = w.recv_json()
        eq(r["action"], "scrape", "action")
        eq(r["files"], {s20(h1): {"complete": 2, "incomplete": 2, "downloaded": 0}},
           "WebSocket and HTTP peers counted together")
        w.send_json({"action": "scrape", "info_hash": [s20(h1), s20(h2), s20(h3)]})
        r = w.recv_json()
        eq(r["files"][s20(h2)], {"complete": 0, "incomplete": 1, "downloaded": 0}, "h2")
        eq(r["files"][s20(h3)], {"complete": 0, "incomplete": 0, "downloaded": 0}, "h3")
        wait_counts(d, h1, (2, 0, 2), "HTTP scrape counts WebSocket peers too")
        w.send_json({"action": "scrape"})
        r = w.recv_json()
        check(s20(h1) in r["files"] and s20(h2) in r["files"], "full scrape lists both")
        # HTTP peers never see WebSocket peers (no address) and HTTP counts include them
        rep = http_announce(d, h1, 6883)
        eq(peers_of(rep), [(V4, 6881)], "HTTP announce returns only HTTP peers")
        eq((rep[b"complete"], rep[b"incomplete"]), (2, 3), "HTTP announce counts")
    T("scrape (one, list, all) counts WebSocket and HTTP peers together", scrape)

    # ---- errors -----------------------------------------------------------------------------
    def errors():
        w = ws()
        h = rand_hash()
        for msg, want in [
                (b"not json", "invalid JSON message"),
                (b'{"action":"announce"', "invalid JSON message"),
                (b'[1,2]', "invalid JSON message"),
                (b'{"action":"announce","peer_id":"x"}', "invalid peer_id"),
                (b'{"action":"announce","peer_id":"' + b"a" * 20 + b'"}', "invalid info_hash"),
                (('{"action":"announce","info_hash":"%s"}' % ("\\u0100" * 20)).encode(),
                 "invalid info_hash"),
                (b'{"action":"dance"}', "invalid action"),
                (b'{}', "invalid action")]:
            w.send_frame(1, msg)
            r = w.recv_json()
            check("action" in r, "error without action: %r" % r)
            eq(r.get("failure reason"), want, "failure for %r" % msg)
        announce(w, h, rand_peer_id())
        r = w.recv_json()
        check("failure reason" not in r, "the connection still works: %r" % r)
        # invalid UTF-8 inside a string
        w.send_frame(1, b'{"action":"announce","info_hash":"\xff\xfe"}')
        r = w.recv_json()
        eq(r.get("failure reason"), "invalid JSON message", "invalid UTF-8")
        # binary frames are not tracker messages
        w.send_frame(2, b"{}")
        w.expect_close(1003)
    T("errors carry action and failure reason; binary frame closes 1003", errors)

    def frames():
        # fragmented announce with a ping between the fragments
        w = ws()
        h = rand_hash()
        text = json.dumps({"action": "announce", "info_hash": s20(h),
                           "peer_id": s20(rand_peer_id()), "left": 5}).encode()
        w.send_frame(1, text[:10], fin=False)
        w.send_frame(9, b"p")
        w.send_frame(0, text[10:20], fin=False)
        w.send_frame(0, text[20:], fin=True)
        eq(w.recv_frame(), (10, b"p"), "pong between fragments")
        r = w.recv_json()
        eq(r["info_hash"], s20(h), "reassembled announce answered")
        # close handshake
        w.send_frame(8, struct.pack(">H", 1000) + b"bye")
        w.expect_close(1000)

        w = ws()
        w.send_frame(1, b"x" * 70000)
        w.expect_close(1009)
        w = ws()
        for _ in range(3):
            w.send_frame(1 if _ == 0 else 0, b" " * 30000, fin=False)
        w.expect_close(1009)
        w = ws()
        w.send_frame(1, b"{}", mask=False)
        w.expect_close(1002)
        w = ws()
        w.send_frame(1, b"{}", rsv=0x40)
        w.expect_close(1002)
        w = ws()
        w.send_frame(0, b"{}")
        w.expect_close(1002)
        w = ws()
        w.send_frame(9, b"x" * 126)
        w.expect_close(1002)
        # a big message within the cap is fine
        w = ws()
        big = json.dumps({"action": "announce", "info_hash": s20(rand_hash()),
                          "peer_id": s20(rand_peer_id()), "pad": "y" * 60000}).encode()
        w.send_frame(1, big)
        check("failure reason" not in w.recv_json(), "60 kB message accepted")
    T("fragmentation, control frames, oversized and malformed frames", frames)

    def batched():
        # Several frames in one segment: the replies (queued during the turn and sent together)
        # come back in order, and nothing follows the close frame, not even the reply to an
        # announce sent after the close.
        def frame(op, payload):
            key = os.urandom(4)
            n = len(payload)
            head = struct.pack(">BB", 0x80 | op, 0x80 | n) if n < 126 else \
                struct.pack(">BBH", 0x80 | op, 0x80 | 126, n)
            return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))
        h = rand_hash()
        ann = json.dumps({"action": "announce", "info_hash": s20(h),
                          "peer_id": s20(rand_peer_id()), "left": 5}).encode()
        w = ws()
        w.sock.sendall(frame(9, b"a") + frame(1, ann) + frame(9, b"b") +
                       frame(8, struct.pack(">H", 1000)) + frame(1, ann))
        eq(w.recv_frame(), (10, b"a"), "first pong")
        eq(w.recv_json()["info_hash"], s20(h), "announce answered between the pings")
        eq(w.recv_frame(), (10, b"b"), "second pong")
        w.expect_close(1000)
        eq(w.buf, b"", "nothing after the close frame")
        wait_counts(d, h, (0, 0, 0), "a closed connection is stopped")
    T("frames batched in one segment: replies in order, nothing after close", batched)

    def slow_reader():
        h = rand_hash()
        slow = ws()
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        announce(slow, h, rand_peer_id())
        slow.recv_json()
        fast = ws()
        pid = rand_peer_id()
        big = [{"offer": {"type": "offer", "sdp": "s" * 30000}, "offer_id": "o" * 20}]
        # The slow peer never reads: once the kernel's buffers are full its queue passes the
        # cap (256 KiB) and it is dropped; the fast peer keeps being served.
        for i in range(1000):
            announce(fast, h, pid, offers=big, numwant=1)
            r = fast.recv_json()
            if r["incomplete"] == 1:
                break
        eq(r["incomplete"], 1, "slow reader disconnected after %d offers" % i)
        wait_counts(d, h, (0, 0, 1), "fast peer stays")
    T("a reader that falls behind is disconnected", slow_reader, timeout=40)

    d.stop_and_check(runner, "websocket: daemon exits 0 on SIGTERM")
    runner.context = None

    # ---- configuration ----------------------------------------------------------------------
    c = Daemon(swarmd, config_text="websocket.max_connections 2\nwebsocket.max_torrents 2\n")
    c.start()
    runner.context = c.context

    def caps():
        a, b = Ws(c), Ws(c)
        scope.track(a, b)
        try:
            x = Ws(c)
            scope.track(x)
            x.send_frame(9, b"")
            x.recv_frame(1.0)
            raise AssertionError("a third connection over websocket.max_connections 2 works")
        except (WsClosed, ConnectionResetError, socket.timeout):
            pass
        for i in range(2):
            announce(a, rand_hash(), rand_peer_id())
            check("failure reason" not in a.recv_json(), "torrent %d of 2" % (i + 1))
        h = rand_hash()
        announce(a, h, rand_peer_id())
        r = a.recv_json()
        eq(r.get("failure reason"), "too many torrents on one connection", "third torrent")
        eq(r.get("info_hash"), s20(h), "the failure names the torrent")
        a.close()
        end = time.time() + 3
        while True:  # the closed slot is free again
            try:
                y = Ws(c)
                scope.track(y)
                break
            except (WsClosed, ConnectionResetError, AssertionError):
                check(time.time() < end, "no connection slot freed after a close")
                time.sleep(0.1)
    T("websocket.max_connections and websocket.max_torrents", caps)
    c.stop_and_check(runner, "websocket: capped daemon exits 0")

    off = Daemon(swarmd, config_text="websocket.enable off\n")
    off.start()
    runner.context = off.context

    def disabled():
        r = http_request(off, "/announce", headers=[
            "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"])
        check(r.status != 101, "websocket.enable off still upgrades")
        eq(peers_of(http_announce(off, rand_hash(), 6881)), [], "HTTP still served")
    T("websocket.enable off: upgrades are plain HTTP requests", disabled)
    off.stop_and_check(runner, "websocket: disabled daemon exits 0")
    runner.context = None
