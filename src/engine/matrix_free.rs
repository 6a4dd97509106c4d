//! Matrix-free application of `T_k^{η,B}` (DESIGN §9): `y = T x` for `x ∈ Sym^k(R^r)` in the
//! orthonormal basis, without ever forming the `D × D` matrix.
//!
//! # Method
//!
//! Work in the eigenbasis of `H` (rotate the reduced coordinates `b_i`), so `Q = nH = diag(q)`.
//! In the normal-ordered expansion of [`crate::engine::moment_operator`],
//! `T = Σ_λ (−c)^{|λ|} weight(λ) :Π_j P̂_{λ_j}:`, split each partition `λ = μ ∪ 1^s` into its parts
//! `μ` of size >= 2 and `s` ones. The ones give `:(xᵀQ∂)^s:`, which on a monomial `x^β` of the
//! eigen-coordinates is the scalar `s! e_s(q_{β_1}, …, q_{β_d})` (elementary symmetric polynomial
//! of the slot values): **diagonal**. Hence
//!
//! ```text
//! T p = Σ_{μ: parts >= 2} Σ_{i_1..i_l} Π_j (b_{i_j}·x)^{μ_j} · Δ_μ ⊙ [ Π_j (b_{i_j}·∇)^{μ_j} p ],
//! Δ_μ[β] = Σ_{s=0}^{d} (−c)^{|μ|+s} κ(μ ∪ 1^s) / (Π_j μ_j! Π_{parts of μ} mult!) · e_s(q_β),
//! ```
//!
//! `d = k − |μ|` (the `s!` of the ones cancels against their multiplicity factorial). For `k <= 4`
//! the shapes `μ` are `∅, (2), (3), (4), (2,2)`. Derivatives `(b·∇)` and products `(b·x)` act on
//! monomial coefficient vectors through the add/split tables of [`SymAlgebra`].
//!
//! # Cost per application
//!
//! `O(D_k)` for `μ = ∅`, `O(n · k · Σ_ℓ D_k)`-ish for single parts (`ℓ` derivative and `ℓ`
//! multiplication passes per sample), `n^{len μ}` nested sample loops at low degree for several
//! parts. Samples are processed in a fixed number of chunks whose partial sums are added in order,
//! so the result is bit-for-bit deterministic whatever the thread scheduling.
//!
//! [`SecondMoment`] is the specialised `k = 2` path on symmetric matrices:
//! `T_2 X = X − η(HX + XH) + c²[κ(1,1) QXQ + κ(2) Σ_i (b_iᵀXb_i) b_i b_iᵀ]`,
//! `O(n r² + r²)` per application with two GEMMs (eigenbasis of `H`).

use crate::engine::combinatorics::{factorial, multiplicity_factorials, partitions};
use crate::engine::linop::SymmetricOperator;
use crate::engine::sampling::BatchModel;
use crate::engine::symmetric::{SymAlgebra, SymBasis};
use crate::error::{Error, Param, Result};
use rayon::prelude::*;
use std::sync::Arc;

/// Reduced coordinates rotated into the eigenbasis of `H = (1/n) Σ b_i b_iᵀ`.
#[derive(Debug, Clone)]
pub struct EigenCoords {
    /// Samples.
    pub n: usize,
    /// Rank.
    pub r: usize,
    /// `b̃_i = Vᵀ b_i`, rows of an `n × r` row-major matrix.
    pub coords: Vec<f64>,
    /// Eigenvalues of `H`, in the order of the rotated coordinates.
    pub h_eigenvalues: Vec<f64>,
}

impl EigenCoords {
    /// Rotates `b` (`n × r`, row-major) into the eigenbasis of `H`.
    pub fn new(b: &[f64], n: usize, r: usize) -> Result<Self> {
        let bm = faer::MatRef::from_row_major_slice(b, n, r);
        let mut h = faer::Mat::<f64>::zeros(r, r);
        let par = crate::parallel::faer_par();
        faer::linalg::matmul::matmul(
            &mut h,
            faer::Accum::Replace,
            bm.transpose(),
            bm,
            1.0 / n as f64,
            par,
        );
        let evd = h
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::Numerical {
                routine: "eigenbasis of H",
                message: format!("{e:?}"),
            })?;
        let mut rotated = faer::Mat::<f64>::zeros(n, r);
        faer::linalg::matmul::matmul(&mut rotated, faer::Accum::Replace, bm, evd.U(), 1.0, par);
        let mut coords = vec![0.0; n * r];
        for i in 0..n {
            for a in 0..r {
                coords[i * r + a] = rotated[(i, a)];
            }
        }
        let s = evd.S().column_vector();
        Ok(EigenCoords {
            n,
            r,
            coords,
            h_eigenvalues: (0..r).map(|a| s[a]).collect(),
        })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.coords[i * self.r..(i + 1) * self.r]
    }
}

/// Number of sample chunks (fixed, so that partial sums are added in a fixed order).
pub(crate) const CHUNKS: usize = 16;

