"""Full scrape (/scrape without info_hash), plain and gzip, on a daemon of its own."""

import gzip
import time

from harness import (HAVE_V6, V6, Daemon, HttpConn, Skip, TestFailure, check, decode_ok, eq,
                     http_announce, http_get_bytes, http_request, rand_hash, scrape_counts)


def run(runner, swarmd):
    d = Daemon(swarmd).start()
    runner.context = d.context

    def T(name, fn, timeout=20):
        runner.run("fullscrape: " + name, fn, timeout)

    a, b, c = rand_hash(), rand_hash(), rand_hash()
    expected = {a: (1, 0, 0), b: (0, 0, 2), c: (1, 1, 1)}
    state = {}

    def setup():
        http_announce(d, a, 5001, left=0)
        http_announce(d, b, 5001)
        http_announce(d, b, 5002)
        http_announce(d, c, 5001, left=9, event="started")
        http_announce(d, c, 5001, left=0, event="completed")
        http_announce(d, c, 5002)
    T("set up three torrents", setup)

    def plain():
        resp = http_request(d, "/scrape")
        check(resp.header("content-encoding") is None,
              "Content-Encoding %r without Accept-Encoding" % resp.header("content-encoding"))
        body = decode_ok(resp, "full scrape")
        eq(list(body.keys()), [b"files"], "full scrape keys")
        files = body[b"files"]
        eq(sorted(files.keys()), sorted(expected.keys()), "torrents in the full scrape")
        for h, want in expected.items():
            eq(scrape_counts(files, h), want, "full scrape counts of %s" % h.hex())
        state["plain"] = resp.body
    T("full scrape lists every torrent with its counts", plain)

    def gz():
        resp = http_request(d, "/scrape", headers=["Accept-Encoding: gzip, deflate"])
        eq(resp.status, 200, "status")
        eq((resp.header("content-encoding") or "").lower(), "gzip", "Content-Encoding")
        check(resp.body[:2] == b"\x1f\x8b", "body is not gzip: %r" % resp.body[:20])
        try:
            raw = gzip.decompress(resp.body)
        except Exception as e:  # noqa: BLE001
            raise TestFailure("gzip body does not decompress: %s" % e)
        body = decode_ok(type(resp)(resp.version, 200, "", [], raw, b""), "gunzipped body")
        files = body[b"files"]
        eq(sorted(files.keys()), sorted(expected.keys()), "torrents in the gzip full scrape")
        for h, want in expected.items():
            eq(scrape_counts(files, h), want, "gzip full scrape counts")
        if "plain" in state:
            eq(raw, state["plain"], "gunzipped body equals the plain full scrape")
    T("full scrape with Accept-Encoding: gzip is gzip and equal", gz)

    def over_v6():
        if not HAVE_V6:
            raise Skip("no ::1 on this host")
        plain6 = http_request(d, "/scrape", host=V6)
        check(plain6.header("content-encoding") is None, "plain full scrape over ::1 encoded")
        gz6 = http_request(d, "/scrape", host=V6, headers=["Accept-Encoding: gzip"])
        eq((gz6.header("content-encoding") or "").lower(), "gzip", "Content-Encoding over ::1")
        eq(gzip.decompress(gz6.body), plain6.body, "gunzipped equals plain over ::1")
        if "plain" in state:
            eq(plain6.body, state["plain"], "the full scrape over ::1 equals the one over IPv4")
    T("full scrape over ::1, plain and gzip, same as over IPv4", over_v6)

    def gz_q0():
        resp = http_request(d, "/scrape", headers=["Accept-Encoding: gzip;q=0"])
        check(resp.header("content-encoding") is None, "gzip;q=0 still got Content-Encoding %r"
              % resp.header("content-encoding"))
        decode_ok(resp, "full scrape with gzip;q=0")
    T("Accept-Encoding: gzip;q=0 is not compressed", gz_q0)

    def prefixed():
        resp = http_request(d, "/secret/scrape")
        files = decode_ok(resp, "prefixed full scrape")[b"files"]
        eq(sorted(files.keys()), sorted(expected.keys()), "torrents via /secret/scrape")
    T("full scrape under a prefix path", prefixed)

    def flood():
        c_ = HttpConn(d, timeout=20)
        try:
            reqs = []
            for i in range(20):
                hdr = ["Accept-Encoding: gzip"] if i % 2 else []
                reqs.append(http_get_bytes("/scrape", headers=hdr))
            c_.send(b"".join(reqs))
            bodies = []
            for i in range(20):
                r = c_.read_response()
                eq(r.status, 200, "status of pipelined full scrape %d" % i)
                bodies.append(gzip.decompress(r.body) if i % 2 else r.body)
            check(all(x == bodies[0] for x in bodies), "pipelined full scrapes differ")
        finally:
            c_.close()
    T("20 pipelined full scrapes (plain and gzip) all answered", flood)

    def refresh():
        e = rand_hash()
        http_announce(d, e, 5003, left=0)
        end = time.time() + 16
        while time.time() < end:
            files = decode_ok(http_request(d, "/scrape"))[b"files"]
            if e in files:
                eq(scrape_counts(files, e), (1, 0, 0), "counts of the new torrent")
                return
            time.sleep(0.5)
        raise TestFailure("a torrent announced after the first full scrape did not appear "
                             "within 16 s (cache should last only a few seconds)")
    T("full scrape cache refreshes within a few seconds", refresh, timeout=25)

    d.stop_and_check(runner, "fullscrape: daemon exits 0 on SIGTERM")
    runner.context = None
