"""UDP connection ids shared through tracker.udp_secret_file: accepted across processes that
share the file, refused with another file or when too old, key rotation with SIGHUP, the
start-up checks on the file, and the path inside tracker.rootdir. Ids of any age are minted
by connid_ref (an independent model of the format) with the keys the test wrote."""

import os
import shutil
import signal
import struct
import subprocess
import tempfile

import connid_ref
from harness import (V4, V6, HAVE_V6, Daemon, Skip, TestFailure, UdpClient, check, eq,
                     rand_hash, rand_peer_id, udp_announce_pkt, wait_for)

KEY1 = bytes(range(16))
KEY2 = bytes(range(0xa0, 0xb0))
KEY3 = os.urandom(16)


def write_secret(path, *keys, mode=0o600):
    with open(path, "w") as f:
        for k in keys:
            f.write(k.hex() + "\n")
    os.chmod(path, mode)


def announce_with(d, cid, host=V4):
    """Announce over UDP with connection id cid; "ok", "error" or None (no reply)."""
    u = UdpClient(d, host)
    try:
        tid = int.from_bytes(os.urandom(4), "big")
        r = u.transact(udp_announce_pkt(cid, tid, rand_hash(), rand_peer_id(), 7000), tid)
        action = struct.unpack(">I", r[:4])[0]
        if action == 1:
            return "ok"
        if action == 3:
            check(b"connection id" in r[8:], "error text %r" % r[8:])
            return "error"
        raise TestFailure("unexpected action %d" % action)
    finally:
        u.close()


def connect_id(d, host=V4):
    u = UdpClient(d, host)
    try:
        return u.connect()
    finally:
        u.close()


