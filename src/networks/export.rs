//! The export directory of a trained network (`sgdstab train --export DIR`), and reading it back.
//!
//! | file | shape | content |
//! |---|---|---|
//! | `grads.npy` | `n × w` | `∇_W f(x_i, W*)`, rows = samples, columns in [`crate::networks::network::FLATTENING_ORDER`]: the analyzer's input |
//! | `xgrads.npy` | `n × d` | `∇_x f(x_i, W*)` |
//! | `x.npy` | `n × d` | inputs |
//! | `y.npy` | `n` | targets |
//! | `outputs.npy` | `n` | `f(x_i, W*)` |
//! | `w1.npy` | `m × d` | the first-layer matrix `W_1` (so `∇_x f = W_1ᵀ ∂f/∂(W_1 x)`) |
//! | `params.npy` | `w` | all parameters `W*` in the flattening order |
//! | `meta.json` | | [`ExportMeta`]: architecture, seeds, η, B, final loss, iterations, … |
//!
//! All arrays are little-endian float64 NPY 1.0 files in C order, written atomically.

use crate::error::{Error, Result};
use crate::io::npy;
use crate::networks::datasets::{Dataset, DatasetSpec};
use crate::networks::network::{Architecture, Mlp, PerSample, FLATTENING_ORDER};
use crate::networks::training::{Checkpoint, Stop, TrainingRun};
use crate::Gradients;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of `meta.json`.
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

/// `meta.json` of an export directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportMeta {
    /// [`EXPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// sgdstab version that wrote it.
    pub tool_version: String,
    /// The architecture (input dimension, hidden widths, activation).
    pub architecture: Architecture,
    /// E.g. `"8-32-1 tanh"`.
    pub architecture_text: String,
    /// The activation name.
    pub activation: String,
    /// `w`.
    pub parameters: usize,
    /// `n`.
    pub samples: usize,
    /// `d`.
    pub input_dim: usize,
    /// `m`, rows of `W_1`.
    pub first_layer_rows: usize,
    /// The order of parameters in `params.npy` and in the columns of `grads.npy`.
    pub flattening_order: String,
    /// The data set's description.
    pub dataset: String,
    /// How the data set was made (absent for data given from outside).
    pub dataset_spec: Option<DatasetSpec>,
    /// Seed of the initialisation.
    pub init_seed: u64,
    /// Seed of the batch draws.
    pub sgd_seed: u64,
    /// Learning rate η of training.
    pub lr: f64,
    /// Batch size B of training.
    pub batch: usize,
    /// Always `"without-replacement"` (eq. 7 with uniform B-subsets).
    pub sampling: String,
    /// The interpolation threshold on the loss.
    pub loss_threshold: f64,
    /// Loss at initialisation.
    pub initial_loss: f64,
    /// Final training loss `(1/2n) Σ (f − y)²`.
    pub final_loss: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Why training stopped.
    pub stop: Stop,
    /// `stop == interpolated`.
    pub interpolated: bool,
    /// `‖W_1‖_2` and the loss at the checkpoints reached.
    pub checkpoints: Vec<Checkpoint>,
    /// File name → content.
    pub files: BTreeMap<String, String>,
}

