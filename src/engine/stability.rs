//! Theorem 1: the `k`-th order linear stability verdict, and its literal cone check.
//!
//! `T_k|Sym^k` is symmetric, so its operator norm is its spectral radius `ρ_k`. For odd `k`
//! Theorem 1 asks `‖T_k A‖_F <= ‖A‖_F` on all of `Sym^k`, i.e. `ρ_k <= 1`. For even `k` it asks
//! it on the cone `M_k^+` of sums of `v^{⊗k}`; `T_k` maps the cone into itself
//! (`M^{⊗k} v^{⊗k} = (Mv)^{⊗k}`), so by Krein–Rutman `ρ_k` has an eigenvector in the cone and the
//! condition is again `ρ_k <= 1`. [`cone_power_iteration`] checks this literally.
//!
//! After span reduction the verdict is `max_{1<=j<=k} ρ(T_j^{(b)}) <= 1` (the flat block `T_0 = 1`
//! is exactly 1), decided with the error bound of each block (DESIGN §8).

use crate::engine::combinatorics::factorial;
use crate::engine::linop::{norm, SymmetricOperator};
use crate::engine::symmetric::SymBasis;
use serde::Serialize;
use std::fmt;

/// The Theorem 1 verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every block radius is below `1 − error_bound`.
    Stable,
    /// Some block radius exceeds `1 + error_bound`.
    Unstable,
    /// Some block radius is within its error bound of 1 and none is certainly above.
    Marginal,
}

impl Verdict {
    /// `"stable"`, `"unstable"` or `"marginal"`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Unstable => "unstable",
            Verdict::Marginal => "marginal",
        }
    }

    /// Classifies one radius with its error bound.
    pub fn of_radius(radius: f64, error_bound: f64) -> Self {
        if radius > 1.0 + error_bound {
            Verdict::Unstable
        } else if radius < 1.0 - error_bound {
            Verdict::Stable
        } else {
            Verdict::Marginal
        }
    }

    /// Combines block verdicts: unstable if any is, else marginal if any is, else stable.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Self {
        let mut out = Verdict::Stable;
        for v in verdicts {
            match v {
                Verdict::Unstable => return Verdict::Unstable,
                Verdict::Marginal => out = Verdict::Marginal,
                Verdict::Stable => {}
            }
        }
        out
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Termination {
    /// The residual fell below the tolerance.
    Converged,
    /// The iteration limit was reached first.
    MaxIterations,
    /// The iterate became zero (the operator annihilates the start vector).
    ZeroIterate,
    /// Not run (the report says why).
    Skipped,
}

/// Result of the cone power iteration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConeCheck {
    /// `‖T X_t‖_F / ‖X_t‖_F` at the last iterate: a lower bound on `ρ_k` that converges to it.
    pub ratio: f64,
    /// Iterations done.
    pub iterations: usize,
    /// `‖T Z − ratio·Z‖ / (ratio ‖Z‖)` for `Z = X_t + T X_t / ratio` (the `+ratio` eigen-component;
    /// a plain residual would not vanish when `−ρ` is also an eigenvalue).
    pub residual: f64,
    /// Why it stopped.
    pub termination: Termination,
}

/// Coordinates, in the orthonormal basis of `Sym^k(R^r)` ([`SymBasis`]), of the interior cone
/// element `(Σ_a x_a²)^{k/2}` (i.e. the symmetrised `I^{⊗k/2}`), normalised; `k` must be even.
pub fn cone_start(basis: &SymBasis) -> Vec<f64> {
    let k = basis.k();
    assert!(k % 2 == 0, "the cone start needs an even order");
    let h = k / 2;
    let half = SymBasis::new(basis.r(), h).expect("Sym^{k/2} is smaller than Sym^k"); // invariant
    let mut coef = vec![0.0; basis.dim()];
    let mut doubled = Vec::with_capacity(k);
    for mu in 0..half.dim() {
        doubled.clear();
        for &v in half.elem(mu) {
            doubled.push(v);
            doubled.push(v);
        }
        coef[basis.rank(&doubled)] = factorial(h) / half.factorial(mu);
    }
    let mut x = basis.monomial_to_orthonormal(&coef);
    let nx = norm(&x);
    x.iter_mut().for_each(|v| *v /= nx);
    x
}

/// Power iteration on the cone `M_k^+` (Theorem 1, even `k`) from `start` (a cone element).
/// Stops when the residual ([`ConeCheck::residual`], checked every 8 iterations) is below `tol`
/// or after `max_iter` iterations.
pub fn cone_power_iteration(
    op: &dyn SymmetricOperator,
    start: &[f64],
    tol: f64,
    max_iter: usize,
) -> ConeCheck {
    let d = op.dim();
    let mut x = start.to_vec();
    let nx = norm(&x);
    x.iter_mut().for_each(|v| *v /= nx);
    let mut y = vec![0.0; d];
    let mut z = vec![0.0; d];
    let mut tz = vec![0.0; d];
    let mut ratio = 0.0;
    let mut residual = f64::INFINITY;
    for it in 1..=max_iter.max(1) {
        op.apply(&x, &mut y);
        ratio = norm(&y);
        if ratio == 0.0 {
            return ConeCheck {
                ratio,
                iterations: it,
                residual: 0.0,
                termination: Termination::ZeroIterate,
            };
        }
        let check = it % 8 == 0 || it == max_iter;
        if check {
            for ((zi, &xi), &yi) in z.iter_mut().zip(&x).zip(&y) {
                *zi = xi + yi / ratio;
            }
            let nz = norm(&z);
            op.apply(&z, &mut tz);
            let r: f64 = tz
                .iter()
                .zip(&z)
                .map(|(a, b)| (a - ratio * b).powi(2))
                .sum::<f64>()
                .sqrt();
            residual = if nz > 0.0 { r / (ratio * nz) } else { 0.0 };
        }
        for (xi, &yi) in x.iter_mut().zip(&y) {
            *xi = yi / ratio;
        }
        if check && residual <= tol {
            return ConeCheck {
                ratio,
                iterations: it,
                residual,
                termination: Termination::Converged,
            };
        }
    }
    ConeCheck {
        ratio,
        iterations: max_iter.max(1),
        residual,
        termination: Termination::MaxIterations,
    }
}
