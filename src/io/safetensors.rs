//! A strict reader for safetensors files: an 8-byte little-endian header length `N`, `N` bytes
//! of JSON header `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": …}`,
//! then the data, C order, little-endian.
//!
//! Accepted dtypes: `F64`, `F32`, `F16`, `BF16` (converted to `f64`). Keys are the tensor names
//! sorted by name (byte order, as Python's `sorted()`), the order used when all tensors are
//! concatenated; the safetensors writers store tensors in their own (dtype, name) order, so the
//! file's byte layout does not carry the model's order.
//!
//! Validation before any conversion: the header length is at most [`MAX_HEADER_BYTES`] and fits
//! the file; names are unique; each tensor's byte range matches its shape and dtype, lies inside
//! the data, and the ranges tile the data exactly (no holes, no overlaps, nothing after), as the
//! format requires. Tensors of other dtypes may be present as long as they are not read.

use super::dict::{quote, Array, ArrayDict};
use super::npy::{f16_to_f64, shape_string};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Largest header accepted (the same limit as the reference implementation).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Element types the reader converts to `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the top 16 bits of a binary32).
    BF16,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F64 => 8,
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
        }
    }
}

/// Bits per element of every dtype the format defines (for validating offsets of tensors that
/// are not read).
fn dtype_bits(name: &str) -> Option<u64> {
    Some(match name {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// A parsed safetensors file borrowing its data.
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    data: &'a [u8],
    /// Sorted by name.
    entries: Vec<Entry>,
    keys: Vec<String>,
}

/// The header's top-level entries in file order (duplicates kept, so they can be reported).
struct RawHeader(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(RawHeader(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct RawInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Parses and validates a complete safetensors file.
pub fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, String> {
    let Some(len_bytes) = bytes.get(..8) else {
        return Err(format!(
            "truncated safetensors file: {} bytes, the header length alone takes 8",
            bytes.len()
        ));
    };
    let mut arr = [0u8; 8];
    arr.copy_from_slice(len_bytes);
    let header_len = u64::from_le_bytes(arr);
    let available = (bytes.len() - 8) as u64;
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "safetensors header length {header_len} bytes exceeds the limit of {MAX_HEADER_BYTES} (the file has {available} bytes after the length field)"
        ));
    }
    if header_len > available {
        return Err(format!(
            "truncated safetensors header: {header_len} bytes declared, {available} present"
        ));
    }
    let header_end = 8 + header_len as usize;
    let header = std::str::from_utf8(&bytes[8..header_end]).map_err(|e| {
        format!(
            "safetensors header is not valid UTF-8 (at byte {})",
            8 + e.valid_up_to()
        )
    })?;
    let raw: RawHeader = serde_json::from_str(header)
        .map_err(|e| format!("safetensors header is not a valid JSON object: {e}"))?;
    let data = &bytes[header_end..];
    let mut entries = Vec::with_capacity(raw.0.len());
    for (name, value) in raw.0 {
        if name == "__metadata__" {
            if !value.is_object() {
                return Err("safetensors '__metadata__' is not a JSON object".into());
            }
            continue;
        }
        let info: RawInfo = serde_json::from_value(value)
            .map_err(|e| format!("tensor {}: invalid header entry: {e}", quote(&name)))?;
        let shape = info
            .shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| format!("tensor {}: shape overflows", quote(&name)))?;
        let (b, e) = info.data_offsets;
        let offsets = format!("data_offsets [{b}, {e}]");
        if e < b {
            return Err(format!("tensor {}: {offsets} are decreasing", quote(&name)));
        }
        if e > data.len() as u64 {
            return Err(format!(
                "truncated data: tensor {} has {offsets} but the data section has {} bytes",
                quote(&name),
                data.len()
            ));
        }
        if let Some(bits) = dtype_bits(&info.dtype) {
            let count = info
                .shape
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .and_then(|c| c.checked_mul(bits));
            match count {
                Some(c) if c % 8 == 0 && c / 8 == e - b => {}
                _ => {
                    return Err(format!(
                        "tensor {}: shape {} of {} does not match {offsets} ({} bytes)",
                        quote(&name),
                        shape_string(&shape),
                        info.dtype,
                        e - b
                    ))
                }
            }
        }
        entries.push(Entry {
            name,
            dtype: info.dtype,
            shape,
            begin: b as usize,
            end: e as usize,
        });
    }
    // the byte ranges must tile the data section
    let mut by_offset: Vec<&Entry> = entries.iter().collect();
    by_offset.sort_by_key(|x| (x.begin, x.end));
    let mut pos = 0usize;
    for x in &by_offset {
        if x.begin != pos {
            return Err(format!(
                "tensor {} starts at data byte {}, expected {pos} (tensors must tile the data without holes or overlaps)",
                quote(&x.name),
                x.begin
            ));
        }
        pos = x.end;
    }
    if pos != data.len() {
        return Err(format!(
            "{} bytes after the last tensor's data",
            data.len() - pos
        ));
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!(
            "tensor {} appears twice in the header",
            quote(&w[0].name)
        ));
    }
    let keys = entries.iter().map(|e| e.name.clone()).collect();
    Ok(SafeTensors {
        data,
        entries,
        keys,
    })
}

impl SafeTensors<'_> {
    /// The stored dtype name (`"F32"`, …) and shape of tensor `index` (an index into
    /// [`ArrayDict::keys`]).
    pub fn info(&self, index: usize) -> (&str, &[usize]) {
        let e = &self.entries[index];
        (&e.dtype, &e.shape)
    }
}

impl ArrayDict for SafeTensors<'_> {
    fn keys(&self) -> &[String] {
        &self.keys
    }

    fn load(&mut self, index: usize) -> Result<Array, String> {
        let e = &self.entries[index];
        let dtype = match e.dtype.as_str() {
            "F64" => Dtype::F64,
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            other => {
                return Err(format!(
                    "unsupported dtype {} (expected F64, F32, F16 or BF16)",
                    quote(other)
                ))
            }
        };
        let bytes = &self.data[e.begin..e.end];
        let data = bytes
            .chunks_exact(dtype.size())
            .map(|c| decode(c, dtype))
            .collect();
        Ok(Array {
            shape: e.shape.clone(),
            data,
        })
    }
}

fn decode(c: &[u8], dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F64 => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
        Dtype::F32 => f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64,
        Dtype::F16 => f16_to_f64(u16::from_le_bytes(c.try_into().unwrap_or([0; 2]))),
        Dtype::BF16 => bf16_to_f64(u16::from_le_bytes(c.try_into().unwrap_or([0; 2]))),
    }
}

/// bfloat16 to `f64` (exact: bfloat16 is the upper half of an IEEE binary32).
pub fn bf16_to_f64(h: u16) -> f64 {
    f32::from_bits((h as u32) << 16) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn hand_written_file() {
        // b: BF16 [1.0, -2.0] = 0x3f80, 0xc000; a: F16 [0.5] = 0x3800; sorted keys a, b
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[1,1],"data_offsets":[4,6]}}"#;
        let bytes = file(h, &[0x80, 0x3f, 0x00, 0xc0, 0x00, 0x38]);
        let mut st = parse(&bytes).unwrap();
        assert_eq!(st.keys(), ["a", "b"]);
        assert_eq!(st.load(0).unwrap().data, vec![0.5]);
        assert_eq!(st.load(1).unwrap().data, vec![1.0, -2.0]);
        assert_eq!(st.load(0).unwrap().shape, vec![1, 1]);
    }

    #[test]
    fn validation_errors() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                &[0; 4],
                "does not match",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 2],
                "truncated data",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 6],
                "2 bytes after",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                &[0; 8],
                "starts at data byte 4",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                &[0; 8],
                "appears twice",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1]}}"#,
                &[],
                "missing field `data_offsets`",
            ),
            (r#"[1]"#, &[], "not a valid JSON object"),
        ];
        for (h, d, needle) in cases {
            let e = parse(&file(h, d)).unwrap_err();
            assert!(e.contains(needle), "{h}: {e}");
        }
        let mut absurd = u64::MAX.to_le_bytes().to_vec();
        absurd.extend_from_slice(b"{}");
        assert!(parse(&absurd).unwrap_err().contains("18446744073709551615"));
        let ints = file(
            r#"{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
            &[0; 8],
        );
        let mut st = parse(&ints).unwrap();
        assert!(st.load(0).unwrap_err().contains("unsupported dtype 'I64'"));
    }

    #[test]
    fn bf16_conversion() {
        assert_eq!(bf16_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_to_f64(0x4049), 3.140625);
        assert!(bf16_to_f64(0x7fc0).is_nan());
        assert_eq!(bf16_to_f64(0xff80), f64::NEG_INFINITY);
    }
}
