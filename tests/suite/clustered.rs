//! The clustered solver of `T_2` (DESIGN §12, `sgdstab::engine::clustered`) against dense
//! eigensolves on synthetic spectra whose top really is a cluster (H with eigenvalues from 1 down
//! to 1e-8, most near the bottom: the dense top gap of `T_2` is asserted below 1e-9).

use crate::common::*;
use sgdstab::engine::clustered::{
    certify_at, eigenvalues_above, enclose_top, ClusteredOptions, DEFAULT_WIDTH,
};
use sgdstab::engine::matrix_free::EigenCoords;
use sgdstab::engine::moment_operator::MomentTerms;
use sgdstab::engine::spectrum::{eigensolver_error_bound, symmetric_eigenvalues, EigenBackend};
use sgdstab::engine::stability::Termination;
use sgdstab::engine::symmetric::SymBasis;
use sgdstab::progress::Hooks;
use sgdstab::{AnalyzeOptions, BatchModel, Gradients, OperatorMethod, Sampling, SolverOptions};

/// The dense `T_2` on the eigen-rotated coordinates, its ascending eigenvalues and their bound.
fn dense_t2(ec: &EigenCoords, lr: f64, model: &BatchModel) -> (Vec<f64>, Vec<f64>, f64) {
    let t = MomentTerms::new(&ec.coords, ec.n, ec.r, 2, model, false)
        .unwrap()
        .operator(lr);
    let d = ec.r * (ec.r + 1) / 2;
    let vals = symmetric_eigenvalues(&t, d, EigenBackend::Faer).unwrap();
    let err = eigensolver_error_bound(d, fro(&t)) * 4.0 + 1e-14;
    (t, vals, err)
}

/// `p = (n−B)/(B(n−1))` without replacement, `1/B` with (DESIGN §12).
fn sigma_weight(n: usize, b: usize, s: Sampling) -> f64 {
    match s {
        Sampling::WithoutReplacement => (n - b) as f64 / (b as f64 * (n - 1) as f64),
        _ => 1.0 / b as f64,
    }
}

/// `T_2 = Δ + η²p·(1/n) Σ_i v_i v_iᵀ` on the orthonormal basis `E_ab` equals the closed form.
#[test]
fn diagonal_plus_low_rank_form_equals_the_dense_operator() {
    let mut rng = Rng::new(12);
    for case in 0..6 {
        let sampling = Sampling::ALL[case % 2];
        let (n, r) = (rng.int(4, 12), rng.int(2, 6));
        let r = r.min(n);
        let b = rng.int(1, n);
        let rows = rng.matrix(n, r);
        let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
        let model = BatchModel::new(n, b, sampling).unwrap();
        let lr = 0.05 + 0.5 * rng.uniform();
        let (t, _, _) = dense_t2(&ec, lr, &model);
        let p = sigma_weight(n, b, sampling);
        let basis = SymBasis::new(r, 2).unwrap();
        let d = basis.dim();
        let lam = &ec.h_eigenvalues;
        let v: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let bi = ec.row(i);
                (0..d)
                    .map(|e| {
                        let el = basis.elem(e);
                        let (a, c) = (el[0] as usize, el[1] as usize);
                        bi[a] * bi[c] * if a == c { 1.0 } else { 2f64.sqrt() }
                    })
                    .collect()
            })
            .collect();
        let mut diff = 0.0f64;
        for e in 0..d {
            for f in 0..d {
                let el = basis.elem(e);
                let (a, c) = (el[0] as usize, el[1] as usize);
                let delta = if e == f {
                    1.0 - lr * (lam[a] + lam[c]) + lr * lr * (1.0 - p) * lam[a] * lam[c]
                } else {
                    0.0
                };
                let k: f64 = (0..n).map(|i| v[i][e] * v[i][f]).sum::<f64>() / n as f64;
                let ours = delta + lr * lr * p * k;
                diff = diff.max((ours - t[e + f * d]).abs());
            }
        }
        assert!(
            diff <= 1e-12 * fro(&t),
            "case {case}: n={n} r={r} B={b} {sampling}: max difference {diff:e}"
        );
    }
}

