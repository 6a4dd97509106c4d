//! Training a network with the SGD of eq. (7) on the square loss, to an interpolation solution.
//!
//! Loss `L(W) = (1/2n) Σ_i (f(x_i, W) − y_i)²`; one step draws a batch `ξ` of `B` distinct indices
//! uniformly (without replacement, the model of eq. (15), independently at every step) and sets
//!
//! ```text
//! W ← W − (η/B) Σ_{i ∈ ξ} (f(x_i, W) − y_i) ∇_W f(x_i, W).
//! ```
//!
//! # Interpolation threshold
//!
//! Training stops with [`Stop::Interpolated`] as soon as the full training loss is below
//! `loss_threshold` (default [`DEFAULT_LOSS_THRESHOLD`] = 1e-12 in f64, i.e. residuals of about
//! 1e-6), checked at iteration 0 and every `⌈n/B⌉` iterations (once per epoch's worth of
//! samples); with [`Stop::MaxIterations`] if the limit comes first (the run did **not** reach
//! interpolation: say so to the user), and with [`Stop::Diverged`] if the loss exceeds
//! `divergence_loss` or stops being finite (η is above the edge of stability).

use crate::error::{Error, Param, Result};
use crate::networks::batch::BatchWorkspace;
use crate::networks::datasets::Dataset;
use crate::networks::matrix_norm::spectral_norm;
use crate::networks::network::{Mlp, Workspace};
use crate::progress::Progress;
use crate::random::SplitMix64;
use serde::{Deserialize, Serialize};

/// Default interpolation threshold on the training loss.
pub const DEFAULT_LOSS_THRESHOLD: f64 = 1e-12;

/// Default iteration limit.
pub const DEFAULT_MAX_ITERATIONS: usize = 200_000;

/// The checkpoints of the paper's Table 1.
pub const TABLE1_CHECKPOINTS: [usize; 6] = [0, 100, 1000, 10_000, 20_000, 50_000];

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Learning rate `η > 0`.
    pub lr: f64,
    /// Batch size `1 <= B <= n`.
    pub batch: usize,
    /// Iteration limit.
    pub max_iterations: usize,
    /// Stop when the training loss falls below this (`> 0`).
    pub loss_threshold: f64,
    /// Stop as diverged when the loss exceeds this.
    pub divergence_loss: f64,
    /// Seed of the batch draws.
    pub seed: u64,
    /// Iterations at which `‖W_1‖_2` and the loss are recorded (those reached).
    pub checkpoints: Vec<usize>,
}

impl TrainOptions {
    /// Defaults for everything but `η` and `B`.
    pub fn new(lr: f64, batch: usize) -> Self {
        TrainOptions {
            lr,
            batch,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            loss_threshold: DEFAULT_LOSS_THRESHOLD,
            divergence_loss: 1e8,
            seed: 0,
            checkpoints: TABLE1_CHECKPOINTS.to_vec(),
        }
    }
}

/// Why training stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// The loss fell below the threshold: an interpolation solution.
    Interpolated,
    /// The iteration limit came first: **not** an interpolation solution.
    MaxIterations,
    /// The loss blew up (or became non-finite).
    Diverged,
}

impl Stop {
    /// `"interpolated"`, `"max-iterations"` or `"diverged"`.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interpolated => "interpolated",
            Stop::MaxIterations => "max-iterations",
            Stop::Diverged => "diverged",
        }
    }
}

/// The state at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Iterations done.
    pub iteration: usize,
    /// Training loss.
    pub loss: f64,
    /// `‖W_1‖_2` (largest singular value of the first-layer matrix).
    pub w1_spectral_norm: f64,
}

/// The outcome of [`train`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRun {
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Seed of the batch draws.
    pub seed: u64,
    /// Iterations done.
    pub iterations: usize,
    /// Loss at the start.
    pub initial_loss: f64,
    /// Loss at the end (the full training loss of the returned network).
    pub final_loss: f64,
    /// The threshold used.
    pub loss_threshold: f64,
    /// Why it stopped.
    pub stop: Stop,
    /// The requested checkpoints that were reached, then the final state (iteration order).
    pub checkpoints: Vec<Checkpoint>,
}

impl TrainingRun {
    /// Whether an interpolation solution was reached.
    pub fn interpolated(&self) -> bool {
        self.stop == Stop::Interpolated
    }
}

/// `L(W) = (1/2n) Σ_i (f(x_i, W) − y_i)²`.
pub fn loss(net: &Mlp, data: &Dataset) -> f64 {
    let mut ws = Workspace::new(net.architecture());
    let s: f64 = (0..data.n)
        .map(|i| {
            let r = net.forward(data.x_row(i), &mut ws) - data.y[i];
            r * r
        })
        .sum();
    s / (2.0 * data.n as f64)
}

