//! Section 5 of the paper on real numbers: the generalization bound of Theorem 6 (eq. 26) and
//! the robustness bound of Theorem 7 (eq. 27), term by term, next to the measured test error and
//! the measured sensitivity of the model.
//!
//! # What is computed, and how each quantity is obtained
//!
//! Inputs: a model `f(x, W) = f̃(W_1 x, W_2)` at `W*` ([`InputLayerModel`]), its `n` training
//! points `x_i` (with targets `y_i`), a held-out test set from the same distribution `μ`, the
//! learning rate `η` and batch size `B` of training, orders `k`, and a grid of radii `δ`.
//! With `S_k = (2nw/B)^{1/(2k)} sqrt(2B/η)` (Theorem 5's factor, as printed in the paper) and
//! `N_k = ‖(W_1*)ᵀ‖_{2k}` taken at the **upper** end of its bracket
//! ([`crate::networks::matrix_norm::bracket`]; exact for `k = 1`), so that the printed bounds are never
//! smaller than with the true norm:
//!
//! ```text
//! eq. (26):  E(f − f*)² <= 2d C² N_k² / min_i ‖x_i‖_{2k}² · (S_k + 1)² δ²   (smoothness term)
//!                         + 2 M₂² δ²                                      (target term)
//!                         + 4 M₁² ε₂(δ)                                    (uncovered term)
//! eq. (27):  |f(x) − f(x_i)| <= C √d N_k / min_i ‖x_i‖_{2k} · (S_k + 1) δ   for ‖x − x_i‖_2 <= δ
//! ```
//!
//! | quantity | how | kind |
//! |---|---|---|
//! | `ε₂(δ)` (Def. 2/4) | fraction of test points with `min_i ‖x − x_i‖_2 > δ` | empirical estimate of the probability in eq. (10) for this training set |
//! | `K(δ)` (Def. 3) | `max κ(z)`, `κ(z) = #{i : ‖z − x_i‖_2 <= δ}`, over `z` = training points, test points and midpoints of training pairs ([`covering::ScatterEstimator`]) | **lower** estimate of `sup κ`; in `[1, n]`. Reported for completeness: it enters Theorem 4 (eq. 24), **not** eqs. (26)/(27), which bound the largest `‖∇_W f(x_i)‖_{2k}` by the sum over `i` instead (hence the `n` in `S_k`) |
//! | `δ_approx` | `δ ‖W_1*‖_2 / min_i ‖x_i‖_2` (Theorems 6 and 7) | exact |
//! | `C` (Def. 1) at `δ_approx` | `c_ratio` = the largest `‖∇_W f(x_i, W')‖_{2k} / (‖∇_W f(x_i, W*)‖_{2k} + 1)` over all `i` and sampled `W'` with `‖W' − W*‖_2 <= δ'` for every grid radius `δ' <= δ_approx` ([`probe::probe_parameter_gradient`]: random points on the sphere and a projected-ascent chain); `C = max(1, c_ratio)` | **lower** estimate of the smallest valid `C` (a sampled supremum; not a certificate). The floor 1 is the value for models whose parameter gradient does not move (linear models, where Definition 1 holds with `C = 1`); the ratio at `W' = W*` alone is `‖a_i‖/(‖a_i‖ + 1) < 1`, which only reflects the `+1` slack of eq. (8) |
//! | `M₁` | `max(|f|, |f*|)` over training ∪ test points | empirical (lower) estimate of the supremum over the support |
//! | `M₂` | closed form from the data set's definition ([`crate::networks::datasets::Distribution::gradient_bound`]); when unknown (Iris), the largest difference quotient `|y_a − y_b| / ‖x_a − x_b‖_2` over distinct inputs of training ∪ test ([`M2Source::DifferenceQuotient`]) | exact or an upper bound; the difference quotient is a **lower** estimate |
//! | premise | Theorem 1 verdict for order `k` at the training `(η, B)` (the analyzer) | exact, with error bounds |
//! | test error | `(1/n_test) Σ_j (f(x_j) − y_j)²` | exact on the test sample (a Monte-Carlo estimate of `E_μ`) |
//! | sensitivity | the largest `|f(x) − f(x_i)|` over `‖x − x_i‖_2 <= δ'`, all `i`, all grid radii `δ' <= δ` ([`probe::probe_sensitivity`]: random, input-gradient and ascent points) | **lower** estimate of the supremum that eq. (27) bounds |
//!
//! Because `C`, `M₁` (and the Iris `M₂`) are lower estimates, a bound printed here can be
//! smaller than the paper's bound with the true constants; a measured value above it is
//! reported as a finding together with the `C` that would be needed (`c_needed`).
//! Theorem 6 also assumes exact interpolation, `f(x_i) = f*(x_i)`: the report gives the largest
//! training residual.

pub mod covering;
pub mod probe;

use crate::engine::stability::Verdict;
use crate::error::{Error, Param, Result};
use crate::networks::datasets::{Dataset, GradientBound};
use crate::networks::matrix_norm::{bracket, spectral_norm, transpose, PNormBracket};
use crate::progress::Progress;
use crate::random::SplitMix64;
use covering::{MidpointSet, ScatterEstimator};
pub use probe::{InputLayerModel, ProbeKind, ProbeOptions, Sensitivity};
use rayon::prelude::*;
use serde::Serialize;

