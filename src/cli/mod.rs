//! Subcommands of the `sgdstab` binary.

mod analyze;
mod common;
mod diagram;
mod threshold;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exact linear stability of SGD (Ma & Ying, NeurIPS 2021).
#[derive(Debug, Parser)]
#[command(name = "sgdstab", version, about, long_about = None)]
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
    /// as SVG/PNG plus CSV and JSON tables.
    Diagram(diagram::Args),
    /// Property-based check of the paper's implications on random gradient sets (exit 1 on a
    /// counterexample, with the seed that reproduces it).
    Verify(verify::Args),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Threshold(a) => threshold::run(a),
        Command::Diagram(a) => diagram::run(a),
        Command::Verify(a) => verify::run(a),
    }
}
