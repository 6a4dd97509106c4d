//! Section 4 of the paper on a trained network: Prop. 2 at every training point, the Sobolev
//! seminorm bounds of Corollary 2 and Theorem 3, and `g_W`, `g_x` of eq. (5).
//!
//! Inputs (all at the same parameters `W`): the inputs `x_i` (`n × d`), the input gradients
//! `∇_x f(x_i, W)` (`n × d`), the parameter gradients `a_i = ∇_W f(x_i, W)` (`n × w`) and the
//! first-layer matrix `W_1` (`m × d`). With `p = 2k`:
//!
//! - Prop. 2 (eq. 20), per point: `‖∇_x f(x_i)‖_p^p <= ‖W_1ᵀ‖_p^p / ‖x_i‖_p^p · ‖a_i‖_p^p`.
//! - Seminorm on the training set (Section 2): `|f|_{1,p,{x_i}} = ((1/n) Σ_i ‖∇_x f(x_i)‖_p^p)^{1/p}`.
//! - Corollary 2 (eq. 21): `|f|_{1,p} <= ‖W_1ᵀ‖_p / min_i ‖x_i‖_p · ((1/n) Σ_i ‖a_i‖_p^p)^{1/p}`.
//! - Theorem 3 (eq. 22), if `W` is `k`-th order linearly stable for SGD with `(η, B)`:
//!   `|f|_{1,p} <= ‖W_1ᵀ‖_p / min_i ‖x_i‖_p · (w/B)^{1/p} sqrt(2B/η)`.
//! - eq. (5): `g_W = ((1/n) Σ ‖a_i‖_2²)^{1/2}`, `g_x = ((1/n) Σ ‖∇_x f(x_i)‖_2²)^{1/2}`.
//!
//! # Which bracket of `‖W_1ᵀ‖_p` a check uses
//!
//! `‖W_1ᵀ‖_p` is exact for `p = 2` (spectral norm) and otherwise bracketed,
//! `lower <= ‖W_1ᵀ‖_p <= upper` ([`crate::networks::matrix_norm::bracket`]). Every inequality
//! `L <= c ‖W_1ᵀ‖_p` (`c >= 0`) is decided as:
//!
//! - **holds**, by the lower bracket: `L <= c · lower` (then it holds for the true norm);
//! - **fails**, by the upper bracket: `L > c · upper` (then it fails for the true norm);
//! - **undecided** otherwise (the bracket is too wide to tell).
//!
//! The reported bound values (`rhs_upper`) use the upper bracket, so they are valid upper bounds
//! on the right-hand side. Comparisons allow a relative [`RELATIVE_SLACK`] for rounding.

use crate::engine::bounds::norm_2k;
use crate::engine::gradients::Gradients;
use crate::engine::stability::Verdict;
use crate::error::{Error, Result};
use crate::networks::matrix_norm::{bracket, spectral_norm, transpose, PNormBracket};
use serde::Serialize;

mod text;
pub use text::text;

/// Version of the `sobolev` JSON schema (2: `first_layer`, `sampling`; `m`,
/// `w1_spectral_norm` and the per-order checks are `null` where the first layer is not dense).
pub const SOBOLEV_SCHEMA_VERSION: u32 = 2;

/// Relative slack of every comparison (rounding in the norms).
pub const RELATIVE_SLACK: f64 = 1e-12;

/// The outcome of one inequality check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Holds for the true norm (decided with the lower bracket).
    Holds,
    /// Fails for the true norm (decided with the upper bracket).
    Fails,
    /// The bracket is too wide to decide.
    Undecided,
}

/// Which end of the bracket decided a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    /// `L <= c · lower`.
    LowerBracket,
    /// `L > c · upper`.
    UpperBracket,
    /// Neither.
    Undecided,
}

