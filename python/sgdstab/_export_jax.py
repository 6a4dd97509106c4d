"""A JAX model as a network bundle: :func:`export_network` (re-exported by :mod:`sgdstab.jax`).

JAX is imported when :func:`export_network` is called.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np

from ._bundle import PathLike, write_bundle
from ._input import flatten_pytree

DEFAULT_CHUNK_SIZE = 1024


def _chunked(fn: Callable[..., Any], params: Any, X: Any, chunk_size: Optional[int]) -> Any:
    """``fn(params, X[a:b])`` over chunks, leaves concatenated on the host."""
    import jax

    n = int(np.shape(X)[0])
    step = n if chunk_size is None else chunk_size
    parts = []
    for start in range(0, max(n, 1), max(step, 1)):
        parts.append(jax.tree_util.tree_map(np.asarray, fn(params, X[start : start + step])))
    if len(parts) == 1:
        return parts[0]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *parts)


def export_network(
    f: Callable[[Any, Any], Any],
    params: Any,
    X: Any,
    y: Any,
    *,
    first_layer: Optional[str],
    out: PathLike,
    lr: Optional[float] = None,
    batch: Optional[int] = None,
    sampling: str = "without",
    X_test: Any = None,
    y_test: Any = None,
    orientation: Optional[str] = None,
    conv: Optional[Mapping[str, str]] = None,
    chunk_size: Optional[int] = DEFAULT_CHUNK_SIZE,
    jit: bool = True,
) -> str:
    """Writes the network bundle of a JAX model at ``params`` (its minimum ``W*``).

    Computes, in chunks of ``chunk_size`` samples with ``jax.vmap``: the per-sample parameter
    gradients ``∇_W f(x_i, W*)`` (``jax.grad`` in ``params``), the per-sample input gradients
    ``∇_x f(x_i, W*)`` (``jax.grad`` in ``x``) and the outputs ``f(x_i, W*)`` — and the outputs
    on ``X_test`` when given — and writes them with ``W_1`` to ``out`` (see
    :func:`sgdstab.write_bundle` for the checks; nothing is written when one fails).

    Parameters
    ----------
    f : callable
        ``f(params, x) -> scalar`` for ONE sample ``x`` (no batch axis).
    params : pytree
        The parameters ``W*``.
    X : array_like
        Training inputs, shape ``(n, *input_shape)``.
    y : array_like
        Training targets, shape ``(n,)``.
    first_layer : str or None
        The first layer's weight as ``report.column_layout`` names parameters: the
        ``jax.tree_util`` path joined by ``"."`` (``"0.w"`` for ``params[0]["w"]``). A matrix is a
        dense layer (``x @ w``, ``d × m``, or ``w @ x``, ``m × d``: found from the shapes and
        checked on the gradients); a 4-D kernel a convolution (give ``conv``). ``None``: no
        linear first layer.
    out : str or path
        The bundle folder.
    lr, batch, sampling : optional
        The training ``η`` (of the loss ``(1/2n) Σ (f − y)²``), ``B`` and batch sampling.
    X_test, y_test : array_like, optional
        A held-out test set (the outputs on it are computed and stored).
    orientation : {"out-in", "in-out"}, optional
        Forces a dense layer's orientation.
    conv : dict, optional
        A convolutional first layer (stride 1): ``padding`` (``"circular"``, ``"same"``,
        ``"valid"``), ``kernel_layout`` (default ``"HWIO"``), ``input_layout`` (default ``"HWC"``).
    chunk_size : int or None, default 1024
        Samples per ``vmap`` call.
    jit : bool, default True
        Compile the per-chunk functions with ``jax.jit``.

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ValueError
        Bad input (the message names the file and the field); nothing is written.

    Notes
    -----
    Float64 results need ``jax.config.update("jax_enable_x64", True)`` before the model is
    built; in float32 every array is stored widened to float64.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, numpy as np, sgdstab
    >>> params = [{"w": jnp.ones((3, 4)) / 3, "b": jnp.zeros(4)}, {"w": jnp.ones(4) / 4}]
    >>> f = lambda p, x: jnp.tanh(x @ p[0]["w"] + p[0]["b"]) @ p[1]["w"]
    >>> X = np.random.default_rng(0).standard_normal((10, 3)); y = np.zeros(10)
    >>> sgdstab.jax.export_network(f, params, X, y, first_layer="0.w", out="net", lr=0.1, batch=2)
    'net'
    """
    import jax

    from .jax import per_sample_gradients

    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size = {chunk_size!r}: must be an integer >= 1 or None")
    Xj = jax.numpy.asarray(X)
    if Xj.ndim < 2:
        raise ValueError(f"X: shape {tuple(Xj.shape)}; expected (n, *input_shape)")
    grads = per_sample_gradients(f, params, Xj, chunk_size=chunk_size, jit=jit)
    xgrad = jax.vmap(jax.grad(f, argnums=1), in_axes=(None, 0))
    value = jax.vmap(f, in_axes=(None, 0))
    if jit:
        xgrad = jax.jit(xgrad)
        value = jax.jit(value)
    xgrads = _chunked(xgrad, params, Xj, chunk_size)
    outputs = _chunked(value, params, Xj, chunk_size)
    test_outputs = None
    if X_test is not None:
        test_outputs = _chunked(value, params, jax.numpy.asarray(X_test), chunk_size)
    w1 = None
    if first_layer is not None:
        leaves = dict(flatten_pytree(params))
        if first_layer not in leaves:
            names = ", ".join(list(leaves)[:20])
            raise ValueError(f"first_layer = {first_layer!r} is not a parameter (parameters: {names})")
        w1 = np.asarray(leaves[first_layer])
    return write_bundle(
        out,
        grads,
        xgrads,
        np.asarray(X),
        y,
        first_layer=first_layer,
        w1=w1,
        orientation=orientation,
        conv=conv,
        lr=lr,
        batch=batch,
        sampling=sampling,
        outputs=outputs,
        X_test=None if X_test is None else np.asarray(X_test),
        y_test=y_test,
        test_outputs=test_outputs,
        producer="sgdstab.jax.export_network",
        first_layer_reason=None if first_layer is not None else "first_layer=None was given",
        _conv_layouts=("HWIO", "HWC"),
    )
