"""Shared fixtures: the repository root, the CLI binary, small gradient matrices."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def _target_dirs() -> List[Path]:
    dirs = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]))
    dirs.append(ROOT / "target")
    return dirs


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `sgdstab` binary of this checkout: `$SGDSTAB_CLI` if set, else built (or found up to
    date) by `cargo build --bin sgdstab` in the repository root (the default features, so the
    CLI's default eigensolver is faer, like the extension's); without cargo, an existing
    target/{debug,release}/sgdstab. Fails (never skips) when none can be had."""
    if os.environ.get("SGDSTAB_CLI"):
        return Path(os.environ["SGDSTAB_CLI"])
    cargo = shutil.which("cargo")
    if cargo:
        out = subprocess.run(
            [cargo, "build", "--quiet", "--bin", "sgdstab", "--message-format", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            pytest.fail(f"cargo build --bin sgdstab failed:\n{out.stderr[-4000:]}")
        for line in out.stdout.splitlines():
            msg = json.loads(line)
            if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "sgdstab":
                return Path(msg["executable"])
    for d in _target_dirs():
        for profile in ("debug", "release"):
            p = d / profile / "sgdstab"
            if p.exists():
                return p
    pytest.fail("no sgdstab CLI: install cargo, or set SGDSTAB_CLI to the binary")


def run_cli(cli: Path, *args: Any, cwd: Path) -> str:
    out = subprocess.run([str(cli), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, f"sgdstab {' '.join(map(str, args))} failed: {out.stderr}"
    return out.stdout


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20211206)


def without_input(d: Dict[str, Any]) -> Dict[str, Any]:
    """A report without its `input` field (which names where the data came from)."""
    return {k: v for k, v in d.items() if k != "input"}


def numbers_only(d: Dict[str, Any]) -> Dict[str, Any]:
    """A report without `input` and `column_layout` (which say how the data was given)."""
    return {k: v for k, v in d.items() if k not in ("input", "column_layout")}


@pytest.fixture
def small(rng: np.random.Generator) -> np.ndarray:
    """30 samples, 6 parameters, float64, C order."""
    return rng.standard_normal((30, 6))


def assert_close(a: Any, b: Any, path: str = "report", rel: float = 1e-10, abs_: float = 1e-13) -> None:
    """Two parsed reports equal key by key: strings, booleans, integers and nulls exactly, floats
    to rounding (`rel` relative, `abs_` absolute for values near 0 such as error bounds). For
    the same values read through different paths (a row-major f64 array takes the library's
    in-memory path; float32, strided and per-parameter views its block path, whose Gram matrix
    sums in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}", rel, abs_)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{path}[{i}]", rel, abs_)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=abs_), f"{path}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"
