//! Figure 1 of the paper on the user's own runs: `g_W` against `g_x` (eq. 5) over networks
//! trained with different learning rates `η` (at a fixed batch size) and batch sizes `B` (at a
//! fixed learning rate), with the statistics `sgdstab sweep` reports, computed by the same
//! functions ([`crate::networks::sweep::pearson`], [`crate::networks::sweep::spearman`],
//! [`crate::networks::sweep::slope`]).
//!
//! Panels: `learning-rate` holds the runs whose `B` is the fixed batch size (the paper's left
//! panel), `batch-size` the runs whose `η` is the fixed learning rate (the right panel), `all`
//! every run. The fixed values are given, or else the most frequent `B` and `η` among the runs
//! (ties: the smaller); a run at the fixed `(η, B)` is in both panels. Per panel: Pearson `r` of
//! `(g_W, g_x)` (linear and of the logarithms), Spearman's `ρ` of `(g_W, g_x)`, and for the two
//! hyper-parameter panels the trend of `g_W`, `g_x` against the varied parameter
//! ([`crate::networks::sweep::Trend`]: Spearman and log-log least-squares slopes, and whether
//! their sign is the paper's).

use crate::error::{Error, Result};
use crate::networks::sweep::{pearson, slope, spearman, Panel, Trend};
use serde::Serialize;

/// Version of the `figure1` JSON schema.
pub const FIGURE1_SCHEMA_VERSION: u32 = 1;

/// One trained network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure1Run {
    /// Learning rate `η`.
    pub lr: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// `g_W` of eq. (5).
    pub g_w: f64,
    /// `g_x` of eq. (5).
    pub g_x: f64,
    /// Where it came from (a bundle folder), if given.
    pub source: Option<String>,
}

/// The statistics of one panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelStats {
    /// `learning-rate`, `batch-size` or `all`.
    pub panel: &'static str,
    /// Indices of its runs (0-based, in the order given).
    pub runs: Vec<usize>,
    /// Pearson `r` of `(g_W, g_x)` (`null` with fewer than 3 runs or no variance).
    pub pearson: Option<f64>,
    /// Pearson `r` of `(log g_W, log g_x)` (`null` also when a `g` is 0).
    pub pearson_log: Option<f64>,
    /// Spearman `ρ` of `(g_W, g_x)`.
    pub spearman: Option<f64>,
    /// `g_W`, `g_x` against the varied hyper-parameter (the two hyper-parameter panels).
    pub trend: Option<Trend>,
}

/// The `figure1` report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure1Report {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"figure1"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// The batch size of the `learning-rate` panel.
    pub fixed_batch: usize,
    /// The learning rate of the `batch-size` panel.
    pub fixed_lr: f64,
    /// Every run, in the order given.
    pub runs: Vec<Figure1Run>,
    /// `learning-rate`, `batch-size`, `all`.
    pub panels: Vec<PanelStats>,
}

/// The most frequent value (ties: the smaller).
fn mode<T: Copy + PartialOrd>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut v: Vec<T> = values.collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mut best: Option<(T, usize)> = None;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[i] {
            j += 1;
        }
        let count = j - i + 1;
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((v[i], count));
        }
        i = j + 1;
    }
    best.map(|(x, _)| x)
}

fn logs(v: &[f64]) -> Option<Vec<f64>> {
    let l: Vec<f64> = v.iter().map(|a| a.ln()).collect();
    l.iter().all(|a| a.is_finite()).then_some(l)
}

fn stats(
    runs: &[Figure1Run],
    idx: Vec<usize>,
    panel: &'static str,
    varied: Option<Panel>,
) -> PanelStats {
    let gw: Vec<f64> = idx.iter().map(|&i| runs[i].g_w).collect();
    let gx: Vec<f64> = idx.iter().map(|&i| runs[i].g_x).collect();
    let trend = varied.map(|p| {
        let v: Vec<f64> = idx
            .iter()
            .map(|&i| match p {
                Panel::LearningRate => runs[i].lr,
                Panel::BatchSize => runs[i].batch as f64,
            })
            .collect();
        let loglog = |g: &[f64]| slope(&logs(&v)?, &logs(g)?);
        let paper_sign = match p {
            Panel::LearningRate => -1,
            Panel::BatchSize => 1,
        };
        let agrees = |s: Option<f64>| {
            s.filter(|x| *x != 0.0)
                .map(|x| (x > 0.0) == (paper_sign > 0))
        };
        let (sw, sx) = (spearman(&v, &gw), spearman(&v, &gx));
        Trend {
            panel: p,
            varied: match p {
                Panel::LearningRate => "lr",
                Panel::BatchSize => "batch",
            },
            runs: idx.len(),
            paper_sign,
            spearman_g_w: sw,
            spearman_g_x: sx,
            loglog_slope_g_w: loglog(&gw),
            loglog_slope_g_x: loglog(&gx),
            g_w_agrees: agrees(sw),
            g_x_agrees: agrees(sx),
        }
    });
    PanelStats {
        panel,
        pearson: pearson(&gw, &gx),
        pearson_log: logs(&gw).zip(logs(&gx)).and_then(|(a, b)| pearson(&a, &b)),
        spearman: spearman(&gw, &gx),
        runs: idx,
        trend,
    }
}

