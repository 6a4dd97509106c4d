//! `diagram`, `threshold` and `verify` end to end: files produced and decodable, one CSV row per
//! (k, B), JSON keys, exit codes (0 ok, 1 counterexample, 2 bad input without output files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sgdstab"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn diagram_writes_svg_png_csv_json() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("d.svg");
    let png = dir.path().join("d.png");
    let csv = dir.path().join("d.csv");
    let json = dir.path().join("d.json");
    let f = fixture("tiny.csv"); // n = 5, w = 3
    let o = run(&[
        "diagram",
        f.to_str().unwrap(),
        "--order",
        "1..3",
        "--batches",
        "1..5",
        "--plot",
        svg.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.contains("batch size B"));
    let img = image::open(&png).unwrap();
    assert!(img.width() > 100 && img.height() > 100);
    let csv = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], sgdstab::threshold::diagram::CSV_HEADER);
    assert_eq!(lines.len(), 1 + 3 * 5, "{csv}");
    let mut seen = std::collections::BTreeSet::new();
    for l in &lines[1..] {
        let cells: Vec<&str> = l.split(',').collect();
        assert_eq!(cells.len(), 9, "{l}");
        let eta: f64 = cells[2].parse().unwrap();
        assert!(eta > 0.0 && eta.is_finite());
        seen.insert((cells[0].to_string(), cells[1].to_string()));
        // k = 2 rows carry the two necessary bounds, and η*_2 is below both
        if cells[0] == "2" {
            let tr: f64 = cells[7].parse().unwrap();
            let top: f64 = cells[8].parse().unwrap();
            assert!(
                eta <= tr * (1.0 + 1e-12) && eta <= top * (1.0 + 1e-12),
                "{l}"
            );
        } else {
            assert!(cells[7].is_empty() && cells[8].is_empty());
        }
    }
    assert_eq!(seen.len(), 15, "one row per (k, B)");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["rows"].as_array().unwrap().len(), 15);
    // the same document on stdout with --json; the text table otherwise
    let o = run(&[
        "diagram",
        f.to_str().unwrap(),
        "--order",
        "1..3",
        "--batches",
        "1..5",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stdout, json);
    let o = run(&["diagram", f.to_str().unwrap(), "--batches", "1,5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("η*_k(B)"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('2'))
            .count(),
        2
    );
}

#[test]
fn diagram_bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.svg");
    let f = fixture("tiny.csv");
    for (args, needle) in [
        (vec!["--batches", "0..2"], "--batch"),
        (vec!["--batches", "6"], "--batch"),
        (vec!["--orders", "0"], "--order"),
    ] {
        let mut a = vec![
            "diagram",
            f.to_str().unwrap(),
            "--plot",
            out.to_str().unwrap(),
        ];
        a.extend(args);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "no output file"
        );
    }
    let bad = dir.path().join("d.jpg");
    let o = run(&[
        "diagram",
        f.to_str().unwrap(),
        "--plot",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--plot = "), "{}", stderr(&o));
    // --out is the JSON report: a picture there is refused, naming the picture flag
    let o = run(&[
        "diagram",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("--out") && e.contains("--plot"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no output file"
    );
}

#[test]
fn threshold_json_keys_and_values_on_a_fixture() {
    let f = fixture("linear_regression.npy");
    let o = run(&[
        "threshold",
        f.to_str().unwrap(),
        "--batch",
        "8",
        "--order",
        "1,2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let orders = v["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    for o in orders {
        for key in [
            "k",
            "lr_threshold",
            "lr_threshold_error",
            "stable_set",
            "method",
            "theorem2",
            "corollary1",
        ] {
            assert!(o.get(key).is_some(), "missing {key}");
        }
        let set = o["stable_set"].as_array().unwrap();
        assert_eq!(set[0][0].as_f64(), Some(0.0));
        assert_eq!(set[0][1].as_f64(), o["lr_threshold"].as_f64());
        assert_eq!(o["method"], "linearization");
    }
    // η*_1 = 2/λ_max(H) = gd_threshold
    let eta1 = orders[0]["lr_threshold"].as_f64().unwrap();
    let gd = v["gd_threshold"].as_f64().unwrap();
    assert!((eta1 - gd).abs() <= 1e-12 * gd);
    assert!(
        orders[1]["mulayoff_michaeli"]["trace_bound"]
            .as_f64()
            .unwrap()
            >= orders[1]["lr_threshold"].as_f64().unwrap()
    );
    // deterministic
    let again = run(&[
        "threshold",
        f.to_str().unwrap(),
        "--batch",
        "8",
        "--order",
        "1,2",
        "--json",
    ]);
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn threshold_bad_input() {
    let f = fixture("tiny.csv");
    for (args, needle) in [
        (vec!["--batch", "0"], "--batch"),
        (vec!["--batch", "9"], "--batch"),
        (vec!["--batch", "2", "--order", "0"], "--order"),
        (vec!["--batch", "2", "--method", "magic"], "magic"),
    ] {
        let mut a = vec!["threshold", f.to_str().unwrap()];
        a.extend(args);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    }
}

#[test]
fn verify_passes_and_is_deterministic() {
    let a = run(&["verify", "--cases", "6", "--seed", "7", "--json"]);
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stdout)
    );
    let b = run(&["verify", "--cases", "6", "--seed", "7", "--json"]);
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), sgdstab::verify::CHECKS.len());
    for c in checks {
        assert_eq!(c["failed"], 0, "{c}");
    }
    assert!(v["counterexamples"].as_array().unwrap().is_empty());
    let o = run(&["verify", "--cases", "0"]);
    assert_eq!(o.status.code(), Some(2));
}
