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

// ---------------------------------------------------------------------------------------------
// class 9: the report does not depend on the thread count

#[test]
fn json_is_byte_identical_for_any_rayon_thread_count() {
    // big enough that faer's kernels run in parallel (n = 300, w = 400: Gram and eigensolves of
    // order 300), with an order-3 block of D = C(r+2, 3) beyond a toy size
    let dir = tempfile::tempdir().unwrap();
    let (n, w) = (300usize, 400usize);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..w).map(|_| next()).collect()).collect();
    let f = write(dir.path(), "g.csv", csv(&rows).as_bytes());
    let mut outs = Vec::new();
    for threads in ["1", "2", "3"] {
        let o = run(
            &[
                "analyze",
                s(&f),
                "--lr",
                "0.01",
                "--batch",
                "16",
                "--order",
                "1,2",
                "--json",
            ],
            &[("RAYON_NUM_THREADS", threads)],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        outs.push(o.stdout);
    }
    assert!(outs[0].len() > 100);
    assert!(outs[0] == outs[1], "RAYON_NUM_THREADS 1 vs 2 differ");
    assert!(outs[0] == outs[2], "RAYON_NUM_THREADS 1 vs 3 differ");
    let mut th = Vec::new();
    for threads in ["1", "3"] {
        let o = run(
            &[
                "threshold",
                s(&f),
                "--batch",
                "16",
                "--order",
                "1,2",
                "--json",
            ],
            &[("RAYON_NUM_THREADS", threads)],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        th.push(o.stdout);
    }
    assert!(th[0] == th[1], "threshold: RAYON_NUM_THREADS 1 vs 3 differ");
}

/// Every faer call of the crate goes through `sgdstab::parallel::faer_par` (a fixed task count):
/// a new call of `faer::get_global_parallelism()` in `src/` would make the last digits depend on
/// the thread pool again.
#[test]
fn no_faer_call_uses_the_pool_sized_default() {
    fn walk(dir: &Path, hits: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, hits);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("parallel.rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, line) in text.lines().enumerate() {
                    if line.contains("get_global_parallelism()") || line.contains("Par::rayon(0)") {
                        hits.push(format!("{}:{}", p.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "use sgdstab::parallel::faer_par(): {hits:?}"
    );
}

