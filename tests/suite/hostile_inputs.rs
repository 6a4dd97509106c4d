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

// ---------------------------------------------------------------------------------------------
// helpers for the network commands: one small export shared by the tests

/// A trained export in a fresh directory (`train --export`, small and fast).
fn export(dir: &Path) -> PathBuf {
    let d = dir.join("net");
    let o = run(
        &[
            "train",
            "--n",
            "8",
            "--dim",
            "5",
            "--hidden",
            "8",
            "--export",
            s(&d),
            "-q",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    d
}

fn small_grads(dir: &Path) -> PathBuf {
    write(
        dir,
        "g.csv",
        b"1,0.5,1\n-0.5,1,1\n0.25,-0.75,1\n0.5,0.25,1\n",
    )
}

/// A fast invocation of every subcommand (paths into `dir`).
fn every_command(dir: &Path) -> Vec<Vec<String>> {
    let g = small_grads(dir);
    let net = export(dir);
    let (g, net) = (s(&g).to_string(), s(&net).to_string());
    let d = |name: &str| s(&dir.join(name)).to_string();
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        v(&["analyze", &g, "--lr", "0.1", "--batch", "2"]),
        v(&["threshold", &g, "--batch", "2"]),
        v(&["diagram", &g]),
        v(&["verify", "--cases", "1"]),
        v(&["train", "--n", "8", "--dim", "5", "--hidden", "8"]),
        v(&["sobolev", &net, "--order", "1"]),
        v(&[
            "simulate",
            &net,
            "--order",
            "1",
            "--paths",
            "40",
            "--steps",
            "20",
            "--trials",
            "1",
            "--escape-steps",
            "10",
        ]),
        v(&[
            "sweep",
            "--n",
            "8",
            "--dim",
            "5",
            "--hidden",
            "8",
            "--lrs",
            "0.1",
            "--batches",
            "2",
            "--seeds",
            "1",
            "--checkpoints",
            "0",
            "--out-dir",
            &d("sweep"),
        ]),
        v(&[
            "generalization",
            &net,
            "--order",
            "1",
            "--test-n",
            "50",
            "--grid",
            "3",
            "--samples",
            "2",
            "--ascent-steps",
            "1",
            "--no-stability",
        ]),
        v(&[
            "demo",
            "--order",
            "1",
            "--seeds",
            "1",
            "--n",
            "30",
            "--hidden",
            "16,16",
            "--sweep-lrs",
            "0.1",
            "--sweep-batches",
            "20",
            "--out-dir",
            &d("demo"),
        ]),
    ]
}

// ---------------------------------------------------------------------------------------------
// class 1: stdout or stderr that cannot be written

#[test]
fn unwritable_stdout_never_panics_in_any_subcommand() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    for args in every_command(dir.path()) {
        let name = args[0].clone();
        // a full disk: exit 2 with one line naming standard output
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = bin()
            .args(&args)
            .arg("-q")
            .stdin(Stdio::null())
            .stdout(full)
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name} >/dev/full: {e}");
        assert!(!e.contains("panicked"), "{name}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{name}: {e}");
        assert!(
            e.contains("standard output: No space left on device"),
            "{name}: {e}"
        );
        // a closed pipe (`| head -c 0`): killed by SIGPIPE or exit 0, nothing on stderr
        let mut child = bin()
            .args(&args)
            .arg("-q")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let e = stderr(&o);
        let quiet = o.status.code() == Some(0) || o.status.signal() == Some(13);
        assert!(quiet, "{name} | head: {:?} {e}", o.status);
        assert!(e.is_empty(), "{name} | head: {e}");
    }
    // --help into a full disk, and stderr that cannot be written for an error
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin().arg("--help").stdout(full).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin()
        .args(["analyze", "/nonexistent.npy", "--lr", "0.1", "--batch", "1"])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// classes 2, 3, 5: sizes estimated and refused before allocating; bounded work

