//! Subcommands of the `sgdstab` binary.

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
