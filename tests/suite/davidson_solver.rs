//! The block Davidson solver of the matrix-free blocks `j >= 3` (issue 10, DESIGN §12,
//! `sgdstab::engine::davidson`) against dense eigensolves on synthetic spectra whose top really is
//! a cluster (H with eigenvalues from 1 down to 1e-8, most near the bottom: the dense top gap is
//! asserted below 1e-9): the Rayleigh bounds are on the certified side of the dense extremes, and
//! the dense extremes lie within the reported error bound of the reported ones.

use crate::common::*;
use sgdstab::engine::davidson::{extreme_eigenvalues, DavidsonOptions, SolveLabel};
use sgdstab::engine::lanczos::Ends;
use sgdstab::engine::linop::SymmetricOperator;
use sgdstab::engine::matrix_free::{EigenCoords, MatrixFreeMoment};
use sgdstab::engine::moment_operator::MomentTerms;
use sgdstab::engine::stability::Termination;
use sgdstab::progress::Hooks;
use sgdstab::{
    AnalyzeOptions, BatchModel, Gradients, OperatorMethod, Sampling, SolverOptions, Verdict,
};

/// The dense `T_k` on the eigen-rotated coordinates (column-major) and its dimension.
fn dense(ec: &EigenCoords, k: usize, lr: f64, model: &BatchModel) -> (Vec<f64>, usize) {
    let t = MomentTerms::new(&ec.coords, ec.n, ec.r, k, model, false)
        .unwrap()
        .operator(lr);
    let d = (t.len() as f64).sqrt().round() as usize;
    (t, d)
}

/// The diagonal of the matrix-free operator equals the dense one for k <= 3 (exact), and the
/// magnitude `N` bounds the spectral radius; k = 4 says its diagonal is not exact.
#[test]
fn diagonal_and_magnitude_match_the_dense_operator() {
    let mut rng = Rng::new(2024);
    for case in 0..12 {
        let sampling = Sampling::ALL[case % 2];
        let k = 1 + case % 4;
        let n = rng.int(3, 9);
        let r = rng.int(2, if k == 4 { 4 } else { 6 }).min(n);
        let b = rng.int(1, n);
        let rows = rng.matrix(n, r);
        let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
        let model = BatchModel::new(n, b, sampling).unwrap();
        let lr = 0.1 + rng.uniform();
        let (t, d) = dense(&ec, k, lr, &model);
        let mf = MatrixFreeMoment::new(&ec, k, lr, &model).unwrap();
        let (diag, exact) = mf.diagonal();
        assert_eq!(diag.len(), d);
        assert_eq!(exact, k <= 3, "case {case}: k = {k}");
        if exact {
            let scale = fro(&t);
            for (i, v) in diag.iter().enumerate() {
                assert!(
                    (v - t[i + i * d]).abs() <= 1e-12 * scale,
                    "case {case}: k={k} n={n} r={r} B={b} {sampling}: diag[{i}] = {v} vs {}",
                    t[i + i * d]
                );
            }
        }
        let rho = radius(&t, d);
        assert!(
            rho <= mf.magnitude() * (1.0 + 1e-12),
            "case {case}: ρ = {rho} > N = {}",
            mf.magnitude()
        );
    }
}

