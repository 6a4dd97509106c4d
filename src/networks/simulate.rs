//! Monte-Carlo simulation of the linearised SGD dynamics (eq. 12) next to the exact operator, and
//! a nonlinear escape test.
//!
//! # Linearised dynamics
//!
//! `W̃_{t+1} = (I − (η/B) Σ_{i ∈ ξ_t} a_i a_iᵀ) W̃_t` from the deterministic start `W̃_0 = v`, a seeded
//! random unit vector in the row space of `A` (span reduction, DESIGN §4: the flat directions are
//! left exactly unchanged by every step, so they only add the constant block `T_0 = 1`). Then
//! `E W̃_t^{⊗k} = T_k^t v^{⊗k}` with `T_k = T_k^{(b)}` on `Sym^k(R^r)`, and
//!
//! - the **Monte-Carlo** estimate averages `w_s^{⊗k}` over `S` independent paths (coordinates in
//!   the orthonormal basis `E_α`: `⟨E_α, w^{⊗k}⟩ = sqrt(k!/α!) Π_j w_{α_j}`) and takes the norm;
//! - the **exact** curve applies the closed-form `T_k` (from [`crate::engine::moment_operator`]) `t` times;
//! - the growth rate over a window `[t_0, t_1]` is `(N(t_1)/N(t_0))^{1/(t_1 − t_0)}`, which tends
//!   to `ρ(T_k)` as `t_0` grows when `v^{⊗k}` has a component along the top eigenvector.
//!
//! The Monte-Carlo standard error of the rate is the delete-one-group jackknife over `G = 20`
//! groups of paths. The report compares the MC rate with the exact rate over the same window
//! (`|difference| <= 4 standard errors`: the simulation validates the closed form) and both
//! with `ρ_k` (the window's transient bias, deterministic).
//!
//! # Nonlinear escape test
//!
//! SGD (eq. 7) on the real network from `W* + ε u` (`u` a seeded random unit vector), for a fixed
//! number of steps, no early stop: **returned** if the final loss is below 1e-2 times the
//! perturbed starting loss, **escaped** if the loss exceeded 1e2 times it (or diverged), else
//! **stayed**. Reported next to the analyzer's verdicts at the same `(η, B)`.

use crate::engine::moment_operator::DenseMoment;
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::{BatchModel, Sampling};
use crate::engine::symmetric::SymBasis;
use crate::error::{Error, Param, Result};
use crate::networks::datasets::Dataset;
use crate::networks::network::Mlp;
use crate::networks::training::{loss, train, TrainOptions};
use crate::random::SplitMix64;
use crate::Gradients;
use serde::Serialize;

/// Number of jackknife groups.
pub const JACKKNIFE_GROUPS: usize = 20;

/// Settings of the linear simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearOptions {
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Sampling scheme of the batches.
    pub sampling: Sampling,
    /// Order `k`.
    pub k: usize,
    /// Number of paths `S` (a multiple of [`JACKKNIFE_GROUPS`] is used: rounded up).
    pub paths: usize,
    /// Window start `t_0`.
    pub window_start: usize,
    /// Window end `t_1 > t_0` (= the number of steps simulated).
    pub window_end: usize,
    /// Seed.
    pub seed: u64,
}

/// One time of the curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Step `t`.
    pub t: usize,
    /// `‖E W̃_t^{⊗k}‖_F` estimated by Monte Carlo.
    pub monte_carlo: f64,
    /// `‖T_k^t v^{⊗k}‖_F`, exact.
    pub exact: f64,
}

