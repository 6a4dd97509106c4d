//! The measured and estimated quantities of Section 5, step by step: the inputs checked, the test
//! error and `M₁`, `M₂`, the covering section, Definition 1's `C` and the sensitivity.

use super::covering::{self, ScatterEstimator};
use super::probe::{self, InputLayerModel, ProbeKind, ProbeOptions, Sensitivity};
use super::report::*;
use super::{DeltaGrid, GeneralizationOptions, SectionFiveInput, MAX_DELTAS, MAX_QUOTIENT_POINTS};
use crate::error::{Error, Param, Result};
use crate::networks::datasets::{Dataset, GradientBound};
use crate::progress::Progress;
use crate::random::SplitMix64;
use rayon::prelude::*;

pub(super) fn bad(context: &str, message: String) -> Error {
    Error::InvalidInput {
        context: context.to_string(),
        message,
    }
}

/// The radii, validated.
pub(super) fn radii(grid: &DeltaGrid, nearest: &[f64]) -> Result<Vec<f64>> {
    let mut deltas = match grid {
        DeltaGrid::Auto { count } => {
            if *count == 0 || *count > MAX_DELTAS {
                return Err(Error::parameter(
                    Param::Grid,
                    count,
                    format!("the number of radii must be in 1..={MAX_DELTAS}"),
                ));
            }
            covering::default_deltas(nearest, *count)
        }
        DeltaGrid::Given(v) => {
            if v.is_empty() || v.len() > MAX_DELTAS {
                return Err(Error::parameter(
                    Param::Deltas,
                    v.len(),
                    format!("give 1..={MAX_DELTAS} radii"),
                ));
            }
            if let Some(b) = v.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                return Err(Error::parameter(
                    Param::Deltas,
                    b,
                    "every radius must be finite and > 0",
                ));
            }
            v.clone()
        }
    };
    deltas.sort_by(f64::total_cmp);
    deltas.dedup();
    Ok(deltas)
}

/// The largest `|y_a − y_b| / ‖x_a − x_b‖_2` over distinct inputs (see [`M2Source`]).
pub(super) fn difference_quotient(train: &Dataset, test: &Dataset) -> f64 {
    let mut pts: Vec<(&[f64], f64)> = (0..train.n).map(|i| (train.x_row(i), train.y[i])).collect();
    pts.extend((0..test.n).map(|j| (test.x_row(j), test.y[j])));
    let firsts = if pts.len() > MAX_QUOTIENT_POINTS {
        train.n
    } else {
        pts.len()
    };
    (0..firsts)
        .into_par_iter()
        .map(|a| {
            let mut best = 0.0f64;
            for b in a + 1..pts.len() {
                let dist = covering::distance(pts[a].0, pts[b].0);
                if dist > 0.0 {
                    best = best.max((pts[a].1 - pts[b].1).abs() / dist);
                }
            }
            best
        })
        .reduce(|| 0.0, f64::max)
}

/// The validated inputs: distinct orders, parameter count, `W_1` (`m × d`), `min_i ‖x_i‖_2`.
pub(super) struct Checked {
    pub(super) orders: Vec<usize>,
    pub(super) w: usize,
    pub(super) w1: Vec<f64>,
    pub(super) m: usize,
    pub(super) min_x_2: f64,
}

/// What the checks of step 1 need from the model side.
pub(super) struct ModelShape<'a> {
    /// The model's input dimension.
    pub(super) input_dim: usize,
    /// `w`.
    pub(super) w: usize,
    /// `W_1`, `m × d` row-major.
    pub(super) w1: &'a [f64],
    /// `m`.
    pub(super) m: usize,
}

/// Step 1: the options, the shapes and the training inputs (Theorems 6 and 7 divide by
/// `min_i ‖x_i‖`).
pub(super) fn check_input(
    train: &Dataset,
    test: &Dataset,
    model: ModelShape<'_>,
    lr: f64,
    batch: usize,
    opts: &GeneralizationOptions,
) -> Result<Checked> {
    crate::engine::analysis::check_lr(lr)?;
    crate::engine::analysis::check_orders(&opts.orders)?;
    let (n, d) = (train.n, train.d);
    crate::engine::sampling::BatchModel::new(n, batch, crate::Sampling::WithoutReplacement)?;
    if model.input_dim != d || test.d != d {
        return Err(bad(
            "test set",
            format!(
                "input dimensions differ: model {}, training {d}, test {}",
                model.input_dim, test.d
            ),
        ));
    }
    opts.check()?;
    let mut orders = opts.orders.clone();
    {
        let mut seen = Vec::new();
        orders.retain(|k| {
            let fresh = !seen.contains(k);
            seen.push(*k);
            fresh
        });
    }
    let (w1, m) = (model.w1.to_vec(), model.m);
    if w1.len() != m * d || m == 0 {
        return Err(bad(
            "W_1",
            format!("{} entries for m = {m}, d = {d}", w1.len()),
        ));
    }
    let x_norms_2: Vec<f64> = (0..n).map(|i| norm2(train.x_row(i))).collect();
    if let Some(i) = x_norms_2.iter().position(|&v| v == 0.0) {
        return Err(bad(
            "training inputs",
            format!("x_{i} = 0: Theorems 6 and 7 divide by min_i ‖x_i‖"),
        ));
    }
    let min_x_2 = x_norms_2.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Checked {
        orders,
        w: model.w,
        w1,
        m,
        min_x_2,
    })
}

