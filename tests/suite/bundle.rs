//! Network bundles written by hand (as another framework would): `sobolev`, `analyze` and
//! `simulate` read them; every bad field is a one-line error naming the file and the field
//! (exit 2) and nothing is written.

use crate::io_support::{npz, Param};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(args: &[&str], needles: &[&str]) -> String {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    e
}

/// `f(x) = v · tanh(W x)` on `n` inputs: its exact gradients.
struct Net {
    n: usize,
    d: usize,
    m: usize,
    w: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    grad_w: Vec<f64>,
    grad_v: Vec<f64>,
    xgrads: Vec<f64>,
}

fn net(n: usize, d: usize, m: usize) -> Net {
    let mut rng = sgdstab::random::SplitMix64::new(11);
    let w: Vec<f64> = (0..m * d).map(|_| rng.normal()).collect();
    let v: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
    let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
    let (mut y, mut grad_w, mut grad_v, mut xgrads) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        let z: Vec<f64> = (0..m)
            .map(|a| (0..d).map(|b| w[a * d + b] * xi[b]).sum())
            .collect();
        let h: Vec<f64> = z.iter().map(|t| t.tanh()).collect();
        let delta: Vec<f64> = (0..m).map(|a| v[a] * (1.0 - h[a] * h[a])).collect();
        y.push((0..m).map(|a| v[a] * h[a]).sum());
        for a in 0..m {
            for b in 0..d {
                grad_w.push(delta[a] * xi[b]);
            }
        }
        grad_v.extend(&h);
        for b in 0..d {
            xgrads.push((0..m).map(|a| w[a * d + b] * delta[a]).sum());
        }
    }
    Net {
        n,
        d,
        m,
        w,
        x,
        y,
        grad_w,
        grad_v,
        xgrads,
    }
}

fn npy(dir: &Path, name: &str, shape: &[usize], data: &[f64]) {
    sgdstab::io::write_npy(&dir.join(name), shape, data).unwrap();
}

fn manifest(t: &Net) -> serde_json::Value {
    json!({
        "format": "sgdstab-network-bundle",
        "bundle_version": 1,
        "producer": "by hand",
        "n": t.n,
        "input_shape": [t.d],
        "parameters": t.m * t.d + t.m,
        "first_layer": {"kind": "dense", "name": "W", "orientation": "out-in"},
        "training": {"lr": 0.1, "batch": 2, "sampling": "without-replacement"}
    })
}

/// A valid bundle in `dir`: gradients as a `.npz` dictionary (`W`, `v`).
fn write(dir: &Path, t: &Net) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let params = vec![
        Param {
            name: "W".into(),
            shape: vec![t.n, t.m, t.d],
            data: t.grad_w.clone(),
        },
        Param {
            name: "v".into(),
            shape: vec![t.n, t.m],
            data: t.grad_v.clone(),
        },
    ];
    std::fs::write(dir.join("grads.npz"), npz(&params, false)).unwrap();
    npy(dir, "xgrads.npy", &[t.n, t.d], &t.xgrads);
    npy(dir, "x.npy", &[t.n, t.d], &t.x);
    npy(dir, "y.npy", &[t.n], &t.y);
    npy(dir, "w1.npy", &[t.m, t.d], &t.w);
    set_manifest(dir, &manifest(t));
    dir.to_path_buf()
}

fn set_manifest(dir: &Path, m: &serde_json::Value) {
    std::fs::write(
        dir.join("bundle.json"),
        serde_json::to_string_pretty(m).unwrap(),
    )
    .unwrap();
}

#[test]
fn sobolev_analyze_and_simulate_read_a_bundle_written_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let t = net(9, 3, 4);
    let dir = write(&tmp.path().join("b"), &t);
    let d = dir.to_str().unwrap();
    let s1 = ok(&["sobolev", d, "--order", "1,2", "--json", "-q"]);
    assert_eq!(s1, ok(&["sobolev", d, "--order", "1,2", "--json", "-q"]));
    let s: serde_json::Value = serde_json::from_str(&s1).unwrap();
    assert_eq!(s["first_layer"]["kind"], "dense");
    assert_eq!(s["first_layer"]["name"], "W");
    assert_eq!(s["ok"], true);
    assert_eq!(s["orders"][0]["prop2"]["holds"], 9);
    // g_W, g_x of eq. (5) from the arrays
    let gw = ((t.grad_w.iter().chain(&t.grad_v).map(|v| v * v).sum::<f64>()) / 9.0).sqrt();
    let gx = (t.xgrads.iter().map(|v| v * v).sum::<f64>() / 9.0).sqrt();
    assert!((s["g_w"].as_f64().unwrap() - gw).abs() <= 1e-14 * gw);
    assert!((s["g_x"].as_f64().unwrap() - gx).abs() <= 1e-14 * gx);
    // analyze DIR reads the bundle's gradients: the same report as on the gradient file
    let a = ok(&["analyze", d, "--lr", "0.1", "--batch", "2", "--json", "-q"]);
    let g = dir.join("grads.npz");
    let b = ok(&[
        "analyze",
        g.to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "2",
        "--json",
        "-q",
    ]);
    let (mut a, mut b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&a).unwrap(),
        serde_json::from_str(&b).unwrap(),
    );
    a["input"] = json!(null);
    b["input"] = json!(null);
    assert_eq!(a, b);
    // simulate: the training point of the bundle; no sgdstab network, so no escape test
    let sim = ok(&[
        "simulate", d, "--order", "1", "--paths", "40", "--steps", "20", "--json", "-q",
    ]);
    let sim: serde_json::Value = serde_json::from_str(&sim).unwrap();
    assert_eq!(sim["batch"], 2);
}

