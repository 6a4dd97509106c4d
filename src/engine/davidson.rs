//! Extreme eigenvalues of a matrix-free symmetric operator by a block Davidson method with the
//! diagonal as preconditioner (Olsen's correction), for the blocks `T_j`, `j >= 3`, whose top is a
//! dense cluster just below 1 (trained networks; DESIGN §12), where Lanczos stalls.
//!
//! # Method
//!
//! In the eigenbasis of `H` the operator is dominated by its diagonal near the top of the
//! spectrum: the eigenvectors there are close to the basis vectors `E_β` whose indices are the
//! directions of small curvature. The search space starts from the `block` basis vectors with the
//! largest diagonal entries (and the `block` smallest when both ends are wanted) plus one seeded
//! random vector. Each iteration does a Rayleigh–Ritz step on the space, and for every wanted
//! Ritz pair `(θ, x)` whose residual `r = T x − θ x` is not yet small adds Olsen's correction
//!
//! ```text
//! t = (θ − diag)⁻¹ (r − ε x),   ε = xᵀ(θ − diag)⁻¹ r / xᵀ(θ − diag)⁻¹ x   (so that xᵀ t = 0),
//! ```
//!
//! the first-order perturbation correction of a diagonally dominant operator, with `|θ − diag|`
//! floored (the safeguard) so that no entry is divided by zero. When the space is full it
//! restarts from two thirds of the Ritz vectors at each wanted end (no new product). Stops when the
//! residual of each wanted extreme Ritz pair is `<= tolerance · max|θ|`.
//!
//! # What is certified
//!
//! At the end the extreme Ritz vectors get one explicit product each, and their Rayleigh quotients
//! `θ = xᵀTx / xᵀx` are computed with a rounding bound `δ` (the operator's rounding, supplied by
//! the caller, plus that of the two inner products). A Rayleigh quotient of the exact operator
//! lies in `[λ_min, λ_max]`, so `θ_max − δ` is a **certified lower bound on `λ_max`** and
//! `θ_min + δ` a **certified upper bound on `λ_min`**. The residual `‖T x − θ x‖/‖x‖` bounds the
//! distance from `θ` to *some* eigenvalue: in a cluster it says nothing about whether a larger one
//! exists, so it is reported as an error estimate, never as the upper side of an enclosure.
//!
//! # Determinism
//!
//! Inner products and linear combinations use the fixed chunking of [`crate::engine::lanczos`];
//! the start block is chosen by `(diagonal value, index)`; the random vector is seeded. Results are
//! bit-for-bit the same for any number of threads.

use crate::engine::lanczos::{
    combine, dot, norm, project_out, small_eigen, start_vector, Ends, CHUNK,
};
use crate::engine::linop::SymmetricOperator;
use crate::engine::stability::Termination;
use crate::error::{Error, Result};
use crate::progress::Hooks;
use rayon::prelude::*;
use serde::Serialize;

const U: f64 = f64::EPSILON / 2.0;

/// Settings of the block Davidson solver.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DavidsonOptions {
    /// Ritz pairs iterated per wanted end (the block size).
    pub block: usize,
    /// Basis vectors per wanted end before a restart (at least `3 · block`).
    pub max_basis_per_end: usize,
    /// Converged when each wanted extreme Ritz pair has residual `<= tolerance · max|θ|`.
    pub tolerance: f64,
    /// Limit on operator products (including the final explicit ones).
    pub max_products: usize,
    /// Seed of the random start vector.
    pub seed: u64,
}

impl Default for DavidsonOptions {
    fn default() -> Self {
        DavidsonOptions {
            block: 1,
            max_basis_per_end: 12,
            tolerance: 1e-10,
            max_products: 400,
            seed: 0x5eed,
        }
    }
}

impl DavidsonOptions {
    /// Sets [`DavidsonOptions::tolerance`].
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// Sets [`DavidsonOptions::max_products`].
    pub fn max_products(mut self, n: usize) -> Self {
        self.max_products = n;
        self
    }

    /// Sets [`DavidsonOptions::seed`].
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Sets [`DavidsonOptions::block`] (at least 1).
    pub fn block(mut self, b: usize) -> Self {
        self.block = b.max(1);
        self
    }

