"""Per-sample gradients with PyTorch (``torch.func``), ready for :func:`sgdstab.analyze`, and a
PyTorch model as a network bundle (:func:`export_network`, for :func:`sgdstab.sobolev`).

PyTorch is imported when a function is called, not when this module is.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np

from ._export_torch import export_network

DEFAULT_CHUNK_SIZE = 1024


def per_sample_gradients(
    model: Any,
    X: Any,
    targets: Any = None,
    loss_fn: Optional[Callable[[Any, Any], Any]] = None,
    *,
    chunk_size: Optional[int] = DEFAULT_CHUNK_SIZE,
) -> Dict[str, np.ndarray]:
    """``a_i = ∇_W f(x_i, W)`` for every sample, one array per parameter, leading axis ``n``.

    Uses ``torch.func.vmap(torch.func.grad(...))`` over ``torch.func.functional_call``, in
    chunks of ``chunk_size`` samples, with the model in eval mode (dropout off, batch-norm
    statistics frozen; its mode is restored afterwards) on the CPU: parameters, buffers and
    samples are copied to the CPU and made contiguous, the model itself is not moved. bfloat16
    and float16 models are differentiated in float32 (their weights widen exactly); float64 stays
    float64.

    Parameters
    ----------
    model : torch.nn.Module
        The network at the minimum ``W*``.
    X : tensor or array_like
        The samples, leading axis ``n``; each sample is fed as a batch of one (``x[None]``).
    targets : tensor or array_like, optional
        Per-sample targets for ``loss_fn`` (leading axis ``n``).
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar`` on a batch of one; without it the model's output
        itself is differentiated and must be a single number per sample (the paper's
        ``a_i = ∇_W f(x_i, W*)``).
    chunk_size : int or None, default 1024
        Samples per ``vmap`` call; ``None``: all at once.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{name: (n, *param.shape)}`` in ``model.named_parameters()`` order (parameters with
        ``requires_grad``), float32 or float64 — what :func:`sgdstab.analyze` takes as ``grads``.
    """
    import torch  # type: ignore[import-not-found]
    from torch.func import functional_call, grad, vmap  # type: ignore[import-not-found]

    def compute_dtype(t: "torch.Tensor") -> "torch.dtype":
        return torch.float64 if t.dtype == torch.float64 else torch.float32

    named = [(k, v) for k, v in model.named_parameters() if v.requires_grad]
    if not named:
        raise ValueError("model: no parameter requires grad")
    dtype = compute_dtype(named[0][1])
    cpu = torch.device("cpu")
    params = {k: v.detach().to(cpu, dtype).contiguous() for k, v in named}
    def constant(t: "torch.Tensor") -> "torch.Tensor":
        t = t.detach().to(cpu)
        return (t.to(dtype) if t.is_floating_point() else t).contiguous()

    # buffers and frozen parameters: constants, on the CPU in the same dtype
    buffers = {k: constant(b) for k, b in model.named_buffers()}
    buffers.update({k: constant(v) for k, v in model.named_parameters() if not v.requires_grad})
    xs = torch.as_tensor(X).detach().to(cpu)
    if xs.is_floating_point():
        xs = xs.to(dtype)
    xs = xs.contiguous()
    if xs.dim() < 1:
        raise ValueError("X: needs a leading sample axis")
    n = xs.shape[0]
    ys = None
    if targets is not None:
        ys = torch.as_tensor(targets).detach().to(cpu)
        if ys.is_floating_point():
            ys = ys.to(dtype)
        ys = ys.contiguous()
        if ys.dim() < 1 or ys.shape[0] != n:
            raise ValueError(f"targets: leading axis {tuple(ys.shape)[:1]} does not match X's {n}")
    if targets is not None and loss_fn is None:
        raise ValueError("targets: given without loss_fn")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size = {chunk_size!r}: must be an integer >= 1 or None")

    def one(p: Dict[str, Any], x: Any, y: Any) -> Any:
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        if loss_fn is not None:
            return loss_fn(out, y.unsqueeze(0)).reshape(())
        if out.numel() != 1:
            raise ValueError(
                f"model: the output has {out.numel()} values per sample; give loss_fn to reduce it "
                "to one number"
            )
        return out.reshape(())

    per_sample = vmap(grad(one), in_dims=(None, 0, 0 if ys is not None else None))
    step = n if chunk_size is None else chunk_size
    was_training = model.training
    model.eval()
    try:
        parts: Dict[str, list] = {k: [] for k in params}
        for start in range(0, max(n, 1), max(step, 1)):
            stop = min(start + step, n)
            y = ys[start:stop] if ys is not None else None
            g = per_sample(params, xs[start:stop], y)
            for k in params:
                parts[k].append(g[k].detach().contiguous().numpy())
    finally:
        model.train(was_training)
    return {k: (v[0] if len(v) == 1 else np.concatenate(v, axis=0)) for k, v in parts.items()}
