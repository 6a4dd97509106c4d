//! Symmetric tensors `Sym^k(R^r)` and the polynomial algebra used to assemble `T_k` exactly.
//!
//! # Basis and ordering
//!
//! A basis element is a multiset `α` of size `k` from `{0..r}`, stored as a non-decreasing index
//! array `α_0 <= α_1 <= ... <= α_{k-1}`. Elements are numbered by the colexicographic rank
//! `rank(α) = Σ_t C(α_t + t, t + 1)`, a bijection onto `0..D`, `D = C(r + k − 1, k)`.
//! The orthonormal basis of DESIGN §5 is
//!
//! ```text
//! E_α = sqrt(α!/k!) Σ_{distinct permutations p of α} e_p,        α! = Π_v mult_v(α)!
//! ```
//!
//! # Polynomial picture
//!
//! A symmetric tensor `X` is the homogeneous polynomial `p_X(x) = ⟨X, x^{⊗k}⟩`; `E_α` becomes
//! `sqrt(k!/α!) x^α` and `M^{⊗k}` becomes `p(x) ↦ p(Mx)` (for symmetric `M`). Operators are
//! written normal-ordered, `Σ_{γ,δ} P[γ, δ] x^γ ∂^δ`, and stored as the coefficient matrix of the
//! bihomogeneous polynomial `P(x, y) = Σ P[γ, δ] x^γ y^δ` ([`BiPoly`]). The normal-ordered product
//! of two operators is the ordinary product of their polynomials ([`bi_product`]).

use crate::engine::combinatorics::sym_dim;
use crate::error::{Error, Param, Result};
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// The multiset basis of `Sym^k(R^r)` in colexicographic order.
#[derive(Debug, Clone)]
pub struct SymBasis {
    r: usize,
    k: usize,
    dim: usize,
    /// `dim * k` indices; element `a` is `elems[a*k .. (a+1)*k]`, non-decreasing.
    elems: Vec<u32>,
    /// `α!` per element.
    fact: Vec<f64>,
    /// `C(i, j)` for `i < r + k`, `j <= k`, row-major with stride `k + 1`.
    binom: Vec<usize>,
}

impl SymBasis {
    /// The basis of `Sym^k(R^r)`. Fails if `D` does not fit in memory-addressable sizes.
    pub fn new(r: usize, k: usize) -> Result<Self> {
        let dim = sym_dim(r, k)
            .filter(|&d| {
                d <= (u32::MAX as u128) && d * (k.max(1) as u128) <= (isize::MAX as u128) / 8
            })
            .ok_or_else(|| {
                Error::too_large(
                    format!("the basis of Sym^{k}(R^{r})"),
                    u128::MAX,
                    (isize::MAX as u128) / 8,
                    "lower the order k",
                )
            })? as usize;
        if r > u32::MAX as usize {
            return Err(Error::parameter(Param::Grads, r, "too large"));
        }
        let rows = r + k;
        let mut binom = vec![0usize; rows * (k + 1)];
        for i in 0..rows {
            binom[i * (k + 1)] = 1;
            for j in 1..=k.min(i) {
                let a = binom[(i - 1) * (k + 1) + j - 1];
                let b = if j < i {
                    binom[(i - 1) * (k + 1) + j]
                } else {
                    0
                };
                binom[i * (k + 1) + j] = a.saturating_add(b);
            }
        }
        let mut basis = SymBasis {
            r,
            k,
            dim,
            elems: vec![0; dim * k],
            fact: vec![1.0; dim],
            binom,
        };
        if dim == 0 || k == 0 {
            return Ok(basis);
        }
        // Odometer over non-decreasing tuples; place each at its rank.
        let mut cur = vec![0u32; k];
        loop {
            let a = basis.rank(&cur);
            basis.elems[a * k..(a + 1) * k].copy_from_slice(&cur);
            basis.fact[a] = multiset_factorial(&cur);
            // next non-decreasing tuple in lexicographic order
            let mut t = k;
            while t > 0 && cur[t - 1] as usize == r - 1 {
                t -= 1;
            }
            if t == 0 {
                break;
            }
            let v = cur[t - 1] + 1;
            for c in cur[t - 1..].iter_mut() {
                *c = v;
            }
        }
        Ok(basis)
    }

