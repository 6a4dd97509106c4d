//! `sgdstab analyze` end to end: exit codes, JSON keys, bad inputs, determinism.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sgdstab"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_usage_error(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(o));
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    assert_eq!(e.trim_end().lines().count(), 1, "one-line message: {e}");
}

#[test]
fn table_on_a_fixture() {
    let o = run(&[
        "analyze",
        fixture("linear_regression.npy").to_str().unwrap(),
        "--lr",
        "0.2",
        "--batch",
        "8",
        "--order",
        "1,2,3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in ["Theorem 1", "Prop. 1", "Moment bounds", "stable"] {
        assert!(out.contains(needle), "{out}");
    }
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is one JSON document")
}

fn assert_all_numbers_finite(v: &serde_json::Value, path: &str) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                assert!(f.is_finite(), "{path}");
            }
        }
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_all_numbers_finite(x, &format!("{path}[{i}]"))),
        serde_json::Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| assert_all_numbers_finite(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

#[test]
fn json_has_the_documented_keys() {
    let f = fixture("random_features.npy");
    let v = json_of(&[
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "2",
        "--batch",
        "4",
        "--order",
        "1..3",
        "--json",
        "--sampling",
        "with",
    ]);
    for key in [
        "schema_version",
        "n",
        "w",
        "rank",
        "lr",
        "batch",
        "sampling",
        "prop1",
        "orders",
        "consistency",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["sampling"], "with-replacement");
    assert_eq!(
        (v["n"].as_u64(), v["w"].as_u64(), v["rank"].as_u64()),
        (Some(24), Some(300), Some(24))
    );
    assert!(v["prop1"]["value"].is_number() && v["prop1"]["stable"].is_boolean());
    let orders = v["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 3);
    for (i, o) in orders.iter().enumerate() {
        let k = i + 1;
        assert_eq!(o["k"].as_u64(), Some(k as u64));
        for key in [
            "spectral_radius",
            "error_bound",
            "verdict",
            "cone_ratio",
            "blocks",
            "theorem2",
            "corollary1",
        ] {
            assert!(o.get(key).is_some(), "order {k} missing {key}");
        }
        assert_eq!(
            o["cone_ratio"].is_null(),
            k % 2 == 1,
            "cone_ratio only for even k"
        );
        for key in ["max_moment", "bound", "ratio", "holds"] {
            assert!(o["theorem2"].get(key).is_some());
        }
        for key in ["lhs", "rhs", "ratio", "holds"] {
            assert!(o["corollary1"].get(key).is_some());
        }
        let blocks = o["blocks"].as_array().unwrap();
        // r = 24 < w = 300: blocks j = 0..k all present
        assert_eq!(blocks.len(), k + 1);
        for b in blocks {
            for key in ["j", "radius", "multiplicity"] {
                assert!(b.get(key).is_some());
            }
        }
        // the flat block makes the full radius exactly 1 here
        assert_eq!(o["spectral_radius"].as_f64(), Some(1.0));
    }
    assert_all_numbers_finite(&v, "$");
}

#[test]
fn json_is_byte_identical_between_runs() {
    let f = fixture("linear_regression.npy");
    let args = [
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "0.3",
        "--batch",
        "5",
        "--order",
        "1..3",
        "--json",
    ];
    let a = run(&args);
    let b = run(&args);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn float32_fortran_fixture_matches_float64_verdicts() {
    let a = json_of(&[
        "analyze",
        fixture("linear_regression.npy").to_str().unwrap(),
        "--lr",
        "0.2",
        "--batch",
        "8",
        "--order",
        "1,2",
        "--json",
    ]);
    let b = json_of(&[
        "analyze",
        fixture("linear_regression_f32_fortran.npy")
            .to_str()
            .unwrap(),
        "--lr",
        "0.2",
        "--batch",
        "8",
        "--order",
        "1,2",
        "--json",
    ]);
    for k in 0..2 {
        assert_eq!(a["orders"][k]["verdict"], b["orders"][k]["verdict"]);
        let (x, y) = (
            a["orders"][k]["spectral_radius"].as_f64().unwrap(),
            b["orders"][k]["spectral_radius"].as_f64().unwrap(),
        );
        assert!((x - y).abs() < 1e-6, "{x} {y}");
    }
}

#[test]
fn csv_input_and_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let o = run(&[
        "analyze",
        fixture("tiny.csv").to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "2",
        "--order",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["n"], 5);
    assert_eq!(v["w"], 3);
    // no temporary files left behind
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn strict_mode_exits_zero_when_consistent() {
    let o = run(&[
        "analyze",
        fixture("tiny.csv").to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "2",
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bad_parameters_exit_2_with_a_message() {
    let f = fixture("tiny.csv");
    let f = f.to_str().unwrap();
    assert_usage_error(
        &run(&["analyze", f, "--lr", "0.1", "--batch", "0"]),
        &["--batch", "0"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "0.1", "--batch", "6"]),
        &["--batch", "6", "n = 5"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "0", "--batch", "2"]),
        &["--lr", "0"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "-0.5", "--batch", "2"]),
        &["--lr", "-0.5"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "nan", "--batch", "2"]),
        &["--lr", "NaN"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "inf", "--batch", "2"]),
        &["--lr", "inf"],
    );
    assert_usage_error(
        &run(&["analyze", f, "--lr", "0.1", "--batch", "2", "--order", "0"]),
        &["--order", "0"],
    );
    assert_usage_error(
        &run(&[
            "analyze", f, "--lr", "0.1", "--batch", "2", "--order", "1,x",
        ]),
        &["--order"],
    );
    assert_usage_error(
        &run(&[
            "analyze",
            f,
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--sampling",
            "maybe",
        ]),
        &["maybe"],
    );
}

#[test]
fn bad_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("empty.npy", b""), "empty"),
        (write("garbage.npy", b"this is not numpy"), "magic"),
        (write("nan.csv", b"1,2\n3,nan\n"), "row 1, column 1"),
        (write("inf.csv", b"1,inf\n3,4\n"), "row 0, column 1"),
        (write("ragged.csv", b"1,2\n3\n"), "line 2"),
        (write("words.csv", b"1,2\n3,abc\n"), "abc"),
        (write("headeronly.csv", b"a,b\n"), "no data rows"),
        (
            write(
                "one_d.npy",
                &sgdstab::io::npy::to_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]),
            ),
            "1-D",
        ),
        (
            write(
                "three_d.npy",
                &sgdstab::io::npy::to_bytes(&[2, 2, 1], &[1.0, 2.0, 3.0, 4.0]),
            ),
            "3-D",
        ),
        (
            write("zero_rows.npy", &sgdstab::io::npy::to_bytes(&[0, 3], &[])),
            "0 × 3",
        ),
        (dir.path().join("missing.npy"), "missing.npy"),
    ];
    let mut truncated = sgdstab::io::npy::to_bytes(&[3, 2], &[1.0; 6]);
    truncated.truncate(truncated.len() - 5);
    let t = write("truncated.npy", &truncated);
    for (path, needle) in cases
        .iter()
        .map(|(p, n)| (p.clone(), *n))
        .chain([(t, "truncated")])
    {
        let o = run(&[
            "analyze",
            path.to_str().unwrap(),
            "--lr",
            "0.1",
            "--batch",
            "1",
        ]);
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_usage_error(&o, &[needle, &name]);
    }
}

