"""Network bundles from JAX models (an MLP and a CNN trained on the digits): the CLI's
``sobolev DIR --json`` and ``sgdstab.sobolev`` agree byte for byte, and with g_W, g_x, ‖W_1‖_2,
the convolution's operator norm and the per-point Prop. 2 quantities recomputed here."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgdstab
from conftest import FIXTURES, run_cli

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def digits(n: int):
    images = np.load(FIXTURES / "digits" / "digits_images.npy").astype(np.float64) / 16.0
    labels = np.load(FIXTURES / "digits" / "digits_labels.npy")
    return images[:n], np.where(labels[:n] % 2 == 0, 1.0, -1.0)


def sgd(f, params, X, y, lr, batch, steps, seed=0):
    """Plain SGD on (1/2B) Σ (f − y)² with uniform B-subsets, jitted, in one scan."""
    n = len(X)
    batched = jax.vmap(f, in_axes=(None, 0))

    def loss(p, xb, yb):
        r = batched(p, xb) - yb
        return 0.5 * jnp.mean(r * r)

    @jax.jit
    def run(p, key):
        def step(p, k):
            idx = jax.random.choice(k, n, (batch,), replace=False)
            g = jax.grad(loss)(p, X[idx], y[idx])
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), None

        return jax.lax.scan(step, p, jax.random.split(key, steps))[0]

    return run(params, jax.random.PRNGKey(seed))


def mlp(x_dim=64, h=16, seed=0):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    params = [
        {"w": jax.random.normal(k1, (x_dim, h)) * jnp.sqrt(2.0 / x_dim), "b": jnp.zeros(h)},
        {"w": jax.random.normal(k2, (h,)) / jnp.sqrt(h), "b": jnp.zeros(())},
    ]

    def f(p, x):
        return jnp.maximum(x @ p[0]["w"] + p[0]["b"], 0.0) @ p[1]["w"] + p[1]["b"]

    return f, params


def cnn(padding: str, channels=4, seed=1):
    """conv 3×3 (HWIO kernel, HWC input 8×8×1) → ReLU → dense. ``padding``: "SAME" (zeros) or
    "CIRCULAR" (wrap-around, by padding the input periodically and a VALID convolution)."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    params = {
        "conv": jax.random.normal(k1, (3, 3, 1, channels)) / 3.0,
        "out": jax.random.normal(k2, (8 * 8 * channels,)) / 16.0,
    }

    def first(k, x):
        img = x.reshape(1, 8, 8, 1)
        if padding == "CIRCULAR":
            img = jnp.pad(img, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
            pad = "VALID"
        else:
            pad = "SAME"
        return jax.lax.conv_general_dilated(img, k, (1, 1), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def f(p, x):
        return jnp.maximum(first(p["conv"], x), 0.0).reshape(-1) @ p["out"]

    return f, params, first


@pytest.fixture(scope="module")
def data():
    X, y = digits(40)
    return jnp.asarray(X), jnp.asarray(y)


def norm_p(v, p):
    return np.sum(np.abs(v) ** p) ** (1.0 / p)


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def test_jax_mlp_bundle_matches_the_cli_and_numpy(cli, tmp_path, data):
    X, y = data
    f, p0 = mlp()
    params = sgd(f, p0, X, y, lr=0.05, batch=10, steps=400)
    out = tmp_path / "mlp"
    sgdstab.jax.export_network(f, params, X, y, first_layer="0.w", out=out, lr=0.05, batch=10)
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["bundle_version"] == 1
    assert manifest["first_layer"] == {"kind": "dense", "name": "0.w", "orientation": "in-out"}
    text = run_cli(cli, "sobolev", out, "--order", "1,2", "--json", "-q", cwd=tmp_path)
    rep = sgdstab.sobolev(out, orders=(1, 2))
    assert rep.to_json() == text
    assert rep.to_dict() == json.loads(text)
    assert rep.first_layer.kind == "dense" and rep.first_layer.section4 == "applicable"

    # independent recomputation: per-sample gradients one sample at a time (no vmap)
    Xn = np.asarray(X)
    n, d = Xn.shape
    gfun = jax.jit(jax.grad(f))
    xfun = jax.jit(jax.grad(f, argnums=1))
    A = np.stack([np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(gfun(params, X[i]))]) for i in range(n)])
    G = np.stack([np.asarray(xfun(params, X[i])) for i in range(n)])
    W1 = np.asarray(params[0]["w"]).T  # m × d
    assert rel(rep.g_w, np.sqrt(np.mean(np.sum(A * A, axis=1)))) < 1e-10
    assert rel(rep.g_x, np.sqrt(np.mean(np.sum(G * G, axis=1)))) < 1e-10
    sigma = np.linalg.norm(W1, 2)
    assert rel(rep.w1_spectral_norm, sigma) < 1e-10
    o = rep.orders[0]  # k = 1, p = 2: ‖W_1ᵀ‖_2 = σ exactly
    for pt in o.prop2["points"]:
        i = pt["i"]
        assert rel(pt["x_norm"], np.linalg.norm(Xn[i])) < 1e-10
        assert rel(pt["param_grad_norm"], np.linalg.norm(A[i])) < 1e-10
        assert rel(pt["check"]["lhs"], np.sum(G[i] ** 2)) < 1e-10
        want = sigma**2 * np.sum(A[i] ** 2) / np.sum(Xn[i] ** 2)
        assert rel(pt["check"]["rhs_upper"], want) < 1e-10
        assert pt["check"]["outcome"] == "holds"
    # k = 2, p = 4: the per-point norms and the seminorm
    o = rep.orders[1]
    assert rel(o.seminorm, np.mean(np.sum(G**4, axis=1)) ** 0.25) < 1e-10
    assert rel(o.param_moment, np.mean(np.sum(A**4, axis=1)) ** 0.25) < 1e-10
    for pt in o.prop2["points"][:10]:
        i = pt["i"]
        assert rel(pt["param_grad_norm"], norm_p(A[i], 4)) < 1e-10
        assert rel(pt["check"]["lhs"], np.sum(G[i] ** 4)) < 1e-10
    assert rep.ok


