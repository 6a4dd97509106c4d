//! Every call into the `sgdstab` library, in one place.
//!
//! The gradients reach the library as borrowed views ([`Problem::from_view`] for a 2-D array,
//! [`Problem::from_views`] for per-parameter arrays in their order): no `f64` copy, no
//! concatenation; the Gram matrix is computed from the views in blocks. Every call gets the full
//! [`Hooks`] (progress and cancellation), so Ctrl-C stops a run at the library's next checkpoint.
//!
//! The options are built as `sgdstab analyze` / `threshold` / `diagram` build them from their
//! flags (`src/cli/`), so a report equals the CLI's JSON on the same data.

use sgdstab::engine::sampling::BatchModel;
use sgdstab::{
    AnalyzeOptions, DiagramOptions, EigenBackend, Error, GradientView, Hooks, MethodChoice,
    NamedView, OperatorMethod, Param, Problem, ProblemOptions, Result, Sampling, SolverOptions,
    ThresholdOptions,
};
use std::str::FromStr;

/// The package version (the library's: both crates are released together).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where errors about the input point: the `grads` argument.
const GRADS: &str = "grads";

/// One array as the Python side passed it: its name (`""` for a plain matrix), its whole shape
/// (sample axis first) and its values as an `n × w` view (the other axes flattened in C order).
pub struct Block<'a> {
    /// The parameter's name.
    pub name: String,
    /// The array's shape, sample axis first.
    pub shape: Vec<usize>,
    /// Its values.
    pub view: GradientView<'a>,
}

