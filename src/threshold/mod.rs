//! The exact set of stable learning rates `S_k = {η > 0 : spec T_k(η) ⊂ [−1, 1]}` and the
//! threshold `η*_k` = the end of the stable interval that starts at 0 (DESIGN §7).
//!
//! # Method
//!
//! By span reduction (DESIGN §4) the spectrum of `T_k` on `Sym^k(R^w)` is the union of the
//! spectra of the reduced blocks `T_j^{(b)}` present in it (`j = 1..k` when `r < w`, only
//! `j = k` when `r = w`; the flat block `T_0 = 1` never destabilises), so
//! `S_k = ⋂_{present j} S^{(j)}`. For each present block:
//!
//! 1. **Candidates** (module `linearization`): the real positive roots of the `+1` and `−1`
//!    polynomial eigenvalue problems, by companion linearization (sizes `(j−1)D` and `jD`).
//! 2. **Confirmation**: a candidate can be a boundary only if `η` lies in the closure of the
//!    stable set, i.e. `spec T_j(η) ⊂ [−1, 1]`; this is tested by two Cholesky factorisations of
//!    `(1 + 1e-5) I ∓ T_j(η)` (`BlockPolynomial::within`), which discards the many crossings
//!    that happen while the operator is already unstable.
//! 3. **Classification**: each interval between consecutive confirmed candidates is classified
//!    by one symmetric eigensolve at an interior point (geometric mean of its ends; `c/2` before
//!    the first, `2c` after the last); neighbours of the same class are merged.
//!
//! The boundaries of the intersection are then **refined** on the excess of the whole order
//! (`max_j` over the present blocks of `max(λ_max(M_j(η)), −1 − λ_min(T_j(η)))`, where the
//! inertia matrix `M_j` of [`crate::engine::inertia`] decides the `+1` side — its top eigenvalue has the
//! sign of `λ_max(T_j) − 1` but stays well separated from 0 when near-flat directions keep
//! `λ_max(T_j)` within rounding of 1) and each is reported with a verified bracket and error
//! bound (module `refine`). The coefficients are built in the eigenbasis of `H`, where `C_1` is
//! diagonal.
//!
//! **Bisection fallback** (when `jD` exceeds [`ThresholdOptions::max_companion_rows`], default
//! [`DEFAULT_MAX_COMPANION_ROWS`], or on request): starting from
//! `η_safe = 2 / max_i ‖a_i‖²` — certified stable, because then every batch matrix
//! `M = I − (η/B) Σ z_i H_i` has `0 ⪯ (η/B) Σ z_i H_i ⪯ 2I` (`Σ z_i = B`), so `‖M‖ <= 1` and
//! `‖T_j‖ <= 1` — the excess is evaluated on the grid `η_safe · 2^{i/8}` until it is positive,
//! and the crossing is refined to working precision as above. Only the first stable interval is
//! found then (`stable_set_complete = false`), and an unstable gap narrower than one grid step
//! (9%) could be missed.

pub mod diagram;
pub mod limits;
pub(crate) mod linearization;
pub(crate) mod polynomial;
pub(crate) mod refine;
pub mod report;

pub use limits::{
    corollary1_lr_limit, mulayoff_michaeli_bounds, theorem2_lr_limit, MulayoffMichaeliBounds,
};
pub use linearization::Crossing;
use polynomial::BlockPolynomial;
pub use report::{
    ImpliedLimit, MulayoffMichaeliReport, OrderThreshold, ThresholdReport, THRESHOLD_SCHEMA_VERSION,
};

use crate::engine::cancellable::Cancellable;
use crate::engine::planner::{plan_blocks, OperatorMethod, SolverOptions};
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::BatchModel;
use crate::error::{Error, Param, Result};
use crate::progress::Hooks;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Largest companion matrix (rows) the linearization builds; beyond it, bisection. A general
/// eigensolve of 2000 rows takes about 10 s on 2 cores.
pub const DEFAULT_MAX_COMPANION_ROWS: usize = 2000;

/// Slack of the closure test of a candidate: `spec T_j(η) ⊂ [−1 − 1e-5, 1 + 1e-5]`. Generous on
/// purpose (a candidate root computed with relative error `δ` moves the crossing eigenvalue by
/// about `δ · η|dλ/dη|`); a candidate that passes wrongly only costs one classification.
pub const CLOSURE_SLACK: f64 = 1e-5;

/// Ratio of the bisection fallback's bracketing grid.
pub const SCAN_RATIO: f64 = 1.090_507_732_665_257_7; // 2^{1/8}

/// Evaluation limit of one boundary refinement.
pub const MAX_REFINE_EVALS: usize = 120;