/// The linear simulation's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearSimulation {
    /// Order.
    pub k: usize,
    /// Paths simulated.
    pub paths: usize,
    /// `r`.
    pub rank: usize,
    /// `D = dim Sym^k(R^r)`.
    pub dim: usize,
    /// `[t_0, t_1]`.
    pub window: [usize; 2],
    /// `ρ(T_k^{(b)})`: the radius the growth of `E W̃_t^{⊗k}` tends to.
    pub block_radius: f64,
    /// Monte-Carlo growth rate over the window.
    pub mc_rate: f64,
    /// Its jackknife standard error.
    pub mc_rate_standard_error: f64,
    /// Exact growth rate of `‖T_k^t v^{⊗k}‖` over the window.
    pub exact_rate: f64,
    /// `(mc_rate − exact_rate) / standard_error`.
    pub z_score: f64,
    /// `|z_score| <= 4`.
    pub consistent: bool,
    /// `exact_rate − block_radius` (the window's transient bias).
    pub transient_bias: f64,
    /// The curve at about 20 times in `[0, t_1]`.
    pub curve: Vec<CurvePoint>,
}

/// The coordinates of `w^{⊗k}` in the orthonormal basis `E_α` (added, times `scale`, into `out`).
pub fn add_tensor_power(basis: &SymBasis, w: &[f64], scale: f64, out: &mut [f64]) {
    let kf = crate::engine::combinatorics::factorial(basis.k());
    for (a, o) in out.iter_mut().enumerate() {
        let prod: f64 = basis.elem(a).iter().map(|&j| w[j as usize]).product();
        *o += scale * (kf / basis.factorial(a)).sqrt() * prod;
    }
}

/// The seeded start vector `v` of [`simulate_linear`]: a random unit vector in `R^r`.
pub fn start_vector(r: usize, seed: u64) -> Vec<f64> {
    let mut g = SplitMix64::derive(seed, 0x5354_4152);
    let mut v: Vec<f64> = (0..r).map(|_| g.normal()).collect();
    let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= nv);
    v
}

/// One SGD step of eq. (12) in reduced coordinates: `w ← w − c Σ_{i ∈ batch} b_i (b_i·w)`.
fn linear_step(b: &[f64], r: usize, batch: &[usize], c: f64, w: &mut [f64]) {
    let mut upd = vec![0.0; r];
    for &i in batch {
        let bi = &b[i * r..(i + 1) * r];
        let s: f64 = bi.iter().zip(w.iter()).map(|(x, y)| x * y).sum();
        for (u, x) in upd.iter_mut().zip(bi) {
            *u += s * x;
        }
    }
    for (x, u) in w.iter_mut().zip(&upd) {
        *x -= c * u;
    }
}

/// Draws a batch: `B` distinct indices (without replacement) or `B` i.i.d. indices (with).
fn draw(g: &mut SplitMix64, sampling: Sampling, scratch: &mut [usize], out: &mut [usize]) {
    match sampling {
        Sampling::WithoutReplacement => g.subset(scratch, out),
        Sampling::WithReplacement => {
            let n = scratch.len();
            out.iter_mut().for_each(|o| *o = g.below(n));
        }
    }
}

fn rate(n0: f64, n1: f64, dt: usize) -> f64 {
    (n1 / n0).powf(1.0 / dt as f64)
}

