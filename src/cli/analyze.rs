//! `sgdstab analyze`.

use super::common::{
    check_batch, check_lr, check_orders, check_outputs, on_input, parse_list, print_warnings, Bar,
    List, OutputArgs, ProblemArgs, SolverArgs, DEFAULT_ORDERS,
};
use sgdstab::{AnalyzeOptions, OperatorMethod};
use std::process::ExitCode;

/// Arguments of `analyze`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sgdstab analyze grads.npy --lr 0.1 --batch 4 --order 1..3 --json"
)]
pub struct Args {
    #[command(flatten)]
    input: ProblemArgs,
    /// Learning rate η > 0 (of the loss (1/2n) Σ (f − y)²; PyTorch's MSELoss step lr is η/2).
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: f64,
    /// Batch size B, 1 <= B <= n.
    #[arg(long = "batch", value_name = "B")]
    batch: usize,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = DEFAULT_ORDERS, value_parser = parse_list)]
    order: List,
    /// How to compute each block T_j: `auto` (dense when D <= --max-dense-dim and it fits in
    /// memory, else matrix-free: the clustered solver for j = 2, block Davidson for j ≥ 3),
    /// `dense`, `matrix-free` (Lanczos), `clustered` (certified enclosure of λ_max(T_2) for
    /// j = 2) or `davidson` (block Davidson, certified lower bound on λ_max, j ≥ 3).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: OperatorMethod,
    #[command(flatten)]
    solver: SolverArgs,
    /// Iteration limit of the Theorem 1 cone power iteration (even k); default 5000 on dense
    /// blocks, 300 on matrix-free ones; 0 skips the check.
    #[arg(long = "cone-max-iter", value_name = "N")]
    cone_max_iter: Option<usize>,
    /// Relative residual at which the cone iteration stops.
    #[arg(long = "cone-tol", value_name = "TOL", default_value = "1e-10")]
    cone_tol: f64,
    /// Include every eigenvalue of every block in the JSON.
    #[arg(long)]
    spectrum: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Exit with code 1 if a consistency check fails (a theorem's implication is violated).
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `analyze`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    check_lr(a.lr)?;
    check_orders(&a.order.0)?;
    check_batch(a.batch)?;
    a.output.check(None)?;
    check_outputs(&a.input.grads, &a.output.files())?;
    let opts = AnalyzeOptions::default()
        .orders(a.order.0.clone())
        .full_spectrum(a.spectrum)
        .cone_tolerance(a.cone_tol)
        .cone_max_iterations(a.cone_max_iter)
        .solver(a.solver.solver(a.method));
    opts.validate()?;
    let bar = Bar::new(a.quiet);
    // a network bundle: its parameter gradients
    let mut a = a;
    if a.input.grads.is_dir() {
        a.input.grads = sgdstab::io::bundle::gradient_file(&a.input.grads)?;
    }
    let problem = a.input.problem(&a.order.0, bar.hooks())?;
    let report = problem
        .analyze(a.lr, a.batch, &opts, bar.hooks())
        .map_err(|e| on_input(e, &a.input.grads))?;
    let json = sgdstab::report::to_json(&report).map_err(|e| on_input(e, &a.input.grads))?;
    print_warnings(&report.warnings, a.output.json);
    a.output
        .emit(&json, || sgdstab::report::text::analysis(&report))?;
    if a.strict && !report.consistency.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
