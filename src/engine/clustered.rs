//! A certified enclosure `[lower, upper]` of `λ_max(T_2)` when the top of `spec T_2` is a dense
//! cluster just below 1 (trained networks; DESIGN §12), where Lanczos stalls.
//!
//! # Structure
//!
//! In the eigenbasis of `H` (eigenvalues `λ_a`, eigen-rotated coordinates `b_i`, the `n × r`
//! matrix `B` of [`EigenCoords`]), on the orthonormal basis `E_ab` (`a <= b`) of `Sym²(R^r)`,
//!
//! ```text
//! T_2 = Δ + w₂ V Vᵀ,   Δ_ab = 1 − η(λ_a + λ_b) + e₂ λ_a λ_b,   (v_i)_ab = B_ia B_ib · (√2 if a < b),
//! ```
//!
//! with `w₂ = c² κ(2) = η² p / n` and `e₂ = c² κ(1,1) n² = η²(1 − p)`, `p = (n − B)/(B(n − 1))`
//! without replacement, `1/B` with ([`BatchModel`]). `Δ` is diagonal and `w₂VVᵀ` is PSD of rank
//! `<= n`, so `λ_max(T_2) >= max Δ` and `λ_min(T_2) >= min Δ`.
//!
//! # Upper bound: a certificate (Sylvester's law of inertia)
//!
//! For `μ > max Δ` the number of eigenvalues of `T_2` above `μ` equals the number of negative
//! eigenvalues of the `n × n` capacitance matrix `I − M(μ)`,
//! `M(μ) = w₂ Vᵀ(μ − Δ)⁻¹V`, `M_ij = w₂ Σ_{a,b} g_ab (B_ia B_ja)(B_ib B_jb)` (ordered pairs),
//! `g_ab = 1/(μ − Δ_ab)`. Forming `M` exactly costs `n² r²` flops (10¹² at `n = r = 1000`).
//! Instead the eigen-indices (sorted by `λ`) are grouped into contiguous buckets `A_1..A_S`;
//! `μ − Δ_ab` is bilinear in `(λ_a, λ_b)`, so its minimum over a bucket box is at one of the four
//! corners, and `U_st = 1/min` bounds `g_ab` from above on the box. Then
//!
//! ```text
//! M̃ = w₂ Σ_{s,t} U_st (B_s B_sᵀ) ∘ (B_t B_tᵀ) ⪰ M   (M̃ − M = w₂ Σ_ab (U − g)_ab (β_a∘β_b)(β_a∘β_b)ᵀ),
//! ```
//!
//! and a floating-point Cholesky factorization of `(1 − τ)I − M̃` that succeeds (with `τ` covering
//! the rounding of `M̃` and of the factorization: Rump's criterion) proves `λ_max(T_2) < μ`.
//! Each entry of `M̃` is the quadratic form `γ_ijᵀ U γ_ij`, `γ_ij = ((B_sB_sᵀ)_ij)_s`, so forming it
//! costs `n² r` (the bucket Grams) plus `n² S²/2` (one GEMM), for `S` buckets.
//!
//! # Lower bound: a Rayleigh quotient
//!
//! The top eigenvector `u` of `M̃(μ)` (Lanczos on the `n × n` matrix) gives
//! `x = (μ − Δ)⁻¹ V u`, the secular-equation approximation of the top eigenvector of `T_2`;
//! its Rayleigh quotient `θ`, computed with the exact matrix-free `T_2` ([`SecondMoment`]), is a
//! lower bound. If `M(μ)` has an eigenvalue above 1 (so `μ < λ_max`), then `θ > μ`; iterating
//! `μ ← θ + ω` converges to `λ_max` from below. When the certificate fails at a `μ` that is
//! above `λ_max` (the bucket bound is too loose there), the buckets carrying most of
//! `uᵀ(M̃ − M)u` are split and the certificate is retried.
//!
//! When the top of `spec T_2` is separated (driven by the low-rank term, e.g. `λ_max > 1`),
//! the bucket bound cannot be tight enough at `θ + ω`; there the upper bound is Kato–Temple's
//! `λ_max <= θ + ‖T x − θ x‖²/(θ − α)`, valid once at most one eigenvalue lies above `α < θ`,
//! which the capacitance certifies at `α` with one direction deflated (`I − M̃(α) + σ w wᵀ ≻ 0`:
//! a rank-one update moves the inertia by at most one). Each round polishes `u` by a few
//! Lanczos steps on the exact `M(μ)` (two GEMMs of `n r²` per product).
//!
//! # Rounding
//!
//! All reported bounds include a rounding term: the Rayleigh quotient's rounding, the rounding of
//! `μ − Δ_ab`, of `M̃` and of the Cholesky factorization, and a model term
//! `16 (n + r) u N` (`N = 1 + 2ηλ_max(H) + e₂λ_max(H)² + w₂ Σ_i ‖b_i‖⁴`) for the eigen-rotation of
//! the coordinates.