/// Simulates eq. (12) and compares with the exact `T_k` (see the module docs).
pub fn simulate_linear(grads: &Gradients, opts: &LinearOptions) -> Result<LinearSimulation> {
    crate::engine::analysis::check_lr(opts.lr)?;
    crate::engine::analysis::check_orders(&[opts.k])?;
    let model = BatchModel::new(grads.n(), opts.batch, opts.sampling)?;
    if opts.window_end <= opts.window_start {
        return Err(Error::parameter(
            Param::Steps,
            opts.window_end,
            format!("the window end must exceed its start {}", opts.window_start),
        ));
    }
    if opts.paths < 2 * JACKKNIFE_GROUPS {
        return Err(Error::parameter(
            Param::Paths,
            opts.paths,
            format!("need at least {} paths", 2 * JACKKNIFE_GROUPS),
        ));
    }
    let red = SpanReduction::new(grads, None)?;
    let (n, r, k) = (red.n, red.rank, opts.k);
    if r == 0 {
        return Err(Error::InvalidInput {
            context: "gradients".into(),
            message: "all gradients are zero: nothing moves".into(),
        });
    }
    let dense = DenseMoment::build(
        &red,
        k,
        opts.lr,
        &model,
        crate::memory::default_budget_bytes(),
    )?;
    let vals = crate::engine::spectrum::symmetric_eigenvalues(
        &dense.matrix,
        dense.dim,
        crate::EigenBackend::default(),
    )?;
    let block_radius = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let basis = SymBasis::new(r, k)?;
    let dim = basis.dim();
    let v = start_vector(r, opts.seed);
    let t1 = opts.window_end;
    let t0 = opts.window_start;
    let mut times: Vec<usize> = (0..=20).map(|j| j * t1 / 20).collect();
    times.push(t0);
    times.sort_unstable();
    times.dedup();

    // exact curve
    let mut x = vec![0.0; dim];
    add_tensor_power(&basis, &v, 1.0, &mut x);
    let mut exact = Vec::with_capacity(times.len());
    let tk = faer::MatRef::from_column_major_slice(&dense.matrix, dim, dim);
    let mut t = 0;
    for &target in &times {
        while t < target {
            let xv = faer::MatRef::from_column_major_slice(&x, dim, 1);
            let y = tk * xv;
            for (a, xa) in x.iter_mut().enumerate() {
                *xa = y[(a, 0)];
            }
            t += 1;
        }
        exact.push(crate::engine::linop::norm(&x));
    }

    // Monte Carlo: group sums of w^{⊗k} at each recorded time
    let groups = JACKKNIFE_GROUPS;
    let per_group = opts.paths.div_ceil(groups);
    let paths = per_group * groups;
    let c = opts.lr / opts.batch as f64;
    use rayon::prelude::*;
    let sums: Vec<Vec<Vec<f64>>> = (0..groups)
        .into_par_iter()
        .map(|gi| {
            let mut acc = vec![vec![0.0; dim]; times.len()];
            let mut scratch: Vec<usize> = (0..n).collect();
            let mut batch = vec![0usize; opts.batch];
            for s in 0..per_group {
                let mut g = SplitMix64::derive(opts.seed, (gi * per_group + s) as u64 + 1);
                let mut w = v.clone();
                let mut t = 0;
                for (ti, &target) in times.iter().enumerate() {
                    while t < target {
                        draw(&mut g, opts.sampling, &mut scratch, &mut batch);
                        linear_step(&red.coords, r, &batch, c, &mut w);
                        t += 1;
                    }
                    add_tensor_power(&basis, &w, 1.0, &mut acc[ti]);
                }
            }
            acc
        })
        .collect();
    let norm_of = |skip: Option<usize>, ti: usize| -> f64 {
        let count = if skip.is_some() {
            paths - per_group
        } else {
            paths
        } as f64;
        let mut m = vec![0.0; dim];
        for (gi, gs) in sums.iter().enumerate() {
            if Some(gi) == skip {
                continue;
            }
            for (a, v) in m.iter_mut().zip(&gs[ti]) {
                *a += v;
            }
        }
        crate::engine::linop::norm(&m) / count
    };
    let i0 = times.iter().position(|&t| t == t0).unwrap_or(0);
    let i1 = times.len() - 1;
    let dt = t1 - t0;
    let mc_rate = rate(norm_of(None, i0), norm_of(None, i1), dt);
    let leave: Vec<f64> = (0..groups)
        .map(|g| rate(norm_of(Some(g), i0), norm_of(Some(g), i1), dt))
        .collect();
    let mean = leave.iter().sum::<f64>() / groups as f64;
    let se = ((groups as f64 - 1.0) / groups as f64
        * leave.iter().map(|x| (x - mean).powi(2)).sum::<f64>())
    .sqrt();
    let exact_rate = rate(exact[i0], exact[i1], dt);
    let z = if se > 0.0 {
        (mc_rate - exact_rate) / se
    } else if mc_rate == exact_rate {
        0.0
    } else {
        f64::MAX
    };
    let curve = times
        .iter()
        .enumerate()
        .map(|(ti, &t)| CurvePoint {
            t,
            monte_carlo: norm_of(None, ti),
            exact: exact[ti],
        })
        .collect();
    Ok(LinearSimulation {
        k,
        paths,
        rank: r,
        dim,
        window: [t0, t1],
        block_radius,
        mc_rate,
        mc_rate_standard_error: se,
        exact_rate,
        z_score: z,
        consistent: z.abs() <= 4.0,
        transient_bias: exact_rate - block_radius,
        curve,
    })
}

