//! `train`, `sobolev`, `simulate`, `sweep` and `demo` end to end: exports readable by `analyze`,
//! JSON reports, exit codes and one-line errors for bad input.

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

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("one JSON document")
}

/// `train --export DIR` with no other flags, then the consumers of the export.
#[test]
fn train_export_feeds_analyze_sobolev_and_simulate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let out = ok(&["train", "--export", d]);
    assert!(out.contains("interpolation reached"), "{out}");
    for f in [
        "grads.npy",
        "xgrads.npy",
        "x.npy",
        "y.npy",
        "outputs.npy",
        "w1.npy",
        "params.npy",
        "meta.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let meta = json(&std::fs::read_to_string(dir.join("meta.json")).unwrap());
    for key in [
        "schema_version",
        "architecture",
        "activation",
        "init_seed",
        "sgd_seed",
        "lr",
        "batch",
        "final_loss",
        "iterations",
        "flattening_order",
        "interpolated",
    ] {
        assert!(meta.get(key).is_some(), "meta.json lacks {key}");
    }
    assert_eq!(meta["interpolated"], true);
    assert!(meta["final_loss"].as_f64().unwrap() < 1e-12);
    let (n, w) = (
        meta["samples"].as_u64().unwrap(),
        meta["parameters"].as_u64().unwrap(),
    );

    // analyze works unchanged on the export
    let grads = dir.join("grads.npy");
    let a = json(&ok(&[
        "analyze",
        grads.to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "4",
        "--order",
        "1,2",
        "--json",
    ]));
    assert_eq!((a["n"].as_u64().unwrap(), a["w"].as_u64().unwrap()), (n, w));
    assert_eq!(a["orders"][0]["verdict"], "stable");

    // sobolev: every Prop. 2 point decided, nothing fails, byte-identical output
    let s1 = ok(&["sobolev", d, "--order", "1..3", "--json", "-q"]);
    let s2 = ok(&["sobolev", d, "--order", "1..3", "--json", "-q"]);
    assert_eq!(s1, s2);
    let s = json(&s1);
    assert_eq!(s["schema_version"], 2);
    assert_eq!(s["first_layer"]["kind"], "dense");
    assert_eq!(s["ok"], true);
    for o in s["orders"].as_array().unwrap() {
        assert_eq!(o["prop2"]["fails"], 0);
        assert!(
            o["w1t_norm"]["lower"].as_f64().unwrap() <= o["w1t_norm"]["upper"].as_f64().unwrap()
        );
        assert_eq!(o["theorem3"]["premise_verdict"], "stable");
        assert_eq!(o["theorem3"]["check"]["outcome"], "holds");
    }
    // g_x of eq. (5) recomputed from xgrads.npy
    let xg = sgdstab::io::read_gradients(&dir.join("xgrads.npy")).unwrap();
    let gx = (xg.as_slice().iter().map(|v| v * v).sum::<f64>() / xg.n() as f64).sqrt();
    assert!((s["g_x"].as_f64().unwrap() - gx).abs() <= 1e-14 * gx);
    let text = ok(&["sobolev", d, "--order", "2"]);
    assert!(
        text.contains("Prop. 2") && text.contains("Theorem 3"),
        "{text}"
    );

    // simulate: linear part consistent, escape test at the training (η, B) returns
    let sim = json(&ok(&[
        "simulate",
        d,
        "--order",
        "1",
        "--paths",
        "400",
        "--steps",
        "40",
        "--trials",
        "2",
        "--escape-steps",
        "2000",
        "--json",
        "-q",
    ]));
    assert_eq!(sim["linear"][0]["k"], 1);
    assert!(sim["linear"][0]["mc_rate"].as_f64().unwrap() > 0.0);
    assert_eq!(sim["escape"]["returned"], 2);
    assert_eq!(sim["analyzer"][0]["verdict"], "stable");
    // simulate on a plain gradient file needs η and B
    assert_usage_error(&["simulate", grads.to_str().unwrap()], &["--lr"]);
    assert!(ok(&[
        "simulate",
        grads.to_str().unwrap(),
        "--lr",
        "0.1",
        "--batch",
        "4",
        "--order",
        "1",
        "--paths",
        "100",
        "--steps",
        "20",
        "-q"
    ])
    .contains("Linearised"));

    // a damaged export is a one-line input error
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    for f in [
        "meta.json",
        "xgrads.npy",
        "x.npy",
        "y.npy",
        "w1.npy",
        "params.npy",
    ] {
        std::fs::copy(dir.join(f), bad.join(f)).unwrap();
    }
    let g = std::fs::read(dir.join("grads.npy")).unwrap();
    std::fs::write(bad.join("grads.npy"), &g[..g.len() - 8]).unwrap();
    assert_usage_error(
        &["sobolev", bad.to_str().unwrap()],
        &["grads.npy", "truncated"],
    );
    std::fs::remove_file(bad.join("meta.json")).unwrap();
    assert_usage_error(&["sobolev", bad.to_str().unwrap()], &["meta.json"]);
    assert_usage_error(&["sobolev", grads.to_str().unwrap()], &["not a directory"]);
    assert_usage_error(&["sobolev", d, "--order", "0"], &["--order"]);
}

