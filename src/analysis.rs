//! `analyze`: the full stability report for one learning rate, batch size and set of orders.
//!
//! Steps: span reduction (DESIGN §4) → Prop. 1 on the reduced coordinates → for each degree
//! `j = 1..max k`, the dense `T_j^{(b)}` in closed form and its spectrum → per order `k`, the
//! blocks `j = 0..k` with multiplicities, the Theorem 1 verdict and cone check, Theorem 2 and
//! Corollary 1 on the original coordinates, and the consistency findings.

use crate::bounds::{corollary1, theorem2, Corollary1, Theorem2};
use crate::error::{Error, Result};
use crate::gradients::Gradients;
use crate::linop::DenseSymmetric;
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
    /// Iteration limit.
    pub max_iterations: usize,
}

impl Default for ConeOptions {
    fn default() -> Self {
        ConeOptions {
            tolerance: 1e-10,
            max_iterations: 5000,
        }
    }
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
    /// All eigenvalues, ascending (only with `full_spectrum`).
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
    /// `prop1=>order2`, `cone<=radius`.
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
    eigenvalues: Vec<f64>,
    cone: Option<ConeCheck>,
}

/// Runs the analysis.
pub fn analyze(
    grads: &Gradients,
    opts: &AnalyzeOptions,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<AnalysisReport> {
    check_lr(opts.lr)?;
    check_orders(&opts.orders)?;
    let model = BatchModel::new(grads.n(), opts.batch, opts.sampling)?;
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
    progress.begin("analyze", max_k as u64 + 2);

    progress.advance(0, "span reduction");
    let red = SpanReduction::new(grads, opts.rank_tolerance)?;
    let r = red.rank;
    // check every dense block fits before doing any expensive work
    for j in 1..=max_k {
        if r > 0 {
            crate::moment_operator::check_dense_budget(r, j, budget)?;
            let d = crate::combinatorics::sym_dim(r, j).unwrap_or(u128::MAX);
            if d > opts.max_dense_dim as u128 {
                return Err(Error::parameter(
                    "--order",
                    j,
                    format!(
                        "T_{j} on Sym^{j}(R^{r}) has dimension D = {d} > the dense limit {} (an O(D³) eigensolve); lower k or raise --max-dense-dim",
                        opts.max_dense_dim
                    ),
                ));
            }
        }
    }
    let h = red.hessian();
    let hbuf: Vec<f64> = (0..r * r).map(|i| h[(i % r, i / r)]).collect();
    let h_vals = symmetric_eigenvalues(&hbuf, r, opts.backend)?;
    let sharpness = h_vals.last().copied().unwrap_or(0.0).max(0.0);
    let flatness = grads.as_slice().iter().map(|x| x * x).sum::<f64>() / grads.n() as f64;
    progress.advance(1, "Prop. 1");
    let p1 = prop1(&red, opts.lr, &model, opts.backend)?;
    progress.advance(1, "moment operators");

    let mut blocks: Vec<Option<Block>> = vec![None; max_k + 1];
    for (j, slot) in blocks.iter_mut().enumerate().skip(1) {
        progress.advance(0, &format!("T_{j}: building and solving"));
        if r == 0 {
            progress.advance(1, "");
            continue;
        }
        let t = DenseMoment::build(&red, j, opts.lr, &model, budget)?;
        let vals = symmetric_eigenvalues(&t.matrix, t.dim, opts.backend)?;
        let err = t.build_error_bound() + eigensolver_error_bound(t.dim, t.frobenius);
        let summary = SpectrumSummary::from_sorted(&vals, err);
        let cone = if j % 2 == 0 && orders.contains(&j) {
            let basis = SymBasis::new(r, j)?;
            let start = cone_start(&basis);
            let op = DenseSymmetric::new(&t.matrix, t.dim);
            Some(cone_power_iteration(
                &op,
                &start,
                opts.cone.tolerance,
                opts.cone.max_iterations,
            ))
        } else {
            None
        };
        *slot = Some(Block {
            summary,
            dim: t.dim,
            eigenvalues: vals,
            cone,
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
            verdicts.push(Verdict::of_radius(b.summary.radius, b.summary.error_bound));
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
                eigenvalues: opts.full_spectrum.then(|| b.eigenvalues.clone()),
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
        let t2 = theorem2(grads, k, opts.lr, opts.batch);
        let c1 = corollary1(grads, k, opts.lr, opts.batch);
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
        flatness,
        prop1: p1,
        orders: order_reports,
        consistency: Consistency {
            ok: findings.is_empty(),
            findings,
        },
    })
}
