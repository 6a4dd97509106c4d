"""A PyTorch model as a network bundle: :func:`export_network` (re-exported by
:mod:`sgdstab.torch`).

PyTorch is imported when :func:`export_network` is called.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ._bundle import PathLike, write_bundle

DEFAULT_CHUNK_SIZE = 1024


def _conv_settings(module: Any, name: str) -> Dict[str, str]:
    """``conv`` of :func:`sgdstab.write_bundle` for a ``torch.nn.Conv2d``: stride 1, dilation 1,
    one group, padding 0 (``valid``), ``(k − 1)/2`` zeros (``same``) or circular."""
    def pair(v: Any) -> Tuple[int, int]:
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))

    if pair(module.stride) != (1, 1) or pair(module.dilation) != (1, 1) or module.groups != 1:
        raise ValueError(
            f"first_layer = {name!r}: a Conv2d with stride {module.stride}, dilation {module.dilation}, "
            f"groups {module.groups}; the bundle takes stride 1, dilation 1, groups 1"
        )
    kh, kw = module.kernel_size if not isinstance(module.kernel_size, int) else (module.kernel_size,) * 2
    pad = module.padding
    if pad == "valid":
        pad = (0, 0)
    if pad == "same":
        pad = ((kh - 1) // 2, (kw - 1) // 2)
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"first_layer = {name!r}: padding='same' with an even kernel is not supported")
    pad = pair(pad)
    mode = module.padding_mode
    if pad == (0, 0):
        return {"padding": "valid", "kernel_layout": "OIHW", "input_layout": "CHW"}
    if pad != ((kh - 1) // 2, (kw - 1) // 2) or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"first_layer = {name!r}: padding {module.padding} with a {kh}×{kw} kernel; the bundle takes 0, "
            "(k − 1)/2 for odd k, or 'same'/'valid'"
        )
    if mode == "zeros":
        return {"padding": "same", "kernel_layout": "OIHW", "input_layout": "CHW"}
    if mode == "circular":
        return {"padding": "circular", "kernel_layout": "OIHW", "input_layout": "CHW"}
    raise ValueError(f"first_layer = {name!r}: padding_mode {mode!r}; the bundle takes 'zeros' or 'circular'")


def export_network(
    model: Any,
    X: Any,
    y: Any,
    *,
    first_layer: Optional[str],
    out: PathLike,
    lr: Optional[float] = None,
    batch: Optional[int] = None,
    sampling: str = "without",
    X_test: Any = None,
    y_test: Any = None,
    conv: Optional[Mapping[str, str]] = None,
    chunk_size: Optional[int] = DEFAULT_CHUNK_SIZE,
) -> str:
    """Writes the network bundle of a PyTorch model (at its minimum ``W*``).

    Per-sample parameter gradients (:func:`sgdstab.torch.per_sample_gradients`), per-sample input
    gradients (``torch.func.vmap(torch.func.grad(...))`` in the input) and outputs, in chunks of
    ``chunk_size`` samples, with the model in eval mode on the CPU; then the bundle is written
    with ``W_1`` (see :func:`sgdstab.write_bundle` for the checks; nothing is written when one
    fails).

    Parameters
    ----------
    model : torch.nn.Module
        A model with one scalar output per sample (``model(x[None])`` has one element).
    X : tensor or array_like
        Training inputs, shape ``(n, *input_shape)`` (e.g. ``(n, c, h, w)`` for a CNN).
    y : tensor or array_like
        Targets, shape ``(n,)``.
    first_layer : str or None
        A name from ``model.named_parameters()``: an ``nn.Linear`` weight (dense, ``m × d``,
        out-in) or an ``nn.Conv2d`` weight (its stride, padding and padding mode are read from
        the module; give ``conv`` to override). ``None``: no linear first layer.
    out : str or path
        The bundle folder.
    lr, batch, sampling : optional
        The training ``η`` (of ``(1/2n) Σ (f − y)²``; PyTorch's ``MSELoss`` with mean reduction
        gives steps of ``2η``, so its ``lr`` is ``η/2``), ``B`` and sampling.
    X_test, y_test : optional
        A held-out test set (the outputs on it are computed and stored).
    conv : dict, optional
        ``padding``, ``kernel_layout``, ``input_layout`` of a convolutional first layer.
    chunk_size : int or None, default 1024
        Samples per ``vmap`` call.

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ValueError
        Bad input (the message names the file and the field); nothing is written.
    """
    import torch  # type: ignore[import-not-found]
    from torch.func import functional_call, grad, vmap  # type: ignore[import-not-found]

    from .torch import per_sample_gradients

    grads = per_sample_gradients(model, X, chunk_size=chunk_size)
    named = dict(model.named_parameters())
    w1 = None
    if first_layer is not None:
        if first_layer not in named:
            names = ", ".join(list(named)[:20])
            raise ValueError(f"first_layer = {first_layer!r} is not in model.named_parameters() ({names})")
        w1 = named[first_layer].detach().cpu().double().numpy()
        if conv is None and w1.ndim == 4:
            owner = model.get_submodule(first_layer.rsplit(".", 1)[0]) if "." in first_layer else model
            if not isinstance(owner, torch.nn.Conv2d):
                raise ValueError(f"first_layer = {first_layer!r}: a 4-D weight not of an nn.Conv2d; give conv=")
            conv = _conv_settings(owner, first_layer)
    p0 = next(iter(named.values()))
    dtype = torch.float64 if p0.dtype == torch.float64 else torch.float32
    cpu = torch.device("cpu")
    params = {k: v.detach().to(cpu, dtype) for k, v in named.items()}
    buffers = {k: b.detach().to(cpu) for k, b in model.named_buffers()}

    def value(x: Any) -> Any:
        return functional_call(model, (params, buffers), (x.unsqueeze(0),)).reshape(())

    xgrad = vmap(grad(value))
    batched = vmap(value)

    def run(fn: Any, data: Any) -> np.ndarray:
        xs = torch.as_tensor(data).detach().to(cpu, dtype)
        n = xs.shape[0]
        step = n if chunk_size is None else chunk_size
        parts = [fn(xs[a : a + step]).detach().double().numpy() for a in range(0, max(n, 1), max(step, 1))]
        return np.concatenate(parts, axis=0)

    was_training = model.training
    model.eval()
    try:
        xgrads = run(xgrad, X)
        outputs = run(batched, X)
        test_outputs = None if X_test is None else run(batched, X_test)
    finally:
        model.train(was_training)
    as_np = lambda a: None if a is None else (a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a))  # noqa: E731
    return write_bundle(
        out,
        grads,
        xgrads,
        as_np(X),
        as_np(y),
        first_layer=first_layer,
        w1=w1,
        conv=conv,
        lr=lr,
        batch=batch,
        sampling=sampling,
        outputs=outputs,
        X_test=as_np(X_test),
        y_test=as_np(y_test),
        test_outputs=test_outputs,
        producer="sgdstab.torch.export_network",
        first_layer_reason=None if first_layer is not None else "first_layer=None was given",
        _conv_layouts=("OIHW", "CHW"),
    )