use crate::engine::matrix_free::{EigenCoords, SecondMoment};
use crate::engine::sampling::BatchModel;
use crate::engine::stability::Termination;
use crate::error::{Error, Result};
use crate::progress::Hooks;
use serde::Serialize;

const U: f64 = f64::EPSILON / 2.0;

/// Settings of the clustered solver.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ClusteredOptions {
    /// Target width of the enclosure `upper − lower` (absolute, scaled up by `max(1, ‖T_2‖)`).
    pub width: f64,
    /// Limit on secular/refinement rounds (each forms one capacitance matrix).
    pub max_rounds: usize,
    /// Limit on the number of buckets `S`.
    pub max_buckets: usize,
    /// Initial number of buckets.
    pub initial_buckets: usize,
}

/// Default target width of the enclosure.
pub const DEFAULT_WIDTH: f64 = 1e-9;

impl Default for ClusteredOptions {
    fn default() -> Self {
        ClusteredOptions {
            width: DEFAULT_WIDTH,
            max_rounds: 60,
            max_buckets: 160,
            initial_buckets: 48,
        }
    }
}

/// The certified enclosure of `λ_max(T_2)` and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Enclosure {
    /// Certified lower bound on `λ_max(T_2)` (a Rayleigh quotient minus its rounding bound).
    pub lower: f64,
    /// Certified upper bound on `λ_max(T_2)` (the capacitance certificate, plus rounding).
    pub upper: f64,
    /// `upper − lower`.
    pub width: f64,
    /// Certified lower bound on `λ_min(T_2)`: `min Δ` minus rounding.
    pub lambda_min_lower: f64,
    /// The smallest diagonal entry of `T_2` (a Rayleigh quotient, so `>= λ_min`).
    pub lambda_min_upper: f64,
    /// Secular/refinement rounds (capacitance matrices formed).
    pub rounds: usize,
    /// Exact operator products: one `T_2` product per Rayleigh quotient plus the products with
    /// the exact `M(μ)` (each two GEMMs of `n r²`, like a `T_2` product).
    pub products: usize,
    /// Buckets at the end.
    pub buckets: usize,
    /// `converged` when `width <=` the target, else `max-iterations` (the width reached is
    /// still certified).
    pub termination: Termination,
}

/// Bytes the clustered solver allocates for `n` samples, rank `r` and at most `buckets`
/// buckets: a few vectors of `D = r(r+1)/2` (and `r × r` matrices), three `n × n` matrices
/// (capacitance, its factor, Lanczos basis), the bucket Grams of one row block, and `B` twice.
pub fn workspace_bytes(n: usize, r: usize, buckets: usize) -> u128 {
    let (n, r, s) = (n as u128, r as u128, buckets as u128);
    let block = ROW_BLOCK.min(n as usize) as u128;
    let words = 8 * r * r + 4 * n * n + 2 * block * n * s + 4 * n * r + 16 * (n + r + s * s);
    words.saturating_mul(8)
}

/// Rounds a typical solve takes (for the progress message's time estimate).
const EXPECTED_ROUNDS: usize = 8;

/// Lanczos steps on the exact `M(μ)` per round.
const POLISH: usize = 10;

/// Rows of the capacitance matrix formed per GEMM block.
const ROW_BLOCK: usize = 48;

/// The prepared problem.
struct Problem<'a> {
    n: usize,
    r: usize,
    lam: Vec<f64>,
    /// `B`, column-major `n × r`.
    b: Vec<f64>,
    eta: f64,
    e2: f64,
    w2: f64,
    /// `Σ_i ‖b_i‖⁴`.
    quartic: f64,
    op: SecondMoment,
    /// rounding slack of `μ − Δ_ab`.
    slack: f64,
    /// model/rounding term added on both sides.
    model_err: f64,
    /// rounding bound of a Rayleigh quotient.
    rq_err: f64,
    hooks: Hooks<'a>,
}