/// How the boundaries are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodChoice {
    /// Linearization when the companion matrix has at most `max_companion_rows` rows, else
    /// bisection.
    #[default]
    Auto,
    /// Always linearize.
    Linearization,
    /// Always bisect (first stable interval only).
    Bisection,
}

impl FromStr for MethodChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(MethodChoice::Auto),
            "linearization" => Ok(MethodChoice::Linearization),
            "bisection" => Ok(MethodChoice::Bisection),
            o => Err(format!(
                "unknown method '{o}' (expected 'auto', 'linearization' or 'bisection')"
            )),
        }
    }
}

impl fmt::Display for MethodChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MethodChoice::Auto => "auto",
            MethodChoice::Linearization => "linearization",
            MethodChoice::Bisection => "bisection",
        })
    }
}

/// The method that produced a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Companion linearization, every candidate confirmed, every interval classified.
    Linearization,
    /// At scale, `j = 2`: `η*_2 = 2/λ_max(C⁺D)` by Lanczos on the symmetric-definite pencil
    /// (first interval only; [`crate::engine::matrix_free::second_order_threshold`]).
    Lanczos,
    /// Bracketing scan plus refinement on `ρ` (first interval only; at scale with Lanczos on the
    /// matrix-free operator).
    Bisection,
}

impl Method {
    /// `"linearization"`, `"lanczos"` or `"bisection"`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Linearization => "linearization",
            Method::Lanczos => "lanczos",
            Method::Bisection => "bisection",
        }
    }
}

/// How much of the stable set to compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every interval of `S_k`.
    #[default]
    Full,
    /// Only the interval that starts at 0 (enough for `η*_k`; cheaper).
    FirstInterval,
}

/// Options of [`crate::Problem::thresholds`] (the batch size is its argument).
///
/// ```
/// use sgdstab::{MethodChoice, SolverOptions, ThresholdOptions};
///
/// let opts = ThresholdOptions::default()
///     .orders([1, 2, 3])
///     .method(MethodChoice::Bisection)
///     .solver(SolverOptions::default().max_dense_dim(500));
/// assert_eq!(opts.max_companion_rows, sgdstab::threshold::DEFAULT_MAX_COMPANION_ROWS);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ThresholdOptions {
    /// Orders `k >= 1` (reported in the given order, duplicates removed; default `[1, 2]`).
    pub orders: Vec<usize>,
    /// Linearization, bisection, or automatic per block.
    pub method: MethodChoice,
    /// Every interval of `S_k`, or only the first.
    pub scope: Scope,
    /// Largest companion matrix (rows, `jD`) the linearization builds under `Auto`.
    pub max_companion_rows: usize,
    /// Eigensolver, dense limit, memory budget, Lanczos of the scale path. A block beyond the
    /// dense limits (or `method = matrix-free`) sends every block to the matrix-free scale path;
    /// `method = dense` demands the dense path (as [`MethodChoice::Linearization`] does).
    pub solver: SolverOptions,
}

impl Default for ThresholdOptions {
    fn default() -> Self {
        ThresholdOptions {
            orders: vec![1, 2],
            method: MethodChoice::Auto,
            scope: Scope::Full,
            max_companion_rows: DEFAULT_MAX_COMPANION_ROWS,
            solver: SolverOptions::default(),
        }
    }
}

impl ThresholdOptions {
    /// Sets [`ThresholdOptions::orders`].
    pub fn orders(mut self, orders: impl Into<Vec<usize>>) -> Self {
        self.orders = orders.into();
        self
    }

    /// Sets [`ThresholdOptions::method`].
    pub fn method(mut self, m: MethodChoice) -> Self {
        self.method = m;
        self
    }

    /// Sets [`ThresholdOptions::scope`].
    pub fn scope(mut self, s: Scope) -> Self {
        self.scope = s;
        self
    }

    /// Sets [`ThresholdOptions::max_companion_rows`].
    pub fn max_companion_rows(mut self, rows: usize) -> Self {
        self.max_companion_rows = rows;
        self
    }

    /// Sets [`ThresholdOptions::solver`].
    pub fn solver(mut self, solver: SolverOptions) -> Self {
        self.solver = solver;
        self
    }

    /// Checks the orders and the solver settings.
    pub fn validate(&self) -> Result<()> {
        crate::engine::analysis::check_orders(&self.orders)?;
        self.solver.validate()
    }
}

/// One interval `[lo, hi]` of a stable set (`hi = None`: unbounded). `lo = 0` stands for the
/// open end at 0 (`η > 0`). Serialized as `[lo, hi]` with `hi = null` when unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end, `None` if unbounded.
    pub hi: Option<f64>,
}

