//! `sgdstab verify`.

use super::common::{check_orders, parse_list, Bar, List, OutputArgs, DEFAULT_ORDERS};
use sgdstab::verify::{verify, VerifyOptions};
use sgdstab::Sampling;
use std::process::ExitCode;

/// Which sampling schemes to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplingChoice {
    /// Without replacement only.
    Without,
    /// With replacement only.
    With,
    /// Every case under both schemes.
    Both,
}

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  sgdstab verify --cases 300 --seed 1000 --order 1..4")]
pub struct Args {
    /// Number of random cases.
    #[arg(long, value_name = "N", default_value_t = 50)]
    cases: usize,
    /// Seed of case 0 (case i uses seed + i, so `--cases 1 --seed S` reproduces one case).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    orders: List,
    /// Sampling schemes.
    #[arg(long, value_enum, value_name = "SCHEME", default_value = "both")]
    sampling: SamplingChoice,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `verify`: exit 1 if a counterexample is found.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.orders.0)?;
    a.output.check(None)?;
    if a.cases == 0 {
        anyhow::bail!(sgdstab::Error::parameter(
            sgdstab::Param::Cases,
            0,
            "give at least one case"
        ));
    }
    let samplings = match a.sampling {
        SamplingChoice::Without => vec![Sampling::WithoutReplacement],
        SamplingChoice::With => vec![Sampling::WithReplacement],
        SamplingChoice::Both => Sampling::ALL.to_vec(),
    };
    let opts = VerifyOptions {
        cases: a.cases,
        seed: a.seed,
        orders: a.orders.0.clone(),
        samplings,
    };
    let bar = Bar::new(a.quiet);
    let report = verify(&opts, &bar)?;
    let json = sgdstab::report::to_json(&report)?;
    a.output
        .emit(&json, || sgdstab::report::threshold::verify(&report))?;
    Ok(if report.counterexamples.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
