//! `sgdstab demo`: the main job on built-in data, end to end ([`sgdstab::networks::pipeline::run_demo`]):
//! train a small network to interpolation, analyze it at the training (η, B), check Section 4,
//! simulate the linearised dynamics and the escape test, draw the (η, B) stability diagram, and
//! draw Figure 1 in kind from a small sweep. This file writes the results into one folder and
//! prints them.

use super::common::{check_lr, check_orders, parse_list, write_output, Bar, List, DEFAULT_ORDERS};
use super::sweep::write_sweep;
use super::train::summary;
use sgdstab::networks::pipeline::{run_demo, Demo, DemoOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  sgdstab demo --out-dir sgdstab-demo --order 1..3")]
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
    #[arg(long = "batch", value_name = "B", default_value_t = 4)]
    batch: usize,
    /// Orders analyzed (those <= 2 are also simulated and drawn in the diagram).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Networks per setting in the Figure 1 sweep.
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `demo`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    check_lr(a.lr)?;
    check_orders(&a.order.0)?;
    let dir = &a.out_dir;
    let net_dir = dir.join("network");
    let bar = Bar::new(a.quiet);
    let opts = DemoOptions {
        lr: a.lr,
        batch: a.batch,
        orders: a.order.0.clone(),
        seeds: a.seeds,
        ..DemoOptions::default()
    };
    let demo = run_demo(&opts, &net_dir, bar.hooks())?;
    let t = &demo.trained;
    // every file of the folder together or none
    let files = super::common::all_or_nothing(&[dir.as_path(), net_dir.as_path()], || {
        sgdstab::networks::export::write_export(&net_dir, &t.net, &t.data, &t.per_sample, &t.meta)?;
        let mut files = write_reports(dir, &demo)?;
        files.extend(write_sweep(dir, &demo.sweep)?);
        Ok(files)
    })?;
    out!("{}", summary(t));
    if !t.run.interpolated() {
        warn_line!("sgdstab: warning: the demo network did not reach interpolation; the analysis below is at a non-minimum");
    }
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
        let fig = sgdstab::plots::diagram::DiagramFigure { report: d };
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
        outln!("\nStability diagram η*_k(B) (exact; see stability.csv):");
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
    outln!("\nFigure 1 in kind ({} networks):", demo.sweep.runs.len());
    for c in &demo.sweep.correlations {
        outln!(
            "  {:?}: Pearson r(g_W, g_x) = {} over {} interpolated runs",
            c.panel,
            c.pearson.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.runs
        );
    }
    Ok(())
}
