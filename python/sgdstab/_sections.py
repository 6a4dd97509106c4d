"""Sections 4 and 5 of the paper on a network bundle, and Figure 1: :func:`sobolev`,
:func:`figure1` (and the bundle writer :func:`sgdstab.write_bundle`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _native
from ._api import _float
from ._input import as_list
from ._progress import make as _make_progress
from ._results import _Field, _Report, _View

Orders = Union[int, Iterable[int]]


class _BundleDir:
    """A bundle folder: the path as given, or a temporary folder the arrays were written to."""

    def __init__(self, bundle: Any):
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        if isinstance(bundle, (str, os.PathLike)):
            self.path = os.fspath(bundle)
        elif isinstance(bundle, Mapping):
            from ._bundle import write_bundle

            self._tmp = tempfile.TemporaryDirectory(prefix="sgdstab-bundle-")
            self.path = os.path.join(self._tmp.name, "bundle")
            args = dict(bundle)
            try:
                grads, input_grads, X, y = (args.pop(k) for k in ("grads", "input_grads", "X", "y"))
            except KeyError as e:
                self._tmp.cleanup()
                raise ValueError(
                    f"bundle: the mapping has no {e.args[0]!r} (give grads, input_grads, X, y and the "
                    "keywords of sgdstab.write_bundle)"
                ) from None
            try:
                write_bundle(self.path, grads, input_grads, X, y, **args)
            except BaseException:
                self._tmp.cleanup()
                raise
        else:
            raise TypeError(
                f"bundle: expected a folder (str or os.PathLike) or a mapping of arrays, got {type(bundle).__name__}"
            )

    def __enter__(self) -> "_BundleDir":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


class FirstLayer(_View):
    """What the model's first layer is, and whether Prop. 2, Corollary 2 and Theorem 3 apply."""

    __slots__ = ()
    kind: _Field[str] = _Field("``dense``, ``conv2d`` or ``other``.")
    name: _Field[Optional[str]] = _Field("The parameter's name in the gradients, if known.")
    shape: _Field[Optional[List[int]]] = _Field("The parameter's shape, if known.")
    operator_norm: _Field[Optional[Dict[str, Any]]] = _Field(
        "``{lower, upper, lower_method, upper_method}``: ``‖W_1‖_2`` as a map of ``x`` (a matrix's "
        "spectral norm; a convolution's operator norm, exact for circular padding, a certified "
        "bracket for zero padding)."
    )
    section4: _Field[str] = _Field("``applicable`` or ``not-applicable``.")
    reason: _Field[Optional[str]] = _Field("Why not applicable, when not.")


class SobolevOrder(_View):
    """Section 4 for one order ``k`` (``p = 2k``)."""

    __slots__ = ()
    k: _Field[int] = _Field("The order.")
    p: _Field[int] = _Field("``p = 2k``.")
    w1t_norm: _Field[Optional[Dict[str, Any]]] = _Field("``‖W_1ᵀ‖_p`` bracket (dense first layer).")
    min_x_norm: _Field[float] = _Field("``min_i ‖x_i‖_p``.")
    seminorm: _Field[float] = _Field("``|f|_{1,p,{x_i}} = ((1/n) Σ ‖∇_x f(x_i)‖_p^p)^{1/p}``.")
    param_moment: _Field[float] = _Field("``((1/n) Σ ‖a_i‖_p^p)^{1/p}``.")
    prop2: _Field[Optional[Dict[str, Any]]] = _Field("Prop. 2 at every training point (dense only).")
    corollary2: _Field[Optional[Dict[str, Any]]] = _Field("Corollary 2 (dense only).")
    theorem3: _Field[Optional[Dict[str, Any]]] = _Field("Theorem 3 with its premise (dense only).")