#[test]
fn a_small_file_asking_for_a_huge_allocation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // an 800 kB .npy of shape 100000 × 1: streamed, its Gram matrix is 100000 × 100000 (80 GB):
    // refused by the estimate before allocating, not by an abort
    let (n, w) = (100_000usize, 1usize);
    let data: Vec<f64> = (0..n * w).map(|i| 1.0 + (i % 7) as f64).collect();
    let f = dir.path().join("tall.npy");
    sgdstab::io::write_npy(&f, &[n, w], &data).unwrap();
    let o = run(
        &[
            "analyze",
            s(&f),
            "--lr",
            "0.1",
            "--batch",
            "4",
            "--stream",
            "always",
        ],
        &[],
    );
    assert_refused(
        &o,
        &[
            "tall.npy",
            "100000 × 100000",
            "memory budget",
            "SGDSTAB_MEMORY_BYTES",
        ],
    );
    // read whole, within a small budget: refused before the values are converted
    let o = run(
        &["analyze", s(&f), "--lr", "0.1", "--batch", "4"],
        &[("SGDSTAB_MEMORY_BYTES", "1000000")],
    );
    assert_refused(
        &o,
        &["tall.npy", "100000 values as float64", "memory budget"],
    );
    // --order 32 on a tiny input: every block estimated, refused naming the order or memory
    let tiny = small_grads(dir.path());
    let o = run(
        &[
            "threshold",
            s(&tiny),
            "--batch",
            "2",
            "--order",
            "32",
            "--method",
            "linearization",
        ],
        &[("SGDSTAB_MEMORY_BYTES", "100000000")],
    );
    assert_refused(&o, &["--order = 32", "orders above 20"]);
    // the largest order allowed: its blocks' estimates (with the closed form's tables) fit
    assert_eq!(
        sgdstab::memory::dense_block(3, 20),
        464_522_960,
        "4·231²·8 + Σ_(s<20) (p(s) + 3)·C(s+2, 2)²·8"
    );
    let o = run(
        &[
            "analyze",
            s(&tiny),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--order",
            "32",
        ],
        &[],
    );
    assert_refused(&o, &["--order = 32", "orders above 20"]);
    // an NPZ of float16 whose inflated bytes fit but whose float64 values do not
    use std::io::Write;
    let mut member = sgdstab::io::npy::to_bytes(&[1000, 100], &vec![0.0; 100_000]);
    let hl = member.len() - 800_000;
    let at = member.windows(3).position(|x| x == b"<f8").unwrap();
    member[at + 2] = b'2';
    member.truncate(hl);
    member.extend(std::iter::repeat_n([0x00u8, 0x3c], 100_000).flatten());
    let z = dir.path().join("half.npz");
    {
        let mut zw = zip::ZipWriter::new(std::fs::File::create(&z).unwrap());
        zw.start_file(
            "w.npy",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        zw.write_all(&member).unwrap();
        zw.finish().unwrap();
    }
    let o = run(
        &["analyze", s(&z), "--lr", "0.1", "--batch", "4"],
        &[("SGDSTAB_MEMORY_BYTES", "1000000")],
    );
    assert_refused(&o, &["half.npz", "as float64", "memory budget"]);
}

