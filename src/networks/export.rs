//! The export directory of a trained network (`sgdstab train --export DIR`), and reading it back.
//!
//! The directory is a network bundle ([`crate::io::bundle`], `bundle.json` with
//! `first_layer = {kind: dense, name: "W_1", orientation: out-in}` and `network = "meta.json"`)
//! that also holds sgdstab's own network, so that `simulate` (escape test) and `generalization`
//! (probes) can rebuild it:
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
//! | `bundle.json` | | the bundle manifest: `param_blocks` `W_1`, `b_1`, …, `v`, `c` in the flattening order |
//!
//! All arrays are little-endian float64 NPY 1.0 files in C order, written atomically.

use crate::error::{Error, Result};
use crate::io::bundle::{
    read_bundle, write_bundle, BlockSpec, Bundle, FirstLayer, Manifest, Orientation, Training,
    BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST_FILE, PARAMS_FILE,
};
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

/// The parameter blocks of `net` in its flattening order: `W_1` (`m_1 × d`), `b_1`, …, `W_L`,
/// `b_L`, `v` (`m_L`), `c` (a scalar): the `param_blocks` of its bundle.
pub fn parameter_blocks(net: &Mlp) -> Vec<BlockSpec> {
    let a = net.architecture();
    let mut out = Vec::new();
    let mut prev = a.input_dim;
    for (l, &m) in a.hidden.iter().enumerate() {
        out.push(BlockSpec {
            name: format!("W_{}", l + 1),
            shape: vec![m, prev],
        });
        out.push(BlockSpec {
            name: format!("b_{}", l + 1),
            shape: vec![m],
        });
        prev = m;
    }
    out.push(BlockSpec {
        name: "v".into(),
        shape: vec![prev],
    });
    out.push(BlockSpec {
        name: "c".into(),
        shape: vec![],
    });
    out
}

/// The bundle of a trained network: gradients, inputs, targets, outputs and `W_1` (`"W_1"`,
/// out-in), the training `η`, `B` and sampling, and sgdstab's own network (`params.npy`,
/// `meta.json`).
pub fn bundle_of(net: &Mlp, data: &Dataset, ps: &PerSample, meta: &ExportMeta) -> Result<Bundle> {
    let blocks = parameter_blocks(net);
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        bundle_version: BUNDLE_VERSION,
        producer: format!("sgdstab {} train", env!("CARGO_PKG_VERSION")),
        n: data.n,
        input_shape: vec![data.d],
        parameters: net.parameter_count(),
        param_blocks: Some(blocks.clone()),
        first_layer: FirstLayer::Dense {
            name: "W_1".into(),
            orientation: Orientation::OutIn,
        },
        training: Training {
            lr: Some(meta.lr),
            batch: Some(meta.batch),
            sampling: Some(crate::Sampling::WithoutReplacement),
        },
        network: Some(NETWORK_FILE.into()),
    };
    Ok(Bundle {
        manifest,
        grads: ps.gradients()?,
        blocks: crate::io::bundle::blocks_of(data.n, &blocks),
        xgrads: ps.input_grads.clone(),
        x: data.x.clone(),
        y: data.y.clone(),
        outputs: Some(ps.outputs.clone()),
        w1: Some(net.w1().to_vec()),
        test: None,
        perturbed: None,
        params: Some(net.params().to_vec()),
    })
}

/// The file of a bundle that describes sgdstab's own network ([`ExportMeta`]).
pub const NETWORK_FILE: &str = "meta.json";

/// Writes the export directory (created if missing) as a network bundle
/// ([`crate::io::bundle`]) with `meta.json`: every file atomically, `bundle.json` last; the
/// gradients are those of `ps` (computed at the network's final parameters).
pub fn write_export(
    dir: &Path,
    net: &Mlp,
    data: &Dataset,
    ps: &PerSample,
    meta: &ExportMeta,
) -> Result<()> {
    let json = crate::report::to_json(meta)?;
    let bundle = bundle_of(net, data, ps, meta)?;
    write_bundle(dir, &bundle, &[(NETWORK_FILE, json.as_bytes())])
}

/// An export directory read back: a bundle of sgdstab's own network.
#[derive(Debug, Clone)]
pub struct Export {
    /// The directory.
    pub dir: PathBuf,
    /// `meta.json`.
    pub meta: ExportMeta,
    /// The bundle.
    pub bundle: Bundle,
    /// `params.npy`.
    pub params: Vec<f64>,
}

impl Export {
    /// `n`.
    pub fn n(&self) -> usize {
        self.bundle.n()
    }

    /// `d`.
    pub fn d(&self) -> usize {
        self.bundle.d()
    }

    /// `m`.
    pub fn m(&self) -> usize {
        self.meta.first_layer_rows
    }

    /// The parameter gradients.
    pub fn grads(&self) -> &Gradients {
        &self.bundle.grads
    }

    /// The network with the exported parameters.
    pub fn network(&self) -> Result<Mlp> {
        Mlp::new(self.meta.architecture.clone(), self.params.clone()).map_err(|e| {
            Error::InvalidInput {
                context: self.dir.join(PARAMS_FILE).display().to_string(),
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
            self.bundle.x.clone(),
            self.bundle.y.clone(),
        )
    }
}

/// sgdstab's own network of a bundle: its `meta.json` and `params.npy`, checked against the
/// bundle; `None` when the bundle was written by another framework (no `network` in
/// `bundle.json`).
pub fn network_of(dir: &Path, bundle: &Bundle) -> Result<Option<(ExportMeta, Vec<f64>)>> {
    let Some(name) = &bundle.manifest.network else {
        return Ok(None);
    };
    let meta_path = dir.join(name);
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
    let m = &bundle.manifest;
    if meta.samples != m.n || meta.input_dim != m.d() || meta.parameters != m.parameters {
        return Err(Error::Format {
            path: meta_path,
            message: format!(
                "samples = {}, input_dim = {}, parameters = {}, but bundle.json says n = {}, d = {}, parameters = {}",
                meta.samples,
                meta.input_dim,
                meta.parameters,
                m.n,
                m.d(),
                m.parameters
            ),
        });
    }
    let params = bundle.params.clone().ok_or_else(|| Error::Format {
        path: dir.join(PARAMS_FILE),
        message: "missing: the bundle names sgdstab's network but has no parameters".into(),
    })?;
    Ok(Some((meta, params)))
}

/// The export of a bundle already read: `None` when the bundle was written by another
/// framework (it names no sgdstab network).
pub fn export_of(dir: &Path, bundle: Bundle) -> Result<Option<Export>> {
    let Some((meta, params)) = network_of(dir, &bundle)? else {
        return Ok(None);
    };
    if meta.first_layer_rows * meta.input_dim > meta.parameters {
        return Err(Error::Format {
            path: dir.join(NETWORK_FILE),
            message: "first_layer_rows × input_dim exceeds parameters".into(),
        });
    }
    Ok(Some(Export {
        dir: dir.to_path_buf(),
        meta,
        bundle,
        params,
    }))
}

/// Reads an export directory (a bundle of sgdstab's own network, or the export folder of
/// sgdstab 0.1 before bundles), checking every shape.
pub fn read_export(dir: &Path) -> Result<Export> {
    export_of(dir, read_bundle(dir)?)?.ok_or_else(|| Error::InvalidInput {
        context: dir.join(MANIFEST_FILE).display().to_string(),
        message: "the bundle names no sgdstab network (network: null): this needs a folder written by `sgdstab train --export`".into(),
    })
}
