//! Streaming the Gram matrix `G = AAᵀ` of a wide `.npy` gradient file (DESIGN §4, issue 5).
//!
//! The file is read in blocks of columns (`n × block` at a time, float64/float32/float16, C or
//! Fortran order) by a reader thread while the main thread accumulates `G += A_blk A_blkᵀ` (a
//! parallel GEMM) and the column statistics Theorem 2 and Corollary 1 need. Peak memory is
//! `O(n² + n·block)`: `A` is never held whole. Every value is checked finite (the error names its
//! row and column).

use crate::error::{Error, Param, Result};
use crate::io::npy::{decode_element, read_header, MAX_HEADER_BYTES};
use crate::progress::Progress;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What one streaming pass produces.
#[derive(Debug, Clone)]
pub struct StreamedGram {
    /// Samples.
    pub n: usize,
    /// Parameters.
    pub w: usize,
    /// `G = AAᵀ`, column-major `n × n`.
    pub gram: Vec<f64>,
    /// Column and row power sums for the requested orders (the engine turns them into the
    /// Theorem 2 / Corollary 1 statistics).
    pub power: PowerSums,
    /// Columns per block used.
    pub block_columns: usize,
    /// `max |a_ij|` over the whole matrix (the scale check of over- and underflow).
    pub largest_abs: f64,
}

/// Default block width: about 64 MiB of `f64` per block.
pub fn default_block_columns(n: usize, w: usize) -> usize {
    ((64usize << 20) / (8 * n.max(1))).clamp(64, w.max(64))
}

/// Power sums of one streaming pass, per requested order `k` (plain sums; no theorem here).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowerSums {
    /// The orders `k`, as requested.
    pub orders: Vec<usize>,
    /// Per order: `(max_j m_j, argmax j)` with `m_j = (1/n) Σ_i a_{ij}^{2k}` (the first maximum).
    pub max_column_mean: Vec<(f64, usize)>,
    /// Per order, per row `i`: `‖a_i‖_{2k}`.
    pub row_norms: Vec<Vec<f64>>,
}

type Block = std::result::Result<(usize, Vec<f64>), Error>;

