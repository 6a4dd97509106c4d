//! NumPy arrays borrowed as strided `ndarray` views (f64 or f32, any dimension, any strides —
//! C, Fortran, sliced, negative), never copied here.

use crate::library::View;
use numpy::{PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// A read-only borrow of one NumPy array, kept alive while the library reads its view.
pub enum Held<'py> {
    /// float64.
    F64(PyReadonlyArrayDyn<'py, f64>),
    /// float32.
    F32(PyReadonlyArrayDyn<'py, f32>),
}

impl Held<'_> {
    /// The strided view of the data (no copy).
    pub fn view(&self) -> View<'_> {
        match self {
            Held::F64(a) => View::F64(a.as_array()),
            Held::F32(a) => View::F32(a.as_array()),
        }
    }
}

/// Borrows every array read-only. The Python side has already converted other dtypes, so
/// anything but a native-endian float64/float32 `ndarray` here is a bug of the caller: a
/// `TypeError` naming the array.
pub fn hold<'py>(blocks: Vec<(String, Bound<'py, PyAny>)>) -> PyResult<Vec<(String, Held<'py>)>> {
    blocks
        .into_iter()
        .map(|(name, obj)| {
            if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f64>>() {
                return Ok((name, Held::F64(a)));
            }
            if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f32>>() {
                return Ok((name, Held::F32(a)));
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
