//! NumPy `.npz` archives (`numpy.savez`, `numpy.savez_compressed`): a zip file of `.npy`
//! members, stored or deflate-compressed.
//!
//! Keys are the member names without the `.npy` suffix, as `numpy.load(f).files` shows them;
//! `--key` also accepts the full member name. Their order is the archive's (central directory)
//! order, which is the order `numpy.savez` wrote them: for `numpy.savez(f, **grads)` the
//! dictionary's order. Directory entries are skipped.
//!
//! Memory: a member is decompressed only when it is read, and only if its declared size fits the
//! memory budget ([`crate::memory::default_budget_bytes`]) and is consistent with deflate's
//! largest expansion (1032:1); the output is cut at the declared size, so a forged size can
//! neither exhaust memory nor hide extra data.

use super::dict::{quote, Array, ArrayDict};
use super::npy;
use crate::error::human_bytes;
use std::io::{Cursor, Read};
use zip::result::ZipError;
use zip::CompressionMethod;

/// Deflate's largest expansion ratio (258-byte matches coded in 2 bits, plus headers).
const DEFLATE_MAX_RATIO: u64 = 1032;

/// The zip local-file-header signature (`PK\x03\x04`) that every non-empty `.npz` starts with.
pub const MAGIC: &[u8] = b"PK\x03\x04";
/// The signature of an empty zip archive (end of central directory only).
pub const MAGIC_EMPTY: &[u8] = b"PK\x05\x06";

/// An opened archive: the central directory is parsed, no member is decompressed yet.
pub struct Npz<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Keys (member names without `.npy`), archive order.
    keys: Vec<String>,
    /// Full member names, parallel to `keys`.
    names: Vec<String>,
    /// Archive indices, parallel to `keys`.
    indices: Vec<usize>,
    budget_bytes: u128,
    /// Bytes decompressed so far (all members read count against the budget).
    used_bytes: u128,
}

fn zip_message(e: ZipError) -> String {
    match e {
        ZipError::Io(io) => format!("corrupt zip data: {io}"),
        ZipError::InvalidArchive(m) => format!("not a valid zip archive: {m}"),
        ZipError::UnsupportedArchive(m) => format!("unsupported zip archive: {m}"),
        other => other.to_string(),
    }
}

/// Opens an `.npz` archive held in memory, using the default memory budget.
pub fn open(bytes: &[u8]) -> Result<Npz<'_>, String> {
    open_with_budget(bytes, crate::memory::default_budget_bytes())
}

/// Opens an `.npz` archive with an explicit memory budget (bytes) for decompressed members.
pub fn open_with_budget(bytes: &[u8], budget_bytes: u128) -> Result<Npz<'_>, String> {
    if !(bytes.starts_with(MAGIC) || bytes.starts_with(MAGIC_EMPTY)) {
        return Err("not an NPZ file (missing the zip signature PK\\x03\\x04)".into());
    }
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        // a zip ends with its directory: without one, the usual cause is a cut-off file
        let tail = &bytes[bytes.len().saturating_sub(65_557)..];
        if tail.windows(4).any(|w| w == MAGIC_EMPTY) {
            zip_message(e)
        } else {
            format!(
                "truncated NPZ archive: no end-of-central-directory record in its {} bytes",
                bytes.len()
            )
        }
    })?;
    let mut keys = Vec::new();
    let mut names = Vec::new();
    let mut indices = Vec::new();
    // duplicate keys by a hash set: linear in the number of members (an archive can hold
    // hundreds of thousands)
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for i in 0..archive.len() {
        let Some(name) = archive.name_for_index(i) else {
            continue;
        };
        if name.ends_with('/') {
            continue;
        }
        let key = name.strip_suffix(".npy").unwrap_or(name).to_string();
        if !seen.insert(key.clone()) {
            return Err(format!(
                "two members are named {} (key {})",
                quote(name),
                quote(&key)
            ));
        }
        keys.push(key);
        names.push(name.to_string());
        indices.push(i);
    }
    Ok(Npz {
        archive,
        keys,
        names,
        indices,
        budget_bytes,
        used_bytes: 0,
    })
}

impl Npz<'_> {
    /// The raw bytes of member `index` (an index into [`ArrayDict::keys`]).
    pub fn member_bytes(&mut self, index: usize) -> Result<Vec<u8>, String> {
        let budget = self.budget_bytes;
        let used_before = self.used_bytes;
        let mut file = self
            .archive
            .by_index(self.indices[index])
            .map_err(zip_message)?;
        let method = file.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(format!(
                "compression method {method} is not supported (numpy.savez writes stored, numpy.savez_compressed deflate)"
            ));
        }
        let size = file.size();
        let compressed = file.compressed_size();
        if method == CompressionMethod::Stored && size != compressed {
            return Err(format!(
                "stored member declares {size} bytes uncompressed but {compressed} compressed"
            ));
        }
        if size
            > compressed
                .saturating_mul(DEFLATE_MAX_RATIO)
                .saturating_add(1024)
        {
            return Err(format!(
                "member declares {size} uncompressed bytes from {compressed} compressed, more than deflate can expand"
            ));
        }
        if used_before + size as u128 > budget {
            return Err(format!(
                "member needs {} uncompressed{} but the memory budget is {}; set SGDSTAB_MEMORY_BYTES to raise it",
                human_bytes(size as u128),
                if used_before > 0 {
                    format!(" after {} of other members", human_bytes(used_before))
                } else {
                    String::new()
                },
                human_bytes(budget)
            ));
        }
        let mut buf = Vec::new();
        (&mut file)
            .take(size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| format!("corrupt member data: {e}"))?;
        if buf.len() as u64 > size {
            return Err(format!(
                "member data is longer than the {size} bytes the archive declares"
            ));
        }
        if (buf.len() as u64) < size {
            return Err(format!(
                "truncated member: {} bytes of the {size} the archive declares",
                buf.len()
            ));
        }
        self.used_bytes = used_before + size as u128;
        Ok(buf)
    }
}

