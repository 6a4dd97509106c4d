//! Argument groups and helpers shared by subcommands: the gradient input, the solver settings,
//! the output flags (`--json`, `--out FILE`, `--plot FILE`), order lists, progress bars.

use indicatif::{ProgressBar, ProgressStyle};
use sgdstab::io::stream::StreamMode;
use sgdstab::{EigenBackend, Hooks, OperatorMethod, Problem, ProblemOptions, Progress, Sampling};
use sgdstab::{Error, Param, SolverOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The default orders of every subcommand.
pub const DEFAULT_ORDERS: &str = "1,2";

/// The gradient input and what is fixed with it: sampling scheme and rank tolerance.
#[derive(Debug, Clone, clap::Args)]
pub struct ProblemArgs {
    /// Per-sample gradients, rows = samples: an n × w array in .npy (float64/32/16, C or
    /// Fortran order) or delimited text (.csv/.tsv/.txt), or a per-parameter dictionary in .npz
    /// or .safetensors (one array per parameter, sample axis first; F64/F32/F16/BF16); `-` reads
    /// standard input (the format from its first bytes).
    #[arg(value_name = "GRADS")]
    pub grads: PathBuf,
    /// For .npz/.safetensors: read only this array. Without it, all arrays are flattened to
    /// n × (size/n) and concatenated (.npz: archive order; safetensors: sorted by name).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// Sampling scheme: `without` replacement (the paper's eq. 15) or `with`.
    #[arg(long, value_name = "SCHEME", default_value = "without")]
    pub sampling: Sampling,
    /// Relative rank tolerance τ (default max(n, w)·ε): Gram eigenvalues <= τ·λ_max are dropped.
    #[arg(long = "rank-tol", value_name = "TAU")]
    pub rank_tol: Option<f64>,
    /// Stream the Gram matrix of a .npy file instead of reading it whole: `auto` (wide files
    /// with n·w >= 2·10⁷), `always`, `never`.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub stream: StreamMode,
}

impl ProblemArgs {
    /// Reads and reduces the gradients, with moment statistics up to the largest of `orders`.
    pub fn problem(&self, orders: &[usize], hooks: Hooks) -> anyhow::Result<Problem> {
        let max_order = orders.iter().copied().max().unwrap_or(1);
        let opts = ProblemOptions::default()
            .sampling(self.sampling)
            .rank_tolerance(self.rank_tol)
            .max_order(max_order)
            .key(self.key.clone())
            .stream(self.stream);
        Ok(Problem::from_file(&self.grads, &opts, hooks)?)
    }
}

/// Eigensolver, dense limit and Lanczos tolerance (every command that solves `T_k`).
#[derive(Debug, Clone, clap::Args)]
pub struct SolverArgs {
    /// Dense eigensolver: faer, or lapack (needs the `lapack` feature; then the default).
    #[arg(long, value_name = "NAME", default_value_t = EigenBackend::default())]
    pub eigensolver: EigenBackend,
    /// Largest dense dimension D = C(r + k − 1, k) (the dense eigensolve costs O(D³)); beyond
    /// it blocks go matrix-free (Lanczos).
    #[arg(long = "max-dense-dim", value_name = "D", default_value_t = sgdstab::engine::DEFAULT_MAX_DENSE_DIM)]
    pub max_dense_dim: usize,
    /// Relative residual at which Lanczos stops (matrix-free blocks).
    #[arg(long = "lanczos-tol", value_name = "TOL", default_value = "1e-10")]
    pub lanczos_tol: f64,
}

impl SolverArgs {
    /// The library settings.
    pub fn solver(&self, method: OperatorMethod) -> SolverOptions {
        SolverOptions::default()
            .eigensolver(self.eigensolver)
            .method(method)
            .max_dense_dim(self.max_dense_dim)
            .lanczos_tolerance(self.lanczos_tol)
    }
}

/// `--json` and `--out FILE`: the JSON report on stdout or into a file.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Print one JSON document on stdout instead of the text.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
}

impl OutputArgs {
    /// Refuses a picture as `--out` (it is the JSON report), naming the picture flag of the
    /// command if it has one.
    pub fn check(&self, picture_flag: Option<&str>) -> anyhow::Result<()> {
        if let Some(out) = &self.out {
            if sgdstab::plots::ImageFormat::from_path(out).is_ok() {
                let hint = match picture_flag {
                    Some(f) => format!("pictures go to {f} FILE"),
                    None => "this command draws no picture".into(),
                };
                anyhow::bail!(
                    "--out = {}: --out writes the JSON report; {hint}",
                    out.display()
                );
            }
        }
        Ok(())
    }

    /// Writes `json` to `--out`, then prints it (`--json`) or `text()`.
    pub fn emit(&self, json: &str, text: impl FnOnce() -> String) -> anyhow::Result<()> {
        if let Some(out) = &self.out {
            write_output(out, json)?;
        }
        self.print(json, text)
    }

