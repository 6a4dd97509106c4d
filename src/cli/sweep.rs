//! `sgdstab sweep`: Figure 1 and Table 1 in kind.

use super::common::{parse_floats, parse_list, write_output, Bar, FloatList, List, OutputArgs};
use sgdstab::networks::datasets::{DatasetKind, DatasetSpec};
use sgdstab::networks::network::{Activation, Architecture};
use sgdstab::networks::sweep::{scatter, sweep, Panel, SweepOptions, SweepPreset, SweepReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `sweep`. Flags left out take the data set's preset
/// ([`SweepPreset::for_dataset`]): the small torus setting, or with `--dataset digits` the
/// paper's Figure 1 (a) setting.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Defaults per data set (a flag given overrides its default):\n  \
    torus, circle, thick-torus, gaussian, iris: 8-32-1 tanh on n = 16 points (d = 8), η = 0.02,0.05,0.1,0.2,0.3 at B = 4, \
    B = 1,2,4,8,16 at η = 0.1, 6 seeds, loss < 1e-12, at most 200000 iterations per run\n  \
    digits: 64-128-128-1 relu on the n = 1000 training images, η = 0.01,0.02,0.05,0.1,0.2,0.3 at B = 20, \
    B = 2,5,10,20,50,100 at η = 0.1, 3 seeds, loss < 1e-5, at most 100000 iterations per run \
    (runs that hit the cap are listed as not converged)\n\n\
    Examples:\n  sgdstab sweep --dataset digits --out-dir sweep-digits\n  \
    sgdstab sweep --lrs 0.02,0.1,0.3 --batches 1,4,16 --seeds 3 --out-dir sweep"
)]
pub struct Args {
    /// Built-in data set: circle, torus, thick-torus, gaussian, iris or digits (sets the
    /// defaults below).
    #[arg(long, value_name = "NAME", default_value = "torus")]
    dataset: DatasetKind,
    /// Number of training points n [default: 16; digits: 1000].
    #[arg(long = "n", value_name = "N")]
    n: Option<usize>,
    /// Ambient input dimension d (synthetic sets).
    #[arg(long = "dim", value_name = "D", default_value_t = 8)]
    dim: usize,
    /// Seed of the data set (synthetic sets).
    #[arg(long = "data-seed", value_name = "SEED", default_value_t = 0)]
    data_seed: u64,
    /// Hidden widths [default: 32; digits: 128,128].
    #[arg(long, value_name = "WIDTHS", value_parser = parse_list)]
    hidden: Option<List>,
    /// Activation: tanh, relu, softplus or gelu [default: tanh; digits: relu].
    #[arg(long, value_name = "NAME")]
    activation: Option<Activation>,
    /// Iteration cap per run [default: 200000; digits: 100000].
    #[arg(long = "max-iter", value_name = "N")]
    max_iter: Option<usize>,
    /// Loss threshold of a converged run, on (1/2n) Σ (f − y)² [default: 1e-12; digits: 1e-5].
    #[arg(
        long = "loss-threshold",
        value_name = "L",
        allow_negative_numbers = true
    )]
    loss_threshold: Option<f64>,
    /// Learning rates of the first panel (batch size --batch) [default: 0.02,0.05,0.1,0.2,0.3;
    /// digits: 0.01,0.02,0.05,0.1,0.2,0.3].
    #[arg(long, value_name = "ETAS", value_parser = parse_floats, allow_negative_numbers = true)]
    lrs: Option<FloatList>,
    /// Batch size of the learning-rate panel [default: 4; digits: 20].
    #[arg(long = "batch", value_name = "B")]
    batch: Option<usize>,
    /// Batch sizes of the second panel (learning rate --lr) [default: 1,2,4,8,16; digits:
    /// 2,5,10,20,50,100].
    #[arg(long, value_name = "BS", value_parser = parse_list)]
    batches: Option<List>,
    /// Learning rate of the batch-size panel [default: 0.1].
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Networks per setting (init seeds 0..N) [default: 6; digits: 3].
    #[arg(long, value_name = "N")]
    seeds: Option<u64>,
    /// Checkpoints of the ‖W_1‖_2 table [default: 0,100,1000,10000,20000,50000].
    #[arg(long, value_name = "ITERS", value_parser = parse_list)]
    checkpoints: Option<List>,
    /// Output folder for sweep.json and the scatter plots (PNG + SVG).
    #[arg(long = "out-dir", value_name = "DIR", default_value = "sgdstab-sweep")]
    out_dir: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

impl Args {
    /// The library options: each flag given, else the data set's preset.
    fn options(&self) -> anyhow::Result<SweepOptions> {
        let p = SweepPreset::for_dataset(self.dataset);
        let data = DatasetSpec {
            kind: self.dataset,
            n: self.n.unwrap_or(p.n),
            dim: self.dim,
            seed: self.data_seed,
        };
        let d = self.dataset.fixed_dim().unwrap_or(self.dim);
        let hidden = self.hidden.as_ref().map_or(p.hidden, |h| h.0.clone());
        Ok(SweepOptions {
            data,
            architecture: Architecture::new(d, hidden, self.activation.unwrap_or(p.activation))?,
            lrs: self.lrs.as_ref().map_or(p.lrs, |l| l.0.clone()),
            fixed_batch: self.batch.unwrap_or(p.fixed_batch),
            batches: self.batches.as_ref().map_or(p.batches, |b| b.0.clone()),
            fixed_lr: self.lr.unwrap_or(p.fixed_lr),
            seeds: (0..self.seeds.unwrap_or(p.seeds)).collect(),
            max_iterations: self.max_iter.unwrap_or(p.max_iterations),
            loss_threshold: self.loss_threshold.unwrap_or(p.loss_threshold),
            checkpoints: self
                .checkpoints
                .as_ref()
                .map_or(p.checkpoints, |c| c.0.clone()),
        })
    }
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
    let start = Instant::now();
    a.output.check(Some("--out-dir"))?;
    let opts = a.options()?;
    // the batch-size panel's η is --lr (the library checks it among the learning rates)
    super::common::check_lr(opts.fixed_lr)?;
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
    if !a.quiet {
        warn_line!(
            "sgdstab: sweep: {} runs in {:.1} s on {} threads",
            report.runs.len(),
            start.elapsed().as_secs_f64(),
            rayon::current_num_threads()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flag_defaults_are_the_presets() {
        let torus = Wrap::parse_from(["sweep"]).args.options().unwrap();
        let net = sgdstab::networks::pipeline::NetworkSpec::default();
        assert_eq!(torus.data, net.data);
        assert_eq!(torus.architecture, net.architecture(8).unwrap());
        assert_eq!(torus.seeds.len(), 6);
        let digits = Wrap::parse_from(["sweep", "--dataset", "digits"])
            .args
            .options()
            .unwrap();
        assert_eq!(digits.architecture.describe(), "64-128-128-1 relu");
        assert_eq!(digits.data.n, 1000);
        assert_eq!((digits.fixed_batch, digits.fixed_lr), (20, 0.1));
        assert_eq!(
            digits.max_iterations,
            sgdstab::networks::sweep::DIGITS_MAX_ITERATIONS
        );
        // a flag given wins over the preset
        let small =
            Wrap::parse_from(["sweep", "--dataset", "digits", "--n", "40", "--hidden", "8"])
                .args
                .options()
                .unwrap();
        assert_eq!(
            (small.data.n, small.architecture.describe()),
            (40, "64-8-1 relu".to_string())
        );
    }
}
