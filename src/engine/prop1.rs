//! Proposition 1 (Wu, Ma & E 2018, Thm. 1): the sufficient condition for 2nd-order stability
//!
//! ```text
//! q = λ_max( E[MᵀM] ) <= 1,    E[MᵀM] = (I − ηH)² + η² p Σ,
//! ```
//!
//! `H = (1/n) Σ H_i`, `Σ = (1/n) Σ H_i² − H²`, `p = (n − B)/(B(n − 1))` without replacement
//! (eq. 13) and `p = 1/B` with replacement.
//!
//! On the null space of `H` the matrix is exactly `I`, so when `r < w` the full-space `q` is at
//! least 1 because of flat directions; `q` is evaluated on the reduced coordinates and decided
//! there (DESIGN §6). It bounds the reduced `ρ_2`: for the Perron eigenvector `X ⪰ 0` of `T_2`,
//! `ρ_2 tr X = tr(E[MXM]) = tr(X E[M²]) <= q tr X`, so `ρ_2 <= q`.

use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::BatchModel;
use crate::engine::spectrum::{eigensolver_error_bound, symmetric_eigenvalues, EigenBackend};
use crate::error::Result;
use serde::Serialize;

/// The Prop. 1 evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prop1 {
    /// `q = λ_max(E[MᵀM])` on the reduced coordinates (1 when `r = 0`).
    pub value: f64,
    /// `q` on the full parameter space: `max(value, 1)` when `r < w` (flat directions), else `value`.
    pub value_full: f64,
    /// `value <= 1`: the sufficient condition holds, so order 2 is stable.
    pub stable: bool,
    /// The weight `p` of `Σ`.
    pub sigma_weight: f64,
    /// Rounding-error bound on `value`.
    pub error_bound: f64,
}

/// `E[MᵀM]` on the reduced coordinates (`r × r`, column-major).
pub fn second_moment_matrix(red: &SpanReduction, lr: f64, model: &BatchModel) -> Vec<f64> {
    second_moment_with_magnitude(red, lr, model).0
}

/// `E[MᵀM]` and the Frobenius norm of the entrywise sum of absolute values of its terms.
fn second_moment_with_magnitude(
    red: &SpanReduction,
    lr: f64,
    model: &BatchModel,
) -> (Vec<f64>, f64) {
    let (n, r) = (red.n, red.rank);
    let h = red.hessian();
    // Σ̄ = (1/n) Σ_i ‖b_i‖² b_i b_iᵀ
    let mut sbar = vec![0.0; r * r];
    for i in 0..n {
        let b = red.coord(i);
        let s2: f64 = b.iter().map(|x| x * x).sum::<f64>() / n as f64;
        for c in 0..r {
            let f = s2 * b[c];
            for (row, &bv) in b.iter().enumerate() {
                sbar[row + c * r] += f * bv;
            }
        }
    }
    let p = model.prop1_weight();
    // (I − ηH)² + η² p (Σ̄ − H²) = I − 2ηH + η²(1 − p) H² + η² p Σ̄
    let mut out = vec![0.0; r * r];
    let mut mag2 = 0.0;
    for c in 0..r {
        for row in 0..r {
            let (mut h2, mut h2abs) = (0.0, 0.0);
            for t in 0..r {
                h2 += h[(row, t)] * h[(t, c)];
                h2abs += (h[(row, t)] * h[(t, c)]).abs();
            }
            let id = if row == c { 1.0 } else { 0.0 };
            let sb = sbar[row + c * r];
            out[row + c * r] = id - 2.0 * lr * h[(row, c)] + lr * lr * ((1.0 - p) * h2 + p * sb);
            let mag =
                id + 2.0 * lr * h[(row, c)].abs() + lr * lr * ((1.0 - p) * h2abs + p * sb.abs());
            mag2 += mag * mag;
        }
    }
    (out, mag2.sqrt())
}

/// Evaluates Prop. 1 on the reduced problem.
pub fn prop1(
    red: &SpanReduction,
    lr: f64,
    model: &BatchModel,
    backend: EigenBackend,
) -> Result<Prop1> {
    let r = red.rank;
    let p = model.prop1_weight();
    if r == 0 {
        return Ok(Prop1 {
            value: 1.0,
            value_full: 1.0,
            stable: true,
            sigma_weight: p,
            error_bound: 0.0,
        });
    }
    let (e, magnitude) = second_moment_with_magnitude(red, lr, model);
    let vals = symmetric_eigenvalues(&e, r, backend)?;
    let value = *vals.last().unwrap_or(&1.0);
    let fro = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    let u = f64::EPSILON / 2.0;
    // assembly: n-term sums and r-term products of O(1) relative error, plus the eigensolve
    let error_bound =
        u * (red.n as f64 + 2.0 * r as f64 + 8.0) * magnitude + eigensolver_error_bound(r, fro);
    Ok(Prop1 {
        value,
        value_full: if r < red.w { value.max(1.0) } else { value },
        stable: value <= 1.0,
        sigma_weight: p,
        error_bound,
    })
}
