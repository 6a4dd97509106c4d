//! Figure 1 and Table 1 in kind: many networks trained on one data set with a range of learning
//! rates at a fixed batch size, and a range of batch sizes at a fixed learning rate; `g_W` and
//! `g_x` of eq. (5) at each solution, their Pearson correlation, and `‖W_1‖_2` at checkpoints.
//!
//! Each run trains a freshly initialised network (init seed = the run's seed, batch seed derived
//! from it) until interpolation ([`crate::networks::training`]); only runs that reach interpolation enter
//! the scatter plots and correlations (the others are listed with their stop reason). In the
//! `‖W_1‖_2` table a run that stopped (interpolated) before a checkpoint contributes its final
//! value — SGD was stopped there, so its parameters no longer change; `still_training` counts the
//! runs that were actually still running at that checkpoint.

use crate::error::{Error, Param, Result};
use crate::networks::datasets::{generate, Dataset, DatasetSpec};
use crate::networks::network::{Architecture, Mlp};
use crate::networks::sobolev::g_values;
use crate::networks::training::{train, Stop, TrainOptions};
use crate::progress::Progress;
use rayon::prelude::*;
use serde::Serialize;

/// Version of the `sweep` JSON schema.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

/// Which panel of Figure 1 a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Panel {
    /// Learning rate varies, batch size fixed.
    LearningRate,
    /// Batch size varies, learning rate fixed.
    BatchSize,
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
    /// Iteration limit per run.
    pub max_iterations: usize,
    /// Interpolation threshold.
    pub loss_threshold: f64,
    /// Checkpoints of the `‖W_1‖_2` table.
    pub checkpoints: Vec<usize>,
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
    /// Seed (initialisation; batches use a derived stream).
    pub seed: u64,
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
    /// The architecture, e.g. `"8-32-1 tanh"`.
    pub architecture: String,
    /// Parameters `w`.
    pub parameters: usize,
    /// Batch size of the learning-rate panel.
    pub fixed_batch: usize,
    /// Learning rate of the batch-size panel.
    pub fixed_lr: f64,
    /// The interpolation threshold.
    pub loss_threshold: f64,
    /// Every run, panel by panel in the order given.
    pub runs: Vec<SweepRun>,
    /// Correlations per panel.
    pub correlations: Vec<Correlation>,
    /// The `‖W_1‖_2` table (all finite runs of both panels).
    pub w1_table: Vec<W1Row>,
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

