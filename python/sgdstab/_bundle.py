"""Writing a network bundle from arrays: :func:`write_bundle`, shared by the JAX and PyTorch
helpers.

A bundle is the folder ``sgdstab sobolev``, ``generalization``, ``simulate`` and ``analyze`` read
(format: ``docs/bundle.md`` of the repository). The arrays are checked by the library exactly as
its reader checks a folder — shapes against ``n`` and ``d``, every value finite, the first
layer's name against the gradients' parameters and its shape against ``d`` — before anything is
written; a failed check raises :class:`ValueError` naming the file and the field, and nothing is
written.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._input import normalize

PathLike = Union[str, "os.PathLike[str]"]

#: ``format`` of ``bundle.json``.
BUNDLE_FORMAT = "sgdstab-network-bundle"
#: The bundle version written.
BUNDLE_VERSION = 1

_SAMPLING = {
    "without": "without-replacement",
    "without-replacement": "without-replacement",
    "with": "with-replacement",
    "with-replacement": "with-replacement",
}

_PADDINGS = ("circular", "same", "valid")


def _f64(name: str, a: Any) -> np.ndarray:
    try:
        arr = np.asarray(a)
    except Exception as e:  # pragma: no cover - depends on the object
        raise TypeError(f"{name}: not an array ({type(a).__name__}): {e}") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: dtype {arr.dtype} is not a real number type")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _outer_residual(g: np.ndarray, x: np.ndarray, orientation: str) -> float:
    """Relative distance of a per-sample gradient of ``W_1`` from ``δ xᵀ`` (out-in) or ``x δᵀ``
    (in-out): 0 for a dense layer applied to ``x``."""
    nx = float(x @ x)
    ng = float(np.sqrt(np.sum(g * g)))
    if nx == 0.0 or ng == 0.0:
        return 0.0
    if orientation == "out-in":
        fit = np.outer(g @ x, x) / nx
    else:
        fit = np.outer(x, x @ g) / nx
    return float(np.sqrt(np.sum((g - fit) ** 2)) / ng)


def _dense_orientation(name: str, gblock: np.ndarray, X: np.ndarray, d: int, given: Optional[str]) -> str:
    """The orientation of a dense first layer, checked on the gradients: ``∇_{W_1} f`` of every
    sample must be an outer product with ``x`` (a dense layer applied to the input)."""
    shape = gblock.shape[1:]
    if len(shape) != 2:
        raise ValueError(
            f"first_layer = {name!r}: a dense first layer is a matrix, this parameter has shape {tuple(shape)}"
        )
    candidates = [o for o, axis in (("out-in", 1), ("in-out", 0)) if shape[axis] == d]
    if given is not None:
        if given not in ("out-in", "in-out"):
            raise ValueError(f"orientation = {given!r}: expected 'out-in' or 'in-out'")
        candidates = [given] if given in candidates else []
    if not candidates:
        raise ValueError(
            f"first_layer = {name!r}: its shape {tuple(shape)} has no axis of length d = {d} (the input size)"
        )
    tol = 1e-4 if gblock.dtype == np.float32 else 1e-8
    rows = range(min(len(X), 16))
    best = None
    for o in candidates:
        worst = max((_outer_residual(np.asarray(gblock[i], np.float64), X[i], o) for i in rows), default=0.0)
        if best is None or worst < best[1]:
            best = (o, worst)
    assert best is not None
    if best[1] > tol:
        raise ValueError(
            f"first_layer = {name!r}: its per-sample gradient is not (∂f/∂z)·xᵀ (relative residual {best[1]:.3e}): "
            "not a dense layer applied to the input x — name the first layer, or pass first_layer=None"
        )
    return best[0]


def _first_layer_spec(
    first_layer: Optional[str],
    blocks: Sequence[Tuple[str, np.ndarray]],
    X: np.ndarray,
    w1: Optional[np.ndarray],
    *,
    orientation: Optional[str],
    conv: Optional[Mapping[str, str]],
    default_conv_layouts: Tuple[str, str],
    reason: Optional[str],
) -> Tuple[Dict[str, Any], Optional[np.ndarray]]:
    d = int(np.prod(X.shape[1:]))
    if first_layer is None:
        return {"kind": "other", "reason": reason or "no first layer named"}, None
    found = [a for n, a in blocks if n == first_layer]
    if not found:
        names = ", ".join(n for n, _ in blocks[:20])
        raise ValueError(
            f"first_layer = {first_layer!r} is not a parameter of the gradients (parameters: {names})"
        )
    g = found[0]
    if w1 is None:
        raise ValueError(f"first_layer = {first_layer!r}: its value W_1 is needed")
    if g.ndim - 1 == 4:
        c = dict(conv or {})
        padding = c.pop("padding", None)
        if padding not in _PADDINGS:
            raise ValueError(
                f"conv = {conv!r}: a conv2d first layer needs padding in {_PADDINGS} (stride 1, no dilation)"
            )
        kernel_layout = c.pop("kernel_layout", default_conv_layouts[0])
        input_layout = c.pop("input_layout", default_conv_layouts[1])
        if c:
            raise ValueError(f"conv: unknown keys {sorted(c)} (padding, kernel_layout, input_layout)")
        return (
            {
                "kind": "conv2d",
                "name": first_layer,
                "kernel_layout": kernel_layout,
                "input_layout": input_layout,
                "padding": padding,
            },
            w1,
        )
    X2 = X.reshape(len(X), -1)
    o = _dense_orientation(first_layer, g, X2, d, orientation)
    return {"kind": "dense", "name": first_layer, "orientation": o}, w1


def _check_first_layer_identity(
    name: str, g: np.ndarray, w1: np.ndarray, X: np.ndarray, xgrads: np.ndarray
) -> None:
    """``⟨W_1, ∇_{W_1} f(x_i)⟩ = ⟨x_i, ∇_x f(x_i)⟩`` for every sample when ``f`` depends on ``x``
    only through ``z = L(W_1, x)`` with ``L`` bilinear (a dense or convolutional first layer,
    with or without bias): both are ``⟨∂f/∂z, L(W_1, x)⟩``."""
    n = len(X)
    lhs = g.reshape(n, -1).astype(np.float64) @ w1.reshape(-1).astype(np.float64)
    rhs = np.einsum("ij,ij->i", X.reshape(n, -1), xgrads.reshape(n, -1))
    tol = 1e-4 if g.dtype == np.float32 else 1e-8
    mag = np.abs(lhs) + np.abs(rhs)
    bad = np.abs(lhs - rhs) > tol * np.maximum(mag, np.max(mag) * 1e-6 + 1e-300)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"first_layer = {name!r}: ⟨W_1, ∇_W1 f(x_{i})⟩ = {lhs[i]:.6e} but ⟨x_{i}, ∇_x f(x_{i})⟩ = {rhs[i]:.6e}: "
            "f does not reach x through this layer alone (wrong name, or an input transformation before it)"
        )


def write_bundle(
    out: PathLike,
    grads: Any,
    input_grads: Any,
    X: Any,
    y: Any,
    *,
    first_layer: Optional[str] = None,
    w1: Any = None,
    orientation: Optional[str] = None,
    conv: Optional[Mapping[str, str]] = None,
    lr: Optional[float] = None,
    batch: Optional[int] = None,
    sampling: str = "without",
    outputs: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    test_outputs: Any = None,
    perturbed: Optional[Tuple[Any, Any, Any]] = None,
    producer: str = "sgdstab.write_bundle",
    first_layer_reason: Optional[str] = None,
    _conv_layouts: Tuple[str, str] = ("OIHW", "CHW"),
) -> str:
    """Writes a network bundle (the folder ``sgdstab sobolev DIR`` and friends read).

    Parameters
    ----------
    out : str or path
        The folder (created if missing; files of an older bundle there are replaced).
    grads : array_like, mapping or pytree
        Per-sample parameter gradients ``∇_W f(x_i, W*)``, as :func:`sgdstab.analyze` takes them;
        names of a mapping / pytree (``"0.w"``) are the names ``first_layer`` refers to.
    input_grads : array_like
        Per-sample input gradients ``∇_x f(x_i, W*)``, shape ``(n, *input_shape)`` or ``(n, d)``.
    X : array_like
        Training inputs, shape ``(n, *input_shape)``.
    y : array_like
        Training targets, shape ``(n,)``.
    first_layer : str, optional
        The first layer's parameter name: a matrix (dense, ``z = W_1 x``) or a 4-D kernel
        (conv2d, ``z = W_1 ∗ x``). ``None``: no linear first layer (Prop. 2 and its kin are then
        reported as not applicable).
    w1 : array_like
        The first layer's value (as stored: the gradient block's shape), with ``first_layer``.
    orientation : {"out-in", "in-out"}, optional
        A dense layer's storage (``m × d``, ``z = W x``; or ``d × m``, ``z = x @ W``). Default:
        found from the shapes and checked on the gradients (each ``∇_{W_1} f`` is an outer
        product with ``x_i``).
    conv : dict, optional
        For a conv2d first layer (stride 1, no dilation, no groups): ``padding`` (``"circular"``,
        ``"same"``, ``"valid"``), ``kernel_layout`` (``"OIHW"``/``"HWIO"``), ``input_layout``
        (``"CHW"``/``"HWC"``).
    lr, batch, sampling : optional
        The training learning rate ``η`` (of the loss ``(1/2n) Σ (f − y)²``), batch size ``B``
        and batch sampling (``"without"`` or ``"with"`` replacement).
    outputs : array_like, optional
        ``f(x_i, W*)``, shape ``(n,)``.
    X_test, y_test, test_outputs : array_like, optional
        A held-out test set and the model's outputs on it.
    perturbed : (X_p, index, outputs), optional
        The model's outputs ``outputs[j] = f(X_p[j])`` at inputs near training point
        ``index[j]`` (Theorem 7's sensitivity).
    producer : str
        What wrote the bundle (free text).

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ValueError
        A check failed (the message names the file and the field); nothing was written.
    """
    out_s = os.fspath(out)
    Xa = _f64("X", X)
    if Xa.ndim < 2:
        raise ValueError(f"X: shape {Xa.shape}; expected (n, *input_shape)")
    n = Xa.shape[0]
    input_shape = [int(s) for s in Xa.shape[1:]]
    norm = normalize(grads)
    blocks: List[Tuple[str, np.ndarray]] = [(name, np.asarray(a)) for name, a in norm.blocks]
    if norm.kind == "matrix":
        blocks = [("", blocks[0][1])]
    for name, a in blocks:
        if a.ndim < 1 or a.shape[0] != n:
            raise ValueError(
                f"grads: array {name!r} of shape {a.shape} has no leading sample axis of length n = {n} (from X)"
            )
    xg = _f64("input_grads", input_grads)
    w1a = None if w1 is None else _f64("w1", w1)
    spec, w1a = _first_layer_spec(
        first_layer,
        blocks,
        Xa,
        w1a,
        orientation=orientation,
        conv=conv,
        default_conv_layouts=_conv_layouts,
        reason=first_layer_reason,
    )
    if first_layer is not None and w1a is not None:
        g = dict(blocks)[first_layer]
        if g.shape[1:] != w1a.shape:
            raise ValueError(
                f"w1: shape {w1a.shape}, but the gradient of {first_layer!r} has shape {g.shape[1:]}"
            )
        if xg.size == Xa.size:
            _check_first_layer_identity(first_layer, np.asarray(g), w1a, Xa, xg)
    mat = np.ascontiguousarray(
        np.concatenate([np.asarray(a, dtype=np.float64).reshape(n, -1) for _, a in blocks], axis=1)
    )
    named = [name for name, _ in blocks if name]
    manifest: Dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "producer": producer,
        "n": int(n),
        "input_shape": input_shape,
        "parameters": int(mat.shape[1]),
        "param_blocks": (
            [{"name": name, "shape": [int(s) for s in a.shape[1:]]} for name, a in blocks] if named else None
        ),
        "first_layer": spec,
        "training": {
            "lr": None if lr is None else float(lr),
            "batch": None if batch is None else int(batch),
            "sampling": _SAMPLING.get(sampling, sampling),
        },
        "network": None,
    }
    if sampling not in _SAMPLING:
        raise ValueError(f"sampling = {sampling!r}: expected 'without' or 'with'")
    arrays: List[Tuple[str, np.ndarray]] = [
        ("xgrads.npy", xg),
        ("x.npy", Xa),
        ("y.npy", _f64("y", y)),
    ]
    if outputs is not None:
        arrays.append(("outputs.npy", _f64("outputs", outputs)))
    if w1a is not None:
        arrays.append(("w1.npy", w1a))
    for fname, v, what in (
        ("test_x.npy", X_test, "X_test"),
        ("test_y.npy", y_test, "y_test"),
        ("test_outputs.npy", test_outputs, "test_outputs"),
    ):
        if v is not None:
            arrays.append((fname, _f64(what, v)))
    if perturbed is not None:
        px, pi, po = perturbed
        arrays += [
            ("perturbed_x.npy", _f64("perturbed[0]", px)),
            ("perturbed_index.npy", _f64("perturbed[1]", pi)),
            ("perturbed_outputs.npy", _f64("perturbed[2]", po)),
        ]
    _native.write_bundle(out_s, json.dumps(manifest), mat, arrays)
    return out_s
