//! Borrowed gradient data: an `n × w` matrix of `f64` or `f32` values with arbitrary
//! (non-negative) row and column strides, as a NumPy array hands it over (C order, Fortran
//! order, or a strided slice), and concatenations of such views along the columns (per-parameter
//! dictionaries).
//!
//! The span reduction and the moment statistics are computed from the views **without an `f64`
//! copy of the matrix**, in blocks, as [`crate::io::stream`] does for files:
//!
//! 1. rows (in parallel): every value checked finite, `‖a_i‖²` (flatness) and `‖a_i‖_{2k}`
//!    (Corollary 1) per row, read in place;
//! 2. blocks of columns (`w > n`; `n × c` at a time, converted to `f64`) or of rows (`w <= n`;
//!    `c × w` at a time): the Gram matrix (`AAᵀ` resp. `AᵀA`, a GEMM per block) and the column
//!    moments `(1/n) Σ_i a_{ij}^{2k}` (Theorem 2);
//! 3. `w <= n` only: the reduced coordinates `A V_r` (rank-deficient) or `A` itself (full
//!    rank: then `A` in `f64` *is* the reduced problem, `n × w` with `w <= n`).
//!
//! Peak extra memory: the Gram matrix, one block (about [`BLOCK_VALUES`] values) and the reduced
//! coordinates (`n × r`, `r <= min(n, w)`). A row-major `f64` view (unit column stride) takes the
//! in-memory path of an owned matrix instead (same numbers, bit for bit).

use crate::engine::bounds::{first_max, norm_2k, MomentStats};
use crate::engine::gradients::ColumnBlock;
use crate::engine::reduction::SpanReduction;
use crate::error::{Error, Result};
use crate::progress::Hooks;
use rayon::prelude::*;

/// Values per block of the column/row passes (32 MiB of `f64`).
pub const BLOCK_VALUES: usize = 4 << 20;

/// A borrowed `n × w` gradient matrix (rows = samples): element `(i, j)` is
/// `data[i·row_stride + j·col_stride]`.
///
/// C order is `row_stride = w, col_stride = 1`; Fortran order `row_stride = 1, col_stride = n`;
/// NumPy strides in bytes divided by the element size give the strides here. Strides may be 0
/// (a broadcast axis); every addressed element must lie inside `data`.
///
/// ```
/// use sgdstab::GradientView;
///
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let c_order = GradientView::F32 { data: &data, n: 2, w: 3, row_stride: 3, col_stride: 1 };
/// let fortran = GradientView::f32_column_major(&data, 3, 2); // the transpose, 3 × 2
/// assert_eq!((c_order.n(), c_order.w()), (2, 3));
/// assert_eq!(c_order.get(1, 0), 4.0);
/// assert_eq!(fortran.get(0, 1), 4.0);
/// c_order.validate("grads").unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradientView<'a> {
    /// `f64` values.
    F64 {
        /// The buffer.
        data: &'a [f64],
        /// Rows (samples).
        n: usize,
        /// Columns (parameters).
        w: usize,
        /// Elements between consecutive rows.
        row_stride: usize,
        /// Elements between consecutive columns.
        col_stride: usize,
    },
    /// `f32` values (widened to `f64` block by block, never as a whole).
    F32 {
        /// The buffer.
        data: &'a [f32],
        /// Rows (samples).
        n: usize,
        /// Columns (parameters).
        w: usize,
        /// Elements between consecutive rows.
        row_stride: usize,
        /// Elements between consecutive columns.
        col_stride: usize,
    },
}

impl<'a> GradientView<'a> {
    /// A C-order (row-major) `f64` matrix.
    pub fn f64_row_major(data: &'a [f64], n: usize, w: usize) -> Self {
        GradientView::F64 {
            data,
            n,
            w,
            row_stride: w,
            col_stride: 1,
        }
    }

    /// A C-order (row-major) `f32` matrix.
    pub fn f32_row_major(data: &'a [f32], n: usize, w: usize) -> Self {
        GradientView::F32 {
            data,
            n,
            w,
            row_stride: w,
            col_stride: 1,
        }
    }

    /// A Fortran-order (column-major) `f64` matrix.
    pub fn f64_column_major(data: &'a [f64], n: usize, w: usize) -> Self {
        GradientView::F64 {
            data,
            n,
            w,
            row_stride: 1,
            col_stride: n,
        }
    }

