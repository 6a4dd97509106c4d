//! The per-sample gradient matrix `A` (`n × w`, row `i` is `a_i = ∇_W f(x_i, W*)`).

use crate::error::{Error, Result};

/// Per-sample gradients: `n` rows of `w` finite values, stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients {
    n: usize,
    w: usize,
    data: Vec<f64>,
}

impl Gradients {
    /// Wraps row-major data (`data.len() == n * w`). Checks `n >= 1`, `w >= 1` and that every
    /// value is finite; `context` names the source (a file or an argument) in error messages.
    pub fn from_row_major(n: usize, w: usize, data: Vec<f64>, context: &str) -> Result<Self> {
        if n == 0 || w == 0 {
            return Err(Error::InvalidInput {
                context: context.to_string(),
                message: format!(
                    "the gradient matrix is {n} × {w}; need at least one row (sample) and one column (parameter)"
                ),
            });
        }
        if data.len() != n * w {
            return Err(Error::InvalidInput {
                context: context.to_string(),
                message: format!(
                    "expected {} values for {n} × {w}, got {}",
                    n * w,
                    data.len()
                ),
            });
        }
        if let Some(pos) = data.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidInput {
                context: context.to_string(),
                message: format!(
                    "non-finite value {} at row {}, column {} (0-based)",
                    data[pos],
                    pos / w,
                    pos % w
                ),
            });
        }
        Ok(Gradients { n, w, data })
    }

    /// Builds from rows; all rows must have the same length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let n = rows.len();
        let w = rows.first().map_or(0, |r| r.len());
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != w) {
            return Err(Error::InvalidInput {
                context: "rows".into(),
                message: format!("row {i} has {} values, row 0 has {w}", r.len()),
            });
        }
        Self::from_row_major(n, w, rows.concat(), "rows")
    }

    /// Number of samples `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of parameters `w`.
    pub fn w(&self) -> usize {
        self.w
    }

    /// Row `i`: the gradient `a_i` (length `w`).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.w..(i + 1) * self.w]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// A faer view (`n × w`).
    pub fn as_faer(&self) -> faer::MatRef<'_, f64> {
        faer::MatRef::from_row_major_slice(&self.data, self.n, self.w)
    }
}
