//! Subcommands of the `sgdstab` binary.
//!
//! Standard output and standard error are written through [`out!`], [`outln!`] and
//! [`warn_line!`], never `print!`/`eprintln!` (which panic when the stream cannot be written): a
//! failed write to stdout is an error ([`StdoutError`]) the binary maps to its exit code — a
//! closed pipe ends the run quietly, a full disk is exit 2 with one line — and a warning that
//! cannot be written to stderr is dropped.

/// `print!` that returns a [`StdoutError`] from the enclosing function instead of panicking.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*).map_err($crate::cli::StdoutError)?;
    }};
}

/// `println!` that returns a [`StdoutError`] from the enclosing function instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*).map_err($crate::cli::StdoutError)?;
    }};
}

/// `eprintln!` that drops the line when stderr cannot be written (nothing else can be done).
macro_rules! warn_line {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// Writing standard output failed (closed pipe, full disk, I/O error).
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

mod analyze;
mod common;
mod demo;
mod diagram;
pub mod flags;
mod generalization;
mod simulate;
mod sobolev;
mod sweep;
mod threshold;
mod train;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exact linear stability of SGD (Ma & Ying, NeurIPS 2021).
#[derive(Debug, Parser)]
#[command(
    name = "sgdstab",
    version,
    about,
    long_about = None,
    after_help = "Reports: --json prints one JSON document on stdout, --out FILE writes it; pictures go to --plot FILE (.svg/.png, repeatable), tables to --csv FILE; `sweep` and `demo` write a folder (--out-dir DIR). A GRADS argument of - reads standard input.\n\nExample:\n  sgdstab analyze grads.npy --lr 0.1 --batch 4 --order 1,2"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stability of SGD at a minimum from per-sample gradients: T_k spectra, Theorem 1 verdicts,
    /// Prop. 1, Theorem 2 and Corollary 1.
    Analyze(analyze::Args),
    /// The exact sets of stable learning rates S_k and the thresholds η*_k, with the limits
    /// implied by Theorem 2 and Corollary 1.
    Threshold(threshold::Args),
    /// The (η, B) stability diagram: η*_k(B) per order with the Theorem 2 / Corollary 1 limits,
    /// as a table, JSON, CSV and SVG/PNG.
    Diagram(diagram::Args),
    /// Property-based check of the paper's implications on random gradient sets (exit 1 on a
    /// counterexample, with the seed that reproduces it).
    Verify(verify::Args),
    /// Train a small network to interpolation with SGD (eq. 7) and export its per-sample
    /// gradients (grads.npy for `analyze`), input gradients, data, W_1 and meta.json.
    Train(train::Args),
    /// Section 4 on an exported network: Prop. 2 at every training point, Corollary 2 and
    /// Theorem 3 seminorm bounds, g_W and g_x of eq. (5), with ‖W_1ᵀ‖_2k bracketed.
    Sobolev(sobolev::Args),
    /// Monte Carlo of the linearised dynamics (eq. 12): growth rate of ‖E W̃_t^⊗k‖ against ρ_k;
    /// and a nonlinear escape test from W* + perturbation next to the analyzer's verdict.
    Simulate(simulate::Args),
    /// Figure 1 and Table 1 in kind: many networks over a range of learning rates and batch
    /// sizes; g_W vs g_x scatter plots (PNG + SVG), Pearson correlations, ‖W_1‖_2 table.
    Sweep(sweep::Args),
    /// Section 5 on an exported network: Theorem 6 (eq. 26) term by term over a grid of δ
    /// against the measured test error, Theorem 7 (eq. 27) against the measured sensitivity.
    Generalization(generalization::Args),
    /// The main job on built-in data: train a small network to interpolation, analyze it, run the
    /// Section 4 checks, the simulation and the (η, B) diagram, draw Figure 1 in kind, all into
    /// one folder.
    Demo(demo::Args),
}

/// The command line with every value-taking option accepting a negative number as its value
/// (`--batch -1` is "invalid value '-1' for '--batch <B>'", not "unexpected argument '-1'").
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    fn negative_values(c: clap::Command) -> clap::Command {
        c.mut_args(|a| {
            if !a.is_positional() && a.get_action().takes_values() {
                a.allow_negative_numbers(true)
            } else {
                a
            }
        })
        .mut_subcommands(negative_values)
    }
    negative_values(Cli::command())
}

/// Parses the process's arguments ([`command`]).
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let mut cmd = command();
    let m = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches(&m).map_err(|e| e.with_cmd(&cmd))
}

/// The few lines `sgdstab` alone prints (on stderr, exit 2): the usage and the commands.
pub fn short_usage() -> String {
    let cmd = command();
    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    format!(
        "usage: sgdstab COMMAND [ARGS]   (sgdstab --help, sgdstab COMMAND --help)\ncommands: {}\nexample: sgdstab analyze grads.npy --lr 0.1 --batch 4",
        names.join(", ")
    )
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Threshold(a) => threshold::run(a),
        Command::Diagram(a) => diagram::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Train(a) => train::run(a),
        Command::Sobolev(a) => sobolev::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Generalization(a) => generalization::run(a),
    }
}
