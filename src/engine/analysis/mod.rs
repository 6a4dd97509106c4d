//! `analyze`: the full stability report for one learning rate, batch size and set of orders.
//!
//! Steps (`analyze_prepared`, behind [`crate::Problem::analyze`]): validate the options → plan every block (dense or matrix-free,
//! the block planner) → `λ_max(H)` and Prop. 1 on the reduced coordinates → for each
//! degree `j = 1..max k` the spectrum of `T_j^{(b)}` (DESIGN §4) → per order `k`, the blocks
//! `j = 0..k` with multiplicities, the Theorem 1 verdict and cone check, Theorem 2 and
//! Corollary 1 on the original coordinates, and the consistency findings.

use crate::engine::bounds::{Corollary1, MomentStats, Theorem2};
use crate::engine::cancellable::Cancellable;
use crate::engine::clustered::{enclose_top, ClusteredOptions, Enclosure};
use crate::engine::davidson::{extreme_eigenvalues as davidson_solve, SolveLabel};
use crate::engine::gradients::{ColumnBlock, Warning};
use crate::engine::inertia::{dense_certificate, InertiaCertificate};
use crate::engine::lanczos::{extreme_eigenvalues, Ends, LanczosOptions};
use crate::engine::linop::{DenseSymmetric, SymmetricOperator};
use crate::engine::matrix_free::{
    second_order_threshold, EigenCoords, MatrixFreeMoment, SecondMoment,
};
use crate::engine::moment_operator::DenseMoment;
use crate::engine::planner::{plan_analysis_blocks, BlockPlan};
pub use crate::engine::planner::{OperatorMethod, SolverOptions, DEFAULT_MAX_DENSE_DIM};
use crate::engine::prop1::{prop1, Prop1};
use crate::engine::reduction::{ReductionMethod, SpanReduction};
use crate::engine::sampling::{BatchModel, Sampling};
use crate::engine::spectrum::{
    eigensolver_error_bound, symmetric_eigenvalues, EigenBackend, SpectrumSummary,
};
use crate::engine::stability::{cone_power_iteration, cone_start, ConeCheck, Termination, Verdict};
use crate::engine::symmetric::SymBasis;
use crate::error::{Error, Param, Result};
use crate::progress::Hooks;
use serde::Serialize;

mod blocks;
mod report;

use blocks::{
    block_verdict, clustered_block, davidson_block, dense_block, matrix_free_block, side_verdict,
};
pub use report::*;

/// Version of the `analyze` JSON schema (bumped on any incompatible change).
pub const ANALYZE_SCHEMA_VERSION: u32 = 1;

/// Options of the cone power iteration (Theorem 1, even `k`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ConeOptions {
    /// Relative residual at which the iteration stops (finite, `> 0`).
    pub tolerance: f64,
    /// Iteration limit; `None` = [`DEFAULT_CONE_ITERATIONS_DENSE`] on dense blocks and
    /// [`DEFAULT_CONE_ITERATIONS_MATRIX_FREE`] on matrix-free ones; `Some(0)` skips the check.
    pub max_iterations: Option<usize>,
}

/// Default cone iteration limit on dense blocks (a product costs `D²`).
pub const DEFAULT_CONE_ITERATIONS_DENSE: usize = 5000;
/// Default cone iteration limit on matrix-free blocks (a product costs a full operator pass).
pub const DEFAULT_CONE_ITERATIONS_MATRIX_FREE: usize = 300;
/// Default relative residual of the cone iteration.
pub const DEFAULT_CONE_TOLERANCE: f64 = 1e-10;

impl Default for ConeOptions {
    fn default() -> Self {
        ConeOptions {
            tolerance: DEFAULT_CONE_TOLERANCE,
            max_iterations: None,
        }
    }
}