impl Interval {
    /// Whether `lr` lies in the interval.
    pub fn contains(&self, lr: f64) -> bool {
        lr >= self.lo && self.hi.is_none_or(|h| lr <= h)
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.lo, self.hi).serialize(s)
    }
}

/// One boundary point of `S_k` with its error bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Boundary {
    /// The learning rate.
    pub lr: f64,
    /// Error bound: `lr` is within this of a point where the exact operator changes stability.
    pub error: f64,
    /// The bracket `[lo, hi]` (stable at one end, unstable at the other).
    pub bracket: [f64; 2],
    /// The crossing end of the spectrum (`λ_max − 1` or `−1 − λ_min`) has certified, opposite
    /// signs at the two ends of the bracket.
    pub verified: bool,
    /// The block `j` whose eigenvalue crosses.
    pub block: usize,
    /// The crossing: `"+1"` or `"-1"` (from the linearization, or for bisection the end of the
    /// spectrum that is outside `[−1, 1]` just beyond the boundary).
    pub crossing: Option<Crossing>,
    /// `"upper"` (end of a stable interval) or `"lower"` (start of one).
    pub end: IntervalEnd,
}

/// Which end of a stable interval a boundary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalEnd {
    /// The stable interval starts here.
    Lower,
    /// The stable interval ends here.
    Upper,
}

/// `S_k` for one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderStableSet {
    /// The order `k`.
    pub k: usize,
    /// `η*_k`, `None` if the first interval is unbounded.
    pub lr_threshold: Option<f64>,
    /// Error bound on `η*_k`.
    pub lr_threshold_error: Option<f64>,
    /// The intervals of `S_k`, ascending.
    pub stable_set: Vec<Interval>,
    /// `false` when only the first interval was computed (bisection or `Scope::FirstInterval`).
    pub stable_set_complete: bool,
    /// `bisection` if any present block needed it, else `linearization`.
    pub method: Method,
    /// Every finite boundary of `stable_set`, ascending.
    pub boundaries: Vec<Boundary>,
    /// The blocks `j` present in `Sym^k(R^w)` (the flat block 0 excluded).
    pub blocks: Vec<usize>,
    /// Candidate roots found by the linearization over the present blocks (0 for bisection).
    pub candidates: usize,
    /// Candidates that passed the closure test.
    pub confirmed_candidates: usize,
}

/// A raw end of a block interval before refinement.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RawEnd {
    est: f64,
    limits: (f64, f64),
    block: usize,
    crossing: Option<Crossing>,
    /// Already refined at block level (the scale path): the boundary as reported.
    exact: Option<Boundary>,
}

#[derive(Debug, Clone, PartialEq)]
struct RawInterval {
    lo: Option<RawEnd>, // None: starts at 0
    hi: Option<RawEnd>, // None: unbounded
}

#[derive(Debug, Clone)]
struct BlockSet {
    intervals: Vec<RawInterval>,
    complete: bool,
    method: Method,
    candidates: usize,
    confirmed: usize,
}

#[derive(Debug)]
struct BlockState {
    /// `None` on the scale path (matrix-free blocks are never assembled).
    poly: Option<BlockPolynomial>,
    set: BlockSet,
}

/// Stable sets for one reduced problem and batch model: the present blocks are computed once
/// and shared by every order.
#[derive(Debug)]
pub(crate) struct ThresholdSolver<'a> {
    red: &'a SpanReduction,
    /// The reduced coordinates rotated into the eigenbasis of `H` (where `C_1` is diagonal).
    ec: crate::engine::matrix_free::EigenCoords,
    /// `(−C_1)^{−1/2}` per degree ([`crate::engine::inertia::scaling`]).
    scales: Vec<Vec<f64>>,
    model: BatchModel,
    opts: ThresholdOptions,
    blocks: Vec<Option<BlockState>>,
    /// Polled at every evaluation of `T_j(η)` and every Lanczos product.
    hooks: Hooks<'a>,
}

