//! Test-only references: brute-force enumeration of every mini-batch, explicit symmetric-tensor
//! bases built from permutations, seeded random inputs. Nothing here is used by the product path.
//! The batch enumerator, the Kronecker product and the explicit basis are the library's own
//! references ([`sgdstab::verify::brute`]), so that there is one of each.

#![allow(dead_code)]

pub use sgdstab::verify::brute::{all_batches, kron_apply};
use sgdstab::{
    AnalysisReport, AnalyzeOptions, Gradients, Hooks, MethodChoice, Problem, ProblemOptions,
    Sampling, ThresholdOptions,
};

/// A small deterministic RNG (SplitMix64) so tests need no extra crates and are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    /// Uniform integer in lo..=hi.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    /// `n × w` standard normal rows.
    pub fn matrix(&mut self, n: usize, w: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| (0..w).map(|_| self.normal()).collect())
            .collect()
    }
}

/// `M = I − (η/B) Σ_i z_i a_i a_iᵀ` (`d × d`, row-major).
pub fn batch_matrix(rows: &[Vec<f64>], z: &[f64], lr: f64, b: usize) -> Vec<f64> {
    let d = rows[0].len();
    let c = lr / b as f64;
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        m[i * d + i] = 1.0;
    }
    for (row, &zi) in rows.iter().zip(z) {
        if zi == 0.0 {
            continue;
        }
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] -= c * zi * row[i] * row[j];
            }
        }
    }
    m
}

/// The orthonormal symmetric basis vectors `E_α = sqrt(α!/k!) Σ_{distinct perms} e_p`, built by
/// sorting every multi-index of `(R^d)^{⊗k}`; ordered like the library's `SymBasis`.
pub fn explicit_basis(d: usize, k: usize) -> Vec<Vec<f64>> {
    sgdstab::verify::brute::explicit_basis(d, k).unwrap()
}

/// Brute-force `T_k` on `Sym^k(R^d)` in the orthonormal basis (row-major `D × D`), by
/// enumerating every batch and projecting `M^{⊗k}` with the explicit basis.
pub fn brute_force_tk(
    rows: &[Vec<f64>],
    k: usize,
    lr: f64,
    b: usize,
    sampling: Sampling,
) -> Vec<f64> {
    let d = rows[0].len();
    let e = explicit_basis(d, k);
    let dim = e.len();
    let mut t = vec![0.0; dim * dim];
    for (z, p) in all_batches(rows.len(), b, sampling) {
        let m = batch_matrix(rows, &z, lr, b);
        for beta in 0..dim {
            let y = kron_apply(&m, d, k, &e[beta]);
            for alpha in 0..dim {
                let v: f64 = e[alpha].iter().zip(&y).map(|(a, b)| a * b).sum();
                t[alpha * dim + beta] += p * v;
            }
        }
    }
    t
}

/// Eigenvalues (ascending) of a symmetric row-major matrix, via nalgebra (independent of faer).
pub fn sym_eigenvalues(t: &[f64], dim: usize) -> Vec<f64> {
    let m = nalgebra::DMatrix::from_row_slice(dim, dim, t);
    let sym = (&m + m.transpose()) * 0.5;
    let mut v: Vec<f64> = sym.symmetric_eigenvalues().iter().copied().collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

/// Spectral radius of a symmetric row-major matrix.
pub fn radius(t: &[f64], dim: usize) -> f64 {
    sym_eigenvalues(t, dim)
        .iter()
        .fold(0.0f64, |a, v| a.max(v.abs()))
}

/// Frobenius norm.
pub fn fro(t: &[f64]) -> f64 {
    t.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The problem of `g` under `sampling`, with statistics up to order 4 (or `max_order`).
pub fn problem(g: &Gradients, sampling: Sampling, max_order: usize) -> Problem {
    Problem::from_gradients(
        g,
        &ProblemOptions::default()
            .sampling(sampling)
            .max_order(max_order.max(1)),
        Hooks::none(),
    )
    .unwrap()
}

/// `analyze` at `(lr, b)` for `opts.orders` under `sampling`.
pub fn analyze_with(
    g: &Gradients,
    lr: f64,
    b: usize,
    sampling: Sampling,
    opts: &AnalyzeOptions,
) -> AnalysisReport {
    let max = opts.orders.iter().copied().max().unwrap_or(1);
    problem(g, sampling, max)
        .analyze(lr, b, opts, Hooks::none())
        .unwrap()
}

/// `S_k` for one order at batch size `b`.
pub fn stable_set(
    g: &Gradients,
    b: usize,
    sampling: Sampling,
    k: usize,
    opts: ThresholdOptions,
) -> sgdstab::threshold::OrderStableSet {
    problem(g, sampling, k)
        .thresholds(b, &opts.orders([k]), Hooks::none())
        .unwrap()
        .orders
        .remove(0)
        .set
}

/// `S_k` with the given method.
pub fn stable_set_by(
    g: &Gradients,
    b: usize,
    sampling: Sampling,
    k: usize,
    method: MethodChoice,
) -> sgdstab::threshold::OrderStableSet {
    stable_set(
        g,
        b,
        sampling,
        k,
        ThresholdOptions::default().method(method),
    )
}

/// Orthonormal columns of a random `n × m` Gaussian matrix (modified Gram–Schmidt, twice).
pub fn orthonormal(rng: &mut Rng, n: usize, m: usize) -> Vec<Vec<f64>> {
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for _ in 0..m {
        let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        for _ in 0..2 {
            for c in &cols {
                let d: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(a, b)| *a -= d * b);
            }
        }
        let nr = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        cols.push(v.iter().map(|a| a / nr).collect());
    }
    cols
}

/// Rows `b_i` (`n × r`) with `H = (1/n) Σ b_i b_iᵀ` having eigenvalues
/// `λ_a = 10^(−8 + 8 (a/(r−1))³)`, `a = 0..r` (1 down to 1e-8, most near the bottom), in a random
/// basis.
pub fn clustered_rows(rng: &mut Rng, n: usize, r: usize) -> Vec<Vec<f64>> {
    let q = orthonormal(rng, n, r);
    let rot = orthonormal(rng, r, r);
    let lam: Vec<f64> = (0..r)
        .map(|a| 10f64.powf(-8.0 + 8.0 * (a as f64 / (r - 1) as f64).powi(3)))
        .collect();
    (0..n)
        .map(|i| {
            (0..r)
                .map(|c| {
                    (0..r)
                        .map(|a| q[a][i] * (n as f64 * lam[a]).sqrt() * rot[a][c])
                        .sum()
                })
                .collect()
        })
        .collect()
}
