//! Matrix operator norms `‖A‖_p = max_{x ≠ 0} ‖A x‖_p / ‖x‖_p` and two-sided brackets for the
//! `p` without a closed form (DESIGN §10: `‖W_1ᵀ‖_{2k}` in Prop. 2, Cor. 2 and Thm. 3).
//!
//! Closed forms: `‖A‖_1` = largest column absolute sum, `‖A‖_∞` = largest row absolute sum,
//! `‖A‖_2` = largest singular value. For other `p`:
//!
//! - **lower bound**: the Boyd/Higham `p`-norm power method (D. W. Boyd 1974; N. J. Higham,
//!   *Estimating the matrix p-norm*, Numer. Math. 62, 1992, Alg. 3.1). Each iterate `x` has
//!   `‖x‖_p = 1`, so every `‖A x‖_p` it sees is a lower bound. The iteration converges to a local
//!   maximum of `‖Ax‖_p/‖x‖_p`, not always the global one, so we run it from many starts — the
//!   all-ones vector, the right singular vectors and the sign pattern of the top one, the
//!   coordinate vectors of the heaviest columns (at most [`MAX_STARTS_PER_KIND`] of each kind), and
//!   [`RANDOM_STARTS`] seeded Gaussian vectors — and keep the largest value seen.
//! - **upper bound**: Riesz–Thorin interpolation, the smaller of
//!   `‖A‖_1^{1/p} ‖A‖_∞^{1−1/p}` (between `p = 1` and `∞`) and, for `p >= 2`,
//!   `‖A‖_2^{2/p} ‖A‖_∞^{1−2/p}` (between `p = 2` and `∞`); [`PNormBracket::upper_method`] says which.
//!
//! All inputs are row-major `rows × cols` slices.

use serde::Serialize;

