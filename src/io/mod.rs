//! Reading gradient matrices and writing output files.
//!
//! Every command that takes a gradient file goes through [`read_gradients_with`] (the CLI's
//! `GRADS` argument and `--key`). Formats ([`Format`]):
//!
//! | format | file | arrays |
//! |---|---|---|
//! | NPY | `.npy` | one 2-D `n × w` array; float64/32/16; C or Fortran order |
//! | NPZ | `.npz` (`numpy.savez`, `numpy.savez_compressed`) | a per-parameter dictionary, see [`dict`] |
//! | safetensors | `.safetensors` | a per-parameter dictionary; F64/F32/F16/BF16 |
//! | text | `.csv`, `.tsv`, `.txt` | one `n × w` table, see [`csv`] |
//!
//! The format is recognised by content first (the NPY magic `\x93NUMPY`, the zip signature
//! `PK\x03\x04`, a safetensors header length followed by `{`), then by extension; anything else
//! is read as text. For a dictionary, `--key NAME` reads one array, and no key reads all arrays
//! concatenated along the feature axis ([`dict::assemble`]); every array is flattened to
//! `n × (size/n)` around its leading sample axis. A single-array file (NPY, text) must be 2-D.
//!
//! Every error names the file and the offending value; no reader panics or allocates more than a
//! small multiple of the file's size (NPZ members: their declared size, checked against the memory
//! budget first).
//!
//! Every file the tool writes goes through [`write_atomic`] (or [`write_atomic_with`] for a
//! streaming writer): a temporary file in the same directory, flushed and renamed into place, so
//! an interrupted or failed run never leaves a truncated file.

pub mod bundle;
pub mod csv;
pub mod dict;
pub mod npy;
pub mod npz;
pub mod safetensors;
pub mod stream;

use crate::engine::gradients::Gradients;
use crate::error::{Error, Param, Result};
use dict::ArrayDict as _;
use dict::{AssembleError, Assembled, ParameterBlock, Selection};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy`, 2-D, float64/float32/float16, C or Fortran order.
    Npy,
    /// NumPy `.npz`: a zip of `.npy` members (stored or deflate), one per parameter.
    Npz,
    /// safetensors: one tensor per parameter, F64/F32/F16/BF16.
    Safetensors,
    /// Delimited text: comma, tab or whitespace separated, optional header line.
    Text,
}

impl Format {
    /// The format implied by the extension, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(Format::Npy),
            "npz" => Some(Format::Npz),
            "safetensors" => Some(Format::Safetensors),
            "csv" | "tsv" | "txt" => Some(Format::Text),
            _ => None,
        }
    }

    /// The format recognised from the first bytes, if any: the NPY magic, a zip signature, or
    /// a safetensors header (a little-endian length that fits the file, then `{`).
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(npy::MAGIC) {
            return Some(Format::Npy);
        }
        if bytes.starts_with(npz::MAGIC) || bytes.starts_with(npz::MAGIC_EMPTY) {
            return Some(Format::Npz);
        }
        if bytes.len() > 8 && bytes[8] == b'{' {
            let mut len = [0u8; 8];
            len.copy_from_slice(&bytes[..8]);
            if u64::from_le_bytes(len) <= (bytes.len() - 8) as u64 {
                return Some(Format::Safetensors);
            }
        }
        None
    }

    /// The format used for `bytes` read from `path`: by content, else by extension, else text.
    pub fn detect(bytes: &[u8], path: &Path) -> Format {
        Format::sniff(bytes)
            .or_else(|| Format::from_extension(path))
            .unwrap_or(Format::Text)
    }

    /// Whether the format holds several named arrays (`--key` applies).
    pub fn is_container(self) -> bool {
        matches!(self, Format::Npz | Format::Safetensors)
    }

    /// A short name for messages (`"npz"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Safetensors => "safetensors",
            Format::Text => "text",
        }
    }
}

/// Options of [`read_gradients_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// For containers of several arrays: the one to read (`--key`); `None` reads all of them,
    /// concatenated along the feature axis.
    pub key: Option<String>,
}