/// Streams `path` (a 2-D `.npy`), returning the Gram matrix and the moment statistics for
/// `orders`. `block_columns = None` picks [`default_block_columns`].
pub fn stream_gram(
    path: &Path,
    orders: &[usize],
    block_columns: Option<usize>,
    progress: &dyn Progress,
) -> Result<StreamedGram> {
    let fmt_err = |message: String| Error::Format {
        path: path.to_path_buf(),
        message,
    };
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len() as usize;
    if len == 0 {
        return Err(fmt_err("the file is empty".into()));
    }
    let mut prefix = vec![0u8; len.min(12 + MAX_HEADER_BYTES)];
    file.read_exact(&mut prefix).map_err(io_err)?;
    let header = read_header(&prefix).map_err(fmt_err)?;
    let (n, w) = match header.shape.as_slice() {
        &[n, w] => (n, w),
        s => {
            return Err(fmt_err(format!(
                "array of shape {} is {}-D; expected a 2-D n × w array",
                crate::io::npy::shape_string(s),
                s.len()
            )))
        }
    };
    if n == 0 || w == 0 {
        return Err(Error::InvalidInput {
            context: path.display().to_string(),
            message: format!(
                "the gradient matrix is {n} × {w}; need at least one row and one column"
            ),
        });
    }
    let isz = header.item_size();
    let need = n
        .checked_mul(w)
        .and_then(|c| c.checked_mul(isz))
        .and_then(|b| b.checked_add(header.data_offset))
        .ok_or_else(|| fmt_err("shape overflows".into()))?;
    if len < need {
        return Err(fmt_err(format!(
            "truncated data: shape ({n}, {w}) needs {} bytes, the file has {}",
            need - header.data_offset,
            len - header.data_offset
        )));
    }
    if len > need {
        return Err(fmt_err(format!(
            "{} unexpected bytes after the data",
            len - need
        )));
    }
    let bw = block_columns
        .unwrap_or_else(|| default_block_columns(n, w))
        .clamp(1, w);
    let nblocks = w.div_ceil(bw);
    crate::memory::check(
        || {
            format!(
                "the streamed Gram matrix of {} ({n} × {n}, blocks of {n} × {bw})",
                path.display()
            )
        },
        crate::memory::streamed_reduction(n, w, n.saturating_mul(bw)),
        crate::memory::default_budget_bytes(),
        &format!(
            "use fewer samples (the Gram matrix is n × n), or raise {}",
            Param::MemoryBudget.quoted()
        ),
    )?;
    progress.begin("streaming Gram", nblocks as u64);

    let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(1);
    let hdr = header.clone();
    let pathbuf = path.to_path_buf();
    let reader = std::thread::spawn(move || {
        let mut raw = Vec::new();
        for blk in 0..nblocks {
            let j0 = blk * bw;
            let cols = bw.min(w - j0);
            let res = (|| -> Result<Vec<f64>> {
                let mut out = vec![0.0; n * cols];
                let ioe = |source| Error::Io {
                    path: pathbuf.clone(),
                    source,
                };
                if hdr.fortran_order {
                    raw.resize(n * cols * isz, 0);
                    file.seek(SeekFrom::Start((hdr.data_offset + j0 * n * isz) as u64))
                        .map_err(ioe)?;
                    file.read_exact(&mut raw).map_err(ioe)?;
                    for (o, c) in out.iter_mut().zip(raw.chunks_exact(isz)) {
                        *o = decode_element(c, hdr.dtype, hdr.little_endian);
                    }
                } else {
                    raw.resize(cols * isz, 0);
                    for i in 0..n {
                        file.seek(SeekFrom::Start(
                            (hdr.data_offset + (i * w + j0) * isz) as u64,
                        ))
                        .map_err(ioe)?;
                        file.read_exact(&mut raw).map_err(ioe)?;
                        for (c, e) in raw.chunks_exact(isz).enumerate() {
                            out[i + c * n] = decode_element(e, hdr.dtype, hdr.little_endian);
                        }
                    }
                }
                if let Some(pos) = out.iter().position(|x| !x.is_finite()) {
                    return Err(Error::InvalidInput {
                        context: pathbuf.display().to_string(),
                        message: format!(
                            "non-finite value {} at row {}, column {} (0-based)",
                            out[pos],
                            pos % n,
                            j0 + pos / n
                        ),
                    });
                }
                Ok(out)
            })();
            let failed = res.is_err();
            if tx.send(res.map(|b| (j0, b))).is_err() || failed {
                return;
            }
        }
    });

    let mut gram = vec![0.0; n * n];
    let mut best: Vec<(f64, usize)> = vec![(f64::NEG_INFINITY, 0); orders.len()];
    // per order, per row: scaled 2k-power sums (max |a|, Σ (|a|/max)^{2k})
    let mut rows: Vec<Vec<(f64, f64)>> = vec![vec![(0.0, 0.0); n]; orders.len()];
    let mut largest_abs = 0.0f64;
    let par = crate::parallel::faer_par();
    for _ in 0..nblocks {
        let (j0, block) = rx
            .recv()
            .map_err(|_| fmt_err("the reader stopped unexpectedly".into()))??;
        let cols = block.len() / n;
        largest_abs = block.iter().fold(largest_abs, |m, x| m.max(x.abs()));
        let bm = faer::MatRef::from_column_major_slice(&block, n, cols);
        let gm = faer::MatMut::from_column_major_slice_mut(&mut gram, n, n);
        faer::linalg::matmul::matmul(gm, faer::Accum::Add, bm, bm.transpose(), 1.0, par);
        for (oi, &k) in orders.iter().enumerate() {
            let p = 2 * k as i32;
            for c in 0..cols {
                let col = &block[c * n..(c + 1) * n];
                let m = col.iter().map(|x| x.powi(p)).sum::<f64>() / n as f64;
                if m > best[oi].0 {
                    best[oi] = (m, j0 + c);
                }
                for (acc, &x) in rows[oi].iter_mut().zip(col) {
                    let a = x.abs();
                    if a == 0.0 {
                        continue;
                    }
                    if a > acc.0 {
                        acc.1 = acc.1 * (acc.0 / a).powi(p) + 1.0;
                        acc.0 = a;
                    } else {
                        acc.1 += (a / acc.0).powi(p);
                    }
                }
            }
        }
        progress.advance(1, "");
    }
    let _ = reader.join();
    progress.end();
    let row_norms = orders
        .iter()
        .zip(&rows)
        .map(|(&k, rows)| {
            let p = 2.0 * k as f64;
            rows.iter()
                .map(|&(m, s)| if m == 0.0 { 0.0 } else { m * s.powf(1.0 / p) })
                .collect()
        })
        .collect();
    Ok(StreamedGram {
        n,
        w,
        gram,
        power: PowerSums {
            orders: orders.to_vec(),
            max_column_mean: best,
            row_norms,
        },
        block_columns: bw,
        largest_abs,
    })
}

