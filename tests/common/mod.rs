//! Test-only references: brute-force enumeration of every mini-batch, explicit symmetric-tensor
//! bases built from permutations, seeded random inputs. Nothing here is used by the product path.

#![allow(dead_code)]

use sgdstab::symmetric::SymBasis;
use sgdstab::Sampling;

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

/// Every batch with its probability: for without replacement all B-subsets (uniform), for with
/// replacement all n^B ordered tuples (uniform). Each batch is returned as counts z_i.
pub fn all_batches(n: usize, b: usize, sampling: Sampling) -> Vec<(Vec<f64>, f64)> {
    let mut out = Vec::new();
    match sampling {
        Sampling::WithoutReplacement => {
            let mut idx: Vec<usize> = (0..b).collect();
            loop {
                let mut z = vec![0.0; n];
                for &i in &idx {
                    z[i] = 1.0;
                }
                out.push(z);
                // next combination
                let mut t = b;
                while t > 0 && idx[t - 1] == n - b + t - 1 {
                    t -= 1;
                }
                if t == 0 {
                    break;
                }
                idx[t - 1] += 1;
                for s in t..b {
                    idx[s] = idx[s - 1] + 1;
                }
            }
        }
        Sampling::WithReplacement => {
            let mut idx = vec![0usize; b];
            loop {
                let mut z = vec![0.0; n];
                for &i in &idx {
                    z[i] += 1.0;
                }
                out.push(z);
                let mut t = 0;
                while t < b {
                    idx[t] += 1;
                    if idx[t] < n {
                        break;
                    }
                    idx[t] = 0;
                    t += 1;
                }
                if t == b {
                    break;
                }
            }
        }
    }
    let p = 1.0 / out.len() as f64;
    out.into_iter().map(|z| (z, p)).collect()
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

/// `y = M^{⊗k} x` on the full tensor space `(R^d)^{⊗k}` (flattened, slot 0 most significant).
pub fn kron_apply(m: &[f64], d: usize, k: usize, x: &[f64]) -> Vec<f64> {
    let mut cur = x.to_vec();
    for slot in 0..k {
        let stride = d.pow((k - 1 - slot) as u32);
        let mut next = vec![0.0; cur.len()];
        for (idx, out) in next.iter_mut().enumerate() {
            let i = (idx / stride) % d;
            let base = idx - i * stride;
            let mut acc = 0.0;
            for j in 0..d {
                acc += m[i * d + j] * cur[base + j * stride];
            }
            *out = acc;
        }
        cur = next;
    }
    cur
}

/// The orthonormal symmetric basis vectors `E_α = sqrt(α!/k!) Σ_{distinct perms} e_p`, built by
/// sorting every multi-index of `(R^d)^{⊗k}`; ordered like the library's [`SymBasis`].
pub fn explicit_basis(d: usize, k: usize) -> Vec<Vec<f64>> {
    let basis = SymBasis::new(d, k).unwrap();
    let total = d.pow(k as u32);
    let kf: f64 = (1..=k).map(|i| i as f64).product();
    let mut e = vec![vec![0.0; total]; basis.dim()];
    for idx in 0..total {
        let mut p: Vec<u32> = (0..k)
            .map(|s| ((idx / d.pow((k - 1 - s) as u32)) % d) as u32)
            .collect();
        p.sort_unstable();
        // α! from multiplicities
        let mut fact = 1.0;
        let mut run = 1.0;
        for t in 1..k {
            if p[t] == p[t - 1] {
                run += 1.0;
                fact *= run;
            } else {
                run = 1.0;
            }
        }
        e[basis.rank(&p)][idx] = (fact / kf).sqrt();
    }
    e
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
