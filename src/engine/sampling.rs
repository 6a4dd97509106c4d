//! Mini-batch sampling schemes and the exact batch moments they induce.
//!
//! A batch of size `B` is drawn from `{1..n}`; `z_i` counts how often sample `i` is in it.
//! The closed-form expectation of `M^{⊗k}`, `M = I - (η/B) Σ_i z_i H_i` (DESIGN §3), needs the
//! joint moments of the `z_i` only through one scalar per integer partition `λ` of
//! `m <= k`, the Möbius-inverted weight
//!
//! ```text
//! κ(π) = Σ_{σ ≤ π} w(σ) Π_{b ∈ π} (−1)^{ℓ_b − 1} (ℓ_b − 1)!,
//! ```
//!
//! where `w(σ) = E[Π_{b ∈ σ} z_{i_b}^{|b|}]` for pairwise distinct indices. This module computes
//! `κ(λ)` by generating polynomials: writing `z^s = Σ_l S2(s, l) (z)_l` (falling factorials),
//! the distinct-index factorial moments are
//!
//! - without replacement (the paper's eq. (15)): `(B)_L / (n)_L` when every `l_b = 1`, else 0
//!   (the `z_i` are 0/1);
//! - with replacement (B i.i.d. uniform draws): `(B)_L / n^L` (multinomial),
//!
//! with `L = Σ_b l_b`. Each block of size `s` contributes the polynomial `h_s(y) = y`
//! (without) or `Σ_l S2(s, l) y^l` (with), each block of `π` of size `ℓ` the polynomial
//! `g_ℓ(y) = Σ_{ρ ⊢ ℓ} #ρ · (−1)^{len ρ − 1} (len ρ − 1)! · Π_{s ∈ ρ} h_s(y)`, and
//! `κ(λ) = φ(Π_j g_{λ_j})` with the linear functional `φ(y^L)` = the factorial moment above.

use crate::engine::combinatorics::{
    factorial, multiplicity_factorials, partitions, set_partitions_of_shape, stirling2_table,
};
use crate::error::{Error, Param, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a mini-batch is drawn.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// A uniform `B`-subset of `{1..n}` (the paper's eq. (15)); the default.
    #[default]
    WithoutReplacement,
    /// `B` independent uniform indices.
    WithReplacement,
}

impl Sampling {
    /// The name used in reports: `"without-replacement"` or `"with-replacement"`.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::WithoutReplacement => "without-replacement",
            Sampling::WithReplacement => "with-replacement",
        }
    }

    /// Both schemes, default first.
    pub const ALL: [Sampling; 2] = [Sampling::WithoutReplacement, Sampling::WithReplacement];
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Sampling {
    type Err = String;
    /// Accepts `without`, `with`, and the report names `without-replacement`, `with-replacement`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "without" | "without-replacement" => Ok(Sampling::WithoutReplacement),
            "with" | "with-replacement" => Ok(Sampling::WithReplacement),
            other => Err(format!(
                "unknown sampling scheme '{other}' (expected 'without' or 'with')"
            )),
        }
    }
}

/// Exact batch statistics for `n` samples, batch size `B` and a sampling scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchModel {
    /// Number of samples `n >= 1`.
    pub n: usize,
    /// Batch size `1 <= B <= n`.
    pub batch: usize,
    /// The sampling scheme.
    pub sampling: Sampling,
}

impl BatchModel {
    /// Checks `n >= 1` and `1 <= B <= n`.
    pub fn new(n: usize, batch: usize, sampling: Sampling) -> Result<Self> {
        if n == 0 {
            return Err(Error::parameter(
                Param::Grads,
                n,
                "need at least one sample",
            ));
        }
        if batch == 0 || batch > n {
            return Err(Error::parameter(
                Param::Batch,
                batch,
                format!("the batch size must satisfy 1 <= B <= n = {n}"),
            ));
        }
        Ok(BatchModel { n, batch, sampling })
    }

    /// `φ(y^L)`: the factorial moment `E[Π_b (z_{i_b})_{l_b}]` over pairwise distinct indices
    /// with `Σ l_b = L` (for without replacement, the value when every `l_b = 1`).
    pub fn factorial_moment(&self, total: usize) -> f64 {
        let (n, b) = (self.n as f64, self.batch as f64);
        if total > self.batch {
            return 0.0;
        }
        let mut acc = 1.0;
        for j in 0..total {
            let j = j as f64;
            acc *= match self.sampling {
                Sampling::WithoutReplacement => (b - j) / (n - j),
                Sampling::WithReplacement => (b - j) / n,
            };
        }
        acc
    }