impl ArrayDict for Npz<'_> {
    fn keys(&self) -> &[String] {
        &self.keys
    }

    fn aliases(&self, index: usize) -> Vec<String> {
        vec![self.names[index].clone()]
    }

    fn load(&mut self, index: usize) -> Result<Array, String> {
        let bytes = self.member_bytes(index)?;
        // what follows the inflation counts too: the member's values as float64 (4× the
        // inflated bytes of float16) and their copy in the assembled matrix
        let header = npy::read_header(&bytes)?;
        let values = header
            .shape
            .iter()
            .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
            .unwrap_or(u128::MAX);
        let need = values.saturating_mul(16);
        if self.used_bytes.saturating_add(need) > self.budget_bytes {
            return Err(format!(
                "member of shape {} needs {} as float64 (and its copy in the gradient matrix) after {} inflated, but the memory budget is {}; set SGDSTAB_MEMORY_BYTES to raise it",
                npy::shape_string(&header.shape),
                human_bytes(need),
                human_bytes(self.used_bytes),
                human_bytes(self.budget_bytes)
            ));
        }
        self.used_bytes += need;
        let a = npy::parse(&bytes)?;
        Ok(Array {
            shape: a.shape,
            data: a.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn archive(members: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in members {
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn keys_in_archive_order_without_suffix() {
        let a = npy::to_bytes(&[2, 1], &[1.0, 2.0]);
        let z = archive(
            &[
                ("zeta.npy", a.clone()),
                ("alpha.npy", a.clone()),
                ("raw", a),
            ],
            CompressionMethod::Deflated,
        );
        let mut npz = open(&z).unwrap();
        assert_eq!(npz.keys(), ["zeta", "alpha", "raw"]);
        assert_eq!(npz.aliases(0), ["zeta.npy"]);
        assert_eq!(npz.load(1).unwrap().data, vec![1.0, 2.0]);
    }

    #[test]
    fn budget_counts_all_members() {
        let a = npy::to_bytes(&[10, 1], &[0.0; 10]); // 208 bytes
        let z = archive(
            &[("w.npy", a.clone()), ("b.npy", a)],
            CompressionMethod::Stored,
        );
        // 208 inflated + 10 values × 16 (float64 and its copy in the matrix) = 368 per member
        let mut npz = open_with_budget(&z, 500).unwrap();
        npz.load(0).unwrap();
        let e = npz.load(1).unwrap_err();
        assert!(e.contains("after 368 bytes of other members"), "{e}");
        let mut npz = open_with_budget(&z, 736).unwrap();
        npz.load(0).unwrap();
        npz.load(1).unwrap();
    }

    #[test]
    fn budget_counts_the_float64_values_after_inflating() {
        // 1000 float16 values: 2128 bytes inflated, then 16 000 bytes as float64 and its copy
        let mut bytes = npy::to_bytes(&[1000, 1], &[0.0; 1000]);
        let header_len = bytes.len() - 8000;
        let at = bytes.windows(3).position(|x| x == b"<f8").unwrap();
        bytes[at + 2] = b'2';
        bytes.truncate(header_len);
        bytes.extend(std::iter::repeat_n(0u8, 2000));
        let size = bytes.len() as u128;
        let z = archive(&[("w.npy", bytes)], CompressionMethod::Deflated);
        let mut npz = open_with_budget(&z, size + 15_999).unwrap();
        let e = npz.load(0).unwrap_err();
        assert!(
            e.contains("shape (1000, 1) needs 15.62 KiB (16000 bytes) as float64"),
            "{e}"
        );
        let mut npz = open_with_budget(&z, size + 16_000).unwrap();
        assert_eq!(npz.load(0).unwrap().data.len(), 1000);
    }

    #[test]
    fn budget_is_enforced_before_decompressing() {
        let a = npy::to_bytes(&[100, 1], &[0.0; 100]);
        let z = archive(&[("w.npy", a)], CompressionMethod::Deflated);
        let mut npz = open_with_budget(&z, 100).unwrap();
        let e = npz.load(0).unwrap_err();
        assert!(e.contains("memory budget is 100 bytes"), "{e}");
    }
}
