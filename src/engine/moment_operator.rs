//! The batch-averaged moment operator `T_k^{η,B} = E[(I − (η/B) Σ_i z_i H_i)^{⊗k}]` of eq. (16),
//! restricted to symmetric tensors, in closed form (DESIGN §3) — no batch is ever enumerated.
//!
//! # Formula
//!
//! In the polynomial picture of [`crate::engine::symmetric`] (tensor `X` ↔ `p(x) = ⟨X, x^{⊗k}⟩`,
//! `M^{⊗k}` ↔ `p ↦ p(Mx)`), Taylor expansion of `p(x − c S x)`, `c = η/B`, and the Möbius
//! inversion of the batch moments give
//!
//! ```text
//! T_k = Σ_{m=0}^{k} (−c)^m Σ_{λ ⊢ m} κ(λ) / (Π_j λ_j! Π_s mult_s!) · :Π_j P̂_{λ_j}: ,
//! P̂_ℓ = Σ_i (b_i·x)^ℓ (b_i·∇)^ℓ,
//! ```
//!
//! with `κ(λ)` from [`crate::engine::sampling`]. The normal-ordered product of the `P̂` is the product of
//! the bihomogeneous polynomials `K^{(ℓ)}(x, y) = Σ_i (b_i·x)^ℓ (b_i·y)^ℓ`, so the degree-`m` part
//! is `L^{(m)} = Σ_{λ ⊢ m} weight(λ) Π_j K^{(λ_j)}`, embedded into degree `k` by the identity on
//! the untouched `k − m` slots. Grouping partitions by their smallest part `ℓ`,
//! `L^{(m)} = Σ_ℓ A_{m,ℓ} ⊙ K^{(ℓ)}` with `A_{m,ℓ}` a combination of lower-degree products, which
//! costs `k` products per degree instead of one per partition. In the orthonormal basis `E_α`
//!
//! ```text
//! T[α, β] = sqrt(α! β!) Σ_m (−c)^m Σ_{ν ⊆ α ∩ β, |ν| = k − m} L^{(m)}[α − ν, β − ν] / ν!,
//! ```
//!
//! a real symmetric `D × D` matrix, `D = C(r + k − 1, k)`.
//!
//! `T_k(η) = Σ_{j=0}^{k} η^j C_j` with `C_0 = I` and `C_j = (−1/B)^j · (degree-j part)`
//! ([`MomentTerms::coefficient`]).
//!
//! # Cost
//!
//! `K^{(ℓ)}`: `O(n D_ℓ²)` (a GEMM; the top degree is added straight into `T`); products
//! `A_{k,ℓ} ⊙ K^{(ℓ)}`: `O(D_{k−ℓ}² D_ℓ²)`; embedding: `O(D_{k−m} D_m²)`. All below the `O(D³)`
//! eigensolve.

use crate::engine::combinatorics::partitions;
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::{BatchModel, KappaTable};
use crate::engine::symmetric::{
    add_power_sum, bi_product, embed_identity, power_sum, BiPoly, SymAlgebra,
};
use crate::error::{Error, Param, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// The degree-wise building blocks of `T_k` for one reduced problem, one batch model and one `k`,
/// independent of `η`. Assemble any `Σ_m s_m (degree-m part)` with [`MomentTerms::assemble`].
#[derive(Debug, Clone)]
pub struct MomentTerms<'a> {
    alg: SymAlgebra,
    b: &'a [f64],
    n: usize,
    k: usize,
    batch: usize,
    absolute: bool,
    /// `K^{(ℓ)}` for `ℓ = 1..k−1` (index `ℓ`; index 0 unused).
    powers: Vec<BiPoly>,
    /// `L^{(m)}` for `m = 1..k−1` (index `m`).
    lower: Vec<BiPoly>,
    /// `A_{k,ℓ}` for `ℓ = 1..k−1` (index `ℓ`).
    top_prefix: Vec<BiPoly>,
    /// `A_{k,k}` (a scalar: `weight((k))`).
    top_scalar: f64,
}

