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
use crate::{OperatorMethod, SolverOptions};
use serde::Serialize;
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

/// The demo's network: `64-64-64-1 relu` on the first 500 digits training images.
pub const DEMO_POINTS: usize = 500;

/// Hidden widths of the demo's network.
pub const DEMO_HIDDEN: [usize; 2] = [64, 64];

/// Loss threshold of the demo's training and of its Figure 1 sweep.
pub const DEMO_LOSS_THRESHOLD: f64 = 1e-6;

/// Iteration cap of the demo's training and of each run of its sweep.
pub const DEMO_MAX_ITERATIONS: usize = 60_000;

/// Largest `D = C(r + k − 1, k)` the demo simulates by Monte Carlo (the exact reference curve
/// applies the dense `T_k`); larger orders are analyzed but not simulated.
pub const DEMO_SIMULATE_MAX_DIM: u128 = 3000;

/// Version of the `demo` JSON schema.
pub const DEMO_SCHEMA_VERSION: u32 = 1;

/// Options of [`run_demo`].
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// The network and data (default: [`DEMO_HIDDEN`] ReLU on [`DEMO_POINTS`] digits images).
    pub network: NetworkSpec,
    /// Learning rate of training and of the analysis.
    pub lr: f64,
    /// Batch size of training and of the analysis.
    pub batch: usize,
    /// Orders analyzed (simulated: those `<= 2` with `D <=` [`DEMO_SIMULATE_MAX_DIM`]; drawn in
    /// the diagram: those `<= 2`).
    pub orders: Vec<usize>,
    /// Networks per setting of the Figure 1 sweep (init seeds `0..seeds`).
    pub seeds: u64,
    /// Learning rates of the sweep's first panel (at [`DemoOptions::batch`]).
    pub sweep_lrs: Vec<f64>,
    /// Batch sizes of the sweep's second panel (at [`DemoOptions::lr`]).
    pub sweep_batches: Vec<usize>,
    /// Batch sizes of the diagram (`None`: `1, 2, 5, 10, 20, 50, …` up to `n`, and `n`).
    pub diagram_batches: Option<Vec<usize>>,
}

impl DemoOptions {
    /// The demo on `network` (the sweep and diagram settings of the default).
    pub fn on(network: NetworkSpec) -> Self {
        DemoOptions {
            network,
            ..DemoOptions::default()
        }
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            network: NetworkSpec {
                data: DatasetSpec {
                    kind: DatasetKind::Digits,
                    n: DEMO_POINTS,
                    dim: crate::networks::datasets::DIGITS_PIXELS,
                    seed: 0,
                },
                hidden: DEMO_HIDDEN.to_vec(),
                activation: Activation::Relu,
                max_iterations: DEMO_MAX_ITERATIONS,
                loss_threshold: DEMO_LOSS_THRESHOLD,
            },
            lr: 0.1,
            batch: 20,
            orders: vec![1, 2],
            seeds: 2,
            sweep_lrs: vec![0.02, 0.05, 0.1, 0.2],
            sweep_batches: vec![5, 10, 20, 50],
            diagram_batches: None,
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
    /// Eq. (12) by Monte Carlo and the escape test (orders `<= 2` with small `D`).
    pub simulate: SimulateReport,
    /// `η*_k(B)` for the orders `<= 2` (`None` if no such order).
    pub diagram: Option<DiagramReport>,
    /// Figure 1 in kind: a small sweep over `η` and `B`.
    pub sweep: SweepReport,
}

/// The demo's JSON report (`schema_version` [`DEMO_SCHEMA_VERSION`]): the reports of its steps,
/// each as its own subcommand writes it.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport<'a> {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"demo"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The training run (`meta.json` of the export).
    pub training: &'a ExportMeta,
    /// The `analyze` report at the training `(η, B)`.
    pub analysis: &'a AnalysisReport,
    /// The `sobolev` report.
    pub sobolev: &'a SobolevReport,
    /// The `simulate` report.
    pub simulate: &'a SimulateReport,
    /// The `diagram` report.
    pub diagram: Option<&'a DiagramReport>,
    /// The `sweep` report (Figure 1 in kind).
    pub sweep: &'a SweepReport,
}

impl Demo {
    /// The JSON report.
    pub fn report(&self) -> DemoReport<'_> {
        DemoReport {
            schema_version: DEMO_SCHEMA_VERSION,
            command: "demo",
            tool_version: env!("CARGO_PKG_VERSION"),
            training: &self.trained.meta,
            analysis: &self.analysis,
            sobolev: &self.sobolev,
            simulate: &self.simulate,
            diagram: self.diagram.as_ref(),
            sweep: &self.sweep,
        }
    }
}

/// The stages of [`run_demo`], announced through the progress hooks as phases of no steps
/// labelled `"demo step I/6: …"` (a front end may print them as they come).
pub const DEMO_STAGE_PREFIX: &str = "demo step";

fn stage(hooks: Hooks, i: usize, what: &str) {
    hooks
        .progress
        .begin(&format!("{DEMO_STAGE_PREFIX} {i}/6: {what}"), 0);
    hooks.progress.end();
}

