//! Reading gradient matrices and writing output files.
//!
//! Every command that takes a gradient file goes through [`read_gradients`]. Formats are chosen
//! by extension (`.npy`, `.csv`, `.tsv`, `.txt`), or by content when the extension is unknown
//! (the NPY magic `\x93NUMPY`, else text).
//!
//! Every file the tool writes goes through [`write_atomic`]: a temporary file in the same
//! directory, flushed and renamed into place, so an interrupted run never leaves a truncated file.

pub mod csv;
pub mod npy;
pub mod stream;

use crate::error::{Error, Result};
use crate::gradients::Gradients;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy`, 2-D, float64/float32/float16, C or Fortran order.
    Npy,
    /// Delimited text: comma, tab or whitespace separated, optional header line.
    Text,
}

impl Format {
    /// The format implied by the extension, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(Format::Npy),
            "csv" | "tsv" | "txt" => Some(Format::Text),
            _ => None,
        }
    }
}

/// Options of [`read_gradients_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// For containers of several arrays: the one to read (`--key`).
    pub key: Option<String>,
}

/// Reads an `n × w` gradient matrix (rows = samples) from `path`.
pub fn read_gradients(path: &Path) -> Result<Gradients> {
    read_gradients_with(path, &ReadOptions::default())
}

/// Reads an `n × w` gradient matrix (rows = samples) from `path` with options.
pub fn read_gradients_with(path: &Path, opts: &ReadOptions) -> Result<Gradients> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(key) = &opts.key {
        return Err(Error::parameter(
            "--key",
            key,
            format!(
                "{} holds a single array; --key applies to containers",
                path.display()
            ),
        ));
    }
    gradients_from_bytes(&bytes, path)
}

/// Parses gradient bytes as if read from `path` (the path picks the format and names errors).
pub fn gradients_from_bytes(bytes: &[u8], path: &Path) -> Result<Gradients> {
    let fmt_err = |message: String| Error::Format {
        path: path.to_path_buf(),
        message,
    };
    if bytes.is_empty() {
        return Err(fmt_err("the file is empty".into()));
    }
    let format = Format::from_extension(path).unwrap_or(if bytes.starts_with(npy::MAGIC) {
        Format::Npy
    } else {
        Format::Text
    });
    let (n, w, data) = match format {
        Format::Npy => {
            let arr = npy::parse(bytes).map_err(fmt_err)?;
            arr.into_matrix().map_err(fmt_err)?
        }
        Format::Text => csv::parse(bytes).map_err(fmt_err)?,
    };
    Gradients::from_row_major(n, w, data, &path.display().to_string())
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_err = |p: &Path, source| Error::Io {
        path: p.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })
}
