//! The checks of a bundle: the manifest's own fields, the column layout, the first layer, and
//! every array's shape against `n`, `d` and `input_shape`. Each error names the file and the
//! field.

use super::*;
use crate::error::Error;
use crate::io::npy;

pub(super) fn format_err(path: &Path, message: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message,
    }
}

pub(super) fn finite(path: &Path, v: &[f64]) -> Result<()> {
    match v.iter().position(|a| !a.is_finite()) {
        Some(p) => Err(format_err(
            path,
            format!("non-finite value {} at flat index {p}", v[p]),
        )),
        None => Ok(()),
    }
}

/// The manifest's own fields.
pub(super) fn check_manifest(m: &Manifest, path: &Path) -> Result<()> {
    let bad = |field: &str, message: String| format_err(path, format!("{field}: {message}"));
    if m.format != BUNDLE_FORMAT {
        return Err(bad(
            "format",
            format!("'{}', expected '{BUNDLE_FORMAT}'", m.format),
        ));
    }
    if m.bundle_version != BUNDLE_VERSION {
        return Err(bad(
            &format!("bundle_version = {}", m.bundle_version),
            format!("this build reads version {BUNDLE_VERSION}"),
        ));
    }
    if m.n == 0 {
        return Err(bad("n = 0", "a bundle needs at least one sample".into()));
    }
    if m.input_shape.is_empty()
        || m.input_shape.len() > MAX_INPUT_AXES
        || m.input_shape.contains(&0)
    {
        return Err(bad(
            "input_shape",
            format!(
                "{:?}: give 1 to {MAX_INPUT_AXES} axes, each >= 1",
                m.input_shape
            ),
        ));
    }
    if m.input_shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .is_none()
    {
        return Err(bad("input_shape", format!("{:?} overflows", m.input_shape)));
    }
    if m.parameters == 0 {
        return Err(bad(
            "parameters = 0",
            "a bundle needs at least one parameter".into(),
        ));
    }
    if let Some(lr) = m.training.lr {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(bad(
                &format!("training.lr = {lr}"),
                "must be finite and > 0".into(),
            ));
        }
    }
    if let Some(b) = m.training.batch {
        if b == 0 || b > m.n {
            return Err(bad(
                &format!("training.batch = {b}"),
                format!("must satisfy 1 <= B <= n = {}", m.n),
            ));
        }
    }
    if let Some(name) = &m.network {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(bad(
                "network",
                format!("'{name}': a file name inside the bundle"),
            ));
        }
    }
    Ok(())
}