/// `L <= c ‖W_1ᵀ‖_p`, decided against the bracket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The left-hand side `L`.
    pub lhs: f64,
    /// `c · lower`.
    pub rhs_lower: f64,
    /// `c · upper`: a valid upper bound on the right-hand side.
    pub rhs_upper: f64,
    /// `lhs / rhs_upper` (<= 1 when the bound holds).
    pub ratio: f64,
    /// Outcome.
    pub outcome: Outcome,
    /// Which bracket decided it.
    pub decided_by: DecidedBy,
}

impl Check {
    /// Decides `lhs <= c · N` with `N ∈ [lower, upper]`; `power` raises `N` (Prop. 2 uses `N^p`).
    pub fn decide(lhs: f64, c: f64, norm: &PNormBracket, power: f64) -> Self {
        let rhs_lower = c * norm.lower.powf(power);
        let rhs_upper = c * norm.upper.powf(power);
        let (outcome, decided_by) = if lhs <= rhs_lower * (1.0 + RELATIVE_SLACK) {
            (Outcome::Holds, DecidedBy::LowerBracket)
        } else if lhs > rhs_upper * (1.0 + RELATIVE_SLACK) {
            (Outcome::Fails, DecidedBy::UpperBracket)
        } else {
            (Outcome::Undecided, DecidedBy::Undecided)
        };
        Check {
            lhs,
            rhs_lower,
            rhs_upper,
            ratio: if rhs_upper > 0.0 {
                lhs / rhs_upper
            } else if lhs == 0.0 {
                0.0
            } else {
                f64::MAX
            },
            outcome,
            decided_by,
        }
    }
}

/// Prop. 2 at one training point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointCheck {
    /// Sample index (0-based).
    pub i: usize,
    /// `‖x_i‖_p`.
    pub x_norm: f64,
    /// `‖∇_W f(x_i)‖_p`.
    pub param_grad_norm: f64,
    /// `L = ‖∇_x f(x_i)‖_p^p` against `‖W_1ᵀ‖_p^p ‖a_i‖_p^p / ‖x_i‖_p^p`.
    pub check: Check,
}

/// Prop. 2 over the training set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prop2 {
    /// Points where it holds (by the lower bracket).
    pub holds: usize,
    /// Points where it certainly fails (a bug: Prop. 2 is an identity-based bound).
    pub fails: usize,
    /// Points the bracket cannot decide.
    pub undecided: usize,
    /// The largest `ratio` over the points.
    pub max_ratio: f64,
    /// Every point.
    pub points: Vec<PointCheck>,
}

/// Theorem 3 (needs `k`-th order stability at the training `(η, B)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theorem3 {
    /// The analyzer's Theorem 1 verdict for order `k` at `(η, B)`, when computed.
    pub premise_verdict: Option<Verdict>,
    /// `(w/B)^{1/p} sqrt(2B/η)` (Corollary 1's right-hand side).
    pub stability_factor: f64,
    /// The check.
    pub check: Check,
}

/// All Section 4 quantities for one order `k`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SobolevOrder {
    /// The order.
    pub k: usize,
    /// `p = 2k`.
    pub p: usize,
    /// `‖W_1ᵀ‖_p` bracket (`null` unless the first layer is dense).
    pub w1t_norm: Option<PNormBracket>,
    /// `min_i ‖x_i‖_p`.
    pub min_x_norm: f64,
    /// `|f|_{1,p,{x_i}}`.
    pub seminorm: f64,
    /// `((1/n) Σ ‖a_i‖_p^p)^{1/p}`.
    pub param_moment: f64,
    /// Prop. 2 per point (`null` unless the first layer is dense).
    pub prop2: Option<Prop2>,
    /// Corollary 2 (`null` unless the first layer is dense).
    pub corollary2: Option<Check>,
    /// Theorem 3 (`null` unless the first layer is dense).
    pub theorem3: Option<Theorem3>,
}

/// `lower <= ‖W_1‖_2 <= upper` for the first layer as a linear map of `x`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorNorm {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// How the lower bound was obtained (`svd` for a matrix; see [`crate::networks::conv`]).
    pub lower_method: String,
    /// How the upper bound was obtained.
    pub upper_method: String,
}