#[test]
fn dense_problem_too_large_for_memory_exits_2() {
    // D = C(24 + 3 − 1, 3) = 2600 at k = 3 needs 4·D²·8 bytes ≈ 206 MiB; D = 300 at k = 2 fits
    // in 10 MB, so the refusal names the k = 3 block.
    let f = fixture("random_features.npy");
    let o = bin()
        .args([
            "analyze",
            f.to_str().unwrap(),
            "--lr",
            "1",
            "--batch",
            "2",
            "--order",
            "3",
            "--method",
            "dense",
        ])
        .env("SGDSTAB_MEMORY_BYTES", "10000000")
        .output()
        .unwrap();
    assert_usage_error(&o, &["Sym^3(R^24)", "2600", "MiB", "SGDSTAB_MEMORY_BYTES"]);
}

#[test]
fn dense_dimension_limit_exits_2() {
    // k = 4 on r = 24: D = C(27, 4) = 17550 > the default limit 8000
    let f = fixture("random_features.npy");
    let o = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "1",
        "--batch",
        "2",
        "--order",
        "4",
        "--method",
        "dense",
    ]);
    assert_usage_error(&o, &["--order", "17550", "--max-dense-dim"]);
}

#[test]
fn auto_picks_matrix_free_when_dense_is_too_large() {
    // linear_regression.npy has r = 8: D_3 = 120 exceeds a dense limit of 100, D_2 = 36 does not,
    // so with the default --method auto the k = 3 block goes matrix-free by itself, and agrees
    // with the dense run.
    let f = fixture("linear_regression.npy");
    let args = [
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "0.3",
        "--batch",
        "4",
        "--order",
        "2,3",
        "--json",
    ];
    let v = json_of(&[&args[..], &["--max-dense-dim", "100"]].concat());
    let dense = json_of(&args);
    let b3 = &v["orders"][1]["blocks"][0];
    assert_eq!((b3["j"].as_u64(), b3["dim"].as_u64()), (Some(3), Some(120)));
    assert_eq!(b3["method"], "davidson");
    assert_eq!(b3["davidson"]["termination"], "converged");
    let b2 = &v["orders"][0]["blocks"][0];
    assert_eq!(b2["method"], "dense");
    let d3 = &dense["orders"][1]["blocks"][0];
    assert_eq!(d3["method"], "dense");
    let (x, y) = (
        b3["radius"].as_f64().unwrap(),
        d3["radius"].as_f64().unwrap(),
    );
    assert!((x - y).abs() <= 1e-9 * y, "matrix-free {x} vs dense {y}");
    assert_eq!(v["orders"][1]["verdict"], dense["orders"][1]["verdict"]);
}

