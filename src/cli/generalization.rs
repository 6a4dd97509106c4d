//! `sgdstab generalization`: Theorems 6 and 7 (eqs. 26, 27) on a network bundle against the
//! measured test error and sensitivity: sgdstab's own network on a built-in data set is probed;
//! a bundle of any framework brings its test set and outputs (and, for eq. 27, outputs at
//! perturbed points).

use super::common::{
    check_orders, check_plots, parse_floats, parse_list, Bar, FloatList, List, OutputArgs,
    DEFAULT_ORDERS,
};
use sgdstab::generalization::{DeltaGrid, GeneralizationOptions, ProbeOptions};
use sgdstab::networks::sections;
use sgdstab::Verdict;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `generalization`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab generalization net --order 1..3 --plot bounds.svg --out bounds.json"
)]
pub struct Args {
    /// A network bundle with a dense first layer: the folder of `sgdstab train --export DIR` on
    /// a built-in data set (the test set is drawn from it), or any bundle with a test set and the
    /// model's outputs (test_x.npy, test_y.npy, test_outputs.npy, outputs.npy).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Orders k >= 1: a list (1,2) or an inclusive range (1..3).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Test points drawn i.i.d. from the data set's distribution (independent stream of its
    /// seed); ignored for iris, whose test set is every held-out row.
    #[arg(long = "test-n", value_name = "N", default_value_t = 2000)]
    test_n: usize,
    /// Number of radii δ (geometric, from a hundredth of the smallest test-to-training distance to
    /// the largest).
    #[arg(long = "grid", value_name = "COUNT", default_value_t = 24)]
    grid: usize,
    /// Explicit radii δ instead of the grid, e.g. 0.01,0.05,0.1.
    #[arg(long = "deltas", value_name = "LIST", value_parser = parse_floats, allow_negative_numbers = true)]
    deltas: Option<FloatList>,
    /// Random directions per training point and radius (for C and the sensitivity).
    #[arg(long = "samples", value_name = "N", default_value_t = 16)]
    samples: usize,
    /// Projected-ascent steps per chain (for C and the sensitivity).
    #[arg(long = "ascent-steps", value_name = "N", default_value_t = 8)]
    ascent_steps: usize,
    /// Seed of the random probe directions.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    seed: u64,
    /// Learning rate η for the bounds and their premise (default: the training η).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size B for the bounds and their premise (default: the training B).
    #[arg(long = "batch", value_name = "B")]
    batch: Option<usize>,
    /// Do not run the analyzer for the premise (k-th order stability).
    #[arg(long = "no-stability")]
    no_stability: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Draw bound vs δ with the measurements, `.svg` or `.png` (repeat for both), atomically.
    #[arg(long, value_name = "FILE.{svg,png}")]
    plot: Vec<PathBuf>,
    /// Exit with code 1 if a measured value exceeds its bound while the premise holds.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `generalization`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        super::common::check_lr(lr)?;
    }
    check_plots(&a.plot)?;
    a.output.check(Some("--plot"))?;
    let mut outputs = a.output.files();
    outputs.extend(a.plot.iter().map(|p| ("--plot", p.as_path())));
    super::common::check_outputs(&a.dir, &outputs)?;
    let opts = GeneralizationOptions {
        orders: a.order.0.clone(),
        deltas: match &a.deltas {
            Some(v) => DeltaGrid::Given(v.0.clone()),
            None => DeltaGrid::Auto { count: a.grid },
        },
        probes: ProbeOptions {
            random_directions: a.samples,
            ascent_steps: a.ascent_steps,
            seed: a.seed,
        },
    };
    opts.check()?;
    let bundle = sgdstab::io::bundle::read_bundle(&a.dir)?;
    let point = sections::training_point(&bundle, &a.dir, a.lr, a.batch)?;
    let bar = Bar::new(a.quiet);
    let mut verdicts: BTreeMap<usize, Verdict> = BTreeMap::new();
    if !a.no_stability {
        sgdstab::generalization::bundle::check_applicable(&bundle, &a.dir)?;
        verdicts = sections::premise_verdicts(&bundle.grads, point, &a.order.0, bar.hooks())
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} (the premise of Theorems 6 and 7 needs the analyzer; --no-stability skips it)",
                    super::flags::render(&e)
                )
            })?;
    }
    let done = sgdstab::generalization::bundle::generalization_of_bundle(
        &bundle,
        &a.dir,
        &opts,
        a.test_n,
        point,
        &verdicts,
        Some(a.dir.display().to_string()),
        &bar,
    )?;
    if let Some(w) = &done.warning {
        warn_line!("sgdstab: warning: {w}");
    }
    let (report, title) = (done.report, done.title);
    let json = sgdstab::report::to_json(&report)?;
    super::common::all_or_nothing(&[], || {
        for p in &a.plot {
            let fig = sgdstab::plots::generalization::GeneralizationFigure {
                report: &report,
                title: format!("{} — {title}", report.dataset),
            };
            sgdstab::plots::save(&fig, p)?;
        }
        if let Some(out) = &a.output.out {
            super::common::write_output(out, &json)?;
        }
        Ok(())
    })?;
    a.output
        .print(&json, || sgdstab::generalization::text(&report))?;
    if a.strict && !report.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