/// The model's outputs on the training and the test inputs.
pub(super) fn outputs<M: InputLayerModel + ?Sized>(
    model: &M,
    train: &Dataset,
    test: &Dataset,
) -> (Vec<f64>, Vec<f64>) {
    let f_train: Vec<f64> = (0..train.n)
        .map(|i| model.value_at(model.params(), train.x_row(i)))
        .collect();
    let f_test: Vec<f64> = (0..test.n)
        .into_par_iter()
        .map(|j| model.value_at(model.params(), test.x_row(j)))
        .collect();
    (f_train, f_test)
}

/// Step 2: the measured test error and training residual, and `M₁` (the model at `W*` on
/// training ∪ test), from its outputs there.
pub(super) fn measure(
    train: &Dataset,
    test: &Dataset,
    f_train: &[f64],
    f_test: &[f64],
) -> (Measured, M1) {
    let test_mse = f_test
        .iter()
        .zip(&test.y)
        .map(|(f, y)| (f - y) * (f - y))
        .sum::<f64>()
        / test.n as f64;
    let mean_y = test.y.iter().sum::<f64>() / test.n as f64;
    let variance = test.y.iter().map(|y| (y - mean_y).powi(2)).sum::<f64>() / test.n as f64;
    let train_residual_max = f_train
        .iter()
        .zip(&train.y)
        .map(|(f, y)| (f - y).abs())
        .fold(0.0, f64::max);
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let net = max_abs(f_train).max(max_abs(f_test));
    let tgt = max_abs(&train.y).max(max_abs(&test.y));
    (
        Measured {
            test_mse,
            test_target_variance: variance,
            train_residual_max,
        },
        M1 {
            value: net.max(tgt),
            network_max_abs: net,
            target_max_abs: tgt,
        },
    )
}

/// Step 3: `M₂`, from the data set's closed form or the difference quotient.
pub(super) fn m2_of(gradient_bound: Option<GradientBound>, train: &Dataset, test: &Dataset) -> M2 {
    match gradient_bound {
        Some(b) => M2 {
            value: b.value,
            source: if b.exact {
                M2Source::ClosedFormExact
            } else {
                M2Source::ClosedFormUpperBound
            },
            how: b.formula.to_string(),
        },
        None => M2 {
            value: difference_quotient(train, test),
            source: M2Source::DifferenceQuotient,
            how: "largest |y_a − y_b| / ‖x_a − x_b‖_2 over distinct inputs of training ∪ test: a lower estimate (no target function is known)".into(),
        },
    }
}

/// Step 4: the covering section: `ε₂(δ)`, the `K(δ)` estimate and `δ_approx` per radius, and
/// the test-to-training distances.
pub(super) fn covering_section(
    train: &Dataset,
    test: &Dataset,
    nearest: &[f64],
    deltas: &[f64],
    w1_norm: f64,
    min_x_2: f64,
) -> Covering {
    let scatter = ScatterEstimator::new(&train.x, &test.x, train.d);
    let mut sorted_near = nearest.to_vec();
    sorted_near.sort_by(f64::total_cmp);
    let median = if sorted_near.is_empty() {
        0.0
    } else {
        let h = sorted_near.len() / 2;
        if sorted_near.len() % 2 == 1 {
            sorted_near[h]
        } else {
            0.5 * (sorted_near[h - 1] + sorted_near[h])
        }
    };
    let k_estimates = scatter.estimate_many(deltas);
    let rows: Vec<CoverRow> = deltas
        .iter()
        .zip(&k_estimates)
        .map(|(&delta, &k_estimate)| CoverRow {
            delta,
            eps2: covering::uncovered_fraction(nearest, delta),
            k_estimate,
            delta_approx: delta * w1_norm / min_x_2,
        })
        .collect();
    Covering {
        midpoints: scatter.midpoints,
        evaluation_points: scatter.evaluation_points,
        nearest_distance_min: sorted_near.first().copied().unwrap_or(0.0),
        nearest_distance_median: median,
        nearest_distance_max: sorted_near.last().copied().unwrap_or(0.0),
        rows,
    }
}

