//! Extreme eigenvalues of a symmetric operator by thick-restart Lanczos with full
//! reorthogonalisation (DESIGN §9).
//!
//! Each new Krylov vector is orthogonalised twice against the whole basis ("twice is enough");
//! the projected matrix `T = Vᵀ A V` is accumulated from the orthogonalisation coefficients, so a
//! restart simply keeps the `keep` Ritz vectors at each end of the spectrum plus the current
//! residual direction (the projected matrix becomes diagonal + one coupling row, filled in by the
//! next product). Ritz values are inner bounds (`θ_min >= λ_min`, `θ_max <= λ_max`).
//!
//! # Error bound
//!
//! For the reported Ritz pairs the residual `‖A x − θ x‖` (`‖x‖ = 1`) is recomputed with one
//! explicit product each: some eigenvalue lies within it of `θ`. That this eigenvalue is the
//! extreme one rests, as always with Krylov methods, on the random start vector having a component
//! along it (the dense path has no such caveat).
//!
//! All reductions use a fixed chunking, so results are bit-for-bit reproducible for a given seed.

use crate::engine::linop::SymmetricOperator;
use crate::engine::stability::Termination;
use rayon::prelude::*;
use serde::Serialize;

/// Which end(s) of the spectrum to converge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ends {
    /// Smallest and largest eigenvalues.
    Both,
    /// Largest eigenvalue only.
    Largest,
}

/// Lanczos settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosOptions {
    /// Basis size before a restart.
    pub max_basis: usize,
    /// Ritz vectors kept per end at a restart.
    pub keep: usize,
    /// Converged when the residual of each wanted Ritz pair is `<= tolerance · max|θ|`.
    pub tolerance: f64,
    /// Limit on operator applications.
    pub max_products: usize,
    /// Seed of the random start vector.
    pub seed: u64,
    /// Which end(s).
    pub ends: Ends,
}

impl Default for LanczosOptions {
    fn default() -> Self {
        LanczosOptions {
            max_basis: 80,
            keep: 8,
            tolerance: 1e-10,
            max_products: 1500,
            seed: 0x5eed,
            ends: Ends::Both,
        }
    }
}

/// Result of a Lanczos run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanczosResult {
    /// Smallest Ritz value (`NaN`-free; equals `lambda_max` for a 1×1 problem).
    pub lambda_min: f64,
    /// Largest Ritz value.
    pub lambda_max: f64,
    /// Explicit residual `‖A x − θ x‖` of the smallest Ritz pair (with [`Ends::Largest`] that
    /// end is not iterated to convergence, and this residual says how far it is).
    pub residual_min: f64,
    /// Explicit residual of the largest Ritz pair.
    pub residual_max: f64,
    /// Operator applications, including the two residual checks.
    pub products: usize,
    /// Restarts done.
    pub restarts: usize,
    /// Why it stopped.
    pub termination: Termination,
}

impl LanczosResult {
    /// `max(|λ_min|, |λ_max|)`.
    pub fn radius(&self) -> f64 {
        self.lambda_min.abs().max(self.lambda_max.abs())
    }

    /// `λ_max` alone, for operators whose spectral radius is their largest eigenvalue (even-order
    /// moment operators, by Krein–Rutman).
    pub fn top(&self) -> f64 {
        self.lambda_max
    }

    /// Error bound on the radius: the residual of the Ritz pair attaining it (both when tied).
    pub fn radius_error_bound(&self) -> f64 {
        let (a, b) = (self.lambda_min.abs(), self.lambda_max.abs());
        if a > b {
            self.residual_min
        } else if b > a {
            self.residual_max
        } else {
            self.residual_min.max(self.residual_max)
        }
    }
}

pub(crate) const CHUNK: usize = 1 << 14;

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `w -= Σ_i h_i v_i`, returns `h_i = ⟨v_i, w⟩` (classical Gram–Schmidt, one pass).
pub(crate) fn project_out(basis: &[Vec<f64>], w: &mut [f64]) -> Vec<f64> {
    let h: Vec<f64> = basis.iter().map(|v| dot(v, w)).collect();
    w.par_chunks_mut(CHUNK).enumerate().for_each(|(c, wc)| {
        let lo = c * CHUNK;
        for (v, &hi) in basis.iter().zip(&h) {
            let vc = &v[lo..lo + wc.len()];
            for (x, y) in wc.iter_mut().zip(vc) {
                *x -= hi * y;
            }
        }
    });
    h
}

/// SplitMix64 uniform in (−1, 1).
pub(crate) fn start_vector(d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..d)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            2.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        })
        .collect()
}

/// Eigen-decomposition of the small projected matrix: ascending values and vectors (columns).
pub(crate) fn small_eigen(t: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let m = t.len();
    let mat = nalgebra::DMatrix::from_fn(m, m, |i, j| 0.5 * (t[i][j] + t[j][i]));
    let eig = nalgebra::SymmetricEigen::new(mat);
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let vals = idx.iter().map(|&i| eig.eigenvalues[i]).collect();
    let vecs = idx
        .iter()
        .map(|&i| eig.eigenvectors.column(i).iter().copied().collect())
        .collect();
    (vals, vecs)
}

