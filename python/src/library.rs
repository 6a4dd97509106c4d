//! Every call into the `sgdstab` library, in one place.
//!
//! Today the library takes an owned `Gradients` (row-major f64), so [`gradients`] copies the
//! borrowed views into one. When the library's `Problem` lands (issue 12: built from a borrowed
//! strided f32/f64 view, the Gram matrix computed from it in blocks), [`gradients`] becomes that
//! constructor, [`analyze`], [`thresholds`] and [`diagram`] call `problem.analyze(..)` etc. with
//! the options structs, and the whole `Hooks` (progress and cancellation) is passed instead of
//! its progress half. Nothing outside this file needs to change.

use numpy::ndarray::ArrayViewD;
use sgdstab::engine::analysis::{AnalyzeOptions, ConeOptions, OperatorMethod};
use sgdstab::engine::lanczos::LanczosOptions;
use sgdstab::io::dict::{assemble, Array, ArrayDict, AssembleError, Selection};
use sgdstab::progress::Hooks;
use sgdstab::threshold::{MethodChoice, ThresholdOptions};
use sgdstab::{EigenBackend, Error, Gradients, Result, Sampling};
use std::str::FromStr;

/// The package version (the library's: both crates are released together).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where errors about the input point: the `grads` argument.
const GRADS: &str = "grads";

/// A borrowed NumPy array: shape and strides as NumPy has them, no copy.
pub enum View<'a> {
    /// float64.
    F64(ArrayViewD<'a, f64>),
    /// float32.
    F32(ArrayViewD<'a, f32>),
}

impl View<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            View::F64(a) => a.shape(),
            View::F32(a) => a.shape(),
        }
    }

    /// The values as f64 in C (row-major) order: an `a.reshape(n, -1)` of a leading-axis array.
    fn to_f64(&self) -> Vec<f64> {
        match self {
            View::F64(a) => a.iter().copied().collect(),
            View::F32(a) => a.iter().map(|&x| f64::from(x)).collect(),
        }
    }
}

/// One named array of a per-parameter dictionary (leading axis: samples).
pub struct Block<'a> {
    /// The parameter's name (`""` for a plain matrix).
    pub name: String,
    /// Its values.
    pub view: View<'a>,
}

/// The gradients as the Python side passed them.
pub enum Input<'a> {
    /// One `n × w` array, rows = samples.
    Matrix(View<'a>),
    /// Per-parameter arrays, concatenated along the feature axis in the given order.
    Dict(Vec<Block<'a>>),
}

impl<'a> Input<'a> {
    /// `kind` is `"matrix"` (exactly one 2-D block) or `"dict"`.
    pub fn new(kind: &str, mut blocks: Vec<Block<'a>>) -> Result<Self> {
        match kind {
            "matrix" if blocks.len() == 1 => {
                let view = blocks.remove(0).view;
                let shape = view.shape();
                if shape.len() != 2 {
                    return Err(Error::InvalidInput {
                        context: GRADS.into(),
                        message: format!(
                            "array of shape {} is {}-D; expected a 2-D n × w array (rows = samples) or a dict of per-parameter arrays",
                            sgdstab::io::npy::shape_string(shape),
                            shape.len()
                        ),
                    });
                }
                Ok(Input::Matrix(view))
            }
            "dict" => Ok(Input::Dict(blocks)),
            _ => Err(Error::InvalidInput {
                context: GRADS.into(),
                message: format!("internal: input kind '{kind}' with {} arrays", blocks.len()),
            }),
        }
    }
}

/// The dictionary's arrays for the library's [`assemble`] (the `.npz` reader's rules and
/// messages: the same leading axis everywhere, every value finite, each flattened in C order).
struct Views<'b, 'a> {
    keys: Vec<String>,
    blocks: &'b [Block<'a>],
}

impl ArrayDict for Views<'_, '_> {
    fn keys(&self) -> &[String] {
        &self.keys
    }
    fn load(&mut self, index: usize) -> std::result::Result<Array, String> {
        let view = &self.blocks[index].view;
        Ok(Array {
            shape: view.shape().to_vec(),
            data: view.to_f64(),
        })
    }
}

/// The `n × w` gradient matrix. Today an f64 copy; with the library's `Problem` this becomes the
/// borrowed-view constructor.
fn gradients(input: &Input) -> Result<Gradients> {
    match input {
        Input::Matrix(view) => {
            let (n, w) = (view.shape()[0], view.shape()[1]);
            Gradients::from_row_major(n, w, view.to_f64(), GRADS)
        }
        Input::Dict(blocks) => {
            let mut views = Views {
                keys: blocks.iter().map(|b| b.name.clone()).collect(),
                blocks,
            };
            let a = assemble(&mut views, Selection::All).map_err(|e| match e {
                AssembleError::UnknownKey(m) | AssembleError::Invalid(m) => Error::InvalidInput {
                    context: GRADS.into(),
                    message: m,
                },
            })?;
            Gradients::from_row_major(a.n, a.w, a.data, GRADS)
        }
    }
}

/// A mode given as a string (`sampling="with"`), parsed by the library's `FromStr`.
fn parse<T: FromStr<Err = String>>(name: &'static str, value: &str) -> Result<T> {
    T::from_str(value).map_err(|m| Error::parameter(name, format!("'{value}'"), m))
}

