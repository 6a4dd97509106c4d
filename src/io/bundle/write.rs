//! Writing a bundle: checked first, then every file atomically, `bundle.json` last.

use super::*;
use crate::error::Error;
use crate::io::npy;

/// Writes `bundle` into `dir` (created if missing) after [`Bundle::validate`]: nothing is
/// written when a check fails. The gradients go to `grads.npy` (their names and shapes in
/// `param_blocks`); every file is written atomically, `bundle.json` last, so a folder whose
/// writing was interrupted is not a bundle. Files of `extra` (name, bytes) are written before
/// the manifest (sgdstab's own `meta.json`).
pub fn write_bundle(dir: &Path, bundle: &Bundle, extra: &[(&str, &[u8])]) -> Result<()> {
    let mut manifest = bundle.manifest.clone();
    if manifest.param_blocks.is_none() && bundle.blocks.iter().any(|b| !b.name.is_empty()) {
        manifest.param_blocks = Some(
            bundle
                .blocks
                .iter()
                .map(|b| BlockSpec {
                    name: b.name.clone(),
                    shape: b.shape[1..].to_vec(),
                })
                .collect(),
        );
    }
    let checked = Bundle {
        manifest,
        ..bundle.clone()
    };
    checked.validate(dir)?;
    let json =
        serde_json::to_string_pretty(&checked.manifest).map_err(|e| Error::InvalidInput {
            context: dir.join(MANIFEST_FILE).display().to_string(),
            message: e.to_string(),
        })? + "\n";
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (n, d) = (checked.n(), checked.d());
    let npy_file = |name: &str, shape: &[usize], data: &[f64]| {
        crate::io::write_atomic(&dir.join(name), &npy::to_bytes(shape, data))
    };
    // over an older bundle: remove its files this one does not have (the dictionary forms of
    // the gradients, a test set, perturbed outputs), so that no stale file is read with it
    if dir.join(MANIFEST_FILE).exists() || dir.join(LEGACY_META_FILE).exists() {
        let mut stale: Vec<&str> = GRADIENT_FILES[1..].to_vec();
        let has = |name: &str| match name {
            OUTPUTS_FILE => checked.outputs.is_some(),
            W1_FILE => checked.w1.is_some(),
            TEST_X_FILE | TEST_Y_FILE => checked.test.is_some(),
            TEST_OUTPUTS_FILE => checked.test.as_ref().is_some_and(|t| t.outputs.is_some()),
            PERTURBED_X_FILE | PERTURBED_INDEX_FILE | PERTURBED_OUTPUTS_FILE => {
                checked.perturbed.is_some()
            }
            PARAMS_FILE => checked.params.is_some(),
            _ => true,
        };
        stale.extend(KNOWN_FILES.iter().copied().filter(|f| !has(f)));
        for name in stale {
            let path = dir.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            }
        }
    }
    npy_file(
        GRADIENT_FILES[0],
        &[n, checked.w()],
        checked.grads.as_slice(),
    )?;
    npy_file(XGRADS_FILE, &[n, d], &checked.xgrads)?;
    npy_file(X_FILE, &[n, d], &checked.x)?;
    npy_file(Y_FILE, &[n], &checked.y)?;
    if let Some(o) = &checked.outputs {
        npy_file(OUTPUTS_FILE, &[n], o)?;
    }
    if let (Some(w1), Some(b)) = (&checked.w1, checked.first_layer_block()) {
        npy_file(W1_FILE, &b.shape[1..], w1)?;
    }
    if let Some(t) = &checked.test {
        npy_file(TEST_X_FILE, &[t.n(), d], &t.x)?;
        npy_file(TEST_Y_FILE, &[t.n()], &t.y)?;
        if let Some(o) = &t.outputs {
            npy_file(TEST_OUTPUTS_FILE, &[t.n()], o)?;
        }
    }
    if let Some(p) = &checked.perturbed {
        let q = p.outputs.len();
        let index: Vec<f64> = p.index.iter().map(|&i| i as f64).collect();
        npy_file(PERTURBED_X_FILE, &[q, d], &p.x)?;
        npy_file(PERTURBED_INDEX_FILE, &[q], &index)?;
        npy_file(PERTURBED_OUTPUTS_FILE, &[q], &p.outputs)?;
    }
    if let Some(p) = &checked.params {
        npy_file(PARAMS_FILE, &[p.len()], p)?;
    }
    for (name, bytes) in extra {
        crate::io::write_atomic(&dir.join(name), bytes)?;
    }
    crate::io::write_atomic(&dir.join(MANIFEST_FILE), json.as_bytes())
}

/// Builds the column layout of `param_blocks` for an in-memory bundle (a writer's input).
pub fn blocks_of(n: usize, spec: &[BlockSpec]) -> Vec<ParameterBlock> {
    let mut start = 0;
    spec.iter()
        .map(|s| {
            let len: usize = s.shape.iter().product();
            let mut shape = vec![n];
            shape.extend(&s.shape);
            let b = ParameterBlock {
                name: s.name.clone(),
                shape,
                columns: start..start + len,
            };
            start += len;
            b
        })
        .collect()
}