impl<'a> Problem<'a> {
    fn new(ec: &EigenCoords, lr: f64, model: &BatchModel, hooks: Hooks<'a>) -> Result<Self> {
        let (n, r) = (ec.n, ec.r);
        if r == 0 {
            return Err(Error::InvalidInput {
                context: "gradients".into(),
                message: "all gradients are zero: T_2 has no reduced block".into(),
            });
        }
        let kappa = model.kappa_table(2);
        let c = lr / model.batch as f64;
        let k11 = kappa.get(&[1, 1]).map_or(0.0, |e| e.kappa);
        let k2 = kappa.get(&[2]).map_or(0.0, |e| e.kappa);
        let (w2, e2) = (c * c * k2, c * c * k11 * (n * n) as f64);
        let mut b = vec![0.0; n * r];
        for i in 0..n {
            for a in 0..r {
                b[i + a * n] = ec.coords[i * r + a];
            }
        }
        let lam = ec.h_eigenvalues.clone();
        let lmax = lam.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
        let quartic: f64 = (0..n)
            .map(|i| {
                let s: f64 = ec.row(i).iter().map(|v| v * v).sum();
                s * s
            })
            .sum();
        let norm_bound = 1.0 + 2.0 * lr * lmax + e2 * lmax * lmax + w2 * quartic;
        Ok(Problem {
            n,
            r,
            lam,
            b,
            eta: lr,
            e2,
            w2,
            quartic,
            op: SecondMoment::new(ec, lr, model)?,
            slack: 8.0 * U * (2.0 + 2.0 * lr * lmax + e2 * lmax * lmax),
            model_err: 16.0 * (n + r) as f64 * U * norm_bound,
            rq_err: 4.0 * (n + r + 10) as f64 * U * norm_bound,
            hooks,
        })
    }
}

