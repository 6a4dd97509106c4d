"""Network bundles from PyTorch models (skipped where torch is not installed): an MLP and a CNN on
the digits, the CLI and sgdstab.sobolev byte for byte, g_W, g_x and the operator norms
recomputed here."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sgdstab
from conftest import FIXTURES, run_cli

torch = pytest.importorskip("torch")


def digits(n):
    images = np.load(FIXTURES / "digits" / "digits_images.npy").astype(np.float64) / 16.0
    labels = np.load(FIXTURES / "digits" / "digits_labels.npy")
    return images[:n], np.where(labels[:n] % 2 == 0, 1.0, -1.0)


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def per_sample(model, X):
    """Gradients one sample at a time with autograd (no torch.func)."""
    A, G = [], []
    for x in X:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        model.zero_grad()
        out = model(xt.unsqueeze(0)).reshape(())
        out.backward()
        A.append(np.concatenate([p.grad.detach().numpy().ravel() for p in model.parameters()]))
        G.append(xt.grad.detach().numpy().ravel())
    return np.array(A), np.array(G)


def test_torch_mlp_bundle(cli, tmp_path):
    torch.manual_seed(0)
    X, y = digits(30)
    model = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    out = tmp_path / "mlp"
    sgdstab.torch.export_network(model, X, y, first_layer="0.weight", out=out, lr=0.05, batch=5)
    m = json.loads((out / "bundle.json").read_text())
    assert m["first_layer"] == {"kind": "dense", "name": "0.weight", "orientation": "out-in"}
    text = run_cli(cli, "sobolev", out, "--order", "1,2", "--json", "-q", cwd=tmp_path)
    rep = sgdstab.sobolev(out, orders=(1, 2))
    assert rep.to_json() == text
    A, G = per_sample(model, X)
    assert rel(rep.g_w, np.sqrt(np.mean(np.sum(A * A, 1)))) < 1e-10
    assert rel(rep.g_x, np.sqrt(np.mean(np.sum(G * G, 1)))) < 1e-10
    W = model[0].weight.detach().numpy()
    assert rel(rep.w1_spectral_norm, np.linalg.norm(W, 2)) < 1e-10
    assert rep.ok


@pytest.mark.parametrize("padding_mode,padding", [("zeros", 1), ("circular", 1), ("zeros", 0)])
def test_torch_cnn_bundle(tmp_path, padding_mode, padding):
    torch.manual_seed(1)
    X, y = digits(20)
    Xi = X.reshape(-1, 1, 8, 8)
    conv = torch.nn.Conv2d(1, 3, 3, padding=padding, padding_mode=padding_mode, bias=False)
    side = 8 if padding else 6
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(3 * side * side, 1)).double()
    out = tmp_path / "cnn"
    sgdstab.torch.export_network(model, Xi, y, first_layer="0.weight", out=out, lr=0.05, batch=5)
    m = json.loads((out / "bundle.json").read_text())
    want = {("zeros", 1): "same", ("circular", 1): "circular", ("zeros", 0): "valid"}[(padding_mode, padding)]
    assert m["first_layer"]["padding"] == want and m["first_layer"]["kernel_layout"] == "OIHW"
    rep = sgdstab.sobolev(out, orders=1)
    C = torch.autograd.functional.jacobian(lambda x: conv.double()(x.reshape(1, 1, 8, 8)).reshape(-1), torch.zeros(64, dtype=torch.float64)).numpy()
    sigma = np.linalg.norm(C, 2)
    b = rep.first_layer.operator_norm
    assert b["lower"] <= sigma * (1 + 1e-12) and sigma <= b["upper"] * (1 + 1e-12)
    A, G = per_sample(model, Xi)
    assert rel(rep.g_x, np.sqrt(np.mean(np.sum(G * G, 1)))) < 1e-10
    assert rel(rep.g_w, np.sqrt(np.mean(np.sum(A * A, 1)))) < 1e-10
