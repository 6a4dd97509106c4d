//! `sgdstab generalization` end to end: text, JSON (schema, determinism), plots, exit codes, and
//! one-line errors for bad input with no output file written.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_usage_error(args: &[&str], needles: &[&str]) {
    let o = run(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    assert_eq!(e.trim_end().lines().count(), 1, "one-line message: {e}");
}

fn train(dir: &Path, extra: &[&str]) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["train", "--export", d, "-q"];
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn generalization_on_a_torus_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    train(&dir, &["--n", "12", "--dim", "6"]);
    let d = dir.to_str().unwrap();
    let svg = tmp.path().join("g.svg");
    let png = tmp.path().join("g.png");
    let out = tmp.path().join("g.json");
    let common = [
        "generalization",
        d,
        "--order",
        "1,2",
        "--test-n",
        "300",
        "--grid",
        "8",
        "--samples",
        "4",
        "--ascent-steps",
        "2",
    ];
    let mut args = common.to_vec();
    args.extend([
        "--json",
        "--plot",
        svg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let a = ok(&args);
    let b = ok(&args);
    assert_eq!(a, b, "byte-identical JSON run to run");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), a);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["model_side"]["kind"], "model");
    assert_eq!(v["command"], "generalization");
    assert_eq!(v["n"], 12);
    assert_eq!(v["n_test"], 300);
    assert_eq!(v["m2"]["source"], "closed-form-upper-bound");
    assert_eq!(v["covering"]["rows"].as_array().unwrap().len(), 8);
    let orders = v["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    for o in orders {
        assert!(o["premise_verdict"].is_string(), "the analyzer ran");
        let row = &o["rows"][0];
        for key in ["smoothness_term", "target_term", "uncovered_term", "total"] {
            assert!(row["eq26"][key].is_number(), "{key}");
        }
        for key in ["bound", "measured", "ratio", "c_needed"] {
            assert!(row["eq27"][key].is_number(), "{key}");
        }
    }
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(
        s.starts_with("<svg")
            && s.contains("eq. (26)")
            && s.contains("measured test MSE")
            && s.contains("test target variance")
    );
    let mut args = common.to_vec();
    args.extend(["--plot", png.to_str().unwrap(), "--no-stability"]);
    let text = ok(&args);
    assert!(
        text.contains("eq. (26): smallest bound") && text.contains("not checked"),
        "{text}"
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));

    // bad input: exit 2, one line, nothing written
    let never = tmp.path().join("never.svg");
    let nv = never.to_str().unwrap();
    let bad: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--order", "0"], vec!["--order"]),
        (vec!["--test-n", "0"], vec!["--test-n"]),
        (vec!["--grid", "0"], vec!["--grid"]),
        (vec!["--deltas", "0.1,-2"], vec!["--deltas", "-2"]),
        (vec!["--deltas", "0.1,abc"], vec!["--deltas", "abc"]),
        (
            vec!["--deltas", "1e200"],
            vec!["--deltas", "1e200", "overflow"],
        ),
        (vec!["--lr", "-1"], vec!["--lr"]),
        (vec!["--batch", "13"], vec!["--batch", "13"]),
        (vec!["--batch", "0"], vec!["--batch"]),
        (vec!["--samples", "1000000"], vec!["--samples"]),
    ];
    for (extra, needles) in bad {
        let mut args = vec!["generalization", d, "--plot", nv];
        args.extend(extra.iter().copied());
        assert_usage_error(&args, &needles);
        assert!(!never.exists(), "{extra:?} wrote the plot");
    }
    assert_usage_error(
        &[
            "generalization",
            d,
            "--plot",
            tmp.path().join("x.jpg").to_str().unwrap(),
        ],
        &["--plot", "x.jpg"],
    );
    assert_usage_error(
        &[
            "generalization",
            tmp.path().join("missing").to_str().unwrap(),
        ],
        &["missing"],
    );
    // an export without a built-in data set: the test set cannot be regenerated
    let meta = dir.join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["dataset_spec"] = serde_json::Value::Null;
    std::fs::write(&meta, serde_json::to_string(&v).unwrap()).unwrap();
    assert_usage_error(&["generalization", d, "--plot", nv], &["dataset_spec"]);
    assert!(!never.exists());
}

#[test]
fn generalization_on_iris_uses_the_held_out_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("iris");
    train(
        &dir,
        &["--dataset", "iris", "--n", "20", "--max-iter", "2000"],
    );
    let a = ok(&[
        "generalization",
        dir.to_str().unwrap(),
        "--order",
        "1",
        "--grid",
        "5",
        "--samples",
        "2",
        "--ascent-steps",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["n_test"], 130);
    assert_eq!(v["d"], 3);
    assert_eq!(v["m2"]["source"], "difference-quotient");
    assert!(v["m2"]["value"].as_f64().unwrap() > 0.0);
}
