//! Typed errors of the library.
//!
//! Messages are lowercase, one line, and carry the context a user needs to fix the
//! problem: the file, the flag, the shape or the offending value.

use std::path::PathBuf;

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file was read but its content is not what the reader accepts.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A numeric input (file content or argument) is invalid: NaN, infinite, wrong shape.
    #[error("{context}: {message}")]
    InvalidInput {
        /// Where the value came from: a file, a flag or an argument name.
        context: String,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A parameter (learning rate, batch size, order, ...) is out of its range.
    #[error("{name} = {value}: {message}")]
    InvalidParameter {
        /// The parameter, spelled as the command-line flag (`--lr`, `--batch`, ...).
        name: &'static str,
        /// The offending value as given.
        value: String,
        /// The admissible range.
        message: String,
    },
    /// The problem does not fit the memory budget of the chosen method.
    #[error("{what} needs {needed_bytes} bytes ({needed_gib:.2} GiB) but the budget is {budget_bytes} bytes ({budget_gib:.2} GiB); {hint}")]
    TooLarge {
        /// What was to be allocated, with its dimensions.
        what: String,
        /// Bytes needed.
        needed_bytes: u128,
        /// The same in GiB.
        needed_gib: f64,
        /// The budget in bytes.
        budget_bytes: u128,
        /// The budget in GiB.
        budget_gib: f64,
        /// What the user can do about it.
        hint: String,
    },
    /// A numerical routine failed (an eigensolver did not converge, a result is not finite).
    #[error("numerical failure in {routine}: {message}")]
    Numerical {
        /// The routine.
        routine: &'static str,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// A [`Error::TooLarge`] with the GiB figures filled in.
    pub fn too_large(what: String, needed_bytes: u128, budget_bytes: u128, hint: &str) -> Self {
        const GIB: f64 = (1u64 << 30) as f64;
        Error::TooLarge {
            what,
            needed_bytes,
            needed_gib: needed_bytes as f64 / GIB,
            budget_bytes,
            budget_gib: budget_bytes as f64 / GIB,
            hint: hint.to_string(),
        }
    }

    /// A [`Error::InvalidParameter`].
    pub fn parameter(name: &'static str, value: impl ToString, message: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            message: message.into(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
