//! Sections 4 and 5 on network bundles, and Figure 1: glue over `sgdstab::io::bundle`,
//! `sgdstab::networks::{sections, figure1}` and `sgdstab::generalization`.
//!
//! Every report is computed as the CLI computes it (`sobolev DIR`, `generalization DIR`), so its
//! JSON text equals the CLI's byte for byte on the same folder and options.

use crate::errors::to_py;
use crate::run;
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;
use sgdstab::io::bundle::{bundle_from_arrays, read_bundle, write_bundle as write};
use sgdstab::io::npy::{Dtype, NpyArray};
use sgdstab::networks::figure1::{figure1 as figure1_report, Figure1Run};
use sgdstab::networks::sections;
use std::collections::BTreeMap;
use std::path::Path;

fn array(a: &PyReadonlyArrayDyn<'_, f64>) -> NpyArray {
    let view = a.as_array();
    NpyArray {
        shape: view.shape().to_vec(),
        dtype: Dtype::F64,
        // C order whatever the strides
        data: view.iter().copied().collect(),
    }
}

/// `write_bundle(out, manifest, grads, arrays)`: checks a bundle held in memory exactly as the
/// reader checks a folder, then writes it (nothing is written when a check fails). `grads` is
/// the `n × w` matrix; `arrays` maps file names (`"x.npy"`, …) to float64 arrays.
#[pyfunction]
#[pyo3(signature = (out, manifest, grads, arrays))]
pub fn write_bundle(
    py: Python<'_>,
    out: &str,
    manifest: &str,
    grads: PyReadonlyArrayDyn<'_, f64>,
    arrays: Vec<(String, PyReadonlyArrayDyn<'_, f64>)>,
) -> PyResult<()> {
    let dir = Path::new(out);
    let g = array(&grads);
    let map: BTreeMap<String, NpyArray> =
        arrays.iter().map(|(k, a)| (k.clone(), array(a))).collect();
    py.detach(|| {
        let bundle = bundle_from_arrays(dir, manifest, g, &map)?;
        write(dir, &bundle, &[])
    })
    .map_err(to_py)
}

/// `sobolev(bundle, orders, lr, batch, stability, source, progress)`: the `sobolev` report of a
/// bundle folder as the CLI's JSON text.
#[pyfunction]
#[pyo3(signature = (bundle, *, orders, lr, batch, stability, source, progress))]
#[allow(clippy::too_many_arguments)]
pub fn sobolev(
    py: Python<'_>,
    bundle: &str,
    orders: Vec<usize>,
    lr: Option<f64>,
    batch: Option<usize>,
    stability: bool,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let dir = Path::new(bundle).to_path_buf();
    run::run(py, progress, move |hooks| {
        let b = read_bundle(&dir)?;
        let point = sections::training_point(&b, &dir, lr, batch)?;
        let verdicts = if stability {
            sections::premise_verdicts(&b.grads, point, &orders, hooks)?
        } else {
            BTreeMap::new()
        };
        let report = sections::sobolev_of_bundle(
            &b,
            &orders,
            point,
            &verdicts,
            Some(source.unwrap_or_else(|| dir.display().to_string())),
        )?;
        sgdstab::report::to_json(&report)
    })
}

/// `bundle_g_values(bundle) -> (lr, batch, g_W, g_x)`: what Figure 1 takes from a bundle.
#[pyfunction]
pub fn bundle_g_values(
    py: Python<'_>,
    bundle: &str,
) -> PyResult<(Option<f64>, Option<usize>, f64, f64)> {
    let dir = Path::new(bundle).to_path_buf();
    py.detach(|| {
        let b = read_bundle(&dir)?;
        Ok(sections::g_values_of(&b))
    })
    .map_err(to_py)
}

/// `figure1(runs, fixed_batch, fixed_lr) -> JSON`: `runs` a list of
/// `(lr, batch, g_W, g_x, source)`.
#[pyfunction]
#[pyo3(signature = (runs, *, fixed_batch, fixed_lr))]
pub fn figure1(
    runs: Vec<(f64, usize, f64, f64, Option<String>)>,
    fixed_batch: Option<usize>,
    fixed_lr: Option<f64>,
) -> PyResult<String> {
    let runs: Vec<Figure1Run> = runs
        .into_iter()
        .map(|(lr, batch, g_w, g_x, source)| Figure1Run {
            lr,
            batch,
            g_w,
            g_x,
            source,
        })
        .collect();
    let r = figure1_report(runs, fixed_batch, fixed_lr).map_err(to_py)?;
    sgdstab::report::to_json(&r).map_err(to_py)
}

/// `generalization(bundle, …)`: the `generalization` report of a bundle folder as the CLI's
/// JSON text (`sgdstab generalization DIR --json` with the same options).
#[pyfunction]
#[pyo3(signature = (
    bundle, *, orders, lr, batch, deltas, grid, samples, ascent_steps, seed, test_n, stability,
    source, progress
))]
#[allow(clippy::too_many_arguments)]
pub fn generalization(
    py: Python<'_>,
    bundle: &str,
    orders: Vec<usize>,
    lr: Option<f64>,
    batch: Option<usize>,
    deltas: Option<Vec<f64>>,
    grid: usize,
    samples: usize,
    ascent_steps: usize,
    seed: u64,
    test_n: usize,
    stability: bool,
    source: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    use sgdstab::generalization::{DeltaGrid, GeneralizationOptions, ProbeOptions};
    let dir = Path::new(bundle).to_path_buf();
    let opts = GeneralizationOptions {
        orders: orders.clone(),
        deltas: match deltas {
            Some(v) => DeltaGrid::Given(v),
            None => DeltaGrid::Auto { count: grid },
        },
        probes: ProbeOptions {
            random_directions: samples,
            ascent_steps,
            seed,
        },
    };
    opts.check().map_err(to_py)?;
    run::run(py, progress, move |hooks| {
        let b = read_bundle(&dir)?;
        let point = sections::training_point(&b, &dir, lr, batch)?;
        sgdstab::generalization::bundle::check_applicable(&b, &dir)?;
        let verdicts = if stability {
            sections::premise_verdicts(&b.grads, point, &orders, hooks)?
        } else {
            BTreeMap::new()
        };
        let done = sgdstab::generalization::bundle::generalization_of_bundle(
            &b,
            &dir,
            &opts,
            test_n,
            point,
            &verdicts,
            Some(source.unwrap_or_else(|| dir.display().to_string())),
            hooks.progress,
        )?;
        sgdstab::report::to_json(&done.report)
    })
}
