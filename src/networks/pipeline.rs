//! Pipelines built from the Section 4 pieces, for front ends: train a network to interpolation
//! with its export metadata ([`train_network`]), the `simulate` report of eq. (12) next to the
//! analyzer ([`simulate_report`]), and the end-to-end demo ([`run_demo`]: train, Theorem 1 at the
//! training `(η, B)`, Section 4, simulation, the (η, B) diagram, Figure 1 in kind).

use crate::engine::analysis::{AnalysisReport, AnalyzeOptions};
use crate::engine::gradients::Gradients;
use crate::engine::sampling::Sampling;
use crate::error::Result;
use crate::networks::datasets::{generate, Dataset, DatasetKind, DatasetSpec};
use crate::networks::export::ExportMeta;
use crate::networks::network::{Activation, Architecture, Mlp, PerSample};
use crate::networks::simulate::{
    escape_test, simulate_linear, EscapeOptions, LinearOptions, SimulateReport, VerdictSummary,
    SIMULATE_SCHEMA_VERSION,
};
use crate::networks::sobolev::{sobolev, SobolevInput, SobolevReport};
use crate::networks::sweep::{sweep, SweepOptions, SweepReport};
use crate::networks::training::{
    train, TrainOptions, TrainingRun, DEFAULT_LOSS_THRESHOLD, DEFAULT_MAX_ITERATIONS,
    TABLE1_CHECKPOINTS,
};
use crate::problem::{Problem, ProblemOptions};
use crate::progress::{Hooks, Progress};
use crate::threshold::diagram::{DiagramOptions, DiagramReport};
use std::path::Path;

/// A network and its data: what `train`, `sweep` and `demo` share.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// The built-in data set.
    pub data: DatasetSpec,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Activation.
    pub activation: Activation,
    /// Iteration limit of SGD.
    pub max_iterations: usize,
    /// Interpolation threshold on the training loss `(1/2n) Σ (f − y)²`.
    pub loss_threshold: f64,
}

impl Default for NetworkSpec {
    /// 16 points of a 2-torus rotated into `R^8` (seed 0), `8-32-1 tanh`.
    fn default() -> Self {
        NetworkSpec {
            data: DatasetSpec {
                kind: DatasetKind::Torus,
                n: 16,
                dim: 8,
                seed: 0,
            },
            hidden: vec![32],
            activation: Activation::Tanh,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            loss_threshold: DEFAULT_LOSS_THRESHOLD,
        }
    }
}

impl NetworkSpec {
    /// The architecture for inputs of dimension `d`.
    pub fn architecture(&self, d: usize) -> Result<Architecture> {
        Architecture::new(d, self.hidden.clone(), self.activation)
    }
}

/// A trained network with everything needed to export it.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The network at the end of training (`W*` if it interpolated).
    pub net: Mlp,
    /// Its training data.
    pub data: Dataset,
    /// How training went.
    pub run: TrainingRun,
    /// `meta.json` of the export.
    pub meta: ExportMeta,
    /// Per-sample parameter and input gradients at the end of training.
    pub per_sample: PerSample,
}

/// Trains `spec`'s network on its data with SGD (eq. 7) at `(lr, batch)` from initialisation
/// `seed`, drawing batches with `sgd_seed`, until interpolation, divergence or the limit.
pub fn train_network(
    spec: &NetworkSpec,
    lr: f64,
    batch: usize,
    seed: u64,
    sgd_seed: u64,
    progress: &dyn Progress,
) -> Result<Trained> {
    crate::engine::analysis::check_lr(lr)?;
    let data = generate(&spec.data)?;
    let arch = spec.architecture(data.d)?;
    let mut model = Mlp::init(arch, seed);
    let opts = TrainOptions {
        max_iterations: spec.max_iterations,
        loss_threshold: spec.loss_threshold,
        seed: sgd_seed,
        ..TrainOptions::new(lr, batch)
    };
    let run = train(&mut model, &data, &opts, progress)?;
    let per_sample = model.per_sample(&data.x, data.n);
    let meta = ExportMeta::new(&model, &data, Some(spec.data), seed, &run);
    Ok(Trained {
        net: model,
        data,
        run,
        meta,
        per_sample,
    })
}

