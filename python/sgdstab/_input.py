"""The ``grads`` argument, normalized once at the border.

Accepted forms (no framework is imported here):

- a 2-D array, rows = samples, columns = parameters: a NumPy ``float64`` or ``float32`` array is
  passed on as it is (C or Fortran order, sliced, negative strides: no copy); anything with
  ``__dlpack__`` (read with :func:`numpy.from_dlpack`, no copy on the CPU) or ``__array__``
  (:func:`numpy.asarray`) becomes one;
- a flat mapping ``{name: array}`` whose values all have the same leading sample axis (the output
  of ``torch.func.vmap(torch.func.grad(f))``): kept in insertion order;
- a nested pytree of such arrays (``jax.vmap(jax.grad(f))``): flattened in ``jax.tree_util``
  order — mappings sorted by key (an ``OrderedDict`` kept in its order), lists and tuples in
  order, namedtuples by field, ``None`` an empty subtree — with names joined by ``"."``
  (``"params.dense.kernel"``, ``"layers.0.b"``), as ``jax.tree_util.keystr(path, simple=True,
  separator=".")`` writes them.

Every array of a mapping or pytree is flattened to ``n × (size / n)`` around its leading axis (a
``(n,)`` array is one column) and the blocks are concatenated along the feature axis; the report's
:attr:`layout` says which columns belong to which parameter.

Other dtypes are converted: float16 and bfloat16 to float32 (exactly), integers and booleans to
float64; complex or non-numeric data is refused.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Parameter:
    """Where one parameter's gradient sits in the ``n × w`` matrix.

    Attributes
    ----------
    name : str
        The parameter's name: the mapping key, or the pytree path joined by ``"."``; ``""`` for a
        plain 2-D array.
    shape : tuple of int
        The array's shape as given, sample axis first.
    columns : range
        Its columns in the gradient matrix (``len(columns) == prod(shape[1:])``), in C order of
        ``shape[1:]``.
    """

    name: str
    shape: Tuple[int, ...]
    columns: range


@dataclass(frozen=True)
class Normalized:
    """What the extension module receives: ``kind`` is ``"matrix"`` (one 2-D array) or
    ``"dict"`` (named arrays with a leading sample axis)."""

    kind: str
    blocks: List[Tuple[str, np.ndarray]]
    layout: Tuple[Parameter, ...]
    description: str


def _is_node(x: Any) -> bool:
    """Whether ``x`` is a pytree node (not a leaf) in the sense of ``jax.tree_util``."""
    return x is None or isinstance(x, (Mapping, list, tuple))


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(node: Mapping, path: str) -> List[Any]:
    if isinstance(node, collections.OrderedDict):
        return list(node.keys())
    try:
        return sorted(node.keys())
    except TypeError as e:
        where = path or "the top level"
        raise ValueError(
            f"grads: the keys of the mapping at {where} cannot be sorted as jax.tree_util sorts "
            f"them ({e})"
        ) from None


def flatten_pytree(tree: Any) -> List[Tuple[str, Any]]:
    """The leaves of a pytree in ``jax.tree_util.tree_flatten`` order, with their paths.

    Parameters
    ----------
    tree : pytree
        Nested mappings, lists, tuples and namedtuples; ``None`` has no leaves; anything else is a
        leaf.

    Returns
    -------
    list of (str, object)
        ``(path, leaf)`` pairs; a path joins the mapping keys, sequence indices and namedtuple
        field names by ``"."``.
    """
    out: List[Tuple[str, Any]] = []

    def walk(node: Any, path: str) -> None:
        def sub(key: Any) -> str:
            return f"{path}.{key}" if path else str(key)

        if node is None:
            return
        if isinstance(node, Mapping):
            for k in _sorted_keys(node, path):
                walk(node[k], sub(k))
        elif _is_namedtuple(node):
            for field, v in zip(type(node)._fields, node):
                walk(v, sub(field))
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, sub(i))
        else:
            out.append((path, node))

    walk(tree, "")
    return out


def _from_framework(x: Any, where: str) -> np.ndarray:
    """A NumPy view of an array-like object: ``__dlpack__`` first (zero copy on the CPU), then
    ``__array__``; a tensor that needs ``.detach()`` or ``.cpu()`` (PyTorch) is asked for them."""
    errors = []
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except Exception as e:  # an unsupported dtype (bfloat16) or device: try the next way
            errors.append(f"__dlpack__: {e}")
    if hasattr(x, "__array__"):
        try:
            return np.asarray(x)
        except Exception as e:
            errors.append(f"__array__: {e}")
    # PyTorch: a tensor that requires grad, lives on a GPU or is bfloat16 refuses both ways
    if all(hasattr(x, m) for m in ("detach", "cpu", "float", "dtype")):
        try:
            t = x.detach().cpu()
            if str(t.dtype) not in ("torch.float32", "torch.float64"):
                t = t.float()
            return np.asarray(t)
        except Exception as e:
            errors.append(f"detach().cpu(): {e}")
    if not errors:
        return np.asarray(x)
    raise ValueError(f"grads{where}: cannot read a {type(x).__name__} as an array ({'; '.join(errors)})")


def as_float_array(x: Any, where: str = "") -> np.ndarray:
    """``x`` as a native-endian, aligned float64 or float32 ndarray, without a copy when it
    already is one.

    Parameters
    ----------
    x : array_like
        An ndarray, or anything with ``__dlpack__`` / ``__array__``, or a number.
    where : str
        Appended to ``grads`` in error messages (``"['w']"``).
    """
    a = x if isinstance(x, np.ndarray) else _from_framework(x, where)
    dt = a.dtype
    if dt.kind == "f" and dt.itemsize in (4, 8):
        target = np.dtype(np.float64 if dt.itemsize == 8 else np.float32)
    elif dt.kind == "f" or dt.name == "bfloat16":
        # float16 and bfloat16 widen exactly to float32; wider floats round to float64
        target = np.dtype(np.float32 if dt.itemsize <= 2 else np.float64)
    elif dt.kind in "iub":
        target = np.dtype(np.float64)
    else:
        raise ValueError(
            f"grads{where}: dtype {dt} is not a real number type; expected float64 or float32 "
            "(float16, bfloat16 and integers are converted)"
        )
    if a.dtype == target and a.flags.aligned:
        return a  # native byte order included: dtype equality compares it
    return a.astype(target)


def normalize(grads: Any) -> Normalized:
    """Normalizes the ``grads`` argument of :func:`sgdstab.analyze` and friends (see the module
    documentation). Shape and value checks (2-D, same leading axis, finite values) are the
    library's, with its messages."""
    if isinstance(grads, (Mapping, list, tuple)):
        return _normalize_tree(grads)
    a = as_float_array(grads)
    if a.ndim != 2:
        # the library's message (also checked there)
        shape = str(tuple(int(d) for d in a.shape))  # as the library writes shapes: (30,)
        raise ValueError(
            f"grads: array of shape {shape} is {a.ndim}-D; expected a 2-D n × w array "
            "(rows = samples) or a dict of per-parameter arrays"
        )
    kind = f"{type(grads).__module__}.{type(grads).__name__}"
    return Normalized(
        "matrix",
        [("", a)],
        (Parameter("", tuple(a.shape), range(a.shape[1])),),
        f"<{kind} {a.dtype} {a.shape[0]}×{a.shape[1]}>",
    )


