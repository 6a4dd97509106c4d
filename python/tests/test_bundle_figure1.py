"""sgdstab.figure1: the example python/examples/figure1_jax.py at its CI size (>= 12 JAX networks
trained on the digits, one bundle each), its Pearson r against numpy.corrcoef, and the tuple
form."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import sgdstab
from conftest import ROOT

EXAMPLE = ROOT / "python" / "examples" / "figure1_jax.py"


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return np.corrcoef(ra, rb)[0, 1]


def test_the_figure1_example_at_ci_size(tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "figure1.json"
    args = [sys.executable, str(EXAMPLE), "--small", "--bundles", str(tmp_path / "runs"), "--out", str(out)]
    try:
        import matplotlib  # noqa: F401

        args += ["--plot", str(tmp_path / "figure1.png")]
    except ImportError:
        pass
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rep = json.loads(out.read_text())
    runs = rep["runs"]
    assert len(runs) >= 12
    lrs = {r["lr"] for r in runs}
    batches = {r["batch"] for r in runs}
    assert min(lrs) == 0.02 and max(lrs) == 0.2 and min(batches) == 5 and max(batches) == 50
    for p in rep["panels"]:
        gw = np.array([runs[i]["g_w"] for i in p["runs"]])
        gx = np.array([runs[i]["g_x"] for i in p["runs"]])
        assert len(gw) >= 3
        assert abs(p["pearson"] - np.corrcoef(gw, gx)[0, 1]) < 1e-12
        assert abs(p["pearson_log"] - np.corrcoef(np.log(gw), np.log(gx))[0, 1]) < 1e-12
        assert abs(p["spearman"] - spearman(gw, gx)) < 1e-12  # no ties among real g's
    # the g's of a bundle are those of sgdstab.sobolev on it
    first = runs[0]
    s = sgdstab.sobolev(first["source"], orders=1, stability=False)
    assert (s.g_w, s.g_x) == (first["g_w"], first["g_x"])
    if "--plot" in args:
        assert (tmp_path / "figure1.png").stat().st_size > 1000


def test_figure1_from_tuples(rng):
    runs = []
    for lr in (0.02, 0.05, 0.1, 0.2):
        for _ in range(2):
            g = 1.0 / lr * rng.uniform(0.8, 1.2)
            runs.append((lr, 20, g, 0.4 * g * rng.uniform(0.9, 1.1)))
    for b in (5, 10, 50):
        g = b * rng.uniform(0.8, 1.2)
        runs.append((0.1, b, g, 0.4 * g))
    fig = sgdstab.figure1(runs)
    d = fig.to_dict()
    assert (d["fixed_batch"], d["fixed_lr"]) == (20, 0.1)
    lr_panel = fig.panel("learning-rate")
    assert len(lr_panel.runs) == 8
    gw = np.array([runs[i][2] for i in lr_panel.runs])
    gx = np.array([runs[i][3] for i in lr_panel.runs])
    assert abs(lr_panel.pearson - np.corrcoef(gw, gx)[0, 1]) < 1e-12
    t = lr_panel.trend
    assert t["varied"] == "lr" and t["g_w_agrees"] is True
    slope = np.polyfit(np.log([runs[i][0] for i in lr_panel.runs]), np.log(gw), 1)[0]
    assert abs(t["loglog_slope_g_w"] - slope) < 1e-10
    b = fig.panel("batch-size")
    assert sorted(runs[i][1] for i in b.runs) == [5, 10, 20, 20, 50]
    with pytest.raises(ValueError, match=r"runs\[1\]: g_W = NaN"):
        sgdstab.figure1([(0.1, 2, 1.0, 1.0), (0.1, 2, float("nan"), 1.0)])
    with pytest.raises(TypeError, match=r"runs\[0\]"):
        sgdstab.figure1([(0.1, 2, 1.0)])