    /// A Fortran-order (column-major) `f32` matrix.
    pub fn f32_column_major(data: &'a [f32], n: usize, w: usize) -> Self {
        GradientView::F32 {
            data,
            n,
            w,
            row_stride: 1,
            col_stride: n,
        }
    }

    /// Rows (samples).
    pub fn n(&self) -> usize {
        match *self {
            GradientView::F64 { n, .. } | GradientView::F32 { n, .. } => n,
        }
    }

    /// Columns (parameters).
    pub fn w(&self) -> usize {
        match *self {
            GradientView::F64 { w, .. } | GradientView::F32 { w, .. } => w,
        }
    }

    fn strides(&self) -> (usize, usize, usize) {
        match *self {
            GradientView::F64 {
                data,
                row_stride,
                col_stride,
                ..
            } => (data.len(), row_stride, col_stride),
            GradientView::F32 {
                data,
                row_stride,
                col_stride,
                ..
            } => (data.len(), row_stride, col_stride),
        }
    }

    /// Checks `n, w >= 1` and that every element `(i, j)` lies inside the buffer; `context`
    /// names the data in the error.
    pub fn validate(&self, context: &str) -> Result<()> {
        let (n, w) = (self.n(), self.w());
        let (len, rs, cs) = self.strides();
        let bad = |message: String| Error::InvalidInput {
            context: context.to_string(),
            message,
        };
        if n == 0 || w == 0 {
            return Err(bad(format!(
                "the gradient matrix is {n} × {w}; need at least one row (sample) and one column (parameter)"
            )));
        }
        let last = (n - 1)
            .checked_mul(rs)
            .and_then(|a| (w - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
        match last {
            Some(l) if l < len => Ok(()),
            _ => Err(bad(format!(
                "a {n} × {w} view with strides ({rs}, {cs}) elements reaches past its buffer of {len} elements"
            ))),
        }
    }

    /// Element `(i, j)` as `f64` (panics outside the view; [`GradientView::validate`] first).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match *self {
            GradientView::F64 {
                data,
                row_stride,
                col_stride,
                ..
            } => data[i * row_stride + j * col_stride],
            GradientView::F32 {
                data,
                row_stride,
                col_stride,
                ..
            } => data[i * row_stride + j * col_stride] as f64,
        }
    }

    /// Row `i`, columns `j0..j0 + out.len()`, into `out`.
    fn read_row(&self, i: usize, j0: usize, out: &mut [f64]) {
        match *self {
            GradientView::F64 {
                data,
                row_stride,
                col_stride,
                ..
            } => read_strided(data, i * row_stride + j0 * col_stride, col_stride, out),
            GradientView::F32 {
                data,
                row_stride,
                col_stride,
                ..
            } => read_strided(data, i * row_stride + j0 * col_stride, col_stride, out),
        }
    }

    /// Column `j`, all rows, into `out` (`out.len() == n`).
    fn read_column(&self, j: usize, out: &mut [f64]) {
        match *self {
            GradientView::F64 {
                data,
                row_stride,
                col_stride,
                ..
            } => read_strided(data, j * col_stride, row_stride, out),
            GradientView::F32 {
                data,
                row_stride,
                col_stride,
                ..
            } => read_strided(data, j * col_stride, row_stride, out),
        }
    }

    /// The rows as slices, when the view is `f64` with unit column stride and rows that do not
    /// overlap (the in-memory path).
    pub(crate) fn row_major_f64(&self) -> Option<RowMajor<'a>> {
        match *self {
            GradientView::F64 {
                data,
                n,
                w,
                row_stride,
                col_stride,
            } if (col_stride == 1 || w == 1) && (row_stride >= w || n == 1) => Some(RowMajor {
                data,
                n,
                w,
                row_stride: if n == 1 { w } else { row_stride },
            }),
            _ => None,
        }
    }
}

fn read_strided<T: Copy + Into<f64>>(data: &[T], start: usize, stride: usize, out: &mut [f64]) {
    if stride == 1 {
        let len = out.len();
        for (o, &x) in out.iter_mut().zip(&data[start..start + len]) {
            *o = x.into();
        }
    } else {
        for (c, o) in out.iter_mut().enumerate() {
            *o = data[start + c * stride].into();
        }
    }
}

