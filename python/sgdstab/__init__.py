"""sgdstab: exact linear stability of SGD at interpolating minima (Ma & Ying, NeurIPS 2021).

Given per-sample gradients ``a_i = ∇_W f(x_i, W*)`` at a minimum, a learning rate ``η``, a batch
size ``B`` and orders ``k``, sgdstab builds the batch-averaged moment operator ``T_k^{η,B}`` of
eq. (16) exactly — the expectation over all ``C(n, B)`` batches in closed form — and decides
Theorem 1 (is the ``k``-th moment of linearized SGD bounded?), evaluates Prop. 1, Theorem 2 and
Corollary 1, and finds the exact stable learning-rate sets ``S_k`` and thresholds ``η*_k``.

Entry points
------------
analyze(grads, lr, batch, orders=(1, 2), sampling="without", **options) -> Report
thresholds(grads, batch, orders=(1, 2), sampling="without", **options) -> Thresholds
diagram(grads, orders=(1, 2), batches=None, sampling="without", **options) -> Diagram
sobolev(bundle, *, orders=(1, 2), lr=None, batch=None) -> Sobolev        (Section 4)
generalization(bundle, *, orders=(1, 2), model=None, ...) -> Generalization (Section 5)
figure1(runs) -> Figure1                                               (Figure 1)
write_bundle(out, grads, input_grads, X, y, *, first_layer=None, ...) -> str

A *network bundle* is the folder Sections 4 and 5 read: per-sample parameter and input
gradients, inputs, targets, the first-layer weight, the training ``η``, ``B`` and sampling
(``sgdstab.jax.export_network``, ``sgdstab.torch.export_network`` or :func:`write_bundle` write
one; ``sgdstab train --export`` too).

``grads`` is a 2-D array (rows = samples; NumPy float64/float32 read without a copy, also
strided and Fortran-ordered), a mapping of per-parameter arrays with a leading sample axis (the
output of ``torch.func.vmap(torch.func.grad(f))``, kept in insertion order), a nested pytree of
them (``jax.vmap(jax.grad(f))``, flattened in ``jax.tree_util`` order, names joined by ``"."``),
or anything with ``__array__`` / ``__dlpack__``. Every result has typed attributes and
``to_dict()`` / ``to_json()`` equal to the CLI's JSON.

The computation runs with the GIL released; Ctrl-C raises ``KeyboardInterrupt``. Optional helpers
``sgdstab.jax.per_sample_gradients`` and ``sgdstab.torch.per_sample_gradients`` import their
framework only when called; importing ``sgdstab`` imports neither.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._api import analyze, diagram, thresholds
from ._bundle import write_bundle
from ._input import Parameter, flatten_pytree
from ._native import __version__
from ._results import (
    BlockReport,
    Boundary,
    ColumnBlock,
    ConeReport,
    Consistency,
    Corollary1,
    DavidsonReport,
    Diagram,
    DiagramRow,
    Enclosure,
    Finding,
    ImpliedLimit,
    InertiaCertificate,
    LanczosReport,
    MulayoffMichaeli,
    OrderReport,
    OrderThreshold,
    Prop1,
    Report,
    ReportWarning,
    Theorem2,
    Thresholds,
)
from ._sections import (
    Figure1,
    Figure1Panel,
    FirstLayer,
    Generalization,
    Sobolev,
    SobolevOrder,
    figure1,
    generalization,
    sobolev,
)

__all__ = [
    "__version__",
    "analyze",
    "thresholds",
    "diagram",
    "sobolev",
    "generalization",
    "figure1",
    "write_bundle",
    "Sobolev",
    "SobolevOrder",
    "FirstLayer",
    "Figure1",
    "Figure1Panel",
    "Generalization",
    "flatten_pytree",
    "Parameter",
    "Report",
    "OrderReport",
    "BlockReport",
    "ConeReport",
    "LanczosReport",
    "InertiaCertificate",
    "Enclosure",
    "DavidsonReport",
    "Prop1",
    "Theorem2",
    "Corollary1",
    "Consistency",
    "Finding",
    "ColumnBlock",
    "ReportWarning",
    "Thresholds",
    "OrderThreshold",
    "Boundary",
    "ImpliedLimit",
    "MulayoffMichaeli",
    "Diagram",
    "DiagramRow",
]

_HELPERS = ("jax", "torch")


def __getattr__(name: str) -> Any:
    # `sgdstab.jax` / `sgdstab.torch` on first use; the frameworks themselves are imported only
    # when a helper is called
    if name in _HELPERS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + list(_HELPERS))
