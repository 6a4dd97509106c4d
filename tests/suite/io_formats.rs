//! Round trips of every reader and dtype against files written independently: NPY headers written
//! by hand (`io_support`), NPZ by ndarray-npy, safetensors by the `safetensors` crate, and the
//! committed fixtures written by NumPy, safetensors' Python writer, PyTorch and JAX
//! (`fixtures/make_interop_fixtures.py`, `examples/export_*.py`).

use crate::io_support::*;
use sgdstab::io::dict::ParameterBlock;
use sgdstab::io::{input_from_bytes, read_input, Format, GradientInput, ReadOptions};
use std::path::Path;

fn read(bytes: &[u8], name: &str, key: Option<&str>) -> sgdstab::Result<GradientInput> {
    input_from_bytes(
        bytes,
        Path::new(name),
        &ReadOptions {
            key: key.map(str::to_string),
        },
    )
}

fn matrix(inp: &GradientInput) -> (usize, usize, Vec<f64>) {
    let g = &inp.gradients;
    (g.n(), g.w(), g.as_slice().to_vec())
}

fn read_fixture(name: &str, key: Option<&str>) -> GradientInput {
    read_input(
        &fixture(name),
        &ReadOptions {
            key: key.map(str::to_string),
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------- NPY

#[test]
fn npy_every_dtype_order_and_endianness() {
    let (n, w) = (3, 4);
    let vals = values(n * w, 1);
    // column-major copy for Fortran order
    let fortran: Vec<f64> = (0..w)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|(i, j)| vals[i * w + j])
        .collect();
    for (descr, enc) in [("<f8", Enc::F64), ("<f4", Enc::F32), ("<f2", Enc::F16)] {
        let want = rounded(&vals, enc);
        let c = npy_bytes(descr, false, &[n, w], &encode(&vals, enc));
        assert_eq!(
            matrix(&read(&c, "a.npy", None).unwrap()),
            (n, w, want.clone()),
            "{descr} C"
        );
        let f = npy_bytes(descr, true, &[n, w], &encode(&fortran, enc));
        assert_eq!(
            matrix(&read(&f, "a.npy", None).unwrap()),
            (n, w, want.clone()),
            "{descr} F"
        );
        let v2 = npy_v2_bytes(descr, &[n, w], &encode(&vals, enc));
        assert_eq!(
            matrix(&read(&v2, "a.npy", None).unwrap()),
            (n, w, want),
            "{descr} v2"
        );
    }
    // big-endian: bytes reversed per element
    let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    let b = npy_bytes(">f8", false, &[n, w], &be);
    assert_eq!(
        matrix(&read(&b, "a.npy", None).unwrap()),
        (n, w, vals.clone())
    );
    let be4: Vec<u8> = vals
        .iter()
        .flat_map(|v| (*v as f32).to_be_bytes())
        .collect();
    let b = npy_bytes(">f4", false, &[n, w], &be4);
    assert_eq!(
        matrix(&read(&b, "a.npy", None).unwrap()).2,
        rounded(&vals, Enc::F32)
    );
}

#[test]
fn npy_written_by_ndarray_npy() {
    use ndarray_npy::WriteNpyExt;
    let vals = values(5 * 7, 2);
    let a = ndarray::Array2::from_shape_vec((5, 7), vals.clone()).unwrap();
    for arr in [a.clone(), a.t().to_owned().reversed_axes()] {
        let mut buf = Vec::new();
        arr.write_npy(&mut buf).unwrap();
        assert_eq!(
            matrix(&read(&buf, "a.npy", None).unwrap()),
            (5, 7, vals.clone())
        );
    }
    // a Fortran-layout view is written in Fortran order
    let f = a.t().as_standard_layout().t().to_owned();
    let mut buf = Vec::new();
    f.write_npy(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..128]).contains("'fortran_order': True"));
    assert_eq!(matrix(&read(&buf, "a.npy", None).unwrap()), (5, 7, vals));
}

#[test]
fn numpy_fixtures_agree() {
    let a = read_fixture("linear_regression.npy", None);
    let b = read_fixture("linear_regression_f32_fortran.npy", None);
    let (n, w, x) = matrix(&a);
    let (_, _, y) = matrix(&b);
    assert_eq!((n, w), (40, 8));
    assert_eq!(a.format, Format::Npy);
    // float32 Fortran copy = float32 rounding of the float64 values, in the same C order
    let want: Vec<f64> = x.iter().map(|v| *v as f32 as f64).collect();
    assert_eq!(y, want);
}

// ---------------------------------------------------------------- NPZ

fn mlp_params() -> Vec<Param> {
    vec![
        param("layer1.weight", &[5, 4, 3], 10),
        param("layer1.bias", &[5, 4], 11),
        param("layer2.weight", &[5, 1, 4], 12),
        param("layer2.bias", &[5], 13),
    ]
}

