"""Type stubs of the extension module ``sgdstab._native`` (Rust, PyO3): glue between the Python
API in :mod:`sgdstab` and the library. Each function returns the report as the CLI's JSON text.
The arrays are read in place, borrowed read-only for the duration of the call (do not write to
them from another thread meanwhile); only an array with a negative stride, or trailing axes that
do not flatten to one stride, is copied once in its own dtype."""

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
    rank_tolerance: Optional[float],
    eigensolver: Optional[str],
    method: str,
    cone_tolerance: float,
    cone_max_iterations: Optional[int],
    lanczos_tolerance: float,
    max_dense_dim: int,
    full_spectrum: bool,
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
    rank_tolerance: Optional[float],
    eigensolver: Optional[str],
    max_dense_dim: int,
    lanczos_tolerance: float,
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
    rank_tolerance: Optional[float],
    eigensolver: Optional[str],
    max_dense_dim: int,
    lanczos_tolerance: float,
    memory_budget: Optional[int],
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...

# network bundles, Sections 4 and 5, Figure 1 (python/src/sections.rs)
def write_bundle(out: str, manifest: str, grads: np.ndarray, arrays: Sequence[Tuple[str, np.ndarray]]) -> None: ...
def sobolev(
    bundle: str,
    *,
    orders: List[int],
    lr: Optional[float],
    batch: Optional[int],
    stability: bool,
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...
def generalization(
    bundle: str,
    *,
    orders: List[int],
    lr: Optional[float],
    batch: Optional[int],
    deltas: Optional[List[float]],
    grid: int,
    samples: int,
    ascent_steps: int,
    seed: int,
    test_n: int,
    stability: bool,
    source: Optional[str],
    progress: Optional[Any],
) -> str: ...
def bundle_g_values(bundle: str) -> Tuple[Optional[float], Optional[int], float, float]: ...
def figure1(
    runs: Sequence[Tuple[float, int, float, float, Optional[str]]],
    *,
    fixed_batch: Optional[int],
    fixed_lr: Optional[float],
) -> str: ...
