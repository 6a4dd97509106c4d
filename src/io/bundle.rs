//! The network bundle: one folder that holds what Sections 4 and 5 of the paper need from a
//! trained model, written by `sgdstab train --export` and by the Python helpers
//! (`sgdstab.jax.export_network`, `sgdstab.torch.export_network`), or by hand.
//!
//! | file | shape | content | needed by |
//! |---|---|---|---|
//! | `bundle.json` | | [`Manifest`]: `format`, `bundle_version`, `n`, `input_shape`, `parameters`, `param_blocks`, `first_layer`, `training` | every reader |
//! | `grads.npy` / `grads.npz` / `grads.safetensors` (exactly one) | `n × w` or a per-parameter dictionary | per-sample parameter gradients `a_i = ∇_W f(x_i, W*)`, any format `analyze` reads | all |
//! | `xgrads.npy` | `n × d` (or `n × input_shape`) | per-sample input gradients `∇_x f(x_i, W*)` | `sobolev` (`g_x`, Prop. 2) |
//! | `x.npy` | `n × d` (or `n × input_shape`) | training inputs `x_i` | `sobolev`, `generalization` |
//! | `y.npy` | `n` | targets `y_i` | `generalization` |
//! | `outputs.npy` | `n` | `f(x_i, W*)` (optional) | `generalization` (residual, `M₁`) |
//! | `w1.npy` | the first-layer parameter as stored | `W_1` (dense or conv2d first layer) | `sobolev`, `generalization` |
//! | `test_x.npy`, `test_y.npy`, `test_outputs.npy` | `n_t × d`, `n_t`, `n_t` | a held-out test set and the model's outputs on it (optional) | `generalization` |
//! | `perturbed_x.npy`, `perturbed_index.npy`, `perturbed_outputs.npy` | `q × d`, `q`, `q` | the model's outputs at points `x` near training points `x_{index}` (optional) | `generalization` (Theorem 7's sensitivity) |
//! | `params.npy`, `meta.json` | | sgdstab's own network (`train --export` only; [`Manifest::network`]) | `simulate`'s escape test, `generalization`'s probes |
//!
//! Arrays are NPY files (float64, float32 or float16; C or Fortran order); `d` is the product of
//! `input_shape` and every per-sample input is flattened in C order. Every array is checked on
//! reading: its shape against `n`, `d` and the manifest, every value finite, the first layer's
//! name against the column layout of the gradients; each error names the file and the field.
//!
//! Bundles of `bundle_version` [`BUNDLE_VERSION`]; a folder with only a `meta.json` (the export
//! of sgdstab 0.1 before bundles) is read as a bundle with the same files ([`read_bundle`]).

use crate::engine::gradients::Gradients;
use crate::engine::sampling::Sampling;
use crate::error::{Error, Result};
use crate::io::dict::ParameterBlock;
use crate::io::npy;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of the bundle format this build reads and writes.
pub const BUNDLE_VERSION: u32 = 1;

/// The value of [`Manifest::format`].
pub const BUNDLE_FORMAT: &str = "sgdstab-network-bundle";

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "bundle.json";

/// The file names the parameter gradients may have (exactly one is present).
pub const GRADIENT_FILES: [&str; 3] = ["grads.npy", "grads.npz", "grads.safetensors"];

/// Per-sample input gradients.
pub const XGRADS_FILE: &str = "xgrads.npy";
/// Training inputs.
pub const X_FILE: &str = "x.npy";
/// Training targets.
pub const Y_FILE: &str = "y.npy";
/// The model's outputs on the training inputs.
pub const OUTPUTS_FILE: &str = "outputs.npy";
/// The first-layer parameter.
pub const W1_FILE: &str = "w1.npy";
/// Test inputs.
pub const TEST_X_FILE: &str = "test_x.npy";
/// Test targets.
pub const TEST_Y_FILE: &str = "test_y.npy";
/// The model's outputs on the test inputs.
pub const TEST_OUTPUTS_FILE: &str = "test_outputs.npy";
/// Perturbed inputs.
pub const PERTURBED_X_FILE: &str = "perturbed_x.npy";
/// The training point each perturbed input belongs to (0-based, stored as float).
pub const PERTURBED_INDEX_FILE: &str = "perturbed_index.npy";
/// The model's outputs at the perturbed inputs.
pub const PERTURBED_OUTPUTS_FILE: &str = "perturbed_outputs.npy";
/// sgdstab's own network: all parameters in its flattening order.
pub const PARAMS_FILE: &str = "params.npy";
/// The file of the legacy export (before bundles).
pub const LEGACY_META_FILE: &str = "meta.json";

/// Largest number of axes of `input_shape`.
pub const MAX_INPUT_AXES: usize = 8;

/// One parameter's place in the columns of the gradient matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    /// The parameter's name (the `report.column_layout` spelling: a `jax.tree_util` path joined
    /// by `"."`, a `named_parameters()` name, or a dictionary key).
    pub name: String,
    /// The parameter's shape (without the sample axis).
    pub shape: Vec<usize>,
}

/// How a dense first layer's weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Orientation {
    /// `m × d`, `z = W_1 x` (PyTorch `nn.Linear.weight`, sgdstab's own `W_1`).
    OutIn,
    /// `d × m`, `z = xᵀ W_1` (JAX/Flax `Dense` kernels, `x @ w`).
    InOut,
}

/// Axis order of a convolution kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KernelLayout {
    /// `[c_out, c_in, k_h, k_w]` (PyTorch).
    Oihw,
    /// `[k_h, k_w, c_in, c_out]` (JAX/Flax).
    Hwio,
}

/// Axis order of a convolution's input `x` (its `input_shape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InputLayout {
    /// `[c_in, h, w]` (PyTorch).
    Chw,
    /// `[h, w, c_in]` (JAX/Flax).
    Hwc,
}