#[test]
fn the_budget_follows_rlimit_as() {
    // under `prlimit --as` the budget is the headroom, so a large request is refused with a
    // message instead of an allocation abort (exit 134)
    if !Path::new("/usr/bin/prlimit").exists() {
        eprintln!("prlimit not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (n, w) = (6000usize, 8000usize); // 384 MB of gradients as CSV would be slow: use npy
    let f = dir.path().join("wide.npy");
    sgdstab::io::write_npy(&f, &[n, w], &vec![0.5; n * w]).unwrap();
    let o = Command::new("/usr/bin/prlimit")
        .arg("--as=400000000")
        .arg(env!("CARGO_BIN_EXE_sgdstab"))
        .args([
            "analyze",
            s(&f),
            "--lr",
            "0.1",
            "--batch",
            "4",
            "--stream",
            "never",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_refused(&o, &["wide.npy", "memory budget"]);
    std::fs::remove_file(&f).unwrap();
}

#[test]
fn unbounded_work_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    let o = run(
        &[
            "simulate",
            s(&g),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--paths",
            "18446744073709551615",
        ],
        &[],
    );
    assert_refused(&o, &["--paths = 18446744073709551615"]);
    // within the order cap, but Sym^19(R^5) has D = 8855 > 8000: verify's own bound
    let o = run(&["verify", "--orders", "19", "--cases", "1"], &[]);
    assert_refused(&o, &["--order = 19", "D = "]);
    let o = run(&["verify", "--orders", "32", "--cases", "1"], &[]);
    assert_refused(&o, &["--order = 32", "orders above 20"]);
}

#[test]
fn an_npz_with_many_members_is_checked_in_linear_time() {
    use std::io::Write;
    let member = sgdstab::io::npy::to_bytes(&[2, 1], &[1.0, 2.0]);
    let stored = || {
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
    };
    let count = 140_000;
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..count {
        zw.start_file(format!("p{i}.npy"), stored()).unwrap();
        zw.write_all(&member).unwrap();
    }
    let bytes = zw.finish().unwrap().into_inner();
    let t = std::time::Instant::now();
    let npz = sgdstab::io::npz::open(&bytes).unwrap();
    // quadratic took 43 s; linear is a fraction of a second (generous bound for a loaded machine)
    assert!(t.elapsed().as_secs_f64() < 10.0, "{:?}", t.elapsed());
    use sgdstab::io::dict::ArrayDict;
    assert_eq!(npz.keys().len(), count);
    // a duplicate key (`w` and `w.npy`; the zip writer refuses equal names) is still found
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["a.npy", "w", "b.npy", "w.npy"] {
        zw.start_file(name, stored()).unwrap();
        zw.write_all(&member).unwrap();
    }
    let bytes = zw.finish().unwrap().into_inner();
    let e = match sgdstab::io::npz::open(&bytes) {
        Ok(_) => panic!("the duplicate key was not found"),
        Err(e) => e,
    };
    assert!(e.contains("two members are named 'w.npy' (key 'w')"), "{e}");
}

#[test]
fn special_files_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    let want = {
        let o = run(
            &["analyze", s(&g), "--lr", "0.1", "--batch", "2", "--json"],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o.stdout
    };
    let bytes = std::fs::read(&g).unwrap();
    // `-`: standard input
    let mut child = bin()
        .args(["analyze", "-", "--lr", "0.1", "--batch", "2", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&bytes).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let strip = |v: &[u8]| -> serde_json::Value {
        let mut j: serde_json::Value = serde_json::from_slice(v).unwrap();
        j["input"] = serde_json::Value::Null;
        j
    };
    assert_eq!(strip(&o.stdout), strip(&want));
    // a FIFO named .npy (the streaming check used to open it first, and the reader hung)
    let fifo = dir.path().join("pipe.npy");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let npy = sgdstab::io::npy::to_bytes(
        &[4, 3],
        &[
            1.0, 0.5, 1.0, -0.5, 1.0, 1.0, 0.25, -0.75, 1.0, 0.5, 0.25, 1.0,
        ],
    );
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, npy))
    };
    let mut child = bin()
        .args(["analyze", s(&fifo), "--lr", "0.1", "--batch", "2", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed().as_secs() > 60 {
            let _ = child.kill();
            panic!("analyze on a FIFO hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(strip(&o.stdout), strip(&want));
}

// ---------------------------------------------------------------------------------------------
// class 4: overflow and underflow give a clear error, never "rank 0, every η stable"

#[test]
fn overflowing_and_underflowing_gradients_are_refused_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    for (name, big) in [("huge.csv", "1e300"), ("large.csv", "1e200")] {
        let f = write(dir.path(), name, format!("1,2\n{big},1\n3,4\n").as_bytes());
        for cmd in [
            vec!["analyze", s(&f), "--lr", "0.1", "--batch", "1"],
            vec!["threshold", s(&f), "--batch", "1"],
            vec!["diagram", s(&f)],
            vec!["simulate", s(&f), "--lr", "0.1", "--batch", "1"],
        ] {
            let o = run(&cmd, &[]);
            assert_refused(
                &o,
                &[
                    name,
                    "too large for floating point",
                    "multiply the gradients by 2^",
                ],
            );
        }
    }
    for (name, text) in [
        ("tiny.csv", "1e-200,2e-200\n3e-200,1e-200\n"),
        ("subnormal.csv", "1e-310,2e-310\n3e-310,1e-310\n"),
    ] {
        let f = write(dir.path(), name, text.as_bytes());
        for cmd in [
            vec!["analyze", s(&f), "--lr", "0.1", "--batch", "1"],
            vec!["threshold", s(&f), "--batch", "1"],
            vec!["simulate", s(&f), "--lr", "0.1", "--batch", "1"],
        ] {
            let o = run(&cmd, &[]);
            assert_refused(&o, &[name, "too small for floating point"]);
        }
    }
    // a streamed .npy (read per column block, never held whole) is checked alike
    for (name, values) in [
        ("huge.npy", [1.0, 2.0, 1e300, 1.0, 3.0, 4.0]),
        ("tiny.npy", [1e-200, 2e-200, 3e-200, 1e-200, 2e-200, 1e-200]),
    ] {
        let bytes = sgdstab::io::npy::to_bytes(&[3, 2], &values);
        let f = write(dir.path(), name, &bytes);
        let o = run(
            &[
                "analyze",
                s(&f),
                "--lr",
                "0.1",
                "--batch",
                "1",
                "--stream",
                "always",
            ],
            &[],
        );
        let what = if values[2] > 1.0 {
            "too large"
        } else {
            "too small"
        };
        assert_refused(&o, &[name, what, "for floating point"]);
    }
    // the recipe in the message is exact: the rescaled input gives the original's verdicts
    // (T_k depends on η·a_i a_iᵀ only): 1e-200 · 2^664 ≈ 1.2, η · 2^-1328
    let g = small_grads(dir.path());
    let o = run(&["analyze", s(&g), "--lr", "1e308", "--batch", "2"], &[]);
    assert_refused(&o, &["--lr = 1e308", "overflows"]);
    let o = run(&["analyze", s(&g), "--lr", "1e-320", "--batch", "2"], &[]);
    assert_refused(&o, &["--lr = 1e-320", "subnormal"]);
}

#[test]
fn rescaling_by_a_power_of_two_is_exact() {
    // the message's recipe, checked: gradients × 2^m and η × 2^-2m give the same T_k
    let rows = vec![
        vec![1.0, 0.5, 1.0],
        vec![-0.5, 1.0, 1.0],
        vec![0.25, -0.75, 1.0],
    ];
    let m = 100i32;
    let scaled: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|x| x * 2f64.powi(m)).collect())
        .collect();
    let rep = |rows: &[Vec<f64>], lr: f64| {
        let g = Gradients::from_rows(rows).unwrap();
        let p = Problem::from_gradients(&g, &ProblemOptions::default(), Hooks::none()).unwrap();
        p.analyze(lr, 2, &sgdstab::AnalyzeOptions::default(), Hooks::none())
            .unwrap()
    };
    let a = rep(&rows, 0.3);
    let b = rep(&scaled, 0.3 * 2f64.powi(-2 * m));
    for (x, y) in a.orders.iter().zip(&b.orders) {
        assert_eq!(x.verdict, y.verdict);
        assert!(
            (x.reduced_radius - y.reduced_radius).abs() <= 1e-12,
            "{} {}",
            x.reduced_radius,
            y.reduced_radius
        );
    }
}

// ---------------------------------------------------------------------------------------------
// class 6: no clobbered files

#[test]
fn outputs_never_replace_inputs_or_device_files() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    let before = std::fs::read(&g).unwrap();
    for args in [
        vec![
            "analyze",
            s(&g),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--out",
            s(&g),
        ],
        vec!["threshold", s(&g), "--batch", "2", "--out", s(&g)],
        vec!["diagram", s(&g), "--csv", s(&g)],
    ] {
        let o = run(&args, &[]);
        assert_refused(&o, &["that is the input"]);
        assert_eq!(std::fs::read(&g).unwrap(), before, "the input was changed");
    }
    // the same file through another path (a symbolic link)
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&g, &link).unwrap();
    let o = run(
        &[
            "analyze",
            s(&g),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--out",
            s(&link),
        ],
        &[],
    );
    assert_refused(&o, &["--out", "that is the input"]);
    // two outputs into one file
    let o = run(
        &[
            "diagram",
            s(&g),
            "--out",
            s(&dir.path().join("x")),
            "--csv",
            s(&dir.path().join("x")),
        ],
        &[],
    );
    assert_refused(&o, &["--csv", "--out writes the same file"]);
    // a device is written through, never replaced by a regular file
    let o = run(
        &[
            "analyze",
            s(&g),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--out",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // a FIFO output receives the report
    let fifo = dir.path().join("out.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo))
    };
    let o = run(
        &[
            "analyze",
            s(&g),
            "--lr",
            "0.1",
            "--batch",
            "2",
            "--out",
            s(&fifo),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = reader.join().unwrap().unwrap();
    assert!(got.starts_with(b"{"), "{}", String::from_utf8_lossy(&got));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn multi_output_commands_write_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    // diagram: the plot and CSV are fine, --out is a directory: nothing is written
    let out = dir.path().join("outdir");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep"), b"x").unwrap();
    let plot = dir.path().join("eta.svg");
    let csv = dir.path().join("eta.csv");
    std::fs::write(&csv, b"old").unwrap();
    let o = run(
        &[
            "diagram",
            s(&g),
            "--plot",
            s(&plot),
            "--csv",
            s(&csv),
            "--out",
            s(&out),
        ],
        &[],
    );
    assert_refused(&o, &["outdir"]);
    assert!(!plot.exists(), "the plot was left behind");
    assert_eq!(std::fs::read(&csv).unwrap(), b"old", "the CSV was replaced");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
    // train --export with an --out that cannot be written: no export directory left
    let exp = dir.path().join("exp");
    let o = run(
        &[
            "train",
            "--n",
            "8",
            "--dim",
            "5",
            "--hidden",
            "8",
            "--export",
            s(&exp),
            "--out",
            s(&out),
            "-q",
        ],
        &[],
    );
    assert_refused(&o, &["outdir"]);
    assert!(!exp.exists(), "the export was left behind");
}

// ---------------------------------------------------------------------------------------------
// class 7: messages name the right thing

#[test]
fn messages_name_the_flag_file_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    // negative numbers as flag values
    for (args, needles) in [
        (
            vec!["analyze", s(&g), "--lr", "0.1", "--batch", "-1"],
            vec!["--batch", "-1"],
        ),
        (
            vec!["threshold", s(&g), "--batch", "-4"],
            vec!["--batch", "-4"],
        ),
        (
            vec![
                "analyze",
                s(&g),
                "--lr",
                "0.1",
                "--batch",
                "2",
                "--order",
                "-2",
            ],
            vec!["--order", "-2"],
        ),
        (
            vec![
                "analyze",
                s(&g),
                "--lr",
                "0.1",
                "--batch",
                "2",
                "--rank-tol",
                "-1",
            ],
            vec!["--rank-tol", "-1"],
        ),
        (vec!["verify", "--cases", "-3"], vec!["--cases", "-3"]),
    ] {
        let o = run(&args, &[]);
        let e = assert_refused(&o, &needles);
        assert!(!e.contains("unexpected argument"), "{e}");
    }
    // sweep --lr nan is --lr, not --lrs
    let o = run(
        &[
            "sweep",
            "--lr",
            "nan",
            "--out-dir",
            s(&dir.path().join("sw")),
        ],
        &[],
    );
    let e = assert_refused(&o, &["--lr = NaN"]);
    assert!(!e.contains("--lrs"), "{e}");
    // a bundle whose bundle.json says batch 0: blamed on bundle.json, not --batch
    let net = export(dir.path());
    let meta = net.join("bundle.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["training"]["batch"] = serde_json::json!(0);
    std::fs::write(&meta, serde_json::to_string(&v).unwrap()).unwrap();
    for cmd in ["sobolev", "simulate", "generalization"] {
        let o = run(&[cmd, s(&net)], &[]);
        let e = assert_refused(&o, &["bundle.json", "training.batch = 0"]);
        assert!(!e.contains("--batch"), "{cmd}: {e}");
    }
    // no arguments: a short usage on stderr, exit 2
    let o = run(&[], &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.lines().count() <= 4, "{e}");
    assert!(e.contains("analyze") && e.contains("--help"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// class 11: progress where nobody sees it

#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let g = small_grads(dir.path());
    let args = [
        "analyze",
        s(&g),
        "--lr",
        "0.1",
        "--batch",
        "2",
        "--order",
        "1,2,3",
    ];
    // a long run (here: any run, SGDSTAB_PROGRESS_AFTER=0) prints plain lines on stderr
    let o = run(&args, &[("SGDSTAB_PROGRESS_AFTER", "0")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("sgdstab: analyze: "), "{e}");
    assert!(e.contains("T_3 on Sym^3(R^3), D = 10, dense"), "{e}");
    assert!(e.contains("done in"), "{e}");
    assert!(
        !e.contains('\r') && !e.contains("\x1b["),
        "no terminal control: {e:?}"
    );
    // --quiet silences it; a quick run prints nothing by default
    let mut q = args.to_vec();
    q.push("--quiet");
    let o = run(&q, &[("SGDSTAB_PROGRESS_AFTER", "0")]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = run(&args, &[]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}
