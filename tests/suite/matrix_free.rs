//! The matrix-free application of T_k (DESIGN §9) against the dense closed-form matrix times a
//! vector, k = 1..4, both sampling schemes; the k = 2 specialised path likewise.

use crate::common::*;
use sgdstab::engine::linop::{DenseSymmetric, SymmetricOperator};
use sgdstab::engine::matrix_free::{EigenCoords, MatrixFreeMoment, SecondMoment};
use sgdstab::engine::moment_operator::MomentTerms;
use sgdstab::{BatchModel, Sampling};

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn matrix_free_equals_dense_times_vector() {
    let mut rng = Rng::new(99);
    for case in 0..16 {
        let sampling = Sampling::ALL[case % 2];
        let k = 1 + (case / 2) % 4;
        let n = rng.int(2, 9);
        let r = rng.int(1, if k == 4 { 4 } else { 6 }).min(n);
        let b = rng.int(1, n);
        let rows = rng.matrix(n, r);
        let flat: Vec<f64> = rows.concat();
        let lr = 0.1 + rng.uniform();
        let model = BatchModel::new(n, b, sampling).unwrap();
        let ec = EigenCoords::new(&flat, n, r).unwrap();
        let dense = MomentTerms::new(&ec.coords, n, r, k, &model, false)
            .unwrap()
            .operator(lr);
        let d = (dense.len() as f64).sqrt() as usize;
        let mf = MatrixFreeMoment::new(&ec, k, lr, &model).unwrap();
        assert_eq!(mf.dim(), d);
        let dop = DenseSymmetric::new(&dense, d);
        for _ in 0..3 {
            let x: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let (mut y1, mut y2) = (vec![0.0; d], vec![0.0; d]);
            dop.apply(&x, &mut y1);
            mf.apply(&x, &mut y2);
            let diff: Vec<f64> = y1.iter().zip(&y2).map(|(a, b)| a - b).collect();
            let rel = norm(&diff) / norm(&y1).max(1e-300);
            assert!(
                rel <= 1e-12,
                "case {case}: k={k} n={n} r={r} B={b} {sampling}: relative difference {rel:e}"
            );
            if k == 2 {
                let sm = SecondMoment::new(&ec, lr, &model).unwrap();
                let mut y3 = vec![0.0; d];
                sm.apply(&x, &mut y3);
                let diff: Vec<f64> = y1.iter().zip(&y3).map(|(a, b)| a - b).collect();
                let rel = norm(&diff) / norm(&y1);
                assert!(rel <= 1e-12, "k=2 path, case {case}: {rel:e}");
            }
        }
    }
}

#[test]
fn matrix_free_is_deterministic() {
    let mut rng = Rng::new(4);
    let (n, r, k) = (40, 5, 3);
    let flat: Vec<f64> = rng.matrix(n, r).concat();
    let model = BatchModel::new(n, 7, Sampling::WithoutReplacement).unwrap();
    let ec = EigenCoords::new(&flat, n, r).unwrap();
    let mf = MatrixFreeMoment::new(&ec, k, 0.3, &model).unwrap();
    let x: Vec<f64> = (0..mf.dim()).map(|_| rng.normal()).collect();
    let (mut a, mut b) = (vec![0.0; mf.dim()], vec![0.0; mf.dim()]);
    mf.apply(&x, &mut a);
    mf.apply(&x, &mut b);
    assert_eq!(a, b);
}

mod lanczos {
    use super::*;
    use sgdstab::engine::lanczos::{extreme_eigenvalues, Ends, LanczosOptions};
    use sgdstab::engine::spectrum::{symmetric_eigenvalues, EigenBackend};
    use sgdstab::engine::stability::Termination;

