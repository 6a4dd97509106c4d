//! `sgdstab analyze`.

use super::common::{parse_list, write_output, Bar, GradsInput, List};
use sgdstab::analysis::{
    analyze, analyze_prepared, AnalyzeOptions, ConeOptions, OperatorMethod, Prepared,
};
use sgdstab::io::stream::{should_stream, stream_gram, StreamMode};
use sgdstab::lanczos::LanczosOptions;
use sgdstab::{EigenBackend, Sampling};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: GradsInput,
    /// Learning rate η > 0.
    #[arg(long = "lr", value_name = "ETA", allow_negative_numbers = true)]
    lr: f64,
    /// Batch size B, 1 <= B <= n.
    #[arg(long = "batch", value_name = "B")]
    batch: usize,
    /// Orders k >= 1: a list (1,2,3) or an inclusive range (1..4).
    #[arg(long = "order", visible_alias = "orders", value_name = "K", default_value = "1,2", value_parser = parse_list)]
    order: List,
    /// Sampling scheme: `without` replacement (default, the paper's eq. 15) or `with`.
    #[arg(long, value_name = "SCHEME", default_value = "without")]
    sampling: Sampling,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Relative rank tolerance τ (default max(n, w)·ε): Gram eigenvalues <= τ·λ_max are dropped.
    #[arg(long = "rank-tol", value_name = "TAU")]
    rank_tol: Option<f64>,
    /// Dense eigensolver: faer, or lapack (needs the `lapack` feature; then the default).
    #[arg(long, value_name = "NAME", default_value_t = EigenBackend::default())]
    eigensolver: EigenBackend,
    /// Iteration limit of the Theorem 1 cone power iteration (even k); default 5000 on dense
    /// blocks, 300 on matrix-free ones; 0 skips the check.
    #[arg(long = "cone-max-iter", value_name = "N")]
    cone_max_iter: Option<usize>,
    /// How to compute each block T_j: `auto` (dense when D <= --max-dense-dim and it fits in
    /// memory, else matrix-free), `dense`, or `matrix-free` (Lanczos).
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    method: OperatorMethod,
    /// Relative residual tolerance of Lanczos (matrix-free blocks).
    #[arg(long = "lanczos-tol", value_name = "TOL", default_value_t = 1e-10)]
    lanczos_tol: f64,
    /// Stream the Gram matrix from a .npy file instead of reading it whole: `auto` (wide and
    /// large files), `always`, `never`.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    stream: StreamMode,
    /// Relative residual at which the cone iteration stops.
    #[arg(long = "cone-tol", value_name = "TOL", default_value_t = 1e-10)]
    cone_tol: f64,
    /// Largest dense dimension D = C(r + k − 1, k) accepted (the eigensolve costs O(D³)).
    #[arg(long = "max-dense-dim", value_name = "D", default_value_t = sgdstab::analysis::DEFAULT_MAX_DENSE_DIM)]
    max_dense_dim: usize,
    /// Include every eigenvalue of every block in the JSON.
    #[arg(long)]
    spectrum: bool,
    /// Exit with code 1 if a consistency check fails (a theorem's implication is violated).
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `analyze`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    sgdstab::analysis::check_lr(a.lr)?;
    sgdstab::analysis::check_orders(&a.order.0)?;
    if a.batch == 0 {
        anyhow::bail!(sgdstab::Error::parameter(
            "--batch",
            0,
            "the batch size must be >= 1"
        ));
    }
    if !(a.cone_tol.is_finite() && a.cone_tol > 0.0) {
        anyhow::bail!(sgdstab::Error::parameter(
            "--cone-tol",
            a.cone_tol,
            "must be finite and > 0"
        ));
    }
    if !(a.lanczos_tol.is_finite() && a.lanczos_tol > 0.0) {
        anyhow::bail!(sgdstab::Error::parameter(
            "--lanczos-tol",
            a.lanczos_tol,
            "must be finite and > 0"
        ));
    }
    let opts = AnalyzeOptions {
        sampling: a.sampling,
        rank_tolerance: a.rank_tol,
        backend: a.eigensolver,
        cone: ConeOptions {
            tolerance: a.cone_tol,
            max_iterations: a.cone_max_iter,
        },
        full_spectrum: a.spectrum,
        max_dense_dim: a.max_dense_dim,
        method: a.method,
        lanczos: LanczosOptions {
            tolerance: a.lanczos_tol,
            ..LanczosOptions::default()
        },
        ..AnalyzeOptions::new(a.lr, a.batch, a.order.0.clone())
    };
    let bar = Bar::new(a.quiet);
    let report = if a.input.key.is_none() && should_stream(&a.input.grads, a.stream)? {
        let streamed = stream_gram(&a.input.grads, &opts.orders, None, &bar)?;
        let prep = Prepared::from_streamed(streamed, opts.rank_tolerance)?;
        analyze_prepared(&prep, &opts, Some(a.input.display()), &bar)?
    } else {
        let grads = a.input.load()?;
        analyze(&grads, &opts, Some(a.input.display()), &bar)?
    };
    let json = sgdstab::report::to_json(&report)?;
    if let Some(out) = &a.out {
        write_output(out, &json)?;
    }
    if a.json {
        print!("{json}");
    } else {
        print!("{}", sgdstab::report::text::analysis(&report));
    }
    if a.strict && !report.consistency.ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