/// A gradient file as read: the matrix, the format, and where each stored array landed.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientInput {
    /// The `n × w` matrix (rows = samples).
    pub gradients: Gradients,
    /// The format that was read.
    pub format: Format,
    /// The arrays in column order (one block with an empty name for NPY and text).
    pub blocks: Vec<ParameterBlock>,
}

/// Reads an `n × w` gradient matrix (rows = samples) from `path`.
pub fn read_gradients(path: &Path) -> Result<Gradients> {
    read_gradients_with(path, &ReadOptions::default())
}

/// Reads an `n × w` gradient matrix (rows = samples) from `path` with options.
pub fn read_gradients_with(path: &Path, opts: &ReadOptions) -> Result<Gradients> {
    Ok(read_input(path, opts)?.gradients)
}

/// The path that stands for standard input.
pub const STDIN_PATH: &str = "-";

/// Whether `path` is [`STDIN_PATH`].
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN_PATH
}

/// Reads a gradient file with its layout (see [`GradientInput`]). `-` reads standard input.
///
/// The file is opened once and read to its end (a FIFO or a device works as well as a regular
/// file); its size is checked against the memory budget before it is read (regular files) and
/// the size of the matrix it holds before the values are converted ([`crate::memory`]).
pub fn read_input(path: &Path, opts: &ReadOptions) -> Result<GradientInput> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let budget = crate::memory::default_budget_bytes();
    let bytes = if is_stdin(path) {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).map_err(io_err)?;
        buf
    } else {
        let mut f = std::fs::File::open(path).map_err(io_err)?;
        let meta = f.metadata().map_err(io_err)?;
        let mut buf = Vec::new();
        // (an NPZ archive's members are checked as they are inflated, naming the member)
        if meta.is_file() && Format::from_extension(path) != Some(Format::Npz) {
            crate::memory::check(
                || format!("reading {}", path.display()),
                meta.len() as u128,
                budget,
                &crate::memory::input_hint(),
            )?;
        }
        if meta.is_file() && (meta.len() as u128) <= budget {
            buf.reserve_exact(meta.len() as usize);
        }
        std::io::Read::read_to_end(&mut f, &mut buf).map_err(io_err)?;
        buf
    };
    let name = if is_stdin(path) {
        Path::new("standard input")
    } else {
        path
    };
    check_matrix_size(&bytes, name, budget)?;
    input_from_bytes(&bytes, name, opts)
}

/// Checks the matrix a file holds against the budget before its values are converted: the
/// shape from an NPY header, the tensors of a safetensors header, or at most one value per
/// field separator of a text file ([`crate::memory::read_file`]). NPZ members are checked as
/// they are inflated ([`npz`]).
fn check_matrix_size(bytes: &[u8], path: &Path, budget: u128) -> Result<()> {
    let file = bytes.len() as u128;
    let values: u128 = match Format::detect(bytes, path) {
        Format::Npy => match npy::read_header(bytes) {
            Ok(h) => {
                let values = h
                    .shape
                    .iter()
                    .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
                    .unwrap_or(u128::MAX);
                // a shape the file cannot hold is the reader's "truncated data" error
                let need = values.saturating_mul(h.item_size() as u128);
                if need > file.saturating_sub(h.data_offset as u128) {
                    return Ok(());
                }
                values
            }
            Err(_) => return Ok(()), // the reader reports it
        },
        Format::Safetensors => match safetensors::parse(bytes) {
            Ok(st) => {
                let values = (0..st.keys().len())
                    .map(|i| {
                        st.info(i)
                            .1
                            .iter()
                            .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
                            .unwrap_or(u128::MAX)
                    })
                    .fold(0u128, u128::saturating_add);
                // tensors the data cannot hold (2 bytes a value at least) are the reader's error
                if values.saturating_mul(2) > file {
                    return Ok(());
                }
                values
            }
            Err(_) => return Ok(()),
        },
        Format::Text => {
            bytes
                .iter()
                .filter(|&&b| matches!(b, b',' | b'\t' | b' ' | b'\n'))
                .count() as u128
                + 1
        }
        Format::Npz => return Ok(()),
    };
    crate::memory::check(
        || {
            format!(
                "the gradient matrix of {} ({values} values as float64)",
                path.display()
            )
        },
        crate::memory::read_file(file, values),
        budget,
        &crate::memory::input_hint(),
    )
}

