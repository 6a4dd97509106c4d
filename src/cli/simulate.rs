//! `sgdstab simulate`: Monte Carlo of the linearised dynamics (eq. 12) against ρ_k, and a
//! nonlinear escape test next to the analyzer's verdict.

use super::common::{parse_list, write_output, Bar, List};
use sgdstab::analysis::{analyze, AnalyzeOptions};
use sgdstab::simulate::{
    escape_test, simulate_linear, EscapeOptions, LinearOptions, SimulateReport, VerdictSummary,
};
use sgdstab::Sampling;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An export folder of `sgdstab train --export` (linear simulation and escape test), or a
    /// gradient file (linear simulation only).
    #[arg(value_name = "DIR_OR_GRADS")]
    input: PathBuf,
    /// Learning rate η (default: the training η of an export folder).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size B (default: the training B of an export folder).
    #[arg(long = "batch", value_name = "B")]
    batch: Option<usize>,
    /// Orders k to simulate.
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = "1,2", value_parser = parse_list)]
    order: List,
    /// Sampling scheme: without (default) or with replacement.
    #[arg(long, value_name = "SCHEME", default_value = "without")]
    sampling: Sampling,
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
    /// Print one JSON document on stdout instead of the text.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `simulate`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        sgdstab::analysis::check_lr(lr)?;
    }
    let export = if a.input.is_dir() {
        Some(sgdstab::export::read_export(&a.input)?)
    } else {
        None
    };
    let grads = match &export {
        Some(e) => e.grads.clone(),
        None => sgdstab::io::read_gradients(&a.input)?,
    };
    let lr = match (a.lr, &export) {
        (Some(v), _) => v,
        (None, Some(e)) => e.meta.lr,
        (None, None) => anyhow::bail!(sgdstab::Error::parameter(
            "--lr",
            "(none)",
            "give the learning rate for a gradient file"
        )),
    };
    let batch = match (a.batch, &export) {
        (Some(v), _) => v,
        (None, Some(e)) => e.meta.batch,
        (None, None) => anyhow::bail!(sgdstab::Error::parameter(
            "--batch",
            "(none)",
            "give the batch size for a gradient file"
        )),
    };
    if a.batch == Some(0) {
        anyhow::bail!(sgdstab::Error::parameter(
            "--batch",
            0,
            "the batch size must be >= 1"
        ));
    }
    sgdstab::BatchModel::new(grads.n(), batch, a.sampling)?;
    let t1 = a.steps;
    let t0 = a.window_start.unwrap_or(t1 / 2);
    if t1 == 0 || t0 >= t1 {
        anyhow::bail!(sgdstab::Error::parameter(
            "--steps",
            t1,
            format!("need steps > window start ({t0})")
        ));
    }
    let bar = Bar::new(a.quiet);
    let opts = AnalyzeOptions {
        sampling: a.sampling,
        ..AnalyzeOptions::new(lr, batch, a.order.0.clone())
    };
    let rep = analyze(&grads, &opts, None, &bar)?;
    let analyzer: Vec<VerdictSummary> = rep
        .orders
        .iter()
        .map(|o| VerdictSummary {
            k: o.k,
            reduced_radius: o.reduced_radius,
            verdict: o.verdict,
        })
        .collect();
    let mut linear = Vec::new();
    for &k in &rep.orders.iter().map(|o| o.k).collect::<Vec<_>>() {
        linear.push(simulate_linear(
            &grads,
            &LinearOptions {
                lr,
                batch,
                sampling: a.sampling,
                k,
                paths: a.paths,
                window_start: t0,
                window_end: t1,
                seed: a.seed,
            },
        )?);
    }
    let escape = match &export {
        Some(e) if a.sampling == Sampling::WithoutReplacement => Some(escape_test(
            &e.network()?,
            &e.dataset()?,
            &EscapeOptions {
                lr,
                batch,
                perturbation: a.perturbation,
                steps: a.escape_steps,
                trials: a.trials,
                seed: a.seed,
            },
        )?),
        _ => None,
    };
    let report = SimulateReport {
        schema_version: sgdstab::simulate::SIMULATE_SCHEMA_VERSION,
        command: "simulate",
        tool_version: env!("CARGO_PKG_VERSION"),
        input: Some(a.input.display().to_string()),
        lr,
        batch,
        sampling: a.sampling,
        seed: a.seed,
        analyzer,
        linear,
        escape,
    };
    let json = sgdstab::report::to_json(&report)?;
    if let Some(out) = &a.out {
        write_output(out, &json)?;
    }
    if a.json {
        print!("{json}");
    } else {
        print!("{}", sgdstab::simulate::text(&report));
    }
    Ok(ExitCode::SUCCESS)
}