    fn geometry(&self, ends: Ends) -> (usize, usize, usize, usize) {
        let e = match ends {
            Ends::Both => 2,
            Ends::Largest => 1,
        };
        let b = self.block.max(1);
        let per_end = self.max_basis_per_end.max(3 * b);
        // a thick restart keeps two thirds of the space (at least two blocks) per end: the
        // clustered synthetic tests stagnate when it keeps only 2·block of 12
        let keep = (2 * per_end / 3).max(2 * b).min(per_end - b);
        (e, b, per_end * e, keep * e)
    }

    /// Vectors of length `D` the solver holds at most: the basis and its images, the corrections
    /// of one iteration, the vectors kept at a restart (formed while one old set still exists),
    /// and a few work vectors (diagonal, Ritz vector, its image, residual, start vector).
    pub fn workspace_vectors(&self, ends: Ends) -> usize {
        let (e, b, max_basis, keep) = self.geometry(ends);
        2 * max_basis + e * b + keep + 6
    }
}

/// Bytes of the solver's workspace for dimension `d` ([`DavidsonOptions::workspace_vectors`]
/// vectors of `d` doubles).
pub fn workspace_bytes(d: u128, opts: &DavidsonOptions, ends: Ends) -> u128 {
    d.saturating_mul(opts.workspace_vectors(ends) as u128)
        .saturating_mul(8)
}

/// Result of [`extreme_eigenvalues`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DavidsonResult {
    /// Rayleigh quotient of the top Ritz vector (one explicit product).
    pub lambda_max: f64,
    /// With [`Ends::Both`] the Rayleigh quotient of the bottom Ritz vector (one explicit product);
    /// with [`Ends::Largest`] the smallest Ritz value of the final space (not iterated).
    pub lambda_min: f64,
    /// `‖T x − θ x‖/‖x‖` of the top Ritz pair (a residual: some eigenvalue is within it of
    /// `lambda_max`; not an enclosure of `λ_max`).
    pub residual_max: f64,
    /// The same for the bottom Ritz pair.
    pub residual_min: f64,
    /// `lambda_max − rounding`: a certified lower bound on `λ_max`.
    pub lambda_max_lower: f64,
    /// With [`Ends::Both`], `lambda_min + rounding`: a certified upper bound on `λ_min`.
    pub lambda_min_upper: Option<f64>,
    /// Bound on the rounding of each Rayleigh quotient (operator and inner products).
    pub rounding: f64,
    /// Operator products, including the final explicit ones.
    pub products: usize,
    /// Rayleigh–Ritz steps.
    pub iterations: usize,
    /// Restarts.
    pub restarts: usize,
    /// `converged` when the wanted residuals met the tolerance, else `max-iterations`.
    pub termination: Termination,
}

/// Progress reporting of one solve: a label (the block) and the expected number of products.
#[derive(Debug, Clone)]
pub struct SolveLabel {
    /// Printed before every message, e.g. `T_3 on Sym^3(R^200), D = 1353400, davidson`.
    pub label: String,
    /// Products a typical solve takes (for the time estimate after the first product).
    pub expected_products: usize,
}

