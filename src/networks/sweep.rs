//! Figure 1 and Table 1 in kind: many networks trained on one data set with a range of learning
//! rates at a fixed batch size, and a range of batch sizes at a fixed learning rate; `g_W` and
//! `g_x` of eq. (5) at each solution, their Pearson correlation (linear and log-log), their trend
//! against `η` and `B`, and `‖W_1‖_2` at checkpoints.
//!
//! Each run trains a freshly initialised network (init seed = the run's seed, batch seed
//! [`sgd_seed`] derived from it and `B`) with the SGD of eq. (7), batches drawn as uniform
//! `B`-subsets independently at every step (eq. 15), until the training loss is below the
//! threshold ([`crate::networks::training`]) or the iteration cap. Only runs that reach the
//! threshold enter the scatter plots, the correlations and the trends; the others are listed in
//! [`SweepReport::not_converged`] with their final loss (never dropped silently). In the
//! `‖W_1‖_2` table a run that stopped before a checkpoint contributes its final value — SGD was
//! stopped there, so its parameters no longer change; `still_training` counts the runs that were
//! actually still running at that checkpoint.
//!
//! Runs are independent and run in parallel (longest expected first, `B/η`); each run is
//! single-threaded, so the report does not depend on the number of threads.
//!
//! # Presets
//!
//! [`SweepPreset::for_dataset`] gives the defaults of `sweep`: for the synthetic sets the small
//! setting (`8-32-1 tanh` on 16 points), for `digits` the paper's setting of Figure 1 (a): a ReLU
//! network `64-128-128-1` on the 1000 training images, `η ∈ {0.01, …, 0.3}` at `B = 20`,
//! `B ∈ {2, …, 100}` at `η = 0.1`, 3 seeds, loss threshold `1e-5`, at most
//! [`DIGITS_MAX_ITERATIONS`] iterations per run.

use crate::error::{Error, Param, Result};
use crate::networks::datasets::{generate, Dataset, DatasetKind, DatasetSpec};
use crate::networks::network::{Activation, Architecture, Mlp, Workspace};
use crate::networks::training::{train, Stop, TrainOptions, TABLE1_CHECKPOINTS};
use crate::progress::Progress;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Version of the `sweep` JSON schema.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

/// Iteration cap per run of the `digits` preset. At `B = 20` the slowest setting (`η = 0.01`)
/// needs the most iterations; runs that hit the cap are listed as not converged.
pub const DIGITS_MAX_ITERATIONS: usize = 100_000;

/// Loss threshold of the `digits` preset (the training loss `(1/2n) Σ (f − y)²`).
pub const DIGITS_LOSS_THRESHOLD: f64 = 1e-5;

/// Which panel of Figure 1 a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Panel {
    /// Learning rate varies, batch size fixed.
    LearningRate,
    /// Batch size varies, learning rate fixed.
    BatchSize,
}

impl Panel {
    /// Both panels, in report order.
    pub const ALL: [Panel; 2] = [Panel::LearningRate, Panel::BatchSize];

    /// `"η varies"` or `"B varies"`.
    pub fn short(self) -> &'static str {
        match self {
            Panel::LearningRate => "η varies",
            Panel::BatchSize => "B varies",
        }
    }

    /// The varied hyper-parameter of a run of this panel.
    fn varied(self, lr: f64, batch: usize) -> f64 {
        match self {
            Panel::LearningRate => lr,
            Panel::BatchSize => batch as f64,
        }
    }
}

/// What to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOptions {
    /// The data set.
    pub data: DatasetSpec,
    /// The architecture.
    pub architecture: Architecture,
    /// Learning rates of the first panel.
    pub lrs: Vec<f64>,
    /// Batch size of the first panel.
    pub fixed_batch: usize,
    /// Batch sizes of the second panel.
    pub batches: Vec<usize>,
    /// Learning rate of the second panel.
    pub fixed_lr: f64,
    /// Seeds: one network per seed and setting.
    pub seeds: Vec<u64>,
    /// Iteration cap per run.
    pub max_iterations: usize,
    /// Interpolation threshold on the training loss.
    pub loss_threshold: f64,
    /// Checkpoints of the `‖W_1‖_2` table.
    pub checkpoints: Vec<usize>,
}

/// The defaults of a sweep on one data set (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPreset {
    /// Training points.
    pub n: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Activation.
    pub activation: Activation,
    /// Learning rates of the first panel.
    pub lrs: Vec<f64>,
    /// Batch size of the first panel.
    pub fixed_batch: usize,
    /// Batch sizes of the second panel.
    pub batches: Vec<usize>,
    /// Learning rate of the second panel.
    pub fixed_lr: f64,
    /// Networks per setting (seeds `0..seeds`).
    pub seeds: u64,
    /// Iteration cap per run.
    pub max_iterations: usize,
    /// Loss threshold.
    pub loss_threshold: f64,
    /// Checkpoints of the `‖W_1‖_2` table.
    pub checkpoints: Vec<usize>,
}