/// The boundary of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Padding {
    /// Periodic (circular) padding: output `h × w`.
    Circular,
    /// Zero padding, output `h × w` (padding `(k − 1)/2` before, the rest after, as JAX's
    /// `"SAME"` and PyTorch's `padding="same"`).
    Same,
    /// No padding: output `(h − k_h + 1) × (w − k_w + 1)`.
    Valid,
}

/// What the first layer of the model is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FirstLayer {
    /// `f(x, W) = f̃(W_1 x, W_2)` with `W_1` a matrix (eq. 6): Prop. 2, Corollary 2, Theorem 3
    /// and Theorems 6–7 apply.
    Dense {
        /// The parameter's name in the column layout.
        name: String,
        /// How `w1.npy` (and the gradient block) is stored.
        orientation: Orientation,
    },
    /// `f(x, W) = f̃(K ∗ x, W_2)`, a 2-D convolution of stride 1 with a bias-free kernel `K`.
    Conv2d {
        /// The kernel's name in the column layout.
        name: String,
        /// The kernel's axis order.
        kernel_layout: KernelLayout,
        /// The input's axis order (`input_shape` is 3-D).
        input_layout: InputLayout,
        /// The boundary.
        padding: Padding,
    },
    /// Anything else: `g_W`, `g_x` and Figure 1 only.
    Other {
        /// Why the first layer is not given (shown in the reports).
        reason: String,
    },
}

impl FirstLayer {
    /// `"dense"`, `"conv2d"` or `"other"`.
    pub fn kind(&self) -> &'static str {
        match self {
            FirstLayer::Dense { .. } => "dense",
            FirstLayer::Conv2d { .. } => "conv2d",
            FirstLayer::Other { .. } => "other",
        }
    }

    /// The parameter's name, if the layer names one.
    pub fn name(&self) -> Option<&str> {
        match self {
            FirstLayer::Dense { name, .. } | FirstLayer::Conv2d { name, .. } => Some(name),
            FirstLayer::Other { .. } => None,
        }
    }
}

/// How the model was trained (each field optional: a command asks for what it needs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Learning rate `η` of the loss `(1/2n) Σ (f − y)²`.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Batch size `B`.
    #[serde(default)]
    pub batch: Option<usize>,
    /// How batches were drawn.
    #[serde(default)]
    pub sampling: Option<Sampling>,
}

/// `bundle.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// [`BUNDLE_VERSION`].
    pub bundle_version: u32,
    /// What wrote it (free text, e.g. `"sgdstab 0.1.0 train"`).
    #[serde(default)]
    pub producer: String,
    /// Training samples `n`.
    pub n: usize,
    /// The shape of one input (`d` = its product).
    pub input_shape: Vec<usize>,
    /// Parameters `w` (columns of the gradient matrix).
    pub parameters: usize,
    /// The parameters in column order (names and shapes). Required with `grads.npy` when the
    /// first layer is named; with a dictionary file it must agree with the file when given.
    #[serde(default)]
    pub param_blocks: Option<Vec<BlockSpec>>,
    /// The first layer.
    pub first_layer: FirstLayer,
    /// Training hyper-parameters.
    #[serde(default)]
    pub training: Training,
    /// The file describing sgdstab's own network (`"meta.json"` in `train --export` bundles),
    /// read by the `networks` layer; `None` for models of other frameworks.
    #[serde(default)]
    pub network: Option<String>,
}

impl Manifest {
    /// `d`, the product of `input_shape`.
    pub fn d(&self) -> usize {
        self.input_shape.iter().product()
    }
}

/// A test set.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSet {
    /// `n_t × d` row-major.
    pub x: Vec<f64>,
    /// `n_t` targets.
    pub y: Vec<f64>,
    /// The model's outputs (when the bundle has `test_outputs.npy`).
    pub outputs: Option<Vec<f64>>,
}

impl TestSet {
    /// `n_t`.
    pub fn n(&self) -> usize {
        self.y.len()
    }
}

/// The model's outputs at perturbed inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Perturbed {
    /// `q × d` row-major.
    pub x: Vec<f64>,
    /// The training point of each (0-based, `< n`).
    pub index: Vec<usize>,
    /// `f(x, W*)` at each.
    pub outputs: Vec<f64>,
}

/// A bundle in memory: what [`read_bundle`] returns and [`write_bundle`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// Per-sample parameter gradients, `n × w`.
    pub grads: Gradients,
    /// The parameters in column order (from the file, else from `param_blocks`; one unnamed
    /// block when neither names them).
    pub blocks: Vec<ParameterBlock>,
    /// `∇_x f(x_i)`, `n × d` row-major.
    pub xgrads: Vec<f64>,
    /// `x_i`, `n × d` row-major.
    pub x: Vec<f64>,
    /// `y_i`.
    pub y: Vec<f64>,
    /// `f(x_i)`, when given.
    pub outputs: Option<Vec<f64>>,
    /// The first-layer parameter as stored (its shape is the gradient block's), when the first
    /// layer is dense or a convolution.
    pub w1: Option<Vec<f64>>,
    /// A test set, when given.
    pub test: Option<TestSet>,
    /// Outputs at perturbed inputs, when given.
    pub perturbed: Option<Perturbed>,
    /// `params.npy` (sgdstab's own network), when present.
    pub params: Option<Vec<f64>>,
}

impl Bundle {
    /// `n`.
    pub fn n(&self) -> usize {
        self.manifest.n
    }

    /// `d`.
    pub fn d(&self) -> usize {
        self.manifest.d()
    }

    /// `w`.
    pub fn w(&self) -> usize {
        self.grads.w()
    }

