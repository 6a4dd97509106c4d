"""The three entry points: :func:`analyze`, :func:`thresholds`, :func:`diagram`."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from . import _native
from ._input import as_count, as_list, as_optional_count, normalize
from ._progress import make as _make_progress
from ._results import Diagram, Report, Thresholds

Orders = Union[int, Iterable[int]]

# the library's defaults (those of the command-line flags)
DEFAULT_MAX_DENSE_DIM = 8000
DEFAULT_MAX_COMPANION_ROWS = 2000
DEFAULT_TOLERANCE = 1e-10


def _float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}") from None


def _optional_float(name: str, value: Any) -> Optional[float]:
    return None if value is None else _float(name, value)


def _optional_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def analyze(
    grads: Any,
    lr: float,
    batch: int,
    orders: Orders = (1, 2),
    sampling: str = "without",
    *,
    rank_tolerance: Optional[float] = None,
    eigensolver: Optional[str] = None,
    method: str = "auto",
    cone_tolerance: float = DEFAULT_TOLERANCE,
    cone_max_iterations: Optional[int] = None,
    lanczos_tolerance: float = DEFAULT_TOLERANCE,
    max_dense_dim: int = DEFAULT_MAX_DENSE_DIM,
    full_spectrum: bool = False,
    memory_budget: Optional[int] = None,
    source: Optional[str] = None,
    progress: Any = False,
) -> Report:
    """Linear stability of SGD at an interpolating minimum (Ma & Ying 2021, Theorem 1).

    Builds the batch-averaged moment operator ``T_k^{η,B}`` of eq. (16) exactly for each order
    ``k`` and decides whether the ``k``-th moment of linearized SGD stays bounded; also evaluates
    Prop. 1, Theorem 2 (eq. 18) and Corollary 1 (eq. 19). The same computation as
    ``sgdstab analyze --json``.

    Parameters
    ----------
    grads : array_like, mapping or pytree
        Per-sample gradients at the minimum: a 2-D ``n × w`` array, rows = samples (NumPy
        float64/float32 read without a copy, any strides), or a mapping / pytree of
        per-parameter arrays with a leading sample axis (see :mod:`sgdstab` for the order).
    lr : float
        Learning rate ``η > 0``.
    batch : int
        Batch size ``1 <= B <= n``.
    orders : int or iterable of int, default (1, 2)
        Orders ``k >= 1`` (reported in the given order, duplicates removed).
    sampling : {"without", "with"}, default "without"
        Batches drawn without replacement (the paper's eq. 15) or with replacement.
    rank_tolerance : float, optional
        Relative rank tolerance ``τ`` in ``[0, 1)`` (default ``max(n, w)·ε``): Gram eigenvalues
        ``<= τ·λ_max`` are dropped.
    eigensolver : {"faer", "lapack"}, optional
        Dense eigensolver (``lapack`` only in a build with the library's ``lapack`` feature).
    method : {"auto", "dense", "matrix-free", "clustered", "davidson"}, default "auto"
        How each block ``T_j`` is computed: ``auto`` takes the dense path when ``D`` fits, else
        for ``j = 2`` the clustered solver (a certified enclosure of ``λ_max``, see
        ``BlockReport.enclosure``), for ``j >= 3`` block Davidson (a certified lower bound on
        ``λ_max``, see ``BlockReport.davidson``); ``matrix-free`` forces Lanczos.
    cone_tolerance : float, default 1e-10
        Relative residual at which the Theorem 1 cone iteration stops.
    cone_max_iterations : int, optional
        Iteration limit of the cone iteration (default 5000 dense, 300 matrix-free; 0 skips it).
    lanczos_tolerance : float, default 1e-10
        Relative residual tolerance of Lanczos on matrix-free blocks.
    max_dense_dim : int, default 8000
        Largest dense dimension ``D = C(r + k − 1, k)`` accepted.
    full_spectrum : bool, default False
        Include every eigenvalue of every dense block (``block.eigenvalues``).
    memory_budget : int, optional
        Bytes the dense work may use (default: ``SGDSTAB_MEMORY_BYTES``, else 80% of the
        available memory).
    source : str, optional
        What to write in the report's ``input`` field (default: a description of ``grads``).
    progress : bool or progress object, default False
        ``True`` shows progress (tqdm if installed, else lines on stderr).

    Returns
    -------
    Report
        Typed attributes (``report.orders[0].verdict``, ``report.prop1.value``) and
        ``to_json()`` / ``to_dict()`` equal to the CLI's JSON.

    Raises
    ------
    ValueError
        Bad input or parameter (NaN, not 2-D, mismatched sample axes, ``B > n``, ``η <= 0``, an
        unknown mode), with the library's one-line message naming it.
    MemoryError
        The problem does not fit the memory budget.
    KeyboardInterrupt
        Ctrl-C during the computation.

    Examples
    --------
    >>> import numpy as np, sgdstab
    >>> A = np.random.default_rng(0).standard_normal((40, 8))
    >>> report = sgdstab.analyze(A, lr=0.05, batch=4)
    >>> report.orders[0].verdict
    'stable'
    """
    g = normalize(grads)
    text = _native.analyze(
        g.kind,
        g.blocks,
        lr=_float("lr", lr),
        batch=as_count("batch", batch, 1),
        orders=as_list("orders", orders, 1),
        sampling=str(sampling),
        rank_tolerance=_optional_float("rank_tolerance", rank_tolerance),
        eigensolver=_optional_str(eigensolver),
        method=str(method),
        cone_tolerance=_float("cone_tolerance", cone_tolerance),
        cone_max_iterations=as_optional_count("cone_max_iterations", cone_max_iterations, 0),
        lanczos_tolerance=_float("lanczos_tolerance", lanczos_tolerance),
        max_dense_dim=as_count("max_dense_dim", max_dense_dim, 0),
        full_spectrum=bool(full_spectrum),
        memory_budget=as_optional_count("memory_budget", memory_budget, 0),
        source=g.description if source is None else str(source),
        progress=_make_progress(progress),
    )
    return Report(text, g.layout)


def thresholds(
    grads: Any,
    batch: int,
    orders: Orders = (1, 2),
    sampling: str = "without",
    *,
    method: str = "auto",
    max_companion_rows: int = DEFAULT_MAX_COMPANION_ROWS,
    rank_tolerance: Optional[float] = None,
    eigensolver: Optional[str] = None,
    max_dense_dim: int = DEFAULT_MAX_DENSE_DIM,
    lanczos_tolerance: float = DEFAULT_TOLERANCE,
    memory_budget: Optional[int] = None,
    source: Optional[str] = None,
    progress: Any = False,
) -> Thresholds:
    """The exact stable learning-rate sets ``S_k`` and thresholds ``η*_k`` for one batch size.

    ``S_k = {η > 0 : ρ(T_k^{η,B}) <= 1}`` is a finite union of intervals; ``η*_k`` is the end of
    the first one. Each boundary comes with an error bound. Also compares ``η*_k`` with the
    limits implied by Theorem 2 and Corollary 1 (and the Mulayoff–Michaeli bounds for ``k = 2``).
    The same computation as ``sgdstab threshold --json``.

    Parameters
    ----------
    grads : array_like, mapping or pytree
        Per-sample gradients, as for :func:`analyze`.
    batch : int
        Batch size ``1 <= B <= n``.
    orders : int or iterable of int, default (1, 2)
        Orders ``k >= 1``.
    sampling : {"without", "with"}, default "without"
        Sampling scheme.
    method : {"auto", "linearization", "bisection"}, default "auto"
        Linearization (every interval) up to ``max_companion_rows``, else bisection (the first
        interval only).
    max_companion_rows : int, default 2000
        Largest companion matrix the linearization builds under ``auto``.
    rank_tolerance, eigensolver, max_dense_dim, lanczos_tolerance, memory_budget, source, progress
        As for :func:`analyze`.

    Returns
    -------
    Thresholds
        ``thresholds.orders[i].lr_threshold`` is ``η*_k``; ``to_json()`` equals the CLI's JSON.

    Raises
    ------
    ValueError, MemoryError, KeyboardInterrupt
        As for :func:`analyze`.
    """
    g = normalize(grads)
    text = _native.thresholds(
        g.kind,
        g.blocks,
        batch=as_count("batch", batch, 1),
        orders=as_list("orders", orders, 1),
        sampling=str(sampling),
        method=str(method),
        max_companion_rows=as_count("max_companion_rows", max_companion_rows, 0),
        rank_tolerance=_optional_float("rank_tolerance", rank_tolerance),
        eigensolver=_optional_str(eigensolver),
        max_dense_dim=as_count("max_dense_dim", max_dense_dim, 0),
        lanczos_tolerance=_float("lanczos_tolerance", lanczos_tolerance),
        memory_budget=as_optional_count("memory_budget", memory_budget, 0),
        source=g.description if source is None else str(source),
        progress=_make_progress(progress),
    )
    return Thresholds(text, g.layout)


def diagram(
    grads: Any,
    orders: Orders = (1, 2),
    batches: Optional[Orders] = None,
    sampling: str = "without",
    *,
    method: str = "auto",
    max_companion_rows: int = DEFAULT_MAX_COMPANION_ROWS,
    rank_tolerance: Optional[float] = None,
    eigensolver: Optional[str] = None,
    max_dense_dim: int = DEFAULT_MAX_DENSE_DIM,
    lanczos_tolerance: float = DEFAULT_TOLERANCE,
    memory_budget: Optional[int] = None,
    source: Optional[str] = None,
    progress: Any = False,
) -> Diagram:
    """The (η, B) stability diagram: ``η*_k(B)`` for every order ``k`` and batch size ``B``.

    Each threshold is computed exactly as by :func:`thresholds` (the first stable interval), with
    the Theorem 2 and Corollary 1 limits and, for ``k = 2``, the Mulayoff–Michaeli bounds. The same
    table as ``sgdstab diagram --json``.

    Parameters
    ----------
    grads : array_like, mapping or pytree
        Per-sample gradients, as for :func:`analyze`.
    orders : int or iterable of int, default (1, 2)
        Orders ``k >= 1`` (sorted, duplicates removed).
    batches : int or iterable of int, optional
        Batch sizes (sorted, duplicates removed); default every ``B = 1..n``.
    sampling : {"without", "with"}, default "without"
        Sampling scheme.
    method, max_companion_rows, rank_tolerance, eigensolver, max_dense_dim, lanczos_tolerance,
    memory_budget, source, progress
        As for :func:`thresholds`.

    Returns
    -------
    Diagram
        ``diagram.rows`` sorted by ``k`` then ``B``; ``diagram.threshold(k, B)``; ``to_json()``
        equals the CLI's JSON.

    Raises
    ------
    ValueError, MemoryError, KeyboardInterrupt
        As for :func:`analyze`.
    """
    g = normalize(grads)
    text = _native.diagram(
        g.kind,
        g.blocks,
        orders=as_list("orders", orders, 1),
        batches=None if batches is None else as_list("batches", batches, 1),
        sampling=str(sampling),
        method=str(method),
        max_companion_rows=as_count("max_companion_rows", max_companion_rows, 0),
        rank_tolerance=_optional_float("rank_tolerance", rank_tolerance),
        eigensolver=_optional_str(eigensolver),
        max_dense_dim=as_count("max_dense_dim", max_dense_dim, 0),
        lanczos_tolerance=_float("lanczos_tolerance", lanczos_tolerance),
        memory_budget=as_optional_count("memory_budget", memory_budget, 0),
        source=g.description if source is None else str(source),
        progress=_make_progress(progress),
    )
    return Diagram(text, g.layout)