impl Problem<'_> {
    /// `1 − Δ_ab = η(λ_a + λ_b) − e₂ λ_a λ_b`.
    fn dist(&self, la: f64, lb: f64) -> f64 {
        self.eta * (la + lb) - self.e2 * la * lb
    }

    fn delta(&self, a: usize, b: usize) -> f64 {
        1.0 - self.dist(self.lam[a], self.lam[b])
    }

    /// Certified lower bound on `min_{a∈s, b∈t} (μ − Δ_ab)` over the corners of the box.
    fn box_min(&self, mu: f64, s: (usize, usize), t: (usize, usize)) -> f64 {
        let (sl, sh) = (self.lam[s.0], self.lam[s.1 - 1]);
        let (tl, th) = (self.lam[t.0], self.lam[t.1 - 1]);
        let m1 = mu - 1.0;
        let m = [(sl, tl), (sl, th), (sh, tl), (sh, th)]
            .iter()
            .map(|&(x, y)| m1 + self.dist(x, y))
            .fold(f64::INFINITY, f64::min);
        m - self.slack
    }

    /// `X_u = Bᵀ diag(u) B` (`r × r`, column-major).
    fn vu(&self, u: &[f64]) -> Vec<f64> {
        let (n, r) = (self.n, self.r);
        let par = crate::parallel::faer_par();
        let bm = faer::MatRef::from_column_major_slice(&self.b, n, r);
        let mut ub = self.b.clone();
        for a in 0..r {
            for i in 0..n {
                ub[i + a * n] *= u[i];
            }
        }
        let ubm = faer::MatRef::from_column_major_slice(&ub, n, r);
        let mut out = vec![0.0; r * r];
        let om = faer::MatMut::from_column_major_slice_mut(&mut out, r, r);
        faer::linalg::matmul::matmul(om, faer::Accum::Replace, bm.transpose(), ubm, 1.0, par);
        out
    }

    /// `(b_iᵀ X b_i)_i` for a symmetric `X` (column-major `r × r`).
    fn vt(&self, x: &[f64]) -> Vec<f64> {
        let (n, r) = (self.n, self.r);
        let par = crate::parallel::faer_par();
        let bm = faer::MatRef::from_column_major_slice(&self.b, n, r);
        let xm = faer::MatRef::from_column_major_slice(x, r, r);
        let mut bx = faer::Mat::<f64>::zeros(n, r);
        faer::linalg::matmul::matmul(&mut bx, faer::Accum::Replace, bm, xm, 1.0, par);
        (0..n)
            .map(|i| (0..r).map(|a| bx[(i, a)] * self.b[i + a * n]).sum())
            .collect()
    }

    /// Rayleigh quotient `θ` of `T_2` at the symmetric matrix `x` (Frobenius inner product) and
    /// the residual `‖T x − θ x‖/‖x‖`.
    fn rayleigh(&self, x: &[f64]) -> (f64, f64) {
        let r = self.r;
        let mut out = vec![0.0; r * r];
        self.op.apply_matrix(x, &mut out);
        let (mut num, mut den) = (0.0, 0.0);
        for c in 0..r {
            for a in 0..=c {
                let wgt = if a == c { 1.0 } else { 2.0 };
                num += wgt * x[a + c * r] * out[a + c * r];
                den += wgt * x[a + c * r] * x[a + c * r];
            }
        }
        let theta = num / den;
        let mut res = 0.0;
        for c in 0..r {
            for a in 0..=c {
                let wgt = if a == c { 1.0 } else { 2.0 };
                let d = out[a + c * r] - theta * x[a + c * r];
                res += wgt * d * d;
            }
        }
        (theta, (res / den).sqrt())
    }

    /// `M(μ) u` exactly: `w₂ Vᵀ (μ − Δ)⁻¹ V u` (two GEMMs of `n r²`).
    fn exact_m(&self, mu: f64, u: &[f64]) -> Vec<f64> {
        let x = self.secular_vector(mu, &self.vu(u));
        self.vt(&x).iter().map(|v| self.w2 * v).collect()
    }

    /// `M̃(μ)` for the buckets (full symmetric `n × n`, column-major), or `None` when some box
    /// minimum of `μ − Δ` is not certifiably positive.
    fn capacitance(&self, mu: f64, buckets: &[(usize, usize)]) -> Option<Vec<f64>> {
        let (n, s) = (self.n, buckets.len());
        let mut ub = vec![0.0; s * s];
        for (i, &bs) in buckets.iter().enumerate() {
            for (j, &bt) in buckets.iter().enumerate().skip(i) {
                let m = self.box_min(mu, bs, bt);
                if m.is_nan() || m <= 0.0 {
                    return None;
                }
                let v = self.w2 * (1.0 + 4.0 * U) / m;
                ub[i + j * s] = v;
                ub[j + i * s] = v;
            }
        }
        let par = crate::parallel::faer_par();
        let bm = faer::MatRef::from_column_major_slice(&self.b, n, self.r);
        let um = faer::MatRef::from_column_major_slice(&ub, s, s);
        let mut out = vec![0.0; n * n];
        let mut gamma = vec![0.0; ROW_BLOCK * n * s];
        let mut prod = vec![0.0; ROW_BLOCK * n * s];
        let mut i0 = 0;
        while i0 < n {
            let i1 = (i0 + ROW_BLOCK).min(n);
            let m = i1 - i0;
            // rows i0..i1, columns 0..i1 (the lower triangle and the diagonal block)
            let cols = i1;
            let entries = m * cols;
            for (t, &(lo, hi)) in buckets.iter().enumerate() {
                let rows = bm.submatrix(i0, lo, m, hi - lo);
                let all = bm.submatrix(0, lo, cols, hi - lo);
                let dst = faer::MatMut::from_column_major_slice_mut(
                    &mut gamma[t * entries..(t + 1) * entries],
                    m,
                    cols,
                );
                faer::linalg::matmul::matmul(
                    dst,
                    faer::Accum::Replace,
                    rows,
                    all.transpose(),
                    1.0,
                    par,
                );
            }
            let gm = faer::MatRef::from_column_major_slice(&gamma[..entries * s], entries, s);
            let pm =
                faer::MatMut::from_column_major_slice_mut(&mut prod[..entries * s], entries, s);
            faer::linalg::matmul::matmul(pm, faer::Accum::Replace, gm, um, 1.0, par);
            let mut acc = vec![0.0; entries];
            for t in 0..s {
                let g = &gamma[t * entries..(t + 1) * entries];
                let q = &prod[t * entries..(t + 1) * entries];
                for ((a, x), y) in acc.iter_mut().zip(g).zip(q) {
                    *a += x * y;
                }
            }
            for j in 0..cols {
                for ii in 0..m {
                    let i = i0 + ii;
                    if j <= i {
                        let v = acc[ii + j * m];
                        out[i + j * n] = v;
                        out[j + i * n] = v;
                    }
                }
            }
            i0 = i1;
        }
        Some(out)
    }

    /// Whether `I − M̃` is certifiably positive definite (Rump's criterion on a floating-point
    /// Cholesky factorization of `(1 − τ)I − M̃`).
    fn certify(&self, mt: &[f64], buckets: usize) -> bool {
        self.certify_deflated(mt, buckets, None)
    }

    /// Like [`Problem::certify`] for `I − M̃ + σ w wᵀ` (`‖w‖ = 1`): success proves that `I − M̃`
    /// has at most one negative eigenvalue (a rank-one update moves the inertia by at most one),
    /// i.e. at most one eigenvalue of `T_2` lies above `μ`.
    fn certify_deflated(&self, mt: &[f64], buckets: usize, defl: Option<(&[f64], f64)>) -> bool {
        let n = self.n;
        let trace: f64 = (0..n).map(|i| mt[i + i * n]).sum();
        let gamma = |k: usize| {
            let k = k as f64 * U;
            k / (1.0 - k)
        };
        // rounding of M̃ (entries bounded by sqrt(M̃_ii M̃_jj): spectral norm <= trace)
        let tau_entries = gamma(self.r + 2 * buckets + 16) * trace * 1.01;
        // Cholesky: Rump, BIT 46 (2006), Theorem 2.3 with tr(A) <= n + trace
        let tau_chol = 2.0 * gamma(n + 2) * (n as f64 + trace) + 1e-290;
        let shift = 1.0 - tau_entries - tau_chol;
        let mut a = faer::Mat::<f64>::zeros(n, n);
        for j in 0..n {
            for i in 0..n {
                a[(i, j)] = -mt[i + j * n];
            }
            a[(j, j)] += shift;
        }
        if let Some((w, sigma)) = defl {
            for j in 0..n {
                for i in 0..n {
                    a[(i, j)] += sigma * w[i] * w[j];
                }
            }
        }
        a.llt(faer::Side::Lower).is_ok()
    }

    /// Top eigenpair of the dense symmetric `M̃` by Lanczos (full reorthogonalisation), from `start`.
    fn top_eigvec(&self, mt: &[f64], start: &[f64]) -> Result<(f64, Vec<f64>)> {
        let n = self.n;
        let par = crate::parallel::faer_par();
        let mm = faer::MatRef::from_column_major_slice(mt, n, n);
        top_pair(n, n.min(120), start, |x: &[f64], y: &mut [f64]| {
            let xv = faer::MatRef::from_column_major_slice(x, n, 1);
            let yv = faer::MatMut::from_column_major_slice_mut(y, n, 1);
            faer::linalg::matmul::matmul(yv, faer::Accum::Replace, mm, xv, 1.0, par);
        })
    }
}