/// Options of [`crate::Problem::analyze`] (the learning rate and batch size are its arguments).
///
/// ```
/// use sgdstab::{AnalyzeOptions, SolverOptions};
///
/// let opts = AnalyzeOptions::default()
///     .orders([1, 2, 3])
///     .cone_max_iterations(Some(500))
///     .solver(SolverOptions::default().max_dense_dim(2000));
/// assert_eq!(opts.orders, vec![1, 2, 3]);
/// assert_eq!(AnalyzeOptions::default().orders, vec![1, 2]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AnalyzeOptions {
    /// Orders `k >= 1` (reported in the given order, duplicates removed; default `[1, 2]`).
    pub orders: Vec<usize>,
    /// Include every eigenvalue of every dense block in the report.
    pub full_spectrum: bool,
    /// The Theorem 1 cone check (even `k`).
    pub cone: ConeOptions,
    /// Eigensolver, method, dense limit, memory budget, Lanczos.
    pub solver: SolverOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            orders: vec![1, 2],
            full_spectrum: false,
            cone: ConeOptions::default(),
            solver: SolverOptions::default(),
        }
    }
}

impl AnalyzeOptions {
    /// Sets [`AnalyzeOptions::orders`].
    pub fn orders(mut self, orders: impl Into<Vec<usize>>) -> Self {
        self.orders = orders.into();
        self
    }

    /// Sets [`AnalyzeOptions::full_spectrum`].
    pub fn full_spectrum(mut self, yes: bool) -> Self {
        self.full_spectrum = yes;
        self
    }

    /// Sets [`ConeOptions::tolerance`].
    pub fn cone_tolerance(mut self, tol: f64) -> Self {
        self.cone.tolerance = tol;
        self
    }

    /// Sets [`ConeOptions::max_iterations`].
    pub fn cone_max_iterations(mut self, limit: Option<usize>) -> Self {
        self.cone.max_iterations = limit;
        self
    }

    /// Sets [`AnalyzeOptions::solver`].
    pub fn solver(mut self, solver: SolverOptions) -> Self {
        self.solver = solver;
        self
    }

    /// Checks the orders, the cone tolerance and the solver settings.
    pub fn validate(&self) -> Result<()> {
        check_orders(&self.orders)?;
        if !(self.cone.tolerance.is_finite() && self.cone.tolerance > 0.0) {
            return Err(Error::parameter(
                Param::ConeTolerance,
                self.cone.tolerance,
                "must be finite and > 0",
            ));
        }
        self.solver.validate()
    }
}

/// Checks `η` finite and positive.
pub(crate) fn check_lr(lr: f64) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::parameter(
            Param::LearningRate,
            lr,
            "the learning rate must be finite and > 0",
        ));
    }
    Ok(())
}

/// The largest order accepted. The closed form keeps one `D_s × D_s` product per integer
/// partition of every `s < k` (`p(20) = 627`, `p(32) = 8349`): on a rank-3 input `k = 20` takes
/// about 10 s and 0.5 GB, `k = 24` over a minute and 2.6 GB, `k = 32` about 50 GB — so the
/// work a flag can ask for is bounded here, and the memory of each block by
/// [`crate::memory::dense_block`].
pub const MAX_ORDER: usize = 20;

/// Checks the orders: non-empty, every `1 <= k <= MAX_ORDER`.
pub(crate) fn check_orders(orders: &[usize]) -> Result<()> {
    if orders.is_empty() {
        return Err(Error::parameter(
            Param::Orders,
            "(none)",
            "give at least one order k >= 1",
        ));
    }
    for &k in orders {
        if k == 0 {
            return Err(Error::parameter(Param::Orders, k, "orders start at k = 1"));
        }
        if k > MAX_ORDER {
            return Err(Error::parameter(
                Param::Orders,
                k,
                format!("orders above {MAX_ORDER} are not supported"),
            ));
        }
    }
    Ok(())
}

/// The orders with duplicates removed, in the given order.
pub(crate) fn dedup_orders(orders: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for &k in orders {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
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
    enclosure: Option<Enclosure>,
    davidson: Option<DavidsonReport>,
    /// Why the cone check was skipped.
    cone_skipped: Option<String>,
}

/// What the analysis needs from the gradients, computed once per [`crate::Problem`]: the span
/// reduction and the moment statistics of the original coordinates.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
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
    /// From a streamed Gram matrix ([`crate::io::stream::stream_gram`]).
    pub fn from_streamed(
        s: crate::io::stream::StreamedGram,
        rank_tolerance: Option<f64>,
    ) -> Result<Self> {
        let n = s.n;
        let trace: f64 = (0..n).map(|i| s.gram[i + i * n]).sum();
        let g = faer::MatRef::from_column_major_slice(&s.gram, n, n);
        Ok(Prepared {
            reduction: SpanReduction::from_row_gram(g, s.w, rank_tolerance)?,
            stats: MomentStats::from_power_sums(n, s.w, &s.power),
            flatness: trace / n as f64,
            streamed: true,
        })
    }
}