/// Parses gradient bytes as if read from `path` without options (the path picks the format
/// when the content does not, and names errors).
pub fn gradients_from_bytes(bytes: &[u8], path: &Path) -> Result<Gradients> {
    Ok(input_from_bytes(bytes, path, &ReadOptions::default())?.gradients)
}

/// One line, control characters escaped.
fn one_line(message: String) -> String {
    if message.chars().any(char::is_control) {
        message
            .chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        message
    }
}

/// Parses gradient bytes as if read from `path`, with options.
pub fn input_from_bytes(bytes: &[u8], path: &Path, opts: &ReadOptions) -> Result<GradientInput> {
    let fmt_err = |message: String| Error::Format {
        path: path.to_path_buf(),
        message: one_line(message),
    };
    if bytes.is_empty() {
        return Err(fmt_err("the file is empty".into()));
    }
    let format = Format::detect(bytes, path);
    if let (Some(key), false) = (&opts.key, format.is_container()) {
        return Err(Error::parameter(
            Param::Key,
            one_line(key.clone()),
            format!(
                "{} is a single-array {} file; {} applies to .npz and safetensors containers",
                path.display(),
                format.name(),
                Param::Key.quoted()
            ),
        ));
    }
    let selection = match &opts.key {
        Some(k) => Selection::Key(k),
        None => Selection::All,
    };
    let assemble = |dict: &mut dyn dict::ArrayDict| {
        dict::assemble(dict, selection).map_err(|e| match e {
            AssembleError::UnknownKey(m) => Error::parameter(
                Param::Key,
                one_line(opts.key.clone().unwrap_or_default()),
                format!("{}: {}", path.display(), one_line(m)),
            ),
            AssembleError::Invalid(m) => fmt_err(m),
        })
    };
    let single = |n: usize, w: usize, data: Vec<f64>| Assembled {
        n,
        w,
        data,
        blocks: vec![ParameterBlock {
            name: String::new(),
            shape: vec![n, w],
            columns: 0..w,
        }],
    };
    let a = match format {
        Format::Npy => {
            let arr = npy::parse(bytes).map_err(fmt_err)?;
            let (n, w, data) = arr.into_matrix().map_err(fmt_err)?;
            single(n, w, data)
        }
        Format::Text => {
            let (n, w, data) = csv::parse(bytes).map_err(fmt_err)?;
            single(n, w, data)
        }
        Format::Npz => assemble(&mut npz::open(bytes).map_err(fmt_err)?)?,
        Format::Safetensors => assemble(&mut safetensors::parse(bytes).map_err(fmt_err)?)?,
    };
    let gradients = Gradients::from_row_major(a.n, a.w, a.data, &path.display().to_string())?;
    Ok(GradientInput {
        gradients,
        format,
        blocks: a.blocks,
    })
}