/// Version of the `generalization` JSON schema.
pub const GENERALIZATION_SCHEMA_VERSION: u32 = 1;

/// Relative slack of the bound comparisons (rounding).
pub const RELATIVE_SLACK: f64 = 1e-12;

/// Largest number of radii on the grid.
pub const MAX_DELTAS: usize = 1000;

/// Largest number of random directions or ascent steps per probe.
pub const MAX_PROBES: usize = 100_000;

/// Above this many points in training ∪ test, the Iris-style `M₂` difference quotient runs
/// over (training, any) pairs only.
pub const MAX_QUOTIENT_POINTS: usize = 5000;

/// The radii `δ`.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaGrid {
    /// `count` radii from [`covering::default_deltas`].
    Auto {
        /// Number of radii.
        count: usize,
    },
    /// These radii (sorted and deduplicated; each finite and > 0).
    Given(Vec<f64>),
}

/// Options of [`generalization`].
#[derive(Debug, Clone, PartialEq)]
pub struct GeneralizationOptions {
    /// Orders `k >= 1`.
    pub orders: Vec<usize>,
    /// The radii.
    pub deltas: DeltaGrid,
    /// How hard the probes search.
    pub probes: ProbeOptions,
}

impl GeneralizationOptions {
    /// Checks the orders, the radii (count or values) and the probe limits, without data.
    pub fn check(&self) -> Result<()> {
        crate::engine::analysis::check_orders(&self.orders)?;
        radii(&self.deltas, &[1.0])?;
        for (flag, v) in [
            (Param::Samples, self.probes.random_directions),
            (Param::AscentSteps, self.probes.ascent_steps),
        ] {
            if v > MAX_PROBES {
                return Err(Error::parameter(flag, v, format!("at most {MAX_PROBES}")));
            }
        }
        Ok(())
    }

    /// 24 automatic radii and default probes.
    pub fn new(orders: Vec<usize>) -> Self {
        GeneralizationOptions {
            orders,
            deltas: DeltaGrid::Auto { count: 24 },
            probes: ProbeOptions::default(),
        }
    }
}

/// What [`generalization`] works on.
#[derive(Debug, Clone, Copy)]
pub struct SectionFiveInput<'a, M: ?Sized> {
    /// The model at `W*`.
    pub model: &'a M,
    /// Training data (`x_i`, `y_i = f*(x_i)`).
    pub train: &'a Dataset,
    /// Held-out data from the same distribution.
    pub test: &'a Dataset,
    /// `M₂` when the target's gradient bound is known; `None` = difference-quotient estimate.
    pub gradient_bound: Option<GradientBound>,
    /// Learning rate `η` of training.
    pub lr: f64,
    /// Batch size `B` of training.
    pub batch: usize,
}

/// How `M₂` was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum M2Source {
    /// The supremum, in closed form from the data set's definition.
    ClosedFormExact,
    /// An upper bound in closed form from the data set's definition.
    ClosedFormUpperBound,
    /// The largest difference quotient of the data (a lower estimate; the target is unknown).
    DifferenceQuotient,
}

/// `M₁` of Theorem 6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct M1 {
    /// `max(network_max_abs, target_max_abs)`.
    pub value: f64,
    /// `max |f(x, W*)|` over training ∪ test inputs.
    pub network_max_abs: f64,
    /// `max |y|` over training ∪ test.
    pub target_max_abs: f64,
}

/// `M₂` of Theorem 6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct M2 {
    /// The value used.
    pub value: f64,
    /// How it was obtained.
    pub source: M2Source,
    /// The formula or the method.
    pub how: String,
}

/// The covering quantities at one radius.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverRow {
    /// `δ`.
    pub delta: f64,
    /// `ε₂(δ)`.
    pub eps2: f64,
    /// The `K(δ)` estimate.
    pub k_estimate: usize,
    /// `δ_approx = δ ‖W_1‖_2 / min_i ‖x_i‖_2`.
    pub delta_approx: f64,
}

/// The covering section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Covering {
    /// Which midpoints the `K` estimate used.
    pub midpoints: MidpointSet,
    /// Number of points `κ` was evaluated at.
    pub evaluation_points: usize,
    /// Smallest distance of a test point to the training set.
    pub nearest_distance_min: f64,
    /// Median of those distances.
    pub nearest_distance_median: f64,
    /// Largest of those distances (`ε₂ = 0` from there on).
    pub nearest_distance_max: f64,
    /// One row per radius, ascending.
    pub rows: Vec<CoverRow>,
}

/// The measured sensitivity at one radius.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensitivityRow {
    /// `δ`.
    pub delta: f64,
    /// The largest changes found at exactly this radius, per probe kind (max over `i`).
    pub at_radius: Sensitivity,
    /// The largest `|f(x) − f(x_i)|` over all radii `<= δ` (what eq. 27 is compared with).
    pub measured: f64,
    /// Which probe found `measured`.
    pub found_by: ProbeKind,
    /// The training point `i` (0-based) around which it was found.
    pub point: usize,
}