    /// `r`, the dimension of the underlying vector space.
    pub fn r(&self) -> usize {
        self.r
    }

    /// `k`, the tensor order.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `D = C(r + k − 1, k)`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Element `a` as a non-decreasing index array of length `k`.
    pub fn elem(&self, a: usize) -> &[u32] {
        &self.elems[a * self.k..(a + 1) * self.k]
    }

    /// `α!` (product of factorials of multiplicities) of element `a`.
    pub fn factorial(&self, a: usize) -> f64 {
        self.fact[a]
    }

    /// The colexicographic rank of a non-decreasing index array of length `k`.
    #[inline]
    pub fn rank(&self, alpha: &[u32]) -> usize {
        debug_assert_eq!(alpha.len(), self.k);
        let stride = self.k + 1;
        alpha
            .iter()
            .enumerate()
            .map(|(t, &v)| self.binom[(v as usize + t) * stride + t + 1])
            .sum()
    }

    /// Coordinates in the orthonormal basis `E_α` of the polynomial with monomial
    /// coefficients `coef[α]` (`p = Σ coef[α] x^α`, tensor `X` with `p = ⟨X, x^{⊗k}⟩`).
    ///
    /// `x^α = sqrt(α!/k!) E_α` in tensor terms.
    pub fn monomial_to_orthonormal(&self, coef: &[f64]) -> Vec<f64> {
        let kf = crate::engine::combinatorics::factorial(self.k);
        coef.iter()
            .enumerate()
            .map(|(a, &c)| c * (self.fact[a] / kf).sqrt())
            .collect()
    }
}

/// `α!` for a non-decreasing index array.
fn multiset_factorial(alpha: &[u32]) -> f64 {
    let mut acc = 1.0;
    let mut run = 1.0;
    for t in 1..alpha.len() {
        if alpha[t] == alpha[t - 1] {
            run += 1.0;
            acc *= run;
        } else {
            run = 1.0;
        }
    }
    acc
}

