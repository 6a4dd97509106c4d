//! Library errors as Python exceptions, by kind, with the library's one-line message:
//! bad input or parameter → `ValueError`, a refused size → `MemoryError`, a file → `OSError`,
//! cancellation → `KeyboardInterrupt`, a numerical failure → `ArithmeticError`.

use pyo3::exceptions::{
    PyArithmeticError, PyKeyboardInterrupt, PyMemoryError, PyOSError, PyValueError,
};
use pyo3::PyErr;
use sgdstab::{Error, Param};

/// The Python keyword of a parameter the library names. The library's spelling
/// ([`Param::name`]) is the package's keyword, except where the package folds a library setting
/// into another keyword. The match is exhaustive on purpose: a new parameter of the library does
/// not compile here until it has its Python name.
pub fn keyword(p: Param) -> &'static str {
    match p {
        // `lanczos_tolerance` is the one Lanczos setting the package exposes
        Param::Lanczos => "lanczos_tolerance",
        // the moment statistics cover max(orders)
        Param::MaxOrder => "orders",
        Param::Grads
        | Param::LearningRate
        | Param::Batch
        | Param::Batches
        | Param::Orders
        | Param::Sampling
        | Param::RankTolerance
        | Param::Eigensolver
        | Param::Method
        | Param::MaxDenseDim
        | Param::MaxCompanionRows
        | Param::MemoryBudget
        | Param::ConeTolerance
        | Param::Key
        | Param::Stream
        | Param::Plot
        | Param::Points
        | Param::TestPoints
        | Param::Dim
        | Param::Hidden
        | Param::LossThreshold
        | Param::DivergenceLoss
        | Param::LearningRates
        | Param::Seeds
        | Param::Steps
        | Param::Paths
        | Param::Perturbation
        | Param::Trials
        | Param::Grid
        | Param::Deltas
        | Param::Samples
        | Param::AscentSteps
        | Param::Cases => p.name(),
    }
}

/// The exception for a library error.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::InvalidParameter {
            param,
            value,
            message,
        } => {
            // the Lanczos settings are named in the value ("tolerance 0"); the package has one
            let value = match param {
                Param::Lanczos => value.strip_prefix("tolerance ").unwrap_or(&value),
                _ => &value,
            };
            PyValueError::new_err(format!("{} = {value}: {message}", keyword(param)))
        }
        e @ (Error::InvalidInput { .. } | Error::Format { .. }) => {
            PyValueError::new_err(e.to_string())
        }
        e @ Error::TooLarge { .. } => PyMemoryError::new_err(e.to_string()),
        e @ Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e @ Error::Cancelled => PyKeyboardInterrupt::new_err(e.to_string()),
        e @ Error::Numerical { .. } => PyArithmeticError::new_err(e.to_string()),
    }
}