class Sobolev(_Report):
    """The ``sobolev`` report of a bundle: ``g_W``, ``g_x`` (eq. 5), Prop. 2 per training point,
    Corollary 2 and Theorem 3. The JSON is the CLI's ``sgdstab sobolev DIR --json``
    (``schema_version`` 2)."""

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``sobolev``.")
    tool_version: _Field[str] = _Field("sgdstab version.")
    input: _Field[Optional[str]] = _Field("The bundle folder.")
    n: _Field[int] = _Field("Training samples.")
    d: _Field[int] = _Field("Input dimension.")
    w: _Field[int] = _Field("Parameters.")
    m: _Field[Optional[int]] = _Field("Rows of ``W_1`` (dense first layer).")
    first_layer: _Field[FirstLayer] = _Field("The first layer.", FirstLayer)
    lr: _Field[float] = _Field("Learning rate ``η``.")
    batch: _Field[int] = _Field("Batch size ``B``.")
    sampling: _Field[str] = _Field("Batch sampling.")
    g_w: _Field[float] = _Field("``g_W`` of eq. (5).")
    g_x: _Field[float] = _Field("``g_x`` of eq. (5).")
    w1_spectral_norm: _Field[Optional[float]] = _Field("``‖W_1‖_2`` (dense first layer).")
    orders: _Field[Tuple[SobolevOrder, ...]] = _Field(
        "One entry per order.", lambda v: tuple(SobolevOrder(x) for x in v)
    )
    ok: _Field[bool] = _Field("No failed check.")
    findings: _Field[List[Dict[str, Any]]] = _Field("Failed checks.")


def sobolev(
    bundle: Any,
    *,
    orders: Orders = (1, 2),
    lr: Optional[float] = None,
    batch: Optional[int] = None,
    stability: bool = True,
    source: Optional[str] = None,
    progress: Any = False,
) -> Sobolev:
    """Section 4 of the paper on a network bundle: ``g_W``, ``g_x`` of eq. (5), Prop. 2 at every
    training point, Corollary 2 and Theorem 3 (with the analyzer's verdict as its premise). The
    same computation as ``sgdstab sobolev DIR --json``: ``to_json()`` is its output byte for
    byte.

    Parameters
    ----------
    bundle : str, os.PathLike or mapping
        A bundle folder (written by ``sgdstab train --export``, :func:`sgdstab.jax.export_network`,
        :func:`sgdstab.torch.export_network` or :func:`sgdstab.write_bundle`), or the arrays it
        holds as a mapping of the arguments of :func:`sgdstab.write_bundle` (written to a
        temporary folder first).
    orders : int or iterable of int, default (1, 2)
        Orders ``k >= 1`` (``p = 2k``).
    lr, batch : optional
        ``η`` and ``B`` of Theorem 3 and its premise (default: the bundle's training values; an
        error naming ``bundle.json`` when it has none).
    stability : bool, default True
        Run the analyzer for Theorem 3's premise (the CLI's ``--no-stability`` is ``False``).
    source : str, optional
        The report's ``input`` (default: the folder as given).
    progress : bool or progress object, default False
        ``True`` shows progress.

    Returns
    -------
    Sobolev

    Raises
    ------
    ValueError
        A bad bundle or parameter (the message names the file and the field).
    """
    ks = as_list("orders", orders, 1)
    with _BundleDir(bundle) as b:
        text = _native.sobolev(
            b.path,
            orders=ks,
            lr=None if lr is None else _float("lr", lr),
            batch=None if batch is None else int(batch),
            stability=bool(stability),
            source=source if source is not None else (b.path if b._tmp is None else "(arrays)"),
            progress=_make_progress(progress),
        )
    return Sobolev(text)


