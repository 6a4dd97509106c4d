//! Exact thresholds against independent references:
//! - k = 1: `η*_1 = 2/λ_max(H)` (nalgebra on AᵀA/n), 1e-12 relative;
//! - k = 2: Mulayoff & Michaeli's `2/λ_max(C⁺D)` with C, D built here as explicit Kronecker
//!   products on R^{w²} (nalgebra, not through the library), both schemes, 1e-10 relative;
//! - k = 3, 4: bisection on the brute-force operator (every batch enumerated, full tensor space
//!   projected on the explicit symmetric basis), 1e-9 relative.

use crate::common;

use crate::common::{brute_force_tk, radius, stable_set_by, Rng};
use sgdstab::{Gradients, MethodChoice, Sampling};

fn eta_star(g: &Gradients, b: usize, s: Sampling, k: usize, method: MethodChoice) -> (f64, f64) {
    let o = stable_set_by(g, b, s, k, method);
    (o.lr_threshold.unwrap(), o.lr_threshold_error.unwrap())
}

fn hessian(rows: &[Vec<f64>]) -> nalgebra::DMatrix<f64> {
    let (n, w) = (rows.len(), rows[0].len());
    let mut h = nalgebra::DMatrix::zeros(w, w);
    for r in rows {
        let a = nalgebra::DVector::from_row_slice(r);
        h += &a * a.transpose() / n as f64;
    }
    h
}

#[test]
fn eta1_is_two_over_sharpness() {
    let mut rng = Rng::new(11);
    for (n, w, rank) in [(5, 3, 3), (4, 6, 4), (6, 4, 2), (3, 1, 1), (7, 5, 5)] {
        let u = rng.matrix(n, rank);
        let v = rng.matrix(rank, w);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..w)
                    .map(|j| (0..rank).map(|t| u[i][t] * v[t][j]).sum())
                    .collect()
            })
            .collect();
        let g = Gradients::from_rows(&rows).unwrap();
        let want = 2.0 / hessian(&rows).symmetric_eigenvalues().max();
        for s in Sampling::ALL {
            let b = rng.int(1, n);
            let (got, err) = eta_star(&g, b, s, 1, MethodChoice::Auto);
            let rel = (got - want).abs() / want;
            assert!(
                rel <= 1e-12,
                "n={n} w={w} r={rank}: {got} vs {want} ({rel:e})"
            );
            assert!(err / want <= 1e-12, "error bound {err:e}");
        }
    }
}

/// `2/λ_max(C⁺D)` on R^{w²}, C = ½(H⊗I + I⊗H), D = (1−p)H⊗H + (p/n)Σ H_i⊗H_i.
fn mulayoff_michaeli(rows: &[Vec<f64>], b: usize, s: Sampling) -> f64 {
    let (n, w) = (rows.len(), rows[0].len());
    let p = match s {
        Sampling::WithoutReplacement => (n - b) as f64 / (b as f64 * (n as f64 - 1.0)),
        Sampling::WithReplacement => 1.0 / b as f64,
    };
    let h = hessian(rows);
    let id = nalgebra::DMatrix::<f64>::identity(w, w);
    let c = (h.kronecker(&id) + id.kronecker(&h)) * 0.5;
    let mut d = h.kronecker(&h) * (1.0 - p);
    for r in rows {
        let a = nalgebra::DVector::from_row_slice(r);
        let hi = &a * a.transpose();
        d += hi.kronecker(&hi) * (p / n as f64);
    }
    // C⁺ by the SVD-based pseudo-inverse, then the largest (real) eigenvalue of C⁺D
    let cp = c.clone().pseudo_inverse(1e-12 * c.norm()).unwrap();
    let m = cp * d;
    let ev = m.complex_eigenvalues();
    let top = ev
        .iter()
        .filter(|z| z.im.abs() <= 1e-9 * z.re.abs().max(1.0))
        .map(|z| z.re)
        .fold(f64::NEG_INFINITY, f64::max);
    2.0 / top
}