/// Figure 1's statistics over `runs` (see the module docs); `fixed_batch` / `fixed_lr` default
/// to the most frequent values. Every `η` must be finite and `> 0`, every `B >= 1`, every `g`
/// finite and `>= 0`; errors name the run.
pub fn figure1(
    runs: Vec<Figure1Run>,
    fixed_batch: Option<usize>,
    fixed_lr: Option<f64>,
) -> Result<Figure1Report> {
    let bad = |i: usize, message: String| Error::InvalidInput {
        context: format!("runs[{i}]"),
        message,
    };
    if runs.is_empty() {
        return Err(Error::InvalidInput {
            context: "runs".into(),
            message: "no run".into(),
        });
    }
    for (i, r) in runs.iter().enumerate() {
        if !(r.lr.is_finite() && r.lr > 0.0) {
            return Err(bad(i, format!("lr = {}: must be finite and > 0", r.lr)));
        }
        if r.batch == 0 {
            return Err(bad(i, "batch = 0: must be >= 1".into()));
        }
        for (name, g) in [("g_W", r.g_w), ("g_x", r.g_x)] {
            if !(g.is_finite() && g >= 0.0) {
                return Err(bad(i, format!("{name} = {g}: must be finite and >= 0")));
            }
        }
    }
    if let Some(lr) = fixed_lr {
        crate::engine::analysis::check_lr(lr)?;
    }
    let fixed_batch = fixed_batch
        .or_else(|| mode(runs.iter().map(|r| r.batch)))
        .unwrap_or(1);
    let fixed_lr = fixed_lr
        .or_else(|| mode(runs.iter().map(|r| r.lr)))
        .unwrap_or(1.0);
    let pick = |f: &dyn Fn(&Figure1Run) -> bool| -> Vec<usize> {
        runs.iter()
            .enumerate()
            .filter(|(_, r)| f(r))
            .map(|(i, _)| i)
            .collect()
    };
    let lr_panel = pick(&|r| r.batch == fixed_batch);
    let batch_panel = pick(&|r| r.lr == fixed_lr);
    let all: Vec<usize> = (0..runs.len()).collect();
    let panels = vec![
        stats(&runs, lr_panel, "learning-rate", Some(Panel::LearningRate)),
        stats(&runs, batch_panel, "batch-size", Some(Panel::BatchSize)),
        stats(&runs, all, "all", None),
    ];
    Ok(Figure1Report {
        schema_version: FIGURE1_SCHEMA_VERSION,
        command: "figure1",
        tool_version: env!("CARGO_PKG_VERSION"),
        fixed_batch,
        fixed_lr,
        runs,
        panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lr: f64, batch: usize, g_w: f64, g_x: f64) -> Figure1Run {
        Figure1Run {
            lr,
            batch,
            g_w,
            g_x,
            source: None,
        }
    }

    #[test]
    fn panels_follow_the_most_frequent_settings() {
        let runs = vec![
            run(0.02, 20, 4.0, 2.0),
            run(0.05, 20, 3.0, 1.6),
            run(0.1, 20, 2.0, 1.1),
            run(0.2, 20, 1.0, 0.4),
            run(0.1, 5, 1.2, 0.5),
            run(0.1, 50, 3.5, 1.9),
        ];
        let r = figure1(runs, None, None).unwrap();
        assert_eq!((r.fixed_batch, r.fixed_lr), (20, 0.1));
        assert_eq!(r.panels[0].runs, vec![0, 1, 2, 3]);
        assert_eq!(r.panels[1].runs, vec![2, 4, 5]);
        assert_eq!(r.panels[2].runs.len(), 6);
        // g falls with η and grows with B: the paper's signs
        let t = r.panels[0].trend.as_ref().unwrap();
        assert_eq!(t.spearman_g_w, Some(-1.0));
        assert_eq!(t.g_w_agrees, Some(true));
        let t = r.panels[1].trend.as_ref().unwrap();
        assert_eq!(t.spearman_g_x, Some(1.0));
        // Pearson by hand on the η panel: g_x = 0.5 g_W + c exactly? no: compare to the formula
        let (a, b) = ([4.0, 3.0, 2.0, 1.0], [2.0, 1.6, 1.1, 0.4]);
        let (ma, mb) = (2.5, 1.275);
        let sab: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let saa: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
        let sbb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
        let want = sab / (saa * sbb).sqrt();
        assert!((r.panels[0].pearson.unwrap() - want).abs() < 1e-15);
        assert!(r.panels[2].trend.is_none());
    }

    #[test]
    fn bad_runs_are_named() {
        let e = figure1(
            vec![run(0.1, 2, 1.0, 1.0), run(0.1, 2, f64::NAN, 1.0)],
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("runs[1]: g_W = NaN"), "{e}");
        assert!(figure1(vec![], None, None).is_err());
        assert!(figure1(vec![run(0.0, 2, 1.0, 1.0)], None, None).is_err());
    }
}
