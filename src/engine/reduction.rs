//! Span reduction (DESIGN §4): from the `n × w` gradients to coordinates `b_i ∈ R^r` in an
//! orthonormal basis of the row space, `r = rank(A)`, without forming any `w × w` object when
//! `w > n`.
//!
//! `b_i · b_j = a_i · a_j`, so every `T_j^{(b)}` on `Sym^j(R^r)` is the restriction of the
//! original operator, and
//!
//! ```text
//! spec(T_k on Sym^k(R^w)) = ⋃_{j=0..k} spec(T_j^{(b)} on Sym^j(R^r)),
//!     multiplicity C(w − r + k − j − 1, k − j),   T_0 = 1 (present iff r < w).
//! ```
//!
//! # Rank tolerance
//!
//! With `G` the smaller Gram matrix (`AᵀA` if `w <= n`, else `AAᵀ`; both have the eigenvalues
//! `σ_i²`), an eigenvalue is kept when `λ_i > τ · λ_max(G)` with the default
//! `τ = max(n, w) · ε` (`ε` = 2.2e-16): the resolution of a Gram-based rank, equivalent to
//! singular values `σ_i > sqrt(τ) · σ_max`. Dropped directions have `η λ_i(H)` below about
//! `1e-13 · η λ_max(H)`: they are flat to working precision.

use crate::engine::combinatorics::sym_dim;
use crate::engine::gradients::Gradients;
use crate::error::{Error, Param, Result};
use serde::Serialize;

/// How the reduced coordinates were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReductionMethod {
    /// `w <= n` and `A` has full column rank: `b_i = a_i` exactly.
    Identity,
    /// `w <= n`, rank-deficient: `b_i = V_rᵀ a_i` from `AᵀA = V Λ Vᵀ`.
    ColumnGram,
    /// `w > n`: `b_i` = row `i` of `U_r Λ_r^{1/2}` from `AAᵀ = U Λ Uᵀ`.
    RowGram,
}

/// The reduced problem.
#[derive(Debug, Clone)]
pub struct SpanReduction {
    /// Samples `n`.
    pub n: usize,
    /// Parameters `w`.
    pub w: usize,
    /// `r = rank(A)` at the tolerance.
    pub rank: usize,
    /// `b_i` as the rows of an `n × r` row-major matrix.
    pub coords: Vec<f64>,
    /// Eigenvalues of the Gram matrix used, non-increasing (length `min(n, w)`).
    pub gram_eigenvalues: Vec<f64>,
    /// The relative tolerance `τ` used.
    pub relative_tolerance: f64,
    /// How the coordinates were obtained.
    pub method: ReductionMethod,
}

impl SpanReduction {
    /// Reduces `a`; `relative_tolerance` overrides the default `max(n, w)·ε` (must be in [0, 1)).
    pub fn new(a: &Gradients, relative_tolerance: Option<f64>) -> Result<Self> {
        Self::from_matrix(a.as_faer(), relative_tolerance)
    }

    /// Reduces the `n × w` matrix `am` (rows = samples; any strides), as [`SpanReduction::new`].
    pub fn from_matrix(am: faer::MatRef<'_, f64>, relative_tolerance: Option<f64>) -> Result<Self> {
        let (n, w) = (am.nrows(), am.ncols());
        let tau = relative_tolerance_or_default(n, w, relative_tolerance)?;
        let par = crate::parallel::faer_par();
        if w <= n {
            let mut c = faer::Mat::<f64>::zeros(w, w);
            faer::linalg::matmul::matmul(
                &mut c,
                faer::Accum::Replace,
                am.transpose(),
                am,
                1.0,
                par,
            );
            let (vals, evd) = column_gram_eigen(c.as_ref())?;
            let rank = count_kept(&vals, tau);
            if rank == w {
                let mut coords = Vec::with_capacity(n * w);
                for i in 0..n {
                    coords.extend((0..w).map(|j| am[(i, j)]));
                }
                return Ok(SpanReduction {
                    n,
                    w,
                    rank,
                    coords,
                    gram_eigenvalues: vals,
                    relative_tolerance: tau,
                    method: ReductionMethod::Identity,
                });
            }
            // columns of V for the `rank` largest eigenvalues (faer: ascending order)
            let u = evd.U();
            let mut coords = vec![0.0; n * rank];
            for i in 0..n {
                for c in 0..rank {
                    let col = w - 1 - c;
                    let mut acc = 0.0;
                    for j in 0..w {
                        acc += am[(i, j)] * u[(j, col)];
                    }
                    coords[i * rank + c] = acc;
                }
            }
            Ok(SpanReduction {
                n,
                w,
                rank,
                coords,
                gram_eigenvalues: vals,
                relative_tolerance: tau,
                method: ReductionMethod::ColumnGram,
            })
        } else {
            let mut g = faer::Mat::<f64>::zeros(n, n);
            faer::linalg::matmul::matmul(
                &mut g,
                faer::Accum::Replace,
                am,
                am.transpose(),
                1.0,
                par,
            );
            Self::from_row_gram(g.as_ref(), w, Some(tau))
        }
    }