/// Merge two non-decreasing arrays into `out`.
fn merge_into(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

/// The bases of `Sym^j(R^r)` for `j = 0..=k`, with the tables that add and split multisets
/// (computed once per pair of degrees and cached).
#[derive(Debug, Clone)]
pub struct SymAlgebra {
    r: usize,
    bases: Vec<SymBasis>,
    /// `[a][b]`: add table for degrees `(a, b)`.
    adds: Vec<Vec<OnceLock<Arc<Vec<u32>>>>>,
    /// `[a][b]`: splits of degree `a + b` into `(a, b)`.
    split_tables: Vec<Vec<OnceLock<Arc<Splits>>>>,
}

impl SymAlgebra {
    /// Bases of degrees `0..=k` over `R^r`.
    pub fn new(r: usize, k: usize) -> Result<Self> {
        let bases = (0..=k)
            .map(|j| SymBasis::new(r, j))
            .collect::<Result<_>>()?;
        Ok(SymAlgebra {
            r,
            bases,
            adds: Self::grid(k),
            split_tables: Self::grid(k),
        })
    }

    fn grid<T>(k: usize) -> Vec<Vec<OnceLock<T>>> {
        (0..=k)
            .map(|_| (0..=k).map(|_| OnceLock::new()).collect())
            .collect()
    }

    /// The cached add table for degrees `(a, b)` (see [`SymAlgebra::add_table`]).
    pub fn add_table_cached(&self, a: usize, b: usize) -> Arc<Vec<u32>> {
        self.adds[a][b]
            .get_or_init(|| Arc::new(self.add_table(a, b)))
            .clone()
    }

    /// The cached splits of degree `a + b` into `(a, b)` (see [`SymAlgebra::splits`]).
    pub fn splits_cached(&self, a: usize, b: usize) -> Arc<Splits> {
        self.split_tables[a][b]
            .get_or_init(|| Arc::new(self.splits(a, b)))
            .clone()
    }

    /// `r`.
    pub fn r(&self) -> usize {
        self.r
    }

    /// The highest degree held.
    pub fn max_degree(&self) -> usize {
        self.bases.len() - 1
    }

    /// The basis of degree `j`.
    pub fn basis(&self, j: usize) -> &SymBasis {
        &self.bases[j]
    }

    /// Table `add[a_rank * D_b + b_rank] = rank(α + β)` for `|α| = a`, `|β| = b`.
    pub fn add_table(&self, a: usize, b: usize) -> Vec<u32> {
        let (ba, bb, bs) = (&self.bases[a], &self.bases[b], &self.bases[a + b]);
        let db = bb.dim();
        let mut out = vec![0u32; ba.dim() * db];
        out.par_chunks_mut(db.max(1))
            .enumerate()
            .for_each_init(Vec::new, |buf, (ia, row)| {
                if db == 0 {
                    return;
                }
                let ea = ba.elem(ia);
                for (ib, slot) in row.iter_mut().enumerate() {
                    merge_into(ea, bb.elem(ib), buf);
                    *slot = bs.rank(buf) as u32;
                }
            });
        out
    }

    /// For every element `α` of degree `a + b`, the list of its splits `α = ρ + σ` with
    /// `|ρ| = a`, `|σ| = b`, as pairs `(rank_a(ρ), rank_b(σ))` (CSR layout).
    pub fn splits(&self, a: usize, b: usize) -> Splits {
        let bs = &self.bases[a + b];
        let (ba, bb) = (&self.bases[a], &self.bases[b]);
        let mut offsets = Vec::with_capacity(bs.dim() + 1);
        let mut pairs = Vec::new();
        offsets.push(0);
        let mut sub = Vec::new();
        let mut rest = Vec::new();
        for al in 0..bs.dim() {
            let alpha = bs.elem(al);
            // run-length encoding of α
            let mut runs: Vec<(u32, usize)> = Vec::new();
            for &v in alpha {
                match runs.last_mut() {
                    Some((u, c)) if *u == v => *c += 1,
                    _ => runs.push((v, 1)),
                }
            }
            let mut take = vec![0usize; runs.len()];
            enumerate_sub(&runs, 0, b, &mut take, &mut |take: &[usize]| {
                sub.clear();
                rest.clear();
                for (&(v, c), &t) in runs.iter().zip(take) {
                    sub.extend(std::iter::repeat_n(v, t));
                    rest.extend(std::iter::repeat_n(v, c - t));
                }
                pairs.push((ba.rank(&rest) as u32, bb.rank(&sub) as u32));
            });
            offsets.push(pairs.len());
        }
        Splits { offsets, pairs }
    }
}

/// Calls `f` with every way `take` of choosing `left` elements from the runs `(value, count)`
/// (`take[j] <= count_j`), in lexicographic order.
pub(crate) fn enumerate_sub(
    runs: &[(u32, usize)],
    pos: usize,
    left: usize,
    take: &mut [usize],
    f: &mut impl FnMut(&[usize]),
) {
    if pos == runs.len() {
        if left == 0 {
            f(take);
        }
        return;
    }
    let remaining_cap: usize = runs[pos + 1..].iter().map(|r| r.1).sum();
    let lo = left.saturating_sub(remaining_cap);
    let hi = runs[pos].1.min(left);
    for t in lo..=hi {
        take[pos] = t;
        enumerate_sub(runs, pos + 1, left - t, take, f);
    }
    take[pos] = 0;
}

/// Splits of every multiset of one degree into two parts of given sizes (see [`SymAlgebra::splits`]).
#[derive(Debug, Clone)]
pub struct Splits {
    offsets: Vec<usize>,
    pairs: Vec<(u32, u32)>,
}

impl Splits {
    /// The splits `(rank_a(ρ), rank_b(σ))` of element `alpha`.
    pub fn of(&self, alpha: usize) -> &[(u32, u32)] {
        &self.pairs[self.offsets[alpha]..self.offsets[alpha + 1]]
    }
}

/// A bihomogeneous polynomial `P(x, y) = Σ_{|γ|=|δ|=d} P[γ, δ] x^γ y^δ` in `r` + `r` variables,
/// i.e. the normal-ordered operator `Σ P[γ, δ] x^γ ∂^δ` on degree-`d` polynomials.
///
/// `data` is the `D_d × D_d` coefficient matrix in column-major order (`P[γ, δ]` at
/// `γ + δ·D_d`); every polynomial used here is symmetric in `x ↔ y`.
#[derive(Debug, Clone, PartialEq)]
pub struct BiPoly {
    /// The degree `d` in each of `x` and `y`.
    pub degree: usize,
    /// `D_d`.
    pub dim: usize,
    /// Column-major coefficients.
    pub data: Vec<f64>,
}

impl BiPoly {
    /// The zero polynomial of degree `d`.
    pub fn zeros(alg: &SymAlgebra, degree: usize) -> Self {
        let dim = alg.basis(degree).dim();
        BiPoly {
            degree,
            dim,
            data: vec![0.0; dim * dim],
        }
    }

    /// The constant `1` (degree 0).
    pub fn one() -> Self {
        BiPoly {
            degree: 0,
            dim: 1,
            data: vec![1.0],
        }
    }

    /// `self += s · other` (same degree).
    pub fn axpy(&mut self, s: f64, other: &BiPoly) {
        debug_assert_eq!(self.degree, other.degree);
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, b)| *a += s * b);
    }

    /// Entry `P[γ, δ]` by ranks.
    pub fn get(&self, gamma: usize, delta: usize) -> f64 {
        self.data[gamma + delta * self.dim]
    }

    /// Entrywise absolute value.
    pub fn abs(&self) -> BiPoly {
        BiPoly {
            degree: self.degree,
            dim: self.dim,
            data: self.data.iter().map(|x| x.abs()).collect(),
        }
    }
}

