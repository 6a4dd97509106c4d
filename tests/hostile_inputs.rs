//! Issue 14, "Robustness II": the hostile inputs of each class, built here, and the promise each
//! must keep — exit code 2 with one line naming the flag, file or value, no panic text, no output
//! file left or replaced; or a correct answer against an independent reference.

use sgdstab::{Gradients, Hooks, MethodChoice, Problem, ProblemOptions, ThresholdOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sgdstab"))
}

/// Runs the binary with `args` and the extra environment.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2, one line `sgdstab: error: …` containing every needle, no panic, nothing on stdout.
#[track_caller]
fn assert_refused(o: &Output, needles: &[&str]) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(e.starts_with("sgdstab: error: "), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    e
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn csv(rows: &[Vec<f64>]) -> String {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

// ---------------------------------------------------------------------------------------------
// class 10: bisection on identical rows

/// All rows equal to `a`: every batch gives `S = B·aaᵀ`, so `M = I − η aaᵀ` for every batch and
/// `T_k` has the eigenvalue `(1 − η‖a‖²)^k`: `η*_k = 2/‖a‖² = 2/λ_max(H)` for every `k`. The scan
/// of the bisection fallback used to start exactly there and report the midpoint of its first
/// grid step, 4.4% too high.
#[test]
fn bisection_on_identical_rows_gives_two_over_lambda() {
    for a in [
        vec![1.0, 2.0, -0.5],
        vec![0.3],
        vec![3.0, 0.0, 1.0, 1.0, -2.0],
    ] {
        let n = 5;
        let rows = vec![a.clone(); n];
        let lambda: f64 = a.iter().map(|x| x * x).sum();
        let want = 2.0 / lambda;
        let g = Gradients::from_rows(&rows).unwrap();
        let p = Problem::from_gradients(&g, &ProblemOptions::default().max_order(3), Hooks::none())
            .unwrap();
        for method in [MethodChoice::Bisection, MethodChoice::Auto] {
            for b in [1, 2, n] {
                let opts = ThresholdOptions::default().orders([1, 2, 3]).method(method);
                let r = p.thresholds(b, &opts, Hooks::none()).unwrap();
                for o in &r.orders {
                    let got = o.set.lr_threshold.unwrap();
                    let err = o.set.lr_threshold_error.unwrap();
                    let rel = (got - want).abs() / want;
                    assert!(
                        rel <= 1e-10,
                        "{method:?} B={b} k={}: {got} vs 2/λ = {want} ({rel:e})",
                        o.set.k
                    );
                    assert!(err <= 1e-10 * want, "k={}: error bound {err:e}", o.set.k);
                    assert!(
                        o.set.boundaries.iter().all(|x| x.verified),
                        "k={}: unverified bracket {:?}",
                        o.set.k,
                        o.set.boundaries
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// class 8: a typo in the first CSV row is an error, not a header

#[test]
fn a_mistyped_first_csv_row_is_refused_naming_the_row_and_field() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        (
            "1.0,\u{2212}2.0\n3,4\n5,6\n",
            "line 1, field 2: '\u{2212}2.0' is not a number",
        ),
        (
            "0x10,2\n3,4\n5,6\n",
            "line 1, field 1: '0x10' is not a number",
        ),
        ("1,2x\n3,4\n5,6\n", "line 1, field 2: '2x' is not a number"),
    ] {
        let f = write(dir.path(), "g.csv", text.as_bytes());
        let o = run(&["analyze", s(&f), "--lr", "0.1", "--batch", "1"], &[]);
        assert_refused(&o, &[needle, s(&f)]);
    }
    // a real header is still a header: the same report as without it
    let body = "1,2\n3,4\n5,7\n";
    let with = write(dir.path(), "h.csv", format!("g0,g1\n{body}").as_bytes());
    let without = write(dir.path(), "n.csv", body.as_bytes());
    let args = |f: &Path| {
        let o = run(
            &["analyze", s(f), "--lr", "0.1", "--batch", "2", "--json"],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v["n"].clone(), v["orders"].clone())
    };
    assert_eq!(args(&with), args(&without));
    assert_eq!(args(&with).0, serde_json::json!(3));
}