/// The terms of eq. (26) at one radius.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eq26 {
    /// `2d C² N_k² (S_k + 1)² δ² / min_i ‖x_i‖_{2k}²`.
    pub smoothness_term: f64,
    /// `2 M₂² δ²`.
    pub target_term: f64,
    /// `4 M₁² ε₂(δ)`.
    pub uncovered_term: f64,
    /// The sum.
    pub total: f64,
}

/// Eq. (27) at one radius.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eq27 {
    /// `C √d N_k (S_k + 1) δ / min_i ‖x_i‖_{2k}`.
    pub bound: f64,
    /// The measured sensitivity (from [`SensitivityRow::measured`]).
    pub measured: f64,
    /// `measured / bound`.
    pub ratio: f64,
    /// The `C` at which the bound would equal the measured value.
    pub c_needed: f64,
}

/// One radius of one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundRow {
    /// `δ`.
    pub delta: f64,
    /// `δ_approx`.
    pub delta_approx: f64,
    /// The largest sampled ratio of Definition 1 at exactly this `δ_approx`.
    pub c_ratio_at_radius: f64,
    /// The largest sampled ratio at all radii `<= δ_approx` (a lower estimate of the smallest
    /// valid `C`).
    pub c_ratio: f64,
    /// `C = max(1, c_ratio)`, the value used in the bounds.
    pub c: f64,
    /// Eq. (26).
    pub eq26: Eq26,
    /// Eq. (27).
    pub eq27: Eq27,
}

/// The smallest eq. (26) total over the grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eq26Minimum {
    /// Where.
    pub delta: f64,
    /// The total there.
    pub total: f64,
    /// Measured test error / this total.
    pub test_mse_over_bound: f64,
    /// `min(total, eq26_small_delta_limit)`: an upper bound on the infimum of the right-hand
    /// side over all `δ > 0`.
    pub infimum_over_delta: f64,
    /// Whether `infimum_over_delta` is below the test target variance (the error of the best
    /// constant predictor), i.e. whether the bound says anything a constant does not.
    pub below_target_variance: bool,
}

/// Everything for one order `k`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderBounds {
    /// The order.
    pub k: usize,
    /// The analyzer's Theorem 1 verdict at `(η, B)` (the premise of Theorems 6 and 7), when run.
    pub premise_verdict: Option<Verdict>,
    /// `S_k = (2nw/B)^{1/(2k)} sqrt(2B/η)`.
    pub stability_factor: f64,
    /// `‖(W_1*)ᵀ‖_{2k}` bracket (the bounds use `upper`).
    pub w1t_norm: PNormBracket,
    /// `min_i ‖x_i‖_{2k}`.
    pub min_x_norm_2k: f64,
    /// `√d N_k (S_k + 1) / min_i ‖x_i‖_{2k}`: eq. (27)'s bound is `C δ` times this.
    pub lipschitz_factor: f64,
    /// One row per radius.
    pub rows: Vec<BoundRow>,
    /// The smallest eq. (26) total over the grid.
    pub eq26_min: Eq26Minimum,
    /// The largest eq. (27) `measured / bound` over the grid.
    pub eq27_max_ratio: f64,
}

/// The Section 5 bounds whose excess (with the premise holding) is a finding, serialized under
/// their report names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum GeneralizationCheck {
    /// Theorem 6, eq. (26): the test error against its bound: `eq26`.
    #[serde(rename = "eq26")]
    Eq26,
    /// Theorem 7, eq. (27): the measured sensitivity against its bound: `eq27`.
    #[serde(rename = "eq27")]
    Eq27,
}

impl GeneralizationCheck {
    /// The name used in reports: `eq26` or `eq27`.
    pub fn name(self) -> &'static str {
        match self {
            GeneralizationCheck::Eq26 => "eq26",
            GeneralizationCheck::Eq27 => "eq27",
        }
    }
}

impl std::fmt::Display for GeneralizationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A bound exceeded by a measured value while its premise (k-th order stability) holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneralizationFinding {
    /// Which bound was exceeded.
    pub check: GeneralizationCheck,
    /// The order.
    pub k: usize,
    /// What was exceeded, with the numbers.
    pub message: String,
}

/// The measured side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// `(1/n_test) Σ_j (f(x_j) − y_j)²`.
    pub test_mse: f64,
    /// Variance of the test targets (the error of the best constant predictor), for scale.
    pub test_target_variance: f64,
    /// `max_i |f(x_i) − y_i|` on the training set (Theorem 6 assumes 0).
    pub train_residual_max: f64,
}

