"""Per-sample gradients with JAX, ready for :func:`sgdstab.analyze`, and a JAX model as a
network bundle (:func:`export_network`, for :func:`sgdstab.sobolev` and ``sgdstab sobolev``).

JAX is imported when a function is called, not when this module is.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ._export_jax import export_network

DEFAULT_CHUNK_SIZE = 1024


def _host(x: Any) -> np.ndarray:
    """A JAX array on the host as a float32/float64 ndarray (bfloat16/float16 widened exactly)."""
    a = np.asarray(x)
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        a = a.astype(np.float32)
    return a


def per_sample_gradients(
    f: Callable[..., Any],
    params: Any,
    X: Any,
    *,
    chunk_size: Optional[int] = DEFAULT_CHUNK_SIZE,
    jit: bool = True,
) -> Any:
    """``a_i = ∇_params f(params, x_i)`` for every sample, as a pytree with a leading sample axis.

    Computes ``jax.vmap(jax.grad(f), in_axes=(None, 0))(params, X)`` in chunks of
    ``chunk_size`` samples and returns the leaves as NumPy arrays, in the structure of
    ``params`` — what :func:`sgdstab.analyze` takes as ``grads`` (flattened in
    ``jax.tree_util`` order).

    Parameters
    ----------
    f : callable
        ``f(params, x) -> scalar`` for ONE sample ``x`` (no batch axis): the network's output
        ``f(x; W)`` for the paper's ``a_i = ∇_W f(x_i, W*)``, or a per-sample loss.
    params : pytree
        The parameters ``W*`` (a dict, list, tuple or any JAX pytree of arrays).
    X : array or pytree of arrays
        The samples, leading axis ``n`` (e.g. ``(inputs, targets)``: every leaf is split along
        its first axis).
    chunk_size : int or None, default 1024
        Samples per ``vmap`` call (bounds the memory of one call); ``None``: all at once.
    jit : bool, default True
        Compile the per-chunk function with ``jax.jit``.

    Returns
    -------
    pytree of numpy.ndarray
        Same structure as ``params``; each leaf has shape ``(n, *leaf.shape)``, float32 or
        float64 (bfloat16 and float16 gradients are widened to float32).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, sgdstab
    >>> from sgdstab.jax import per_sample_gradients
    >>> params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    >>> f = lambda p, x: jnp.tanh(x @ p["w"] + p["b"])
    >>> grads = per_sample_gradients(f, params, np.random.default_rng(0).standard_normal((20, 3)))
    >>> grads["w"].shape
    (20, 3)
    """
    import jax

    leaves = jax.tree_util.tree_leaves(X)
    if not leaves:
        raise ValueError("X: no arrays")
    n = int(np.shape(leaves[0])[0]) if np.ndim(leaves[0]) >= 1 else -1
    for leaf in leaves:
        if np.ndim(leaf) < 1 or int(np.shape(leaf)[0]) != n:
            shapes = [tuple(np.shape(x)) for x in leaves]
            raise ValueError(f"X: every array needs the same leading sample axis; shapes {shapes}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size = {chunk_size!r}: must be an integer >= 1 or None")
    step = n if chunk_size is None else chunk_size
    g = jax.vmap(jax.grad(f), in_axes=(None, 0))
    if jit:
        g = jax.jit(g)
    parts = []
    for start in range(0, max(n, 1), max(step, 1)):
        stop = min(start + step, n)
        chunk = jax.tree_util.tree_map(lambda a: a[start:stop], X)
        parts.append(jax.tree_util.tree_map(_host, g(params, chunk)))
    if len(parts) == 1:
        return parts[0]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *parts)