class Generalization(_Report):
    """The ``generalization`` report of a bundle: Theorem 6 (eq. 26) term by term over a grid of
    radii ``δ`` against the measured test error, and Theorem 7 (eq. 27) against the measured
    sensitivity. The JSON is the CLI's ``sgdstab generalization DIR --json`` (``schema_version``
    2); ``model_side.not_computed`` names what a bundle without a model could not give."""

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``generalization``.")
    input: _Field[Optional[str]] = _Field("The bundle folder.")
    n: _Field[int] = _Field("Training points.")
    n_test: _Field[int] = _Field("Test points.")
    d: _Field[int] = _Field("Input dimension.")
    lr: _Field[float] = _Field("Learning rate ``η``.")
    batch: _Field[int] = _Field("Batch size ``B``.")
    w1_spectral_norm: _Field[float] = _Field("``‖W_1*‖_2``.")
    measured: _Field[Dict[str, Any]] = _Field("``test_mse``, ``test_target_variance``, ``train_residual_max``.")
    model_side: _Field[Dict[str, Any]] = _Field("``kind`` (``model``/``recorded``) and ``not_computed``.")
    covering: _Field[Dict[str, Any]] = _Field("``ε₂``, ``K`` and ``δ_approx`` per radius.")
    sensitivity: _Field[List[Dict[str, Any]]] = _Field("The measured sensitivity per radius (empty when not measured).")
    orders: _Field[List[Dict[str, Any]]] = _Field("Eqs. (26) and (27) per order.")
    ok: _Field[bool] = _Field("No bound exceeded while its premise holds.")
    findings: _Field[List[Dict[str, Any]]] = _Field("Bounds exceeded while the premise holds.")


def _with_perturbed(path: str, model: Any, deltas: List[float], samples: int, seed: int, tmp: str) -> str:
    """A copy of the bundle at ``path`` with the model's outputs at perturbed training inputs:
    for each training point ``x_i`` and radius ``δ``, ``x_i ± δ ∇_x f/‖∇_x f‖`` and ``samples``
    random points on the sphere of radius ``δ`` (seeded)."""
    import shutil

    import numpy as np

    out = os.path.join(tmp, "bundle")
    shutil.copytree(path, out)
    for f in ("perturbed_x.npy", "perturbed_index.npy", "perturbed_outputs.npy"):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    X = np.load(os.path.join(out, "x.npy"))
    G = np.load(os.path.join(out, "xgrads.npy")).reshape(len(X), -1)
    n = len(X)
    Xf = X.reshape(n, -1)
    d = Xf.shape[1]
    rng = np.random.default_rng(seed)
    gn = np.linalg.norm(G, axis=1, keepdims=True)
    U = np.where(gn > 0, G / np.where(gn > 0, gn, 1.0), 0.0)
    pts, idx = [], []
    for delta in deltas:
        for sign in (1.0, -1.0):
            pts.append(Xf + sign * delta * U)
            idx.append(np.arange(n))
        for _ in range(samples):
            v = rng.standard_normal((n, d))
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            pts.append(Xf + delta * v)
            idx.append(np.arange(n))
    P = np.concatenate(pts)
    I = np.concatenate(idx).astype(np.float64)
    outputs = np.asarray(model(P.reshape((len(P),) + X.shape[1:])), dtype=np.float64).reshape(-1)
    if outputs.shape != (len(P),):
        raise ValueError(f"model: returned {outputs.size} values for {len(P)} inputs; expected one output per input")
    np.save(os.path.join(out, "perturbed_x.npy"), P)
    np.save(os.path.join(out, "perturbed_index.npy"), I)
    np.save(os.path.join(out, "perturbed_outputs.npy"), outputs)
    return out