/// `1, 2, 5, 10, 20, 50, …` up to `n`, then `n`.
fn demo_batches(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut scale = 1usize;
    'outer: loop {
        for m in [1, 2, 5] {
            let b = m * scale;
            if b > n {
                break 'outer;
            }
            out.push(b);
        }
        scale = match scale.checked_mul(10) {
            Some(s) => s,
            None => break,
        };
    }
    if out.last() != Some(&n) {
        out.push(n);
    }
    out
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
    let net = &opts.network;

    // 1. train to interpolation
    stage(
        hooks,
        1,
        &format!(
            "train {}-{}-1 {} on {} {} points with SGD η = {}, B = {} to loss < {:.0e}",
            net.data.kind.fixed_dim().unwrap_or(net.data.dim),
            net.hidden
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join("-"),
            net.activation.name(),
            net.data.n,
            net.data.kind.name(),
            opts.lr,
            opts.batch,
            net.loss_threshold
        ),
    );
    let trained = train_network(net, opts.lr, opts.batch, 0, 0, hooks.progress)?;
    hooks.checkpoint()?;
    let grads = trained.per_sample.gradients()?;

    // 2. the analysis at the training (η, B). The cone check (Theorem 1's literal condition)
    // converges slowly when the top of the spectrum is clustered, as here at the edge of
    // stability; 500 iterations keep the demo short and the report says whether it converged.
    // Blocks too large for a dense eigensolve go matrix-free (auto: the clustered solver for
    // j = 2).
    stage(
        hooks,
        2,
        &format!(
            "analyze the {} × {} gradients at η = {}, B = {}, k = {:?}",
            grads.n(),
            grads.w(),
            opts.lr,
            opts.batch,
            opts.orders
        ),
    );
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
            .cone_max_iterations(Some(500))
            .solver(SolverOptions::default().method(OperatorMethod::Auto)),
        hooks,
    )?;

    // 3. Section 4 with the analyzer's verdicts as Theorem 3's premise
    stage(
        hooks,
        3,
        "Section 4: g_W, g_x, Prop. 2, Corollary 2, Theorem 3",
    );
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

    // 4. the linearised dynamics by Monte Carlo against ρ_k (orders whose dense T_k is small),
    //    and the nonlinear escape test
    let r = problem.rank();
    let low: Vec<usize> = opts.orders.iter().copied().filter(|&k| k <= 2).collect();
    let simulated: Vec<usize> = low
        .iter()
        .copied()
        .filter(|&k| {
            crate::engine::combinatorics::binomial((r + k - 1) as u128, k as u128)
                .is_some_and(|d| d <= DEMO_SIMULATE_MAX_DIM)
        })
        .collect();
    stage(
        hooks,
        4,
        &format!(
            "simulate eq. (12) for k = {simulated:?} (orders with D <= {DEMO_SIMULATE_MAX_DIM} at r = {r}) and the escape test"
        ),
    );
    let simulate = simulate_report(
        &grads,
        Some((&t.net, &t.data)),
        &SimulateSettings {
            lr: opts.lr,
            batch: opts.batch,
            sampling: Sampling::WithoutReplacement,
            orders: simulated,
            paths: 4000,
            window: (100, 200),
            escape: (0.05, 2000, 4),
            seed: 0,
        },
        &analysis,
        Some(dir_name),
    )?;
    hooks.checkpoint()?;

    // 5. the (η, B) stability diagram for k <= 2
    let batches = opts
        .diagram_batches
        .clone()
        .unwrap_or_else(|| demo_batches(grads.n()));
    stage(
        hooks,
        5,
        &format!("the stability diagram η*_k(B) for k = {low:?}, B = {batches:?}"),
    );
    let diagram = if low.is_empty() {
        None
    } else {
        Some(problem.diagram(
            &DiagramOptions::default().orders(low).batches(batches),
            hooks,
        )?)
    };

    // 6. Figure 1 in kind: a small sweep over η (B fixed) and over B (η fixed)
    let sw = SweepOptions {
        data: opts.network.data,
        architecture: t.net.architecture().clone(),
        lrs: opts.sweep_lrs.clone(),
        fixed_batch: opts.batch,
        batches: opts.sweep_batches.clone(),
        fixed_lr: opts.lr,
        seeds: (0..opts.seeds).collect(),
        max_iterations: opts.network.max_iterations,
        loss_threshold: opts.network.loss_threshold,
        checkpoints: TABLE1_CHECKPOINTS.to_vec(),
    };
    stage(
        hooks,
        6,
        &format!(
            "Figure 1 in kind: {} networks (η = {:?} at B = {}, B = {:?} at η = {}, {} seeds)",
            (sw.lrs.len() + sw.batches.len()) * sw.seeds.len(),
            sw.lrs,
            sw.fixed_batch,
            sw.batches,
            sw.fixed_lr,
            sw.seeds.len()
        ),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_batches_are_1_2_5_up_to_n() {
        assert_eq!(demo_batches(500), vec![1, 2, 5, 10, 20, 50, 100, 200, 500]);
        assert_eq!(demo_batches(60), vec![1, 2, 5, 10, 20, 50, 60]);
        assert_eq!(demo_batches(1), vec![1]);
    }
}
