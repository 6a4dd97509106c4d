//! `sgdstab diagram`.

use super::common::{
    all_or_nothing, check_orders, check_outputs, check_plots, on_input, parse_list, write_output,
    Bar, List, OutputArgs, ProblemArgs, SolverArgs, DEFAULT_ORDERS,
};
use sgdstab::plots::diagram::DiagramFigure;
use sgdstab::threshold::diagram::to_csv;
use sgdstab::{DiagramOptions, MethodChoice, OperatorMethod};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `diagram`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab diagram grads.npy --order 1..3 --batches 1..16 --plot eta_B.svg --plot eta_B.png --csv eta_B.csv --out eta_B.json"
)]
pub struct Args {
    #[command(flatten)]
    input: ProblemArgs,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// Batch sizes (a list or an inclusive range; default every B = 1..n).
    #[arg(long = "batches", value_name = "B", value_parser = parse_list)]
    batches: Option<List>,
    /// The figure, `.svg` or `.png` (repeat for both).
    #[arg(long = "plot", value_name = "FILE.{svg,png}")]
    plot: Vec<PathBuf>,
    /// The table as CSV.
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    /// `auto`, `linearization` or `bisection` (see `threshold`).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: MethodChoice,
    /// Largest companion matrix (rows) the linearization builds under `auto`.
    #[arg(long = "max-companion-rows", value_name = "ROWS", default_value_t = sgdstab::threshold::DEFAULT_MAX_COMPANION_ROWS)]
    max_companion_rows: usize,
    #[command(flatten)]
    solver: SolverArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `diagram`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.order.0)?;
    check_plots(&a.plot)?;
    a.output.check(Some("--plot"))?;
    let mut outputs = a.output.files();
    outputs.extend(a.plot.iter().map(|p| ("--plot", p.as_path())));
    outputs.extend(a.csv.iter().map(|p| ("--csv", p.as_path())));
    check_outputs(&a.input.grads, &outputs)?;
    let mut opts = DiagramOptions::default()
        .orders(a.order.0.clone())
        .method(a.method)
        .max_companion_rows(a.max_companion_rows)
        .solver(a.solver.solver(OperatorMethod::Auto));
    if let Some(b) = &a.batches {
        opts = opts.batches(b.0.clone());
    }
    opts.validate()?;
    let bar = Bar::new(a.quiet);
    let problem = a.input.problem(&a.order.0, bar.hooks())?;
    let report = problem
        .diagram(&opts, bar.hooks())
        .map_err(|e| on_input(e, &a.input.grads))?;
    let json = sgdstab::report::to_json(&report).map_err(|e| on_input(e, &a.input.grads))?;
    let fig = DiagramFigure { report: &report };
    all_or_nothing(&[], || {
        for p in &a.plot {
            sgdstab::plots::save(&fig, p)?;
        }
        if let Some(csv) = &a.csv {
            write_output(csv, &to_csv(&report))?;
        }
        if let Some(out) = &a.output.out {
            write_output(out, &json)?;
        }
        Ok(())
    })?;
    a.output
        .print(&json, || sgdstab::report::threshold::diagram(&report))?;
    let written: Vec<String> = a
        .plot
        .iter()
        .chain(&a.csv)
        .chain(&a.output.out)
        .map(|p| p.display().to_string())
        .collect();
    if !written.is_empty() && !a.output.json {
        outln!("wrote {}", written.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
