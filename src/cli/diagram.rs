//! `sgdstab diagram`.

use super::common::{parse_list, write_output, Bar, GradsInput, List};
use sgdstab::diagram::{diagram, to_csv};
use sgdstab::plots::diagram::DiagramFigure;
use sgdstab::plots::ImageFormat;
use sgdstab::threshold::{MethodChoice, ThresholdOptions};
use sgdstab::{EigenBackend, Sampling};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `diagram`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: GradsInput,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "orders", visible_alias = "order", value_name = "K", default_value = "1..4", value_parser = parse_list)]
    orders: List,
    /// Batch sizes (a list or an inclusive range; default every B = 1..n).
    #[arg(long = "batches", value_name = "B", value_parser = parse_list)]
    batches: Option<List>,
    /// Sampling scheme: `without` replacement (default) or `with`.
    #[arg(long, value_name = "SCHEME", default_value = "without")]
    sampling: Sampling,
    /// Image file(s) to write, `.svg` or `.png` (repeat for both).
    #[arg(long = "out", value_name = "PATH.{svg,png}", required = true)]
    out: Vec<PathBuf>,
    /// The table as CSV (default: the first --out with extension .csv).
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    /// The table as JSON (default: the first --out with extension .json).
    #[arg(long = "json-out", value_name = "PATH")]
    json_out: Option<PathBuf>,
    /// `auto`, `linearization` or `bisection` (see `threshold`).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: MethodChoice,
    /// Largest companion matrix (rows) the linearization builds under `auto`.
    #[arg(long = "max-companion-rows", value_name = "ROWS", default_value_t = sgdstab::threshold::DEFAULT_MAX_COMPANION_ROWS)]
    max_companion_rows: usize,
    /// Relative rank tolerance τ (default max(n, w)·ε).
    #[arg(long = "rank-tol", value_name = "TAU")]
    rank_tol: Option<f64>,
    /// Dense eigensolver: faer, or lapack (needs the `lapack` feature).
    #[arg(long, value_name = "NAME", default_value_t = EigenBackend::default())]
    eigensolver: EigenBackend,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `diagram`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_orders(&a.orders.0)?;
    for p in &a.out {
        ImageFormat::from_path(p)?;
    }
    if !a.eigensolver.available() {
        anyhow::bail!(sgdstab::Error::parameter(
            "--eigensolver",
            a.eigensolver,
            "this build has no LAPACK; rebuild with `--features lapack`"
        ));
    }
    let first = a.out[0].clone();
    let csv = a.csv.clone().unwrap_or_else(|| first.with_extension("csv"));
    let json = a
        .json_out
        .clone()
        .unwrap_or_else(|| first.with_extension("json"));
    let grads = a.input.load()?;
    let batches = match &a.batches {
        Some(l) => l.0.clone(),
        None => (1..=grads.n()).collect(),
    };
    let opts = ThresholdOptions {
        method: a.method,
        backend: a.eigensolver,
        max_companion_rows: a.max_companion_rows,
        ..ThresholdOptions::default()
    };
    let bar = Bar::new(a.quiet);
    let report = diagram(
        &grads,
        &a.orders.0,
        &batches,
        a.sampling,
        a.rank_tol,
        &opts,
        Some(a.input.display()),
        &bar,
    )?;
    let json_text = sgdstab::report::to_json(&report)?;
    let fig = DiagramFigure { report: &report };
    for p in &a.out {
        sgdstab::plots::save(&fig, p)?;
    }
    write_output(&csv, &to_csv(&report))?;
    write_output(&json, &json_text)?;
    let mut written: Vec<String> = a.out.iter().map(|p| p.display().to_string()).collect();
    written.push(csv.display().to_string());
    written.push(json.display().to_string());
    println!(
        "sgdstab diagram: {} orders × {} batch sizes; wrote {}",
        report.orders.len(),
        report.batches.len(),
        written.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