/// Bytes one product of [`MatrixFreeMoment`] on `Sym^j` (dimension `d`) allocates at once: one
/// partial sum of length `d` per work item (the shape `∅`, [`CHUNKS`] for the single parts and
/// [`CHUNKS`] per shape with several parts), the monomial copy of the input, and the output.
pub fn product_bytes(j: usize, d: u128) -> u128 {
    // (the GEMM path of the single parts adds four matrices of at most GEMM_ENTRIES doubles)
    let multi = (4..=j)
        .flat_map(partitions)
        .filter(|mu| mu.len() >= 2 && mu.iter().all(|&p| p >= 2))
        .count();
    let single = if j >= 2 { CHUNKS } else { 0 };
    let items = 1 + single + CHUNKS * multi + 2;
    d.saturating_mul(items as u128)
        .saturating_mul(8)
        .saturating_add(if j >= 2 {
            4 * 8 * GEMM_ENTRIES as u128
        } else {
            0
        })
}

/// Entries per parallel work item of the element-wise loops (fixed: results do not depend on
/// the thread count, each entry being computed by one sequential loop).
const LANE: usize = 4096;

/// The tables for `(b·∇)` from degree `d` to `d − 1` and `(b·x)` from `d − 1` to `d`.
#[derive(Debug, Clone)]
struct DegreeStep {
    /// `add[β·r + a] = rank_d(β + e_a)` for `β` of degree `d − 1`.
    add: Arc<Vec<u32>>,
    /// `(β_a + 1)` for the same entries.
    weight: Vec<f64>,
    /// splits of degree `d` into `(d − 1, 1)`: `(rank_{d−1}(α − e_a), a)`.
    splits: Arc<crate::engine::symmetric::Splits>,
}

/// One shape `μ` (parts >= 2) with its diagonal on degree `k − |μ|`.
#[derive(Debug, Clone)]
struct Shape {
    parts: Vec<usize>,
    diag: Vec<f64>,
    /// `max_β Σ_s |coef_s| e_s(|q_β|)`: bounds `|diag|` and the rounding of its entries.
    abs_max: f64,
}

/// `T_k^{η,B}` on `Sym^k(R^r)` as a matrix-free operator (orthonormal basis, the eigen-rotated
/// coordinates of [`EigenCoords`]; the spectrum is that of the dense operator).
#[derive(Debug, Clone)]
pub struct MatrixFreeMoment {
    k: usize,
    r: usize,
    n: usize,
    coords: Vec<f64>,
    alg: SymAlgebra,
    steps: Vec<Option<DegreeStep>>,
    shapes: Vec<Shape>,
    /// `sqrt(k!/α!)`: orthonormal → monomial coefficients.
    to_monomial: Vec<f64>,
}

/// Elementary symmetric polynomials `e_0..e_d` of the values `v`.
fn elementary(v: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.resize(v.len() + 1, 0.0);
    out[0] = 1.0;
    for (t, &x) in v.iter().enumerate() {
        for s in (1..=t + 1).rev() {
            out[s] += x * out[s - 1];
        }
    }
}

impl MatrixFreeMoment {
    /// Prepares `T_k^{η,B}` for the eigen-rotated coordinates.
    pub fn new(ec: &EigenCoords, k: usize, lr: f64, model: &BatchModel) -> Result<Self> {
        if k == 0 {
            return Err(Error::parameter(Param::Orders, 0, "orders start at k = 1"));
        }
        let (n, r) = (ec.n, ec.r);
        let alg = SymAlgebra::new(r, k)?;
        let kappa = model.kappa_table(k);
        let c = lr / model.batch as f64;
        let q: Vec<f64> = ec.h_eigenvalues.iter().map(|l| l * n as f64).collect();
        let mut steps = vec![None];
        for d in 1..=k {
            let lower = alg.basis(d - 1);
            let upper = alg.basis(d);
            let add = alg.add_table_cached(d - 1, 1);
            let mut weight = vec![0.0; add.len()];
            for beta in 0..lower.dim() {
                for a in 0..r {
                    let up = add[beta * r + a] as usize;
                    weight[beta * r + a] = upper.factorial(up) / lower.factorial(beta);
                }
            }
            steps.push(Some(DegreeStep {
                add,
                weight,
                splits: alg.splits_cached(d - 1, 1),
            }));
        }
        let mut shapes = Vec::new();
        for u in 0..=k {
            for mu in partitions(u) {
                if mu.iter().any(|&p| p < 2) {
                    continue;
                }
                let d = k - u;
                let basis = alg.basis(d);
                let mut denom = multiplicity_factorials(&mu);
                for &p in &mu {
                    denom *= factorial(p);
                }
                // coefficient of e_s: (−c)^{u+s} κ(μ ∪ 1^s) / denom
                let coef: Vec<f64> = (0..=d)
                    .map(|s| {
                        let mut shape = mu.clone();
                        shape.extend(std::iter::repeat_n(1, s));
                        let kap = kappa.get(&shape).map_or(0.0, |e| e.kappa);
                        (-c).powi((u + s) as i32) * kap / denom
                    })
                    .collect();
                let mut e = Vec::new();
                let mut vals = Vec::with_capacity(d);
                let diag: Vec<f64> = (0..basis.dim())
                    .map(|beta| {
                        vals.clear();
                        vals.extend(basis.elem(beta).iter().map(|&a| q[a as usize]));
                        elementary(&vals, &mut e);
                        coef.iter().zip(&e).map(|(c, e)| c * e).sum()
                    })
                    .collect();
                // e_s of non-negative values is increasing in each: the largest |q| bound all
                let mut big: Vec<f64> = q.iter().map(|v| v.abs()).collect();
                big.sort_by(|a, b| b.total_cmp(a));
                big.truncate(d);
                big.resize(d, 0.0);
                elementary(&big, &mut e);
                let abs_max = coef.iter().zip(&e).map(|(c, e)| c.abs() * e).sum();
                shapes.push(Shape {
                    parts: mu,
                    diag,
                    abs_max,
                });
            }
        }
        let top = alg.basis(k);
        let kf = factorial(k);
        let to_monomial = (0..top.dim())
            .map(|a| (kf / top.factorial(a)).sqrt())
            .collect();
        Ok(MatrixFreeMoment {
            k,
            r,
            n,
            coords: ec.coords.clone(),
            alg,
            steps,
            shapes,
            to_monomial,
        })
    }