/// `Σ_{i<d} f(i)` in fixed chunks added in order (independent of the thread count).
fn chunked_sum(d: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    (0..d.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(d)).map(&f).sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

/// Olsen's correction for the pair `(θ, x)` with residual `r` (overwritten by the correction).
fn olsen(diag: &[f64], theta: f64, floor: f64, x: &[f64], r: &mut [f64]) {
    let denom = |i: usize| {
        let m = theta - diag[i];
        if m.abs() >= floor {
            m
        } else if m >= 0.0 {
            floor
        } else {
            -floor
        }
    };
    let xr = chunked_sum(x.len(), |i| x[i] * r[i] / denom(i));
    let xx = chunked_sum(x.len(), |i| x[i] * x[i] / denom(i));
    let eps = if xx.is_finite() && xx != 0.0 && xr.is_finite() {
        xr / xx
    } else {
        0.0
    };
    r.par_chunks_mut(CHUNK).enumerate().for_each(|(c, rc)| {
        for (t, v) in rc.iter_mut().enumerate() {
            let i = c * CHUNK + t;
            *v = (*v - eps * x[i]) / denom(i);
        }
    });
}

/// Orthonormalises `t` against `basis` and `extra` (classical Gram–Schmidt, twice) and
/// normalises it; `None` when what is left is below `1e-8` of its norm (already in the span).
fn orthonormalize(basis: &[Vec<f64>], extra: &[Vec<f64>], mut t: Vec<f64>) -> Option<Vec<f64>> {
    let n0 = norm(&t);
    if !(n0 > 0.0 && n0.is_finite()) {
        return None;
    }
    t.par_iter_mut().for_each(|v| *v /= n0);
    for _ in 0..2 {
        project_out(basis, &mut t);
        project_out(extra, &mut t);
    }
    let n1 = norm(&t);
    if n1.is_nan() || n1 <= 1e-8 {
        return None;
    }
    t.par_iter_mut().for_each(|v| *v /= n1);
    Some(t)
}

/// The `D`-vector `e_i`.
fn unit(d: usize, i: usize) -> Vec<f64> {
    let mut v = vec![0.0; d];
    v[i] = 1.0;
    v
}

/// Extreme eigenvalues of `op` by block Davidson with the preconditioner `(θ − diag)⁻¹` (see the
/// module documentation). `diag` is the diagonal of `op` (or an approximation of it: it only
/// steers the iteration; the bounds never rely on it). `op_error` bounds `‖fl(T x) − T x‖` for
/// `‖x‖ = 1` (rounding and model errors of one product). `hooks` are polled before every product;
/// progress messages go to `hooks.progress` (`advance(0, …)`).
pub fn extreme_eigenvalues(
    op: &dyn SymmetricOperator,
    diag: &[f64],
    ends: Ends,
    opts: &DavidsonOptions,
    op_error: f64,
    label: &SolveLabel,
    hooks: Hooks,
) -> Result<DavidsonResult> {
    let d = op.dim();
    if diag.len() != d {
        return Err(Error::Numerical {
            routine: "davidson",
            message: format!("diagonal of length {} for dimension {d}", diag.len()),
        });
    }
    let (n_ends, b, max_basis, keep) = opts.geometry(ends);
    let both = ends == Ends::Both;
    let mut clock = Clock::new(label, opts.max_products, hooks);

    // start block: the extreme diagonal entries, then a seeded random vector
    let mut order: Vec<usize> = (0..d).collect();
    order.par_sort_unstable_by(|&a, &c| diag[c].total_cmp(&diag[a]).then(a.cmp(&c)));
    let mut starts: Vec<usize> = order.iter().take(b).copied().collect();
    if both {
        starts.extend(order.iter().rev().take(b));
    }
    drop(order);
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut pending: Vec<Vec<f64>> = Vec::new();
    let mut starts: Vec<Vec<f64>> = starts.iter().map(|&i| unit(d, i)).collect();
    starts.push(start_vector(d, opts.seed));
    for v in starts {
        if let Some(v) = orthonormalize(&basis, &pending, v) {
            pending.push(v);
        }
    }
    let mut images: Vec<Vec<f64>> = Vec::new();
    let mut g: Vec<Vec<f64>> = Vec::new();
    let mut iterations = 0usize;
    let mut restarts = 0usize;
    let mut reseed = 1u64;
    let termination;
    let (mut vals, mut vecs);
    loop {
        // products of the new vectors, and the new rows/columns of G = Vᵀ T V
        for v in pending.drain(..) {
            let mut av = vec![0.0; d];
            clock.product(op, &v, &mut av)?;
            let j = basis.len();
            for row in g.iter_mut() {
                row.push(0.0);
            }
            g.push(vec![0.0; j + 1]);
            for (i, bi) in basis.iter().enumerate() {
                let h = dot(bi, &av);
                g[i][j] = h;
                g[j][i] = h;
            }
            g[j][j] = dot(&v, &av);
            basis.push(v);
            images.push(av);
        }
        iterations += 1;
        (vals, vecs) = small_eigen(&g);
        let m = vals.len();
        let scale = vals[0].abs().max(vals[m - 1].abs()).max(f64::MIN_POSITIVE);
        let tol = opts.tolerance * scale;
        let floor = (1e-2 * tol).max(64.0 * U * scale);
        // wanted Ritz pairs: the top `b`, then (both ends) the bottom `b`
        let mut wanted: Vec<(usize, bool)> = (0..b.min(m)).map(|t| (m - 1 - t, true)).collect();
        if both {
            for t in 0..b.min(m) {
                if !wanted.iter().any(|w| w.0 == t) {
                    wanted.push((t, false));
                }
            }
        }
        let mut corrections = Vec::new();
        let (mut res_top, mut res_bottom) = (f64::INFINITY, if both { f64::INFINITY } else { 0.0 });
        for &(col, _) in &wanted {
            let x = combine(&basis, &vecs[col]);
            let mut r = combine(&images, &vecs[col]);
            let theta = vals[col];
            r.par_iter_mut()
                .zip(x.par_iter())
                .for_each(|(a, b)| *a -= theta * b);
            let rn = norm(&r) / norm(&x);
            if col == m - 1 {
                res_top = rn;
            }
            if both && col == 0 {
                res_bottom = rn;
            }
            if rn > tol {
                olsen(diag, theta, floor, &x, &mut r);
                corrections.push(r);
            }
        }
        let converged = res_top <= tol && res_bottom <= tol;
        clock.status(
            iterations,
            vals[m - 1],
            res_top,
            both.then(|| (vals[0], res_bottom)),
        );
        if converged || basis.len() >= d {
            termination = Termination::Converged;
            break;
        }
        if clock.products + n_ends >= opts.max_products {
            termination = Termination::MaxIterations;
            break;
        }
        // restart: keep the `keep / n_ends` Ritz vectors at each wanted end
        if basis.len() + corrections.len() > max_basis {
            restarts += 1;
            let per = keep / n_ends;
            let mut cols: Vec<usize> = (m.saturating_sub(per)..m).collect();
            if both {
                cols.extend(0..per.min(m));
            }
            cols.sort_unstable();
            cols.dedup();
            // one old set at a time, so that at most `keep` new vectors coexist with it
            basis = cols.iter().map(|&c| combine(&basis, &vecs[c])).collect();
            images = cols.iter().map(|&c| combine(&images, &vecs[c])).collect();
            g = vec![vec![0.0; cols.len()]; cols.len()];
            for (i, &c) in cols.iter().enumerate() {
                g[i][i] = vals[c];
            }
        }
        // orthonormalise the corrections against the space and each other
        let left = opts
            .max_products
            .saturating_sub(clock.products + n_ends)
            .max(1);
        let room = max_basis.saturating_sub(basis.len()).max(1).min(left);
        for t in corrections.into_iter().take(room) {
            if let Some(v) = orthonormalize(&basis, &pending, t) {
                pending.push(v);
            }
        }
        if pending.is_empty() {
            // the corrections lie in the space: widen it with a fresh seeded direction
            let v = start_vector(d, opts.seed.wrapping_add(reseed));
            reseed += 1;
            match orthonormalize(&basis, &[], v) {
                Some(v) => pending.push(v),
                None => {
                    termination = Termination::Converged;
                    break;
                }
            }
        }
    }
    // explicit products of the extreme Ritz vectors: Rayleigh quotients of the exact operator
    let m = vals.len();
    let gamma = |k: f64| k * U / (1.0 - k * U);
    let mut rayleigh = |col: usize| -> Result<(f64, f64, f64)> {
        let x = combine(&basis, &vecs[col]);
        let mut y = vec![0.0; d];
        clock.product(op, &x, &mut y)?;
        let xx = dot(&x, &x);
        let xy = dot(&x, &y);
        let theta = xy / xx;
        let res = chunked_sum(d, |i| (y[i] - theta * x[i]).powi(2)).sqrt() / xx.sqrt();
        let ny = norm(&y) / xx.sqrt();
        // |xᵀ(fl(Tx) − Tx)| <= op_error ‖x‖², inner products γ_D |x|ᵀ|y|, the quotient
        let err = (op_error * (1.0 + gamma(d as f64 + 4.0))
            + gamma(d as f64 + 4.0) * (ny + 2.0 * theta.abs()))
            * 1.01;
        Ok((theta, res, err))
    };
    let (lambda_max, residual_max, err_max) = rayleigh(m - 1)?;
    let (lambda_min, residual_min, err_min, lambda_min_upper) = if both {
        let (t, r, e) = rayleigh(0)?;
        (t, r, e, Some(t + e))
    } else {
        let x = combine(&basis, &vecs[0]);
        let mut r = combine(&images, &vecs[0]);
        r.par_iter_mut()
            .zip(x.par_iter())
            .for_each(|(a, b)| *a -= vals[0] * b);
        (vals[0], norm(&r) / norm(&x), 0.0, None)
    };
    Ok(DavidsonResult {
        lambda_max,
        lambda_min,
        residual_max,
        residual_min,
        lambda_max_lower: lambda_max - err_max,
        lambda_min_upper,
        rounding: err_max.max(err_min),
        products: clock.products,
        iterations,
        restarts,
        termination,
    })
}

/// Counts and times products, polls the hooks, and reports progress.
struct Clock<'a> {
    label: &'a SolveLabel,
    max_products: usize,
    hooks: Hooks<'a>,
    products: usize,
    started: std::time::Instant,
    last_message: Option<std::time::Instant>,
}

