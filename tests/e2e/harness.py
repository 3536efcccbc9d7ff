"""Shared harness for the swarmd end-to-end suites (Python 3 stdlib only).

What is here:
  - Runner: runs named tests with a per-test timeout and prints TAP-like lines
    ("ok - e2e: NAME" / "not ok - e2e: NAME"), details of failures on stderr.
  - Daemon: starts the real swarmd on free loopback ports, waits until it answers, stops it
    with a signal and reports its exit status and stderr.
  - HttpConn / http helpers: a raw HTTP/1.x client over a socket (exact bytes, keep-alive,
    pipelining), query encoding, announce/scrape helpers.
  - bdecode: a strict bencode decoder (rejects unsorted or duplicate dict keys, leading
    zeros, trailing bytes).
  - UDP (BEP 15 / BEP 41) packet builders and a small client.
"""

import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

# ---------------------------------------------------------------------------------------------
# Assertions and the runner


class TestFailure(Exception):
    pass


class TestTimeout(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


def _alarm(signum, frame):
    raise TestTimeout("test timed out")


class Runner:
    def __init__(self, prefix):
        self.prefix = prefix
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []
        self.context = None  # callable returning extra text (e.g. daemon stderr) on failure

    def _line(self, text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def ok(self, name):
        self.passed += 1
        self._line("ok - %s: %s" % (self.prefix, name))

    def fail(self, name, detail):
        self.failed += 1
        self.failures.append(name)
        self._line("not ok - %s: %s" % (self.prefix, name))
        sys.stderr.write("--- %s: %s FAILED\n%s\n" % (self.prefix, name, detail.rstrip()))
        sys.stderr.flush()

    def skip(self, name, reason):
        self.skipped += 1
        self.passed += 1
        self._line("ok - %s: %s # SKIP %s" % (self.prefix, name, reason))

    def run(self, name, fn, timeout=15.0):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            fn()
        except Skip as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.skip(name, str(e))
            return True
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(e, (TestFailure, TestTimeout)):
                detail = "%s: %s" % (type(e).__name__, e)
                tb = traceback.extract_tb(e.__traceback__)
                where = [f for f in tb if ("/e2e/" in f.filename or "/interop/" in f.filename)
                         and not f.filename.endswith("harness.py")]
                if where:
                    f = where[-1]
                    detail += "\n  at %s:%d" % (os.path.basename(f.filename), f.lineno)
            else:
                detail = traceback.format_exc()
            if self.context:
                try:
                    extra = self.context()
                    if extra:
                        detail += "\n" + extra
                except Exception:  # noqa: BLE001
                    pass
            self.fail(name, detail)
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        self.ok(name)
        return True


# ---------------------------------------------------------------------------------------------
# Addresses and ports

V4 = "127.0.0.1"
V6 = "::1"


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            s.bind((V6, 0))
        finally:
            s.close()
        return True
    except OSError:
        return False


# SWARMD_E2E_NO_V6=1 runs as if ::1 were missing (to exercise the skip path).
HAVE_V6 = have_ipv6() and not os.environ.get("SWARMD_E2E_NO_V6")


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(kind, hosts):
    """A port free for `kind` (SOCK_STREAM / SOCK_DGRAM) on every host in hosts."""
    for _ in range(100):
        s = socket.socket(family_of(hosts[0]), kind)
        try:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        good = True
        for h in hosts[1:]:
            t = socket.socket(family_of(h), kind)
            try:
                t.bind((h, port))
            except OSError:
                good = False
            finally:
                t.close()
        if good:
            return port
    raise RuntimeError("no free port")


def proc_status(pid):
    """Resident memory of a process in bytes: {"VmRSS": now, "VmHWM": peak} ({} once gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def rand_hash():
    return os.urandom(20)


def rand_peer_id():
    return b"-E2E001-" + os.urandom(12)


# ---------------------------------------------------------------------------------------------
# The daemon


ALL_DAEMONS = []  # every Daemon started, so a watchdog can kill them


class Daemon:
    """One swarmd process on free loopback ports."""

    def __init__(self, binary, args=(), config_text=None, v6=None):
        self.binary = binary
        self.args = list(args)
        self.config_text = config_text
        self.v6 = HAVE_V6 if v6 is None else v6
        self.hosts = [V4, V6] if self.v6 else [V4]
        self.proc = None
        self.http_port = None
        self.udp_port = None
        self.errfile = None
        self.config_path = None
        self.exit_code = None

    def start(self, attempts=5):
        last = ""
        for _ in range(attempts):
            self.http_port = free_port(socket.SOCK_STREAM, self.hosts)
            self.udp_port = free_port(socket.SOCK_DGRAM, self.hosts)
            if self.udp_port == self.http_port:
                continue
            cmd = [self.binary]
            for h in self.hosts:
                cmd += ["-i", h]
            cmd += ["-p", str(self.http_port), "-P", str(self.udp_port)]
            if self.config_text is not None:
                fd, self.config_path = tempfile.mkstemp(prefix="swarmd-e2e-", suffix=".conf")
                with os.fdopen(fd, "w") as f:
                    f.write(self.config_text)
                cmd += ["-f", self.config_path]
            cmd += self.args
            self.cmd = cmd
            self.errfile = tempfile.TemporaryFile(prefix="swarmd-e2e-err-")
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=self.errfile, stderr=self.errfile)
            ALL_DAEMONS.append(self)
            if self._wait_ready(15.0):
                return self
            last = self.stderr_text()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        raise RuntimeError("swarmd did not start: %s\n%s" % (" ".join(self.cmd), last))

    def _wait_ready(self, limit):
        end = time.time() + limit
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                s = socket.create_connection((V4, self.http_port), timeout=0.5)
                s.close()
            except OSError:
                time.sleep(0.05)
                continue
            # HTTP answers; now make sure UDP does too.
            try:
                u = UdpClient(self, V4)
                u.connect(timeout=0.5)
                u.close()
                return True
            except Exception:  # noqa: BLE001
                time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self, limit=6000):
        if self.errfile is None:
            return ""
        try:
            self.errfile.flush()
            self.errfile.seek(0)
            data = self.errfile.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = "...\n" + text[-limit:]
        return text

    def context(self):
        state = "running" if self.alive() else "exited with %r" % (self.proc.poll(),)
        return "  daemon (%s): %s\n  daemon stderr:\n%s" % (
            " ".join(self.cmd), state, _indent(self.stderr_text(3000)))

    def stop(self, sig=signal.SIGTERM, timeout=2.0):
        """Send sig; returns (exit code or None if it did not exit in time, elapsed)."""
        if self.proc is None:
            return None, 0.0
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        elapsed = time.time() - t0
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        self.exit_code = rc
        if self.config_path:
            try:
                os.unlink(self.config_path)
            except OSError:
                pass
        return rc, elapsed

    def stop_and_check(self, runner, name, sig=signal.SIGTERM):
        """Stop and report a test line: exit 0 within ~2 s (also catches ASan leak reports)."""

        def t():
            if self.proc.poll() is not None:
                raise TestFailure("daemon had already exited with %r before the signal"
                                  % self.proc.poll())
            rc, elapsed = self.stop(sig, 2.5)
            if rc is None:
                raise TestFailure("daemon did not exit within 2.5 s of %s" % sig.name)
            if rc != 0:
                raise TestFailure("daemon exited with %r after %s (%.2fs)"
                                  % (rc, sig.name, elapsed))
        saved = runner.context
        runner.context = self.context
        runner.run(name, t, timeout=10)
        runner.context = saved

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _indent(text, pre="    "):
    return "\n".join(pre + line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# Bencode


class BencodeError(Exception):
    pass


def bdecode(data):
    """Strict decode of one complete value. Strings are bytes; dict keys bytes."""
    if not isinstance(data, (bytes, bytearray)):
        raise BencodeError("not bytes")
    val, pos = _bdec(bytes(data), 0)
    if pos != len(data):
        raise BencodeError("trailing bytes at %d of %d" % (pos, len(data)))
    return val


def _bdec(d, i):
    if i >= len(d):
        raise BencodeError("truncated at %d" % i)
    c = d[i:i + 1]
    if c == b"i":
        j = d.find(b"e", i)
        if j < 0:
            raise BencodeError("unterminated int at %d" % i)
        s = d[i + 1:j]
        if not s or not (s.isdigit() or (s[:1] == b"-" and s[1:].isdigit())):
            raise BencodeError("bad int %r" % s)
        if s == b"-0" or (s[:1] == b"0" and len(s) > 1) or s[:2] == b"-0":
            raise BencodeError("non-canonical int %r" % s)
        return int(s), j + 1
    if c == b"l":
        i += 1
        out = []
        while True:
            if i >= len(d):
                raise BencodeError("unterminated list")
            if d[i:i + 1] == b"e":
                return out, i + 1
            v, i = _bdec(d, i)
            out.append(v)
    if c == b"d":
        i += 1
        out = {}
        last = None
        while True:
            if i >= len(d):
                raise BencodeError("unterminated dict")
            if d[i:i + 1] == b"e":
                return out, i + 1
            if not d[i:i + 1].isdigit():
                raise BencodeError("dict key is not a string at %d" % i)
            k, i = _bdec(d, i)
            if last is not None and k <= last:
                raise BencodeError("dict keys not strictly sorted: %r after %r" % (k, last))
            last = k
            v, i = _bdec(d, i)
            out[k] = v
    if c.isdigit():
        j = d.find(b":", i)
        if j < 0:
            raise BencodeError("bad string length at %d" % i)
        ls = d[i:j]
        if not ls.isdigit() or (ls[:1] == b"0" and len(ls) > 1):
            raise BencodeError("bad string length %r" % ls)
        n = int(ls)
        if j + 1 + n > len(d):
            raise BencodeError("string overruns data")
        return d[j + 1:j + 1 + n], j + 1 + n
    raise BencodeError("unexpected byte %r at %d" % (c, i))


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


# ---------------------------------------------------------------------------------------------
# HTTP

_UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def pct(v):
    if isinstance(v, int):
        v = str(v)
    if isinstance(v, str):
        v = v.encode()
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in v)


def query(params):
    """params: list of (name, value) or (name, None) for a bare name; values encoded."""
    parts = []
    for k, v in params:
        parts.append(k if v is None else "%s=%s" % (k, pct(v)))
    return "&".join(parts)


def http_get_bytes(target, version="1.1", headers=(), method="GET"):
    lines = ["%s %s HTTP/%s" % (method, target, version), "Host: swarmd-e2e"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def __repr__(self):
        return "<HTTP %s %d %r body=%r>" % (self.version, self.status, self.headers,
                                           self.body[:200])


class Closed(Exception):
    pass


class HttpConn:
    def __init__(self, daemon, host=V4, timeout=5.0):
        self.sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, daemon.http_port))
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            raise Closed("connection closed by server (buffer %r)" % self.buf[:200])
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = True
            raise Closed("connection reset by server (buffer %r)" % self.buf[:200])
        if not chunk:
            self.eof = True
            raise Closed("connection closed by server (buffer %r)" % self.buf[:200])
        self.buf += chunk

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise TestFailure("bad status line %r" % lines[0])
        version = parts[0].decode()
        status = int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers = []
        for ln in lines[1:]:
            if b":" not in ln:
                raise TestFailure("bad response header line %r" % ln)
            k, v = ln.split(b":", 1)
            headers.append((k.decode("latin-1").strip().lower(), v.decode("latin-1").strip()))
        resp = Response(version, status, reason, headers, b"", head)
        cl = resp.header("content-length")
        te = resp.header("transfer-encoding")
        if head_request:
            return resp
        if cl is not None:
            n = int(cl)
            while len(self.buf) < n:
                self._fill()
            resp.body, self.buf = self.buf[:n], self.buf[n:]
        elif te is not None and "chunked" in te.lower():
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(size_line.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self._fill()
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
            resp.body = body
        else:
            try:
                while True:
                    self._fill()
            except Closed:
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_closed(self, timeout=2.0):
        """True if the server closes (EOF or reset) within timeout, with no further data."""
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        end = time.time() + timeout
        try:
            while time.time() < end:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    return True
                if not chunk:
                    self.eof = True
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        return False

    def is_open(self, wait=0.3):
        """True if nothing (no EOF) arrives within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        except ConnectionResetError:
            return False
        finally:
            self.sock.settimeout(5.0)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def http_request(daemon, target, host=V4, version="1.1", headers=(), method="GET",
                 raw=None):
    """One request on a fresh connection (with Connection: close for 1.1)."""
    c = HttpConn(daemon, host)
    try:
        if raw is None:
            hdrs = list(headers)
            if version == "1.1" and not any(h.lower().startswith("connection:") for h in hdrs):
                hdrs.append("Connection: close")
            raw = http_get_bytes(target, version, hdrs, method)
        c.send(raw)
        return c.read_response()
    finally:
        c.close()


def wait_for(cond, what, limit=3.0):
    """Polls cond until it returns something true (returned), or fails after limit seconds."""
    end = time.time() + limit
    last = None
    while time.time() < end:
        last = cond()
        if last:
            return last
        time.sleep(0.02)
    raise TestFailure("%s: not within %.1f s (last: %r)" % (what, limit, last))


def worker_events(daemon, counter):
    """A per-worker counter of /metrics (swarmd_worker_events_total{counter=...}), summed."""
    text = http_request(daemon, "/metrics").body.decode()
    pat = r'^swarmd_worker_events_total\{worker="\d+",counter="%s"\} (\d+)$' % re.escape(counter)
    return sum(int(v) for v in re.findall(pat, text, re.M))


def announce_params(info_hash, port, peer_id=None, left=1000, uploaded=0, downloaded=0,
                    event=None, numwant=None, compact=1, extra=()):
    p = [("info_hash", info_hash), ("peer_id", peer_id or rand_peer_id()), ("port", port),
         ("uploaded", uploaded), ("downloaded", downloaded), ("left", left)]
    if compact is not None:
        p.append(("compact", compact))
    if event is not None:
        p.append(("event", event))
    if numwant is not None:
        p.append(("numwant", numwant))
    p += list(extra)
    return p


def announce_target(info_hash, port, path="/announce", **kw):
    return path + "?" + query(announce_params(info_hash, port, **kw))


def decode_ok(resp, what="reply"):
    eq(resp.status, 200, "%s HTTP status" % what)
    try:
        d = bdecode(resp.body)
    except BencodeError as e:
        raise TestFailure("%s body is not strict bencode (%s): %r" % (what, e, resp.body[:300]))
    check(isinstance(d, dict), "%s body is not a dict: %r" % (what, resp.body[:300]))
    if b"failure reason" in d:
        raise TestFailure("%s: unexpected failure reason %r" % (what, d[b"failure reason"]))
    return d


def http_announce(daemon, info_hash, port, host=V4, path="/announce", **kw):
    resp = http_request(daemon, announce_target(info_hash, port, path=path, **kw), host=host)
    return decode_ok(resp, "announce")


def failure_of(resp, what="reply"):
    """Asserts a 200 reply whose body is exactly d14:failure reason<n>:<text>e; returns text."""
    eq(resp.status, 200, "%s HTTP status" % what)
    try:
        d = bdecode(resp.body)
    except BencodeError as e:
        raise TestFailure("%s body is not strict bencode (%s): %r" % (what, e, resp.body[:300]))
    check(isinstance(d, dict) and list(d.keys()) == [b"failure reason"],
          "%s: expected a dict with only 'failure reason', got %r" % (what, resp.body[:300]))
    text = d[b"failure reason"]
    check(isinstance(text, bytes) and len(text) > 0, "%s: empty failure reason" % what)
    return text.decode("latin-1")


def parse_peers4(blob):
    check(len(blob) % 6 == 0, "peers length %d not a multiple of 6" % len(blob))
    return [(socket.inet_ntop(socket.AF_INET, blob[i:i + 4]),
             struct.unpack(">H", blob[i + 4:i + 6])[0]) for i in range(0, len(blob), 6)]


def parse_peers6(blob):
    check(len(blob) % 18 == 0, "peers6 length %d not a multiple of 18" % len(blob))
    return [(socket.inet_ntop(socket.AF_INET6, blob[i:i + 16]),
             struct.unpack(">H", blob[i + 16:i + 18])[0]) for i in range(0, len(blob), 18)]


def peers_of(reply):
    """All peers of a compact announce reply as a list of (ip, port)."""
    check(b"peers" in reply, "reply has no 'peers' key: %r" % reply)
    p = reply[b"peers"]
    check(isinstance(p, bytes), "compact 'peers' is not a string: %r" % (p,))
    out = parse_peers4(p)
    if b"peers6" in reply:
        out += parse_peers6(reply[b"peers6"])
    return out


def scrape_target(hashes, path="/scrape"):
    if not hashes:
        return path
    return path + "?" + query([("info_hash", h) for h in hashes])


def http_scrape(daemon, hashes, host=V4, path="/scrape"):
    d = decode_ok(http_request(daemon, scrape_target(hashes, path), host=host), "scrape")
    check(list(d.keys()) == [b"files"], "scrape reply keys %r, want only files" % list(d))
    check(isinstance(d[b"files"], dict), "files is not a dict")
    return d[b"files"]


def scrape_counts(files, h):
    """(complete, downloaded, incomplete) for hash h; (0,0,0) if omitted."""
    if h not in files:
        return (0, 0, 0)
    e = files[h]
    check(isinstance(e, dict), "scrape entry not a dict: %r" % (e,))
    eq(sorted(e.keys()), [b"complete", b"downloaded", b"incomplete"], "scrape entry keys")
    return (e[b"complete"], e[b"downloaded"], e[b"incomplete"])


def pipeline(daemon, targets, host=V4):
    """Send all GET targets in one write on one connection; return the responses in order."""
    c = HttpConn(daemon, host, timeout=20.0)
    try:
        c.send(b"".join(http_get_bytes(t) for t in targets))
        return [c.read_response() for _ in targets]
    finally:
        c.close()


def bulk_announce(daemon, info_hash, ports, host=V4, left=1000, chunk=100):
    """Announce many peers (one per port) over keep-alive pipelined connections."""
    ports = list(ports)
    for i in range(0, len(ports), chunk):
        part = ports[i:i + chunk]
        resps = pipeline(daemon, [announce_target(info_hash, p, left=left, numwant=0)
                                  for p in part], host)
        for r in resps:
            decode_ok(r, "bulk announce")


# ---------------------------------------------------------------------------------------------
# UDP (BEP 15, BEP 41)

PROTOCOL_ID = 0x41727101980


def udp_connect_pkt(tid, protocol_id=PROTOCOL_ID):
    return struct.pack(">QII", protocol_id, 0, tid)


def udp_announce_pkt(conn_id, tid, info_hash, peer_id, port, downloaded=0, left=1000,
                     uploaded=0, event=0, ip=0, key=0, num_want=-1, options=b""):
    assert len(info_hash) == 20 and len(peer_id) == 20
    return (struct.pack(">QII", conn_id, 1, tid) + info_hash + peer_id +
            struct.pack(">QQQIIIiH", downloaded, left, uploaded, event, ip, key, num_want,
                        port) + options)


def udp_scrape_pkt(conn_id, tid, hashes):
    return struct.pack(">QII", conn_id, 2, tid) + b"".join(hashes)


def opt_urldata(data):
    out = b""
    while data:
        piece, data = data[:255], data[255:]
        out += bytes([2, len(piece)]) + piece
    return out


# A few self-checks of the builders (cheap; run at import).
assert len(udp_connect_pkt(1)) == 16
assert len(udp_announce_pkt(1, 2, b"a" * 20, b"b" * 20, 1)) == 98
assert len(udp_scrape_pkt(1, 2, [b"a" * 20] * 3)) == 76
assert bdecode(b"d1:ai1e1:bl1:xee") == {b"a": 1, b"b": [b"x"]}
assert bencode({"b": 1, "a": [b"x", 2]}) == b"d1:al1:xi2ee1:bi1ee"


class UdpError(Exception):
    pass


class UdpClient:
    def __init__(self, daemon, host=V4):
        self.daemon = daemon
        self.host = host
        self.family = family_of(host)
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.connect((host, daemon.udp_port))
        self.conn_id = None

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, pkt):
        self.sock.send(pkt)

    def recv(self, timeout=2.0):
        """One datagram or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65535)
        except socket.timeout:
            return None
        except ConnectionRefusedError:
            raise UdpError("ICMP port unreachable: is the daemon dead?")

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        finally:
            self.sock.setblocking(True)

    def transact(self, pkt, tid, timeout=2.0, tries=3):
        """Send and wait for a reply with the same transaction id (retries on loss)."""
        for _ in range(tries):
            self.send(pkt)
            end = time.time() + timeout
            while time.time() < end:
                r = self.recv(max(0.01, end - time.time()))
                if r is None:
                    break
                if len(r) >= 8 and struct.unpack(">I", r[4:8])[0] == tid:
                    return r
        raise UdpError("no UDP reply (tid %d, %d-byte request)" % (tid, len(pkt)))

    def connect(self, timeout=2.0):
        tid = random.getrandbits(32)
        r = self.transact(udp_connect_pkt(tid), tid, timeout)
        if len(r) != 16 or struct.unpack(">II", r[:8]) != (0, tid):
            raise UdpError("bad connect reply %r" % r)
        self.conn_id = struct.unpack(">Q", r[8:16])[0]
        return self.conn_id

    def announce_raw(self, info_hash, port, **kw):
        if self.conn_id is None:
            self.connect()
        tid = random.getrandbits(32)
        pkt = udp_announce_pkt(self.conn_id, tid, info_hash, kw.pop("peer_id", None) or
                               rand_peer_id(), port, **kw)
        return tid, pkt, self.transact(pkt, tid)

    def announce(self, info_hash, port, **kw):
        """Returns dict(interval, leechers, seeders, peers=[(ip, port)...], raw=bytes)."""
        tid, pkt, r = self.announce_raw(info_hash, port, **kw)
        if len(r) >= 8 and struct.unpack(">I", r[:4])[0] == 3:
            raise UdpError("error reply to announce: %r" % r[8:])
        check(len(r) >= 20, "announce reply too short: %d bytes" % len(r))
        action, rtid, interval, leechers, seeders = struct.unpack(">IIIII", r[:20])
        eq(action, 1, "announce reply action")
        eq(rtid, tid, "announce reply transaction id")
        body = r[20:]
        if self.family == socket.AF_INET:
            check(len(body) % 6 == 0, "v4 announce reply size %d is not 20 + 6n" % len(r))
            peers = parse_peers4(body)
        else:
            check(len(body) % 18 == 0, "v6 announce reply size %d is not 20 + 18n" % len(r))
            peers = parse_peers6(body)
        return dict(interval=interval, leechers=leechers, seeders=seeders, peers=peers, raw=r)

    def scrape(self, hashes):
        """List of (seeders, completed, leechers)."""
        if self.conn_id is None:
            self.connect()
        tid = random.getrandbits(32)
        r = self.transact(udp_scrape_pkt(self.conn_id, tid, hashes), tid)
        if struct.unpack(">I", r[:4])[0] == 3:
            raise UdpError("error reply to scrape: %r" % r[8:])
        eq(len(r), 8 + 12 * len(hashes), "scrape reply size")
        eq(struct.unpack(">II", r[:8]), (2, tid), "scrape reply action/tid")
        return [struct.unpack(">III", r[8 + 12 * i:20 + 12 * i]) for i in range(len(hashes))]

    def close(self):
        self.sock.close()


def udp_bulk_announce(daemon, info_hash, ports, host=V4, left=1000):
    """Announce many peers (ports) from one UDP socket, pipelining the datagrams."""
    u = UdpClient(daemon, host)
    try:
        u.connect()
        ports = list(ports)
        pending = {}
        for p in ports:
            tid = random.getrandbits(32)
            pending[tid] = udp_announce_pkt(u.conn_id, tid, info_hash, rand_peer_id(), p,
                                            left=left, num_want=0)
        for _round in range(4):
            items = list(pending.items())
            for i in range(0, len(items), 32):
                for tid, pkt in items[i:i + 32]:
                    u.send(pkt)
                end = time.time() + 1.0
                want = set(t for t, _ in items[i:i + 32])
                while want and time.time() < end:
                    r = u.recv(0.2)
                    if r is None:
                        continue
                    tid = struct.unpack(">I", r[4:8])[0] if len(r) >= 8 else None
                    if tid in pending:
                        if struct.unpack(">I", r[:4])[0] != 1:
                            raise UdpError("bulk announce got %r" % r[:60])
                        del pending[tid]
                        want.discard(tid)
            if not pending:
                return
        raise UdpError("%d bulk announces unanswered" % len(pending))
    finally:
        u.close()


def udp_reply_or_none(daemon, pkt, host=V4, wait=0.3):
    """Send pkt from a fresh socket; the reply, or None if nothing comes within `wait` s."""
    u = UdpClient(daemon, host)
    try:
        u.send(pkt)
        return u.recv(wait)
    finally:
        u.close()