/// Top eigenpair of a symmetric operator on `R^n` by `steps` Lanczos steps with full
/// reorthogonalisation from `start` (the Ritz pair; unit vector).
fn top_pair(
    n: usize,
    steps: usize,
    start: &[f64],
    apply: impl Fn(&[f64], &mut [f64]),
) -> Result<(f64, Vec<f64>)> {
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(steps);
    let nrm = crate::engine::linop::norm(start);
    q.push(start.iter().map(|v| v / nrm).collect());
    let mut alpha = Vec::new();
    let mut beta: Vec<f64> = Vec::new();
    let mut w = vec![0.0; n];
    for k in 0..steps {
        apply(&q[k], &mut w);
        let a: f64 = w.iter().zip(&q[k]).map(|(x, y)| x * y).sum();
        alpha.push(a);
        for _ in 0..2 {
            for qq in &q {
                let d: f64 = w.iter().zip(qq).map(|(x, y)| x * y).sum();
                for (x, y) in w.iter_mut().zip(qq) {
                    *x -= d * y;
                }
            }
        }
        let b = crate::engine::linop::norm(&w);
        if k + 1 == steps || b <= 1e-14 * alpha.iter().fold(0.0f64, |m, v| m.max(v.abs())) {
            break;
        }
        beta.push(b);
        q.push(w.iter().map(|v| v / b).collect());
    }
    let m = alpha.len();
    let mut t = faer::Mat::<f64>::zeros(m, m);
    for i in 0..m {
        t[(i, i)] = alpha[i];
        if i + 1 < m {
            t[(i, i + 1)] = beta[i];
            t[(i + 1, i)] = beta[i];
        }
    }
    let evd = t
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "clustered: Lanczos on the capacitance matrix",
            message: format!("{e:?}"),
        })?;
    let top = m - 1;
    let nu = evd.S().column_vector()[top];
    let mut u = vec![0.0; n];
    for (k, qk) in q.iter().enumerate().take(m) {
        let c = evd.U()[(k, top)];
        for (x, y) in u.iter_mut().zip(qk) {
            *x += c * y;
        }
    }
    Ok((nu, u))
}