/// A name for a temporary file next to `path`, unique within this process.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // at most 100 characters of the name, so the temporary name stays within NAME_MAX
    let name: String = path
        .file_name()
        .map(|s| s.to_string_lossy().chars().take(100).collect())
        .unwrap_or_else(|| "output".into());
    dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes a C-order float64 array of `shape` as an NPY 1.0 file, atomically (the way to export
/// arrays). Errors unless `data.len()` is the product of `shape`.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count != Some(data.len()) {
        return Err(Error::InvalidInput {
            context: path.display().to_string(),
            message: format!(
                "{} values do not fill shape {}",
                data.len(),
                npy::shape_string(shape)
            ),
        });
    }
    write_atomic(path, &npy::to_bytes(shape, data))
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
///
/// On failure no file is left: neither `path` (an existing `path` keeps its old content) nor the
/// temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically from a streaming writer: `write` fills a buffered temporary file in
/// the same directory, which is synced and renamed onto `path` only if `write` succeeds. On any
/// failure the temporary file is removed and `path` is untouched.
///
/// A `path` that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written
/// through, never replaced; a symbolic link is followed (its target is replaced, not the link).
/// Inside a [`Transaction`] the rename (or the write through) waits for
/// [`Transaction::commit`].
pub fn write_atomic_with<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let through = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if through && !Transaction::active() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err)?;
        let mut buf = std::io::BufWriter::new(f);
        return write(&mut buf).and_then(|()| buf.flush()).map_err(io_err);
    }
    // a symbolic link to a file: replace the file it points to, keep the link
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(io_err)?,
        _ => path.to_path_buf(),
    };
    // a fresh name; a stale temporary file of an earlier process with the same id is skipped
    let mut attempt = 0;
    // (a device or FIFO staged in a transaction: the temporary file goes to the temp directory,
    // never next to the device)
    let beside = if through {
        std::env::temp_dir().join("sgdstab-output")
    } else {
        target.clone()
    };
    let (tmp, f) = loop {
        let tmp = temp_path(&beside);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1
            }
            Err(e) => return Err(io_err(e)),
        }
    };
    let result = (|| {
        let mut buf = std::io::BufWriter::new(f);
        write(&mut buf)?;
        let f = buf.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    if Transaction::stage(Staged {
        tmp: tmp.clone(),
        target: target.clone(),
        through,
        shown: path.to_path_buf(),
    }) {
        return Ok(());
    }
    std::fs::rename(&tmp, &target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(e)
    })
}

/// A written temporary file waiting for [`Transaction::commit`].
#[derive(Debug)]
struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    /// Copy into `target` (a device or FIFO) instead of renaming.
    through: bool,
    /// The path as given, for messages.
    shown: PathBuf,
}

static STAGED: std::sync::Mutex<Option<Vec<Staged>>> = std::sync::Mutex::new(None);

/// All-or-nothing output of a command that writes several files: while a transaction is open,
/// every [`write_atomic`] / [`write_atomic_with`] / [`write_npy`] of the process writes its
/// temporary file as usual but renames it onto the target only at [`Transaction::commit`]. A
/// transaction dropped without a commit (an error, a panic) removes the temporary files, so
/// no target is created or changed.
///
/// Process-wide (one at a time): meant for the binary's commands, not for concurrent library use.
#[derive(Debug)]
#[must_use = "drop without commit discards the staged files"]
pub struct Transaction {
    _private: (),
}

impl Transaction {
    /// Opens the transaction. Not nested: a `begin` while one is open continues it, and the
    /// first commit or drop ends it.
    pub fn begin() -> Transaction {
        let mut g = STAGED.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(Vec::new);
        Transaction { _private: () }
    }

    fn active() -> bool {
        STAGED.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Stages `s` if a transaction is open; `false` (nothing done) otherwise.
    fn stage(s: Staged) -> bool {
        let mut g = STAGED.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(v) => {
                v.push(s);
                true
            }
            None => false,
        }
    }