#[test]
fn a_first_layer_that_is_not_dense_is_reported_not_applicable() {
    let tmp = tempfile::tempdir().unwrap();
    let t = net(6, 3, 2);
    let dir = write(&tmp.path().join("b"), &t);
    let mut m = manifest(&t);
    m["first_layer"] = json!({"kind": "other", "reason": "an embedding table"});
    set_manifest(&dir, &m);
    let s = ok(&["sobolev", dir.to_str().unwrap(), "--json", "-q"]);
    let s: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(s["first_layer"]["section4"], "not-applicable");
    assert!(s["first_layer"]["reason"]
        .as_str()
        .unwrap()
        .contains("an embedding table"));
    assert!(s["orders"][0]["prop2"].is_null() && s["w1_spectral_norm"].is_null());
    assert!(s["orders"][0]["seminorm"].as_f64().unwrap() > 0.0);
    // a conv2d first layer: x as 1 × 1 × 3 images, W as a 2 × 1 × 1 × 3 kernel (valid: it is
    // the dense layer itself), with its operator norm
    let mut m = manifest(&t);
    m["input_shape"] = json!([1, 1, 3]);
    m["param_blocks"] = json!(null);
    m["first_layer"] = json!({"kind": "conv2d", "name": "W", "kernel_layout": "OIHW",
        "input_layout": "CHW", "padding": "valid"});
    set_manifest(&dir, &m);
    // the gradient block W is 2 × 3, a kernel needs 4 axes: named in one line
    refused(
        &["sobolev", dir.to_str().unwrap()],
        &["w1.npy", "conv2d kernel needs 4 axes"],
    );
}

/// Each bad field: exit 2, one line naming the file and the field, and `--out` not written.
#[test]
fn bad_bundles_are_refused_naming_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let t = net(8, 3, 4);
    let fresh = |name: &str| write(&tmp.path().join(name), &t);
    let check = |dir: &Path, needles: &[&str]| {
        let out = dir.join("report.json");
        refused(
            &[
                "sobolev",
                dir.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "-q",
            ],
            needles,
        );
        assert!(!out.exists());
    };
    // mismatched n between files
    let d = fresh("n");
    npy(&d, "y.npy", &[7], &t.y[..7]);
    check(&d, &["y.npy", "(7,)", "(8,)"]);
    // input gradients of the wrong width
    let d = fresh("width");
    npy(&d, "xgrads.npy", &[8, 2], &t.xgrads[..16]);
    check(&d, &["xgrads.npy", "(8, 2)", "(8, 3)"]);
    // a first-layer name not in the gradient dictionary
    let d = fresh("name");
    let mut m = manifest(&t);
    m["first_layer"]["name"] = json!("W_1");
    set_manifest(&d, &m);
    check(&d, &["bundle.json", "first_layer.name = 'W_1'", "W, v"]);
    // a W_1 whose shape does not match d
    let d = fresh("w1");
    npy(&d, "w1.npy", &[3, 4], &t.w);
    check(&d, &["w1.npy"]);
    let mut m = manifest(&t);
    m["first_layer"]["orientation"] = json!("in-out");
    set_manifest(&d, &m);
    npy(&d, "w1.npy", &[4, 3], &t.w);
    check(&d, &["w1.npy", "does not match d = 3"]);
    // NaN anywhere
    for file in ["x.npy", "xgrads.npy", "w1.npy"] {
        let d = fresh(&format!("nan-{file}"));
        let (shape, mut data) = match file {
            "x.npy" => (vec![8, 3], t.x.clone()),
            "xgrads.npy" => (vec![8, 3], t.xgrads.clone()),
            _ => (vec![4, 3], t.w.clone()),
        };
        data[5] = f64::NAN;
        npy(&d, file, &shape, &data);
        check(&d, &[file, "non-finite"]);
    }
    // a missing version field, and an unknown version
    let d = fresh("version");
    let mut m = manifest(&t);
    m.as_object_mut().unwrap().remove("bundle_version");
    set_manifest(&d, &m);
    check(&d, &["bundle.json", "bundle_version: missing"]);
    m["bundle_version"] = json!(2);
    set_manifest(&d, &m);
    check(&d, &["bundle.json", "bundle_version = 2"]);
    // a test set of the wrong dimension, and half a test set
    let d = fresh("test");
    npy(&d, "test_x.npy", &[5, 4], &[0.5; 20]);
    npy(&d, "test_y.npy", &[5], &[0.0; 5]);
    check(&d, &["test_x.npy", "(5, 4)", "(5, 3)"]);
    std::fs::remove_file(d.join("test_y.npy")).unwrap();
    npy(&d, "test_x.npy", &[5, 3], &[0.5; 15]);
    check(&d, &["test_y.npy", "missing"]);
    // gradients of another n; two gradient files
    let d = fresh("grads");
    npy(&d, "grads.npy", &[8, 16], &[0.0; 128]);
    check(&d, &["grads.npz", "one gradient file"]);
    std::fs::remove_file(d.join("grads.npz")).unwrap();
    npy(&d, "grads.npy", &[7, 16], &[0.1; 112]);
    check(&d, &["grads.npy", "n = 8"]);
    // no training point recorded and none given: the field is named
    let d = fresh("lr");
    let mut m = manifest(&t);
    m["training"] = json!({});
    set_manifest(&d, &m);
    check(&d, &["bundle.json", "training.lr: missing", "--lr"]);
    ok(&[
        "sobolev",
        d.to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "2",
        "-q",
    ]);
    // not a bundle at all
    let d = tmp.path().join("empty");
    std::fs::create_dir_all(&d).unwrap();
    check(&d, &["bundle.json", "missing"]);
}

