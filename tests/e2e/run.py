#!/usr/bin/python3
"""swarmd end-to-end suite: starts the real binary on loopback and speaks raw HTTP and UDP.

    /usr/bin/python3 tests/e2e/run.py --swarmd build/check/swarmd [--only NAME ...]

Prints "ok - e2e: NAME" / "not ok - e2e: NAME" per test, failure details on stderr, and
exits 1 if any test failed. The whole run is bounded by a watchdog (--deadline seconds).
"""

import argparse
import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import glob  # noqa: E402
import importlib  # noqa: E402

import harness  # noqa: E402

# Every tests/e2e/test_NAME.py is a suite called NAME: adding a file adds a suite.
SUITES = [(os.path.basename(p)[5:-3], importlib.import_module(os.path.basename(p)[:-3]))
          for p in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "test_*.py")))]


def watchdog(runner, deadline):
    def fire():
        sys.stdout.write("not ok - e2e: suite finished within %d s (watchdog fired)\n"
                         % deadline)
        sys.stdout.flush()
        for d in harness.ALL_DAEMONS:
            try:
                sys.stderr.write(d.context() + "\n")
                d.kill()
            except Exception:  # noqa: BLE001
                pass
        sys.stderr.flush()
        os._exit(1)
    t = threading.Timer(deadline, fire)
    t.daemon = True
    t.start()
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarmd", required=True)
    ap.add_argument("--only", action="append", help="run only these suites (%s)"
                    % ", ".join(n for n, _ in SUITES))
    ap.add_argument("--deadline", type=int, default=300)
    args = ap.parse_args()
    swarmd = os.path.abspath(args.swarmd)
    runner = harness.Runner("e2e")
    if not (os.path.isfile(swarmd) and os.access(swarmd, os.X_OK)):
        runner.fail("swarmd binary exists", "no executable at %s" % swarmd)
        return 1
    if not harness.HAVE_V6:
        sys.stderr.write("e2e: ::1 not available, IPv6 tests are skipped\n")
    wd = watchdog(runner, args.deadline)
    t0 = time.time()
    for name, mod in SUITES:
        if args.only and name not in args.only:
            continue
        try:
            mod.run(runner, swarmd)
        except Exception:  # noqa: BLE001 - e.g. the daemon did not start
            runner.fail("%s: suite ran to the end" % name, traceback.format_exc())
        finally:
            runner.context = None
            for d in harness.ALL_DAEMONS:
                d.kill()
    wd.cancel()
    sys.stderr.write("e2e: %d passed (%d skipped), %d failed in %.1fs\n"
                     % (runner.passed, runner.skipped, runner.failed, time.time() - t0))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