#[test]
fn npz_all_arrays_in_archive_order_stored_and_deflate() {
    let ps = mlp_params();
    let want = concat(&ps.iter().collect::<Vec<_>>());
    assert_eq!((want.0, want.1), (5, 12 + 4 + 4 + 1));
    for compressed in [false, true] {
        let bytes = npz(&ps, compressed);
        let inp = read(&bytes, "g.npz", None).unwrap();
        assert_eq!(inp.format, Format::Npz);
        assert_eq!(matrix(&inp), want, "compressed = {compressed}");
        let blocks: Vec<(String, Vec<usize>, std::ops::Range<usize>)> = inp
            .blocks
            .iter()
            .map(|b| (b.name.clone(), b.shape.clone(), b.columns.clone()))
            .collect();
        assert_eq!(
            blocks,
            vec![
                ("layer1.weight".into(), vec![5, 4, 3], 0..12),
                ("layer1.bias".into(), vec![5, 4], 12..16),
                ("layer2.weight".into(), vec![5, 1, 4], 16..20),
                ("layer2.bias".into(), vec![5], 20..21),
            ]
        );
    }
}

#[test]
fn npz_key_reads_one_array_flattened() {
    let ps = mlp_params();
    let bytes = npz(&ps, true);
    for p in &ps {
        let want = concat(&[p]);
        assert_eq!(matrix(&read(&bytes, "g.npz", Some(&p.name)).unwrap()), want);
        // the member name with its .npy suffix works too
        let full = format!("{}.npy", p.name);
        assert_eq!(matrix(&read(&bytes, "g.npz", Some(&full)).unwrap()), want);
    }
}

#[test]
fn npz_float32_members() {
    let ps = mlp_params();
    let bytes = npz_f32(&ps);
    let (n, w, got) = matrix(&read(&bytes, "g.npz", None).unwrap());
    let (_, _, want) = concat(&ps.iter().collect::<Vec<_>>());
    assert_eq!((n, w), (5, 21));
    assert_eq!(got, rounded(&want, Enc::F32));
}

#[test]
fn npz_fixtures_written_by_numpy() {
    let reference = read_fixture("mlp_grads_concat.npy", None);
    let (n, w, want) = matrix(&reference);
    assert_eq!((n, w), (12, 21));
    for name in ["mlp_grads.npz", "mlp_grads_compressed.npz"] {
        let inp = read_fixture(name, None);
        assert_eq!(matrix(&inp), (n, w, want.clone()), "{name}");
        let names: Vec<&str> = inp.blocks.iter().map(|b| b.name.as_str()).collect();
        // insertion order, not sorted
        assert_eq!(
            names,
            [
                "layer1.weight",
                "layer1.bias",
                "layer2.weight",
                "layer2.bias"
            ]
        );
        // each key is the matching column slice of the reference
        for b in &inp.blocks {
            let one = read_fixture(name, Some(&b.name));
            let cols = b.columns.clone();
            let slice: Vec<f64> = (0..n)
                .flat_map(|i| want[i * w + cols.start..i * w + cols.end].to_vec())
                .collect();
            assert_eq!(matrix(&one), (n, cols.len(), slice), "{name} {}", b.name);
        }
    }
}

// ---------------------------------------------------------------- safetensors

#[test]
fn safetensors_every_dtype_sorted_by_name() {
    let ps = mlp_params();
    for enc in [Enc::F64, Enc::F32, Enc::F16, Enc::BF16] {
        let bytes = safetensors(&ps.iter().map(|p| (p.clone(), enc)).collect::<Vec<_>>());
        let inp = read(&bytes, "g.safetensors", None).unwrap();
        assert_eq!(inp.format, Format::Safetensors);
        let mut sorted: Vec<&Param> = ps.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let (n, w, want) = concat(&sorted);
        assert_eq!(matrix(&inp), (n, w, rounded(&want, enc)), "{enc:?}");
        let names: Vec<&str> = inp.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "layer1.bias",
                "layer1.weight",
                "layer2.bias",
                "layer2.weight"
            ]
        );
        for p in &ps {
            let (n1, w1, d1) = concat(&[p]);
            assert_eq!(
                matrix(&read(&bytes, "g.safetensors", Some(&p.name)).unwrap()),
                (n1, w1, rounded(&d1, enc))
            );
        }
    }
}

