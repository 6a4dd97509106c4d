//! `sgdstab demo`: the main job on built-in data, end to end — train a small network to
//! interpolation, analyze k = 1..4 at the training (η, B), check Section 4, simulate the
//! linearised dynamics and the escape test, draw the (η, B) stability diagram, and draw Figure 1
//! in kind from a small sweep.
//! Everything goes into one output folder.

use super::common::{write_output, Bar};
use super::sweep::write_sweep;
use super::train::{summary, train_network, NetArgs};
use clap::Parser;
use sgdstab::analysis::{analyze, AnalyzeOptions};
use sgdstab::sobolev::{sobolev, SobolevInput};
use sgdstab::sweep::{sweep, SweepOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
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
    /// Orders analyzed.
    #[arg(long = "order", value_name = "K", default_value = "1..4", value_parser = super::common::parse_list)]
    order: super::common::List,
    /// Networks per setting in the Figure 1 sweep.
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// The network and data of the demo: `train`'s defaults (a 2-torus rotated into R^8, n = 16,
/// 8-32-1 tanh), so that r <= 16 and the dense T_4 has D = C(19, 4) = 3876.
fn demo_net() -> NetArgs {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        net: NetArgs,
    }
    // invariant: the defaults of NetArgs parse
    Wrap::parse_from(["demo"]).net
}

