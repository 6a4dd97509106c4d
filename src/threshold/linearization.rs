//! Candidate boundary points of the stable set of one block: the real positive roots of the two
//! polynomial eigenvalue problems of DESIGN §7, by companion linearization.
//!
//! An eigenvalue of `T_j(η) = Σ_{m=0}^{j} η^m C_m` (`C_0 = I`) equals
//!
//! - `+1` iff `det(C_1 + η C_2 + … + η^{j−1} C_j) = 0` (the factor `η` removed), and
//! - `−1` iff `det(2I + η C_1 + … + η^j C_j) = 0`.
//!
//! After span reduction `C_1 = −(Σ over the j slots of H)` is negative definite on
//! `Sym^j(R^r)` (its eigenvalues are minus sums of `j` eigenvalues of `H ≻ 0`), so in `μ = 1/η`
//! both problems have an invertible leading coefficient and become standard eigenproblems:
//!
//! - `+1`, `j >= 2`: with `−C_1 = L Lᵀ` (Cholesky) and `G_m = L⁻¹ C_m L⁻ᵀ` (so `G_1 = −I`),
//!   `μ^{j−1} x = Σ_{m=2}^{j} μ^{j−m} G_m x`: the block companion matrix of size `(j − 1)D` with
//!   first block row `[G_2 … G_j]` and identities below the diagonal. For `j = 2` it is the
//!   symmetric matrix `G_2`, i.e. the symmetric-definite pencil `(C_2, −C_1)` of Mulayoff &
//!   Michaeli (solved by the symmetric eigensolver); `j = 1` has no `+1` crossing.
//! - `−1`: `μ^j x = Σ_{m=1}^{j} μ^{j−m} (−C_m/2) x`: companion of size `jD` with first block row
//!   `[−C_1/2 … −C_j/2]` (symmetric `−C_1/2` for `j = 1`: `η = 2/λ_i(H)`).
//!
//! Before linearizing, `η` is scaled by `ν = λ_max(−C_1)` (`t = ν η`, coefficients `C_m/ν^m`) so
//! that the companion blocks are of order one. Complex eigenvalues come from faer's general
//! (non-symmetric) eigensolver. A root is kept as a candidate when `Re μ > 0` and
//! `|Im μ| <= IMAG_TOLERANCE · |μ|`: a simple real root of a real matrix is computed exactly real
//! (a 1×1 block of the real Schur form), while an `m`-fold real root may split into a complex
//! cluster of relative size about `ε^{1/m}`; `1e-6` keeps double and triple roots. Spurious
//! candidates are harmless: every candidate is checked by symmetric eigensolves afterwards.

use super::polynomial::BlockPolynomial;
use crate::engine::spectrum::{symmetric_eigenvalues, EigenBackend};
use crate::error::{Error, Result};

/// Relative size of the imaginary part up to which a computed `μ` counts as real.
pub const IMAG_TOLERANCE: f64 = 1e-6;

/// Which eigenvalue reaches the unit circle at a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Crossing {
    /// An eigenvalue of `T_j(η)` equals `+1`.
    #[serde(rename = "+1")]
    PlusOne,
    /// An eigenvalue of `T_j(η)` equals `−1`.
    #[serde(rename = "-1")]
    MinusOne,
}

/// A candidate root `η` with the crossing it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The learning rate.
    pub lr: f64,
    /// `+1` or `−1`.
    pub crossing: Crossing,
}

/// Rows of the larger companion matrix for degree `j` and dimension `D` (`jD`).
pub fn companion_rows(j: usize, dim: usize) -> usize {
    j.saturating_mul(dim)
}

fn numerical(routine: &'static str, e: impl std::fmt::Debug) -> Error {
    Error::Numerical {
        routine,
        message: format!("{e:?}"),
    }
}

