//! Per-parameter gradient dictionaries: containers (`.npz`, safetensors) holding one array per
//! parameter tensor, each with a leading sample (batch) axis, as produced by
//! `torch.func.vmap(grad(...))` or `jax.vmap(jax.grad(...))`.
//!
//! A container becomes the `n × w` gradient matrix in one of two ways ([`assemble`]):
//!
//! - **one array** (`--key NAME`): the array `NAME`, flattened to `n × (size/n)`;
//! - **all arrays** (no key): every array flattened to `n × (size/n)` and concatenated along the
//!   feature axis, in the container's documented order ([`ArrayDict::keys`]): the archive order
//!   for `.npz` (the order `numpy.savez` wrote them), sorted by name for safetensors.
//!
//! Flattening keeps the leading axis and reshapes the rest in C order: an array of shape
//! `(n, d_1, …, d_m)` gives `n` rows of `d_1⋯d_m` values (`a.reshape(n, -1)` in NumPy); shape
//! `(n,)` gives one column. Every array must have the same `n`, and a 0-D array has no sample
//! axis and is refused.

use std::ops::Range;

/// An array converted to `f64`, values in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape as stored, leading axis first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in C order.
    pub data: Vec<f64>,
}

/// A container of named arrays.
pub trait ArrayDict {
    /// The names, in the order used for concatenation (what `--key` accepts).
    fn keys(&self) -> &[String];
    /// Reads the array `keys()[index]` and converts it to `f64`.
    fn load(&mut self, index: usize) -> Result<Array, String>;
    /// Other spellings accepted by `--key` for `keys()[index]` (e.g. `w.npy` for `w` in `.npz`).
    fn aliases(&self, _index: usize) -> Vec<String> {
        Vec::new()
    }
}

/// Where one parameter tensor sits in the gradient matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterBlock {
    /// The array's name in the container (empty for a single-array file).
    pub name: String,
    /// The stored shape, sample axis first.
    pub shape: Vec<usize>,
    /// Its columns in the `n × w` matrix (`columns.len() = size/n`).
    pub columns: Range<usize>,
}

/// An assembled gradient matrix with its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    /// Samples.
    pub n: usize,
    /// Parameters (columns).
    pub w: usize,
    /// `n × w` values, row-major.
    pub data: Vec<f64>,
    /// One block per array used, in column order.
    pub blocks: Vec<ParameterBlock>,
}

/// Most names listed in an "unknown --key" message.
const MAX_LISTED_KEYS: usize = 20;

/// `'name'` with control characters escaped and at most 80 characters, for one-line messages.
pub fn quote(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    if escaped.chars().count() > 80 {
        let head: String = escaped.chars().take(77).collect();
        format!("'{head}...'")
    } else {
        format!("'{escaped}'")
    }
}

/// Error text for an unknown key: the available names (at most 20 listed).
pub fn unknown_key_message(keys: &[String]) -> String {
    if keys.is_empty() {
        return "the file holds no arrays".into();
    }
    let listed: Vec<String> = keys
        .iter()
        .take(MAX_LISTED_KEYS)
        .map(|k| quote(k))
        .collect();
    let more = keys.len().saturating_sub(MAX_LISTED_KEYS);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "no array of that name; the file holds {} array{}: {}{tail}",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
        listed.join(", ")
    )
}

/// Which arrays [`assemble`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// The array with this key (or one of its aliases).
    Key(&'a str),
    /// All arrays, concatenated along the feature axis in key order.
    All,
}

/// Failure of [`assemble`]: the key was not found (so the caller can name `--key`), or the
/// content is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssembleError {
    /// No array has the requested key; the message lists the available ones.
    UnknownKey(String),
    /// Anything else, with the array's name.
    Invalid(String),
}