/// `‖W_1‖_2` of a network.
pub fn w1_spectral_norm(net: &Mlp) -> f64 {
    let a = net.architecture();
    spectral_norm(net.w1(), a.first_width(), a.input_dim)
}

/// Checks the options against the data.
pub fn check_options(opts: &TrainOptions, n: usize) -> Result<()> {
    crate::engine::analysis::check_lr(opts.lr)?;
    crate::engine::sampling::BatchModel::new(n, opts.batch, crate::Sampling::WithoutReplacement)?;
    if !(opts.loss_threshold.is_finite() && opts.loss_threshold > 0.0) {
        return Err(Error::parameter(
            Param::LossThreshold,
            opts.loss_threshold,
            "must be finite and > 0",
        ));
    }
    if opts.divergence_loss.is_nan() || opts.divergence_loss <= opts.loss_threshold {
        return Err(Error::parameter(
            Param::DivergenceLoss,
            opts.divergence_loss,
            "must exceed the loss threshold",
        ));
    }
    Ok(())
}

/// Errors with [`Error::TooLarge`] if the `n × w` per-sample gradient matrix (plus the export's
/// copy) exceeds the memory budget ([`crate::memory::default_budget_bytes`]).
pub fn check_gradient_memory(n: usize, w: usize) -> Result<()> {
    let need = (n as u128) * (w as u128) * 8 * 2;
    let budget = crate::memory::default_budget_bytes();
    if need > budget {
        return Err(Error::too_large(
            format!("the per-sample gradients ({n} × {w})"),
            need,
            budget,
            &format!(
                "lower {} or {}",
                Param::Points.quoted(),
                Param::Hidden.quoted()
            ),
        ));
    }
    Ok(())
}

/// Inputs per block when the full training loss is evaluated (batched forward passes).
const LOSS_BLOCK: usize = 256;

/// The buffers of SGD steps (eq. 7) with one batch size, reused from step to step.
#[derive(Debug, Clone)]
pub struct SgdStep {
    ws: BatchWorkspace,
    grad: Vec<f64>,
    residual: Vec<f64>,
}

impl SgdStep {
    /// Buffers for steps of `net` with batches of up to `batch` inputs (and the full loss in
    /// blocks of up to 256 inputs).
    pub fn new(net: &Mlp, batch: usize) -> Self {
        SgdStep {
            ws: BatchWorkspace::new(net, batch.max(LOSS_BLOCK)),
            grad: vec![0.0; net.parameter_count()],
            residual: vec![0.0; batch],
        }
    }

    /// One step `W ← W − (η/B) Σ_{i ∈ batch} (f(x_i, W) − y_i) ∇_W f(x_i, W)` with `B =
    /// batch.len()` (row indices into `data`), as one batched forward and backward pass
    /// ([`crate::networks::batch`]).
    ///
    /// # Panics
    /// If `batch` is longer than the batch size given to [`SgdStep::new`].
    pub fn step(&mut self, net: &mut Mlp, data: &Dataset, batch: &[usize], lr: f64) {
        let b = batch.len();
        net.gather_batch(&data.x, batch, &mut self.ws);
        let f = net.forward_batch(b, &mut self.ws);
        for ((r, fi), &i) in self.residual[..b].iter_mut().zip(f).zip(batch) {
            *r = fi - data.y[i];
        }
        net.backward_batch(b, &self.residual[..b], &mut self.ws, &mut self.grad);
        let step = lr / b as f64;
        for (p, g) in net.params_mut().iter_mut().zip(&self.grad) {
            *p -= step * g;
        }
    }

    /// The full training loss `(1/2n) Σ_i (f(x_i, W) − y_i)²`, batched.
    pub fn loss(&mut self, net: &Mlp, data: &Dataset) -> f64 {
        net.loss_batched(&data.x, &data.y, &mut self.ws)
    }
}