    /// The basis of `Sym^k(R^r)` the vectors are expressed in (eigen-rotated coordinates).
    pub fn basis(&self) -> &SymBasis {
        self.alg.basis(self.k)
    }

    /// The order `k`.
    pub fn order(&self) -> usize {
        self.k
    }

    /// The diagonal of the operator in the orthonormal basis of [`MatrixFreeMoment::basis`]
    /// (the same as in the monomial basis: the two differ by a diagonal similarity), and whether
    /// it is exact.
    ///
    /// The shape `∅` contributes `Δ_∅[β]` and a single-part shape `(ℓ)` contributes
    ///
    /// ```text
    /// Σ_{α ≤ β, |α| = ℓ} (ℓ!/α!)² · β!/(β − α)! · Δ_(ℓ)[β − α] · Σ_i b_i^{2α}
    /// ```
    ///
    /// (`(b·x)^ℓ = Σ_α (ℓ!/α!) b^α x^α` must give back the `x^α` that `(b·∇)^ℓ` removed), at a
    /// cost of `n · D_ℓ` for the moments `Σ_i b_i^{2α}` plus a few operations per entry. Shapes
    /// with several parts (`k >= 4`, e.g. `(2, 2)`) would cost `n²` per entry and are left out:
    /// the result is then not exact (`false`), good as a preconditioner only. For `k <= 3`
    /// every shape has at most one part and the diagonal is exact up to rounding.
    pub fn diagonal(&self) -> (Vec<f64>, bool) {
        let k = self.k;
        let top = self.alg.basis(k);
        let mut diag = vec![0.0; top.dim()];
        let mut exact = true;
        for sh in &self.shapes {
            match sh.parts[..] {
                [] => diag
                    .par_chunks_mut(LANE)
                    .zip(sh.diag.par_chunks(LANE))
                    .for_each(|(o, d)| o.iter_mut().zip(d).for_each(|(o, d)| *o += d)),
                [l] => self.add_single_part_diagonal(l, &sh.diag, &mut diag),
                _ => exact = false,
            }
        }
        (diag, exact)
    }

    /// `Σ_i b_i^{2α}` for every `α` of degree `l` (fixed summation order).
    fn square_moments(&self, l: usize) -> Vec<f64> {
        let basis = self.alg.basis(l);
        let (n, r) = (self.n, self.r);
        let sq: Vec<f64> = self.coords.iter().map(|v| v * v).collect();
        let mut out = vec![0.0; basis.dim()];
        out.par_chunks_mut(LANE).enumerate().for_each(|(c, o)| {
            for (t, v) in o.iter_mut().enumerate() {
                let alpha = basis.elem(c * LANE + t);
                let mut acc = 0.0;
                for i in 0..n {
                    let row = &sq[i * r..(i + 1) * r];
                    acc += alpha.iter().map(|&a| row[a as usize]).product::<f64>();
                }
                *v = acc;
            }
        });
        out
    }

    /// Adds the diagonal of the single-part shape `(l)` (see [`MatrixFreeMoment::diagonal`]).
    fn add_single_part_diagonal(&self, l: usize, delta: &[f64], diag: &mut [f64]) {
        let k = self.k;
        let moments = self.square_moments(l);
        let (top, sub, rest) = (self.alg.basis(k), self.alg.basis(l), self.alg.basis(k - l));
        let lf = factorial(l);
        diag.par_chunks_mut(LANE).enumerate().for_each(|(c, o)| {
            let mut runs: Vec<(u32, usize)> = Vec::with_capacity(k);
            let mut take = vec![0usize; k];
            let (mut a_idx, mut r_idx) = (Vec::with_capacity(l), Vec::with_capacity(k));
            for (t, v) in o.iter_mut().enumerate() {
                let beta = top.elem(c * LANE + t);
                runs.clear();
                for &x in beta {
                    match runs.last_mut() {
                        Some((u, m)) if *u == x => *m += 1,
                        _ => runs.push((x, 1)),
                    }
                }
                let mut acc = 0.0;
                crate::engine::symmetric::enumerate_sub(
                    &runs,
                    0,
                    l,
                    &mut take[..runs.len()],
                    &mut |take: &[usize]| {
                        a_idx.clear();
                        r_idx.clear();
                        let (mut afact, mut falling) = (1.0, 1.0);
                        for (&(x, m), &s) in runs.iter().zip(take) {
                            a_idx.extend(std::iter::repeat_n(x, s));
                            r_idx.extend(std::iter::repeat_n(x, m - s));
                            afact *= factorial(s);
                            falling *= factorial(m) / factorial(m - s);
                        }
                        let w = lf / afact;
                        acc +=
                            w * w * falling * delta[rest.rank(&r_idx)] * moments[sub.rank(&a_idx)];
                    },
                );
                *v += acc;
            }
        });
    }

