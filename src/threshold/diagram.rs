//! The (η, B) stability diagram: `η*_k(B)` for every order `k` and batch size `B`, with the
//! learning-rate limits implied by Theorem 2 and Corollary 1 and, for `k = 2`, the two
//! necessary bounds of [`crate::threshold::limits`].
//!
//! Each `η*_k(B)` is computed exactly as by [`crate::threshold`] (scope: the first stable
//! interval only). The table is rendered as JSON ([`DiagramReport`]), CSV ([`to_csv`]) and a
//! figure ([`crate::plots::diagram::DiagramFigure`]).

use crate::engine::analysis::{check_orders_covered, Prepared};
use crate::engine::planner::SolverOptions;
use crate::engine::sampling::{BatchModel, Sampling};
use crate::error::{Param, Result};
use crate::progress::{Hooks, NoProgress};
use crate::threshold::limits::{corollary1_limit, mulayoff_michaeli_bounds, theorem2_limit};
use crate::threshold::{
    Method, MethodChoice, Scope, ThresholdOptions, ThresholdSolver, DEFAULT_MAX_COMPANION_ROWS,
};
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
#[non_exhaustive]
pub struct DiagramReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"diagram"`.
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
    /// Sampling scheme.
    pub sampling: Sampling,
    /// The orders, ascending.
    pub orders: Vec<usize>,
    /// The batch sizes, ascending.
    pub batches: Vec<usize>,
    /// One row per `(k, B)`, sorted by `k` then `B`.
    pub rows: Vec<DiagramRow>,
}

/// Options of [`crate::Problem::diagram`].
///
/// ```
/// use sgdstab::DiagramOptions;
///
/// let opts = DiagramOptions::default().orders([1, 2, 3]).batches([1, 2, 4, 8]);
/// assert_eq!(opts.batches, Some(vec![1, 2, 4, 8]));
/// assert_eq!(DiagramOptions::default().batches, None); // every B = 1..=n
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DiagramOptions {
    /// Orders `k >= 1` (sorted and deduplicated; default `[1, 2]`).
    pub orders: Vec<usize>,
    /// Batch sizes `1 <= B <= n` (sorted and deduplicated); `None`: every `B = 1..=n`.
    pub batches: Option<Vec<usize>>,
    /// Linearization, bisection, or automatic per block (as for the stable sets).
    pub method: MethodChoice,
    /// Largest companion matrix (rows) the linearization builds under `Auto`.
    pub max_companion_rows: usize,
    /// Eigensolver, dense limit, memory budget, Lanczos.
    pub solver: SolverOptions,
}

impl Default for DiagramOptions {
    fn default() -> Self {
        DiagramOptions {
            orders: vec![1, 2],
            batches: None,
            method: MethodChoice::Auto,
            max_companion_rows: DEFAULT_MAX_COMPANION_ROWS,
            solver: SolverOptions::default(),
        }
    }
}

impl DiagramOptions {
    /// Sets [`DiagramOptions::orders`].
    pub fn orders(mut self, orders: impl Into<Vec<usize>>) -> Self {
        self.orders = orders.into();
        self
    }

    /// Sets [`DiagramOptions::batches`].
    pub fn batches(mut self, batches: impl Into<Vec<usize>>) -> Self {
        self.batches = Some(batches.into());
        self
    }

    /// Sets [`DiagramOptions::method`].
    pub fn method(mut self, m: MethodChoice) -> Self {
        self.method = m;
        self
    }

    /// Sets [`DiagramOptions::max_companion_rows`].
    pub fn max_companion_rows(mut self, rows: usize) -> Self {
        self.max_companion_rows = rows;
        self
    }

    /// Sets [`DiagramOptions::solver`].
    pub fn solver(mut self, solver: SolverOptions) -> Self {
        self.solver = solver;
        self
    }

    /// Checks the orders, the batch list (not empty) and the solver settings.
    pub fn validate(&self) -> Result<()> {
        crate::engine::analysis::check_orders(&self.orders)?;
        if self.batches.as_ref().is_some_and(|b| b.is_empty()) {
            return Err(crate::Error::parameter(
                Param::Batches,
                "(none)",
                "give at least one batch size",
            ));
        }
        self.solver.validate()
    }

    /// The stable-set options of one batch size (first interval only).
    fn threshold_options(&self, orders: &[usize]) -> ThresholdOptions {
        ThresholdOptions::default()
            .orders(orders.to_vec())
            .method(self.method)
            .scope(Scope::FirstInterval)
            .max_companion_rows(self.max_companion_rows)
            .solver(self.solver.clone())
    }
}

/// Computes the diagram on a prepared problem. Orders and batches are sorted and deduplicated;
/// every batch size must satisfy `1 <= B <= n`. Batch sizes are processed in parallel; the
/// progress hook advances once per batch size and the cancellation hook is polled for each batch
/// size and inside each stable-set computation. The report's `input` is left empty.
pub(crate) fn diagram_prepared(
    prep: &Prepared,
    sampling: Sampling,
    opts: &DiagramOptions,
    hooks: Hooks,
) -> Result<DiagramReport> {
    opts.validate()?;
    let red = &prep.reduction;
    let n = red.n;
    let mut ks = opts.orders.clone();
    ks.sort_unstable();
    ks.dedup();
    check_orders_covered(&prep.stats, &ks)?;
    let mut bs = opts.batches.clone().unwrap_or_else(|| (1..=n).collect());
    bs.sort_unstable();
    bs.dedup();
    for &b in &bs {
        BatchModel::new(n, b, sampling)?;
    }
    let max_k = *ks.last().unwrap_or(&1);
    let topts = opts.threshold_options(&ks);
    let quiet = Hooks::new(&NoProgress, hooks.cancel);
    hooks.progress.begin("diagram", bs.len() as u64);
    let per_batch: Vec<Result<Vec<DiagramRow>>> = bs
        .par_iter()
        .map(|&b| {
            quiet.checkpoint()?;
            let model = BatchModel::new(n, b, sampling)?;
            let solver = ThresholdSolver::new(red, model, max_k, &ks, &topts, quiet)?;
            let mm = mulayoff_michaeli_bounds(red, &model)?;
            let mut rows = Vec::new();
            for &k in &ks {
                let set = solver.order(k)?;
                rows.push(DiagramRow {
                    k,
                    batch: b,
                    lr_threshold: set.lr_threshold,
                    lr_threshold_error: set.lr_threshold_error,
                    method: set.method,
                    theorem2_limit: theorem2_limit(&prep.stats, k, b),
                    corollary1_limit: corollary1_limit(&prep.stats, k, b),
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
            hooks.progress.advance(1, &format!("B = {b}"));
            Ok(rows)
        })
        .collect();
    hooks.progress.end();
    let mut rows = Vec::new();
    for r in per_batch {
        rows.extend(r?);
    }
    rows.sort_by_key(|r| (r.k, r.batch));
    Ok(DiagramReport {
        schema_version: DIAGRAM_SCHEMA_VERSION,
        command: "diagram",
        tool_version: env!("CARGO_PKG_VERSION"),
        input: None,
        n,
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