pub(crate) fn combine(basis: &[Vec<f64>], s: &[f64]) -> Vec<f64> {
    let d = basis[0].len();
    let mut x = vec![0.0; d];
    x.par_chunks_mut(CHUNK).enumerate().for_each(|(c, xc)| {
        let lo = c * CHUNK;
        let len = xc.len();
        for (v, &si) in basis.iter().zip(s) {
            for (o, y) in xc.iter_mut().zip(&v[lo..lo + len]) {
                *o += si * y;
            }
        }
    });
    x
}

/// Extreme eigenvalues of `op` (see the module docs).
pub fn extreme_eigenvalues(op: &dyn SymmetricOperator, opts: &LanczosOptions) -> LanczosResult {
    let d = op.dim();
    if d == 0 {
        return LanczosResult {
            lambda_min: 0.0,
            lambda_max: 0.0,
            residual_min: 0.0,
            residual_max: 0.0,
            products: 0,
            restarts: 0,
            termination: Termination::Converged,
        };
    }
    // a restart keeps up to 2·keep Ritz vectors plus one: leave room for progress
    let max_basis = opts.max_basis.max(4).min(d);
    let keep = opts
        .keep
        .max(1)
        .min((max_basis.saturating_sub(2) / 2).max(1));
    let mut v0 = start_vector(d, opts.seed);
    let n0 = norm(&v0);
    v0.iter_mut().for_each(|x| *x /= n0);
    let mut basis: Vec<Vec<f64>> = vec![v0];
    // projected matrix, grown as vectors are added
    let mut t: Vec<Vec<f64>> = vec![vec![0.0]];
    let mut products = 0usize;
    let mut restarts = 0usize;
    let mut w = vec![0.0; d];
    let termination;
    let (mut vals, mut vecs);
    loop {
        let j = basis.len() - 1;
        op.apply(&basis[j], &mut w);
        products += 1;
        let mut h = project_out(&basis, &mut w);
        let h2 = project_out(&basis, &mut w);
        for (a, b) in h.iter_mut().zip(&h2) {
            *a += b;
        }
        for (i, &hi) in h.iter().enumerate() {
            t[i][j] = hi;
            t[j][i] = hi;
        }
        let beta = norm(&w);
        (vals, vecs) = small_eigen(&t);
        let m = vals.len();
        let scale = vals[0].abs().max(vals[m - 1].abs()).max(f64::MIN_POSITIVE);
        let res = |col: usize| beta * vecs[col][j].abs();
        let converged = match opts.ends {
            Ends::Both => res(0) <= opts.tolerance * scale && res(m - 1) <= opts.tolerance * scale,
            Ends::Largest => res(m - 1) <= opts.tolerance * scale,
        };
        let invariant = beta <= 1e-14 * scale;
        if converged || invariant || basis.len() == d {
            termination = Termination::Converged;
            break;
        }
        if products >= opts.max_products {
            termination = Termination::MaxIterations;
            break;
        }
        let next: Vec<f64> = w.iter().map(|x| x / beta).collect();
        if basis.len() < max_basis {
            basis.push(next);
            for row in t.iter_mut() {
                row.push(0.0);
            }
            t.push(vec![0.0; t.len() + 1]);
            continue;
        }
        // thick restart: keep `keep` Ritz pairs at each wanted end, then the residual direction
        restarts += 1;
        let mut cols: Vec<usize> = (m - keep..m).collect();
        if opts.ends == Ends::Both {
            cols.extend(0..keep);
        }
        cols.sort_unstable();
        cols.dedup();
        let kept: Vec<Vec<f64>> = cols.iter().map(|&c| combine(&basis, &vecs[c])).collect();
        let nk = kept.len();
        basis = kept;
        basis.push(next);
        t = vec![vec![0.0; nk + 1]; nk + 1];
        for (i, &c) in cols.iter().enumerate() {
            t[i][i] = vals[c];
        }
    }
    // explicit residuals of the reported pairs
    let m = vals.len();
    let mut residual = |col: usize| -> (f64, f64) {
        let mut x = combine(&basis, &vecs[col]);
        let nx = norm(&x);
        x.iter_mut().for_each(|v| *v /= nx);
        let mut ax = vec![0.0; d];
        op.apply(&x, &mut ax);
        products += 1;
        let theta = dot(&x, &ax);
        let r: f64 = ax
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - theta * b).powi(2))
            .sum::<f64>()
            .sqrt();
        (theta, r)
    };
    let (lambda_max, residual_max) = residual(m - 1);
    let (lambda_min, residual_min) = residual(0);
    LanczosResult {
        lambda_min,
        lambda_max,
        residual_min,
        residual_max,
        products,
        restarts,
        termination,
    }
}
