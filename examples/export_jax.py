#!/usr/bin/env python3
"""Per-sample gradients of a JAX model, exported for sgdstab.

    pip install jax numpy               (safetensors too for a .safetensors output)
    python3 examples/export_jax.py grads.npz        # or grads.safetensors
    sgdstab analyze grads.npz --lr 0.5 --batch 4 --order 1..3

Fits a small tanh network to a teacher on 16 points (full-batch gradient descent, close to
interpolation), then writes a_i = grad_W f(x_i, W*) -- the gradient of the model OUTPUT, not of the
loss, which vanishes at an interpolating minimum -- as one array per parameter with the sample
axis first. sgdstab concatenates them in the file's order (.npz) or by name (safetensors).
"""
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # float64 end to end (float32 works too)

out = sys.argv[1] if len(sys.argv) > 1 else "grads.npz"
k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
n, d, h = 16, 3, 8
X = jax.random.normal(k1, (n, d))
Y = jnp.sin(X @ jnp.array([1.0, -0.5, 0.25]))
params = {
    "layer1": {"w": jax.random.normal(k2, (h, d)) / jnp.sqrt(d), "b": jnp.zeros(h)},
    "layer2": {"w": jax.random.normal(k3, (h,)) / jnp.sqrt(h), "b": jnp.zeros(())},
}


def f(p, x):  # the scalar model output for one input x of shape (d,)
    return p["layer2"]["w"] @ jnp.tanh(p["layer1"]["w"] @ x + p["layer1"]["b"]) + p["layer2"]["b"]


def loss(p):
    return 0.5 * jnp.mean((jax.vmap(f, in_axes=(None, 0))(p, X) - Y) ** 2)


step = jax.jit(lambda p: jax.tree_util.tree_map(lambda a, g: a - 0.5 * g, p, jax.grad(loss)(p)))
for _ in range(3000):
    params = step(params)
print(f"training loss {float(loss(params)):.3e}", file=sys.stderr)

# --- the export recipe ---------------------------------------------------------------------
g = jax.vmap(jax.grad(f), in_axes=(None, 0))(params, X)     # same tree as params, (n, *shape)
leaves = jax.tree_util.tree_flatten_with_path(g)[0]
arrays = {jax.tree_util.keystr(p, simple=True, separator="."): np.asarray(a) for p, a in leaves}
if out.endswith(".safetensors"):
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(a) for k, a in arrays.items()}, out)
else:
    np.savez(out, **arrays)                                   # layer1.b, layer1.w, layer2.b, ...
print(f"wrote {out}: " + ", ".join(f"{k} {a.shape}" for k, a in arrays.items()), file=sys.stderr)