/// The solver forced through `analyze` on clustered spectra, j = 3 (both ends) and j = 4 (top),
/// several η (stable and unstable), both sampling schemes.
#[test]
fn davidson_brackets_the_dense_extremes_of_clustered_blocks() {
    let mut rng = Rng::new(4242);
    let mut case = 0;
    for &(k, n, r) in &[(3usize, 30usize, 14usize), (4, 24, 9)] {
        let rows = clustered_rows(&mut rng, n, r);
        let g = Gradients::from_rows(&rows).unwrap();
        for &sampling in &Sampling::ALL {
            for &(lr, b) in &[(0.1, 4usize), (1.2, 10), (2.6, 6)] {
                case += 1;
                let p = problem(&g, sampling, k);
                let forced = AnalyzeOptions::default()
                    .orders([k])
                    .solver(SolverOptions::default().method(OperatorMethod::Davidson));
                let rep = p.analyze(lr, b, &forced, Hooks::none()).unwrap();
                let blk = rep.orders[0].blocks.iter().find(|x| x.j == k).unwrap();
                assert_eq!(blk.method, OperatorMethod::Davidson, "case {case}");
                let dv = blk.davidson.as_ref().expect("davidson report");
                assert_eq!(
                    dv.termination,
                    Termination::Converged,
                    "case {case}: {dv:?}"
                );
                let exact = p
                    .analyze(lr, b, &AnalyzeOptions::default().orders([k]), Hooks::none())
                    .unwrap();
                let db = exact.orders[0].blocks.iter().find(|x| x.j == k).unwrap();
                assert_eq!(db.method, OperatorMethod::Dense);
                let tol = db.error_bound;
                let ctx = format!(
                    "case {case}: k={k} n={n} r={r} η={lr} B={b} {sampling}: dense [{:.17e}, {:.17e}] ± {tol:.1e}, davidson {blk:?}",
                    db.lambda_min, db.lambda_max
                );
                // the certified side
                assert!(dv.lambda_max_lower <= db.lambda_max + tol, "{ctx}");
                // the estimate: the dense top within the reported error bound
                assert!(
                    (db.lambda_max - blk.lambda_max).abs() <= blk.error_bound + tol,
                    "{ctx}"
                );
                if k % 2 == 1 {
                    let up = dv.lambda_min_upper.expect("odd j: λ_min upper bound");
                    assert!(db.lambda_min <= up + tol, "{ctx}");
                    assert!(
                        (db.lambda_min - blk.lambda_min).abs()
                            <= dv.residual_min + dv.rounding + tol,
                        "{ctx}"
                    );
                    assert!(
                        (db.radius - blk.radius).abs() <= blk.error_bound + tol,
                        "{ctx}"
                    );
                } else {
                    assert!(dv.lambda_min_upper.is_none());
                    let cone = rep.orders[0].cone.as_ref().unwrap();
                    assert_eq!(cone.termination, Termination::Skipped, "{ctx}");
                }
                let v = rep.orders[0].verdict;
                if v != Verdict::Marginal && exact.orders[0].verdict != Verdict::Marginal {
                    assert_eq!(v, exact.orders[0].verdict, "{ctx}");
                }
                // the JSON: additive key, method name
                let json = serde_json::to_value(&rep).unwrap();
                let jb = json["orders"][0]["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["j"] == k)
                    .unwrap()
                    .clone();
                assert_eq!(jb["method"], "davidson");
                assert!(jb["davidson"]["certified"]
                    .as_str()
                    .unwrap()
                    .starts_with("lambda_max >= lambda_max_lower"));
                assert!(jb["lanczos"].is_null());
            }
        }
    }
    assert_eq!(case, 12);
}

/// The clustered synthetic top really is a cluster: the dense top gap of T_3 is below 1e-9.
#[test]
fn the_synthetic_top_of_t3_is_clustered() {
    let mut rng = Rng::new(4242);
    let (n, r) = (30, 14);
    let rows = clustered_rows(&mut rng, n, r);
    let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
    for &(lr, b) in &[(0.1, 4usize), (1.2, 10)] {
        let model = BatchModel::new(n, b, Sampling::WithoutReplacement).unwrap();
        let (t, d) = dense(&ec, 3, lr, &model);
        let vals = sym_eigenvalues(&t, d);
        let gap = vals[d - 1] - vals[d - 2];
        assert!(gap < 1e-9, "η = {lr}: top gap {gap:e}");
    }
}

/// `auto` beyond the dense limit sends j >= 3 to Davidson (j = 2 to the clustered solver), and
/// `matrix-free` keeps Lanczos.
#[test]
fn auto_uses_davidson_for_matrix_free_blocks_from_j3() {
    let mut rng = Rng::new(8);
    let rows = clustered_rows(&mut rng, 20, 10);
    let g = Gradients::from_rows(&rows).unwrap();
    let p = problem(&g, Sampling::WithoutReplacement, 3);
    let run = |m: OperatorMethod| {
        let o = AnalyzeOptions::default()
            .orders([2, 3])
            .solver(SolverOptions::default().method(m).max_dense_dim(20));
        p.analyze(0.5, 5, &o, Hooks::none()).unwrap()
    };
    let auto = run(OperatorMethod::Auto);
    let methods: Vec<_> = auto
        .orders
        .iter()
        .flat_map(|o| o.blocks.iter().map(|b| (b.j, b.method)))
        .collect();
    assert!(
        methods.contains(&(2, OperatorMethod::Clustered)),
        "{methods:?}"
    );
    assert!(
        methods.contains(&(3, OperatorMethod::Davidson)),
        "{methods:?}"
    );
    let lz = run(OperatorMethod::MatrixFree);
    let b3 = lz.orders[1].blocks.iter().find(|b| b.j == 3).unwrap();
    assert_eq!(b3.method, OperatorMethod::MatrixFree);
    assert!(b3.lanczos.is_some() && b3.davidson.is_none());
}

/// Byte-identical results for any number of threads, and a cancellation request stops the solve.
#[test]
fn davidson_is_thread_count_independent_and_cancellable() {
    let mut rng = Rng::new(99);
    let rows = clustered_rows(&mut rng, 40, 16);
    let ec = EigenCoords::new(&rows.concat(), 40, 16).unwrap();
    let model = BatchModel::new(40, 8, Sampling::WithoutReplacement).unwrap();
    let op = MatrixFreeMoment::new(&ec, 3, 0.7, &model).unwrap();
    let (diag, _) = op.diagonal();
    let label = SolveLabel {
        label: "T_3".into(),
        expected_products: 20,
    };
    let solve = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            extreme_eigenvalues(
                &op,
                &diag,
                Ends::Both,
                &DavidsonOptions::default(),
                1e-15,
                &label,
                Hooks::none(),
            )
            .unwrap()
        })
    };
    let one = solve(1);
    let three = solve(3);
    assert_eq!(format!("{one:?}"), format!("{three:?}"));
    assert!(one.products >= 3 && op.dim() == 816);
    let flag = std::sync::atomic::AtomicBool::new(true);
    let r = extreme_eigenvalues(
        &op,
        &diag,
        Ends::Both,
        &DavidsonOptions::default(),
        0.0,
        &label,
        Hooks::new(&sgdstab::progress::NoProgress, &flag),
    );
    assert!(matches!(r, Err(sgdstab::Error::Cancelled)));
}