/// The forced solver on clustered spectra: the dense λ_max lies in the enclosure, whose width is
/// at most 1e-9; several η, both sampling schemes.
#[test]
fn enclosure_contains_the_dense_top_of_a_clustered_spectrum() {
    let mut rng = Rng::new(7);
    let mut case = 0;
    for &(n, r) in &[(40usize, 24usize), (60, 36)] {
        let rows = clustered_rows(&mut rng, n, r);
        let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
        for &sampling in &Sampling::ALL {
            for &(lr, b) in &[(0.1, 4usize), (0.7, 10), (1.5, 20)] {
                case += 1;
                let model = BatchModel::new(n, b, sampling).unwrap();
                let (_, vals, err) = dense_t2(&ec, lr, &model);
                let d = vals.len();
                let top = vals[d - 1];
                assert!(
                    top - vals[d - 2] < 1e-9,
                    "case {case}: the dense top gap {:e} is not clustered",
                    top - vals[d - 2]
                );
                let enc = enclose_top(&ec, lr, &model, &ClusteredOptions::default(), Hooks::none())
                    .unwrap();
                assert_eq!(
                    enc.termination,
                    Termination::Converged,
                    "case {case}: {enc:?}"
                );
                assert!(enc.width <= DEFAULT_WIDTH, "case {case}: {enc:?}");
                assert!(
                    enc.lower - err <= top && top <= enc.upper + err,
                    "case {case}: n={n} r={r} η={lr} B={b} {sampling}: dense λ_max {top:.17e} outside [{:.17e}, {:.17e}]",
                    enc.lower,
                    enc.upper
                );
                assert!(enc.lambda_min_lower <= vals[0] + err, "case {case}");
                assert!(vals[0] <= enc.lambda_min_upper + err, "case {case}");
            }
        }
    }
}

/// The certificate never succeeds below λ_max (coarse or exact buckets) and succeeds above it.
#[test]
fn certificate_fails_below_lambda_max() {
    let mut rng = Rng::new(31);
    let (n, r) = (30, 16);
    let rows = clustered_rows(&mut rng, n, r);
    let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
    for &sampling in &Sampling::ALL {
        let model = BatchModel::new(n, 5, sampling).unwrap();
        let lr = 0.4;
        let (_, vals, err) = dense_t2(&ec, lr, &model);
        let top = vals[vals.len() - 1];
        for buckets in [4, 8, r] {
            for below in [1e-10f64, 1e-8, 1e-6] {
                let mu = top - below.max(4.0 * err);
                assert!(
                    !certify_at(&ec, lr, &model, mu, buckets).unwrap(),
                    "{sampling}: certified λ_max < {mu:.17e} but dense λ_max = {top:.17e}"
                );
            }
        }
        assert!(certify_at(&ec, lr, &model, top + 1e-6, r).unwrap());
    }
}

/// The inertia of the capacitance matrix counts the dense eigenvalues above μ.
#[test]
fn capacitance_inertia_counts_eigenvalues_above_mu() {
    let mut rng = Rng::new(5);
    let mut checked = 0;
    for case in 0..8 {
        let sampling = Sampling::ALL[case % 2];
        let (n, r) = (rng.int(6, 14), rng.int(3, 7));
        let r = r.min(n);
        let b = rng.int(1, 3);
        let rows = rng.matrix(n, r);
        let ec = EigenCoords::new(&rows.concat(), n, r).unwrap();
        let model = BatchModel::new(n, b, sampling).unwrap();
        let lmax = ec.h_eigenvalues.iter().cloned().fold(0.0, f64::max);
        let lr = (0.2 + rng.uniform()) / lmax;
        let (_, vals, err) = dense_t2(&ec, lr, &model);
        let p = sigma_weight(n, b, sampling);
        let lam = &ec.h_eigenvalues;
        let mut dmax = f64::NEG_INFINITY;
        for a in 0..r {
            for c in a..r {
                dmax =
                    dmax.max(1.0 - lr * (lam[a] + lam[c]) + lr * lr * (1.0 - p) * lam[a] * lam[c]);
            }
        }
        for w in vals.windows(2) {
            let mu = 0.5 * (w[0] + w[1]);
            if w[1] - w[0] < 1e-6 || mu <= dmax + 1e-6 {
                continue;
            }
            let above = vals.iter().filter(|&&v| v > mu + err).count();
            assert_eq!(
                eigenvalues_above(&ec, lr, &model, mu).unwrap(),
                Some(above),
                "case {case}: μ = {mu}"
            );
            checked += 1;
        }
        let mu = vals[vals.len() - 1] + 1e-3;
        assert_eq!(eigenvalues_above(&ec, lr, &model, mu).unwrap(), Some(0));
        assert_eq!(
            eigenvalues_above(&ec, lr, &model, dmax - 1e-9).unwrap(),
            None,
            "μ below max Δ is refused"
        );
    }
    assert!(checked >= 4, "only {checked} gaps above max Δ were checked");
}

