//! `sgdstab sobolev`: Section 4 checks on a network bundle (any framework's; see
//! `sgdstab::io::bundle`).

use super::common::{check_orders, parse_list, Bar, List, OutputArgs, DEFAULT_ORDERS};
use sgdstab::networks::sections;
use sgdstab::Verdict;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sobolev`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  sgdstab sobolev net --order 1..3 --out sobolev.json")]
pub struct Args {
    /// A network bundle: the folder written by `sgdstab train --export DIR`,
    /// `sgdstab.jax.export_network` or `sgdstab.torch.export_network` (see docs/bundle.md).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Orders k >= 1 (p = 2k): a list (1,2) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Learning rate for Theorem 3 and its premise (default: the bundle's training.lr).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size for Theorem 3 and its premise (default: the bundle's training.batch).
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
    let bundle = sgdstab::io::bundle::read_bundle(&a.dir)?;
    let point = sections::training_point(&bundle, &a.dir, a.lr, a.batch)?;
    let mut verdicts: BTreeMap<usize, Verdict> = BTreeMap::new();
    if !a.no_stability {
        let bar = Bar::new(a.quiet);
        verdicts = sections::premise_verdicts(&bundle.grads, point, &a.order.0, bar.hooks())
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} (Theorem 3's premise needs the analyzer; --no-stability skips it)",
                    super::flags::render(&e)
                )
            })?;
    }
    let report = sections::sobolev_of_bundle(
        &bundle,
        &a.order.0,
        point,
        &verdicts,
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