@pytest.mark.parametrize("padding", ["SAME", "CIRCULAR"])
def test_jax_cnn_bundle_reports_the_operator_norm(cli, tmp_path, data, padding):
    X, y = data
    f, p0, first = cnn(padding)
    params = sgd(f, p0, X, y, lr=0.02, batch=10, steps=200)
    out = tmp_path / "cnn"
    Xi = np.asarray(X).reshape(-1, 8, 8, 1)  # HWC inputs
    pad = {"SAME": "same", "CIRCULAR": "circular"}[padding]
    sgdstab.jax.export_network(
        lambda p, x: f(p, x.reshape(-1)),
        params,
        Xi,
        y,
        first_layer="conv",
        conv={"padding": pad},
        out=out,
        lr=0.02,
        batch=10,
    )
    text = run_cli(cli, "sobolev", out, "--order", "1", "--json", "-q", cwd=tmp_path)
    rep = sgdstab.sobolev(out, orders=1)
    assert rep.to_json() == text
    fl = rep.first_layer
    assert fl.kind == "conv2d" and fl.section4 == "not-applicable" and "convolution" in fl.reason
    assert rep.orders[0].prop2 is None and rep.w1_spectral_norm is None
    # the convolution as a dense matrix (its Jacobian in x), and its largest singular value
    C = np.asarray(jax.jacobian(lambda x: first(params["conv"], x).reshape(-1))(jnp.zeros(64)))
    sigma = np.linalg.norm(C, 2)
    b = fl.operator_norm
    assert b["lower"] <= sigma * (1 + 1e-12) and sigma <= b["upper"] * (1 + 1e-12)
    if padding == "CIRCULAR":
        assert b["lower_method"] == "periodic-dft"
        assert rel(b["upper"], sigma) < 1e-10
    else:
        assert (b["lower_method"], b["upper_method"]) == ("power-iteration", "periodic-embedding")
        assert rel(b["lower"], sigma) < 1e-6
    # g_W and g_x against gradients one sample at a time
    n = len(Xi)
    gfun = jax.jit(jax.grad(lambda p, x: f(p, x.reshape(-1))))
    xfun = jax.jit(jax.grad(lambda p, x: f(p, x.reshape(-1)), argnums=1))
    A = np.stack([np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(gfun(params, Xi[i]))]) for i in range(n)])
    G = np.stack([np.ravel(xfun(params, Xi[i])) for i in range(n)])
    assert rel(rep.g_w, np.sqrt(np.mean(np.sum(A * A, axis=1)))) < 1e-10
    assert rel(rep.g_x, np.sqrt(np.mean(np.sum(G * G, axis=1)))) < 1e-10


