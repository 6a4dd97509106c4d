"""Type stubs of the extension module ``sgdstab._native`` (Rust, PyO3): glue between the Python
API in :mod:`sgdstab` and the library. Each function returns the report as the CLI's JSON text.
The arrays are borrowed read-only for the duration of the call (do not write to them from
another thread meanwhile)."""

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

__version__: str

def analyze(
    kind: str,
    blocks: Sequence[Tuple[str, np.ndarray]],
    *,
    lr: float,
    batch: int,
    orders: List[int],
    sampling: str,
    rank_tol: Optional[float],
    eigensolver: Optional[str],
    method: str,
    cone_tol: float,
    cone_max_iter: Optional[int],
    lanczos_tol: float,
    max_dense_dim: int,
    spectrum: bool,
    memory_budget: Optional[int],
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...
def thresholds(
    kind: str,
    blocks: Sequence[Tuple[str, np.ndarray]],
    *,
    batch: int,
    orders: List[int],
    sampling: str,
    method: str,
    max_companion_rows: int,
    rank_tol: Optional[float],
    eigensolver: Optional[str],
    max_dense_dim: int,
    memory_budget: Optional[int],
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...
def diagram(
    kind: str,
    blocks: Sequence[Tuple[str, np.ndarray]],
    *,
    orders: List[int],
    batches: Optional[List[int]],
    sampling: str,
    method: str,
    max_companion_rows: int,
    rank_tol: Optional[float],
    eigensolver: Optional[str],
    max_dense_dim: int,
    memory_budget: Optional[int],
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...