/// Settings of [`simulate_report`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateSettings {
    /// Learning rate `η`.
    pub lr: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Sampling scheme (the escape test runs only without replacement, as training does).
    pub sampling: Sampling,
    /// Orders simulated (those the analysis covers).
    pub orders: Vec<usize>,
    /// Monte-Carlo paths.
    pub paths: usize,
    /// Window `[t_0, t_1]` of the growth rate (`t_1` steps are simulated).
    pub window: (usize, usize),
    /// Escape test: perturbation size, SGD steps per trial, trials.
    pub escape: (f64, usize, usize),
    /// Seed of the simulation and the escape test.
    pub seed: u64,
}

/// The `simulate` report: per order, the Monte-Carlo growth rate of eq. (12) against the exact
/// `T_k` and the analyzer's verdict (`analysis`, at the same `η`, `B` and sampling); for a
/// network, the nonlinear escape test.
pub fn simulate_report(
    grads: &Gradients,
    network: Option<(&Mlp, &Dataset)>,
    s: &SimulateSettings,
    analysis: &AnalysisReport,
    input: Option<String>,
) -> Result<SimulateReport> {
    let simulated = analysis.orders.iter().filter(|o| s.orders.contains(&o.k));
    let analyzer: Vec<VerdictSummary> = simulated
        .clone()
        .map(|o| VerdictSummary {
            k: o.k,
            reduced_radius: o.reduced_radius,
            verdict: o.verdict,
        })
        .collect();
    let mut linear = Vec::new();
    for o in simulated {
        linear.push(simulate_linear(
            grads,
            &LinearOptions {
                lr: s.lr,
                batch: s.batch,
                sampling: s.sampling,
                k: o.k,
                paths: s.paths,
                window_start: s.window.0,
                window_end: s.window.1,
                seed: s.seed,
            },
        )?);
    }
    let escape = match network {
        Some((net, data)) if s.sampling == Sampling::WithoutReplacement => Some(escape_test(
            net,
            data,
            &EscapeOptions {
                lr: s.lr,
                batch: s.batch,
                perturbation: s.escape.0,
                steps: s.escape.1,
                trials: s.escape.2,
                seed: s.seed,
            },
        )?),
        _ => None,
    };
    Ok(SimulateReport {
        schema_version: SIMULATE_SCHEMA_VERSION,
        command: "simulate",
        tool_version: env!("CARGO_PKG_VERSION"),
        input,
        lr: s.lr,
        batch: s.batch,
        sampling: s.sampling,
        seed: s.seed,
        analyzer,
        linear,
        escape,
    })
}

/// Options of [`run_demo`].
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// The network and data (default [`NetworkSpec::default`]).
    pub network: NetworkSpec,
    /// Learning rate of training and of the analysis.
    pub lr: f64,
    /// Batch size of training and of the analysis.
    pub batch: usize,
    /// Orders analyzed (simulated and drawn in the diagram: those `<= 2`).
    pub orders: Vec<usize>,
    /// Networks per setting of the Figure 1 sweep (init seeds `0..seeds`).
    pub seeds: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            network: NetworkSpec::default(),
            lr: 0.1,
            batch: 4,
            orders: vec![1, 2],
            seeds: 3,
        }
    }
}

/// Everything the demo computed.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The trained network (seed 0).
    pub trained: Trained,
    /// Its per-sample gradients.
    pub grads: Gradients,
    /// Theorem 1 at the training `(η, B)`.
    pub analysis: AnalysisReport,
    /// Section 4 with the analyzer's verdicts as Theorem 3's premise.
    pub sobolev: SobolevReport,
    /// Eq. (12) by Monte Carlo and the escape test (orders `<= 2`).
    pub simulate: SimulateReport,
    /// `η*_k(B)` for the orders `<= 2` over `B = 1, 2, 4, …, n` (`None` if no such order).
    pub diagram: Option<DiagramReport>,
    /// Figure 1 in kind: a small sweep over `η` and `B`.
    pub sweep: SweepReport,
}