/// Settings of the escape test.
#[derive(Debug, Clone, PartialEq)]
pub struct EscapeOptions {
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Perturbation size `ε` (Euclidean norm in parameter space).
    pub perturbation: f64,
    /// SGD steps per trial.
    pub steps: usize,
    /// Number of trials (independent directions and batch draws).
    pub trials: usize,
    /// Seed.
    pub seed: u64,
}

/// What one trial did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EscapeOutcome {
    /// Final loss below 1e-2 × the perturbed starting loss.
    Returned,
    /// Loss above 1e2 × the perturbed starting loss at the end, or divergence.
    Escaped,
    /// Neither.
    Stayed,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscapeTrial {
    /// Loss at `W* + ε u`.
    pub start_loss: f64,
    /// Loss after the steps (`null` if SGD diverged to non-finite values).
    pub final_loss: Option<f64>,
    /// `‖W_T − W*‖_2` (`null` if diverged).
    pub final_distance: Option<f64>,
    /// Steps done (fewer if SGD diverged).
    pub steps: usize,
    /// Outcome.
    pub outcome: EscapeOutcome,
}

/// The escape test's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscapeTest {
    /// `ε`.
    pub perturbation: f64,
    /// Loss at `W*`.
    pub minimum_loss: f64,
    /// Trials.
    pub trials: Vec<EscapeTrial>,
    /// Trials that returned.
    pub returned: usize,
    /// Trials that escaped.
    pub escaped: usize,
}

/// Runs the nonlinear escape test from `net` (at `W*`) on `data`.
pub fn escape_test(net: &Mlp, data: &Dataset, opts: &EscapeOptions) -> Result<EscapeTest> {
    if !(opts.perturbation.is_finite() && opts.perturbation > 0.0) {
        return Err(Error::parameter(
            Param::Perturbation,
            opts.perturbation,
            "must be finite and > 0",
        ));
    }
    if opts.trials == 0 {
        return Err(Error::parameter(
            Param::Trials,
            0,
            "need at least one trial",
        ));
    }
    let minimum_loss = loss(net, data);
    let w = net.parameter_count();
    let mut trials = Vec::with_capacity(opts.trials);
    for tr in 0..opts.trials {
        let mut g = SplitMix64::derive(opts.seed, 0x4553_4300 + tr as u64);
        let mut u: Vec<f64> = (0..w).map(|_| g.normal()).collect();
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        u.iter_mut().for_each(|x| *x *= opts.perturbation / nu);
        let mut p = net.params().to_vec();
        for (a, b) in p.iter_mut().zip(&u) {
            *a += b;
        }
        let mut m = Mlp::new(net.architecture().clone(), p)?;
        let start_loss = loss(&m, data);
        let to = TrainOptions {
            max_iterations: opts.steps,
            loss_threshold: f64::MIN_POSITIVE,
            divergence_loss: f64::MAX,
            seed: g.next_u64(),
            checkpoints: Vec::new(),
            ..TrainOptions::new(opts.lr, opts.batch)
        };
        let run = train(&mut m, data, &to, &crate::NoProgress)?;
        let finite = run.final_loss.is_finite() && m.params().iter().all(|v| v.is_finite());
        let dist = finite.then(|| {
            m.params()
                .iter()
                .zip(net.params())
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt()
        });
        let outcome = if !finite || run.final_loss > 1e2 * start_loss {
            EscapeOutcome::Escaped
        } else if run.final_loss < 1e-2 * start_loss {
            EscapeOutcome::Returned
        } else {
            EscapeOutcome::Stayed
        };
        trials.push(EscapeTrial {
            start_loss,
            final_loss: finite.then_some(run.final_loss),
            final_distance: dist,
            steps: run.iterations,
            outcome,
        });
    }
    let count = |o| trials.iter().filter(|t| t.outcome == o).count();
    Ok(EscapeTest {
        perturbation: opts.perturbation,
        minimum_loss,
        returned: count(EscapeOutcome::Returned),
        escaped: count(EscapeOutcome::Escaped),
        trials,
    })
}