/// The validated request.
struct Request {
    orders: Vec<usize>,
    max_k: usize,
    model: BatchModel,
}

/// Step 1: every option checked against the problem, before any work.
fn validate(
    prep: &Prepared,
    lr: f64,
    batch: usize,
    sampling: Sampling,
    opts: &AnalyzeOptions,
) -> Result<Request> {
    check_lr(lr)?;
    opts.validate()?;
    let model = BatchModel::new(prep.reduction.n, batch, sampling)?;
    let orders = dedup_orders(&opts.orders);
    check_orders_covered(&prep.stats, &orders)?;
    let max_k = orders.iter().copied().max().unwrap_or(1);
    Ok(Request {
        orders,
        max_k,
        model,
    })
}

/// Errors naming `max_order` unless the moment statistics cover every order.
pub(crate) fn check_orders_covered(stats: &MomentStats, orders: &[usize]) -> Result<()> {
    let covered = stats.max_column_moment.keys().copied().max().unwrap_or(0);
    for &k in orders {
        if !stats.max_column_moment.contains_key(&k) {
            return Err(Error::parameter(
                Param::Orders,
                k,
                format!(
                    "the problem's Theorem 2 / Corollary 1 statistics cover orders up to {covered}; build it with {} >= {k}",
                    Param::MaxOrder.quoted()
                ),
            ));
        }
    }
    Ok(())
}

/// Runs the analysis on a prepared problem (the steps of the module documentation). The report's
/// `input`, `column_layout` and `warnings` are left empty for the caller.
pub(crate) fn analyze_prepared(
    prep: &Prepared,
    lr: f64,
    batch: usize,
    sampling: Sampling,
    opts: &AnalyzeOptions,
    hooks: Hooks,
) -> Result<AnalysisReport> {
    let req = validate(prep, lr, batch, sampling, opts)?;
    let red = &prep.reduction;
    // every degree up to the largest order (the Prop. 1 check of k = 2 reads T_1 as well)
    let needed = vec![true; req.max_k + 1];
    let plan = plan_analysis_blocks(red.rank, red.n, &needed, opts.solver.method, &opts.solver)?;
    let progress = hooks.progress;
    progress.begin("analyze", req.max_k as u64 + 2);
    hooks.checkpoint()?;
    let sharpness = hessian_top(red, opts.solver.eigensolver)?;
    progress.advance(1, "Prop. 1");
    let p1 = prop1(red, lr, &req.model, opts.solver.eigensolver)?;
    progress.advance(1, "moment operators");
    let blocks = solve_blocks(red, lr, &req, &plan, opts, hooks)?;
    progress.end();

    let mut findings = Vec::new();
    let mut order_reports = Vec::new();
    for &k in &req.orders {
        let (report, mut f) = order_report(prep, k, lr, batch, &blocks, &p1, opts)?;
        findings.append(&mut f);
        order_reports.push(report);
    }
    Ok(AnalysisReport {
        schema_version: ANALYZE_SCHEMA_VERSION,
        command: "analyze",
        tool_version: env!("CARGO_PKG_VERSION"),
        input: None,
        n: red.n,
        w: red.w,
        rank: red.rank,
        rank_tolerance: red.relative_tolerance,
        reduction: red.method,
        gram_eigenvalue_max: red.gram_eigenvalues.first().copied().unwrap_or(0.0),
        lr,
        batch,
        sampling,
        eigensolver: opts.solver.eigensolver,
        sharpness,
        flatness: prep.flatness,
        streamed: prep.streamed,
        method: opts.solver.method,
        prop1: p1,
        orders: order_reports,
        consistency: Consistency {
            ok: findings.is_empty(),
            findings,
        },
        column_layout: None,
        mean_gradient_ratio: None,
        warnings: Vec::new(),
    })
}