/// The demo: train to interpolation, analyze at the training `(η, B)`, check Section 4, simulate
/// the linearised dynamics and the escape test, compute the (η, B) diagram, and run a small
/// Figure 1 sweep. Reports name their input after `export_dir`, where the caller writes the
/// export of [`Demo::trained`].
pub fn run_demo(opts: &DemoOptions, export_dir: &Path, hooks: Hooks) -> Result<Demo> {
    crate::engine::analysis::check_lr(opts.lr)?;
    crate::engine::analysis::check_orders(&opts.orders)?;
    let grads_name = export_dir.join("grads.npy").display().to_string();
    let dir_name = export_dir.display().to_string();

    // 1. train to interpolation
    let trained = train_network(&opts.network, opts.lr, opts.batch, 0, 0, hooks.progress)?;
    hooks.checkpoint()?;
    let grads = trained.per_sample.gradients()?;

    // 2. the analysis at the training (η, B). The cone check (Theorem 1's literal condition)
    // converges slowly when the top of the spectrum is clustered, as here at the edge of
    // stability; 500 iterations keep the demo short and the report says whether it converged.
    let max_order = opts.orders.iter().copied().max().unwrap_or(1);
    let problem = Problem::from_gradients(
        &grads,
        &ProblemOptions::default()
            .max_order(max_order)
            .input(grads_name),
        hooks,
    )?;
    let analysis = problem.analyze(
        opts.lr,
        opts.batch,
        &AnalyzeOptions::default()
            .orders(opts.orders.clone())
            .cone_max_iterations(Some(500)),
        hooks,
    )?;

    // 3. Section 4 with the analyzer's verdicts as Theorem 3's premise
    let t = &trained;
    let inp = SobolevInput {
        x: &t.data.x,
        xgrads: &t.per_sample.input_grads,
        grads: &grads,
        w1: t.net.w1(),
        d: t.data.d,
        m: t.net.architecture().first_width(),
    };
    let verdict = |k: usize| analysis.orders.iter().find(|o| o.k == k).map(|o| o.verdict);
    let sobolev = sobolev(
        &inp,
        &opts.orders,
        opts.lr,
        opts.batch,
        &verdict,
        Some(dir_name.clone()),
    )?;
    hooks.checkpoint()?;

    // 4. the linearised dynamics by Monte Carlo against ρ_k, and the nonlinear escape test
    let low: Vec<usize> = opts.orders.iter().copied().filter(|&k| k <= 2).collect();
    let simulate = simulate_report(
        &grads,
        Some((&t.net, &t.data)),
        &SimulateSettings {
            lr: opts.lr,
            batch: opts.batch,
            sampling: Sampling::WithoutReplacement,
            orders: low.clone(),
            paths: 4000,
            window: (100, 200),
            escape: (0.05, 5000, 8),
            seed: 0,
        },
        &analysis,
        Some(dir_name),
    )?;
    hooks.checkpoint()?;

    // 5. the (η, B) stability diagram for k <= 2 over B = 1, 2, 4, …, n (k = 3 needs a
    //    2448-row companion matrix per batch size here, about a minute on 2 cores)
    let diagram = if low.is_empty() {
        None
    } else {
        let batches: Vec<usize> = std::iter::successors(Some(1usize), |b| Some(b * 2))
            .take_while(|&b| b <= grads.n())
            .collect();
        Some(problem.diagram(
            &DiagramOptions::default().orders(low).batches(batches),
            hooks,
        )?)
    };

    // 6. Figure 1 in kind: a small sweep over η (B fixed) and over B (η fixed)
    let sw = SweepOptions {
        data: opts.network.data,
        architecture: t.net.architecture().clone(),
        lrs: vec![0.02, 0.05, 0.1, 0.2, 0.3],
        fixed_batch: opts.batch,
        batches: vec![1, 2, 4, 8, 16],
        fixed_lr: opts.lr,
        seeds: (0..opts.seeds).collect(),
        max_iterations: opts.network.max_iterations,
        loss_threshold: opts.network.loss_threshold,
        checkpoints: TABLE1_CHECKPOINTS.to_vec(),
    };
    hooks.checkpoint()?;
    let sweep = sweep(&sw, hooks.progress)?;
    Ok(Demo {
        trained,
        grads,
        analysis,
        sobolev,
        simulate,
        diagram,
        sweep,
    })
}
