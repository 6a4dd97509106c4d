//! Networks, training and Section 4 against independent references: central finite differences
//! for backprop (every activation, random shapes), Prop. 2's identity at every training point,
//! matrix p-norm brackets against closed forms and random vectors, a seeded training run to
//! interpolation with its export read back, and Theorem 2 / Corollary 1 on the trained network.

use crate::common::Rng;
use proptest::prelude::*;
use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec};
use sgdstab::networks::matrix_norm::{
    bracket, norm_1, norm_inf, power_method, spectral_norm, vector_p_norm, NormMethod,
};
use sgdstab::networks::network::{Activation, Architecture, Mlp, Workspace};
use sgdstab::networks::sobolev::{sobolev, Outcome, SobolevInput};
use sgdstab::networks::training::{train, TrainOptions};
use sgdstab::{analyze, AnalyzeOptions, Gradients, NoProgress, Verdict};

/// A network with random (not initial-scale) parameters, so that pre-activations are O(1).
fn random_net(arch: Architecture, rng: &mut Rng, scale: f64) -> Mlp {
    let w = arch.parameter_count();
    let p: Vec<f64> = (0..w).map(|_| scale * rng.normal()).collect();
    Mlp::new(arch, p).unwrap()
}

/// Every pre-activation of `net` at `x` (to keep ReLU finite differences away from kinks).
fn min_abs_preactivation(net: &Mlp, x: &[f64]) -> f64 {
    // recompute the forward pass by hand from the flat parameters (independent of the library's
    // forward): layer l has W_l (rows × cols, row-major) then b_l
    let a = net.architecture();
    let p = net.params();
    let mut h = x.to_vec();
    let mut off = 0;
    let mut min = f64::INFINITY;
    let mut prev = a.input_dim;
    for &m in &a.hidden {
        let mut z = vec![0.0; m];
        for r in 0..m {
            z[r] = (0..prev).map(|c| p[off + r * prev + c] * h[c]).sum::<f64>()
                + p[off + m * prev + r];
            min = min.min(z[r].abs());
        }
        off += m * (prev + 1);
        prev = m;
        h = z.iter().map(|&v| a.activation.value(v)).collect();
    }
    min
}