    /// A bound `N` on the operator norm of `|T|`, the operator built from the absolute values of
    /// every term the product sums (`|b_i|`, `|Δ_μ|`):
    /// `N = Σ_μ max|Δ_μ| · k!/(k − |μ|)! · Π_j Σ_i ‖b_i‖^{2μ_j}`, since in the orthonormal
    /// (Frobenius) coordinates `‖(b·∇)‖ <= m‖b‖` on degree `m` and `‖(b·x)‖ <= ‖b‖`.
    /// The rounding error of one product is at most `γ_m N ‖x‖` with `m` the longest sum
    /// ([`MatrixFreeMoment::accumulation_depth`]).
    pub fn magnitude(&self) -> f64 {
        let k = self.k;
        let norms: Vec<f64> = (0..self.n)
            .map(|i| {
                self.coords[i * self.r..(i + 1) * self.r]
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
            })
            .collect();
        self.shapes
            .iter()
            .map(|sh| {
                let u: usize = sh.parts.iter().sum();
                let falling = factorial(k) / factorial(k - u);
                let prod: f64 = sh
                    .parts
                    .iter()
                    .map(|&l| norms.iter().map(|s| s.powi(l as i32)).sum::<f64>())
                    .product();
                sh.abs_max * falling * prod
            })
            .sum()
    }

    /// The longest chain of floating-point additions in one product (samples, derivative sums,
    /// products, chunk and shape partial sums), with room to spare.
    pub fn accumulation_depth(&self) -> usize {
        2 * (self.n + self.k * (self.r + self.k) + self.shapes.len() + CHUNKS + 16)
    }

    /// `out = (b·∇) p` for `p` of degree `d` (monomial coefficients).
    fn derive(&self, d: usize, b: &[f64], p: &[f64], out: &mut Vec<f64>) {
        let st = self.steps[d]
            .as_ref()
            .expect("degree step exists for 1 <= d <= k"); // invariant
        let r = self.r;
        let lower = self.alg.basis(d - 1).dim();
        out.clear();
        out.resize(lower, 0.0);
        for (beta, o) in out.iter_mut().enumerate() {
            let adds = &st.add[beta * r..(beta + 1) * r];
            let ws = &st.weight[beta * r..(beta + 1) * r];
            let mut acc = 0.0;
            for a in 0..r {
                acc += b[a] * ws[a] * p[adds[a] as usize];
            }
            *o = acc;
        }
    }

    /// `out += (b·x) p` for `p` of degree `d − 1`, `out` of degree `d`.
    fn multiply_add(&self, d: usize, b: &[f64], p: &[f64], out: &mut [f64]) {
        let st = self.steps[d]
            .as_ref()
            .expect("degree step exists for 1 <= d <= k"); // invariant
        for (alpha, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0;
            for &(rest, a) in st.splits.of(alpha) {
                acc += b[a as usize] * p[rest as usize];
            }
            *o += acc;
        }
    }

    /// `Σ_{i ∈ samples} Π_j (b_{i_j}·x)^{μ_j} Δ ⊙ Π_j (b_{i_j}·∇)^{μ_j} p`, recursively over the
    /// parts `parts`, starting from `p` of degree `d`; the result (degree `d`) is added to `out`.
    fn shape_term(
        &self,
        parts: &[usize],
        diag: &[f64],
        d: usize,
        p: &[f64],
        samples: std::ops::Range<usize>,
        out: &mut [f64],
    ) {
        let Some((&l, rest)) = parts.split_first() else {
            for ((o, &x), &g) in out.iter_mut().zip(p).zip(diag) {
                *o += g * x;
            }
            return;
        };
        let mut cur = Vec::new();
        let mut tmp = Vec::new();
        let mut inner = Vec::new();
        let mut up = Vec::new();
        for i in samples {
            let b = &self.coords[i * self.r..(i + 1) * self.r];
            cur.clear();
            cur.extend_from_slice(p);
            for s in 0..l {
                self.derive(d - s, b, &cur, &mut tmp);
                std::mem::swap(&mut cur, &mut tmp);
            }
            let dl = d - l;
            inner.clear();
            inner.resize(self.alg.basis(dl).dim(), 0.0);
            // the remaining parts range over all samples
            self.shape_term(rest, diag, dl, &cur, 0..self.n, &mut inner);
            for s in 0..l {
                up.clear();
                up.resize(self.alg.basis(dl + s + 1).dim(), 0.0);
                self.multiply_add(dl + s + 1, b, &inner, &mut up);
                std::mem::swap(&mut inner, &mut up);
            }
            for (o, x) in out.iter_mut().zip(&inner) {
                *o += x;
            }
        }
    }
}