/// `λ_max(H)` on the reduced coordinates (0 when `r = 0`).
pub(crate) fn hessian_top(red: &SpanReduction, backend: EigenBackend) -> Result<f64> {
    let r = red.rank;
    let h = red.hessian();
    let hbuf: Vec<f64> = (0..r * r).map(|i| h[(i % r, i / r)]).collect();
    let h_vals = symmetric_eigenvalues(&hbuf, r, backend)?;
    Ok(h_vals.last().copied().unwrap_or(0.0).max(0.0))
}

/// Step 3: the spectrum of every block `T_j^{(b)}`, `j = 1..=max k`, by the planned method
/// (`None` when `r = 0`).
fn solve_blocks(
    red: &SpanReduction,
    lr: f64,
    req: &Request,
    plan: &BlockPlan,
    opts: &AnalyzeOptions,
    hooks: Hooks,
) -> Result<Vec<Option<Block>>> {
    let eigen_coords = if plan.any_matrix_free() {
        Some(EigenCoords::new(&red.coords, red.n, red.rank)?)
    } else {
        None
    };
    let mut blocks: Vec<Option<Block>> = vec![None; req.max_k + 1];
    for (j, slot) in blocks.iter_mut().enumerate().skip(1) {
        if let Some(m) = plan.method(j) {
            let d = crate::engine::combinatorics::sym_dim(red.rank, j).unwrap_or(u128::MAX);
            let msg = crate::progress::block_message(j, red.rank, d, &m.to_string());
            hooks.progress.advance(0, &msg);
        }
        hooks.checkpoint()?;
        let want_cone = j % 2 == 0 && req.orders.contains(&j);
        // a numerical failure names its block
        let in_block = |e: Error| match e {
            Error::Numerical { routine, message } => Error::Numerical {
                routine,
                message: format!("{message} (block T_{j} on Sym^{j}(R^{}))", red.rank),
            },
            other => other,
        };
        *slot = match (plan.method(j), &eigen_coords) {
            (None, _) => None,
            (Some(OperatorMethod::MatrixFree), Some(ec)) => Some(
                matrix_free_block(ec, j, lr, &req.model, opts, want_cone, hooks)
                    .map_err(in_block)?,
            ),
            (Some(OperatorMethod::Clustered), Some(ec)) if j == 2 => Some(
                clustered_block(ec, lr, &req.model, opts, want_cone, hooks).map_err(in_block)?,
            ),
            (Some(OperatorMethod::Davidson), Some(ec)) if j >= 3 => Some(
                davidson_block(ec, j, lr, &req.model, opts, want_cone, hooks).map_err(in_block)?,
            ),
            (Some(OperatorMethod::Clustered | OperatorMethod::Davidson), Some(ec)) => Some(
                matrix_free_block(ec, j, lr, &req.model, opts, want_cone, hooks)
                    .map_err(in_block)?,
            ),
            _ => Some(
                dense_block(red, j, lr, &req.model, opts, plan.budget, want_cone, hooks)
                    .map_err(in_block)?,
            ),
        };
        hooks.progress.advance(1, "");
    }
    Ok(blocks)
}

/// The blocks `j = 0..k` of order `k` with their multiplicities, the maximum radius and error
/// bound over `j >= 1`, and the block verdicts.
struct OrderBlocks {
    reports: Vec<BlockReport>,
    verdicts: Vec<Verdict>,
    reduced_radius: f64,
    error_bound: f64,
}

/// Step 4a: the blocks of order `k` (the flat block `T_0 = 1` when `r < w`).
fn order_blocks(
    red: &SpanReduction,
    k: usize,
    blocks: &[Option<Block>],
    full_spectrum: bool,
) -> Result<OrderBlocks> {
    let multiplicity_of = |j: usize| -> Result<u128> {
        red.block_multiplicity(k, j).ok_or_else(|| {
            Error::parameter(
                Param::Orders,
                k,
                format!("block multiplicities overflow 128 bits for w = {}", red.w),
            )
        })
    };
    let mut out = OrderBlocks {
        reports: Vec::new(),
        verdicts: Vec::new(),
        reduced_radius: 0.0,
        error_bound: 0.0,
    };
    let m0 = multiplicity_of(0)?;
    if red.rank < red.w && m0 > 0 {
        out.reports.push(BlockReport {
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
            enclosure: None,
            davidson: None,
            eigenvalues: full_spectrum.then(|| vec![1.0]),
        });
    }
    for (j, blk) in blocks.iter().enumerate().take(k + 1).skip(1) {
        let m = multiplicity_of(j)?;
        let Some(b) = blk else { continue };
        if m == 0 {
            continue;
        }
        out.verdicts.push(block_verdict(j, b));
        out.reduced_radius = out.reduced_radius.max(b.summary.radius);
        out.error_bound = out.error_bound.max(b.summary.error_bound);
        out.reports.push(BlockReport {
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
            enclosure: b.enclosure.clone(),
            davidson: b.davidson.clone(),
            eigenvalues: if full_spectrum {
                b.eigenvalues.clone()
            } else {
                None
            },
        });
    }
    Ok(out)
}

