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
//! Files: this module (the format: manifest, first layer, [`Bundle`]), `check` (every field
//! against the others), `read` (a folder or arrays in memory, the legacy export), `write`.
//!
//! Bundles of `bundle_version` [`BUNDLE_VERSION`]; a folder with only a `meta.json` (the export
//! of sgdstab 0.1 before bundles) is read as a bundle with the same files ([`read_bundle`]).

mod check;
mod read;
mod write;

pub use read::{bundle_from_arrays, gradient_file, parse_manifest, read_bundle, KNOWN_FILES};
pub use write::{blocks_of, write_bundle};

use crate::engine::gradients::Gradients;
use crate::engine::sampling::Sampling;
use crate::error::Result;
use crate::io::dict::ParameterBlock;
use check::{check_blocks, check_first_layer, check_manifest, finite, format_err};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
