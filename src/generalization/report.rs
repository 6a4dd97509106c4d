//! The `generalization` report: one `Serialize` struct per part (`schema_version`
//! [`GENERALIZATION_SCHEMA_VERSION`](super::GENERALIZATION_SCHEMA_VERSION)).

use super::covering::MidpointSet;
use super::probe::{ProbeKind, ProbeOptions, Sensitivity};
use crate::engine::stability::Verdict;
use crate::networks::matrix_norm::PNormBracket;
use serde::Serialize;

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
    /// The largest changes found at exactly this radius, per probe kind (max over `i`); `null`
    /// for recorded points.
    pub at_radius: Option<Sensitivity>,
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
    /// The measured sensitivity (from [`SensitivityRow::measured`]; `null` when not measured).
    pub measured: Option<f64>,
    /// `measured / bound`.
    pub ratio: Option<f64>,
    /// The `C` at which the bound would equal the measured value.
    pub c_needed: Option<f64>,
}

/// One radius of one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundRow {
    /// `δ`.
    pub delta: f64,
    /// `δ_approx`.
    pub delta_approx: f64,
    /// The largest sampled ratio of Definition 1 at exactly this `δ_approx` (`null` when the
    /// model was not probed).
    pub c_ratio_at_radius: Option<f64>,
    /// The largest sampled ratio at all radii `<= δ_approx` (a lower estimate of the smallest
    /// valid `C`; `null` when not probed).
    pub c_ratio: Option<f64>,
    /// `C = max(1, c_ratio)` (1 when not probed), the value used in the bounds.
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
    /// The largest eq. (27) `measured / bound` over the grid (`null` when not measured).
    pub eq27_max_ratio: Option<f64>,
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

/// The `generalization` report (`schema_version` [`GENERALIZATION_SCHEMA_VERSION`](super::GENERALIZATION_SCHEMA_VERSION)).
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
    /// Where the model's values came from, and what could not be computed without it.
    pub model_side: ModelSide,
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

/// How the model entered the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A model evaluated and probed (sgdstab's own network).
    Model,
    /// Values recorded in a network bundle (any framework): outputs on training and test
    /// points, and outputs at perturbed points when given.
    Recorded,
}

/// The model side of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSide {
    /// Model or recorded values.
    pub kind: ModelKind,
    /// The numbers that could not be computed, each with why (empty for a model).
    pub not_computed: Vec<String>,
}