/// Version of the `simulate` JSON schema.
pub const SIMULATE_SCHEMA_VERSION: u32 = 1;

/// The analyzer's verdict for one order, for comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictSummary {
    /// Order.
    pub k: usize,
    /// `max_{1<=j<=k} ρ(T_j^{(b)})`.
    pub reduced_radius: f64,
    /// Theorem 1 verdict.
    pub verdict: crate::Verdict,
}

/// The `simulate` report (`schema_version` [`SIMULATE_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulateReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"simulate"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The input.
    pub input: Option<String>,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Sampling scheme.
    pub sampling: Sampling,
    /// Seed.
    pub seed: u64,
    /// The analyzer's verdicts at `(η, B)`.
    pub analyzer: Vec<VerdictSummary>,
    /// One linear simulation per order.
    pub linear: Vec<LinearSimulation>,
    /// The escape test (only for an exported network).
    pub escape: Option<EscapeTest>,
}

/// The report as text.
pub fn text(r: &SimulateReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab simulate{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "  η = {}, B = {}, sampling {}, seed {}",
        r.lr, r.batch, r.sampling, r.seed
    );
    let _ = writeln!(
        s,
        "\nLinearised dynamics (eq. 12): growth of ‖E W̃_t^{{⊗k}}‖_F from W̃_0 = v (unit, in the row space)"
    );
    let _ = writeln!(
        s,
        "  {:>2}  {:>7}  {:>11}  {:>12}  {:>10}  {:>12}  {:>7}  {:>12}  {:>9}",
        "k", "paths", "window", "MC rate", "± s.e.", "exact rate", "z", "ρ(T_k)", "verdict"
    );
    for l in &r.linear {
        let verdict = r
            .analyzer
            .iter()
            .find(|a| a.k == l.k)
            .map_or("-", |a| a.verdict.name());
        let _ = writeln!(
            s,
            "  {:>2}  {:>7}  {:>11}  {:>12.8}  {:>10.2e}  {:>12.8}  {:>7.2}  {:>12.8}  {:>9}",
            l.k,
            l.paths,
            format!("[{}, {}]", l.window[0], l.window[1]),
            l.mc_rate,
            l.mc_rate_standard_error,
            l.exact_rate,
            l.z_score,
            l.block_radius,
            verdict
        );
    }
    let _ = writeln!(
        s,
        "  (MC vs exact: {}; exact window rate − ρ(T_k) is the transient of the finite window)",
        if r.linear.iter().all(|l| l.consistent) {
            "consistent within 4 standard errors"
        } else {
            "INCONSISTENT beyond 4 standard errors"
        }
    );
    if let Some(e) = &r.escape {
        let _ = writeln!(
            s,
            "\nNonlinear escape test: SGD from W* + ε·u, ε = {}, loss at W* = {}",
            e.perturbation,
            num(e.minimum_loss)
        );
        for (i, t) in e.trials.iter().enumerate() {
            let _ = writeln!(
                s,
                "  trial {i}: loss {} → {} after {} steps, ‖W − W*‖ = {}: {}",
                num(t.start_loss),
                t.final_loss.map_or("non-finite".into(), num),
                t.steps,
                t.final_distance.map_or("non-finite".into(), num),
                match t.outcome {
                    EscapeOutcome::Returned => "returned",
                    EscapeOutcome::Escaped => "ESCAPED",
                    EscapeOutcome::Stayed => "stayed",
                }
            );
        }
        let verdicts: Vec<String> = r
            .analyzer
            .iter()
            .map(|a| format!("k={}: {} (ρ = {})", a.k, a.verdict, num(a.reduced_radius)))
            .collect();
        let _ = writeln!(
            s,
            "  {} of {} returned, {} escaped; analyzer at the same η, B: {}",
            e.returned,
            e.trials.len(),
            e.escaped,
            verdicts.join(", ")
        );
    }
    s
}
