//! `sgdstab sweep`: Figure 1 and Table 1 in kind.

use super::common::{parse_floats, parse_list, write_output, Bar, FloatList, List, OutputArgs};
use super::train::NetArgs;
use sgdstab::networks::sweep::{scatter, sweep, Panel, SweepOptions, SweepReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `sweep`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab sweep --lrs 0.02,0.1,0.3 --batches 1,4,16 --seeds 3 --out-dir sweep"
)]
pub struct Args {
    #[command(flatten)]
    net: NetArgs,
    /// Learning rates of the first panel (batch size --batch).
    #[arg(long, value_name = "ETAS", default_value = "0.02,0.05,0.1,0.2,0.3", value_parser = parse_floats, allow_negative_numbers = true)]
    lrs: FloatList,
    /// Batch size of the learning-rate panel.
    #[arg(long = "batch", value_name = "B", default_value_t = 4)]
    batch: usize,
    /// Batch sizes of the second panel (learning rate --lr).
    #[arg(long, value_name = "BS", default_value = "1,2,4,8,16", value_parser = parse_list)]
    batches: List,
    /// Learning rate of the batch-size panel.
    #[arg(
        long = "lr",
        value_name = "ETA",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    lr: f64,
    /// Networks per setting (init seeds 0..N).
    #[arg(long, value_name = "N", default_value_t = 6)]
    seeds: u64,
    /// Checkpoints of the ‖W_1‖_2 table.
    #[arg(long, value_name = "ITERS", default_value = "0,100,1000,10000,20000,50000", value_parser = parse_list)]
    checkpoints: List,
    /// Output folder for sweep.json and the scatter plots (PNG + SVG).
    #[arg(long = "out-dir", value_name = "DIR", default_value = "sgdstab-sweep")]
    out_dir: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Writes `sweep.json` and the two scatter plots (PNG + SVG) into `dir`; returns the files.
pub fn write_sweep(dir: &Path, report: &SweepReport) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| sgdstab::Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = sgdstab::report::to_json(report)?;
    let mut files = Vec::new();
    for (panel, stem) in [
        (Panel::LearningRate, "scatter_lr"),
        (Panel::BatchSize, "scatter_batch"),
    ] {
        if !report.runs.iter().any(|r| r.panel == panel) {
            continue;
        }
        let fig = scatter(report, panel);
        for ext in ["png", "svg"] {
            let p = dir.join(format!("{stem}.{ext}"));
            sgdstab::plots::save(&fig, &p)?;
            files.push(p);
        }
    }
    let p = dir.join("sweep.json");
    write_output(&p, &json)?;
    files.push(p);
    Ok(files)
}

/// Runs `sweep`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    a.output.check(Some("--out-dir"))?;
    let spec = a.net.spec();
    let data = sgdstab::networks::datasets::generate(&spec.data)?;
    let opts = SweepOptions {
        data: spec.data,
        architecture: spec.architecture(data.d)?,
        lrs: a.lrs.0.clone(),
        fixed_batch: a.batch,
        batches: a.batches.0.clone(),
        fixed_lr: a.lr,
        seeds: (0..a.seeds).collect(),
        max_iterations: a.net.max_iter,
        loss_threshold: a.net.loss_threshold,
        checkpoints: a.checkpoints.0.clone(),
    };
    // the batch-size panel's η is --lr (the library checks it among the learning rates)
    super::common::check_lr(a.lr)?;
    sgdstab::networks::sweep::check_options(&opts)?;
    let bar = Bar::new(a.quiet);
    let report = sweep(&opts, &bar)?;
    let json = sgdstab::report::to_json(&report)?;
    let files = super::common::all_or_nothing(&[a.out_dir.as_path()], || {
        let files = write_sweep(&a.out_dir, &report)?;
        if let Some(out) = &a.output.out {
            super::common::write_output(out, &json)?;
        }
        Ok(files)
    })?;
    a.output.print(&json, || {
        let mut s = sgdstab::networks::sweep::text(&report);
        s.push_str("\nwrote:\n");
        for f in &files {
            s.push_str(&format!("  {}\n", f.display()));
        }
        s
    })?;
    Ok(ExitCode::SUCCESS)
}
