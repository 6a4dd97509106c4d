//! `analyze`: the full stability report for one learning rate, batch size and set of orders.
//!
//! Steps: span reduction (DESIGN §4) → Prop. 1 on the reduced coordinates → for each degree
//! `j = 1..max k`, the dense `T_j^{(b)}` in closed form and its spectrum → per order `k`, the
//! blocks `j = 0..k` with multiplicities, the Theorem 1 verdict and cone check, Theorem 2 and
//! Corollary 1 on the original coordinates, and the consistency findings.

use crate::bounds::{Corollary1, MomentStats, Theorem2};
use crate::error::{Error, Result};
use crate::gradients::Gradients;
use crate::inertia::{dense_certificate, InertiaCertificate};
use crate::io::stream::StreamedGram;
use crate::lanczos::{extreme_eigenvalues, Ends, LanczosOptions};
use crate::linop::DenseSymmetric;
use crate::matrix_free::{second_order_threshold, EigenCoords, MatrixFreeMoment, SecondMoment};
use crate::moment_operator::DenseMoment;
use crate::progress::Progress;
use crate::prop1::{prop1, Prop1};
use crate::reduction::{ReductionMethod, SpanReduction};
use crate::sampling::{BatchModel, Sampling};
use crate::spectrum::{
    eigensolver_error_bound, symmetric_eigenvalues, EigenBackend, SpectrumSummary,
};
use crate::stability::{cone_power_iteration, cone_start, ConeCheck, Termination, Verdict};
use crate::symmetric::SymBasis;
use serde::Serialize;

/// Version of the `analyze` JSON schema (bumped on any incompatible change).
pub const ANALYZE_SCHEMA_VERSION: u32 = 1;

/// Options of the cone power iteration (Theorem 1, even `k`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConeOptions {
    /// Relative residual at which the iteration stops.
    pub tolerance: f64,
    /// Iteration limit; `None` = [`DEFAULT_CONE_ITERATIONS_DENSE`] on dense blocks and
    /// [`DEFAULT_CONE_ITERATIONS_MATRIX_FREE`] on matrix-free ones; `Some(0)` skips the check.
    pub max_iterations: Option<usize>,
}

/// Default cone iteration limit on dense blocks (a product costs `D²`).
pub const DEFAULT_CONE_ITERATIONS_DENSE: usize = 5000;
/// Default cone iteration limit on matrix-free blocks (a product costs a full operator pass).
pub const DEFAULT_CONE_ITERATIONS_MATRIX_FREE: usize = 300;

impl Default for ConeOptions {
    fn default() -> Self {
        ConeOptions {
            tolerance: 1e-10,
            max_iterations: None,
        }
    }
}

/// How each block `T_j^{(b)}` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorMethod {
    /// Dense when `D <= max_dense_dim` and the dense matrices fit the memory budget, else
    /// matrix-free (requested value only; reported blocks say which was used).
    #[default]
    Auto,
    /// The dense closed-form matrix and a full symmetric eigensolve.
    Dense,
    /// The matrix-free operator and Lanczos for both ends of the spectrum.
    MatrixFree,
}

impl std::str::FromStr for OperatorMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(OperatorMethod::Auto),
            "dense" => Ok(OperatorMethod::Dense),
            "matrix-free" => Ok(OperatorMethod::MatrixFree),
            o => Err(format!(
                "unknown method '{o}' (expected 'auto', 'dense' or 'matrix-free')"
            )),
        }
    }
}

impl std::fmt::Display for OperatorMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OperatorMethod::Auto => "auto",
            OperatorMethod::Dense => "dense",
            OperatorMethod::MatrixFree => "matrix-free",
        })
    }
}

/// Lanczos details of a matrix-free block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanczosReport {
    /// Operator applications.
    pub products: usize,
    /// Thick restarts.
    pub restarts: usize,
    /// Why it stopped.
    pub termination: Termination,
    /// Explicit residual of the smallest Ritz pair.
    pub residual_min: f64,
    /// Explicit residual of the largest Ritz pair.
    pub residual_max: f64,
}