impl<'a> Clock<'a> {
    fn new(label: &'a SolveLabel, max_products: usize, hooks: Hooks<'a>) -> Self {
        Clock {
            label,
            max_products,
            hooks,
            products: 0,
            started: std::time::Instant::now(),
            last_message: None,
        }
    }

    /// `y = T x` after a cancellation check; after the first product, the time estimate.
    fn product(&mut self, op: &dyn SymmetricOperator, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.hooks.checkpoint()?;
        op.apply(x, y);
        self.products += 1;
        if self.products == 1 {
            let per = self.started.elapsed().as_secs_f64();
            let msg = crate::progress::product_estimate_message(
                &self.label.label,
                per,
                self.label.expected_products,
                self.max_products,
            );
            self.hooks.progress.advance(0, &msg);
            self.last_message = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// At most one status message per second.
    fn status(&mut self, iteration: usize, top: f64, res: f64, bottom: Option<(f64, f64)>) {
        let now = std::time::Instant::now();
        if self
            .last_message
            .is_some_and(|t| now.duration_since(t).as_secs_f64() < 1.0)
        {
            return;
        }
        self.last_message = Some(now);
        let mut msg = format!(
            "{}: iteration {iteration}, {} products, λ_max ≈ {top:.12} (residual {res:.1e})",
            self.label.label, self.products
        );
        if let Some((lo, r)) = bottom {
            msg.push_str(&format!(", λ_min ≈ {lo:.12} (residual {r:.1e})"));
        }
        self.hooks.progress.advance(0, &msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::linop::DenseSymmetric;

    /// A diagonal with a dense cluster at the top plus a weak symmetric coupling.
    fn clustered(d: usize) -> (Vec<f64>, Vec<f64>) {
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i + i * d] = 1.0 - 1e-10 * (i as f64).powi(2) - if i > d / 2 { 0.5 } else { 0.0 };
            if i >= 1 {
                let c = 1e-6 / (1.0 + i as f64);
                m[i + (i - 1) * d] = c;
                m[(i - 1) + i * d] = c;
            }
        }
        m[(d - 1) + (d - 1) * d] = -1.3;
        let diag = (0..d).map(|i| m[i + i * d]).collect();
        (m, diag)
    }

    #[test]
    fn davidson_finds_both_ends_of_a_clustered_operator_and_bounds_them() {
        let d = 300;
        let (m, diag) = clustered(d);
        let op = DenseSymmetric::new(&m, d);
        let exact = crate::engine::spectrum::symmetric_eigenvalues(
            &m,
            d,
            crate::engine::spectrum::EigenBackend::Faer,
        )
        .unwrap();
        let label = SolveLabel {
            label: "test".into(),
            expected_products: 20,
        };
        let opts = DavidsonOptions::default().tolerance(1e-13);
        let res = extreme_eigenvalues(&op, &diag, Ends::Both, &opts, 1e-15, &label, Hooks::none())
            .unwrap();
        assert_eq!(res.termination, Termination::Converged, "{res:?}");
        let (lo, hi) = (exact[0], exact[d - 1]);
        assert!(res.lambda_max_lower <= hi + 1e-15, "{res:?} vs {hi}");
        assert!(
            (res.lambda_max - hi).abs() <= res.residual_max + 1e-14,
            "{res:?} vs {hi}"
        );
        let up = res.lambda_min_upper.unwrap();
        assert!(lo <= up + 1e-15, "{res:?} vs {lo}");
        assert!(
            (res.lambda_min - lo).abs() <= res.residual_min + 1e-14,
            "{res:?}"
        );
        // bit-for-bit reproducible
        let again =
            extreme_eigenvalues(&op, &diag, Ends::Both, &opts, 1e-15, &label, Hooks::none())
                .unwrap();
        assert_eq!(res, again);
    }

    #[test]
    fn davidson_stops_at_a_cancellation_request() {
        let d = 50;
        let (m, diag) = clustered(d);
        let op = DenseSymmetric::new(&m, d);
        let flag = std::sync::atomic::AtomicBool::new(true);
        let hooks = Hooks::new(&crate::progress::NoProgress, &flag);
        let label = SolveLabel {
            label: "test".into(),
            expected_products: 20,
        };
        let r = extreme_eigenvalues(
            &op,
            &diag,
            Ends::Largest,
            &DavidsonOptions::default(),
            0.0,
            &label,
            hooks,
        );
        assert!(matches!(r, Err(Error::Cancelled)));
    }
}
