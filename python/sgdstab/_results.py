"""Typed, read-only views of the reports.

Each report keeps the JSON text the library wrote — exactly what the CLI writes for the same
input (``sgdstab analyze --json``, ``sgdstab threshold --json``, ``sgdstab diagram --json``) —
and exposes its fields as attributes: ``report.orders[0].spectral_radius``,
``report.prop1.value``. ``to_json()`` returns that text unchanged and ``to_dict()`` parses it.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Generic, Optional, Tuple, Type, TypeVar, overload

from ._input import Parameter

T = TypeVar("T")


class _Field(Generic[T]):
    """A read-only attribute backed by one key of the report's JSON object."""

    def __init__(self, doc: str, convert: Optional[Callable[[Any], T]] = None, optional: bool = False):
        self.__doc__ = doc
        self._convert = convert
        self._optional = optional
        self.key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name
        owner._fields = owner.__dict__.get("_fields", ()) + (name,)  # type: ignore[attr-defined]

    @overload
    def __get__(self, obj: None, objtype: Optional[type] = None) -> "_Field[T]": ...

    @overload
    def __get__(self, obj: object, objtype: Optional[type] = None) -> T: ...

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        if obj is None:
            return self
        data = obj._data
        if self._optional and self.key not in data:
            return None
        value = data[self.key]
        if value is None or self._convert is None:
            return value
        return self._convert(value)


