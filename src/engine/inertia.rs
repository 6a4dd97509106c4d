//! Deciding whether `T_j(η)` has an eigenvalue above 1 when `λ_max(T_j)` sits within rounding of
//! 1, by Sylvester's law of inertia.
//!
//! Near-flat directions (a tiny eigenvalue `λ` of `H` in the reduced space, e.g. from
//! near-duplicate samples) give `T_j` eigenvalues `1 − O(ηλ)` that rounding cannot tell from 1.
//! In the eigenbasis of `H`, `C_1 = −diag(Σ_t λ_{α_t})` is negative definite and
//!
//! ```text
//! T_j(η) − I = η (−C_1)^{1/2} M(η) (−C_1)^{1/2},
//! M(η) = (−C_1)^{−1/2} (C_1 + η C_2 + … + η^{j−1} C_j) (−C_1)^{−1/2} = −I + O(η),
//! ```
//!
//! so `T_j(η)` has an eigenvalue above 1 exactly when `λ_max(M(η)) > 0`. `M` is assembled from the
//! closed-form terms **without** forming `I` and subtracting it (so the near-flat directions keep
//! their relative accuracy) and then rescaled; its top eigenvalue is well separated from 0 for
//! near-flat directions (they contribute about `−1`). This is the `μ = 1/η` scaling of the
//! `+1`-crossing polynomial eigenproblem of DESIGN §7. For `j = 2`,
//! `M(η) = −I + (η/2) C^{−1/2} D C^{−1/2}` (DESIGN §11's `C`, `D`), so
//! `λ_max(M) = η λ_max(C⁺D)/2 − 1` and `λ_max(M) = 0` at `η*_2`.

use crate::engine::matrix_free::EigenCoords;
use crate::engine::moment_operator::{DenseMoment, MomentTerms};
use crate::engine::sampling::BatchModel;
use crate::engine::spectrum::{eigensolver_error_bound, symmetric_eigenvalues, EigenBackend};
use crate::engine::stability::Verdict;
use crate::engine::symmetric::SymBasis;
use crate::error::Result;
use serde::Serialize;

/// The `+1`-side inertia certificate of one block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InertiaCertificate {
    /// `λ_max(M(η))`: negative iff no eigenvalue of `T_j(η)` exceeds 1.
    pub lambda_max: f64,
    /// Error bound on `lambda_max`.
    pub error_bound: f64,
    /// `stable` if `lambda_max + bound < 0`, `unstable` if `lambda_max − bound > 0`, else
    /// `marginal` (for the `+1` side only; the `−1` side is decided from `λ_min(T_j)`).
    pub verdict: Verdict,
}

impl InertiaCertificate {
    /// From a value and its bound.
    pub fn new(lambda_max: f64, error_bound: f64) -> Self {
        let verdict = if lambda_max + error_bound < 0.0 {
            Verdict::Stable
        } else if lambda_max - error_bound > 0.0 {
            Verdict::Unstable
        } else {
            Verdict::Marginal
        };
        InertiaCertificate {
            lambda_max,
            error_bound,
            verdict,
        }
    }
}

/// `s_α = (Σ_t λ_{α_t})^{−1/2} = (−C_1)^{−1/2}_{αα}` for the basis of `Sym^j(R^r)` of the
/// eigen-rotated coordinates.
pub fn scaling(ec: &EigenCoords, j: usize) -> Result<Vec<f64>> {
    let basis = SymBasis::new(ec.r, j)?;
    Ok((0..basis.dim())
        .map(|a| {
            let s: f64 = basis
                .elem(a)
                .iter()
                .map(|&v| ec.h_eigenvalues[v as usize].max(f64::MIN_POSITIVE))
                .sum();
            1.0 / s.sqrt()
        })
        .collect())
}

/// `λ_max(S X S / η)` with its bound, for `X = T_j(η) − I` assembled without the identity
/// (column-major `D × D`) and `abs_frob_bound` a bound on the Frobenius norm of
/// `S |fl(X) − X| S` (computed by the caller from the absolute-value assembly).
pub fn certificate_from(
    x: &[f64],
    scale: &[f64],
    lr: f64,
    rounding: f64,
    backend: EigenBackend,
) -> Result<InertiaCertificate> {
    let d = scale.len();
    let mut m = vec![0.0; d * d];
    for c in 0..d {
        for a in 0..d {
            m[a + c * d] = x[a + c * d] * scale[a] * scale[c] / lr;
        }
    }
    let vals = symmetric_eigenvalues(&m, d, backend)?;
    let fro = m.iter().map(|v| v * v).sum::<f64>().sqrt();
    let bound = rounding / lr + eigensolver_error_bound(d, fro);
    Ok(InertiaCertificate::new(
        vals.last().copied().unwrap_or(-1.0),
        bound,
    ))
}

/// The certificate of block `j` at `η`, built densely from the eigen-rotated coordinates.
pub fn dense_certificate(
    ec: &EigenCoords,
    j: usize,
    lr: f64,
    model: &BatchModel,
    backend: EigenBackend,
) -> Result<InertiaCertificate> {
    let c = lr / model.batch as f64;
    let scales: Vec<f64> = (0..=j)
        .map(|m| if m == 0 { 0.0 } else { (-c).powi(m as i32) })
        .collect();
    let abs_scales: Vec<f64> = scales.iter().map(|s| s.abs()).collect();
    let terms = MomentTerms::new(&ec.coords, ec.n, ec.r, j, model, false)?;
    let x = terms.assemble(&scales);
    drop(terms);
    let abs = MomentTerms::new(&ec.coords, ec.n, ec.r, j, model, true)?.assemble(&abs_scales);
    let scale = scaling(ec, j)?;
    let d = scale.len();
    let mut scaled_abs2 = 0.0;
    for cc in 0..d {
        for a in 0..d {
            let v = abs[a + cc * d] * scale[a] * scale[cc];
            scaled_abs2 += v * v;
        }
    }
    // the same assembly factor as the dense operator's bound (DenseMoment::build_error_bound)
    let gamma = DenseMoment::assembly_gamma(j, ec.n);
    certificate_from(&x, &scale, lr, gamma * scaled_abs2.sqrt(), backend)
}
