//! `sgdstab demo`: the main job on real data, end to end ([`sgdstab::networks::pipeline::run_demo`]):
//! train a ReLU network on the handwritten digits to interpolation, analyze it at the training
//! (η, B), check Section 4, simulate the linearised dynamics and the escape test, draw the (η, B)
//! stability diagram with the training point marked, and draw Figure 1 in kind from a small
//! sweep. This file writes the results into one folder and prints them.

use super::common::{
    check_lr, check_orders, parse_floats, parse_list, write_output, Bar, FloatList, List,
    OutputArgs, DEFAULT_ORDERS,
};
use super::sweep::write_sweep;
use super::train::summary;
use sgdstab::networks::datasets::{DatasetKind, DatasetSpec};
use sgdstab::networks::pipeline::{
    run_demo, Demo, DemoOptions, NetworkSpec, DEMO_LOSS_THRESHOLD, DEMO_MAX_ITERATIONS,
    DEMO_POINTS, DEMO_STAGE_PREFIX,
};
use sgdstab::plots::diagram::{MarkedDiagramFigure, TrainingPoint};
use sgdstab::Progress;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The default: 64-64-64-1 relu on the first 500 digits training images, SGD η = 0.1, B = 20 to loss < 1e-6 (at most 60000 iterations), k = 1, 2, the diagram for k <= 2, and 16 networks for Figure 1 (η = 0.02,0.05,0.1,0.2 at B = 20; B = 5,10,20,50 at η = 0.1; 2 seeds). About 2 minutes on 2 cores.\n\nExamples:\n  sgdstab demo --out-dir sgdstab-demo\n  sgdstab demo --n 30 --hidden 16,16 --seeds 1 --json > demo.json"
)]
pub struct Args {
    /// Output folder (created if missing).
    #[arg(long = "out-dir", value_name = "DIR", default_value = "sgdstab-demo")]
    out_dir: PathBuf,
    /// Learning rate η of training and of the analysis.
    #[arg(
        long = "lr",
        value_name = "ETA",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    lr: f64,
    /// Batch size B of training and of the analysis.
    #[arg(long = "batch", value_name = "B", default_value_t = 20)]
    batch: usize,
    /// Orders analyzed (those <= 2 are also drawn in the diagram, and simulated when small).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Training images (the first N of the digits training rows, N <= 1000).
    #[arg(long = "n", value_name = "N", default_value_t = DEMO_POINTS)]
    n: usize,
    /// Hidden widths of the ReLU network.
    #[arg(long, value_name = "WIDTHS", default_value = "64,64", value_parser = parse_list)]
    hidden: List,
    /// Iteration cap of training and of each sweep run.
    #[arg(long = "max-iter", value_name = "N", default_value_t = DEMO_MAX_ITERATIONS)]
    max_iter: usize,
    /// Loss threshold of training and of the sweep, on (1/2n) Σ (f − y)².
    #[arg(long = "loss-threshold", value_name = "L", default_value_t = DEMO_LOSS_THRESHOLD, allow_negative_numbers = true)]
    loss_threshold: f64,
    /// Networks per setting in the Figure 1 sweep.
    #[arg(long, value_name = "N", default_value_t = 2)]
    seeds: u64,
    /// Learning rates of the sweep's first panel (at --batch).
    #[arg(long = "sweep-lrs", value_name = "ETAS", default_value = "0.02,0.05,0.1,0.2", value_parser = parse_floats, allow_negative_numbers = true)]
    sweep_lrs: FloatList,
    /// Batch sizes of the sweep's second panel (at --lr).
    #[arg(long = "sweep-batches", value_name = "BS", default_value = "5,10,20,50", value_parser = parse_list)]
    sweep_batches: List,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

/// Progress of the demo: its stages as lines on stderr as they start (with the time since the
/// start), everything else to the usual bar or lines.
struct DemoProgress {
    bar: Bar,
    quiet: bool,
    start: Instant,
    /// The `end` of a stage announcement is not passed on.
    in_stage: AtomicBool,
}

impl Progress for DemoProgress {
    fn begin(&self, label: &str, total: u64) {
        if label.starts_with(DEMO_STAGE_PREFIX) {
            self.in_stage.store(true, Ordering::Relaxed);
            if !self.quiet {
                warn_line!(
                    "sgdstab: {label} ({:.1} s)",
                    self.start.elapsed().as_secs_f64()
                );
            }
            return;
        }
        self.bar.begin(label, total);
    }