/// Through `analyze`: `--method clustered` (and `auto` beyond the dense limit) use the clustered
/// solver for j = 2, report the enclosure and skip the cone check with a reason.
#[test]
fn analyze_reports_the_clustered_block() {
    let mut rng = Rng::new(77);
    let (n, r) = (50, 30);
    let rows = clustered_rows(&mut rng, n, r);
    let g = Gradients::from_rows(&rows).unwrap();
    let (lr, b) = (0.3, 8);
    for (method, max_dense) in [
        (OperatorMethod::Clustered, 8000),
        (OperatorMethod::Auto, 100),
    ] {
        let opts = AnalyzeOptions::default().orders([1, 2]).solver(
            SolverOptions::default()
                .method(method)
                .max_dense_dim(max_dense),
        );
        let rep = analyze_with(&g, lr, b, Sampling::WithoutReplacement, &opts);
        let o = rep.orders.iter().find(|o| o.k == 2).unwrap();
        let blk = o.blocks.iter().find(|bl| bl.j == 2).unwrap();
        assert_eq!(blk.method, OperatorMethod::Clustered, "{method}");
        let enc = blk
            .enclosure
            .as_ref()
            .expect("clustered block has an enclosure");
        assert!(blk.error_bound <= DEFAULT_WIDTH && blk.error_bound >= enc.width);
        let cone = o.cone.as_ref().unwrap();
        assert_eq!(cone.termination, Termination::Skipped);
        assert!(cone.ratio.is_none() && cone.reason.is_some());
        let json = serde_json::to_value(&rep).unwrap();
        let jb = &json["orders"][1]["blocks"];
        let j2 = jb.as_array().unwrap().iter().find(|x| x["j"] == 2).unwrap();
        assert_eq!(j2["method"], "clustered");
        assert!(
            j2["enclosure"]["lower"].as_f64().unwrap()
                <= j2["enclosure"]["upper"].as_f64().unwrap()
        );
        assert_eq!(json["orders"][1]["cone"]["termination"], "skipped");
        // the same block by the dense closed form
        let dense = analyze_with(
            &g,
            lr,
            b,
            Sampling::WithoutReplacement,
            &AnalyzeOptions::default().orders([2]),
        );
        let db = dense.orders[0].blocks.iter().find(|bl| bl.j == 2).unwrap();
        assert_eq!(db.method, OperatorMethod::Dense);
        assert!(
            enc.lower - db.error_bound <= db.lambda_max
                && db.lambda_max <= enc.upper + db.error_bound,
            "dense {:.17e} vs [{:.17e}, {:.17e}]",
            db.lambda_max,
            enc.lower,
            enc.upper
        );
        assert_eq!(o.verdict, dense.orders[0].verdict);
    }
}

/// Regression (issue 10): a trained ReLU MLP export (`fixtures/make_trained_export.sh small`,
/// n = 200, w = 1 249) on which the Lanczos path stalls at max-iterations on j = 2 with a
/// residual reported as the bound; the clustered solver encloses λ_max to 1e-9, consistently with
/// the old path (whose Ritz value is a lower bound, and whose residual interval must meet the
/// enclosure).
#[test]
fn trained_export_stalls_lanczos_and_is_enclosed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trained/grads.npy");
    let prob = sgdstab::Problem::from_file(
        &path,
        &sgdstab::ProblemOptions::default().max_order(2),
        Hooks::none(),
    )
    .unwrap();
    let run = |method| {
        let opts = AnalyzeOptions::default()
            .orders([2])
            .cone_max_iterations(Some(0))
            .solver(SolverOptions::default().method(method));
        let rep = prob.analyze(0.1, 20, &opts, Hooks::none()).unwrap();
        rep.orders[0]
            .blocks
            .iter()
            .find(|b| b.j == 2)
            .unwrap()
            .clone()
    };
    let old = run(OperatorMethod::MatrixFree);
    let lz = old.lanczos.as_ref().unwrap();
    assert_eq!(lz.termination, Termination::MaxIterations, "{lz:?}");
    let new = run(OperatorMethod::Auto);
    assert_eq!(new.method, OperatorMethod::Clustered);
    let enc = new.enclosure.as_ref().unwrap();
    assert_eq!(enc.termination, Termination::Converged, "{enc:?}");
    assert!(enc.width <= DEFAULT_WIDTH, "{enc:?}");
    // the old Ritz value is a Rayleigh quotient: at most λ_max
    assert!(old.lambda_max <= enc.upper, "{} > {enc:?}", old.lambda_max);
    assert!(
        old.lambda_max + old.error_bound >= enc.lower,
        "{old:?} vs {enc:?}"
    );
    // and it is provably low: the clustered lower bound exceeds it
    assert!(enc.lower > old.lambda_max, "{} vs {enc:?}", old.lambda_max);
}