impl SweepPreset {
    /// The defaults for `kind`: the paper's Figure 1 (a) setting for `digits`, the small
    /// `8-32-1 tanh` setting on 16 points otherwise.
    pub fn for_dataset(kind: DatasetKind) -> Self {
        match kind {
            DatasetKind::Digits => SweepPreset {
                n: crate::networks::datasets::DIGITS_TRAIN_ROWS,
                hidden: vec![128, 128],
                activation: Activation::Relu,
                lrs: vec![0.01, 0.02, 0.05, 0.1, 0.2, 0.3],
                fixed_batch: 20,
                batches: vec![2, 5, 10, 20, 50, 100],
                fixed_lr: 0.1,
                seeds: 3,
                max_iterations: DIGITS_MAX_ITERATIONS,
                loss_threshold: DIGITS_LOSS_THRESHOLD,
                checkpoints: TABLE1_CHECKPOINTS.to_vec(),
            },
            _ => {
                let net = crate::networks::pipeline::NetworkSpec::default();
                SweepPreset {
                    n: net.data.n,
                    hidden: net.hidden,
                    activation: net.activation,
                    lrs: vec![0.02, 0.05, 0.1, 0.2, 0.3],
                    fixed_batch: 4,
                    batches: vec![1, 2, 4, 8, 16],
                    fixed_lr: 0.1,
                    seeds: 6,
                    max_iterations: net.max_iterations,
                    loss_threshold: net.loss_threshold,
                    checkpoints: TABLE1_CHECKPOINTS.to_vec(),
                }
            }
        }
    }
}

/// The seed of the batch draws of the run with init seed `seed` and batch size `batch`.
pub fn sgd_seed(seed: u64, batch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9).wrapping_add(batch as u64)
}

/// One trained network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRun {
    /// The panel.
    pub panel: Panel,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Seed (initialisation; batches use [`SweepRun::sgd_seed`]).
    pub seed: u64,
    /// Seed of the batch draws ([`sgd_seed`]; `sgdstab train --seed S --sgd-seed T` repeats
    /// the run).
    pub sgd_seed: u64,
    /// Why training stopped.
    pub stop: Stop,
    /// Iterations done.
    pub iterations: usize,
    /// Final training loss (`null` if it diverged to a non-finite value).
    pub final_loss: Option<f64>,
    /// `g_W` (eq. 5) at the final parameters (`null` if diverged).
    pub g_w: Option<f64>,
    /// `g_x` (eq. 5) at the final parameters (`null` if diverged).
    pub g_x: Option<f64>,
    /// `‖W_1‖_2` at the checkpoints reached, then the final one (`null` entries never occur for
    /// finite runs).
    pub w1_norms: Vec<(usize, f64)>,
}

/// One row of the `‖W_1‖_2` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct W1Row {
    /// Iteration.
    pub iteration: usize,
    /// Mean `‖W_1‖_2` over the finite runs.
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Runs still training at this iteration (the others contribute their final value).
    pub still_training: usize,
    /// Runs averaged.
    pub runs: usize,
}

/// The `‖W_1‖_2` table of one panel's finite runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelW1 {
    /// The panel.
    pub panel: Panel,
    /// Rows at the checkpoints.
    pub rows: Vec<W1Row>,
}

/// Pearson correlation of one panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    /// The panel.
    pub panel: Panel,
    /// Interpolated runs used.
    pub runs: usize,
    /// Pearson `r` of `(g_W, g_x)` (`null` with fewer than 3 runs or no variance).
    pub pearson: Option<f64>,
    /// Pearson `r` of `(log g_W, log g_x)`.
    pub pearson_log: Option<f64>,
}

/// A run that did not reach the loss threshold (not in the correlations, the trends or the
/// scatter plots).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotConverged {
    /// The panel.
    pub panel: Panel,
    /// Init seed.
    pub seed: u64,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// `max-iterations` or `diverged`.
    pub stop: Stop,
    /// Final training loss (`null` if non-finite).
    pub final_loss: Option<f64>,
    /// Iterations done.
    pub iterations: usize,
}

/// Means over the interpolated runs of one setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingSummary {
    /// The panel.
    pub panel: Panel,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Runs of the setting.
    pub runs: usize,
    /// Runs that reached the threshold.
    pub interpolated: usize,
    /// Mean `g_W` over those (`null` if none).
    pub mean_g_w: Option<f64>,
    /// Mean `g_x` over those.
    pub mean_g_x: Option<f64>,
    /// Mean final `‖W_1‖_2` over those.
    pub mean_final_w1: Option<f64>,
    /// Mean iterations over those.
    pub mean_iterations: Option<f64>,
}

