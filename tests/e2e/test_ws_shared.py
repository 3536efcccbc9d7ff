"""WebSocket peers in the shared torrent table: one entry per info-hash counts HTTP/UDP and
WebSocket peers alike (scrape both ways, full scrape, /stats.json, /metrics, the state
file's completed count), while peer lists never mix them; the completed count outlives the
last browser; the store's caps and the per-address connection cap apply to WebSocket peers
too. (Protocol details of the WebSocket tracker itself: test_websocket.py.)"""

import json
import os
import re
import socket
import tempfile
import time

from harness import (V4, Daemon, UdpClient, check, eq, http_announce, http_request,
                     http_scrape, peers_of, rand_hash, rand_peer_id, scrape_counts)
from test_websocket import Ws, WsClosed, WsScope, announce, mk_offers, s20, wait_counts


def run(runner, swarmd):
    scope = WsScope(runner, "ws shared: ")
    T, ws = scope.test, scope.ws

    def join(d, h, left=1000, event=None, **kw):
        w = ws(d, **kw)
        pid = rand_peer_id()
        announce(w, h, pid, left=left, event=event)
        r = w.recv_json()
        check("failure reason" not in r, "announce refused: %r" % (r,))
        return w, pid

    def counts(d, h):
        return scrape_counts(http_scrape(d, [h]), h)

    def ws_scrape(w, h):
        w.send_json({"action": "scrape", "info_hash": s20(h)})
        r = w.recv_json()
        eq(r["action"], "scrape", "scrape reply action")
        f = r["files"][s20(h)]
        return (f["complete"], f["downloaded"], f["incomplete"])

    d = Daemon(swarmd).start()
    runner.context = d.context

    def both_ways():
        h = rand_hash()
        ws_seed, _ = join(d, h, left=0)
        # An HTTP leecher sees the browser seeder in the counts but never as a peer.
        r = http_announce(d, h, 40001, left=5)
        eq((r[b"complete"], r[b"incomplete"]), (1, 1), "HTTP announce counts the WS seeder")
        eq(peers_of(r), [], "HTTP peer list (a WebSocket peer has no address to give)")
        u = UdpClient(d, V4)
        u.connect()
        uc = u.announce(h, 40002, left=0)
        eq((uc["seeders"], uc["leechers"]), (2, 1), "UDP announce counts WS and HTTP peers")
        eq(uc["peers"], [("127.0.0.1", 40001)], "UDP peer list: the HTTP peer only")
        # The browser sees both HTTP/UDP peers in its scrape, and a WebSocket announce with
        # offers relays nothing to them (nobody else on WebSocket).
        eq(ws_scrape(ws_seed, h), (2, 0, 1), "WebSocket scrape counts HTTP and UDP peers")
        w2, _ = ws(d), None
        announce(w2, h, rand_peer_id(), offers=mk_offers(3, "o"), numwant=3)
        r2 = w2.recv_json()
        eq((r2["complete"], r2["incomplete"]), (2, 2), "WS announce reply counts everyone")
        op, payload = ws_seed.recv_frame()
        got = json.loads(payload)
        check("offer" in got, "the browser seeder gets an offer: %r" % (got,))
        ws_seed.nothing()
        w2.nothing()
        u.close()
    T("a WebSocket peer counts in HTTP and UDP replies, HTTP/UDP peers in WebSocket scrape; "
      "peer lists never mix", both_ways)

    def full_and_stats():
        # First in this daemon: the full scrape is cached briefly once built.
        h = rand_hash()
        join(d, h, left=0)
        join(d, h)
        join(d, h)
        files = http_scrape(d, [])
        check(h in files, "HTTP full scrape lists a WebSocket-only torrent")
        eq(scrape_counts(files, h), (1, 0, 2), "its counts in the full scrape")
        j = json.loads(http_request(d, "/stats.json").body)
        check(j["peers_websocket"] >= 3, "stats.json peers_websocket %r" % j["peers_websocket"])
        eq(j["peers"], j["peers_ipv4"] + j["peers_ipv6"] + j["peers_websocket"],
           "stats.json peers = ipv4 + ipv6 + websocket")
        eq(j["peers"], j["seeders"] + j["leechers"], "stats.json peers = seeders + leechers")
        m = http_request(d, "/metrics").body.decode()
        got = re.search(r'^swarmd_peers\{family="websocket"\} (\d+)$', m, re.M)
        check(got and int(got.group(1)) == j["peers_websocket"],
              "/metrics swarmd_peers{family=\"websocket\"} equals stats.json")
    T("full scrape, /stats.json and /metrics count WebSocket peers", full_and_stats)

    def completed_survives():
        h = rand_hash()
        seed, spid = join(d, h, left=0)
        leech, lpid = join(d, h, left=100)
        # The seeder re-sending completed does not count: it was a seeder already.
        announce(seed, h, spid, left=0, event="completed")
        seed.recv_json()
        announce(leech, h, lpid, left=0, event="completed")
        r = leech.recv_json()
        eq((r["complete"], r["incomplete"]), (2, 0), "counts after the leecher completed")
        wait_counts(d, h, (2, 1, 0), "HTTP scrape: 2 seeders, 1 completed")
        seed.close()
        leech.close()
        wait_counts(d, h, (0, 1, 0), "completed count after the last browser left")
        w = ws(d)
        eq(ws_scrape(w, h), (0, 1, 0), "WebSocket scrape after the last browser left")
    T("completed counted once per peer and kept after the last WebSocket peer leaves",
      completed_survives)

    def shared_socket():
        # bittorrent-tracker pools one socket per tracker URL for every client of a page.
        h = rand_hash()
        w = ws(d)
        pa, pb = rand_peer_id(), rand_peer_id()
        announce(w, h, pa, left=0)
        w.recv_json()
        announce(w, h, pb, offers=mk_offers(2, "s"), numwant=2)
        r = w.recv_json()
        eq((r["complete"], r["incomplete"]), (1, 1), "two peers of one swarm on one socket")
        off = w.recv_json()
        eq((off.get("peer_id"), off.get("offer_id")), (s20(pb), mk_offers(1, "s")[0]["offer_id"]),
           "B's offer relayed (to A, on the same socket), once")
        w.nothing()
        w.send_json({"action": "announce", "info_hash": s20(h), "peer_id": s20(pa),
                     "to_peer_id": s20(pb), "offer_id": off["offer_id"],
                     "answer": {"type": "answer", "sdp": "v=0 a"}})
        ans = w.recv_json()
        eq((ans.get("peer_id"), ans.get("answer")), (s20(pa), {"type": "answer", "sdp": "v=0 a"}),
           "A's answer relayed to B")
        announce(w, h, pa, left=0, event="stopped")
        r = w.recv_json()
        eq((r["complete"], r["incomplete"]), (0, 1), "A stopped, B stays")
        wait_counts(d, h, (0, 0, 1), "HTTP scrape after A stopped")
    T("two peers of one swarm on one socket (a page's shared socket) are two peers",
      shared_socket)

    runner.context = None
    d.stop_and_check(runner, "ws shared: daemon exits 0")

    # ---- state file: a WebSocket completion is saved like any other -------------------------
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-wsstate-")
    path = os.path.join(tmp, "state")
    conf = "tracker.statefile %s\n" % path
    h = rand_hash()
    d = Daemon(swarmd, config_text=conf).start()
    runner.context = d.context

    def saved():
        w, pid = join(d, h, left=10)
        announce(w, h, pid, left=0, event="completed")
        w.recv_json()
        w.close()
        wait_counts(d, h, (0, 1, 0), "after the browser completed and left")
        code, _ = d.stop()
        eq(code, 0, "exit status on SIGTERM")
        d2 = Daemon(swarmd, config_text=conf).start()
        try:
            eq(counts(d2, h), (0, 1, 0), "completed count restored from the state file")
        finally:
            d2.stop()
    T("a WebSocket completion survives a restart (tracker.statefile)", saved)
    d.stop()
    runner.context = None
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)

    # ---- caps ------------------------------------------------------------------------------
    d = Daemon(swarmd, config_text="tracker.max_torrents 2\ntracker.max_peers_per_torrent 2\n"
               "http.max_connections_per_ip 4\n").start()
    runner.context = d.context

    def store_caps():
        h1, h2, h3 = rand_hash(), rand_hash(), rand_hash()
        join(d, h1)
        http_announce(d, h2, 40010, left=5)
        w = ws(d)
        pid = rand_peer_id()
        announce(w, h3, pid)
        r = w.recv_json()
        eq(r.get("action"), "announce", "the refusal carries action")
        eq(r.get("info_hash"), s20(h3), "the refusal carries the info_hash")
        eq(r.get("failure reason"), "tracker full: too many torrents",
           "a new WebSocket swarm past tracker.max_torrents")
        eq(counts(d, h3), (0, 0, 0), "nothing counted for the refused swarm")
        # The same connection still joins an existing torrent; the per-torrent cap counts
        # WebSocket and HTTP peers together.
        announce(w, h2, pid)
        r = w.recv_json()
        eq((r.get("complete"), r.get("incomplete")), (0, 2), "joining an existing torrent")
        announce(w, h1, pid)  # a second WebSocket peer of h1 on this connection: 2 in h1
        w.recv_json()
        w3 = ws(d)
        announce(w3, h2, rand_peer_id())
        r = w3.recv_json()
        eq(r.get("failure reason"), "torrent full: too many peers",
           "a WebSocket peer past tracker.max_peers_per_torrent (HTTP + WS peers)")
        eq(r.get("action"), "announce", "that refusal carries action too")
        eq(counts(d, h2), (0, 0, 2), "h2 keeps its HTTP and WebSocket leechers")
    T("tracker.max_torrents and max_peers_per_torrent refuse WebSocket joins (with action)",
      store_caps)

    def per_ip():
        # Four connections from 127.0.0.2 (the cap): three upgraded, one plain HTTP.
        a = [ws(d, src="127.0.0.2") for _ in range(3)]
        plain = socket.create_connection((V4, d.http_port), timeout=5,
                                         source_address=("127.0.0.2", 0))
        scope.track(plain)
        time.sleep(0.1)
        try:
            over = Ws(d, src="127.0.0.2", timeout=2)
            over.close()
            raise AssertionError("a 5th connection (WebSocket) from 127.0.0.2 was accepted")
        except (WsClosed, ConnectionResetError, socket.timeout, BrokenPipeError):
            pass
        ws(d, src="127.0.0.3")  # another address is served
        a.pop().close()
        time.sleep(0.3)
        ws(d, src="127.0.0.2")  # a closed WebSocket connection gave its slot back
    T("http.max_connections_per_ip counts upgraded (WebSocket) connections", per_ip)

    runner.context = None
    d.stop_and_check(runner, "ws shared: capped daemon exits 0")

    # ---- access lists and a disabled full scrape -------------------------------------------
    tmp = tempfile.mkdtemp(prefix="swarmd-ws-acl-")
    listed, other = rand_hash(), rand_hash()

    def list_daemon(kind, h, extra=""):
        """A daemon with access.<kind> holding the one hash h."""
        path = os.path.join(tmp, kind)
        with open(path, "w") as f:
            f.write(h.hex() + "\n")
        daemon = Daemon(swarmd, config_text="access.%s %s\n%s" % (kind, path, extra)).start()
        runner.context = daemon.context
        return daemon

    d = list_daemon("whitelist", listed, "tracker.fullscrape off\n")

    def whitelist():
        w = ws(d)
        announce(w, other, rand_peer_id())
        r = w.recv_json()
        eq(r.get("failure reason"), "torrent not allowed", "announce of an unlisted torrent")
        eq(r.get("action"), "announce", "the failure names its action")
        w2, _ = join(d, listed)
        eq(counts(d, listed), (0, 0, 1), "the listed torrent has its WebSocket peer")
        eq(counts(d, other), (0, 0, 0), "the unlisted torrent has none")
        w2.send_json({"action": "scrape", "info_hash": [s20(listed), s20(other)]})
        r = w2.recv_json()
        eq(sorted(r["files"]), [s20(listed)], "a scrape omits the unlisted torrent")
        w2.send_json({"action": "scrape"})
        r = w2.recv_json()
        eq((r.get("action"), r.get("failure reason")), ("scrape", "full scrape disabled"),
           "scrape without info_hash when tracker.fullscrape is off")
    T("access.whitelist and tracker.fullscrape off apply to WebSocket announces and scrapes",
      whitelist)
    runner.context = None
    d.stop_and_check(runner, "ws shared: whitelist daemon exits 0")

    d = list_daemon("blacklist", other)

    def blacklist():
        w = ws(d)
        announce(w, other, rand_peer_id())
        eq(w.recv_json().get("failure reason"), "torrent not allowed", "blacklisted announce")
        join(d, listed)
        eq(counts(d, listed), (0, 0, 1), "an unlisted torrent is served")
    T("access.blacklist applies to WebSocket announces", blacklist)
    runner.context = None
    d.stop_and_check(runner, "ws shared: blacklist daemon exits 0")
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
