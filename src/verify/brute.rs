//! Brute-force `T_k` by enumerating every mini-batch — **only** for `verify`'s
//! "closed form = brute force" check on tiny inputs. No number reported by `analyze`,
//! `threshold` or `diagram` comes from here.
//!
//! `T_k = Σ_batches P(batch) · M^{⊗k}` on `Sym^k(R^d)` in the orthonormal basis
//! `E_α = sqrt(α!/k!) Σ_{distinct permutations p of α} e_p` (DESIGN §5), with `M^{⊗k}` applied
//! slot by slot on the full tensor space `(R^d)^{⊗k}`.

use crate::engine::sampling::Sampling;
use crate::engine::symmetric::SymBasis;

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
        Sampling::WithoutReplacement => {
            crate::engine::combinatorics::binomial(n as u128, b as u128)
        }
        Sampling::WithReplacement => (n as u128).checked_pow(b as u32),
    }
}

/// `y = M^{⊗k} x` on the full tensor space `(R^d)^{⊗k}` (flattened, slot 0 most significant;
/// `M` row-major `d × d`), slot by slot.
pub fn kron_apply(m: &[f64], d: usize, k: usize, x: &[f64]) -> Vec<f64> {
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

/// The orthonormal basis `E_α = sqrt(α!/k!) Σ_{distinct permutations p of α} e_p` of
/// `Sym^k(R^d)` (DESIGN §5) as vectors of `(R^d)^{⊗k}` (flattened as in [`kron_apply`]), built by
/// sorting every multi-index; ordered like [`SymBasis`].
pub fn explicit_basis(d: usize, k: usize) -> crate::Result<Vec<Vec<f64>>> {
    let basis = SymBasis::new(d, k)?;
    let total = d.pow(k as u32);
    let kf: f64 = (1..=k).map(|i| i as f64).product();
    let mut e = vec![vec![0.0; total]; basis.dim()];
    for idx in 0..total {
        let mut p: Vec<u32> = (0..k)
            .map(|s| ((idx / d.pow((k - 1 - s) as u32)) % d) as u32)
            .collect();
        p.sort_unstable();
        // α! from the multiplicities
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
    Ok(e)
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
    let e = explicit_basis(d, k)?;
    let dim = e.len();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_once_with_uniform_probability() {
        for sampling in Sampling::ALL {
            for (n, b) in [(1, 1), (4, 2), (5, 3), (3, 3)] {
                let all = all_batches(n, b, sampling);
                assert_eq!(all.len() as u128, batch_count(n, b, sampling).unwrap());
                let total: f64 = all.iter().map(|(_, p)| p).sum();
                assert!((total - 1.0).abs() < 1e-12);
                for (z, _) in &all {
                    assert_eq!(z.iter().sum::<f64>(), b as f64);
                    if sampling == Sampling::WithoutReplacement {
                        assert!(z.iter().all(|&c| c == 0.0 || c == 1.0));
                    }
                }
                // distinct batches (without replacement: subsets; with: ordered tuples, so the
                // counts repeat exactly as multinomial coefficients)
                if sampling == Sampling::WithoutReplacement {
                    let mut seen: Vec<&Vec<f64>> = all.iter().map(|(z, _)| z).collect();
                    seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    seen.dedup();
                    assert_eq!(seen.len(), all.len());
                }
            }
        }
    }

    #[test]
    fn the_explicit_basis_is_orthonormal() {
        for (d, k) in [(2, 2), (3, 3), (2, 4)] {
            let e = explicit_basis(d, k).unwrap();
            for a in 0..e.len() {
                for b in 0..e.len() {
                    let dot: f64 = e[a].iter().zip(&e[b]).map(|(x, y)| x * y).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-14, "d={d} k={k} {a} {b}");
                }
            }
        }
    }
}