    /// `p = E`-weight of `Σ` in Prop. 1: `E[MᵀM] = (I − ηH)² + η² p Σ`, with
    /// `p = (n − B)/(B(n − 1))` without replacement (0 when `n = 1`) and `p = 1/B` with.
    pub fn prop1_weight(&self) -> f64 {
        let (n, b) = (self.n as f64, self.batch as f64);
        match self.sampling {
            Sampling::WithoutReplacement => {
                if self.n == 1 {
                    0.0
                } else {
                    (n - b) / (b * (n - 1.0))
                }
            }
            Sampling::WithReplacement => 1.0 / b,
        }
    }

    /// The table of normal-ordered weights for all integer partitions `λ` of `m <= k`.
    pub fn kappa_table(&self, k: usize) -> KappaTable {
        KappaTable::new(self, k)
    }
}

/// A polynomial in one formal variable `y`, coefficients by degree.
fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        if x == 0.0 {
            continue;
        }
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// One entry of a [`KappaTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct KappaEntry {
    /// The integer partition `λ` (non-increasing parts) of `m = Σ λ_j`.
    pub shape: Vec<usize>,
    /// `κ(λ)` of DESIGN §3.
    pub kappa: f64,
    /// `κ(λ) / (Π_j λ_j! · Π_s mult_s!)`: the weight of the normal-ordered product
    /// `:Π_j P̂_{λ_j}:` in `T_k` (before the factor `(−η/B)^m`).
    pub weight: f64,
}

/// `κ(λ)` for every integer partition `λ` of every `m <= k`, for one [`BatchModel`].
#[derive(Debug, Clone)]
pub struct KappaTable {
    /// Entries grouped by `m`: `by_order[m]` lists the partitions of `m`.
    pub by_order: Vec<Vec<KappaEntry>>,
}

impl KappaTable {
    fn new(model: &BatchModel, k: usize) -> Self {
        let s2 = stirling2_table(k.max(1));
        // h_s(y) for a block of σ of size s.
        let h = |s: usize| -> Vec<f64> {
            match model.sampling {
                Sampling::WithoutReplacement => vec![0.0, 1.0],
                Sampling::WithReplacement => s2[s][..=s].to_vec(),
            }
        };
        // g_ℓ(y) for a block of π of size ℓ (sum over refinements ρ of the block).
        let g: Vec<Vec<f64>> = (0..=k)
            .map(|l| {
                if l == 0 {
                    return vec![1.0];
                }
                let mut acc = vec![0.0; l + 1];
                for rho in partitions(l) {
                    let parts = rho.len();
                    let mobius = if parts % 2 == 1 { 1.0 } else { -1.0 } * factorial(parts - 1);
                    let c = set_partitions_of_shape(&rho) * mobius;
                    let mut p = vec![1.0];
                    for &s in &rho {
                        p = poly_mul(&p, &h(s));
                    }
                    for (d, v) in p.iter().enumerate() {
                        acc[d] += c * v;
                    }
                }
                acc
            })
            .collect();
        let phi: Vec<f64> = (0..=k).map(|l| model.factorial_moment(l)).collect();
        let by_order = (0..=k)
            .map(|m| {
                partitions(m)
                    .into_iter()
                    .map(|shape| {
                        let mut p = vec![1.0];
                        for &l in &shape {
                            p = poly_mul(&p, &g[l]);
                        }
                        let kappa: f64 = p.iter().zip(&phi).map(|(c, f)| c * f).sum();
                        let mut denom = multiplicity_factorials(&shape);
                        for &l in &shape {
                            denom *= factorial(l);
                        }
                        KappaEntry {
                            weight: kappa / denom,
                            kappa,
                            shape,
                        }
                    })
                    .collect()
            })
            .collect();
        KappaTable { by_order }
    }

