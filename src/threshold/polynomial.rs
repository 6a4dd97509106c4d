//! One reduced block `T_j^{(b)}(η)` as a function of the learning rate, with a rounding-error
//! bound on every evaluation (DESIGN §7, §8).
//!
//! Two evaluators:
//!
//! - [`BlockPolynomial::Stored`]: the coefficients `C_0 = I, C_1, …, C_j` of
//!   `T_j(η) = Σ_m η^m C_m` ([`MomentTerms::coefficient`]) are assembled once; an evaluation is
//!   `j` scaled matrix additions and one symmetric eigensolve. Needed by the linearization.
//! - [`BlockPolynomial::Direct`]: `T_j(η)` is assembled from scratch by
//!   [`DenseMoment::build_from_coords`] at every `η` (no `(j + 1)·D²` storage); used by the
//!   bisection fallback for large `D`.
//!
//! # Error bound of one evaluation
//!
//! With `|C|_m` the same closed-form assembly with absolute values everywhere (so each entry of
//! `|C|_m` bounds the magnitude of everything summed into that entry of `C_m`), the computed
//! `fl(T(η))` satisfies `|fl(T) − T| <= γ' Σ_m η^m |C|_m` entrywise, `γ' = γ_j + (j + 2)u` with
//! `γ_j` the assembly factor of [`DenseMoment::build_error_bound`] and `(j + 2)u` for the Horner-free
//! sum of `j + 1` scaled terms. Adding the backward error of the dense symmetric eigensolver
//! ([`eigensolver_error_bound`]) bounds, by Weyl's inequality, the distance of every computed
//! eigenvalue from an exact eigenvalue of `T_j(η)`.

use crate::engine::moment_operator::{DenseMoment, MomentTerms};
use crate::engine::sampling::BatchModel;
use crate::engine::spectrum::{eigensolver_error_bound, symmetric_eigenvalues, EigenBackend};
use crate::error::{Error, Param, Result};

/// The extreme eigenvalues of `T_j(η)` with their error bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockEval {
    /// Smallest eigenvalue.
    pub lambda_min: f64,
    /// Largest eigenvalue.
    pub lambda_max: f64,
    /// Bound on the error of each computed eigenvalue.
    pub error: f64,
    /// `λ_max(M(η))` of [`crate::engine::inertia`]: the `+1` side, sign-equivalent to `λ_max − 1`
    /// (Sylvester's law of inertia) but well conditioned near flat directions.
    pub plus: f64,
    /// Error bound on `plus`.
    pub plus_error: f64,
}

impl BlockEval {
    /// `max(plus, −1 − λ_min)`: positive iff an eigenvalue is outside `[−1, 1]`. Its sign changes
    /// exactly at the boundaries of the stable set, so it is the function the refinement and the
    /// bisection work on.
    pub fn excess(&self) -> f64 {
        self.plus.max(-1.0 - self.lambda_min)
    }

    /// One side's `(value, error)`: `Some(PlusOne)` → `(plus, plus_error)`, `Some(MinusOne)` →
    /// `(−1 − λ_min, error)`, `None` → the larger value with the error of the side it came from.
    pub fn side(&self, side: Option<super::Crossing>) -> (f64, f64) {
        let plus = (self.plus, self.plus_error);
        let minus = (-1.0 - self.lambda_min, self.error);
        match side {
            Some(super::Crossing::PlusOne) => plus,
            Some(super::Crossing::MinusOne) => minus,
            None => {
                if plus.0 >= minus.0 {
                    plus
                } else {
                    minus
                }
            }
        }
    }

    /// `(certainly unstable, certainly stable)` over both sides.
    pub fn certainty(&self) -> (bool, bool) {
        let (p, pe) = (self.plus, self.plus_error);
        let (m, me) = (-1.0 - self.lambda_min, self.error);
        (p > pe || m > me, p < -pe && m < -me)
    }
}