/// What to analyze.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// Learning rate `η > 0`.
    pub lr: f64,
    /// Batch size `1 <= B <= n`.
    pub batch: usize,
    /// Orders `k >= 1` (reported in the given order, duplicates removed).
    pub orders: Vec<usize>,
    /// Sampling scheme.
    pub sampling: Sampling,
    /// Relative rank tolerance (default `max(n, w)·ε`, see [`crate::reduction`]).
    pub rank_tolerance: Option<f64>,
    /// Dense eigensolver.
    pub backend: EigenBackend,
    /// Cone check settings.
    pub cone: ConeOptions,
    /// Memory budget in bytes for dense work (default [`crate::memory::default_budget_bytes`]).
    pub memory_budget: Option<u128>,
    /// Include every eigenvalue of every block in the report.
    pub full_spectrum: bool,
    /// Largest `D` the dense path accepts (default [`DEFAULT_MAX_DENSE_DIM`]): a dense eigensolve
    /// costs `O(D³)` (about a minute at `D = 8000` on 2 cores).
    pub max_dense_dim: usize,
    /// Dense, matrix-free, or automatic per block.
    pub method: OperatorMethod,
    /// Lanczos settings of the matrix-free path.
    pub lanczos: LanczosOptions,
}

/// Default limit of the dense path.
pub const DEFAULT_MAX_DENSE_DIM: usize = 8000;

impl AnalyzeOptions {
    /// Defaults for everything but `lr`, `batch` and `orders`.
    pub fn new(lr: f64, batch: usize, orders: Vec<usize>) -> Self {
        AnalyzeOptions {
            lr,
            batch,
            orders,
            sampling: Sampling::default(),
            rank_tolerance: None,
            backend: EigenBackend::default(),
            cone: ConeOptions::default(),
            memory_budget: None,
            full_spectrum: false,
            max_dense_dim: DEFAULT_MAX_DENSE_DIM,
            method: OperatorMethod::Auto,
            lanczos: LanczosOptions::default(),
        }
    }
}

/// Checks `η` finite and positive.
pub fn check_lr(lr: f64) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::parameter(
            "--lr",
            lr,
            "the learning rate must be finite and > 0",
        ));
    }
    Ok(())
}

/// The largest order accepted (the batch-moment table enumerates all integer partitions of
/// every `m <= k`; `p(32) = 8349`).
pub const MAX_ORDER: usize = 32;

/// Checks the orders: non-empty, every `1 <= k <= MAX_ORDER`.
pub fn check_orders(orders: &[usize]) -> Result<()> {
    if orders.is_empty() {
        return Err(Error::parameter(
            "--order",
            "(none)",
            "give at least one order k >= 1",
        ));
    }
    for &k in orders {
        if k == 0 {
            return Err(Error::parameter("--order", k, "orders start at k = 1"));
        }
        if k > MAX_ORDER {
            return Err(Error::parameter(
                "--order",
                k,
                format!("orders above {MAX_ORDER} are not supported"),
            ));
        }
    }
    Ok(())
}

/// One block `T_j^{(b)}` of the spectrum of `T_k` on `Sym^k(R^w)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockReport {
    /// The degree `j` (0 = the flat block `T_0 = 1`).
    pub j: usize,
    /// `dim Sym^j(R^r)`.
    pub dim: usize,
    /// `ρ(T_j^{(b)})`.
    pub radius: f64,
    /// Smallest eigenvalue.
    pub lambda_min: f64,
    /// Largest eigenvalue.
    pub lambda_max: f64,
    /// Error bound on each eigenvalue.
    pub error_bound: f64,
    /// How often the block's spectrum repeats in `Sym^k(R^w)`: `C(w − r + k − j − 1, k − j)`.
    pub multiplicity: u128,
    /// `dense` or `matrix-free`.
    pub method: OperatorMethod,
    /// Lanczos details (matrix-free blocks `j >= 2`), else `null`.
    pub lanczos: Option<LanczosReport>,
    /// The Sylvester-inertia certificate of the `+1` side ([`crate::inertia`]): present when
    /// `λ_max(T_j)` is within its error bound of 1 (dense blocks; near-flat directions) and for
    /// matrix-free `j = 2` blocks; it then decides that side of the verdict. Else `null`.
    pub inertia: Option<InertiaCertificate>,
    /// All eigenvalues, ascending (only with `full_spectrum`, dense blocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eigenvalues: Option<Vec<f64>>,
}

