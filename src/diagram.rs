//! The (η, B) stability diagram: `η*_k(B)` for every order `k` and batch size `B`, with the
//! learning-rate limits implied by Theorem 2 and Corollary 1 and, for `k = 2`, the two
//! necessary bounds of [`crate::threshold::limits`].
//!
//! Each `η*_k(B)` is computed exactly as by [`crate::threshold`] (scope: the first stable
//! interval only). The table is rendered as JSON ([`DiagramReport`]), CSV ([`to_csv`]) and a
//! figure ([`crate::plots::diagram::DiagramFigure`]).

use crate::error::Result;
use crate::gradients::Gradients;
use crate::progress::Progress;
use crate::reduction::SpanReduction;
use crate::sampling::{BatchModel, Sampling};
use crate::threshold::{
    corollary1_lr_limit, mulayoff_michaeli_bounds, theorem2_lr_limit, Method, Scope,
    ThresholdOptions, ThresholdSolver,
};
use crate::NoProgress;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write;

/// Version of the `diagram` JSON schema.
pub const DIAGRAM_SCHEMA_VERSION: u32 = 1;

/// One `(k, B)` point of the diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagramRow {
    /// The order.
    pub k: usize,
    /// The batch size.
    pub batch: usize,
    /// `η*_k(B)` (`null`: unbounded, all gradients zero).
    pub lr_threshold: Option<f64>,
    /// Its error bound.
    pub lr_threshold_error: Option<f64>,
    /// `linearization` or `bisection`.
    pub method: Method,
    /// `2 B^{(k−1)/k} / (max_j m_j)^{1/k}` (Theorem 2).
    pub theorem2_limit: Option<f64>,
    /// `2 B (w/B)^{1/k} / L²` (Corollary 1).
    pub corollary1_limit: Option<f64>,
    /// `k = 2`: the trace bound on `η*_2`.
    pub mm_trace_bound: Option<f64>,
    /// `k = 2`: the top-eigenvector bound on `η*_2`.
    pub mm_top_eigenvector_bound: Option<f64>,
}

/// The diagram table (`schema_version` [`DIAGRAM_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagramReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"diagram"`.
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
    /// Sampling scheme.
    pub sampling: Sampling,
    /// The orders, ascending.
    pub orders: Vec<usize>,
    /// The batch sizes, ascending.
    pub batches: Vec<usize>,
    /// One row per `(k, B)`, sorted by `k` then `B`.
    pub rows: Vec<DiagramRow>,
}

/// Computes the diagram. Orders and batches are sorted and deduplicated; every batch size must
/// satisfy `1 <= B <= n`. Batch sizes are processed in parallel; `progress` advances once per
/// batch size.
pub fn diagram(
    grads: &Gradients,
    orders: &[usize],
    batches: &[usize],
    sampling: Sampling,
    rank_tolerance: Option<f64>,
    opts: &ThresholdOptions,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<DiagramReport> {
    crate::analysis::check_orders(orders)?;
    let mut ks = orders.to_vec();
    ks.sort_unstable();
    ks.dedup();
    let mut bs = batches.to_vec();
    bs.sort_unstable();
    bs.dedup();
    if bs.is_empty() {
        return Err(crate::Error::parameter(
            "--batches",
            "(none)",
            "give at least one batch size",
        ));
    }
    for &b in &bs {
        BatchModel::new(grads.n(), b, sampling)?;
    }
    let red = SpanReduction::new(grads, rank_tolerance)?;
    let max_k = *ks.last().unwrap_or(&1);
    let opts = ThresholdOptions {
        scope: Scope::FirstInterval,
        ..opts.clone()
    };
    progress.begin("diagram", bs.len() as u64);
    let per_batch: Vec<Result<Vec<DiagramRow>>> = bs
        .par_iter()
        .map(|&b| {
            let model = BatchModel::new(grads.n(), b, sampling)?;
            let solver = ThresholdSolver::new(&red, model, max_k, &ks, &opts, &NoProgress)?;
            let mm = mulayoff_michaeli_bounds(&red, &model)?;
            let mut rows = Vec::new();
            for &k in &ks {
                let set = solver.order(k)?;
                rows.push(DiagramRow {
                    k,
                    batch: b,
                    lr_threshold: set.lr_threshold,
                    lr_threshold_error: set.lr_threshold_error,
                    method: set.method,
                    theorem2_limit: theorem2_lr_limit(grads, k, b),
                    corollary1_limit: corollary1_lr_limit(grads, k, b),
                    mm_trace_bound: if k == 2 {
                        mm.map(|m| m.trace_bound)
                    } else {
                        None
                    },
                    mm_top_eigenvector_bound: if k == 2 {
                        mm.map(|m| m.top_eigenvector_bound)
                    } else {
                        None
                    },
                });
            }
            progress.advance(1, &format!("B = {b}"));
            Ok(rows)
        })
        .collect();
    progress.end();
    let mut rows = Vec::new();
    for r in per_batch {
        rows.extend(r?);
    }
    rows.sort_by_key(|r| (r.k, r.batch));
    Ok(DiagramReport {
        schema_version: DIAGRAM_SCHEMA_VERSION,
        command: "diagram",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        n: red.n,
        w: red.w,
        rank: red.rank,
        sampling,
        orders: ks,
        batches: bs,
        rows,
    })
}

/// The CSV header of [`to_csv`].
pub const CSV_HEADER: &str = "k,batch,lr_threshold,lr_threshold_error,method,theorem2_limit,corollary1_limit,mm_trace_bound,mm_top_eigenvector_bound";

/// The table as CSV: [`CSV_HEADER`], then one row per `(k, B)`; an empty cell is `null` in
/// the JSON (unbounded, or not applicable). Numbers use the shortest representation that
/// round-trips.
pub fn to_csv(r: &DiagramReport) -> String {
    let cell = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:e}"));
    let mut s = String::new();
    let _ = writeln!(s, "{CSV_HEADER}");
    for row in &r.rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            row.k,
            row.batch,
            cell(row.lr_threshold),
            cell(row.lr_threshold_error),
            row.method.name(),
            cell(row.theorem2_limit),
            cell(row.corollary1_limit),
            cell(row.mm_trace_bound),
            cell(row.mm_top_eigenvector_bound),
        );
    }
    s
}