impl MatrixFreeMoment {
    /// The single-part shapes `μ = (ℓ)`, `2 <= ℓ <= L`, for the samples in `samples`, nested so
    /// that each sample's derivative and multiplication passes are done once (Horner):
    /// `Σ_ℓ (b·x)^ℓ Δ_ℓ ⊙ (b·∇)^ℓ p = (b·x)[(b·x)[Δ_2 ⊙ d_2 + (b·x)[Δ_3 ⊙ d_3 + …]]]`,
    /// `d_t = (b·∇)^t p`. Added to `out` (degree `k`).
    fn single_parts(&self, p: &[f64], samples: std::ops::Range<usize>, out: &mut [f64]) {
        let k = self.k;
        // diag of shape (ℓ) by ℓ
        let mut by_len: Vec<Option<&[f64]>> = vec![None; k + 1];
        for sh in &self.shapes {
            if let [l] = sh.parts[..] {
                by_len[l] = Some(&sh.diag);
            }
        }
        let top = (0..=k).rev().find(|&l| by_len[l].is_some()).unwrap_or(0);
        if top < 2 {
            return;
        }
        let mut ds: Vec<Vec<f64>> = vec![Vec::new(); top + 1];
        let mut acc = Vec::new();
        let mut up = Vec::new();
        for i in samples {
            let b = &self.coords[i * self.r..(i + 1) * self.r];
            // d_t = (b·∇)^t p at degree k − t
            for t in 1..=top {
                let (prev, cur) = ds.split_at_mut(t);
                let src: &[f64] = if t == 1 { p } else { &prev[t - 1] };
                self.derive(k - t + 1, b, src, &mut cur[0]);
            }
            // Horner from the deepest part up
            acc.clear();
            acc.resize(ds[top].len(), 0.0);
            for t in (1..=top).rev() {
                if t < top {
                    up.clear();
                    up.resize(self.alg.basis(k - t).dim(), 0.0);
                    self.multiply_add(k - t, b, &acc, &mut up);
                    std::mem::swap(&mut acc, &mut up);
                }
                if let Some(diag) = by_len[t] {
                    for ((a, &d), &g) in acc.iter_mut().zip(&ds[t]).zip(diag) {
                        *a += g * d;
                    }
                }
            }
            // acc is at degree k − 1: one more product to degree k
            self.multiply_add(k, b, &acc, out);
        }
    }
}

/// Largest `D_{k−1} · max(n, r)` for which the single-part shapes go through GEMMs
/// ([`MatrixFreeMoment::single_parts_gemm`]): four such matrices (128 MiB each at the limit).
const GEMM_ENTRIES: usize = 1 << 24;

impl MatrixFreeMoment {
    /// Whether the single-part shapes are applied by [`MatrixFreeMoment::single_parts_gemm`].
    fn gemm_singles(&self) -> bool {
        self.k >= 2
            && self.shapes.iter().any(|sh| sh.parts.len() == 1)
            && self
                .alg
                .basis(self.k - 1)
                .dim()
                .saturating_mul(self.n.max(self.r))
                <= GEMM_ENTRIES
    }

    /// [`MatrixFreeMoment::single_parts`] for all samples at once, with the two passes that touch
    /// degree `k` done as matrix products: the first derivatives of every sample are
    /// `G Bᵀ` (`G[β, a] = (β_a + 1) p[β + e_a]`, `β` of degree `k − 1`), and the last
    /// multiplications `Σ_i (b_i·x) acc_i` are `out[α] = Σ_{α = ρ + e_a} (Acc B)[ρ, a]`. The
    /// passes at degree `< k − 1` stay per sample (each writes its own column). Added to `out`.
    fn single_parts_gemm(&self, p: &[f64], out: &mut [f64]) {
        let (k, n, r) = (self.k, self.n, self.r);
        let st = self.steps[k]
            .as_ref()
            .expect("degree step exists for 1 <= d <= k"); // invariant
        let lower = self.alg.basis(k - 1).dim();
        let par = crate::parallel::faer_par();
        let mut g = vec![0.0; lower * r];
        g.par_chunks_mut(LANE).enumerate().for_each(|(c, o)| {
            for (t, v) in o.iter_mut().enumerate() {
                let i = c * LANE + t;
                *v = st.weight[i] * p[st.add[i] as usize];
            }
        });
        let bm = faer::MatRef::from_row_major_slice(&self.coords, n, r);
        let gm = faer::MatRef::from_row_major_slice(&g, lower, r);
        let mut d1 = vec![0.0; lower * n];
        {
            let dm = faer::MatMut::from_column_major_slice_mut(&mut d1, lower, n);
            faer::linalg::matmul::matmul(dm, faer::Accum::Replace, gm, bm.transpose(), 1.0, par);
        }
        drop(g);
        let mut by_len: Vec<Option<&[f64]>> = vec![None; k + 1];
        for sh in &self.shapes {
            if let [l] = sh.parts[..] {
                by_len[l] = Some(&sh.diag);
            }
        }
        let top = (0..=k).rev().find(|&l| by_len[l].is_some()).unwrap_or(0);
        // per sample: the Horner chain below degree k − 1, into column i of `acc`
        let mut acc = vec![0.0; lower * n];
        acc.par_chunks_mut(lower)
            .zip(d1.par_chunks(lower))
            .enumerate()
            .for_each(|(i, (col, first))| {
                let b = &self.coords[i * r..(i + 1) * r];
                let mut ds: Vec<Vec<f64>> = vec![Vec::new(); top + 1];
                ds[1] = first.to_vec();
                for t in 2..=top {
                    let (prev, cur) = ds.split_at_mut(t);
                    self.derive(k - t + 1, b, &prev[t - 1], &mut cur[0]);
                }
                let mut a = vec![0.0; ds[top].len()];
                let mut up = Vec::new();
                for t in (1..=top).rev() {
                    if t < top {
                        up.clear();
                        up.resize(self.alg.basis(k - t).dim(), 0.0);
                        self.multiply_add(k - t, b, &a, &mut up);
                        std::mem::swap(&mut a, &mut up);
                    }
                    if let Some(diag) = by_len[t] {
                        for ((x, &d), &w) in a.iter_mut().zip(&ds[t]).zip(diag) {
                            *x += w * d;
                        }
                    }
                }
                col.copy_from_slice(&a);
            });
        drop(d1);
        let am = faer::MatRef::from_column_major_slice(&acc, lower, n);
        let mut m = vec![0.0; lower * r];
        {
            let mm = faer::MatMut::from_column_major_slice_mut(&mut m, lower, r);
            faer::linalg::matmul::matmul(mm, faer::Accum::Replace, am, bm, 1.0, par);
        }
        drop(acc);
        out.par_chunks_mut(LANE).enumerate().for_each(|(c, o)| {
            for (t, v) in o.iter_mut().enumerate() {
                let alpha = c * LANE + t;
                let mut s = 0.0;
                for &(rest, a) in st.splits.of(alpha) {
                    s += m[rest as usize + a as usize * lower];
                }
                *v += s;
            }
        });
    }
}

