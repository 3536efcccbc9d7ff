"""UDP tracker (BEP 15, BEP 41) over 127.0.0.1 and ::1, and HTTP/UDP sharing swarms."""

import random
import struct
import threading

from harness import (HAVE_V6, PROTOCOL_ID, V4, V6, Daemon, Skip, UdpClient, announce_target,
                     bulk_announce, check, eq, http_announce, pipeline, http_scrape, opt_urldata, peers_of, rand_hash,
                     rand_peer_id, scrape_counts, udp_announce_pkt, udp_bulk_announce,
                     udp_connect_pkt, udp_scrape_pkt)


def need_v6():
    if not HAVE_V6:
        raise Skip("no IPv6")


def run(runner, swarmd):
    d = Daemon(swarmd).start()
    runner.context = d.context

    def T(name, fn, timeout=15):
        runner.run("udp: " + name, fn, timeout)

    def still_answers(host=V4):
        u = UdpClient(d, host)
        try:
            u.connect(timeout=1.0)
        finally:
            u.close()

    def check_error(r, tid, req_len, what):
        check(r is not None, "%s: no error packet" % what)
        check(len(r) >= 8, "%s: reply of %d bytes" % (what, len(r)))
        eq(struct.unpack(">II", r[:8]), (3, tid), "%s: action/transaction id" % what)
        check(len(r) <= req_len, "%s: error of %d bytes is larger than the %d-byte request"
              % (what, len(r), req_len))

    # ---- connect -----------------------------------------------------------------------------
    def connect(host):
        def t():
            if host == V6:
                need_v6()
            u = UdpClient(d, host)
            try:
                tid = 0xDEADBEEF
                r = u.transact(udp_connect_pkt(tid), tid)
                eq(len(r), 16, "connect reply size")
                eq(struct.unpack(">II", r[:8]), (0, tid), "connect reply action/tid")
                cid1 = struct.unpack(">Q", r[8:])[0]
                r = u.transact(udp_connect_pkt(7), 7)
                cid2 = struct.unpack(">Q", r[8:])[0]
                # One id per address and 16-s tick (the top 16 bits); the port is not in it.
                if cid2 >> 48 == cid1 >> 48:
                    eq(cid1, cid2, "connection id within one tick for one source")
                else:
                    eq(((cid2 >> 48) - (cid1 >> 48)) % 65536, 1, "tick of a second connect")
                v = UdpClient(d, host)
                try:
                    cid3 = v.connect()
                    check(cid3 == cid2 or cid3 >> 48 != cid2 >> 48,
                          "another source port of the same address got another id in one tick")
                finally:
                    v.close()
            finally:
                u.close()
        return t
    T("connect over 127.0.0.1: 16 bytes, action 0, transaction id", connect(V4))
    T("connect over ::1: 16 bytes, action 0, transaction id", connect(V6))

    # ---- announce ----------------------------------------------------------------------------
    def announce_v4():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            r = u.announce(h, 5001, left=0)
            eq((len(r["raw"]), r["seeders"], r["leechers"]), (20, 1, 0), "first announce")
            check(1700 <= r["interval"] <= 1900, "interval %d not ~1800" % r["interval"])
            u.announce(h, 5002)
            u.announce(h, 5003)
            r = u.announce(h, 5004, left=10)
            eq(len(r["raw"]), 20 + 6 * 3, "reply size 20 + 6n")
            eq((r["seeders"], r["leechers"]), (1, 3), "seeders/leechers")
            eq(sorted(r["peers"]), [(V4, 5001), (V4, 5002), (V4, 5003)], "peers")
            r = u.announce(h, 5001, left=0, num_want=2)
            eq(len(r["peers"]), 2, "num_want 2")
            check(set(r["peers"]) <= {(V4, 5002), (V4, 5003), (V4, 5004)},
                  "seeder's peers %r" % r["peers"])
        finally:
            u.close()
    T("announce over 127.0.0.1: 20 + 6n bytes, counts, never itself", announce_v4)

    def announce_v6():
        need_v6()
        h = rand_hash()
        u = UdpClient(d, V6)
        v = UdpClient(d, V4)
        try:
            u.announce(h, 5101)
            u.announce(h, 5102, left=0)
            v.announce(h, 5103)
            r = u.announce(h, 5104)
            eq(len(r["raw"]), 20 + 18 * 2, "v6 reply size 20 + 18n (only v6 peers)")
            eq(sorted(r["peers"]), [(V6, 5101), (V6, 5102)], "v6 peers")
            eq((r["seeders"], r["leechers"]), (1, 3), "counts cover both families")
            r = v.announce(h, 5105)
            eq(r["peers"], [(V4, 5103)], "v4 announcer gets only the v4 peer")
            eq((r["seeders"], r["leechers"]), (1, 4), "counts seen from v4")
        finally:
            u.close()
            v.close()
    T("announce over ::1: 20 + 18n bytes, only v6 peers, whole-swarm counts", announce_v6)

    def seeder_leechers():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            for p in (5201, 5202, 5203):
                u.announce(h, p, left=0)
            for p in (5211, 5212):
                u.announce(h, p, left=7)
            for _ in range(5):
                r = u.announce(h, 5201, left=0, num_want=2)
                eq(sorted(r["peers"]), [(V4, 5211), (V4, 5212)], "a seeder's 2 peers")
        finally:
            u.close()
    T("a seeder gets leechers first", seeder_leechers)

    def stopped():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            u.announce(h, 5301)
            u.announce(h, 5302, left=0)
            r = u.announce(h, 5301, event=3)
            eq((r["seeders"], r["leechers"]), (1, 0), "counts in the stopped reply")
            r = u.announce(h, 5303)
            eq(r["peers"], [(V4, 5302)], "peers after the stop")
            eq(u.scrape([h]), [(1, 0, 1)], "scrape after the stop")
        finally:
            u.close()
    T("event=stopped (3) removes the peer", stopped)

    def completed_and_events():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            u.announce(h, 5401, left=10, event=2)
            u.announce(h, 5401, left=0, event=1)
            u.announce(h, 5401, left=0, event=1)
            eq(u.scrape([h]), [(1, 1, 0)], "completed counted once")
            r = u.announce(h, 5402, event=9)
            eq((r["seeders"], r["leechers"], r["peers"]), (1, 1, [(V4, 5401)]),
               "an unknown event value is a regular update")
        finally:
            u.close()
    T("event=completed counts once; unknown event is an update", completed_and_events)

    def numwant_default():
        h = rand_hash()
        udp_bulk_announce(d, h, range(30000, 30060))
        u = UdpClient(d, V4)
        try:
            r = u.announce(h, 31000, num_want=-1)
            eq(len(r["peers"]), 50, "peers with num_want -1")
            eq(r["leechers"], 61, "leechers")
            r = u.announce(h, 31000, num_want=0)
            check(len(r["peers"]) in (0, 50), "num_want 0 gave %d peers" % len(r["peers"]))
            r = u.announce(h, 31000, num_want=7)
            eq(len(r["peers"]), 7, "peers with num_want 7")
        finally:
            u.close()
    T("num_want -1 gives the default (50)", numwant_default)

    def cap_v4():
        h = rand_hash()
        udp_bulk_announce(d, h, range(32000, 32300))
        u = UdpClient(d, V4)
        try:
            r = u.announce(h, 33000, num_want=1000)
            n = len(r["peers"])
            check(0 < n <= 242, "%d peers in a v4 reply (max 242)" % n)
            check(len(r["raw"]) <= 1500 - 28, "v4 reply of %d bytes" % len(r["raw"]))
            eq(len(set(r["peers"])), n, "distinct peers")
            eq(r["leechers"], 301, "leechers")
        finally:
            u.close()
    T("v4 reply with num_want 1000 in a 300-peer swarm fits one packet", cap_v4, timeout=30)

    def cap_v6():
        need_v6()
        h = rand_hash()
        udp_bulk_announce(d, h, range(34000, 34100), host=V6)
        u = UdpClient(d, V6)
        try:
            r = u.announce(h, 35000, num_want=1000)
            eq(len(r["peers"]), 67, "peers in a v6 reply with num_want 1000 (cap 67)")
            check(len(r["raw"]) <= 1280 - 48, "v6 reply of %d bytes" % len(r["raw"]))
            r = u.announce(h, 35000, num_want=-1)
            eq(len(r["peers"]), 50, "v6 peers with the default num_want")
        finally:
            u.close()
    T("v6 reply capped at 67 peers", cap_v6, timeout=30)

    def ip_field_ignored():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            u.announce(h, 5501, ip=0x0A010203)
            r = u.announce(h, 5502)
            eq(r["peers"], [(V4, 5501)], "peer recorded at the source address, not the ip field")
        finally:
            u.close()
    T("the ip field is not trusted", ip_field_ignored)

    # ---- scrape ------------------------------------------------------------------------------
    def scrape():
        a, b = rand_hash(), rand_hash()
        u = UdpClient(d, V4)
        try:
            u.announce(a, 5601, left=0)
            u.announce(a, 5602)
            u.announce(b, 5601, left=3, event=2)
            u.announce(b, 5601, left=0, event=1)
            eq(u.scrape([a]), [(1, 0, 1)], "scrape of one hash (seeders, completed, leechers)")
            hs = [rand_hash() for _ in range(74)]
            hs[0], hs[40], hs[73] = a, b, a
            res = u.scrape(hs)
            eq(len(res), 74, "entries")
            eq((res[0], res[40], res[73]), ((1, 0, 1), (1, 1, 0), (1, 0, 1)), "known entries")
            check(all(res[i] == (0, 0, 0) for i in range(74) if i not in (0, 40, 73)),
                  "unknown hashes not all zero")
        finally:
            u.close()
    T("scrape of 1 and of 74 hashes: 8 + 12n bytes, right counts", scrape)

    def scrape_v6():
        need_v6()
        a = rand_hash()
        u = UdpClient(d, V6)
        try:
            u.announce(a, 5701, left=0)
            eq(u.scrape([a, rand_hash()]), [(1, 0, 0), (0, 0, 0)], "v6 scrape")
        finally:
            u.close()
    T("scrape over ::1", scrape_v6)

    def scrape_75():
        u = UdpClient(d, V4)
        try:
            u.connect()
            tid = 0x75757575
            pkt = udp_scrape_pkt(u.conn_id, tid, [rand_hash() for _ in range(75)])
            u.send(pkt)
            check_error(u.recv(1.0), tid, len(pkt), "75-hash scrape")
        finally:
            u.close()
        still_answers()
    T("scrape of 75 hashes: error packet no larger than the request", scrape_75)

    # ---- connection ids ----------------------------------------------------------------------
    def wrong_connid(host):
        def t():
            if host == V6:
                need_v6()
            u = UdpClient(d, host)
            try:
                cid = u.connect()
                bad = cid ^ 0x1
                tid = 0x1234
                pkt = udp_announce_pkt(bad, tid, rand_hash(), rand_peer_id(), 5801)
                u.send(pkt)
                check_error(u.recv(1.0), tid, len(pkt), "announce with a wrong connection id")
                pkt = udp_scrape_pkt(0, tid + 1, [rand_hash()])
                u.send(pkt)
                check_error(u.recv(1.0), tid + 1, len(pkt), "scrape with connection id 0")
                pkt = udp_scrape_pkt(PROTOCOL_ID, tid + 2, [rand_hash()])
                u.send(pkt)
                check_error(u.recv(1.0), tid + 2, len(pkt), "scrape with the protocol id")
            finally:
                u.close()
        return t
    T("wrong connection id over 127.0.0.1: small error packet", wrong_connid(V4))
    T("wrong connection id over ::1: small error packet", wrong_connid(V6))

    def connid_bound_to_address():
        # Clients may use several sockets, and cluster nodes share ids: the address counts,
        # not the port. Another address (or family) gets an error.
        u = UdpClient(d, V4)
        v = UdpClient(d, V4)
        try:
            cid = u.connect()
            tid = 99
            pkt = udp_announce_pkt(cid, tid, rand_hash(), rand_peer_id(), 5901)
            r = v.transact(pkt, tid)
            eq(struct.unpack(">I", r[:4])[0], 1, "announce with another source port's id")
            if HAVE_V6:
                w = UdpClient(d, V6)
                try:
                    w.send(pkt)
                    check_error(w.recv(1.0), tid, len(pkt), "a v4 connection id over ::1")
                finally:
                    w.close()
        finally:
            u.close()
            v.close()
    T("a connection id works from any port of its own source address only",
      connid_bound_to_address)

    # ---- malformed packets: dropped silently -------------------------------------------------
    def malformed(name, make):
        def t():
            u = UdpClient(d, V4)
            try:
                cid = u.connect()
                pkt = make(cid)
                u.send(pkt)
                r = u.recv(0.3)
                check(r is None, "%s (%d bytes) got a %d-byte reply %r" % (name, len(pkt),
                                                                         len(r or b""), r))
                # Still alive, and the same client is still served.
                u.connect(timeout=1.0)
            finally:
                u.close()
            still_answers()
        T("malformed: %s is dropped" % name, t)

    malformed("15-byte connect", lambda cid: udp_connect_pkt(1)[:15])
    malformed("connect with a bad protocol id", lambda cid: udp_connect_pkt(2, 0x41727101981))
    malformed("97-byte announce", lambda cid: udp_announce_pkt(
        cid, 3, rand_hash(), rand_peer_id(), 6001)[:97])
    malformed("announce header only (16 bytes)", lambda cid: struct.pack(">QII", cid, 1, 4))
    malformed("scrape with a partial trailing hash", lambda cid: udp_scrape_pkt(
        cid, 5, [rand_hash()]) + b"x" * 10)
    malformed("scrape without hashes", lambda cid: struct.pack(">QII", cid, 2, 6))
    malformed("unknown action 7", lambda cid: struct.pack(">QII", cid, 7, 7) + b"\0" * 82)
    malformed("error action 3 from a client", lambda cid: struct.pack(">QII", cid, 3, 8))
    malformed("empty datagram", lambda cid: b"")
    malformed("one byte", lambda cid: b"\x00")

    def random_junk():
        rnd = random.Random(1234)
        u = UdpClient(d, V4)
        try:
            for _ in range(300):
                n = rnd.choice([0, 1, 7, 8, 12, 15, 16, 17, 35, 36, 97, 98, 99, 200, 1400])
                u.send(bytes(rnd.getrandbits(8) for _ in range(n)))
        finally:
            u.close()
        still_answers()
        h = rand_hash()
        v = UdpClient(d, V4)
        try:
            v.announce(h, 6101)
        finally:
            v.close()
    T("300 random datagrams do not hurt", random_junk)

    # ---- BEP 41 options ---------------------------------------------------------------------
    def bep41(name, options):
        def t():
            h = rand_hash()
            u = UdpClient(d, V4)
            try:
                u.announce(h, 6201)
                r = u.announce(h, 6202, options=options)
                eq(r["peers"], [(V4, 6201)], "peers of an announce with options")
                eq(r["leechers"], 2, "the announce with options counted")
            finally:
                u.close()
        T("BEP 41: %s" % name, t)

    bep41("URL data, no-op, end accepted", opt_urldata(b"/announce?x=1") + b"\x01\x00")
    bep41("URL data split over several options",
          opt_urldata(b"/passkey/" + b"k" * 300 + b"/announce?a=b&c=d") + b"\x00")
    bep41("truncated URL-data option still a normal announce", b"\x02\x32abc")
    bep41("URL-data option missing its length byte", b"\x01\x01\x02")
    bep41("unknown option type", b"\x07\x03abc\x00")
    bep41("trailing bytes after end", b"\x00garbage")

    # ---- HTTP and UDP share swarms ------------------------------------------------------------
    def cross_protocol():
        h = rand_hash()
        u = UdpClient(d, V4)
        try:
            u.announce(h, 6301, left=0)
            r = http_announce(d, h, 6302)
            eq(peers_of(r), [(V4, 6301)], "HTTP announcer sees the UDP peer")
            eq((r[b"complete"], r[b"incomplete"]), (1, 1), "HTTP counts")
            r = u.announce(h, 6303)
            eq(sorted(r["peers"]), [(V4, 6301), (V4, 6302)], "UDP announcer sees the HTTP peer")
            eq(u.scrape([h]), [(1, 0, 2)], "UDP scrape")
            eq(scrape_counts(http_scrape(d, [h]), h), (1, 0, 2), "HTTP scrape")
            # The same (address, port) over both protocols is one peer.
            r = http_announce(d, h, 6301, left=0)
            eq((r[b"complete"], r[b"incomplete"]), (1, 2), "same peer over HTTP and UDP")
            if HAVE_V6:
                w = UdpClient(d, V6)
                try:
                    w.announce(h, 6304)
                finally:
                    w.close()
                r = http_announce(d, h, 6305)
                check((V6, 6304) in peers_of(r), "HTTP reply lacks the UDP v6 peer: %r"
                      % peers_of(r))
        finally:
            u.close()
    T("peers announced over UDP are visible over HTTP and vice versa", cross_protocol)

    def concurrent():
        # 4 UDP and 4 HTTP clients announce 150 peers each into one swarm at the same time,
        # then every other peer stops: the counts must come out exact.
        h = rand_hash()
        errors = []

        def udp_worker(base):
            try:
                udp_bulk_announce(d, h, range(base, base + 150))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        def http_worker(base):
            try:
                bulk_announce(d, h, range(base, base + 150), left=0, chunk=50)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        ths = [threading.Thread(target=udp_worker, args=(36000 + 1000 * i,)) for i in range(4)]
        ths += [threading.Thread(target=http_worker, args=(46000 + 1000 * i,))
                for i in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        check(not errors, "announce workers failed: %r" % errors[:3])
        u = UdpClient(d, V4)
        try:
            eq(u.scrape([h]), [(600, 0, 600)], "counts after 1200 concurrent announces")
            stops = []
            for i in range(4):
                for p in range(36000 + 1000 * i, 36000 + 1000 * i + 150, 2):
                    stops.append(p)
            for p in stops:
                u.announce(h, p, event=3)
            pipeline(d, [announce_target(h, p, left=0, event="stopped")
                         for i in range(4) for p in range(46000 + 1000 * i + 1,
                                                          46000 + 1000 * i + 150, 2)])
            eq(u.scrape([h]), [(300, 0, 300)], "counts after half of the peers stopped")
        finally:
            u.close()
    T("concurrent announces and stops over UDP and HTTP count exactly", concurrent,
      timeout=45)

    d.stop_and_check(runner, "udp: daemon exits 0 on SIGTERM")
    runner.context = None