    /// Moves every staged file onto its target: all of them or none. Regular files are renamed
    /// first, in the order written, each existing target kept aside (a hard link, else a copy)
    /// until the last rename succeeded; if one fails, the targets renamed before it get their old
    /// content back (or are removed if they did not exist), the remaining temporary files are
    /// removed, and the error names the target that failed. Devices and FIFOs (written through,
    /// which cannot be undone) are written only after every rename succeeded.
    pub fn commit(self) -> Result<()> {
        let mut staged = STAGED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        std::mem::forget(self);
        // renames before writes through; the order within each kind is kept
        staged.sort_by_key(|s| s.through);
        let discard = |rest: &[Staged]| {
            for s in rest {
                let _ = std::fs::remove_file(&s.tmp);
            }
        };
        // a target a rename cannot replace (a directory) fails the whole commit before any
        // rename (the temporary files were created beside their targets, so the directories
        // are writable)
        if let Some(s) = staged.iter().find(|s| !s.through && s.target.is_dir()) {
            let e = Error::Io {
                path: s.shown.clone(),
                source: std::io::Error::from_raw_os_error(21),
            };
            discard(&staged);
            return Err(e);
        }
        // (target, its old content kept aside or None if it did not exist)
        let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let rollback = |done: &[(PathBuf, Option<PathBuf>)]| {
            for (target, aside) in done.iter().rev() {
                match aside {
                    Some(a) => {
                        let _ = std::fs::rename(a, target);
                    }
                    None => {
                        let _ = std::fs::remove_file(target);
                    }
                }
            }
        };
        let n_renames = staged.iter().filter(|s| !s.through).count();
        for (i, s) in staged.iter().enumerate().take(n_renames) {
            let step = (|| {
                let aside = if std::fs::symlink_metadata(&s.target).is_ok() {
                    let a = temp_path(&s.target);
                    if std::fs::hard_link(&s.target, &a).is_err() {
                        std::fs::copy(&s.target, &a)?;
                    }
                    Some(a)
                } else {
                    None
                };
                match std::fs::rename(&s.tmp, &s.target) {
                    Ok(()) => Ok(aside),
                    Err(e) => {
                        if let Some(a) = &aside {
                            let _ = std::fs::remove_file(a);
                        }
                        Err(e)
                    }
                }
            })();
            match step {
                Ok(aside) => done.push((s.target.clone(), aside)),
                Err(source) => {
                    rollback(&done);
                    discard(&staged[i..]);
                    return Err(Error::Io {
                        path: s.shown.clone(),
                        source,
                    });
                }
            }
        }
        for (_, aside) in &done {
            if let Some(a) = aside {
                let _ = std::fs::remove_file(a);
            }
        }
        let mut first_err: Option<Error> = None;
        for s in &staged[n_renames..] {
            if first_err.is_none() {
                let r = (|| {
                    let mut from = std::fs::File::open(&s.tmp)?;
                    let mut to = std::fs::OpenOptions::new().write(true).open(&s.target)?;
                    std::io::copy(&mut from, &mut to)?;
                    to.flush()
                })();
                if let Err(source) = r {
                    first_err = Some(Error::Io {
                        path: s.shown.clone(),
                        source,
                    });
                }
            }
            let _ = std::fs::remove_file(&s.tmp);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        let staged = STAGED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        for s in staged {
            let _ = std::fs::remove_file(&s.tmp);
        }
    }
}

/// Whether `a` and `b` name the same existing regular file (same device and inode, through
/// links; on other systems, the same canonical path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.is_file() && x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

#[cfg(test)]
mod transaction_tests {
    use super::*;

    /// A commit whose second rename fails (its directory vanished after staging) gives the first
    /// target its old content back, creates nothing and leaves no temporary file.
    #[test]
    fn a_rename_failing_halfway_undoes_the_renames_before_it() {
        let root = std::env::temp_dir().join(format!("sgdstab-tx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let kept = root.join("kept");
        let gone = root.join("gone");
        std::fs::create_dir_all(&kept).unwrap();
        std::fs::create_dir_all(&gone).unwrap();
        let old = kept.join("report.json");
        std::fs::write(&old, b"old").unwrap();
        let fresh = kept.join("new.csv");
        let tx = Transaction::begin();
        write_atomic(&old, b"new").unwrap();
        write_atomic(&fresh, b"fresh").unwrap();
        write_atomic(&gone.join("plot.svg"), b"svg").unwrap();
        std::fs::remove_dir_all(&gone).unwrap();
        let err = tx.commit().unwrap_err().to_string();
        assert!(err.contains("plot.svg"), "{err}");
        assert_eq!(std::fs::read(&old).unwrap(), b"old");
        assert!(!fresh.exists());
        let left: Vec<_> = std::fs::read_dir(&kept)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["report.json".to_string()]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