impl SymmetricOperator for MatrixFreeMoment {
    fn dim(&self) -> usize {
        self.alg.basis(self.k).dim()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let dim = self.dim();
        let p: Vec<f64> = x
            .iter()
            .zip(&self.to_monomial)
            .map(|(v, s)| v * s)
            .collect();
        let chunk = self.n.div_ceil(CHUNKS).max(1);
        let chunks: Vec<std::ops::Range<usize>> = (0..self.n)
            .step_by(chunk)
            .map(|lo| lo..(lo + chunk).min(self.n))
            .collect();
        // Work items, each producing a partial sum, added in a fixed order: the diagonal shape
        // ∅, the single-part shapes (ℓ) nested per sample (`single_parts`), and each multi-part
        // shape per sample chunk.
        enum Item {
            Shape(usize, std::ops::Range<usize>),
            Singles(std::ops::Range<usize>),
        }
        let mut items: Vec<Item> = Vec::new();
        for (si, sh) in self.shapes.iter().enumerate() {
            match sh.parts.len() {
                0 => items.push(Item::Shape(si, 0..0)),
                1 => {}
                _ => items.extend(chunks.iter().map(|c| Item::Shape(si, c.clone()))),
            }
        }
        let gemm = self.gemm_singles();
        if !gemm && self.shapes.iter().any(|sh| sh.parts.len() == 1) {
            items.extend(chunks.iter().map(|c| Item::Singles(c.clone())));
        }
        let partials: Vec<Vec<f64>> = items
            .par_iter()
            .map(|item| {
                let mut out = vec![0.0; dim];
                match item {
                    Item::Shape(si, range) => {
                        let sh = &self.shapes[*si];
                        self.shape_term(&sh.parts, &sh.diag, self.k, &p, range.clone(), &mut out);
                    }
                    Item::Singles(range) => self.single_parts(&p, range.clone(), &mut out),
                }
                out
            })
            .collect();
        y.iter_mut().for_each(|v| *v = 0.0);
        for part in &partials {
            for (o, v) in y.iter_mut().zip(part) {
                *o += v;
            }
        }
        drop(partials);
        if gemm {
            self.single_parts_gemm(&p, y);
        }
        // monomial → orthonormal coordinates: y_α = o_α sqrt(α!/k!)
        for (o, s) in y.iter_mut().zip(&self.to_monomial) {
            *o /= s;
        }
    }
}

/// The `k = 2` operator on symmetric `r × r` matrices in the eigenbasis of `H`,
/// `T_2 X = X − η(HX + XH) + c²[κ(1,1) QXQ + κ(2) Σ_i (b_iᵀXb_i) b_i b_iᵀ]`; vectors are the
/// orthonormal coordinates of `Sym²(R^r)` (`X_aa = y_aa`, `X_ab = y_ab/√2`), ordered like
/// [`SymBasis`] of degree 2.
#[derive(Debug, Clone)]
pub struct SecondMoment {
    r: usize,
    n: usize,
    /// `B̃` (`n × r`, column-major for the GEMMs).
    b: Vec<f64>,
    /// eigenvalues of `H`.
    h: Vec<f64>,
    lr: f64,
    /// `c² κ(1,1)`, `c² κ(2)`.
    w11: f64,
    w2: f64,
    /// `(a, b)` of each basis element of degree 2.
    pairs: Vec<(usize, usize)>,
}

