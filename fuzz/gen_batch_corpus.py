#!/usr/bin/python3
"""Writes the seed corpus of fuzz_batch.c into fuzz/corpus/batch/ (run from anywhere).

Valid batches for the harness's receiver (cluster "swarmd", node 1 of {1,2,3}, clock
1764000000, peer timeout 1800) and near misses, one rule broken each, so libFuzzer starts
next to every branch of the codec. The format is written here from the spec, independently
of the C encoder."""
import hashlib
import os
import struct

NOW = 1764000000
CLUSTER = struct.unpack(">I", hashlib.sha1(b"swarmd").digest()[:4])[0]


def header(type_=1, origin=2, count=0, cluster=CLUSTER, time=NOW, flags=0, reserved=0,
           magic=b"SWD1", seq=7, inc=0x0102030405060708):
    return magic + struct.pack(">BBHIQIIHH", type_, flags, origin, cluster, inc, seq, time,
                               count, reserved)


def rec4(fill, op, port, ip=bytes([192, 0, 2, 9])):
    return bytes([fill]) * 20 + struct.pack(">BH", op, port) + ip


def rec6(fill, op, port, ip=bytes.fromhex("20010db8000000000000000000000001")):
    return bytes([fill]) * 20 + struct.pack(">BH", op | 1, port) + ip


def deltas(records, **kw):
    return header(count=len(records), **kw) + b"".join(records)


def heartbeat(**kw):
    return header(type_=2, **kw) + struct.pack(">QQQQ", 1000, 10, 5000, 3)


mixed = [rec4(0xaa, 0x0c, 6881), rec6(0xbb, 0x02, 51413), rec4(0xcc, 0x00, 1, bytes([10, 0, 0, 1])),
         rec6(0xdd, 0x04, 443)]
seeds = {
    "deltas_v4": deltas([rec4(0xaa, 0x04, 6881)]),
    "deltas_v6": deltas([rec6(0xbb, 0x08, 51413)], origin=3),
    "deltas_mixed": deltas(mixed),
    "deltas_empty": deltas([]),
    "heartbeat": heartbeat(),
    "record_rejects": deltas([rec4(1, 0x10, 80), rec4(2, 0, 0), rec4(3, 0, 80, bytes(4)),
                              rec6(4, 0, 80, bytes(16)),
                              rec6(5, 0, 80, bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 4])),
                              rec4(6, 0, 80)]),
    "bad_magic": deltas(mixed, magic=b"XWD1"),
    "bad_version": deltas(mixed, magic=b"SWD2"),
    "bad_type": header(type_=3),
    "bad_flags": deltas(mixed, flags=1),
    "bad_reserved": deltas(mixed, reserved=1),
    "bad_cluster": deltas(mixed, cluster=CLUSTER ^ 1),
    "own_origin": deltas(mixed, origin=1),
    "unknown_origin": deltas(mixed, origin=9),
    "truncated": deltas(mixed)[:-5],
    "trailing": deltas(mixed) + b"\0",
    "count_high": header(count=5) + b"".join(mixed),
    "stale": deltas(mixed, time=NOW - 1801),
    "future": deltas(mixed, time=NOW + 61),
    "heartbeat_long": heartbeat() + b"\0",
    "short_header": header()[:20],
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "batch")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
