"""Ctrl-C during a computation raises KeyboardInterrupt in the calling (main) thread, and the
process stays healthy: the next call works (how fast the run stops: test_ctrl_c.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = r"""
import sys
import numpy as np
import sgdstab

A = np.random.default_rng(0).standard_normal((40, 22)) / np.sqrt(22)
print("ready", flush=True)
try:
    sgdstab.analyze(A, lr=0.5, batch=4, orders=(3,))   # dense T_3 on Sym^3(R^22), D = 2024
except KeyboardInterrupt:
    # the interpreter is intact: the next call works
    r = sgdstab.analyze(A[:, :3], lr=0.5, batch=4)
    print("interrupted", r.orders[0].verdict, flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


def test_sigint_raises_keyboard_interrupt_in_the_main_thread():
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=300)
        out, err = p.stdout.read(), p.stderr.read()
        assert p.returncode == 3, (p.returncode, out, err)
        assert out.split() == ["interrupted", "stable"], out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