fn run_one(
    data: &Dataset,
    arch: &Architecture,
    opts: &SweepOptions,
    panel: Panel,
    lr: f64,
    batch: usize,
    seed: u64,
) -> Result<SweepRun> {
    let mut net = Mlp::init(arch.clone(), seed);
    let to = TrainOptions {
        max_iterations: opts.max_iterations,
        loss_threshold: opts.loss_threshold,
        seed: seed.wrapping_mul(0x9E37_79B9).wrapping_add(batch as u64),
        checkpoints: opts.checkpoints.clone(),
        ..TrainOptions::new(lr, batch)
    };
    let run = train(&mut net, data, &to, &crate::NoProgress)?;
    let finite = run.final_loss.is_finite() && net.params().iter().all(|v| v.is_finite());
    let (g_w, g_x) = if finite {
        let ps = net.per_sample(&data.x, data.n);
        let (a, b) = g_values(&ps.param_grads, &ps.input_grads, data.n);
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    Ok(SweepRun {
        panel,
        lr,
        batch,
        seed,
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

/// Runs the sweep (in parallel over runs); `progress` gets one step per run.
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
    let mut jobs: Vec<(Panel, f64, usize, u64)> = Vec::new();
    for &lr in &opts.lrs {
        for &s in &opts.seeds {
            jobs.push((Panel::LearningRate, lr, opts.fixed_batch, s));
        }
    }
    for &b in &opts.batches {
        for &s in &opts.seeds {
            jobs.push((Panel::BatchSize, opts.fixed_lr, b, s));
        }
    }
    progress.begin("sweep", jobs.len() as u64);
    let runs: Vec<SweepRun> = jobs
        .par_iter()
        .map(|&(panel, lr, b, s)| {
            let r = run_one(&data, &opts.architecture, opts, panel, lr, b, s);
            progress.advance(1, &format!("η = {lr}, B = {b}"));
            r
        })
        .collect::<Result<_>>()?;
    progress.end();

    let correlations = [Panel::LearningRate, Panel::BatchSize]
        .into_iter()
        .map(|panel| {
            let pts: Vec<(f64, f64)> = runs
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
        })
        .collect();

    let mut cps: Vec<usize> = opts.checkpoints.clone();
    cps.sort_unstable();
    cps.dedup();
    let finite: Vec<&SweepRun> = runs.iter().filter(|r| r.final_loss.is_some()).collect();
    let w1_table = cps
        .iter()
        .filter_map(|&c| {
            let mut vals = Vec::new();
            let mut still = 0;
            for r in &finite {
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
        .collect();

    Ok(SweepReport {
        schema_version: SWEEP_SCHEMA_VERSION,
        command: "sweep",
        tool_version: env!("CARGO_PKG_VERSION"),
        dataset: data.name.clone(),
        architecture: opts.architecture.describe(),
        parameters: opts.architecture.parameter_count(),
        fixed_batch: opts.fixed_batch,
        fixed_lr: opts.fixed_lr,
        loss_threshold: opts.loss_threshold,
        runs,
        correlations,
        w1_table,
    })
}

/// The scatter plot of one panel (interpolated runs), coloured by the varied parameter.
#[cfg(feature = "plots")]
pub fn scatter(report: &SweepReport, panel: Panel) -> crate::plots::scatter::Scatter {
    use std::collections::BTreeMap;
    type Entry = (String, f64, Vec<(f64, f64)>);
    let mut groups: BTreeMap<(u64, usize), Entry> = BTreeMap::new();
    for r in report
        .runs
        .iter()
        .filter(|r| r.panel == panel && r.stop == Stop::Interpolated)
    {
        let (Some(gw), Some(gx)) = (r.g_w, r.g_x) else {
            continue;
        };
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
    let title = match panel {
        Panel::LearningRate => format!("learning rate varies, B = {}", report.fixed_batch),
        Panel::BatchSize => format!("batch size varies, η = {}", report.fixed_lr),
    };
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
        subtitle: format!(
            "{} on {}; Pearson r = {}",
            report.architecture,
            report.dataset,
            corr.and_then(|c| c.pearson)
                .map_or("n/a".to_string(), |p| format!("{p:.3}"))
        ),
        x_label: "g_W = ((1/n) Σ ‖∇_W f(x_i)‖²)^½".into(),
        y_label: "g_x = ((1/n) Σ ‖∇_x f(x_i)‖²)^½".into(),
        groups,
    }
}

/// The report as text: runs per panel, correlations, and the `‖W_1‖_2` table.
pub fn text(r: &SweepReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab sweep: {} ({} parameters) on {}",
        r.architecture, r.parameters, r.dataset
    );
    for panel in [Panel::LearningRate, Panel::BatchSize] {
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
    let _ = writeln!(
        s,
        "\nPearson correlation of (g_W, g_x) over interpolated runs:"
    );
    for c in &r.correlations {
        let _ = writeln!(
            s,
            "  {:<14} runs {:>3}: r = {}   (log-log r = {})",
            match c.panel {
                Panel::LearningRate => "η varies",
                Panel::BatchSize => "B varies",
            },
            c.runs,
            c.pearson.map_or("n/a".into(), |p| format!("{p:.4}")),
            c.pearson_log.map_or("n/a".into(), |p| format!("{p:.4}"))
        );
    }
    let _ = writeln!(
        s,
        "\n‖W_1‖_2 during training (Table 1 in kind; mean over runs, [min, max]):"
    );
    let _ = writeln!(
        s,
        "  {:>10}  {:>10}  {:>22}  {:>14}",
        "iteration", "mean", "[min, max]", "still training"
    );
    for row in &r.w1_table {
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
