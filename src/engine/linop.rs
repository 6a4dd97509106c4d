//! A minimal linear-operator trait for symmetric operators (dense or matrix-free).

/// A real symmetric linear operator on `R^D`.
pub trait SymmetricOperator: Sync {
    /// `D`.
    fn dim(&self) -> usize;
    /// `y = T x` (`x.len() == y.len() == D`).
    fn apply(&self, x: &[f64], y: &mut [f64]);
}

/// A dense symmetric matrix, column-major `D × D`.
#[derive(Debug, Clone, Copy)]
pub struct DenseSymmetric<'a> {
    d: usize,
    data: &'a [f64],
}

impl<'a> DenseSymmetric<'a> {
    /// Wraps a column-major `d × d` buffer.
    pub fn new(data: &'a [f64], d: usize) -> Self {
        assert_eq!(data.len(), d * d, "dense operator buffer must be d × d");
        DenseSymmetric { d, data }
    }
}

impl SymmetricOperator for DenseSymmetric<'_> {
    fn dim(&self) -> usize {
        self.d
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let a = faer::MatRef::from_column_major_slice(self.data, self.d, self.d);
        let xv = faer::MatRef::from_column_major_slice(x, self.d, 1);
        let yv = faer::MatMut::from_column_major_slice_mut(y, self.d, 1);
        faer::linalg::matmul::matmul(
            yv,
            faer::Accum::Replace,
            a,
            xv,
            1.0,
            crate::parallel::faer_par(),
        );
    }
}

/// Euclidean norm.
pub fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}
