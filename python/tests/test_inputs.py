"""The forms `grads` may take: arrays of any layout, mappings, pytrees, array-likes."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import sgdstab
from sgdstab._input import flatten_pytree, normalize
from conftest import assert_close, numbers_only


def same(a, b):
    """Two reports equal in every number to rounding (`input` and `column_layout` aside): the
    same values given in another layout or dtype."""
    assert_close(numbers_only(a.to_dict()), numbers_only(b.to_dict()))


def test_numpy_float64_and_float32_are_passed_without_a_copy(small):
    for a in (small, small.astype(np.float32), np.asfortranarray(small), small[::2, 1::2], small[::-1]):
        g = normalize(a)
        assert g.kind == "matrix"
        assert g.blocks[0][1] is a


def test_fortran_order_and_strided_views_give_the_same_report(small):
    ref = sgdstab.analyze(np.ascontiguousarray(small), lr=0.05, batch=3)
    same(sgdstab.analyze(np.asfortranarray(small), lr=0.05, batch=3), ref)
    same(sgdstab.analyze(small[::-1][::-1], lr=0.05, batch=3), ref)
    big = np.zeros((60, 18))
    big[::2, 1::3] = small
    view = big[::2, 1::3]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    same(sgdstab.analyze(view, lr=0.05, batch=3), ref)
    rev = np.ascontiguousarray(small[::-1, ::-1])[::-1, ::-1]  # negative strides
    same(sgdstab.analyze(rev, lr=0.05, batch=3), ref)


def test_layouts_read_in_place_or_copied_once_give_the_same_report(rng):
    # each parameter's trailing axes flatten in C order whatever the memory layout: in place when
    # they flatten to one stride, else (Fortran order on 3 axes, moved axes) copied once
    n = 14
    w3 = rng.standard_normal((n, 3, 2))
    b = rng.standard_normal((n, 4)).astype(np.float32)
    cat = np.concatenate([w3.reshape(n, -1), b.astype(np.float64)], axis=1)
    ref = sgdstab.analyze(cat, lr=0.05, batch=3)
    big = np.zeros((2 * n, 3, 4))
    big[::2, :, ::2] = w3
    strided = big[::2, :, ::2]  # strides (24, 4, 2) elements: flattens to column stride 2
    assert not strided.flags.c_contiguous
    variants = [
        {"w": w3, "b": b},
        {"w": np.asfortranarray(w3), "b": np.asfortranarray(b)},  # F order: copied / in place
        {"w": np.moveaxis(np.ascontiguousarray(np.moveaxis(w3, 1, 2)), 2, 1), "b": b[::-1][::-1]},
        {"w": strided, "b": np.repeat(b, 2, axis=0)[::2]},
        {"w": w3[::-1][::-1], "b": b[:, ::-1].copy()[:, ::-1]},  # a negative stride: copied
    ]
    for d in variants:
        same(sgdstab.analyze(d, lr=0.05, batch=3), ref)
    # broadcast rows (stride 0): n identical samples
    row = rng.standard_normal(5)
    bc = np.broadcast_to(row, (8, 5))
    assert bc.strides[0] == 0
    same(sgdstab.analyze(bc, lr=0.05, batch=2), sgdstab.analyze(np.tile(row, (8, 1)), lr=0.05, batch=2))


def test_float32_is_read_as_its_exact_float64_values(small):
    s32 = small.astype(np.float32)
    same(sgdstab.analyze(s32, lr=0.05, batch=3), sgdstab.analyze(s32.astype(np.float64), lr=0.05, batch=3))


def test_float16_and_integers_are_converted(small):
    h = small.astype(np.float16)
    same(sgdstab.analyze(h, lr=0.05, batch=3), sgdstab.analyze(h.astype(np.float64), lr=0.05, batch=3))
    i = np.arange(24).reshape(8, 3) % 5 - 2
    same(sgdstab.analyze(i, lr=0.01, batch=2), sgdstab.analyze(i.astype(np.float64), lr=0.01, batch=2))
    be = small.astype(">f8")  # big-endian: converted to native
    same(sgdstab.analyze(be, lr=0.05, batch=3), sgdstab.analyze(small, lr=0.05, batch=3))


def test_a_dict_equals_the_concatenated_array(rng):
    n = 16
    d = {
        "layer.weight": rng.standard_normal((n, 3, 2)),
        "layer.bias": rng.standard_normal((n, 3)).astype(np.float32),
        "scale": rng.standard_normal(n),
    }
    cat = np.concatenate([d["layer.weight"].reshape(n, -1), d["layer.bias"].astype(np.float64), d["scale"][:, None]], axis=1)
    r = sgdstab.analyze(d, lr=0.05, batch=4)
    same(r, sgdstab.analyze(cat, lr=0.05, batch=4))
    # insertion order, not sorted: the layout names each parameter's columns
    assert [(p.name, p.shape, p.columns) for p in r.layout] == [
        ("layer.weight", (n, 3, 2), range(0, 6)),
        ("layer.bias", (n, 3), range(6, 9)),
        ("scale", (n,), range(9, 10)),
    ]
    # another insertion order is another column order (the same operator up to a permutation
    # of coordinates, but Theorem 2's argmax coordinate moves)
    t = sgdstab.thresholds(d, batch=4)
    t_cat = sgdstab.thresholds(cat, batch=4)
    same(t, t_cat)


def test_a_nested_pytree_equals_its_flattening(rng):
    n = 12
    Point = collections.namedtuple("Point", ["y", "x"])
    tree = {
        "params": {
            "dense2": {"kernel": rng.standard_normal((n, 4, 1)), "bias": rng.standard_normal((n, 1))},
            "dense1": {"kernel": rng.standard_normal((n, 2, 4)), "bias": rng.standard_normal((n, 4))},
        },
        "extra": [rng.standard_normal((n, 2)), None, (rng.standard_normal(n),)],
        "nt": Point(y=rng.standard_normal((n, 1)), x=rng.standard_normal((n, 1))),
        "od": collections.OrderedDict([("z", rng.standard_normal((n, 1))), ("a", rng.standard_normal((n, 1)))]),
    }
    leaves = flatten_pytree(tree)
    assert [name for name, _ in leaves] == [
        "extra.0",
        "extra.2.0",
        "nt.y",
        "nt.x",
        "od.z",
        "od.a",
        "params.dense1.bias",
        "params.dense1.kernel",
        "params.dense2.bias",
        "params.dense2.kernel",
    ]
    cat = np.concatenate([np.asarray(v).reshape(n, -1) for _, v in leaves], axis=1)
    r = sgdstab.analyze(tree, lr=0.02, batch=3, orders=(1, 2))
    same(r, sgdstab.analyze(cat, lr=0.02, batch=3, orders=(1, 2)))
    assert [p.name for p in r.layout] == [name for name, _ in leaves]
    assert r.layout[-1].columns == range(cat.shape[1] - 4, cat.shape[1])


def test_a_top_level_list_or_tuple_is_a_pytree(rng):
    a, b = rng.standard_normal((10, 2)), rng.standard_normal((10, 3))
    cat = np.concatenate([a, b], axis=1)
    ref = sgdstab.analyze(cat, lr=0.05, batch=2)
    same(sgdstab.analyze([a, b], lr=0.05, batch=2), ref)
    same(sgdstab.analyze((a, {"b": b}), lr=0.05, batch=2), ref)


class ArrayOnly:
    """Exposes only `__array__`."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class DlpackOnly:
    """Exposes only the DLPack protocol."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_array_likes_through_array_and_dlpack(small):
    ref = sgdstab.analyze(small, lr=0.05, batch=3)
    same(sgdstab.analyze(ArrayOnly(small), lr=0.05, batch=3), ref)
    same(sgdstab.analyze(DlpackOnly(small), lr=0.05, batch=3), ref)
    # DLPack reads the producer's memory: no copy
    g = normalize(DlpackOnly(small))
    assert np.shares_memory(g.blocks[0][1], small)
    same(sgdstab.analyze({"a": DlpackOnly(small[:, :2]), "b": ArrayOnly(small[:, 2:])}, lr=0.05, batch=3), ref)


def test_jax_arrays_and_the_jax_tree_util_order(rng):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    n = 9
    tree = {
        "b": [jnp.asarray(rng.standard_normal((n, 2))), None, {"y": jnp.ones((n,)), "x": jnp.zeros((n, 1, 2))}],
        "a": (jnp.asarray(rng.standard_normal((n, 3))),),
        10: jnp.asarray(rng.standard_normal((n, 1))),
    }
    tree = {str(k): v for k, v in tree.items()}
    ours = flatten_pytree(tree)
    path_leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    theirs = [(jax.tree_util.keystr(p, simple=True, separator="."), leaf) for p, leaf in path_leaves]
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert all(a is b for (_, a), (_, b) in zip(ours, theirs))
    # a jax array as a plain matrix
    A = rng.standard_normal((15, 4)).astype(np.float32)
    same(sgdstab.analyze(jnp.asarray(A), lr=0.05, batch=3), sgdstab.analyze(A, lr=0.05, batch=3))
    # bfloat16 leaves widen to float32
    bf = jnp.asarray(A).astype(jnp.bfloat16)
    same(sgdstab.analyze({"w": bf}, lr=0.05, batch=3), sgdstab.analyze(np.asarray(bf.astype(jnp.float32)), lr=0.05, batch=3))


def test_torch_tensors_and_dicts(rng):
    torch = pytest.importorskip("torch")
    A = rng.standard_normal((15, 4))
    t = torch.tensor(A, requires_grad=True)  # needs detach(): handled
    same(sgdstab.analyze(t, lr=0.05, batch=3), sgdstab.analyze(A, lr=0.05, batch=3))
    d = {"w": torch.tensor(A[:, :3]), "b": torch.tensor(A[:, 3]).to(torch.bfloat16)}
    ref = np.concatenate([A[:, :3], torch.tensor(A[:, 3]).to(torch.bfloat16).float().numpy()[:, None]], axis=1)
    same(sgdstab.analyze(d, lr=0.05, batch=3), sgdstab.analyze(ref, lr=0.05, batch=3))