/// Runs SGD (eq. 7) on `net` in place until interpolation, divergence or the iteration limit.
///
/// Each step is one batched forward and backward pass over the `B` drawn inputs as matrix
/// products ([`crate::networks::batch`], single-threaded, so the result does not depend on the
/// number of threads); the training loss is evaluated the same way in blocks.
/// `progress` receives one step per 1000 iterations.
pub fn train(
    net: &mut Mlp,
    data: &Dataset,
    opts: &TrainOptions,
    progress: &dyn Progress,
) -> Result<TrainingRun> {
    check_options(opts, data.n)?;
    check_gradient_memory(data.n, net.parameter_count())?;
    if data.d != net.architecture().input_dim {
        return Err(Error::InvalidInput {
            context: data.name.clone(),
            message: format!(
                "inputs have d = {} but the network expects {}",
                data.d,
                net.architecture().input_dim
            ),
        });
    }
    let (n, b) = (data.n, opts.batch);
    let mut rng = SplitMix64::derive(opts.seed, 0x0053_4744);
    let mut scratch: Vec<usize> = (0..n).collect();
    let mut batch = vec![0usize; b];
    let mut stepper = SgdStep::new(net, b);
    let check_every = n.div_ceil(b);
    let mut checkpoints = Vec::new();
    let mut next_cp = {
        let mut c = opts.checkpoints.clone();
        c.sort_unstable();
        c.dedup();
        c.into_iter().peekable()
    };
    let initial_loss = stepper.loss(net, data);
    let mut current: f64;
    let mut t = 0usize;
    progress.begin("train", opts.max_iterations.div_ceil(1000) as u64);
    let stop = loop {
        while next_cp.peek() == Some(&t) {
            next_cp.next();
            checkpoints.push(Checkpoint {
                iteration: t,
                loss: stepper.loss(net, data),
                w1_spectral_norm: w1_spectral_norm(net),
            });
        }
        if t % check_every == 0 {
            current = stepper.loss(net, data);
            if !current.is_finite() || current > opts.divergence_loss {
                break Stop::Diverged;
            }
            if current < opts.loss_threshold {
                break Stop::Interpolated;
            }
        }
        if t >= opts.max_iterations {
            current = stepper.loss(net, data);
            break if current < opts.loss_threshold {
                Stop::Interpolated
            } else {
                Stop::MaxIterations
            };
        }
        rng.subset(&mut scratch, &mut batch);
        stepper.step(net, data, &batch, opts.lr);
        t += 1;
        if t % 1000 == 0 {
            progress.advance(1, "");
        }
    };
    progress.end();
    if checkpoints.last().map(|c| c.iteration) != Some(t) {
        checkpoints.push(Checkpoint {
            iteration: t,
            loss: current,
            w1_spectral_norm: w1_spectral_norm(net),
        });
    }
    Ok(TrainingRun {
        lr: opts.lr,
        batch: b,
        seed: opts.seed,
        iterations: t,
        initial_loss,
        final_loss: current,
        loss_threshold: opts.loss_threshold,
        stop,
        checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networks::network::{Activation, Architecture};
    use crate::NoProgress;

    #[test]
    fn one_step_matches_the_formula() {
        // a single step with B = n equals full-batch GD: W − (η/n) Σ r_i ∇f_i
        let ds = crate::networks::datasets::generate(&crate::networks::datasets::DatasetSpec {
            kind: crate::networks::datasets::DatasetKind::Gaussian,
            n: 4,
            dim: 3,
            seed: 1,
        })
        .unwrap();
        let arch = Architecture::new(3, vec![5], Activation::Tanh).unwrap();
        let net0 = Mlp::init(arch, 2);
        let ps = net0.per_sample(&ds.x, ds.n);
        let mut expected = net0.params().to_vec();
        for i in 0..4 {
            let r = ps.outputs[i] - ds.y[i];
            for (e, g) in expected.iter_mut().zip(ps.param_grad(i)) {
                *e -= 0.1 / 4.0 * r * g;
            }
        }
        let mut net = net0.clone();
        let opts = TrainOptions {
            max_iterations: 1,
            ..TrainOptions::new(0.1, 4)
        };
        let run = train(&mut net, &ds, &opts, &NoProgress).unwrap();
        assert_eq!(run.iterations, 1);
        for (a, b) in net.params().iter().zip(&expected) {
            assert!((a - b).abs() < 1e-15);
        }
        let l = loss(&net, &ds);
        assert!(
            (run.final_loss - l).abs() <= 1e-14 * l,
            "{} vs {l}",
            run.final_loss
        );
    }

    #[test]
    fn bad_options_are_errors() {
        let ds = crate::networks::datasets::iris(5).unwrap();
        let arch = Architecture::new(3, vec![4], Activation::Tanh).unwrap();
        let mut net = Mlp::init(arch, 0);
        for opts in [
            TrainOptions::new(0.0, 2),
            TrainOptions::new(0.1, 6),
            TrainOptions::new(0.1, 0),
            TrainOptions {
                loss_threshold: -1.0,
                ..TrainOptions::new(0.1, 2)
            },
        ] {
            assert!(train(&mut net, &ds, &opts, &NoProgress).is_err());
        }
    }
}