class _View:
    """A read-only view of one JSON object of a report."""

    _fields: Tuple[str, ...] = ()
    __slots__ = ("_data",)

    def __init__(self, data: Dict[str, Any]):
        self._data = data

    def to_dict(self) -> Dict[str, Any]:
        """This part of the report as plain Python objects (a deep copy)."""
        return json.loads(json.dumps(self._data))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._data == other._data  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # equal by value, so not hashable

    def __repr__(self) -> str:
        shown = []
        for name in self._fields:
            v = self._data.get(name)
            if isinstance(v, (dict, list)):
                continue
            shown.append(f"{name}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _views(cls: Type[_View]) -> Callable[[Any], Tuple[Any, ...]]:
    return lambda items: tuple(cls(x) for x in items)


def _one(cls: Type[_View]) -> Callable[[Any], Any]:
    return lambda x: cls(x)


def _tuple(items: Any) -> Tuple[Any, ...]:
    return tuple(tuple(x) if isinstance(x, list) else x for x in items)


# ---------------------------------------------------------------------------------------------
# analyze


class Prop1(_View):
    """Prop. 1: the sufficient condition ``q = λ_max(E[MᵀM]) <= 1`` for order-2 stability."""

    __slots__ = ()
    value: _Field[float] = _Field("``q = λ_max(E[MᵀM])`` on the reduced coordinates (1 when ``r = 0``).")
    value_full: _Field[float] = _Field(
        "``q`` on the full parameter space: ``max(value, 1)`` when ``r < w`` (flat directions), else ``value``."
    )
    stable: _Field[bool] = _Field("``value <= 1``: the sufficient condition holds, so order 2 is stable.")
    sigma_weight: _Field[float] = _Field("The weight ``p`` of ``Σ`` (``(n − B)/(B(n − 1))`` without replacement, ``1/B`` with).")
    error_bound: _Field[float] = _Field("Rounding-error bound on ``value``.")


class Theorem2(_View):
    """Theorem 2 (eq. 18): ``max_j m_j <= 2^k B^{k−1} / η^k`` with ``m_j = (1/n) Σ_i a_{ij}^{2k}``."""

    __slots__ = ()
    max_moment: _Field[float] = _Field("``max_j m_j``, ``m_j = (1/n) Σ_i a_{ij}^{2k}``.")
    argmax_coordinate: _Field[int] = _Field("The coordinate ``j`` (0-based) attaining the maximum (the first on ties).")
    bound: _Field[float] = _Field("``2^k B^{k−1} / η^k``.")
    ratio: _Field[float] = _Field("``max_moment / bound``.")
    holds: _Field[bool] = _Field("``ratio <= 1`` (up to the library's rounding slack).")


class Corollary1(_View):
    """Corollary 1 (eq. 19): ``(1/n) Σ_i ‖a_i‖_{2k} <= (w/B)^{1/(2k)} sqrt(2B/η)``."""

    __slots__ = ()
    lhs: _Field[float] = _Field("``(1/n) Σ_i ‖a_i‖_{2k}``.")
    rhs: _Field[float] = _Field("``(w/B)^{1/(2k)} sqrt(2B/η)``.")
    ratio: _Field[float] = _Field("``lhs / rhs``.")
    holds: _Field[bool] = _Field("``ratio <= 1`` (up to the library's rounding slack).")


class LanczosReport(_View):
    """Lanczos details of a matrix-free block."""

    __slots__ = ()
    products: _Field[int] = _Field("Operator applications.")
    restarts: _Field[int] = _Field("Thick restarts.")
    termination: _Field[str] = _Field("Why it stopped: ``converged``, ``max-iterations`` or ``zero-iterate``.")
    residual_min: _Field[float] = _Field("Explicit residual of the smallest Ritz pair.")
    residual_max: _Field[float] = _Field("Explicit residual of the largest Ritz pair.")


class Enclosure(_View):
    """The certified enclosure ``[lower, upper]`` of ``λ_max(T_2)`` of a ``clustered`` block.

    ``lower`` is a Rayleigh quotient of the exact operator; ``upper`` a certificate (Sylvester's
    law of inertia on the ``n × n`` capacitance matrix, or Kato–Temple with a certified gap) —
    never a residual. The block's ``lambda_max`` is the midpoint and its ``error_bound`` the width.
    """

    __slots__ = ()
    lower: _Field[float] = _Field("Certified lower bound on ``λ_max(T_2)`` (a Rayleigh quotient, rounding included).")
    upper: _Field[float] = _Field("Certified upper bound on ``λ_max(T_2)``.")
    width: _Field[float] = _Field("``upper − lower``.")
    lambda_min_lower: _Field[float] = _Field("Lower bound on ``λ_min(T_2)`` (the smallest diagonal entry of ``Δ``).")
    lambda_min_upper: _Field[float] = _Field("Upper bound on ``λ_min(T_2)`` (the smallest diagonal entry of ``T_2``).")
    rounds: _Field[int] = _Field("Secular/refinement rounds (each forms one capacitance bound).")
    products: _Field[int] = _Field("Exact operator applications (``T_2`` and ``M(μ)``).")
    buckets: _Field[int] = _Field("Buckets of eigen-indices in the last capacitance bound.")
    termination: _Field[str] = _Field("``converged`` (width reached) or ``max-iterations``.")


class DavidsonReport(_View):
    """What a ``davidson`` block (matrix-free ``j >= 3``) certifies, and how the solve went.

    Rayleigh quotients of the exact operator give a certified lower bound on ``λ_max`` (and, for
    odd ``j``, an upper bound on ``λ_min``); no upper bound on ``λ_max`` is certified, so the
    block's ``error_bound`` is a residual estimate, not an enclosure.
    """

    __slots__ = ()
    certified: _Field[str] = _Field("The certified statement, e.g. ``lambda_max >= lambda_max_lower``.")
    lambda_max_lower: _Field[float] = _Field("Certified lower bound on ``λ_max`` (rounding included).")
    lambda_min_upper: _Field[Optional[float]] = _Field("Certified upper bound on ``λ_min`` (odd ``j``), else ``None``.")
    rounding: _Field[float] = _Field("The rounding bound subtracted from the Rayleigh quotients.")
    residual_max: _Field[float] = _Field("Residual of the top Ritz pair.")
    residual_min: _Field[float] = _Field("Residual of the bottom Ritz pair (odd ``j``).")
    exact_diagonal: _Field[bool] = _Field("Whether the preconditioner is the exact diagonal of ``T_j`` (``j <= 3``).")
    products: _Field[int] = _Field("Operator applications.")
    iterations: _Field[int] = _Field("Davidson iterations.")
    restarts: _Field[int] = _Field("Restarts of the search space.")
    termination: _Field[str] = _Field("``converged`` or ``max-iterations``.")


class InertiaCertificate(_View):
    """The Sylvester-inertia certificate of the ``+1`` side of a block."""

    __slots__ = ()
    lambda_max: _Field[float] = _Field("``λ_max(M(η))``: negative iff no eigenvalue of ``T_j(η)`` exceeds 1.")
    error_bound: _Field[float] = _Field("Error bound on ``lambda_max``.")
    verdict: _Field[str] = _Field("``stable``, ``unstable`` or ``marginal`` (the ``+1`` side only).")


class BlockReport(_View):
    """One block ``T_j^{(b)}`` of the spectrum of ``T_k`` on ``Sym^k(R^w)``."""

    __slots__ = ()
    j: _Field[int] = _Field("The degree ``j`` (0 = the flat block ``T_0 = 1``).")
    dim: _Field[int] = _Field("``dim Sym^j(R^r)``.")
    radius: _Field[float] = _Field("``ρ(T_j^{(b)})``.")
    lambda_min: _Field[float] = _Field("Smallest eigenvalue.")
    lambda_max: _Field[float] = _Field("Largest eigenvalue.")
    error_bound: _Field[float] = _Field("Error bound on each eigenvalue.")
    multiplicity: _Field[int] = _Field("How often the block's spectrum repeats in ``Sym^k(R^w)``: ``C(w − r + k − j − 1, k − j)``.")
    method: _Field[str] = _Field(
        "``dense``, ``matrix-free`` (Lanczos), ``clustered`` (certified enclosure, ``j = 2``) or ``davidson`` (``j >= 3``)."
    )
    lanczos: _Field[Optional[LanczosReport]] = _Field("Lanczos details (matrix-free blocks ``j >= 2``), else ``None``.", _one(LanczosReport))
    inertia: _Field[Optional[InertiaCertificate]] = _Field(
        "The Sylvester-inertia certificate of the ``+1`` side when ``λ_max`` is within its error bound of 1, else ``None``.",
        _one(InertiaCertificate),
    )
    eigenvalues: _Field[Optional[Tuple[float, ...]]] = _Field(
        "All eigenvalues, ascending (``full_spectrum=True``, dense blocks), else ``None``.", tuple, optional=True
    )
    davidson: _Field[Optional[DavidsonReport]] = _Field(
        "What a ``davidson`` block certifies (matrix-free ``j >= 3``), else ``None``.", _one(DavidsonReport), optional=True
    )
    enclosure: _Field[Optional[Enclosure]] = _Field(
        "The certified enclosure of ``λ_max`` (``clustered`` blocks), else ``None``.", _one(Enclosure), optional=True
    )


class ConeReport(_View):
    """The cone check of Theorem 1 (even ``k``) on the top block ``T_k^{(b)}``."""

    __slots__ = ()
    ratio: _Field[float] = _Field("``‖T X_t‖/‖X_t‖`` at the last iterate (a lower bound on the Perron root).")
    iterations: _Field[int] = _Field("Iterations done.")
    residual: _Field[float] = _Field("Relative eigen-residual at the end.")
    termination: _Field[str] = _Field(
        "Why it stopped: ``converged``, ``max-iterations``, ``zero-iterate``, or ``skipped`` (see ``reason``)."
    )
    reason: _Field[Optional[str]] = _Field(
        "Why the check was skipped (e.g. the block radius is certified by the clustered solver), else ``None``.",
        optional=True,
    )
    block_radius: _Field[float] = _Field("``ρ(T_k^{(b)})`` from the eigensolver, for comparison.")
    relative_difference: _Field[float] = _Field("``|ratio − block_radius| / block_radius``.")


class OrderReport(_View):
    """Everything about one order ``k``: Theorem 1's verdict, Theorem 2, Corollary 1."""

    __slots__ = ()
    k: _Field[int] = _Field("The order.")
    spectral_radius: _Field[float] = _Field(
        "``ρ_k`` of ``T_k`` on ``Sym^k(R^w)``: the maximum over the present blocks, including the flat block ``T_0 = 1`` when ``r < w``."
    )
    reduced_radius: _Field[float] = _Field("``max_{1<=j<=k} ρ(T_j^{(b)})`` over the present blocks: what the verdict decides on.")
    error_bound: _Field[float] = _Field("Largest error bound of the blocks ``j >= 1``.")
    verdict: _Field[str] = _Field("Theorem 1: ``stable``, ``unstable`` or ``marginal``.")
    margin: _Field[float] = _Field("``1 − reduced_radius`` (positive when stable).")
    cone_ratio: _Field[Optional[float]] = _Field("The cone ratio for even ``k``, else ``None``.")
    cone: _Field[Optional[ConeReport]] = _Field("Details of the cone check for even ``k``, else ``None``.", _one(ConeReport))
    blocks: _Field[Tuple[BlockReport, ...]] = _Field("The blocks ``j = 0..k`` present in ``Sym^k(R^w)``.", _views(BlockReport))
    theorem2: _Field[Theorem2] = _Field("Theorem 2 (eq. 18) on the original coordinates.", _one(Theorem2))
    corollary1: _Field[Corollary1] = _Field("Corollary 1 (eq. 19).", _one(Corollary1))
    consistent: _Field[bool] = _Field("No consistency finding concerns this order.")


class Finding(_View):
    """An implication of the paper that failed on this input (a counterexample or a bug)."""

    __slots__ = ()
    check: _Field[str] = _Field("The implication, e.g. ``stable=>theorem2`` or ``prop1=>order2``.")
    k: _Field[int] = _Field("The order concerned.")
    message: _Field[str] = _Field("What failed, with the numbers.")


class Consistency(_View):
    """The implications checked on this input."""

    __slots__ = ()
    ok: _Field[bool] = _Field("No finding.")
    findings: _Field[Tuple[Finding, ...]] = _Field("The findings.", _views(Finding))


class ColumnBlock(_View):
    """Where one parameter's columns are in the gradient matrix (per-parameter inputs)."""

    __slots__ = ()
    name: _Field[str] = _Field("The parameter's name (the mapping key, or the pytree path joined by ``\".\"``).")
    shape: _Field[Tuple[int, ...]] = _Field("Its shape without the leading sample axis (``()`` for a scalar parameter).", tuple)
    offset: _Field[int] = _Field("Its first column in the gradient matrix.")
    columns: _Field[int] = _Field("Its number of columns (the product of ``shape``), entries in C order.")


class ReportWarning(_View):
    """A warning about the input attached to a report (the CLI prints it on stderr)."""

    __slots__ = ()
    kind: _Field[str] = _Field("What it is about: ``loss-gradients`` (the rows look like per-sample gradients of the loss, not of the model output).")
    message: _Field[str] = _Field("One line, with the numbers.")


_INPUT_FIELDS_DOC = {
    "column_layout": "For a mapping or pytree input: where each parameter's columns are, in column order; ``None`` for a plain 2-D array.",
    "mean_gradient_ratio": "``‖(1/n) Σ a_i‖ / ((1/n) Σ ‖a_i‖)`` (``None`` when every row is zero): near 0 for per-sample gradients of the loss instead of the model output.",
    "warnings": "Warnings about the input (e.g. rows that look like loss gradients); empty when none.",
}


class _Report(_View):
    """A whole report: the JSON text and the parameter layout of the input."""

    __slots__ = ("_text", "_layout")

    def __init__(self, text: str, layout: Tuple[Parameter, ...] = ()):
        super().__init__(json.loads(text))
        self._text = text
        self._layout = layout

    def to_json(self) -> str:
        """The report as the CLI writes it: pretty JSON with a trailing newline, byte for byte."""
        return self._text

    @property
    def layout(self) -> Tuple[Parameter, ...]:
        """Which columns of the gradient matrix belong to which parameter, in column order (one
        entry named ``""`` for a plain 2-D array). Not part of the JSON."""
        return self._layout


class Report(_Report):
    """The ``analyze`` report: stability of linearized SGD at one learning rate and batch size.

    The JSON is the CLI's ``sgdstab analyze --json`` (``schema_version`` 1).
    """

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``analyze``.")
    tool_version: _Field[str] = _Field("sgdstab version.")
    input: _Field[Optional[str]] = _Field("What the gradients were: the ``source`` argument, or a description of the Python object.")
    n: _Field[int] = _Field("Samples.")
    w: _Field[int] = _Field("Parameters.")
    rank: _Field[int] = _Field("``r = rank(A)``.")
    rank_tolerance: _Field[float] = _Field("Relative rank tolerance ``τ`` used.")
    reduction: _Field[str] = _Field("How the reduced coordinates were obtained: ``identity``, ``column-gram`` or ``row-gram``.")
    gram_eigenvalue_max: _Field[float] = _Field("Largest Gram eigenvalue ``σ_max²``.")
    lr: _Field[float] = _Field("Learning rate ``η``.")
    batch: _Field[int] = _Field("Batch size ``B``.")
    sampling: _Field[str] = _Field("``without-replacement`` or ``with-replacement``.")
    eigensolver: _Field[str] = _Field("Eigensolver used: ``faer`` or ``lapack``.")
    sharpness: _Field[float] = _Field("``λ_max(H)`` (``η*_1 = 2/λ_max(H)``).")
    flatness: _Field[float] = _Field("``Tr H = (1/n) Σ ‖a_i‖²`` (eq. 3).")
    streamed: _Field[bool] = _Field("Whether the gradients were streamed from disk.")
    method: _Field[str] = _Field("The requested operator method: ``auto``, ``dense`` or ``matrix-free``.")
    prop1: _Field[Prop1] = _Field("Prop. 1.", _one(Prop1))
    orders: _Field[Tuple[OrderReport, ...]] = _Field("One entry per requested order, in the order given.", _views(OrderReport))
    consistency: _Field[Consistency] = _Field("Implications checked on this input.", _one(Consistency))
    column_layout: _Field[Optional[Tuple[ColumnBlock, ...]]] = _Field(_INPUT_FIELDS_DOC["column_layout"], _views(ColumnBlock))
    mean_gradient_ratio: _Field[Optional[float]] = _Field(_INPUT_FIELDS_DOC["mean_gradient_ratio"])
    warnings: _Field[Tuple[ReportWarning, ...]] = _Field(_INPUT_FIELDS_DOC["warnings"], _views(ReportWarning))


# ---------------------------------------------------------------------------------------------
# thresholds


class Boundary(_View):
    """One boundary point of ``S_k`` with its error bound."""

    __slots__ = ()
    lr: _Field[float] = _Field("The learning rate.")
    error: _Field[float] = _Field("Error bound: ``lr`` is within this of a point where the exact operator changes stability.")
    bracket: _Field[Tuple[float, float]] = _Field("The bracket ``(lo, hi)``: stable at one end, unstable at the other.", tuple)
    verified: _Field[bool] = _Field("The crossing end of the spectrum has certified opposite signs at the two ends of the bracket.")
    block: _Field[int] = _Field("The block ``j`` whose eigenvalue crosses.")
    crossing: _Field[Optional[str]] = _Field("``+1`` or ``-1``: which end of the spectrum crosses.")
    end: _Field[str] = _Field("``upper`` (end of a stable interval) or ``lower`` (start of one).")


class ImpliedLimit(_View):
    """A learning-rate limit implied by a moment bound, compared with ``η*_k``."""

    __slots__ = ()
    lr_limit: _Field[Optional[float]] = _Field("The largest ``η`` the bound allows (``None``: no limit).")
    threshold_over_limit: _Field[Optional[float]] = _Field("``η*_k / lr_limit`` (<= 1 if the paper is right).")
    ratio_at_threshold: _Field[Optional[float]] = _Field("The bound's own ratio at ``η = η*_k``.")
    holds_at_threshold: _Field[Optional[bool]] = _Field("The bound holds at ``η*_k``.")


class MulayoffMichaeli(_View):
    """The Mulayoff–Michaeli necessary bounds on ``η*_2`` (``k = 2``)."""

    __slots__ = ()
    sigma_weight: _Field[float] = _Field("``p``: ``(n − B)/(B(n − 1))`` without replacement, ``1/B`` with.")
    trace_bound: _Field[float] = _Field("``2 Tr H / ((1−p)‖H‖_F² + (p/n) Σ ‖H_i‖_F²)``.")
    top_eigenvector_bound: _Field[float] = _Field("``2λ / ((1−p)λ² + (p/n) Σ (vᵀH_iv)²)``, ``v`` the top eigenvector of ``H``.")
    threshold_over_trace_bound: _Field[Optional[float]] = _Field("``η*_2 / trace_bound`` (<= 1).")
    threshold_over_top_eigenvector_bound: _Field[Optional[float]] = _Field("``η*_2 / top_eigenvector_bound`` (<= 1).")


class OrderThreshold(_View):
    """``S_k`` and ``η*_k`` for one order, with the limits implied by Theorem 2 and Corollary 1."""

    __slots__ = ()
    k: _Field[int] = _Field("The order ``k``.")
    lr_threshold: _Field[Optional[float]] = _Field("``η*_k``; ``None`` if the first stable interval is unbounded.")
    lr_threshold_error: _Field[Optional[float]] = _Field("Error bound on ``η*_k``.")
    stable_set: _Field[Tuple[Tuple[float, Optional[float]], ...]] = _Field(
        "The intervals ``(lo, hi)`` of ``S_k``, ascending (``hi = None``: unbounded; ``lo = 0`` stands for ``η > 0``).", _tuple
    )
    stable_set_complete: _Field[bool] = _Field("``False`` when only the first interval was computed.")
    method: _Field[str] = _Field("``linearization``, ``lanczos`` or ``bisection``.")
    boundaries: _Field[Tuple[Boundary, ...]] = _Field("Every finite boundary of ``stable_set``, ascending.", _views(Boundary))
    blocks: _Field[Tuple[int, ...]] = _Field("The blocks ``j`` present in ``Sym^k(R^w)`` (the flat block 0 excluded).", tuple)
    candidates: _Field[int] = _Field("Candidate roots found by the linearization (0 for bisection).")
    confirmed_candidates: _Field[int] = _Field("Candidates that passed the closure test.")
    theorem2: _Field[ImpliedLimit] = _Field("The Theorem 2 (eq. 18) implied limit.", _one(ImpliedLimit))
    corollary1: _Field[ImpliedLimit] = _Field("The Corollary 1 (eq. 19) implied limit.", _one(ImpliedLimit))
    mulayoff_michaeli: _Field[Optional[MulayoffMichaeli]] = _Field("``k = 2`` only: the necessary bounds on ``η*_2``.", _one(MulayoffMichaeli))


class Thresholds(_Report):
    """The ``thresholds`` report: the exact stable learning-rate sets ``S_k`` and ``η*_k``.

    The JSON is the CLI's ``sgdstab threshold --json`` (``schema_version`` 1).
    """

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``threshold``.")
    tool_version: _Field[str] = _Field("sgdstab version.")
    input: _Field[Optional[str]] = _Field("What the gradients were: the ``source`` argument, or a description of the Python object.")
    n: _Field[int] = _Field("Samples.")
    w: _Field[int] = _Field("Parameters.")
    rank: _Field[int] = _Field("``r = rank(A)``.")
    batch: _Field[int] = _Field("Batch size ``B``.")
    sampling: _Field[str] = _Field("``without-replacement`` or ``with-replacement``.")
    eigensolver: _Field[str] = _Field("Eigensolver used.")
    sharpness: _Field[float] = _Field("``λ_max(H)``.")
    gd_threshold: _Field[Optional[float]] = _Field("``2/λ_max(H)``, the gradient-descent threshold ``= η*_1`` (``None`` if ``H = 0``).")
    orders: _Field[Tuple[OrderThreshold, ...]] = _Field("One entry per requested order.", _views(OrderThreshold))
    column_layout: _Field[Optional[Tuple[ColumnBlock, ...]]] = _Field(_INPUT_FIELDS_DOC["column_layout"], _views(ColumnBlock))
    mean_gradient_ratio: _Field[Optional[float]] = _Field(_INPUT_FIELDS_DOC["mean_gradient_ratio"])
    warnings: _Field[Tuple[ReportWarning, ...]] = _Field(_INPUT_FIELDS_DOC["warnings"], _views(ReportWarning))


# ---------------------------------------------------------------------------------------------
# diagram


class DiagramRow(_View):
    """One ``(k, B)`` point of the stability diagram."""

    __slots__ = ()
    k: _Field[int] = _Field("The order.")
    batch: _Field[int] = _Field("The batch size.")
    lr_threshold: _Field[Optional[float]] = _Field("``η*_k(B)`` (``None``: unbounded).")
    lr_threshold_error: _Field[Optional[float]] = _Field("Its error bound.")
    method: _Field[str] = _Field("``linearization``, ``lanczos`` or ``bisection``.")
    theorem2_limit: _Field[Optional[float]] = _Field("``2 B^{(k−1)/k} / (max_j m_j)^{1/k}`` (Theorem 2).")
    corollary1_limit: _Field[Optional[float]] = _Field("``2 B (w/B)^{1/k} / L²`` (Corollary 1).")
    mm_trace_bound: _Field[Optional[float]] = _Field("``k = 2``: the trace bound on ``η*_2``.")
    mm_top_eigenvector_bound: _Field[Optional[float]] = _Field("``k = 2``: the top-eigenvector bound on ``η*_2``.")


class Diagram(_Report):
    """The (η, B) stability diagram: ``η*_k(B)`` for every order and batch size.

    The JSON is the CLI's ``sgdstab diagram --json`` (``schema_version`` 1).
    """

    __slots__ = ()
    schema_version: _Field[int] = _Field("Schema version of the JSON.")
    command: _Field[str] = _Field("Always ``diagram``.")
    tool_version: _Field[str] = _Field("sgdstab version.")
    input: _Field[Optional[str]] = _Field("What the gradients were: the ``source`` argument, or a description of the Python object.")
    n: _Field[int] = _Field("Samples.")
    w: _Field[int] = _Field("Parameters.")
    rank: _Field[int] = _Field("``r = rank(A)``.")
    sampling: _Field[str] = _Field("``without-replacement`` or ``with-replacement``.")
    orders: _Field[Tuple[int, ...]] = _Field("The orders, ascending.", tuple)
    batches: _Field[Tuple[int, ...]] = _Field("The batch sizes, ascending.", tuple)
    rows: _Field[Tuple[DiagramRow, ...]] = _Field("One row per ``(k, B)``, sorted by ``k`` then ``B``.", _views(DiagramRow))

    def threshold(self, k: int, batch: int) -> Optional[float]:
        """``η*_k(B)`` from the table (``None`` if unbounded); ``KeyError`` if not computed."""
        for row in self.rows:
            if row.k == k and row.batch == batch:
                return row.lr_threshold
        raise KeyError((k, batch))