/// Builds the `n × w` matrix from a container: the selected array, or all arrays concatenated
/// along the feature axis in [`ArrayDict::keys`] order, each flattened to `n × (size/n)`.
///
/// Checks: at least one array; no 0-D array; the same leading size `n` for all (the error names
/// both arrays and sizes); every value finite (the error names the array, its index, and the
/// row and column of the assembled matrix).
pub fn assemble(
    dict: &mut dyn ArrayDict,
    selection: Selection,
) -> Result<Assembled, AssembleError> {
    use AssembleError::Invalid;
    let keys = dict.keys().to_vec();
    let indices: Vec<usize> = match selection {
        Selection::Key(key) => {
            let found = (0..keys.len())
                .find(|&i| keys[i] == key)
                .or_else(|| (0..keys.len()).find(|&i| dict.aliases(i).iter().any(|a| a == key)));
            match found {
                Some(i) => vec![i],
                None => return Err(AssembleError::UnknownKey(unknown_key_message(&keys))),
            }
        }
        Selection::All => {
            if keys.is_empty() {
                return Err(Invalid("the file holds no arrays".into()));
            }
            (0..keys.len()).collect()
        }
    };
    let mut arrays: Vec<(usize, Array, usize)> = Vec::with_capacity(indices.len());
    let mut first: Option<(usize, usize)> = None; // (index, n)
    let mut w = 0usize;
    for &i in &indices {
        let a = dict
            .load(i)
            .map_err(|e| Invalid(format!("array {}: {e}", quote(&keys[i]))))?;
        let Some((&n, rest)) = a.shape.split_first() else {
            return Err(Invalid(format!(
                "array {} is 0-D (a scalar); per-sample gradients need a leading sample axis",
                quote(&keys[i])
            )));
        };
        let width = rest
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Invalid(format!("array {}: shape overflows", quote(&keys[i]))))?;
        if let Some((j, n0)) = first {
            if n != n0 {
                return Err(Invalid(format!(
                    "mismatched batch sizes: array {} has {n} samples (shape {}) but array {} has {n0} (shape {}); every array needs the same leading sample axis",
                    quote(&keys[i]),
                    super::npy::shape_string(&a.shape),
                    quote(&keys[j]),
                    super::npy::shape_string(&arrays[0].1.shape),
                )));
            }
        } else {
            first = Some((i, n));
        }
        if let Some(pos) = a.data.iter().position(|x| !x.is_finite()) {
            // data is non-empty here, so width >= 1
            let (row, col) = (pos / width.max(1), pos % width.max(1));
            return Err(Invalid(format!(
                "non-finite value {} in array {} at index {} (row {row}, column {} of the gradient matrix, 0-based)",
                a.data[pos],
                quote(&keys[i]),
                index_string(&a.shape, pos),
                w + col
            )));
        }
        arrays.push((i, a, width));
        w = w
            .checked_add(width)
            .ok_or_else(|| Invalid("the total width overflows".into()))?;
    }
    let n = first.map_or(0, |(_, n)| n);
    let total = n
        .checked_mul(w)
        .ok_or_else(|| Invalid(format!("{n} × {w} overflows")))?;
    let mut blocks = Vec::with_capacity(arrays.len());
    let mut col = 0usize;
    for (i, a, width) in &arrays {
        blocks.push(ParameterBlock {
            name: keys[*i].clone(),
            shape: a.shape.clone(),
            columns: col..col + width,
        });
        col += width;
    }
    if arrays.len() == 1 {
        // no copy needed
        let (_, a, _) = arrays.pop().expect("invariant: one array");
        return Ok(Assembled {
            n,
            w,
            data: a.data,
            blocks,
        });
    }
    let mut data = Vec::with_capacity(total);
    for row in 0..n {
        for (_, a, width) in &arrays {
            data.extend_from_slice(&a.data[row * width..(row + 1) * width]);
        }
    }
    Ok(Assembled { n, w, data, blocks })
}

