"""Bad input raises ValueError (MemoryError for a refused size) with a one-line message naming the
parameter — never a crash."""

from __future__ import annotations

import numpy as np
import pytest

import sgdstab


def raises(exc, pattern, fn, *args, **kwargs):
    with pytest.raises(exc, match=pattern) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def test_non_finite_values_name_grads_and_the_position(small):
    a = small.copy()
    a[4, 2] = np.nan
    raises(ValueError, r"^grads: non-finite value NaN at row 4, column 2 \(0-based\)$", sgdstab.analyze, a, 0.1, 2)
    a[4, 2] = np.inf
    raises(ValueError, r"^grads: non-finite value inf at row 4, column 2", sgdstab.thresholds, a, 2)
    # float32, Fortran order: read in place, checked in place
    raises(ValueError, r"^grads: non-finite value inf at row 4, column 2", sgdstab.analyze, np.asfortranarray(a, dtype=np.float32), 0.1, 2)
    d = {"w": small[:, :3], "b": small[:, 3:].copy()}
    d["b"][7, 1] = np.nan
    # the column of the gradient matrix: 3 columns of 'w' come first
    raises(ValueError, r"^grads: non-finite value NaN at row 7, column 4 \(0-based\)$", sgdstab.diagram, d)


def test_arrays_that_are_not_2d(small):
    raises(ValueError, r"^grads: array of shape \(30,\) is 1-D; expected a 2-D", sgdstab.analyze, small[:, 0], 0.1, 2)
    raises(ValueError, r"^grads: array of shape \(2, 3, 5\) is 3-D", sgdstab.analyze, np.zeros((2, 3, 5)), 0.1, 2)
    raises(ValueError, r"^grads: array of shape \(\) is 0-D", sgdstab.thresholds, np.float64(1.0), 1)
    raises(ValueError, r"^grads: the gradient matrix is 0 × 3", sgdstab.analyze, np.zeros((0, 3)), 0.1, 1)


def test_dict_values_with_different_leading_axes(small):
    d = {"w": small[:, :3], "b": small[:20, 3]}
    raises(ValueError, r"^grads: mismatched batch sizes: array 'b' has 20 samples but array 'w' has 30; every array needs the same leading sample axis$", sgdstab.analyze, d, 0.1, 2)
    tree = {"layer": {"kernel": small[:, :2].reshape(30, 2, 1), "bias": small[:29, 2]}}
    raises(ValueError, r"^grads: mismatched batch sizes: array 'layer.kernel' has 30 samples but array 'layer.bias' has 29", sgdstab.thresholds, tree, 2)
    raises(ValueError, r"^grads: array 'x' is 0-D; every array needs a leading sample axis$", sgdstab.analyze, {"x": np.float64(2.0)}, 0.1, 1)
    raises(ValueError, r"^grads: the mapping holds no arrays", sgdstab.analyze, {}, 0.1, 1)
    raises(ValueError, r"^grads: the pytree holds no arrays", sgdstab.analyze, {"a": None, "b": []}, 0.1, 1)


def test_unreadable_dtypes(small):
    raises(ValueError, r"^grads: dtype complex128 is not a real number type", sgdstab.analyze, small.astype(complex), 0.1, 2)
    raises(ValueError, r"^grads\['w'\]: dtype <U1 is not a real number type", sgdstab.analyze, {"w": np.array([["a"]])}, 0.1, 1)


