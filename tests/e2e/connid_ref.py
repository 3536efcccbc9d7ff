"""Reference model of swarmd's UDP connection ids, written from the spec (CLUSTER.md,
"UDP connection IDs") and independent of the C code, so tests can mint ids of any age.

    id = tick (16 bits) || tag (48 bits)
    tick = (unix time // 16) mod 65536
    tag = low 48 bits of SipHash-2-4(key, tick as 2 bytes big-endian || client address as
          16 bytes, IPv4 as ::ffff:a.b.c.d)
"""

import ipaddress
import struct
import time

TICK = 16
_M = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M


def _round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _M
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(key, data):
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        m, = struct.unpack("<Q", data[i:i + 8])
        v[3] ^= m
        v = list(_round(*_round(*v)))
        v[0] ^= m
    b = (len(data) & 0xff) << 56
    for i, c in enumerate(data[end:]):
        b |= c << (8 * i)
    v[3] ^= b
    v = list(_round(*_round(*v)))
    v[0] ^= b
    v[2] ^= 0xff
    for _ in range(4):
        v = list(_round(*v))
    return v[0] ^ v[1] ^ v[2] ^ v[3]


# The SipHash paper's test vector (key 00..0f, message 00..0e).
assert siphash24(bytes(range(16)), bytes(range(15))) == 0xa129ca6149be45e5


def tick_at(unix):
    return (int(unix) // TICK) & 0xffff


def connid(key, host, tick):
    """The id swarmd makes for a client at address `host` during `tick` under `key`."""
    ip = ipaddress.ip_address(host)
    raw = (b"\0" * 10 + b"\xff\xff" + ip.packed) if ip.version == 4 else ip.packed
    tag = siphash24(key, struct.pack(">H", tick & 0xffff) + raw) & ((1 << 48) - 1)
    return (tick & 0xffff) << 48 | tag


def away_from_tick_edge(margin=1.5):
    """Wait until the current tick has at least `margin` seconds left, and began at least
    `margin` seconds ago (a worker refreshes its clock once per loop tick, later under load),
    so that a check made right after sees the same tick; returns the tick."""
    while TICK - time.time() % TICK < margin or time.time() % TICK < margin:
        time.sleep(0.1)
    return tick_at(time.time())