def run(runner, swarmd):
    tmp = tempfile.mkdtemp(prefix="swarmd-e2e-secret-")
    shared = os.path.join(tmp, "shared")
    other = os.path.join(tmp, "other")
    write_secret(shared, KEY1)
    write_secret(other, KEY3)
    conf = "tracker.udp_secret_file %s\n"
    a = Daemon(swarmd, config_text=conf % shared).start()
    b = Daemon(swarmd, config_text=conf % shared).start()
    c = Daemon(swarmd, config_text=conf % other).start()
    plain = Daemon(swarmd).start()
    daemons = [a, b, c, plain]
    runner.context = lambda: "\n".join(x.context() for x in daemons)

    def T(name, fn, timeout=20):
        runner.run("udp secret: " + name, fn, timeout)

    def across_processes():
        connid_ref.away_from_tick_edge()
        cid = connect_id(a)
        eq(connect_id(b), cid, "ids from two processes sharing the file")
        eq(announce_with(b, cid), "ok", "A's id announced to B")
        eq(announce_with(a, connect_id(b)), "ok", "B's id announced to A")
        eq(announce_with(c, cid), "error", "A's id at a node with another file")
        eq(announce_with(plain, cid), "error", "A's id at a node with a random key")
        check(connect_id(plain) != cid, "a node without the file made the same id")
        if HAVE_V6:
            eq(announce_with(b, connect_id(a, V6), V6), "ok", "A's ::1 id announced to B")
            eq(announce_with(b, cid, V6), "error", "a 127.0.0.1 id used from ::1")
    T("an id from one process is accepted by another sharing the file, not by others",
      across_processes)

    def format_matches_model():
        tick = connid_ref.away_from_tick_edge()
        eq(connect_id(a), connid_ref.connid(KEY1, V4, tick), "id for 127.0.0.1")
        if HAVE_V6:
            eq(connect_id(a, V6), connid_ref.connid(KEY1, V6, tick), "id for ::1")
    T("ids are tick16 || SipHash tag48 of (tick, address) under the file's key",
      format_matches_model)

    def ages():
        tick = connid_ref.away_from_tick_edge()
        for back, want in ((0, "ok"), (7, "ok"), (8, "ok"), (-1, "ok"), (9, "error"),
                           (12, "error"), (-2, "error"), (4096, "error")):
            cid = connid_ref.connid(KEY1, V4, tick - back)
            eq(announce_with(a, cid), want, "id %d ticks (%d s) old" % (back, back * 16))
            eq(announce_with(b, cid), want, "id %d ticks old at B" % back)
    T("ids live 8 ticks back and 1 ahead; a 3-minute-old id is refused", ages)

    def rotation():
        rot = os.path.join(tmp, "rot")
        write_secret(rot, KEY1)
        d = Daemon(swarmd, config_text=conf % rot).start()
        daemons.append(d)
        try:
            tick = connid_ref.away_from_tick_edge(3)
            old = connid_ref.connid(KEY1, V4, tick)
            eq(announce_with(d, old), "ok", "old key before rotation")
            write_secret(rot, KEY2, KEY1)
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: connect_id(d) == connid_ref.connid(KEY2, V4, tick),
                     "connects to use the new key after SIGHUP")
            check("and previous key" in d.stderr_text(), "reload logged: %r"
                  % d.stderr_text()[-300:])
            eq(announce_with(d, old), "ok", "old-key id after rotation")
            eq(announce_with(d, connid_ref.connid(KEY2, V4, tick)), "ok", "new-key id")
            # A broken file on reload keeps the keys in use.
            with open(rot, "w") as f:
                f.write("not a key\n")
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "keeping the current UDP connection-id keys" in d.stderr_text(),
                     "the failed reload to be logged")
            eq(announce_with(d, old), "ok", "old-key id after a failed reload")
            # Previous line removed: old-key ids fail, new ones work.
            write_secret(rot, KEY2)
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: announce_with(d, old) == "error",
                     "old-key ids to fail once the previous key is gone")
            eq(announce_with(d, connid_ref.connid(KEY2, V4, tick)), "ok", "new-key id")
            rc, _ = d.stop()
            eq(rc, 0, "exit status")
        finally:
            d.kill()
    T("rotation: new key + old as line 2 and SIGHUP keeps old ids; dropping line 2 ends them",
      rotation)

    def refused(config, want, what):
        path = os.path.join(tmp, "refused.conf")
        with open(path, "w") as f:
            f.write(config)
        p = subprocess.run([swarmd, "-f", path, "-i", V4, "-p", "0", "-P", "0"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        eq(p.returncode, 1, "exit status for " + what)
        for word in want:
            check(word.encode() in p.stderr, "%s: %r not in %r" % (what, word, p.stderr))

    def startup_checks():
        bad = os.path.join(tmp, "bad")
        write_secret(bad, KEY1, mode=0o644)
        refused(conf % bad, ["tracker.udp_secret_file", bad, "group or others", "0644"],
                "a world-readable file")
        write_secret(bad, KEY1, mode=0o640)
        refused(conf % bad, ["group or others", "0640"], "a group-readable file")
        with open(bad, "w") as f:
            f.write("0123456789abcdef\n")
        os.chmod(bad, 0o600)
        refused(conf % bad, ["tracker.udp_secret_file", "line 1", "32 hex digits"],
                "a short key")
        write_secret(bad, KEY1, KEY2, KEY3)
        refused(conf % bad, ["two lines"], "three keys")
        refused(conf % os.path.join(tmp, "missing"), ["tracker.udp_secret_file",
                                                      "cannot open"], "a missing file")
    T("start-up refuses a malformed, missing or group/other-readable file, saying why",
      startup_checks)

    def inside_rootdir():
        if os.geteuid() != 0:
            raise Skip("not root (chroot)")
        root = tempfile.mkdtemp(prefix="swarmd-e2e-secret-root-")
        os.chmod(root, 0o755)
        write_secret(os.path.join(root, "secret"), KEY2)
        saved = os.environ.get("ASAN_OPTIONS")  # LeakSanitizer cannot work chrooted
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "detect_leaks=0"
        try:
            d = Daemon(swarmd, ["-d", root], config_text=conf % "/secret").start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        daemons.append(d)
        try:
            tick = connid_ref.away_from_tick_edge()
            eq(connect_id(d), connid_ref.connid(KEY2, V4, tick), "id under /secret's key")
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "/secret reloaded" in d.stderr_text(), "reload inside the chroot")
            rc, _ = d.stop()
            eq(rc, 0, "exit status")
        finally:
            d.kill()
            shutil.rmtree(root, ignore_errors=True)
    T("the path is inside tracker.rootdir (-d), also on SIGHUP", inside_rootdir)

    for x, name in ((a, "A"), (b, "B"), (c, "C"), (plain, "no file")):
        x.stop_and_check(runner, "udp secret: daemon %s exits 0 on SIGTERM" % name)
    runner.context = None
    shutil.rmtree(tmp, ignore_errors=True)