/// Whether Prop. 2, Corollary 2 and Theorem 3 apply to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// The first layer is dense: `f(x, W) = f̃(W_1 x, W_2)` (eq. 6).
    Applicable,
    /// The first layer is not dense (see `reason`).
    NotApplicable,
}

/// What the model's first layer is, and what Section 4 can say about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstLayerReport {
    /// `dense`, `conv2d` or `other`.
    pub kind: &'static str,
    /// The parameter's name in the gradients' column layout, when known.
    pub name: Option<String>,
    /// The parameter's shape, when known.
    pub shape: Option<Vec<usize>>,
    /// `‖W_1‖_2` as a linear map of `x` (a matrix's spectral norm; a convolution's operator
    /// norm), when the layer is known.
    pub operator_norm: Option<OperatorNorm>,
    /// Whether Prop. 2, Corollary 2 and Theorem 3 are evaluated.
    pub section4: Applicability,
    /// Why not, when they are not.
    pub reason: Option<String>,
}

/// Why Prop. 2, Corollary 2 and Theorem 3 are not evaluated for a convolutional first layer.
pub const CONV_NOT_APPLICABLE: &str = "Prop. 2 (and Corollary 2, Theorem 3 built on it) needs ∇_{W_1} f = (∇_z f̃) xᵀ, so that ‖∇_{W_1} f‖_p = ‖∇_z f̃‖_p ‖x‖_p; a convolution shares its kernel over positions, its gradient Σ_s (∇_z f̃)_s ⊗ patch_s(x) can be small while ∇_x f = Cᵀ∇_z f̃ is not, and the inequality can fail (a 1×1 kernel k on two pixels, f = v·(k x) with v ⊥ x: ‖∇_x f‖² = k²‖v‖² > k⁴ = ‖C‖² ‖∇_W f‖²/‖x‖² when |v| > |k|); g_W, g_x and the operator norm are reported";

/// The Section 4 checks whose failure is a finding (serialized under their report names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum SobolevCheck {
    /// Prop. 2 (an identity-based bound, so a failure is a bug): `prop2`.
    #[serde(rename = "prop2")]
    Prop2,
    /// Corollary 2: `corollary2`.
    #[serde(rename = "corollary2")]
    Corollary2,
    /// k-th order stable ⇒ Theorem 3: `stable=>theorem3`.
    #[serde(rename = "stable=>theorem3")]
    StableImpliesTheorem3,
}

impl SobolevCheck {
    /// The name used in reports: `prop2`, `corollary2` or `stable=>theorem3`.
    pub fn name(self) -> &'static str {
        match self {
            SobolevCheck::Prop2 => "prop2",
            SobolevCheck::Corollary2 => "corollary2",
            SobolevCheck::StableImpliesTheorem3 => "stable=>theorem3",
        }
    }
}

impl std::fmt::Display for SobolevCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed implication (a counterexample to the paper or a bug), with the numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SobolevFinding {
    /// Which implication failed.
    pub check: SobolevCheck,
    /// The order.
    pub k: usize,
    /// What failed.
    pub message: String,
}

/// The `sobolev` report (`schema_version` [`SOBOLEV_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SobolevReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"sobolev"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// Where the data came from.
    pub input: Option<String>,
    /// Samples.
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// Parameters.
    pub w: usize,
    /// Rows of `W_1` (`null` unless the first layer is dense).
    pub m: Option<usize>,
    /// The first layer.
    pub first_layer: FirstLayerReport,
    /// Learning rate of training.
    pub lr: f64,
    /// Batch size of training.
    pub batch: usize,
    /// Batch sampling of training (the premise's).
    pub sampling: crate::Sampling,
    /// `g_W` of eq. (5).
    pub g_w: f64,
    /// `g_x` of eq. (5).
    pub g_x: f64,
    /// `‖W_1‖_2` (`null` unless the first layer is dense; see `first_layer.operator_norm`).
    pub w1_spectral_norm: Option<f64>,
    /// One entry per order.
    pub orders: Vec<SobolevOrder>,
    /// No finding.
    pub ok: bool,
    /// Failed checks.
    pub findings: Vec<SobolevFinding>,
}

