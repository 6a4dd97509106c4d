//! Every row of the README's bad-input table, end to end through `sgdstab analyze`: exit code 2,
//! one line on stderr that names the file or flag and the offending value, no panic, and no
//! output file (not even a temporary one) although `--out` was given.

use crate::io_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One bad input: the file to write (or an existing path), extra arguments, environment, and the
/// pieces the message must contain.
struct Case {
    row: &'static str,
    file: Input,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    needles: Vec<String>,
}

enum Input {
    Bytes(&'static str, Vec<u8>),
    Path(PathBuf),
}

fn case(row: &'static str, name: &'static str, bytes: Vec<u8>, needles: &[&str]) -> Case {
    Case {
        row,
        file: Input::Bytes(name, bytes),
        args: vec![],
        env: vec![],
        needles: needles.iter().map(|s| s.to_string()).collect(),
    }
}

fn with_args(mut c: Case, args: &[&str]) -> Case {
    c.args = args.iter().map(|s| s.to_string()).collect();
    c
}

/// Runs a case; returns the message.
fn run_case(c: &Case) -> String {
    let inputs = tempfile::tempdir().unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let path = match &c.file {
        Input::Bytes(name, bytes) => {
            let p = inputs.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
        Input::Path(p) => p.clone(),
    };
    let out = outputs.path().join("report.json");
    let mut args: Vec<String> = vec![
        "analyze".into(),
        path.to_str().unwrap().into(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ];
    // defaults unless the case sets the flag
    for (flag, value) in [("--lr", "0.1"), ("--batch", "1")] {
        if !c.args.iter().any(|a| a == flag) {
            args.extend([flag.to_string(), value.to_string()]);
        }
    }
    args.extend(c.args.iter().cloned());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sgdstab"));
    cmd.args(&args);
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    let row = c.row;
    assert_eq!(o.status.code(), Some(2), "{row}: stderr: {e}");
    assert!(!e.contains("panicked"), "{row}: {e}");
    assert!(o.stdout.is_empty(), "{row}: stdout not empty");
    assert_eq!(e.trim_end().lines().count(), 1, "{row}: one line: {e}");
    assert!(e.starts_with("sgdstab: error: "), "{row}: {e}");
    for n in &c.needles {
        assert!(e.contains(n.as_str()), "{row}: expected {n:?} in: {e}");
    }
    // a file's problem names the file; a flag's problem names the flag (`--flag = value`)
    let names_flag = c.needles.iter().any(|n| n.starts_with("--"));
    if let (Input::Bytes(name, _), false) = (&c.file, names_flag) {
        assert!(e.contains(name), "{row}: the message names the file: {e}");
    }
    assert!(
        std::fs::read_dir(outputs.path()).unwrap().next().is_none(),
        "{row}: an output file was written"
    );
    e.trim_end().to_string()
}

fn npy(shape: &[usize], vals: &[f64]) -> Vec<u8> {
    sgdstab::io::npy::to_bytes(shape, vals)
}

/// Sets the 4-byte little-endian field at `offset` of every zip record with signature `sig`.
fn patch_zip_u32(bytes: &mut [u8], sig: &[u8; 4], offset: usize, value: u32) {
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if &bytes[i..i + 4] == sig {
            bytes[i + offset..i + offset + 4].copy_from_slice(&value.to_le_bytes());
        }
        i += 1;
    }
}

fn valid_params() -> Vec<Param> {
    vec![param("w", &[5, 2, 3], 1), param("b", &[5, 2], 2)]
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let ps = valid_params();
    let st64 =
        |ps: &[Param]| safetensors(&ps.iter().map(|p| (p.clone(), Enc::F64)).collect::<Vec<_>>());

    // empty file
    for name in ["empty.npy", "empty.npz", "empty.safetensors", "empty.csv"] {
        v.push(case("empty file", name, vec![], &["the file is empty"]));
    }
    // zero rows
    v.push(case("zero rows", "zero.npy", npy(&[0, 3], &[]), &["0 × 3"]));
    v.push(case(
        "zero rows",
        "header_only.csv",
        b"g0,g1\n".to_vec(),
        &["no data rows"],
    ));
    v.push(case(
        "zero rows",
        "zero.npz",
        npz(&[param("w", &[0, 3], 1)], false),
        &["0 × 3"],
    ));
    v.push(case(
        "zero rows",
        "zero.safetensors",
        st64(&[param("w", &[0, 3], 1)]),
        &["0 × 3"],
    ));
    // 1-D or 3-D
    v.push(case(
        "1-D array",
        "one_d.npy",
        npy(&[4], &[1.0; 4]),
        &["1-D", "(4,)"],
    ));
    v.push(case(
        "3-D array",
        "three_d.npy",
        npy(&[2, 2, 1], &[1.0; 4]),
        &["3-D", "(2, 2, 1)"],
    ));
    v.push(case(
        "0-D member",
        "scalar.npz",
        npz(&[param("s", &[], 1)], false),
        &["'s'", "0-D"],
    ));
    v.push(case(
        "0-D member",
        "scalar.safetensors",
        st64(&[param("s", &[], 1)]),
        &["'s'", "0-D"],
    ));
    // NaN / Inf with row and column
    v.push(case(
        "NaN",
        "nan.csv",
        b"1,2\n3,nan\n".to_vec(),
        &["NaN", "row 1, column 1"],
    ));
    v.push(case(
        "Inf",
        "inf.npy",
        npy(&[2, 2], &[1.0, f64::INFINITY, 3.0, 4.0]),
        &["inf", "row 0, column 1"],
    ));
    let mut nan_ps = ps.clone();
    nan_ps[1].data[2 * 2 + 1] = f64::NAN; // b[2, 1]: row 2, column 6 + 1
    v.push(case(
        "NaN",
        "nan.npz",
        npz(&nan_ps, true),
        &["NaN", "'b'", "index (2, 1)", "row 2, column 7"],
    ));
    let mut inf_ps = ps.clone();
    inf_ps[0].data[3 * 6 + 4] = f64::NEG_INFINITY; // w[3, 1, 1]; sorted order b, w: column 2 + 4
    v.push(case(
        "Inf",
        "inf.safetensors",
        st64(&inf_ps),
        &["-inf", "'w'", "index (3, 1, 1)", "row 3, column 6"],
    ));
    // truncated data
    let full = npy(&[3, 2], &[1.0; 6]);
    v.push(case(
        "truncated",
        "cut.npy",
        full[..full.len() - 5].to_vec(),
        &["truncated data", "(3, 2) needs 48 bytes"],
    ));
    v.push(case(
        "truncated",
        "cut_header.npy",
        full[..40].to_vec(),
        &["truncated NPY header"],
    ));
    let z = npz(&ps, false);
    v.push(case(
        "truncated",
        "cut.npz",
        z[..z.len() - 30].to_vec(),
        &["truncated"],
    ));
    let s = st64(&ps);
    v.push(case(
        "truncated",
        "cut.safetensors",
        s[..s.len() - 8].to_vec(),
        &["truncated data"],
    ));
    v.push(case(
        "truncated",
        "cut_header.safetensors",
        s[..20].to_vec(),
        &["truncated safetensors header"],
    ));
    v.push(case(
        "truncated",
        "cut.csv",
        b"1,2,3\n4,5,6\n7,8".to_vec(),
        &["line 3 has 2 fields, expected 3"],
    ));
    // wrong magic or header
    v.push(case(
        "wrong magic",
        "garbage.npy",
        b"this is not numpy".to_vec(),
        &["missing the \\x93NUMPY magic"],
    ));
    let mut no_descr = npy(&[2, 2], &[1.0; 4]);
    let h = String::from_utf8_lossy(&no_descr).into_owned();
    let at = h.find("descr").unwrap();
    no_descr[at..at + 5].copy_from_slice(b"DESCR");
    v.push(case(
        "wrong header",
        "no_descr.npy",
        no_descr,
        &["no 'descr'"],
    ));
    v.push(case(
        "wrong magic",
        "garbage.npz",
        b"not a zip archive at all".to_vec(),
        &["missing the zip signature"],
    ));
    let mut bad_json = st64(&ps);
    bad_json[8] = b'[';
    v.push(case(
        "wrong header",
        "bad_json.safetensors",
        bad_json,
        &["not a valid JSON object"],
    ));
    v.push(case(
        "wrong header",
        "latin1.csv",
        b"g\xe9,h\n1,2\n".to_vec(),
        &["invalid UTF-8 at byte 1, line 1"],
    ));
    v.push(case(
        "ragged rows",
        "ragged.csv",
        b"1,2\n3\n".to_vec(),
        &["line 2 has 1 fields, expected 2"],
    ));
    v.push(case(
        "not a number",
        "words.csv",
        b"1,2\n3,abc\n".to_vec(),
        &["line 2, field 2: 'abc' is not a number"],
    ));
    // unsupported dtype
    let ints: Vec<u8> = (0..4i64).flat_map(|i| i.to_le_bytes()).collect();
    v.push(case(
        "unsupported dtype",
        "ints.npy",
        npy_bytes("<i8", false, &[2, 2], &ints),
        &["unsupported dtype '<i8'"],
    ));
    let cplx = vec![0u8; 64];
    v.push(case(
        "unsupported dtype",
        "complex.npy",
        npy_bytes("<c16", false, &[2, 2], &cplx),
        &["unsupported dtype '<c16'"],
    ));
    v.push(case(
        "unsupported dtype",
        "ints.npz",
        npz_raw(&[("steps.npy", npy_bytes("<i8", false, &[2, 2], &ints))]),
        &["'steps'", "unsupported dtype '<i8'"],
    ));
    v.push(case(
        "unsupported dtype",
        "ints.safetensors",
        safetensors_raw("steps", safetensors::Dtype::I64, &[2, 2], &ints),
        &["'steps'", "unsupported dtype 'I64'"],
    ));
    // absurd header sizes
    let mut huge_npy = npy_v2_bytes("<f8", &[2, 2], &[0u8; 32]);
    huge_npy[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    v.push(case(
        "absurd header size",
        "huge_header.npy",
        huge_npy,
        &["NPY header length 4294967295 bytes exceeds the limit"],
    ));
    let mut huge_st = st64(&ps);
    huge_st[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    v.push(case(
        "absurd header size",
        "huge_header.safetensors",
        huge_st,
        &["header length 18446744073709551615 bytes exceeds the limit"],
    ));
    v.push(case(
        "absurd shape",
        "huge_shape.npy",
        npy_bytes("<f8", false, &[100_000, 100_000], &[0u8; 32]),
        &["truncated data: shape (100000, 100000) needs 80000000000 bytes, the file has 32"],
    ));
    v.push(case(
        "absurd shape",
        "overflow_shape.npy",
        npy_bytes("<f8", false, &[1 << 40, 1 << 30], &[0u8; 32]),
        &["shape (1099511627776, 1073741824) overflows"],
    ));
    let mut bad_shape = npy(&[2, 2], &[0.0; 4]);
    let h = String::from_utf8_lossy(&bad_shape).into_owned();
    let at = h.find("(2, 2)").unwrap();
    bad_shape[at..at + 6].copy_from_slice(b"(2, 2,");
    v.push(case(
        "wrong header",
        "bad_shape.npy",
        bad_shape,
        &["malformed 'shape'"],
    ));
    let mut forged = npz(&[param("w", &[5, 3], 1)], true);
    patch_zip_u32(&mut forged, b"PK\x01\x02", 24, 0xFFFF_FFF0); // central directory: uncompressed size
    patch_zip_u32(&mut forged, b"PK\x03\x04", 22, 0xFFFF_FFF0); // local header: uncompressed size
    v.push(case(
        "absurd member size",
        "forged_size.npz",
        forged,
        &["'w'", "declares 4294967280 uncompressed bytes"],
    ));
    // mismatched per-parameter batch sizes
    let mism = vec![param("w", &[5, 3], 1), param("b", &[4], 2)];
    v.push(case(
        "mismatched batch sizes",
        "mismatch.npz",
        npz(&mism, false),
        &[
            "mismatched batch sizes",
            "'b' has 4 samples (shape (4,))",
            "'w' has 5 (shape (5, 3))",
        ],
    ));
    v.push(case(
        "mismatched batch sizes",
        "mismatch.safetensors",
        st64(&mism),
        &[
            "mismatched batch sizes",
            "'w' has 5 samples (shape (5, 3))",
            "'b' has 4 (shape (4,))",
        ],
    ));
    // unknown --key
    v.push(with_args(
        case(
            "unknown --key",
            "keys.npz",
            npz(&ps, false),
            &[
                "--key = nope",
                "no array of that name",
                "2 arrays: 'w', 'b'",
            ],
        ),
        &["--key", "nope"],
    ));
    v.push(with_args(
        case(
            "unknown --key",
            "keys.safetensors",
            st64(&ps),
            &["--key = nope", "2 arrays: 'b', 'w'"],
        ),
        &["--key", "nope"],
    ));
    v.push(with_args(
        case(
            "--key on one array",
            "single.npy",
            npy(&[2, 2], &[1.0; 4]),
            &["--key = w", "single-array npy file"],
        ),
        &["--key", "w"],
    ));
    // parameters (on a valid 5 × 3 csv)
    let csv = || b"1,0,0\n0,1,0\n0,0,1\n1,1,0\n0,1,1\n".to_vec();
    v.push(with_args(
        case("B > n", "five.csv", csv(), &["--batch = 6", "n = 5"]),
        &["--batch", "6"],
    ));
    v.push(with_args(
        case("B = 0", "five.csv", csv(), &["--batch = 0"]),
        &["--batch", "0"],
    ));
    for (lr, shown) in [
        ("0", "--lr = 0"),
        ("-0.5", "--lr = -0.5"),
        ("nan", "--lr = NaN"),
        ("inf", "--lr = inf"),
    ] {
        v.push(with_args(
            case("η ≤ 0 or non-finite", "five.csv", csv(), &[shown]),
            &["--lr", lr],
        ));
    }
    v.push(with_args(
        case("k = 0", "five.csv", csv(), &["--order = 0"]),
        &["--order", "0"],
    ));
    // k or D too large for memory / the dense limit. With the default `--method auto` a block
    // too large for the dense path goes matrix-free; 1 MB is too little even for that
    // (Lanczos on D = 2600 needs about 2.2 MB).
    let rf = fixture("random_features.npy");
    v.push(Case {
        row: "too large for memory",
        file: Input::Path(rf.clone()),
        args: vec!["--order".into(), "3".into()],
        env: vec![("SGDSTAB_MEMORY_BYTES", "1000000")],
        needles: vec![
            "Sym^3(R^24)".into(),
            "2600".into(),
            "SGDSTAB_MEMORY_BYTES".into(),
        ],
    });
    v.push(Case {
        row: "too large for memory (dense path forced)",
        file: Input::Path(rf.clone()),
        args: vec![
            "--order".into(),
            "3".into(),
            "--method".into(),
            "dense".into(),
        ],
        env: vec![("SGDSTAB_MEMORY_BYTES", "10000000")],
        needles: vec![
            "Sym^3(R^24)".into(),
            "2600".into(),
            "SGDSTAB_MEMORY_BYTES".into(),
        ],
    });
    v.push(Case {
        row: "D above --max-dense-dim",
        file: Input::Path(rf),
        args: vec![
            "--order".into(),
            "4".into(),
            "--method".into(),
            "dense".into(),
        ],
        env: vec![],
        needles: vec![
            "--order = 4".into(),
            "17550".into(),
            "--max-dense-dim".into(),
        ],
    });
    v.push(Case {
        row: "npz member above the memory budget",
        file: Input::Path(fixture("mlp_grads_compressed.npz")),
        args: vec![],
        env: vec![("SGDSTAB_MEMORY_BYTES", "1000")],
        needles: vec![
            "mlp_grads_compressed.npz".into(),
            "'layer1.weight'".into(),
            "memory budget is 1000 bytes".into(),
        ],
    });
    // missing file, directory
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/does_not_exist.npy");
    v.push(Case {
        row: "missing file",
        file: Input::Path(missing),
        args: vec![],
        env: vec![],
        needles: vec!["does_not_exist.npy".into(), "No such file".into()],
    });
    v.push(Case {
        row: "directory",
        file: Input::Path(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")),
        args: vec![],
        env: vec![],
        needles: vec!["fixtures".into(), "directory".into()],
    });
    v
}

#[test]
fn every_bad_input_exits_2_with_a_one_line_message_and_no_output() {
    let all = cases();
    let mut rows = std::collections::BTreeSet::new();
    for c in &all {
        let msg = run_case(c);
        rows.insert(c.row);
        // `cargo test -- --nocapture` prints the table's messages
        println!("{:<34} {msg}", c.row);
    }
    assert!(rows.len() >= 25, "{rows:?}");
}

#[test]
fn a_failed_run_keeps_an_existing_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    std::fs::write(&out, b"previous report").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args([
            "analyze",
            fixture("tiny.csv").to_str().unwrap(),
            "--lr",
            "0.1",
            "--batch",
            "99",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous report");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn unwritable_output_exits_2_naming_it() {
    // --out names an existing directory: the report cannot replace it
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("taken");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x"), b"x").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args([
            "analyze",
            fixture("tiny.csv").to_str().unwrap(),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("taken") && !e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