#[test]
fn train_rejects_bad_input_with_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let d = dir.to_str().unwrap();
    assert_usage_error(&["train", "--lr", "0", "--export", d], &["--lr", "0"]);
    assert_usage_error(&["train", "--lr", "-1", "--export", d], &["--lr"]);
    assert_usage_error(&["train", "--batch", "0", "--export", d], &["--batch", "0"]);
    assert_usage_error(
        &["train", "--batch", "17", "--export", d],
        &["--batch", "17", "n = 16"],
    );
    assert_usage_error(&["train", "--hidden", "0", "--export", d], &["--hidden"]);
    assert_usage_error(&["train", "--n", "0", "--export", d], &["--n"]);
    assert_usage_error(&["train", "--dim", "3", "--export", d], &["--dim", "3"]);
    assert_usage_error(&["train", "--dataset", "mnist", "--export", d], &["mnist"]);
    assert_usage_error(
        &["train", "--activation", "sigmoid", "--export", d],
        &["sigmoid"],
    );
    assert_usage_error(
        &["train", "--loss-threshold", "-1", "--export", d],
        &["--loss-threshold"],
    );
    // too large for memory: refused before allocating
    assert_usage_error(
        &["train", "--n", "1000000", "--dim", "100000", "--export", d],
        &["--n", "memory budget"],
    );
    assert_usage_error(
        &[
            "train",
            "--n",
            "100000",
            "--hidden",
            "20000,2000",
            "--export",
            d,
        ],
        &["per-sample gradients", "memory budget"],
    );
    // far above the edge of stability: diverges, nothing exported
    assert_usage_error(
        &["train", "--lr", "50", "--export", d],
        &["--lr", "diverged"],
    );
    assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none());
    // not reaching interpolation is a warning (exit 0), or exit 1 with --strict
    let o = run(&["train", "--max-iter", "10", "--strict"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("without reaching interpolation"));
    let o = run(&["train", "--max-iter", "10"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOT reached"));
}

#[test]
fn every_activation_and_data_set_trains() {
    for (ds, act, extra) in [
        ("iris", "relu", vec!["--n", "8"]),
        ("circle", "softplus", vec!["--n", "6", "--dim", "3"]),
        ("gaussian", "gelu", vec!["--n", "6", "--dim", "3"]),
    ] {
        let mut args = vec![
            "train",
            "--dataset",
            ds,
            "--activation",
            act,
            "--json",
            "--max-iter",
            "3000",
        ];
        args.extend(extra);
        let m = json(&ok(&args));
        assert_eq!(m["activation"], act);
        assert!(
            m["final_loss"].as_f64().unwrap() < m["initial_loss"].as_f64().unwrap(),
            "{ds}/{act}: {m}"
        );
    }
}

#[test]
fn sweep_writes_plots_table_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("sw");
    let out = ok(&[
        "sweep",
        "--n",
        "8",
        "--dim",
        "5",
        "--hidden",
        "16",
        "--lrs",
        "0.1,0.2",
        "--batches",
        "2,8",
        "--seeds",
        "2",
        "--checkpoints",
        "0,100,1000",
        "--out-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.contains("Pearson") && out.contains("‖W_1‖_2"), "{out}");
    for f in [
        "scatter_lr.png",
        "scatter_lr.svg",
        "scatter_batch.png",
        "scatter_batch.svg",
        "sweep.json",
    ] {
        assert!(d.join(f).is_file(), "{f}");
    }
    let png = std::fs::read(d.join("scatter_lr.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let r = json(&std::fs::read_to_string(d.join("sweep.json")).unwrap());
    assert_eq!(r["runs"].as_array().unwrap().len(), 8);
    assert_eq!(r["w1_table"].as_array().unwrap().len(), 3);
    assert_eq!(r["correlations"].as_array().unwrap().len(), 2);
    assert_usage_error(
        &["sweep", "--lrs", "-0.1", "--out-dir", d.to_str().unwrap()],
        &["--lrs"],
    );
    assert_usage_error(
        &["sweep", "--batches", "99", "--out-dir", d.to_str().unwrap()],
        &["--batches", "99"],
    );
    assert_usage_error(
        &["sweep", "--seeds", "0", "--out-dir", d.to_str().unwrap()],
        &["--seeds"],
    );
}

/// The reduced demo of the tests: 30 digits images, a 64-16-16-1 ReLU network, 8 sweep runs
/// (at n = 60 the k = 2 diagram alone takes minutes: D = 1830 is too large for the companion
/// linearization and small enough to be solved densely at every bisection step).
const SMALL_DEMO: [&str; 14] = [
    "demo",
    "--n",
    "30",
    "--hidden",
    "16,16",
    "--seeds",
    "1",
    "--sweep-lrs",
    "0.05,0.1",
    "--sweep-batches",
    "5,20",
    "--max-iter",
    "20000",
    "-q",
];

#[test]
fn demo_runs_end_to_end_into_its_folder() {
    // the full demo (500 images, 64-64-64-1, 16 sweep networks) is timed in the README; here a
    // reduced one
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    let mut args = SMALL_DEMO.to_vec();
    args.extend(["--out-dir", d.to_str().unwrap()]);
    let out = ok(&args);
    for needle in [
        "interpolation reached",
        "on digits",
        "Theorem 1",
        "Prop. 2",
        "Pearson",
        "Spearman",
        "Stability diagram",
        "demo finished",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    for f in [
        "report.json",
        "sobolev.json",
        "simulate.json",
        "sweep.json",
        "demo.json",
        "scatter_lr.png",
        "scatter_lr.svg",
        "scatter_batch.png",
        "stability.png",
        "stability.svg",
        "stability.csv",
        "stability.json",
        "network/grads.npy",
        "network/meta.json",
    ] {
        assert!(Path::new(&d).join(f).is_file(), "{f}");
    }
    let r = json(&std::fs::read_to_string(d.join("report.json")).unwrap());
    assert_eq!(r["command"], "analyze");
    assert_eq!(r["consistency"]["ok"], true);
    let meta = json(&std::fs::read_to_string(d.join("network/meta.json")).unwrap());
    assert_eq!(meta["samples"], 30);
    assert_eq!(meta["architecture_text"], "64-16-16-1 relu");
    // the diagram: one CSV row per (k, B) for k = 1, 2 and B = 1, 2, 5, 10, 20, 30 (n = 30);
    // η*_1 is the same for every B, and η*_2 <= η*_1
    let csv = std::fs::read_to_string(d.join("stability.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let batches = ["1", "2", "5", "10", "20", "30"];
    assert_eq!(rows.len(), 2 * batches.len());
    let eta = |k: &str, b: &str| -> f64 {
        rows.iter().find(|r| r[0] == k && r[1] == b).unwrap()[2]
            .parse()
            .unwrap()
    };
    for b in batches {
        assert_eq!(eta("1", b), eta("1", "1"));
        assert!(eta("2", b) <= eta("1", b) * (1.0 + 1e-12));
    }
    let png = std::fs::read(d.join("stability.png")).unwrap();
    assert!(image::load_from_memory(&png).is_ok());
    // the training point is named in the picture
    let svg = std::fs::read_to_string(d.join("stability.svg")).unwrap();
    assert!(svg.contains("training point (η = 0.1, B = 20)"), "legend");
    assert_usage_error(
        &["demo", "--lr", "0", "--out-dir", d.to_str().unwrap()],
        &["--lr"],
    );
}

#[test]
fn demo_json_and_out_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    let out_file = tmp.path().join("report.json");
    let mut args = SMALL_DEMO.to_vec();
    args.extend([
        "--out-dir",
        d.to_str().unwrap(),
        "--json",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    let stdout = ok(&args);
    let r = json(&stdout);
    assert_eq!(r["command"], "demo");
    for key in [
        "schema_version",
        "training",
        "analysis",
        "sobolev",
        "simulate",
        "diagram",
        "sweep",
    ] {
        assert!(r.get(key).is_some(), "demo JSON lacks {key}");
    }
    assert_eq!(r["analysis"]["command"], "analyze");
    assert_eq!(r["sweep"]["command"], "sweep");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), stdout);
    assert_eq!(
        std::fs::read_to_string(d.join("demo.json")).unwrap(),
        stdout
    );
    // a picture as --out is refused before any work, naming the flags
    let png = tmp.path().join("x.png");
    let fresh = tmp.path().join("never");
    assert_usage_error(
        &[
            "demo",
            "--out",
            png.to_str().unwrap(),
            "--out-dir",
            fresh.to_str().unwrap(),
        ],
        &["--out", "x.png", "--out-dir"],
    );
    assert!(!png.exists() && !fresh.exists());
}

/// The data of a little-endian float64 `.npy` file (any header version), read by hand.
fn read_f64_npy(path: &Path) -> Vec<f64> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = String::from_utf8_lossy(&b[start..start + hlen]);
    assert!(
        header.contains("'<f8'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    b[start + hlen..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn sweep_on_digits_is_finite_and_g_values_recompute() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("sw");
    let stdout = ok(&[
        "sweep",
        "--dataset",
        "digits",
        "--n",
        "40",
        "--hidden",
        "16,16",
        "--lrs",
        "0.05,0.1",
        "--batch",
        "10",
        "--batches",
        "5,20",
        "--seeds",
        "2",
        "--max-iter",
        "400",
        "--checkpoints",
        "0,100",
        "--out-dir",
        d.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    let r = json(&stdout);
    assert_eq!(r["architecture"], "64-16-16-1 relu");
    assert_eq!(r["samples"], 40);
    assert_eq!(r["sampling"], "without-replacement");
    assert_eq!(r["max_iterations"], 400);
    assert_eq!(r["loss_threshold"].as_f64(), Some(1e-5));
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 8);
    for run in runs {
        for key in ["g_w", "g_x", "final_loss"] {
            let v = run[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v >= 0.0, "{key}: {run}");
        }
        assert!(run["g_w"].as_f64().unwrap() > 0.0);
    }
    // every run that stopped short of the threshold is listed, none other
    let listed = r["not_converged"].as_array().unwrap();
    let short: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|x| x["stop"] != "interpolated")
        .collect();
    assert_eq!(listed.len(), short.len());
    for (l, x) in listed.iter().zip(&short) {
        for key in ["seed", "lr", "batch", "final_loss", "iterations"] {
            assert_eq!(l[key], x[key], "{key}");
        }
    }
    assert_eq!(r["settings"].as_array().unwrap().len(), 4);
    assert_eq!(r["trends"].as_array().unwrap().len(), 2);
    assert_eq!(r["w1_tables"].as_array().unwrap().len(), 2);
    // the text names the runs that did not converge
    let text = ok(&[
        "sweep",
        "--dataset",
        "digits",
        "--n",
        "40",
        "--hidden",
        "16,16",
        "--lrs",
        "0.05",
        "--batch",
        "10",
        "--batches",
        "20",
        "--seeds",
        "1",
        "--max-iter",
        "30",
        "--out-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert!(text.contains("did NOT reach the loss threshold"), "{text}");

    // one network again with `train`, its g_W and g_x recomputed from the exported gradients
    let run = &runs[3];
    let exp = tmp.path().join("net");
    let lr = run["lr"].as_f64().unwrap().to_string();
    let batch = run["batch"].as_u64().unwrap().to_string();
    let seed = run["seed"].as_u64().unwrap().to_string();
    let sgd_seed = run["sgd_seed"].as_u64().unwrap().to_string();
    let meta = json(&ok(&[
        "train",
        "--dataset",
        "digits",
        "--n",
        "40",
        "--hidden",
        "16,16",
        "--activation",
        "relu",
        "--lr",
        &lr,
        "--batch",
        &batch,
        "--seed",
        &seed,
        "--sgd-seed",
        &sgd_seed,
        "--max-iter",
        "400",
        "--loss-threshold",
        "1e-5",
        "--export",
        exp.to_str().unwrap(),
        "--json",
        "-q",
    ]));
    assert_eq!(meta["iterations"], run["iterations"]);
    assert_eq!(meta["final_loss"], run["final_loss"]);
    let grads = read_f64_npy(&exp.join("grads.npy"));
    let xgrads = read_f64_npy(&exp.join("xgrads.npy"));
    let w = meta["parameters"].as_u64().unwrap() as usize;
    assert_eq!(grads.len(), 40 * w);
    assert_eq!(xgrads.len(), 40 * 64);
    // eq. (5): g = ((1/n) Σ_i ‖row_i‖²)^½, summed row by row here
    let g = |m: &[f64], cols: usize| -> f64 {
        let s: f64 = m
            .chunks_exact(cols)
            .map(|row| row.iter().map(|v| v * v).sum::<f64>())
            .sum();
        (s / 40.0).sqrt()
    };
    let (gw, gx) = (g(&grads, w), g(&xgrads, 64));
    let (sw, sx) = (run["g_w"].as_f64().unwrap(), run["g_x"].as_f64().unwrap());
    assert!((gw - sw).abs() <= 1e-12 * gw, "g_W {gw} vs sweep {sw}");
    assert!((gx - sx).abs() <= 1e-12 * gx, "g_x {gx} vs sweep {sx}");
}