    /// The entry for partition `shape` (non-increasing parts).
    pub fn get(&self, shape: &[usize]) -> Option<&KappaEntry> {
        let m: usize = shape.iter().sum();
        self.by_order.get(m)?.iter().find(|e| e.shape == shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: E[Π_b z_{i_b}^{|b|}] over all batches, for distinct indices 0..blocks.
    fn brute_w(n: usize, b: usize, sampling: Sampling, sizes: &[usize]) -> f64 {
        let mut total = 0.0;
        let mut count = 0.0;
        match sampling {
            Sampling::WithoutReplacement => {
                for mask in 0u32..(1 << n) {
                    if mask.count_ones() as usize != b {
                        continue;
                    }
                    let v: f64 = sizes
                        .iter()
                        .enumerate()
                        .map(|(i, _)| ((mask >> i) & 1) as f64)
                        .product();
                    total += v;
                    count += 1.0;
                }
            }
            Sampling::WithReplacement => {
                let mut idx = vec![0usize; b];
                loop {
                    let mut z = vec![0.0f64; n];
                    for &i in &idx {
                        z[i] += 1.0;
                    }
                    total += sizes
                        .iter()
                        .enumerate()
                        .map(|(i, &s)| z[i].powi(s as i32))
                        .product::<f64>();
                    count += 1.0;
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
        total / count
    }

    #[test]
    fn kappa_of_small_shapes_matches_the_k2_closed_form() {
        for sampling in Sampling::ALL {
            let m = BatchModel::new(7, 3, sampling).unwrap();
            let t = m.kappa_table(2);
            let p1 = brute_w(7, 3, sampling, &[1]);
            let p11 = brute_w(7, 3, sampling, &[1, 1]);
            let p2 = brute_w(7, 3, sampling, &[2]);
            assert!((t.get(&[1]).unwrap().kappa - p1).abs() < 1e-15);
            assert!((t.get(&[1, 1]).unwrap().kappa - p11).abs() < 1e-15);
            assert!((t.get(&[2]).unwrap().kappa - (p2 - p11)).abs() < 1e-15);
        }
    }

    #[test]
    fn kappa_three_block_is_the_mobius_inversion_of_brute_force_moments() {
        // κ((3)) = w(123) − w(12|3) − w(13|2) − w(23|1) + 2 w(1|2|3)
        for sampling in Sampling::ALL {
            let (n, b) = (6, 4);
            let m = BatchModel::new(n, b, sampling).unwrap();
            let t = m.kappa_table(3);
            let want = brute_w(n, b, sampling, &[3]) - 3.0 * brute_w(n, b, sampling, &[2, 1])
                + 2.0 * brute_w(n, b, sampling, &[1, 1, 1]);
            assert!(
                (t.get(&[3]).unwrap().kappa - want).abs() < 1e-14,
                "{sampling}"
            );
            // κ((2,1)) = w(12|3) − w(1|2|3)
            let want = brute_w(n, b, sampling, &[2, 1]) - brute_w(n, b, sampling, &[1, 1, 1]);
            assert!((t.get(&[2, 1]).unwrap().kappa - want).abs() < 1e-14);
        }
    }

    #[test]
    fn prop1_weight_matches_kappas() {
        for sampling in Sampling::ALL {
            let (n, b) = (9, 4);
            let m = BatchModel::new(n, b, sampling).unwrap();
            let t = m.kappa_table(2);
            // c² E[S²] = η²[ n² κ(1,1)/B² H² + n κ(2)/B² Σ̄ ], and Σ̄ = Σ + H².
            let k11 = t.get(&[1, 1]).unwrap().kappa;
            let k2 = t.get(&[2]).unwrap().kappa;
            let coef_sigma_bar = n as f64 * k2 / (b * b) as f64;
            let coef_h2 = (n * n) as f64 * k11 / (b * b) as f64;
            assert!((coef_sigma_bar - m.prop1_weight()).abs() < 1e-15);
            assert!((coef_h2 + coef_sigma_bar - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn batch_size_checks() {
        assert!(BatchModel::new(5, 0, Sampling::WithoutReplacement).is_err());
        assert!(BatchModel::new(5, 6, Sampling::WithReplacement).is_err());
        assert!(BatchModel::new(5, 5, Sampling::WithoutReplacement).is_ok());
    }

    #[test]
    fn full_batch_without_replacement_is_deterministic() {
        // B = n: every z_i = 1, so only the all-singleton shapes survive: κ(λ) = 0 unless λ = 1^m.
        let m = BatchModel::new(5, 5, Sampling::WithoutReplacement).unwrap();
        let t = m.kappa_table(4);
        for (order, entries) in t.by_order.iter().enumerate() {
            for e in entries {
                let want = if e.shape.iter().all(|&p| p == 1) {
                    1.0
                } else {
                    0.0
                };
                assert!((e.kappa - want).abs() < 1e-14, "{order} {:?}", e.shape);
            }
        }
    }
}
