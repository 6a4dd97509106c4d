//! Reading a bundle: a folder (`bundle.json` or a legacy `meta.json`), or arrays in memory
//! checked the same way.

use super::check::{layout, per_input, vector};
use super::*;
use crate::error::Error;
use crate::io::npy;
use std::path::PathBuf;

/// Reads `dir/name` as an NPY array.
fn read_npy(dir: &Path, name: &str) -> Result<npy::NpyArray> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    npy::parse(&bytes).map_err(|m| format_err(&path, m))
}

/// Reads an optional array (`None` when the file does not exist).
fn read_optional(dir: &Path, name: &str) -> Result<Option<npy::NpyArray>> {
    if dir.join(name).exists() {
        read_npy(dir, name).map(Some)
    } else {
        Ok(None)
    }
}

/// Parses `bundle.json` text; `path` names it in errors.
pub fn parse_manifest(text: &str, path: &Path) -> Result<Manifest> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format_err(path, format!("not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(format_err(path, "not a JSON object".into()));
    };
    if !obj.contains_key("bundle_version") {
        return Err(format_err(
            path,
            format!(
                "bundle_version: missing (every bundle states its format version; this build reads {BUNDLE_VERSION})"
            ),
        ));
    }
    let m: Manifest = serde_json::from_value(value)
        .map_err(|e| format_err(path, format!("not a bundle manifest: {e}")))?;
    check_manifest(&m, path)?;
    Ok(m)
}

/// Reads a bundle folder and checks it ([`Bundle::validate`]).
///
/// A folder without `bundle.json` but with a `meta.json` of sgdstab's export (schema 1) is read
/// as the bundle it describes: `grads.npy` with blocks `W_1` (`m × d`) and `W_2` (the rest),
/// a dense first layer `W_1`, and the training `η`, `B` of `meta.json`.
pub fn read_bundle(dir: &Path) -> Result<Bundle> {
    if !dir.is_dir() {
        return Err(Error::InvalidInput {
            context: dir.display().to_string(),
            message: "not a directory (expected a network bundle: a folder with bundle.json)"
                .into(),
        });
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Io {
            path: manifest_path.clone(),
            source,
        })?;
        parse_manifest(&text, &manifest_path)?
    } else if dir.join(LEGACY_META_FILE).exists() {
        legacy_manifest(dir)?
    } else {
        return Err(format_err(
            &manifest_path,
            "missing, and no meta.json of an older export: not a network bundle (write one with `sgdstab train --export`, sgdstab.jax.export_network or sgdstab.torch.export_network)".into(),
        ));
    };
    let grad_name = gradient_file_name(dir)?;
    let input = crate::io::read_input(&dir.join(grad_name), &crate::io::ReadOptions::default())?;
    assemble(dir, manifest, input, grad_name, &|name| {
        read_optional(dir, name)
    })
}

/// The name of the bundle's gradient file: exactly one of [`GRADIENT_FILES`] must exist.
fn gradient_file_name(dir: &Path) -> Result<&'static str> {
    let present: Vec<&'static str> = GRADIENT_FILES
        .iter()
        .copied()
        .filter(|f| dir.join(f).exists())
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(format_err(
            &dir.join(GRADIENT_FILES[0]),
            format!(
                "missing: a bundle holds its parameter gradients in one of {}",
                GRADIENT_FILES.join(", ")
            ),
        )),
        several => Err(format_err(
            &dir.join(several[1]),
            format!(
                "a bundle holds one gradient file; found {}",
                several.join(" and ")
            ),
        )),
    }
}

/// The parameter-gradient file of the bundle in `dir` (what `analyze DIR` reads), after
/// checking that `dir/bundle.json` (or a legacy `meta.json`) is there and parses.
pub fn gradient_file(dir: &Path) -> Result<PathBuf> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Io {
            path: manifest_path.clone(),
            source,
        })?;
        parse_manifest(&text, &manifest_path)?;
    } else if dir.join(LEGACY_META_FILE).exists() {
        legacy_manifest(dir)?;
    } else {
        return Err(format_err(
            &manifest_path,
            "missing: a directory given as gradients must be a network bundle".into(),
        ));
    }
    Ok(dir.join(gradient_file_name(dir)?))
}

