//! `sgdstab._native`: the extension module behind the `sgdstab` Python package. Glue only.
//!
//! The Python side (`sgdstab/_input.py`) turns whatever the user passed (a 2-D array, a dict of
//! per-parameter arrays, a JAX pytree, anything with `__array__` / `__dlpack__`) into a list of
//! `(name, ndarray)` pairs of native-endian, aligned float32 or float64 arrays, never copying a
//! float32/float64 array. This module borrows them ([`arrays`]), calls the library with the GIL
//! released ([`run`]), and hands back the report as the CLI's JSON text. The Python side wraps
//! that text in typed result objects.
//!
//! Files:
//! - [`library`]: every call into `sgdstab` (the only file to touch when the library API moves);
//! - [`arrays`]: NumPy arrays borrowed as strided `ndarray` views, f32 or f64;
//! - [`run`]: the worker thread, `Python::check_signals` every 50 ms, progress relayed to Python;
//! - [`errors`]: library errors to Python exceptions by kind.

mod arrays;
mod errors;
mod library;
mod run;

use pyo3::prelude::*;

/// The arguments shared by the three entry points: how the input is laid out and what it is.
fn borrow<'py>(
    kind: &str,
    blocks: &'py [(String, arrays::Held<'py>)],
) -> PyResult<library::Input<'py>> {
    let views: Vec<library::Block<'py>> = blocks
        .iter()
        .map(|(name, held)| library::Block {
            name: name.clone(),
            view: held.view(),
        })
        .collect();
    library::Input::new(kind, views).map_err(errors::to_py)
}

/// `analyze`: the full stability report as the CLI's JSON text (see `sgdstab.analyze`).
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, lr, batch, orders, sampling, rank_tol, eigensolver, method, cone_tol,
    cone_max_iter, lanczos_tol, max_dense_dim, spectrum, memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn analyze(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    lr: f64,
    batch: usize,
    orders: Vec<usize>,
    sampling: &str,
    rank_tol: Option<f64>,
    eigensolver: Option<&str>,
    method: &str,
    cone_tol: f64,
    cone_max_iter: Option<usize>,
    lanczos_tol: f64,
    max_dense_dim: usize,
    spectrum: bool,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    let args = library::AnalyzeArgs {
        lr,
        batch,
        orders,
        sampling: sampling.to_string(),
        rank_tol,
        eigensolver: eigensolver.map(str::to_string),
        method: method.to_string(),
        cone_tol,
        cone_max_iter,
        lanczos_tol,
        max_dense_dim,
        spectrum,
        memory_budget,
    };
    let opts = library::analyze_options(&args).map_err(errors::to_py)?;
    run::run(py, progress, |hooks| {
        library::analyze(&input, &opts, source, hooks)
    })
}

/// `thresholds`: the stable sets `S_k` and thresholds `η*_k` as the CLI's JSON text.
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, batch, orders, sampling, method, max_companion_rows, rank_tol, eigensolver,
    max_dense_dim, memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn thresholds(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    batch: usize,
    orders: Vec<usize>,
    sampling: &str,
    method: &str,
    max_companion_rows: usize,
    rank_tol: Option<f64>,
    eigensolver: Option<&str>,
    max_dense_dim: usize,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    let args = library::ThresholdArgs {
        orders,
        sampling: sampling.to_string(),
        method: method.to_string(),
        max_companion_rows,
        rank_tol,
        eigensolver: eigensolver.map(str::to_string),
        max_dense_dim,
        memory_budget,
    };
    let opts = library::threshold_options(&args).map_err(errors::to_py)?;
    run::run(py, progress, |hooks| {
        library::thresholds(&input, batch, &opts, source, hooks)
    })
}

/// `diagram`: `η*_k(B)` for every order and batch size as the CLI's JSON text.
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, orders, batches, sampling, method, max_companion_rows, rank_tol, eigensolver,
    max_dense_dim, memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn diagram(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    orders: Vec<usize>,
    batches: Option<Vec<usize>>,
    sampling: &str,
    method: &str,
    max_companion_rows: usize,
    rank_tol: Option<f64>,
    eigensolver: Option<&str>,
    max_dense_dim: usize,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    let args = library::ThresholdArgs {
        orders,
        sampling: sampling.to_string(),
        method: method.to_string(),
        max_companion_rows,
        rank_tol,
        eigensolver: eigensolver.map(str::to_string),
        max_dense_dim,
        memory_budget,
    };
    let opts = library::threshold_options(&args).map_err(errors::to_py)?;
    run::run(py, progress, |hooks| {
        library::diagram(&input, batches.as_deref(), &opts, source, hooks)
    })
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(thresholds, m)?)?;
    m.add_function(wrap_pyfunction!(diagram, m)?)?;
    m.add("__version__", library::VERSION)?;
    Ok(())
}
