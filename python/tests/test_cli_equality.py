"""The Python reports equal the CLI's JSON on the same data: byte for byte for a C-order float64
array (both take the library's in-memory path), every number to rounding for float32, Fortran
order and per-parameter dictionaries (read in place by the library's block path, while the CLI
reads the file into a float64 matrix)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgdstab
from conftest import FIXTURES, assert_close, run_cli, without_input


def test_analyze_equals_the_cli_on_the_same_npy(cli, tmp_path, rng):
    A = rng.standard_normal((30, 6))
    A[:, 5] = A[:, 0] - 2 * A[:, 3]  # rank-deficient: the column-Gram reduction
    np.save(tmp_path / "g.npy", A)
    text = run_cli(cli, "analyze", "g.npy", "--lr", 0.05, "--batch", 4, "--orders", "1,2,3",
                   "--eigensolver", "faer", "--json", "-q", cwd=tmp_path)
    report = sgdstab.analyze(A, lr=0.05, batch=4, orders=(1, 2, 3), source="g.npy")
    assert report.to_json() == text
    assert report.to_dict() == json.loads(text)
    assert report.reduction == "column-gram" and report.rank == 5


def test_analyze_float32_fortran_equals_the_cli(cli, tmp_path, rng):
    A = np.asfortranarray(rng.standard_normal((25, 7)).astype(np.float32))
    np.save(tmp_path / "g.npy", A)  # saved in Fortran order
    text = run_cli(cli, "analyze", "g.npy", "--lr", 0.02, "--batch", 3, "--sampling", "with",
                   "--eigensolver", "faer", "--spectrum", "--json", "-q", cwd=tmp_path)
    report = sgdstab.analyze(A, 0.02, 3, sampling="with", full_spectrum=True, source="g.npy")
    assert_close(report.to_dict(), json.loads(text))
    assert report.orders[1].blocks[-1].eigenvalues is not None


def test_analyze_wide_input_equals_the_cli(cli, tmp_path, rng):
    # w > n: the row-Gram reduction, and a flat block with a large multiplicity
    A = rng.standard_normal((12, 40))
    np.save(tmp_path / "g.npy", A)
    text = run_cli(cli, "analyze", "g.npy", "--lr", 0.01, "--batch", 5, "--eigensolver", "faer",
                   "--json", "-q", cwd=tmp_path)
    report = sgdstab.analyze(A, lr=0.01, batch=5, source="g.npy")
    assert report.to_json() == text
    assert report.reduction == "row-gram"


def test_thresholds_equal_the_cli(cli, tmp_path, rng):
    A = rng.standard_normal((20, 4))
    np.save(tmp_path / "g.npy", A)
    text = run_cli(cli, "threshold", "g.npy", "--batch", 3, "--orders", "1,2", "--eigensolver",
                   "faer", "--json", "-q", cwd=tmp_path)
    th = sgdstab.thresholds(A, batch=3, orders=(1, 2), source="g.npy")
    assert th.to_json() == text
    assert th.orders[0].lr_threshold == pytest.approx(th.gd_threshold, rel=1e-12)


def test_diagram_equals_the_cli(cli, tmp_path, rng):
    A = rng.standard_normal((10, 3))
    np.save(tmp_path / "g.npy", A)
    run_cli(cli, "diagram", "g.npy", "--orders", "1,2", "--batches", "1,3,10", "--eigensolver",
            "faer", "--plot", "d.svg", "--out", "d.json", "-q", cwd=tmp_path)
    text = (tmp_path / "d.json").read_text()
    d = sgdstab.diagram(A, orders=(1, 2), batches=(1, 3, 10), source="g.npy")
    assert d.to_json() == text
    assert len(d.rows) == 6


@pytest.mark.parametrize("name", ["mlp_grads.npz", "torch_mlp_grads.npz", "jax_mlp_grads.npz"])
def test_a_dict_equals_the_cli_on_the_npz(cli, name):
    # the CLI concatenates an .npz in archive order; a dict keeps its insertion order: the same
    path = FIXTURES / name
    text = run_cli(cli, "analyze", path, "--lr", 0.05, "--batch", 4, "--eigensolver", "faer",
                   "--json", "-q", cwd=FIXTURES)
    with np.load(path) as z:
        grads = {k: z[k] for k in z.files}
    report = sgdstab.analyze(grads, lr=0.05, batch=4)
    assert_close(without_input(report.to_dict()), without_input(json.loads(text)))
    assert [c.name for c in report.column_layout] == [p.name for p in report.layout] == list(grads)
    assert report.layout[-1].columns.stop == report.w
