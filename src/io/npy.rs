//! A strict reader and writer for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! The reader never panics and never allocates more than the file's own size: the declared
//! shape is checked against the bytes present before any buffer is made.

/// The NPY magic string.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Largest header accepted (NumPy itself caps headers far below this).
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// Element types the reader converts to `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F64 => 8,
            Dtype::F32 => 4,
            Dtype::F16 => 2,
        }
    }
}

/// A parsed array: shape, and values converted to `f64` in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape as declared.
    pub shape: Vec<usize>,
    /// The declared element type.
    pub dtype: Dtype,
    /// Values in C order.
    pub data: Vec<f64>,
}

impl NpyArray {
    /// The array as an `n × w` matrix; errors unless it is 2-D.
    pub fn into_matrix(self) -> Result<(usize, usize, Vec<f64>), String> {
        match self.shape.as_slice() {
            &[n, w] => Ok((n, w, self.data)),
            s => Err(format!(
                "array of shape {} is {}-D; expected a 2-D n × w array (samples × parameters), e.g. a.reshape(n, -1)",
                shape_string(s),
                s.len()
            )),
        }
    }
}

/// `(3, 4)`-style shape text.
pub fn shape_string(s: &[usize]) -> String {
    match s.len() {
        1 => format!("({},)", s[0]),
        _ => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Parses a complete `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("not an NPY file (missing the \\x93NUMPY magic)".into());
    }
    if bytes.len() < 10 {
        return Err("truncated NPY header".into());
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated NPY header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported NPY format version {v}.{}", bytes[7])),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "NPY header length {header_len} bytes exceeds the limit of {MAX_HEADER_BYTES}"
        ));
    }
    let end = start + header_len;
    if bytes.len() < end {
        return Err(format!(
            "truncated NPY header: {header_len} header bytes declared, {} present",
            bytes.len() - start
        ));
    }
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "NPY header is not valid text".to_string())?;
    let (dtype, little, fortran, shape) = parse_header(header)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {} overflows", shape_string(&shape)))?;
    let nbytes = count
        .checked_mul(dtype.size())
        .ok_or_else(|| format!("shape {} overflows", shape_string(&shape)))?;
    let body = &bytes[end..];
    if body.len() < nbytes {
        return Err(format!(
            "truncated data: shape {} needs {nbytes} bytes, the file has {}",
            shape_string(&shape),
            body.len()
        ));
    }
    if body.len() > nbytes {
        return Err(format!(
            "{} unexpected bytes after the data of shape {}",
            body.len() - nbytes,
            shape_string(&shape)
        ));
    }
    let mut data: Vec<f64> = body
        .chunks_exact(dtype.size())
        .map(|c| decode(c, dtype, little))
        .collect();
    if fortran && shape.len() >= 2 {
        data = fortran_to_c(&data, &shape);
    }
    Ok(NpyArray { shape, dtype, data })
}

/// The header of an NPY file: what [`read_header`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: Dtype,
    /// Little-endian data.
    pub little_endian: bool,
    /// Fortran (column-major) order.
    pub fortran_order: bool,
    /// Shape.
    pub shape: Vec<usize>,
    /// Byte offset of the data.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Bytes per element.
    pub fn item_size(&self) -> usize {
        self.dtype.size()
    }
}

/// Parses the header from the first bytes of an NPY file (`prefix` must hold the whole header;
/// `12 + MAX_HEADER_BYTES` bytes always suffice).
pub fn read_header(prefix: &[u8]) -> Result<NpyHeader, String> {
    if !prefix.starts_with(MAGIC) {
        return Err("not an NPY file (missing the \\x93NUMPY magic)".into());
    }
    if prefix.len() < 10 {
        return Err("truncated NPY header".into());
    }
    let (header_len, start) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
        2 | 3 if prefix.len() >= 12 => (
            u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize,
            12,
        ),
        2 | 3 => return Err("truncated NPY header".into()),
        v => return Err(format!("unsupported NPY format version {v}.{}", prefix[7])),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "NPY header length {header_len} bytes exceeds the limit of {MAX_HEADER_BYTES}"
        ));
    }
    let end = start + header_len;
    if prefix.len() < end {
        return Err("truncated NPY header".into());
    }
    let header = std::str::from_utf8(&prefix[start..end])
        .map_err(|_| "NPY header is not valid text".to_string())?;
    let (dtype, little_endian, fortran_order, shape) = parse_header(header)?;
    Ok(NpyHeader {
        dtype,
        little_endian,
        fortran_order,
        shape,
        data_offset: end,
    })
}

/// Decodes one element of `dtype` to `f64`.
pub fn decode_element(c: &[u8], dtype: Dtype, little_endian: bool) -> f64 {
    decode(c, dtype, little_endian)
}

fn decode(c: &[u8], dtype: Dtype, little: bool) -> f64 {
    match (dtype, little) {
        (Dtype::F64, true) => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
        (Dtype::F64, false) => f64::from_be_bytes(c.try_into().unwrap_or([0; 8])),
        (Dtype::F32, true) => f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64,
        (Dtype::F32, false) => f32::from_be_bytes(c.try_into().unwrap_or([0; 4])) as f64,
        (Dtype::F16, le) => {
            let b: [u8; 2] = c.try_into().unwrap_or([0; 2]);
            f16_to_f64(if le {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            })
        }
    }
}

/// IEEE binary16 to `f64`.
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Reorders Fortran-order data of `shape` to C order.
fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let nd = shape.len();
    let mut out = vec![0.0; data.len()];
    let mut idx = vec![0usize; nd];
    // iterate in C order, compute the Fortran offset
    for slot in out.iter_mut() {
        let mut off = 0;
        let mut stride = 1;
        for d in 0..nd {
            off += idx[d] * stride;
            stride *= shape[d];
        }
        *slot = data[off];
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Parses the header dictionary: `(dtype, little_endian, fortran_order, shape)`.
fn parse_header(h: &str) -> Result<(Dtype, bool, bool, Vec<usize>), String> {
    let h = h.trim();
    if !(h.starts_with('{') && h.ends_with('}')) {
        return Err("NPY header is not a dictionary".into());
    }
    let descr = field(h, "descr")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    // split off the byte-order character (at a char boundary: the header may hold any text)
    let split = descr.chars().next().map_or(0, char::len_utf8);
    let (order, code) = descr.split_at(split);
    let little = match order {
        "<" | "|" | "=" => true,
        ">" => false,
        _ => return Err(format!("unsupported dtype '{descr}'")),
    };
    let dtype = match code {
        "f8" => Dtype::F64,
        "f4" => Dtype::F32,
        "f2" => Dtype::F16,
        _ => {
            return Err(format!(
            "unsupported dtype '{descr}' (expected float64 '<f8', float32 '<f4' or float16 '<f2')"
        ))
        }
    };
    let fortran = match field(h, "fortran_order")?.trim() {
        "True" => true,
        "False" => false,
        v => return Err(format!("invalid fortran_order '{v}'")),
    };
    let shape_txt = field(h, "shape")?;
    let inner = shape_txt
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("invalid shape '{}'", shape_txt.trim()))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("invalid shape entry '{s}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((dtype, little, fortran, shape))
}

/// The value of `key`, or an error saying whether it is missing or malformed.
fn field<'a>(h: &'a str, key: &str) -> Result<&'a str, String> {
    dict_value(h, key).ok_or_else(|| {
        if h.contains(&format!("'{key}'")) || h.contains(&format!("\"{key}\"")) {
            format!("NPY header has a malformed '{key}' entry")
        } else {
            format!("NPY header has no '{key}'")
        }
    })
}

/// The raw text of the value of `key` in a flat Python dict literal (tuples allowed).
fn dict_value<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let pos = h
        .find(&format!("'{key}'"))
        .or_else(|| h.find(&format!("\"{key}\"")))?;
    let rest = &h[pos + key.len() + 2..];
    let colon = rest.find(':')?;
    let rest = &rest[colon + 1..];
    let mut depth = 0i32;
    let mut in_str: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match (in_str, c) {
            (Some(q), c) if c == q => in_str = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => in_str = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',' | '}') if depth <= 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// Serialises a C-order float64 array of `shape` as an NPY 1.0 file.
pub fn to_bytes(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': {}, }}",
        shape_string(shape)
    );
    // pad so that the data starts at a multiple of 64 bytes
    let total = 10 + header.len() + 1;
    let pad = (64 - total % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<f64> = (0..6).map(|i| i as f64 * 0.5 - 1.0).collect();
        let bytes = to_bytes(&[2, 3], &data);
        assert_eq!((bytes.len() - 8 * 6) % 64, 0);
        let a = parse(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, data);
    }

    #[test]
    fn fortran_order_is_transposed_back() {
        // logical [[1,2,3],[4,5,6]] stored column-major: 1,4,2,5,3,6
        let mut bytes = to_bytes(&[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let h = String::from_utf8_lossy(&bytes[10..]).into_owned();
        let pos = h.find("False").unwrap();
        bytes[10 + pos..10 + pos + 5].copy_from_slice(b"True ");
        let a = parse(&bytes).unwrap();
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn half_precision() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    /// Regression: a descr starting with a multi-byte character made `split_at(1)` panic
    /// (found by `tests/suite/fuzz_readers.rs`).
    #[test]
    fn descr_with_a_multibyte_first_character_is_an_error() {
        let mut bytes = to_bytes(&[1, 1], &[0.0]);
        let h = String::from_utf8_lossy(&bytes[10..]).into_owned();
        let pos = 10 + h.find("<f8").unwrap();
        bytes.splice(pos..pos + 1, "é".bytes());
        bytes[8] += 1; // the header grew by one byte
        assert!(parse(&bytes).unwrap_err().contains("unsupported dtype"));
    }

    #[test]
    fn errors_name_the_problem() {
        let bytes = to_bytes(&[2, 3], &[0.0; 6]);
        assert!(parse(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        assert!(parse(b"hello").unwrap_err().contains("magic"));
        let one_d = to_bytes(&[6], &[0.0; 6]);
        assert!(parse(&one_d)
            .unwrap()
            .into_matrix()
            .unwrap_err()
            .contains("1-D"));
        let mut int = to_bytes(&[2, 3], &[0.0; 6]);
        let h = String::from_utf8_lossy(&int[10..]).into_owned();
        let pos = h.find("<f8").unwrap();
        int[10 + pos..10 + pos + 3].copy_from_slice(b"<i8");
        assert!(parse(&int).unwrap_err().contains("unsupported dtype"));
    }
}