def generalization(
    bundle: Any,
    *,
    orders: Orders = (1, 2),
    lr: Optional[float] = None,
    batch: Optional[int] = None,
    deltas: Optional[Iterable[float]] = None,
    grid: int = 24,
    samples: int = 16,
    ascent_steps: int = 8,
    seed: int = 0,
    test_n: int = 2000,
    stability: bool = True,
    model: Any = None,
    source: Optional[str] = None,
    progress: Any = False,
) -> Generalization:
    """Section 5 of the paper on a network bundle: Theorems 6 and 7 (eqs. 26, 27) over a grid of
    radii ``δ``. The same computation as ``sgdstab generalization DIR --json`` (``to_json()``
    byte for byte, for the same options and without ``model``).

    Parameters
    ----------
    bundle : str, os.PathLike or mapping
        A bundle folder with a dense first layer, and a test set with the model's outputs
        (``X_test``/``y_test`` of the exporters) unless it is ``sgdstab train --export``'s on a
        built-in data set; or the arrays (see :func:`sobolev`).
    orders : int or iterable of int, default (1, 2)
        Orders ``k >= 1``.
    lr, batch : optional
        ``η`` and ``B`` (default: the bundle's training values).
    deltas : iterable of float, optional
        The radii; default ``grid`` radii from the test-to-training distances.
    grid, samples, ascent_steps, seed, test_n :
        As the CLI's ``--grid``, ``--samples``, ``--ascent-steps``, ``--seed``, ``--test-n``.
    stability : bool, default True
        Run the analyzer for the premise (``--no-stability`` is ``False``).
    model : callable, optional
        ``model(X) -> outputs`` on a batch of inputs shaped like the bundle's ``x``: measures
        Theorem 7's sensitivity at ``x_i ± δ ∇_x f/‖∇_x f‖`` and ``samples`` random points of
        each radius ``δ`` of the grid around every training point (recorded in a temporary copy
        of the bundle; the bundle itself is not changed). Without it, a bundle that records no
        perturbed outputs reports the sensitivity as not computed.
    source : str, optional
        The report's ``input``.
    progress : bool or progress object, default False

    Returns
    -------
    Generalization
    """
    ks = as_list("orders", orders, 1)
    radii = None if deltas is None else [_float("deltas", v) for v in deltas]

    def call(path: str, radii: Optional[List[float]], stab: bool, src: Optional[str]) -> str:
        return _native.generalization(
            path,
            orders=ks,
            lr=None if lr is None else _float("lr", lr),
            batch=None if batch is None else int(batch),
            deltas=radii,
            grid=int(grid),
            samples=int(samples),
            ascent_steps=int(ascent_steps),
            seed=int(seed),
            test_n=int(test_n),
            stability=stab,
            source=src,
            progress=_make_progress(progress),
        )

    with _BundleDir(bundle) as b:
        src = source if source is not None else (b.path if b._tmp is None else "(arrays)")
        if model is None:
            return Generalization(call(b.path, radii, bool(stability), src))
        if radii is None:
            first = Generalization(call(b.path, None, False, src))
            radii = [row["delta"] for row in first.covering["rows"]]
        with tempfile.TemporaryDirectory(prefix="sgdstab-probe-") as tmp:
            path = _with_perturbed(b.path, model, radii, int(samples), int(seed), tmp)
            return Generalization(call(path, radii, bool(stability), src))


class Figure1Panel(_View):
    """The statistics of one panel of Figure 1."""

    __slots__ = ()
    panel: _Field[str] = _Field("``learning-rate``, ``batch-size`` or ``all``.")
    runs: _Field[List[int]] = _Field("Indices of its runs.")
    pearson: _Field[Optional[float]] = _Field("Pearson ``r`` of ``(g_W, g_x)``.")
    pearson_log: _Field[Optional[float]] = _Field("Pearson ``r`` of ``(log g_W, log g_x)``.")
    spearman: _Field[Optional[float]] = _Field("Spearman ``ρ`` of ``(g_W, g_x)``.")
    trend: _Field[Optional[Dict[str, Any]]] = _Field(
        "``g_W``, ``g_x`` against the varied hyper-parameter (Spearman, log-log slopes), as "
        "``sgdstab sweep`` reports it."
    )