#[test]
fn eta2_is_mulayoff_michaeli_both_schemes() {
    let mut rng = Rng::new(22);
    let mut checked = 0;
    for (n, w, rank) in [
        (5, 2, 2),
        (4, 3, 3),
        (6, 3, 2),
        (3, 4, 3),
        (6, 2, 1),
        (5, 4, 4),
    ] {
        let u = rng.matrix(n, rank);
        let v = rng.matrix(rank, w);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..w)
                    .map(|j| (0..rank).map(|t| u[i][t] * v[t][j]).sum())
                    .collect()
            })
            .collect();
        let g = Gradients::from_rows(&rows).unwrap();
        for s in Sampling::ALL {
            for b in 1..=n {
                let want = mulayoff_michaeli(&rows, b, s);
                let (got, _) = eta_star(&g, b, s, 2, MethodChoice::Auto);
                let rel = (got - want).abs() / want;
                assert!(
                    rel <= 1e-10,
                    "n={n} w={w} r={rank} B={b} {s}: {got} vs {want} ({rel:e})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50);
}

/// First crossing of the brute-force ρ(T_k) through 1: geometric scan from a stable point,
/// then 200 bisection steps (to the last bit).
fn brute_force_threshold(rows: &[Vec<f64>], k: usize, b: usize, s: Sampling) -> f64 {
    let w = rows[0].len();
    let dim = sgdstab::engine::symmetric::SymBasis::new(w, k)
        .unwrap()
        .dim();
    let rho = |lr: f64| radius(&brute_force_tk(rows, k, lr, b, s), dim);
    let max_norm2 = rows
        .iter()
        .map(|r| r.iter().map(|x| x * x).sum::<f64>())
        .fold(0.0, f64::max);
    let mut lo = 2.0 / max_norm2; // every batch matrix is a contraction here
    assert!(rho(lo) <= 1.0 + 1e-12);
    let mut hi = lo;
    loop {
        hi *= 1.02;
        if rho(hi) > 1.0 {
            break;
        }
        lo = hi;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if rho(mid) > 1.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn eta3_and_eta4_match_bisection_on_the_brute_force_operator() {
    let mut rng = Rng::new(33);
    // full column rank (r = w), so the brute-force spectrum has no flat eigenvalue 1
    for (n, w, k) in [
        (4, 2, 3),
        (5, 2, 3),
        (4, 3, 3),
        (4, 2, 4),
        (5, 3, 4),
        (3, 1, 4),
    ] {
        let rows = rng.matrix(n, w);
        let g = Gradients::from_rows(&rows).unwrap();
        for s in Sampling::ALL {
            let b = rng.int(1, n);
            let want = brute_force_threshold(&rows, k, b, s);
            for method in [MethodChoice::Linearization, MethodChoice::Bisection] {
                let (got, err) = eta_star(&g, b, s, k, method);
                let rel = (got - want).abs() / want;
                assert!(
                    rel <= 1e-9,
                    "k={k} n={n} w={w} B={b} {s} {method}: {got} vs brute force {want} ({rel:e}, error bound {err:e})"
                );
            }
        }
    }
}

#[test]
fn scalar_case_by_hand() {
    // n = 1, w = 1, a = 2: T_k = (1 − 4η)^k, S_k = (0, 1/2] for every k
    let g = Gradients::from_rows(&[vec![2.0]]).unwrap();
    for k in 1..=4 {
        let (got, _) = eta_star(&g, 1, Sampling::WithoutReplacement, k, MethodChoice::Auto);
        assert!((got - 0.5).abs() <= 1e-14, "k={k}: {got}");
    }
}

/// Regression (found by `linearization_boundaries_match_bisection`): two near-duplicate rows give
/// `H` an eigenvalue ~1e-14, so `T_2` keeps an eigenvalue within rounding of 1 for every η. Deciding
/// the +1 side from `λ_max − 1` left the whole stable side "uncertain": the linearization could not
/// verify its bracket (error ±0.36) and the bisection fallback converged to 0.3649 instead of
/// 0.357177. The +1 side is now decided by Sylvester's law of inertia (`crate::engine::inertia`).
#[test]
fn near_duplicate_rows_give_a_verified_second_order_threshold() {
    use sgdstab::{AnalyzeOptions, Verdict};
    let rows = vec![
        vec![-1.6159219039546084, -1.5143410326766076, 0.9050663327793681],
        vec![1.5258018889669254, -0.5702194176506727, 0.2382497382434103],
        vec![-1.6159233912823217, -1.5143412916051142, 0.9050662753404924],
    ];
    let g = sgdstab::Gradients::from_rows(&rows).unwrap();
    assert_eq!(
        common::problem(&g, Sampling::WithoutReplacement, 2).rank(),
        3
    );
    let mut etas = Vec::new();
    for method in [MethodChoice::Linearization, MethodChoice::Bisection] {
        let set = stable_set_by(&g, 1, Sampling::WithoutReplacement, 2, method);
        let eta = set.lr_threshold.unwrap();
        let err = set.lr_threshold_error.unwrap();
        assert!(err < 1e-12 * eta, "{method:?}: η*_2 = {eta} ± {err}");
        etas.push(eta);
    }
    assert!((etas[0] - etas[1]).abs() <= 1e-12 * etas[0], "{etas:?}");
    assert!((etas[0] - 0.357177).abs() < 1e-6);
    // analyze decides both sides of η*_2 (the top eigenvalue alone is within rounding of 1)
    for (f, want) in [(0.999, Verdict::Stable), (1.001, Verdict::Unstable)] {
        let rep =
            sgdstab::analyze(&g, f * etas[0], 1, &AnalyzeOptions::default().orders([2])).unwrap();
        assert_eq!(rep.orders[0].verdict, want, "f = {f}");
    }
}

/// Regression (found by `linearization_boundaries_match_bisection`): in the bisection fallback's
/// bracket (1.767, 1.926) both ends of `spec T_3` leave [−1, 1] — `λ_max` crosses +1 at 1.780280,
/// `λ_min` crosses −1 at 1.832378. Choosing the side "further out at the unstable end" tracked the
/// second crossing; every side that changes sign is now refined and the earliest crossing kept.
#[test]
fn bisection_fallback_keeps_the_earliest_of_two_crossings() {
    let rows = vec![
        vec![-1.1554576579801785, -0.36450850747602925],
        vec![0.17368344768586805, -1.0125328279029133],
        vec![-0.09816012541988961, 0.030462474993305035],
    ];
    let g = sgdstab::Gradients::from_rows(&rows).unwrap();
    let mut etas = Vec::new();
    for method in [MethodChoice::Linearization, MethodChoice::Bisection] {
        let set = stable_set_by(&g, 1, Sampling::WithoutReplacement, 3, method);
        etas.push(set.lr_threshold.unwrap());
    }
    assert!((etas[0] - etas[1]).abs() <= 1e-12 * etas[0], "{etas:?}");
    assert!((etas[0] - 1.780280).abs() < 1e-6, "{etas:?}");
}

/// The scale path (every block matrix-free: η*_1 from the eigenvalues of H, η*_2 by Lanczos on
/// the C⁺D pencil, η*_3 by bisection with Lanczos) equals the dense linearization where both run.
#[test]
fn scale_path_thresholds_equal_the_dense_ones() {
    use sgdstab::threshold::Method;
    use sgdstab::{Hooks, SolverOptions, ThresholdOptions};
    let mut rng = common::Rng::new(404);
    for case in 0..4 {
        let sampling = sgdstab::Sampling::ALL[case % 2];
        let (n, w) = (7, 4 + case);
        let g = sgdstab::Gradients::from_rows(&rng.matrix(n, w)).unwrap();
        let p = common::problem(&g, sampling, 3);
        let opts = ThresholdOptions::default().orders([1, 2, 3]);
        let dense = p.thresholds(1 + case, &opts, Hooks::none()).unwrap();
        let scale_opts = opts.solver(SolverOptions::default().max_dense_dim(2));
        let scale = p.thresholds(1 + case, &scale_opts, Hooks::none()).unwrap();
        for k in 1..=3 {
            let (a, b) = (&dense.orders[k - 1].set, &scale.orders[k - 1].set);
            let (x, y) = (a.lr_threshold.unwrap(), b.lr_threshold.unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x + b.lr_threshold_error.unwrap(),
                "case {case}, k = {k}: dense {x} vs scale {y} ± {:e}",
                b.lr_threshold_error.unwrap()
            );
            assert_eq!(a.method, Method::Linearization);
            let want = match k {
                1 => Method::Linearization,
                2 => Method::Lanczos,
                _ => Method::Bisection,
            };
            assert_eq!(b.method, want, "k = {k}");
        }
    }
}
