//! Library errors as Python exceptions, by kind, with the library's one-line message:
//! bad input or parameter → `ValueError`, a refused size → `MemoryError`, a file → `OSError`,
//! cancellation → `KeyboardInterrupt`, a numerical failure → `ArithmeticError`.

use pyo3::exceptions::{
    PyArithmeticError, PyKeyboardInterrupt, PyMemoryError, PyOSError, PyValueError,
};
use pyo3::PyErr;
use sgdstab::Error;

/// The Python keyword for a parameter the library names. Until the library's `Param` names land
/// (issue 12) it names its parameters by their command-line flags: `--lr` → `lr`,
/// `--order` → `orders`, `--rank-tol` → `rank_tol`.
pub fn keyword(name: &str) -> String {
    let bare = name.trim_start_matches("--").replace('-', "_");
    match bare.as_str() {
        "order" => "orders".into(),
        "n" => "grads".into(),
        _ => bare,
    }
}

/// The exception for a library error.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::InvalidParameter {
            name,
            value,
            message,
        } => PyValueError::new_err(format!("{} = {value}: {message}", keyword(name))),
        e @ (Error::InvalidInput { .. } | Error::Format { .. }) => {
            PyValueError::new_err(e.to_string())
        }
        e @ Error::TooLarge { .. } => PyMemoryError::new_err(e.to_string()),
        e @ Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e @ Error::Cancelled => PyKeyboardInterrupt::new_err(e.to_string()),
        e @ Error::Numerical { .. } => PyArithmeticError::new_err(e.to_string()),
    }
}