/// The `generalization` report (`schema_version` [`GENERALIZATION_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneralizationReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"generalization"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// Where the model came from.
    pub input: Option<String>,
    /// The training set's description.
    pub dataset: String,
    /// The test set's description.
    pub test_set: String,
    /// Training points.
    pub n: usize,
    /// Test points.
    pub n_test: usize,
    /// Input dimension.
    pub d: usize,
    /// Parameters.
    pub w: usize,
    /// Rows of `W_1`.
    pub m: usize,
    /// Learning rate of training.
    pub lr: f64,
    /// Batch size of training.
    pub batch: usize,
    /// `‖W_1*‖_2`.
    pub w1_spectral_norm: f64,
    /// `min_i ‖x_i‖_2`.
    pub min_x_norm_2: f64,
    /// Test error and training residual.
    pub measured: Measured,
    /// `M₁`.
    pub m1: M1,
    /// `M₂`.
    pub m2: M2,
    /// `4 M₁² ε₂(0+)`, `ε₂(0+)` the fraction of test points at positive distance from the
    /// training set: the limit of eq. (26) as `δ → 0` (1 for continuous data, so `4 M₁²`).
    pub eq26_small_delta_limit: f64,
    /// Probe settings.
    pub probes: ProbeOptions,
    /// `ε₂`, `K`, `δ_approx` per radius.
    pub covering: Covering,
    /// Measured sensitivity per radius.
    pub sensitivity: Vec<SensitivityRow>,
    /// One entry per order.
    pub orders: Vec<OrderBounds>,
    /// No finding.
    pub ok: bool,
    /// Bounds exceeded while the premise holds.
    pub findings: Vec<GeneralizationFinding>,
}

/// `S_k = (2nw/B)^{1/(2k)} sqrt(2B/η)`, the factor of Theorems 5–7 as printed in the paper.
pub fn stability_factor(n: usize, w: usize, k: usize, lr: f64, batch: usize) -> f64 {
    (2.0 * n as f64 * w as f64 / batch as f64).powf(1.0 / (2.0 * k as f64))
        * (2.0 * batch as f64 / lr).sqrt()
}

fn bad(context: &str, message: String) -> Error {
    Error::InvalidInput {
        context: context.to_string(),
        message,
    }
}

/// The radii, validated.
fn radii(grid: &DeltaGrid, nearest: &[f64]) -> Result<Vec<f64>> {
    let mut deltas = match grid {
        DeltaGrid::Auto { count } => {
            if *count == 0 || *count > MAX_DELTAS {
                return Err(Error::parameter(
                    Param::Grid,
                    count,
                    format!("the number of radii must be in 1..={MAX_DELTAS}"),
                ));
            }
            covering::default_deltas(nearest, *count)
        }
        DeltaGrid::Given(v) => {
            if v.is_empty() || v.len() > MAX_DELTAS {
                return Err(Error::parameter(
                    Param::Deltas,
                    v.len(),
                    format!("give 1..={MAX_DELTAS} radii"),
                ));
            }
            if let Some(b) = v.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                return Err(Error::parameter(
                    Param::Deltas,
                    b,
                    "every radius must be finite and > 0",
                ));
            }
            v.clone()
        }
    };
    deltas.sort_by(f64::total_cmp);
    deltas.dedup();
    Ok(deltas)
}

/// The largest `|y_a − y_b| / ‖x_a − x_b‖_2` over distinct inputs (see [`M2Source`]).
fn difference_quotient(train: &Dataset, test: &Dataset) -> f64 {
    let mut pts: Vec<(&[f64], f64)> = (0..train.n).map(|i| (train.x_row(i), train.y[i])).collect();
    pts.extend((0..test.n).map(|j| (test.x_row(j), test.y[j])));
    let firsts = if pts.len() > MAX_QUOTIENT_POINTS {
        train.n
    } else {
        pts.len()
    };
    (0..firsts)
        .into_par_iter()
        .map(|a| {
            let mut best = 0.0f64;
            for b in a + 1..pts.len() {
                let dist = covering::distance(pts[a].0, pts[b].0);
                if dist > 0.0 {
                    best = best.max((pts[a].1 - pts[b].1).abs() / dist);
                }
            }
            best
        })
        .reduce(|| 0.0, f64::max)
}

/// The validated inputs: distinct orders, parameter count, `W_1` (`m × d`), `min_i ‖x_i‖_2`.
struct Checked {
    orders: Vec<usize>,
    w: usize,
    w1: Vec<f64>,
    m: usize,
    min_x_2: f64,
}

/// Step 1: the options, the shapes and the training inputs (Theorems 6 and 7 divide by
/// `min_i ‖x_i‖`).
fn check_input<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    opts: &GeneralizationOptions,
) -> Result<Checked> {
    crate::engine::analysis::check_lr(inp.lr)?;
    crate::engine::analysis::check_orders(&opts.orders)?;
    let (train, test, model) = (inp.train, inp.test, inp.model);
    let (n, d) = (train.n, train.d);
    crate::engine::sampling::BatchModel::new(n, inp.batch, crate::Sampling::WithoutReplacement)?;
    if model.input_dim() != d || test.d != d {
        return Err(bad(
            "test set",
            format!(
                "input dimensions differ: model {}, training {d}, test {}",
                model.input_dim(),
                test.d
            ),
        ));
    }
    opts.check()?;
    let mut orders = opts.orders.clone();
    {
        let mut seen = Vec::new();
        orders.retain(|k| {
            let fresh = !seen.contains(k);
            seen.push(*k);
            fresh
        });
    }
    let w = model.params().len();
    let (w1, m) = model.first_layer();
    if w1.len() != m * d || m == 0 {
        return Err(bad(
            "W_1",
            format!("{} entries for m = {m}, d = {d}", w1.len()),
        ));
    }
    let x_norms_2: Vec<f64> = (0..n).map(|i| norm2(train.x_row(i))).collect();
    if let Some(i) = x_norms_2.iter().position(|&v| v == 0.0) {
        return Err(bad(
            "training inputs",
            format!("x_{i} = 0: Theorems 6 and 7 divide by min_i ‖x_i‖"),
        ));
    }
    let min_x_2 = x_norms_2.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Checked {
        orders,
        w,
        w1,
        m,
        min_x_2,
    })
}

