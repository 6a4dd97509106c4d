//! `sgdstab simulate`: Monte Carlo of the linearised dynamics (eq. 12) against ρ_k, and a
//! nonlinear escape test next to the analyzer's verdict.

use super::common::{check_batch, check_orders, parse_list, Bar, List, OutputArgs, DEFAULT_ORDERS};
use sgdstab::networks::pipeline::{simulate_report, SimulateSettings};
use sgdstab::{AnalyzeOptions, Error, Param, Problem, ProblemOptions, Sampling};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab simulate net --order 1,2 --paths 4000 --steps 200 --json"
)]
pub struct Args {
    /// A network bundle (see docs/bundle.md; with sgdstab's own network, from `sgdstab train
    /// --export`, also the escape test), or a gradient file (linear simulation only).
    #[arg(value_name = "DIR_OR_GRADS")]
    input: PathBuf,
    /// Learning rate η (default: a bundle's training.lr).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size B (default: a bundle's training.batch).
    #[arg(long = "batch", value_name = "B")]
    batch: Option<usize>,
    /// Orders k to simulate.
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Sampling scheme: without or with replacement (default: a bundle's training.sampling,
    /// else without).
    #[arg(long, value_name = "SCHEME")]
    sampling: Option<Sampling>,
    /// Monte-Carlo paths (rounded up to a multiple of 20, the jackknife groups).
    #[arg(long, value_name = "S", default_value_t = 4000)]
    paths: usize,
    /// Steps simulated t_1 (the window end).
    #[arg(long, value_name = "T", default_value_t = 200)]
    steps: usize,
    /// Window start t_0 (default t_1 / 2).
    #[arg(long = "window-start", value_name = "T0")]
    window_start: Option<usize>,
    /// Escape test: perturbation size ε (Euclidean, in parameter space).
    #[arg(long, value_name = "EPS", default_value_t = 0.05)]
    perturbation: f64,
    /// Escape test: SGD steps per trial.
    #[arg(long = "escape-steps", value_name = "N", default_value_t = 5000)]
    escape_steps: usize,
    /// Escape test: number of trials.
    #[arg(long, value_name = "N", default_value_t = 8)]
    trials: usize,
    /// Seed.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// The most per-sample updates (paths × steps × B, or trials × escape steps × B) a run may ask
/// for: about an hour on one core.
pub const MAX_SAMPLE_STEPS: u128 = 100_000_000_000;

/// Runs `simulate`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        super::common::check_lr(lr)?;
    }
    if let Some(b) = a.batch {
        check_batch(b)?;
    }
    a.output.check(None)?;
    let bundle = if a.input.is_dir() {
        Some(sgdstab::io::bundle::read_bundle(&a.input)?)
    } else {
        None
    };
    // sgdstab's own network, for the escape test (bundles of other frameworks: linear only)
    let export = match &bundle {
        Some(b) => sgdstab::networks::export::export_of(&a.input, b.clone())?,
        None => None,
    };
    let grads = match &bundle {
        Some(b) => b.grads.clone(),
        None => sgdstab::io::read_gradients(&a.input)?,
    };
    let (lr, batch, sampling) = match &bundle {
        Some(b) => {
            let p = sgdstab::networks::sections::training_point(b, &a.input, a.lr, a.batch)?;
            (p.lr, p.batch, a.sampling.unwrap_or(p.sampling))
        }
        None => (
            a.lr.ok_or_else(|| {
                Error::parameter(
                    Param::LearningRate,
                    "(none)",
                    "give the learning rate for a gradient file",
                )
            })?,
            a.batch.ok_or_else(|| {
                Error::parameter(
                    Param::Batch,
                    "(none)",
                    "give the batch size for a gradient file",
                )
            })?,
            a.sampling.unwrap_or_default(),
        ),
    };
    sgdstab::BatchModel::new(grads.n(), batch, sampling)?;
    let t1 = a.steps;
    let t0 = a.window_start.unwrap_or(t1 / 2);
    if t1 == 0 || t0 >= t1 {
        anyhow::bail!(Error::parameter(
            Param::Steps,
            t1,
            format!("need steps > window start ({t0})")
        ));
    }
    // bounded work: a flag cannot ask for days (or an overflowing count) of simulation
    for (param, value, count) in [
        (
            Param::Paths,
            a.paths,
            a.paths as u128 * a.steps as u128 * batch as u128,
        ),
        (
            Param::Trials,
            a.trials,
            a.trials as u128 * a.escape_steps as u128 * batch as u128,
        ),
    ] {
        if count > MAX_SAMPLE_STEPS {
            anyhow::bail!(Error::parameter(
                param,
                value,
                format!(
                    "{count:e} per-sample updates ({} × steps × B) exceed the limit {MAX_SAMPLE_STEPS:e} (hours of work); lower it or the steps",
                    if param == Param::Paths { "paths" } else { "trials" }
                )
            ));
        }
    }
    let bar = Bar::new(a.quiet);
    let max_order = a.order.0.iter().copied().max().unwrap_or(1);
    let problem = Problem::from_gradients(
        &grads,
        &ProblemOptions::default()
            .sampling(sampling)
            .max_order(max_order)
            .input(a.input.display().to_string()),
        bar.hooks(),
    )?;
    let analysis = problem.analyze(
        lr,
        batch,
        &AnalyzeOptions::default().orders(a.order.0.clone()),
        bar.hooks(),
    )?;
    let network = match &export {
        Some(e) => Some((e.network()?, e.dataset()?)),
        None => None,
    };
    let report = simulate_report(
        &grads,
        network.as_ref().map(|(n, d)| (n, d)),
        &SimulateSettings {
            lr,
            batch,
            sampling,
            orders: a.order.0.clone(),
            paths: a.paths,
            window: (t0, t1),
            escape: (a.perturbation, a.escape_steps, a.trials),
            seed: a.seed,
        },
        &analysis,
        Some(a.input.display().to_string()),
    )?;
    let json = sgdstab::report::to_json(&report)?;
    a.output
        .emit(&json, || sgdstab::networks::simulate::text(&report))?;
    Ok(ExitCode::SUCCESS)
}
