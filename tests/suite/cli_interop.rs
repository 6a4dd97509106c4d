//! `sgdstab analyze` on per-parameter containers: the same report as the concatenated `.npy`
//! (NumPy's own concatenation, committed as a fixture), `--key`, and byte-identical JSON from run
//! to run.

use crate::io_support::fixture;
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

/// The JSON without its `input` field (the file name) and the column layout (present for a
/// dictionary only; checked by [`layout_names`]).
fn without_input(o: &Output) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut().unwrap().remove("input");
    v.as_object_mut().unwrap().remove("column_layout");
    v
}

/// The parameter names of the report's column layout, checking that the blocks tile `0..w`.
fn layout_names(o: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut offset = 0;
    let mut names = Vec::new();
    for b in v["column_layout"]
        .as_array()
        .expect("a dictionary has a layout")
    {
        assert_eq!(b["offset"].as_u64().unwrap(), offset);
        let size: u64 = b["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .product();
        assert_eq!(b["columns"].as_u64().unwrap(), size);
        offset += size;
        names.push(b["name"].as_str().unwrap().to_string());
    }
    assert_eq!(offset, v["w"].as_u64().unwrap());
    names
}

#[test]
fn npz_report_equals_the_report_on_numpys_concatenation() {
    let reference = without_input(&analyze("mlp_grads_concat.npy", &[]));
    for f in ["mlp_grads.npz", "mlp_grads_compressed.npz"] {
        let o = analyze(f, &[]);
        assert_eq!(without_input(&o), reference, "{f}");
        // archive order
        assert_eq!(
            layout_names(&o),
            [
                "layer1.weight",
                "layer1.bias",
                "layer2.weight",
                "layer2.bias"
            ],
            "{f}"
        );
    }
    let single: serde_json::Value =
        serde_json::from_slice(&analyze("mlp_grads_concat.npy", &[]).stdout).unwrap();
    assert!(single["column_layout"].is_null());
    assert_eq!(reference["n"], 12);
    assert_eq!(reference["w"], 21);
}

#[test]
fn safetensors_report_equals_the_report_on_the_sorted_concatenation() {
    let reference = without_input(&analyze("mlp_grads_sorted_f32.npy", &[]));
    let o = analyze("mlp_grads.safetensors", &[]);
    assert_eq!(without_input(&o), reference);
    let names = layout_names(&o);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "safetensors: sorted by name");
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