    /// Prints `json` (`--json`) or `text()` on stdout.
    pub fn print(&self, json: &str, text: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            out!("{json}");
        } else {
            out!("{}", text());
        }
        Ok(())
    }

    /// The output files with their flag (`--out`), for [`check_outputs`].
    pub fn files(&self) -> Vec<(&'static str, &Path)> {
        self.out.iter().map(|p| ("--out", p.as_path())).collect()
    }
}

/// Checks every `--plot` file ends in .svg or .png.
pub fn check_plots(plots: &[PathBuf]) -> anyhow::Result<()> {
    for p in plots {
        sgdstab::plots::ImageFormat::from_path(p)?;
    }
    Ok(())
}

/// Warnings of a report on stderr (text mode only: the JSON carries them).
pub fn print_warnings(warnings: &[sgdstab::Warning], json: bool) {
    if !json {
        for w in warnings {
            warn_line!("sgdstab: warning: {}", w.message);
        }
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

/// A comma-separated list of numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatList(pub Vec<f64>);

/// Parses `0.01,0.05,0.1` (clap value parser).
pub fn parse_floats(s: &str) -> Result<FloatList, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<f64>()
                .map_err(|_| format!("'{p}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    if v.is_empty() {
        return Err("empty list".into());
    }
    Ok(FloatList(v))
}

/// Checks `η` finite and > 0 before any work (the library checks it again).
pub fn check_lr(lr: f64) -> anyhow::Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        anyhow::bail!(Error::parameter(
            Param::LearningRate,
            lr,
            "the learning rate must be finite and > 0"
        ));
    }
    Ok(())
}

/// Checks the orders before any work: not empty, every `1 <= k <= MAX_ORDER` (20).
pub fn check_orders(orders: &[usize]) -> anyhow::Result<()> {
    if let Some(&k) = orders.iter().find(|&&k| k == 0) {
        anyhow::bail!(Error::parameter(Param::Orders, k, "orders start at k = 1"));
    }
    let max = sgdstab::engine::analysis::MAX_ORDER;
    if let Some(&k) = orders.iter().find(|&&k| k > max) {
        anyhow::bail!(Error::parameter(
            Param::Orders,
            k,
            format!("orders above {max} are not supported")
        ));
    }
    Ok(())
}

/// Checks `B >= 1` before any work (`B <= n` is checked once `n` is known).
pub fn check_batch(batch: usize) -> anyhow::Result<()> {
    if batch == 0 {
        anyhow::bail!(Error::parameter(
            Param::Batch,
            0,
            "the batch size must be >= 1"
        ));
    }
    Ok(())
}

/// Progress on stderr: a bar when stderr is a terminal; plain lines otherwise (a log, a pipe,
/// a batch job), once the run has taken [`LINES_AFTER`] (so that quick runs print nothing):
/// where a stage is, one line for every step that says what it starts (a block with its
/// dimension, method and time estimate), a bare count at most every [`LINE_INTERVAL`], and one
/// line when a stage that printed ends. Nothing with `--quiet`. `SGDSTAB_PROGRESS_AFTER=SECONDS`
/// overrides [`LINES_AFTER`].
pub struct Bar(Mode);

/// Least time between two plain progress lines that only report a count.
pub const LINE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Plain progress lines start once the run has taken this long.
pub const LINES_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

enum Mode {
    Silent,
    Bar(ProgressBar),
    Lines(std::sync::Mutex<LineState>),
}

struct LineState {
    created: std::time::Instant,
    after: std::time::Duration,
    label: String,
    total: u64,
    pos: u64,
    started: std::time::Instant,
    /// When the last line was printed (`None`: nothing yet in this stage).
    last: Option<std::time::Instant>,
}

impl Bar {
    /// A bar if stderr is a terminal, plain lines if not; silent with `quiet`.
    pub fn new(quiet: bool) -> Self {
        if quiet {
            return Bar(Mode::Silent);
        }
        if std::io::stderr().is_terminal() {
            return Bar(Mode::Bar(ProgressBar::hidden()));
        }
        let after = std::env::var("SGDSTAB_PROGRESS_AFTER")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(LINES_AFTER, std::time::Duration::from_secs_f64);
        let now = std::time::Instant::now();
        Bar(Mode::Lines(std::sync::Mutex::new(LineState {
            created: now,
            after,
            label: String::new(),
            total: 0,
            pos: 0,
            started: now,
            last: None,
        })))
    }

    /// Progress hooks drawing this bar (never cancelled).
    pub fn hooks(&self) -> Hooks<'_> {
        Hooks::progress(self)
    }
}