/// `g_W` and `g_x` against the varied hyper-parameter of one panel, over its interpolated runs.
///
/// The paper's trend: larger `η` (panel `learning-rate`) and smaller `B` (panel `batch-size`)
/// give smaller `g_W` and `g_x`, i.e. a negative correlation with `η` and a positive one with
/// `B`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// The panel.
    pub panel: Panel,
    /// `"lr"` or `"batch"`.
    pub varied: &'static str,
    /// Interpolated runs used.
    pub runs: usize,
    /// `-1` (the paper's `g` falls as `η` grows) or `+1` (`g` grows with `B`).
    pub paper_sign: i32,
    /// Spearman rank correlation of (varied, `g_W`), ties averaged.
    pub spearman_g_w: Option<f64>,
    /// Spearman rank correlation of (varied, `g_x`).
    pub spearman_g_x: Option<f64>,
    /// Least-squares slope of `log g_W` against `log` varied.
    pub loglog_slope_g_w: Option<f64>,
    /// Least-squares slope of `log g_x` against `log` varied.
    pub loglog_slope_g_x: Option<f64>,
    /// Whether the sign of `spearman_g_w` is the paper's (`null` if undefined or 0).
    pub g_w_agrees: Option<bool>,
    /// Whether the sign of `spearman_g_x` is the paper's.
    pub g_x_agrees: Option<bool>,
}

/// The `sweep` report (`schema_version` [`SWEEP_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"sweep"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The data set.
    pub dataset: String,
    /// Training points `n`.
    pub samples: usize,
    /// The architecture, e.g. `"8-32-1 tanh"`.
    pub architecture: String,
    /// Parameters `w`.
    pub parameters: usize,
    /// Batch sampling of SGD: always `"without-replacement"` (uniform `B`-subsets, eq. 15).
    pub sampling: crate::Sampling,
    /// Batch size of the learning-rate panel.
    pub fixed_batch: usize,
    /// Learning rate of the batch-size panel.
    pub fixed_lr: f64,
    /// Seeds per setting.
    pub seeds: Vec<u64>,
    /// The interpolation threshold.
    pub loss_threshold: f64,
    /// The iteration cap per run.
    pub max_iterations: usize,
    /// Every run, panel by panel in the order given.
    pub runs: Vec<SweepRun>,
    /// The runs that did not reach the threshold (also in `runs`).
    pub not_converged: Vec<NotConverged>,
    /// Correlations per panel.
    pub correlations: Vec<Correlation>,
    /// Means per setting.
    pub settings: Vec<SettingSummary>,
    /// `g_W`, `g_x` against `η` and `B` per panel.
    pub trends: Vec<Trend>,
    /// The `‖W_1‖_2` table (all finite runs of both panels; Table 1 of the paper averages the
    /// `η` panel).
    pub w1_table: Vec<W1Row>,
    /// The `‖W_1‖_2` table per panel.
    pub w1_tables: Vec<PanelW1>,
}

impl SweepReport {
    /// The runs of `panel` that reached the threshold with finite `g_W`, `g_x`.
    pub fn interpolated(&self, panel: Panel) -> impl Iterator<Item = (&SweepRun, f64, f64)> {
        self.runs
            .iter()
            .filter(move |r| r.panel == panel && r.stop == Stop::Interpolated)
            .filter_map(|r| Some((r, r.g_w?, r.g_x?)))
    }
}

/// Pearson's correlation coefficient; `None` for fewer than 3 points or zero variance.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks `1..=n` of `x`, ties given their average rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut out = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = avg;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (Pearson of the average-tie ranks); `None` as [`pearson`].
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Least-squares slope of `y` on `x`; `None` for fewer than 2 points or no spread in `x`.
pub fn slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || y.len() != n {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Checks the options.
pub fn check_options(opts: &SweepOptions) -> Result<()> {
    if opts.seeds.is_empty() {
        return Err(Error::parameter(Param::Seeds, 0, "need at least one seed"));
    }
    for &lr in opts.lrs.iter().chain([opts.fixed_lr].iter()) {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::parameter(
                Param::LearningRates,
                lr,
                "learning rates must be finite and > 0",
            ));
        }
    }
    for &b in opts.batches.iter().chain([opts.fixed_batch].iter()) {
        if b == 0 || b > opts.data.n {
            return Err(Error::parameter(
                Param::Batches,
                b,
                format!("batch sizes must satisfy 1 <= B <= n = {}", opts.data.n),
            ));
        }
    }
    if opts.lrs.is_empty() && opts.batches.is_empty() {
        return Err(Error::parameter(
            Param::LearningRates,
            "(none)",
            "give learning rates or batch sizes to sweep",
        ));
    }
    Ok(())
}

/// `g_W` and `g_x` of eq. (5) at every training input, one input at a time (no `n × w` matrix):
/// the same sums in the same order as [`crate::networks::sobolev::g_values`] on
/// [`Mlp::per_sample`].
pub fn g_values_streamed(net: &Mlp, data: &Dataset) -> (f64, f64) {
    let mut ws = Workspace::new(net.architecture());
    let mut grad = vec![0.0; net.parameter_count()];
    let mut xgrad = vec![0.0; data.d];
    let (mut sw, mut sx) = (0.0, 0.0);
    for i in 0..data.n {
        let xi = data.x_row(i);
        net.forward(xi, &mut ws);
        net.backward(xi, &mut ws, &mut grad, 1.0, false);
        net.input_gradient_from(&ws, &mut xgrad);
        sw += grad.iter().map(|v| v * v).sum::<f64>();
        sx += xgrad.iter().map(|v| v * v).sum::<f64>();
    }
    ((sw / data.n as f64).sqrt(), (sx / data.n as f64).sqrt())
}