impl SecondMoment {
    /// Prepares the operator.
    pub fn new(ec: &EigenCoords, lr: f64, model: &BatchModel) -> Result<Self> {
        let (n, r) = (ec.n, ec.r);
        let basis = SymBasis::new(r, 2)?;
        let pairs = (0..basis.dim())
            .map(|i| {
                let e = basis.elem(i);
                (e[0] as usize, e[1] as usize)
            })
            .collect();
        let kappa = model.kappa_table(2);
        let c = lr / model.batch as f64;
        let k11 = kappa.get(&[1, 1]).map_or(0.0, |e| e.kappa);
        let k2 = kappa.get(&[2]).map_or(0.0, |e| e.kappa);
        let mut b = vec![0.0; n * r];
        for i in 0..n {
            for a in 0..r {
                b[i + a * n] = ec.coords[i * r + a];
            }
        }
        Ok(SecondMoment {
            r,
            n,
            b,
            h: ec.h_eigenvalues.clone(),
            lr,
            w11: c * c * k11,
            w2: c * c * k2,
            pairs,
        })
    }

    /// The `D(X) = (1/B²)[κ(1,1) QXQ + κ(2) Σ_i s_i H_i]` part and the rest, for the threshold
    /// pencil: returns `(X ↦ (1/c²)·c²-part)` applied to the symmetric matrix `x` (column-major
    /// `r × r`) into `out`.
    fn quadratic_part(&self, x: &[f64], out: &mut [f64]) {
        let (n, r) = (self.n, self.r);
        let par = crate::parallel::faer_par();
        let bm = faer::MatRef::from_column_major_slice(&self.b, n, r);
        let xm = faer::MatRef::from_column_major_slice(x, r, r);
        let mut bx = faer::Mat::<f64>::zeros(n, r);
        faer::linalg::matmul::matmul(&mut bx, faer::Accum::Replace, bm, xm, 1.0, par);
        // s_i = b_iᵀ X b_i
        let s: Vec<f64> = (0..n)
            .map(|i| (0..r).map(|a| bx[(i, a)] * self.b[i + a * n]).sum())
            .collect();
        // Bᵀ diag(s) B
        let mut sb = self.b.clone();
        for a in 0..r {
            for i in 0..n {
                sb[i + a * n] *= s[i];
            }
        }
        let sbm = faer::MatRef::from_column_major_slice(&sb, n, r);
        let om = faer::MatMut::from_column_major_slice_mut(out, r, r);
        // symmetric result: only the upper triangle (rows a <= columns b) is read back
        use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
        tri_matmul(
            om,
            BlockStructure::TriangularUpper,
            faer::Accum::Replace,
            bm.transpose(),
            BlockStructure::Rectangular,
            sbm,
            BlockStructure::Rectangular,
            self.w2,
            par,
        );
        let nn = (n * n) as f64;
        for c in 0..r {
            for a in 0..r {
                out[a + c * r] += self.w11 * nn * self.h[a] * self.h[c] * x[a + c * r];
            }
        }
    }

    /// `T_2 X` for a symmetric `X` (column-major `r × r`); only the upper triangle of `out`
    /// (rows `a <=` columns `b`) is valid.
    pub(crate) fn apply_matrix(&self, x: &[f64], out: &mut [f64]) {
        let r = self.r;
        self.quadratic_part(x, out);
        for c in 0..r {
            for a in 0..r {
                out[a + c * r] += x[a + c * r] * (1.0 - self.lr * (self.h[a] + self.h[c]));
            }
        }
    }

    fn coords_to_matrix(&self, y: &[f64]) -> Vec<f64> {
        let r = self.r;
        let mut x = vec![0.0; r * r];
        let s = std::f64::consts::FRAC_1_SQRT_2;
        for (&(a, b), &v) in self.pairs.iter().zip(y) {
            if a == b {
                x[a + a * r] = v;
            } else {
                x[a + b * r] = v * s;
                x[b + a * r] = v * s;
            }
        }
        x
    }

    fn matrix_to_coords(&self, x: &[f64], y: &mut [f64]) {
        let r = self.r;
        let s = std::f64::consts::SQRT_2;
        for (&(a, b), o) in self.pairs.iter().zip(y.iter_mut()) {
            *o = if a == b {
                x[a + a * r]
            } else {
                s * x[a + b * r]
            };
        }
    }
}

impl SymmetricOperator for SecondMoment {
    fn dim(&self) -> usize {
        self.pairs.len()
    }

    fn apply(&self, y_in: &[f64], y_out: &mut [f64]) {
        let r = self.r;
        let x = self.coords_to_matrix(y_in);
        let mut out = vec![0.0; r * r];
        self.apply_matrix(&x, &mut out);
        self.matrix_to_coords(&out, y_out);
    }
}

/// The symmetric operator `C^{−1/2} D C^{−1/2}` on `Sym²(R^r)` whose largest eigenvalue gives the
/// exact second-order threshold `η*_2 = 2/λ_max(C⁺D)` (Mulayoff & Michaeli; DESIGN §11), with
/// `T_2(η) = I − 2ηC + η²D`, `C = ½(H⊗I + I⊗H)` (diagonal in the eigenbasis of `H`:
/// `(λ_a + λ_b)/2`, positive since the reduced `H` is positive definite).
#[derive(Debug, Clone)]
pub struct ThresholdPencil {
    inner: SecondMoment,
    /// `C^{−1/2}` per basis element.
    c_inv_sqrt: Vec<f64>,
}

