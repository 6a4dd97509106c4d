//! `sgdstab sobolev`: Section 4 checks on an exported network.

use super::common::{parse_list, write_output, Bar, List};
use sgdstab::analysis::{analyze, AnalyzeOptions};
use sgdstab::sobolev::{sobolev, SobolevInput};
use sgdstab::Verdict;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sobolev`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder written by `sgdstab train --export DIR`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Orders k >= 1 (p = 2k): a list (1,2) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = "1,2", value_parser = parse_list)]
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
    /// Print one JSON document on stdout instead of the text.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Exit with code 1 if a check certainly fails.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `sobolev`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        sgdstab::analysis::check_lr(lr)?;
    }
    let ex = sgdstab::export::read_export(&a.dir)?;
    let lr = a.lr.unwrap_or(ex.meta.lr);
    let batch = a.batch.unwrap_or(ex.meta.batch);
    sgdstab::BatchModel::new(ex.n(), batch, sgdstab::Sampling::WithoutReplacement)?;
    let mut verdicts: BTreeMap<usize, Verdict> = BTreeMap::new();
    if !a.no_stability {
        let bar = Bar::new(a.quiet);
        let opts = AnalyzeOptions::new(lr, batch, a.order.0.clone());
        let rep = analyze(&ex.grads, &opts, None, &bar).map_err(|e| {
            anyhow::anyhow!("{e} (Theorem 3's premise needs the analyzer; --no-stability skips it)")
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
    if let Some(out) = &a.out {
        write_output(out, &json)?;
    }
    if a.json {
        print!("{json}");
    } else {
        print!("{}", sgdstab::sobolev::text(&report));
    }
    if a.strict && !report.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
