//! Test-only file writers for the reader tests. Independent of `sgdstab::io`: NPY headers are
//! written here by hand, NPZ archives by ndarray-npy's `NpzWriter`, safetensors files by the
//! `safetensors` crate, f16/bf16 encodings by the `half` crate.

#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// An NPY 1.0 file with the given dtype descriptor (`<f4`, `>f8`, `<i8`, …), order and raw
/// payload; the header is padded to a multiple of 64 bytes as NumPy does.
pub fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], payload: &[u8]) -> Vec<u8> {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_txt}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The same with a version-2.0 header (4-byte header length).
pub fn npy_v2_bytes(descr: &str, shape: &[usize], payload: &[u8]) -> Vec<u8> {
    let v1 = npy_bytes(descr, false, shape, payload);
    let hlen = u16::from_le_bytes([v1[8], v1[9]]) as u32;
    let mut out = b"\x93NUMPY\x02\x00".to_vec();
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(&v1[10..]);
    out
}

/// Little-endian bytes of `values` in the given float encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    F64,
    F32,
    F16,
    BF16,
}

pub fn encode(values: &[f64], enc: Enc) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in values {
        match enc {
            Enc::F64 => out.extend_from_slice(&v.to_le_bytes()),
            Enc::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            Enc::F16 => out.extend_from_slice(&half::f16::from_f64(v).to_le_bytes()),
            Enc::BF16 => out.extend_from_slice(&half::bf16::from_f64(v).to_le_bytes()),
        }
    }
    out
}

/// `values` rounded through the encoding (what a reader must return).
pub fn rounded(values: &[f64], enc: Enc) -> Vec<f64> {
    values
        .iter()
        .map(|&v| match enc {
            Enc::F64 => v,
            Enc::F32 => v as f32 as f64,
            Enc::F16 => half::f16::from_f64(v).to_f64(),
            Enc::BF16 => half::bf16::from_f64(v).to_f64(),
        })
        .collect()
}

/// Values `v_j = (j mod 17 − 8) / 4 + j/1024`-like but seeded: small, distinct, signed.
pub fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s % 20001) as f64 - 10000.0) / 4096.0
        })
        .collect()
}

/// A named per-parameter array for the container writers.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

pub fn param(name: &str, shape: &[usize], seed: u64) -> Param {
    let len = shape.iter().product();
    Param {
        name: name.into(),
        shape: shape.to_vec(),
        data: values(len, seed),
    }
}

/// The reference concatenation: each array flattened to `n × (size/n)`, in the given order.
pub fn concat(params: &[&Param]) -> (usize, usize, Vec<f64>) {
    let n = params[0].shape[0];
    let widths: Vec<usize> = params.iter().map(|p| p.data.len() / n).collect();
    let w = widths.iter().sum();
    let mut out = vec![0.0; n * w];
    let mut col = 0;
    for (p, &pw) in params.iter().zip(&widths) {
        for i in 0..n {
            for j in 0..pw {
                out[i * w + col + j] = p.data[i * pw + j];
            }
        }
        col += pw;
    }
    (n, w, out)
}

/// An `.npz` written by ndarray-npy (float64 members, in the given order).
pub fn npz(params: &[Param], compressed: bool) -> Vec<u8> {
    let cur = Cursor::new(Vec::new());
    let mut w = if compressed {
        ndarray_npy::NpzWriter::new_compressed(cur)
    } else {
        ndarray_npy::NpzWriter::new(cur)
    };
    for p in params {
        let a = ArrayD::from_shape_vec(IxDyn(&p.shape), p.data.clone()).unwrap();
        w.add_array(p.name.as_str(), &a).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An `.npz` written by ndarray-npy with float32 members.
pub fn npz_f32(params: &[Param]) -> Vec<u8> {
    let mut w = ndarray_npy::NpzWriter::new(Cursor::new(Vec::new()));
    for p in params {
        let data: Vec<f32> = p.data.iter().map(|&v| v as f32).collect();
        let a = ArrayD::from_shape_vec(IxDyn(&p.shape), data).unwrap();
        w.add_array(p.name.as_str(), &a).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An `.npz` with raw member bytes (for malformed members), stored.
pub fn npz_raw(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A safetensors file written by the `safetensors` crate, each tensor in its own encoding.
pub fn safetensors(params: &[(Param, Enc)]) -> Vec<u8> {
    let bufs: Vec<(String, Vec<usize>, Vec<u8>, Enc)> = params
        .iter()
        .map(|(p, e)| (p.name.clone(), p.shape.clone(), encode(&p.data, *e), *e))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bufs
        .iter()
        .map(|(name, shape, bytes, e)| {
            let dtype = match e {
                Enc::F64 => safetensors::Dtype::F64,
                Enc::F32 => safetensors::Dtype::F32,
                Enc::F16 => safetensors::Dtype::F16,
                Enc::BF16 => safetensors::Dtype::BF16,
            };
            (
                name.clone(),
                safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// A safetensors file with one tensor of an arbitrary dtype and raw bytes.
pub fn safetensors_raw(
    name: &str,
    dtype: safetensors::Dtype,
    shape: &[usize],
    bytes: &[u8],
) -> Vec<u8> {
    let view = safetensors::tensor::TensorView::new(dtype, shape.to_vec(), bytes).unwrap();
    safetensors::serialize([(name.to_string(), view)], None).unwrap()
}

/// A file in the repository's `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}
