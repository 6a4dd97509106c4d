"""The typed attributes cover the JSON exactly, with docstrings."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgdstab
from sgdstab import _results

from conftest import FIXTURES


def check_view(view, data, path="report"):
    """Every key of `data` is a documented attribute of `view` and vice versa, recursively; the
    values agree."""
    cls = type(view)
    fields = set(cls._fields)
    optional = {k for k in fields if getattr(cls, k)._optional}
    assert set(data) <= fields and fields - set(data) <= optional, (
        f"{path}: {cls.__name__} fields {sorted(fields ^ set(data))} differ from the JSON"
    )
    for key in cls._fields:
        doc = getattr(cls, key).__doc__
        assert doc and doc.strip(), f"{cls.__name__}.{key} has no docstring"
        value = getattr(view, key)
        if key not in data:
            assert value is None
            continue
        raw = data[key]
        if isinstance(raw, dict):
            check_view(value, raw, f"{path}.{key}")
        elif isinstance(raw, list) and raw and isinstance(raw[0], dict):
            assert isinstance(value, tuple) and len(value) == len(raw)
            for i, (v, r) in enumerate(zip(value, raw)):
                check_view(v, r, f"{path}.{key}[{i}]")
        elif isinstance(raw, list):
            assert value == tuple(tuple(x) if isinstance(x, list) else x for x in raw), f"{path}.{key}"
        else:
            assert value == raw and type(value) is type(raw), f"{path}.{key}"


def test_analyze_attributes_cover_the_json(rng):
    A = rng.standard_normal((14, 5))
    A[:, 4] = A[:, 0]  # r < w: a flat block
    r = sgdstab.analyze(A, lr=0.1, batch=3, orders=(1, 2, 3), full_spectrum=True)
    check_view(r, json.loads(r.to_json()))
    assert r.orders[1].blocks[2].eigenvalues is not None
    assert r.orders[1].cone is not None and r.orders[0].cone is None
    # a matrix-free block: the Lanczos details
    m = sgdstab.analyze(A, lr=0.1, batch=3, orders=(2,), method="matrix-free")
    check_view(m, m.to_dict())
    assert m.orders[0].blocks[-1].lanczos.products > 0
    assert m.orders[0].blocks[-1].eigenvalues is None


def test_a_clustered_block_reports_its_certified_enclosure():
    # the committed trained-network export (n = 200, r = 200, D_2 = 20 100): the top of spec T_2
    # is a cluster just below 1, where the clustered solver encloses λ_max
    A = np.load(FIXTURES / "trained" / "grads.npy")
    r = sgdstab.analyze(A, lr=0.1, batch=20, orders=(2,), method="clustered")
    check_view(r, r.to_dict())
    block = r.orders[0].blocks[-1]
    assert block.method == "clustered" and block.j == 2
    enc = block.enclosure
    assert enc.lower <= block.lambda_max <= enc.upper
    assert enc.width == pytest.approx(enc.upper - enc.lower, rel=1e-12, abs=0)
    assert 0 < enc.width <= 1e-9 and block.error_bound == enc.width
    # the largest diagonal entry of T_2 is a Rayleigh quotient: a lower bound the enclosure
    # must respect (computed here independently from the rows)
    G = A @ A.T / A.shape[0]
    lam, U = np.linalg.eigh(G)
    keep = lam > lam.max() * 1e-12
    lam, U = lam[keep], U[:, keep]
    Bc = (U * np.sqrt(A.shape[0] * lam)).T  # (r, n): b_ia = sqrt(n λ_a) u_ai, H's eigenbasis
    n, b, eta = A.shape[0], 20, 0.1
    p = (n - b) / (b * (n - 1))
    sq = Bc**2  # (r, n)
    K = sq @ sq.T / n  # (1/n) Σ_i b_ia² b_ib²
    diag = 1 - eta * (lam[:, None] + lam[None, :]) + eta**2 * (1 - p) * np.outer(lam, lam)
    diag = diag + eta**2 * p * K * (2 - np.eye(len(lam)))
    assert diag.max() <= enc.upper + 1e-12
    cone = r.orders[0].cone
    assert cone.termination == "skipped" and cone.reason
    assert sgdstab.ConeReport.reason.__doc__


def test_a_davidson_block_reports_what_it_certifies(rng):
    A = rng.standard_normal((30, 40))
    r = sgdstab.analyze(A, lr=0.05, batch=5, orders=(3,), method="davidson")
    check_view(r, r.to_dict())
    block = r.orders[0].blocks[-1]
    assert block.method == "davidson" and block.j == 3 and block.enclosure is None
    d = block.davidson
    # independent reference: the dense solve of the same block
    dense = sgdstab.analyze(A, lr=0.05, batch=5, orders=(3,), method="dense").orders[0].blocks[-1]
    assert d.lambda_max_lower <= dense.lambda_max + 1e-12
    assert d.lambda_min_upper >= dense.lambda_min - 1e-12
    assert abs(block.lambda_max - dense.lambda_max) <= block.error_bound + dense.error_bound + 1e-12


def test_thresholds_and_diagram_attributes_cover_the_json(rng):
    A = rng.standard_normal((12, 3))
    t = sgdstab.thresholds(A, batch=2, orders=(1, 2, 3))
    check_view(t, t.to_dict())
    assert t.orders[1].mulayoff_michaeli is not None and t.orders[0].mulayoff_michaeli is None
    assert t.orders[0].stable_set[0][0] == 0.0
    d = sgdstab.diagram(A, orders=(2, 1), batches=range(1, 4))
    check_view(d, d.to_dict())
    assert d.orders == (1, 2) and d.batches == (1, 2, 3)
    assert d.threshold(2, 2) == d.rows[4].lr_threshold
    with pytest.raises(KeyError):
        d.threshold(3, 1)


def test_to_json_is_the_text_and_to_dict_a_fresh_copy(small):
    r = sgdstab.analyze(small, 0.05, 3)
    assert r.to_json().endswith("}\n")
    d = r.to_dict()
    assert d == json.loads(r.to_json())
    d["n"] = -1
    assert r.n == 30 and r.to_dict()["n"] == 30
    assert list(d)[:4] == ["schema_version", "command", "tool_version", "input"]
    assert r.tool_version == sgdstab.__version__


def test_the_typed_values_agree_with_independent_numbers(small):
    # a few hand checks: flatness = Tr H = (1/n) Σ ‖a_i‖², sharpness = λ_max(AᵀA/n)
    r = sgdstab.analyze(small, 0.05, 3)
    assert r.flatness == pytest.approx(float((small**2).sum() / 30), rel=1e-12)
    assert r.sharpness == pytest.approx(float(np.linalg.eigvalsh(small.T @ small / 30).max()), rel=1e-10)
    assert r.orders[0].k == 1 and r.orders[1].k == 2
    assert r.n == 30 and r.w == 6 and r.batch == 3 and r.lr == 0.05
    assert r.sampling == "without-replacement"


def test_every_public_class_is_documented():
    for name in sgdstab.__all__:
        obj = getattr(sgdstab, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
    for fn in (sgdstab.analyze, sgdstab.thresholds, sgdstab.diagram):
        for section in ("Parameters", "Returns", "Raises"):
            assert section in fn.__doc__, (fn.__name__, section)
    assert issubclass(sgdstab.Report, _results._View)


def test_input_fields_column_layout_mean_gradient_ratio_and_warnings(rng):
    n = 20
    d = {"w": rng.standard_normal((n, 2, 3)), "b": rng.standard_normal(n).astype(np.float32)}
    for result in (sgdstab.analyze(d, 0.05, 4), sgdstab.thresholds(d, 4)):
        layout = result.column_layout
        assert [(c.name, c.shape, c.offset, c.columns) for c in layout] == [("w", (2, 3), 0, 6), ("b", (), 6, 1)]
        assert isinstance(layout[0], sgdstab.ColumnBlock)
        # ‖(1/n) Σ a_i‖ / ((1/n) Σ ‖a_i‖), computed here in float64 from the same values
        A = np.concatenate([d["w"].reshape(n, -1), d["b"].astype(np.float64)[:, None]], axis=1)
        ratio = np.linalg.norm(A.mean(axis=0)) / np.linalg.norm(A, axis=1).mean()
        assert result.mean_gradient_ratio == pytest.approx(ratio, rel=1e-10)
        assert result.warnings == ()
    # a plain array has no layout in the JSON (report.layout still names its columns)
    r = sgdstab.analyze(A, 0.05, 4)
    assert r.column_layout is None and r.to_dict()["column_layout"] is None
    # rows that sum to zero look like per-sample loss gradients at a minimum: a warning
    Z = np.concatenate([A[:10], -A[:10]])
    z = sgdstab.analyze(Z, 0.05, 4)
    assert z.mean_gradient_ratio == pytest.approx(0.0, abs=1e-12)
    assert [w.kind for w in z.warnings] == ["loss-gradients"]
    assert isinstance(z.warnings[0], sgdstab.ReportWarning) and z.warnings[0].message
    assert sgdstab.thresholds(Z, 4).warnings == z.warnings