impl ExportMeta {
    /// The metadata of a finished run.
    pub fn new(
        net: &Mlp,
        data: &Dataset,
        spec: Option<DatasetSpec>,
        init_seed: u64,
        run: &TrainingRun,
    ) -> Self {
        let a = net.architecture();
        let files: BTreeMap<String, String> = [
            (
                "grads.npy",
                "n x w per-sample parameter gradients (flattening_order)",
            ),
            ("xgrads.npy", "n x d per-sample input gradients"),
            ("x.npy", "n x d inputs"),
            ("y.npy", "n targets"),
            ("outputs.npy", "n network outputs f(x_i, W*)"),
            ("w1.npy", "m x d first-layer matrix W_1"),
            ("params.npy", "w parameters W* (flattening_order)"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ExportMeta {
            schema_version: EXPORT_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            architecture: a.clone(),
            architecture_text: a.describe(),
            activation: a.activation.name().to_string(),
            parameters: net.parameter_count(),
            samples: data.n,
            input_dim: data.d,
            first_layer_rows: a.first_width(),
            flattening_order: FLATTENING_ORDER.to_string(),
            dataset: data.name.clone(),
            dataset_spec: spec,
            init_seed,
            sgd_seed: run.seed,
            lr: run.lr,
            batch: run.batch,
            sampling: crate::Sampling::WithoutReplacement.name().to_string(),
            loss_threshold: run.loss_threshold,
            initial_loss: run.initial_loss,
            final_loss: run.final_loss,
            iterations: run.iterations,
            stop: run.stop,
            interpolated: run.interpolated(),
            checkpoints: run.checkpoints.clone(),
            files,
        }
    }
}

fn npy_file(dir: &Path, name: &str, shape: &[usize], data: &[f64]) -> Result<()> {
    crate::io::write_atomic(&dir.join(name), &npy::to_bytes(shape, data))
}

/// Writes the export directory (created if missing). Every file is written atomically; the
/// gradients are those of `ps` (computed at the network's final parameters).
pub fn write_export(
    dir: &Path,
    net: &Mlp,
    data: &Dataset,
    ps: &PerSample,
    meta: &ExportMeta,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let a = net.architecture();
    let (n, d, w, m) = (data.n, data.d, net.parameter_count(), a.first_width());
    let json = crate::report::to_json(meta)?;
    npy_file(dir, "grads.npy", &[n, w], &ps.param_grads)?;
    npy_file(dir, "xgrads.npy", &[n, d], &ps.input_grads)?;
    npy_file(dir, "x.npy", &[n, d], &data.x)?;
    npy_file(dir, "y.npy", &[n], &data.y)?;
    npy_file(dir, "outputs.npy", &[n], &ps.outputs)?;
    npy_file(dir, "w1.npy", &[m, d], net.w1())?;
    npy_file(dir, "params.npy", &[w], net.params())?;
    crate::io::write_atomic(&dir.join("meta.json"), json.as_bytes())
}

/// An export directory read back.
#[derive(Debug, Clone)]
pub struct Export {
    /// The directory.
    pub dir: PathBuf,
    /// `meta.json`.
    pub meta: ExportMeta,
    /// `grads.npy`.
    pub grads: Gradients,
    /// `xgrads.npy`, `n × d` row-major.
    pub xgrads: Vec<f64>,
    /// `x.npy`, `n × d` row-major.
    pub x: Vec<f64>,
    /// `y.npy`.
    pub y: Vec<f64>,
    /// `w1.npy`, `m × d` row-major.
    pub w1: Vec<f64>,
    /// `params.npy`.
    pub params: Vec<f64>,
}

impl Export {
    /// `n`.
    pub fn n(&self) -> usize {
        self.grads.n()
    }

    /// `d`.
    pub fn d(&self) -> usize {
        self.meta.input_dim
    }

    /// `m`.
    pub fn m(&self) -> usize {
        self.meta.first_layer_rows
    }

    /// The network with the exported parameters.
    pub fn network(&self) -> Result<Mlp> {
        Mlp::new(self.meta.architecture.clone(), self.params.clone()).map_err(|e| {
            Error::InvalidInput {
                context: self.dir.join("params.npy").display().to_string(),
                message: e.to_string(),
            }
        })
    }

    /// The training data.
    pub fn dataset(&self) -> Result<Dataset> {
        Dataset::new(
            self.meta.dataset.clone(),
            self.n(),
            self.d(),
            self.x.clone(),
            self.y.clone(),
        )
    }
}

/// Reads an array from `dir/name` and checks its shape (`None` entries are free).
fn read_array(dir: &Path, name: &str, shape: &[Option<usize>]) -> Result<(Vec<usize>, Vec<f64>)> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let fmt = |message: String| Error::Format {
        path: path.clone(),
        message,
    };
    let arr = npy::parse(&bytes).map_err(fmt)?;
    let ok = arr.shape.len() == shape.len()
        && arr
            .shape
            .iter()
            .zip(shape)
            .all(|(&s, want)| want.is_none_or(|w| w == s));
    if !ok {
        let want: Vec<String> = shape
            .iter()
            .map(|s| s.map_or("*".to_string(), |v| v.to_string()))
            .collect();
        return Err(fmt(format!(
            "array of shape {}, expected ({})",
            npy::shape_string(&arr.shape),
            want.join(", ")
        )));
    }
    if let Some(p) = arr.data.iter().position(|v| !v.is_finite()) {
        return Err(fmt(format!(
            "non-finite value {} at flat index {p}",
            arr.data[p]
        )));
    }
    Ok((arr.shape, arr.data))
}

/// Reads an export directory, checking every shape against `meta.json`.
pub fn read_export(dir: &Path) -> Result<Export> {
    if !dir.is_dir() {
        return Err(Error::InvalidInput {
            context: dir.display().to_string(),
            message: "not a directory (expected the folder written by `sgdstab train --export`)"
                .into(),
        });
    }
    let meta_path = dir.join("meta.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|source| Error::Io {
        path: meta_path.clone(),
        source,
    })?;
    let meta: ExportMeta = serde_json::from_str(&text).map_err(|e| Error::Format {
        path: meta_path.clone(),
        message: format!("not an sgdstab export meta.json: {e}"),
    })?;
    if meta.schema_version != EXPORT_SCHEMA_VERSION {
        return Err(Error::Format {
            path: meta_path,
            message: format!(
                "schema_version {} (this build reads {EXPORT_SCHEMA_VERSION})",
                meta.schema_version
            ),
        });
    }
    let (n, d, w, m) = (
        meta.samples,
        meta.input_dim,
        meta.parameters,
        meta.first_layer_rows,
    );
    let grads = crate::io::read_gradients(&dir.join("grads.npy"))?;
    if grads.n() != n || grads.w() != w {
        return Err(Error::Format {
            path: dir.join("grads.npy"),
            message: format!(
                "{} × {}, but meta.json says n = {n}, w = {w}",
                grads.n(),
                grads.w()
            ),
        });
    }
    let (_, xgrads) = read_array(dir, "xgrads.npy", &[Some(n), Some(d)])?;
    let (_, x) = read_array(dir, "x.npy", &[Some(n), Some(d)])?;
    let (_, y) = read_array(dir, "y.npy", &[Some(n)])?;
    let (_, w1) = read_array(dir, "w1.npy", &[Some(m), Some(d)])?;
    let (_, params) = read_array(dir, "params.npy", &[Some(w)])?;
    Ok(Export {
        dir: dir.to_path_buf(),
        meta,
        grads,
        xgrads,
        x,
        y,
        w1,
        params,
    })
}