    /// The first layer's parameter block (shape without the sample axis).
    pub fn first_layer_block(&self) -> Option<&ParameterBlock> {
        let name = self.manifest.first_layer.name()?;
        self.blocks.iter().find(|b| b.name == name)
    }

    /// The dense first layer as an `m × d` row-major matrix (`z = W_1 x`), and `m`; `None` for
    /// another kind of first layer.
    pub fn dense_w1(&self) -> Option<(Vec<f64>, usize)> {
        let FirstLayer::Dense { orientation, .. } = &self.manifest.first_layer else {
            return None;
        };
        let w1 = self.w1.as_ref()?;
        let d = self.d();
        let m = w1.len() / d.max(1);
        Some(match orientation {
            Orientation::OutIn => (w1.clone(), m),
            Orientation::InOut => {
                let mut t = vec![0.0; w1.len()];
                for a in 0..d {
                    for b in 0..m {
                        t[b * d + a] = w1[a * m + b];
                    }
                }
                (t, m)
            }
        })
    }

    /// Checks every field against every other (the checks [`read_bundle`] does on a folder);
    /// `dir` names the files in the messages.
    pub fn validate(&self, dir: &Path) -> Result<()> {
        let m = &self.manifest;
        let at = |file: &str| dir.join(file);
        check_manifest(m, &at(MANIFEST_FILE))?;
        let (n, d) = (m.n, m.d());
        let grad_file = GRADIENT_FILES[0];
        if self.grads.n() != n || self.grads.w() != m.parameters {
            return Err(format_err(
                &at(grad_file),
                format!(
                    "{} × {} gradient matrix, but bundle.json says n = {n}, parameters = {}",
                    self.grads.n(),
                    self.grads.w(),
                    m.parameters
                ),
            ));
        }
        let rows = |file: &str, v: &[f64], width: usize, what: &str| -> Result<()> {
            if v.len() != n * width {
                return Err(format_err(
                    &at(file),
                    format!(
                        "{} values, expected n × {what} = {n} × {width} (n from bundle.json)",
                        v.len()
                    ),
                ));
            }
            finite(&at(file), v)
        };
        rows(XGRADS_FILE, &self.xgrads, d, "d")?;
        rows(X_FILE, &self.x, d, "d")?;
        rows(Y_FILE, &self.y, 1, "1")?;
        if let Some(o) = &self.outputs {
            rows(OUTPUTS_FILE, o, 1, "1")?;
        }
        check_blocks(m, &self.blocks, &at(MANIFEST_FILE), &at(grad_file))?;
        check_first_layer(m, &self.blocks, self.w1.as_deref(), dir)?;
        if let Some(t) = &self.test {
            let nt = t.y.len();
            if nt == 0 {
                return Err(format_err(&at(TEST_Y_FILE), "the test set is empty".into()));
            }
            if t.x.len() != nt * d {
                return Err(format_err(
                    &at(TEST_X_FILE),
                    format!(
                        "{} values for {nt} test points: expected {nt} × d = {nt} × {d} (d from bundle.json input_shape)",
                        t.x.len()
                    ),
                ));
            }
            finite(&at(TEST_X_FILE), &t.x)?;
            finite(&at(TEST_Y_FILE), &t.y)?;
            if let Some(o) = &t.outputs {
                if o.len() != nt {
                    return Err(format_err(
                        &at(TEST_OUTPUTS_FILE),
                        format!("{} outputs for {nt} test points", o.len()),
                    ));
                }
                finite(&at(TEST_OUTPUTS_FILE), o)?;
            }
        }
        if let Some(p) = &self.perturbed {
            let q = p.outputs.len();
            if p.x.len() != q * d {
                return Err(format_err(
                    &at(PERTURBED_X_FILE),
                    format!(
                        "{} values for {q} perturbed points: expected {q} × d = {q} × {d}",
                        p.x.len()
                    ),
                ));
            }
            if p.index.len() != q {
                return Err(format_err(
                    &at(PERTURBED_INDEX_FILE),
                    format!("{} indices for {q} perturbed outputs", p.index.len()),
                ));
            }
            if let Some(j) = p.index.iter().position(|&i| i >= n) {
                return Err(format_err(
                    &at(PERTURBED_INDEX_FILE),
                    format!(
                        "index {} at position {j} is not a training point (n = {n})",
                        p.index[j]
                    ),
                ));
            }
            finite(&at(PERTURBED_X_FILE), &p.x)?;
            finite(&at(PERTURBED_OUTPUTS_FILE), &p.outputs)?;
        }
        if let Some(p) = &self.params {
            if p.len() != m.parameters {
                return Err(format_err(
                    &at(PARAMS_FILE),
                    format!(
                        "{} values, but bundle.json says parameters = {}",
                        p.len(),
                        m.parameters
                    ),
                ));
            }
            finite(&at(PARAMS_FILE), p)?;
        }
        Ok(())
    }
}

fn format_err(path: &Path, message: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message,
    }
}

fn finite(path: &Path, v: &[f64]) -> Result<()> {
    match v.iter().position(|a| !a.is_finite()) {
        Some(p) => Err(format_err(
            path,
            format!("non-finite value {} at flat index {p}", v[p]),
        )),
        None => Ok(()),
    }
}