/// A row-major `f64` matrix with a row stride (rows are contiguous slices).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowMajor<'a> {
    data: &'a [f64],
    pub n: usize,
    pub w: usize,
    row_stride: usize,
}

impl<'a> RowMajor<'a> {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f64] {
        let s = i * self.row_stride;
        &self.data[s..s + self.w]
    }

    /// A faer view.
    pub fn as_faer(&self) -> faer::MatRef<'a, f64> {
        let len = (self.n - 1) * self.row_stride + self.w;
        faer::MatRef::from_row_major_slice_with_stride(
            &self.data[..len],
            self.n,
            self.w,
            self.row_stride,
        )
    }
}

/// One parameter of a per-parameter dictionary: its name, its shape without the sample axis, and
/// its values as an `n × (product of shape)` view (the sample axis first, the rest flattened in C
/// order, as `a.reshape(n, -1)`).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedView<'a> {
    /// The parameter's name.
    pub name: String,
    /// Its shape without the sample axis (`[]` for a scalar parameter).
    pub shape: Vec<usize>,
    /// Its values, `n × (product of shape)`.
    pub view: GradientView<'a>,
}

/// Views concatenated along the columns: the matrix `A = [V_1 | V_2 | …]`.
#[derive(Debug, Clone)]
pub(crate) struct Columns<'a> {
    parts: Vec<(usize, GradientView<'a>)>,
    pub n: usize,
    pub w: usize,
}

impl<'a> Columns<'a> {
    /// One view.
    pub fn single(view: GradientView<'a>, context: &str) -> Result<Self> {
        view.validate(context)?;
        Ok(Columns {
            n: view.n(),
            w: view.w(),
            parts: vec![(0, view)],
        })
    }

    /// Named views side by side, with their layout; every view must have the same `n`.
    pub fn named(views: &[NamedView<'a>], context: &str) -> Result<(Self, Vec<ColumnBlock>)> {
        let bad = |message: String| Error::InvalidInput {
            context: context.to_string(),
            message,
        };
        let first = views
            .first()
            .ok_or_else(|| bad("no arrays: give at least one parameter".into()))?;
        let n = first.view.n();
        let mut parts = Vec::new();
        let mut layout = Vec::new();
        let mut offset = 0usize;
        for v in views {
            v.view.validate(&format!("{context}: array '{}'", v.name))?;
            if v.view.n() != n {
                return Err(bad(format!(
                    "mismatched batch sizes: array '{}' has {} samples but array '{}' has {n}; every array needs the same leading sample axis",
                    v.name,
                    v.view.n(),
                    first.name
                )));
            }
            let size = v.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if size != Some(v.view.w()) {
                return Err(bad(format!(
                    "array '{}': shape {:?} does not have {} values per sample",
                    v.name,
                    v.shape,
                    v.view.w()
                )));
            }
            layout.push(ColumnBlock {
                name: v.name.clone(),
                shape: v.shape.clone(),
                offset,
                columns: v.view.w(),
            });
            parts.push((offset, v.view));
            offset = offset
                .checked_add(v.view.w())
                .ok_or_else(|| bad("the number of columns overflows".into()))?;
        }
        Ok((
            Columns {
                parts,
                n,
                w: offset,
            },
            layout,
        ))
    }

    /// The single part, when there is one.
    pub fn only(&self) -> Option<&GradientView<'a>> {
        match self.parts.as_slice() {
            [(_, v)] => Some(v),
            _ => None,
        }
    }

    /// Row `i`, columns `j0..j0 + out.len()`.
    fn read_row(&self, i: usize, j0: usize, out: &mut [f64]) {
        let j1 = j0 + out.len();
        for &(off, ref v) in &self.parts {
            let (lo, hi) = (off.max(j0), (off + v.w()).min(j1));
            if lo < hi {
                v.read_row(i, lo - off, &mut out[lo - j0..hi - j0]);
            }
        }
    }

    /// Column `j` into `out` (`n` values).
    fn read_column(&self, j: usize, out: &mut [f64]) {
        let idx = self.parts.partition_point(|&(off, _)| off <= j) - 1;
        let (off, v) = &self.parts[idx];
        v.read_column(j - off, out);
    }
}

/// What the block passes produce.
#[derive(Debug)]
pub(crate) struct Reduced {
    pub reduction: SpanReduction,
    pub stats: MomentStats,
    pub flatness: f64,
}