/// Step 2: the measured test error and training residual, and `M₁` (the model at `W*` on
/// training ∪ test).
fn measure<M: InputLayerModel + ?Sized>(inp: &SectionFiveInput<'_, M>) -> (Measured, M1) {
    let (train, test, model) = (inp.train, inp.test, inp.model);
    let f_train: Vec<f64> = (0..train.n)
        .map(|i| model.value_at(model.params(), train.x_row(i)))
        .collect();
    let f_test: Vec<f64> = (0..test.n)
        .into_par_iter()
        .map(|j| model.value_at(model.params(), test.x_row(j)))
        .collect();
    let test_mse = f_test
        .iter()
        .zip(&test.y)
        .map(|(f, y)| (f - y) * (f - y))
        .sum::<f64>()
        / test.n as f64;
    let mean_y = test.y.iter().sum::<f64>() / test.n as f64;
    let variance = test.y.iter().map(|y| (y - mean_y).powi(2)).sum::<f64>() / test.n as f64;
    let train_residual_max = f_train
        .iter()
        .zip(&train.y)
        .map(|(f, y)| (f - y).abs())
        .fold(0.0, f64::max);
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let net = max_abs(&f_train).max(max_abs(&f_test));
    let tgt = max_abs(&train.y).max(max_abs(&test.y));
    (
        Measured {
            test_mse,
            test_target_variance: variance,
            train_residual_max,
        },
        M1 {
            value: net.max(tgt),
            network_max_abs: net,
            target_max_abs: tgt,
        },
    )
}

/// Step 3: `M₂`, from the data set's closed form or the difference quotient.
fn m2_of<M: InputLayerModel + ?Sized>(inp: &SectionFiveInput<'_, M>) -> M2 {
    match inp.gradient_bound {
        Some(b) => M2 {
            value: b.value,
            source: if b.exact {
                M2Source::ClosedFormExact
            } else {
                M2Source::ClosedFormUpperBound
            },
            how: b.formula.to_string(),
        },
        None => M2 {
            value: difference_quotient(inp.train, inp.test),
            source: M2Source::DifferenceQuotient,
            how: "largest |y_a − y_b| / ‖x_a − x_b‖_2 over distinct inputs of training ∪ test: a lower estimate (no target function is known)".into(),
        },
    }
}

/// Step 4: the covering section: `ε₂(δ)`, the `K(δ)` estimate and `δ_approx` per radius, and
/// the test-to-training distances.
fn covering_section(
    train: &Dataset,
    test: &Dataset,
    nearest: &[f64],
    deltas: &[f64],
    w1_norm: f64,
    min_x_2: f64,
) -> Covering {
    let scatter = ScatterEstimator::new(&train.x, &test.x, train.d);
    let mut sorted_near = nearest.to_vec();
    sorted_near.sort_by(f64::total_cmp);
    let median = if sorted_near.is_empty() {
        0.0
    } else {
        let h = sorted_near.len() / 2;
        if sorted_near.len() % 2 == 1 {
            sorted_near[h]
        } else {
            0.5 * (sorted_near[h - 1] + sorted_near[h])
        }
    };
    let k_estimates = scatter.estimate_many(deltas);
    let rows: Vec<CoverRow> = deltas
        .iter()
        .zip(&k_estimates)
        .map(|(&delta, &k_estimate)| CoverRow {
            delta,
            eps2: covering::uncovered_fraction(nearest, delta),
            k_estimate,
            delta_approx: delta * w1_norm / min_x_2,
        })
        .collect();
    Covering {
        midpoints: scatter.midpoints,
        evaluation_points: scatter.evaluation_points,
        nearest_distance_min: sorted_near.first().copied().unwrap_or(0.0),
        nearest_distance_median: median,
        nearest_distance_max: sorted_near.last().copied().unwrap_or(0.0),
        rows,
    }
}

/// Step 5, Definition 1: per radius and order, the largest sampled
/// `‖∇_W f(x_i, W')‖_{2k} / (‖∇_W f(x_i, W*)‖_{2k} + 1)` over the training points.
fn local_smoothness<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    rows: &[CoverRow],
    orders: &[usize],
    probes: &ProbeOptions,
    progress: &dyn Progress,
) -> Vec<Vec<f64>> {
    let (train, model) = (inp.train, inp.model);
    rows.iter()
        .enumerate()
        .map(|(t, row)| {
            let per_point: Vec<Vec<f64>> = (0..train.n)
                .into_par_iter()
                .map(|i| {
                    let mut rng = SplitMix64::derive(
                        probes.seed,
                        0x4331_0000_0000_0000 ^ ((t as u64) << 32) ^ i as u64,
                    );
                    let p = probe::probe_parameter_gradient(
                        model,
                        train.x_row(i),
                        row.delta_approx,
                        orders,
                        probes,
                        &mut rng,
                    );
                    p.largest
                        .iter()
                        .zip(&p.at_minimum)
                        .map(|(l, a)| l / (a + 1.0))
                        .collect()
                })
                .collect();
            progress.advance(1, "local smoothness C");
            (0..orders.len())
                .map(|o| per_point.iter().map(|r| r[o]).fold(0.0, f64::max))
                .collect()
        })
        .collect()
}

