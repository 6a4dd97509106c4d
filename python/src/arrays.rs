//! NumPy arrays borrowed as the library's [`GradientView`]s: `n × w` with the sample axis first
//! and the other axes flattened in C order, float64 or float32, read in place — C order, Fortran
//! order, slices with any non-negative strides, broadcast (zero) strides.
//!
//! Two layouts have no such view and are copied once, **in their own dtype** (never widened to
//! f64): a negative stride (`a[::-1]`), and trailing axes that do not flatten to one stride (a
//! Fortran-ordered array of three or more axes, `np.moveaxis` on the parameter axes).

use numpy::ndarray::ArrayViewD;
use numpy::{PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use sgdstab::GradientView;

/// One array, kept alive (and borrowed read-only) while the library reads its view.
pub enum Held<'py> {
    /// A float64 NumPy array, read in place.
    F64(PyReadonlyArrayDyn<'py, f64>, Layout),
    /// A float32 NumPy array, read in place.
    F32(PyReadonlyArrayDyn<'py, f32>, Layout),
    /// A float64 array copied in C order (see the module documentation).
    CopiedF64(Vec<f64>, Layout),
    /// A float32 array copied in C order.
    CopiedF32(Vec<f32>, Layout),
}

/// Where the `n × w` matrix of an array is: element `(i, j)` at `i·row_stride + j·col_stride`
/// elements from the first, `len` elements reaching the last one.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The array's shape (sample axis first).
    pub shape: Vec<usize>,
    n: usize,
    w: usize,
    row_stride: usize,
    col_stride: usize,
    len: usize,
}

impl Layout {
    /// The flattened layout of an array with this shape and these strides (in elements), or
    /// `None` when it needs a copy. A 0-D array is `1 × 1` here (the caller refuses it).
    fn of(shape: &[usize], strides: &[isize]) -> Option<Layout> {
        let n = shape.first().copied().unwrap_or(1);
        let w = shape
            .get(1..)
            .unwrap_or(&[])
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))?;
        let stride = |i: usize, d: usize| -> Option<usize> {
            // the stride of an axis of length 1 is never used
            if d <= 1 {
                Some(0)
            } else {
                usize::try_from(strides[i]).ok()
            }
        };
        let row_stride = stride(0, n)?;
        // the trailing axes in C order, axes of length 1 skipped: each stride must be the next
        // one's times its length
        let mut col_stride: Option<usize> = None;
        let mut expect = 0usize;
        for i in (1..shape.len()).rev() {
            let d = shape[i];
            if d <= 1 {
                continue;
            }
            let s = stride(i, d)?;
            match col_stride {
                None => col_stride = Some(s),
                Some(_) if s != expect => return None,
                Some(_) => {}
            }
            expect = s.checked_mul(d)?;
        }
        let col_stride = col_stride.unwrap_or(1);
        let len = if n == 0 || w == 0 {
            0
        } else {
            (n - 1)
                .checked_mul(row_stride)?
                .checked_add((w - 1).checked_mul(col_stride)?)?
                .checked_add(1)?
        };
        Some(Layout {
            shape: shape.to_vec(),
            n,
            w,
            row_stride,
            col_stride,
            len,
        })
    }

    /// The layout of a C-order copy.
    fn c_order(shape: &[usize]) -> Layout {
        let strides = c_strides(shape);
        // a C-order array always flattens; the fallback is never taken
        Layout::of(shape, &strides).unwrap_or(Layout {
            shape: shape.to_vec(),
            n: 0,
            w: 0,
            row_stride: 0,
            col_stride: 1,
            len: 0,
        })
    }
}

fn c_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![1isize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].saturating_mul(shape[i + 1].max(1) as isize);
    }
    strides
}

