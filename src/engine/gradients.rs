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

/// Where one parameter tensor of a per-parameter dictionary input sits among the `w` columns of
/// `A` (the concatenation order is the input's: `.npz` archive order, safetensors sorted by
/// name, the caller's order for [`crate::Problem::from_views`]).
///
/// Column `offset + c` of `A` is entry `c` of the parameter flattened in C order, so a
/// coordinate reported by Theorem 2 (`argmax_coordinate`) belongs to the block with
/// `offset <= j < offset + columns`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnBlock {
    /// The parameter's name.
    pub name: String,
    /// The parameter's shape, without the leading sample axis (`[]` for a scalar parameter).
    pub shape: Vec<usize>,
    /// Its first column in `A`.
    pub offset: usize,
    /// Its number of columns (the product of `shape`).
    pub columns: usize,
}

/// What a report warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WarningKind {
    /// The rows look like per-sample gradients of the **loss**, not of the model output: their
    /// mean is nearly zero compared with their size ([`LOSS_GRADIENT_RATIO`]).
    LossGradients,
}

/// A warning attached to a report (also printed on stderr by the binary in text mode).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// One line, with the numbers.
    pub message: String,
}

/// Below this `‖(1/n) Σ_i a_i‖ / ((1/n) Σ_i ‖a_i‖)` the rows are flagged as probable per-sample
/// **loss** gradients ([`WarningKind::LossGradients`]).
///
/// At a minimum the mean of the per-sample loss gradients is the full gradient, `≈ 0`, while
/// each row is not; per-sample gradients of the model output have a mean of the same order as
/// the rows (an output bias alone contributes a column of ones). Independent zero-mean rows give
/// a ratio near `1/√n`, above this threshold for `n < 10⁶`.
pub const LOSS_GRADIENT_RATIO: f64 = 1e-3;

/// `‖(1/n) Σ_i a_i‖ / ((1/n) Σ_i ‖a_i‖)` from the reduced coordinates `b_i` (`n × r`,
/// row-major; `b_i · b_j = a_i · a_j`, so the norms are those of the `a_i`), or `None` when every
/// row is zero.
pub fn mean_gradient_ratio(b: &[f64], n: usize, r: usize) -> Option<f64> {
    if n == 0 || r == 0 {
        return None;
    }
    let mut mean = vec![0.0; r];
    let mut norms = 0.0;
    for row in b.chunks_exact(r) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x;
        }
        norms += row.iter().map(|x| x * x).sum::<f64>().sqrt();
    }
    let mean_norm = mean.iter().map(|x| x * x).sum::<f64>().sqrt() / n as f64;
    let norms = norms / n as f64;
    (norms > 0.0).then(|| mean_norm / norms)
}

/// The loss-gradient warning for `ratio` ([`mean_gradient_ratio`]), if it applies.
pub fn loss_gradient_warning(ratio: Option<f64>) -> Option<Warning> {
    let ratio = ratio?;
    (ratio < LOSS_GRADIENT_RATIO).then(|| Warning {
        kind: WarningKind::LossGradients,
        message: format!(
            "the rows look like per-sample gradients of the loss, not of the model output: ‖mean of the rows‖ / mean ‖row‖ = {ratio:.3e} < {LOSS_GRADIENT_RATIO:e} (at a minimum the loss gradients average to the full gradient, ≈ 0); sgdstab needs a_i = ∇_W f(x_i, W*), the gradient of the output"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_gradients_are_flagged_and_output_gradients_are_not() {
        // output gradients of f(x) = v·x + c at 4 inputs: the bias column is all ones
        let out = [
            vec![1.0, 0.5, 1.0],
            vec![-0.3, 2.0, 1.0],
            vec![0.7, -1.2, 1.0],
            vec![-1.5, 0.1, 1.0],
        ];
        let g = Gradients::from_rows(&out).unwrap();
        let ratio = mean_gradient_ratio(g.as_slice(), 4, 3).unwrap();
        assert!(ratio > 0.3, "{ratio}");
        assert!(loss_gradient_warning(Some(ratio)).is_none());
        // loss gradients (f_i − y_i) ∇f_i at a minimum: residuals chosen so that Σ r_i a_i = 0
        // exactly (r = null vector of the 3 × 4 matrix [a_i]), so the mean vanishes
        let a = faer::Mat::<f64>::from_fn(3, 4, |c, i| out[i][c]);
        let svd = a.svd().unwrap();
        let r: Vec<f64> = (0..4).map(|i| svd.V()[(i, 3)]).collect();
        let loss: Vec<Vec<f64>> = out
            .iter()
            .zip(&r)
            .map(|(row, ri)| row.iter().map(|x| x * ri).collect())
            .collect();
        let l = Gradients::from_rows(&loss).unwrap();
        let ratio = mean_gradient_ratio(l.as_slice(), 4, 3).unwrap();
        assert!(ratio < 1e-12, "{ratio}");
        let w = loss_gradient_warning(Some(ratio)).unwrap();
        assert_eq!(w.kind, WarningKind::LossGradients);
        assert!(w.message.contains("loss"));
        // all-zero rows: no ratio, no warning
        assert_eq!(mean_gradient_ratio(&[0.0; 6], 3, 2), None);
        assert!(loss_gradient_warning(None).is_none());
    }
}
