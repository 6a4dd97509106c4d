//! Section 5 (Theorems 6 and 7): the covered condition and scattered constant against brute-force
//! counts, and models where every quantity is known in closed form — a linear model (C = 1, the
//! sensitivity is ‖W‖_2 δ, stability checked by the analyzer) and a quadratic one (the probes must
//! find the closed-form suprema) — plus the recombination of eq. (26) on a trained network.

use crate::common::Rng;
use proptest::prelude::*;
use sgdstab::engine::bounds::norm_2k;
use sgdstab::generalization::covering::{nearest_distances, uncovered_fraction, ScatterEstimator};
use sgdstab::generalization::{
    generalization, DeltaGrid, GeneralizationOptions, GeneralizationReport, InputLayerModel,
    ProbeOptions, SectionFiveInput,
};
use sgdstab::networks::datasets::{Dataset, GradientBound};
use sgdstab::networks::matrix_norm::bracket;
use sgdstab::{analyze, AnalyzeOptions};
use sgdstab::{NoProgress, Verdict};

/// `f(x, W) = W·x`: `W_1 = W` (1 × d), no `W_2`; `∇_W f = x` does not depend on `W`.
struct Linear {
    w: Vec<f64>,
}

impl InputLayerModel for Linear {
    fn input_dim(&self) -> usize {
        self.w.len()
    }
    fn params(&self) -> &[f64] {
        &self.w
    }
    fn first_layer(&self) -> (Vec<f64>, usize) {
        (self.w.clone(), 1)
    }
    fn value_at(&self, w: &[f64], x: &[f64]) -> f64 {
        w.iter().zip(x).map(|(a, b)| a * b).sum()
    }
    fn gradients_at(&self, w: &[f64], x: &[f64], pg: &mut [f64], xg: &mut [f64]) -> f64 {
        pg.copy_from_slice(x);
        xg.copy_from_slice(w);
        self.value_at(w, x)
    }
}

/// `f(x, W) = (W·x)²`: `∇_W f = 2(W·x)x`, `∇_x f = 2(W·x)W`.
struct Quadratic {
    w: Vec<f64>,
}

