//! Brute-force `T_k` by enumerating every mini-batch — **only** for `verify`'s
//! "closed form = brute force" check on tiny inputs. No number reported by `analyze`,
//! `threshold` or `diagram` comes from here.
//!
//! `T_k = Σ_batches P(batch) · M^{⊗k}` on `Sym^k(R^d)` in the orthonormal basis
//! `E_α = sqrt(α!/k!) Σ_{distinct permutations p of α} e_p` (DESIGN §5), with `M^{⊗k}` applied
//! slot by slot on the full tensor space `(R^d)^{⊗k}`.

use crate::sampling::Sampling;
use crate::symmetric::SymBasis;

/// Every batch as counts `z_i`, each with its probability: all `B`-subsets (uniform) without
/// replacement, all `n^B` ordered tuples (uniform) with replacement.
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

/// Number of batches [`all_batches`] enumerates (`None` on overflow).
pub fn batch_count(n: usize, b: usize, sampling: Sampling) -> Option<u128> {
    match sampling {
        Sampling::WithoutReplacement => crate::combinatorics::binomial(n as u128, b as u128),
        Sampling::WithReplacement => (n as u128).checked_pow(b as u32),
    }
}

fn kron_apply(m: &[f64], d: usize, k: usize, x: &[f64]) -> Vec<f64> {
    let mut cur = x.to_vec();
    for slot in 0..k {
        let stride = d.pow((k - 1 - slot) as u32);
        let mut next = vec![0.0; cur.len()];
        for (idx, out) in next.iter_mut().enumerate() {
            let i = (idx / stride) % d;
            let base = idx - i * stride;
            *out = (0..d).map(|j| m[i * d + j] * cur[base + j * stride]).sum();
        }
        cur = next;
    }
    cur
}

/// Brute-force `T_k` on `Sym^k(R^d)` for the rows `b` (`n × d`, row-major), column-major
/// `D × D` like the closed form.
pub fn brute_force_tk(
    b: &[f64],
    n: usize,
    d: usize,
    k: usize,
    lr: f64,
    batch: usize,
    sampling: Sampling,
) -> crate::Result<Vec<f64>> {
    let basis = SymBasis::new(d, k)?;
    let dim = basis.dim();
    let total = d.pow(k as u32);
    let kf: f64 = (1..=k).map(|i| i as f64).product();
    let mut e = vec![vec![0.0; total]; dim];
    for idx in 0..total {
        let mut p: Vec<u32> = (0..k)
            .map(|s| ((idx / d.pow((k - 1 - s) as u32)) % d) as u32)
            .collect();
        p.sort_unstable();
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
    let c = lr / batch as f64;
    let mut t = vec![0.0; dim * dim];
    for (z, prob) in all_batches(n, batch, sampling) {
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i * d + i] = 1.0;
        }
        for (s, &zs) in z.iter().enumerate() {
            if zs == 0.0 {
                continue;
            }
            let row = &b[s * d..(s + 1) * d];
            for i in 0..d {
                for j in 0..d {
                    m[i * d + j] -= c * zs * row[i] * row[j];
                }
            }
        }
        for beta in 0..dim {
            let y = kron_apply(&m, d, k, &e[beta]);
            for alpha in 0..dim {
                let v: f64 = e[alpha].iter().zip(&y).map(|(a, b)| a * b).sum();
                t[alpha + beta * dim] += prob * v;
            }
        }
    }
    Ok(t)
}