/// `T_j^{(b)}(η)` on `Sym^j(R^r)` for one reduced problem and batch model.
#[derive(Debug, Clone)]
pub enum BlockPolynomial {
    /// Coefficients stored (see the module documentation).
    Stored {
        /// The degree `j`.
        j: usize,
        /// `D = C(r + j − 1, j)`.
        dim: usize,
        /// `C_0..=C_j`, each column-major `D × D`, symmetric.
        coeffs: Vec<Vec<f64>>,
        /// `|C|_0..=|C|_j`: the absolute-value assemblies.
        abs_coeffs: Vec<Vec<f64>>,
        /// `γ'` of the module documentation.
        gamma: f64,
    },
    /// Rebuilt at every `η`.
    Direct {
        /// The degree `j`.
        j: usize,
        /// `D`.
        dim: usize,
        /// Reduced coordinates `n × r`, row-major.
        coords: Vec<f64>,
        /// `n`.
        n: usize,
        /// `r`.
        r: usize,
        /// The batch model.
        model: BatchModel,
        /// Memory budget in bytes.
        budget: u128,
    },
}

/// Relative rounding factor `γ_j` of the closed-form assembly (that of
/// [`DenseMoment::build_error_bound`] for a matrix with `‖T_abs‖_F = 1`).
fn assembly_gamma(j: usize, n: usize) -> f64 {
    DenseMoment::assembly_gamma(j, n)
}