    /// Lanczos ρ_k on the matrix-free operator equals the dense ρ_k to 1e-9 relative, k = 1..4,
    /// both schemes, including learning rates where the largest-magnitude eigenvalue is negative.
    #[test]
    fn lanczos_radius_equals_dense_radius() {
        let mut rng = Rng::new(2024);
        let mut negative_seen = 0;
        for case in 0..24 {
            let sampling = Sampling::ALL[case % 2];
            let k = 1 + (case / 2) % 4;
            let n = rng.int(3, 10);
            let r = rng.int(2, if k >= 3 { 5 } else { 8 }).min(n);
            let b = rng.int(1, n);
            let flat: Vec<f64> = rng.matrix(n, r).concat();
            let model = BatchModel::new(n, b, sampling).unwrap();
            let ec = EigenCoords::new(&flat, n, r).unwrap();
            let lmax = ec.h_eigenvalues.iter().cloned().fold(0.0, f64::max);
            // from well inside to beyond the GD edge: odd k then often has λ_min < −λ_max
            let lr = (0.3 + 1.9 * rng.uniform()) * 2.0 / lmax / 2.0;
            let dense = MomentTerms::new(&ec.coords, n, r, k, &model, false)
                .unwrap()
                .operator(lr);
            let d = (dense.len() as f64).sqrt() as usize;
            let vals = symmetric_eigenvalues(&dense, d, EigenBackend::Faer).unwrap();
            let rho = vals[0].abs().max(vals[d - 1].abs());
            if vals[0].abs() > vals[d - 1].abs() {
                negative_seen += 1;
            }
            let mf = MatrixFreeMoment::new(&ec, k, lr, &model).unwrap();
            let res = extreme_eigenvalues(
                &mf,
                &LanczosOptions {
                    tolerance: 1e-12,
                    ..LanczosOptions::default()
                },
            );
            assert_eq!(res.termination, Termination::Converged, "case {case}");
            let rel = (res.radius() - rho).abs() / rho;
            assert!(
                rel <= 1e-9,
                "case {case}: k={k} Lanczos {} dense {rho} ({rel:e})",
                res.radius()
            );
            assert!((res.radius() - rho).abs() <= res.radius_error_bound() + 1e-12 * rho);
        }
        assert!(
            negative_seen >= 2,
            "only {negative_seen} cases with a dominant negative eigenvalue"
        );
    }

    #[test]
    fn lanczos_with_restarts_on_a_larger_operator() {
        // D = C(12 + 2, 3) = 364 with a basis of 30: several thick restarts are needed
        let mut rng = Rng::new(77);
        let (n, r, k) = (20, 12, 3);
        let flat: Vec<f64> = rng.matrix(n, r).concat();
        let model = BatchModel::new(n, 4, Sampling::WithReplacement).unwrap();
        let ec = EigenCoords::new(&flat, n, r).unwrap();
        let dense = MomentTerms::new(&ec.coords, n, r, k, &model, false)
            .unwrap()
            .operator(0.05);
        let d = (dense.len() as f64).sqrt() as usize;
        let vals = symmetric_eigenvalues(&dense, d, EigenBackend::Faer).unwrap();
        let mf = MatrixFreeMoment::new(&ec, k, 0.05, &model).unwrap();
        let opts = LanczosOptions {
            max_basis: 30,
            keep: 6,
            tolerance: 1e-11,
            ..LanczosOptions::default()
        };
        let res = extreme_eigenvalues(&mf, &opts);
        assert!(res.restarts >= 1);
        assert!((res.lambda_max - vals[d - 1]).abs() <= 1e-9 * vals[d - 1].abs());
        assert!((res.lambda_min - vals[0]).abs() <= 1e-9 * vals[d - 1].abs());
        let only_top = extreme_eigenvalues(
            &mf,
            &LanczosOptions {
                ends: Ends::Largest,
                ..opts
            },
        );
        assert!((only_top.lambda_max - vals[d - 1]).abs() <= 1e-9 * vals[d - 1].abs());
    }
}

mod threshold_at_scale {
    use super::*;
    use sgdstab::engine::lanczos::LanczosOptions;
    use sgdstab::engine::matrix_free::second_order_threshold;