class Figure1(_Report):
    """Figure 1 of the paper on the given runs: per panel and over all runs, the Pearson
    correlation of ``g_W`` and ``g_x`` (linear and log-log), Spearman's ``ρ`` and the trends.
    ``figure()`` draws the two panels (matplotlib)."""

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``figure1``.")
    tool_version: _Field[str] = _Field("sgdstab version.")
    fixed_batch: _Field[int] = _Field("The batch size of the learning-rate panel.")
    fixed_lr: _Field[float] = _Field("The learning rate of the batch-size panel.")
    runs: _Field[List[Dict[str, Any]]] = _Field("Every run: ``lr``, ``batch``, ``g_w``, ``g_x``, ``source``.")
    panels: _Field[Tuple[Figure1Panel, ...]] = _Field(
        "``learning-rate``, ``batch-size``, ``all``.", lambda v: tuple(Figure1Panel(x) for x in v)
    )

    def panel(self, name: str) -> Figure1Panel:
        """The panel named ``name``."""
        for p in self.panels:
            if p.panel == name:
                return p
        raise KeyError(name)

    def figure(self, title: Optional[str] = None) -> Any:
        """The two panels as a matplotlib ``Figure``: ``g_x`` against ``g_W`` for the runs of the
        learning-rate panel (colour: ``η``) and of the batch-size panel (colour: ``B``), log-log
        axes, Pearson ``r`` in each title. matplotlib is imported here."""
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not os.environ.get(
            "DISPLAY"
        ):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
        runs = self.runs
        for ax, name, key, label in (
            (axes[0], "learning-rate", "lr", "η"),
            (axes[1], "batch-size", "batch", "B"),
        ):
            p = self.panel(name)
            gw = [runs[i]["g_w"] for i in p.runs]
            gx = [runs[i]["g_x"] for i in p.runs]
            c = [runs[i][key] for i in p.runs]
            sc = ax.scatter(gw, gx, c=c, cmap="viridis", norm=matplotlib.colors.LogNorm() if c and min(c) > 0 else None)
            fig.colorbar(sc, ax=ax, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("g_W")
            ax.set_ylabel("g_x")
            r = p.pearson
            fixed = f"B = {self.fixed_batch}" if key == "lr" else f"η = {self.fixed_lr:g}"
            ax.set_title(f"{label} varies ({fixed}), Pearson r = {r:.3f}" if r is not None else f"{label} varies ({fixed})")
        if title:
            fig.suptitle(title)
        return fig


def _runs(runs: Iterable[Any]) -> Iterator[Tuple[float, int, float, float, Optional[str]]]:
    for i, r in enumerate(runs):
        if isinstance(r, (str, os.PathLike)):
            lr, batch, gw, gx = _native.bundle_g_values(os.fspath(r))
            if lr is None or batch is None:
                raise ValueError(
                    f"runs[{i}]: {os.fspath(r)}/bundle.json records no training lr/batch; give (lr, batch, g_W, g_x) instead"
                )
            yield float(lr), int(batch), float(gw), float(gx), os.fspath(r)
        else:
            try:
                lr, batch, gw, gx = r
            except (TypeError, ValueError):
                raise TypeError(f"runs[{i}]: expected (lr, batch, g_W, g_x) or a bundle folder, got {r!r}") from None
            if isinstance(batch, float) and not batch.is_integer():
                raise ValueError(f"runs[{i}]: batch = {batch!r} is not an integer")
            if int(batch) < 1:
                raise ValueError(f"runs[{i}]: batch = {batch!r}: must be >= 1")
            yield _float(f"runs[{i}].lr", lr), int(batch), _float(f"runs[{i}].g_W", gw), _float(f"runs[{i}].g_x", gx), None


def figure1(
    runs: Iterable[Any],
    *,
    fixed_batch: Optional[int] = None,
    fixed_lr: Optional[float] = None,
) -> Figure1:
    """Figure 1 of the paper on your own runs: ``g_W`` against ``g_x`` (eq. 5).

    Parameters
    ----------
    runs : iterable
        ``(lr, batch, g_W, g_x)`` tuples, or bundle folders (their training ``η``, ``B`` and
        ``g_W``, ``g_x`` computed from their gradients), or both.
    fixed_batch, fixed_lr : optional
        The batch size of the learning-rate panel and the learning rate of the batch-size panel
        (default: the most frequent value among the runs, ties to the smaller).

    Returns
    -------
    Figure1
        ``to_dict()["panels"]``: per panel (``learning-rate``, ``batch-size``, ``all``) the
        ``pearson`` ``r`` of ``(g_W, g_x)``, ``pearson_log``, ``spearman`` and, for the two
        hyper-parameter panels, the ``trend`` (Spearman and log-log slopes against ``η`` or
        ``B``, computed by the library's sweep functions). ``figure()`` draws the panels.

    Raises
    ------
    ValueError
        A run with ``η <= 0``, ``B < 1`` or a non-finite ``g`` (named by its index).
    """
    rows = list(_runs(runs))
    text = _native.figure1(
        rows,
        fixed_batch=None if fixed_batch is None else int(fixed_batch),
        fixed_lr=None if fixed_lr is None else _float("fixed_lr", fixed_lr),
    )
    return Figure1(text)