/// Step 5, Definition 1: per radius and order, the largest sampled
/// `‖∇_W f(x_i, W')‖_{2k} / (‖∇_W f(x_i, W*)‖_{2k} + 1)` over the training points.
pub(super) fn local_smoothness<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    rows: &[CoverRow],
    orders: &[usize],
    probes: &ProbeOptions,
    progress: &dyn Progress,
) -> Vec<Vec<f64>> {
    let (train, model) = (inp.train, inp.model);
    rows.iter()
        .enumerate()
        .map(|(t, row)| {
            let per_point: Vec<Vec<f64>> = (0..train.n)
                .into_par_iter()
                .map(|i| {
                    let mut rng = SplitMix64::derive(
                        probes.seed,
                        0x4331_0000_0000_0000 ^ ((t as u64) << 32) ^ i as u64,
                    );
                    let p = probe::probe_parameter_gradient(
                        model,
                        train.x_row(i),
                        row.delta_approx,
                        orders,
                        probes,
                        &mut rng,
                    );
                    p.largest
                        .iter()
                        .zip(&p.at_minimum)
                        .map(|(l, a)| l / (a + 1.0))
                        .collect()
                })
                .collect();
            progress.advance(1, "local smoothness C");
            (0..orders.len())
                .map(|o| per_point.iter().map(|r| r[o]).fold(0.0, f64::max))
                .collect()
        })
        .collect()
}

/// Step 6, eq. (27)'s left-hand side: the largest `|f(x) − f(x_i)|` around every training point,
/// cumulative over the radii.
pub(super) fn sensitivity_rows<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    deltas: &[f64],
    probes: &ProbeOptions,
    progress: &dyn Progress,
) -> Vec<SensitivityRow> {
    let (train, model) = (inp.train, inp.model);
    let mut sensitivity: Vec<SensitivityRow> = Vec::with_capacity(deltas.len());
    let mut best = (0.0f64, ProbeKind::Random, 0usize);
    for (t, &delta) in deltas.iter().enumerate() {
        let per_point: Vec<Sensitivity> = (0..train.n)
            .into_par_iter()
            .map(|i| {
                let mut rng = SplitMix64::derive(
                    probes.seed,
                    0x5345_0000_0000_0000 ^ ((t as u64) << 32) ^ i as u64,
                );
                probe::probe_sensitivity(model, train.x_row(i), delta, probes, &mut rng)
            })
            .collect();
        let mut at = Sensitivity {
            random: 0.0,
            input_gradient: 0.0,
            ascent: 0.0,
        };
        for (i, s) in per_point.iter().enumerate() {
            at.random = at.random.max(s.random);
            at.input_gradient = at.input_gradient.max(s.input_gradient);
            at.ascent = at.ascent.max(s.ascent);
            let (v, kind) = s.max();
            if v > best.0 {
                best = (v, kind, i);
            }
        }
        sensitivity.push(SensitivityRow {
            delta,
            at_radius: Some(at),
            measured: best.0,
            found_by: best.1,
            point: best.2,
        });
        progress.advance(1, "sensitivity");
    }
    sensitivity
}

pub(super) fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// Step 6 from recorded outputs (a bundle's `perturbed_*.npy`): at each radius `δ`, the
/// largest `|f(x) − f(x_i)|` over the recorded points `x` of training point `i` with
/// `‖x − x_i‖_2 <= δ` (cumulative over the radii, as the probes are).
pub(super) fn recorded_sensitivity(
    train: &Dataset,
    f_train: &[f64],
    perturbed: &crate::io::bundle::Perturbed,
    deltas: &[f64],
) -> Vec<SensitivityRow> {
    let d = train.d;
    // (distance, change, training point) per record, nearest first
    let mut recs: Vec<(f64, f64, usize)> = perturbed
        .index
        .iter()
        .enumerate()
        .map(|(j, &i)| {
            let x = &perturbed.x[j * d..(j + 1) * d];
            (
                covering::distance(x, train.x_row(i)),
                (perturbed.outputs[j] - f_train[i]).abs(),
                i,
            )
        })
        .collect();
    recs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(deltas.len());
    let (mut best, mut point, mut next) = (0.0f64, 0usize, 0usize);
    for &delta in deltas {
        while next < recs.len() && recs[next].0 <= delta * (1.0 + super::RELATIVE_SLACK) {
            if recs[next].1 > best {
                best = recs[next].1;
                point = recs[next].2;
            }
            next += 1;
        }
        out.push(SensitivityRow {
            delta,
            at_radius: None,
            measured: best,
            found_by: ProbeKind::Recorded,
            point,
        });
    }
    out
}