impl<'a> ThresholdSolver<'a> {
    /// Computes the stable sets of every block needed by the orders `1..=max_order`.
    pub fn new(
        red: &'a SpanReduction,
        model: BatchModel,
        max_order: usize,
        orders: &[usize],
        opts: &ThresholdOptions,
        hooks: Hooks<'a>,
    ) -> Result<Self> {
        crate::engine::analysis::check_orders(orders)?;
        opts.solver.validate()?;
        if model.n != red.n {
            return Err(Error::parameter(
                Param::Batch,
                model.batch,
                "the batch model and the gradients disagree on n",
            ));
        }
        let r = red.rank;
        let mut needed = vec![false; max_order + 1];
        for &k in orders {
            for (j, slot) in needed.iter_mut().enumerate().take(k + 1).skip(1) {
                if r > 0 && red.block_multiplicity(k, j).is_some_and(|m| m > 0) {
                    *slot = true;
                }
            }
        }
        // size checks before any expensive work: a block beyond the dense limits sends every
        // block to the scale path (matrix-free, Lanczos), unless the linearization was demanded
        let method = match opts.method {
            MethodChoice::Linearization => OperatorMethod::Dense,
            _ => opts.solver.method,
        };
        let plan = plan_blocks(r, &needed, method, &opts.solver)?;
        let (scale_path, budget) = (plan.any_matrix_free(), plan.budget);
        let progress = hooks.progress;
        let count = needed.iter().filter(|&&x| x).count() as u64;
        progress.begin("stable sets", count);
        let ec = crate::engine::matrix_free::EigenCoords::new(&red.coords, red.n, r)?;
        let scales = (0..=max_order)
            .map(|j| {
                if needed[j] {
                    crate::engine::inertia::scaling(&ec, j)
                } else {
                    Ok(Vec::new())
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut solver = ThresholdSolver {
            red,
            ec,
            scales,
            model,
            opts: opts.clone(),
            blocks: (0..=max_order).map(|_| None).collect(),
            hooks,
        };
        for j in 1..=max_order {
            if needed[j] {
                let d = crate::engine::combinatorics::sym_dim(red.rank, j).unwrap_or(u128::MAX);
                let method = if scale_path { "matrix-free" } else { "dense" };
                progress.advance(0, &crate::progress::block_message(j, red.rank, d, method));
                hooks.checkpoint()?;
                let state = if scale_path {
                    solver.scale_block(j)?
                } else {
                    solver.block(j, budget)?
                };
                solver.blocks[j] = Some(state);
                progress.advance(1, "");
            }
        }
        progress.end();
        Ok(solver)
    }

    fn block(&self, j: usize, budget: u128) -> Result<BlockState> {
        let red = self.red;
        let dim = crate::engine::combinatorics::sym_dim(red.rank, j).unwrap_or(u128::MAX) as usize;
        let rows = linearization::companion_rows(j, dim);
        let linearize = match self.opts.method {
            MethodChoice::Auto => rows <= self.opts.max_companion_rows,
            MethodChoice::Linearization => true,
            MethodChoice::Bisection => false,
        };
        if linearize {
            crate::memory::check(
                || {
                    format!("the stable-set polynomial of T_{j} on Sym^{j}(R^{}) (D = {dim}, {} coefficient matrices) and its companion matrix ({rows} rows)", red.rank, j + 1)
                },
                crate::memory::polynomial_block(red.rank, j)
                    .saturating_add(crate::memory::companion(rows as u128)),
                budget,
                &format!(
                    "lower the order k, or use {} bisection, or raise {}",
                    Param::Method.quoted(),
                    Param::MemoryBudget.quoted()
                ),
            )?;
            let ec = &self.ec;
            let poly = BlockPolynomial::stored(&ec.coords, ec.n, ec.r, j, &self.model)?;
            if let Some(set) = self.linearized_set(&poly, j)? {
                return Ok(BlockState {
                    poly: Some(poly),
                    set,
                });
            }
            // the first interval did not classify as stable: a root was missed; bisect instead
        }
        let ec = &self.ec;
        let poly = BlockPolynomial::direct(&ec.coords, ec.n, ec.r, j, &self.model, budget)?;
        let set = self.bisection_set(&poly, j)?;
        Ok(BlockState {
            poly: Some(poly),
            set,
        })
    }

    /// The excess of one block, with an error term shaped for [`refine`] (0 when the sign is
    /// certified).
    fn excess_of(&self, poly: &BlockPolynomial, lr: f64) -> Result<(f64, f64)> {
        self.hooks.checkpoint()?;
        let j = poly.degree();
        let e = poly.evaluate(lr, &self.scales[j], self.opts.solver.eigensolver)?;
        let value = e.excess();
        let err = match e.certainty() {
            (true, _) | (_, true) => 0.0,
            _ => 2.0 * value.abs() + f64::MIN_POSITIVE,
        };
        Ok((value, err))
    }

    /// Steps 1–3 of the module documentation; `None` if the interval at 0 is not stable.
    fn linearized_set(&self, poly: &BlockPolynomial, j: usize) -> Result<Option<BlockSet>> {
        self.hooks.checkpoint()?;
        let mut cands = linearization::candidates(poly, self.opts.solver.eigensolver)?;
        self.hooks.checkpoint()?;
        let total = cands.len();
        cands.dedup_by(|b, a| (b.lr - a.lr).abs() <= 1e-12 * a.lr);
        let first_only = self.opts.scope == Scope::FirstInterval;
        let mut confirmed: Vec<linearization::Candidate> = Vec::new();
        let mut classes: Vec<bool> = Vec::new(); // classes[i]: interval before confirmed[i]
        let mut points: Vec<f64> = Vec::new();
        let classify = |x: f64| -> Result<bool> { Ok(self.excess_of(poly, x)?.0 <= 0.0) };
        for c in &cands {
            if !poly.within(c.lr, CLOSURE_SLACK)? {
                continue;
            }
            let x = match confirmed.last() {
                None => 0.5 * c.lr,
                Some(p) => (p.lr * c.lr).sqrt(),
            };
            let class = classify(x)?;
            if confirmed.is_empty() && !class {
                return Ok(None);
            }
            points.push(x);
            classes.push(class);
            confirmed.push(*c);
            if first_only && !class {
                break;
            }
        }
        // the interval after the last confirmed candidate
        let tail_done = first_only && classes.last() == Some(&false);
        if !tail_done {
            let x = confirmed.last().map_or(1.0, |c| 2.0 * c.lr);
            let class = classify(x)?;
            if confirmed.is_empty() && !class {
                return Ok(None);
            }
            points.push(x);
            classes.push(class);
        }
        // merge into intervals: classes[i] is the class of the interval ending at confirmed[i]
        let mut intervals = Vec::new();
        let mut open: Option<Option<RawEnd>> = if classes[0] { Some(None) } else { None };
        for i in 1..classes.len() {
            if classes[i] == classes[i - 1] {
                continue;
            }
            let c = confirmed[i - 1];
            let end = RawEnd {
                est: c.lr,
                limits: (points[i - 1], points[i]),
                block: j,
                crossing: Some(c.crossing),
                exact: None,
            };
            if classes[i] {
                open = Some(Some(end));
            } else if let Some(lo) = open.take() {
                intervals.push(RawInterval { lo, hi: Some(end) });
                if first_only {
                    break;
                }
            }
        }
        if let Some(lo) = open {
            if !first_only || intervals.is_empty() {
                intervals.push(RawInterval { lo, hi: None });
            }
        }
        Ok(Some(BlockSet {
            intervals,
            complete: !first_only,
            method: Method::Linearization,
            candidates: total,
            confirmed: confirmed.len(),
        }))
    }

    fn bisection_set(&self, poly: &BlockPolynomial, j: usize) -> Result<BlockSet> {
        let max_norm2 = (0..self.red.n)
            .map(|i| self.red.coord(i).iter().map(|x| x * x).sum::<f64>())
            .fold(0.0f64, f64::max);
        let start = 2.0 / max_norm2;
        let scan =
            refine::scan_first_crossing(|x| self.excess_of(poly, x), start, SCAN_RATIO, 8 * 64)?;
        // The last stable grid point can be the threshold itself: 2/max‖b_i‖² <= 2/λ_max(H) =
        // η*_1, with equality when all rows are equal. There the excess is 0 up to rounding and
        // not certified, and the refinement could not verify a bracket that starts on the root
        // (it fell back to the middle of the grid step, 4.4% high). Step the lower end down
        // until it is certified stable.
        let scan = match scan {
            Some((mut a, b)) => {
                for _ in 0..64 {
                    let (value, err) = self.excess_of(poly, a)?;
                    if value < -err {
                        break;
                    }
                    a /= SCAN_RATIO;
                }
                Some((a, b))
            }
            None => None,
        };
        let intervals = match scan {
            Some((a, b)) => vec![RawInterval {
                lo: None,
                hi: Some(RawEnd {
                    est: (a * b).sqrt(),
                    limits: (a, b),
                    block: j,
                    crossing: None,
                    exact: None,
                }),
            }],
            None => {
                return Err(Error::Numerical {
                    routine: "bisection",
                    message: format!(
                    "T_{j} stayed stable on the whole scan up to {:e} (64 octaves above {start:e})",
                    start * SCAN_RATIO.powi(8 * 64)
                ),
                })
            }
        };
        Ok(BlockSet {
            intervals,
            complete: false,
            method: Method::Bisection,
            candidates: 0,
            confirmed: 0,
        })
    }

    /// The blocks `j >= 1` present in `Sym^k(R^w)`.
    pub fn present_blocks(&self, k: usize) -> Vec<usize> {
        if self.red.rank == 0 {
            return Vec::new();
        }
        (1..=k)
            .filter(|&j| self.red.block_multiplicity(k, j).is_some_and(|m| m > 0))
            .collect()
    }

    /// The excess of order `k` at `η` for one end of the spectrum: `max_j` over the present
    /// blocks of `λ_max(M_j(η))` (the `+1` side by the inertia matrix `M` of
    /// [`crate::engine::inertia`], sign-equivalent to `λ_max − 1` but well conditioned near flat
    /// directions) for `Some(PlusOne)`, of `−1 − λ_min(T_j(η))` for `Some(MinusOne)`, the larger
    /// for `None` — with an error term shaped for [`refine`]: `0` when the sign is certified
    /// (some block certainly unstable, or every block certainly stable), else larger than the
    /// value (uncertain). A boundary is a sign change of the end whose eigenvalue crosses; certifying that end alone keeps the
    /// bracket verifiable when another eigenvalue sits within rounding of the other end (a
    /// near-flat direction keeps `λ_max` within `1e-13` of 1 on both sides of a `−1` crossing).
    pub fn side_excess(&self, k: usize, lr: f64, side: Option<Crossing>) -> Result<(f64, f64)> {
        let mut value = f64::NEG_INFINITY;
        let mut certain_unstable = false;
        let mut all_certain_stable = true;
        self.hooks.checkpoint()?;
        for j in self.present_blocks(k) {
            let state = self.state(j)?;
            let ev = self.dense_poly(state, j)?.evaluate(
                lr,
                &self.scales[j],
                self.opts.solver.eigensolver,
            )?;
            let (e, err) = ev.side(side);
            if side.is_none() {
                let (u, st) = ev.certainty();
                certain_unstable |= u;
                all_certain_stable &= st;
            } else {
                certain_unstable |= e > err;
                all_certain_stable &= e < -err;
            }
            value = value.max(e);
        }
        if value == f64::NEG_INFINITY {
            return Ok((-1.0, 0.0));
        }
        let err = if certain_unstable || all_certain_stable {
            0.0
        } else {
            2.0 * value.abs() + f64::MIN_POSITIVE
        };
        Ok((value, err))
    }

    fn dense_poly<'s>(&self, state: &'s BlockState, j: usize) -> Result<&'s BlockPolynomial> {
        state.poly.as_ref().ok_or(Error::Numerical {
            routine: "stable sets",
            message: format!(
                "T_{j} is on the matrix-free scale path: its excess at a given η is not assembled"
            ),
        })
    }

    /// The scale path for block `j` (DESIGN §9, issue 5): `j = 1` exactly from the eigenvalues of
    /// `H` (`S_1 = [0, 2/λ_max(H)]`), `j = 2` by Lanczos on the pencil
    /// (`η*_2 = 2/λ_max(C⁺D)`, no bisection), `j >= 3` by the bracketing scan and refinement on
    /// `ρ_j(η)` with Lanczos on the matrix-free operator. Each boundary is refined here, on the
    /// block alone, and the first stable interval is returned.
    fn scale_block(&self, j: usize) -> Result<BlockState> {
        let ec = &self.ec;
        let u = f64::EPSILON / 2.0;
        let (hi, method) = match j {
            1 => {
                let lmax = ec.h_eigenvalues.iter().cloned().fold(0.0f64, f64::max);
                let hnorm = ec.h_eigenvalues.iter().map(|l| l * l).sum::<f64>().sqrt();
                let lr = 2.0 / lmax;
                let rel = (crate::engine::spectrum::eigensolver_error_bound(ec.r, hnorm)
                    + 4.0 * u * lmax)
                    / lmax;
                let err = lr * rel;
                (
                    Boundary {
                        lr,
                        error: err,
                        bracket: [lr - err, lr + err],
                        verified: true,
                        block: 1,
                        crossing: Some(Crossing::MinusOne),
                        end: IntervalEnd::Upper,
                    },
                    Method::Linearization,
                )
            }
            2 => {
                let th = crate::engine::matrix_free::second_order_threshold(
                    ec,
                    &self.model,
                    &self.opts.solver.lanczos,
                    self.hooks,
                )?;
                (
                    Boundary {
                        lr: th.lr_threshold,
                        error: th.lr_threshold_error,
                        bracket: [
                            th.lr_threshold - th.lr_threshold_error,
                            th.lr_threshold + th.lr_threshold_error,
                        ],
                        // a Lanczos residual bound, not a certified bracket
                        verified: false,
                        block: 2,
                        crossing: Some(Crossing::PlusOne),
                        end: IntervalEnd::Upper,
                    },
                    Method::Lanczos,
                )
            }
            _ => {
                let excess = |lr: f64| -> Result<refine::Excess> {
                    let op =
                        crate::engine::matrix_free::MatrixFreeMoment::new(ec, j, lr, &self.model)?;
                    let checked = Cancellable::new(&op, self.hooks);
                    let res = crate::engine::lanczos::extreme_eigenvalues(
                        &checked,
                        &self.opts.solver.lanczos,
                    );
                    checked.finish()?;
                    let d = crate::engine::linop::SymmetricOperator::dim(&op) as f64;
                    let err = res.residual_min.max(res.residual_max) + d * u * res.radius();
                    let value = (res.lambda_max - 1.0).max(-1.0 - res.lambda_min);
                    let certain = value.abs() > err;
                    Ok((
                        value,
                        if certain {
                            0.0
                        } else {
                            2.0 * value.abs() + f64::MIN_POSITIVE
                        },
                    ))
                };
                let max_norm2 = (0..ec.n)
                    .map(|i| ec.row(i).iter().map(|x| x * x).sum::<f64>())
                    .fold(0.0f64, f64::max);
                let start = 2.0 / max_norm2;
                let (a, b) = refine::scan_first_crossing(excess, start, SCAN_RATIO, 8 * 64)?
                    .ok_or(Error::Numerical {
                        routine: "bisection",
                        message: format!("T_{j} stayed stable on the whole scan above {start:e}"),
                    })?;
                let r = refine::refine(excess, (a * b).sqrt(), (a, b), MAX_REFINE_EVALS)?;
                (
                    Boundary {
                        lr: r.lr,
                        error: r.error,
                        bracket: r.bracket,
                        verified: r.verified,
                        block: j,
                        crossing: None,
                        end: IntervalEnd::Upper,
                    },
                    Method::Bisection,
                )
            }
        };
        let raw = RawEnd {
            est: hi.lr,
            limits: (hi.bracket[0], hi.bracket[1]),
            block: j,
            crossing: hi.crossing,
            exact: Some(hi),
        };
        Ok(BlockState {
            poly: None,
            set: BlockSet {
                intervals: vec![RawInterval {
                    lo: None,
                    hi: Some(raw),
                }],
                complete: j == 1,
                method,
                candidates: 0,
                confirmed: 0,
            },
        })
    }

    fn state(&self, j: usize) -> Result<&BlockState> {
        self.blocks
            .get(j)
            .and_then(|b| b.as_ref())
            .ok_or(Error::Numerical {
                routine: "stable sets",
                message: format!("block T_{j} was not prepared"),
            })
    }

    /// `S_k` with refined boundaries.
    pub fn order(&self, k: usize) -> Result<OrderStableSet> {
        let blocks = self.present_blocks(k);
        if blocks.is_empty() {
            // r = 0: T_k = I for every η
            return Ok(OrderStableSet {
                k,
                lr_threshold: None,
                lr_threshold_error: None,
                stable_set: vec![Interval { lo: 0.0, hi: None }],
                stable_set_complete: true,
                method: Method::Linearization,
                boundaries: Vec::new(),
                blocks,
                candidates: 0,
                confirmed_candidates: 0,
            });
        }
        let mut acc: Option<Vec<RawInterval>> = None;
        let mut complete = true;
        let mut method = Method::Linearization;
        let (mut cands, mut conf) = (0, 0);
        for &j in &blocks {
            let s = &self.state(j)?.set;
            complete &= s.complete;
            method = method.max(s.method);
            cands += s.candidates;
            conf += s.confirmed;
            acc = Some(match acc {
                None => s.intervals.clone(),
                Some(a) => intersect(&a, &s.intervals),
            });
        }
        let raw = acc.unwrap_or_default();
        let mut stable_set = Vec::new();
        let mut boundaries = Vec::new();
        for iv in &raw {
            let lo = match iv.lo {
                None => 0.0,
                Some(end) => {
                    let b = self.refine_end(k, &end, IntervalEnd::Lower)?;
                    boundaries.push(b);
                    b.lr
                }
            };
            let hi = match iv.hi {
                None => None,
                Some(end) => {
                    let b = self.refine_end(k, &end, IntervalEnd::Upper)?;
                    boundaries.push(b);
                    Some(b.lr)
                }
            };
            stable_set.push(Interval { lo, hi });
        }
        let (lr_threshold, lr_threshold_error) = match raw.first() {
            Some(RawInterval { lo: None, hi }) => match hi {
                None => (None, None),
                Some(_) => {
                    let b = boundaries
                        .iter()
                        .find(|b| b.end == IntervalEnd::Upper)
                        .copied();
                    (b.map(|b| b.lr), b.map(|b| b.error))
                }
            },
            _ => (Some(0.0), Some(0.0)),
        };
        Ok(OrderStableSet {
            k,
            lr_threshold,
            lr_threshold_error,
            stable_set,
            stable_set_complete: complete,
            method,
            boundaries,
            blocks,
            candidates: cands,
            confirmed_candidates: conf,
        })
    }

    fn refine_end(&self, k: usize, end: &RawEnd, which: IntervalEnd) -> Result<Boundary> {
        if let Some(b) = end.exact {
            return Ok(Boundary { end: which, ..b });
        }
        // Which end of the spectrum crosses: known from the linearization. Otherwise every side
        // that is out of [−1, 1] at the unstable end of the classification interval is refined,
        // and the crossing nearest the stable end is the boundary (both sides can be out at the
        // unstable end while the other one crossed first).
        let sides: Vec<Crossing> = match end.crossing {
            Some(c) => vec![c],
            None => {
                let x = match which {
                    IntervalEnd::Upper => end.limits.1,
                    IntervalEnd::Lower => end.limits.0,
                };
                let mut out = Vec::new();
                for c in [Crossing::PlusOne, Crossing::MinusOne] {
                    if self.side_excess(k, x, Some(c))?.0 > 0.0 {
                        out.push(c);
                    }
                }
                if out.is_empty() {
                    out = vec![Crossing::PlusOne, Crossing::MinusOne];
                }
                out
            }
        };
        let mut best: Option<(refine::Refined, Crossing)> = None;
        for crossing in sides {
            let r = refine::refine(
                |x| self.side_excess(k, x, Some(crossing)),
                end.est,
                end.limits,
                MAX_REFINE_EVALS,
            )?;
            let better = match &best {
                None => true,
                Some((b, _)) => match which {
                    IntervalEnd::Upper => r.lr < b.lr,
                    IntervalEnd::Lower => r.lr > b.lr,
                },
            };
            if better {
                best = Some((r, crossing));
            }
        }
        let (r, crossing) = best.ok_or(Error::Numerical {
            routine: "stable sets",
            message: "no side of the spectrum to refine".into(),
        })?;
        Ok(Boundary {
            lr: r.lr,
            error: r.error,
            bracket: r.bracket,
            verified: r.verified,
            block: end.block,
            crossing: Some(crossing),
            end: which,
        })
    }
}

fn end_lt(a: &Option<RawEnd>, b: &Option<RawEnd>, none_is_low: bool) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.est < y.est,
        (None, Some(_)) => none_is_low,
        (Some(_), None) => !none_is_low,
        (None, None) => false,
    }
}