    fn advance(&self, steps: u64, message: &str) {
        self.bar.advance(steps, message);
    }

    fn end(&self) {
        if self.in_stage.swap(false, Ordering::Relaxed) {
            return;
        }
        self.bar.end();
    }
}

impl Args {
    fn options(&self) -> DemoOptions {
        let defaults = DemoOptions::default();
        DemoOptions {
            network: NetworkSpec {
                data: DatasetSpec {
                    kind: DatasetKind::Digits,
                    n: self.n,
                    ..defaults.network.data
                },
                hidden: self.hidden.0.clone(),
                max_iterations: self.max_iter,
                loss_threshold: self.loss_threshold,
                ..defaults.network.clone()
            },
            lr: self.lr,
            batch: self.batch,
            orders: self.order.0.clone(),
            seeds: self.seeds,
            sweep_lrs: self.sweep_lrs.0.clone(),
            sweep_batches: self.sweep_batches.0.clone(),
            ..defaults
        }
    }
}

/// Runs `demo`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    check_lr(a.lr)?;
    check_orders(&a.order.0)?;
    a.output.check(Some("--out-dir"))?;
    let dir = &a.out_dir;
    let net_dir = dir.join("network");
    let progress = DemoProgress {
        bar: Bar::new(a.quiet),
        quiet: a.quiet,
        start,
        in_stage: AtomicBool::new(false),
    };
    let opts = a.options();
    let demo = run_demo(&opts, &net_dir, sgdstab::Hooks::progress(&progress))?;
    let t = &demo.trained;
    let json = sgdstab::report::to_json(&demo.report())?;
    // every file of the folder (and --out) together or none
    let files = super::common::all_or_nothing(&[dir.as_path(), net_dir.as_path()], || {
        sgdstab::networks::export::write_export(&net_dir, &t.net, &t.data, &t.per_sample, &t.meta)?;
        let mut files = write_reports(dir, &demo)?;
        files.extend(write_sweep(dir, &demo.sweep)?);
        let p = dir.join("demo.json");
        write_output(&p, &json)?;
        files.push(p);
        if let Some(out) = &a.output.out {
            write_output(out, &json)?;
        }
        Ok(files)
    })?;
    if !t.run.interpolated() {
        warn_line!("sgdstab: warning: the demo network did not reach interpolation; the analysis below is at a non-minimum");
    }
    if a.output.json {
        out!("{json}");
    } else {
        out!("{}", summary(t));
        outln!("  exported to {}\n", net_dir.display());
        print_reports(&demo)?;
        outln!("\nwrote:");
        for f in files {
            outln!("  {}", f.display());
        }
        outln!(
            "  {} (grads.npy, xgrads.npy, x.npy, y.npy, outputs.npy, w1.npy, params.npy, meta.json)",
            net_dir.display()
        );
        outln!("demo finished in {:.1} s", start.elapsed().as_secs_f64());
    }
    if !a.quiet {
        warn_line!(
            "sgdstab: demo finished in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the JSON reports, the diagram's CSV and pictures; returns the files.
fn write_reports(dir: &Path, demo: &Demo) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (name, json) in [
        ("report.json", sgdstab::report::to_json(&demo.analysis)?),
        ("sobolev.json", sgdstab::report::to_json(&demo.sobolev)?),
        ("simulate.json", sgdstab::report::to_json(&demo.simulate)?),
    ] {
        write_output(&dir.join(name), &json)?;
        files.push(dir.join(name));
    }
    if let Some(d) = &demo.diagram {
        let fig = MarkedDiagramFigure {
            report: d,
            training: TrainingPoint {
                lr: demo.trained.meta.lr,
                batch: demo.trained.meta.batch,
            },
        };
        for name in ["stability.png", "stability.svg"] {
            sgdstab::plots::save(&fig, &dir.join(name))?;
            files.push(dir.join(name));
        }
        write_output(
            &dir.join("stability.csv"),
            &sgdstab::threshold::diagram::to_csv(d),
        )?;
        write_output(&dir.join("stability.json"), &sgdstab::report::to_json(d)?)?;
        files.push(dir.join("stability.csv"));
        files.push(dir.join("stability.json"));
    }
    Ok(files)
}

/// The reports as text on stdout.
fn print_reports(demo: &Demo) -> anyhow::Result<()> {
    out!("{}", sgdstab::report::text::analysis(&demo.analysis));
    outln!();
    out!("{}", sgdstab::networks::sobolev::text(&demo.sobolev));
    outln!();
    out!("{}", sgdstab::networks::simulate::text(&demo.simulate));
    if let Some(d) = &demo.diagram {
        outln!(
            "\nStability diagram η*_k(B) (exact; see stability.csv; the training point η = {}, B = {} is marked in stability.png):",
            demo.trained.meta.lr,
            demo.trained.meta.batch
        );
        for k in &d.orders {
            let cells: Vec<String> = d
                .rows
                .iter()
                .filter(|row| row.k == *k)
                .map(|row| {
                    format!(
                        "B={}: {}",
                        row.batch,
                        row.lr_threshold
                            .map_or("∞".to_string(), sgdstab::report::text::num)
                    )
                })
                .collect();
            outln!("  k={k}: {}", cells.join(", "));
        }
    }
    let sw = &demo.sweep;
    outln!(
        "\nFigure 1 in kind ({} networks {} on {}, to loss < {:.0e} within {} iterations):",
        sw.runs.len(),
        sw.architecture,
        sw.dataset,
        sw.loss_threshold,
        sw.max_iterations
    );
    for c in &sw.correlations {
        outln!(
            "  {:<9}: Pearson r(g_W, g_x) = {}, log-log r = {} over {} interpolated runs",
            c.panel.short(),
            c.pearson.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.pearson_log.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.runs
        );
    }
    for t in &sw.trends {
        outln!(
            "  {:<9}: Spearman of g_W, g_x against {} = {}, {} (the paper: {})",
            t.panel.short(),
            t.varied,
            t.spearman_g_w.map_or("n/a".into(), |p| format!("{p:+.3}")),
            t.spearman_g_x.map_or("n/a".into(), |p| format!("{p:+.3}")),
            if t.paper_sign < 0 {
                "negative"
            } else {
                "positive"
            }
        );
    }
    if sw.not_converged.is_empty() {
        outln!("  every run reached the threshold");
    } else {
        outln!(
            "  {} runs did NOT reach the threshold (left out; listed in sweep.json):",
            sw.not_converged.len()
        );
        for x in &sw.not_converged {
            outln!(
                "    η = {}, B = {}, seed {}: {} after {} iterations, loss {}",
                x.lr,
                x.batch,
                x.seed,
                x.stop.name(),
                x.iterations,
                x.final_loss
                    .map_or("non-finite".into(), |v| format!("{v:.2e}"))
            );
        }
    }
    Ok(())
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
    fn flag_defaults_are_the_library_defaults() {
        let a = Wrap::parse_from(["demo"]).args;
        assert_eq!(a.options(), DemoOptions::default());
        assert_eq!(
            a.hidden.0,
            sgdstab::networks::pipeline::DEMO_HIDDEN.to_vec()
        );
    }
}
