#!/usr/bin/python3
"""Checks bench/wsload (the C WebSocket load generator of ws_relay.py) against a scripted fake
tracker on 127.0.0.1, so a change to its framing or handshake code cannot silently skew the
relay benchmark:

    /usr/bin/python3 bench/wsload_check.py [build/bench/wsload]

The fake tracker answers the handshake in the same write as a ping, sends every join reply
one byte per send, and answers each relay announce with its 5 offers and the reply in one
write (every 7th one with its first 2500 bytes a byte per send), using 7-, forced 16- and
forced 64-bit lengths, a 70 KB offer, a binary frame and an unsolicited pong in between.
It checks what wsload sends (masked frames; join and relay announces as specified; a pong
echoing the ping) and what wsload reports (joined, start, end with offers = 5 x announces
give or take the announces in flight at the window's edges). Scenarios: ok; a close frame
from the tracker; a plain EOF; a wrong Sec-WebSocket-Accept (the last three must exit 2).
Prints "ok - ..." / "not ok - ..." lines; exits 1 if any check failed.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PEERS, SWARMS = 30, 3


def frame(payload, op=1, ext=None):
    n = len(payload)
    if ext == 64 or n > 65535:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    elif ext == 16 or n > 125:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BB", 0x80 | op, n)
    return h + payload


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()  # as JSON.stringify and swarmd


class Fake:
    def __init__(self, mode):
        self.mode = mode
        self.lock = threading.Lock()
        self.problems = []
        self.pongs = 0
        self.relays = 0
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def problem(self, what):
        with self.lock:
            self.problems.append(what)

    def accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            self.serve1(c, c.makefile("rb"))
        except (OSError, EOFError):
            pass  # wsload exited: its sockets closed
        except Exception as e:  # a malformed message from wsload
            self.problem("%s: %s" % (type(e).__name__, e))

    @staticmethod
    def read_exact(f, n):
        d = f.read(n)
        if len(d) != n:
            raise EOFError
        return d

    def read_frame(self, f):
        b0, b1 = self.read_exact(f, 2)
        if not b1 & 0x80:
            self.problem("client frame not masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(f, 2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(f, 8))[0]
        mask = self.read_exact(f, 4) if b1 & 0x80 else b"\0\0\0\0"
        if mask == b"\0\0\0\0":  # a random mask is all zero once in 2^32
            self.problem("client frame with a zero mask")
        data = self.read_exact(f, n)
        return b0 & 15, bytes(x ^ mask[i & 3] for i, x in enumerate(data))

    def serve1(self, c, f):
        req = b""
        while not req.endswith(b"\r\n\r\n"):
            req += self.read_exact(f, 1)
        key = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key + (b"" if self.mode == "badaccept" else GUID))
                               .digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n" +
                  frame(b"ping!", op=9))
        n = 0
        while True:
            op, d = self.read_frame(f)
            if op == 10:
                if d != b"ping!":
                    self.problem("pong payload %r" % d)
                with self.lock:
                    self.pongs += 1
                continue
            m = json.loads(d.decode())
            ih, pid = m["info_hash"], m["peer_id"]
            if len(ih) != 20 or len(pid) != 20 or max(map(ord, ih + pid)) > 255:
                self.problem("info_hash/peer_id not 20 code points <= U+00FF: %r %r" % (ih, pid))
            if not m["offers"]:
                if m.get("event") != "started" or m["numwant"] != 0:
                    self.problem("join announce %r" % m)
                reply = compact({"action": "announce", "interval": 120, "info_hash": ih,
                                 "complete": 0, "incomplete": 1}) + b" " * 200
                for b in frame(reply):  # 16-bit length, one byte per send
                    c.sendall(bytes([b]))
                continue
            offers = m["offers"]
            if (m["numwant"] != 5 or "event" in m or len(offers) != 5 or
                    any(len(o["offer_id"]) != 20 or not o["offer"]["sdp"].startswith("v=0\r\n")
                        for o in offers)):
                self.problem("relay announce %r" % m)
            with self.lock:
                self.relays += 1
            out = []
            for k, o in enumerate(offers):
                msg = compact({"action": "announce", "offer": o["offer"],
                               "offer_id": o["offer_id"], "peer_id": pid, "info_hash": ih})
                out.append(frame(msg + (b" " * 70000 if k == 3 else b""),
                                 ext=[None, 16, 64, None, None][k]))
            out.insert(2, frame(b"\x00\x01", op=2))
            out.insert(4, frame(b"", op=10))
            out.append(frame(compact({"action": "announce", "interval": 120, "info_hash": ih,
                                      "complete": 0, "incomplete": 10}), ext=64))
            data = b"".join(out)
            n += 1
            if n % 7 == 0:
                for b in data[:2500]:
                    c.sendall(bytes([b]))
                data = data[2500:]
            c.sendall(data)
            if n == 3 and self.mode == "eof":
                c.shutdown(socket.SHUT_RDWR)
                return
            if n == 3 and self.mode == "close":
                c.sendall(frame(struct.pack("!H", 1001) + b"bye", op=8))


def run(binary, mode):
    fake = Fake(mode)
    g = subprocess.Popen([binary, "ws://127.0.0.1:%d/announce" % fake.port, str(PEERS),
                          str(SWARMS), "1", "2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = g.stdout.readline().decode().split()
        if first[:1] == ["joined"]:
            g.stdin.write(b"go\n")
            g.stdin.flush()
        rest = g.stdout.read().decode().split("\n")
        g.wait(20)
        return fake, g.returncode, [first] + [l.split() for l in rest if l], \
            g.stderr.read().decode().strip()
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()
        fake.ls.close()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench", "wsload")
    failed = 0

    def check(ok, what):
        nonlocal failed
        print("%s - %s" % ("ok" if ok else "not ok", what))
        failed += not ok

    fake, rc, lines, err = run(binary, "ok")
    check(rc == 0, "ok: exit 0 (rc %r, stderr %r)" % (rc, err))
    check(lines[:2] == [["joined", str(PEERS)], ["start"]] and len(lines) == 3 and
          lines[2][0] == "end", "ok: joined / start / end lines: %r" % lines)
    if len(lines) == 3 and len(lines[2]) == 4:
        offers, announces = int(lines[2][1]), int(lines[2][2])
        check(announces > 0 and abs(offers - 5 * announces) <= 5 * PEERS,
              "ok: offers %d = 5 x announces %d within the %d in flight"
              % (offers, announces, PEERS))
    check(fake.pongs == PEERS, "ok: every peer answered the ping (%d)" % fake.pongs)
    check(not fake.problems, "ok: wsload's frames and announces as specified %r"
          % fake.problems[:3])
    for mode, why in (("close", "close frame"), ("eof", "EOF"),
                      ("badaccept", "Sec-WebSocket-Accept")):
        fake, rc, lines, err = run(binary, mode)
        check(rc == 2 and why in err, "%s: exit 2 naming it (rc %r, stderr %r)"
              % (mode, rc, err))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
