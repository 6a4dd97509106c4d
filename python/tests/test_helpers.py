"""`sgdstab.jax.per_sample_gradients` and `sgdstab.torch.per_sample_gradients` against
hand-written loops of single-sample gradients."""

from __future__ import annotations

import numpy as np
import pytest

import sgdstab
from conftest import assert_close, numbers_only


def test_jax_helper_equals_a_loop_of_jax_grad(rng):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    from sgdstab.jax import per_sample_gradients

    n, d, h = 10, 3, 5
    params = {
        "dense1": {"w": jnp.asarray(rng.standard_normal((d, h)) / 2), "b": jnp.asarray(rng.standard_normal(h) / 4)},
        "dense2": {"w": jnp.asarray(rng.standard_normal((h, 1)) / 2), "b": jnp.zeros(1)},
    }

    def f(p, x):  # the network's scalar output for one sample
        z = jnp.tanh(x @ p["dense1"]["w"] + p["dense1"]["b"])
        return (z @ p["dense2"]["w"] + p["dense2"]["b"])[0]

    X = rng.standard_normal((n, d)).astype(np.float32)
    grads = per_sample_gradients(f, params, X, chunk_size=3)  # chunks of 3, 3, 3, 1
    one = jax.jit(jax.grad(f))  # one sample at a time (compiled once)
    loop = [one(params, jnp.asarray(X[i])) for i in range(n)]
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *loop)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(stacked)
    for leaf, ref in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(stacked)):
        assert isinstance(leaf, np.ndarray) and leaf.shape == ref.shape
        np.testing.assert_allclose(leaf, ref, rtol=1e-5, atol=1e-6)
    assert grads["dense1"]["w"].shape == (n, d, h)
    whole = per_sample_gradients(f, params, X, chunk_size=None)
    for a, b in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(whole)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the pytree goes straight into analyze, flattened in jax.tree_util order
    flat = np.concatenate([np.asarray(x).reshape(n, -1) for x in jax.tree_util.tree_leaves(grads)], axis=1)
    r = sgdstab.analyze(grads, lr=0.1, batch=2)
    assert_close(numbers_only(r.to_dict()), numbers_only(sgdstab.analyze(flat, lr=0.1, batch=2).to_dict()))
    assert [p.name for p in r.layout] == ["dense1.b", "dense1.w", "dense2.b", "dense2.w"]
    assert [c.name for c in r.column_layout] == [p.name for p in r.layout]


def test_jax_helper_with_inputs_and_targets_and_bfloat16(rng):
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp
    from sgdstab.jax import per_sample_gradients

    params = [jnp.asarray(rng.standard_normal(4)), jnp.asarray(0.5)]

    def loss(p, sample):
        x, y = sample
        return (jnp.dot(x, p[0]) + p[1] - y) ** 2 / 2

    X, Y = rng.standard_normal((7, 4)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    g = per_sample_gradients(loss, params, (X, Y), chunk_size=4)
    res = X @ np.asarray(params[0]) + float(params[1]) - Y
    np.testing.assert_allclose(g[0], res[:, None] * X, rtol=1e-5)  # ∇_w = (x·w + b − y) x
    np.testing.assert_allclose(g[1], res, rtol=1e-5)
    bf = [p.astype(jnp.bfloat16) for p in params]
    gb = per_sample_gradients(loss, bf, (X.astype(jnp.bfloat16), Y.astype(jnp.bfloat16)))
    assert gb[0].dtype == np.float32  # widened
    sgdstab.analyze(gb, lr=0.1, batch=2)
    with pytest.raises(ValueError, match="X: every array needs the same leading sample axis"):
        per_sample_gradients(loss, params, (X, Y[:3]))


def test_torch_helper_equals_a_loop_of_autograd(rng):
    torch = pytest.importorskip("torch")
    from sgdstab.torch import per_sample_gradients

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Dropout(0.5), torch.nn.Linear(5, 1))
    model.train()
    X = torch.tensor(rng.standard_normal((9, 3)), dtype=torch.float32)
    grads = per_sample_gradients(model, X, chunk_size=4)
    assert model.training  # mode restored
    assert list(grads) == [k for k, _ in model.named_parameters()]
    model.eval()
    for i in range(9):
        model.zero_grad()
        model(X[i : i + 1]).sum().backward()
        for k, p in model.named_parameters():
            np.testing.assert_allclose(grads[k][i], p.grad.numpy(), rtol=1e-5, atol=1e-6)
    r = sgdstab.analyze(grads, lr=0.1, batch=3)
    cat = np.concatenate([v.reshape(9, -1) for v in grads.values()], axis=1)
    assert_close(numbers_only(r.to_dict()), numbers_only(sgdstab.analyze(cat, lr=0.1, batch=3).to_dict()))
    # a bfloat16 model is differentiated in float32
    gb = per_sample_gradients(model.to(torch.bfloat16), X)
    assert all(v.dtype == np.float32 for v in gb.values())
    # a loss per sample
    y = torch.tensor(rng.standard_normal((9, 1)), dtype=torch.float32)
    gl = per_sample_gradients(model.float(), X, y, torch.nn.functional.mse_loss)
    assert gl["0.weight"].shape == (9, 5, 3)