/// The committed trained export (`fixtures/trained`, n = r = 200) at order 3: the j = 3 block
/// (D = 1 353 400) goes to block Davidson under `auto` and converges; its certified lower bound
/// is below its Rayleigh quotient and the block is stable (λ_max < 1 − error bound).
#[test]
fn trained_export_order3_is_solved_by_davidson() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trained/grads.npy");
    let prob = sgdstab::Problem::from_file(
        &path,
        &sgdstab::ProblemOptions::default().max_order(3),
        Hooks::none(),
    )
    .unwrap();
    let rep = prob
        .analyze(
            0.1,
            20,
            &AnalyzeOptions::default().orders([3]),
            Hooks::none(),
        )
        .unwrap();
    let o = &rep.orders[0];
    let b3 = o.blocks.iter().find(|b| b.j == 3).unwrap();
    assert_eq!(b3.method, OperatorMethod::Davidson);
    assert_eq!(b3.dim, 1_353_400);
    let dv = b3.davidson.as_ref().unwrap();
    assert_eq!(dv.termination, Termination::Converged, "{dv:?}");
    assert!(
        dv.lambda_max_lower <= b3.lambda_max && b3.lambda_max < 1.0,
        "{b3:?}"
    );
    assert!(dv.lambda_min_upper.unwrap() >= b3.lambda_min, "{b3:?}");
    let b2 = o.blocks.iter().find(|b| b.j == 2).unwrap();
    assert_eq!(b2.method, OperatorMethod::Clustered);
    assert_eq!(o.verdict, Verdict::Stable);
}