fn eigensolver(value: Option<&str>) -> Result<EigenBackend> {
    let backend = match value {
        Some(v) => parse::<EigenBackend>("eigensolver", v)?,
        None => EigenBackend::default(),
    };
    if !backend.available() {
        return Err(Error::parameter(
            "eigensolver",
            backend,
            "this build has no LAPACK; rebuild the extension with the library's `lapack` feature",
        ));
    }
    Ok(backend)
}

fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::parameter(name, value, "must be finite and > 0"))
    }
}

/// The keyword arguments of `analyze` (names as in Python).
pub struct AnalyzeArgs {
    pub lr: f64,
    pub batch: usize,
    pub orders: Vec<usize>,
    pub sampling: String,
    pub rank_tol: Option<f64>,
    pub eigensolver: Option<String>,
    pub method: String,
    pub cone_tol: f64,
    pub cone_max_iter: Option<usize>,
    pub lanczos_tol: f64,
    pub max_dense_dim: usize,
    pub spectrum: bool,
    pub memory_budget: Option<u128>,
}

/// The library's options for `analyze`, as `sgdstab analyze` builds them from its flags.
pub fn analyze_options(a: &AnalyzeArgs) -> Result<AnalyzeOptions> {
    sgdstab::engine::analysis::check_lr(a.lr)?;
    sgdstab::engine::analysis::check_orders(&a.orders)?;
    Ok(AnalyzeOptions {
        sampling: parse("sampling", &a.sampling)?,
        rank_tolerance: a.rank_tol,
        backend: eigensolver(a.eigensolver.as_deref())?,
        cone: ConeOptions {
            tolerance: positive("cone_tol", a.cone_tol)?,
            max_iterations: a.cone_max_iter,
        },
        memory_budget: a.memory_budget,
        full_spectrum: a.spectrum,
        max_dense_dim: a.max_dense_dim,
        method: parse::<OperatorMethod>("method", &a.method)?,
        lanczos: LanczosOptions {
            tolerance: positive("lanczos_tol", a.lanczos_tol)?,
            ..LanczosOptions::default()
        },
        ..AnalyzeOptions::new(a.lr, a.batch, a.orders.clone())
    })
}

/// `analyze` → the report's JSON text (exactly the CLI's).
pub fn analyze(
    input: &Input,
    opts: &AnalyzeOptions,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    let grads = gradients(input)?;
    let report = sgdstab::analyze(&grads, opts, source, hooks.progress)?;
    sgdstab::report::to_json(&report)
}

/// The keyword arguments of `thresholds` and `diagram` (names as in Python).
pub struct ThresholdArgs {
    pub orders: Vec<usize>,
    pub sampling: String,
    pub method: String,
    pub max_companion_rows: usize,
    pub rank_tol: Option<f64>,
    pub eigensolver: Option<String>,
    pub max_dense_dim: usize,
    pub memory_budget: Option<u128>,
}

/// What `thresholds` and `diagram` need besides the gradients and batch sizes.
pub struct ThresholdRun {
    orders: Vec<usize>,
    sampling: Sampling,
    rank_tol: Option<f64>,
    options: ThresholdOptions,
}

/// The library's options for `thresholds` / `diagram`, as the CLI builds them.
pub fn threshold_options(a: &ThresholdArgs) -> Result<ThresholdRun> {
    sgdstab::engine::analysis::check_orders(&a.orders)?;
    Ok(ThresholdRun {
        orders: a.orders.clone(),
        sampling: parse("sampling", &a.sampling)?,
        rank_tol: a.rank_tol,
        options: ThresholdOptions {
            method: parse::<MethodChoice>("method", &a.method)?,
            backend: eigensolver(a.eigensolver.as_deref())?,
            max_companion_rows: a.max_companion_rows,
            max_dense_dim: a.max_dense_dim,
            memory_budget: a.memory_budget,
            ..ThresholdOptions::default()
        },
    })
}

/// `threshold` → the report's JSON text (exactly the CLI's).
pub fn thresholds(
    input: &Input,
    batch: usize,
    run: &ThresholdRun,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    let grads = gradients(input)?;
    let report = sgdstab::threshold::threshold_report(
        &grads,
        batch,
        &run.orders,
        run.sampling,
        run.rank_tol,
        &run.options,
        source,
        hooks.progress,
    )?;
    sgdstab::report::to_json(&report)
}

/// `diagram` → the table's JSON text (exactly the CLI's `--json-out`). `batches = None`: every
/// `B = 1..n`.
pub fn diagram(
    input: &Input,
    batches: Option<&[usize]>,
    run: &ThresholdRun,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    let grads = gradients(input)?;
    let all: Vec<usize>;
    let batches = match batches {
        Some(b) => b,
        None => {
            all = (1..=grads.n()).collect();
            &all
        }
    };
    let report = sgdstab::threshold::diagram::diagram(
        &grads,
        &run.orders,
        batches,
        run.sampling,
        run.rank_tol,
        &run.options,
        source,
        hooks.progress,
    )?;
    sgdstab::report::to_json(&report)
}