/// The manifest's own fields.
fn check_manifest(m: &Manifest, path: &Path) -> Result<()> {
    let bad = |field: &str, message: String| format_err(path, format!("{field}: {message}"));
    if m.format != BUNDLE_FORMAT {
        return Err(bad(
            "format",
            format!("'{}', expected '{BUNDLE_FORMAT}'", m.format),
        ));
    }
    if m.bundle_version != BUNDLE_VERSION {
        return Err(bad(
            &format!("bundle_version = {}", m.bundle_version),
            format!("this build reads version {BUNDLE_VERSION}"),
        ));
    }
    if m.n == 0 {
        return Err(bad("n = 0", "a bundle needs at least one sample".into()));
    }
    if m.input_shape.is_empty()
        || m.input_shape.len() > MAX_INPUT_AXES
        || m.input_shape.contains(&0)
    {
        return Err(bad(
            "input_shape",
            format!(
                "{:?}: give 1 to {MAX_INPUT_AXES} axes, each >= 1",
                m.input_shape
            ),
        ));
    }
    if m.input_shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .is_none()
    {
        return Err(bad("input_shape", format!("{:?} overflows", m.input_shape)));
    }
    if m.parameters == 0 {
        return Err(bad(
            "parameters = 0",
            "a bundle needs at least one parameter".into(),
        ));
    }
    if let Some(lr) = m.training.lr {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(bad(
                &format!("training.lr = {lr}"),
                "must be finite and > 0".into(),
            ));
        }
    }
    if let Some(b) = m.training.batch {
        if b == 0 || b > m.n {
            return Err(bad(
                &format!("training.batch = {b}"),
                format!("must satisfy 1 <= B <= n = {}", m.n),
            ));
        }
    }
    if let Some(name) = &m.network {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(bad(
                "network",
                format!("'{name}': a file name inside the bundle"),
            ));
        }
    }
    Ok(())
}

/// `param_blocks` against the layout of the gradient file.
fn check_blocks(
    m: &Manifest,
    blocks: &[ParameterBlock],
    manifest: &Path,
    grads: &Path,
) -> Result<()> {
    let Some(spec) = &m.param_blocks else {
        return Ok(());
    };
    let mut total = 0usize;
    for b in spec {
        let size = b
            .shape
            .iter()
            .try_fold(1usize, |a, &x| a.checked_mul(x))
            .unwrap_or(usize::MAX);
        total = total.saturating_add(size);
    }
    if total != m.parameters {
        return Err(format_err(
            manifest,
            format!(
                "param_blocks: the shapes hold {total} parameters, but parameters = {}",
                m.parameters
            ),
        ));
    }
    let named = blocks.iter().any(|b| !b.name.is_empty());
    if named {
        let same = blocks.len() == spec.len()
            && blocks.iter().zip(spec).all(|(b, s)| {
                b.name == s.name && b.columns.len() == s.shape.iter().product::<usize>()
            });
        if !same {
            return Err(format_err(
                grads,
                format!(
                    "its arrays ({}) differ from bundle.json param_blocks ({})",
                    blocks
                        .iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    spec.iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The column layout of `grads`: the file's own names, else `param_blocks`, else one unnamed block.
fn layout(m: &Manifest, file_blocks: Vec<ParameterBlock>) -> Vec<ParameterBlock> {
    if file_blocks.iter().any(|b| !b.name.is_empty()) {
        return file_blocks;
    }
    match &m.param_blocks {
        Some(spec) => blocks_of(m.n, spec),
        None => file_blocks,
    }
}

/// The first layer: its name in the layout, `w1.npy`'s shape against `d`.
fn check_first_layer(
    m: &Manifest,
    blocks: &[ParameterBlock],
    w1: Option<&[f64]>,
    dir: &Path,
) -> Result<()> {
    let manifest = dir.join(MANIFEST_FILE);
    let Some(name) = m.first_layer.name() else {
        return Ok(());
    };
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.name.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(format_err(
            &manifest,
            format!(
                "first_layer.name = '{name}': the gradients name no parameter (grads.npy: give param_blocks, or write a grads.npz dictionary)"
            ),
        ));
    }
    let Some(block) = blocks.iter().find(|b| b.name == name) else {
        let shown: Vec<&str> = names.iter().copied().take(20).collect();
        return Err(format_err(
            &manifest,
            format!(
                "first_layer.name = '{name}' is not a parameter of the gradients (parameters: {}{})",
                shown.join(", "),
                if names.len() > shown.len() { ", …" } else { "" }
            ),
        ));
    };
    let shape = &block.shape[1..];
    let d = m.d();
    let w1_path = dir.join(W1_FILE);
    let Some(w1) = w1 else {
        return Err(format_err(
            &w1_path,
            format!(
                "missing: the first layer '{name}' is {} and its weight is needed",
                m.first_layer.kind()
            ),
        ));
    };
    let size: usize = shape.iter().product();
    if w1.len() != size {
        return Err(format_err(
            &w1_path,
            format!(
                "{} values, but the gradient block '{name}' has shape {}",
                w1.len(),
                npy::shape_string(shape)
            ),
        ));
    }
    finite(&w1_path, w1)?;
    match &m.first_layer {
        FirstLayer::Dense { orientation, .. } => {
            let input_axis = match orientation {
                Orientation::OutIn => 1,
                Orientation::InOut => 0,
            };
            if shape.len() != 2 || shape[input_axis] != d {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "first_layer '{name}' of shape {} ({}) does not match d = {d} (input_shape {:?})",
                        npy::shape_string(shape),
                        match orientation {
                            Orientation::OutIn => "out-in: m × d",
                            Orientation::InOut => "in-out: d × m",
                        },
                        m.input_shape
                    ),
                ));
            }
        }
        FirstLayer::Conv2d {
            kernel_layout,
            input_layout,
            padding,
            ..
        } => {
            if shape.len() != 4 || m.input_shape.len() != 3 {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "a conv2d kernel needs 4 axes and a 3-D input_shape; got kernel {} and input_shape {:?}",
                        npy::shape_string(shape),
                        m.input_shape
                    ),
                ));
            }
            let g = conv_geometry(shape, &m.input_shape, *kernel_layout, *input_layout);
            if g.c_in != g.kernel_c_in {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "the kernel {} ({kernel_layout:?}) takes {} input channels, but input_shape {:?} ({input_layout:?}) has {}",
                        npy::shape_string(shape),
                        g.kernel_c_in,
                        m.input_shape,
                        g.c_in
                    ),
                ));
            }
            if *padding == Padding::Valid && (g.kh > g.h || g.kw > g.w) {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "a {}×{} kernel does not fit a {}×{} input without padding",
                        g.kh, g.kw, g.h, g.w
                    ),
                ));
            }
        }
        FirstLayer::Other { .. } => {}
    }
    Ok(())
}