fn fd_check(net: &Mlp, x: &[f64], h: f64, tol: f64) -> Result<(), TestCaseError> {
    let ps = net.per_sample(x, 1);
    let f0 = ps.outputs[0];
    // parameters
    let mut p = net.params().to_vec();
    let scale = 1.0 + ps.param_grads.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for j in 0..p.len() {
        let orig = p[j];
        p[j] = orig + h;
        let fp = Mlp::new(net.architecture().clone(), p.clone())
            .unwrap()
            .predict(x);
        p[j] = orig - h;
        let fm = Mlp::new(net.architecture().clone(), p.clone())
            .unwrap()
            .predict(x);
        p[j] = orig;
        let fd = (fp - fm) / (2.0 * h);
        prop_assert!(
            (fd - ps.param_grads[j]).abs() <= tol * scale,
            "parameter {j}: backprop {} vs central difference {fd} (f = {f0})",
            ps.param_grads[j]
        );
    }
    // inputs
    let mut xv = x.to_vec();
    let xscale = 1.0 + ps.input_grads.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for j in 0..x.len() {
        let orig = xv[j];
        xv[j] = orig + h;
        let fp = net.predict(&xv);
        xv[j] = orig - h;
        let fm = net.predict(&xv);
        xv[j] = orig;
        let fd = (fp - fm) / (2.0 * h);
        prop_assert!(
            (fd - ps.input_grads[j]).abs() <= tol * xscale,
            "input {j}: backprop {} vs central difference {fd}",
            ps.input_grads[j]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("NET_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48), ..ProptestConfig::default() })]

    /// Backprop against central differences, every activation, random depth/widths/inputs,
    /// both ∇_W f (all parameters) and ∇_x f.
    #[test]
    fn backprop_matches_central_differences(
        d in 1usize..5,
        widths in prop::collection::vec(1usize..6, 1..4),
        act in 0usize..4,
        seed in any::<u64>(),
    ) {
        let activation = Activation::ALL[act];
        let arch = Architecture::new(d, widths, activation).unwrap();
        let mut rng = Rng::new(seed);
        let net = random_net(arch, &mut rng, 0.8);
        let x: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        let h = 1e-5;
        if activation == Activation::Relu {
            // a kink within reach of the step makes the difference quotient meaningless
            prop_assume!(min_abs_preactivation(&net, &x) > 1e-3);
        }
        // central differences: truncation O(h² f''') plus rounding O(ε/h); 1e-7 is far above
        // both for O(1) networks and far below any real backprop error
        fd_check(&net, &x, h, 1e-7)?;
    }

    /// Prop. 2 (eq. 20) at every training point of random networks, every k = 1..4: an
    /// identity-based bound (∇_x f = W_1ᵀ δ, ∇_{W_1} f = δ xᵀ), so it must never certainly fail,
    /// and for k = 1 (exact spectral norm) it must hold outright.
    #[test]
    fn prop2_holds_at_every_training_point(
        d in 1usize..6,
        widths in prop::collection::vec(1usize..10, 1..3),
        act in 0usize..4,
        n in 1usize..8,
        seed in any::<u64>(),
    ) {
        let arch = Architecture::new(d, widths, Activation::ALL[act]).unwrap();
        let mut rng = Rng::new(seed);
        let net = random_net(arch, &mut rng, 1.0);
        let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let ps = net.per_sample(&x, n);
        let grads = Gradients::from_row_major(n, net.parameter_count(), ps.param_grads.clone(), "g").unwrap();
        let m = net.architecture().first_width();
        let inp = SobolevInput { x: &x, xgrads: &ps.input_grads, grads: &grads, w1: net.w1(), d, m };
        let rep = sobolev(&inp, &[1, 2, 3, 4], 0.1, 1, &|_| None, None).unwrap();
        for o in &rep.orders {
            let prop2 = o.prop2.as_ref().unwrap();
            prop_assert_eq!(prop2.fails, 0, "k = {}: {:?}", o.k, prop2);
            for pt in &prop2.points {
                // independent of the bracket's decision: the inequality with the upper end
                prop_assert!(pt.check.lhs <= pt.check.rhs_upper * (1.0 + 1e-12));
            }
            if o.k == 1 {
                prop_assert_eq!(prop2.holds, n);
            }
            prop_assert!(o.corollary2.as_ref().unwrap().outcome != Outcome::Fails);
        }
        // the same inequality computed here from scratch for k = 1 with nalgebra's SVD:
        // ‖∇_x f‖_2 ≤ ‖W_1‖_2 ‖∇_W f‖_2 / ‖x‖_2
        let w1n = nalgebra::DMatrix::from_row_slice(m, d, net.w1()).singular_values().max();
        for i in 0..n {
            let xn = x[i * d..(i + 1) * d].iter().map(|v| v * v).sum::<f64>().sqrt();
            let gx = ps.input_grad(i).iter().map(|v| v * v).sum::<f64>().sqrt();
            let gw = ps.param_grad(i).iter().map(|v| v * v).sum::<f64>().sqrt();
            prop_assert!(gx <= w1n * gw / xn * (1.0 + 1e-12) + 1e-300);
        }
    }

    /// p-norm brackets: lower ≤ upper, lower ≥ ‖Ax‖_p/‖x‖_p for random x (the power method's
    /// estimate must beat random probing, up to rounding), and upper ≥ the same.
    #[test]
    fn p_norm_brackets_enclose_random_ratios(
        rows in 1usize..7,
        cols in 1usize..7,
        k in 2usize..5,
        seed in any::<u64>(),
    ) {
        if let Err(msg) = bracket_against_random_vectors(rows, cols, k, seed) {
            prop_assert!(false, "{}", msg);
        }
    }
}

fn bracket_against_random_vectors(
    rows: usize,
    cols: usize,
    k: usize,
    seed: u64,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let a: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
    let p = 2.0 * k as f64;
    let b = bracket(&a, rows, cols, p);
    if b.lower > b.upper * (1.0 + 1e-14) {
        return Err(format!("{b:?}"));
    }
    for _ in 0..200 {
        let x: Vec<f64> = (0..cols).map(|_| rng.normal()).collect();
        let ax: Vec<f64> = (0..rows)
            .map(|i| (0..cols).map(|j| a[i * cols + j] * x[j]).sum())
            .collect();
        let ratio = vector_p_norm(&ax, p) / vector_p_norm(&x, p);
        if ratio > b.lower * (1.0 + 1e-12) || ratio > b.upper * (1.0 + 1e-12) {
            return Err(format!("random ratio {ratio} above the bracket {b:?}"));
        }
    }
    Ok(())
}

/// Regression: with starts only from the ones vector, the top singular vector and coordinate
/// vectors, the power method stopped at a local maximum 2.9246 of ‖Ax‖_6/‖x‖_6 while a random x
/// reached 2.9556 (found by proptest).
#[test]
fn p_norm_lower_bound_escapes_a_local_maximum() {
    bracket_against_random_vectors(4, 3, 3, 13_691_392_277_433_765_716).unwrap();
}

#[test]
fn p_norm_brackets_are_exact_for_p_1_2_inf() {
    let mut rng = Rng::new(5);
    for (rows, cols) in [(3, 5), (6, 2), (4, 4)] {
        let a: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
        let m = nalgebra::DMatrix::from_row_slice(rows, cols, &a);
        let s2 = m.singular_values().max();
        let b2 = bracket(&a, rows, cols, 2.0);
        assert_eq!((b2.lower, b2.upper), (b2.lower, b2.lower));
        assert!((b2.lower - s2).abs() <= 1e-13 * s2);
        assert_eq!(b2.lower_method, NormMethod::Exact);
        // p = 1: max column sum; p = ∞: max row sum (computed here independently)
        let col = (0..cols)
            .map(|j| (0..rows).map(|i| m[(i, j)].abs()).sum::<f64>())
            .fold(0.0, f64::max);
        let row = (0..rows)
            .map(|i| (0..cols).map(|j| m[(i, j)].abs()).sum::<f64>())
            .fold(0.0, f64::max);
        let b1 = bracket(&a, rows, cols, 1.0);
        let bi = bracket(&a, rows, cols, f64::INFINITY);
        assert!((b1.lower - col).abs() <= 1e-14 * col && b1.upper == b1.lower);
        assert!((bi.lower - row).abs() <= 1e-14 * row && bi.upper == bi.lower);
        assert_eq!(norm_1(&a, rows, cols), b1.lower);
        assert_eq!(norm_inf(&a, rows, cols), bi.lower);
        assert_eq!(spectral_norm(&a, rows, cols), b2.lower);
        // the power method itself at p = 2 converges to the spectral norm
        let pm = power_method(&a, rows, cols, 2.0, Some(500));
        assert!((pm.estimate - s2).abs() <= 1e-9 * s2, "{pm:?} vs {s2}");
        // and the Riesz–Thorin ends are ordered by p: ‖A‖_1^{1/p}‖A‖_∞^{1-1/p} ≥ the p-norm
        for p in [3.0, 4.0, 8.0] {
            let b = bracket(&a, rows, cols, p);
            assert!(b.upper <= col.powf(1.0 / p) * row.powf(1.0 - 1.0 / p) * (1.0 + 1e-14));
        }
    }
}

#[test]
fn p_norm_of_a_rank_one_matrix_is_known() {
    // A = u vᵀ: ‖A‖_p = ‖u‖_p ‖v‖_q (q the dual exponent): both ends must bracket it, and the
    // power method finds it (its maximiser is the dual vector of v)
    let u = [1.0, -2.0, 0.5];
    let v = [0.3, 1.2, -0.7, 2.0];
    let a: Vec<f64> = u
        .iter()
        .flat_map(|ui| v.iter().map(move |vj| ui * vj))
        .collect();
    for p in [3.0f64, 4.0, 6.0] {
        let q = p / (p - 1.0);
        let exact = vector_p_norm(&u, p) * vector_p_norm(&v, q);
        let b = bracket(&a, 3, 4, p);
        assert!(
            b.lower <= exact * (1.0 + 1e-12) && exact <= b.upper * (1.0 + 1e-12),
            "{b:?} vs {exact}"
        );
        assert!((b.lower - exact).abs() <= 1e-10 * exact, "{b:?} vs {exact}");
    }
}

/// The seeded training run of the tests: a 2-D torus in R^6, n = 10, tanh 6-24-1.
fn trained() -> (
    Mlp,
    sgdstab::networks::datasets::Dataset,
    sgdstab::networks::training::TrainingRun,
    TrainOptions,
) {
    let spec = DatasetSpec {
        kind: DatasetKind::Torus,
        n: 10,
        dim: 6,
        seed: 1,
    };
    let data = generate(&spec).unwrap();
    let arch = Architecture::new(6, vec![24], Activation::Tanh).unwrap();
    let mut net = Mlp::init(arch, 7);
    let opts = TrainOptions {
        seed: 3,
        max_iterations: 100_000,
        ..TrainOptions::new(0.2, 2)
    };
    let run = train(&mut net, &data, &opts, &NoProgress).unwrap();
    (net, data, run, opts)
}

#[test]
fn seeded_training_interpolates_and_export_round_trips() {
    let (net, data, run, _) = trained();
    assert!(run.interpolated(), "{run:?}");
    assert!(run.final_loss < 1e-12);
    // the reported loss is the loss of the returned network, recomputed here
    let ps = net.per_sample(&data.x, data.n);
    let loss: f64 = ps
        .outputs
        .iter()
        .zip(&data.y)
        .map(|(f, y)| (f - y).powi(2))
        .sum::<f64>()
        / (2.0 * data.n as f64);
    // Training evaluates the loss batched (matrix products), in another summation order: equal
    // up to the rounding of the residuals f − y (relative error ~ u·max|f|/|f − y|).
    let scale = ps
        .outputs
        .iter()
        .chain(&data.y)
        .fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = 2.0 * (2.0 * loss).sqrt() * 64.0 * f64::EPSILON * scale;
    assert!(
        (loss - run.final_loss).abs() <= tol,
        "{loss:e} vs {:e} (tolerance {tol:e})",
        run.final_loss
    );
    // deterministic: the same seeds give the same parameters bit for bit
    let (net2, _, run2, _) = trained();
    assert_eq!(net.params(), net2.params());
    assert_eq!(run.iterations, run2.iterations);

    let dir = tempfile::tempdir().unwrap();
    let meta = sgdstab::networks::export::ExportMeta::new(&net, &data, None, 7, &run);
    sgdstab::networks::export::write_export(dir.path(), &net, &data, &ps, &meta).unwrap();
    // the analyzer's own reader gives back the in-memory gradients exactly
    let g = sgdstab::io::read_gradients(&dir.path().join("grads.npy")).unwrap();
    assert_eq!((g.n(), g.w()), (data.n, net.parameter_count()));
    assert_eq!(g.as_slice(), &ps.param_grads[..]);
    let ex = sgdstab::networks::export::read_export(dir.path()).unwrap();
    assert_eq!(ex.bundle.xgrads, ps.input_grads);
    assert_eq!(ex.bundle.x, data.x);
    assert_eq!(ex.bundle.y, data.y);
    assert_eq!(ex.bundle.w1.as_deref(), Some(net.w1()));
    assert_eq!(ex.network().unwrap(), net);
    assert_eq!(ex.meta, meta);
    // W_1 in the export is the first m·d gradient columns' multiplier: ∇_{W_1} f = δ xᵀ and
    // ∇_x f = W_1ᵀ δ, so Σ_b W_1[a,b]·(∂f/∂W_1[a,b]) summed over a equals x·∇_x f
    let (m, d) = (net.architecture().first_width(), data.d);
    for i in 0..data.n {
        let lhs: f64 = (0..m * d).map(|j| net.w1()[j] * g.row(i)[j]).sum();
        let rhs: f64 = (0..d)
            .map(|b| data.x_row(i)[b] * ex.bundle.xgrads[i * d + b])
            .sum();
        assert!(
            (lhs - rhs).abs() <= 1e-12 * (1.0 + lhs.abs()),
            "{lhs} vs {rhs}"
        );
    }
}

#[test]
fn theorem2_and_corollary1_hold_on_the_stable_trained_network() {
    let (net, data, run, opts) = trained();
    assert!(run.interpolated());
    let ps = net.per_sample(&data.x, data.n);
    let g = ps.gradients().unwrap();
    let rep = analyze(
        &g,
        opts.lr,
        opts.batch,
        &AnalyzeOptions::default().orders([1, 2, 3]),
    )
    .unwrap();
    // SGD found this minimum at (η, B): orders 1 and 2 are stable there
    for o in &rep.orders[..2] {
        assert_eq!(
            o.verdict,
            Verdict::Stable,
            "k = {}: ρ = {}",
            o.k,
            o.reduced_radius
        );
    }
    let (n, w) = (g.n(), g.w());
    for o in &rep.orders {
        if o.verdict != Verdict::Stable {
            continue;
        }
        let k = o.k as i32;
        // Theorem 2 (eq. 18), recomputed here coordinate by coordinate
        let bound = 2f64.powi(k) * (opts.batch as f64).powi(k - 1) / opts.lr.powi(k);
        for j in 0..w {
            let m: f64 = (0..n).map(|i| g.row(i)[j].powi(2 * k)).sum::<f64>() / n as f64;
            assert!(m <= bound, "k = {k}, coordinate {j}: {m} > {bound}");
        }
        // Corollary 1 (eq. 19)
        let lhs: f64 = (0..n)
            .map(|i| {
                g.row(i)
                    .iter()
                    .map(|v| v.abs().powi(2 * k))
                    .sum::<f64>()
                    .powf(1.0 / (2 * k) as f64)
            })
            .sum::<f64>()
            / n as f64;
        let rhs = (w as f64 / opts.batch as f64).powf(1.0 / (2 * k) as f64)
            * (2.0 * opts.batch as f64 / opts.lr).sqrt();
        assert!(lhs <= rhs, "k = {k}: {lhs} > {rhs}");
        assert!(o.theorem2.holds && o.corollary1.holds);
    }
    assert!(rep.consistency.ok, "{:?}", rep.consistency.findings);
}

#[test]
fn input_gradient_is_w1_transpose_times_first_layer_delta() {
    // eq. (1) checked directly: ∇_x f = W_1ᵀ δ_1 and ∇_{W_1} f = δ_1 xᵀ
    let mut rng = Rng::new(9);
    let arch = Architecture::new(4, vec![5, 3], Activation::Softplus).unwrap();
    let net = random_net(arch, &mut rng, 0.7);
    let x: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
    let mut ws = Workspace::new(net.architecture());
    let mut g = vec![0.0; net.parameter_count()];
    net.forward(&x, &mut ws);
    net.backward(&x, &mut ws, &mut g, 1.0, false);
    let delta = ws.first_layer_delta().to_vec();
    for a in 0..5 {
        for b in 0..4 {
            assert!((g[a * 4 + b] - delta[a] * x[b]).abs() < 1e-15);
        }
        assert!((g[20 + a] - delta[a]).abs() < 1e-15); // b_1 follows W_1
    }
    let ps = net.per_sample(&x, 1);
    for b in 0..4 {
        let v: f64 = (0..5).map(|a| net.w1()[a * 4 + b] * delta[a]).sum();
        assert!((ps.input_grads[b] - v).abs() < 1e-15);
    }
}