/// A bundle from arrays in memory (a writer's input, e.g. the Python helpers'), checked exactly
/// as [`read_bundle`] checks a folder; errors name the file each array would be written to in
/// `dir`. `grads` is the `n × w` matrix (`param_blocks` of the manifest name its columns);
/// `arrays` maps the other file names (`x.npy`, …) to their arrays.
pub fn bundle_from_arrays(
    dir: &Path,
    manifest_json: &str,
    grads: npy::NpyArray,
    arrays: &std::collections::BTreeMap<String, npy::NpyArray>,
) -> Result<Bundle> {
    let manifest = parse_manifest(manifest_json, &dir.join(MANIFEST_FILE))?;
    let grad_path = dir.join(GRADIENT_FILES[0]);
    let (n, w, data) = grads.into_matrix().map_err(|m| format_err(&grad_path, m))?;
    let gradients = Gradients::from_row_major(n, w, data, &grad_path.display().to_string())?;
    let input = crate::io::GradientInput {
        gradients,
        format: crate::io::Format::Npy,
        blocks: vec![ParameterBlock {
            name: String::new(),
            shape: vec![n, w],
            columns: 0..w,
        }],
    };
    if let Some(name) = arrays.keys().find(|k| !KNOWN_FILES.contains(&k.as_str())) {
        return Err(format_err(
            &dir.join(name),
            format!("not a bundle file (known: {})", KNOWN_FILES.join(", ")),
        ));
    }
    assemble(dir, manifest, input, GRADIENT_FILES[0], &|name| {
        Ok(arrays.get(name).cloned())
    })
}

/// The array files of a bundle besides the gradients.
pub const KNOWN_FILES: [&str; 12] = [
    XGRADS_FILE,
    X_FILE,
    Y_FILE,
    OUTPUTS_FILE,
    W1_FILE,
    TEST_X_FILE,
    TEST_Y_FILE,
    TEST_OUTPUTS_FILE,
    PERTURBED_X_FILE,
    PERTURBED_INDEX_FILE,
    PERTURBED_OUTPUTS_FILE,
    PARAMS_FILE,
];

type ArraySource<'a> = dyn Fn(&str) -> Result<Option<npy::NpyArray>> + 'a;