/// Runs `demo`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    sgdstab::analysis::check_lr(a.lr)?;
    sgdstab::analysis::check_orders(&a.order.0)?;
    let net = demo_net();
    let dir = &a.out_dir;
    let bar = Bar::new(a.quiet);

    // 1. train to interpolation and export
    let t = train_network(&net, a.lr, a.batch, 0, 0, &bar)?;
    print!("{}", summary(&t));
    if !t.run.interpolated() {
        eprintln!("sgdstab: warning: the demo network did not reach interpolation; the analysis below is at a non-minimum");
    }
    let net_dir = dir.join("network");
    sgdstab::export::write_export(&net_dir, &t.net, &t.data, &t.per_sample, &t.meta)?;
    println!("  exported to {}\n", net_dir.display());

    // 2. the analysis at the training (η, B)
    let grads = t.per_sample.gradients()?;
    // The cone check (Theorem 1's literal condition) converges slowly when the top of the
    // spectrum is clustered, as here at the edge of stability; 500 iterations keep the demo short
    // (`sgdstab analyze` runs 5000 by default) and the report says whether it converged.
    let mut opts = AnalyzeOptions::new(a.lr, a.batch, a.order.0.clone());
    opts.cone.max_iterations = Some(500);
    let report = analyze(
        &grads,
        &opts,
        Some(net_dir.join("grads.npy").display().to_string()),
        &bar,
    )?;
    print!("{}", sgdstab::report::text::analysis(&report));
    write_output(
        &dir.join("report.json"),
        &sgdstab::report::to_json(&report)?,
    )?;

    // 3. Section 4 with the analyzer's verdicts as Theorem 3's premise
    let inp = SobolevInput {
        x: &t.data.x,
        xgrads: &t.per_sample.input_grads,
        grads: &grads,
        w1: t.net.w1(),
        d: t.data.d,
        m: t.net.architecture().first_width(),
    };
    let verdict = |k: usize| report.orders.iter().find(|o| o.k == k).map(|o| o.verdict);
    let sob = sobolev(
        &inp,
        &a.order.0,
        a.lr,
        a.batch,
        &verdict,
        Some(net_dir.display().to_string()),
    )?;
    println!();
    print!("{}", sgdstab::sobolev::text(&sob));
    write_output(&dir.join("sobolev.json"), &sgdstab::report::to_json(&sob)?)?;

    // 4. the linearised dynamics by Monte Carlo against ρ_k, and the nonlinear escape test
    let orders_sim: Vec<usize> = a.order.0.iter().copied().filter(|&k| k <= 2).collect();
    let mut linear = Vec::new();
    for &k in &orders_sim {
        linear.push(sgdstab::simulate::simulate_linear(
            &grads,
            &sgdstab::simulate::LinearOptions {
                lr: a.lr,
                batch: a.batch,
                sampling: sgdstab::Sampling::WithoutReplacement,
                k,
                paths: 4000,
                window_start: 100,
                window_end: 200,
                seed: 0,
            },
        )?);
    }
    let escape = sgdstab::simulate::escape_test(
        &t.net,
        &t.data,
        &sgdstab::simulate::EscapeOptions {
            lr: a.lr,
            batch: a.batch,
            perturbation: 0.05,
            steps: 5000,
            trials: 8,
            seed: 0,
        },
    )?;
    let sim = sgdstab::simulate::SimulateReport {
        schema_version: sgdstab::simulate::SIMULATE_SCHEMA_VERSION,
        command: "simulate",
        tool_version: env!("CARGO_PKG_VERSION"),
        input: Some(net_dir.display().to_string()),
        lr: a.lr,
        batch: a.batch,
        sampling: sgdstab::Sampling::WithoutReplacement,
        seed: 0,
        analyzer: report
            .orders
            .iter()
            .filter(|o| o.k <= 2)
            .map(|o| sgdstab::simulate::VerdictSummary {
                k: o.k,
                reduced_radius: o.reduced_radius,
                verdict: o.verdict,
            })
            .collect(),
        linear,
        escape: Some(escape),
    };
    println!();
    print!("{}", sgdstab::simulate::text(&sim));
    write_output(&dir.join("simulate.json"), &sgdstab::report::to_json(&sim)?)?;

    // 5. the (η, B) stability diagram: η*_k(B) for k <= 2 over B = 1, 2, 4, …, n (k = 3 has
    //    D = 816 here and needs a 2448-row companion matrix per batch size, about a minute on
    //    2 cores: `sgdstab diagram --orders 1..4` does it)
    let diag_orders: Vec<usize> = a.order.0.iter().copied().filter(|&k| k <= 2).collect();
    let mut diagram_files = Vec::new();
    if !diag_orders.is_empty() {
        let batches: Vec<usize> = std::iter::successors(Some(1usize), |b| Some(b * 2))
            .take_while(|&b| b <= grads.n())
            .collect();
        let dreport = sgdstab::diagram::diagram(
            &grads,
            &diag_orders,
            &batches,
            sgdstab::Sampling::WithoutReplacement,
            None,
            &sgdstab::threshold::ThresholdOptions::default(),
            Some(net_dir.join("grads.npy").display().to_string()),
            &bar,
        )?;
        println!(
            "
Stability diagram η*_k(B) (exact; see stability.csv):"
        );
        for k in &dreport.orders {
            let cells: Vec<String> = dreport
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
            println!("  k={k}: {}", cells.join(", "));
        }
        let fig = sgdstab::plots::diagram::DiagramFigure { report: &dreport };
        for name in ["stability.png", "stability.svg"] {
            sgdstab::plots::save(&fig, &dir.join(name))?;
            diagram_files.push(dir.join(name));
        }
        write_output(
            &dir.join("stability.csv"),
            &sgdstab::diagram::to_csv(&dreport),
        )?;
        write_output(
            &dir.join("stability.json"),
            &sgdstab::report::to_json(&dreport)?,
        )?;
        diagram_files.push(dir.join("stability.csv"));
        diagram_files.push(dir.join("stability.json"));
    }

    // 6. Figure 1 in kind: a small sweep over η (B fixed) and over B (η fixed)
    let sw = SweepOptions {
        data: net.spec(),
        architecture: t.net.architecture().clone(),
        lrs: vec![0.02, 0.05, 0.1, 0.2, 0.3],
        fixed_batch: a.batch,
        batches: vec![1, 2, 4, 8, 16],
        fixed_lr: a.lr,
        seeds: (0..a.seeds).collect(),
        max_iterations: net.max_iter,
        loss_threshold: net.loss_threshold,
        checkpoints: sgdstab::training::TABLE1_CHECKPOINTS.to_vec(),
    };
    let sweep_report = sweep(&sw, &bar)?;
    let files = write_sweep(dir, &sweep_report)?;
    println!("\nFigure 1 in kind ({} networks):", sweep_report.runs.len());
    for c in &sweep_report.correlations {
        println!(
            "  {:?}: Pearson r(g_W, g_x) = {} over {} interpolated runs",
            c.panel,
            c.pearson.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.runs
        );
    }
    println!("\nwrote:");
    for f in [
        dir.join("report.json"),
        dir.join("sobolev.json"),
        dir.join("simulate.json"),
    ]
    .into_iter()
    .chain(diagram_files)
    .chain(files)
    {
        println!("  {}", f.display());
    }
    println!(
        "  {} (grads.npy, xgrads.npy, x.npy, y.npy, outputs.npy, w1.npy, params.npy, meta.json)",
        net_dir.display()
    );
    println!("demo finished in {:.1} s", start.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