/// Step 6, eq. (27)'s left-hand side: the largest `|f(x) − f(x_i)|` around every training point,
/// cumulative over the radii.
fn sensitivity_rows<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    deltas: &[f64],
    probes: &ProbeOptions,
    progress: &dyn Progress,
) -> Vec<SensitivityRow> {
    let (train, model) = (inp.train, inp.model);
    let mut sensitivity: Vec<SensitivityRow> = Vec::with_capacity(deltas.len());
    let mut best = (0.0f64, ProbeKind::Random, 0usize);
    for (t, &delta) in deltas.iter().enumerate() {
        let per_point: Vec<Sensitivity> = (0..train.n)
            .into_par_iter()
            .map(|i| {
                let mut rng = SplitMix64::derive(
                    probes.seed,
                    0x5345_0000_0000_0000 ^ ((t as u64) << 32) ^ i as u64,
                );
                probe::probe_sensitivity(model, train.x_row(i), delta, probes, &mut rng)
            })
            .collect();
        let mut at = Sensitivity {
            random: 0.0,
            input_gradient: 0.0,
            ascent: 0.0,
        };
        for (i, s) in per_point.iter().enumerate() {
            at.random = at.random.max(s.random);
            at.input_gradient = at.input_gradient.max(s.input_gradient);
            at.ascent = at.ascent.max(s.ascent);
            let (v, kind) = s.max();
            if v > best.0 {
                best = (v, kind, i);
            }
        }
        sensitivity.push(SensitivityRow {
            delta,
            at_radius: at,
            measured: best.0,
            found_by: best.1,
            point: best.2,
        });
        progress.advance(1, "sensitivity");
    }
    sensitivity
}

/// What every order's bounds share.
struct BoundContext<'a> {
    n: usize,
    d: usize,
    w: usize,
    m: usize,
    lr: f64,
    batch: usize,
    w1t: &'a [f64],
    train: &'a Dataset,
    cover_rows: &'a [CoverRow],
    per_radius_c: &'a [Vec<f64>],
    sensitivity: &'a [SensitivityRow],
    m1: &'a M1,
    m2: &'a M2,
    measured: &'a Measured,
    eq26_small_delta_limit: f64,
}

/// Step 7: eqs. (26) and (27) for order `k` (the `o`-th) over the grid, with the findings where a
/// measured value exceeds its bound while order `k` is stable.
fn order_bounds(
    c: &BoundContext,
    o: usize,
    k: usize,
    verdict: Option<Verdict>,
) -> Result<(OrderBounds, Vec<GeneralizationFinding>)> {
    let (n, d, m) = (c.n, c.d, c.m);
    let norm = bracket(c.w1t, d, m, 2.0 * k as f64);
    let min_x_2k = (0..n)
        .map(|i| crate::engine::bounds::norm_2k(c.train.x_row(i), k))
        .fold(f64::INFINITY, f64::min);
    let s_k = stability_factor(n, c.w, k, c.lr, c.batch);
    let lipschitz = (d as f64).sqrt() * norm.upper * (s_k + 1.0) / min_x_2k;
    let mut c_ratio = 0.0f64;
    let rows: Vec<BoundRow> = c
        .cover_rows
        .iter()
        .enumerate()
        .map(|(t, cr)| {
            let at_radius = c.per_radius_c[t][o];
            c_ratio = c_ratio.max(at_radius);
            let cc = c_ratio.max(1.0);
            let delta = cr.delta;
            let smoothness_term = 2.0 * d as f64 * cc * cc * norm.upper * norm.upper
                / (min_x_2k * min_x_2k)
                * (s_k + 1.0)
                * (s_k + 1.0)
                * delta
                * delta;
            let target_term = 2.0 * c.m2.value * c.m2.value * delta * delta;
            let uncovered_term = 4.0 * c.m1.value * c.m1.value * cr.eps2;
            let bound = cc * lipschitz * delta;
            let measured = c.sensitivity[t].measured;
            BoundRow {
                delta,
                delta_approx: cr.delta_approx,
                c_ratio_at_radius: at_radius,
                c_ratio,
                c: cc,
                eq26: Eq26 {
                    smoothness_term,
                    target_term,
                    uncovered_term,
                    total: smoothness_term + target_term + uncovered_term,
                },
                eq27: Eq27 {
                    bound,
                    measured,
                    ratio: if bound > 0.0 { measured / bound } else { 0.0 },
                    c_needed: if lipschitz * delta > 0.0 {
                        measured / (lipschitz * delta)
                    } else {
                        0.0
                    },
                },
            }
        })
        .collect();
    if let Some(r) = rows
        .iter()
        .find(|r| !(r.eq26.total.is_finite() && r.eq27.bound.is_finite()))
    {
        return Err(Error::parameter(
            Param::Deltas,
            format!("{:e}", r.delta),
            format!("the bounds of order {k} overflow at this radius; give smaller radii"),
        ));
    }
    let min_row = rows
        .iter()
        .min_by(|a, b| a.eq26.total.total_cmp(&b.eq26.total))
        .ok_or_else(|| bad("deltas", "no radius".into()))?;
    let test_mse = c.measured.test_mse;
    let infimum = min_row.eq26.total.min(c.eq26_small_delta_limit);
    let eq26_min = Eq26Minimum {
        delta: min_row.delta,
        total: min_row.eq26.total,
        test_mse_over_bound: if min_row.eq26.total > 0.0 {
            test_mse / min_row.eq26.total
        } else {
            0.0
        },
        infimum_over_delta: infimum,
        below_target_variance: infimum < c.measured.test_target_variance,
    };
    let eq27_max_ratio = rows.iter().map(|r| r.eq27.ratio).fold(0.0, f64::max);
    let mut findings = Vec::new();
    if verdict == Some(Verdict::Stable) {
        if let Some(r) = rows
            .iter()
            .filter(|r| r.eq27.measured > r.eq27.bound * (1.0 + RELATIVE_SLACK))
            .max_by(|a, b| a.eq27.ratio.total_cmp(&b.eq27.ratio))
        {
            findings.push(GeneralizationFinding {
                check: GeneralizationCheck::Eq27,
                k,
                message: format!(
                    "order {k} is stable but the measured sensitivity exceeds eq. (27) with the estimated C: at δ = {:.6e}, |f(x) − f(x_i)| = {:.6e} > {:.6e} (C = {:.6e}; C needed {:.6e})",
                    r.delta, r.eq27.measured, r.eq27.bound, r.c, r.eq27.c_needed
                ),
            });
        }
        if test_mse > eq26_min.total * (1.0 + RELATIVE_SLACK) {
            findings.push(GeneralizationFinding {
                check: GeneralizationCheck::Eq26,
                k,
                message: format!(
                    "order {k} is stable but the test error {:.6e} exceeds the smallest eq. (26) bound {:.6e} (at δ = {:.6e}) with the estimated constants",
                    test_mse, eq26_min.total, eq26_min.delta
                ),
            });
        }
    }
    Ok((
        OrderBounds {
            k,
            premise_verdict: verdict,
            stability_factor: s_k,
            w1t_norm: norm,
            min_x_norm_2k: min_x_2k,
            lipschitz_factor: lipschitz,
            rows,
            eq26_min,
            eq27_max_ratio,
        },
        findings,
    ))
}

