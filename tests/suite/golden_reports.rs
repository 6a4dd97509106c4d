//! Reports stay the same: every JSON report of the CLI on committed fixtures is compared, key by
//! key, with a golden copy in `fixtures/golden/` made before the library-API rework.
//!
//! - every key of the golden report must be present with an equal value (later changes to the
//!   JSON are additive: new keys are allowed, removed or renamed ones are not);
//! - strings, booleans and nulls are compared exactly, array lengths exactly;
//! - numbers within `1e-9·max(|a|, |b|) + 1e-12`: the last digits of a reduction may move with the
//!   thread count and SIMD kernels, the meaning may not;
//! - a change of meaning bumps `schema_version` and refreshes the goldens in its own commit:
//!   `SGDSTAB_BLESS=1 cargo test --test golden_reports` rewrites them.
//!
//! `fixtures/golden/export` is a network trained once by
//! `sgdstab train --export fixtures/golden/export` (default flags) and committed, so that the
//! Section 4/5 reports do not depend on training staying bit-identical.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (golden file name, arguments).
const CASES: &[(&str, &[&str])] = &[
    (
        "analyze_linear_regression.json",
        &[
            "analyze",
            "fixtures/linear_regression.npy",
            "--lr",
            "0.2",
            "--batch",
            "8",
            "--order",
            "1..4",
            "--json",
        ],
    ),
    (
        "analyze_random_features.json",
        &[
            "analyze",
            "fixtures/random_features.npy",
            "--lr",
            "2",
            "--batch",
            "4",
            "--order",
            "1,2",
            "--cone-max-iter",
            "500",
            "--json",
        ],
    ),
    (
        "analyze_export.json",
        &[
            "analyze",
            "fixtures/golden/export/grads.npy",
            "--lr",
            "0.1",
            "--batch",
            "4",
            "--order",
            "1,2",
            "--json",
        ],
    ),
    (
        "analyze_jax_npz.json",
        &[
            "analyze",
            "fixtures/jax_mlp_grads.npz",
            "--lr",
            "0.5",
            "--batch",
            "4",
            "--order",
            "1..3",
            "--json",
        ],
    ),
    (
        "threshold_linear_regression.json",
        &[
            "threshold",
            "fixtures/linear_regression.npy",
            "--batch",
            "4",
            "--order",
            "1..3",
            "--json",
        ],
    ),
    (
        "threshold_jax_npz.json",
        &[
            "threshold",
            "fixtures/jax_mlp_grads.npz",
            "--batch",
            "4",
            "--order",
            "1,2",
            "--json",
        ],
    ),
    (
        "diagram_linear_regression.json",
        &[
            "diagram",
            "fixtures/linear_regression.npy",
            "--order",
            "1,2",
            "--batches",
            "1..8",
            "--plot",
            "{tmp}/d.svg",
            "--out",
            "{tmp}/d.json",
            "--quiet",
        ],
    ),
    (
        "sobolev_export.json",
        &[
            "sobolev",
            "fixtures/golden/export",
            "--order",
            "1..3",
            "--json",
        ],
    ),
    (
        "simulate_export.json",
        &[
            "simulate",
            "fixtures/golden/export",
            "--order",
            "1,2",
            "--paths",
            "400",
            "--steps",
            "60",
            "--trials",
            "2",
            "--escape-steps",
            "300",
            "--json",
        ],
    ),
    (
        "generalization_export.json",
        &[
            "generalization",
            "fixtures/golden/export",
            "--order",
            "1,2",
            "--test-n",
            "200",
            "--grid",
            "6",
            "--samples",
            "4",
            "--ascent-steps",
            "2",
            "--json",
        ],
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the CLI; the report is its stdout, or the file `{tmp}/*.json` named in `args`.
fn run(args: &[&str]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_str().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{tmp}", t)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args(&args)
        .current_dir(root())
        .output()
        .expect("run sgdstab");
    assert!(
        out.status.success(),
        "sgdstab {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    match args
        .iter()
        .find(|a| a.starts_with(t) && a.ends_with(".json"))
    {
        Some(file) => serde_json::from_str(&read(Path::new(file))).expect("the report is JSON"),
        None => serde_json::from_slice(&out.stdout).expect("the report is JSON"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

/// Differences between `golden` and `now`, as `path: message` lines.
fn compare(golden: &Value, now: &Value, path: &str, out: &mut Vec<String>) {
    match (golden, now) {
        (Value::Object(g), Value::Object(n)) => {
            for (k, gv) in g {
                let p = format!("{path}.{k}");
                match n.get(k) {
                    Some(nv) => compare(gv, nv, &p, out),
                    None => out.push(format!("{p}: key missing")),
                }
            }
        }
        (Value::Array(g), Value::Array(n)) => {
            if g.len() != n.len() {
                out.push(format!("{path}: length {} became {}", g.len(), n.len()));
                return;
            }
            for (i, (gv, nv)) in g.iter().zip(n).enumerate() {
                compare(gv, nv, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(g), Value::Number(n)) => {
            let (a, b) = (
                g.as_f64().unwrap_or(f64::NAN),
                n.as_f64().unwrap_or(f64::NAN),
            );
            if !close(a, b) {
                out.push(format!("{path}: {a:e} became {b:e}"));
            }
        }
        (g, n) => {
            if g != n {
                out.push(format!("{path}: {g} became {n}"));
            }
        }
    }
}

#[test]
fn reports_match_the_golden_copies_key_by_key() {
    let bless = std::env::var_os("SGDSTAB_BLESS").is_some();
    let dir = root().join("fixtures/golden");
    let mut failures = Vec::new();
    for (name, args) in CASES {
        let now = run(args);
        let file = dir.join(name);
        if bless {
            let text = serde_json::to_string_pretty(&now).unwrap() + "\n";
            std::fs::write(&file, text).unwrap();
            continue;
        }
        let golden: Value = serde_json::from_str(&read(&file)).unwrap();
        let mut diffs = Vec::new();
        compare(&golden, &now, "", &mut diffs);
        if !diffs.is_empty() {
            failures.push(format!(
                "{name} ({}):\n  {}",
                args.join(" "),
                diffs.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The comparison itself can fail: a changed number, a missing key and a changed string are found.
#[test]
fn the_comparison_finds_changes() {
    let g: Value = serde_json::json!({"a": 1.0, "b": {"c": "x", "d": [1, 2]}, "e": 0.5});
    let mut out = Vec::new();
    compare(
        &g,
        &serde_json::json!({"a": 1.0 + 1e-6, "b": {"c": "y", "d": [1]}, "f": 1}),
        "",
        &mut out,
    );
    assert_eq!(out.len(), 4, "{out:?}");
    let mut none = Vec::new();
    compare(
        &g,
        &serde_json::json!({"a": 1.0 + 1e-15, "b": {"c": "x", "d": [1, 2]}, "e": 0.5, "new": 3}),
        "",
        &mut none,
    );
    assert!(none.is_empty(), "{none:?}");
}