/// The cone check (Theorem 1, even `k`), on the top block `T_k^{(b)}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConeReport {
    /// `‖T X_t‖/‖X_t‖` at the last iterate (a lower bound on the Perron root).
    pub ratio: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Relative eigen-residual at the end.
    pub residual: f64,
    /// Why it stopped.
    pub termination: Termination,
    /// `ρ(T_k^{(b)})` from the eigensolver, for comparison.
    pub block_radius: f64,
    /// `|ratio − block_radius| / block_radius`.
    pub relative_difference: f64,
}

/// Everything about one order `k`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderReport {
    /// The order.
    pub k: usize,
    /// `ρ_k` of `T_k` on `Sym^k(R^w)`: the maximum over the present blocks, including the flat
    /// block `T_0 = 1` when `r < w` (so at least 1 then).
    pub spectral_radius: f64,
    /// `max_{1<=j<=k} ρ(T_j^{(b)})` over the present blocks: the quantity the verdict decides on.
    pub reduced_radius: f64,
    /// Largest error bound of the blocks `j >= 1`.
    pub error_bound: f64,
    /// `stable`, `unstable` or `marginal`.
    pub verdict: Verdict,
    /// `1 − reduced_radius` (positive when stable).
    pub margin: f64,
    /// Cone ratio for even `k` (see [`ConeReport`]), else `null`.
    pub cone_ratio: Option<f64>,
    /// Details of the cone check for even `k`, else `null`.
    pub cone: Option<ConeReport>,
    /// The blocks `j = 0..k` present in `Sym^k(R^w)`.
    pub blocks: Vec<BlockReport>,
    /// Theorem 2 (eq. 18) on the original coordinates.
    pub theorem2: Theorem2,
    /// Corollary 1 (eq. 19).
    pub corollary1: Corollary1,
    /// No consistency finding concerns this order.
    pub consistent: bool,
}

/// An implication that failed on this input: a counterexample to the paper or a bug.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The implication: `stable=>theorem2`, `stable=>corollary1`, `theorem2=>corollary1`,
    /// `prop1=>order2`, `cone<=radius`, `inertia=radius` (matrix-free `j = 2`: the two ways of
    /// deciding the block disagree).
    pub check: String,
    /// The order concerned.
    pub k: usize,
    /// What failed, with the numbers.
    pub message: String,
}

/// The consistency section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consistency {
    /// No finding.
    pub ok: bool,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// The `analyze` report (`schema_version` [`ANALYZE_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"analyze"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The gradient file, when read from one.
    pub input: Option<String>,
    /// Samples.
    pub n: usize,
    /// Parameters.
    pub w: usize,
    /// `r = rank(A)`.
    pub rank: usize,
    /// Relative rank tolerance `τ` used.
    pub rank_tolerance: f64,
    /// How the reduced coordinates were obtained.
    pub reduction: ReductionMethod,
    /// Largest Gram eigenvalue `σ_max²`.
    pub gram_eigenvalue_max: f64,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Sampling scheme.
    pub sampling: Sampling,
    /// Eigensolver used.
    pub eigensolver: EigenBackend,
    /// `λ_max(H)` (sharpness; `η*_1 = 2/λ_max(H)`).
    pub sharpness: f64,
    /// `Tr H = (1/n) Σ ‖a_i‖²` (flatness, eq. 3).
    pub flatness: f64,
    /// Whether the gradients were streamed from disk (never held whole).
    pub streamed: bool,
    /// The requested operator method (`auto`, `dense`, `matrix-free`); blocks say which was used.
    pub method: OperatorMethod,
    /// Prop. 1.
    pub prop1: Prop1,
    /// One entry per requested order.
    pub orders: Vec<OrderReport>,
    /// Implications checked on this input.
    pub consistency: Consistency,
}

/// The spectrum of one reduced block `T_j^{(b)}`.
#[derive(Debug, Clone)]
struct Block {
    summary: SpectrumSummary,
    dim: usize,
    eigenvalues: Option<Vec<f64>>,
    cone: Option<ConeCheck>,
    method: OperatorMethod,
    lanczos: Option<LanczosReport>,
    inertia: Option<InertiaCertificate>,
}