/// The gradients as the Python side passed them.
pub enum Input<'a> {
    /// One `n × w` array, rows = samples.
    Matrix(GradientView<'a>),
    /// Per-parameter arrays, side by side along the columns in the given order.
    Dict(Vec<NamedView<'a>>),
}

fn bad_input(message: String) -> Error {
    Error::InvalidInput {
        context: GRADS.into(),
        message,
    }
}

impl<'a> Input<'a> {
    /// `kind` is `"matrix"` (exactly one 2-D array) or `"dict"`.
    pub fn new(kind: &str, mut blocks: Vec<Block<'a>>) -> Result<Self> {
        match kind {
            "matrix" if blocks.len() == 1 => {
                let b = blocks.remove(0);
                if b.shape.len() != 2 {
                    return Err(bad_input(format!(
                        "array of shape {} is {}-D; expected a 2-D n × w array (rows = samples) or a dict of per-parameter arrays",
                        sgdstab::io::npy::shape_string(&b.shape),
                        b.shape.len()
                    )));
                }
                Ok(Input::Matrix(b.view))
            }
            "dict" => {
                let mut views = Vec::with_capacity(blocks.len());
                for b in blocks {
                    if b.shape.is_empty() {
                        return Err(bad_input(format!(
                            "array '{}' is 0-D; every array needs a leading sample axis",
                            b.name
                        )));
                    }
                    views.push(NamedView {
                        name: b.name,
                        shape: b.shape[1..].to_vec(),
                        view: b.view,
                    });
                }
                Ok(Input::Dict(views))
            }
            _ => Err(bad_input(format!(
                "internal: input kind '{kind}' with {} arrays",
                blocks.len()
            ))),
        }
    }

    /// Samples `n` (of the first array; the library checks the others).
    fn n(&self) -> usize {
        match self {
            Input::Matrix(v) => v.n(),
            Input::Dict(views) => views.first().map_or(0, |v| v.view.n()),
        }
    }

    /// Checks each batch size against `n` before any work (the library's check and message).
    fn check_batches(&self, batches: &[usize], sampling: Sampling) -> Result<()> {
        let n = self.n();
        if n == 0 {
            return Ok(()); // the view's own check names the empty matrix
        }
        for &b in batches {
            BatchModel::new(n, b, sampling)?;
        }
        Ok(())
    }

    /// Reduces the gradients once: the span reduction and the moment statistics up to
    /// `max_order`, read from the views in place.
    fn problem(&self, fixed: &Fixed, max_order: usize, hooks: Hooks) -> Result<Problem> {
        let opts = ProblemOptions::default()
            .sampling(fixed.sampling)
            .rank_tolerance(fixed.rank_tolerance)
            .max_order(max_order);
        match self {
            Input::Matrix(v) => Problem::from_view(*v, &opts, hooks),
            Input::Dict(views) => Problem::from_views(views, &opts, hooks),
        }
    }
}

/// A mode given as a string (`sampling="with"`), parsed by the library's `FromStr`.
fn parse<T: FromStr<Err = String>>(param: Param, value: &str) -> Result<T> {
    T::from_str(value).map_err(|m| Error::parameter(param, format!("'{value}'"), m))
}

/// The keyword arguments shared by every entry point (names as in Python and the library).
pub struct CommonArgs {
    pub orders: Vec<usize>,
    pub sampling: String,
    pub rank_tolerance: Option<f64>,
    pub eigensolver: Option<String>,
    pub max_dense_dim: usize,
    pub memory_budget: Option<u128>,
    pub lanczos_tolerance: f64,
}

/// What is fixed with the problem: sampling scheme and rank tolerance.
struct Fixed {
    sampling: Sampling,
    rank_tolerance: Option<f64>,
}

impl CommonArgs {
    fn fixed(&self) -> Result<Fixed> {
        let sampling = parse(Param::Sampling, &self.sampling)?;
        ProblemOptions::default()
            .rank_tolerance(self.rank_tolerance)
            .validate()?;
        Ok(Fixed {
            sampling,
            rank_tolerance: self.rank_tolerance,
        })
    }

    /// The solver settings as `SolverArgs::solver` of the CLI builds them.
    fn solver(&self, method: OperatorMethod) -> Result<SolverOptions> {
        let eigensolver = match &self.eigensolver {
            Some(v) => parse::<EigenBackend>(Param::Eigensolver, v)?,
            None => EigenBackend::default(),
        };
        Ok(SolverOptions::default()
            .eigensolver(eigensolver)
            .method(method)
            .max_dense_dim(self.max_dense_dim)
            .memory_budget(self.memory_budget)
            .lanczos_tolerance(self.lanczos_tolerance))
    }

    fn max_order(&self) -> usize {
        self.orders.iter().copied().max().unwrap_or(1)
    }
}

/// `analyze`'s own keyword arguments.
pub struct AnalyzeArgs {
    pub lr: f64,
    pub batch: usize,
    pub method: String,
    pub cone_tolerance: f64,
    pub cone_max_iterations: Option<usize>,
    pub full_spectrum: bool,
}

/// A checked `analyze` call, ready to run.
pub struct AnalyzeRun {
    lr: f64,
    batch: usize,
    max_order: usize,
    fixed: Fixed,
    options: AnalyzeOptions,
}

/// Checks every argument of `analyze` that does not need the data (as the CLI does before it
/// reads the file).
pub fn analyze_options(c: &CommonArgs, a: &AnalyzeArgs) -> Result<AnalyzeRun> {
    if !(a.lr.is_finite() && a.lr > 0.0) {
        return Err(Error::parameter(
            Param::LearningRate,
            a.lr,
            "the learning rate must be finite and > 0",
        ));
    }
    let method = parse::<OperatorMethod>(Param::Method, &a.method)?;
    let options = AnalyzeOptions::default()
        .orders(c.orders.clone())
        .full_spectrum(a.full_spectrum)
        .cone_tolerance(a.cone_tolerance)
        .cone_max_iterations(a.cone_max_iterations)
        .solver(c.solver(method)?);
    options.validate()?;
    Ok(AnalyzeRun {
        lr: a.lr,
        batch: a.batch,
        max_order: c.max_order(),
        fixed: c.fixed()?,
        options,
    })
}

/// `analyze` → the report's JSON text (exactly the CLI's; `input` = `source`).
pub fn analyze(
    input: &Input,
    run: &AnalyzeRun,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    input.check_batches(&[run.batch], run.fixed.sampling)?;
    let problem = input.problem(&run.fixed, run.max_order, hooks)?;
    let mut report = problem.analyze(run.lr, run.batch, &run.options, hooks)?;
    report.input = source;
    sgdstab::report::to_json(&report)
}

/// The keyword arguments of `thresholds` and `diagram` besides the common ones.
pub struct ThresholdArgs {
    pub method: String,
    pub max_companion_rows: usize,
}

/// A checked `thresholds` call.
pub struct ThresholdRun {
    batch: usize,
    max_order: usize,
    fixed: Fixed,
    options: ThresholdOptions,
}

/// Checks the arguments of `thresholds` (as `sgdstab threshold` does).
pub fn threshold_options(c: &CommonArgs, t: &ThresholdArgs, batch: usize) -> Result<ThresholdRun> {
    let options = ThresholdOptions::default()
        .orders(c.orders.clone())
        .method(parse::<MethodChoice>(Param::Method, &t.method)?)
        .max_companion_rows(t.max_companion_rows)
        .solver(c.solver(OperatorMethod::Auto)?);
    options.validate()?;
    Ok(ThresholdRun {
        batch,
        max_order: c.max_order(),
        fixed: c.fixed()?,
        options,
    })
}

/// `thresholds` → the report's JSON text (exactly the CLI's `threshold --json`).
pub fn thresholds(
    input: &Input,
    run: &ThresholdRun,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    input.check_batches(&[run.batch], run.fixed.sampling)?;
    let problem = input.problem(&run.fixed, run.max_order, hooks)?;
    let mut report = problem.thresholds(run.batch, &run.options, hooks)?;
    report.input = source;
    sgdstab::report::to_json(&report)
}

/// A checked `diagram` call.
pub struct DiagramRun {
    max_order: usize,
    fixed: Fixed,
    options: DiagramOptions,
}

/// Checks the arguments of `diagram` (as `sgdstab diagram` does). `batches = None`: every
/// `B = 1..=n`.
pub fn diagram_options(
    c: &CommonArgs,
    t: &ThresholdArgs,
    batches: Option<Vec<usize>>,
) -> Result<DiagramRun> {
    let mut options = DiagramOptions::default()
        .orders(c.orders.clone())
        .method(parse::<MethodChoice>(Param::Method, &t.method)?)
        .max_companion_rows(t.max_companion_rows)
        .solver(c.solver(OperatorMethod::Auto)?);
    if let Some(b) = batches {
        options = options.batches(b);
    }
    options.validate()?;
    Ok(DiagramRun {
        max_order: c.max_order(),
        fixed: c.fixed()?,
        options,
    })
}

/// `diagram` → the table's JSON text (exactly the CLI's `diagram --json`).
pub fn diagram(
    input: &Input,
    run: &DiagramRun,
    source: Option<String>,
    hooks: Hooks,
) -> Result<String> {
    if let Some(b) = &run.options.batches {
        input.check_batches(b, run.fixed.sampling)?;
    }
    let problem = input.problem(&run.fixed, run.max_order, hooks)?;
    let mut report = problem.diagram(&run.options, hooks)?;
    report.input = source;
    sgdstab::report::to_json(&report)
}