    /// Reduction from a precomputed column Gram matrix `C = AᵀA` (`w × w`, `w <= n`) and the
    /// reduced coordinates it implies: `coords(V_r)` must return the `n × r` row-major `A V_r`
    /// for the `w × r` matrix `V_r` of the top eigenvectors (column-major), or `None` when the
    /// rank is full, in which case `identity()` returns `A` itself row-major.
    pub(crate) fn from_column_gram(
        c: faer::MatRef<'_, f64>,
        n: usize,
        relative_tolerance: Option<f64>,
        identity: impl FnOnce() -> Result<Vec<f64>>,
        project: impl FnOnce(&[f64], usize) -> Result<Vec<f64>>,
    ) -> Result<Self> {
        let w = c.nrows();
        let tau = relative_tolerance_or_default(n, w, relative_tolerance)?;
        let (vals, evd) = column_gram_eigen(c)?;
        let rank = count_kept(&vals, tau);
        if rank == w {
            return Ok(SpanReduction {
                n,
                w,
                rank,
                coords: identity()?,
                gram_eigenvalues: vals,
                relative_tolerance: tau,
                method: ReductionMethod::Identity,
            });
        }
        let u = evd.U();
        let mut v = vec![0.0; w * rank];
        for c in 0..rank {
            for j in 0..w {
                v[j + c * w] = u[(j, w - 1 - c)];
            }
        }
        Ok(SpanReduction {
            n,
            w,
            rank,
            coords: project(&v, rank)?,
            gram_eigenvalues: vals,
            relative_tolerance: tau,
            method: ReductionMethod::ColumnGram,
        })
    }

    /// Reduction from a precomputed row Gram matrix `G = AAᵀ` (`n × n`), for `w > n`
    /// (the streaming path computes `G` without holding `A`).
    pub fn from_row_gram(
        g: faer::MatRef<'_, f64>,
        w: usize,
        relative_tolerance: Option<f64>,
    ) -> Result<Self> {
        let n = g.nrows();
        let tau = relative_tolerance_or_default(n, w, relative_tolerance)?;
        let evd = g
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::Numerical {
                routine: "span reduction (AAᵀ eigendecomposition)",
                message: format!("{e:?}"),
            })?;
        let s = evd.S().column_vector();
        let vals: Vec<f64> = (0..n).rev().map(|i| s[i]).collect();
        let rank = count_kept(&vals, tau);
        let u = evd.U();
        let mut coords = vec![0.0; n * rank];
        for c in 0..rank {
            let col = n - 1 - c;
            let scale = vals[c].sqrt();
            for i in 0..n {
                coords[i * rank + c] = u[(i, col)] * scale;
            }
        }
        Ok(SpanReduction {
            n,
            w,
            rank,
            coords,
            gram_eigenvalues: vals,
            relative_tolerance: tau,
            method: ReductionMethod::RowGram,
        })
    }

    /// The reduced coordinates `b_i` (row `i` of the `n × r` matrix).
    pub fn coord(&self, i: usize) -> &[f64] {
        &self.coords[i * self.rank..(i + 1) * self.rank]
    }

    /// `C(w − r + k − j − 1, k − j)`: the multiplicity of `spec(T_j^{(b)})` inside
    /// `spec(T_k on Sym^k(R^w))`, or `None` if it overflows `u128`.
    pub fn block_multiplicity(&self, k: usize, j: usize) -> Option<u128> {
        block_multiplicity(self.w, self.rank, k, j)
    }

    /// `H = (1/n) Σ b_i b_iᵀ` in reduced coordinates (`r × r`).
    pub fn hessian(&self) -> faer::Mat<f64> {
        let (n, r) = (self.n, self.rank);
        let b = faer::MatRef::from_row_major_slice(&self.coords, n, r);
        let mut h = faer::Mat::<f64>::zeros(r, r);
        faer::linalg::matmul::matmul(
            &mut h,
            faer::Accum::Replace,
            b.transpose(),
            b,
            1.0 / n as f64,
            crate::parallel::faer_par(),
        );
        h
    }
}