/// What the analysis needs from the gradients: the span reduction and the moment statistics of
/// the original coordinates. Built from an in-memory matrix ([`Prepared::from_gradients`]) or by
/// streaming a wide `.npy` file ([`Prepared::from_streamed`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The span reduction.
    pub reduction: SpanReduction,
    /// Theorem 2 / Corollary 1 statistics (must cover the orders analysed).
    pub stats: MomentStats,
    /// `Tr H = (1/n) Σ ‖a_i‖²`.
    pub flatness: f64,
    /// Whether `A` was streamed (never held whole).
    pub streamed: bool,
}

impl Prepared {
    /// From an in-memory matrix, for the given orders.
    pub fn from_gradients(
        grads: &Gradients,
        orders: &[usize],
        rank_tolerance: Option<f64>,
    ) -> Result<Self> {
        Ok(Prepared {
            reduction: SpanReduction::new(grads, rank_tolerance)?,
            stats: MomentStats::from_gradients(grads, orders),
            flatness: grads.as_slice().iter().map(|x| x * x).sum::<f64>() / grads.n() as f64,
            streamed: false,
        })
    }

    /// From a streamed Gram matrix ([`crate::io::stream::stream_gram`]).
    pub fn from_streamed(s: StreamedGram, rank_tolerance: Option<f64>) -> Result<Self> {
        let n = s.n;
        let trace: f64 = (0..n).map(|i| s.gram[i + i * n]).sum();
        let g = faer::MatRef::from_column_major_slice(&s.gram, n, n);
        Ok(Prepared {
            reduction: SpanReduction::from_row_gram(g, s.w, rank_tolerance)?,
            stats: s.stats,
            flatness: trace / n as f64,
            streamed: true,
        })
    }
}