impl Problem<'_> {
    /// `x = (μ − Δ)⁻¹ X_u` for `μ > max Δ` (entrywise; `X_u = V u`).
    fn secular_vector(&self, mu: f64, xu: &[f64]) -> Vec<f64> {
        let r = self.r;
        let mut x = vec![0.0; r * r];
        for c in 0..r {
            for a in 0..r {
                x[a + c * r] = xu[a + c * r] / (mu - self.delta(a, c));
            }
        }
        x
    }
}

/// The initial buckets: contiguous index ranges of the ascending `λ`, geometric in `λ` with about
/// `target` buckets, none larger than `⌈r/8⌉` indices.
fn initial_buckets(lam: &[f64], target: usize) -> Vec<(usize, usize)> {
    let r = lam.len();
    let lo = lam[0].max(f64::MIN_POSITIVE);
    let hi = lam[r - 1].max(lo);
    let ratio = (hi / lo).powf(1.0 / (target.max(2) as f64 * 0.75));
    let cap = r.div_ceil(8).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    for a in 1..r {
        if lam[a] > lam[start].max(lo) * ratio || a - start >= cap {
            out.push((start, a));
            start = a;
        }
    }
    out.push((start, r));
    out
}

/// Splits the buckets carrying the largest shares of `uᵀ(M̃ − M)u` (bisection by index).
fn refine(
    p: &Problem,
    mu: f64,
    buckets: &[(usize, usize)],
    xu: &[f64],
    limit: usize,
) -> Vec<(usize, usize)> {
    let r = p.r;
    let s = buckets.len();
    let mut owner = vec![0usize; r];
    for (t, &(lo, hi)) in buckets.iter().enumerate() {
        owner[lo..hi].iter_mut().for_each(|o| *o = t);
    }
    let mut share = vec![0.0; s];
    let mins: Vec<Vec<f64>> = buckets
        .iter()
        .map(|&bs| buckets.iter().map(|&bt| p.box_min(mu, bs, bt)).collect())
        .collect();
    for c in 0..r {
        for a in 0..r {
            let (sa, sc) = (owner[a], owner[c]);
            let g = 1.0 / (mu - p.delta(a, c));
            let e = (1.0 / mins[sa][sc] - g).max(0.0) * xu[a + c * r] * xu[a + c * r];
            share[sa] += e;
            share[sc] += e;
        }
    }
    let total: f64 = share.iter().sum();
    let mut order: Vec<usize> = (0..s)
        .filter(|&t| buckets[t].1 - buckets[t].0 > 1)
        .collect();
    order.sort_by(|&x, &y| share[y].total_cmp(&share[x]).then(x.cmp(&y)));
    let room = limit.saturating_sub(s);
    let mut split = vec![false; s];
    let mut acc = 0.0;
    for (k, &t) in order.iter().enumerate() {
        if k >= room.max(1) || (k > 0 && acc >= 0.8 * total) {
            break;
        }
        split[t] = true;
        acc += share[t];
    }
    let mut out = Vec::with_capacity(s * 2);
    for (t, &(lo, hi)) in buckets.iter().enumerate() {
        if split[t] {
            let mid = lo + (hi - lo) / 2;
            out.push((lo, mid));
            out.push((mid, hi));
        } else {
            out.push((lo, hi));
        }
    }
    out
}

