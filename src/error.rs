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
    #[error("{what} needs {} but the memory budget is {}; {hint}", human_bytes(*.needed_bytes), human_bytes(*.budget_bytes))]
    TooLarge {
        /// What was to be allocated, with its dimensions.
        what: String,
        /// Bytes needed (`u128::MAX` when it overflows).
        needed_bytes: u128,
        /// The budget in bytes.
        budget_bytes: u128,
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
    /// A [`Error::TooLarge`].
    pub fn too_large(what: String, needed_bytes: u128, budget_bytes: u128, hint: &str) -> Self {
        Error::TooLarge {
            what,
            needed_bytes,
            budget_bytes,
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

/// `1234567` → `"1.18 MiB (1234567 bytes)"`.
pub fn human_bytes(b: u128) -> String {
    if b == u128::MAX {
        return "more than 2^128 bytes".into();
    }
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else {
        format!("{v:.2} {} ({b} bytes)", units[u])
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