def test_sobolev_takes_the_arrays_of_a_bundle(tmp_path, rng):
    # a linear model f(x) = v · (W x): a dense first layer, by hand
    n, d, m = 12, 3, 4
    W = rng.standard_normal((m, d))
    v = rng.standard_normal(m)
    X = rng.standard_normal((n, d))
    grads = {"W": np.einsum("a,ib->iab", v, X), "v": X @ W.T}
    xg = np.tile(W.T @ v, (n, 1))
    arrays = dict(grads=grads, input_grads=xg, X=X, y=X @ W.T @ v, first_layer="W", w1=W, lr=0.1, batch=3)
    rep = sgdstab.sobolev(arrays, orders=1)
    sgdstab.write_bundle(tmp_path / "b", grads, xg, X, X @ W.T @ v, first_layer="W", w1=W, lr=0.1, batch=3)
    rep2 = sgdstab.sobolev(tmp_path / "b", orders=1, source="(arrays)")
    assert rep.to_json() == rep2.to_json()
    assert rep.first_layer.to_dict()["shape"] == [m, d]
    assert rel(rep.w1_spectral_norm, np.linalg.norm(W, 2)) < 1e-12


def test_generalization_on_a_jax_bundle(cli, tmp_path):
    X, y = digits(40)
    images = np.load(FIXTURES / "digits" / "digits_images.npy").astype(np.float64) / 16.0
    labels = np.load(FIXTURES / "digits" / "digits_labels.npy")
    Xt, yt = images[1000:1200], np.where(labels[1000:1200] % 2 == 0, 1.0, -1.0)
    f, p0 = mlp(h=8)
    params = sgd(f, p0, jnp.asarray(X), jnp.asarray(y), lr=0.05, batch=8, steps=300)
    out = tmp_path / "g"
    sgdstab.jax.export_network(f, params, X, y, first_layer="0.w", out=out, lr=0.05, batch=8, X_test=Xt, y_test=yt)
    text = run_cli(cli, "generalization", out, "--order", "1", "--grid", "6", "--json", "-q", cwd=tmp_path)
    rep = sgdstab.generalization(out, orders=1, grid=6)
    assert rep.to_json() == text
    side = rep.model_side
    assert side["kind"] == "recorded" and len(side["not_computed"]) == 2
    assert rep.sensitivity == [] and rep.orders[0]["rows"][0]["eq27"]["measured"] is None
    ft = np.asarray(jax.vmap(f, in_axes=(None, 0))(params, jnp.asarray(Xt)))
    assert rel(rep.measured["test_mse"], np.mean((ft - yt) ** 2)) < 1e-12
    # with the model callable: the sensitivity at x_i ± δ ∇_x f/‖∇_x f‖ and random points
    model = jax.jit(jax.vmap(lambda x: f(params, x)))
    rep2 = sgdstab.generalization(out, orders=1, grid=6, samples=3, model=lambda Xb: np.asarray(model(jnp.asarray(Xb))))
    assert rep2.model_side["not_computed"] == side["not_computed"][:1]
    assert len(rep2.sensitivity) == 6 and all(s["found_by"] == "recorded" for s in rep2.sensitivity)
    top = rep2.sensitivity[-1]
    delta = top["delta"]
    G = np.load(out / "xgrads.npy")
    U = G / np.linalg.norm(G, axis=1, keepdims=True)
    f0 = np.asarray(model(jnp.asarray(X)))
    grad_pts = max(np.max(np.abs(np.asarray(model(jnp.asarray(X + s * delta * U))) - f0)) for s in (1.0, -1.0))
    assert top["measured"] >= grad_pts * (1 - 1e-12)
    measured = [s["measured"] for s in rep2.sensitivity]
    assert measured == sorted(measured)  # cumulative over the radii
    assert rep2.orders[0]["rows"][-1]["eq27"]["measured"] == top["measured"]
    assert not (out / "perturbed_x.npy").exists()  # the bundle itself is unchanged


def test_generalization_needs_a_dense_first_layer_and_a_test_set(tmp_path, data):
    X, y = data
    f, params, _ = cnn("SAME")
    Xi = np.asarray(X).reshape(-1, 8, 8, 1)
    sgdstab.jax.export_network(lambda p, x: f(p, x.reshape(-1)), params, Xi, y, first_layer="conv", conv={"padding": "same"}, out=tmp_path / "c", lr=0.1, batch=5)
    with pytest.raises(ValueError, match=r"bundle\.json: first_layer\.kind = conv2d: Theorems 6 and 7 need a dense"):
        sgdstab.generalization(tmp_path / "c")
    f, params = mlp()
    sgdstab.jax.export_network(f, params, X, y, first_layer="0.w", out=tmp_path / "m", lr=0.1, batch=5)
    with pytest.raises(ValueError, match=r"test_x\.npy: missing: generalization needs a held-out test set"):
        sgdstab.generalization(tmp_path / "m", stability=False)
