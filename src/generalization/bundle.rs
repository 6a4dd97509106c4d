//! Section 5 on a network bundle: what `sgdstab generalization DIR` and
//! `sgdstab.generalization(bundle)` both compute.
//!
//! - sgdstab's own network (`train --export`) on a built-in data set: a fresh test set drawn
//!   from the data set's distribution (`test_n` points), the model evaluated and probed
//!   ([`super::generalization`]);
//! - any other bundle: its test set and the model's recorded outputs
//!   ([`super::generalization_recorded`]); what is missing is named (file and reason).
//!
//! Theorems 6 and 7 need a dense first layer (`f(x, W) = f̃(W_1 x, W_2)`); another first layer
//! is an error naming `bundle.json`'s `first_layer.kind`.

use super::{
    generalization, generalization_recorded, GeneralizationOptions, GeneralizationReport,
    RecordedInput, SectionFiveInput,
};
use crate::engine::stability::Verdict;
use crate::error::{Error, Result};
use crate::io::bundle::{Bundle, MANIFEST_FILE};
use crate::networks::datasets::{Dataset, Distribution};
use crate::networks::export::export_of;
use crate::networks::sobolev::TrainingPoint;
use crate::progress::Progress;
use std::collections::BTreeMap;
use std::path::Path;

/// A report with what the front ends show next to it.
#[derive(Debug, Clone)]
pub struct BundleGeneralization {
    /// The report.
    pub report: GeneralizationReport,
    /// A title for the figure (the architecture or the bundle's producer).
    pub title: String,
    /// A warning to print (the network did not interpolate), if any.
    pub warning: Option<String>,
}

/// `W_1` (`m × d`) and `m` of a bundle whose first layer is dense; else the error naming
/// `bundle.json`'s `first_layer.kind`.
pub fn check_applicable(bundle: &Bundle, dir: &Path) -> Result<(Vec<f64>, usize)> {
    bundle.dense_w1().ok_or_else(|| Error::Format {
        path: dir.join(MANIFEST_FILE),
        message: format!(
            "first_layer.kind = {}: Theorems 6 and 7 need a dense first layer W_1 (f(x, W) = f̃(W_1 x, W_2)); sobolev reports g_W and g_x for any first layer",
            bundle.manifest.first_layer.kind()
        ),
    })
}

/// Eqs. (26) and (27) on a bundle at `point`, with the premise verdicts (empty: not computed).
#[allow(clippy::too_many_arguments)]
pub fn generalization_of_bundle(
    bundle: &Bundle,
    dir: &Path,
    opts: &GeneralizationOptions,
    test_n: usize,
    point: TrainingPoint,
    verdicts: &BTreeMap<usize, Verdict>,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<BundleGeneralization> {
    opts.check()?;
    let (w1, m) = check_applicable(bundle, dir)?;
    let (lr, batch) = (point.lr, point.batch);
    let premise = |k: usize| verdicts.get(&k).copied();
    let export = export_of(dir, bundle.clone())?;
    let spec = export.as_ref().and_then(|e| e.meta.dataset_spec);
    match (&export, spec) {
        (Some(ex), Some(spec)) => {
            if spec.kind.fixed_dim().unwrap_or(spec.dim) != ex.d() {
                return Err(Error::InvalidInput {
                    context: dir.join("meta.json").display().to_string(),
                    message: format!(
                        "dataset_spec.dim = {} but the inputs have d = {}",
                        spec.kind.fixed_dim().unwrap_or(spec.dim),
                        ex.d()
                    ),
                });
            }
            let dist = Distribution::new(&spec)?;
            let test = dist.test_set(test_n)?;
            let train = ex.dataset()?;
            let net = ex.network()?;
            let inp = SectionFiveInput {
                model: &net,
                train: &train,
                test: &test,
                gradient_bound: dist.gradient_bound(),
                lr,
                batch,
            };
            let report = generalization(&inp, opts, &premise, input, progress)?;
            let warning = (!ex.meta.interpolated).then(|| {
                format!(
                    "the exported network did not reach interpolation (final loss {:.3e}); Theorem 6 assumes f(x_i) = y_i",
                    ex.meta.final_loss
                )
            });
            Ok(BundleGeneralization {
                report,
                title: ex.meta.architecture_text.clone(),
                warning,
            })
        }
        _ => {
            let missing = |file: &str, what: &str| {
                let regen = if export.is_some() {
                    "; its meta.json names no built-in data set (dataset_spec) to draw one from"
                } else {
                    ""
                };
                Error::Format {
                    path: dir.join(file),
                    message: format!("missing: generalization needs {what}{regen}"),
                }
            };
            let test = bundle.test.as_ref().ok_or_else(|| {
                missing(
                    "test_x.npy",
                    "a held-out test set with the model's outputs on it (test_x.npy, test_y.npy, test_outputs.npy)",
                )
            })?;
            let test_outputs = test.outputs.as_ref().ok_or_else(|| {
                missing("test_outputs.npy", "the model's outputs on the test set")
            })?;
            let outputs = bundle.outputs.as_ref().ok_or_else(|| {
                missing("outputs.npy", "the model's outputs on the training inputs")
            })?;
            let d = bundle.d();
            let name = dir.display().to_string();
            let train = Dataset::new(
                format!("{name} (training set)"),
                bundle.n(),
                d,
                bundle.x.clone(),
                bundle.y.clone(),
            )?;
            let test_set = Dataset::new(
                format!("{name} (test set)"),
                test.n(),
                d,
                test.x.clone(),
                test.y.clone(),
            )?;
            let inp = RecordedInput {
                train: &train,
                test: &test_set,
                train_outputs: outputs,
                test_outputs,
                w: bundle.w(),
                w1: &w1,
                m,
                perturbed: bundle.perturbed.as_ref(),
                lr,
                batch,
            };
            let report = generalization_recorded(&inp, opts, &premise, input, progress)?;
            Ok(BundleGeneralization {
                report,
                title: bundle.manifest.producer.clone(),
                warning: None,
            })
        }
    }
}