/// `‖A‖_1`: the largest column absolute sum.
pub fn norm_1(a: &[f64], rows: usize, cols: usize) -> f64 {
    (0..cols)
        .map(|j| (0..rows).map(|i| a[i * cols + j].abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// `‖A‖_∞`: the largest row absolute sum.
pub fn norm_inf(a: &[f64], rows: usize, cols: usize) -> f64 {
    (0..rows)
        .map(|i| {
            a[i * cols..(i + 1) * cols]
                .iter()
                .map(|v| v.abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// `‖A‖_2`: the largest singular value (nalgebra SVD); NaN if an entry is not finite.
pub fn spectral_norm(a: &[f64], rows: usize, cols: usize) -> f64 {
    if rows == 0 || cols == 0 {
        return 0.0;
    }
    // nalgebra's SVD does not return on a matrix with NaN or ∞ entries (a diverged SGD run)
    if a.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    nalgebra::DMatrix::from_row_slice(rows, cols, a)
        .singular_values()
        .iter()
        .fold(0.0, |m: f64, &s| m.max(s))
}

/// The right singular vectors of `A` (eigenvectors of `AᵀA`, length `cols` each), largest
/// singular value first.
fn right_singular_vectors(a: &[f64], rows: usize, cols: usize) -> Vec<Vec<f64>> {
    let m = nalgebra::DMatrix::from_row_slice(rows, cols, a);
    let ata = m.transpose() * &m;
    let eig = ata.symmetric_eigen();
    let mut order: Vec<usize> = (0..cols).collect();
    order.sort_by(|&i, &j| {
        eig.eigenvalues[j]
            .total_cmp(&eig.eigenvalues[i])
            .then(i.cmp(&j))
    });
    order
        .into_iter()
        .map(|i| eig.eigenvectors.column(i).iter().copied().collect())
        .collect()
}

/// `‖x‖_p` for `1 <= p < ∞`, scaled against overflow; `p = ∞` gives the max norm.
pub fn vector_p_norm(x: &[f64], p: f64) -> f64 {
    let m = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if m == 0.0 || p.is_infinite() {
        return m;
    }
    let s: f64 = x.iter().map(|v| (v.abs() / m).powf(p)).sum();
    m * s.powf(1.0 / p)
}

/// The dual vector: `sign(y)|y|^{p−1} / ‖y‖_p^{p−1}` (so `‖·‖_q = 1` and `⟨·, y⟩ = ‖y‖_p`).
fn dual(y: &[f64], p: f64) -> Vec<f64> {
    let ny = vector_p_norm(y, p);
    if ny == 0.0 {
        return vec![0.0; y.len()];
    }
    y.iter()
        .map(|v| v.signum() * (v.abs() / ny).powf(p - 1.0))
        .collect()
}

fn mat_vec(a: &[f64], rows: usize, cols: usize, x: &[f64]) -> Vec<f64> {
    (0..rows)
        .map(|i| {
            a[i * cols..(i + 1) * cols]
                .iter()
                .zip(x)
                .map(|(u, v)| u * v)
                .sum()
        })
        .collect()
}

fn mat_t_vec(a: &[f64], rows: usize, cols: usize, y: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; cols];
    for i in 0..rows {
        for (zj, aij) in z.iter_mut().zip(&a[i * cols..(i + 1) * cols]) {
            *zj += aij * y[i];
        }
    }
    z
}

/// The result of the power method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerMethod {
    /// The largest `‖A x‖_p / ‖x‖_p` seen (a lower bound on `‖A‖_p`).
    pub estimate: f64,
    /// Total iterations over all starts.
    pub iterations: usize,
    /// Number of starting vectors.
    pub starts: usize,
}

/// Default iteration limit per start of [`power_method`].
pub const DEFAULT_POWER_ITERATIONS: usize = 100;

/// At most this many singular-vector starts and coordinate-vector starts each.
pub const MAX_STARTS_PER_KIND: usize = 64;

/// Seeded Gaussian starts (fixed seed: the bracket is deterministic).
pub const RANDOM_STARTS: usize = 32;

/// Boyd/Higham `p`-norm power method (`1 < p < ∞`): a lower bound on `‖A‖_p`.
///
/// From each start `x_0` (`‖x_0‖_p = 1`): `y = A x`, `z = Aᵀ dual_p(y)`; stop when
/// `‖z‖_q <= zᵀx` (`q = p/(p−1)`, a stationary point) or after `max_iterations`, else
/// `x = dual_q(z)`. Returns the largest `‖A x‖_p / ‖x‖_p` over every iterate of every start.
pub fn power_method(
    a: &[f64],
    rows: usize,
    cols: usize,
    p: f64,
    max_iterations: Option<usize>,
) -> PowerMethod {
    let max_it = max_iterations.unwrap_or(DEFAULT_POWER_ITERATIONS).max(1);
    let q = p / (p - 1.0);
    let mut starts: Vec<Vec<f64>> = vec![vec![1.0; cols]];
    if rows > 0 && cols > 0 {
        for (i, v) in right_singular_vectors(a, rows, cols)
            .into_iter()
            .take(MAX_STARTS_PER_KIND)
            .enumerate()
        {
            if i == 0 {
                // the sign pattern of the top singular vector (an ℓ_∞-type start)
                starts.push(
                    v.iter()
                        .map(|x| if *x < 0.0 { -1.0 } else { 1.0 })
                        .collect(),
                );
            }
            starts.push(v);
        }
    }
    let mut col_sums: Vec<(usize, f64)> = (0..cols)
        .map(|j| (j, (0..rows).map(|i| a[i * cols + j].abs()).sum::<f64>()))
        .collect();
    col_sums.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    for &(j, _) in col_sums.iter().take(MAX_STARTS_PER_KIND) {
        let mut e = vec![0.0; cols];
        e[j] = 1.0;
        starts.push(e);
    }
    let mut g = crate::random::SplitMix64::new(0x504E_4F52);
    for _ in 0..RANDOM_STARTS {
        starts.push((0..cols).map(|_| g.normal()).collect());
    }
    let mut best = 0.0f64;
    let mut iterations = 0;
    let n_starts = starts.len();
    for x0 in starts {
        let nx = vector_p_norm(&x0, p);
        if nx == 0.0 || !nx.is_finite() {
            continue;
        }
        let mut x: Vec<f64> = x0.iter().map(|v| v / nx).collect();
        for _ in 0..max_it {
            iterations += 1;
            let y = mat_vec(a, rows, cols, &x);
            let ny = vector_p_norm(&y, p);
            // ‖x‖_p = 1 up to rounding; divide by it anyway so the value is a ratio
            let ratio = ny / vector_p_norm(&x, p);
            best = best.max(ratio);
            if ny == 0.0 {
                break;
            }
            let z = mat_t_vec(a, rows, cols, &dual(&y, p));
            let zx: f64 = z.iter().zip(&x).map(|(u, v)| u * v).sum();
            if vector_p_norm(&z, q) <= zx * (1.0 + 1e-14) {
                break;
            }
            x = dual(&z, q);
        }
    }
    PowerMethod {
        estimate: best,
        iterations,
        starts: n_starts,
    }
}

/// How a bracket end was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormMethod {
    /// Closed form (`p ∈ {1, 2, ∞}`): exact up to rounding.
    Exact,
    /// Boyd/Higham power method (lower end).
    PowerMethod,
    /// Riesz–Thorin between `p = 1` and `p = ∞`.
    RieszThorin1Inf,
    /// Riesz–Thorin between `p = 2` and `p = ∞`.
    RieszThorin2Inf,
}

/// `lower <= ‖A‖_p <= upper`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PNormBracket {
    /// The `p`.
    pub p: f64,
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// How the lower end was obtained.
    pub lower_method: NormMethod,
    /// How the upper end was obtained.
    pub upper_method: NormMethod,
    /// `upper / lower` (1 when exact).
    pub ratio: f64,
}

/// Brackets `‖A‖_p` for `1 <= p <= ∞` (`f64::INFINITY` for `∞`).
pub fn bracket(a: &[f64], rows: usize, cols: usize, p: f64) -> PNormBracket {
    let exact = |v: f64| PNormBracket {
        p,
        lower: v,
        upper: v,
        lower_method: NormMethod::Exact,
        upper_method: NormMethod::Exact,
        ratio: 1.0,
    };
    if p == 1.0 {
        return exact(norm_1(a, rows, cols));
    }
    if p.is_infinite() {
        return exact(norm_inf(a, rows, cols));
    }
    if p == 2.0 {
        return exact(spectral_norm(a, rows, cols));
    }
    let n1 = norm_1(a, rows, cols);
    let ninf = norm_inf(a, rows, cols);
    let rt1 = n1.powf(1.0 / p) * ninf.powf(1.0 - 1.0 / p);
    let (mut upper, mut upper_method) = (rt1, NormMethod::RieszThorin1Inf);
    if p > 2.0 {
        let n2 = spectral_norm(a, rows, cols);
        let rt2 = n2.powf(2.0 / p) * ninf.powf(1.0 - 2.0 / p);
        if rt2 < upper {
            upper = rt2;
            upper_method = NormMethod::RieszThorin2Inf;
        }
    }
    let lower = power_method(a, rows, cols, p, None).estimate.min(upper);
    PNormBracket {
        p,
        lower,
        upper,
        lower_method: NormMethod::PowerMethod,
        upper_method,
        ratio: if lower > 0.0 { upper / lower } else { 1.0 },
    }
}

/// The transpose of a row-major `rows × cols` matrix (row-major `cols × rows`).
pub fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_norm_of_a_diverged_matrix_is_nan_and_returns() {
        // regression: nalgebra's SVD never returned on NaN entries (a diverged sweep run hung)
        assert!(spectral_norm(&[1.0, f64::NAN, 0.0, 2.0], 2, 2).is_nan());
        assert!(spectral_norm(&[f64::INFINITY, 0.0], 1, 2).is_nan());
        assert_eq!(spectral_norm(&[3.0, 0.0, 0.0, -4.0], 2, 2), 4.0);
    }

    #[test]
    fn closed_forms_by_hand() {
        // A = [[1, -2], [3, 4]]: ‖A‖_1 = max(4, 6) = 6, ‖A‖_∞ = max(3, 7) = 7,
        // AᵀA = [[10, 10], [10, 20]] → λ = 15 ± 5√5, ‖A‖_2 = sqrt(15 + 5√5)
        let a = [1.0, -2.0, 3.0, 4.0];
        assert_eq!(norm_1(&a, 2, 2), 6.0);
        assert_eq!(norm_inf(&a, 2, 2), 7.0);
        let s = (15.0 + 5.0 * 5f64.sqrt()).sqrt();
        assert!((spectral_norm(&a, 2, 2) - s).abs() < 1e-14);
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        assert!((vector_p_norm(&[3.0, -4.0], 2.0) - 5.0).abs() < 1e-15);
        assert_eq!(vector_p_norm(&[3.0, -4.0], f64::INFINITY), 4.0);
    }

    #[test]
    fn diagonal_matrices_have_norm_max_abs_entry() {
        // for a diagonal matrix ‖D‖_p = max |d_i| for every p: both ends must find it
        let d = [0.5, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 1.5];
        for p in [1.5, 3.0, 4.0, 6.0] {
            let b = bracket(&d, 3, 3, p);
            assert!((b.lower - 2.0).abs() < 1e-12, "{b:?}");
            assert!((b.upper - 2.0).abs() < 1e-12, "{b:?}");
        }
    }
}