/// Evaluates eqs. (26) and (27) with every quantity they need (see the module docs), in the
/// steps named above. `premise(k)` is the analyzer's verdict for order `k` at `(lr, batch)` when
/// known.
pub fn generalization<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    opts: &GeneralizationOptions,
    premise: &dyn Fn(usize) -> Option<Verdict>,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<GeneralizationReport> {
    let ck = check_input(inp, opts)?;
    let (train, test) = (inp.train, inp.test);
    let (n, d, m) = (train.n, train.d, ck.m);
    let w1_norm = spectral_norm(&ck.w1, m, d);
    let (measured, m1) = measure(inp);
    let m2 = m2_of(inp);

    let nearest = covering::nearest_distances(&test.x, &train.x, d);
    let deltas = radii(&opts.deltas, &nearest)?;
    progress.begin("generalization", 1 + 2 * deltas.len() as u64);
    let covering = covering_section(train, test, &nearest, &deltas, w1_norm, ck.min_x_2);
    progress.advance(1, "covering");
    let probes = opts.probes;
    let per_radius_c = local_smoothness(inp, &covering.rows, &ck.orders, &probes, progress);
    let sensitivity = sensitivity_rows(inp, &deltas, &probes, progress);
    progress.end();

    let w1t = transpose(&ck.w1, m, d);
    let eq26_small_delta_limit =
        4.0 * m1.value * m1.value * covering::uncovered_fraction(&nearest, 0.0);
    let ctx = BoundContext {
        n,
        d,
        w: ck.w,
        m,
        lr: inp.lr,
        batch: inp.batch,
        w1t: &w1t,
        train,
        cover_rows: &covering.rows,
        per_radius_c: &per_radius_c,
        sensitivity: &sensitivity,
        m1: &m1,
        m2: &m2,
        measured: &measured,
        eq26_small_delta_limit,
    };
    let mut findings = Vec::new();
    let mut out = Vec::with_capacity(ck.orders.len());
    for (o, &k) in ck.orders.iter().enumerate() {
        let (bounds, mut f) = order_bounds(&ctx, o, k, premise(k))?;
        findings.append(&mut f);
        out.push(bounds);
    }
    Ok(GeneralizationReport {
        schema_version: GENERALIZATION_SCHEMA_VERSION,
        command: "generalization",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        dataset: train.name.clone(),
        test_set: test.name.clone(),
        n,
        n_test: test.n,
        d,
        w: ck.w,
        m,
        lr: inp.lr,
        batch: inp.batch,
        w1_spectral_norm: w1_norm,
        min_x_norm_2: ck.min_x_2,
        measured,
        m1,
        m2,
        eq26_small_delta_limit,
        probes,
        covering,
        sensitivity,
        orders: out,
        ok: findings.is_empty(),
        findings,
    })
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// The report as text: the estimated quantities, the covering table, and per order the eq. (26)
/// terms and eq. (27) next to the measurements.
pub fn text(r: &GeneralizationReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let name = |v: &dyn erased::Name| v.name();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab generalization{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "  training: {}", r.dataset);
    let _ = writeln!(s, "  test:     {}", r.test_set);
    let _ = writeln!(
        s,
        "  n = {}, n_test = {}, d = {}, w = {}, W_1 is {} × {}; training η = {}, B = {}",
        r.n, r.n_test, r.d, r.w, r.m, r.d, r.lr, r.batch
    );
    let _ = writeln!(
        s,
        "  measured: test MSE = {} (test target variance {}), largest training residual {}",
        num(r.measured.test_mse),
        num(r.measured.test_target_variance),
        num(r.measured.train_residual_max)
    );
    let _ = writeln!(
        s,
        "  ‖W_1‖_2 = {}, min_i ‖x_i‖_2 = {}; M₁ = {} (max |f| {}, max |y| {} on train ∪ test: an estimate)",
        num(r.w1_spectral_norm),
        num(r.min_x_norm_2),
        num(r.m1.value),
        num(r.m1.network_max_abs),
        num(r.m1.target_max_abs)
    );
    let _ = writeln!(
        s,
        "  M₂ = {} ({}: {})",
        num(r.m2.value),
        name(&r.m2.source),
        r.m2.how
    );
    let _ = writeln!(
        s,
        "  probes: {} random directions, {} ascent steps per point and radius (seed {}); C, K and the sensitivity are LOWER estimates",
        r.probes.random_directions, r.probes.ascent_steps, r.probes.seed
    );
    let c = &r.covering;
    let _ = writeln!(
        s,
        "\ncovering (Def. 2/4) and scattering (Def. 3): test-to-training distance min {}, median {}, max {}; K over {} points ({})",
        num(c.nearest_distance_min),
        num(c.nearest_distance_median),
        num(c.nearest_distance_max),
        c.evaluation_points,
        name(&c.midpoints)
    );
    let _ = writeln!(
        s,
        "  {:>12} {:>8} {:>5} {:>12} {:>12} {:>14}",
        "δ", "ε₂", "K", "δ_approx", "sensitivity", "found by"
    );
    for (row, sens) in c.rows.iter().zip(&r.sensitivity) {
        let _ = writeln!(
            s,
            "  {:>12} {:>8.4} {:>5} {:>12} {:>12} {:>14}",
            num(row.delta),
            row.eps2,
            row.k_estimate,
            num(row.delta_approx),
            num(sens.measured),
            name(&sens.found_by)
        );
    }
    for o in &r.orders {
        let b = &o.w1t_norm;
        let _ = writeln!(
            s,
            "\nk = {}: premise (order-{} stability at η, B): {}; S_k = (2nw/B)^(1/2k)·sqrt(2B/η) = {}; ‖W_1ᵀ‖_{} ∈ [{}, {}] (bounds use the upper end); min_i ‖x_i‖_{} = {}",
            o.k,
            o.k,
            o.premise_verdict.map_or("not checked".to_string(), |v| v.name().to_string()),
            num(o.stability_factor),
            2 * o.k,
            num(b.lower),
            num(b.upper),
            2 * o.k,
            num(o.min_x_norm_2k)
        );
        let _ = writeln!(
            s,
            "  {:>12} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}",
            "δ",
            "C",
            "smoothness",
            "target",
            "uncovered",
            "eq26 total",
            "eq27 bound",
            "measured",
            "ratio"
        );
        for row in &o.rows {
            let _ = writeln!(
                s,
                "  {:>12} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}",
                num(row.delta),
                num(row.c),
                num(row.eq26.smoothness_term),
                num(row.eq26.target_term),
                num(row.eq26.uncovered_term),
                num(row.eq26.total),
                num(row.eq27.bound),
                num(row.eq27.measured),
                num(row.eq27.ratio)
            );
        }
        let _ = writeln!(
            s,
            "  eq. (26): smallest bound {} at δ = {} against the measured test MSE {} (ratio {}); the δ → 0 limit is 4M₁²ε₂(0+) = {}, so inf over δ <= {}: {} the test target variance {}",
            num(o.eq26_min.total),
            num(o.eq26_min.delta),
            num(r.measured.test_mse),
            num(o.eq26_min.test_mse_over_bound),
            num(r.eq26_small_delta_limit),
            num(o.eq26_min.infimum_over_delta),
            if o.eq26_min.below_target_variance {
                "below"
            } else {
                "NOT below (uninformative)"
            },
            num(r.measured.test_target_variance)
        );
        let _ = writeln!(
            s,
            "  eq. (27): largest measured/bound ratio {}",
            num(o.eq27_max_ratio)
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(
            s,
            "\nno finding: no measured value exceeds its bound where the premise holds"
        );
    } else {
        let _ = writeln!(s, "\nFINDINGS:");
        for f in &r.findings {
            let _ = writeln!(s, "  [{}] {}", f.check, f.message);
        }
    }
    s
}

mod erased {
    /// The serde (kebab-case) name of a unit enum value.
    pub trait Name {
        fn name(&self) -> String;
    }
    impl<T: serde::Serialize> Name for T {
        fn name(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        }
    }
}