/// The coordinates `U[γ, i] = (ℓ!/γ!) Π_t b_i[γ_t]` of `(b_i · x)^ℓ = Σ_γ U[γ, i] x^γ` for the
/// rows `i = lo..hi` of `b` (`n × r`, row-major), as a column-major `D_ℓ × (hi − lo)` matrix.
pub fn power_coordinates(
    alg: &SymAlgebra,
    degree: usize,
    b: &[f64],
    r: usize,
    lo: usize,
    hi: usize,
    absolute: bool,
) -> Vec<f64> {
    let basis = alg.basis(degree);
    let d = basis.dim();
    let lf = crate::engine::combinatorics::factorial(degree);
    let mut u = vec![0.0; d * (hi - lo)];
    u.par_chunks_mut(d.max(1)).enumerate().for_each(|(c, col)| {
        if d == 0 {
            return;
        }
        let row = &b[(lo + c) * r..(lo + c + 1) * r];
        for (g, slot) in col.iter_mut().enumerate() {
            let mut p = lf / basis.factorial(g);
            for &v in basis.elem(g) {
                p *= row[v as usize];
            }
            *slot = if absolute { p.abs() } else { p };
        }
    });
    u
}

/// `K^{(ℓ)}(x, y) = Σ_i (b_i·x)^ℓ (b_i·y)^ℓ` for the rows `b_i` of `b` (`n × r`, row-major):
/// the normal-ordered form of `Σ_i s_i^ℓ (b_i·∇)^ℓ`, i.e. of `Q_ℓ = Σ_i (b_i b_iᵀ)^{⊗ℓ}` summed over
/// ordered `ℓ`-tuples of distinct tensor slots. With `absolute`, every `b` entry is replaced by its
/// absolute value (for rounding-error bounds).
pub fn power_sum(alg: &SymAlgebra, degree: usize, b: &[f64], n: usize, absolute: bool) -> BiPoly {
    let r = alg.r();
    let mut out = BiPoly::zeros(alg, degree);
    add_power_sum(alg, degree, b, n, r, 1.0, absolute, &mut out.data);
    out
}