/// One job of the sweep.
#[derive(Debug, Clone, Copy)]
struct Job {
    panel: Panel,
    lr: f64,
    batch: usize,
    seed: u64,
}

fn run_one(data: &Dataset, opts: &SweepOptions, job: Job) -> Result<SweepRun> {
    let Job {
        panel,
        lr,
        batch,
        seed,
    } = job;
    let mut net = Mlp::init(opts.architecture.clone(), seed);
    let to = TrainOptions {
        max_iterations: opts.max_iterations,
        loss_threshold: opts.loss_threshold,
        seed: sgd_seed(seed, batch),
        checkpoints: opts.checkpoints.clone(),
        ..TrainOptions::new(lr, batch)
    };
    let run = train(&mut net, data, &to, &crate::NoProgress)?;
    let finite = run.final_loss.is_finite() && net.params().iter().all(|v| v.is_finite());
    let (g_w, g_x) = if finite {
        let (a, b) = g_values_streamed(&net, data);
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    Ok(SweepRun {
        panel,
        lr,
        batch,
        seed,
        sgd_seed: to.seed,
        stop: run.stop,
        iterations: run.iterations,
        final_loss: finite.then_some(run.final_loss),
        g_w,
        g_x,
        w1_norms: run
            .checkpoints
            .iter()
            .filter(|c| c.w1_spectral_norm.is_finite())
            .map(|c| (c.iteration, c.w1_spectral_norm))
            .collect(),
    })
}

/// Runs every job on the rayon pool, the most expensive first (`B/η`, a proxy for
/// iterations × cost per iteration); results in job order, so the outcome does not depend on
/// the schedule.
fn run_jobs(
    data: &Dataset,
    opts: &SweepOptions,
    jobs: &[Job],
    progress: &dyn Progress,
) -> Result<Vec<SweepRun>> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    let cost = |j: &Job| j.batch as f64 / j.lr;
    order.sort_by(|&a, &b| cost(&jobs[b]).total_cmp(&cost(&jobs[a])).then(a.cmp(&b)));
    let slots: Vec<Mutex<Option<Result<SweepRun>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().clamp(1, jobs.len().max(1));
    rayon::scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&j) = order.get(i) else {
                    break;
                };
                let job = jobs[j];
                let r = run_one(data, opts, job);
                let msg = match &r {
                    Ok(run) => format!(
                        "η = {}, B = {}, seed {}: {} after {} iterations (loss {})",
                        job.lr,
                        job.batch,
                        job.seed,
                        run.stop.name(),
                        run.iterations,
                        run.final_loss
                            .map_or("non-finite".to_string(), |l| format!("{l:.2e}"))
                    ),
                    Err(e) => format!("η = {}, B = {}, seed {}: {e}", job.lr, job.batch, job.seed),
                };
                *slots[j].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                progress.advance(1, &msg);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| {
                    Err(Error::InvalidInput {
                        context: "sweep".into(),
                        message: "a run was not executed".into(),
                    })
                })
        })
        .collect()
}