/// Intersection of two ascending lists of disjoint intervals.
fn intersect(a: &[RawInterval], b: &[RawInterval]) -> Vec<RawInterval> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let (x, y) = (&a[i], &b[j]);
        // lower end: the larger (None = 0 is the smallest)
        let lo = if end_lt(&x.lo, &y.lo, true) {
            y.lo
        } else {
            x.lo
        };
        // upper end: the smaller (None = ∞ is the largest)
        let x_hi_first = end_lt(&x.hi, &y.hi, false) || (x.hi.is_some() && x.hi == y.hi);
        let hi = if x_hi_first { x.hi } else { y.hi };
        let nonempty = match (&lo, &hi) {
            (Some(l), Some(h)) => l.est < h.est,
            _ => true,
        };
        if nonempty {
            out.push(RawInterval { lo, hi });
        }
        if x_hi_first {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(est: f64) -> Option<RawEnd> {
        Some(RawEnd {
            est,
            limits: (est * 0.9, est * 1.1),
            block: 1,
            crossing: None,
            exact: None,
        })
    }

    #[test]
    fn interval_intersection() {
        let a = vec![
            RawInterval {
                lo: None,
                hi: end(2.0),
            },
            RawInterval {
                lo: end(3.0),
                hi: None,
            },
        ];
        let b = vec![
            RawInterval {
                lo: None,
                hi: end(1.0),
            },
            RawInterval {
                lo: end(1.5),
                hi: end(4.0),
            },
        ];
        let c = intersect(&a, &b);
        let ests: Vec<(f64, f64)> = c
            .iter()
            .map(|iv| {
                (
                    iv.lo.map_or(0.0, |e| e.est),
                    iv.hi.map_or(f64::INFINITY, |e| e.est),
                )
            })
            .collect();
        assert_eq!(ests, vec![(0.0, 1.0), (1.5, 2.0), (3.0, 4.0)]);
    }
}