/// `out += s · Σ_i u_i u_iᵀ` with `u_i` the degree-`ℓ` power coordinates of row `i` of `b`;
/// `out` is a column-major `D_ℓ × D_ℓ` buffer. Processes the samples in blocks (bounded memory).
#[allow(clippy::too_many_arguments)]
pub fn add_power_sum(
    alg: &SymAlgebra,
    degree: usize,
    b: &[f64],
    n: usize,
    r: usize,
    s: f64,
    absolute: bool,
    out: &mut [f64],
) {
    let d = alg.basis(degree).dim();
    if d == 0 || n == 0 {
        return;
    }
    let block = (1usize << 24).div_euclid(d.max(1)).clamp(1, 512);
    let mut dst = faer::MatMut::from_column_major_slice_mut(out, d, d);
    let mut lo = 0;
    while lo < n {
        let hi = (lo + block).min(n);
        let u = power_coordinates(alg, degree, b, r, lo, hi, absolute);
        let um = faer::MatRef::from_column_major_slice(&u, d, hi - lo);
        faer::linalg::matmul::matmul(
            dst.as_mut(),
            faer::Accum::Add,
            um,
            um.transpose(),
            s,
            crate::parallel::faer_par(),
        );
        lo = hi;
    }
}

/// `out += s · (P ⊙ Q)`: the product of bihomogeneous polynomials of degrees `a` and `b`,
/// accumulated into a column-major buffer of degree `a + b`.
///
/// `(P ⊙ Q)[α, β] = Σ_{α = ρ+σ, β = τ+υ} P[ρ, τ] Q[σ, υ]` (sub-multisets of sizes `a` and `b`).
/// Cost `D_a² D_b²`; parallel over output columns.
pub fn bi_product(alg: &SymAlgebra, p: &BiPoly, q: &BiPoly, s: f64, out: &mut [f64]) {
    let (a, b) = (p.degree, q.degree);
    let dout = alg.basis(a + b).dim();
    debug_assert_eq!(out.len(), dout * dout);
    if dout == 0 {
        return;
    }
    let splits = alg.splits_cached(a, b);
    let add = alg.add_table_cached(a, b);
    let (da, db) = (p.dim, q.dim);
    out.par_chunks_mut(dout)
        .enumerate()
        .for_each(|(beta, col)| {
            for &(ta, tb) in splits.of(beta) {
                let pcol = &p.data[ta as usize * da..(ta as usize + 1) * da];
                let qcol = &q.data[tb as usize * db..(tb as usize + 1) * db];
                for (ra, &x) in pcol.iter().enumerate() {
                    if x == 0.0 {
                        continue;
                    }
                    let sx = s * x;
                    let addrow = &add[ra * db..(ra + 1) * db];
                    for (&dst, &y) in addrow.iter().zip(qcol) {
                        debug_assert!((dst as usize) < col.len());
                        // SAFETY: `add` holds ranks of degree-(a+b) multisets, all < dout =
                        // col.len() (SymBasis::rank is a bijection onto 0..D, tested below).
                        unsafe { *col.get_unchecked_mut(dst as usize) += sx * y };
                    }
                }
            }
        });
}