/// Encloses `λ_max(T_2)` for the eigen-rotated coordinates (see the module documentation);
/// `hooks` are polled once per round.
pub fn enclose_top(
    ec: &EigenCoords,
    lr: f64,
    model: &BatchModel,
    opts: &ClusteredOptions,
    hooks: Hooks,
) -> Result<Enclosure> {
    let p = Problem::new(ec, lr, model, hooks)?;
    let (n, r, w2, quartic) = (p.n, p.r, p.w2, p.quartic);
    // Δ extremes and the diagonal of T_2 (Rayleigh quotients at the basis vectors)
    let mut bsq = vec![0.0; n * r];
    for (o, v) in bsq.iter_mut().zip(&p.b) {
        *o = v * v;
    }
    let bsqm = faer::MatRef::from_column_major_slice(&bsq, n, r);
    let mut kd = faer::Mat::<f64>::zeros(r, r);
    faer::linalg::matmul::matmul(
        &mut kd,
        faer::Accum::Replace,
        bsqm.transpose(),
        bsqm,
        1.0,
        crate::parallel::faer_par(),
    );
    let (mut dmax, mut dmin) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut tmax, mut tmin) = (f64::NEG_INFINITY, f64::INFINITY);
    for cc in 0..r {
        for a in 0..=cc {
            let d = p.delta(a, cc);
            dmax = dmax.max(d);
            dmin = dmin.min(d);
            let t = d + w2 * kd[(a, cc)] * if a == cc { 1.0 } else { 2.0 };
            tmax = tmax.max(t);
            tmin = tmin.min(t);
        }
    }
    let target = opts.width * 1f64.max(tmax.abs()).max(dmin.abs());
    let lambda_min_lower = dmin - p.slack - p.model_err;
    let lambda_min_upper = tmin + p.rq_err + p.model_err;
    let mut lower = tmax - p.rq_err - p.model_err;
    // a crude certified upper bound: max Δ + w₂ ‖VᵀV‖ <= max Δ + w₂ Σ_i ‖b_i‖⁴
    let mut upper = dmax + w2 * quartic * (1.0 + 4.0 * (n + r) as f64 * U) + p.slack + p.model_err;
    let mut rounds = 0;
    let mut products = 0;
    let done = |lo: f64, up: f64| up - lo <= target;
    if w2 == 0.0 || done(lower, upper) {
        return Ok(Enclosure {
            lower,
            upper,
            width: upper - lower,
            lambda_min_lower,
            lambda_min_upper,
            rounds,
            products,
            buckets: 0,
            termination: Termination::Converged,
        });
    }
    let mut buckets = initial_buckets(&p.lam, opts.initial_buckets);
    let omega = 0.25 * target;
    let floor = dmax + 4.0 * p.slack + 1e-3 * target;
    let mut mu = (lower + omega).max(floor);
    let mut u: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 * 1e-3).collect();
    let mut alpha: Option<f64> = None;
    let mut attempts = 0;
    let started = std::time::Instant::now();
    while rounds < opts.max_rounds && !done(lower, upper) {
        p.hooks.checkpoint()?;
        if rounds == 1 {
            // the time estimate of the block, from its first round (issue 14)
            let label =
                crate::progress::block_message(2, r, (r * (r + 1) / 2) as u128, "clustered");
            let msg = crate::progress::step_estimate_message(
                &label,
                started.elapsed().as_secs_f64(),
                "round",
                EXPECTED_ROUNDS,
                opts.max_rounds,
            );
            p.hooks.progress.advance(0, &msg);
        }
        rounds += 1;
        let Some(mt) = p.capacitance(mu, &buckets) else {
            mu = mu.max(floor) + omega;
            continue;
        };
        if p.certify(&mt, buckets.len()) {
            upper = upper.min(mu + p.model_err);
        }
        let (_nu, top) = p.top_eigvec(&mt, &u)?;
        // polish on the exact M(μ): a few Lanczos steps from the top eigenvector of M̃
        let (_nu, top) = top_pair(n, POLISH.min(n), &top, |x: &[f64], y: &mut [f64]| {
            y.copy_from_slice(&p.exact_m(mu, x));
        })?;
        u = top;
        let xu = p.vu(&u);
        let x = p.secular_vector(mu, &xu);
        let (theta, res) = p.rayleigh(&x);
        products += 1 + POLISH.min(n);
        lower = lower.max(theta - p.rq_err - p.model_err);
        // Kato–Temple: with at most one eigenvalue above α < θ, λ_max <= θ + res²/(θ − α)
        if alpha.is_none() && attempts < 3 && theta - dmax > 1e3 * target {
            let a = dmax + [0.5, 0.8, 0.95][attempts] * (theta - dmax);
            attempts += 1;
            if let Some(mt2) = p.capacitance(a, &buckets) {
                let (nu2, u2) = p.top_eigvec(&mt2, &u)?;
                if p.certify_deflated(&mt2, buckets.len(), Some((&u2, nu2.max(0.0) + 1.0))) {
                    alpha = Some(a + p.model_err);
                }
            }
        }
        if let Some(a) = alpha {
            let th = theta - p.rq_err - p.model_err;
            if th > a {
                let e = res + p.rq_err + p.model_err;
                upper = upper.min(theta + e * e / (th - a) + p.rq_err + p.model_err);
            }
        }
        if done(lower, upper) {
            break;
        }
        if upper <= mu + p.model_err {
            // certified at μ but the lower bound lags: move μ down towards θ
            mu = (lower + omega).max(floor);
            continue;
        }
        // not certified at μ: below λ_max (exact νᵤ = uᵀM(μ)u > 1), or the buckets are too loose
        let mx = p.vt(&x);
        let nu_exact: f64 = mx.iter().zip(&u).map(|(a, b)| w2 * a * b).sum::<f64>()
            / u.iter().map(|v| v * v).sum::<f64>();
        if nu_exact > 1.0 || theta > mu {
            mu = (lower + omega).max(floor);
        } else if buckets.len() < opts.max_buckets {
            buckets = refine(&p, mu, &buckets, &xu, opts.max_buckets);
        } else {
            // no room to refine: aim higher
            mu += 4.0 * omega.max(mu - lower);
        }
    }
    Ok(Enclosure {
        lower,
        upper,
        width: upper - lower,
        lambda_min_lower,
        lambda_min_upper,
        rounds,
        products,
        buckets: buckets.len(),
        termination: if done(lower, upper) {
            Termination::Converged
        } else {
            Termination::MaxIterations
        },
    })
}