/// Runs the analysis on an in-memory gradient matrix.
pub fn analyze(
    grads: &Gradients,
    opts: &AnalyzeOptions,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<AnalysisReport> {
    check_lr(opts.lr)?;
    check_orders(&opts.orders)?;
    BatchModel::new(grads.n(), opts.batch, opts.sampling)?;
    let prep = Prepared::from_gradients(grads, &opts.orders, opts.rank_tolerance)?;
    analyze_prepared(&prep, opts, input, progress)
}

/// Bytes the matrix-free path needs for a block of dimension `d`: the Lanczos basis (and the
/// vectors kept at a restart) plus a few work vectors.
pub fn matrix_free_bytes(d: u128, lanczos: &LanczosOptions) -> u128 {
    let vectors = (lanczos.max_basis + 2 * lanczos.keep + 8) as u128;
    d.saturating_mul(vectors).saturating_mul(8)
}

/// Runs the analysis on prepared input.
pub fn analyze_prepared(
    prep: &Prepared,
    opts: &AnalyzeOptions,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<AnalysisReport> {
    check_lr(opts.lr)?;
    check_orders(&opts.orders)?;
    let red = &prep.reduction;
    let model = BatchModel::new(red.n, opts.batch, opts.sampling)?;
    if !opts.backend.available() {
        return Err(Error::parameter(
            "--eigensolver",
            opts.backend,
            "this build has no LAPACK; rebuild with `--features lapack`",
        ));
    }
    let mut orders: Vec<usize> = Vec::new();
    for &k in &opts.orders {
        if !orders.contains(&k) {
            orders.push(k);
        }
    }
    let max_k = *orders.iter().max().unwrap_or(&1);
    let budget = opts
        .memory_budget
        .unwrap_or_else(crate::memory::default_budget_bytes);
    let r = red.rank;
    // choose the method of every block, and check it fits, before any expensive work
    let mut methods = vec![OperatorMethod::Dense; max_k + 1];
    for (j, method) in methods.iter_mut().enumerate().skip(1) {
        if r == 0 {
            continue;
        }
        let d = crate::combinatorics::sym_dim(r, j).unwrap_or(u128::MAX);
        let dense_ok = d <= opts.max_dense_dim as u128
            && crate::moment_operator::check_dense_budget(r, j, budget).is_ok();
        *method = match opts.method {
            OperatorMethod::Dense => {
                crate::moment_operator::check_dense_budget(r, j, budget)?;
                if d > opts.max_dense_dim as u128 {
                    return Err(Error::parameter(
                        "--order",
                        j,
                        format!(
                            "T_{j} on Sym^{j}(R^{r}) has dimension D = {d} > the dense limit {} (an O(D³) eigensolve); lower k, raise --max-dense-dim, or use --method auto",
                            opts.max_dense_dim
                        ),
                    ));
                }
                OperatorMethod::Dense
            }
            OperatorMethod::Auto if dense_ok => OperatorMethod::Dense,
            OperatorMethod::Auto | OperatorMethod::MatrixFree => {
                let need = matrix_free_bytes(d, &opts.lanczos);
                if need > budget || d > u32::MAX as u128 {
                    return Err(Error::too_large(
                        format!("the matrix-free Lanczos on Sym^{j}(R^{r}) (D = {d})"),
                        need,
                        budget,
                        "lower the order k or the number of samples (r <= n), or raise SGDSTAB_MEMORY_BYTES",
                    ));
                }
                OperatorMethod::MatrixFree
            }
        };
    }
    progress.begin("analyze", max_k as u64 + 2);

    let h = red.hessian();
    let hbuf: Vec<f64> = (0..r * r).map(|i| h[(i % r, i / r)]).collect();
    let h_vals = symmetric_eigenvalues(&hbuf, r, opts.backend)?;
    let sharpness = h_vals.last().copied().unwrap_or(0.0).max(0.0);
    progress.advance(1, "Prop. 1");
    let p1 = prop1(red, opts.lr, &model, opts.backend)?;
    progress.advance(1, "moment operators");
    let eigen_coords = if methods.contains(&OperatorMethod::MatrixFree) {
        Some(EigenCoords::new(&red.coords, red.n, r)?)
    } else {
        None
    };

    let mut blocks: Vec<Option<Block>> = vec![None; max_k + 1];
    for (j, slot) in blocks.iter_mut().enumerate().skip(1) {
        progress.advance(0, &format!("T_{j}: building and solving"));
        if r == 0 {
            progress.advance(1, "");
            continue;
        }
        let want_cone = j % 2 == 0 && orders.contains(&j);
        *slot = Some(match (methods[j], &eigen_coords) {
            (OperatorMethod::MatrixFree, Some(ec)) => {
                matrix_free_block(ec, j, &model, opts, want_cone)?
            }
            _ => dense_block(red, j, &model, opts, budget, want_cone)?,
        });
        progress.advance(1, "");
    }
    progress.end();

    let mut findings = Vec::new();
    let mut order_reports = Vec::new();
    for &k in &orders {
        let mut brs = Vec::new();
        let multiplicity_of = |j: usize| -> Result<u128> {
            red.block_multiplicity(k, j).ok_or_else(|| {
                Error::parameter(
                    "--order",
                    k,
                    format!("block multiplicities overflow 128 bits for w = {}", red.w),
                )
            })
        };
        let m0 = multiplicity_of(0)?;
        if r < red.w && m0 > 0 {
            brs.push(BlockReport {
                j: 0,
                dim: 1,
                radius: 1.0,
                lambda_min: 1.0,
                lambda_max: 1.0,
                error_bound: 0.0,
                multiplicity: m0,
                method: OperatorMethod::Dense,
                lanczos: None,
                inertia: None,
                eigenvalues: opts.full_spectrum.then(|| vec![1.0]),
            });
        }
        let mut verdicts = Vec::new();
        let (mut reduced_radius, mut error_bound) = (0.0f64, 0.0f64);
        for (j, blk) in blocks.iter().enumerate().take(k + 1).skip(1) {
            let m = multiplicity_of(j)?;
            let Some(b) = blk else { continue };
            if m == 0 {
                continue;
            }
            verdicts.push(block_verdict(j, b));
            reduced_radius = reduced_radius.max(b.summary.radius);
            error_bound = error_bound.max(b.summary.error_bound);
            brs.push(BlockReport {
                j,
                dim: b.dim,
                radius: b.summary.radius,
                lambda_min: b.summary.lambda_min,
                lambda_max: b.summary.lambda_max,
                error_bound: b.summary.error_bound,
                multiplicity: m,
                method: b.method,
                lanczos: b.lanczos.clone(),
                inertia: b.inertia.clone(),
                eigenvalues: if opts.full_spectrum {
                    b.eigenvalues.clone()
                } else {
                    None
                },
            });
        }
        let verdict = Verdict::combine(verdicts);
        let spectral_radius = brs.iter().map(|b| b.radius).fold(0.0, f64::max);
        let cone = blocks[k].as_ref().and_then(|b| {
            b.cone.as_ref().map(|c| ConeReport {
                ratio: c.ratio,
                iterations: c.iterations,
                residual: c.residual,
                termination: c.termination,
                block_radius: b.summary.radius,
                relative_difference: if b.summary.radius > 0.0 {
                    (c.ratio - b.summary.radius).abs() / b.summary.radius
                } else {
                    c.ratio.abs()
                },
            })
        });
        let missing = || {
            Error::parameter(
                "--order",
                k,
                "the prepared moment statistics do not cover this order",
            )
        };
        let t2 = prep
            .stats
            .theorem2(k, opts.lr, opts.batch)
            .ok_or_else(missing)?;
        let c1 = prep
            .stats
            .corollary1(k, opts.lr, opts.batch)
            .ok_or_else(missing)?;
        let before = findings.len();
        if verdict == Verdict::Stable && !t2.holds {
            findings.push(Finding {
                check: "stable=>theorem2".into(),
                k,
                message: format!(
                    "order {k} is stable (reduced radius {reduced_radius:.17e}) but Theorem 2 fails at coordinate {}: (1/n)Σ a_ij^{} = {:.17e} > 2^k B^(k-1)/η^k = {:.17e} (ratio {:.17e})",
                    t2.argmax_coordinate, 2 * k, t2.max_moment, t2.bound, t2.ratio
                ),
            });
        }
        if verdict == Verdict::Stable && !c1.holds {
            findings.push(Finding {
                check: "stable=>corollary1".into(),
                k,
                message: format!(
                    "order {k} is stable but Corollary 1 fails: (1/n)Σ‖a_i‖_{} = {:.17e} > {:.17e} (ratio {:.17e})",
                    2 * k, c1.lhs, c1.rhs, c1.ratio
                ),
            });
        }
        if t2.holds && !c1.holds {
            findings.push(Finding {
                check: "theorem2=>corollary1".into(),
                k,
                message: format!(
                    "Theorem 2 holds (ratio {:.17e}) but Corollary 1 fails (ratio {:.17e}); Hölder makes this impossible: a bug",
                    t2.ratio, c1.ratio
                ),
            });
        }
        // Prop. 1: ρ(T_2^{(b)}) <= q and ρ(T_1^{(b)})² <= q (DESIGN §6), so q <= 1 ⇒ order 2 stable.
        if k == 2 {
            let tol = p1.error_bound + error_bound;
            for (j, power) in [(1usize, 2i32), (2, 1)] {
                if let Some(b) = &blocks[j] {
                    if b.summary.radius.powi(power) > p1.value + tol {
                        findings.push(Finding {
                            check: "prop1=>order2".into(),
                            k,
                            message: format!(
                                "ρ(T_{j})^{power} = {:.17e} exceeds q = λmax E[MᵀM] = {:.17e}, which bounds it",
                                b.summary.radius.powi(power),
                                p1.value
                            ),
                        });
                    }
                }
            }
            if p1.stable && verdict == Verdict::Unstable {
                findings.push(Finding {
                    check: "prop1=>order2".into(),
                    k,
                    message: format!(
                        "Prop. 1 holds (q = {:.17e}) but order 2 is unstable (reduced radius {reduced_radius:.17e})",
                        p1.value
                    ),
                });
            }
        }
        for b in blocks.iter().take(k + 1).flatten() {
            if let Some(c) = &b.inertia {
                let by_top = side_verdict(b.summary.lambda_max - 1.0, b.summary.error_bound);
                if by_top != Verdict::Marginal
                    && c.verdict != Verdict::Marginal
                    && by_top != c.verdict
                {
                    findings.push(Finding {
                        check: "inertia=radius".into(),
                        k,
                        message: format!(
                            "λ_max(T) − 1 = {:.3e} ± {:.1e} says {} but the inertia certificate λ_max(M) = {:.17e} ± {:.1e} says {}",
                            b.summary.lambda_max - 1.0, b.summary.error_bound, by_top, c.lambda_max, c.error_bound, c.verdict
                        ),
                    });
                }
            }
        }
        if let Some(c) = &cone {
            if c.ratio > c.block_radius * (1.0 + 1e-12) + error_bound {
                findings.push(Finding {
                    check: "cone<=radius".into(),
                    k,
                    message: format!(
                        "the cone ratio {:.17e} exceeds the spectral radius {:.17e} of T_{k}",
                        c.ratio, c.block_radius
                    ),
                });
            }
        }
        let consistent = findings.len() == before;
        order_reports.push(OrderReport {
            k,
            spectral_radius,
            reduced_radius,
            error_bound,
            verdict,
            margin: 1.0 - reduced_radius,
            cone_ratio: cone.as_ref().map(|c| c.ratio),
            cone,
            blocks: brs,
            theorem2: t2,
            corollary1: c1,
            consistent,
        });
    }

    Ok(AnalysisReport {
        schema_version: ANALYZE_SCHEMA_VERSION,
        command: "analyze",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        n: red.n,
        w: red.w,
        rank: r,
        rank_tolerance: red.relative_tolerance,
        reduction: red.method,
        gram_eigenvalue_max: red.gram_eigenvalues.first().copied().unwrap_or(0.0),
        lr: opts.lr,
        batch: opts.batch,
        sampling: opts.sampling,
        eigensolver: opts.backend,
        sharpness,
        flatness: prep.flatness,
        streamed: prep.streamed,
        method: opts.method,
        prop1: p1,
        orders: order_reports,
        consistency: Consistency {
            ok: findings.is_empty(),
            findings,
        },
    })
}

/// The cone check (Theorem 1, even `j`) on `op`, from the interior element `(Σ x_a²)^{j/2}`.
fn cone_check(
    op: &dyn crate::linop::SymmetricOperator,
    r: usize,
    j: usize,
    opts: &AnalyzeOptions,
    default_iterations: usize,
) -> Result<Option<ConeCheck>> {
    let max_iter = opts.cone.max_iterations.unwrap_or(default_iterations);
    if max_iter == 0 {
        return Ok(None);
    }
    let basis = SymBasis::new(r, j)?;
    let start = cone_start(&basis);
    Ok(Some(cone_power_iteration(
        op,
        &start,
        opts.cone.tolerance,
        max_iter,
    )))
}

/// A block by the dense closed form and a full symmetric eigensolve.
fn dense_block(
    red: &SpanReduction,
    j: usize,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    budget: u128,
    want_cone: bool,
) -> Result<Block> {
    let t = DenseMoment::build(red, j, opts.lr, model, budget)?;
    let vals = symmetric_eigenvalues(&t.matrix, t.dim, opts.backend)?;
    let err = t.build_error_bound() + eigensolver_error_bound(t.dim, t.frobenius);
    let summary = SpectrumSummary::from_sorted(&vals, err);
    let cone = if want_cone {
        let op = DenseSymmetric::new(&t.matrix, t.dim);
        cone_check(&op, red.rank, j, opts, DEFAULT_CONE_ITERATIONS_DENSE)?
    } else {
        None
    };
    // λ_max within rounding of 1 (a near-flat direction): decide the +1 side by inertia
    let inertia =
        if side_verdict(summary.lambda_max - 1.0, summary.error_bound) == Verdict::Marginal {
            let ec = EigenCoords::new(&red.coords, red.n, red.rank)?;
            Some(dense_certificate(&ec, j, opts.lr, model, opts.backend)?)
        } else {
            None
        };
    Ok(Block {
        summary,
        dim: t.dim,
        eigenvalues: Some(vals),
        cone,
        method: OperatorMethod::Dense,
        lanczos: None,
        inertia,
    })
}

/// A block by the matrix-free operator and Lanczos (`j = 1` exactly from the eigenvalues of `H`:
/// `spec T_1 = 1 − η spec H`).
fn matrix_free_block(
    ec: &EigenCoords,
    j: usize,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    want_cone: bool,
) -> Result<Block> {
    let u = f64::EPSILON / 2.0;
    if j == 1 {
        let mut vals: Vec<f64> = ec.h_eigenvalues.iter().map(|l| 1.0 - opts.lr * l).collect();
        vals.sort_by(f64::total_cmp);
        let hnorm = ec.h_eigenvalues.iter().map(|l| l * l).sum::<f64>().sqrt();
        let err = opts.lr * eigensolver_error_bound(ec.r, hnorm) * 2.0
            + u * (1.0 + opts.lr * hnorm) * 4.0;
        return Ok(Block {
            summary: SpectrumSummary::from_sorted(&vals, err),
            dim: ec.r,
            eigenvalues: opts.full_spectrum.then_some(vals),
            cone: None,
            method: OperatorMethod::MatrixFree,
            lanczos: None,
            inertia: None,
        });
    }
    let op: Box<dyn crate::linop::SymmetricOperator> = if j == 2 {
        Box::new(SecondMoment::new(ec, opts.lr, model)?)
    } else {
        Box::new(MatrixFreeMoment::new(ec, j, opts.lr, model)?)
    };
    // Even j: T_j preserves the cone M_j^+, so by Krein–Rutman ρ(T_j) = λ_max(T_j) and only the
    // top end needs to converge (λ_min is then reported as its Ritz value, an upper bound).
    let lanczos = LanczosOptions {
        ends: if j % 2 == 0 {
            Ends::Largest
        } else {
            Ends::Both
        },
        ..opts.lanczos
    };
    let res = extreme_eigenvalues(op.as_ref(), &lanczos);
    let res = if j % 2 == 0 && res.lambda_min.abs() > res.lambda_max.abs() {
        // cannot happen in exact arithmetic (Krein–Rutman); converge both ends to be safe
        extreme_eigenvalues(
            op.as_ref(),
            &LanczosOptions {
                ends: Ends::Both,
                ..lanczos
            },
        )
    } else {
        res
    };
    let d = op.dim();
    let rounding = d as f64 * u * res.radius();
    let summary = SpectrumSummary {
        lambda_min: res.lambda_min,
        lambda_max: res.lambda_max,
        radius: res.radius(),
        error_bound: res.radius_error_bound() + rounding,
    };
    let cone = if want_cone {
        cone_check(
            op.as_ref(),
            ec.r,
            j,
            opts,
            DEFAULT_CONE_ITERATIONS_MATRIX_FREE,
        )?
    } else {
        None
    };
    // j = 2: λ_max(M(η)) = η λ_max(C⁺D)/2 − 1 (see crate::inertia), from the well-conditioned pencil
    let inertia = if j == 2 {
        let th = second_order_threshold(ec, model, &opts.lanczos)?;
        Some(InertiaCertificate::new(
            0.5 * opts.lr * th.lambda_max - 1.0,
            0.5 * opts.lr * th.lambda_max_error,
        ))
    } else {
        None
    };
    Ok(Block {
        summary,
        dim: d,
        eigenvalues: None,
        cone,
        inertia,
        method: OperatorMethod::MatrixFree,
        lanczos: Some(LanczosReport {
            products: res.products,
            restarts: res.restarts,
            termination: res.termination,
            residual_min: res.residual_min,
            residual_max: res.residual_max,
        }),
    })
}

/// The verdict of one side: `excess = λ_max − 1` or `−1 − λ_min`.
fn side_verdict(excess: f64, error_bound: f64) -> Verdict {
    if excess > error_bound {
        Verdict::Unstable
    } else if excess < -error_bound {
        Verdict::Stable
    } else {
        Verdict::Marginal
    }
}

/// The verdict of block `j`: the `+1` side from `λ_max − 1`, or from the inertia certificate when
/// that is within rounding; the `−1` side from `−1 − λ_min` — for even `j` the `+1` side decides
/// alone, since `T_j` preserves the cone `M_j^+` and so `λ_min >= −ρ = −λ_max` (Krein–Rutman).
fn block_verdict(j: usize, b: &Block) -> Verdict {
    let err = b.summary.error_bound;
    let plus = match &b.inertia {
        Some(c) if c.verdict != Verdict::Marginal => c.verdict,
        _ => side_verdict(b.summary.lambda_max - 1.0, err),
    };
    if j % 2 == 0 {
        return plus;
    }
    let minus = side_verdict(-1.0 - b.summary.lambda_min, err);
    Verdict::combine([plus, minus])
}