/// The `‖W_1‖_2` table of `runs` at the checkpoints `cps` (sorted, distinct).
fn w1_rows(runs: &[&SweepRun], cps: &[usize]) -> Vec<W1Row> {
    cps.iter()
        .filter_map(|&c| {
            let mut vals = Vec::new();
            let mut still = 0;
            for r in runs {
                // the value at c, or the final value if the run stopped before c
                let v = r
                    .w1_norms
                    .iter()
                    .rev()
                    .find(|(it, _)| *it <= c)
                    .map(|&(_, v)| v)?;
                if r.iterations > c {
                    still += 1;
                }
                vals.push(v);
            }
            if vals.is_empty() {
                return None;
            }
            Some(W1Row {
                iteration: c,
                mean: vals.iter().sum::<f64>() / vals.len() as f64,
                min: vals.iter().copied().fold(f64::INFINITY, f64::min),
                max: vals.iter().copied().fold(0.0, f64::max),
                still_training: still,
                runs: vals.len(),
            })
        })
        .collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn correlation(report_runs: &[SweepRun], panel: Panel) -> Correlation {
    let pts: Vec<(f64, f64)> = report_runs
        .iter()
        .filter(|r| r.panel == panel && r.stop == Stop::Interpolated)
        .filter_map(|r| Some((r.g_w?, r.g_x?)))
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    Correlation {
        panel,
        runs: pts.len(),
        pearson: pearson(&x, &y),
        pearson_log: if lx.iter().chain(&ly).all(|v| v.is_finite()) {
            pearson(&lx, &ly)
        } else {
            None
        },
    }
}

fn trend(runs: &[SweepRun], panel: Panel) -> Trend {
    let pts: Vec<(f64, f64, f64)> = runs
        .iter()
        .filter(|r| r.panel == panel && r.stop == Stop::Interpolated)
        .filter_map(|r| Some((panel.varied(r.lr, r.batch), r.g_w?, r.g_x?)))
        .collect();
    let p: Vec<f64> = pts.iter().map(|t| t.0).collect();
    let gw: Vec<f64> = pts.iter().map(|t| t.1).collect();
    let gx: Vec<f64> = pts.iter().map(|t| t.2).collect();
    let logs = |v: &[f64]| -> Option<Vec<f64>> {
        let l: Vec<f64> = v.iter().map(|a| a.ln()).collect();
        l.iter().all(|a| a.is_finite()).then_some(l)
    };
    let loglog = |g: &[f64]| slope(&logs(&p)?, &logs(g)?);
    let paper_sign = match panel {
        Panel::LearningRate => -1,
        Panel::BatchSize => 1,
    };
    let agrees = |s: Option<f64>| {
        s.filter(|v| *v != 0.0)
            .map(|v| (v > 0.0) == (paper_sign > 0))
    };
    let (sw, sx) = (spearman(&p, &gw), spearman(&p, &gx));
    Trend {
        panel,
        varied: match panel {
            Panel::LearningRate => "lr",
            Panel::BatchSize => "batch",
        },
        runs: pts.len(),
        paper_sign,
        spearman_g_w: sw,
        spearman_g_x: sx,
        loglog_slope_g_w: loglog(&gw),
        loglog_slope_g_x: loglog(&gx),
        g_w_agrees: agrees(sw),
        g_x_agrees: agrees(sx),
    }
}

fn settings(runs: &[SweepRun]) -> Vec<SettingSummary> {
    let mut keys: Vec<(Panel, f64, usize)> = Vec::new();
    for r in runs {
        if !keys
            .iter()
            .any(|k| k.0 == r.panel && k.1 == r.lr && k.2 == r.batch)
        {
            keys.push((r.panel, r.lr, r.batch));
        }
    }
    keys.into_iter()
        .map(|(panel, lr, batch)| {
            let all: Vec<&SweepRun> = runs
                .iter()
                .filter(|r| r.panel == panel && r.lr == lr && r.batch == batch)
                .collect();
            let ok: Vec<&SweepRun> = all
                .iter()
                .copied()
                .filter(|r| r.stop == Stop::Interpolated && r.g_w.is_some() && r.g_x.is_some())
                .collect();
            let col = |f: &dyn Fn(&SweepRun) -> Option<f64>| -> Vec<f64> {
                ok.iter().filter_map(|r| f(r)).collect()
            };
            SettingSummary {
                panel,
                lr,
                batch,
                runs: all.len(),
                interpolated: ok.len(),
                mean_g_w: mean(&col(&|r| r.g_w)),
                mean_g_x: mean(&col(&|r| r.g_x)),
                mean_final_w1: mean(&col(&|r| r.w1_norms.last().map(|w| w.1))),
                mean_iterations: mean(&col(&|r| Some(r.iterations as f64))),
            }
        })
        .collect()
}

/// Runs the sweep (runs in parallel); `progress` gets one step per run, with a message saying
/// how it ended.
pub fn sweep(opts: &SweepOptions, progress: &dyn Progress) -> Result<SweepReport> {
    check_options(opts)?;
    let data = generate(&opts.data)?;
    if data.d != opts.architecture.input_dim {
        return Err(Error::parameter(
            Param::Dim,
            data.d,
            format!("the network expects d = {}", opts.architecture.input_dim),
        ));
    }
    let mut jobs: Vec<Job> = Vec::new();
    for &lr in &opts.lrs {
        for &seed in &opts.seeds {
            jobs.push(Job {
                panel: Panel::LearningRate,
                lr,
                batch: opts.fixed_batch,
                seed,
            });
        }
    }
    for &batch in &opts.batches {
        for &seed in &opts.seeds {
            jobs.push(Job {
                panel: Panel::BatchSize,
                lr: opts.fixed_lr,
                batch,
                seed,
            });
        }
    }
    progress.begin("sweep", jobs.len() as u64);
    let runs = run_jobs(&data, opts, &jobs, progress)?;
    progress.end();

    let correlations = Panel::ALL
        .into_iter()
        .map(|p| correlation(&runs, p))
        .collect();
    let trends = Panel::ALL.into_iter().map(|p| trend(&runs, p)).collect();
    let not_converged = runs
        .iter()
        .filter(|r| r.stop != Stop::Interpolated)
        .map(|r| NotConverged {
            panel: r.panel,
            seed: r.seed,
            lr: r.lr,
            batch: r.batch,
            stop: r.stop,
            final_loss: r.final_loss,
            iterations: r.iterations,
        })
        .collect();

    let mut cps: Vec<usize> = opts.checkpoints.clone();
    cps.sort_unstable();
    cps.dedup();
    let finite: Vec<&SweepRun> = runs.iter().filter(|r| r.final_loss.is_some()).collect();
    let w1_table = w1_rows(&finite, &cps);
    let w1_tables = Panel::ALL
        .into_iter()
        .filter(|p| finite.iter().any(|r| r.panel == *p))
        .map(|panel| {
            let rs: Vec<&SweepRun> = finite
                .iter()
                .copied()
                .filter(|r| r.panel == panel)
                .collect();
            PanelW1 {
                panel,
                rows: w1_rows(&rs, &cps),
            }
        })
        .collect();

    Ok(SweepReport {
        schema_version: SWEEP_SCHEMA_VERSION,
        command: "sweep",
        tool_version: env!("CARGO_PKG_VERSION"),
        dataset: data.name.clone(),
        samples: data.n,
        architecture: opts.architecture.describe(),
        parameters: opts.architecture.parameter_count(),
        sampling: crate::Sampling::WithoutReplacement,
        fixed_batch: opts.fixed_batch,
        fixed_lr: opts.fixed_lr,
        seeds: opts.seeds.clone(),
        loss_threshold: opts.loss_threshold,
        max_iterations: opts.max_iterations,
        settings: settings(&runs),
        runs,
        not_converged,
        correlations,
        trends,
        w1_table,
        w1_tables,
    })
}

/// The data set's name for a figure: the seed in a synthetic set's name is the data seed.
#[cfg(feature = "plots")]
fn dataset_for_figure(name: &str) -> String {
    name.replace(", seed ", ", data seed ")
}

/// The scatter plot of one panel (interpolated runs), coloured by the varied parameter; the
/// title names the panel and the data, the subtitle the network, the runs and the correlation.
#[cfg(feature = "plots")]
pub fn scatter(report: &SweepReport, panel: Panel) -> crate::plots::scatter::Scatter {
    use std::collections::BTreeMap;
    type Entry = (String, f64, Vec<(f64, f64)>);
    let mut groups: BTreeMap<(u64, usize), Entry> = BTreeMap::new();
    for (r, gw, gx) in report.interpolated(panel) {
        let (key, label, value) = match panel {
            Panel::LearningRate => ((r.lr.to_bits(), 0), format!("η = {}", r.lr), r.lr),
            Panel::BatchSize => ((0, r.batch), format!("B = {}", r.batch), r.batch as f64),
        };
        groups
            .entry(key)
            .or_insert_with(|| (label, value, Vec::new()))
            .2
            .push((gw, gx));
    }
    let corr = report.correlations.iter().find(|c| c.panel == panel);
    let settings = report.settings.iter().filter(|s| s.panel == panel).count();
    let total = report.runs.iter().filter(|r| r.panel == panel).count();
    let missing = report
        .not_converged
        .iter()
        .filter(|r| r.panel == panel)
        .count();
    let title = match panel {
        Panel::LearningRate => format!(
            "g_W vs g_x, learning rate η varies (B = {})",
            report.fixed_batch
        ),
        Panel::BatchSize => format!("g_W vs g_x, batch size B varies (η = {})", report.fixed_lr),
    };
    let fmt_r = |v: Option<f64>| v.map_or("n/a".to_string(), |p| format!("{p:.3}"));
    let subtitle = format!(
        "data: {}\n{} ({} parameters), {} settings × {} seeds, SGD with uniform B-subsets to loss < {:.0e}\nPearson r = {}, log-log r = {} over {} runs{}",
        dataset_for_figure(&report.dataset),
        report.architecture,
        report.parameters,
        settings,
        report.seeds.len(),
        report.loss_threshold,
        fmt_r(corr.and_then(|c| c.pearson)),
        fmt_r(corr.and_then(|c| c.pearson_log)),
        corr.map_or(0, |c| c.runs),
        if missing > 0 {
            format!(
                "\n{missing} of {total} runs did not reach the threshold within {} iterations (not shown; listed in the report)",
                report.max_iterations
            )
        } else {
            String::new()
        }
    );
    let mut groups: Vec<crate::plots::scatter::Group> = groups
        .into_values()
        .map(|(label, value, points)| crate::plots::scatter::Group {
            label,
            value,
            points,
        })
        .collect();
    groups.sort_by(|a, b| a.value.total_cmp(&b.value));
    crate::plots::scatter::Scatter {
        title,
        subtitle,
        x_label: "g_W = ((1/n) Σ ‖∇_W f(x_i)‖²)^½".into(),
        y_label: "g_x = ((1/n) Σ ‖∇_x f(x_i)‖²)^½".into(),
        groups,
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("-".into(), f)
}

/// The report as text: runs per panel, runs that did not converge, correlations, means and
/// trends per setting, and the `‖W_1‖_2` tables.
pub fn text(r: &SweepReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab sweep: {} ({} parameters) on {}",
        r.architecture, r.parameters, r.dataset
    );
    let _ = writeln!(
        s,
        "SGD with uniform B-subsets (eq. 15), {} seeds per setting, until the training loss < {:.0e} or {} iterations",
        r.seeds.len(),
        r.loss_threshold,
        r.max_iterations
    );
    for panel in Panel::ALL {
        let runs: Vec<&SweepRun> = r.runs.iter().filter(|x| x.panel == panel).collect();
        if runs.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{}",
            match panel {
                Panel::LearningRate => format!("Learning rate varies (B = {}):", r.fixed_batch),
                Panel::BatchSize => format!("Batch size varies (η = {}):", r.fixed_lr),
            }
        );
        let _ = writeln!(
            s,
            "  {:>8}  {:>5}  {:>5}  {:>14}  {:>9}  {:>10}  {:>10}  {:>10}",
            "η", "B", "seed", "stop", "iters", "loss", "g_W", "g_x"
        );
        for x in runs {
            let _ = writeln!(
                s,
                "  {:>8}  {:>5}  {:>5}  {:>14}  {:>9}  {:>10}  {:>10}  {:>10}",
                x.lr,
                x.batch,
                x.seed,
                x.stop.name(),
                x.iterations,
                x.final_loss
                    .map_or("non-finite".into(), |v| format!("{v:.2e}")),
                x.g_w.map_or("-".into(), num),
                x.g_x.map_or("-".into(), num)
            );
        }
    }
    if r.not_converged.is_empty() {
        let _ = writeln!(
            s,
            "\nEvery run reached the loss threshold {:.0e}.",
            r.loss_threshold
        );
    } else {
        let _ = writeln!(
            s,
            "\n{} of {} runs did NOT reach the loss threshold {:.0e} (left out of the correlations, trends and plots):",
            r.not_converged.len(),
            r.runs.len(),
            r.loss_threshold
        );
        let _ = writeln!(
            s,
            "  {:>8}  {:>5}  {:>5}  {:>14}  {:>10}  {:>9}",
            "η", "B", "seed", "stop", "loss", "iters"
        );
        for x in &r.not_converged {
            let _ = writeln!(
                s,
                "  {:>8}  {:>5}  {:>5}  {:>14}  {:>10}  {:>9}",
                x.lr,
                x.batch,
                x.seed,
                x.stop.name(),
                x.final_loss
                    .map_or("non-finite".into(), |v| format!("{v:.2e}")),
                x.iterations
            );
        }
    }
    let _ = writeln!(
        s,
        "\nPearson correlation of (g_W, g_x) over interpolated runs:"
    );
    for c in &r.correlations {
        let _ = writeln!(
            s,
            "  {:<14} runs {:>3}: r = {}   (log-log r = {})",
            c.panel.short(),
            c.runs,
            c.pearson.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.pearson_log.map_or("n/a".into(), |p| format!("{p:.4}"))
        );
    }
    let _ = writeln!(s, "\nMeans over the interpolated runs of each setting:");
    let _ = writeln!(
        s,
        "  {:>8}  {:>5}  {:>7}  {:>10}  {:>10}  {:>10}  {:>10}",
        "η", "B", "interp", "g_W", "g_x", "‖W_1‖_2", "iters"
    );
    for x in &r.settings {
        let _ = writeln!(
            s,
            "  {:>8}  {:>5}  {:>3} of {:<1}  {:>10}  {:>10}  {:>10}  {:>10}",
            x.lr,
            x.batch,
            x.interpolated,
            x.runs,
            opt(x.mean_g_w, |v| format!("{v:.4}")),
            opt(x.mean_g_x, |v| format!("{v:.4}")),
            opt(x.mean_final_w1, |v| format!("{v:.4}")),
            opt(x.mean_iterations, |v| format!("{v:.0}"))
        );
    }
    let _ = writeln!(
        s,
        "\nTrend of g_W and g_x (the paper: smaller with larger η and with smaller B):"
    );
    for t in &r.trends {
        let agree = |a: Option<bool>| match a {
            Some(true) => "as the paper",
            Some(false) => "NOT as the paper",
            None => "undecided",
        };
        let _ = writeln!(
            s,
            "  {:<9} runs {:>3}: Spearman(g_W) = {} ({}), Spearman(g_x) = {} ({}); log-log slopes {} and {}",
            t.panel.short(),
            t.runs,
            opt(t.spearman_g_w, |v| format!("{v:+.3}")),
            agree(t.g_w_agrees),
            opt(t.spearman_g_x, |v| format!("{v:+.3}")),
            agree(t.g_x_agrees),
            opt(t.loglog_slope_g_w, |v| format!("{v:+.3}")),
            opt(t.loglog_slope_g_x, |v| format!("{v:+.3}"))
        );
    }
    let table = |s: &mut String, rows: &[W1Row]| {
        let _ = writeln!(
            s,
            "  {:>10}  {:>10}  {:>22}  {:>14}",
            "iteration", "mean", "[min, max]", "still training"
        );
        for row in rows {
            let _ = writeln!(
                s,
                "  {:>10}  {:>10.4}  {:>22}  {:>9} of {:<3}",
                row.iteration,
                row.mean,
                format!("[{:.4}, {:.4}]", row.min, row.max),
                row.still_training,
                row.runs
            );
        }
    };
    let _ = writeln!(
        s,
        "\n‖W_1‖_2 during training (Table 1 in kind; mean over all finite runs, [min, max]):"
    );
    table(&mut s, &r.w1_table);
    for t in &r.w1_tables {
        let _ = writeln!(s, "\n‖W_1‖_2, {} only:", t.panel.short());
        table(&mut s, &t.rows);
    }
    s
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_by_hand() {
        // x = [1,2,3,4], y = [1,3,2,4]: deviations ±1.5, ±0.5; Sxy = 4, Sxx = Syy = 5 → r = 0.8
        let r = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.8).abs() < 1e-15);
        assert!((pearson(&[1.0, 2.0, 3.0], &[-2.0, -4.0, -6.0]).unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn ranks_spearman_and_slope_by_hand() {
        // ties share the average rank
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // a monotone but nonlinear relation has Spearman 1 and Pearson < 1
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.powi(3)).collect();
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-15);
        assert!(pearson(&x, &y).unwrap() < 0.99);
        assert!((spearman(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-15);
        // y = 2 − 0.5 x exactly
        let y: Vec<f64> = x.iter().map(|v| 2.0 - 0.5 * v).collect();
        assert!((slope(&x, &y).unwrap() + 0.5).abs() < 1e-15);
        assert_eq!(slope(&[1.0, 1.0], &[0.0, 1.0]), None);
    }

    #[test]
    fn streamed_g_values_equal_the_per_sample_ones() {
        let data = generate(&DatasetSpec {
            kind: DatasetKind::Digits,
            n: 12,
            dim: 0,
            seed: 0,
        })
        .unwrap();
        let arch = Architecture::new(64, vec![7, 5], Activation::Relu).unwrap();
        let net = Mlp::init(arch, 3);
        let ps = net.per_sample(&data.x, data.n);
        let (gw, gx) = crate::networks::sobolev::g_values(&ps.param_grads, &ps.input_grads, data.n);
        let (sw, sx) = g_values_streamed(&net, &data);
        assert!((gw - sw).abs() <= 1e-14 * gw, "{gw} vs {sw}");
        assert!((gx - sx).abs() <= 1e-14 * gx, "{gx} vs {sx}");
    }

    #[test]
    fn digits_preset_is_the_papers_setting() {
        let p = SweepPreset::for_dataset(DatasetKind::Digits);
        assert_eq!(
            (p.n, p.hidden.clone(), p.activation),
            (1000, vec![128, 128], Activation::Relu)
        );
        assert_eq!(
            (p.fixed_batch, p.fixed_lr, p.loss_threshold),
            (20, 0.1, 1e-5)
        );
        assert!(p.lrs.len() >= 6 && p.lrs[0] == 0.01 && *p.lrs.last().unwrap() == 0.3);
        assert!(p.batches.len() >= 6 && p.batches[0] == 2 && *p.batches.last().unwrap() == 100);
        assert!(p.seeds >= 3);
    }

    #[test]
    fn small_sweep_table_and_panels() {
        let opts = SweepOptions {
            data: DatasetSpec {
                kind: crate::networks::datasets::DatasetKind::Torus,
                n: 8,
                dim: 5,
                seed: 2,
            },
            architecture: Architecture::new(
                5,
                vec![16],
                crate::networks::network::Activation::Tanh,
            )
            .unwrap(),
            lrs: vec![0.1, 0.2],
            fixed_batch: 2,
            batches: vec![4],
            fixed_lr: 0.1,
            seeds: vec![0, 1],
            max_iterations: 60_000,
            loss_threshold: 1e-12,
            checkpoints: vec![0, 100, 1_000_000],
        };
        let r = sweep(&opts, &crate::NoProgress).unwrap();
        assert_eq!(r.runs.len(), 6);
        assert_eq!(
            r.runs
                .iter()
                .filter(|x| x.panel == Panel::LearningRate)
                .count(),
            4
        );
        for run in &r.runs {
            assert_eq!(run.stop, Stop::Interpolated, "{run:?}");
            // the table's first entry is the initial ‖W_1‖_2, recomputed here
            let net = Mlp::init(opts.architecture.clone(), run.seed);
            let w0 = crate::networks::training::w1_spectral_norm(&net);
            assert_eq!(run.w1_norms[0], (0, w0));
        }
        // every run stopped long before 10^6 iterations: none still training there, and the row
        // averages the final values
        let last = r.w1_table.last().unwrap();
        assert_eq!(
            (last.iteration, last.still_training, last.runs),
            (1_000_000, 0, 6)
        );
        let mean_final: f64 = r
            .runs
            .iter()
            .map(|x| x.w1_norms.last().unwrap().1)
            .sum::<f64>()
            / 6.0;
        assert!((last.mean - mean_final).abs() < 1e-12);
        // deterministic
        assert_eq!(r, sweep(&opts, &crate::NoProgress).unwrap());
        let fig = scatter(&r, Panel::LearningRate);
        assert_eq!(fig.groups.len(), 2);
        assert_eq!(fig.groups[0].points.len(), 2);
    }
}