impl ThresholdPencil {
    /// Builds the operator (independent of `η`: uses `lr = 1` internally for `D`).
    pub fn new(ec: &EigenCoords, model: &BatchModel) -> Result<Self> {
        let inner = SecondMoment::new(ec, 1.0, model)?;
        let c_inv_sqrt = inner
            .pairs
            .iter()
            .map(|&(a, b)| {
                let c = 0.5 * (inner.h[a] + inner.h[b]);
                if c > 0.0 {
                    1.0 / c.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        Ok(ThresholdPencil { inner, c_inv_sqrt })
    }
}

impl SymmetricOperator for ThresholdPencil {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let scaled: Vec<f64> = x.iter().zip(&self.c_inv_sqrt).map(|(v, s)| v * s).collect();
        let xm = self.inner.coords_to_matrix(&scaled);
        let r = self.inner.r;
        let mut out = vec![0.0; r * r];
        // with lr = 1: w11 = κ(1,1)/B², w2 = κ(2)/B²: exactly D
        self.inner.quadratic_part(&xm, &mut out);
        self.inner.matrix_to_coords(&out, y);
        for (v, s) in y.iter_mut().zip(&self.c_inv_sqrt) {
            *v *= s;
        }
    }
}

/// The exact second-order threshold at scale, `η*_2 = 2/λ_max(C^{−1/2} D C^{−1/2})`, by Lanczos
/// on [`ThresholdPencil`] (no bisection). Below `η*_2` every eigenvalue of `T_2^{(b)}(η)` is below
/// 1, and by Krein–Rutman the spectral radius of `T_2` is an eigenvalue, so `T_2` is stable on
/// `(0, η*_2)`; an eigenvalue reaches +1 at `η*_2`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SecondOrderThreshold {
    /// `η*_2`.
    pub lr_threshold: f64,
    /// Bound on the error of `η*_2`: `2δ/(λ(λ − δ))` for the Lanczos residual `δ` of `λ_max`.
    pub lr_threshold_error: f64,
    /// `λ_max(C⁺D)`.
    pub lambda_max: f64,
    /// Error bound on `lambda_max` (Lanczos residual plus rounding).
    pub lambda_max_error: f64,
    /// Lanczos products.
    pub products: usize,
    /// Lanczos termination.
    pub termination: crate::engine::stability::Termination,
}

/// Computes [`SecondOrderThreshold`] for the eigen-rotated coordinates; `hooks` are polled at
/// every product of the pencil (a cancelled run returns [`Error::Cancelled`]).
pub fn second_order_threshold(
    ec: &EigenCoords,
    model: &BatchModel,
    lanczos: &crate::engine::lanczos::LanczosOptions,
    hooks: crate::progress::Hooks,
) -> Result<SecondOrderThreshold> {
    if ec.r == 0 {
        return Err(Error::InvalidInput {
            context: "gradients".into(),
            message: "all gradients are zero: every learning rate is stable".into(),
        });
    }
    let op = ThresholdPencil::new(ec, model)?;
    let opts = crate::engine::lanczos::LanczosOptions {
        ends: crate::engine::lanczos::Ends::Largest,
        ..*lanczos
    };
    let checked = crate::engine::cancellable::Cancellable::new(&op, hooks);
    let res = crate::engine::lanczos::extreme_eigenvalues(&checked, &opts);
    checked.finish()?;
    let lam = res.lambda_max;
    let delta = res.residual_max + op.dim() as f64 * f64::EPSILON * lam.abs();
    if !(lam > 0.0 && lam.is_finite()) {
        return Err(Error::Numerical {
            routine: "second-order threshold",
            message: format!("λ_max(C⁺D) = {lam} is not positive"),
        });
    }
    let err = if delta < lam {
        2.0 * delta / (lam * (lam - delta))
    } else {
        f64::MAX
    };
    Ok(SecondOrderThreshold {
        lr_threshold: 2.0 / lam,
        lr_threshold_error: err,
        lambda_max: lam,
        lambda_max_error: delta,
        products: res.products,
        termination: res.termination,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sampling::Sampling;

    /// The GEMM path of the single-part shapes equals the per-sample path (the fallback above
    /// [`GEMM_ENTRIES`]), k = 2..4.
    #[test]
    fn gemm_single_parts_equal_the_per_sample_path() {
        let (n, r) = (7, 5);
        let mut s = 0x1234_5678u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let b: Vec<f64> = (0..n * r).map(|_| next()).collect();
        let ec = EigenCoords::new(&b, n, r).unwrap();
        for k in 2..=4 {
            let model = BatchModel::new(n, 3, Sampling::WithoutReplacement).unwrap();
            let op = MatrixFreeMoment::new(&ec, k, 0.7, &model).unwrap();
            assert!(op.gemm_singles());
            let d = op.dim();
            let p: Vec<f64> = (0..d).map(|_| next()).collect();
            let (mut a, mut g) = (vec![0.0; d], vec![0.0; d]);
            op.single_parts(&p, 0..n, &mut a);
            op.single_parts_gemm(&p, &mut g);
            let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(&g) {
                assert!((x - y).abs() <= 1e-13 * scale, "k = {k}: {x} vs {y}");
            }
        }
    }
}