/// All candidate roots (sorted ascending, duplicates kept) of both problems for a block with
/// stored coefficients.
pub fn candidates(poly: &BlockPolynomial, backend: EigenBackend) -> Result<Vec<Candidate>> {
    let j = poly.degree();
    let d = poly.dim();
    let coef = |m: usize| -> Result<&[f64]> {
        poly.coefficient(m).ok_or(Error::Numerical {
            routine: "linearization",
            message: "the block coefficients are not stored".into(),
        })
    };
    // ν = λ_max(−C_1)
    let neg_c1: Vec<f64> = coef(1)?.iter().map(|x| -x).collect();
    let vals = symmetric_eigenvalues(&neg_c1, d, backend)?;
    let nu = vals.last().copied().unwrap_or(0.0);
    let nu_min = vals.first().copied().unwrap_or(0.0);
    if !(nu > 0.0 && nu_min > 0.0) {
        return Err(Error::Numerical {
            routine: "linearization",
            message: format!(
                "−C_1 of T_{j} is not positive definite (eigenvalues in [{nu_min:e}, {nu:e}])"
            ),
        });
    }
    let scaled = |m: usize| -> Result<faer::Mat<f64>> {
        let c = coef(m)?;
        let s = nu.powi(-(m as i32));
        Ok(faer::Mat::from_fn(d, d, |r, col| s * c[r + col * d]))
    };
    let mut out = Vec::new();
    let push = |mu_re: f64, mu_im: f64, crossing: Crossing, out: &mut Vec<Candidate>| {
        let abs = mu_re.hypot(mu_im);
        if mu_re > 0.0 && mu_im.abs() <= IMAG_TOLERANCE * abs {
            let lr = 1.0 / (abs * nu);
            if lr.is_finite() && lr > 0.0 {
                out.push(Candidate { lr, crossing });
            }
        }
    };

    // +1 crossings (j >= 2)
    if j >= 2 {
        let neg_c1_scaled = faer::Mat::<f64>::from_fn(d, d, |r, c| neg_c1[r + c * d] / nu);
        let llt = neg_c1_scaled
            .llt(faer::Side::Lower)
            .map_err(|e| numerical("Cholesky of −C_1", e))?;
        let l = llt.L().to_owned();
        let par = crate::parallel::faer_par();
        let congruent = |mut g: faer::Mat<f64>| -> faer::Mat<f64> {
            // L⁻¹ G L⁻ᵀ = L⁻¹ (L⁻¹ Gᵀ)ᵀ, G symmetric
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                l.as_ref(),
                g.as_mut(),
                par,
            );
            let mut h = g.transpose().to_owned();
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                l.as_ref(),
                h.as_mut(),
                par,
            );
            h
        };
        if j == 2 {
            let g2 = congruent(scaled(2)?);
            let sym = faer::Mat::<f64>::from_fn(d, d, |r, c| 0.5 * (g2[(r, c)] + g2[(c, r)]));
            let buf: Vec<f64> = (0..d * d).map(|i| sym[(i % d, i / d)]).collect();
            for mu in symmetric_eigenvalues(&buf, d, backend)? {
                push(mu, 0.0, Crossing::PlusOne, &mut out);
            }
        } else {
            let p = j - 1;
            let mut comp = faer::Mat::<f64>::zeros(p * d, p * d);
            for (blk, m) in (2..=j).enumerate() {
                let g = congruent(scaled(m)?);
                comp.as_mut()
                    .submatrix_mut(0, blk * d, d, d)
                    .copy_from(g.as_ref());
            }
            for blk in 1..p {
                for i in 0..d {
                    comp[(blk * d + i, (blk - 1) * d + i)] = 1.0;
                }
            }
            let ev = comp
                .eigenvalues()
                .map_err(|e| numerical("companion eigenvalues (+1 crossings)", e))?;
            for z in ev {
                push(z.re, z.im, Crossing::PlusOne, &mut out);
            }
        }
    }

    // −1 crossings
    if j == 1 {
        let buf: Vec<f64> = neg_c1.iter().map(|x| 0.5 * x / nu).collect();
        for mu in symmetric_eigenvalues(&buf, d, backend)? {
            push(mu, 0.0, Crossing::MinusOne, &mut out);
        }
    } else {
        let mut comp = faer::Mat::<f64>::zeros(j * d, j * d);
        for m in 1..=j {
            let c = scaled(m)?;
            comp.as_mut()
                .submatrix_mut(0, (m - 1) * d, d, d)
                .copy_from((c * faer::Scale(-0.5)).as_ref());
        }
        for blk in 1..j {
            for i in 0..d {
                comp[(blk * d + i, (blk - 1) * d + i)] = 1.0;
            }
        }
        let ev = comp
            .eigenvalues()
            .map_err(|e| numerical("companion eigenvalues (−1 crossings)", e))?;
        for z in ev {
            push(z.re, z.im, Crossing::MinusOne, &mut out);
        }
    }
    out.sort_by(|a, b| a.lr.total_cmp(&b.lr));
    Ok(out)
}