/// The checks shared by [`read_bundle`] and [`bundle_from_arrays`]: every array against the
/// manifest, all values finite.
fn assemble(
    dir: &Path,
    manifest: Manifest,
    input: crate::io::GradientInput,
    grad_name: &str,
    source: &ArraySource<'_>,
) -> Result<Bundle> {
    let grad_path = dir.join(grad_name);
    let manifest_path = dir.join(MANIFEST_FILE);
    let n = manifest.n;
    if input.gradients.n() != n || input.gradients.w() != manifest.parameters {
        return Err(format_err(
            &grad_path,
            format!(
                "{} × {} gradient matrix, but bundle.json says n = {n}, parameters = {}",
                input.gradients.n(),
                input.gradients.w(),
                manifest.parameters
            ),
        ));
    }
    let optional = |name: &str| -> Result<Option<npy::NpyArray>> {
        match source(name)? {
            Some(a) => {
                finite(&dir.join(name), &a.data)?;
                Ok(Some(a))
            }
            None => Ok(None),
        }
    };
    let need = |name: &str, what: &str| -> Result<npy::NpyArray> {
        optional(name)?.ok_or_else(|| {
            format_err(
                &dir.join(name),
                format!("missing: a bundle needs the {what}"),
            )
        })
    };
    let shape = manifest.input_shape.clone();
    let xgrads = per_input(
        dir,
        XGRADS_FILE,
        need(XGRADS_FILE, "per-sample input gradients")?,
        Some(n),
        &shape,
        "per-sample input gradients",
    )?;
    let x = per_input(
        dir,
        X_FILE,
        need(X_FILE, "training inputs")?,
        Some(n),
        &shape,
        "training inputs",
    )?;
    let y = vector(
        dir,
        Y_FILE,
        need(Y_FILE, "training targets")?,
        Some(n),
        "n training targets",
    )?;
    let outputs = optional(OUTPUTS_FILE)?
        .map(|a| vector(dir, OUTPUTS_FILE, a, Some(n), "the model's n outputs"))
        .transpose()?;
    let w1 = match manifest.first_layer {
        FirstLayer::Other { .. } => None,
        _ => optional(W1_FILE)?,
    };
    let test = match (optional(TEST_X_FILE)?, optional(TEST_Y_FILE)?) {
        (None, None) => {
            if optional(TEST_OUTPUTS_FILE)?.is_some() {
                return Err(format_err(
                    &dir.join(TEST_X_FILE),
                    "missing: test_outputs.npy is given without the test inputs".into(),
                ));
            }
            None
        }
        (Some(tx), Some(ty)) => {
            let y = vector(dir, TEST_Y_FILE, ty, None, "test targets")?;
            let x = per_input(dir, TEST_X_FILE, tx, Some(y.len()), &shape, "test inputs")?;
            let outputs = optional(TEST_OUTPUTS_FILE)?
                .map(|a| {
                    vector(
                        dir,
                        TEST_OUTPUTS_FILE,
                        a,
                        Some(y.len()),
                        "the model's outputs on the test inputs",
                    )
                })
                .transpose()?;
            Some(TestSet { x, y, outputs })
        }
        (Some(_), None) => {
            return Err(format_err(
                &dir.join(TEST_Y_FILE),
                "missing: test_x.npy is given without its targets".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(format_err(
                &dir.join(TEST_X_FILE),
                "missing: test_y.npy is given without its inputs".into(),
            ))
        }
    };
    let perturbed = match (
        optional(PERTURBED_X_FILE)?,
        optional(PERTURBED_INDEX_FILE)?,
        optional(PERTURBED_OUTPUTS_FILE)?,
    ) {
        (None, None, None) => None,
        (Some(px), Some(pi), Some(po)) => {
            let outputs = vector(
                dir,
                PERTURBED_OUTPUTS_FILE,
                po,
                None,
                "outputs at the perturbed inputs",
            )?;
            let q = outputs.len();
            let x = per_input(
                dir,
                PERTURBED_X_FILE,
                px,
                Some(q),
                &shape,
                "perturbed inputs",
            )?;
            let raw = vector(
                dir,
                PERTURBED_INDEX_FILE,
                pi,
                Some(q),
                "the training point of each perturbed input",
            )?;
            let mut index = Vec::with_capacity(q);
            for (j, &v) in raw.iter().enumerate() {
                if v < 0.0 || v.fract() != 0.0 || v >= n as f64 {
                    return Err(format_err(
                        &dir.join(PERTURBED_INDEX_FILE),
                        format!("value {v} at position {j} is not a training index in 0..{n}"),
                    ));
                }
                index.push(v as usize);
            }
            Some(Perturbed { x, index, outputs })
        }
        _ => {
            return Err(format_err(
                &dir.join(PERTURBED_OUTPUTS_FILE),
                "perturbed_x.npy, perturbed_index.npy and perturbed_outputs.npy go together".into(),
            ))
        }
    };
    let params = match optional(PARAMS_FILE)? {
        Some(a) if manifest.network.is_some() => Some(a.data),
        _ => None,
    };
    let blocks = layout(&manifest, input.blocks.clone());
    if let (Some(a), Some(name)) = (&w1, manifest.first_layer.name()) {
        if let Some(b) = blocks.iter().find(|b| b.name == name) {
            if a.shape != b.shape[1..] {
                return Err(format_err(
                    &dir.join(W1_FILE),
                    format!(
                        "array of shape {}, but the gradient block '{name}' has shape {}",
                        npy::shape_string(&a.shape),
                        npy::shape_string(&b.shape[1..])
                    ),
                ));
            }
        }
    }
    let w1 = w1.map(|a| a.data);
    let bundle = Bundle {
        manifest,
        grads: input.gradients,
        blocks,
        xgrads,
        x,
        y,
        outputs,
        w1,
        test,
        perturbed,
        params,
    };
    check_blocks(&bundle.manifest, &input.blocks, &manifest_path, &grad_path)?;
    check_first_layer(&bundle.manifest, &bundle.blocks, bundle.w1.as_deref(), dir)?;
    Ok(bundle)
}

/// The manifest of a legacy export folder (only `meta.json`).
fn legacy_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(LEGACY_META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format_err(&path, format!("not JSON: {e}")))?;
    let field = |name: &str| -> Result<&serde_json::Value> {
        v.get(name).ok_or_else(|| {
            format_err(
                &path,
                format!(
                    "{name}: missing (no bundle.json, and this is not an sgdstab export meta.json)"
                ),
            )
        })
    };
    let count = |name: &str| -> Result<usize> {
        field(name)?
            .as_u64()
            .map(|u| u as usize)
            .ok_or_else(|| format_err(&path, format!("{name}: not a count")))
    };
    if field("schema_version")?.as_u64() != Some(1) {
        return Err(format_err(
            &path,
            format!(
                "schema_version: {} (this build reads export meta.json version 1, or bundles with bundle.json)",
                field("schema_version")?
            ),
        ));
    }
    let (n, d, w, m) = (
        count("samples")?,
        count("input_dim")?,
        count("parameters")?,
        count("first_layer_rows")?,
    );
    let sampling = match v.get("sampling").and_then(|s| s.as_str()) {
        Some(s) => Some(
            s.parse::<Sampling>()
                .map_err(|e| format_err(&path, format!("sampling: {e}")))?,
        ),
        None => None,
    };
    let md = m.saturating_mul(d);
    let mut param_blocks = vec![BlockSpec {
        name: "W_1".into(),
        shape: vec![m, d],
    }];
    if w > md {
        param_blocks.push(BlockSpec {
            name: "W_2".into(),
            shape: vec![w - md],
        });
    }
    let m = Manifest {
        format: BUNDLE_FORMAT.into(),
        bundle_version: BUNDLE_VERSION,
        producer: "sgdstab export (meta.json schema 1)".into(),
        n,
        input_shape: vec![d],
        parameters: w,
        param_blocks: Some(param_blocks),
        first_layer: FirstLayer::Dense {
            name: "W_1".into(),
            orientation: Orientation::OutIn,
        },
        training: Training {
            lr: v.get("lr").and_then(|x| x.as_f64()),
            batch: v.get("batch").and_then(|x| x.as_u64()).map(|b| b as usize),
            sampling,
        },
        network: Some(LEGACY_META_FILE.into()),
    };
    check_manifest(&m, &path)?;
    Ok(m)
}