/// `generalization` on a bundle of any framework: the recorded test set and outputs; the
/// sensitivity from recorded perturbed outputs, or named as not computed.
#[test]
fn generalization_reads_recorded_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let t = net(10, 3, 4);
    let dir = write(&tmp.path().join("b"), &t);
    let d = dir.to_str().unwrap();
    // no test set: named
    refused(
        &["generalization", d, "--no-stability"],
        &["test_x.npy", "missing"],
    );
    // the test set: shifted training inputs; the "model" outputs are the training outputs
    let xt: Vec<f64> = t.x.iter().map(|v| v + 0.1).collect();
    npy(&dir, "test_x.npy", &[10, 3], &xt);
    npy(&dir, "test_y.npy", &[10], &t.y);
    refused(
        &["generalization", d, "--no-stability"],
        &["test_outputs.npy", "missing"],
    );
    let ft: Vec<f64> = t.y.iter().map(|v| v + 0.5).collect();
    npy(&dir, "test_outputs.npy", &[10], &ft);
    refused(
        &["generalization", d, "--no-stability"],
        &["outputs.npy", "missing"],
    );
    npy(&dir, "outputs.npy", &[10], &t.y);
    let r = ok(&[
        "generalization",
        d,
        "--order",
        "1",
        "--grid",
        "4",
        "--json",
        "-q",
    ]);
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["model_side"]["kind"], "recorded");
    assert_eq!(r["model_side"]["not_computed"].as_array().unwrap().len(), 2);
    // test error (f − y)² = 0.25 exactly
    assert!((r["measured"]["test_mse"].as_f64().unwrap() - 0.25).abs() < 1e-15);
    assert!(r["sensitivity"].as_array().unwrap().is_empty());
    assert!(r["orders"][0]["rows"][0]["eq27"]["measured"].is_null());
    assert_eq!(r["orders"][0]["rows"][0]["c"], 1.0);
    // perturbed outputs: point 0 moved by 0.05 with a change of 0.3, point 1 by 10 (outside
    // every radius below) with a change of 7
    let mut px = t.x[..3].to_vec();
    px[0] += 0.05;
    let mut far = t.x[3..6].to_vec();
    far[1] += 10.0;
    px.extend(far);
    npy(&dir, "perturbed_x.npy", &[2, 3], &px);
    npy(&dir, "perturbed_index.npy", &[2], &[0.0, 1.0]);
    npy(
        &dir,
        "perturbed_outputs.npy",
        &[2],
        &[t.y[0] + 0.3, t.y[1] - 7.0],
    );
    let r = ok(&[
        "generalization",
        d,
        "--order",
        "1",
        "--deltas",
        "0.01,0.05,1",
        "--json",
        "-q",
    ]);
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    let m: Vec<f64> = r["sensitivity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["measured"].as_f64().unwrap())
        .collect();
    assert_eq!(m.len(), 3);
    assert_eq!(m[0], 0.0);
    assert!(
        (m[1] - 0.3).abs() < 1e-12 && (m[2] - 0.3).abs() < 1e-12,
        "{m:?}"
    );
    assert_eq!(r["sensitivity"][1]["found_by"], "recorded");
    assert_eq!(r["model_side"]["not_computed"].as_array().unwrap().len(), 1);
    // an index outside 0..n
    npy(&dir, "perturbed_index.npy", &[2], &[0.0, 10.0]);
    refused(
        &["generalization", d, "--no-stability"],
        &["perturbed_index.npy", "not a training index"],
    );
}
