//! `sgdstab threshold`.

use super::common::{
    check_batch, check_orders, check_outputs, on_input, parse_list, print_warnings, Bar, List,
    OutputArgs, ProblemArgs, SolverArgs, DEFAULT_ORDERS,
};
use sgdstab::{MethodChoice, OperatorMethod, ThresholdOptions};
use std::process::ExitCode;

/// Arguments of `threshold`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab threshold grads.npy --batch 4 --order 1..3 --out thresholds.json"
)]
pub struct Args {
    #[command(flatten)]
    input: ProblemArgs,
    /// Batch size B, 1 <= B <= n.
    #[arg(long = "batch", value_name = "B")]
    batch: usize,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// `auto` (linearization up to --max-companion-rows, else bisection), `linearization` or
    /// `bisection`.
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: MethodChoice,
    /// Largest companion matrix (rows = j·D) the linearization builds under `auto`.
    #[arg(long = "max-companion-rows", value_name = "ROWS", default_value_t = sgdstab::threshold::DEFAULT_MAX_COMPANION_ROWS)]
    max_companion_rows: usize,
    // eigensolver, dense limit (beyond it every block takes the matrix-free scale path: η*_2 by
    // Lanczos on the C⁺D pencil, k >= 3 by bisection with Lanczos) and Lanczos tolerance
    #[command(flatten)]
    solver: SolverArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `threshold`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_orders(&a.order.0)?;
    check_batch(a.batch)?;
    a.output.check(None)?;
    check_outputs(&a.input.grads, &a.output.files())?;
    let opts = ThresholdOptions::default()
        .orders(a.order.0.clone())
        .method(a.method)
        .max_companion_rows(a.max_companion_rows)
        .solver(a.solver.solver(OperatorMethod::Auto));
    opts.validate()?;
    let bar = Bar::new(a.quiet);
    let problem = a.input.problem(&a.order.0, bar.hooks())?;
    let report = problem
        .thresholds(a.batch, &opts, bar.hooks())
        .map_err(|e| on_input(e, &a.input.grads))?;
    let json = sgdstab::report::to_json(&report).map_err(|e| on_input(e, &a.input.grads))?;
    print_warnings(&report.warnings, a.output.json);
    a.output
        .emit(&json, || sgdstab::report::threshold::threshold(&report))?;
    Ok(ExitCode::SUCCESS)
}