    /// η*_2 by Lanczos on C^{-1/2} D C^{-1/2} equals 2/λ_max(C⁺D) from explicit Kronecker products
    /// (nalgebra, r² × r², no sgdstab code), and T_2(η) built densely by the closed form has
    /// spectral radius 1 exactly there.
    #[test]
    fn lanczos_threshold_equals_the_explicit_pencil() {
        let mut rng = Rng::new(515);
        for case in 0..6 {
            let sampling = Sampling::ALL[case % 2];
            let (n, r) = (rng.int(3, 9), rng.int(2, 5));
            let r = r.min(n);
            let b = rng.int(1, n);
            let rows = rng.matrix(n, r);
            let flat: Vec<f64> = rows.concat();
            let model = BatchModel::new(n, b, sampling).unwrap();
            let ec = EigenCoords::new(&flat, n, r).unwrap();
            let th = second_order_threshold(
                &ec,
                &model,
                &LanczosOptions {
                    tolerance: 1e-13,
                    ..Default::default()
                },
                sgdstab::Hooks::none(),
            )
            .unwrap();
            // explicit C and D on R^{r²}
            let mut h = nalgebra::DMatrix::<f64>::zeros(r, r);
            let hs: Vec<nalgebra::DMatrix<f64>> = rows
                .iter()
                .map(|row| {
                    let a = nalgebra::DVector::from_row_slice(row);
                    &a * a.transpose()
                })
                .collect();
            for hi in &hs {
                h += hi / n as f64;
            }
            let id = nalgebra::DMatrix::<f64>::identity(r, r);
            let p = match sampling {
                Sampling::WithoutReplacement => {
                    if n == 1 {
                        0.0
                    } else {
                        (n - b) as f64 / (b as f64 * (n as f64 - 1.0))
                    }
                }
                Sampling::WithReplacement => 1.0 / b as f64,
            };
            let c = (h.kronecker(&id) + id.kronecker(&h)) * 0.5;
            let mut d = h.kronecker(&h) * (1.0 - p);
            for hi in &hs {
                d += hi.kronecker(hi) * (p / n as f64);
            }
            let cinv = c.clone().try_inverse().unwrap();
            let lam = (cinv * &d)
                .complex_eigenvalues()
                .iter()
                .map(|z| z.re)
                .fold(f64::MIN, f64::max);
            let want = 2.0 / lam;
            let rel = (th.lr_threshold - want).abs() / want;
            assert!(
                rel < 1e-10,
                "case {case}: {} vs {want} ({rel:e})",
                th.lr_threshold
            );
            // ρ(T_2(η*)) = 1 with the closed-form dense operator
            let t = MomentTerms::new(&ec.coords, n, r, 2, &model, false)
                .unwrap()
                .operator(th.lr_threshold);
            let dim = (t.len() as f64).sqrt() as usize;
            assert!((radius(&t, dim) - 1.0).abs() < 1e-9);
        }
    }
}

mod inertia {
    use super::*;
    use sgdstab::engine::lanczos::LanczosOptions;
    use sgdstab::engine::matrix_free::second_order_threshold;
    use sgdstab::{AnalyzeOptions, Gradients, Hooks, OperatorMethod, SolverOptions, Verdict};

    /// On both sides of η*_2, the matrix-free j = 2 block's Sylvester-inertia verdict equals the
    /// dense verdict.
    #[test]
    fn inertia_certificate_matches_dense_verdicts() {
        let mut rng = Rng::new(61);
        for case in 0..8 {
            let sampling = Sampling::ALL[case % 2];
            let (n, w) = (rng.int(4, 8), rng.int(2, 5));
            let rows = rng.matrix(n, w);
            let g = Gradients::from_rows(&rows).unwrap();
            let b = rng.int(1, n);
            let red = sgdstab::engine::reduction::SpanReduction::new(&g, None).unwrap();
            let ec = EigenCoords::new(&red.coords, n, red.rank).unwrap();
            let model = BatchModel::new(n, b, sampling).unwrap();
            let th = second_order_threshold(&ec, &model, &LanczosOptions::default(), Hooks::none())
                .unwrap();
            for (f, want) in [(0.9, Verdict::Stable), (1.1, Verdict::Unstable)] {
                let lr = f * th.lr_threshold;
                let opts = AnalyzeOptions::default().orders([2]);
                let dense = analyze_with(&g, lr, b, sampling, &opts);
                let opts = opts.solver(SolverOptions::default().method(OperatorMethod::MatrixFree));
                let mf = analyze_with(&g, lr, b, sampling, &opts);
                let blk = mf.orders[0].blocks.iter().find(|b| b.j == 2).unwrap();
                let cert = blk
                    .inertia
                    .as_ref()
                    .expect("j = 2 matrix-free has a certificate");
                assert_eq!(cert.verdict, want, "case {case} f={f}");
                assert_eq!(dense.orders[0].verdict, want, "case {case} f={f} (dense)");
                assert_eq!(
                    mf.orders[0].verdict, want,
                    "case {case} f={f} (matrix-free)"
                );
            }
        }
    }
}
