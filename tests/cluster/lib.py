"""Fixtures of the cluster acceptance suite (tests/cluster/run.py), Python 3 stdlib only.

What is here:
  - enter_namespace(): re-executes the suite inside a private network namespace (unshare -n),
    brings lo up and adds fd00::k/128 so every node and client has its own IPv6 address.
    Nothing the suite starts can reach, or be reached from, the machine's real network.
  - Redis: a redis-server on 127.0.0.10 (no persistence) whose config file holds one ACL user
    per node (the lines of docs/cluster.md, ACL_RULES below), so the nodes run with the
    least privilege an operator would give them; kill -9 / STOP / CONT / restart (empty).
  - Resp: a minimal RESP2 client over a socket (admin checks, hostile XADDs, ACL probes).
  - Node: one swarmd of the cluster (127.0.0.k and fd00::k, HTTP and UDP port 6969, its own
    config, statefile, auth file), with /metrics parsing and signals.
  - Udp / http_*: tracker clients bound to a chosen source address (the peer address the
    tracker records), so each test controls which peers exist.
  - batch(): the bus batch format v1 of CLUSTER-SPEC.md, to inject hostile input.
  - connid() and tick_now(): the cluster-wide UDP connection id (tests/e2e/connid_ref.py),
    computed from the shared secret, to present ids of any age.
"""

import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from harness import TestFailure, bdecode, check, query  # noqa: E402,F401
import connid_ref  # noqa: E402

NS_ENV = "SWARMD_CLUSTER_NETNS"
REDIS_ADDR = "127.0.0.10"
REDIS_PORT = 6379
PORT = 6969  # every node listens on its own addresses, so they share the port number
NODES = (1, 2, 3)
CLUSTER = "t9"
PEER_TIMEOUT = 20
INTERVAL = 5
FLUSH_MS = 50
# Streams are trimmed (MAXLEN ~) at this many entries; a batch per flush_ms makes it ~15 s.
RETENTION = 300
OUTAGE_BUFFER = 1 << 20
MAX_MEMORY_MIB = 64


def v4(k):
    return "127.0.0.%d" % k


def v6(k):
    return "fd00::%x" % k


# ---------------------------------------------------------------------------------------------
# The network namespace


def enter_namespace(argv):
    """Outside the namespace: exec the suite again under `unshare -n` (needs root). Inside:
    set up lo. Returns None when ready, or a string saying why it cannot run."""
    if os.environ.get(NS_ENV) != "1":
        if os.geteuid() != 0:
            return "needs root for unshare -n (a private network namespace)"
        env = dict(os.environ)
        env[NS_ENV] = "1"
        try:
            os.execvpe("unshare", ["unshare", "-n", "--", sys.executable] + argv, env)
        except OSError as e:
            return "unshare -n: %s" % e
    cmds = [["ip", "link", "set", "lo", "up"]]
    for k in list(NODES) + list(range(0x50, 0x60)):
        cmds.append(["ip", "-6", "addr", "add", "%s/128" % v6(k), "dev", "lo", "nodad"])
    for c in cmds:
        r = subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            return "%s: %s" % (" ".join(c), r.stdout.decode(errors="replace").strip())
    return None


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the suite dies, whatever kills it, so no
    Redis or swarmd outlives a run (PR_SET_PDEATHSIG = 1)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def spawn(cmd, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)