/// Whether the capacitance certificate proves `λ_max(T_2) < μ` with about `buckets` initial
/// buckets (`buckets >= r`: one index per bucket, the exact `M(μ)` up to rounding). `false` when
/// `μ <= max Δ` or the Cholesky factorization of `(1 − τ)I − M̃(μ)` fails. The certificate never
/// succeeds below `λ_max` (the property the tests check against dense eigensolves).
pub fn certify_at(
    ec: &EigenCoords,
    lr: f64,
    model: &BatchModel,
    mu: f64,
    buckets: usize,
) -> Result<bool> {
    let p = Problem::new(ec, lr, model, Hooks::none())?;
    let bk = if buckets >= p.r {
        (0..p.r).map(|a| (a, a + 1)).collect()
    } else {
        initial_buckets(&p.lam, buckets)
    };
    Ok(match p.capacitance(mu - p.model_err, &bk) {
        Some(mt) => p.certify(&mt, bk.len()),
        None => false,
    })
}

/// The number of negative eigenvalues of `I − M(μ)` for `μ > max Δ`, with `M(μ)` formed exactly
/// (one bucket per index: `n² r²` flops, for tests and small problems), by a dense eigensolve;
/// by Sylvester's law of inertia it equals the number of eigenvalues of `T_2` above `μ`
/// (`None` when `μ <= max Δ`).
pub fn eigenvalues_above(
    ec: &EigenCoords,
    lr: f64,
    model: &BatchModel,
    mu: f64,
) -> Result<Option<usize>> {
    let p = Problem::new(ec, lr, model, Hooks::none())?;
    let bk: Vec<(usize, usize)> = (0..p.r).map(|a| (a, a + 1)).collect();
    let Some(mt) = p.capacitance(mu, &bk) else {
        return Ok(None);
    };
    let n = p.n;
    let mut a = faer::Mat::<f64>::zeros(n, n);
    for j in 0..n {
        for i in 0..n {
            a[(i, j)] = if i == j { 1.0 } else { 0.0 } - mt[i + j * n];
        }
    }
    let vals = a
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "clustered: capacitance inertia",
            message: format!("{e:?}"),
        })?;
    Ok(Some(vals.iter().filter(|&&v| v < 0.0).count()))
}
