//! Helpers shared by subcommands: order lists, progress bars, output files.

use indicatif::{ProgressBar, ProgressStyle};
use sgdstab::{Gradients, Progress};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The gradient input shared by every command that reads a gradient file.
#[derive(Debug, Clone, clap::Args)]
pub struct GradsInput {
    /// Per-sample gradients, rows = samples: an n × w array in .npy (float64/32/16, C or
    /// Fortran order) or delimited text (.csv/.tsv/.txt), or a per-parameter dictionary in .npz
    /// or .safetensors (one array per parameter, sample axis first; F64/F32/F16/BF16).
    #[arg(value_name = "GRADS")]
    pub grads: PathBuf,
    /// For .npz/.safetensors: read only this array. Without it, all arrays are flattened to
    /// n × (size/n) and concatenated (.npz: archive order; safetensors: sorted by name).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
}

impl GradsInput {
    /// Reads the gradients.
    pub fn load(&self) -> anyhow::Result<Gradients> {
        let opts = sgdstab::io::ReadOptions {
            key: self.key.clone(),
        };
        Ok(sgdstab::io::read_gradients_with(&self.grads, &opts)?)
    }

    /// The path as given, for reports.
    pub fn display(&self) -> String {
        self.grads.display().to_string()
    }
}

/// A list of integers given as `1,2,3`, `1..4` (inclusive) or a mix (`1,3..5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List(pub Vec<usize>);

/// Parses a [`List`] (clap value parser).
pub fn parse_list(s: &str) -> Result<List, String> {
    parse_list_vec(s).map(List)
}

/// Parses `1,2,3`, `1..4` (inclusive) or a mix (`1,3..5`) into a list of non-negative integers.
pub fn parse_list_vec(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let b = b.trim_start_matches('=');
            let a: usize = a
                .trim()
                .parse()
                .map_err(|_| format!("'{part}' is not a range like 1..4"))?;
            let b: usize = b
                .trim()
                .parse()
                .map_err(|_| format!("'{part}' is not a range like 1..4"))?;
            if a > b {
                return Err(format!("empty range '{part}'"));
            }
            if b - a > 100_000 {
                return Err(format!("range '{part}' is too long"));
            }
            out.extend(a..=b);
        } else {
            out.push(
                part.parse()
                    .map_err(|_| format!("'{part}' is not a non-negative integer"))?,
            );
        }
    }
    if out.is_empty() {
        return Err("empty list".into());
    }
    Ok(out)
}

/// A progress bar on stderr when it is a terminal; silent otherwise.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar if stderr is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        Bar(Some(ProgressBar::hidden()))
    }
}

impl Progress for Bar {
    fn begin(&self, label: &str, total: u64) {
        if let Some(pb) = &self.0 {
            pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            pb.set_length(total);
            pb.set_position(0);
            pb.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            pb.set_prefix(label.to_string());
        }
    }
    fn advance(&self, steps: u64, message: &str) {
        if let Some(pb) = &self.0 {
            pb.inc(steps);
            if !message.is_empty() {
                pb.set_message(message.to_string());
            }
        }
    }
    fn end(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Writes `text` to `path` atomically.
pub fn write_output(path: &Path, text: &str) -> anyhow::Result<()> {
    sgdstab::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
