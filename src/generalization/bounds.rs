//! Eqs. (26) and (27) term by term over the grid of radii, for one order `k`, with the findings
//! where a measured value exceeds its bound while the premise holds.

use super::measure::bad;
use super::report::*;
use super::RELATIVE_SLACK;
use crate::engine::stability::Verdict;
use crate::error::{Error, Param, Result};
use crate::networks::datasets::Dataset;
use crate::networks::matrix_norm::bracket;

/// `S_k = (2nw/B)^{1/(2k)} sqrt(2B/η)`, the factor of Theorems 5–7 as printed in the paper.
pub fn stability_factor(n: usize, w: usize, k: usize, lr: f64, batch: usize) -> f64 {
    (2.0 * n as f64 * w as f64 / batch as f64).powf(1.0 / (2.0 * k as f64))
        * (2.0 * batch as f64 / lr).sqrt()
}

/// What every order's bounds share.
pub(super) struct BoundContext<'a> {
    pub(super) n: usize,
    pub(super) d: usize,
    pub(super) w: usize,
    pub(super) m: usize,
    pub(super) lr: f64,
    pub(super) batch: usize,
    pub(super) w1t: &'a [f64],
    pub(super) train: &'a Dataset,
    pub(super) cover_rows: &'a [CoverRow],
    pub(super) per_radius_c: Option<&'a [Vec<f64>]>,
    pub(super) sensitivity: &'a [SensitivityRow],
    pub(super) m1: &'a M1,
    pub(super) m2: &'a M2,
    pub(super) measured: &'a Measured,
    pub(super) eq26_small_delta_limit: f64,
}

/// Step 7: eqs. (26) and (27) for order `k` (the `o`-th) over the grid, with the findings where a
/// measured value exceeds its bound while order `k` is stable.
pub(super) fn order_bounds(
    c: &BoundContext,
    o: usize,
    k: usize,
    verdict: Option<Verdict>,
) -> Result<(OrderBounds, Vec<GeneralizationFinding>)> {
    let (n, d, m) = (c.n, c.d, c.m);
    let norm = bracket(c.w1t, d, m, 2.0 * k as f64);
    let min_x_2k = (0..n)
        .map(|i| crate::engine::bounds::norm_2k(c.train.x_row(i), k))
        .fold(f64::INFINITY, f64::min);
    let s_k = stability_factor(n, c.w, k, c.lr, c.batch);
    let lipschitz = (d as f64).sqrt() * norm.upper * (s_k + 1.0) / min_x_2k;
    let mut c_ratio = 0.0f64;
    let rows: Vec<BoundRow> = c
        .cover_rows
        .iter()
        .enumerate()
        .map(|(t, cr)| {
            let at_radius = c.per_radius_c.map(|p| p[t][o]);
            if let Some(v) = at_radius {
                c_ratio = c_ratio.max(v);
            }
            let cc = c_ratio.max(1.0);
            let delta = cr.delta;
            let smoothness_term = 2.0 * d as f64 * cc * cc * norm.upper * norm.upper
                / (min_x_2k * min_x_2k)
                * (s_k + 1.0)
                * (s_k + 1.0)
                * delta
                * delta;
            let target_term = 2.0 * c.m2.value * c.m2.value * delta * delta;
            let uncovered_term = 4.0 * c.m1.value * c.m1.value * cr.eps2;
            let bound = cc * lipschitz * delta;
            let measured = c.sensitivity.get(t).map(|s| s.measured);
            BoundRow {
                delta,
                delta_approx: cr.delta_approx,
                c_ratio_at_radius: at_radius,
                c_ratio: at_radius.map(|_| c_ratio),
                c: cc,
                eq26: Eq26 {
                    smoothness_term,
                    target_term,
                    uncovered_term,
                    total: smoothness_term + target_term + uncovered_term,
                },
                eq27: Eq27 {
                    bound,
                    measured,
                    ratio: measured.map(|m| if bound > 0.0 { m / bound } else { 0.0 }),
                    c_needed: measured.map(|m| {
                        if lipschitz * delta > 0.0 {
                            m / (lipschitz * delta)
                        } else {
                            0.0
                        }
                    }),
                },
            }
        })
        .collect();
    if let Some(r) = rows
        .iter()
        .find(|r| !(r.eq26.total.is_finite() && r.eq27.bound.is_finite()))
    {
        return Err(Error::parameter(
            Param::Deltas,
            format!("{:e}", r.delta),
            format!("the bounds of order {k} overflow at this radius; give smaller radii"),
        ));
    }
    let min_row = rows
        .iter()
        .min_by(|a, b| a.eq26.total.total_cmp(&b.eq26.total))
        .ok_or_else(|| bad("deltas", "no radius".into()))?;
    let test_mse = c.measured.test_mse;
    let infimum = min_row.eq26.total.min(c.eq26_small_delta_limit);
    let eq26_min = Eq26Minimum {
        delta: min_row.delta,
        total: min_row.eq26.total,
        test_mse_over_bound: if min_row.eq26.total > 0.0 {
            test_mse / min_row.eq26.total
        } else {
            0.0
        },
        infimum_over_delta: infimum,
        below_target_variance: infimum < c.measured.test_target_variance,
    };
    let eq27_max_ratio = rows.iter().filter_map(|r| r.eq27.ratio).reduce(f64::max);
    let mut findings = Vec::new();
    if verdict == Some(Verdict::Stable) {
        if let Some(r) = rows
            .iter()
            .filter(|r| {
                r.eq27
                    .measured
                    .is_some_and(|m| m > r.eq27.bound * (1.0 + RELATIVE_SLACK))
            })
            .max_by(|a, b| {
                a.eq27
                    .ratio
                    .unwrap_or(0.0)
                    .total_cmp(&b.eq27.ratio.unwrap_or(0.0))
            })
        {
            findings.push(GeneralizationFinding {
                check: GeneralizationCheck::Eq27,
                k,
                message: format!(
                    "order {k} is stable but the measured sensitivity exceeds eq. (27) with the estimated C: at δ = {:.6e}, |f(x) − f(x_i)| = {:.6e} > {:.6e} (C = {:.6e}; C needed {:.6e})",
                    r.delta,
                    r.eq27.measured.unwrap_or(0.0),
                    r.eq27.bound,
                    r.c,
                    r.eq27.c_needed.unwrap_or(0.0)
                ),
            });
        }
        if test_mse > eq26_min.total * (1.0 + RELATIVE_SLACK) {
            findings.push(GeneralizationFinding {
                check: GeneralizationCheck::Eq26,
                k,
                message: format!(
                    "order {k} is stable but the test error {:.6e} exceeds the smallest eq. (26) bound {:.6e} (at δ = {:.6e}) with the estimated constants",
                    test_mse, eq26_min.total, eq26_min.delta
                ),
            });
        }
    }
    Ok((
        OrderBounds {
            k,
            premise_verdict: verdict,
            stability_factor: s_k,
            w1t_norm: norm,
            min_x_norm_2k: min_x_2k,
            lipschitz_factor: lipschitz,
            rows,
            eq26_min,
            eq27_max_ratio,
        },
        findings,
    ))
}