def test_batch_out_of_range(small):
    raises(ValueError, r"^batch = 31: the batch size must satisfy 1 <= B <= n = 30", sgdstab.analyze, small, 0.1, 31)
    raises(ValueError, r"^batch = 31: the batch size must satisfy 1 <= B <= n = 30", sgdstab.thresholds, small, 31)
    raises(ValueError, r"^batch = 0: must be >= 1", sgdstab.analyze, small, 0.1, 0)
    raises(ValueError, r"^batch = 31: the batch size must satisfy", sgdstab.diagram, small, batches=[1, 31])
    raises(ValueError, r"^batches = \(none\): give at least one batch size", sgdstab.diagram, small, batches=[])
    # B > n of a mapping: n is the leading axis of its arrays
    raises(ValueError, r"^batch = 31: the batch size must satisfy 1 <= B <= n = 30$", sgdstab.analyze, {"w": small}, 0.1, 31)
    with pytest.raises(TypeError, match="batch"):
        sgdstab.analyze(small, 0.1, 2.5)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_learning_rate_not_positive(small, lr):
    raises(ValueError, r"^lr = .*: the learning rate must be finite and > 0", sgdstab.analyze, small, lr, 2)


def test_unknown_modes(small):
    raises(ValueError, r"^sampling = 'sometimes': unknown sampling scheme", sgdstab.analyze, small, 0.1, 2, sampling="sometimes")
    raises(ValueError, r"^sampling = 'x': unknown sampling scheme", sgdstab.thresholds, small, 2, sampling="x")
    raises(ValueError, r"^sampling = 'x': unknown sampling scheme", sgdstab.diagram, small, sampling="x")
    raises(ValueError, r"^method = 'fast': unknown method", sgdstab.analyze, small, 0.1, 2, method="fast")
    raises(ValueError, r"^method = 'dense': unknown method", sgdstab.thresholds, small, 2, method="dense")
    raises(ValueError, r"^eigensolver = 'numpy': unknown eigensolver", sgdstab.analyze, small, 0.1, 2, eigensolver="numpy")


def test_orders_out_of_range(small):
    raises(ValueError, r"^orders = 33: orders above 20 are not supported", sgdstab.analyze, small, 0.1, 2, orders=(1, 33))
    raises(ValueError, r"^orders = 0: must be >= 1", sgdstab.analyze, small, 0.1, 2, orders=0)
    raises(ValueError, r"^orders = \(none\): give at least one order", sgdstab.thresholds, small, 2, orders=())


def test_tolerances(small):
    # the keywords are the library's option names
    raises(ValueError, r"^cone_tolerance = 0: must be finite and > 0$", sgdstab.analyze, small, 0.1, 2, cone_tolerance=0.0)
    raises(ValueError, r"^lanczos_tolerance = NaN: the Lanczos tolerance must be finite and > 0$", sgdstab.analyze, small, 0.1, 2, lanczos_tolerance=float("nan"))
    raises(ValueError, r"^lanczos_tolerance = -1: the Lanczos tolerance must be finite and > 0$", sgdstab.thresholds, small, 2, lanczos_tolerance=-1.0)
    raises(ValueError, r"^rank_tolerance = 1: must be finite and in \[0, 1\)$", sgdstab.analyze, small, 0.1, 2, rank_tolerance=1.0)
    raises(ValueError, r"^rank_tolerance = -0.5: must be finite and in \[0, 1\)$", sgdstab.diagram, small, rank_tolerance=-0.5)
    with pytest.raises(TypeError, match="rank_tol"):
        sgdstab.analyze(small, 0.1, 2, rank_tol=1e-8)  # the old spelling is gone


def test_a_refused_size_is_a_memory_error(small):
    msg = raises(MemoryError, r"needs .* but the memory budget is 1000 bytes", sgdstab.analyze, small, 0.1, 2, orders=(1, 2, 3), memory_budget=1000)
    assert "Sym^" in msg


def test_a_failing_progress_object_stops_the_run(small):
    class Boom:
        def begin(self, label, total):
            raise RuntimeError("boom")

        def advance(self, steps, message):
            pass

        def end(self):
            pass

    with pytest.raises(RuntimeError, match="boom"):
        sgdstab.analyze(small, 0.1, 2, progress=Boom())
    with pytest.raises(TypeError, match="progress"):
        sgdstab.analyze(small, 0.1, 2, progress="yes")