impl LineState {
    /// One line `sgdstab: LABEL: POS/TOTAL MESSAGE (SECONDS s)` if the run is old enough and the
    /// line says something new (a message) or the last line is old.
    fn line(&mut self, message: &str) {
        let now = std::time::Instant::now();
        if now.duration_since(self.created) < self.after {
            return;
        }
        let due = self
            .last
            .is_none_or(|t| now.duration_since(t) >= LINE_INTERVAL);
        if message.is_empty() && !due {
            return;
        }
        self.last = Some(now);
        let msg = if message.is_empty() {
            String::new()
        } else {
            format!(" {message}")
        };
        warn_line!(
            "sgdstab: {}: {}/{}{msg} ({:.1} s)",
            self.label,
            self.pos,
            self.total,
            now.duration_since(self.started).as_secs_f64()
        );
    }
}

impl Progress for Bar {
    fn begin(&self, label: &str, total: u64) {
        match &self.0 {
            Mode::Silent => {}
            Mode::Bar(pb) => {
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
            Mode::Lines(m) => {
                let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                st.label = label.to_string();
                st.total = total;
                st.pos = 0;
                st.started = std::time::Instant::now();
                st.last = None;
                st.line("");
            }
        }
    }

    fn advance(&self, steps: u64, message: &str) {
        match &self.0 {
            Mode::Silent => {}
            Mode::Bar(pb) => {
                pb.inc(steps);
                if !message.is_empty() {
                    pb.set_message(message.to_string());
                }
            }
            Mode::Lines(m) => {
                let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                st.pos += steps;
                st.line(message);
            }
        }
    }

    fn end(&self) {
        match &self.0 {
            Mode::Silent => {}
            Mode::Bar(pb) => pb.finish_and_clear(),
            Mode::Lines(m) => {
                let st = m.lock().unwrap_or_else(|e| e.into_inner());
                if st.last.is_some() {
                    warn_line!(
                        "sgdstab: {}: done in {:.1} s",
                        st.label,
                        st.started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
}

/// A numerical failure (an eigensolver that did not converge, a non-finite value in a report)
/// named with the input it happened on; other errors unchanged.
pub fn on_input(e: Error, input: &Path) -> anyhow::Error {
    match e {
        Error::Numerical { .. } => {
            anyhow::anyhow!("{}: {}", input.display(), super::flags::render(&e))
        }
        other => anyhow::Error::new(other),
    }
}

/// Refuses an output file that is one of the inputs (the same file, through any path or link),
/// or two outputs that are the same file. `input` is a file, or a directory whose files are all
/// inputs (an export); `outputs` are `(flag, path)` pairs.
pub fn check_outputs(input: &Path, outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    let mut inputs: Vec<PathBuf> = vec![input.to_path_buf()];
    if input.is_dir() {
        if let Ok(rd) = std::fs::read_dir(input) {
            inputs.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    for (i, (flag, out)) in outputs.iter().enumerate() {
        if let Some(inp) = inputs
            .iter()
            .find(|inp| *out == inp.as_path() || sgdstab::io::same_file(out, inp))
        {
            anyhow::bail!(
                "{flag} = {}: that is the input {}; choose another file (the input would be overwritten)",
                out.display(),
                inp.display()
            );
        }
        if let Some((other, _)) = outputs[..i]
            .iter()
            .find(|(_, o)| o == out || sgdstab::io::same_file(o, out))
        {
            anyhow::bail!(
                "{flag} = {}: {other} writes the same file; give each output its own file",
                out.display()
            );
        }
    }
    Ok(())
}

/// Runs the writing part of a command all-or-nothing ([`sgdstab::io::Transaction`]): the files
/// `write` writes appear together when it succeeds; on an error none is created or changed, and
/// the directories of `dirs` that did not exist before are removed again if left empty.
pub fn all_or_nothing<T>(
    dirs: &[&Path],
    write: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let new_dirs: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !d.exists())
        .map(|d| d.to_path_buf())
        .collect();
    let tx = sgdstab::io::Transaction::begin();
    let result = write().and_then(|v| {
        tx.commit()?;
        Ok(v)
    });
    if result.is_err() {
        // deepest first; only empty directories go
        for d in new_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

/// Writes `text` to `path` atomically.
pub fn write_output(path: &Path, text: &str) -> anyhow::Result<()> {
    sgdstab::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        solver: SolverArgs,
    }

    #[test]
    fn readable_defaults_equal_the_library_defaults() {
        let w = Wrap::parse_from(["x"]);
        assert_eq!(
            w.solver.lanczos_tol,
            sgdstab::engine::lanczos::LanczosOptions::default().tolerance
        );
        assert_eq!(
            parse_list_vec(DEFAULT_ORDERS).unwrap(),
            sgdstab::AnalyzeOptions::default().orders
        );
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list_vec("1,3..5").unwrap(), vec![1, 3, 4, 5]);
        assert!(parse_list_vec("3..1").is_err());
        assert_eq!(parse_floats("0.1, 2").unwrap().0, vec![0.1, 2.0]);
    }
}
