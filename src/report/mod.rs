//! Rendering reports: JSON (schema-versioned, finite numbers only, byte-identical from run to
//! run) and human-readable text tables.

pub mod finite;
pub mod text;
pub mod threshold;

use crate::error::{Error, Result};
use serde::Serialize;

/// Pretty JSON with a trailing newline; fails if any float is NaN or infinite.
pub fn to_json<T: Serialize>(report: &T) -> Result<String> {
    finite::check(report).map_err(|e| Error::Numerical {
        routine: "report",
        message: e.0,
    })?;
    let mut s = serde_json::to_string_pretty(report).map_err(|e| Error::Numerical {
        routine: "report",
        message: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}
