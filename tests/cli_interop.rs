//! `sgdstab analyze` on per-parameter containers: the same report as the concatenated `.npy`
//! (NumPy's own concatenation, committed as a fixture), `--key`, and byte-identical JSON from run
//! to run.

mod io_support;

use io_support::fixture;
use std::process::{Command, Output};

fn analyze(file: &str, extra: &[&str]) -> Output {
    let f = fixture(file);
    let mut args = vec![
        "analyze",
        f.to_str().unwrap(),
        "--lr",
        "0.3",
        "--batch",
        "3",
        "--order",
        "1..3",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{file}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The JSON without its `input` field (the file name).
fn without_input(o: &Output) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut().unwrap().remove("input");
    v
}

#[test]
fn npz_report_equals_the_report_on_numpys_concatenation() {
    let reference = without_input(&analyze("mlp_grads_concat.npy", &[]));
    for f in ["mlp_grads.npz", "mlp_grads_compressed.npz"] {
        assert_eq!(without_input(&analyze(f, &[])), reference, "{f}");
    }
    assert_eq!(reference["n"], 12);
    assert_eq!(reference["w"], 21);
}

#[test]
fn safetensors_report_equals_the_report_on_the_sorted_concatenation() {
    let reference = without_input(&analyze("mlp_grads_sorted_f32.npy", &[]));
    assert_eq!(
        without_input(&analyze("mlp_grads.safetensors", &[])),
        reference
    );
}

#[test]
fn key_selects_one_parameter() {
    let v = without_input(&analyze("mlp_grads.npz", &["--key", "layer1.bias"]));
    assert_eq!((v["n"].as_u64(), v["w"].as_u64()), (Some(12), Some(4)));
    let v = without_input(&analyze(
        "mlp_grads_mixed.safetensors",
        &["--key", "layer2.weight"],
    ));
    assert_eq!((v["n"].as_u64(), v["w"].as_u64()), (Some(12), Some(4)));
}

#[test]
fn container_json_is_byte_identical_between_runs() {
    for f in ["mlp_grads_compressed.npz", "mlp_grads_mixed.safetensors"] {
        let a = analyze(f, &[]);
        let b = analyze(f, &[]);
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{f}");
    }
    // and the --out file equals stdout
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = analyze(
        "torch_mlp_grads.safetensors",
        &["--out", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), o.stdout);
}
