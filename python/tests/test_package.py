"""The package: lazy framework imports, stubs and markers shipped, stubs matching the module."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import sgdstab
from sgdstab import _native

PACKAGE = Path(sgdstab.__file__).parent


def run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_sgdstab_imports_no_framework():
    code = (
        "import sys, sgdstab, sgdstab.jax, sgdstab.torch\n"
        "sgdstab.jax.per_sample_gradients; sgdstab.torch.per_sample_gradients\n"
        "print(sorted(m for m in ('jax', 'torch', 'jaxlib', 'tqdm') if m in sys.modules))"
    )
    assert run(code) == "[]"


def test_helpers_are_attributes_on_first_use():
    assert run("import sgdstab; print(sgdstab.jax.__name__, sgdstab.torch.__name__)") == "sgdstab.jax sgdstab.torch"


def test_typing_markers_ship_with_the_package():
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_native.pyi").exists()


def test_the_stub_matches_the_extension_module():
    tree = ast.parse((PACKAGE / "_native.pyi").read_text())
    stubbed = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    native = {n for n in dir(_native) if not n.startswith("_") and callable(getattr(_native, n))}
    assert set(stubbed) == native
    for name, f in stubbed.items():
        params = [a.arg for a in f.args.args] + [a.arg for a in f.args.kwonlyargs]
        assert list(inspect.signature(getattr(_native, name)).parameters) == params, name
    assert isinstance(_native.__version__, str)


def test_the_python_signatures_match_the_documented_ones():
    sig = inspect.signature(sgdstab.analyze)
    assert list(sig.parameters)[:5] == ["grads", "lr", "batch", "orders", "sampling"]
    assert sig.parameters["orders"].default == (1, 2)
    assert sig.parameters["sampling"].default == "without"
    assert list(inspect.signature(sgdstab.thresholds).parameters)[:4] == ["grads", "batch", "orders", "sampling"]
    assert list(inspect.signature(sgdstab.diagram).parameters)[:4] == ["grads", "orders", "batches", "sampling"]


def test_the_options_carry_the_library_names():
    names = {"rank_tolerance", "cone_tolerance", "cone_max_iterations", "lanczos_tolerance", "full_spectrum", "eigensolver", "method", "max_dense_dim", "memory_budget"}
    assert names <= set(inspect.signature(sgdstab.analyze).parameters)
    for fn in (sgdstab.thresholds, sgdstab.diagram):
        assert {"rank_tolerance", "lanczos_tolerance", "max_companion_rows", "eigensolver", "method"} <= set(inspect.signature(fn).parameters)
