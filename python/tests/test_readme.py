"""The README's Python examples run as printed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT


def examples():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Python\n"):]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_a_numpy_and_a_jax_example_of_five_lines():
    blocks = examples()
    assert len(blocks) == 2
    assert [len(b.strip().splitlines()) for b in blocks] == [5, 5]


@pytest.mark.parametrize("index", [0, 1])
def test_the_readme_examples_run(index):
    code = examples()[index]
    if "jax" in code:
        pytest.importorskip("jax")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "stable" in out.stdout
