//! `sgdstab generalization`: Theorems 6 and 7 (eqs. 26, 27) on an exported network against the
//! measured test error and sensitivity.

use super::common::{parse_list, write_output, Bar, List};
use sgdstab::analysis::{analyze, AnalyzeOptions};
use sgdstab::datasets::Distribution;
use sgdstab::generalization::{
    generalization, DeltaGrid, GeneralizationOptions, ProbeOptions, SectionFiveInput,
};
use sgdstab::Verdict;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// A comma-separated list of radii.
#[derive(Debug, Clone, PartialEq)]
pub struct Radii(pub Vec<f64>);

/// Parses [`Radii`] (clap value parser).
fn parse_deltas(s: &str) -> Result<Radii, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<f64>()
                .map_err(|_| format!("'{p}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    if v.is_empty() {
        return Err("empty list".into());
    }
    Ok(Radii(v))
}

/// Arguments of `generalization`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder written by `sgdstab train --export DIR` (its meta.json must name a built-in
    /// data set: the test set is regenerated from it).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Orders k >= 1: a list (1,2) or an inclusive range (1..3).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = "1,2", value_parser = parse_list)]
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
    #[arg(long = "deltas", value_name = "LIST", value_parser = parse_deltas, allow_negative_numbers = true)]
    deltas: Option<Radii>,
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
    /// Print one JSON document on stdout instead of the text.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Draw bound vs δ with the measurements (.svg or .png), atomically.
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    /// Exit with code 1 if a measured value exceeds its bound while the premise holds.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `generalization`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_orders(&a.order.0)?;
    if let Some(lr) = a.lr {
        sgdstab::analysis::check_lr(lr)?;
    }
    if let Some(p) = &a.plot {
        sgdstab::plots::ImageFormat::from_path(p).map_err(|_| {
            sgdstab::Error::parameter(
                "--plot",
                p.display(),
                "the image file must end in .svg or .png",
            )
        })?;
    }
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
    let ex = sgdstab::export::read_export(&a.dir)?;
    let spec = ex.meta.dataset_spec.ok_or_else(|| sgdstab::Error::InvalidInput {
        context: a.dir.join("meta.json").display().to_string(),
        message: "no dataset_spec: the test set is regenerated from a built-in data set's seed, and this export names none".into(),
    })?;
    if spec.kind != sgdstab::datasets::DatasetKind::Iris && spec.dim != ex.d() {
        anyhow::bail!(sgdstab::Error::InvalidInput {
            context: a.dir.join("meta.json").display().to_string(),
            message: format!(
                "dataset_spec.dim = {} but the inputs have d = {}",
                spec.dim,
                ex.d()
            ),
        });
    }
    let lr = a.lr.unwrap_or(ex.meta.lr);
    let batch = a.batch.unwrap_or(ex.meta.batch);
    sgdstab::BatchModel::new(ex.n(), batch, sgdstab::Sampling::WithoutReplacement)?;
    let dist = Distribution::new(&spec)?;
    let test = dist.test_set(a.test_n)?;
    let train = ex.dataset()?;
    let net = ex.network()?;
    let bar = Bar::new(a.quiet);
    let mut verdicts: BTreeMap<usize, Verdict> = BTreeMap::new();
    if !a.no_stability {
        let aopts = AnalyzeOptions::new(lr, batch, a.order.0.clone());
        let rep = analyze(&ex.grads, &aopts, None, &bar).map_err(|e| {
            anyhow::anyhow!(
                "{e} (the premise of Theorems 6 and 7 needs the analyzer; --no-stability skips it)"
            )
        })?;
        for o in &rep.orders {
            verdicts.insert(o.k, o.verdict);
        }
    }
    let inp = SectionFiveInput {
        model: &net,
        train: &train,
        test: &test,
        gradient_bound: dist.gradient_bound(),
        lr,
        batch,
    };
    let report = generalization(
        &inp,
        &opts,
        &|k| verdicts.get(&k).copied(),
        Some(a.dir.display().to_string()),
        &bar,
    )?;
    let json = sgdstab::report::to_json(&report)?;
    if !ex.meta.interpolated {
        eprintln!(
            "sgdstab: warning: the exported network did not reach interpolation (final loss {:.3e}); Theorem 6 assumes f(x_i) = y_i",
            ex.meta.final_loss
        );
    }
    if let Some(p) = &a.plot {
        let fig = sgdstab::plots::generalization::GeneralizationFigure {
            report: &report,
            title: format!("{} — {}", report.dataset, ex.meta.architecture_text),
        };
        sgdstab::plots::save(&fig, p)?;
    }
    if let Some(out) = &a.out {
        write_output(out, &json)?;
    }
    if a.json {
        print!("{json}");
    } else {
        print!("{}", sgdstab::generalization::text(&report));
    }
    if a.strict && !report.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
