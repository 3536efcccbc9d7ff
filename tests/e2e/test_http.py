"""HTTP announce semantics, scrape, prefix paths, keep-alive and pipelining."""

import threading
import time

from harness import (HAVE_V6, V4, V6, Daemon, HttpConn, Skip, TestFailure, announce_target,
                     bulk_announce, check, decode_ok, eq, failure_of, http_announce,
                     http_get_bytes, http_request, http_scrape, pct, peers_of, pipeline,
                     rand_hash, rand_peer_id, scrape_counts, scrape_target)

ANNOUNCE_KEYS = [b"complete", b"downloaded", b"incomplete", b"interval", b"min interval",
                 b"peers"]


def need_v6():
    if not HAVE_V6:
        raise Skip("no IPv6")


def run(runner, swarmd):
    d = Daemon(swarmd).start()
    runner.context = d.context

    def T(name, fn, timeout=15):
        runner.run("http: " + name, fn, timeout)

    # ---- reply shape ------------------------------------------------------------------------
    def compact_keys():
        h = rand_hash()
        r = http_announce(d, h, 6001)
        eq(list(r.keys()), ANNOUNCE_KEYS, "keys of a compact reply (no v6 peers)")
        eq(r[b"peers"], b"", "peers of a lone announcer")
        eq((r[b"complete"], r[b"incomplete"], r[b"downloaded"]), (0, 1, 0),
           "complete/incomplete/downloaded after one leecher")
        check(1700 <= r[b"interval"] <= 1900, "interval %r not ~1800" % r[b"interval"])
        eq(r[b"min interval"], 900, "min interval")
    T("compact reply has exactly the expected keys", compact_keys)

    def raw_key_order():
        h = rand_hash()
        resp = http_request(d, announce_target(h, 6001))
        body = resp.body
        check(body.startswith(b"d8:completei"), "body starts %r" % body[:30])
        pos = [body.find(k) for k in (b"8:complete", b"10:downloaded", b"10:incomplete",
                                      b"8:interval", b"12:min interval", b"5:peers")]
        check(all(p > 0 for p in pos) and pos == sorted(pos), "raw key order %r" % body)
        eq(resp.header("content-length"), str(len(body)), "Content-Length")
    T("announce body bytes in sorted key order, Content-Length right", raw_key_order)

    def interval_jitter():
        h = rand_hash()
        vals = set()
        for i in range(8):
            r = http_announce(d, h, 6100 + i)
            check(1700 <= r[b"interval"] <= 1900, "interval %r" % r[b"interval"])
            vals.add(r[b"interval"])
    T("interval within 1700..1900 over several announces", interval_jitter)

    def compact_absent():
        h = rand_hash()
        http_announce(d, h, 6001)
        r = http_announce(d, h, 6002, compact=None)
        check(isinstance(r[b"peers"], bytes), "peers without compact= is not a string: %r"
              % (r[b"peers"],))
        eq(peers_of(r), [(V4, 6001)], "peers")
    T("compact absent gives a compact reply", compact_absent)

    # ---- counts and selection ---------------------------------------------------------------
    def counts_several():
        h = rand_hash()
        for p in (6001, 6002, 6003):
            http_announce(d, h, p, left=100)
        for p in (6004, 6005):
            r = http_announce(d, h, p, left=0)
        eq((r[b"complete"], r[b"incomplete"]), (2, 3), "complete/incomplete after 2S+3L")
        eq(scrape_counts(http_scrape(d, [h]), h), (2, 0, 3), "scrape (complete,dl,incomplete)")
        # Re-announcing the same (address, port) does not add a peer, even with another peer_id.
        r = http_announce(d, h, 6001, left=100)
        eq((r[b"complete"], r[b"incomplete"]), (2, 3), "counts after a re-announce")
        # A leecher turning seeder moves between the counts.
        r = http_announce(d, h, 6001, left=0)
        eq((r[b"complete"], r[b"incomplete"]), (3, 2), "counts after leecher -> seeder")
    T("counts after announces from several peers", counts_several)

    def never_self():
        h = rand_hash()
        ports = [6201, 6202, 6203, 6204]
        for p in ports:
            http_announce(d, h, p)
        for p in ports:
            r = http_announce(d, h, p)
            got = sorted(peers_of(r))
            want = sorted((V4, q) for q in ports if q != p)
            eq(got, want, "peers for announcer %d" % p)
    T("announcer never receives itself, receives all others", never_self)

    def seeder_gets_leechers():
        h = rand_hash()
        for p in (6301, 6302, 6303):
            http_announce(d, h, p, left=0)
        for p in (6311, 6312):
            http_announce(d, h, p, left=50)
        for _ in range(6):
            r = http_announce(d, h, 6301, left=0, numwant=2)
            eq(sorted(peers_of(r)), [(V4, 6311), (V4, 6312)], "peers for a seeder, numwant=2")
    T("seeder gets leechers first", seeder_gets_leechers)

    def random_subset():
        h = rand_hash()
        bulk_announce(d, h, range(6400, 6420))
        seen = set()
        for _ in range(12):
            r = http_announce(d, h, 6500, numwant=5)
            eq(len(peers_of(r)), 5, "peers with numwant=5")
            seen.add(tuple(sorted(peers_of(r))))
        check(len(seen) > 1, "12 announces with numwant=5 from a 20-peer swarm all got the "
              "same 5 peers: selection is not random")
    T("peer selection is a random subset", random_subset)

    def numwant_caps():
        h = rand_hash()
        bulk_announce(d, h, range(10000, 10210))
        r = http_announce(d, h, 9000)
        eq(len(peers_of(r)), 50, "peers with no numwant (default 50)")
        eq(r[b"incomplete"], 211, "incomplete")
        r = http_announce(d, h, 9000, numwant=10)
        eq(len(peers_of(r)), 10, "peers with numwant=10")
        r = http_announce(d, h, 9000, numwant=200)
        eq(len(peers_of(r)), 200, "peers with numwant=200")
        r = http_announce(d, h, 9000, numwant=500)
        eq(len(peers_of(r)), 200, "peers with numwant=500 (cap 200)")
        r = http_announce(d, h, 9000, numwant=99999999999)
        eq(len(peers_of(r)), 200, "peers with numwant=99999999999 (cap 200)")
        ps = peers_of(r)
        eq(len(set(ps)), len(ps), "duplicate peers in a reply")
        check((V4, 9000) not in ps, "announcer in its own list")
    T("numwant default 50 and cap 200", numwant_caps, timeout=30)

    def non_compact():
        h = rand_hash()
        http_announce(d, h, 6601)
        if HAVE_V6:
            http_announce(d, h, 6602, host=V6)
        r = http_announce(d, h, 6603, compact=0)
        peers = r[b"peers"]
        check(isinstance(peers, list), "compact=0 peers is not a list: %r" % (peers,))
        got = []
        for e in peers:
            check(isinstance(e, dict), "peer entry not a dict: %r" % (e,))
            eq(sorted(e.keys()), [b"ip", b"port"], "peer entry keys (no 'peer id')")
            got.append((e[b"ip"].decode(), e[b"port"]))
        want = [(V4, 6601)] + ([(V6, 6602)] if HAVE_V6 else [])
        eq(sorted(got), sorted(want), "non-compact peers")
        check(b"peers6" not in r, "non-compact reply has peers6")
        r = http_announce(d, h, 6604, compact=0, extra=[("no_peer_id", 1)])
        eq(len(r[b"peers"]), len(want) + 1, "non-compact peers with no_peer_id=1")
        for e in r[b"peers"]:
            eq(sorted(e.keys()), [b"ip", b"port"], "peer entry keys with no_peer_id=1")
    T("compact=0 gives a list of dicts with ip and port only", non_compact)

    def both_families():
        need_v6()
        h = rand_hash()
        r = http_announce(d, h, 6701, host=V6)
        check(b"peers6" not in r, "peers6 present with no v6 peers to send: %r" % r)
        eq(r[b"peers"], b"", "peers (empty) for the first v6 announcer")
        r = http_announce(d, h, 6702)
        eq(list(r.keys()), ANNOUNCE_KEYS + [b"peers6"], "keys of a v4 reply with v6 peers")
        eq(r[b"peers"], b"", "v4 peers for the v4 announcer")
        eq(peers_of(r), [(V6, 6701)], "v4 announcer sees the v6 peer in peers6")
        eq((r[b"complete"], r[b"incomplete"]), (0, 2), "counts include both families")
        r = http_announce(d, h, 6703, host=V6)
        eq(sorted(peers_of(r)), sorted([(V4, 6702), (V6, 6701)]), "v6 announcer's peers")
        eq(len(r[b"peers"]), 6, "v6 announcer gets the v4 peer in 'peers'")
        eq(len(r[b"peers6"]), 18, "v6 announcer gets the other v6 peer in 'peers6'")
        # Same port over both families: two distinct peers.
        r = http_announce(d, h, 6701)
        eq(r[b"incomplete"], 4, "(127.0.0.1, 6701) and ([::1], 6701) are two peers")
    T("both families: v6 peers in peers6, v4 peers for v6 announcers", both_families)

    def own_family_first():
        need_v6()
        h = rand_hash()
        http_announce(d, h, 6801)
        http_announce(d, h, 6802)
        http_announce(d, h, 6811, host=V6)
        http_announce(d, h, 6812, host=V6)
        for _ in range(4):
            r = http_announce(d, h, 6803, numwant=2)
            eq(sorted(peers_of(r)), [(V4, 6801), (V4, 6802)], "v4 announcer, numwant=2")
            check(b"peers6" not in r, "peers6 in a reply that should carry only v4 peers")
            r = http_announce(d, h, 6813, host=V6, numwant=2)
            eq(sorted(peers_of(r)), [(V6, 6811), (V6, 6812)], "v6 announcer, numwant=2")
            eq(r[b"peers"], b"", "peers for v6 announcer, numwant=2")
    T("own family first when numwant is short", own_family_first)

    # ---- events -------------------------------------------------------------------------------
    def stopped():
        h = rand_hash()
        http_announce(d, h, 6901, left=0)
        http_announce(d, h, 6902)
        r = http_announce(d, h, 6903)
        eq((r[b"complete"], r[b"incomplete"]), (1, 2), "counts before stop")
        r = http_announce(d, h, 6902, event="stopped")
        eq((r[b"complete"], r[b"incomplete"]), (1, 1), "counts in the stopped reply")
        eq(scrape_counts(http_scrape(d, [h]), h), (1, 0, 1), "scrape after stop")
        r = http_announce(d, h, 6903)
        eq(sorted(peers_of(r)), [(V4, 6901)], "peers after the stop")
        r = http_announce(d, h, 6901, left=0, event="stopped")
        eq((r[b"complete"], r[b"incomplete"]), (0, 1), "counts after the seeder stopped")
    T("event=stopped removes the peer at once", stopped)

    def stopped_unknown():
        h = rand_hash()
        r = http_announce(d, h, 6950, event="stopped")
        eq((r[b"complete"], r[b"incomplete"]), (0, 0), "counts of a stop on an unknown torrent")
        r = http_announce(d, h, 6951)
        eq((r[b"incomplete"], peers_of(r)), (1, []), "a stop must not have added a peer")
        resp = http_request(d, announce_target(h, 0, event="stopped"))
        decode_ok(resp, "stopped with port=0")
    T("event=stopped for an unknown peer, and with port=0, is accepted", stopped_unknown)

    def completed():
        h = rand_hash()
        http_announce(d, h, 7001, left=100, event="started")
        http_announce(d, h, 7002, left=100, event="started")
        r = http_announce(d, h, 7001, left=0, event="completed")
        eq((r[b"complete"], r[b"incomplete"], r[b"downloaded"]), (1, 1, 1),
           "complete/incomplete/downloaded after one completed")
        r = http_announce(d, h, 7001, left=0, event="completed")
        eq(r[b"downloaded"], 1, "downloaded after the same seeder sent completed twice")
        r = http_announce(d, h, 7001, left=0)
        eq(r[b"downloaded"], 1, "downloaded after a regular seeder update")
        r = http_announce(d, h, 7002, left=0, event="completed")
        eq((r[b"complete"], r[b"incomplete"], r[b"downloaded"]), (2, 0, 2),
           "after the second peer completed")
        eq(scrape_counts(http_scrape(d, [h]), h), (2, 2, 0), "scrape after two completions")
    T("event=completed counts once per peer", completed)

    def unknown_event():
        h = rand_hash()
        http_announce(d, h, 7101)
        r = http_announce(d, h, 7102, event="paused")
        eq((r[b"incomplete"], peers_of(r)), (2, [(V4, 7101)]), "after event=paused")
        r = http_announce(d, h, 7103, event="")
        eq((r[b"incomplete"], len(peers_of(r))), (3, 2), "after event= (empty)")
        r = http_announce(d, h, 7104, event="started")
        eq(r[b"incomplete"], 4, "after event=started")
    T("unknown or empty event is a regular update", unknown_event)

    def ip_param_ignored():
        h = rand_hash()
        http_announce(d, h, 7201, extra=[("ip", "10.9.8.7"), ("ipv4", "10.9.8.7")])
        r = http_announce(d, h, 7202)
        eq(peers_of(r), [(V4, 7201)], "peer recorded at its source address, not ip=")
    T("client-supplied ip= is not trusted (no proxy configured)", ip_param_ignored)

    def encodings():
        # The same 20 bytes written four ways: '+' for space, %20, lower- and upper-case hex,
        # and unreserved bytes left raw.
        raw = b" abc~.-_ \xff\x00\x2b\x25\x26\x3d\x3fxyz "
        check(len(raw) == 20, "test hash length")
        plus = "".join("+" if b == 0x20 else pct(bytes([b])) for b in raw)
        lower = "".join("%%%02x" % b for b in raw)
        upper = "".join("%%%02X" % b for b in raw)
        mixed = pct(raw)
        pid = pct(rand_peer_id())
        for i, enc in enumerate((plus, lower, upper, mixed)):
            t = "/announce?info_hash=%s&peer_id=%s&port=%d&left=0" % (enc, pid, 7250 + i)
            decode_ok(http_request(d, t), "announce with encoding %d" % i)
        files = http_scrape(d, [raw])
        eq(scrape_counts(files, raw), (4, 0, 0), "one torrent whatever the encoding")
    T("'+', %20, lower/upper-case hex and raw bytes decode alike", encodings)

    # ---- paths --------------------------------------------------------------------------------
    def prefix_paths():
        h = rand_hash()
        http_announce(d, h, 7301, path="/passkey123/announce", left=0)
        r = http_announce(d, h, 7302, path="/a/b/c/announce")
        eq(peers_of(r), [(V4, 7301)], "peers via prefixed announce paths")
        files = http_scrape(d, [h], path="/x/y/scrape")
        eq(scrape_counts(files, h), (1, 0, 1), "scrape via /x/y/scrape")
        files = http_scrape(d, [h], path="/passkey123/scrape")
        eq(scrape_counts(files, h), (1, 0, 1), "scrape via /passkey123/scrape")
    T("prefixed /passkey123/announce and /x/y/scrape", prefix_paths)

    # ---- scrape -------------------------------------------------------------------------------
    def scrape_one_and_many():
        a, b, c = rand_hash(), rand_hash(), rand_hash()
        http_announce(d, a, 7401, left=0)
        http_announce(d, b, 7401)
        http_announce(d, b, 7402)
        http_announce(d, c, 7401, left=5, event="started")
        http_announce(d, c, 7401, left=0, event="completed")
        files = http_scrape(d, [a])
        eq(list(files.keys()), [a], "hashes in a one-hash scrape")
        eq(scrape_counts(files, a), (1, 0, 0), "scrape of a")
        files = http_scrape(d, [c, a, b])
        eq(sorted(files.keys()), sorted([a, b, c]), "hashes in a three-hash scrape")
        eq(scrape_counts(files, a), (1, 0, 0), "a")
        eq(scrape_counts(files, b), (0, 0, 2), "b")
        eq(scrape_counts(files, c), (1, 1, 0), "c")
        files = http_scrape(d, [a, a])
        eq(list(files.keys()), [a], "a hash asked twice appears once")
    T("scrape of one and of several hashes", scrape_one_and_many)

    def scrape_unknown():
        u = rand_hash()
        resp = http_request(d, scrape_target([u]))
        files = http_scrape(d, [u])
        if files:
            eq(list(files.keys()), [u], "unknown-hash scrape keys")
            eq(scrape_counts(files, u), (0, 0, 0), "unknown hash counts")
        else:
            eq(resp.body, b"d5:filesdee", "unknown-hash scrape body")
        k = rand_hash()
        http_announce(d, k, 7501)
        files = http_scrape(d, [u, k])
        eq(scrape_counts(files, k), (0, 0, 1), "known hash next to an unknown one")
        check(u not in files or scrape_counts(files, u) == (0, 0, 0), "unknown hash entry")
    T("scrape of an unknown hash (omitted or zeros)", scrape_unknown)

    def scrape_cap():
        hs = [rand_hash() for _ in range(65)]
        http_announce(d, hs[10], 7601)
        files = http_scrape(d, hs[:64])
        eq(scrape_counts(files, hs[10]), (0, 0, 1), "counts in a 64-hash scrape")
        check(len(files) in (1, 64), "64-hash scrape has %d entries" % len(files))
        resp = http_request(d, scrape_target(hs))
        failure_of(resp, "65-hash scrape")
    T("scrape cap: 64 hashes answered, 65 refused", scrape_cap)

    def scrape_v6():
        need_v6()
        h = rand_hash()
        http_announce(d, h, 7701, host=V6, left=0)
        files = http_scrape(d, [h], host=V6)
        eq(scrape_counts(files, h), (1, 0, 0), "scrape over ::1")
    T("scrape over ::1", scrape_v6)

    # ---- connections --------------------------------------------------------------------------
    def keep_alive():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 7801)))
            r1 = decode_ok(c.read_response(), "first request")
            check(c.is_open(0.3), "connection closed after the first HTTP/1.1 request")
            c.send(http_get_bytes(announce_target(h, 7802)))
            r2 = decode_ok(c.read_response(), "second request")
            eq(r1[b"incomplete"], 1, "first reply counts")
            eq(peers_of(r2), [(V4, 7801)], "second reply peers")
            c.send(http_get_bytes(scrape_target([h])))
            r3 = decode_ok(c.read_response(), "third request")
            eq(scrape_counts(r3[b"files"], h), (0, 0, 2), "scrape on the same connection")
        finally:
            c.close()
    T("keep-alive: several requests on one HTTP/1.1 connection", keep_alive)

    def pipelined():
        h = rand_hash()
        resps = pipeline(d, [announce_target(h, 7901), announce_target(h, 7902),
                             "/nothing-here", scrape_target([h]), announce_target(h, 7903)])
        eq([r.status for r in resps], [200, 200, 404, 200, 200], "statuses in order")
        eq(decode_ok(resps[0])[b"incomplete"], 1, "1st reply")
        eq(peers_of(decode_ok(resps[1])), [(V4, 7901)], "2nd reply")
        eq(scrape_counts(decode_ok(resps[3])[b"files"], h), (0, 0, 2), "4th reply (scrape)")
        eq(decode_ok(resps[4])[b"incomplete"], 3, "5th reply")
    T("pipelined requests in one send are answered in order", pipelined)

    def pipelined_many():
        h = rand_hash()
        n = 60
        resps = pipeline(d, [announce_target(h, 20000 + i, numwant=0) for i in range(n)])
        got = [decode_ok(r)[b"incomplete"] for r in resps]
        eq(got, list(range(1, n + 1)), "incomplete counts of 60 pipelined announces")
    T("60 pipelined announces in one write", pipelined_many)

    def pipelined_then_close():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 8001)) +
                   http_get_bytes(announce_target(h, 8002), headers=["Connection: close"]) +
                   http_get_bytes(announce_target(h, 8003)))
            decode_ok(c.read_response())
            decode_ok(c.read_response())
            check(c.wait_closed(2.0), "not closed after the 'Connection: close' request")
            eq(c.buf, b"", "bytes after the 'Connection: close' reply")
        finally:
            c.close()
        r = http_announce(d, h, 8004)
        eq(r[b"incomplete"], 3, "the request after 'Connection: close' was not processed")
    T("pipelined requests up to a 'Connection: close' one", pipelined_then_close)

    def split_head():
        h = rand_hash()
        raw = http_get_bytes(announce_target(h, 8101))
        c = HttpConn(d)
        try:
            for i in range(0, len(raw), 17):
                c.send(raw[i:i + 17])
                time.sleep(0.01)
            decode_ok(c.read_response(), "request sent in 17-byte pieces")
        finally:
            c.close()
    T("a head arriving in small pieces", split_head)

    def bare_lf():
        h = rand_hash()
        raw = ("GET %s HTTP/1.1\nHost: x\nConnection: close\n\n" %
               announce_target(h, 8201)).encode()
        c = HttpConn(d)
        try:
            c.send(raw)
            decode_ok(c.read_response(), "bare-LF request")
        finally:
            c.close()
    T("request lines ending in a bare LF", bare_lf)

    def http10_close():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 8301), version="1.0"))
            decode_ok(c.read_response(), "HTTP/1.0 reply")
            check(c.wait_closed(2.0), "HTTP/1.0 connection without keep-alive left open")
        finally:
            c.close()
    T("HTTP/1.0 without keep-alive closes after the reply", http10_close)

    def http10_keepalive():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 8401), version="1.0",
                                  headers=["Connection: keep-alive"]))
            decode_ok(c.read_response(), "first HTTP/1.0 keep-alive reply")
            check(c.is_open(0.3), "HTTP/1.0 keep-alive connection closed")
            c.send(http_get_bytes(announce_target(h, 8402), version="1.0"))
            r = decode_ok(c.read_response(), "second reply")
            eq(peers_of(r), [(V4, 8401)], "second reply peers")
            check(c.wait_closed(2.0), "HTTP/1.0 without keep-alive left open")
        finally:
            c.close()
    T("HTTP/1.0 with Connection: keep-alive stays open", http10_keepalive)

    def connection_header_case():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 8451), version="1.0",
                                  headers=["connection: Keep-Alive"]))
            decode_ok(c.read_response(), "HTTP/1.0 'connection: Keep-Alive'")
            check(c.is_open(0.3), "'connection: Keep-Alive' (any case) not honoured")
            c.send(http_get_bytes(announce_target(h, 8452), headers=["CONNECTION: CLOSE"]))
            decode_ok(c.read_response(), "'CONNECTION: CLOSE' reply")
            check(c.wait_closed(2.0), "'CONNECTION: CLOSE' (any case) not honoured")
        finally:
            c.close()
    T("Connection header names and values are case-insensitive", connection_header_case)

    def big_pipeline():
        # Replies far larger than the socket buffers, read while the requests are still
        # being written: every reply arrives, in order.
        h = rand_hash()
        bulk_announce(d, h, range(11000, 11060))
        n = 400
        targets = [announce_target(h, 12000 + i, compact=0, numwant=50) for i in range(n)]
        c = HttpConn(d, timeout=20.0)
        got = []
        err = []

        def reader():
            try:
                for _ in range(n):
                    got.append(c.read_response())
            except Exception as e:  # noqa: BLE001
                err.append(e)
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        try:
            c.send(b"".join(http_get_bytes(t) for t in targets))
            th.join(25)
        finally:
            c.close()
        check(not err, "reader failed after %d replies: %r" % (len(got), err))
        eq(len(got), n, "replies")
        for i, r in enumerate(got):
            body = decode_ok(r, "reply %d" % i)
            eq(body[b"incomplete"], 61 + i, "incomplete of pipelined reply %d" % i)
            eq(len(body[b"peers"]), 50, "peers in pipelined reply %d" % i)
    T("400 pipelined non-compact replies (~1 MB) arrive in order", big_pipeline,
      timeout=40)

    def conn_close():
        h = rand_hash()
        c = HttpConn(d)
        try:
            c.send(http_get_bytes(announce_target(h, 8501), headers=["Connection: close"]))
            decode_ok(c.read_response(), "reply")
            check(c.wait_closed(2.0), "'Connection: close' not honoured")
        finally:
            c.close()
    T("Connection: close closes after the reply", conn_close)

    def v6_http():
        need_v6()
        h = rand_hash()
        c = HttpConn(d, V6)
        try:
            c.send(http_get_bytes(announce_target(h, 8601)))
            decode_ok(c.read_response())
            c.send(http_get_bytes(announce_target(h, 8602)))
            r = decode_ok(c.read_response())
            eq(peers_of(r), [(V6, 8601)], "peers over a ::1 keep-alive connection")
        finally:
            c.close()
    T("keep-alive over ::1", v6_http)

    d.stop_and_check(runner, "http: daemon exits 0 on SIGTERM")
    runner.context = None


if __name__ == "__main__":
    raise TestFailure("run via tests/e2e/run.py")