#[test]
fn matrix_free_and_dense_agree_through_the_cli() {
    let f = fixture("random_features.npy");
    let base = [
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "3",
        "--batch",
        "3",
        "--order",
        "1..3",
        "--json",
        "--sampling",
        "with",
    ];
    let dense = json_of(&[&base[..], &["--method", "dense"]].concat());
    let mf = json_of(
        &[
            &base[..],
            &["--method", "matrix-free", "--lanczos-tol", "1e-12"],
        ]
        .concat(),
    );
    for k in 0..3 {
        let (a, b) = (&dense["orders"][k], &mf["orders"][k]);
        assert_eq!(a["verdict"], b["verdict"]);
        for (ba, bb) in a["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["blocks"].as_array().unwrap())
        {
            let (x, y) = (
                ba["radius"].as_f64().unwrap(),
                bb["radius"].as_f64().unwrap(),
            );
            assert!(
                (x - y).abs() <= 1e-9 * x,
                "k={} j={}: dense {x} matrix-free {y}",
                k + 1,
                ba["j"]
            );
            if bb["j"].as_u64().unwrap() >= 1 {
                assert_eq!(bb["method"], "matrix-free");
            }
        }
    }
}

#[test]
fn no_output_file_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let o = run(&[
        "analyze",
        fixture("tiny.csv").to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Per-sample LOSS gradients (their mean, the full gradient, vanishes at a minimum) are flagged:
/// a warning in the JSON and one line on stderr in text mode; output gradients are not.
#[test]
fn loss_gradients_are_flagged_on_stderr_and_in_the_json() {
    let dir = tempfile::tempdir().unwrap();
    // output gradients (x_i, 1) of a linear model with a bias, and r_i (x_i, 1) with residuals
    // r ⟂ every column (the normal equations of least squares), so that Σ r_i (x_i, 1) = 0
    let x = [
        [1.0, 0.5],
        [-0.5, 1.0],
        [0.25, -0.75],
        [0.5, 0.25],
        [-1.0, -0.5],
    ];
    let out: Vec<f64> = x.iter().flat_map(|r| [r[0], r[1], 1.0]).collect();
    let a = nalgebra::DMatrix::from_row_slice(5, 3, &out);
    let y = nalgebra::DVector::from_vec(vec![0.3, -1.0, 2.0, 0.1, 0.7]);
    let coef = a.clone().svd(true, true).solve(&y, 1e-14).unwrap();
    let r = &a * coef - &y;
    let loss: Vec<f64> = (0..5)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| out[i * 3 + j] * r[i])
        .collect();
    for (name, data, flagged) in [("out.npy", &out, false), ("loss.npy", &loss, true)] {
        let p = dir.path().join(name);
        sgdstab::io::write_npy(&p, &[5, 3], data).unwrap();
        let args = [
            "analyze",
            p.to_str().unwrap(),
            "--lr",
            "0.01",
            "--batch",
            "2",
        ];
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            stderr(&o).contains("warning: the rows look like per-sample gradients of the loss"),
            flagged,
            "{name}: {}",
            stderr(&o)
        );
        let v = json_of(&[&args[..], &["--json"]].concat());
        assert_eq!(
            v["warnings"].as_array().unwrap().len(),
            usize::from(flagged),
            "{name}"
        );
        let ratio = v["mean_gradient_ratio"].as_f64().unwrap();
        assert_eq!(ratio < 1e-3, flagged, "{name}: {ratio:e}");
    }
}