/// The sizes of a conv2d first layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Output channels.
    pub c_out: usize,
    /// Input channels (of the kernel).
    pub kernel_c_in: usize,
    /// Input channels (of the input).
    pub c_in: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
}

/// Reads the sizes from a kernel shape and an input shape in their layouts.
pub fn conv_geometry(
    kernel: &[usize],
    input: &[usize],
    kl: KernelLayout,
    il: InputLayout,
) -> ConvGeometry {
    let (c_out, kernel_c_in, kh, kw) = match kl {
        KernelLayout::Oihw => (kernel[0], kernel[1], kernel[2], kernel[3]),
        KernelLayout::Hwio => (kernel[3], kernel[2], kernel[0], kernel[1]),
    };
    let (c_in, h, w) = match il {
        InputLayout::Chw => (input[0], input[1], input[2]),
        InputLayout::Hwc => (input[2], input[0], input[1]),
    };
    ConvGeometry {
        c_out,
        kernel_c_in,
        c_in,
        kh,
        kw,
        h,
        w,
    }
}

/// Reads `dir/name` as an NPY array.
fn read_npy(dir: &Path, name: &str) -> Result<npy::NpyArray> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    npy::parse(&bytes).map_err(|m| format_err(&path, m))
}

/// Reads an optional array (`None` when the file does not exist).
fn read_optional(dir: &Path, name: &str) -> Result<Option<npy::NpyArray>> {
    if dir.join(name).exists() {
        read_npy(dir, name).map(Some)
    } else {
        Ok(None)
    }
}

/// A per-sample array of `rows` rows of one input each: shape `(rows, d)` or
/// `(rows, *input_shape)`.
fn per_input(
    dir: &Path,
    name: &str,
    arr: npy::NpyArray,
    rows: Option<usize>,
    input_shape: &[usize],
    what: &str,
) -> Result<Vec<f64>> {
    let d: usize = input_shape.iter().product();
    let s = &arr.shape;
    let rows_ok = |r: usize| rows.is_none_or(|n| n == r);
    let ok = match s.len() {
        0 => false,
        2 => rows_ok(s[0]) && s[1] == d,
        _ => rows_ok(s[0]) && &s[1..] == input_shape,
    };
    if !ok {
        let want_rows = rows.map_or("rows".to_string(), |n| n.to_string());
        let full = input_shape
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let expected = if input_shape.len() == 1 {
            format!("({want_rows}, {d})")
        } else {
            format!("({want_rows}, {d}) or ({want_rows}, {full})")
        };
        return Err(format_err(
            &dir.join(name),
            format!(
                "array of shape {}, expected {expected} — {what} (d and input_shape from bundle.json)",
                npy::shape_string(s),
            ),
        ));
    }
    Ok(arr.data)
}

/// A vector of `len` values: shape `(len,)` or `(len, 1)`.
fn vector(
    dir: &Path,
    name: &str,
    arr: npy::NpyArray,
    len: Option<usize>,
    what: &str,
) -> Result<Vec<f64>> {
    let s = &arr.shape;
    let ok = match s.as_slice() {
        [a] | [a, 1] => len.is_none_or(|n| n == *a),
        _ => false,
    };
    if !ok {
        return Err(format_err(
            &dir.join(name),
            format!(
                "array of shape {}, expected ({},) — {what}",
                npy::shape_string(s),
                len.map_or("count".to_string(), |n| n.to_string())
            ),
        ));
    }
    Ok(arr.data)
}

/// Parses `bundle.json` text; `path` names it in errors.
pub fn parse_manifest(text: &str, path: &Path) -> Result<Manifest> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format_err(path, format!("not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(format_err(path, "not a JSON object".into()));
    };
    if !obj.contains_key("bundle_version") {
        return Err(format_err(
            path,
            format!(
                "bundle_version: missing (every bundle states its format version; this build reads {BUNDLE_VERSION})"
            ),
        ));
    }
    let m: Manifest = serde_json::from_value(value)
        .map_err(|e| format_err(path, format!("not a bundle manifest: {e}")))?;
    check_manifest(&m, path)?;
    Ok(m)
}

/// Reads a bundle folder and checks it ([`Bundle::validate`]).
///
/// A folder without `bundle.json` but with a `meta.json` of sgdstab's export (schema 1) is read
/// as the bundle it describes: `grads.npy` with blocks `W_1` (`m × d`) and `W_2` (the rest),
/// a dense first layer `W_1`, and the training `η`, `B` of `meta.json`.
pub fn read_bundle(dir: &Path) -> Result<Bundle> {
    if !dir.is_dir() {
        return Err(Error::InvalidInput {
            context: dir.display().to_string(),
            message: "not a directory (expected a network bundle: a folder with bundle.json)"
                .into(),
        });
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Io {
            path: manifest_path.clone(),
            source,
        })?;
        parse_manifest(&text, &manifest_path)?
    } else if dir.join(LEGACY_META_FILE).exists() {
        legacy_manifest(dir)?
    } else {
        return Err(format_err(
            &manifest_path,
            "missing, and no meta.json of an older export: not a network bundle (write one with `sgdstab train --export`, sgdstab.jax.export_network or sgdstab.torch.export_network)".into(),
        ));
    };
    let grad_name = gradient_file_name(dir)?;
    let input = crate::io::read_input(&dir.join(grad_name), &crate::io::ReadOptions::default())?;
    assemble(dir, manifest, input, grad_name, &|name| {
        read_optional(dir, name)
    })
}