/// Per row: `‖a_i‖²` and `‖a_i‖_{2k}` for each order (step 1 of the module docs); errors on the
/// first non-finite value (lowest row, then column).
fn row_pass(a: &Columns, orders: &[usize], context: &str, hooks: Hooks) -> Result<Vec<RowStats>> {
    let chunk = (BLOCK_VALUES / a.w.max(1)).clamp(1, a.n);
    let mut out = Vec::with_capacity(a.n);
    for i0 in (0..a.n).step_by(chunk) {
        hooks.checkpoint()?;
        let rows: Vec<Result<RowStats>> = (i0..(i0 + chunk).min(a.n))
            .into_par_iter()
            .map_init(
                || vec![0.0; a.w.min(BLOCK_VALUES)],
                |buf, i| row_stats(a, i, orders, buf, context),
            )
            .collect();
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct RowStats {
    sum_squares: f64,
    norms: Vec<f64>,
    max_abs: f64,
}

/// One row's statistics, reading it in pieces of `buf.len()` values.
fn row_stats(
    a: &Columns,
    i: usize,
    orders: &[usize],
    buf: &mut [f64],
    context: &str,
) -> Result<RowStats> {
    let w = a.w;
    let step = buf.len().max(1);
    // the largest |a_ij| (for the scaled 2k-norms), the sum of squares, finiteness
    let (mut max, mut sum_squares) = (0.0f64, 0.0f64);
    for j0 in (0..w).step_by(step) {
        let piece = &mut buf[..step.min(w - j0)];
        a.read_row(i, j0, piece);
        if let Some(c) = piece.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidInput {
                context: context.to_string(),
                message: format!(
                    "non-finite value {} at row {i}, column {} (0-based)",
                    piece[c],
                    j0 + c
                ),
            });
        }
        for &x in piece.iter() {
            max = max.max(x.abs());
            sum_squares += x * x;
        }
    }
    let norms = if w <= step {
        // the whole row is in the buffer: exactly `norm_2k`
        orders.iter().map(|&k| norm_2k(&buf[..w], k)).collect()
    } else {
        let mut sums = vec![0.0; orders.len()];
        if max > 0.0 {
            for j0 in (0..w).step_by(step) {
                let piece = &mut buf[..step.min(w - j0)];
                a.read_row(i, j0, piece);
                for (s, &k) in sums.iter_mut().zip(orders) {
                    let p = 2 * k as i32;
                    *s += piece.iter().map(|v| (v / max).powi(p)).sum::<f64>();
                }
            }
        }
        orders
            .iter()
            .zip(&sums)
            .map(|(&k, &s)| {
                if max == 0.0 {
                    0.0
                } else {
                    max * s.powf(1.0 / (2 * k) as f64)
                }
            })
            .collect()
    };
    Ok(RowStats {
        sum_squares,
        norms,
        max_abs: max,
    })
}