def nft(script):
    """Apply an nftables script inside the namespace; raises on failure."""
    r = subprocess.run(["nft", "-f", "-"], input=script.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise TestFailure("nft failed: %s\n%s" % (r.stdout.decode(errors="replace"), script))


def nft_block(addrs):
    """Drop every packet between each address in addrs and Redis, both directions."""
    rules = []
    for a in addrs:
        rules.append("ip saddr %s ip daddr %s drop" % (a, REDIS_ADDR))
        rules.append("ip saddr %s ip daddr %s drop" % (REDIS_ADDR, a))
    nft("table inet swarmdtest\ndelete table inet swarmdtest\n"
        "table inet swarmdtest {\n chain out {\n  type filter hook output priority 0;\n  "
        + "\n  ".join(rules) + "\n }\n}\n")


def nft_clear():
    nft("table inet swarmdtest\ndelete table inet swarmdtest\n")


# ---------------------------------------------------------------------------------------------
# RESP


class RespError(Exception):
    pass


class Resp:
    """One RESP2 connection. cmd() returns str/int/bytes/list/None, or raises RespError for
    an error reply (its text is the message, e.g. "NOPERM ...")."""

    def __init__(self, host=REDIS_ADDR, port=REDIS_PORT, user=None, password=None, src=None,
                 timeout=2.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src:
            self.sock.bind((src, 0))
        self.sock.connect((host, port))
        self.buf = b""
        if password is not None:
            self.cmd(*(["AUTH", user, password] if user else ["AUTH", password]))

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a)
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RespError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RespError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RespError("bad RESP reply %r" % line)

    def cmd(self, *args):
        self.sock.sendall(self.encode(args))
        r = self._reply()
        if isinstance(r, RespError):
            raise r
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Redis

# The per-node ACL of docs/cluster.md (keep the two identical): append only to its own
# stream, read every node's stream, own its lock key; exactly the commands swarmd sends
# (AUTH and PING are in @connection). {C} is the cluster name, N the node id.
ACL_RULES = ("resetkeys %R~swarmd:{{{C}}}:d:* %W~swarmd:{{{C}}}:d:{N} ~swarmd:{{{C}}}:lock:{N} "
             "resetchannels -@all +@connection +xadd +xread +xlen +set +get +pttl")


def acl_rules(cluster, node):
    return ACL_RULES.format(C=cluster, N=node)


def node_password(k):
    return "pw-node-%d-0f3a" % k


class Redis:
    def __init__(self, tmp, cluster=CLUSTER):
        self.tmp = tmp
        self.cluster = cluster
        self.proc = None
        self.conf = os.path.join(tmp, "redis.conf")
        self.log = os.path.join(tmp, "redis.log")
        with open(self.conf, "w") as f:
            f.write("bind %s\nport %d\nsave \"\"\nappendonly no\ndaemonize no\n"
                    "protected-mode no\nlogfile %s\nloglevel notice\n"
                    % (REDIS_ADDR, REDIS_PORT, self.log))
            f.write("user default on nopass ~* &* +@all\n")
            for k in NODES:
                f.write("user swarmd-%d on >%s %s\n" % (k, node_password(k),
                                                        acl_rules(cluster, k)))

    def start(self, limit=5.0):
        self.proc = spawn(["redis-server", self.conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        end = time.time() + limit
        while time.time() < end:
            try:
                r = Resp()
                r.cmd("PING")
                r.close()
                return self
            except (OSError, RespError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start:\n" + self.log_tail())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)

    def admin(self):
        return Resp()

    def stream(self, k):
        return "swarmd:{%s}:d:%d" % (self.cluster, k)

    def xlen(self, k):
        r = self.admin()
        try:
            return r.cmd("XLEN", self.stream(k))
        finally:
            r.close()

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# Nodes


class Node:
    def __init__(self, binary, k, tmp, secret_file, cluster=CLUSTER, extra=""):
        self.binary = binary
        self.k = k
        self.addr = v4(k)
        self.addr6 = v6(k)
        self.tmp = tmp
        self.cluster = cluster
        self.proc = None
        self.statefile = os.path.join(tmp, "state.%d" % k)
        self.config = os.path.join(tmp, "node%d.conf" % k)
        self.errpath = os.path.join(tmp, "node%d.log" % k)
        auth = os.path.join(tmp, "auth.%d" % k)
        with open(auth, "w") as f:
            f.write("swarmd-%d %s\n" % (k, node_password(k)))
        os.chmod(auth, 0o600)
        self.config_text = (
            "listen.tcp_udp %s:%d\n"
            "listen.tcp_udp [%s]:%d\n"
            "tracker.workers 2\n"
            "tracker.interval %d\n"
            "tracker.peer_timeout %d\n"
            "tracker.statefile %s\n"
            "tracker.snapshot_interval 1\n"
            "tracker.fullscrape_cache 1\n"
            "tracker.max_memory %d\n"
            "tracker.udp_secret_file %s\n"
            "cluster.engine redis://%s:%d\n"
            "cluster.name %s\n"
            "cluster.node_id %d\n"
            "cluster.nodes %s\n"
            "cluster.bind %s\n"
            "cluster.auth_file %s\n"
            "cluster.flush_ms %d\n"
            "cluster.retention %d\n"
            "cluster.outage_buffer %d\n"
            "%s" % (self.addr, PORT, self.addr6, PORT, INTERVAL, PEER_TIMEOUT, self.statefile,
                    MAX_MEMORY_MIB, secret_file, REDIS_ADDR, REDIS_PORT, cluster, k,
                    ",".join(str(n) for n in NODES), self.addr, auth, FLUSH_MS, RETENTION,
                    OUTAGE_BUFFER, extra))
        with open(self.config, "w") as f:
            f.write(self.config_text)
        # Satisfies harness helpers that want .http_port / .udp_port.
        self.http_port = self.udp_port = PORT

    def start(self, limit=10.0):
        self.err = open(self.errpath, "ab")
        self.proc = spawn([self.binary, "-f", self.config], stdout=self.err, stderr=self.err)
        end = time.time() + limit
        while time.time() < end:
            if self.proc.poll() is not None:
                raise TestFailure("node %d exited with %r at start:\n%s"
                                  % (self.k, self.proc.returncode, self.log_tail()))
            try:
                s = socket.create_connection((self.addr, PORT), timeout=0.5)
                s.close()
                u = Udp(self, src=self.addr)
                u.connect(timeout=0.3)
                u.close()
                return self
            except (OSError, harness.UdpError):
                time.sleep(0.05)
        raise TestFailure("node %d not answering %.0f s after start:\n%s"
                          % (self.k, limit, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=5.0):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def hwm(self):
        return harness.proc_status(self.proc.pid).get("VmHWM", 0)

    def log_text(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=25):
        return "\n".join("    " + ln for ln in self.log_text().splitlines()[-n:])

    def metrics(self):
        """/metrics as {(name, frozenset(labels.items())): value}."""
        status, body = http_get(self.addr, self.addr, "/metrics", timeout=2.0)
        check(status == 200, "node %d /metrics status %d" % (self.k, status))
        out = {}
        for line in body.decode("utf-8", "replace").splitlines():
            if not line or line.startswith("#"):
                continue
            head, _, val = line.rpartition(" ")
            labels = {}
            if "{" in head:
                name, _, rest = head.partition("{")
                for part in rest.rstrip("}").split(","):
                    if "=" in part:
                        a, _, b = part.partition("=")
                        labels[a.strip()] = b.strip().strip('"')
            else:
                name = head
            try:
                out[(name, frozenset(labels.items()))] = float(val)
            except ValueError:
                pass
        return out

    def metric(self, name, m=None, **labels):
        """Sum of every series of `name` whose labels include `labels`; None if absent."""
        m = self.metrics() if m is None else m
        total = None
        for (n, ls), v in m.items():
            if n == name and all((a, str(b)) in ls for a, b in labels.items()):
                total = (total or 0) + v
        return total


# ---------------------------------------------------------------------------------------------
# Tracker clients bound to a source address


class Udp:
    """A BEP 15 client from `src` to a node (over IPv6 when src is an IPv6 address)."""

    def __init__(self, node, src):
        fam = harness.family_of(src)
        self.dst = (node.addr6 if fam == socket.AF_INET6 else node.addr, PORT)
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((src, 0))
        self.sock.connect(self.dst)
        self.v6 = fam == socket.AF_INET6
        self.conn_id = None

    def port(self):
        return self.sock.getsockname()[1]

    def transact(self, pkt, timeout=1.0, tries=3):
        tid = struct.unpack(">I", pkt[12:16])[0]
        for _ in range(tries):
            self.sock.send(pkt)
            end = time.time() + timeout
            while time.time() < end:
                self.sock.settimeout(max(0.01, end - time.time()))
                try:
                    r = self.sock.recv(65535)
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    raise harness.UdpError("ICMP port unreachable from %r" % (self.dst,))
                if len(r) >= 8 and struct.unpack(">I", r[4:8])[0] == tid:
                    return r
        raise harness.UdpError("no UDP reply from %r" % (self.dst,))

    def connect(self, timeout=1.0):
        tid = random.getrandbits(32)
        r = self.transact(harness.udp_connect_pkt(tid), timeout)
        check(len(r) == 16 and struct.unpack(">I", r[:4])[0] == 0, "bad connect reply %r" % r)
        self.conn_id = struct.unpack(">Q", r[8:16])[0]
        return self.conn_id

    def announce_pkt(self, ih, port, conn_id=None, event=0, left=1000, num_want=200):
        tid = random.getrandbits(32)
        return harness.udp_announce_pkt(self.conn_id if conn_id is None else conn_id, tid, ih,
                                        harness.rand_peer_id(), port, left=left, event=event,
                                        num_want=num_want)

    def announce(self, ih, port, event=0, left=1000, num_want=200, conn_id=None):
        """dict(seeders, leechers, peers) or raises UdpError on an error reply."""
        if self.conn_id is None and conn_id is None:
            self.connect()
        r = self.transact(self.announce_pkt(ih, port, conn_id, event, left, num_want))
        action = struct.unpack(">I", r[:4])[0]
        if action == 3:
            raise harness.UdpError("error reply: %r" % r[8:])
        check(action == 1 and len(r) >= 20, "bad announce reply %r" % r[:40])
        _, _, _, leechers, seeders = struct.unpack(">IIIII", r[:20])
        body = r[20:]
        peers = harness.parse_peers6(body) if self.v6 else harness.parse_peers4(body)
        return dict(seeders=seeders, leechers=leechers, peers=peers)

    def reply_action(self, pkt):
        """The action of the reply to pkt (3 = error) and its payload."""
        r = self.transact(pkt)
        return struct.unpack(">I", r[:4])[0], r[8:]

    def scrape(self, hashes):
        if self.conn_id is None:
            self.connect()
        tid = random.getrandbits(32)
        r = self.transact(harness.udp_scrape_pkt(self.conn_id, tid, hashes))
        check(struct.unpack(">I", r[:4])[0] == 2 and len(r) == 8 + 12 * len(hashes),
              "bad scrape reply %r" % r[:40])
        return [struct.unpack(">III", r[8 + 12 * i:20 + 12 * i]) for i in range(len(hashes))]

    def close(self):
        self.sock.close()


def http_get(src, dst, target, timeout=3.0):
    """GET target from src to dst:PORT on a fresh connection; (status, body)."""
    fam = harness.family_of(dst)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect((dst, PORT))
        host = "[%s]" % dst if fam == socket.AF_INET6 else dst
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                   % (target, host, PORT)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, body


def http_announce(node, src, ih, port, event=None, left=1000, numwant=200):
    """Announce from src over HTTP (to the node's address of src's family); the reply dict."""
    dst = node.addr6 if ":" in src else node.addr
    target = harness.announce_target(ih, port, left=left, event=event, numwant=numwant)
    status, body = http_get(src, dst, target)
    check(status == 200, "announce to node %d: HTTP %d" % (node.k, status))
    d = bdecode(body)
    check(b"failure reason" not in d, "announce failed: %r" % d.get(b"failure reason"))
    return d


def http_peers(node, src, ih, port, event=None, left=1000):
    return set(harness.peers_of(http_announce(node, src, ih, port, event, left)))


def http_scrape(node, hashes=None, src=None):
    """The files dict of a scrape (a full scrape when hashes is None)."""
    target = harness.scrape_target(hashes or [])
    status, body = http_get(src or node.addr, node.addr, target, timeout=10.0)
    check(status == 200, "scrape on node %d: HTTP %d" % (node.k, status))
    return bdecode(body)[b"files"]


# ---------------------------------------------------------------------------------------------
# Bus batches (format v1, CLUSTER-SPEC.md)

OP_V6, OP_STOP, OP_SEED, OP_COMPLETED = 0x01, 0x02, 0x04, 0x08


def cluster_id(name):
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big")


def record(ih, ip, port, op=0):
    raw = socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
    if len(raw) == 16:
        op |= OP_V6
    return ih + struct.pack(">BH", op, port) + raw


def batch(origin, records, cluster=CLUSTER, seq=1, incarnation=None, t=None, btype=1,
          magic=b"SWD1", flags=0, reserved=0, count=None, cid=None):
    inc = random.getrandbits(64) if incarnation is None else incarnation
    hdr = magic + struct.pack(">BBHIQIIHH", btype, flags, origin,
                              cluster_id(cluster) if cid is None else cid, inc, seq,
                              int(time.time()) if t is None else t,
                              len(records) if count is None else count, reserved)
    assert len(hdr) == 32
    return hdr + b"".join(records)


# ---------------------------------------------------------------------------------------------
# Connection ids (CLUSTER.md "UDP connection IDs")

# The id model lives in tests/e2e/connid_ref.py (written from the spec, independent of the C
# code); the cluster tests use the same one.
connid = connid_ref.connid


def tick_now(t=None):
    return connid_ref.tick_at(time.time() if t is None else t)


def write_secret(path, keys):
    with open(path + ".new", "w") as f:
        f.write("".join(k.hex() + "\n" for k in keys))
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)


def wait_until(cond, limit, step=0.05):
    """Poll cond() until true or `limit` seconds; returns the elapsed time or None."""
    t0 = time.time()
    while True:
        try:
            if cond():
                return time.time() - t0
        except (OSError, harness.UdpError):
            pass
        if time.time() - t0 > limit:
            return None
        time.sleep(step)


def mkdtemp():
    return tempfile.mkdtemp(prefix="swarmd-cluster-")
