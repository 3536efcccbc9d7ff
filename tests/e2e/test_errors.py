"""Bad HTTP input: every case gets its reply and the daemon keeps serving, over 127.0.0.1 and
(when the host has it) ::1."""

import os
import socket
import struct
import time

from harness import (HAVE_V6, V4, V6, Daemon, HttpConn, TestFailure, check, decode_ok, eq,
                     failure_of, http_announce, http_get_bytes, http_request, pct, peers_of,
                     rand_hash, rand_peer_id)


def base_params(h=None, pid=None):
    return [("info_hash", pct(h or rand_hash())), ("peer_id", pct(pid or rand_peer_id())),
            ("port", "6881"), ("uploaded", "0"), ("downloaded", "0"), ("left", "0"),
            ("compact", "1")]


def make_query(params, set_=None, drop=(), add=()):
    """params with values already encoded; set_ replaces values, drop removes names."""
    set_ = dict(set_ or {})
    out = []
    for k, v in params:
        if k in drop:
            continue
        out.append((k, set_.pop(k, v)))
    out += list(set_.items()) + list(add)
    return "&".join("%s=%s" % (k, v) for k, v in out)


def run(runner, swarmd):
    d = Daemon(swarmd).start()
    runner.context = d.context

    def cases_over(host, tag):
        """Every case below, spoken to the daemon over host (127.0.0.1 or ::1)."""
        def req(target, **kw):
            return http_request(d, target, host=host, **kw)

        def T(name, fn, timeout=15):
            runner.run("errors: " + tag + name, fn, timeout)

        def still_serving():
            """A normal announce (a new peer in a fresh swarm, then a second sees it) works."""
            h = rand_hash()
            http_announce(d, h, 4001, host=host)
            r = http_announce(d, h, 4002, host=host)
            eq(peers_of(r), [(host, 4001)], "announce after the bad input")

        # ---- announce parameter errors: HTTP 200 + failure reason naming the parameter -----------
        cases = [
            ("missing info_hash", dict(drop=("info_hash",)), "info_hash"),
            ("empty info_hash", dict(set_={"info_hash": ""}), "info_hash"),
            ("info_hash of 19 bytes", dict(set_={"info_hash": pct(os.urandom(19))}), "info_hash"),
            ("info_hash of 21 bytes", dict(set_={"info_hash": pct(os.urandom(21))}), "info_hash"),
            ("duplicate info_hash", dict(add=[("info_hash", pct(os.urandom(20)))]), "info_hash"),
            ("missing peer_id", dict(drop=("peer_id",)), "peer_id"),
            ("peer_id of 19 bytes", dict(set_={"peer_id": pct(os.urandom(19))}), "peer_id"),
            ("peer_id of 21 bytes", dict(set_={"peer_id": pct(os.urandom(21))}), "peer_id"),
            ("missing port", dict(drop=("port",)), "port"),
            ("port=0 without stopped", dict(set_={"port": "0"}), "port"),
            ("port=65536", dict(set_={"port": "65536"}), "port"),
            ("port=abc", dict(set_={"port": "abc"}), "port"),
            ("port=-1", dict(set_={"port": "-1"}), "port"),
            ("port= (empty)", dict(set_={"port": ""}), "port"),
            ("port=99999999999999999999", dict(set_={"port": "99999999999999999999"}), "port"),
            ("uploaded=-1", dict(set_={"uploaded": "-1"}), "uploaded"),
            ("left=abc", dict(set_={"left": "abc"}), "left"),
            ("left=12x", dict(set_={"left": "12x"}), "left"),
            ("left=2^64 (overflow)", dict(set_={"left": "18446744073709551616"}), "left"),
            ("downloaded=99999999999999999999999", dict(set_={"downloaded":
                                                              "99999999999999999999999"}),
             "downloaded"),
            # A lenient decoder would take "%zz" as three literal bytes: 17 + 3 = 20 bytes.
            ("malformed %zz in info_hash", dict(set_={"info_hash": pct(os.urandom(17)) + "%zz"}),
             None),
            # A lenient decoder would take a trailing "%" as one byte: 19 + 1 = 20 bytes.
            ("trailing % (peer_id last)", dict(drop=("peer_id",),
                                               add=[("peer_id", pct(os.urandom(19)) + "%")]), None),
            ("truncated %4 escape", dict(drop=("peer_id",),
                                         add=[("peer_id", pct(os.urandom(18)) + "%4")]), None),
        ]

        for name, mods, word in cases:
            def t(mods=mods, word=word):
                q = make_query(base_params(), **mods)
                resp = req("/announce?" + q)
                text = failure_of(resp, "reply")
                if word:
                    check(word in text, "failure reason %r does not name %r" % (text, word))
                still_serving()
            T("announce with %s: failure reason" % name, t)

        def ok_edges():
            h = rand_hash()
            q = make_query(base_params(h), set_={"left": "18446744073709551615",
                                                  "uploaded": "18446744073709551615",
                                                  "port": "65535"})
            r = decode_ok(req("/announce?" + q), "u64 max counters, port 65535")
            eq(r[b"incomplete"], 1, "left=2^64-1 is a leecher")
            q = make_query(base_params(h), drop=("uploaded", "downloaded", "left"),
                           set_={"port": "1"})
            r = decode_ok(req("/announce?" + q), "absent counters")
            eq((r[b"complete"], r[b"incomplete"]), (1, 1), "absent left means 0 (seeder)")
            q = make_query(base_params(h), set_={"port": "2"},
                           add=[("foo", "bar"), ("key", "deadbeef"), ("trackerid", "x"),
                                ("supportcrypto", "1"), ("corrupt", "0"), ("redundant", "0")])
            decode_ok(req("/announce?" + q), "unknown parameters are ignored")
            q = make_query(base_params(h), set_={"port": "3"}).replace("left=", "left=0&=")
            decode_ok(req("/announce?" + q + "&&flag"), "empty/bare parameters")
        T("valid edge values accepted (u64 max, port 1/65535, absent counters, extras)", ok_edges)

        def no_query():
            for target in ("/announce", "/announce?"):
                text = failure_of(req(target), target)
                check("info_hash" in text, "failure %r does not name info_hash" % text)
            still_serving()
        T("announce without a query: failure naming info_hash", no_query)

        def scrape_bad():
            text = failure_of(req("/scrape?info_hash=" + pct(os.urandom(19))),
                              "19-byte scrape hash")
            check("info_hash" in text, "failure %r does not name info_hash" % text)
            failure_of(req("/scrape?info_hash=" + pct(os.urandom(17)) + "%zz"),
                       "malformed scrape hash")
            still_serving()
        T("scrape with a bad info_hash: failure reason", scrape_bad)

        # ---- paths and methods ------------------------------------------------------------------
        def not_found():
            for target in ("/nothing", "/announcefoo", "/scrapes", "/announce/x", "/stats/x/y"):
                resp = req(target)
                eq(resp.status, 404, "status of GET %s" % target)
            c = HttpConn(d, host)
            try:
                c.send(http_get_bytes("/nothing"))
                eq(c.read_response().status, 404, "404 on keep-alive")
                h = rand_hash()
                c.send(http_get_bytes("/announce?" + make_query(base_params(h))))
                decode_ok(c.read_response(), "announce after a 404 on the same connection")
            finally:
                c.close()
            still_serving()
        T("unknown paths get 404 (keep-alive survives)", not_found)

        for method in ("POST", "PUT", "DELETE"):
            def t(method=method):
                raw = ("%s /announce?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                       % (method, make_query(base_params()))).encode()
                resp = req(None, raw=raw)
                eq(resp.status, 405, "status of %s" % method)
                still_serving()
            T("%s gets 405" % method, t)

        def post_body():
            body = b"info_hash=xxxxxxxxxxxxxxxxxxxx&GET / HTTP/1.1\r\n\r\n"
            raw = (b"POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                   + body)
            resp = req(None, raw=raw)
            eq(resp.status, 405, "status of POST with a body")
            still_serving()
        T("POST with a body gets 405", post_body)

        # ---- malformed heads: 400 and close ---------------------------------------------------
        bad_heads = [
            ("garbage request line", b"GARBAGE\r\n\r\n"),
            ("bad HTTP version (HTTP/2.0)", b"GET /announce HTTP/2.0\r\nHost: x\r\n\r\n"),
            ("bad protocol name", b"GET /announce FOO/1.1\r\nHost: x\r\n\r\n"),
            ("request line without target", b"GET HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("header without colon", b"GET /announce HTTP/1.1\r\nHost x\r\n\r\n"),
            ("NUL byte in request line", b"GET /ann\x00ounce HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("control byte in a header", b"GET /announce HTTP/1.1\r\nHost: a\x01b\r\n\r\n"),
        ]
        for name, raw in bad_heads:
            def t(raw=raw):
                c = HttpConn(d, host)
                try:
                    c.send(raw)
                    resp = c.read_response()
                    eq(resp.status, 400, "status")
                    check(c.wait_closed(2.0), "connection not closed after 400")
                finally:
                    c.close()
                still_serving()
            T("%s: 400 and close" % name, t)

        def too_many_headers():
            raw = b"GET /announce HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(40))
            c = HttpConn(d, host)
            try:
                c.send(raw + b"\r\n")
                resp = c.read_response()
                check(resp.status in (400, 431), "status %d for 40 headers" % resp.status)
                check(c.wait_closed(2.0), "connection not closed")
            finally:
                c.close()
            still_serving()
        T("40 headers: 400 (or 431) and close", too_many_headers)

        def big_head(raw, what):
            c = HttpConn(d, host)
            try:
                try:
                    c.send(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    resp = c.read_response()
                except Exception as e:  # noqa: BLE001
                    raise TestFailure("%s: no HTTP error reply before the close (%s)" % (what, e))
                check(resp.status in (431, 400, 413, 414), "%s: status %d" % (what, resp.status))
                check(c.wait_closed(2.0), "%s: connection not closed" % what)
            finally:
                c.close()
            still_serving()

        def head_big_complete():
            big_head(b"GET /announce HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                     "complete 9 KiB head")
        T("a complete head over 8 KiB: 431 and close", head_big_complete)

        def head_big_endless():
            big_head(b"GET /announce HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8500,
                     "unterminated 8.5 KiB head")
        T("an unterminated head over 8 KiB: 431 and close", head_big_endless)

        def long_uri():
            big_head(b"GET /announce?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                     "9 KiB request target")
        T("a 9 KiB request target: error and close", long_uri)

        def head_just_under():
            h = rand_hash()
            raw = http_get_bytes("/announce?" + make_query(base_params(h)),
                                 headers=["Connection: close", "X-Pad: " + "p" * 7000])
            check(len(raw) < 8192, "test head too long")
            decode_ok(req(None, raw=raw), "a 7 KiB head")
        T("a 7 KiB head is served", head_just_under)

        # ---- abusive clients ------------------------------------------------------------------
        def binary_garbage():
            c = HttpConn(d, host)
            try:
                c.send(bytes(range(256)) * 4)
                try:
                    resp = c.read_response()
                    eq(resp.status, 400, "status for binary garbage")
                except Exception:  # noqa: BLE001 - a plain close is acceptable too
                    pass
                check(c.wait_closed(2.0), "connection not closed after binary garbage")
            finally:
                c.close()
            still_serving()
        T("binary garbage: 400 or close", binary_garbage)

        def abrupt_clients():
            raw = http_get_bytes("/announce?" + make_query(base_params()))
            for i in range(20):
                s = socket.create_connection((host, d.http_port), timeout=2)
                if i % 3 == 0:
                    s.sendall(raw[:len(raw) // 2])          # half a head, then go away
                elif i % 3 == 1:
                    s.sendall(raw * 5)                      # requests, never read the replies
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()                                   # RST
            still_serving()
        T("clients that reset mid-request or never read", abrupt_clients)

        def never_reads():
            s = socket.create_connection((host, d.http_port), timeout=5)
            try:
                s.setblocking(False)
                req = http_get_bytes("/scrape?info_hash=" + pct(rand_hash()))
                blob = req * 5000
                sent = 0
                end = time.time() + 2
                while sent < len(blob) and time.time() < end:
                    try:
                        sent += s.send(blob[sent:sent + 65536])
                    except BlockingIOError:
                        time.sleep(0.01)
                t0 = time.time()
                still_serving()
                check(time.time() - t0 < 3, "a client that never reads slowed others down")
            finally:
                s.close()
            still_serving()
        T("a pipelining client that never reads does not block others", never_reads)

        def idle_conns():
            socks = []
            try:
                for i in range(200):
                    s = socket.create_connection((host, d.http_port), timeout=5)
                    if i % 2:
                        s.sendall(b"GET /announce?info_hash=")  # stuck mid-head
                    socks.append(s)
                t0 = time.time()
                still_serving()
                check(time.time() - t0 < 3, "announce took %.1fs with 200 idle connections"
                      % (time.time() - t0))
            finally:
                for s in socks:
                    s.close()
            still_serving()
        T("200 idle connections do not stop a new client", idle_conns, timeout=30)

    cases_over(V4, "")
    if HAVE_V6:
        cases_over(V6, "[::1] ")

    d.stop_and_check(runner, "errors: daemon exits 0 on SIGTERM")
    runner.context = None