impl InputLayerModel for Quadratic {
    fn input_dim(&self) -> usize {
        self.w.len()
    }
    fn params(&self) -> &[f64] {
        &self.w
    }
    fn first_layer(&self) -> (Vec<f64>, usize) {
        (self.w.clone(), 1)
    }
    fn value_at(&self, w: &[f64], x: &[f64]) -> f64 {
        let s: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum();
        s * s
    }
    fn gradients_at(&self, w: &[f64], x: &[f64], pg: &mut [f64], xg: &mut [f64]) -> f64 {
        let s: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum();
        for (p, v) in pg.iter_mut().zip(x) {
            *p = 2.0 * s * v;
        }
        for (p, v) in xg.iter_mut().zip(w) {
            *p = 2.0 * s * v;
        }
        s * s
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// `ε₂` by brute force: a test point is uncovered when no training point is within δ.
fn brute_eps2(train: &[Vec<f64>], test: &[Vec<f64>], delta: f64) -> f64 {
    let uncovered = test
        .iter()
        .filter(|t| !train.iter().any(|x| norm(&sub(t, x)) <= delta))
        .count();
    uncovered as f64 / test.len() as f64
}

fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// `K` by brute force over training points, test points and all midpoints of training pairs.
fn brute_k(train: &[Vec<f64>], test: &[Vec<f64>], delta: f64) -> usize {
    let mut pts: Vec<Vec<f64>> = train.to_vec();
    pts.extend(test.iter().cloned());
    for a in 0..train.len() {
        for b in a + 1..train.len() {
            pts.push(
                train[a]
                    .iter()
                    .zip(&train[b])
                    .map(|(u, v)| (u + v) / 2.0)
                    .collect(),
            );
        }
    }
    pts.iter()
        .map(|p| train.iter().filter(|x| norm(&sub(p, x)) <= delta).count())
        .max()
        .unwrap()
}

fn flat(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// ε₂(δ) equals the brute-force count and is non-increasing in δ; K is in [1, n] and
    /// equals the brute-force maximum.
    #[test]
    fn covering_and_scatter_match_brute_force(
        seed in any::<u64>(),
        n in 1usize..9,
        n_test in 1usize..12,
        d in 1usize..5,
        grid in proptest::collection::vec(0.0f64..3.0, 1..8),
    ) {
        let mut g = Rng::new(seed);
        // integer-valued coordinates make many distances tie with the grid values
        let point = |g: &mut Rng| -> Vec<f64> { (0..d).map(|_| g.int(0, 3) as f64 * 0.5).collect() };
        let train: Vec<Vec<f64>> = (0..n).map(|_| point(&mut g)).collect();
        let test: Vec<Vec<f64>> = (0..n_test).map(|_| point(&mut g)).collect();
        let near = nearest_distances(&flat(&test), &flat(&train), d);
        let k = ScatterEstimator::new(&flat(&train), &flat(&test), d);
        let mut deltas = grid.clone();
        deltas.extend([0.5, 1.0, 1.5]);
        deltas.sort_by(f64::total_cmp);
        let mut prev = f64::INFINITY;
        for &delta in &deltas {
            let e = uncovered_fraction(&near, delta);
            prop_assert_eq!(e, brute_eps2(&train, &test, delta));
            prop_assert!(e <= prev);
            prev = e;
            let kd = k.estimate(delta);
            prop_assert!((1..=n).contains(&kd));
            prop_assert_eq!(kd, brute_k(&train, &test, delta));
        }
    }
}

/// Training data in R^d with n < d, a linear target `v·x`, the minimum-norm interpolant.
struct LinearSetup {
    train: Dataset,
    test: Dataset,
    w: Vec<f64>,
    v: Vec<f64>,
    lr: f64,
    batch: usize,
}

fn linear_setup() -> LinearSetup {
    let (n, d, n_test) = (6, 10, 200);
    let mut g = Rng::new(7);
    let x = g.matrix(n, d);
    let v: Vec<f64> = (0..d).map(|_| g.normal()).collect();
    let y: Vec<f64> = x.iter().map(|r| dot(r, &v)).collect();
    // W* = Xᵀ (X Xᵀ)⁻¹ y
    let xm = nalgebra::DMatrix::from_row_slice(n, d, &flat(&x));
    let gram = &xm * xm.transpose();
    let alpha = gram
        .clone()
        .lu()
        .solve(&nalgebra::DVector::from_vec(y.clone()))
        .unwrap();
    let w: Vec<f64> = (xm.transpose() * alpha).iter().copied().collect();
    let xt = g.matrix(n_test, d);
    let yt: Vec<f64> = xt.iter().map(|r| dot(r, &v)).collect();
    // η = 0.5 / λ_max(H), H = (1/n) Σ x_i x_iᵀ (eigenvalues of the Gram matrix / n)
    let lmax = (&gram / n as f64)
        .symmetric_eigenvalues()
        .iter()
        .fold(0.0f64, |a, &b| a.max(b));
    LinearSetup {
        train: Dataset::new("linear train".into(), n, d, flat(&x), y).unwrap(),
        test: Dataset::new("linear test".into(), n_test, d, flat(&xt), yt).unwrap(),
        w,
        v,
        lr: 0.5 / lmax,
        batch: 2,
    }
}

/// Recomputes eq. (26) and eq. (27) from the report's ingredients with the paper's formulas.
fn check_recombination(r: &GeneralizationReport) {
    let d = r.d as f64;
    for o in &r.orders {
        let k = o.k as f64;
        let s = (2.0 * r.n as f64 * r.w as f64 / r.batch as f64).powf(1.0 / (2.0 * k))
            * (2.0 * r.batch as f64 / r.lr).sqrt();
        assert!(close(o.stability_factor, s, 1e-14));
        let nk = o.w1t_norm.upper;
        for (row, cover) in o.rows.iter().zip(&r.covering.rows) {
            assert_eq!(row.delta, cover.delta);
            let c = row.c;
            assert!(c >= 1.0 && c >= row.c_ratio.unwrap() && c == row.c_ratio.unwrap().max(1.0));
            let t1 = 2.0 * d * c * c * nk * nk / o.min_x_norm_2k.powi(2)
                * (s + 1.0).powi(2)
                * row.delta.powi(2);
            let t2 = 2.0 * r.m2.value.powi(2) * row.delta.powi(2);
            let t3 = 4.0 * r.m1.value.powi(2) * cover.eps2;
            assert!(
                close(row.eq26.smoothness_term, t1, 1e-12),
                "{} vs {t1}",
                row.eq26.smoothness_term
            );
            assert!(close(row.eq26.target_term, t2, 1e-12));
            assert!(
                close(row.eq26.uncovered_term, t3, 1e-12)
                    || (t3 == 0.0 && row.eq26.uncovered_term == 0.0)
            );
            assert!(close(row.eq26.total, t1 + t2 + t3, 1e-12));
            let b27 = c * d.sqrt() * nk / o.min_x_norm_2k * (s + 1.0) * row.delta;
            assert!(close(row.eq27.bound, b27, 1e-12));
        }
        let min = o
            .rows
            .iter()
            .map(|r| r.eq26.total)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(o.eq26_min.total, min);
        let inf = min.min(r.eq26_small_delta_limit);
        assert_eq!(o.eq26_min.infimum_over_delta, inf);
        assert_eq!(
            o.eq26_min.below_target_variance,
            inf < r.measured.test_target_variance
        );
        // C is non-decreasing in δ (a sup over growing balls)
        for w in o.rows.windows(2) {
            assert!(w[1].c_ratio >= w[0].c_ratio);
        }
    }
    // the measured sensitivity is non-decreasing in δ
    for w in r.sensitivity.windows(2) {
        assert!(w[1].measured >= w[0].measured);
    }
}

#[test]
fn linear_model_meets_theorem7_and_every_quantity_is_exact() {
    let s = linear_setup();
    let model = Linear { w: s.w.clone() };
    let (n, d) = (s.train.n, s.train.d);
    // the interpolant fits the training data
    for i in 0..n {
        assert!((dot(&s.w, s.train.x_row(i)) - s.train.y[i]).abs() < 1e-12);
    }
    // the premise: W* is 1st and 2nd order stable at (η, B), by the analyzer (a_i = x_i)
    let grads = sgdstab::Gradients::from_row_major(n, d, s.train.x.clone(), "x").unwrap();
    let rep = analyze(&grads, s.lr, s.batch, &AnalyzeOptions::default()).unwrap();
    assert!(rep.orders.iter().all(|o| o.verdict == Verdict::Stable));
    let verdicts: Vec<(usize, Verdict)> = rep.orders.iter().map(|o| (o.k, o.verdict)).collect();
    let inp = SectionFiveInput {
        model: &model,
        train: &s.train,
        test: &s.test,
        gradient_bound: Some(GradientBound {
            value: norm(&s.v),
            exact: true,
            formula: "‖v‖_2",
        }),
        lr: s.lr,
        batch: s.batch,
    };
    let opts = GeneralizationOptions {
        orders: vec![1, 2],
        deltas: DeltaGrid::Auto { count: 12 },
        probes: ProbeOptions {
            random_directions: 8,
            ascent_steps: 4,
            seed: 3,
        },
    };
    let premise = |k: usize| verdicts.iter().find(|v| v.0 == k).map(|v| v.1);
    let r = generalization(&inp, &opts, &premise, None, &NoProgress).unwrap();
    assert!(r.ok, "{:?}", r.findings);
    check_recombination(&r);
    let wn = norm(&s.w);
    // test error in closed form: mean of ((W* − v)·x)²
    let diff = sub(&s.w, &s.v);
    let mse: f64 = (0..s.test.n)
        .map(|j| dot(&diff, s.test.x_row(j)).powi(2))
        .sum::<f64>()
        / s.test.n as f64;
    assert!(close(r.measured.test_mse, mse, 1e-12));
    assert!(r.measured.train_residual_max < 1e-12);
    // M₁ = max |W*·x|, |y| over train ∪ test
    let m1 = (0..n)
        .map(|i| s.train.x_row(i))
        .chain((0..s.test.n).map(|j| s.test.x_row(j)))
        .flat_map(|x| [dot(&s.w, x).abs(), dot(&s.v, x).abs()])
        .fold(0.0f64, f64::max);
    assert!(close(r.m1.value, m1, 1e-14));
    // no test point coincides with a training point: the δ → 0 limit of eq. (26) is 4M₁²
    assert_eq!(r.eq26_small_delta_limit, 4.0 * r.m1.value * r.m1.value);
    let train_rows: Vec<Vec<f64>> = (0..n).map(|i| s.train.x_row(i).to_vec()).collect();
    let test_rows: Vec<Vec<f64>> = (0..s.test.n).map(|j| s.test.x_row(j).to_vec()).collect();
    for (cov, sens) in r.covering.rows.iter().zip(&r.sensitivity) {
        assert_eq!(cov.eps2, brute_eps2(&train_rows, &test_rows, cov.delta));
        assert_eq!(cov.k_estimate, brute_k(&train_rows, &test_rows, cov.delta));
        // δ_approx = δ ‖W_1‖_2 / min ‖x_i‖_2 with W_1 = W (1 × d): ‖W_1‖_2 = ‖W‖_2
        let min_x = train_rows
            .iter()
            .map(|x| norm(x))
            .fold(f64::INFINITY, f64::min);
        assert!(close(cov.delta_approx, cov.delta * wn / min_x, 1e-13));
        // the largest change over the ball is ‖W‖_2 δ, along ±W (the input gradient)
        assert!(
            close(sens.measured, wn * cov.delta, 1e-12),
            "{} vs {}",
            sens.measured,
            wn * cov.delta
        );
        assert!(sens.at_radius.unwrap().random <= wn * cov.delta * (1.0 + 1e-12));
    }
    for o in &r.orders {
        assert_eq!(o.premise_verdict, Some(Verdict::Stable));
        // Definition 1: the parameter gradient never moves, so the sampled ratio is
        // max_i ‖x_i‖_2k / (‖x_i‖_2k + 1) at every radius, and C = 1
        let want = train_rows
            .iter()
            .map(|x| norm_2k(x, o.k) / (norm_2k(x, o.k) + 1.0))
            .fold(0.0f64, f64::max);
        // ‖W_1ᵀ‖_2k for the d × 1 matrix Wᵀ is ‖W‖_2k: inside the bracket
        let wk = norm_2k(&s.w, o.k);
        assert!(o.w1t_norm.lower <= wk * (1.0 + 1e-12) && wk <= o.w1t_norm.upper * (1.0 + 1e-12));
        let b = bracket(&s.w, d, 1, 2.0 * o.k as f64);
        assert_eq!(o.w1t_norm.upper, b.upper);
        for row in &o.rows {
            assert!(
                close(row.c_ratio.unwrap(), want, 1e-14),
                "{:?} vs {want}",
                row.c_ratio
            );
            assert!(row.c_ratio.unwrap() < 1.0);
            assert_eq!(row.c, 1.0);
            // Theorem 7 holds: measured <= bound
            assert!(
                row.eq27.measured.unwrap() <= row.eq27.bound,
                "δ = {}",
                row.delta
            );
        }
        // Theorem 6 against the test error
        assert!(r.measured.test_mse <= o.eq26_min.total);
    }
}

#[test]
fn probes_reach_the_closed_form_suprema_of_a_quadratic_model() {
    // f = (w·x)²: over ‖w' − w‖ <= ρ the largest ‖∇_W f‖_2k = 2(|w·x| + ρ‖x‖_2)‖x‖_2k, at
    // w' = w + ρ sign(w·x) x/‖x‖; over ‖x' − x‖ <= δ the largest |f(x') − f(x)| is
    // (|w·x| + δ‖w‖)² − (w·x)², along sign(w·x) w (the input gradient)
    let (n, d) = (5, 4);
    let mut g = Rng::new(11);
    let x = g.matrix(n, d);
    let w: Vec<f64> = (0..d).map(|_| g.normal()).collect();
    let y: Vec<f64> = x.iter().map(|r| dot(r, &w).powi(2)).collect();
    let train = Dataset::new("quadratic".into(), n, d, flat(&x), y).unwrap();
    let xt = g.matrix(20, d);
    let yt: Vec<f64> = xt.iter().map(|r| dot(r, &w).powi(2)).collect();
    let test = Dataset::new("quadratic test".into(), 20, d, flat(&xt), yt).unwrap();
    let model = Quadratic { w: w.clone() };
    let deltas = vec![1e-3, 1e-2, 5e-2];
    let opts = GeneralizationOptions {
        orders: vec![1, 2, 3],
        deltas: DeltaGrid::Given(deltas.clone()),
        probes: ProbeOptions {
            random_directions: 4,
            ascent_steps: 6,
            seed: 1,
        },
    };
    let inp = SectionFiveInput {
        model: &model,
        train: &train,
        test: &test,
        gradient_bound: None,
        lr: 0.1,
        batch: 2,
    };
    let r = generalization(&inp, &opts, &|_| None, None, &NoProgress).unwrap();
    check_recombination(&r);
    let wn = norm(&w);
    let min_x = x.iter().map(|r| norm(r)).fold(f64::INFINITY, f64::min);
    for (t, &delta) in deltas.iter().enumerate() {
        let sens = (0..n)
            .map(|i| {
                let a = dot(&w, &x[i]).abs();
                (a + delta * wn).powi(2) - a * a
            })
            .fold(0.0f64, f64::max);
        let got = &r.sensitivity[t];
        assert!(
            close(got.measured, sens, 1e-12),
            "δ = {delta}: {} vs {sens}",
            got.measured
        );
        assert!(got.at_radius.unwrap().input_gradient <= sens * (1.0 + 1e-12));
        let rho = delta * wn / min_x;
        for o in &r.orders {
            let want = (0..n)
                .map(|i| {
                    let a = dot(&w, &x[i]).abs();
                    let xk = norm_2k(&x[i], o.k);
                    2.0 * (a + rho * norm(&x[i])) * xk / (2.0 * a * xk + 1.0)
                })
                .fold(0.0f64, f64::max);
            let got = o.rows[t].c_ratio_at_radius.unwrap();
            assert!(
                got <= want * (1.0 + 1e-12),
                "k = {}: {got} > sup {want}",
                o.k
            );
            assert!(
                close(got, want, 1e-9),
                "k = {}, δ = {delta}: {got} vs {want}",
                o.k
            );
        }
    }
    // M₂ unknown: the largest difference quotient over training ∪ test
    let mut pts: Vec<(&[f64], f64)> = (0..n).map(|i| (train.x_row(i), train.y[i])).collect();
    pts.extend((0..test.n).map(|j| (test.x_row(j), test.y[j])));
    let mut q = 0.0f64;
    for a in 0..pts.len() {
        for b in 0..a {
            q = q.max((pts[a].1 - pts[b].1).abs() / norm(&sub(pts[a].0, pts[b].0)));
        }
    }
    assert!(close(r.m2.value, q, 1e-14));
}

#[test]
fn an_exceeded_bound_is_a_finding_when_the_premise_holds() {
    // f = (w·x)² with |w·x_i| large: the sensitivity 2|w·x|‖w‖δ beats eq. (27) at a huge η
    // (S_k → 0) once C is estimated from W* alone (no probes): eq. (27) is exceeded, and the
    // report must say so when told the premise holds — and stay silent when it does not
    let (n, d) = (3, 2);
    let x = vec![vec![10.0, 0.0], vec![0.0, 10.0], vec![7.0, 7.0]];
    let w = vec![1.0, 1.0];
    let y: Vec<f64> = x.iter().map(|r| dot(r, &w).powi(2)).collect();
    let train = Dataset::new("q".into(), n, d, flat(&x), y.clone()).unwrap();
    let test = Dataset::new("q test".into(), n, d, flat(&x), y).unwrap();
    let model = Quadratic { w };
    let inp = SectionFiveInput {
        model: &model,
        train: &train,
        test: &test,
        gradient_bound: Some(GradientBound {
            value: 1.0,
            exact: true,
            formula: "test",
        }),
        lr: 1e12,
        batch: 1,
    };
    let opts = GeneralizationOptions {
        orders: vec![1],
        deltas: DeltaGrid::Given(vec![0.01]),
        probes: ProbeOptions {
            random_directions: 0,
            ascent_steps: 0,
            seed: 0,
        },
    };
    let r = generalization(&inp, &opts, &|_| Some(Verdict::Stable), None, &NoProgress).unwrap();
    let row = &r.orders[0].rows[0];
    assert!(row.eq27.measured.unwrap() > row.eq27.bound);
    assert!(!r.ok);
    assert!(r
        .findings
        .iter()
        .any(|f| f.check == sgdstab::generalization::GeneralizationCheck::Eq27 && f.k == 1));
    assert!(row.eq27.c_needed.unwrap() > row.c);
    let quiet =
        generalization(&inp, &opts, &|_| Some(Verdict::Unstable), None, &NoProgress).unwrap();
    assert!(quiet.ok && quiet.findings.is_empty());
}

#[test]
fn trained_network_report_recombines_and_is_deterministic() {
    use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec, Distribution};
    use sgdstab::networks::network::{Activation, Architecture, Mlp};
    let spec = DatasetSpec {
        kind: DatasetKind::Torus,
        n: 10,
        dim: 5,
        seed: 2,
    };
    let train = generate(&spec).unwrap();
    let dist = Distribution::new(&spec).unwrap();
    let test = dist.test_set(100).unwrap();
    let mut net = Mlp::init(Architecture::new(5, vec![12], Activation::Tanh).unwrap(), 1);
    let opts = sgdstab::networks::training::TrainOptions {
        max_iterations: 3000,
        ..sgdstab::networks::training::TrainOptions::new(0.1, 2)
    };
    sgdstab::networks::training::train(&mut net, &train, &opts, &NoProgress).unwrap();
    let inp = SectionFiveInput {
        model: &net,
        train: &train,
        test: &test,
        gradient_bound: dist.gradient_bound(),
        lr: 0.1,
        batch: 2,
    };
    let mut gopts = GeneralizationOptions::new(vec![1, 2, 3]);
    gopts.deltas = DeltaGrid::Auto { count: 6 };
    gopts.probes.random_directions = 4;
    gopts.probes.ascent_steps = 3;
    let r = generalization(&inp, &gopts, &|_| None, None, &NoProgress).unwrap();
    check_recombination(&r);
    assert_eq!(r.covering.rows.len(), 6);
    assert_eq!(r.covering.rows[5].eps2, 0.0);
    assert!(r.covering.rows[0].eps2 == 1.0);
    // the test MSE recomputed with the network's own predictions
    let mse = (0..test.n)
        .map(|j| (net.predict(test.x_row(j)) - test.y[j]).powi(2))
        .sum::<f64>()
        / test.n as f64;
    assert!(close(r.measured.test_mse, mse, 1e-12));
    let again = generalization(&inp, &gopts, &|_| None, None, &NoProgress).unwrap();
    assert_eq!(
        sgdstab::report::to_json(&r).unwrap(),
        sgdstab::report::to_json(&again).unwrap()
    );
    // bad options
    let mut bad = gopts.clone();
    bad.deltas = DeltaGrid::Given(vec![0.1, -1.0]);
    assert!(generalization(&inp, &bad, &|_| None, None, &NoProgress).is_err());
    bad.deltas = DeltaGrid::Auto { count: 0 };
    assert!(generalization(&inp, &bad, &|_| None, None, &NoProgress).is_err());
    let mut bad = gopts.clone();
    bad.orders = vec![0];
    assert!(generalization(&inp, &bad, &|_| None, None, &NoProgress).is_err());
    let wrong = SectionFiveInput { batch: 11, ..inp };
    assert!(generalization(&wrong, &gopts, &|_| None, None, &NoProgress).is_err());
}