def _normalize_tree(grads: Any) -> Normalized:
    """A mapping of arrays (insertion order) or a nested pytree (``jax.tree_util`` order)."""
    items: List[Tuple[str, Any]]
    if isinstance(grads, Mapping) and not any(_is_node(v) for v in grads.values()):
        items = [(str(k), v) for k, v in grads.items()]
        what = "mapping"
    else:
        items = flatten_pytree(grads)
        what = "pytree"
    if not items:
        raise ValueError(f"grads: the {what} holds no arrays")
    blocks = [(name, as_float_array(v, f"[{name!r}]")) for name, v in items]
    layout = []
    col = 0
    for name, a in blocks:
        width = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim >= 1 else 0
        layout.append(Parameter(name, tuple(a.shape), range(col, col + width)))
        col += width
    return Normalized("dict", blocks, tuple(layout), f"<{what} of {len(blocks)} arrays>")


def as_list(name: str, value: Any, minimum: int) -> List[int]:
    """An int or an iterable of ints (``range`` included) as a list, each ``>= minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values: Sequence[Any] = [value]
    else:
        try:
            values = list(value)
        except TypeError:
            raise TypeError(f"{name}: expected an int or a sequence of ints, got {type(value).__name__}") from None
    return [as_count(name, v, minimum) for v in values]


def as_count(name: str, value: Any, minimum: int) -> int:
    """A Python int ``>= minimum`` (``TypeError`` if not an integer, ``ValueError`` if too small)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} = {v}: must be >= {minimum}")
    return v


def as_optional_count(name: str, value: Optional[Any], minimum: int) -> Optional[int]:
    return None if value is None else as_count(name, value, minimum)