/// The inputs of [`sobolev`].
#[derive(Debug, Clone, Copy)]
pub struct SobolevInput<'a> {
    /// `x_i`, `n × d` row-major.
    pub x: &'a [f64],
    /// `∇_x f(x_i)`, `n × d` row-major.
    pub xgrads: &'a [f64],
    /// `a_i = ∇_W f(x_i)`.
    pub grads: &'a Gradients,
    /// `W_1`, `m × d` row-major.
    pub w1: &'a [f64],
    /// `d`.
    pub d: usize,
    /// `m`.
    pub m: usize,
}

/// `g_W` and `g_x` of eq. (5) from `n × w` and `n × d` row-major gradients.
pub fn g_values(grads: &[f64], xgrads: &[f64], n: usize) -> (f64, f64) {
    let gw = (grads.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let gx = (xgrads.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    (gw, gx)
}

/// Evaluates Section 4 for every order in `orders` on a dense first layer; `premise(k)` gives
/// the analyzer's verdict for order `k` at `(lr, batch)` when known (batches without
/// replacement).
pub fn sobolev(
    inp: &SobolevInput<'_>,
    orders: &[usize],
    lr: f64,
    batch: usize,
    premise: &dyn Fn(usize) -> Option<Verdict>,
    input: Option<String>,
) -> Result<SobolevReport> {
    let (m, d) = (inp.m, inp.d);
    if inp.w1.len() != m * d {
        return Err(Error::InvalidInput {
            context: "w1".into(),
            message: format!("{} values, expected {}", inp.w1.len(), m * d),
        });
    }
    let sigma = spectral_norm(inp.w1, m, d);
    let first_layer = FirstLayerReport {
        kind: "dense",
        name: None,
        shape: Some(vec![m, d]),
        operator_norm: Some(OperatorNorm {
            lower: sigma,
            upper: sigma,
            lower_method: "svd".into(),
            upper_method: "svd".into(),
        }),
        section4: Applicability::Applicable,
        reason: None,
    };
    let point = TrainingPoint {
        lr,
        batch,
        sampling: crate::Sampling::WithoutReplacement,
    };
    evaluate(
        inp,
        Some((inp.w1, m)),
        first_layer,
        orders,
        point,
        premise,
        input,
    )
}

/// The training point of Theorem 3's premise: `η`, `B` and how batches are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPoint {
    /// Learning rate `η`.
    pub lr: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Batch sampling.
    pub sampling: crate::Sampling,
}

/// Evaluates Section 4 for every order: `g_W`, `g_x`, the seminorms always; Prop. 2,
/// Corollary 2 and Theorem 3 when `dense` gives `W_1` (`m × d` row-major, and `m`), else reported
/// as not applicable with `first_layer.reason`. `inp.w1` and `inp.m` are ignored.
pub fn evaluate(
    inp: &SobolevInput<'_>,
    dense: Option<(&[f64], usize)>,
    first_layer: FirstLayerReport,
    orders: &[usize],
    point: TrainingPoint,
    premise: &dyn Fn(usize) -> Option<Verdict>,
    input: Option<String>,
) -> Result<SobolevReport> {
    let TrainingPoint {
        lr,
        batch,
        sampling,
    } = point;
    crate::engine::analysis::check_lr(lr)?;
    crate::engine::analysis::check_orders(orders)?;
    let (n, w, d) = (inp.grads.n(), inp.grads.w(), inp.d);
    crate::engine::sampling::BatchModel::new(n, batch, sampling)?;
    let shape_err = |what: &str, got: usize, want: usize| Error::InvalidInput {
        context: what.to_string(),
        message: format!("{got} values, expected {want}"),
    };
    if inp.x.len() != n * d {
        return Err(shape_err("x", inp.x.len(), n * d));
    }
    if inp.xgrads.len() != n * d {
        return Err(shape_err("xgrads", inp.xgrads.len(), n * d));
    }
    if let Some((w1, m)) = dense {
        if w1.len() != m * d {
            return Err(shape_err("w1", w1.len(), m * d));
        }
        if m * d > w {
            return Err(Error::InvalidInput {
                context: "w1".into(),
                message: format!(
                    "W_1 has {} entries but there are only w = {w} parameters",
                    m * d
                ),
            });
        }
        for i in 0..n {
            if inp.x[i * d..(i + 1) * d].iter().all(|&v| v == 0.0) {
                return Err(Error::InvalidInput {
                    context: "x".into(),
                    message: format!("x_{i} = 0: Prop. 2 needs every training input non-zero"),
                });
            }
        }
    }
    let (g_w, g_x) = g_values(inp.grads.as_slice(), inp.xgrads, n);
    let w1t = dense.map(|(w1, m)| (transpose(w1, m, d), m)); // d × m
    let mut findings = Vec::new();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for &k in orders {
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        let p = 2 * k;
        let pf = p as f64;
        let x_norms: Vec<f64> = (0..n)
            .map(|i| norm_2k(&inp.x[i * d..(i + 1) * d], k))
            .collect();
        let a_norms: Vec<f64> = (0..n).map(|i| norm_2k(inp.grads.row(i), k)).collect();
        let xg_norms: Vec<f64> = (0..n)
            .map(|i| norm_2k(&inp.xgrads[i * d..(i + 1) * d], k))
            .collect();
        let min_x = x_norms.iter().copied().fold(f64::INFINITY, f64::min);
        let seminorm = (xg_norms.iter().map(|v| v.powf(pf)).sum::<f64>() / n as f64).powf(1.0 / pf);
        let param_moment =
            (a_norms.iter().map(|v| v.powf(pf)).sum::<f64>() / n as f64).powf(1.0 / pf);
        let Some((w1t, m)) = &w1t else {
            out.push(SobolevOrder {
                k,
                p,
                w1t_norm: None,
                min_x_norm: min_x,
                seminorm,
                param_moment,
                prop2: None,
                corollary2: None,
                theorem3: None,
            });
            continue;
        };
        let norm = bracket(w1t, d, *m, pf);
        let points: Vec<PointCheck> = (0..n)
            .map(|i| {
                let c = (a_norms[i] / x_norms[i]).powf(pf);
                PointCheck {
                    i,
                    x_norm: x_norms[i],
                    param_grad_norm: a_norms[i],
                    check: Check::decide(xg_norms[i].powf(pf), c, &norm, pf),
                }
            })
            .collect();
        let count = |o: Outcome| points.iter().filter(|q| q.check.outcome == o).count();
        let prop2 = Prop2 {
            holds: count(Outcome::Holds),
            fails: count(Outcome::Fails),
            undecided: count(Outcome::Undecided),
            max_ratio: points.iter().map(|q| q.check.ratio).fold(0.0, f64::max),
            points,
        };
        if prop2.fails > 0 {
            let worst = prop2
                .points
                .iter()
                .filter(|q| q.check.outcome == Outcome::Fails)
                .max_by(|a, b| a.check.ratio.total_cmp(&b.check.ratio))
                .map(|q| (q.i, q.check.lhs, q.check.rhs_upper));
            if let Some((i, l, r)) = worst {
                findings.push(SobolevFinding {
                    check: SobolevCheck::Prop2,
                    k,
                    message: format!(
                        "Prop. 2 fails at {} point(s); worst x_{i}: ‖∇_x f‖_{p}^{p} = {l:.17e} > {r:.17e} (upper bracket): an identity-based bound, so a bug",
                        prop2.fails
                    ),
                });
            }
        }
        let corollary2 = Check::decide(seminorm, param_moment / min_x, &norm, 1.0);
        if corollary2.outcome == Outcome::Fails {
            findings.push(SobolevFinding {
                check: SobolevCheck::Corollary2,
                k,
                message: format!(
                    "Corollary 2 fails: |f|_(1,{p}) = {:.17e} > {:.17e} (upper bracket)",
                    corollary2.lhs, corollary2.rhs_upper
                ),
            });
        }
        let factor = crate::engine::bounds::corollary1_bound(w, k, lr, batch);
        let t3 = Check::decide(seminorm, factor / min_x, &norm, 1.0);
        let verdict = premise(k);
        if verdict == Some(Verdict::Stable) && t3.outcome == Outcome::Fails {
            findings.push(SobolevFinding {
                check: SobolevCheck::StableImpliesTheorem3,
                k,
                message: format!(
                    "order {k} is stable but Theorem 3 fails: |f|_(1,{p}) = {:.17e} > {:.17e} (upper bracket)",
                    t3.lhs, t3.rhs_upper
                ),
            });
        }
        out.push(SobolevOrder {
            k,
            p,
            w1t_norm: Some(norm),
            min_x_norm: min_x,
            seminorm,
            param_moment,
            prop2: Some(prop2),
            corollary2: Some(corollary2),
            theorem3: Some(Theorem3 {
                premise_verdict: verdict,
                stability_factor: factor,
                check: t3,
            }),
        });
    }
    let w1_spectral_norm = dense.map(|(w1, m)| spectral_norm(w1, m, d));
    Ok(SobolevReport {
        schema_version: SOBOLEV_SCHEMA_VERSION,
        command: "sobolev",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        n,
        d,
        w,
        m: dense.map(|(_, m)| m),
        first_layer,
        lr,
        batch,
        sampling,
        g_w,
        g_x,
        w1_spectral_norm,
        orders: out,
        ok: findings.is_empty(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f = 3·relu(2x + 0.5) − 1 at x = 1: ∇_W f = [3, 3, 2.5, 1], ∇_x f = 6, W_1 = [[2]].
    fn hand() -> (Vec<f64>, Vec<f64>, Gradients, Vec<f64>) {
        let g = Gradients::from_rows(&[vec![3.0, 3.0, 2.5, 1.0]]).unwrap();
        (vec![1.0], vec![6.0], g, vec![2.0])
    }

    #[test]
    fn hand_computed_prop2_and_corollary2() {
        let (x, xg, g, w1) = hand();
        let inp = SobolevInput {
            x: &x,
            xgrads: &xg,
            grads: &g,
            w1: &w1,
            d: 1,
            m: 1,
        };
        let premise = |k: usize| (k == 1).then_some(Verdict::Stable);
        let r = sobolev(&inp, &[1, 2], 0.5, 1, &premise, None).unwrap();
        // k = 1: lhs = 36, rhs = ‖W_1ᵀ‖² ‖a‖² / ‖x‖² = 4 · 25.25 = 101
        let o = &r.orders[0];
        assert_eq!(o.prop2.as_ref().unwrap().points[0].check.lhs, 36.0);
        assert!((o.prop2.as_ref().unwrap().points[0].check.rhs_upper - 101.0).abs() < 1e-12);
        assert_eq!(o.prop2.as_ref().unwrap().holds, 1);
        // seminorm = 6; Cor. 2 rhs = 2 · sqrt(25.25); g_W = sqrt(25.25), g_x = 6
        assert!((o.seminorm - 6.0).abs() < 1e-15);
        assert!((o.corollary2.as_ref().unwrap().rhs_upper - 2.0 * 25.25f64.sqrt()).abs() < 1e-12);
        assert!((r.g_w - 25.25f64.sqrt()).abs() < 1e-15 && r.g_x == 6.0);
        // Thm 3 rhs = 2 · (4/1)^{1/2} sqrt(2/0.5) = 8 ≥ 6: holds
        assert!((o.theorem3.as_ref().unwrap().check.rhs_upper - 8.0).abs() < 1e-12);
        assert_eq!(o.theorem3.as_ref().unwrap().check.outcome, Outcome::Holds);
        // k = 2 (p = 4): ‖W_1ᵀ‖_4 = 2 for a 1 × 1 matrix; lhs = 6^4, rhs = 16 · ‖a‖_4^4
        let o = &r.orders[1];
        assert!(
            (o.w1t_norm.as_ref().unwrap().lower - 2.0).abs() < 1e-12
                && (o.w1t_norm.as_ref().unwrap().upper - 2.0).abs() < 1e-12
        );
        let a4 = 81.0 + 81.0 + 2.5f64.powi(4) + 1.0;
        assert!((o.prop2.as_ref().unwrap().points[0].check.rhs_upper - 16.0 * a4).abs() < 1e-9);
        // Thm 3 at k = 2: 2 · 4^{1/4} · 2 = 5.657 < 6 = seminorm: it fails, but the premise
        // (2nd-order stability) is unknown here, so it is no finding
        assert!((o.theorem3.as_ref().unwrap().check.rhs_upper - 4.0 * 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(o.theorem3.as_ref().unwrap().check.outcome, Outcome::Fails);
        assert!(r.ok);
    }

    #[test]
    fn a_wrong_input_gradient_is_reported_as_a_failure() {
        // ∇_x f = 60 instead of 6 violates Prop. 2 (3600 > 101) and Theorem 3 (60 > 8)
        let (x, _, g, w1) = hand();
        let xg = vec![60.0];
        let inp = SobolevInput {
            x: &x,
            xgrads: &xg,
            grads: &g,
            w1: &w1,
            d: 1,
            m: 1,
        };
        let r = sobolev(&inp, &[1], 0.5, 1, &|_| Some(Verdict::Stable), None).unwrap();
        let o = &r.orders[0];
        assert_eq!(o.prop2.as_ref().unwrap().fails, 1);
        assert_eq!(
            o.prop2.as_ref().unwrap().points[0].check.decided_by,
            DecidedBy::UpperBracket
        );
        assert_eq!(o.theorem3.as_ref().unwrap().check.outcome, Outcome::Fails);
        assert!(!r.ok);
        let checks: Vec<&str> = r.findings.iter().map(|f| f.check.name()).collect();
        assert_eq!(checks, vec!["prop2", "corollary2", "stable=>theorem3"]);
        // without the stability premise Theorem 3's failure is no finding
        let r = sobolev(&inp, &[1], 0.5, 1, &|_| None, None).unwrap();
        assert_eq!(r.findings.len(), 2);
    }

    #[test]
    fn undecided_when_the_bracket_straddles() {
        let b = PNormBracket {
            p: 4.0,
            lower: 1.0,
            upper: 2.0,
            lower_method: crate::networks::matrix_norm::NormMethod::PowerMethod,
            upper_method: crate::networks::matrix_norm::NormMethod::RieszThorin1Inf,
            ratio: 2.0,
        };
        assert_eq!(Check::decide(1.5, 1.0, &b, 1.0).outcome, Outcome::Undecided);
        assert_eq!(
            Check::decide(0.5, 1.0, &b, 1.0).decided_by,
            DecidedBy::LowerBracket
        );
        assert_eq!(
            Check::decide(2.5, 1.0, &b, 1.0).decided_by,
            DecidedBy::UpperBracket
        );
        // with a power: 3 ≤ 1^2·4 holds, 17 > 2^2·4 fails
        assert_eq!(Check::decide(3.0, 4.0, &b, 2.0).outcome, Outcome::Holds);
        assert_eq!(Check::decide(17.0, 4.0, &b, 2.0).outcome, Outcome::Fails);
    }

    #[test]
    fn zero_input_and_shape_errors() {
        let (_, xg, g, w1) = hand();
        let zero = vec![0.0];
        let inp = SobolevInput {
            x: &zero,
            xgrads: &xg,
            grads: &g,
            w1: &w1,
            d: 1,
            m: 1,
        };
        assert!(sobolev(&inp, &[1], 0.5, 1, &|_| None, None).is_err());
        let x = vec![1.0, 2.0];
        let inp = SobolevInput {
            x: &x,
            xgrads: &xg,
            grads: &g,
            w1: &w1,
            d: 1,
            m: 1,
        };
        assert!(sobolev(&inp, &[1], 0.5, 1, &|_| None, None).is_err());
    }
}
