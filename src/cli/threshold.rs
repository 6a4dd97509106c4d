//! `sgdstab threshold`.

use super::common::{parse_list, write_output, Bar, GradsInput, List};
use sgdstab::threshold::{threshold_report, MethodChoice, ThresholdOptions};
use sgdstab::{EigenBackend, Sampling};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `threshold`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: GradsInput,
    /// Batch size B, 1 <= B <= n.
    #[arg(long = "batch", value_name = "B")]
    batch: usize,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = "1,2", value_parser = parse_list)]
    order: List,
    /// Sampling scheme: `without` replacement (default, the paper's eq. 15) or `with`.
    #[arg(long, value_name = "SCHEME", default_value = "without")]
    sampling: Sampling,
    /// `auto` (linearization up to --max-companion-rows, else bisection), `linearization` or
    /// `bisection`.
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: MethodChoice,
    /// Largest companion matrix (rows = j·D) the linearization builds under `auto`.
    #[arg(long = "max-companion-rows", value_name = "ROWS", default_value_t = sgdstab::threshold::DEFAULT_MAX_COMPANION_ROWS)]
    max_companion_rows: usize,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Relative rank tolerance τ (default max(n, w)·ε).
    #[arg(long = "rank-tol", value_name = "TAU")]
    rank_tol: Option<f64>,
    /// Dense eigensolver: faer, or lapack (needs the `lapack` feature; then the default).
    #[arg(long, value_name = "NAME", default_value_t = EigenBackend::default())]
    eigensolver: EigenBackend,
    /// Largest dense dimension D = C(r + k − 1, k); beyond it every block takes the matrix-free
    /// scale path (η*_2 by Lanczos on the C⁺D pencil, k >= 3 by bisection with Lanczos).
    #[arg(long = "max-dense-dim", value_name = "D", default_value_t = sgdstab::analysis::DEFAULT_MAX_DENSE_DIM)]
    max_dense_dim: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `threshold`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_orders(&a.order.0)?;
    if a.batch == 0 {
        anyhow::bail!(sgdstab::Error::parameter(
            "--batch",
            0,
            "the batch size must be >= 1"
        ));
    }
    if !a.eigensolver.available() {
        anyhow::bail!(sgdstab::Error::parameter(
            "--eigensolver",
            a.eigensolver,
            "this build has no LAPACK; rebuild with `--features lapack`"
        ));
    }
    let grads = a.input.load()?;
    let opts = ThresholdOptions {
        method: a.method,
        backend: a.eigensolver,
        max_companion_rows: a.max_companion_rows,
        max_dense_dim: a.max_dense_dim,
        ..ThresholdOptions::default()
    };
    let bar = Bar::new(a.quiet);
    let report = threshold_report(
        &grads,
        a.batch,
        &a.order.0,
        a.sampling,
        a.rank_tol,
        &opts,
        Some(a.input.display()),
        &bar,
    )?;
    let json = sgdstab::report::to_json(&report)?;
    if let Some(out) = &a.out {
        write_output(out, &json)?;
    }
    if a.json {
        print!("{json}");
    } else {
        print!("{}", sgdstab::report::threshold::threshold(&report));
    }
    Ok(ExitCode::SUCCESS)
}