/// `param_blocks` against the layout of the gradient file.
pub(super) fn check_blocks(
    m: &Manifest,
    blocks: &[ParameterBlock],
    manifest: &Path,
    grads: &Path,
) -> Result<()> {
    let Some(spec) = &m.param_blocks else {
        return Ok(());
    };
    let mut total = 0usize;
    for b in spec {
        let size = b
            .shape
            .iter()
            .try_fold(1usize, |a, &x| a.checked_mul(x))
            .unwrap_or(usize::MAX);
        total = total.saturating_add(size);
    }
    if total != m.parameters {
        return Err(format_err(
            manifest,
            format!(
                "param_blocks: the shapes hold {total} parameters, but parameters = {}",
                m.parameters
            ),
        ));
    }
    let named = blocks.iter().any(|b| !b.name.is_empty());
    if named {
        let same = blocks.len() == spec.len()
            && blocks.iter().zip(spec).all(|(b, s)| {
                b.name == s.name && b.columns.len() == s.shape.iter().product::<usize>()
            });
        if !same {
            return Err(format_err(
                grads,
                format!(
                    "its arrays ({}) differ from bundle.json param_blocks ({})",
                    blocks
                        .iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    spec.iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The column layout of `grads`: the file's own names, else `param_blocks`, else one unnamed block.
pub(super) fn layout(m: &Manifest, file_blocks: Vec<ParameterBlock>) -> Vec<ParameterBlock> {
    if file_blocks.iter().any(|b| !b.name.is_empty()) {
        return file_blocks;
    }
    match &m.param_blocks {
        Some(spec) => blocks_of(m.n, spec),
        None => file_blocks,
    }
}

/// The first layer: its name in the layout, `w1.npy`'s shape against `d`.
pub(super) fn check_first_layer(
    m: &Manifest,
    blocks: &[ParameterBlock],
    w1: Option<&[f64]>,
    dir: &Path,
) -> Result<()> {
    let manifest = dir.join(MANIFEST_FILE);
    let Some(name) = m.first_layer.name() else {
        return Ok(());
    };
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.name.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(format_err(
            &manifest,
            format!(
                "first_layer.name = '{name}': the gradients name no parameter (grads.npy: give param_blocks, or write a grads.npz dictionary)"
            ),
        ));
    }
    let Some(block) = blocks.iter().find(|b| b.name == name) else {
        let shown: Vec<&str> = names.iter().copied().take(20).collect();
        return Err(format_err(
            &manifest,
            format!(
                "first_layer.name = '{name}' is not a parameter of the gradients (parameters: {}{})",
                shown.join(", "),
                if names.len() > shown.len() { ", …" } else { "" }
            ),
        ));
    };
    let shape = &block.shape[1..];
    let d = m.d();
    let w1_path = dir.join(W1_FILE);
    let Some(w1) = w1 else {
        return Err(format_err(
            &w1_path,
            format!(
                "missing: the first layer '{name}' is {} and its weight is needed",
                m.first_layer.kind()
            ),
        ));
    };
    let size: usize = shape.iter().product();
    if w1.len() != size {
        return Err(format_err(
            &w1_path,
            format!(
                "{} values, but the gradient block '{name}' has shape {}",
                w1.len(),
                npy::shape_string(shape)
            ),
        ));
    }
    finite(&w1_path, w1)?;
    match &m.first_layer {
        FirstLayer::Dense { orientation, .. } => {
            let input_axis = match orientation {
                Orientation::OutIn => 1,
                Orientation::InOut => 0,
            };
            if shape.len() != 2 || shape[input_axis] != d {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "first_layer '{name}' of shape {} ({}) does not match d = {d} (input_shape {:?})",
                        npy::shape_string(shape),
                        match orientation {
                            Orientation::OutIn => "out-in: m × d",
                            Orientation::InOut => "in-out: d × m",
                        },
                        m.input_shape
                    ),
                ));
            }
        }
        FirstLayer::Conv2d {
            kernel_layout,
            input_layout,
            padding,
            ..
        } => {
            if shape.len() != 4 || m.input_shape.len() != 3 {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "a conv2d kernel needs 4 axes and a 3-D input_shape; got kernel {} and input_shape {:?}",
                        npy::shape_string(shape),
                        m.input_shape
                    ),
                ));
            }
            let g = conv_geometry(shape, &m.input_shape, *kernel_layout, *input_layout);
            if g.c_in != g.kernel_c_in {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "the kernel {} ({kernel_layout:?}) takes {} input channels, but input_shape {:?} ({input_layout:?}) has {}",
                        npy::shape_string(shape),
                        g.kernel_c_in,
                        m.input_shape,
                        g.c_in
                    ),
                ));
            }
            if *padding == Padding::Valid && (g.kh > g.h || g.kw > g.w) {
                return Err(format_err(
                    &w1_path,
                    format!(
                        "a {}×{} kernel does not fit a {}×{} input without padding",
                        g.kh, g.kw, g.h, g.w
                    ),
                ));
            }
        }
        FirstLayer::Other { .. } => {}
    }
    Ok(())
}

/// A per-sample array of `rows` rows of one input each: shape `(rows, d)` or
/// `(rows, *input_shape)`.
pub(super) fn per_input(
    dir: &Path,
    name: &str,
    arr: npy::NpyArray,
    rows: Option<usize>,
    input_shape: &[usize],
    what: &str,
) -> Result<Vec<f64>> {
    let d: usize = input_shape.iter().product();
    let s = &arr.shape;
    let rows_ok = |r: usize| rows.is_none_or(|n| n == r);
    let ok = match s.len() {
        0 => false,
        2 => rows_ok(s[0]) && s[1] == d,
        _ => rows_ok(s[0]) && &s[1..] == input_shape,
    };
    if !ok {
        let want_rows = rows.map_or("rows".to_string(), |n| n.to_string());
        let full = input_shape
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let expected = if input_shape.len() == 1 {
            format!("({want_rows}, {d})")
        } else {
            format!("({want_rows}, {d}) or ({want_rows}, {full})")
        };
        return Err(format_err(
            &dir.join(name),
            format!(
                "array of shape {}, expected {expected} — {what} (d and input_shape from bundle.json)",
                npy::shape_string(s),
            ),
        ));
    }
    Ok(arr.data)
}

/// A vector of `len` values: shape `(len,)` or `(len, 1)`.
pub(super) fn vector(
    dir: &Path,
    name: &str,
    arr: npy::NpyArray,
    len: Option<usize>,
    what: &str,
) -> Result<Vec<f64>> {
    let s = &arr.shape;
    let ok = match s.as_slice() {
        [a] | [a, 1] => len.is_none_or(|n| n == *a),
        _ => false,
    };
    if !ok {
        return Err(format_err(
            &dir.join(name),
            format!(
                "array of shape {}, expected ({},) — {what}",
                npy::shape_string(s),
                len.map_or("count".to_string(), |n| n.to_string())
            ),
        ));
    }
    Ok(arr.data)
}