impl<'a> MomentTerms<'a> {
    /// Precomputes the terms of `T_k` for the reduced coordinates `b` (`n × r`, row-major).
    ///
    /// With `absolute`, every coordinate and weight is replaced by its absolute value: the
    /// assembled matrix then bounds the magnitude of everything summed into each entry, which
    /// gives the rounding-error bound of [`DenseMoment::build_error_bound`].
    pub fn new(
        b: &'a [f64],
        n: usize,
        r: usize,
        k: usize,
        model: &BatchModel,
        absolute: bool,
    ) -> Result<Self> {
        if k == 0 {
            return Err(Error::parameter(Param::Orders, 0, "orders start at k = 1"));
        }
        debug_assert_eq!(b.len(), n * r);
        let alg = SymAlgebra::new(r, k)?;
        let kappa: KappaTable = model.kappa_table(k);
        let weight = |shape: &[usize]| -> f64 {
            let w = kappa.get(shape).map_or(0.0, |e| e.weight);
            if absolute {
                w.abs()
            } else {
                w
            }
        };
        let mut powers = vec![BiPoly::one()];
        for l in 1..k {
            powers.push(power_sum(&alg, l, b, n, absolute));
        }
        // Products Π_j K^{(λ_j)} for every partition λ of size < k (prefix products).
        let mut prod: BTreeMap<Vec<usize>, BiPoly> = BTreeMap::new();
        prod.insert(Vec::new(), BiPoly::one());
        for s in 1..k {
            for lambda in partitions(s) {
                let (&last, head) = lambda.split_last().expect("non-empty partition"); // invariant: s >= 1
                let p = if head.is_empty() {
                    powers[last].clone()
                } else {
                    let mut out = BiPoly::zeros(&alg, s);
                    bi_product(&alg, &prod[head], &powers[last], 1.0, &mut out.data);
                    out
                };
                prod.insert(lambda, p);
            }
        }
        // A_{m,ℓ} = Σ_{λ' ⊢ m−ℓ, parts >= ℓ} weight(λ' ∪ {ℓ}) Π K^{(λ')}
        let prefix = |m: usize, l: usize| -> BiPoly {
            let mut a = BiPoly::zeros(&alg, m - l);
            for lp in partitions(m - l) {
                if lp.last().is_some_and(|&p| p < l) {
                    continue;
                }
                let mut shape = lp.clone();
                shape.push(l);
                let wgt = weight(&shape);
                if wgt != 0.0 {
                    a.axpy(wgt, &prod[&lp]);
                }
            }
            a
        };
        let mut lower = vec![BiPoly::one()];
        for m in 1..k {
            let mut lm = BiPoly::zeros(&alg, m);
            for l in 1..=m {
                let a = prefix(m, l);
                if l == m {
                    lm.axpy(a.data[0], &powers[m]);
                } else {
                    bi_product(&alg, &a, &powers[l], 1.0, &mut lm.data);
                }
            }
            lower.push(lm);
        }
        let mut top_prefix = vec![BiPoly::one()];
        for l in 1..k {
            top_prefix.push(prefix(k, l));
        }
        let top_scalar = weight(&[k]);
        Ok(MomentTerms {
            alg,
            b,
            n,
            k,
            batch: model.batch,
            absolute,
            powers,
            lower,
            top_prefix,
            top_scalar,
        })
    }

    /// `D = C(r + k − 1, k)`.
    pub fn dim(&self) -> usize {
        self.alg.basis(self.k).dim()
    }

    /// The order `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The symmetric-tensor algebra (bases of degrees `0..=k`).
    pub fn algebra(&self) -> &SymAlgebra {
        &self.alg
    }

