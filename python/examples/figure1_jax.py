"""Figure 1 of Ma & Ying (2021) with JAX: ReLU networks trained by SGD on the UCI digits, one
network bundle per run, and sgdstab.figure1 over the bundles.

Each run trains a fresh ``64-h-1`` ReLU network on the first ``n`` digits images (target ``+1``
for an even digit, ``-1`` for an odd one) with SGD on ``(1/2n) Σ (f − y)²`` (batches: uniform
``B``-subsets, eq. 15), until the training loss is below the threshold or the step budget ends,
then writes its bundle (``sgdstab.jax.export_network``). The learning-rate panel varies ``η`` at
``B = 20``, the batch-size panel ``B`` at ``η = 0.1``.

    python python/examples/figure1_jax.py --out figure1.json --plot figure1.png
    python python/examples/figure1_jax.py --small --out figure1.json   # the CI size (seconds)

Needs jax (CPU is fine), numpy, and matplotlib for ``--plot``. Run from anywhere: the digits are
read from the repository's ``fixtures/digits``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

LRS = (0.02, 0.05, 0.1, 0.2)  # at B = 20
BATCHES = (5, 10, 20, 50)  # at η = 0.1


def digits(n: int):
    """The first ``n`` digits images in [0, 1]^64 and ±1 parity targets."""
    images = np.load(ROOT / "fixtures" / "digits" / "digits_images.npy").astype(np.float64) / 16.0
    labels = np.load(ROOT / "fixtures" / "digits" / "digits_labels.npy")
    y = np.where(labels % 2 == 0, 1.0, -1.0)
    return images[:n], y[:n]


def init(key, d: int, h: int):
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(key)
    return [
        {"w": jax.random.normal(k1, (d, h)) * jnp.sqrt(2.0 / d), "b": jnp.zeros(h)},
        {"w": jax.random.normal(k2, (h,)) * jnp.sqrt(1.0 / h), "b": jnp.zeros(())},
    ]


def f(params, x):
    """The network's scalar output for one input ``x`` (64,)."""
    import jax.numpy as jnp

    h = jnp.maximum(x @ params[0]["w"] + params[0]["b"], 0.0)
    return h @ params[1]["w"] + params[1]["b"]


def train(X, y, lr: float, batch: int, seed: int, steps: int, threshold: float, chunk: int = 500):
    """SGD of eq. (7): ``W ← W − η ∇ (1/2B) Σ_{i ∈ batch} (f(x_i) − y_i)²``, batches drawn as
    uniform ``B``-subsets, in jitted chunks of steps until the loss is below ``threshold``."""
    import jax
    import jax.numpy as jnp

    n = len(X)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    params = init(jax.random.PRNGKey(seed), X.shape[1], HIDDEN)
    batched = jax.vmap(f, in_axes=(None, 0))

    def loss(p, xb, yb):
        r = batched(p, xb) - yb
        return 0.5 * jnp.mean(r * r)

    @jax.jit
    def run(p, key):
        def step(p, k):
            idx = jax.random.choice(k, n, (batch,), replace=False)
            g = jax.grad(loss)(p, Xj[idx], yj[idx])
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), None

        p, _ = jax.lax.scan(step, p, jax.random.split(key, chunk))
        return p, loss(p, Xj, yj)

    key = jax.random.PRNGKey(seed + 1_000_003 * batch)
    done = 0
    current = float(loss(params, Xj, yj))
    while done < steps and current > threshold:
        key, sub = jax.random.split(key)
        params, value = run(params, sub)
        current = float(value)
        done += chunk
    return params, done, current


HIDDEN = 32


def main(argv=None) -> int:
    global HIDDEN
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="the CI size: 64 images, 16 hidden units, 2000 steps")
    ap.add_argument("--n", type=int, default=200, help="training images")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per setting")
    ap.add_argument("--steps", type=int, default=40_000, help="SGD step budget per run")
    ap.add_argument("--threshold", type=float, default=1e-4, help="training-loss threshold")
    ap.add_argument("--bundles", type=Path, default=None, help="folder for the bundles (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=None, help="write the figure1 JSON here")
    ap.add_argument("--plot", type=Path, default=None, help="draw the two panels here (.png/.svg)")
    a = ap.parse_args(argv)
    if a.small:
        a.n, a.seeds, a.steps, a.threshold, HIDDEN = 64, 2, 2000, 1e-3, 16

    import jax

    jax.config.update("jax_enable_x64", True)
    import sgdstab

    X, y = digits(a.n)
    settings = sorted({(lr, 20) for lr in LRS} | {(0.1, b) for b in BATCHES})
    tmp = None
    root = a.bundles
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="figure1-")
        root = Path(tmp.name)
    folders = []
    t0 = time.time()
    for lr, batch in settings:
        for seed in range(a.seeds):
            params, steps, final = train(X, y, lr, batch, seed, a.steps, a.threshold)
            out = root / f"lr{lr:g}_B{batch}_seed{seed}"
            sgdstab.jax.export_network(
                f, params, X, y, first_layer="0.w", out=out, lr=lr, batch=batch, sampling="without"
            )
            folders.append(out)
            print(f"  η = {lr:<5g} B = {batch:<3d} seed {seed}: {steps:6d} steps, loss {final:.2e}", file=sys.stderr)
    fig = sgdstab.figure1(folders)
    print(f"{len(folders)} networks in {time.time() - t0:.1f} s", file=sys.stderr)
    for p in fig.panels:
        r = "n/a" if p.pearson is None else f"{p.pearson:.4f}"
        print(f"{p.panel:>14}: {len(p.runs):2d} runs, Pearson r(g_W, g_x) = {r}")
    if a.out is not None:
        a.out.write_text(fig.to_json())
    if a.plot is not None:
        fig.figure(title=f"Figure 1 (JAX, digits, n = {a.n})").savefig(a.plot)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