/// When to stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamMode {
    /// Stream a `.npy` file that is wide (`w > n`) and large (`n·w >= AUTO_STREAM_ENTRIES`).
    #[default]
    Auto,
    /// Always stream (`.npy` only).
    Always,
    /// Never stream: read the whole matrix.
    Never,
}

impl std::str::FromStr for StreamMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(StreamMode::Auto),
            "always" => Ok(StreamMode::Always),
            "never" => Ok(StreamMode::Never),
            o => Err(format!(
                "unknown stream mode '{o}' (expected auto, always or never)"
            )),
        }
    }
}

/// Entry count from which [`StreamMode::Auto`] streams a wide `.npy` (2·10⁷ values: 160 MB as f64).
pub const AUTO_STREAM_ENTRIES: usize = 20_000_000;

/// Whether `path` should be streamed under `mode` (reads the header only for `.npy` files).
pub fn should_stream(path: &Path, mode: StreamMode) -> Result<bool> {
    let is_npy = crate::io::Format::from_extension(path) == Some(crate::io::Format::Npy);
    // streaming reads the file several times: regular files only (a FIFO, a device or standard
    // input is read once, whole, by the regular reader; opening it here would consume it)
    let regular = !crate::io::is_stdin(path) && std::fs::metadata(path).is_ok_and(|m| m.is_file());
    match mode {
        StreamMode::Never => Ok(false),
        StreamMode::Always if is_npy && !regular && std::fs::metadata(path).is_ok() => {
            Err(Error::parameter(
                Param::Stream,
                "always",
                format!(
                    "{}: not a regular file; only regular .npy files can be streamed",
                    path.display()
                ),
            ))
        }
        StreamMode::Auto if !regular => Ok(false),
        StreamMode::Always if !is_npy => Err(Error::parameter(
            Param::Stream,
            "always",
            format!("{}: only .npy files can be streamed", path.display()),
        )),
        StreamMode::Always => Ok(true),
        StreamMode::Auto if !is_npy => Ok(false),
        StreamMode::Auto => {
            let mut f = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(_) => return Ok(false), // the regular reader reports the error
            };
            let mut prefix = Vec::new();
            let _ = (&mut f)
                .take((12 + MAX_HEADER_BYTES) as u64)
                .read_to_end(&mut prefix);
            Ok(match read_header(&prefix) {
                Ok(h) => match h.shape.as_slice() {
                    &[n, w] => w > n && n.saturating_mul(w) >= AUTO_STREAM_ENTRIES,
                    _ => false,
                },
                Err(_) => false,
            })
        }
    }
}
