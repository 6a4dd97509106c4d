"""No copy: `analyze` on a >= 400 MB float32 array raises the peak RSS by less than half the
array's size (an f64 copy would add twice its size)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import resource, sys
import numpy as np
import sgdstab

n, w = 50, 2_100_000                      # 420 MB of float32, w >> n: the row-Gram path
rng = np.random.default_rng(0)
if sys.argv[1] == "F":                    # Fortran order without a transient second copy
    A = rng.standard_normal((w, n), dtype=np.float32).T
else:
    A = rng.standard_normal((n, w), dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
report = sgdstab.analyze(A, lr=1e-7, batch=5, orders=(1, 2))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
assert report.n == n and report.w == w
print(after - before, A.nbytes)
"""


def peak_increase(order):
    out = subprocess.run([sys.executable, "-c", SCRIPT, order], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    grew, size = map(int, out.stdout.split())
    return grew, size


def test_analyze_reads_a_large_float32_array_without_a_copy():
    grew, size = peak_increase("C")
    assert size >= 400_000_000
    assert grew < size / 2, f"peak RSS grew by {grew / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB array"


def test_a_fortran_ordered_array_too():
    grew, size = peak_increase("F")
    assert grew < size / 2, f"peak RSS grew by {grew / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB array"