#[test]
fn safetensors_mixed_dtypes() {
    let ps = mlp_params();
    let encs = [Enc::BF16, Enc::F64, Enc::F16, Enc::F32];
    let file: Vec<(Param, Enc)> = ps.iter().cloned().zip(encs).collect();
    let bytes = safetensors(&file);
    let mut sorted: Vec<(Param, Enc)> = file.clone();
    sorted.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let rounded_params: Vec<Param> = sorted
        .iter()
        .map(|(p, e)| Param {
            data: rounded(&p.data, *e),
            ..p.clone()
        })
        .collect();
    let want = concat(&rounded_params.iter().collect::<Vec<_>>());
    assert_eq!(matrix(&read(&bytes, "g.safetensors", None).unwrap()), want);
}

#[test]
fn safetensors_fixtures_written_by_python() {
    for (file, reference) in [
        ("mlp_grads.safetensors", "mlp_grads_sorted_f32.npy"),
        ("mlp_grads_mixed.safetensors", "mlp_grads_mixed_sorted.npy"),
    ] {
        let got = read_fixture(file, None);
        let want = read_fixture(reference, None);
        assert_eq!(matrix(&got), matrix(&want), "{file}");
        let names: Vec<&str> = got.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "layer1.bias",
                "layer1.weight",
                "layer2.bias",
                "layer2.weight"
            ]
        );
    }
}

/// The same per-sample gradients exported twice by the example scripts (NumPy's zip writer in
/// archive order, the safetensors writer in name order) agree up to the column permutation
/// the blocks describe.
#[test]
fn torch_and_jax_exports_agree_between_formats() {
    for (stem, names) in [
        (
            "torch_mlp_grads",
            ["0.weight", "0.bias", "2.weight", "2.bias"],
        ),
        (
            "jax_mlp_grads",
            ["layer1.b", "layer1.w", "layer2.b", "layer2.w"],
        ),
    ] {
        let a = read_fixture(&format!("{stem}.npz"), None);
        let b = read_fixture(&format!("{stem}.safetensors"), None);
        assert_eq!((a.gradients.n(), a.gradients.w()), (16, 41), "{stem}");
        let got: Vec<&str> = a.blocks.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(got, names, "{stem}");
        let find = |blocks: &[ParameterBlock], name: &str| {
            blocks.iter().find(|x| x.name == name).unwrap().clone()
        };
        for name in names {
            let (ba, bb) = (find(&a.blocks, name), find(&b.blocks, name));
            assert_eq!(ba.shape, bb.shape);
            for i in 0..16 {
                assert_eq!(
                    &a.gradients.row(i)[ba.columns.clone()],
                    &b.gradients.row(i)[bb.columns.clone()],
                    "{stem} {name} row {i}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- text

#[test]
fn text_separators_headers_and_line_endings() {
    let vals = values(6, 3);
    let rows = |sep: &str, eol: &str| -> String {
        (0..2)
            .map(|i| {
                (0..3)
                    .map(|j| format!("{:?}", vals[i * 3 + j]))
                    .collect::<Vec<_>>()
                    .join(sep)
                    + eol
            })
            .collect()
    };
    for (name, sep) in [
        ("a.csv", ","),
        ("a.tsv", "\t"),
        ("a.txt", " "),
        ("a.txt", "  "),
    ] {
        for eol in ["\n", "\r\n"] {
            for header in ["", "g0,g1,g2", "# comment"] {
                let h = if header.is_empty() {
                    String::new()
                } else {
                    header.replace(',', sep) + eol
                };
                let text = h + &rows(sep, eol);
                let got = matrix(&read(text.as_bytes(), name, None).unwrap());
                assert_eq!(
                    got,
                    (2, 3, vals.clone()),
                    "{name} {sep:?} {eol:?} {header:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- detection

#[test]
fn format_is_recognised_by_content_before_extension() {
    let ps = mlp_params();
    let z = npz(&ps, false);
    let s = safetensors(&ps.iter().map(|p| (p.clone(), Enc::F64)).collect::<Vec<_>>());
    let y = sgdstab::io::npy::to_bytes(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    for name in ["x.bin", "x.csv", "noext"] {
        assert_eq!(read(&z, name, None).unwrap().format, Format::Npz);
        assert_eq!(read(&s, name, None).unwrap().format, Format::Safetensors);
        assert_eq!(read(&y, name, None).unwrap().format, Format::Npy);
        assert_eq!(read(b"1,2\n", name, None).unwrap().format, Format::Text);
    }
}

#[test]
fn key_on_a_single_array_file_is_refused() {
    let y = sgdstab::io::npy::to_bytes(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let e = read(&y, "a.npy", Some("w")).unwrap_err().to_string();
    assert!(
        e.starts_with("key = w") && e.contains("a.npy") && e.contains("single-array"),
        "{e}"
    );
    let e = read(b"1,2\n", "a.csv", Some("w")).unwrap_err().to_string();
    assert!(e.starts_with("key = w") && e.contains("a.csv"), "{e}");
}
