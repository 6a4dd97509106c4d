//! `sgdstab sobolev`: Section 4 checks on an exported network.

use super::common::{
    check_orders, parse_list, training_point, Bar, List, OutputArgs, DEFAULT_ORDERS,
};
use sgdstab::networks::sobolev::{sobolev, SobolevInput};
use sgdstab::{AnalyzeOptions, Problem, ProblemOptions, Verdict};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sobolev`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  sgdstab sobolev net --order 1..3 --out sobolev.json")]
pub struct Args {
    /// The folder written by `sgdstab train --export DIR`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Orders k >= 1 (p = 2k): a list (1,2) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Learning rate for Theorem 3 and its premise (default: the training η from meta.json).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size for Theorem 3 and its premise (default: the training B from meta.json).
    #[arg(long = "batch", value_name = "B")]
    batch: Option<usize>,
    /// Do not run the analyzer for Theorem 3's premise (k-th order stability).
    #[arg(long = "no-stability")]
    no_stability: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Exit with code 1 if a check certainly fails.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `sobolev`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        super::common::check_lr(lr)?;
    }
    a.output.check(None)?;
    let ex = sgdstab::networks::export::read_export(&a.dir)?;
    let (lr, batch) = training_point(&ex.meta, &a.dir, a.lr, a.batch)?;
    sgdstab::BatchModel::new(ex.n(), batch, sgdstab::Sampling::WithoutReplacement)?;
    let mut verdicts: BTreeMap<usize, Verdict> = BTreeMap::new();
    if !a.no_stability {
        let bar = Bar::new(a.quiet);
        let premise = || -> sgdstab::Result<_> {
            let max_order = a.order.0.iter().copied().max().unwrap_or(1);
            let p = Problem::from_gradients(
                &ex.grads,
                &ProblemOptions::default().max_order(max_order),
                bar.hooks(),
            )?;
            p.analyze(
                lr,
                batch,
                &AnalyzeOptions::default().orders(a.order.0.clone()),
                bar.hooks(),
            )
        };
        let rep = premise().map_err(|e| {
            anyhow::anyhow!(
                "{} (Theorem 3's premise needs the analyzer; --no-stability skips it)",
                super::flags::render(&e)
            )
        })?;
        for o in &rep.orders {
            verdicts.insert(o.k, o.verdict);
        }
    }
    let inp = SobolevInput {
        x: &ex.x,
        xgrads: &ex.xgrads,
        grads: &ex.grads,
        w1: &ex.w1,
        d: ex.d(),
        m: ex.m(),
    };
    let report = sobolev(
        &inp,
        &a.order.0,
        lr,
        batch,
        &|k| verdicts.get(&k).copied(),
        Some(a.dir.display().to_string()),
    )?;
    let json = sgdstab::report::to_json(&report)?;
    a.output
        .emit(&json, || sgdstab::networks::sobolev::text(&report))?;
    if a.strict && !report.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