/// Step 4b: the cone check of the top block of an even order.
fn cone_report(block: Option<&Block>) -> Option<ConeReport> {
    let b = block?;
    if let Some(reason) = &b.cone_skipped {
        return Some(ConeReport {
            ratio: None,
            iterations: 0,
            residual: None,
            termination: Termination::Skipped,
            block_radius: b.summary.radius,
            relative_difference: None,
            reason: Some(reason.clone()),
        });
    }
    let c = b.cone.as_ref()?;
    Some(ConeReport {
        ratio: Some(c.ratio),
        iterations: c.iterations,
        residual: Some(c.residual),
        termination: c.termination,
        block_radius: b.summary.radius,
        relative_difference: Some(if b.summary.radius > 0.0 {
            (c.ratio - b.summary.radius).abs() / b.summary.radius
        } else {
            c.ratio.abs()
        }),
        reason: None,
    })
}

/// Step 4: everything about order `k`, with its consistency findings.
fn order_report(
    prep: &Prepared,
    k: usize,
    lr: f64,
    batch: usize,
    blocks: &[Option<Block>],
    p1: &Prop1,
    opts: &AnalyzeOptions,
) -> Result<(OrderReport, Vec<Finding>)> {
    let ob = order_blocks(&prep.reduction, k, blocks, opts.full_spectrum)?;
    let verdict = Verdict::combine(ob.verdicts.iter().copied());
    let spectral_radius = ob.reports.iter().map(|b| b.radius).fold(0.0, f64::max);
    let cone = cone_report(blocks[k].as_ref());
    let missing = || {
        Error::parameter(
            Param::Orders,
            k,
            "the problem's moment statistics do not cover this order",
        )
    };
    let t2 = prep.stats.theorem2(k, lr, batch).ok_or_else(missing)?;
    let c1 = prep.stats.corollary1(k, lr, batch).ok_or_else(missing)?;
    let mut findings = Vec::new();
    bound_findings(k, verdict, ob.reduced_radius, &t2, &c1, &mut findings);
    if k == 2 {
        prop1_findings(
            blocks,
            p1,
            verdict,
            ob.reduced_radius,
            ob.error_bound,
            &mut findings,
        );
    }
    inertia_findings(k, blocks, &mut findings);
    if let Some((c, ratio)) = cone.as_ref().and_then(|c| Some((c, c.ratio?))) {
        if ratio > c.block_radius * (1.0 + 1e-12) + ob.error_bound {
            findings.push(Finding {
                check: Check::ConeBelowRadius,
                k,
                message: format!(
                    "the cone ratio {:.17e} exceeds the spectral radius {:.17e} of T_{k}",
                    ratio, c.block_radius
                ),
            });
        }
    }
    let report = OrderReport {
        k,
        spectral_radius,
        reduced_radius: ob.reduced_radius,
        error_bound: ob.error_bound,
        verdict,
        margin: 1.0 - ob.reduced_radius,
        cone_ratio: cone.as_ref().and_then(|c| c.ratio),
        cone,
        blocks: ob.reports,
        theorem2: t2,
        corollary1: c1,
        consistent: findings.is_empty(),
    };
    Ok((report, findings))
}

