//! The `threshold` report: `S_k` and `η*_k` per order, and how far the Theorem 2 / Corollary 1
//! implied limits (and, for `k = 2`, the Mulayoff–Michaeli necessary bounds) are from `η*_k`.

use super::limits::{
    corollary1_lr_limit, mulayoff_michaeli_bounds, theorem2_lr_limit, MulayoffMichaeliBounds,
};
use super::{OrderStableSet, ThresholdOptions, ThresholdSolver};
use crate::bounds::{corollary1, theorem2};
use crate::error::Result;
use crate::gradients::Gradients;
use crate::progress::Progress;
use crate::reduction::SpanReduction;
use crate::sampling::{BatchModel, Sampling};
use crate::spectrum::{symmetric_eigenvalues, EigenBackend};
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
    /// The bound holds at `η*_k` (with the slack of [`crate::bounds::bound_slack`]).
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
pub struct ThresholdReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"threshold"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The gradient file.
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
}

/// Compares `η*_k` with the limits a moment bound implies.
pub fn implied_limits(
    grads: &Gradients,
    k: usize,
    batch: usize,
    threshold: Option<f64>,
) -> (ImpliedLimit, ImpliedLimit) {
    let t2 = theorem2_lr_limit(grads, k, batch);
    let c1 = corollary1_lr_limit(grads, k, batch);
    let at = threshold.filter(|&t| t > 0.0);
    let over = |lim: Option<f64>| match (at, lim) {
        (Some(t), Some(l)) => Some(t / l),
        _ => None,
    };
    let t2r = at.map(|t| theorem2(grads, k, t, batch));
    let c1r = at.map(|t| corollary1(grads, k, t, batch));
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
pub fn sharpness(red: &SpanReduction, backend: EigenBackend) -> Result<f64> {
    let r = red.rank;
    if r == 0 {
        return Ok(0.0);
    }
    let h = red.hessian();
    let buf: Vec<f64> = (0..r * r).map(|i| h[(i % r, i / r)]).collect();
    Ok(symmetric_eigenvalues(&buf, r, backend)?
        .last()
        .copied()
        .unwrap_or(0.0)
        .max(0.0))
}

/// Runs the `threshold` computation.
pub fn threshold_report(
    grads: &Gradients,
    batch: usize,
    orders: &[usize],
    sampling: Sampling,
    rank_tolerance: Option<f64>,
    opts: &ThresholdOptions,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<ThresholdReport> {
    crate::analysis::check_orders(orders)?;
    let model = BatchModel::new(grads.n(), batch, sampling)?;
    let mut ks: Vec<usize> = Vec::new();
    for &k in orders {
        if !ks.contains(&k) {
            ks.push(k);
        }
    }
    let red = SpanReduction::new(grads, rank_tolerance)?;
    let max_k = ks.iter().copied().max().unwrap_or(1);
    let solver = ThresholdSolver::new(&red, model, max_k, &ks, opts, progress)?;
    let sharp = sharpness(&red, opts.backend)?;
    let mm = mulayoff_michaeli_bounds(&red, &model)?;
    let mut out = Vec::new();
    for &k in &ks {
        let set = solver.order(k)?;
        let (t2, c1) = implied_limits(grads, k, batch, set.lr_threshold);
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
        out.push(OrderThreshold {
            set,
            theorem2: t2,
            corollary1: c1,
            mulayoff_michaeli,
        });
    }
    Ok(ThresholdReport {
        schema_version: THRESHOLD_SCHEMA_VERSION,
        command: "threshold",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        n: red.n,
        w: red.w,
        rank: red.rank,
        batch,
        sampling,
        eigensolver: opts.backend,
        sharpness: sharp,
        gd_threshold: (sharp > 0.0).then(|| 2.0 / sharp),
        orders: out,
    })
}