/// The name of the bundle's gradient file: exactly one of [`GRADIENT_FILES`] must exist.
fn gradient_file_name(dir: &Path) -> Result<&'static str> {
    let present: Vec<&'static str> = GRADIENT_FILES
        .iter()
        .copied()
        .filter(|f| dir.join(f).exists())
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(format_err(
            &dir.join(GRADIENT_FILES[0]),
            format!(
                "missing: a bundle holds its parameter gradients in one of {}",
                GRADIENT_FILES.join(", ")
            ),
        )),
        several => Err(format_err(
            &dir.join(several[1]),
            format!(
                "a bundle holds one gradient file; found {}",
                several.join(" and ")
            ),
        )),
    }
}

/// The parameter-gradient file of the bundle in `dir` (what `analyze DIR` reads), after
/// checking that `dir/bundle.json` (or a legacy `meta.json`) is there and parses.
pub fn gradient_file(dir: &Path) -> Result<PathBuf> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Io {
            path: manifest_path.clone(),
            source,
        })?;
        parse_manifest(&text, &manifest_path)?;
    } else if dir.join(LEGACY_META_FILE).exists() {
        legacy_manifest(dir)?;
    } else {
        return Err(format_err(
            &manifest_path,
            "missing: a directory given as gradients must be a network bundle".into(),
        ));
    }
    Ok(dir.join(gradient_file_name(dir)?))
}

/// A bundle from arrays in memory (a writer's input, e.g. the Python helpers'), checked exactly
/// as [`read_bundle`] checks a folder; errors name the file each array would be written to in
/// `dir`. `grads` is the `n × w` matrix (`param_blocks` of the manifest name its columns);
/// `arrays` maps the other file names (`x.npy`, …) to their arrays.
pub fn bundle_from_arrays(
    dir: &Path,
    manifest_json: &str,
    grads: npy::NpyArray,
    arrays: &std::collections::BTreeMap<String, npy::NpyArray>,
) -> Result<Bundle> {
    let manifest = parse_manifest(manifest_json, &dir.join(MANIFEST_FILE))?;
    let grad_path = dir.join(GRADIENT_FILES[0]);
    let (n, w, data) = grads.into_matrix().map_err(|m| format_err(&grad_path, m))?;
    let gradients = Gradients::from_row_major(n, w, data, &grad_path.display().to_string())?;
    let input = crate::io::GradientInput {
        gradients,
        format: crate::io::Format::Npy,
        blocks: vec![ParameterBlock {
            name: String::new(),
            shape: vec![n, w],
            columns: 0..w,
        }],
    };
    if let Some(name) = arrays.keys().find(|k| !KNOWN_FILES.contains(&k.as_str())) {
        return Err(format_err(
            &dir.join(name),
            format!("not a bundle file (known: {})", KNOWN_FILES.join(", ")),
        ));
    }
    assemble(dir, manifest, input, GRADIENT_FILES[0], &|name| {
        Ok(arrays.get(name).cloned())
    })
}

/// The array files of a bundle besides the gradients.
pub const KNOWN_FILES: [&str; 12] = [
    XGRADS_FILE,
    X_FILE,
    Y_FILE,
    OUTPUTS_FILE,
    W1_FILE,
    TEST_X_FILE,
    TEST_Y_FILE,
    TEST_OUTPUTS_FILE,
    PERTURBED_X_FILE,
    PERTURBED_INDEX_FILE,
    PERTURBED_OUTPUTS_FILE,
    PARAMS_FILE,
];

type ArraySource<'a> = dyn Fn(&str) -> Result<Option<npy::NpyArray>> + 'a;