fn frobenius(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

impl BlockPolynomial {
    /// Stores the coefficients of `T_j` (`b`: `n × r` reduced coordinates, row-major).
    pub fn stored(b: &[f64], n: usize, r: usize, j: usize, model: &BatchModel) -> Result<Self> {
        let terms = MomentTerms::new(b, n, r, j, model, false)?;
        let dim = terms.dim();
        let coeffs: Vec<Vec<f64>> = (0..=j).map(|m| terms.coefficient(m)).collect();
        drop(terms);
        let abs_terms = MomentTerms::new(b, n, r, j, model, true)?;
        let abs_coeffs: Vec<Vec<f64>> = (0..=j)
            .map(|m| {
                let mut scales = vec![0.0; j + 1];
                scales[m] = (1.0 / model.batch as f64).powi(m as i32);
                abs_terms.assemble(&scales)
            })
            .collect();
        let u = f64::EPSILON / 2.0;
        Ok(BlockPolynomial::Stored {
            j,
            dim,
            coeffs,
            abs_coeffs,
            gamma: assembly_gamma(j, n) + (j as f64 + 2.0) * u,
        })
    }

    /// An evaluator that rebuilds `T_j(η)` at every call.
    pub fn direct(
        b: &[f64],
        n: usize,
        r: usize,
        j: usize,
        model: &BatchModel,
        budget: u128,
    ) -> Result<Self> {
        crate::engine::moment_operator::check_dense_budget(r, j, budget)?;
        let dim = crate::engine::combinatorics::sym_dim(r, j)
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| Error::parameter(Param::Orders, j, "the block dimension overflows"))?;
        Ok(BlockPolynomial::Direct {
            j,
            dim,
            coords: b.to_vec(),
            n,
            r,
            model: *model,
            budget,
        })
    }

    /// The degree `j`.
    pub fn degree(&self) -> usize {
        match self {
            BlockPolynomial::Stored { j, .. } | BlockPolynomial::Direct { j, .. } => *j,
        }
    }

    /// `D`.
    pub fn dim(&self) -> usize {
        match self {
            BlockPolynomial::Stored { dim, .. } | BlockPolynomial::Direct { dim, .. } => *dim,
        }
    }

    /// The stored coefficient `C_m` (column-major `D × D`), if stored.
    pub fn coefficient(&self, m: usize) -> Option<&[f64]> {
        match self {
            BlockPolynomial::Stored { coeffs, .. } => coeffs.get(m).map(|c| c.as_slice()),
            BlockPolynomial::Direct { .. } => None,
        }
    }

    /// `T_j(η)` (column-major `D × D`) and the entrywise rounding bound's Frobenius norm.
    pub fn matrix(&self, lr: f64) -> Result<(Vec<f64>, f64)> {
        match self {
            BlockPolynomial::Stored {
                coeffs,
                abs_coeffs,
                gamma,
                dim,
                ..
            } => {
                let mut t = vec![0.0; dim * dim];
                let mut ta = vec![0.0; dim * dim];
                let mut p = 1.0;
                for (c, a) in coeffs.iter().zip(abs_coeffs) {
                    for ((x, y), (&cv, &av)) in t.iter_mut().zip(ta.iter_mut()).zip(c.iter().zip(a))
                    {
                        *x += p * cv;
                        *y += p * av;
                    }
                    p *= lr;
                }
                Ok((t, gamma * frobenius(&ta)))
            }
            BlockPolynomial::Direct {
                j,
                coords,
                n,
                r,
                model,
                budget,
                ..
            } => {
                let m = DenseMoment::build_from_coords(coords, *n, *r, *j, lr, model, *budget)?;
                let bound = m.build_error_bound();
                Ok((m.matrix, bound))
            }
        }
    }

    /// Extreme eigenvalues of `T_j(η)` with the error bound of the module documentation, and the
    /// `+1`-side inertia value `λ_max(M(η))` ([`crate::engine::inertia`]); `scale` is
    /// [`crate::engine::inertia::scaling`] for the (eigen-rotated) coordinates this polynomial was built on.
    pub fn evaluate(&self, lr: f64, scale: &[f64], backend: EigenBackend) -> Result<BlockEval> {
        let d = self.dim();
        let (t, build) = self.matrix(lr)?;
        let vals = symmetric_eigenvalues(&t, d, backend)?;
        let error = build + eigensolver_error_bound(d, frobenius(&t));
        drop(t);
        let cert = self.plus_certificate(lr, scale, backend)?;
        Ok(BlockEval {
            lambda_min: vals.first().copied().unwrap_or(1.0),
            lambda_max: vals.last().copied().unwrap_or(1.0),
            error,
            plus: cert.lambda_max,
            plus_error: cert.error_bound,
        })
    }

    /// The `+1`-side inertia certificate at `η` ([`crate::engine::inertia`]): `T_j(η) − I` assembled
    /// without the identity, rescaled by `(−C_1)^{−1/2}` on both sides and divided by `η`.
    pub fn plus_certificate(
        &self,
        lr: f64,
        scale: &[f64],
        backend: EigenBackend,
    ) -> Result<crate::engine::inertia::InertiaCertificate> {
        let d = self.dim();
        let scaled_abs = |abs: &[f64]| -> f64 {
            let mut acc = 0.0;
            for c in 0..d {
                for a in 0..d {
                    let v = abs[a + c * d] * scale[a] * scale[c];
                    acc += v * v;
                }
            }
            acc.sqrt()
        };
        let (x, rounding) = match self {
            BlockPolynomial::Stored {
                coeffs,
                abs_coeffs,
                gamma,
                ..
            } => {
                let mut x = vec![0.0; d * d];
                let mut xa = vec![0.0; d * d];
                let mut p = lr;
                for (c, a) in coeffs.iter().zip(abs_coeffs).skip(1) {
                    for ((xv, av), (&cv, &aa)) in
                        x.iter_mut().zip(xa.iter_mut()).zip(c.iter().zip(a))
                    {
                        *xv += p * cv;
                        *av += p * aa;
                    }
                    p *= lr;
                }
                let r = gamma * scaled_abs(&xa);
                (x, r)
            }
            BlockPolynomial::Direct {
                j,
                coords,
                n,
                r,
                model,
                ..
            } => {
                let c = lr / model.batch as f64;
                let scales: Vec<f64> = (0..=*j)
                    .map(|m| if m == 0 { 0.0 } else { (-c).powi(m as i32) })
                    .collect();
                let abs_scales: Vec<f64> = scales.iter().map(|s| s.abs()).collect();
                let x = MomentTerms::new(coords, *n, *r, *j, model, false)?.assemble(&scales);
                let xa = MomentTerms::new(coords, *n, *r, *j, model, true)?.assemble(&abs_scales);
                let r = assembly_gamma(*j, *n) * scaled_abs(&xa);
                (x, r)
            }
        };
        crate::engine::inertia::certificate_from(&x, scale, lr, rounding, backend)
    }

    /// Whether `(1 + slack) I ∓ T_j(η)` are both positive definite (two Cholesky
    /// factorisations, about `D³/3` flops each): a cheap necessary test for `η` to lie in the
    /// closure of the stable set, i.e. `spec T_j(η) ⊂ [−1 − slack, 1 + slack]`.
    pub fn within(&self, lr: f64, slack: f64) -> Result<bool> {
        let d = self.dim();
        let (t, _) = self.matrix(lr)?;
        for sign in [1.0, -1.0] {
            let m = faer::Mat::<f64>::from_fn(d, d, |i, c| {
                let diag = if i == c { 1.0 + slack } else { 0.0 };
                diag - sign * t[i + c * d]
            });
            if m.llt(faer::Side::Lower).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
