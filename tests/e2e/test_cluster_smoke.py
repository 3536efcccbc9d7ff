"""Cluster mode smoke test (issue 9): two swarmd nodes sharing a Redis started here.

A peer announced on node A (HTTP and UDP, IPv4 and IPv6) is returned by node B within 1 s, a
stop and a completed event travel too, the cluster metrics appear (and only in cluster
mode), a second node with the same id refuses to start, and a Redis restart is survived:
both nodes keep answering, report the engine down, and sync again once it is back. The
multi-node fault tests live in tests/cluster/; this one needs only loopback and redis-server
(skipped when it is missing)."""

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from harness import (HAVE_V6, V4, V6, Daemon, Skip, check, eq, free_port,
                     http_announce, http_request, http_scrape, peers_of, rand_hash,
                     scrape_counts, UdpClient, wait_for)

REDIS = shutil.which("redis-server")


class Redis:
    def __init__(self, port=None):
        self.port = port or free_port(socket.SOCK_STREAM, [V4])
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", V4, "--save", "", "--appendonly",
             "no", "--daemonize", "no"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection((V4, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start on port %d" % self.port)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def node_config(redis, node_id, secret):
    return ("cluster.engine redis://127.0.0.1:%d\ncluster.node_id %d\ncluster.nodes 1,2\n"
            "cluster.name smoke%d\ncluster.flush_ms 20\ntracker.interval 60\n"
            "tracker.udp_secret_file %s\n" % (redis.port, node_id, redis.port, secret))



def metrics(d):
    r = http_request(d, "/metrics")
    eq(r.status, 200, "/metrics status")
    return r.body.decode()


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def run(runner, swarmd):
    def T(name, fn, timeout=20):
        runner.run("cluster smoke: " + name, fn, timeout)

    if not REDIS:
        runner.skip("cluster smoke: two nodes share peers", "no redis")
        return
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-cluster-")
    secret = os.path.join(tmp, "udp_secret")
    with open(secret, "w") as f:
        f.write("00112233445566778899aabbccddeeff\n")
    os.chmod(secret, 0o600)
    redis = Redis().start()
    servers = [redis]
    a = Daemon(swarmd, ["-t", "2"], config_text=node_config(redis, 1, secret)).start()
    b = Daemon(swarmd, ["-t", "2"], config_text=node_config(redis, 2, secret)).start()
    runner.context = lambda: a.context() + "\n" + b.context()

    def seen_on_b(h, port, host=V4):
        def probe():
            reply = http_announce(b, h, 40000 + port % 1000, host=host, left=0, numwant=50)
            return port in [p for _, p in peers_of(reply)]
        return probe

    def http_v4():
        h = rand_hash()
        t0 = time.time()
        http_announce(a, h, 7001)
        wait_for(seen_on_b(h, 7001), "HTTP peer from A on B", 1.0)
        check(time.time() - t0 < 1.2, "took %.2f s" % (time.time() - t0))
    T("an HTTP IPv4 announce on A is returned by B within 1 s", http_v4)

    def udp_v4():
        h = rand_hash()
        ua = UdpClient(a)
        ua.announce(h, 7002)

        def probe():
            ub = UdpClient(b)
            try:
                return 7002 in [p for _, p in ub.announce(h, 7003, left=0)["peers"]]
            finally:
                ub.close()
        wait_for(probe, "UDP peer from A on B", 1.0)
        ua.close()
    T("a UDP announce on A is returned over UDP by B within 1 s", udp_v4)

    def http_v6():
        if not HAVE_V6:
            raise Skip("no IPv6 loopback")
        h = rand_hash()
        http_announce(a, h, 7004, host=V6)
        wait_for(seen_on_b(h, 7004, host=V6), "IPv6 peer from A on B", 1.0)
    T("an IPv6 peer announced on A is returned by B within 1 s", http_v6)

    def stop_and_completed():
        h = rand_hash()
        http_announce(a, h, 7005)
        wait_for(seen_on_b(h, 7005), "peer on B", 1.0)
        http_announce(a, h, 7005, event="stopped")
        wait_for(lambda: 7005 not in [p for _, p in peers_of(
                     http_announce(b, h, 41000, left=0))],
                 "stopped peer gone from B", 1.0)
        http_announce(a, h, 7006, left=0, event="completed")
        wait_for(lambda: scrape_counts(http_scrape(b, [h]), h)[1] == 1,
                 "completed count on B", 1.0)
        eq(scrape_counts(http_scrape(a, [h]), h)[1], 1, "completed on A")
    T("stopped removes the peer on B, completed counts once on B", stop_and_completed)

    def metrics_present():
        mb = metrics(b)
        eq(metric(mb, "swarmd_cluster_engine_up"), 1.0, "engine up on B")
        applied = metric(mb, 'swarmd_cluster_applied_total{origin="1"}')
        check(applied and applied >= 4, "B applied %r deltas from node 1" % applied)
        check(metric(metrics(a), "swarmd_cluster_published_total") >= 4, "A published")
        r = http_request(b, "/stats?mode=cluster")
        eq(r.status, 200, "/stats?mode=cluster status")
        check(b"swarmd_cluster_gaps_total 0" in r.body, "gaps line: %r" % r.body[:400])
        r = http_request(b, "/stats?mode=everything")
        check(b"<cluster><![CDATA[\nswarmd_cluster_engine_up 1\n" in r.body and
              r.body.rstrip().endswith(b"]]></cluster>\n</stats>"), "everything: %r" % r.body[-300:])
        s = Daemon(swarmd, ["-t", "1"]).start()
        try:
            check("swarmd_cluster_" not in metrics(s), "standalone /metrics has cluster lines")
        finally:
            s.stop()
    T("cluster metrics in /metrics and /stats?mode=cluster, none standalone", metrics_present)

    def duplicate_id():
        d = Daemon(swarmd, ["-t", "1"], config_text=node_config(redis, 1, secret))
        try:
            d.start(attempts=1)
        except RuntimeError:
            pass
        check(not d.alive(), "a second node 1 is running")
        check("node id 1 is in use" in d.stderr_text(), "message: %s" % d.stderr_text())
    T("a second node with the same node id refuses to start", duplicate_id)

    def redis_restart():
        redis.kill()
        wait_for(lambda: metric(metrics(a), "swarmd_cluster_engine_up") == 0.0,
                 "engine down on A", 5.0)
        h = rand_hash()
        http_announce(a, h, 7007)          # still answered, queued in the outage buffer
        check(metric(metrics(a), "swarmd_cluster_outage_buffer_bytes") is not None, "gauge")
        servers.append(Redis(redis.port).start())
        wait_for(seen_on_b(h, 7007), "peer announced during the outage on B", 6.0)
        wait_for(lambda: metric(metrics(b), "swarmd_cluster_engine_up") == 1.0,
                 "engine up again on B", 5.0)
        check("cluster: engine down" in a.stderr_text(), "engine down logged")
    T("Redis restarted empty: nodes serve meanwhile and sync again", redis_restart, 30)

    def flapping_engine_logs_little():
        # Redis drops the nodes' connections every 150 ms for 3 s: each reconnect is an
        # up/down flap, but "engine down" is logged at most once per 10 s.
        before = a.stderr_text().count("cluster: engine down")
        killed = 0
        with socket.create_connection((V4, redis.port), timeout=5) as ctl:
            me = ctl.makefile("rb")
            for _ in range(20):
                ctl.sendall(b"CLIENT KILL TYPE normal SKIPME yes\r\n")
                line = me.readline()
                check(line.startswith(b":"), "CLIENT KILL reply %r" % line)
                killed += int(line[1:])
                time.sleep(0.15)
        check(killed >= 20, "only %d connections killed: the nodes did not reconnect" % killed)
        wait_for(lambda: metric(metrics(a), "swarmd_cluster_engine_up") == 1.0,
                 "engine up on A after the flaps", 5.0)
        logged = a.stderr_text().count("cluster: engine down") - before
        check(logged <= 1, "%d 'engine down' lines for %d dropped connections" % (logged, killed))
    T("a flapping engine is logged at most once per 10 s", flapping_engine_logs_little, 20)

    def restart_resumes():
        # Node 2 with a state file, snapshots every second: after kill -9 and a restart it
        # has the swarms of its snapshot plus what was published meanwhile, and a completed
        # event it had already applied is not counted a second time.
        state = os.path.join(tmp, "state2")
        conf = node_config(redis, 2, secret) + ("tracker.statefile %s\n"
                                                "tracker.snapshot_interval 1\n" % state)
        b2 = Daemon(swarmd, ["-t", "1"], config_text=conf).start()
        h = rand_hash()
        http_announce(a, h, 7008, left=0, event="completed")
        wait_for(lambda: scrape_counts(http_scrape(b2, [h]), h)[1] == 1,
                 "completed on the new node 2", 2.0)
        def positions_section():
            # docs/statefile.md: flags bit 0, then "...payload | u32 length | SWCL | trailer".
            try:
                with open(state, "rb") as f:
                    data = f.read()
            except OSError:
                return False
            return (len(data) > 52 and data[12] & 1 and data[-24:-20] == b"SWCL" and
                    data[-28 - struct.unpack("<I", data[-28:-24])[0]:-28].startswith(b"1 "))
        wait_for(positions_section, "resume positions in the state file", 3.0)
        time.sleep(1.2)  # one more snapshot, holding the completed count
        b2.kill()
        http_announce(a, h, 7009)                 # published while node 2 is down
        b3 = Daemon(swarmd, ["-t", "1"], config_text=conf).start()
        try:
            wait_for(seen_on_b3(b3, h, 7009),
                     "peer published during the downtime on the restarted node", 5.0)
            got = scrape_counts(http_scrape(b3, [h]), h)
            eq(got[1], 1, "completed after the restart (snapshot + resumed stream)")
            check(7008 in [p for _, p in peers_of(http_announce(b3, h, 42000, left=0))],
                  "the peer from the snapshot")
        finally:
            b3.stop()

    def seen_on_b3(node, h, port):
        return lambda: port in [p for _, p in peers_of(http_announce(node, h, 43000, left=0))]

    # Node 2's first incarnation (b) goes first: the restarted one takes over its lock.
    b.stop_and_check(runner, "cluster smoke: node B exits cleanly")
    T("kill -9 and restart: snapshot plus stream resume, completed counted once",
      restart_resumes, 30)

    a.stop_and_check(runner, "cluster smoke: node A exits cleanly")
    for r in servers:
        r.kill()
    shutil.rmtree(tmp, ignore_errors=True)
