//! Learning-rate limits implied by the moment bounds, and the necessary bounds on `η*_2` of
//! Mulayoff & Michaeli (COLT 2024).
//!
//! # Implied limits (Theorem 2, Corollary 1)
//!
//! Theorem 2 (eq. 18) says: order `k` stable at `η` ⇒ `m_j <= 2^k B^{k−1}/η^k` for every
//! coordinate `j`, `m_j = (1/n) Σ_i a_{ij}^{2k}`. Solved for `η`:
//!
//! ```text
//! η <= 2 B^{(k−1)/k} / (max_j m_j)^{1/k}                       (Theorem 2 limit)
//! η <= 2 B (w/B)^{1/k} / L²,   L = (1/n) Σ_i ‖a_i‖_{2k}          (Corollary 1 limit, eq. 19)
//! ```
//!
//! so every stable learning rate, in particular `η*_k`, is at most each limit (if the paper is
//! right). Both use the original coordinates.
//!
//! # Necessary bounds on `η*_2`
//!
//! With `T_2 = I − 2ηC + η²D`, `C = ½(H⊗I + I⊗H)`, `D = (1−p) H⊗H + (p/n) Σ_i H_i⊗H_i`
//! (DESIGN §11) and any unit `X ∈ Sym²`, `λ_max(T_2) >= ⟨X, T_2 X⟩ = 1 − 2η⟨X, CX⟩ + η²⟨X, DX⟩`,
//! which exceeds 1 as soon as `η > 2⟨X, CX⟩/⟨X, DX⟩`. Two choices of `X` give closed forms:
//!
//! - `X = I/√r`: `η*_2 <= 2 Tr H / ((1−p)‖H‖_F² + (p/n) Σ_i ‖H_i‖_F²)` — the bound of
//!   Mulayoff & Michaeli's Prop. 3 quoted in DESIGN §11 ([`MulayoffMichaeliBounds::trace_bound`]).
//! - `X = v vᵀ`, `v` a unit top eigenvector of `H`, `λ = λ_max(H)`:
//!   `η*_2 <= 2λ / ((1−p)λ² + (p/n) Σ_i (vᵀ H_i v)²)`
//!   ([`MulayoffMichaeliBounds::top_eigenvector_bound`]). Since `(1/n) Σ_i vᵀH_iv = λ`, Jensen
//!   gives `(1/n) Σ_i (vᵀH_iv)² >= λ²`, so this bound is `<= 2/λ = η*_1`: it implies and
//!   sharpens the necessary condition `η*_2 <= η*_1`, which also follows from
//!   `T_2(X) ⪰ E[M] X E[M]` on the PSD cone (so `ρ(T_2) >= ρ(T_1)²`).
//!
//! The text of Mulayoff & Michaeli's Prop. 3 was not available to us beyond the trace bound in
//! DESIGN §11; the second bound reported here is derived above, not quoted.

use crate::engine::bounds::MomentStats;
use crate::engine::gradients::Gradients;
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::BatchModel;
use crate::error::{Error, Result};
use serde::Serialize;

/// `2 B^{(k−1)/k} / (max_j m_j)^{1/k}` (Theorem 2, eq. 18, solved for `η`), or `None` when
/// every `m_j = 0` (no limit).
pub fn theorem2_lr_limit(a: &Gradients, k: usize, batch: usize) -> Option<f64> {
    theorem2_limit(&MomentStats::from_gradients(a, &[k]), k, batch)
}

/// `2 B (w/B)^{1/k} / L²`, `L = (1/n) Σ_i ‖a_i‖_{2k}` (Corollary 1, eq. 19, solved for `η`), or
/// `None` when `L = 0`.
pub fn corollary1_lr_limit(a: &Gradients, k: usize, batch: usize) -> Option<f64> {
    corollary1_limit(&MomentStats::from_gradients(a, &[k]), k, batch)
}

/// [`theorem2_lr_limit`] from the moment statistics (`None` also when they miss order `k`).
pub(crate) fn theorem2_limit(stats: &MomentStats, k: usize, batch: usize) -> Option<f64> {
    let &(m, _) = stats.max_column_moment.get(&k)?;
    if m > 0.0 {
        let kf = k as f64;
        Some(2.0 * (batch as f64).powf((kf - 1.0) / kf) / m.powf(1.0 / kf))
    } else {
        None
    }
}

/// [`corollary1_lr_limit`] from the moment statistics.
pub(crate) fn corollary1_limit(stats: &MomentStats, k: usize, batch: usize) -> Option<f64> {
    let &l = stats.mean_row_norm.get(&k)?;
    if l > 0.0 {
        let b = batch as f64;
        Some(2.0 * b * (stats.w as f64 / b).powf(1.0 / k as f64) / (l * l))
    } else {
        None
    }
}

/// The two necessary upper bounds on `η*_2` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MulayoffMichaeliBounds {
    /// `p`: `(n − B)/(B(n − 1))` without replacement, `1/B` with.
    pub sigma_weight: f64,
    /// `2 Tr H / ((1−p)‖H‖_F² + (p/n) Σ ‖H_i‖_F²)`.
    pub trace_bound: f64,
    /// `2λ / ((1−p)λ² + (p/n) Σ (vᵀH_iv)²)`, `v` the top eigenvector of `H`.
    pub top_eigenvector_bound: f64,
}

/// Evaluates both bounds on the reduced coordinates (every quantity is rotation invariant).
/// `None` when `r = 0` (`H = 0`: no bound).
pub fn mulayoff_michaeli_bounds(
    red: &SpanReduction,
    model: &BatchModel,
) -> Result<Option<MulayoffMichaeliBounds>> {
    let (n, r) = (red.n, red.rank);
    if r == 0 {
        return Ok(None);
    }
    let p = model.prop1_weight();
    let h = red.hessian();
    let tr: f64 = (0..r).map(|i| h[(i, i)]).sum();
    let h_fro2: f64 = (0..r)
        .flat_map(|i| (0..r).map(move |j| (i, j)))
        .map(|(i, j)| h[(i, j)] * h[(i, j)])
        .sum();
    let hi_fro2: f64 = (0..n)
        .map(|i| {
            let s: f64 = red.coord(i).iter().map(|x| x * x).sum();
            s * s
        })
        .sum();
    let evd = h
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "eigendecomposition of H",
            message: format!("{e:?}"),
        })?;
    let lam = evd.S().column_vector()[r - 1];
    let v: Vec<f64> = (0..r).map(|i| evd.U()[(i, r - 1)]).collect();
    let proj4: f64 = (0..n)
        .map(|i| {
            let d: f64 = red.coord(i).iter().zip(&v).map(|(x, y)| x * y).sum();
            d.powi(4)
        })
        .sum();
    let nf = n as f64;
    Ok(Some(MulayoffMichaeliBounds {
        sigma_weight: p,
        trace_bound: 2.0 * tr / ((1.0 - p) * h_fro2 + p / nf * hi_fro2),
        top_eigenvector_bound: 2.0 * lam / ((1.0 - p) * lam * lam + p / nf * proj4),
    }))
}
