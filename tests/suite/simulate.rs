//! Monte Carlo of the linearised dynamics (eq. 12) against the exact moment operator, with the
//! reference built by brute force here: `E W̃_t^{⊗k}` in the full tensor space `(R^w)^{⊗k}` by
//! enumerating every batch at every step, and `ρ_k` from the brute-force `T_k`.
//!
//! Stated Monte-Carlo tolerance: 4 jackknife standard errors (the test also requires the
//! standard error itself to be below 3e-3, so the comparison is not vacuous; with 40 000 paths
//! it is 1.3e-4 to 2.7e-3 here, and the observed |z| are 1.6, 0.1, 1.4, 0.4).

use crate::common;

use crate::common::{all_batches, batch_matrix, brute_force_tk, kron_apply, radius, Rng};
use sgdstab::networks::simulate::{simulate_linear, start_vector, LinearOptions};
use sgdstab::{Gradients, Sampling};

/// ‖E W̃_t^{⊗k}‖_F for t = 0..=t_max by exact enumeration of every batch (full tensor space).
fn brute_force_curve(
    rows: &[Vec<f64>],
    k: usize,
    lr: f64,
    b: usize,
    sampling: Sampling,
    v: &[f64],
    t_max: usize,
) -> Vec<f64> {
    let w = rows[0].len();
    let batches: Vec<(Vec<f64>, f64)> = all_batches(rows.len(), b, sampling);
    let ms: Vec<(Vec<f64>, f64)> = batches
        .iter()
        .map(|(z, p)| (batch_matrix(rows, z, lr, b), *p))
        .collect();
    // v^{⊗k} flattened, slot 0 most significant
    let mut x = vec![1.0; 1];
    for _ in 0..k {
        let mut y = Vec::with_capacity(x.len() * w);
        for &a in &x {
            for &c in v {
                y.push(a * c);
            }
        }
        x = y;
    }
    let mut out = vec![common::fro(&x)];
    for _ in 0..t_max {
        let mut y = vec![0.0; x.len()];
        for (m, p) in &ms {
            for (yi, zi) in y.iter_mut().zip(kron_apply(m, w, k, &x)) {
                *yi += p * zi;
            }
        }
        x = y;
        out.push(common::fro(&x));
    }
    out
}

#[test]
fn monte_carlo_growth_rate_matches_rho_k() {
    let mut rng = Rng::new(42);
    let n = 5;
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| vec![rng.normal(), 0.6 * rng.normal()])
        .collect();
    let g = Gradients::from_rows(&rows).unwrap();
    let h = nalgebra::DMatrix::from_fn(2, 2, |i, j| {
        rows.iter().map(|r| r[i] * r[j]).sum::<f64>() / n as f64
    });
    let lmax = h.symmetric_eigenvalues().max();
    let lr = 0.5 / lmax;
    // B = 4 of n = 5 keeps the gradient noise, hence the Monte-Carlo variance, small
    let (b, t0, t1, seed) = (4, 8, 24, 7);
    for sampling in Sampling::ALL {
        for k in [1usize, 2] {
            let opts = LinearOptions {
                lr,
                batch: b,
                sampling,
                k,
                paths: 40_000,
                window_start: t0,
                window_end: t1,
                seed,
            };
            let sim = simulate_linear(&g, &opts).unwrap();
            // reference: brute-force curve and radius
            let v = start_vector(2, seed);
            let curve = brute_force_curve(&rows, k, lr, b, sampling, &v, t1);
            let ref_rate = (curve[t1] / curve[t0]).powf(1.0 / (t1 - t0) as f64);
            let tk = brute_force_tk(&rows, k, lr, b, sampling);
            let dim = (tk.len() as f64).sqrt() as usize;
            let rho = radius(&tk, dim);
            eprintln!(
                "{sampling} k={k}: mc {} ± {} ref {ref_rate} rho {rho}",
                sim.mc_rate, sim.mc_rate_standard_error
            );
            let ctx = format!("{sampling}, k = {k}: {sim:?}\nreference rate {ref_rate}, ρ {rho}");
            // the closed-form curve equals the enumerated one
            assert!((sim.exact_rate - ref_rate).abs() < 1e-10, "{ctx}");
            for p in &sim.curve {
                assert!(
                    (p.exact - curve[p.t]).abs() <= 1e-12 * curve[p.t].max(1e-300),
                    "{ctx}"
                );
            }
            assert!((sim.block_radius - rho).abs() < 1e-12, "{ctx}");
            // the window is long enough for the transient to be negligible here
            assert!((ref_rate - rho).abs() < 1e-3, "{ctx}");
            // Monte Carlo within the stated tolerance
            assert!(sim.mc_rate_standard_error < 3e-3, "{ctx}");
            assert!(
                (sim.mc_rate - ref_rate).abs() <= 4.0 * sim.mc_rate_standard_error,
                "{ctx}"
            );
            assert!(
                (sim.mc_rate - rho).abs() <= 4.0 * sim.mc_rate_standard_error + 1e-3,
                "{ctx}"
            );
            assert!(sim.consistent);
        }
    }
}

#[test]
fn bad_simulation_settings_are_errors() {
    let g = Gradients::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
    let base = LinearOptions {
        lr: 0.5,
        batch: 1,
        sampling: Sampling::WithoutReplacement,
        k: 1,
        paths: 100,
        window_start: 5,
        window_end: 10,
        seed: 0,
    };
    assert!(simulate_linear(
        &g,
        &LinearOptions {
            lr: -1.0,
            ..base.clone()
        }
    )
    .is_err());
    assert!(simulate_linear(
        &g,
        &LinearOptions {
            batch: 3,
            ..base.clone()
        }
    )
    .is_err());
    assert!(simulate_linear(
        &g,
        &LinearOptions {
            k: 0,
            ..base.clone()
        }
    )
    .is_err());
    assert!(simulate_linear(
        &g,
        &LinearOptions {
            window_start: 10,
            ..base.clone()
        }
    )
    .is_err());
    assert!(simulate_linear(
        &g,
        &LinearOptions {
            paths: 10,
            ..base.clone()
        }
    )
    .is_err());
    assert!(simulate_linear(&g, &base).is_ok());
}
