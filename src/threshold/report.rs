//! The `threshold` report: `S_k` and `η*_k` per order, and how far the Theorem 2 / Corollary 1
//! implied limits (and, for `k = 2`, the Mulayoff–Michaeli necessary bounds) are from `η*_k`.

use super::limits::{
    corollary1_limit, mulayoff_michaeli_bounds, theorem2_limit, MulayoffMichaeliBounds,
};
use super::{OrderStableSet, ThresholdOptions, ThresholdSolver};
use crate::engine::analysis::{check_orders_covered, dedup_orders, Prepared};
use crate::engine::bounds::MomentStats;
use crate::engine::gradients::{ColumnBlock, Warning};
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::{BatchModel, Sampling};
use crate::engine::spectrum::EigenBackend;
use crate::error::Result;
use crate::progress::Hooks;
use serde::Serialize;

/// Version of the `threshold` JSON schema.
pub const THRESHOLD_SCHEMA_VERSION: u32 = 1;

/// A learning-rate limit implied by a moment bound, compared with `η*_k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ImpliedLimit {
    /// The largest `η` the bound allows (`null`: no limit, all gradients zero).
    pub lr_limit: Option<f64>,
    /// `η*_k / lr_limit` (<= 1 if the paper is right; `null` if either is unbounded).
    pub threshold_over_limit: Option<f64>,
    /// The bound's own ratio (lhs/rhs) evaluated at `η = η*_k`: how tight it is at the edge of
    /// stability (`null` if `η*_k` is unbounded).
    pub ratio_at_threshold: Option<f64>,
    /// The bound holds at `η*_k` (with the slack of [`crate::engine::bounds::bound_slack`]).
    pub holds_at_threshold: Option<bool>,
}

/// The Mulayoff–Michaeli necessary bounds (k = 2) compared with `η*_2`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MulayoffMichaeliReport {
    /// The bounds.
    #[serde(flatten)]
    pub bounds: MulayoffMichaeliBounds,
    /// `η*_2 / trace_bound` (<= 1).
    pub threshold_over_trace_bound: Option<f64>,
    /// `η*_2 / top_eigenvector_bound` (<= 1).
    pub threshold_over_top_eigenvector_bound: Option<f64>,
}

/// One order of the `threshold` report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderThreshold {
    /// `S_k`, `η*_k` and the boundaries.
    #[serde(flatten)]
    pub set: OrderStableSet,
    /// Theorem 2 (eq. 18) implied limit.
    pub theorem2: ImpliedLimit,
    /// Corollary 1 (eq. 19) implied limit.
    pub corollary1: ImpliedLimit,
    /// `k = 2` only: the necessary bounds on `η*_2`.
    pub mulayoff_michaeli: Option<MulayoffMichaeliReport>,
}

/// The `threshold` report (`schema_version` [`THRESHOLD_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ThresholdReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"threshold"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// Where the gradients came from (a file, or the caller's name for them).
    pub input: Option<String>,
    /// Samples.
    pub n: usize,
    /// Parameters.
    pub w: usize,
    /// `r = rank(A)`.
    pub rank: usize,
    /// Batch size.
    pub batch: usize,
    /// Sampling scheme.
    pub sampling: Sampling,
    /// Eigensolver.
    pub eigensolver: EigenBackend,
    /// `λ_max(H)`.
    pub sharpness: f64,
    /// `2/λ_max(H)`: the gradient-descent threshold, `= η*_1` (`null` if `H = 0`).
    pub gd_threshold: Option<f64>,
    /// One entry per requested order.
    pub orders: Vec<OrderThreshold>,
    /// For a per-parameter dictionary input: where each parameter's columns are (`null` for a
    /// single matrix).
    pub column_layout: Option<Vec<ColumnBlock>>,
    /// `‖(1/n) Σ a_i‖ / ((1/n) Σ ‖a_i‖)` (`null` when every row is zero).
    pub mean_gradient_ratio: Option<f64>,
    /// Warnings about the input (e.g. rows that look like loss gradients).
    pub warnings: Vec<Warning>,
}