/// The span reduction, moment statistics and flatness of `a` (the module's steps).
pub(crate) fn reduce_blocks(
    a: &Columns,
    orders: &[usize],
    rank_tolerance: Option<f64>,
    context: &str,
    hooks: Hooks,
) -> Result<Reduced> {
    let (n, w) = (a.n, a.w);
    hooks.progress.begin("reading the gradients", 3);
    let rows = row_pass(a, orders, context, hooks)?;
    let largest = rows.iter().map(|r| r.max_abs).fold(0.0f64, f64::max);
    let max_order = orders.iter().copied().max().unwrap_or(1);
    super::check_scale(largest, n, w, max_order, context)?;
    hooks.progress.advance(1, "Gram matrix");
    let flatness = rows.iter().map(|r| r.sum_squares).sum::<f64>() / n as f64;
    let mut stats = MomentStats {
        n,
        w,
        ..Default::default()
    };
    for (o, &k) in orders.iter().enumerate() {
        let mean = rows.iter().map(|r| r.norms[o]).sum::<f64>() / n as f64;
        stats.mean_row_norm.insert(k, mean);
    }
    let par = crate::parallel::faer_par();
    let reduction = if w > n {
        // G = AAᵀ from blocks of columns; column moments per block
        let cols = (BLOCK_VALUES / n).clamp(1, w);
        let mut gram = faer::Mat::<f64>::zeros(n, n);
        let mut block = vec![0.0; n * cols];
        let mut best = vec![(f64::NEG_INFINITY, 0usize); orders.len()];
        for j0 in (0..w).step_by(cols) {
            hooks.checkpoint()?;
            let c = cols.min(w - j0);
            let blk = &mut block[..n * c];
            blk.par_chunks_mut(n)
                .enumerate()
                .for_each(|(t, col)| a.read_column(j0 + t, col));
            let bm = faer::MatRef::from_column_major_slice(blk, n, c);
            faer::linalg::matmul::matmul(
                gram.as_mut(),
                faer::Accum::Add,
                bm,
                bm.transpose(),
                1.0,
                par,
            );
            for (o, &k) in orders.iter().enumerate() {
                let p = 2 * k as i32;
                let sums: Vec<f64> = blk
                    .chunks_exact(n)
                    .map(|col| col.iter().fold(0.0, |s, x| s + x.powi(p)))
                    .collect();
                let (v, t) = first_max(&sums, n);
                if v > best[o].0 {
                    best[o] = (v, j0 + t);
                }
            }
        }
        for (o, &k) in orders.iter().enumerate() {
            stats.max_column_moment.insert(k, best[o]);
        }
        hooks.progress.advance(1, "span reduction");
        hooks.checkpoint()?;
        SpanReduction::from_row_gram(gram.as_ref(), w, rank_tolerance)?
    } else {
        // C = AᵀA from blocks of rows; column moments accumulated over all rows
        let rows_per = (BLOCK_VALUES / w).clamp(1, n);
        let mut gram = faer::Mat::<f64>::zeros(w, w);
        let mut block = vec![0.0; rows_per * w];
        let mut sums = vec![vec![0.0; w]; orders.len()];
        for i0 in (0..n).step_by(rows_per) {
            hooks.checkpoint()?;
            let r = rows_per.min(n - i0);
            let blk = &mut block[..r * w];
            blk.par_chunks_mut(w)
                .enumerate()
                .for_each(|(t, row)| a.read_row(i0 + t, 0, row));
            let bm = faer::MatRef::from_row_major_slice(blk, r, w);
            faer::linalg::matmul::matmul(
                gram.as_mut(),
                faer::Accum::Add,
                bm.transpose(),
                bm,
                1.0,
                par,
            );
            for (o, &k) in orders.iter().enumerate() {
                let p = 2 * k as i32;
                for row in blk.chunks_exact(w) {
                    for (m, &x) in sums[o].iter_mut().zip(row) {
                        *m += x.powi(p);
                    }
                }
            }
        }
        for (o, &k) in orders.iter().enumerate() {
            stats.max_column_moment.insert(k, first_max(&sums[o], n));
        }
        hooks.progress.advance(1, "span reduction");
        hooks.checkpoint()?;
        let read_all = || -> Result<Vec<f64>> {
            let mut all = vec![0.0; n * w];
            all.par_chunks_mut(w)
                .enumerate()
                .for_each(|(i, row)| a.read_row(i, 0, row));
            Ok(all)
        };
        let project = |v: &[f64], r: usize| -> Result<Vec<f64>> {
            // coords = A V_r, block by block of rows
            let vm = faer::MatRef::from_column_major_slice(v, w, r);
            let mut coords = vec![0.0; n * r];
            for i0 in (0..n).step_by(rows_per) {
                hooks.checkpoint()?;
                let rr = rows_per.min(n - i0);
                let blk = &mut block[..rr * w];
                blk.par_chunks_mut(w)
                    .enumerate()
                    .for_each(|(t, row)| a.read_row(i0 + t, 0, row));
                let bm = faer::MatRef::from_row_major_slice(blk, rr, w);
                let out = faer::MatMut::from_row_major_slice_mut(
                    &mut coords[i0 * r..(i0 + rr) * r],
                    rr,
                    r,
                );
                faer::linalg::matmul::matmul(out, faer::Accum::Replace, bm, vm, 1.0, par);
            }
            Ok(coords)
        };
        SpanReduction::from_column_gram(gram.as_ref(), n, rank_tolerance, read_all, project)?
    };
    hooks.progress.advance(1, "");
    hooks.progress.end();
    Ok(Reduced {
        reduction,
        stats,
        flatness,
    })
}
