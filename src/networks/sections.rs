//! Section 4 on a network bundle of any framework ([`crate::io::bundle`]): the training point,
//! Theorem 3's premise by the analyzer, the first layer as a linear map of `x`, and the
//! `sobolev` report — what `sgdstab sobolev DIR` and `sgdstab.sobolev(bundle)` both compute.
//!
//! What the bundle lacks is named, never guessed: a missing training `η` or `B` is an error
//! naming `bundle.json` and the field unless the caller gives it; a first layer that is not
//! dense makes Prop. 2, Corollary 2 and Theorem 3 *not applicable*, with the reason in the
//! report ([`crate::networks::sobolev::FirstLayerReport`]).

use crate::engine::stability::Verdict;
use crate::error::{Error, Result};
use crate::io::bundle::{Bundle, FirstLayer, MANIFEST_FILE};
use crate::networks::conv::Conv2d;
use crate::networks::sobolev::{
    evaluate, Applicability, FirstLayerReport, OperatorNorm, SobolevInput, SobolevReport,
    TrainingPoint, CONV_NOT_APPLICABLE,
};
use crate::progress::Hooks;
use crate::{AnalyzeOptions, Gradients, Problem, ProblemOptions, Sampling};
use std::collections::BTreeMap;
use std::path::Path;

/// The training point of a bundle: `lr` and `batch` when given (checked), else the bundle's
/// `training.lr` / `training.batch` (an error naming `bundle.json` and the field when absent);
/// the sampling of the bundle, else without replacement.
pub fn training_point(
    bundle: &Bundle,
    dir: &Path,
    lr: Option<f64>,
    batch: Option<usize>,
) -> Result<TrainingPoint> {
    let t = &bundle.manifest.training;
    let missing = |field: &str, param: &str| {
        Error::Format {
        path: dir.join(MANIFEST_FILE),
        message: format!(
            "training.{field}: missing (the bundle does not record the training {param}); give `{field}`"
        ),
    }
    };
    let lr = match lr {
        Some(v) => {
            crate::engine::analysis::check_lr(v)?;
            v
        }
        None => t.lr.ok_or_else(|| missing("lr", "learning rate"))?,
    };
    let batch = match batch.or(t.batch) {
        Some(b) => b,
        None => return Err(missing("batch", "batch size")),
    };
    let sampling = t.sampling.unwrap_or(Sampling::WithoutReplacement);
    crate::engine::sampling::BatchModel::new(bundle.n(), batch, sampling)?;
    Ok(TrainingPoint {
        lr,
        batch,
        sampling,
    })
}

/// Theorem 1's verdict for every order at the training point (the premise of Theorem 3 and of
/// Theorems 6–7): the analyzer on the bundle's gradients with its default options.
pub fn premise_verdicts(
    grads: &Gradients,
    point: TrainingPoint,
    orders: &[usize],
    hooks: Hooks,
) -> Result<BTreeMap<usize, Verdict>> {
    crate::engine::analysis::check_orders(orders)?;
    let max_order = orders.iter().copied().max().unwrap_or(1);
    let p = Problem::from_gradients(
        grads,
        &ProblemOptions::default()
            .sampling(point.sampling)
            .max_order(max_order),
        hooks,
    )?;
    let rep = p.analyze(
        point.lr,
        point.batch,
        &AnalyzeOptions::default().orders(orders.to_vec()),
        hooks,
    )?;
    Ok(rep.orders.iter().map(|o| (o.k, o.verdict)).collect())
}

/// The first layer of a bundle as a report, and `W_1` (`m × d`) and `m` when it is dense.
pub fn first_layer(bundle: &Bundle) -> (FirstLayerReport, Option<(Vec<f64>, usize)>) {
    let m = &bundle.manifest;
    let shape = bundle.first_layer_block().map(|b| b.shape[1..].to_vec());
    let name = m.first_layer.name().map(String::from);
    match &m.first_layer {
        FirstLayer::Dense { .. } => {
            let dense = bundle.dense_w1();
            let norm = dense.as_ref().map(|(w1, rows)| {
                let s = crate::networks::matrix_norm::spectral_norm(w1, *rows, bundle.d());
                OperatorNorm {
                    lower: s,
                    upper: s,
                    lower_method: "svd".into(),
                    upper_method: "svd".into(),
                }
            });
            (
                FirstLayerReport {
                    kind: "dense",
                    name,
                    shape,
                    operator_norm: norm,
                    section4: Applicability::Applicable,
                    reason: None,
                },
                dense,
            )
        }
        FirstLayer::Conv2d {
            kernel_layout,
            input_layout,
            padding,
            ..
        } => {
            let norm = match (&bundle.w1, &shape) {
                (Some(k), Some(s)) => {
                    let c = Conv2d::new(
                        k,
                        s,
                        &m.input_shape,
                        *kernel_layout,
                        *input_layout,
                        *padding,
                    );
                    let b = c.operator_norm();
                    let name = |v: crate::networks::conv::ConvNormMethod| {
                        serde_json::to_value(v)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    };
                    Some(OperatorNorm {
                        lower: b.lower,
                        upper: b.upper,
                        lower_method: name(b.lower_method),
                        upper_method: name(b.upper_method),
                    })
                }
                _ => None,
            };
            (
                FirstLayerReport {
                    kind: "conv2d",
                    name,
                    shape,
                    operator_norm: norm,
                    section4: Applicability::NotApplicable,
                    reason: Some(CONV_NOT_APPLICABLE.into()),
                },
                None,
            )
        }
        FirstLayer::Other { reason } => (
            FirstLayerReport {
                kind: "other",
                name: None,
                shape: None,
                operator_norm: None,
                section4: Applicability::NotApplicable,
                reason: Some(format!(
                    "the bundle gives no dense first layer W_1 ({reason}); Prop. 2, Corollary 2 and Theorem 3 need f(x, W) = f̃(W_1 x, W_2)"
                )),
            },
            None,
        ),
    }
}

/// The `sobolev` report of a bundle at `point`, with the premise verdicts (empty: not
/// computed).
pub fn sobolev_of_bundle(
    bundle: &Bundle,
    orders: &[usize],
    point: TrainingPoint,
    verdicts: &BTreeMap<usize, Verdict>,
    input: Option<String>,
) -> Result<SobolevReport> {
    let (report, dense) = first_layer(bundle);
    let d = bundle.d();
    let inp = SobolevInput {
        x: &bundle.x,
        xgrads: &bundle.xgrads,
        grads: &bundle.grads,
        w1: &[],
        d,
        m: 0,
    };
    evaluate(
        &inp,
        dense.as_ref().map(|(w1, m)| (w1.as_slice(), *m)),
        report,
        orders,
        point,
        &|k| verdicts.get(&k).copied(),
        input,
    )
}

/// `g_W` and `g_x` of eq. (5) of a bundle, with its training `η` and `B` when recorded (the
/// numbers [`crate::networks::figure1`] takes per run).
pub fn g_values_of(bundle: &Bundle) -> (Option<f64>, Option<usize>, f64, f64) {
    let (gw, gx) =
        crate::networks::sobolev::g_values(bundle.grads.as_slice(), &bundle.xgrads, bundle.n());
    let t = &bundle.manifest.training;
    (t.lr, t.batch, gw, gx)
}