/// Multiplicity of the block `j` in `Sym^k(R^w)` for a rank-`r` problem:
/// `dim Sym^{k−j}(R^{w−r}) = C(w − r + k − j − 1, k − j)` (1 when `j = k`).
pub fn block_multiplicity(w: usize, r: usize, k: usize, j: usize) -> Option<u128> {
    if j > k || r > w {
        return Some(0);
    }
    sym_dim(w - r, k - j)
}

/// The relative rank tolerance: `given` (finite, in `[0, 1)`) or the default `max(n, w)·ε`.
pub fn relative_tolerance_or_default(n: usize, w: usize, given: Option<f64>) -> Result<f64> {
    match given {
        Some(t) if !(t.is_finite() && (0.0..1.0).contains(&t)) => Err(Error::parameter(
            Param::RankTolerance,
            t,
            "must be finite and in [0, 1)",
        )),
        Some(t) => Ok(t),
        None => Ok(n.max(w) as f64 * f64::EPSILON),
    }
}

/// Eigenvalues (non-increasing) and decomposition of a column Gram matrix.
fn column_gram_eigen(
    c: faer::MatRef<'_, f64>,
) -> Result<(Vec<f64>, faer::linalg::solvers::SelfAdjointEigen<f64>)> {
    let evd = c
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "span reduction (AᵀA eigendecomposition)",
            message: format!("{e:?}"),
        })?;
    let w = c.nrows();
    let s = evd.S().column_vector();
    let vals: Vec<f64> = (0..w).rev().map(|i| s[i]).collect();
    Ok((vals, evd))
}

fn count_kept(desc: &[f64], tau: f64) -> usize {
    let max = desc.first().copied().unwrap_or(0.0);
    if max <= 0.0 {
        return 0;
    }
    desc.iter().take_while(|&&l| l > tau * max).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplicities_add_up_to_the_full_dimension() {
        for w in 1..7usize {
            for r in 0..=w {
                for k in 1..5usize {
                    let total: u128 = (0..=k)
                        .map(|j| block_multiplicity(w, r, k, j).unwrap() * sym_dim(r, j).unwrap())
                        .sum();
                    assert_eq!(total, sym_dim(w, k).unwrap(), "w={w} r={r} k={k}");
                }
            }
        }
    }

    #[test]
    fn gram_preserved() {
        // w > n and w <= n rank-deficient: b_i·b_j = a_i·a_j
        let rows = vec![
            vec![1.0, 2.0, 0.0, -1.0, 0.5],
            vec![0.0, 1.0, 1.0, 1.0, -2.0],
            vec![1.0, 3.0, 1.0, 0.0, -1.5], // = row0 + row1
        ];
        for a in [
            Gradients::from_rows(&rows).unwrap(),
            Gradients::from_rows(
                &(0..5)
                    .map(|j| rows.iter().map(|r| r[j]).collect())
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
        ] {
            let red = SpanReduction::new(&a, None).unwrap();
            assert_eq!(red.rank, 2);
            for i in 0..a.n() {
                for j in 0..a.n() {
                    let want: f64 = a.row(i).iter().zip(a.row(j)).map(|(x, y)| x * y).sum();
                    let got: f64 = red
                        .coord(i)
                        .iter()
                        .zip(red.coord(j))
                        .map(|(x, y)| x * y)
                        .sum();
                    assert!(
                        (want - got).abs() < 1e-12 * (1.0 + want.abs()),
                        "{want} {got}"
                    );
                }
            }
        }
    }
}
