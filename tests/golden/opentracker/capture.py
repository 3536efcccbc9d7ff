#!/usr/bin/env python3
"""Capture opentracker's /stats replies as golden files (run by hand, not by make test).

Start Debian's opentracker on loopback with a whitelist holding the hashes below and
`access.stats 127.0.0.1`, then: capture.py HOST:PORT OUTDIR. It makes a little traffic
(HTTP and UDP announces, a scrape, a completed event) and saves each mode's reply body.
"""
import gzip
import hashlib
import os
import socket
import struct
import sys
import urllib.parse

MODES = ["peer", "torr", "conn", "scrp", "udp4", "tcp4", "fscr", "completed", "herr",
         "renew", "version", "top10", "top100", "everything"]
TPBS_FORMATS = ["bin", "ben", "url", "txt", "txtp"]


def hashes():
    return [hashlib.sha1(b"swarmd-golden-%d" % i).digest() for i in range(3)]


def http_get(base, path):
    """(status, body) of one GET; body gunzipped when it is gzip (opentracker's tpbs is,
    whatever the client accepts); (0, b"") when nothing comes back in 3 s."""
    host, port = base[len("http://"):].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=3)
    s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    if not data:
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return status, body


def traffic(host, port, udp_port=None):
    """The announces and scrapes both trackers get (tests/e2e/test_stats.py replays it)."""
    udp_port = udp_port or port
    base = "http://%s:%d" % (host, port)
    for i, h in enumerate(hashes()):
        for p in range(i + 1):
            q = urllib.parse.urlencode({
                "info_hash": h, "peer_id": b"-GD0001-%012d" % p, "port": 7000 + p,
                "left": 0 if p == 0 else 100, "event": "started", "compact": 1})
            http_get(base, "/announce?" + q)
    q = urllib.parse.urlencode({"info_hash": hashes()[1], "peer_id": b"-GD0001-%012d" % 1,
                                "port": 7001, "left": 0, "event": "completed"})
    http_get(base, "/announce?" + q)
    http_get(base, "/scrape?" + urllib.parse.urlencode({"info_hash": hashes()[0]}))
    http_get(base, "/scrape")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(struct.pack(">QII", 0x41727101980, 0, 7), (host, udp_port))
    _, _, cid = struct.unpack(">IIQ", s.recv(64))
    pkt = struct.pack(">QII20s20sQQQIIIiH", cid, 1, 8, hashes()[2], b"-GD0002-000000000009",
                      0, 0, 0, 2, 0, 0, -1, 7100)
    s.sendto(pkt, (host, udp_port))
    s.recv(2048)
    s.sendto(struct.pack(">QII", cid, 2, 9) + hashes()[0], (host, udp_port))
    s.recv(2048)
    s.close()


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    port = int(port)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    traffic(host, port)
    base = "http://%s:%d" % (host, port)
    for m in MODES:
        st, body = http_get(base, "/stats?mode=" + m)
        open(os.path.join(out, m + ".txt"), "wb").write(body)
        print(m, st, len(body))
    for f in TPBS_FORMATS:
        st, body = http_get(base, "/stats?mode=tpbs&format=" + f)
        open(os.path.join(out, "tpbs_" + f + ".txt"), "wb").write(body)
        print("tpbs", f, st, len(body))
    for name, path in [("default", "/stats"), ("tpbs_noformat", "/stats?mode=tpbs"),
                       ("unknown", "/stats?mode=nosuch")]:
        st, body = http_get(base, path)
        open(os.path.join(out, name + ".txt"), "wb").write(b"%d\n" % st + body)
        print(name, st, len(body))


if __name__ == "__main__":
    main()