    /// `Σ_{m=0}^{k} scales[m] · (degree-m part of T_k)` in the orthonormal basis, as a
    /// column-major `D × D` matrix. `scales[m] = (−η/B)^m` gives `T_k^{η,B}`.
    pub fn assemble(&self, scales: &[f64]) -> Vec<f64> {
        let k = self.k;
        assert_eq!(scales.len(), k + 1, "one scale per degree 0..=k");
        let basis = self.alg.basis(k);
        let d = basis.dim();
        let mut out = vec![0.0; d * d];
        if d == 0 {
            return out;
        }
        if scales[0] != 0.0 {
            for a in 0..d {
                out[a + a * d] += scales[0] / basis.factorial(a);
            }
        }
        for m in 1..k {
            if scales[m] != 0.0 {
                embed_identity(&self.alg, k - m, &self.lower[m], scales[m], &mut out);
            }
        }
        if scales[k] != 0.0 {
            for l in 1..k {
                bi_product(
                    &self.alg,
                    &self.top_prefix[l],
                    &self.powers[l],
                    scales[k],
                    &mut out,
                );
            }
            if self.top_scalar != 0.0 {
                let r = self.alg.r();
                add_power_sum(
                    &self.alg,
                    k,
                    self.b,
                    self.n,
                    r,
                    scales[k] * self.top_scalar,
                    self.absolute,
                    &mut out,
                );
            }
        }
        // monomial normal-ordered coefficients → orthonormal basis: × sqrt(α! β!)
        let sf: Vec<f64> = (0..d).map(|a| basis.factorial(a).sqrt()).collect();
        out.par_chunks_mut(d).enumerate().for_each(|(beta, col)| {
            let sb = sf[beta];
            for (x, &sa) in col.iter_mut().zip(&sf) {
                *x *= sa * sb;
            }
        });
        out
    }

    /// `T_k^{η,B}` as a column-major `D × D` matrix.
    pub fn operator(&self, lr: f64) -> Vec<f64> {
        let c = lr / self.batch as f64;
        let scales: Vec<f64> = (0..=self.k)
            .map(|m| {
                let s = c.powi(m as i32);
                if self.absolute || m % 2 == 0 {
                    s
                } else {
                    -s
                }
            })
            .collect();
        self.assemble(&scales)
    }

    /// `C_j` of `T_k(η) = Σ_j η^j C_j` (column-major `D × D`).
    pub fn coefficient(&self, j: usize) -> Vec<f64> {
        let mut scales = vec![0.0; self.k + 1];
        let s = (1.0 / self.batch as f64).powi(j as i32);
        scales[j] = if j % 2 == 0 { s } else { -s };
        self.assemble(&scales)
    }
}

/// A dense `T_k^{η,B}` on `Sym^k(R^r)` with what is needed to bound its rounding error.
#[derive(Debug, Clone)]
pub struct DenseMoment {
    /// The order `k`.
    pub k: usize,
    /// `D`.
    pub dim: usize,
    /// Column-major `D × D`, symmetric.
    pub matrix: Vec<f64>,
    /// Frobenius norm of the matrix.
    pub frobenius: f64,
    /// Frobenius norm of the same assembly with absolute values everywhere (bounds the magnitude
    /// of all summands of every entry).
    pub abs_frobenius: f64,
    /// Number of samples (enters the rounding bound of the Gram sums).
    pub n: usize,
}

impl DenseMoment {
    /// Builds `T_k^{η,B}` on the reduced problem; checks `D` against the memory budget first
    /// (`budget_bytes`: about four `D × D` matrices are live at once).
    pub fn build(
        red: &SpanReduction,
        k: usize,
        lr: f64,
        model: &BatchModel,
        budget_bytes: u128,
    ) -> Result<Self> {
        Self::build_from_coords(&red.coords, red.n, red.rank, k, lr, model, budget_bytes)
    }

    /// As [`DenseMoment::build`], from raw reduced coordinates (`n × r`, row-major).
    pub fn build_from_coords(
        b: &[f64],
        n: usize,
        r: usize,
        k: usize,
        lr: f64,
        model: &BatchModel,
        budget_bytes: u128,
    ) -> Result<Self> {
        check_dense_budget(r, k, budget_bytes)?;
        let terms = MomentTerms::new(b, n, r, k, model, false)?;
        let matrix = terms.operator(lr);
        drop(terms);
        let abs = MomentTerms::new(b, n, r, k, model, true)?.operator(lr);
        let abs_frobenius = abs.iter().map(|x| x * x).sum::<f64>().sqrt();
        drop(abs);
        let frobenius = matrix.iter().map(|x| x * x).sum::<f64>().sqrt();
        let dim = (matrix.len() as f64).sqrt().round() as usize;
        Ok(DenseMoment {
            k,
            dim,
            matrix,
            frobenius,
            abs_frobenius,
            n,
        })
    }

