"""UDP announce load for the cluster suite, run as its own process (no GIL shared with the
checks): /usr/bin/python3 tests/cluster/load.py 'JSON'.

JSON: {"seconds": S, "targets": [{"dst": ADDR, "src": ADDR, "rate": N, "hashes": "pool" |
"random", "limit": N}]}. Each target is one socket from src to dst:6969 sending announces at
a fixed rate (open loop: a blocked tracker shows as missing replies, not as a slower sender).
"pool" announces new peers (random ports) on 1000 fixed info-hashes, "random" a fresh random
info-hash per announce (a flood); "limit" stops a target after that many. Every announce adds
a peer, so every one is published to the bus. At the end prints one JSON line: per target the
datagrams sent, the replies by action, and the replies per 0.25 s bucket of wall-clock time
(key: int(time * 4)), so the caller can cut the run into windows around its own events.
"""

import json
import os
import random
import socket
import struct
import sys
import time

PORT = 6969
PROTOCOL_ID = 0x41727101980


def family(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET


def get_conn_id(s, limit=5.0):
    end = time.time() + limit
    while time.time() < end:
        tid = random.getrandbits(32)
        s.send(struct.pack(">QII", PROTOCOL_ID, 0, tid))
        s.settimeout(0.3)
        try:
            while True:
                r = s.recv(2048)
                if len(r) == 16 and struct.unpack(">II", r[:8]) == (0, tid):
                    return r[8:16]
        except (socket.timeout, ConnectionRefusedError):
            continue
    return None


def main():
    spec = json.loads(sys.argv[1])
    seconds = float(spec["seconds"])
    pool = [bytes(random.Random(i).getrandbits(8) for _ in range(20)) for i in range(1000)]
    targets = []
    for t in spec["targets"]:
        s = socket.socket(family(t["dst"]), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind((t["src"], 0))
        s.connect((t["dst"], PORT))
        cid = get_conn_id(s)
        s.setblocking(False)
        targets.append(dict(t, sock=s, cid=cid, sent=0, replies={}, buckets={},
                            peer_id=b"-LD0001-" + os.urandom(12)))
    # downloaded, left, uploaded, event=started, ip, key, num_want=5, then the port
    tail = struct.pack(">QQQIIIi", 0, 1000, 0, 2, 0, 0, 5)
    t0 = time.time()
    while True:
        now = time.time()
        if now - t0 >= seconds:
            break
        for t in targets:
            if t["cid"] is None:
                continue
            due = int((now - t0) * t["rate"])
            if t.get("limit"):
                due = min(due, t["limit"])
            n = 0
            while t["sent"] < due and n < 200:
                ih = os.urandom(20) if t["hashes"] == "random" else random.choice(pool)
                pkt = (t["cid"] + struct.pack(">II", 1, t["sent"] & 0xffffffff) + ih
                       + t["peer_id"] + tail + struct.pack(">H", random.randrange(1024, 65535)))
                try:
                    t["sock"].send(pkt)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                t["sent"] += 1
                n += 1
            while True:
                try:
                    r = t["sock"].recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                a = str(struct.unpack(">I", r[:4])[0]) if len(r) >= 4 else "short"
                t["replies"][a] = t["replies"].get(a, 0) + 1
                if a == "1":
                    b = str(int(time.time() * 4))
                    t["buckets"][b] = t["buckets"].get(b, 0) + 1
        time.sleep(0.001)
    end = time.time() + 0.5
    while time.time() < end:
        for t in targets:
            try:
                r = t["sock"].recv(4096)
                a = str(struct.unpack(">I", r[:4])[0]) if len(r) >= 4 else "short"
                t["replies"][a] = t["replies"].get(a, 0) + 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
        time.sleep(0.002)
    out = [dict(dst=t["dst"], src=t["src"], connected=t["cid"] is not None, sent=t["sent"],
                replies=t["replies"], buckets=t["buckets"]) for t in targets]
    sys.stdout.write(json.dumps({"t0": t0, "targets": out}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
