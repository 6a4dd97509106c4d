#!/usr/bin/env python3
"""Per-sample gradients of a PyTorch model (torch.func), exported for sgdstab.

    pip install torch numpy              (safetensors too for a .safetensors output)
    python3 examples/export_torch.py grads.npz        # or grads.safetensors
    sgdstab analyze grads.npz --lr 0.5 --batch 4 --order 1..3

Fits a small tanh network to a teacher on 16 points (full-batch gradient descent, close to
interpolation), then writes a_i = grad_W f(x_i, W*) -- the gradient of the model OUTPUT, not of the
loss, which vanishes at an interpolating minimum -- as one array per parameter with the sample
axis first. sgdstab concatenates them in the file's order (.npz: model.named_parameters() order)
or by name (safetensors).
"""
import sys

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)  # float64 end to end (float32 works too)

out = sys.argv[1] if len(sys.argv) > 1 else "grads.npz"
n, d, h = 16, 3, 8
X = torch.randn(n, d)
Y = torch.sin(X @ torch.tensor([1.0, -0.5, 0.25]))
model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, 1))

opt = torch.optim.SGD(model.parameters(), lr=0.5)
for _ in range(3000):
    opt.zero_grad()
    loss = 0.5 * ((model(X).squeeze(1) - Y) ** 2).mean()
    loss.backward()
    opt.step()
print(f"training loss {loss.item():.3e}", file=sys.stderr)

# --- the export recipe ---------------------------------------------------------------------
params = {k: p.detach() for k, p in model.named_parameters()}


def f(p, x):  # the scalar model output for one input x of shape (d,)
    return functional_call(model, p, (x.unsqueeze(0),)).squeeze()


g = vmap(grad(f), in_dims=(None, 0))(params, X)               # {name: (n, *param.shape)}
if out.endswith(".safetensors"):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in g.items()}, out)
else:
    np.savez(out, **{k: v.numpy() for k, v in g.items()})     # 0.weight, 0.bias, 2.weight, ...
print(f"wrote {out}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in g.items()), file=sys.stderr)