    /// A first-order bound on `‖fl(T) − T‖_2` from the assembly, `γ · ‖T_abs‖_F` with
    /// `T_abs` the same assembly with absolute values everywhere (so `|fl(T) − T| <= γ T_abs`
    /// entrywise, and the Frobenius norm bounds the 2-norm), and
    ///
    /// ```text
    /// γ = u · [ k (n + 2k + 6) + C(k, ⌊k/2⌋)² + p(k) + k + 4 ],   u = ε/2:
    /// ```
    ///
    /// each of at most `k` factors `K^{(ℓ)}` carries an `n`-term sum and `2ℓ + 3` products; the
    /// products of polynomials sum at most `C(k, ⌊k/2⌋)²` split pairs per entry; the weights
    /// combine at most `p(k)` partitions; the assembly adds `k + 1` degrees and scales by
    /// `sqrt(α!β!)`.
    pub fn build_error_bound(&self) -> f64 {
        Self::assembly_gamma(self.k, self.n) * self.abs_frobenius
    }

    /// The factor `γ` of [`DenseMoment::build_error_bound`] for order `k` and `n` samples.
    pub fn assembly_gamma(k: usize, n: usize) -> f64 {
        let u = f64::EPSILON / 2.0;
        let kf = k as f64;
        let half = crate::engine::combinatorics::binomial(k as u128, (k / 2) as u128)
            .map_or(f64::MAX, |c| c as f64);
        let parts = crate::engine::combinatorics::partitions(k).len() as f64;
        u * (kf * (n as f64 + 2.0 * kf + 6.0) + half * half + parts + kf + 4.0)
    }
}

/// Bytes the dense path needs for `Sym^k(R^r)`: four `D_k × D_k` `f64` matrices (the operator,
/// the eigensolver's copy, eigenvectors, workspace) plus the tables of [`MomentTerms::new`]:
/// one `D_s × D_s` product `Π K^{(λ_j)}` per partition `λ ⊢ s` for every `s < k`, and the
/// `K^{(ℓ)}`, `L^{(m)}`, `A_{k,ℓ}` (three per degree below `k`). For small `r` and large `k` the
/// tables dominate (`r = 3`, `k = 32`: about 15 GB against 2.5 MB for the operator).
pub fn dense_bytes(r: usize, k: usize) -> Option<u128> {
    use crate::engine::combinatorics::partition_count;
    let d = crate::engine::combinatorics::sym_dim(r, k)?;
    let mut total = d.checked_mul(d)?.checked_mul(8 * 4)?;
    for s in 1..k {
        let ds = crate::engine::combinatorics::sym_dim(r, s)?;
        let count = partition_count(s)?.checked_add(3)?;
        total = total.checked_add(ds.checked_mul(ds)?.checked_mul(count)?.checked_mul(8)?)?;
    }
    Some(total)
}

/// Errors with [`Error::TooLarge`] if the dense `T_k` on `Sym^k(R^r)` exceeds the budget.
pub fn check_dense_budget(r: usize, k: usize, budget_bytes: u128) -> Result<()> {
    let d = crate::engine::combinatorics::sym_dim(r, k);
    let need = dense_bytes(r, k);
    match need {
        Some(b) if b <= budget_bytes => Ok(()),
        _ => Err(Error::too_large(
            format!(
                "the dense operator T_{k} on Sym^{k}(R^{r}) (D = {} rows)",
                d.map_or("> 3.4e38".to_string(), |d| d.to_string())
            ),
            need.unwrap_or(u128::MAX),
            budget_bytes,
            "lower the order k or the number of samples (r <= n), or raise SGDSTAB_MEMORY_BYTES",
        )),
    }
}