/// `out += s · (I_j ⊙ L)` with `I_j = Σ_{|ν| = j} x^ν y^ν / ν!` (the identity operator on
/// degree-`j` polynomials, normal-ordered) and `L` of degree `m`: the embedding of an `m`-body
/// operator into degree `j + m` (DESIGN §3, "⊗ I_rest").
pub fn embed_identity(alg: &SymAlgebra, j: usize, l: &BiPoly, s: f64, out: &mut [f64]) {
    let m = l.degree;
    let dout = alg.basis(j + m).dim();
    if dout == 0 {
        return;
    }
    let bj = alg.basis(j);
    let splits = alg.splits_cached(j, m);
    let add = alg.add_table_cached(j, m);
    let dm = l.dim;
    out.par_chunks_mut(dout)
        .enumerate()
        .for_each(|(beta, col)| {
            for &(nu, delta) in splits.of(beta) {
                let w = s / bj.factorial(nu as usize);
                let lcol = &l.data[delta as usize * dm..(delta as usize + 1) * dm];
                let addrow = &add[nu as usize * dm..(nu as usize + 1) * dm];
                for (&dst, &y) in addrow.iter().zip(lcol) {
                    debug_assert!((dst as usize) < col.len());
                    // SAFETY: ranks of degree-(j+m) multisets are < dout = col.len().
                    unsafe { *col.get_unchecked_mut(dst as usize) += w * y };
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_a_bijection_in_colex_order() {
        for r in 1..6 {
            for k in 0..5 {
                let b = SymBasis::new(r, k).unwrap();
                let mut seen = vec![false; b.dim()];
                for a in 0..b.dim() {
                    assert_eq!(b.rank(b.elem(a)), a);
                    assert!(b.elem(a).windows(2).all(|w| w[0] <= w[1]));
                    assert!(!seen[a]);
                    seen[a] = true;
                }
                assert_eq!(b.dim() as u128, sym_dim(r, k).unwrap());
            }
        }
        let b = SymBasis::new(3, 2).unwrap();
        let order: Vec<Vec<u32>> = (0..6).map(|a| b.elem(a).to_vec()).collect();
        assert_eq!(
            order,
            vec![
                vec![0, 0],
                vec![0, 1],
                vec![1, 1],
                vec![0, 2],
                vec![1, 2],
                vec![2, 2]
            ]
        );
    }

    #[test]
    fn splits_count_sub_multisets() {
        let alg = SymAlgebra::new(3, 4).unwrap();
        let s = alg.splits(2, 2);
        // α = {0,0,1,2}: sub-multisets of size 2 are {0,0},{0,1},{0,2},{1,2}
        let a = alg.basis(4).rank(&[0, 0, 1, 2]);
        assert_eq!(s.of(a).len(), 4);
        let total: usize = (0..alg.basis(4).dim()).map(|a| s.of(a).len()).sum();
        assert_eq!(total, alg.basis(2).dim() * alg.basis(2).dim());
    }

    #[test]
    fn product_of_linear_forms_matches_expansion() {
        // P = (x·Qy) with Q = [[1,2],[2,3]]; P⊙P = (x·Qy)² : coefficient of x0² y0 y1 = 2·Q00·Q01 = 4
        let alg = SymAlgebra::new(2, 2).unwrap();
        let mut p = BiPoly::zeros(&alg, 1);
        p.data = vec![1.0, 2.0, 2.0, 3.0];
        let mut out = BiPoly::zeros(&alg, 2);
        bi_product(&alg, &p, &p, 1.0, &mut out.data);
        let b2 = alg.basis(2);
        let (x00, y01) = (b2.rank(&[0, 0]), b2.rank(&[0, 1]));
        assert_eq!(out.get(x00, y01), 4.0);
        let (x01, y11) = (b2.rank(&[0, 1]), b2.rank(&[1, 1]));
        // x0 x1 y1²: 2·Q01·Q11 = 12
        assert_eq!(out.get(x01, y11), 12.0);
        // x0 x1 y0 y1: Q00 Q11 + Q01 Q10 counted twice = 2·(1·3 + 2·2) = 14
        assert_eq!(out.get(x01, y01), 14.0);
    }
}