/// Compares `η*_k` with the limits Theorem 2 and Corollary 1 imply (from the moment
/// statistics, which must cover order `k`).
pub(crate) fn implied_limits(
    stats: &MomentStats,
    k: usize,
    batch: usize,
    threshold: Option<f64>,
) -> (ImpliedLimit, ImpliedLimit) {
    let t2 = theorem2_limit(stats, k, batch);
    let c1 = corollary1_limit(stats, k, batch);
    let at = threshold.filter(|&t| t > 0.0);
    let over = |lim: Option<f64>| match (at, lim) {
        (Some(t), Some(l)) => Some(t / l),
        _ => None,
    };
    let t2r = at.and_then(|t| stats.theorem2(k, t, batch));
    let c1r = at.and_then(|t| stats.corollary1(k, t, batch));
    (
        ImpliedLimit {
            lr_limit: t2,
            threshold_over_limit: over(t2),
            ratio_at_threshold: t2r.as_ref().map(|r| r.ratio),
            holds_at_threshold: t2r.as_ref().map(|r| r.holds),
        },
        ImpliedLimit {
            lr_limit: c1,
            threshold_over_limit: over(c1),
            ratio_at_threshold: c1r.as_ref().map(|r| r.ratio),
            holds_at_threshold: c1r.as_ref().map(|r| r.holds),
        },
    )
}

/// `λ_max(H)` on the reduced coordinates (0 when `r = 0`).
pub(crate) fn sharpness(red: &SpanReduction, backend: EigenBackend) -> Result<f64> {
    crate::engine::analysis::hessian_top(red, backend)
}

/// Runs the `threshold` computation on a prepared problem. The report's `input`,
/// `column_layout` and `warnings` are left empty for the caller.
pub(crate) fn threshold_prepared(
    prep: &Prepared,
    batch: usize,
    sampling: Sampling,
    opts: &ThresholdOptions,
    hooks: Hooks,
) -> Result<ThresholdReport> {
    opts.validate()?;
    let red = &prep.reduction;
    let model = BatchModel::new(red.n, batch, sampling)?;
    let ks = dedup_orders(&opts.orders);
    check_orders_covered(&prep.stats, &ks)?;
    let max_k = ks.iter().copied().max().unwrap_or(1);
    let solver = ThresholdSolver::new(red, model, max_k, &ks, opts, hooks)?;
    let sharp = sharpness(red, opts.solver.eigensolver)?;
    let mm = mulayoff_michaeli_bounds(red, &model)?;
    let mut out = Vec::new();
    for &k in &ks {
        hooks.checkpoint()?;
        out.push(order_threshold(&solver, &prep.stats, k, batch, mm)?);
    }
    Ok(ThresholdReport {
        schema_version: THRESHOLD_SCHEMA_VERSION,
        command: "threshold",
        tool_version: env!("CARGO_PKG_VERSION"),
        input: None,
        n: red.n,
        w: red.w,
        rank: red.rank,
        batch,
        sampling,
        eigensolver: opts.solver.eigensolver,
        sharpness: sharp,
        gd_threshold: (sharp > 0.0).then(|| 2.0 / sharp),
        orders: out,
        column_layout: None,
        mean_gradient_ratio: None,
        warnings: Vec::new(),
    })
}

/// One order: `S_k` with its implied limits and, for `k = 2`, the necessary bounds.
fn order_threshold(
    solver: &ThresholdSolver,
    stats: &MomentStats,
    k: usize,
    batch: usize,
    mm: Option<MulayoffMichaeliBounds>,
) -> Result<OrderThreshold> {
    let set = solver.order(k)?;
    let (t2, c1) = implied_limits(stats, k, batch, set.lr_threshold);
    let mulayoff_michaeli = if k == 2 {
        mm.map(|b| MulayoffMichaeliReport {
            bounds: b,
            threshold_over_trace_bound: set.lr_threshold.map(|t| t / b.trace_bound),
            threshold_over_top_eigenvector_bound: set
                .lr_threshold
                .map(|t| t / b.top_eigenvector_bound),
        })
    } else {
        None
    };
    Ok(OrderThreshold {
        set,
        theorem2: t2,
        corollary1: c1,
        mulayoff_michaeli,
    })
}
