//! `sgdstab._native`: the extension module behind the `sgdstab` Python package. Glue only.
//!
//! The Python side (`sgdstab/_input.py`) turns whatever the user passed (a 2-D array, a dict of
//! per-parameter arrays, a JAX pytree, anything with `__array__` / `__dlpack__`) into a list of
//! `(name, ndarray)` pairs of native-endian, aligned float32 or float64 arrays, never copying a
//! float32/float64 array. This module checks the options, borrows the arrays as the library's
//! views ([`arrays`]), calls the library with the GIL released ([`run`]), and hands back the
//! report as the CLI's JSON text. The Python side wraps that text in typed result objects.
//!
//! Files:
//! - [`library`]: every call into `sgdstab` (the only file to touch when the library API moves);
//! - [`arrays`]: NumPy arrays borrowed as the library's `GradientView`s, f32 or f64, any strides;
//! - [`run`]: the worker thread, `Python::check_signals` every 50 ms, progress relayed to Python;
//! - [`errors`]: library errors to Python exceptions by kind;
//! - [`sections`]: network bundles, Sections 4 and 5, Figure 1.

mod arrays;
mod errors;
mod library;
mod run;
mod sections;

use pyo3::prelude::*;

/// The arrays as the library's views (no copy; see [`arrays`]).
fn borrow<'py>(
    kind: &str,
    held: &'py [(String, arrays::Held<'py>)],
) -> PyResult<library::Input<'py>> {
    let blocks: Vec<library::Block<'py>> = held
        .iter()
        .map(|(name, h)| library::Block {
            name: name.clone(),
            shape: h.shape().to_vec(),
            view: h.view(),
        })
        .collect();
    library::Input::new(kind, blocks).map_err(errors::to_py)
}

/// `analyze`: the full stability report as the CLI's JSON text (see `sgdstab.analyze`).
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, lr, batch, orders, sampling, rank_tolerance, eigensolver, method,
    cone_tolerance, cone_max_iterations, lanczos_tolerance, max_dense_dim, full_spectrum,
    memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn analyze(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    lr: f64,
    batch: usize,
    orders: Vec<usize>,
    sampling: String,
    rank_tolerance: Option<f64>,
    eigensolver: Option<String>,
    method: String,
    cone_tolerance: f64,
    cone_max_iterations: Option<usize>,
    lanczos_tolerance: f64,
    max_dense_dim: usize,
    full_spectrum: bool,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let common = library::CommonArgs {
        orders,
        sampling,
        rank_tolerance,
        eigensolver,
        max_dense_dim,
        memory_budget,
        lanczos_tolerance,
    };
    let args = library::AnalyzeArgs {
        lr,
        batch,
        method,
        cone_tolerance,
        cone_max_iterations,
        full_spectrum,
    };
    let run = library::analyze_options(&common, &args).map_err(errors::to_py)?;
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    run::run(py, progress, |hooks| {
        library::analyze(&input, &run, source, hooks)
    })
}

/// `thresholds`: the stable sets `S_k` and thresholds `η*_k` as the CLI's JSON text.
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, batch, orders, sampling, method, max_companion_rows, rank_tolerance,
    eigensolver, max_dense_dim, lanczos_tolerance, memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn thresholds(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    batch: usize,
    orders: Vec<usize>,
    sampling: String,
    method: String,
    max_companion_rows: usize,
    rank_tolerance: Option<f64>,
    eigensolver: Option<String>,
    max_dense_dim: usize,
    lanczos_tolerance: f64,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let common = library::CommonArgs {
        orders,
        sampling,
        rank_tolerance,
        eigensolver,
        max_dense_dim,
        memory_budget,
        lanczos_tolerance,
    };
    let args = library::ThresholdArgs {
        method,
        max_companion_rows,
    };
    let run = library::threshold_options(&common, &args, batch).map_err(errors::to_py)?;
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    run::run(py, progress, |hooks| {
        library::thresholds(&input, &run, source, hooks)
    })
}

/// `diagram`: `η*_k(B)` for every order and batch size as the CLI's JSON text.
#[pyfunction]
#[pyo3(signature = (
    kind, blocks, *, orders, batches, sampling, method, max_companion_rows, rank_tolerance,
    eigensolver, max_dense_dim, lanczos_tolerance, memory_budget, source, progress
))]
#[allow(clippy::too_many_arguments)]
fn diagram(
    py: Python<'_>,
    kind: &str,
    blocks: Vec<(String, Bound<'_, PyAny>)>,
    orders: Vec<usize>,
    batches: Option<Vec<usize>>,
    sampling: String,
    method: String,
    max_companion_rows: usize,
    rank_tolerance: Option<f64>,
    eigensolver: Option<String>,
    max_dense_dim: usize,
    lanczos_tolerance: f64,
    memory_budget: Option<u128>,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let common = library::CommonArgs {
        orders,
        sampling,
        rank_tolerance,
        eigensolver,
        max_dense_dim,
        memory_budget,
        lanczos_tolerance,
    };
    let args = library::ThresholdArgs {
        method,
        max_companion_rows,
    };
    let run = library::diagram_options(&common, &args, batches).map_err(errors::to_py)?;
    let held = arrays::hold(blocks)?;
    let input = borrow(kind, &held)?;
    run::run(py, progress, |hooks| {
        library::diagram(&input, &run, source, hooks)
    })
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(thresholds, m)?)?;
    m.add_function(wrap_pyfunction!(diagram, m)?)?;
    m.add_function(wrap_pyfunction!(sections::write_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(sections::sobolev, m)?)?;
    m.add_function(wrap_pyfunction!(sections::bundle_g_values, m)?)?;
    m.add_function(wrap_pyfunction!(sections::figure1, m)?)?;
    m.add_function(wrap_pyfunction!(sections::generalization, m)?)?;
    m.add("__version__", library::VERSION)?;
    Ok(())
}
