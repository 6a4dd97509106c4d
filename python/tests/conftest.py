"""Shared fixtures: the repository root, the CLI binary, small gradient matrices."""

from __future__ import annotations

import json
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


@pytest.fixture
def small(rng: np.random.Generator) -> np.ndarray:
    """30 samples, 6 parameters, float64, C order."""
    return rng.standard_normal((30, 6))
