"""Bad bundles: a one-line ValueError naming the file and the field, and nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgdstab


@pytest.fixture
def parts(rng):
    """A valid bundle's arrays: f(x) = v · tanh(W x), n = 10, d = 3, m = 4."""
    n, d, m = 10, 3, 4
    W = rng.standard_normal((m, d))
    v = rng.standard_normal(m)
    X = rng.standard_normal((n, d))
    z = X @ W.T
    s = 1 - np.tanh(z) ** 2  # σ'(z)
    delta = s * v  # ∂f/∂z, n × m
    grads = {"W": np.einsum("ia,ib->iab", delta, X), "v": np.tanh(z)}
    xg = delta @ W
    return dict(grads=grads, input_grads=xg, X=X, y=np.tanh(z) @ v, first_layer="W", w1=W, lr=0.1, batch=2)


def write(out, p):
    p = dict(p)
    return sgdstab.write_bundle(out, p.pop("grads"), p.pop("input_grads"), p.pop("X"), p.pop("y"), **p)


def refused(tmp_path, p, *needles):
    out = tmp_path / "b"
    with pytest.raises(ValueError) as e:
        write(out, p)
    msg = str(e.value)
    assert "\n" not in msg, msg
    for s in needles:
        assert s in msg, msg
    assert not out.exists(), "something was written"
    return msg


def test_a_valid_bundle_is_written_and_read(tmp_path, parts):
    write(tmp_path / "b", parts)
    rep = sgdstab.sobolev(tmp_path / "b", orders=(1, 2))
    assert rep.ok and rep.orders[0].prop2["holds"] == 10


def test_mismatched_n_between_files(tmp_path, parts):
    parts["y"] = parts["y"][:-1]
    refused(tmp_path, parts, "y.npy", "(9,)", "10")


def test_input_gradients_of_the_wrong_width(tmp_path, parts):
    parts["input_grads"] = np.hstack([parts["input_grads"], np.ones((10, 1))])
    refused(tmp_path, parts, "xgrads.npy", "(10, 4)", "d")


def test_a_first_layer_not_in_the_gradients(tmp_path, parts):
    parts["first_layer"] = "W1"
    refused(tmp_path, parts, "first_layer", "'W1'", "W, v")


def test_a_first_layer_whose_shape_does_not_match_d(tmp_path, parts, rng):
    # a 4 × 4 matrix named as the first layer: no axis of length d = 3
    parts["grads"] = dict(parts["grads"], U=rng.standard_normal((10, 4, 4)))
    parts["first_layer"] = "U"
    parts["w1"] = rng.standard_normal((4, 4))
    refused(tmp_path, parts, "first_layer", "'U'", "d = 3")


def test_w1_of_another_shape_than_its_gradient(tmp_path, parts):
    parts["w1"] = parts["w1"][:, :2]
    refused(tmp_path, parts, "w1", "(4, 2)", "(4, 3)")


@pytest.mark.parametrize("key", ["X", "input_grads", "y", "w1"])
def test_nan_anywhere(tmp_path, parts, key):
    a = np.array(parts[key], dtype=float)
    a.flat[1] = np.nan
    parts[key] = a
    name = {"X": "x.npy", "input_grads": "xgrads.npy", "y": "y.npy", "w1": "w1.npy"}[key]
    if key in ("X", "input_grads", "w1"):
        # the first-layer identity check sees the NaN first: it names the layer
        with pytest.raises(ValueError) as e:
            write(tmp_path / "b", parts)
        assert not (tmp_path / "b").exists()
        assert ("non-finite" in str(e.value) and name in str(e.value)) or "first_layer" in str(e.value)
    else:
        refused(tmp_path, parts, name, "non-finite", "NaN")


def test_nan_in_the_gradients_and_test_set(tmp_path, parts, rng):
    g = dict(parts["grads"])
    g["v"] = g["v"].copy()
    g["v"][3, 1] = np.nan
    refused(tmp_path, dict(parts, grads=g, first_layer=None, w1=None), "grads.npy", "non-finite")
    Xt = rng.standard_normal((5, 3))
    Xt[2, 2] = np.inf
    refused(tmp_path, dict(parts, X_test=Xt, y_test=np.zeros(5)), "test_x.npy", "non-finite")


def test_a_test_set_of_the_wrong_dimension(tmp_path, parts, rng):
    refused(tmp_path, dict(parts, X_test=rng.standard_normal((5, 4)), y_test=np.zeros(5)), "test_x.npy", "(5, 4)")
    refused(tmp_path, dict(parts, X_test=rng.standard_normal((5, 3)), y_test=np.zeros(6)), "test_x.npy")


def test_a_missing_version_field(tmp_path, parts):
    out = tmp_path / "b"
    write(out, parts)
    manifest = json.loads((out / "bundle.json").read_text())
    del manifest["bundle_version"]
    (out / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"bundle\.json: bundle_version: missing"):
        sgdstab.sobolev(out)
    manifest["bundle_version"] = 7
    (out / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"bundle\.json: bundle_version = 7"):
        sgdstab.sobolev(out)


def test_a_bundle_without_training_point_names_the_field(tmp_path, parts):
    write(tmp_path / "b", dict(parts, lr=None))
    with pytest.raises(ValueError, match=r"bundle\.json: training\.lr: missing.*`lr`"):
        sgdstab.sobolev(tmp_path / "b")
    assert sgdstab.sobolev(tmp_path / "b", lr=0.1).lr == 0.1


def test_a_layer_that_is_not_the_first_is_refused(tmp_path, parts, rng):
    # the gradient of W with x replaced: not an outer product with x
    g = dict(parts["grads"])
    g["W"] = g["W"] + 0.1 * rng.standard_normal(g["W"].shape)
    refused(tmp_path, dict(parts, grads=g), "first_layer", "'W'")


def test_rewriting_a_bundle_leaves_no_stale_file(tmp_path, parts, rng):
    out = tmp_path / "b"
    write(out, dict(parts, X_test=rng.standard_normal((5, 3)), y_test=np.zeros(5), test_outputs=np.ones(5)))
    assert (out / "test_x.npy").exists()
    write(out, parts)
    assert not any((out / f).exists() for f in ("test_x.npy", "test_y.npy", "test_outputs.npy"))
    # a failed rewrite leaves the old bundle as it was
    before = sorted(p.name for p in out.iterdir())
    bad = dict(parts, y=parts["y"][:-1])
    with pytest.raises(ValueError):
        write(out, bad)
    assert sorted(p.name for p in out.iterdir()) == before
    assert sgdstab.sobolev(out, orders=1).ok