/// The multi-index of flat C-order position `pos` in `shape`, as `(i, j, …)`.
pub fn index_string(shape: &[usize], mut pos: usize) -> String {
    let mut idx = vec![0usize; shape.len()];
    for d in (0..shape.len()).rev() {
        if shape[d] > 0 {
            idx[d] = pos % shape[d];
            pos /= shape[d];
        }
    }
    super::npy::shape_string(&idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(Vec<String>, Vec<Array>);

    impl ArrayDict for Mem {
        fn keys(&self) -> &[String] {
            &self.0
        }
        fn load(&mut self, index: usize) -> Result<Array, String> {
            Ok(self.1[index].clone())
        }
    }

    fn mem(items: &[(&str, Vec<usize>)]) -> Mem {
        let mut counter = 0.0;
        let arrays = items
            .iter()
            .map(|(_, s)| {
                let len: usize = s.iter().product();
                let data = (0..len)
                    .map(|_| {
                        counter += 1.0;
                        counter
                    })
                    .collect();
                Array {
                    shape: s.clone(),
                    data,
                }
            })
            .collect();
        Mem(items.iter().map(|(k, _)| k.to_string()).collect(), arrays)
    }

    #[test]
    fn concatenates_in_key_order_after_flattening() {
        // w: 2 × (2, 2) = 1..8, b: 2 × () = 9, 10, c: 2 × 1 = 11, 12
        let mut d = mem(&[("w", vec![2, 2, 2]), ("b", vec![2]), ("c", vec![2, 1])]);
        let a = assemble(&mut d, Selection::All).unwrap();
        assert_eq!((a.n, a.w), (2, 6));
        assert_eq!(
            a.data,
            vec![1.0, 2.0, 3.0, 4.0, 9.0, 11.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0]
        );
        assert_eq!(a.blocks[0].columns, 0..4);
        assert_eq!(a.blocks[1].columns, 4..5);
        assert_eq!(a.blocks[2].columns, 5..6);
        assert_eq!(a.blocks[1].name, "b");
    }

    #[test]
    fn key_selects_one_array() {
        let mut d = mem(&[("w", vec![2, 2, 2]), ("b", vec![2])]);
        let a = assemble(&mut d, Selection::Key("b")).unwrap();
        assert_eq!((a.n, a.w, a.data), (2, 1, vec![9.0, 10.0]));
        let e = assemble(&mut d, Selection::Key("x")).unwrap_err();
        assert_eq!(
            e,
            AssembleError::UnknownKey(
                "no array of that name; the file holds 2 arrays: 'w', 'b'".into()
            )
        );
    }

    #[test]
    fn errors_name_the_arrays() {
        let mut d = mem(&[("w", vec![3, 2]), ("b", vec![4])]);
        let AssembleError::Invalid(e) = assemble(&mut d, Selection::All).unwrap_err() else {
            panic!()
        };
        assert!(e.contains("'b' has 4 samples (shape (4,))"), "{e}");
        assert!(e.contains("'w' has 3 (shape (3, 2))"), "{e}");
        let mut d = mem(&[("s", vec![])]);
        let AssembleError::Invalid(e) = assemble(&mut d, Selection::All).unwrap_err() else {
            panic!()
        };
        assert!(e.contains("0-D"), "{e}");
        let mut d = mem(&[("w", vec![2, 2]), ("v", vec![2, 3, 2])]);
        d.1[1].data[9] = f64::NAN; // index (1, 1, 1) of v; row 1, column 2 + 3 = 5
        let AssembleError::Invalid(e) = assemble(&mut d, Selection::All).unwrap_err() else {
            panic!()
        };
        assert!(
            e.contains("NaN in array 'v' at index (1, 1, 1) (row 1, column 5"),
            "{e}"
        );
        let mut d = mem(&[]);
        assert!(
            matches!(assemble(&mut d, Selection::All), Err(AssembleError::Invalid(e)) if e.contains("no arrays"))
        );
    }

    #[test]
    fn quoting_is_one_line() {
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert_eq!(quote(&"x".repeat(100)).len(), 82);
    }
}