/// The checks shared by [`read_bundle`] and [`bundle_from_arrays`]: every array against the
/// manifest, all values finite.
fn assemble(
    dir: &Path,
    manifest: Manifest,
    input: crate::io::GradientInput,
    grad_name: &str,
    source: &ArraySource<'_>,
) -> Result<Bundle> {
    let grad_path = dir.join(grad_name);
    let manifest_path = dir.join(MANIFEST_FILE);
    let n = manifest.n;
    if input.gradients.n() != n || input.gradients.w() != manifest.parameters {
        return Err(format_err(
            &grad_path,
            format!(
                "{} × {} gradient matrix, but bundle.json says n = {n}, parameters = {}",
                input.gradients.n(),
                input.gradients.w(),
                manifest.parameters
            ),
        ));
    }
    let optional = |name: &str| -> Result<Option<npy::NpyArray>> {
        match source(name)? {
            Some(a) => {
                finite(&dir.join(name), &a.data)?;
                Ok(Some(a))
            }
            None => Ok(None),
        }
    };
    let need = |name: &str, what: &str| -> Result<npy::NpyArray> {
        optional(name)?.ok_or_else(|| {
            format_err(
                &dir.join(name),
                format!("missing: a bundle needs the {what}"),
            )
        })
    };
    let shape = manifest.input_shape.clone();
    let xgrads = per_input(
        dir,
        XGRADS_FILE,
        need(XGRADS_FILE, "per-sample input gradients")?,
        Some(n),
        &shape,
        "per-sample input gradients",
    )?;
    let x = per_input(
        dir,
        X_FILE,
        need(X_FILE, "training inputs")?,
        Some(n),
        &shape,
        "training inputs",
    )?;
    let y = vector(
        dir,
        Y_FILE,
        need(Y_FILE, "training targets")?,
        Some(n),
        "n training targets",
    )?;
    let outputs = optional(OUTPUTS_FILE)?
        .map(|a| vector(dir, OUTPUTS_FILE, a, Some(n), "the model's n outputs"))
        .transpose()?;
    let w1 = match manifest.first_layer {
        FirstLayer::Other { .. } => None,
        _ => optional(W1_FILE)?,
    };
    let test = match (optional(TEST_X_FILE)?, optional(TEST_Y_FILE)?) {
        (None, None) => {
            if optional(TEST_OUTPUTS_FILE)?.is_some() {
                return Err(format_err(
                    &dir.join(TEST_X_FILE),
                    "missing: test_outputs.npy is given without the test inputs".into(),
                ));
            }
            None
        }
        (Some(tx), Some(ty)) => {
            let y = vector(dir, TEST_Y_FILE, ty, None, "test targets")?;
            let x = per_input(dir, TEST_X_FILE, tx, Some(y.len()), &shape, "test inputs")?;
            let outputs = optional(TEST_OUTPUTS_FILE)?
                .map(|a| {
                    vector(
                        dir,
                        TEST_OUTPUTS_FILE,
                        a,
                        Some(y.len()),
                        "the model's outputs on the test inputs",
                    )
                })
                .transpose()?;
            Some(TestSet { x, y, outputs })
        }
        (Some(_), None) => {
            return Err(format_err(
                &dir.join(TEST_Y_FILE),
                "missing: test_x.npy is given without its targets".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(format_err(
                &dir.join(TEST_X_FILE),
                "missing: test_y.npy is given without its inputs".into(),
            ))
        }
    };
    let perturbed = match (
        optional(PERTURBED_X_FILE)?,
        optional(PERTURBED_INDEX_FILE)?,
        optional(PERTURBED_OUTPUTS_FILE)?,
    ) {
        (None, None, None) => None,
        (Some(px), Some(pi), Some(po)) => {
            let outputs = vector(
                dir,
                PERTURBED_OUTPUTS_FILE,
                po,
                None,
                "outputs at the perturbed inputs",
            )?;
            let q = outputs.len();
            let x = per_input(
                dir,
                PERTURBED_X_FILE,
                px,
                Some(q),
                &shape,
                "perturbed inputs",
            )?;
            let raw = vector(
                dir,
                PERTURBED_INDEX_FILE,
                pi,
                Some(q),
                "the training point of each perturbed input",
            )?;
            let mut index = Vec::with_capacity(q);
            for (j, &v) in raw.iter().enumerate() {
                if v < 0.0 || v.fract() != 0.0 || v >= n as f64 {
                    return Err(format_err(
                        &dir.join(PERTURBED_INDEX_FILE),
                        format!("value {v} at position {j} is not a training index in 0..{n}"),
                    ));
                }
                index.push(v as usize);
            }
            Some(Perturbed { x, index, outputs })
        }
        _ => {
            return Err(format_err(
                &dir.join(PERTURBED_OUTPUTS_FILE),
                "perturbed_x.npy, perturbed_index.npy and perturbed_outputs.npy go together".into(),
            ))
        }
    };
    let params = match optional(PARAMS_FILE)? {
        Some(a) if manifest.network.is_some() => Some(a.data),
        _ => None,
    };
    let blocks = layout(&manifest, input.blocks.clone());
    if let (Some(a), Some(name)) = (&w1, manifest.first_layer.name()) {
        if let Some(b) = blocks.iter().find(|b| b.name == name) {
            if a.shape != b.shape[1..] {
                return Err(format_err(
                    &dir.join(W1_FILE),
                    format!(
                        "array of shape {}, but the gradient block '{name}' has shape {}",
                        npy::shape_string(&a.shape),
                        npy::shape_string(&b.shape[1..])
                    ),
                ));
            }
        }
    }
    let w1 = w1.map(|a| a.data);
    let bundle = Bundle {
        manifest,
        grads: input.gradients,
        blocks,
        xgrads,
        x,
        y,
        outputs,
        w1,
        test,
        perturbed,
        params,
    };
    check_blocks(&bundle.manifest, &input.blocks, &manifest_path, &grad_path)?;
    check_first_layer(&bundle.manifest, &bundle.blocks, bundle.w1.as_deref(), dir)?;
    Ok(bundle)
}

/// The manifest of a legacy export folder (only `meta.json`).
fn legacy_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(LEGACY_META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format_err(&path, format!("not JSON: {e}")))?;
    let field = |name: &str| -> Result<&serde_json::Value> {
        v.get(name).ok_or_else(|| {
            format_err(
                &path,
                format!(
                    "{name}: missing (no bundle.json, and this is not an sgdstab export meta.json)"
                ),
            )
        })
    };
    let count = |name: &str| -> Result<usize> {
        field(name)?
            .as_u64()
            .map(|u| u as usize)
            .ok_or_else(|| format_err(&path, format!("{name}: not a count")))
    };
    if field("schema_version")?.as_u64() != Some(1) {
        return Err(format_err(
            &path,
            format!(
                "schema_version: {} (this build reads export meta.json version 1, or bundles with bundle.json)",
                field("schema_version")?
            ),
        ));
    }
    let (n, d, w, m) = (
        count("samples")?,
        count("input_dim")?,
        count("parameters")?,
        count("first_layer_rows")?,
    );
    let sampling = match v.get("sampling").and_then(|s| s.as_str()) {
        Some(s) => Some(
            s.parse::<Sampling>()
                .map_err(|e| format_err(&path, format!("sampling: {e}")))?,
        ),
        None => None,
    };
    let md = m.saturating_mul(d);
    let mut param_blocks = vec![BlockSpec {
        name: "W_1".into(),
        shape: vec![m, d],
    }];
    if w > md {
        param_blocks.push(BlockSpec {
            name: "W_2".into(),
            shape: vec![w - md],
        });
    }
    let m = Manifest {
        format: BUNDLE_FORMAT.into(),
        bundle_version: BUNDLE_VERSION,
        producer: "sgdstab export (meta.json schema 1)".into(),
        n,
        input_shape: vec![d],
        parameters: w,
        param_blocks: Some(param_blocks),
        first_layer: FirstLayer::Dense {
            name: "W_1".into(),
            orientation: Orientation::OutIn,
        },
        training: Training {
            lr: v.get("lr").and_then(|x| x.as_f64()),
            batch: v.get("batch").and_then(|x| x.as_u64()).map(|b| b as usize),
            sampling,
        },
        network: Some(LEGACY_META_FILE.into()),
    };
    check_manifest(&m, &path)?;
    Ok(m)
}

/// Writes `bundle` into `dir` (created if missing) after [`Bundle::validate`]: nothing is
/// written when a check fails. The gradients go to `grads.npy` (their names and shapes in
/// `param_blocks`); every file is written atomically, `bundle.json` last, so a folder whose
/// writing was interrupted is not a bundle. Files of `extra` (name, bytes) are written before
/// the manifest (sgdstab's own `meta.json`).
pub fn write_bundle(dir: &Path, bundle: &Bundle, extra: &[(&str, &[u8])]) -> Result<()> {
    let mut manifest = bundle.manifest.clone();
    if manifest.param_blocks.is_none() && bundle.blocks.iter().any(|b| !b.name.is_empty()) {
        manifest.param_blocks = Some(
            bundle
                .blocks
                .iter()
                .map(|b| BlockSpec {
                    name: b.name.clone(),
                    shape: b.shape[1..].to_vec(),
                })
                .collect(),
        );
    }
    let checked = Bundle {
        manifest,
        ..bundle.clone()
    };
    checked.validate(dir)?;
    let json =
        serde_json::to_string_pretty(&checked.manifest).map_err(|e| Error::InvalidInput {
            context: dir.join(MANIFEST_FILE).display().to_string(),
            message: e.to_string(),
        })? + "\n";
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (n, d) = (checked.n(), checked.d());
    let npy_file = |name: &str, shape: &[usize], data: &[f64]| {
        crate::io::write_atomic(&dir.join(name), &npy::to_bytes(shape, data))
    };
    // over an older bundle: remove its files this one does not have (the dictionary forms of
    // the gradients, a test set, perturbed outputs), so that no stale file is read with it
    if dir.join(MANIFEST_FILE).exists() || dir.join(LEGACY_META_FILE).exists() {
        let mut stale: Vec<&str> = GRADIENT_FILES[1..].to_vec();
        let has = |name: &str| match name {
            OUTPUTS_FILE => checked.outputs.is_some(),
            W1_FILE => checked.w1.is_some(),
            TEST_X_FILE | TEST_Y_FILE => checked.test.is_some(),
            TEST_OUTPUTS_FILE => checked.test.as_ref().is_some_and(|t| t.outputs.is_some()),
            PERTURBED_X_FILE | PERTURBED_INDEX_FILE | PERTURBED_OUTPUTS_FILE => {
                checked.perturbed.is_some()
            }
            PARAMS_FILE => checked.params.is_some(),
            _ => true,
        };
        stale.extend(KNOWN_FILES.iter().copied().filter(|f| !has(f)));
        for name in stale {
            let path = dir.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            }
        }
    }
    npy_file(
        GRADIENT_FILES[0],
        &[n, checked.w()],
        checked.grads.as_slice(),
    )?;
    npy_file(XGRADS_FILE, &[n, d], &checked.xgrads)?;
    npy_file(X_FILE, &[n, d], &checked.x)?;
    npy_file(Y_FILE, &[n], &checked.y)?;
    if let Some(o) = &checked.outputs {
        npy_file(OUTPUTS_FILE, &[n], o)?;
    }
    if let (Some(w1), Some(b)) = (&checked.w1, checked.first_layer_block()) {
        npy_file(W1_FILE, &b.shape[1..], w1)?;
    }
    if let Some(t) = &checked.test {
        npy_file(TEST_X_FILE, &[t.n(), d], &t.x)?;
        npy_file(TEST_Y_FILE, &[t.n()], &t.y)?;
        if let Some(o) = &t.outputs {
            npy_file(TEST_OUTPUTS_FILE, &[t.n()], o)?;
        }
    }
    if let Some(p) = &checked.perturbed {
        let q = p.outputs.len();
        let index: Vec<f64> = p.index.iter().map(|&i| i as f64).collect();
        npy_file(PERTURBED_X_FILE, &[q, d], &p.x)?;
        npy_file(PERTURBED_INDEX_FILE, &[q], &index)?;
        npy_file(PERTURBED_OUTPUTS_FILE, &[q], &p.outputs)?;
    }
    if let Some(p) = &checked.params {
        npy_file(PARAMS_FILE, &[p.len()], p)?;
    }
    for (name, bytes) in extra {
        crate::io::write_atomic(&dir.join(name), bytes)?;
    }
    crate::io::write_atomic(&dir.join(MANIFEST_FILE), json.as_bytes())
}

/// Builds the column layout of `param_blocks` for an in-memory bundle (a writer's input).
pub fn blocks_of(n: usize, spec: &[BlockSpec]) -> Vec<ParameterBlock> {
    let mut start = 0;
    spec.iter()
        .map(|s| {
            let len: usize = s.shape.iter().product();
            let mut shape = vec![n];
            shape.extend(&s.shape);
            let b = ParameterBlock {
                name: s.name.clone(),
                shape,
                columns: start..start + len,
            };
            start += len;
            b
        })
        .collect()
}

/// Where a bundle's files are, for messages: `dir/name`.
pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