/// The `len` elements from the first element of `a` (see [`Layout`]).
///
/// # Safety
/// `layout` must be `Layout::of(a.shape(), a.strides())`: then every strided element of `a` lies
/// in `[a.as_ptr(), a.as_ptr() + len)`, one buffer of initialized values of `T` (NumPy's, or
/// the array's base object's), alive and not written while the read-only borrow `a` lives.
unsafe fn span<'a, T>(a: &ArrayViewD<'a, T>, layout: &Layout) -> &'a [T] {
    if layout.len == 0 {
        return &[];
    }
    std::slice::from_raw_parts(a.as_ptr(), layout.len)
}

fn view_of<'a, T>(data: &'a [T], l: &Layout) -> (&'a [T], usize, usize, usize, usize) {
    (data, l.n, l.w, l.row_stride, l.col_stride)
}

impl Held<'_> {
    /// The array's shape (sample axis first).
    pub fn shape(&self) -> &[usize] {
        match self {
            Held::F64(_, l) | Held::F32(_, l) | Held::CopiedF64(_, l) | Held::CopiedF32(_, l) => {
                &l.shape
            }
        }
    }

    /// The `n × w` view (no copy).
    pub fn view(&self) -> GradientView<'_> {
        match self {
            Held::F64(a, l) => {
                let a = a.as_array();
                // SAFETY: `l` is the layout of `a` (see `hold`), borrowed read-only by `self`
                let data = unsafe { span(&a, l) };
                let (data, n, w, row_stride, col_stride) = view_of(data, l);
                GradientView::F64 {
                    data,
                    n,
                    w,
                    row_stride,
                    col_stride,
                }
            }
            Held::F32(a, l) => {
                let a = a.as_array();
                // SAFETY: as above
                let data = unsafe { span(&a, l) };
                let (data, n, w, row_stride, col_stride) = view_of(data, l);
                GradientView::F32 {
                    data,
                    n,
                    w,
                    row_stride,
                    col_stride,
                }
            }
            Held::CopiedF64(v, l) => {
                let (data, n, w, row_stride, col_stride) = view_of(v, l);
                GradientView::F64 {
                    data,
                    n,
                    w,
                    row_stride,
                    col_stride,
                }
            }
            Held::CopiedF32(v, l) => {
                let (data, n, w, row_stride, col_stride) = view_of(v, l);
                GradientView::F32 {
                    data,
                    n,
                    w,
                    row_stride,
                    col_stride,
                }
            }
        }
    }
}

/// The elements of `a` in C order (the copy of the module documentation).
fn c_order_copy<T: Copy>(a: &ArrayViewD<'_, T>) -> Vec<T> {
    // `iter` walks the logical (C) order whatever the strides
    a.iter().copied().collect()
}

/// Borrows every array read-only. The Python side has already converted other dtypes, so
/// anything but a native-endian float64/float32 `ndarray` here is a bug of the caller: a
/// `TypeError` naming the array.
pub fn hold<'py>(blocks: Vec<(String, Bound<'py, PyAny>)>) -> PyResult<Vec<(String, Held<'py>)>> {
    blocks
        .into_iter()
        .map(|(name, obj)| {
            if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f64>>() {
                let layout = {
                    let v = a.as_array();
                    Layout::of(v.shape(), v.strides())
                };
                let held = match layout {
                    Some(l) => Held::F64(a, l),
                    None => {
                        let v = a.as_array();
                        Held::CopiedF64(c_order_copy(&v), Layout::c_order(v.shape()))
                    }
                };
                return Ok((name, held));
            }
            if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f32>>() {
                let layout = {
                    let v = a.as_array();
                    Layout::of(v.shape(), v.strides())
                };
                let held = match layout {
                    Some(l) => Held::F32(a, l),
                    None => {
                        let v = a.as_array();
                        Held::CopiedF32(c_order_copy(&v), Layout::c_order(v.shape()))
                    }
                };
                return Ok((name, held));
            }
            let what = match obj.cast::<PyUntypedArray>() {
                Ok(a) => format!("a numpy array of dtype {}", a.dtype()),
                Err(_) => format!("a {}", obj.get_type().name()?),
            };
            Err(PyTypeError::new_err(format!(
                "grads: array {name:?} is {what}; expected a native-endian float64 or float32 numpy array"
            )))
        })
        .collect()
}
