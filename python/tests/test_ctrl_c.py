"""Ctrl-C: SIGINT to a process running a long analysis in its main thread ends it with
KeyboardInterrupt within a second."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = r"""
import sys, time
import numpy as np
import sgdstab

A = np.random.default_rng(0).standard_normal((60, 60)) / np.sqrt(60)
print("ready", flush=True)
try:
    # matrix-free k = 4 on Sym^4(R^60) (D = 595665): minutes, one checkpoint per product
    sgdstab.analyze(A, lr=0.5, batch=4, orders=(4,), method="matrix-free")
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


def test_sigint_stops_a_long_analysis_within_a_second():
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        assert p.poll() is None, "the analysis ended before the signal"
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 30 s after SIGINT")
        waited = time.monotonic() - sent
        out = p.stdout.read()
        assert p.returncode == 3 and "interrupted" in out, (p.returncode, out, p.stderr.read())
        assert waited < 1.0, f"KeyboardInterrupt {waited:.2f} s after SIGINT"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