/// Theorem 1 ⇒ Theorem 2 ⇒ Corollary 1 (DESIGN §6).
fn bound_findings(
    k: usize,
    verdict: Verdict,
    reduced_radius: f64,
    t2: &Theorem2,
    c1: &Corollary1,
    findings: &mut Vec<Finding>,
) {
    if verdict == Verdict::Stable && !t2.holds {
        findings.push(Finding {
            check: Check::StableImpliesTheorem2,
            k,
            message: format!(
                "order {k} is stable (reduced radius {reduced_radius:.17e}) but Theorem 2 fails at coordinate {}: (1/n)Σ a_ij^{} = {:.17e} > 2^k B^(k-1)/η^k = {:.17e} (ratio {:.17e})",
                t2.argmax_coordinate, 2 * k, t2.max_moment, t2.bound, t2.ratio
            ),
        });
    }
    if verdict == Verdict::Stable && !c1.holds {
        findings.push(Finding {
            check: Check::StableImpliesCorollary1,
            k,
            message: format!(
                "order {k} is stable but Corollary 1 fails: (1/n)Σ‖a_i‖_{} = {:.17e} > {:.17e} (ratio {:.17e})",
                2 * k, c1.lhs, c1.rhs, c1.ratio
            ),
        });
    }
    if t2.holds && !c1.holds {
        findings.push(Finding {
            check: Check::Theorem2ImpliesCorollary1,
            k,
            message: format!(
                "Theorem 2 holds (ratio {:.17e}) but Corollary 1 fails (ratio {:.17e}); Hölder makes this impossible: a bug",
                t2.ratio, c1.ratio
            ),
        });
    }
}

/// Prop. 1: `ρ(T_2^{(b)}) <= q` and `ρ(T_1^{(b)})² <= q` (DESIGN §6), so `q <= 1` ⇒ order 2
/// stable.
fn prop1_findings(
    blocks: &[Option<Block>],
    p1: &Prop1,
    verdict: Verdict,
    reduced_radius: f64,
    error_bound: f64,
    findings: &mut Vec<Finding>,
) {
    let tol = p1.error_bound + error_bound;
    for (j, power) in [(1usize, 2i32), (2, 1)] {
        if let Some(b) = &blocks[j] {
            if b.summary.radius.powi(power) > p1.value + tol {
                findings.push(Finding {
                    check: Check::Prop1ImpliesOrder2,
                    k: 2,
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
            check: Check::Prop1ImpliesOrder2,
            k: 2,
            message: format!(
                "Prop. 1 holds (q = {:.17e}) but order 2 is unstable (reduced radius {reduced_radius:.17e})",
                p1.value
            ),
        });
    }
}

/// The inertia certificate and `λ_max − 1` must not decide the `+1` side differently.
fn inertia_findings(k: usize, blocks: &[Option<Block>], findings: &mut Vec<Finding>) {
    for b in blocks.iter().take(k + 1).flatten() {
        if let Some(c) = &b.inertia {
            let by_top = side_verdict(b.summary.lambda_max - 1.0, b.summary.error_bound);
            if by_top != Verdict::Marginal && c.verdict != Verdict::Marginal && by_top != c.verdict
            {
                findings.push(Finding {
                    check: Check::InertiaMatchesRadius,
                    k,
                    message: format!(
                        "λ_max(T) − 1 = {:.3e} ± {:.1e} says {} but the inertia certificate λ_max(M) = {:.17e} ± {:.1e} says {}",
                        b.summary.lambda_max - 1.0, b.summary.error_bound, by_top, c.lambda_max, c.error_bound, c.verdict
                    ),
                });
            }
        }
    }
}

/// The cone check (Theorem 1, even `j`) on `op`, from the interior element `(Σ x_a²)^{j/2}`.
fn cone_check(
    op: &dyn SymmetricOperator,
    r: usize,
    j: usize,
    opts: &AnalyzeOptions,
    default_iterations: usize,
    hooks: Hooks,
) -> Result<Option<ConeCheck>> {
    let max_iter = opts.cone.max_iterations.unwrap_or(default_iterations);
    if max_iter == 0 {
        return Ok(None);
    }
    let basis = SymBasis::new(r, j)?;
    let start = cone_start(&basis);
    let checked = Cancellable::new(op, hooks);
    let check = cone_power_iteration(&checked, &start, opts.cone.tolerance, max_iter);
    checked.finish()?;
    Ok(Some(check))
}
